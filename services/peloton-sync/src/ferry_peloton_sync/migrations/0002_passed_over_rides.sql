-- Cycling classes the list did not mark as Power Zone whose details did not either: checked once
-- and remembered, so that no later sync asks Peloton for their details again (they count as
-- skipped, as a stored class does).
CREATE TABLE IF NOT EXISTS {schema}.passed_over_ride (
    peloton_ride_id    text PRIMARY KEY,
    fitness_discipline text NOT NULL,
    reason             text NOT NULL,
    checked_at         timestamptz NOT NULL DEFAULT now()
);
