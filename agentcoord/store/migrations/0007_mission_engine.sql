-- The mission engine: per-mission run settings and forecast, one accepted result per task,
-- actor incarnations (crash-loop detection), and fast per-mission event reads (fold, watch).
ALTER TABLE missions
    ADD COLUMN max_parallel           integer NOT NULL DEFAULT 4,
    ADD COLUMN max_attempts           integer NOT NULL DEFAULT 3,
    ADD COLUMN on_failure             text    NOT NULL DEFAULT 'continue',
    ADD COLUMN budget_micro_usd       bigint,
    ADD COLUMN forecast_p50_micro_usd bigint,
    ADD COLUMN forecast_p90_micro_usd bigint;

-- A task has at most one successful attempt, whatever restarts and replays happen.
CREATE UNIQUE INDEX attempts_one_success_per_task ON attempts (mission_id, task_id) WHERE outcome = 'succeeded';

CREATE TABLE mission_incarnations (
    mission_id   text NOT NULL REFERENCES missions (mission_id),
    incarnation  integer NOT NULL,
    pid          integer NOT NULL,
    progress     integer NOT NULL,  -- tasks finished when this incarnation started
    started_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mission_id, incarnation)
);

CREATE INDEX events_mission_idx ON events (mission_id, event_id);
