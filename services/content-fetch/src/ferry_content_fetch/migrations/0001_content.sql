-- content-fetch's tables: the items (deduplicated), what each source gave each job, feed validators,
-- and Open Trivia DB session tokens.
CREATE TABLE {schema}.mcq_questions (
    question_hash text PRIMARY KEY,          -- sha256 of the question and its answers (questions have no id)
    source text NOT NULL,
    category text NOT NULL,
    type text NOT NULL,
    difficulty text NOT NULL,
    question text NOT NULL,
    correct_answer text NOT NULL,
    incorrect_answers jsonb NOT NULL,
    job_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE {schema}.headlines (
    source text NOT NULL,
    entry_key text NOT NULL,                 -- the entry's id (RSS guid / Atom id), else its link
    title text NOT NULL,
    link text,
    summary text,
    published_at timestamptz,
    job_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, entry_key)
);

CREATE TABLE {schema}.source_runs (
    job_id uuid NOT NULL,
    source text NOT NULL,
    log jsonb NOT NULL,                      -- a SourceLog
    PRIMARY KEY (job_id, source)
);

CREATE TABLE {schema}.feed_validators (
    source text PRIMARY KEY,
    url text NOT NULL,
    etag text,
    last_modified text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE {schema}.trivia_tokens (
    source text PRIMARY KEY,
    token text NOT NULL,
    last_used_at timestamptz NOT NULL DEFAULT now()
);
