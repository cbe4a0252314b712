-- One row per key: the bucket's state as of its last save (times are epoch seconds).
CREATE TABLE {schema}.buckets (
    key            text PRIMARY KEY,
    rate           double precision NOT NULL,
    burst          integer NOT NULL,
    level          double precision NOT NULL,
    origin         double precision NOT NULL,
    paused_until   double precision,
    strikes        integer NOT NULL DEFAULT 0,
    strike_until   double precision,
    cap_rate       double precision,
    cap_until      double precision,
    cap_remaining  integer,
    touched        double precision NOT NULL,
    saved_at       timestamptz NOT NULL DEFAULT now()
);
