-- A job's finished assets, counted one by one: each asset's finishing step takes the next number
-- under the row's lock, so "Progress: N/M" is said once for every fifth asset, whatever steps run
-- at once (a count(*) in each step's own transaction misses the ones not committed yet).
CREATE TABLE IF NOT EXISTS {schema}.job_progress (
    job_id  uuid PRIMARY KEY,
    done    integer NOT NULL DEFAULT 0,
    total   integer NOT NULL
);
