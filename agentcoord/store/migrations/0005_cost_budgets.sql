-- Cost accounting: usage keeps both the agent-reported and the price-table cost, the attempt it
-- belongs to and its tags; budgets per scope and calendar period, and the alerts they raised.
ALTER TABLE usage_events
    ADD COLUMN attempt_id               text NOT NULL DEFAULT '',
    ADD COLUMN tags                     text[] NOT NULL DEFAULT '{}',
    ADD COLUMN reported_cost_micro_usd  bigint CHECK (reported_cost_micro_usd >= 0),
    ADD COLUMN computed_cost_micro_usd  bigint CHECK (computed_cost_micro_usd >= 0);
CREATE INDEX usage_events_mission_idx ON usage_events (mission_id, ended_at);

-- Calendar periods are UTC; 'total' never resets. [start, end) like every period we report.
CREATE FUNCTION budget_period_start(period text, at timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT CASE period WHEN 'total' THEN '-infinity'::timestamptz
                       ELSE date_trunc(period, at, 'UTC') END
$$;
CREATE FUNCTION budget_period_end(period text, at timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT CASE period WHEN 'total' THEN 'infinity'::timestamptz
                       ELSE date_trunc(period, at, 'UTC') + ('1 ' || period)::interval END
$$;

-- subject: the mission id, agent name or tag the budget limits; '' for the global budget.
CREATE TABLE budgets (
    scope                 text NOT NULL CHECK (scope IN ('global', 'mission', 'agent', 'tag')),
    subject               text NOT NULL,
    period                text NOT NULL CHECK (period IN ('day', 'week', 'month', 'total')),
    soft_limit_micro_usd  bigint CHECK (soft_limit_micro_usd > 0),
    hard_limit_micro_usd  bigint CHECK (hard_limit_micro_usd > 0),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, subject, period),
    CHECK (soft_limit_micro_usd IS NOT NULL OR hard_limit_micro_usd IS NOT NULL),
    CHECK (soft_limit_micro_usd <= hard_limit_micro_usd),
    CHECK ((scope = 'global') = (subject = ''))
);

-- Whether a budget covers usage of this mission, agent and tags.
CREATE FUNCTION budget_applies(b budgets, mission_id text, agent text, tags text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE b.scope WHEN 'mission' THEN mission_id = b.subject
                        WHEN 'agent' THEN agent = b.subject
                        WHEN 'tag' THEN b.subject = ANY (tags)
                        ELSE true END
$$;

-- What a budget has spent in the period that contains `at`.
CREATE FUNCTION budget_spent_micro_usd(b budgets, at timestamptz) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT coalesce(sum(u.cost_micro_usd), 0)::bigint FROM usage_events u
    WHERE u.ended_at >= budget_period_start(b.period, at)
      AND u.ended_at < budget_period_end(b.period, at)
      AND budget_applies(b, u.mission_id, u.agent, u.tags)
$$;

-- One alert per budget, period and level: raised once, when spend first reaches the limit.
CREATE TABLE budget_alerts (
    scope            text NOT NULL,
    subject          text NOT NULL,
    period           text NOT NULL,
    period_start     timestamptz NOT NULL,
    level            text NOT NULL CHECK (level IN ('soft', 'hard')),
    limit_micro_usd  bigint NOT NULL,
    spent_micro_usd  bigint NOT NULL,
    raised_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, subject, period, period_start, level)
);
