"""Budgets in the cost service: set them, show their spend, raise alerts, and answer the hard stop.

`raise_budget_alerts` runs inside the transaction that records usage: for every budget the new
usage falls under, it writes one `budget.alert` event (audited by the bus' audit consumer) the
first time in a period that spend reaches the soft or the hard limit. `BudgetKeeper.budget_check`
is what the policy checker calls before starting an attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime

from agentcoord.budgets import (
    AlertLevel,
    Budget,
    BudgetDecision,
    BudgetScope,
    BudgetStatus,
    BudgetTouch,
)
from agentcoord.store import Database
from agentcoord.store.budgets import (
    budget_statuses,
    hard_budget_check,
    insert_alert,
    touched_budget_statuses,
    upsert_budget,
)
from agentcoord.store.database import Connection
from agentcoord.store.events import append_event

log = logging.getLogger(__name__)

BUDGET_ALERT_TOPIC = "budget.alert"
BUDGET_SET_TOPIC = "budget.set"
BUDGET_ACTOR = "cost"


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def raise_budget_alerts(
    conn: Connection, touches: Collection[BudgetTouch]
) -> list[tuple[BudgetStatus, AlertLevel]]:
    """Alert once per budget, period and level that usage with these `touches` pushed over a limit.

    Call inside the recording transaction, after the usage was written. Returns the alerts
    raised now.
    """
    raised = []
    for status in await touched_budget_statuses(conn, touches):
        for level in AlertLevel:
            limit = status.budget.limit_micro_usd(level)
            if limit is None or status.spent_micro_usd < limit:
                continue
            if await insert_alert(conn, status, level):
                payload = status.to_json(level)
                await append_event(
                    conn,
                    topic=BUDGET_ALERT_TOPIC,
                    actor=BUDGET_ACTOR,
                    payload=payload,
                    mission_id=status.budget.subject
                    if status.budget.scope is BudgetScope.MISSION
                    else "",
                )
                log.warning("budget %s reached its %s limit", status.budget.name, level.value)
                raised.append((status, level))
    return raised


class BudgetKeeper:
    """Budgets over one database: set, list, and check before a new attempt."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._db = db
        self._clock = clock

    async def set_budget(self, budget: Budget) -> None:
        """Create or replace the budget of (scope, subject, period); audited as `budget.set`."""
        async with self._db.transaction() as conn:
            await upsert_budget(conn, budget)
            await append_event(
                conn,
                topic=BUDGET_SET_TOPIC,
                actor=BUDGET_ACTOR,
                payload={
                    "budget": budget.name,
                    "soft_limit_micro_usd": budget.soft_limit_micro_usd,
                    "hard_limit_micro_usd": budget.hard_limit_micro_usd,
                },
            )

    async def budgets(self) -> list[BudgetStatus]:
        """Every budget with its spend in the current period."""
        async with self._db.transaction() as conn:
            return await budget_statuses(conn, at=self._clock())

    async def budget_check(
        self, *, mission_id: str, agent: str, tags: Sequence[str] = ()
    ) -> BudgetDecision:
        """May a new attempt of `agent` in `mission_id` carrying `tags` start now?

        Denied (allowed False) when any budget covering that mission, agent, one of the tags,
        or everything has spent at least its hard limit in its current period; `exceeded` lists
        those budgets. Soft limits never deny. Usage is counted when recorded, so an attempt
        that is still running is counted once its usage arrives.
        """
        async with self._db.connection() as conn:  # one statement
            return await hard_budget_check(
                conn, at=self._clock(), mission_id=mission_id, agent=agent, tags=tags
            )
