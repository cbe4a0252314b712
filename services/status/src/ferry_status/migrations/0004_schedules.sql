-- Schedules: a command with its options, fired at the due times of a cron expression in a time zone.
-- Every replica looks for due rows; each claims one with FOR UPDATE SKIP LOCKED, publishes its job
-- and moves next_due on in the same transaction, so each due time fires once.
CREATE TABLE IF NOT EXISTS {schema}.schedules (
    schedule_id uuid PRIMARY KEY,
    service     text NOT NULL,
    command     text NOT NULL,
    options     jsonb NOT NULL,
    spec        text NOT NULL,              -- as given: `HH:MM` or a cron expression
    cron        text NOT NULL,              -- what is evaluated (`HH:MM` becomes `M H * * *`)
    timezone    text NOT NULL DEFAULT 'UTC',
    catch_up    boolean NOT NULL DEFAULT false,
    overlap     text NOT NULL DEFAULT 'skip' CHECK (overlap IN ('skip', 'allow')),
    paused      boolean NOT NULL DEFAULT false,
    next_due    timestamptz NOT NULL,
    last_due    timestamptz,
    last_job_id uuid,
    created_by  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS schedules_due ON {schema}.schedules (next_due) WHERE NOT paused;

-- What each due time did: fired a job, or was skipped (missed while every replica was down, or the
-- previous run still going). One row per due time: the primary key is the exactly-once record.
CREATE TABLE IF NOT EXISTS {schema}.schedule_fires (
    schedule_id uuid NOT NULL REFERENCES {schema}.schedules ON DELETE CASCADE,
    due_at      timestamptz NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('fired', 'skipped_missed', 'skipped_overlap')),
    job_id      uuid,
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule_id, due_at)
);

-- The schedule that started a job, and the due time it was started for.
ALTER TABLE {schema}.jobs ADD COLUMN IF NOT EXISTS schedule_id uuid;
ALTER TABLE {schema}.jobs ADD COLUMN IF NOT EXISTS scheduled_time timestamptz;
