-- The dashboard's users, its failed logins (for rate limiting) and every operator action.

-- role: staff (everything), viewer (sees everything, changes nothing), none (may log in, sees nothing).
CREATE TABLE IF NOT EXISTS {schema}.dashboard_users (
    name          text PRIMARY KEY,
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('staff', 'viewer', 'none')),
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS {schema}.dashboard_login_failures (
    id     bigserial PRIMARY KEY,
    name   text NOT NULL,
    client text NOT NULL,
    at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS dashboard_login_failures_name ON {schema}.dashboard_login_failures (name, at);
CREATE INDEX IF NOT EXISTS dashboard_login_failures_client ON {schema}.dashboard_login_failures (client, at);

-- What an operator did from the dashboard, and to which job (re-runs name the job they repeat).
CREATE TABLE IF NOT EXISTS {schema}.dashboard_actions (
    id         bigserial PRIMARY KEY,
    job_id     uuid,
    action     text NOT NULL,
    user_name  text NOT NULL,
    reason     text NOT NULL DEFAULT '',
    new_job_id uuid,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS dashboard_actions_job ON {schema}.dashboard_actions (job_id, at);
CREATE INDEX IF NOT EXISTS dashboard_actions_new_job ON {schema}.dashboard_actions (new_job_id);
