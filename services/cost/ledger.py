"""The cost ledger: records usage events exactly once and sums spend over any grouping and period.

This is the plain object behind CostService. Usage is validated and priced before anything is
written: the price table gives every event a computed cost, kept beside the cost the agent
reported (if any), which is the one charged. Streams are checked and priced column by column
(`UsageBatch`), not as a record per event, to keep per-event Python work small. A single event
(`record`) goes through a staging table and a merge; a stream (`record_stream`) is COPYed
straight into usage_events and only falls back to staging and one merge when a key turns out to
be known (see agentcoord.store.usage_writer). Either way a replayed idempotency key changes
nothing and emits nothing. In the same transaction the ledger writes the bus events
(`usage.recorded` per unary event, `usage.batch_recorded` per chunk of a stream) and any
`budget.alert` the new usage raised (for the budgets and periods the usage touched).
"""

from __future__ import annotations

import dataclasses
import logging
import operator
from collections.abc import AsyncIterable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from agentcoord.budgets import BudgetTouch, budget_touches
from agentcoord.config import AgentConfig
from agentcoord.errors import InvalidInputError
from agentcoord.prices import ModelPrice, PriceTable
from agentcoord.services.cost.budgets import raise_budget_alerts
from agentcoord.store import Database
from agentcoord.store.events import append_event, append_events
from agentcoord.store.usage import merge_staged_usage, stage_usage, sum_spend
from agentcoord.store.usage_writer import UsageWriter
from agentcoord.usage import Spend, SpendDimension, SpendFilters, UsageBatch, UsageRecord

log = logging.getLogger(__name__)

