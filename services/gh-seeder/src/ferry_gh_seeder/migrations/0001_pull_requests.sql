-- The crawled pull requests and their reviews, commits and files. `repo` is `owner/name` in
-- lower case (GitHub names are case-insensitive), so every spelling finds the same rows.

CREATE TABLE IF NOT EXISTS {schema}.pull_requests (
    repo          text NOT NULL,
    number        integer NOT NULL,
    github_id     bigint,
    state         text NOT NULL CHECK (state IN ('open', 'closed', 'merged')),
    title         text NOT NULL DEFAULT '',
    author        text,
    draft         boolean NOT NULL DEFAULT false,
    base_ref      text,
    head_ref      text,
    additions     integer,
    deletions     integer,
    changed_files integer,
    created_at    timestamptz,
    updated_at    timestamptz,
    closed_at     timestamptz,
    merged_at     timestamptz,
    raw           jsonb NOT NULL,
    detailed      boolean NOT NULL DEFAULT false,
    listed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repo, number)
);

CREATE TABLE IF NOT EXISTS {schema}.reviews (
    repo         text NOT NULL,
    number       integer NOT NULL,
    review_id    bigint NOT NULL,
    author       text,
    state        text,
    submitted_at timestamptz,
    raw          jsonb NOT NULL,
    PRIMARY KEY (repo, number, review_id),
    FOREIGN KEY (repo, number) REFERENCES {schema}.pull_requests (repo, number) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS {schema}.commits (
    repo         text NOT NULL,
    number       integer NOT NULL,
    sha          text NOT NULL,
    author       text,
    message      text,
    committed_at timestamptz,
    raw          jsonb NOT NULL,
    PRIMARY KEY (repo, number, sha),
    FOREIGN KEY (repo, number) REFERENCES {schema}.pull_requests (repo, number) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS {schema}.files (
    repo      text NOT NULL,
    number    integer NOT NULL,
    filename  text NOT NULL,
    status    text,
    additions integer,
    deletions integer,
    changes   integer,
    raw       jsonb NOT NULL,
    PRIMARY KEY (repo, number, filename),
    FOREIGN KEY (repo, number) REFERENCES {schema}.pull_requests (repo, number) ON DELETE CASCADE
);

-- The checkpoint: a pull request listed here is complete and is never fetched again. A crawl
-- writes its row in the same transaction as the pull request's data; a --checkpoint-file adds
-- the numbers it lists (source 'checkpoint-file').
CREATE TABLE IF NOT EXISTS {schema}.fetched_prs (
    repo       text NOT NULL,
    number     integer NOT NULL,
    fetched_at timestamptz NOT NULL DEFAULT now(),
    job_id     uuid,
    source     text NOT NULL DEFAULT 'crawl' CHECK (source IN ('crawl', 'checkpoint-file')),
    PRIMARY KEY (repo, number)
);

-- Per job and repository: what the listing found and what the crawl did (for the summary).
CREATE TABLE IF NOT EXISTS {schema}.crawl_repos (
    job_id          uuid NOT NULL,
    repo            text NOT NULL,
    from_file       integer[] NOT NULL DEFAULT '{}',
    found           integer NOT NULL DEFAULT 0,
    already_fetched integer NOT NULL DEFAULT 0,
    pages           integer NOT NULL DEFAULT 0,
    listed          boolean NOT NULL DEFAULT false,
    fetched         integer NOT NULL DEFAULT 0,
    failed          integer NOT NULL DEFAULT 0,
    reviews         integer NOT NULL DEFAULT 0,
    commits         integer NOT NULL DEFAULT 0,
    files           integer NOT NULL DEFAULT 0,
    requests        integer NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, repo)
);
