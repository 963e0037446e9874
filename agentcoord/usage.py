"""Usage events and spend: what agents consumed, summed by agent, mission, task, model and more.

The domain types shared by the cost ledger (agentcoord.services.cost), the store
(agentcoord.store.usage) and reports (agentcoord.reports). Money is integer micro-dollars.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class SpendDimension(enum.Enum):
    """A way to group spend; the value is the name used in reports and on the command line."""

    AGENT = "agent"
    """The agent that did the work (registry name)."""
    MISSION = "mission"
    """The mission the work belonged to."""
    TASK = "task"
    """The task within its mission."""
    MODEL = "model"
    """The model the agent ran."""
    CAPABILITY = "capability"
    """The task's capabilities, sorted and joined with "+" ("" for usage outside any task)."""
    DAY = "day"
    """The UTC day the usage ended, YYYY-MM-DD."""
    WEEK = "week"
    """The ISO week the usage ended, YYYY-Www."""


@dataclass(frozen=True)
class UsageRecord:
    """What one agent attempt consumed; the client makes `idempotency_key`, so retries are safe.

    `reported_cost_micro_usd` is what the agent said it cost (None: it did not say);
    `computed_cost_micro_usd` is what the price table says, filled in by the ledger. Both are
    kept; `cost_micro_usd`, the amount charged, is the reported cost when there is one.
    """

    idempotency_key: str
    mission_id: str
    task_id: str
    agent: str
    model: str
    input_tokens: int
    output_tokens: int
    started_at: datetime
    ended_at: datetime
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reported_cost_micro_usd: int | None = None
    computed_cost_micro_usd: int | None = None
    attempt_id: str = ""
    tags: tuple[str, ...] = ()

    @property
    def cost_micro_usd(self) -> int:
        """The amount charged: the reported cost, else the computed one (0 before pricing)."""
        if self.reported_cost_micro_usd is not None:
            return self.reported_cost_micro_usd
        return self.computed_cost_micro_usd or 0

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON object, as carried by `usage.recorded` events."""
        return {
            "idempotency_key": self.idempotency_key,
            "mission_id": self.mission_id,
            "task_id": self.task_id,
            "attempt_id": self.attempt_id,
            "agent": self.agent,
            "model": self.model,
            "tags": list(self.tags),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cost_micro_usd": self.cost_micro_usd,
            "reported_cost_micro_usd": self.reported_cost_micro_usd,
            "computed_cost_micro_usd": self.computed_cost_micro_usd,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat(),
        }


@dataclass(frozen=True)
class UsageBatch:
    """Many usage events column by column: the fields of UsageRecord, one sequence each.

    Streams of usage arrive by the thousand; checking and pricing whole columns instead of
    building a record per event is what keeps ingest close to raw COPY speed. Every column has
    one entry per event, in stream order.
    """

    idempotency_keys: Sequence[str]
    mission_ids: Sequence[str]
    task_ids: Sequence[str]
    agents: Sequence[str]
    models: Sequence[str]
    input_tokens: Sequence[int]
    output_tokens: Sequence[int]
    cache_read_tokens: Sequence[int]
    cache_write_tokens: Sequence[int]
    reported_costs_micro_usd: Sequence[int | None]
    started_at: Sequence[datetime]
    ended_at: Sequence[datetime]
    attempt_ids: Sequence[str]
    tags: Sequence[tuple[str, ...]]
    computed_costs_micro_usd: Sequence[int | None] | None = None
    """Filled in by the ledger (None before pricing)."""

    def __len__(self) -> int:
        return len(self.idempotency_keys)

    @classmethod
    def from_records(cls, records: Iterable[UsageRecord]) -> UsageBatch:
        """The columns of `records`."""
        rows = list(records)
        return cls(
            idempotency_keys=[r.idempotency_key for r in rows],
            mission_ids=[r.mission_id for r in rows],
            task_ids=[r.task_id for r in rows],
            agents=[r.agent for r in rows],
            models=[r.model for r in rows],
            input_tokens=[r.input_tokens for r in rows],
            output_tokens=[r.output_tokens for r in rows],
            cache_read_tokens=[r.cache_read_tokens for r in rows],
            cache_write_tokens=[r.cache_write_tokens for r in rows],
            reported_costs_micro_usd=[r.reported_cost_micro_usd for r in rows],
            started_at=[r.started_at for r in rows],
            ended_at=[r.ended_at for r in rows],
            attempt_ids=[r.attempt_id for r in rows],
            tags=[r.tags for r in rows],
            computed_costs_micro_usd=[r.computed_cost_micro_usd for r in rows],
        )

    def record(self, index: int) -> UsageRecord:
        """The event at `index` as a record."""
        computed = self.computed_costs_micro_usd
        return UsageRecord(
            idempotency_key=self.idempotency_keys[index],
            mission_id=self.mission_ids[index],
            task_id=self.task_ids[index],
            agent=self.agents[index],
            model=self.models[index],
            input_tokens=self.input_tokens[index],
            output_tokens=self.output_tokens[index],
            cache_read_tokens=self.cache_read_tokens[index],
            cache_write_tokens=self.cache_write_tokens[index],
            reported_cost_micro_usd=self.reported_costs_micro_usd[index],
            computed_cost_micro_usd=None if computed is None else computed[index],
            started_at=self.started_at[index],
            ended_at=self.ended_at[index],
            attempt_id=self.attempt_ids[index],
            tags=self.tags[index],
        )

    def costs_micro_usd(self) -> list[int]:
        """The amount charged per event: reported, else computed (0 before pricing)."""
        computed = self.computed_costs_micro_usd or [None] * len(self)
        return [
            c if c is not None else (p or 0)
            for c, p in zip(self.reported_costs_micro_usd, computed, strict=True)
        ]


SpendFilters = Mapping[SpendDimension, tuple[str, ...]]
"""Keep only usage whose dimension takes one of the given values (all filters must hold)."""


@dataclass(frozen=True)
class SpendRow:
    """One group of usage events: `keys` follow the order of the requested dimensions.

    `reported_cost_micro_usd` sums what agents reported (events that reported none add 0);
    `computed_cost_micro_usd` what the price table says the same tokens cost.
    """

    keys: tuple[str, ...]
    cost_micro_usd: int
    input_tokens: int
    output_tokens: int
    events: int
    computed_cost_micro_usd: int = 0
    reported_cost_micro_usd: int = 0


@dataclass(frozen=True)
class Spend:
    """Spend over a period [start, end) (None is an open bound), grouped, with its total."""

    group_by: tuple[SpendDimension, ...]
    start: datetime | None
    end: datetime | None
    rows: tuple[SpendRow, ...]

    @property
    def total_cost_micro_usd(self) -> int:
        """The sum over all rows."""
        return sum(row.cost_micro_usd for row in self.rows)