USAGE_RECORDED_TOPIC = "usage.recorded"
USAGE_BATCH_RECORDED_TOPIC = "usage.batch_recorded"
COST_ACTOR = "cost"
# Agents run on other machines; allow their clocks to be a little ahead of ours, not more.
MAX_CLOCK_SKEW = timedelta(minutes=5)
# The TaskExecutor keys usage by attempt; such keys name the attempt when attempt_id is empty.
ATTEMPT_KEY_PREFIX = "attempt:"


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
            await stage_usage(conn, UsageBatch.from_records([stored]))
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
                await raise_budget_alerts(
                    conn,
                    {BudgetTouch(stored.mission_id, stored.agent, stored.tags,
                                 stored.ended_at.astimezone(UTC).date())},
                )  # fmt: skip
        log.info(
            "usage %s %s",
            stored.idempotency_key,
            "recorded" if recorded else "already recorded",
            extra={"mission_id": stored.mission_id, "task_id": stored.task_id},
        )
        return recorded

    async def record_stream(self, batches: AsyncIterable[UsageBatch]) -> StreamResult:
        """Store every event of `batches` in one transaction: all of them or, on error, none.

        Each batch is validated, priced and written as it arrives (see UsageWriter: COPY into
        usage_events, or staging and a merge once a key turns out to be known). An invalid
        event raises InvalidInputError whose field names its position in the stream
        (`events[41].input_tokens`) and nothing is stored.
        """
        received = 0
        touches: set[BudgetTouch] = set()
        async with self._db.transaction() as conn:
            async with UsageWriter(conn) as writer:
                async for batch in batches:
                    completed = self.complete_batch(batch, first_position=received)
                    received += len(batch)
                    if not len(completed):
                        continue
                    touches |= budget_touches(
                        completed.mission_ids, completed.agents, completed.tags,
                        completed.ended_at,
                    )  # fmt: skip
                    await writer.write(completed)
                chunks = await writer.finish()
            if chunks:
                await append_events(
                    conn,
                    topic=USAGE_BATCH_RECORDED_TOPIC,
                    actor=COST_ACTOR,
                    payloads=[
                        {
                            "events": len(chunk.idempotency_keys),
                            "cost_micro_usd": chunk.cost_micro_usd,
                            "idempotency_keys": list(chunk.idempotency_keys),
                        }
                        for chunk in chunks
                    ],
                )
                await raise_budget_alerts(conn, touches)
        recorded = sum(len(chunk.idempotency_keys) for chunk in chunks)
        log.info(
            "usage stream: %d received, %d recorded%s",
            received,
            recorded,
            " (through staging: some keys were known)" if writer.fell_back else "",
        )
        return StreamResult(received=received, recorded=recorded)

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
        return self.complete_batch(UsageBatch.from_records([record])).record(0)

    def complete_batch(
        self, batch: UsageBatch, *, first_position: int | None = None
    ) -> UsageBatch:
        """Validate every event of `batch`; fill in models, attempts and computed costs.

        Checks run column by column (the first failing event of each check is reported).
        With `first_position`, the InvalidInputError field names the event's position in the
        stream (`events[41].input_tokens`); without, just the field.
        """

        def bad(index: int, name: str, problem: str) -> InvalidInputError:
            if first_position is None:
                return InvalidInputError(problem, field=name)
            return InvalidInputError(problem, field=f"events[{first_position + index}].{name}")

        if not len(batch):
            return batch
        for name, texts in (
            ("idempotency_key", batch.idempotency_keys),
            ("mission_id", batch.mission_ids),
            ("task_id", batch.task_ids),
            ("agent", batch.agents),
        ):
            if not all(map(str.strip, texts)):
                raise bad(_first(not text.strip() for text in texts), name, "must not be empty")
        for name, counts in (
            ("input_tokens", batch.input_tokens),
            ("output_tokens", batch.output_tokens),
            ("cache_read_tokens", batch.cache_read_tokens),
            ("cache_write_tokens", batch.cache_write_tokens),
            ("cost_micro_usd", batch.reported_costs_micro_usd),
        ):
            column: Sequence[int | None] = counts
            present = cast(
                Sequence[int], [c for c in column if c is not None] if None in column else column
            )
            if min(present, default=0) < 0:
                index = _first(c is not None and c < 0 for c in column)
                raise bad(index, name, f"must not be negative, got {column[index]}")
        if any(map(bool, batch.tags)):
            for index, tags in enumerate(batch.tags):
                if any(not tag.strip() for tag in tags):
                    raise bad(index, "tags", "tags must not be empty")
        unknown_agents = set(batch.agents) - self._agents.keys()
        if unknown_agents:
            index = _first(agent in unknown_agents for agent in batch.agents)
            known = ", ".join(sorted(self._agents))
            raise bad(index, "agent", f"unknown agent {batch.agents[index]!r}; known: {known}")
        for name, times in (("started_at", batch.started_at), ("ended_at", batch.ended_at)):
            if None in map(_TZINFO, times):
                raise bad(_first(t.tzinfo is None for t in times), name, "must carry a time zone")
        if any(map(operator.lt, batch.ended_at, batch.started_at)):
            index = _first(map(operator.lt, batch.ended_at, batch.started_at))
            raise bad(
                index,
                "ended_at",
                f"{batch.ended_at[index].isoformat()} is before started_at"
                f" {batch.started_at[index].isoformat()}",
            )
        latest = self._clock() + MAX_CLOCK_SKEW
        if max(batch.ended_at) > latest:
            index = _first(ended > latest for ended in batch.ended_at)
            raise bad(
                index,
                "ended_at",
                f"{batch.ended_at[index].isoformat()} is more than {MAX_CLOCK_SKEW} in the future",
            )
        models = [
            model or self._agents[agent].model
            for model, agent in zip(batch.models, batch.agents, strict=True)
        ]
        prices = self._prices_of(models, batch.ended_at, bad)
        computed = [
            price.cost_micro_usd(
                input_tokens=i, output_tokens=o, cache_read_tokens=r, cache_write_tokens=w
            )
            for price, i, o, r, w in zip(
                prices,
                batch.input_tokens,
                batch.output_tokens,
                batch.cache_read_tokens,
                batch.cache_write_tokens,
                strict=True,
            )
        ]
        prefix = len(ATTEMPT_KEY_PREFIX)
        attempt_ids = [
            attempt or (key[prefix:] if key.startswith(ATTEMPT_KEY_PREFIX) else "")
            for attempt, key in zip(batch.attempt_ids, batch.idempotency_keys, strict=True)
        ]
        return dataclasses.replace(
            batch,
            models=models,
            computed_costs_micro_usd=computed,
            attempt_ids=attempt_ids,
            tags=[tuple(sorted(set(tags))) if tags else () for tags in batch.tags],
        )

    def _prices_of(
        self,
        models: Sequence[str],
        ended_at: Sequence[datetime],
        bad: Callable[[int, str, str], InvalidInputError],
    ) -> list[ModelPrice]:
        """The price version in effect when each event ended.

        A model whose newest version began before the batch's earliest event is priced once
        for the whole batch; other events are looked up one by one.
        """
        earliest = min(ended_at)
        settled = {}
        for model in set(models):
            versions = self._prices.versions.get(model)
            if versions and versions[-1].effective_from <= earliest:
                settled[model] = versions[-1]
        prices: list[ModelPrice | None] = list(map(settled.get, models))
        if None not in prices:
            return cast(list[ModelPrice], prices)
        looked_up = []
        for index, (price, model, ended) in enumerate(zip(prices, models, ended_at, strict=True)):
            if price is None:
                try:
                    price = self._prices.price_at(model, ended)
                except InvalidInputError as exc:
                    raise bad(index, exc.field, exc.problem) from None
            looked_up.append(price)
        return looked_up


_TZINFO = operator.attrgetter("tzinfo")


def _first(flags: Iterable[bool]) -> int:
    """The index of the first true flag (the caller knows there is one)."""
    return next(index for index, flag in enumerate(flags) if flag)

