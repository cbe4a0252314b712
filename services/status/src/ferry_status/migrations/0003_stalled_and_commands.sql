-- `stalled`: a running job that has reported nothing for longer than FERRY_STATUS_STALLED_AFTER_S.
ALTER TABLE {schema}.jobs DROP CONSTRAINT IF EXISTS jobs_status_check;
ALTER TABLE {schema}.jobs ADD CONSTRAINT jobs_status_check
    CHECK (status IN ('pending', 'running', 'stalled', 'completed', 'failed', 'cancelled', 'rejected'));
-- When the job's latest event arrived (updated_at also moves for other reasons); the stall check reads it.
ALTER TABLE {schema}.jobs ADD COLUMN IF NOT EXISTS last_event_at timestamptz;
CREATE INDEX IF NOT EXISTS jobs_running_last_event ON {schema}.jobs (last_event_at) WHERE status = 'running';
UPDATE {schema}.jobs SET last_event_at = updated_at WHERE status = 'running' AND last_event_at IS NULL;
