-- Notifications: a webhook POST when a job finishes (completed, failed, ...), sent from this outbox.
-- The ingest statement that sees a job finish adds its row (one per job: the primary key); every
-- replica's notifier claims due rows with FOR UPDATE SKIP LOCKED and leases them while it posts, so
-- each notification is sent once however many replicas run. Rows go with their job (retention).
CREATE TABLE IF NOT EXISTS {schema}.notifications (
    job_id          uuid PRIMARY KEY REFERENCES {schema}.jobs ON DELETE CASCADE,
    status          text NOT NULL,                    -- the finished status that queued it
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(), -- also the lease of the replica posting it
    sent_at         timestamptz,
    gave_up_at      timestamptz,
    last_error      text                              -- `HTTP 500`, `ConnectError`: never the URL
);
CREATE INDEX IF NOT EXISTS notifications_due ON {schema}.notifications (next_attempt_at)
    WHERE sent_at IS NULL AND gave_up_at IS NULL;

-- Per schedule: which finished statuses of its jobs notify (NULL: the global setting decides) and
-- where to (NULL: the global URL). The URL is a secret: the API only ever shows it masked.
ALTER TABLE {schema}.schedules ADD COLUMN IF NOT EXISTS notify_on text[];
ALTER TABLE {schema}.schedules ADD COLUMN IF NOT EXISTS notify_url text;
