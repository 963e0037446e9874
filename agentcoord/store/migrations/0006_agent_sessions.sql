-- Agent sessions: the session id an agent CLI reported during an attempt, so a retry of the task
-- can resume that session (claude --resume, codex exec resume, gemini --resume) instead of
-- starting cold. resumed_from names the session the attempt itself resumed, if any.
CREATE TABLE agent_sessions (
    attempt_id    text NOT NULL,
    mission_id    text NOT NULL,
    task_id       text NOT NULL,
    agent         text NOT NULL,
    session_id    text NOT NULL,
    resumed_from  text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (attempt_id, session_id)
);
CREATE INDEX agent_sessions_task_idx ON agent_sessions (mission_id, task_id, agent, created_at DESC);
