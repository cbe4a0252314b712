-- The registry's Asset fields that its cleaning and its LearnPack configuration rules write and ferry's
-- own table lacked (docs/asset-sync.md): the rendered `html`, and from learn.json / bc.json the video
-- and solution flags, the solution's URL, the editor agent, interactive / gitpod and the delivery
-- instructions and URL pattern. Defaults are the registry model's. An application's table named by
-- FERRY_ASSET_SYNC_TABLE is never altered: a field it lacks is simply not written.
ALTER TABLE {schema}.registry_asset
    ADD COLUMN IF NOT EXISTS html                  text,
    ADD COLUMN IF NOT EXISTS with_video            boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS with_solutions        boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS solution_url          varchar(255),
    ADD COLUMN IF NOT EXISTS agent                 text,
    ADD COLUMN IF NOT EXISTS interactive           boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS gitpod                boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS delivery_instructions text,
    ADD COLUMN IF NOT EXISTS delivery_regex_url    varchar(255);
