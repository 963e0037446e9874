-- Route decisions keep what they were asked: the capabilities and the token counts the cost
-- estimates of every candidate assume, so a stored decision explains itself.
ALTER TABLE route_decisions
    ADD COLUMN capabilities            text[] NOT NULL DEFAULT '{}',
    ADD COLUMN expected_input_tokens   bigint NOT NULL DEFAULT 0 CHECK (expected_input_tokens >= 0),
    ADD COLUMN expected_output_tokens  bigint NOT NULL DEFAULT 0 CHECK (expected_output_tokens >= 0);
