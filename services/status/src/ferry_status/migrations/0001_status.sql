-- The status service's view of every job: each event once, and one row per job with its latest state.

-- Every job event, stored once (idempotent by event_id). The body is the event as published, kept as
-- `json` (validated text): it is only ever read back whole, and jsonb would cost a parse per event.
CREATE TABLE IF NOT EXISTS {schema}.events (
    event_id    uuid PRIMARY KEY,
    job_id      uuid NOT NULL,
    seq         integer NOT NULL,
    type        text NOT NULL,
    service     text NOT NULL,
    command     text NOT NULL,
    at          timestamptz NOT NULL,
    body        json NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS events_job_seq ON {schema}.events (job_id, seq);

-- One row per job. Counters, status and message come from the event with the highest seq seen
-- (last_seq); -1 means no event yet (a job recorded as pending by POST /jobs).
CREATE TABLE IF NOT EXISTS {schema}.jobs (
    job_id       uuid PRIMARY KEY,
    service      text NOT NULL,
    command      text NOT NULL,
    status       text NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'rejected')),
    total        bigint,
    processed    bigint NOT NULL DEFAULT 0,
    succeeded    bigint NOT NULL DEFAULT 0,
    failed       bigint NOT NULL DEFAULT 0,
    skipped      bigint NOT NULL DEFAULT 0,
    last_seq     integer NOT NULL DEFAULT -1,
    message      text NOT NULL DEFAULT '',
    error        text,
    result       jsonb,
    options      jsonb,
    requested_by text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS jobs_created ON {schema}.jobs (created_at DESC, job_id DESC);
CREATE INDEX IF NOT EXISTS jobs_status_created ON {schema}.jobs (status, created_at DESC);
CREATE INDEX IF NOT EXISTS jobs_service_created ON {schema}.jobs (service, created_at DESC);
