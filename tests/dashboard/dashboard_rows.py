"""Rows for the dashboard tests, written with plain SQL (the dashboard itself only reads).

`seed` fills a fresh database with two missions, their tasks, usage by two agents, three audit
entries, two budgets and one budget alert; the SEEDED_* constants state what the dashboard must
show for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import psycopg

from agentcoord.states import TaskState

NEWEST = "m-billing"
NEWEST_NAME = "Refactor billing module"
OLDER = "m-docs"
OLDER_NAME = "Write the operations guide"
SEEDED_AGENT_COST_MICRO_USD = {"claude": 2_234_617, "codex": 999_999}
SEEDED_AGENT_ATTEMPTS = {"claude": 3, "codex": 3}
SEEDED_MISSION_COST_MICRO_USD = {NEWEST: 2_234_616, OLDER: 1_000_000}
SEEDED_AUDIT_AT = datetime(2026, 3, 1, 12, 0, 2, tzinfo=UTC)
SEEDED_ALERT_AT = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
SEEDED_BUDGETS = [
    # (name, spent, soft limit, hard limit, status): claude's lifetime spend is over its soft
    # limit; the global daily budget has spent nothing today (all usage is from March).
    ("agent:claude/total", "$2.2346", "$2.0000", "$5.0000", "soft limit reached"),
    ("global:/day", "$0.0000", "-", "$1.0000", "ok"),
]
SEEDED_ALERTS = [("agent:claude/total", "soft", "$2.0000", "$2.2346")]

_T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

Task = tuple[str, str, str, int, str]
"""(task_id, state, agent, attempts, reason)"""


def insert_mission(
    url: str, mission_id: str, name: str, *, created_at: datetime, tasks: Sequence[Task] = ()
) -> None:
    """One running mission and its tasks, in the order given."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO missions (mission_id, name, goal, state, created_at, updated_at)"
            " VALUES (%s, %s, %s, 'running', %s, %s)",
            (mission_id, name, f"goal of {name}", created_at, created_at),
        )
        for position, (task_id, state, agent, attempts, reason) in enumerate(tasks):
            conn.execute(
                "INSERT INTO tasks (mission_id, task_id, position, description, capabilities,"
                " depends_on, action, state, agent, reason, attempts, finished_at)"
                " VALUES (%s, %s, %s, %s, '{}', '{}', '{}', %s, %s, %s, %s, %s)",
                (mission_id, task_id, position, f"do {task_id}", state, agent, reason, attempts,
                 datetime.now(UTC) if TaskState(state).is_terminal else None),
            )


def insert_usage(
    url: str,
    key: str,
    *,
    mission_id: str,
    task_id: str,
    agent: str,
    tokens: tuple[int, int],
    cost_micro_usd: int,
) -> None:
    """One usage event (one agent attempt) with `tokens` = (input, output)."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO usage_events (idempotency_key, mission_id, task_id, agent, model,"
            " input_tokens, output_tokens, cost_micro_usd, started_at, ended_at)"
            " VALUES (%s, %s, %s, %s, 'model-x', %s, %s, %s, %s, %s)",
            (
                key,
                mission_id,
                task_id,
                agent,
                *tokens,
                cost_micro_usd,
                _T0,
                _T0 + timedelta(seconds=30),
            ),
        )


def insert_budget(
    url: str, scope: str, subject: str, period: str, *, soft: int | None, hard: int | None
) -> None:
    """One budget with limits in micro-dollars (None: not set)."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO budgets (scope, subject, period, soft_limit_micro_usd,"
            " hard_limit_micro_usd) VALUES (%s, %s, %s, %s, %s)",
            (scope, subject, period, soft, hard),
        )


def insert_alert(
    url: str,
    budget: tuple[str, str, str],
    *,
    level: str,
    limits: tuple[int, int],
    raised_at: datetime,
) -> None:
    """One budget alert of `budget` = (scope, subject, period) for a `total` period, with
    `limits` = (limit, spent) in micro-dollars."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO budget_alerts (scope, subject, period, period_start, level,"
            " limit_micro_usd, spent_micro_usd, raised_at)"
            " VALUES (%s, %s, %s, '-infinity', %s, %s, %s, %s)",
            (*budget, level, *limits, raised_at),
        )


def seed(url: str) -> None:
    """Write the rows the SEEDED_* constants describe."""
    insert_mission(
        url, OLDER, OLDER_NAME, created_at=_T0, tasks=[("t1", "accepted", "claude", 1, "")]
    )
    insert_mission(
        url,
        NEWEST,
        NEWEST_NAME,
        created_at=_T0 + timedelta(hours=1),
        tasks=[
            ("t1", "succeeded", "claude", 1, ""),
            ("t2", "failed", "codex", 3, "tests failed"),
            ("t3", "running", "claude", 1, ""),
        ],
    )
    insert_usage(
        url,
        "u1",
        mission_id=NEWEST,
        task_id="t1",
        agent="claude",
        tokens=(1000, 2000),
        cost_micro_usd=1_234_567,
    )
    insert_usage(
        url,
        "u2",
        mission_id=NEWEST,
        task_id="t3",
        agent="claude",
        tokens=(10, 20),
        cost_micro_usd=50,
    )
    insert_usage(
        url,
        "u3",
        mission_id=OLDER,
        task_id="t1",
        agent="claude",
        tokens=(500, 500),
        cost_micro_usd=1_000_000,
    )
    for attempt in range(3):
        insert_usage(
            url,
            f"u-codex-{attempt}",
            mission_id=NEWEST,
            task_id="t2",
            agent="codex",
            tokens=(100, 100),
            cost_micro_usd=333_333,
        )
    with psycopg.connect(url) as conn:
        for seq in (1, 2, 3):
            conn.execute(
                "INSERT INTO audit_log (seq, event_id, recorded_at, actor, action, subject,"
                " payload, prev_hash, entry_hash)"
                " VALUES (%s, %s, %s, 'test', 'mission.created', %s, '{}', %s, %s)",
                (
                    seq,
                    f"e{seq}",
                    SEEDED_AUDIT_AT - timedelta(seconds=3 - seq),
                    NEWEST,
                    b"\0" * 32,
                    bytes([seq]) * 32,
                ),
            )
    insert_budget(url, "agent", "claude", "total", soft=2_000_000, hard=5_000_000)
    insert_budget(url, "global", "", "day", soft=None, hard=1_000_000)
    insert_alert(
        url,
        ("agent", "claude", "total"),
        level="soft",
        limits=(2_000_000, 2_234_617),
        raised_at=SEEDED_ALERT_AT,
    )
