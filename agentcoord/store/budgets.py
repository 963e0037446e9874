"""Queries for budgets: upserts, spend per budget in its current period, and one-time alerts.

Period arithmetic and "does this budget cover that usage" live in SQL functions of migration
0005 (budget_period_start, budget_applies, budget_spent_micro_usd), so checks and alerts agree.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from agentcoord.budgets import (
    AlertLevel,
    Budget,
    BudgetDecision,
    BudgetPeriod,
    BudgetScope,
    BudgetStatus,
    BudgetTouch,
)
from agentcoord.store.database import Connection

_STATUS_COLUMNS = (
    "b.scope, b.subject, b.period, b.soft_limit_micro_usd, b.hard_limit_micro_usd,"
    " budget_spent_micro_usd(b, {at}) AS spent_micro_usd,"
    " nullif(budget_period_start(b.period, {at}), '-infinity') AS period_start"
)
_ALL_AT_NOW = (
    "SELECT " + _STATUS_COLUMNS.format(at="%(at)s") + " FROM budgets AS b"
    " ORDER BY b.scope, b.subject, b.period"
)
# The budgets covering each of a batch of new attempts (mission, agent, tags), numbered n from 1.
_COVERING_ATTEMPTS = (
    "SELECT a.n, " + _STATUS_COLUMNS.format(at="%(at)s") + " FROM unnest(%(mission_ids)s::text[],"
    " %(agents)s::text[], %(tags)s::jsonb[]) WITH ORDINALITY AS a (mission_id, agent, tags, n)"
    " JOIN budgets AS b ON budget_applies(b, a.mission_id, a.agent, ARRAY(SELECT jsonb_array_elements_text(a.tags)))"
    " ORDER BY a.n, b.scope, b.subject, b.period"
)
# The (mission, agent, tags, UTC day) a batch of usage touched, passed as parallel arrays.
_TOUCHES = (
    "WITH touches AS (SELECT t.mission_id, t.agent,"
    " ARRAY(SELECT jsonb_array_elements_text(t.tags)) AS tags,"
    " t.day::timestamp AT TIME ZONE 'UTC' AS at"
    " FROM unnest(%(mission_ids)s::text[], %(agents)s::text[], %(tags)s::jsonb[],"
    " %(days)s::date[]) AS t (mission_id, agent, tags, day)) "
)
# Budgets covering new usage are locked (in one order) before their spend is read, so two
# writers crossing a limit together serialise and the second sees the first's usage.
_LOCK_TOUCHED = (
    _TOUCHES + "SELECT 1 FROM budgets AS b WHERE EXISTS (SELECT 1 FROM touches AS s"
    " WHERE budget_applies(b, s.mission_id, s.agent, s.tags))"
    " ORDER BY b.scope, b.subject, b.period FOR UPDATE OF b"
)
# A period is a union of whole UTC days, so the day's start names the period it falls in.
_TOUCHED = (
    _TOUCHES + "SELECT " + _STATUS_COLUMNS.format(at="touched.at") + " FROM budgets AS b"
    " CROSS JOIN LATERAL (SELECT DISTINCT budget_period_start(b.period, s.at) AS at"
    " FROM touches AS s WHERE budget_applies(b, s.mission_id, s.agent, s.tags)) AS touched"
    " ORDER BY b.scope, b.subject, b.period, touched.at"
)


def _status(row: dict[str, Any]) -> BudgetStatus:
    budget = Budget(
        scope=BudgetScope(row["scope"]),
        subject=row["subject"],
        period=BudgetPeriod(row["period"]),
        soft_limit_micro_usd=row["soft_limit_micro_usd"],
        hard_limit_micro_usd=row["hard_limit_micro_usd"],
    )
    return BudgetStatus(budget, int(row["spent_micro_usd"]), row["period_start"])


async def upsert_budget(conn: Connection, budget: Budget) -> None:
    """Create the budget of (scope, subject, period) or replace its limits."""
    await conn.execute(
        "INSERT INTO budgets (scope, subject, period, soft_limit_micro_usd, hard_limit_micro_usd)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (scope, subject, period) DO UPDATE SET"
        " soft_limit_micro_usd = excluded.soft_limit_micro_usd,"
        " hard_limit_micro_usd = excluded.hard_limit_micro_usd, updated_at = now()",
        (
            budget.scope.value,
            budget.subject,
            budget.period.value,
            budget.soft_limit_micro_usd,
            budget.hard_limit_micro_usd,
        ),
    )


async def budget_statuses(conn: Connection, *, at: datetime) -> list[BudgetStatus]:
    """Every budget with its spend in the period containing `at`."""
    cur = await conn.execute(_ALL_AT_NOW, {"at": at})
    return [_status(row) for row in await cur.fetchall()]


async def hard_budget_check(
    conn: Connection, *, at: datetime, mission_id: str, agent: str, tags: Sequence[str] = ()
) -> BudgetDecision:
    """May a new attempt of `agent` in `mission_id` carrying `tags` start at `at`? One statement.

    Denied when any budget covering that mission, agent, one of the tags, or everything has
    spent at least its hard limit in its current period; soft limits never deny.
    """
    [decision] = await hard_budget_checks(conn, at=at, attempts=[(mission_id, agent, tags)])
    return decision


async def hard_budget_checks(
    conn: Connection, *, at: datetime, attempts: Sequence[tuple[str, str, Sequence[str]]]
) -> list[BudgetDecision]:
    """`hard_budget_check` for many new attempts (mission, agent, tags) in one statement, in order."""
    if not attempts:
        return []
    cur = await conn.execute(_COVERING_ATTEMPTS, {
        "at": at, "mission_ids": [mission for mission, _, _ in attempts], "agents": [agent for _, agent, _ in attempts],
        "tags": [Jsonb(list(tags)) for _, _, tags in attempts],
    })
    exceeded: list[list[BudgetStatus]] = [[] for _ in attempts]
    for row in await cur.fetchall():
        status = _status(row)
        if status.hard_limit_reached:
            exceeded[row["n"] - 1].append(status)
    return [BudgetDecision(allowed=not over, exceeded=tuple(over)) for over in exceeded]


async def touched_budget_statuses(
    conn: Connection, touches: Collection[BudgetTouch]
) -> list[BudgetStatus]:
    """Lock the budgets covering `touches`; their spend in each period the touches fall in."""
    if not touches:
        return []
    params = {
        "mission_ids": [t.mission_id for t in touches],
        "agents": [t.agent for t in touches],
        "tags": [Jsonb(list(t.tags)) for t in touches],
        "days": [t.day for t in touches],
    }
    await conn.execute(_LOCK_TOUCHED, params)
    cur = await conn.execute(_TOUCHED, params)
    return [_status(row) for row in await cur.fetchall()]


async def insert_alert(conn: Connection, status: BudgetStatus, level: AlertLevel) -> bool:
    """Record that `status` crossed its `level` limit; False if this period already alerted."""
    cur = await conn.execute(
        "INSERT INTO budget_alerts (scope, subject, period, period_start, level,"
        " limit_micro_usd, spent_micro_usd)"
        " VALUES (%s, %s, %s, coalesce(%s::timestamptz, '-infinity'), %s, %s, %s)"
        " ON CONFLICT DO NOTHING RETURNING level",
        (
            status.budget.scope.value,
            status.budget.subject,
            status.budget.period.value,
            status.period_start,
            level.value,
            status.budget.limit_micro_usd(level),
            status.spent_micro_usd,
        ),
    )
    return await cur.fetchone() is not None
