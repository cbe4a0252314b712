-- The owner lease: the one replica allowed to serve and save the buckets, until `deadline`
-- unless it renews. Every take-over adds one to `epoch`; every save checks the epoch it holds
-- (fencing), and each bucket row records the epoch that wrote it.
CREATE TABLE {schema}.owner_lease (
    name          text PRIMARY KEY,
    holder        text,
    epoch         bigint NOT NULL DEFAULT 0,
    heartbeat_at  timestamptz,
    deadline      timestamptz
);
INSERT INTO {schema}.owner_lease (name) VALUES ('buckets');
ALTER TABLE {schema}.buckets ADD COLUMN epoch bigint NOT NULL DEFAULT 0;
