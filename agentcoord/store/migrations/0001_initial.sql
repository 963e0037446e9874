-- The first schema: missions and their tasks, attempts, route decisions, usage, policy decisions,
-- the event outbox that carries facts between services, and the hash-chained audit log.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE missions (
    mission_id  text PRIMARY KEY,
    request_id  text UNIQUE,
    name        text NOT NULL,
    goal        text NOT NULL,
    state       text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX missions_state_idx ON missions (state);
CREATE INDEX missions_created_idx ON missions (created_at DESC, mission_id DESC);

CREATE TABLE tasks (
    mission_id    text NOT NULL REFERENCES missions (mission_id),
    task_id       text NOT NULL,
    position      integer NOT NULL,
    description   text NOT NULL,
    capabilities  text[] NOT NULL,
    depends_on    text[] NOT NULL,
    action        jsonb NOT NULL,
    state         text NOT NULL,
    agent         text NOT NULL DEFAULT '',
    reason        text NOT NULL DEFAULT '',
    attempts      integer NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mission_id, task_id)
);

-- One row per try of a task. outcome is NULL while the attempt runs.
CREATE TABLE attempts (
    attempt_id  text PRIMARY KEY,
    mission_id  text NOT NULL,
    task_id     text NOT NULL,
    number      integer NOT NULL,
    agent       text NOT NULL,
    outcome     text,
    summary     text NOT NULL DEFAULT '',
    error       text NOT NULL DEFAULT '',
    started_at  timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz,
    FOREIGN KEY (mission_id, task_id) REFERENCES tasks (mission_id, task_id),
    UNIQUE (mission_id, task_id, number)
);

-- mission_id/task_id are plain text: the routing service also answers ad-hoc questions.
CREATE TABLE route_decisions (
    decision_id  text PRIMARY KEY,
    mission_id   text NOT NULL,
    task_id      text NOT NULL,
    agent        text NOT NULL,
    model        text NOT NULL,
    reason       text NOT NULL,
    candidates   jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX route_decisions_task_idx ON route_decisions (mission_id, task_id);

CREATE TABLE usage_events (
    idempotency_key     text PRIMARY KEY,
    mission_id          text NOT NULL,
    task_id             text NOT NULL,
    agent               text NOT NULL,
    model               text NOT NULL,
    input_tokens        bigint NOT NULL CHECK (input_tokens >= 0),
    output_tokens       bigint NOT NULL CHECK (output_tokens >= 0),
    cache_read_tokens   bigint NOT NULL DEFAULT 0 CHECK (cache_read_tokens >= 0),
    cache_write_tokens  bigint NOT NULL DEFAULT 0 CHECK (cache_write_tokens >= 0),
    cost_micro_usd      bigint NOT NULL CHECK (cost_micro_usd >= 0),
    started_at          timestamptz NOT NULL,
    ended_at            timestamptz NOT NULL,
    recorded_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX usage_events_ended_idx ON usage_events (ended_at);

CREATE TABLE policy_decisions (
    decision_id  text PRIMARY KEY,
    mission_id   text NOT NULL,
    task_id      text NOT NULL,
    action       jsonb NOT NULL,
    effect       text NOT NULL,
    rule_ids     text[] NOT NULL,
    reason       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- The bus: every state change writes a typed event here in the same transaction as the change.
-- Writers take an advisory lock first, so event_id order is commit order and consumers reading
-- "event_id > my offset" never skip a row committed late.
CREATE TABLE events (
    event_id    bigserial PRIMARY KEY,
    topic       text NOT NULL,
    actor       text NOT NULL,
    mission_id  text NOT NULL DEFAULT '',
    task_id     text NOT NULL DEFAULT '',
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE consumer_offsets (
    consumer       text PRIMARY KEY,
    last_event_id  bigint NOT NULL
);

-- The audit log. payload holds the exact canonical JSON bytes that were hashed.
CREATE TABLE audit_log (
    seq          bigint PRIMARY KEY CHECK (seq >= 1),
    event_id     text NOT NULL UNIQUE,
    recorded_at  timestamptz NOT NULL,
    actor        text NOT NULL,
    action       text NOT NULL,
    subject      text NOT NULL,
    payload      bytea NOT NULL,
    prev_hash    bytea NOT NULL,
    entry_hash   bytea NOT NULL
);

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
