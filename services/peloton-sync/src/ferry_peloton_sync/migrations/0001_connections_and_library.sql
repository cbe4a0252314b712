-- Peloton connections (tokens encrypted with FERRY_PELOTON_TOKEN_KEY, never stored in clear) and
-- the class library: RideDetail, Instructor, WorkoutType and Playlist of the original application.

CREATE TABLE IF NOT EXISTS {schema}.peloton_connection (
    username          text PRIMARY KEY,           -- Peloton leaderboard name
    email             text,
    peloton_user_id   text,
    access_token_enc  text NOT NULL,              -- Fernet token of the bearer access token
    refresh_token_enc text,                       -- Fernet token of the refresh token, if any
    token_expires_at  timestamptz,
    is_active         boolean NOT NULL DEFAULT true,
    inactive_reason   text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    last_refreshed_at timestamptz
);

CREATE TABLE IF NOT EXISTS {schema}.instructor (
    peloton_id  text PRIMARY KEY,
    name        text NOT NULL DEFAULT '',
    first_name  text,
    last_name   text,
    image_url   text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS {schema}.workout_type (
    peloton_id         text PRIMARY KEY,          -- a Peloton class type id
    name               text NOT NULL,
    fitness_discipline text,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS {schema}.ride_detail (
    peloton_ride_id                 text PRIMARY KEY,
    title                           text NOT NULL,
    description                     text,
    duration_seconds                integer,
    length_seconds                  integer,
    fitness_discipline              text NOT NULL,
    fitness_discipline_display_name text,
    instructor_id                   text REFERENCES {schema}.instructor (peloton_id),
    workout_type_id                 text REFERENCES {schema}.workout_type (peloton_id),
    class_type_ids                  jsonb NOT NULL DEFAULT '[]',
    equipment_ids                   jsonb NOT NULL DEFAULT '[]',
    difficulty_estimate             double precision,
    image_url                       text,
    original_air_time               bigint,       -- unix seconds, UTC
    scheduled_start_time            bigint,       -- unix seconds, UTC
    is_power_zone_class             boolean NOT NULL DEFAULT false,
    is_ftp_test                     boolean NOT NULL DEFAULT false,
    segments                        jsonb,
    metadata                        jsonb NOT NULL DEFAULT '{}',
    created_at                      timestamptz NOT NULL DEFAULT now(),
    updated_at                      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ride_detail_discipline_air ON {schema}.ride_detail (fitness_discipline, original_air_time);

CREATE TABLE IF NOT EXISTS {schema}.playlist (
    ride_id              text PRIMARY KEY REFERENCES {schema}.ride_detail (peloton_ride_id) ON DELETE CASCADE,
    songs                jsonb NOT NULL DEFAULT '[]',
    is_top_artists_shown boolean NOT NULL DEFAULT false,
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- One row per sync job and discipline: what the job did, for its report (committed with each step).
CREATE TABLE IF NOT EXISTS {schema}.sync_discipline (
    job_id      uuid NOT NULL,
    discipline  text NOT NULL,
    position    integer NOT NULL,
    pages       integer NOT NULL DEFAULT 0,
    fetched     integer NOT NULL DEFAULT 0,
    created     integer NOT NULL DEFAULT 0,
    updated     integer NOT NULL DEFAULT 0,
    skipped     integer NOT NULL DEFAULT 0,
    errors      integer NOT NULL DEFAULT 0,
    lines       jsonb NOT NULL DEFAULT '[]',
    done        boolean NOT NULL DEFAULT false,
    PRIMARY KEY (job_id, discipline)
);
