-- Built-in daily tasks: the replica that moves `next_run` on (one UPDATE) runs the task that day.
CREATE TABLE IF NOT EXISTS {schema}.maintenance (
    name     text PRIMARY KEY,
    next_run timestamptz NOT NULL
);
INSERT INTO {schema}.maintenance (name, next_run) VALUES ('retention', now()) ON CONFLICT DO NOTHING;
CREATE INDEX IF NOT EXISTS jobs_finished ON {schema}.jobs (finished_at) WHERE finished_at IS NOT NULL;
