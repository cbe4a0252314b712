-- The job runtime's state, in every job service's own schema.

-- One row per job: its lifecycle, counters and the event sequence.
CREATE TABLE IF NOT EXISTS {schema}.jobs (
    job_id           uuid PRIMARY KEY,
    command          text NOT NULL,
    options          jsonb NOT NULL DEFAULT '{}',
    requested_by     text NOT NULL DEFAULT '',
    requested_at     timestamptz,
    state            text NOT NULL CHECK (state IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    cancel_requested boolean NOT NULL DEFAULT false,
    seq              integer NOT NULL DEFAULT 0,
    total            bigint,
    processed        bigint NOT NULL DEFAULT 0,
    succeeded        bigint NOT NULL DEFAULT 0,
    failed           bigint NOT NULL DEFAULT 0,
    skipped          bigint NOT NULL DEFAULT 0,
    steps_total      integer NOT NULL DEFAULT 0,
    steps_done       integer NOT NULL DEFAULT 0,
    data             jsonb NOT NULL DEFAULT '{}',
    error            text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz
);

-- The steps a job is cut into. A step's row is its checkpoint: `done` commits in the same
-- transaction as the step's effects; a step in flight holds its row lock.
CREATE TABLE IF NOT EXISTS {schema}.job_steps (
    job_id      uuid NOT NULL REFERENCES {schema}.jobs (job_id) ON DELETE CASCADE,
    step_no     integer NOT NULL,
    parent      integer,
    payload     jsonb NOT NULL DEFAULT '{}',
    done        boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (job_id, step_no)
);
CREATE INDEX IF NOT EXISTS job_steps_open ON {schema}.job_steps (job_id) WHERE NOT done;

-- Messages (job events, next steps) written in the transaction that caused them, published
-- after it commits, and re-published by the relay if the process died in between.
CREATE TABLE IF NOT EXISTS {schema}.outbox (
    message_id  uuid PRIMARY KEY,
    exchange    text NOT NULL,
    routing_key text NOT NULL,
    body        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS outbox_created ON {schema}.outbox (created_at);
