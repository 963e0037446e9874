"""The cost ledger: records usage events exactly once and sums spend over any grouping and period.

This is the plain object behind CostService. Usage is validated and priced before anything is
written: the price table gives every event a computed cost, kept beside the cost the agent
reported (if any), which is the one charged. Writes go through COPY into a staging table and one
set-based merge, for a single event (`record`) as for a stream of millions (`record_stream`); a
replayed idempotency key changes nothing and emits nothing. In the same transaction the ledger
writes the bus events (`usage.recorded` per unary event, `usage.batch_recorded` per chunk of a
stream) and any `budget.alert` the new usage raised.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from agentcoord.config import AgentConfig
from agentcoord.errors import InvalidInputError
from agentcoord.prices import PriceTable
from agentcoord.services.cost.budgets import raise_budget_alerts
from agentcoord.store import Database
from agentcoord.store.database import Connection
from agentcoord.store.events import append_event
from agentcoord.store.usage import merge_staged_usage, stage_usage, sum_spend
from agentcoord.usage import Spend, SpendDimension, SpendFilters, UsageRecord

log = logging.getLogger(__name__)

USAGE_RECORDED_TOPIC = "usage.recorded"
USAGE_BATCH_RECORDED_TOPIC = "usage.batch_recorded"
COST_ACTOR = "cost"
# Agents run on other machines; allow their clocks to be a little ahead of ours, not more.
MAX_CLOCK_SKEW = timedelta(minutes=5)
# The TaskExecutor keys usage by attempt; such keys name the attempt when attempt_id is empty.
ATTEMPT_KEY_PREFIX = "attempt:"

_IDENTIFIER_FIELDS = ("idempotency_key", "mission_id", "task_id", "agent")
_COUNT_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class StreamResult:
    """What a usage stream did: events received, and how many were new (the rest replays)."""

    received: int
    recorded: int


class CostLedger:
    """Usage accounting over one database, the agent registry and the price table."""

    def __init__(
        self,
        db: Database,
        agents: Sequence[AgentConfig],
        prices: PriceTable,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._db = db
        self._agents = {agent.name: agent for agent in agents}
        self._prices = prices
        self._clock = clock

    async def record(self, record: UsageRecord) -> bool:
        """Store a usage event once; return False when its idempotency key was recorded before.

        An empty model means the agent's registered model. Raises InvalidInputError naming the
        field for blank ids, negative counts, an unknown agent or model, or impossible times.
        """
        stored = self.complete(record)
        async with self._db.transaction() as conn:
            await stage_usage(conn, [stored])
            recorded = bool(await merge_staged_usage(conn))
            if recorded:
                await append_event(
                    conn,
                    topic=USAGE_RECORDED_TOPIC,
                    actor=COST_ACTOR,
                    payload=stored.to_json(),
                    mission_id=stored.mission_id,
                    task_id=stored.task_id,
                )
                await raise_budget_alerts(conn)
        log.info(
            "usage %s %s",
            stored.idempotency_key,
            "recorded" if recorded else "already recorded",
            extra={"mission_id": stored.mission_id, "task_id": stored.task_id},
        )
        return recorded

    async def record_stream(self, batches: AsyncIterable[Sequence[UsageRecord]]) -> StreamResult:
        """Store every event of `batches` in one transaction: all of them or, on error, none.

        Each batch is validated and COPYed into staging as it arrives; the merge at the end
        stores the new keys. An invalid event raises InvalidInputError whose field names its
        position in the stream (`events[41].input_tokens`) and nothing is stored.
        """
        received = 0
        async with self._db.transaction() as conn:
            async for batch in batches:
                completed = []
                for record in batch:
                    try:
                        completed.append(self.complete(record))
                    except InvalidInputError as exc:
                        raise InvalidInputError(
                            exc.problem, field=f"events[{received}].{exc.field}"
                        ) from None
                    received += 1
                await stage_usage(conn, completed)
            recorded = await self._merge_stream(conn)
        log.info("usage stream: %d received, %d recorded", received, recorded)
        return StreamResult(received=received, recorded=recorded)

    async def _merge_stream(self, conn: Connection) -> int:
        chunks = await merge_staged_usage(conn)
        for chunk in chunks:
            await append_event(
                conn,
                topic=USAGE_BATCH_RECORDED_TOPIC,
                actor=COST_ACTOR,
                payload={
                    "events": len(chunk.idempotency_keys),
                    "cost_micro_usd": chunk.cost_micro_usd,
                    "idempotency_keys": list(chunk.idempotency_keys),
                },
            )
        if chunks:
            await raise_budget_alerts(conn)
        return sum(len(chunk.idempotency_keys) for chunk in chunks)

    async def spend(
        self,
        *,
        group_by: Sequence[SpendDimension],
        start: datetime | None = None,
        end: datetime | None = None,
        filters: SpendFilters | None = None,
    ) -> Spend:
        """Spend of usage events that ended in [start, end) (None: open), grouped by `group_by`.

        `filters` keep only usage whose dimension takes one of the given values.
        """
        dimensions = tuple(group_by)
        if len(set(dimensions)) != len(dimensions):
            raise InvalidInputError("a dimension may appear only once", field="group_by")
        for dimension, values in (filters or {}).items():
            if not values:
                raise InvalidInputError(
                    f"a {dimension.value} filter needs at least one value", field="filters"
                )
        for name, bound in (("start", start), ("end", end)):
            if bound is not None and bound.tzinfo is None:
                raise InvalidInputError("must carry a time zone", field=name)
        if start is not None and end is not None and end < start:
            raise InvalidInputError(
                f"{end.isoformat()} is before start {start.isoformat()}", field="end"
            )
        async with self._db.transaction() as conn:
            rows = await sum_spend(
                conn, group_by=dimensions, start=start, end=end, filters=filters
            )
        return Spend(group_by=dimensions, start=start, end=end, rows=tuple(rows))

    def complete(self, record: UsageRecord) -> UsageRecord:
        """Validate `record`; fill in its model, attempt and computed cost from the registries."""
        for name in _IDENTIFIER_FIELDS:
            if not getattr(record, name).strip():
                raise InvalidInputError("must not be empty", field=name)
        for name in _COUNT_FIELDS:
            value = getattr(record, name)
            if value < 0:
                raise InvalidInputError(f"must not be negative, got {value}", field=name)
        reported = record.reported_cost_micro_usd
        if reported is not None and reported < 0:
            raise InvalidInputError(f"must not be negative, got {reported}", field="cost_micro_usd")
        if any(not tag.strip() for tag in record.tags):
            raise InvalidInputError("tags must not be empty", field="tags")
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
        model = record.model or agent.model
        computed = self._prices.price_at(model, record.ended_at).cost_micro_usd(
            input_tokens=record.input_tokens,
            output_tokens=record.output_tokens,
            cache_read_tokens=record.cache_read_tokens,
            cache_write_tokens=record.cache_write_tokens,
        )
        attempt_id = record.attempt_id
        if not attempt_id and record.idempotency_key.startswith(ATTEMPT_KEY_PREFIX):
            attempt_id = record.idempotency_key.removeprefix(ATTEMPT_KEY_PREFIX)
        return dataclasses.replace(
            record,
            model=model,
            computed_cost_micro_usd=computed,
            attempt_id=attempt_id,
            tags=tuple(sorted(set(record.tags))),
        )
