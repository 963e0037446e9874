-- Reviews: a reviewer's verdict on the result of one attempt. Routing learns from them (acceptance
-- per agent and capability), cost of quality counts rejected attempts as rework.
ALTER TABLE missions ADD COLUMN review text NOT NULL DEFAULT 'policy';

CREATE TABLE reviews (
    review_id     text PRIMARY KEY,
    mission_id    text NOT NULL,
    task_id       text NOT NULL,
    attempt_id    text NOT NULL UNIQUE REFERENCES attempts (attempt_id),  -- one verdict per result
    agent         text NOT NULL,
    capabilities  text[] NOT NULL,
    verdict       text NOT NULL CHECK (verdict IN ('accepted', 'rejected')),
    reviewer      text NOT NULL,
    reason        text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (mission_id, task_id) REFERENCES tasks (mission_id, task_id)
);

CREATE INDEX reviews_agent_idx ON reviews (agent, created_at);

-- Running tallies per (agent, capability), updated with each review in its transaction, so the
-- router reads a handful of rows per decision instead of aggregating every review.
CREATE TABLE review_tallies (
    agent       text NOT NULL,
    capability  text NOT NULL,
    accepted    bigint NOT NULL,
    reviewed    bigint NOT NULL,
    PRIMARY KEY (agent, capability)
);
