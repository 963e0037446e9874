"""The cost ledger: records usage events exactly once and sums spend over any grouping and period.

This is the plain object behind CostService. A usage event is validated before anything is
written; a new one is stored together with its `usage.recorded` event in one transaction, and a
replay of a known idempotency key changes nothing and emits nothing.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from agentcoord.config import AgentConfig
from agentcoord.errors import InvalidInputError
from agentcoord.store import Database
from agentcoord.store.events import append_event
from agentcoord.store.usage import insert_usage, sum_spend
from agentcoord.usage import Spend, SpendDimension, UsageRecord

log = logging.getLogger(__name__)

USAGE_RECORDED_TOPIC = "usage.recorded"
COST_ACTOR = "cost"
# Agents run on other machines; allow their clocks to be a little ahead of ours, not more.
MAX_CLOCK_SKEW = timedelta(minutes=5)

_IDENTIFIER_FIELDS = ("idempotency_key", "mission_id", "task_id", "agent")
_COUNT_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_micro_usd",
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CostLedger:
    """Usage accounting over one database and the agent registry that prices tokens."""

    def __init__(
        self,
        db: Database,
        agents: Sequence[AgentConfig],
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._db = db
        self._agents = {agent.name: agent for agent in agents}
        self._clock = clock

    async def record(self, record: UsageRecord) -> bool:
        """Store a usage event once; return False when its idempotency key was recorded before.

        An empty model means the agent's registered model; a zero cost means the tokens priced at
        the agent's registered rates (cache tokens are not priced). Raises InvalidInputError naming
        the field for blank ids, negative counts, an unknown agent or impossible times.
        """
        stored = self._complete(record)
        async with self._db.transaction() as conn:
            recorded = await insert_usage(conn, stored)
            if recorded:
                await append_event(
                    conn,
                    topic=USAGE_RECORDED_TOPIC,
                    actor=COST_ACTOR,
                    payload=stored.to_json(),
                    mission_id=stored.mission_id,
                    task_id=stored.task_id,
                )
        log.info(
            "usage %s %s",
            stored.idempotency_key,
            "recorded" if recorded else "already recorded",
            extra={"mission_id": stored.mission_id, "task_id": stored.task_id},
        )
        return recorded

    async def spend(
        self,
        *,
        group_by: Sequence[SpendDimension],
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> Spend:
        """Spend of usage events that ended in [start, end) (None: open), grouped by `group_by`."""
        dimensions = tuple(group_by)
        if len(set(dimensions)) != len(dimensions):
            raise InvalidInputError("a dimension may appear only once", field="group_by")
        for name, bound in (("start", start), ("end", end)):
            if bound is not None and bound.tzinfo is None:
                raise InvalidInputError("must carry a time zone", field=name)
        if start is not None and end is not None and end < start:
            raise InvalidInputError(
                f"{end.isoformat()} is before start {start.isoformat()}", field="end"
            )
        async with self._db.transaction() as conn:
            rows = await sum_spend(conn, group_by=dimensions, start=start, end=end)
        return Spend(group_by=dimensions, start=start, end=end, rows=tuple(rows))

    def _complete(self, record: UsageRecord) -> UsageRecord:
        """Validate `record` and fill in the model and cost it may leave to the registry."""
        for name in _IDENTIFIER_FIELDS:
            if not getattr(record, name).strip():
                raise InvalidInputError("must not be empty", field=name)
        for name in _COUNT_FIELDS:
            value = getattr(record, name)
            if value < 0:
                raise InvalidInputError(f"must not be negative, got {value}", field=name)
        agent = self._agents.get(record.agent)
        if agent is None:
            known = ", ".join(sorted(self._agents))
            raise InvalidInputError(
                f"unknown agent {record.agent!r}; known: {known}", field="agent"
            )
        for name in ("started_at", "ended_at"):
            if getattr(record, name).tzinfo is None:
                raise InvalidInputError("must carry a time zone", field=name)
        if record.ended_at < record.started_at:
            raise InvalidInputError(
                f"{record.ended_at.isoformat()} is before started_at"
                f" {record.started_at.isoformat()}",
                field="ended_at",
            )
        latest = self._clock() + MAX_CLOCK_SKEW
        if record.ended_at > latest:
            raise InvalidInputError(
                f"{record.ended_at.isoformat()} is more than {MAX_CLOCK_SKEW} in the future",
                field="ended_at",
            )
        cost = record.cost_micro_usd or agent.cost_micro_usd(
            input_tokens=record.input_tokens, output_tokens=record.output_tokens
        )
        return dataclasses.replace(record, model=record.model or agent.model, cost_micro_usd=cost)
