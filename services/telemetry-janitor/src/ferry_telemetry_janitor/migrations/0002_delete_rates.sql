-- Delete speed measured per table (rows per second of DELETE), so the automatic method choice
-- estimates how long one statement would hold its locks from what this database really does.
CREATE TABLE IF NOT EXISTS {schema}.delete_rates (
    table_name  text PRIMARY KEY,
    rows_per_s  double precision,
    samples     integer NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
