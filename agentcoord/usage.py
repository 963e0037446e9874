"""Usage events and spend: what agents consumed, summed by agent, mission, task, model and more.

The domain types shared by the cost ledger (agentcoord.services.cost), the store
(agentcoord.store.usage) and reports (agentcoord.reports). Money is integer micro-dollars.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
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
