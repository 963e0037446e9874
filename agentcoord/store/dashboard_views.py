"""Read models of the dashboard: named SQL queries with the Polars schema of their results.

Read-only and synchronous (the dashboard's refresh runs in the Bokeh server's thread); each
query carries its result schema so an empty table still yields typed columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl
import psycopg

_TIME = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class Query:
    """One read query and the Polars schema of its result columns."""

    sql: str
    schema: Mapping[str, pl.DataType]


MISSIONS = Query(
    sql="""
        SELECT m.mission_id, m.name, m.state, m.reason, m.created_at, m.updated_at,
               count(t.task_id) FILTER (WHERE t.state = ANY(%(terminal_task_states)s))
                   AS tasks_done,
               count(t.task_id) AS tasks_total
        FROM (SELECT * FROM missions
              ORDER BY created_at DESC, mission_id DESC
              LIMIT %(limit)s) AS m
        LEFT JOIN tasks AS t USING (mission_id)
        GROUP BY m.mission_id, m.name, m.state, m.reason, m.created_at, m.updated_at
        ORDER BY m.created_at DESC, m.mission_id DESC
    """,
    schema={
        "mission_id": pl.String(),
        "name": pl.String(),
        "state": pl.String(),
        "reason": pl.String(),
        "created_at": _TIME,
        "updated_at": _TIME,
        "tasks_done": pl.Int64(),
        "tasks_total": pl.Int64(),
    },
)
"""The newest missions with how many of their tasks reached a terminal state."""

TASKS = Query(
    sql="""
        SELECT task_id, state, agent, attempts, reason
        FROM tasks
        WHERE mission_id = %(mission_id)s
        ORDER BY position
    """,
    schema={
        "task_id": pl.String(),
        "state": pl.String(),
        "agent": pl.String(),
        "attempts": pl.Int64(),
        "reason": pl.String(),
    },
)
"""The tasks of one mission in plan order."""

MISSION_NAMES = Query(
    sql="""
        SELECT mission_id, name AS mission_name
        FROM missions
        WHERE mission_id = ANY(%(mission_ids)s::text[])
    """,
    schema={"mission_id": pl.String(), "mission_name": pl.String()},
)
"""The names of some missions (for spend rows of missions older than the missions view)."""

AUDIT_STATUS = Query(
    sql="SELECT count(*) AS entries, max(recorded_at) AS latest_at FROM audit_log",
    schema={"entries": pl.Int64(), "latest_at": _TIME},
)
"""How many audit entries exist and when the newest was recorded."""

BUDGETS = Query(
    sql="""
        SELECT b.scope, b.subject, b.period, b.soft_limit_micro_usd, b.hard_limit_micro_usd,
               budget_spent_micro_usd(b, now()) AS spent_micro_usd,
               nullif(budget_period_start(b.period, now()), '-infinity') AS period_start
        FROM budgets AS b
        ORDER BY b.scope, b.subject, b.period
    """,
    schema={
        "scope": pl.String(),
        "subject": pl.String(),
        "period": pl.String(),
        "soft_limit_micro_usd": pl.Int64(),
        "hard_limit_micro_usd": pl.Int64(),
        "spent_micro_usd": pl.Int64(),
        "period_start": _TIME,
    },
)
"""Every budget with its spend in the period containing now (period_start null: `total`)."""

BUDGET_ALERTS = Query(
    sql="""
        SELECT scope, subject, period, level, limit_micro_usd, spent_micro_usd, raised_at,
               nullif(period_start, '-infinity') AS period_start
        FROM budget_alerts
        ORDER BY raised_at DESC, scope, subject, period, level
        LIMIT %(limit)s
    """,
    schema={
        "scope": pl.String(),
        "subject": pl.String(),
        "period": pl.String(),
        "level": pl.String(),
        "limit_micro_usd": pl.Int64(),
        "spent_micro_usd": pl.Int64(),
        "raised_at": _TIME,
        "period_start": _TIME,
    },
)
"""The newest budget alerts (one per budget, period and level; what `budget.alert` announced)."""

REVIEW_QUEUE = Query(
    sql="""
        SELECT t.mission_id, m.name AS mission_name, t.task_id, a.agent, a.summary,
               t.updated_at AS waiting_since
        FROM tasks AS t
        JOIN missions AS m USING (mission_id)
        JOIN attempts AS a
          ON a.mission_id = t.mission_id AND a.task_id = t.task_id AND a.outcome = 'succeeded'
        WHERE t.state = 'awaiting_review'
        ORDER BY t.updated_at, t.mission_id, t.task_id
        LIMIT %(limit)s
    """,
    schema={
        "mission_id": pl.String(),
        "mission_name": pl.String(),
        "task_id": pl.String(),
        "agent": pl.String(),
        "summary": pl.String(),
        "waiting_since": _TIME,
    },
)
"""Results waiting for a verdict, longest waiting first."""

ACCEPTANCE = Query(
    sql="""
        SELECT agent, capability, accepted, reviewed
        FROM review_tallies
        ORDER BY agent, capability
    """,
    schema={
        "agent": pl.String(),
        "capability": pl.String(),
        "accepted": pl.Int64(),
        "reviewed": pl.Int64(),
    },
)
"""Reviewed and accepted results per agent and capability (what routing learns from)."""


def read_frame(
    conn: psycopg.Connection[Any], query: Query, *, params: Mapping[str, object]
) -> pl.DataFrame:
    """Run `query` with `params` and return its rows with the query's schema."""
    return pl.read_database(
        query.sql,
        conn,
        execute_options={"params": dict(params)},
        schema_overrides=dict(query.schema),
    )
