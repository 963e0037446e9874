-- Forecasts compare tasks by capability set: capabilities sorted (in the "C" collation, like
-- Python's code point order) without duplicates. Stored with each task and indexed with its last
-- update, so a forecast reads the latest finished tasks of a set instead of every task ever stored.
CREATE FUNCTION agentcoord_capability_set(capabilities text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ARRAY(SELECT DISTINCT c COLLATE "C" FROM unnest(capabilities) AS u(c) ORDER BY 1);

ALTER TABLE tasks ADD COLUMN capability_set text[]
    GENERATED ALWAYS AS (agentcoord_capability_set(capabilities)) STORED;

CREATE INDEX tasks_capability_set_recent_idx ON tasks (capability_set, updated_at DESC);
