"""Budgets: how much a mission, an agent, a tag (team) or everything may spend per calendar period.

A budget has a soft limit (crossing it raises one `budget.alert` event per period, so it is
audited and shown) and/or a hard limit (once spend reaches it, `CostLedger.budget_check` denies
new attempts until the period ends). Periods are UTC calendar days, ISO weeks (Monday to
Monday), calendar months, or `total` (never resets). Money is integer micro-dollars.
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from agentcoord.errors import InvalidInputError
from agentcoord.money import format_usd


class BudgetTouch(NamedTuple):
    """What budgets need to know of usage events: whose they are and the UTC day they ended.

    Every budget period is a union of whole UTC days, so the distinct touches of a batch of
    usage say exactly which budgets and periods the batch can have pushed over a limit.
    """

    mission_id: str
    agent: str
    tags: tuple[str, ...]
    day: date


def budget_touches(
    mission_ids: Sequence[str],
    agents: Sequence[str],
    tags: Sequence[tuple[str, ...]],
    ended_at: Sequence[datetime],
) -> set[BudgetTouch]:
    """The distinct touches of usage events given column by column (times must be aware)."""
    times = ended_at
    if any(zone is not UTC for zone in set(map(_TZINFO, times))):
        times = [t.astimezone(UTC) for t in times]
    distinct = set(zip(mission_ids, agents, tags, map(datetime.toordinal, times), strict=True))
    return {BudgetTouch(m, a, t, date.fromordinal(day)) for m, a, t, day in distinct}


_TZINFO = operator.attrgetter("tzinfo")


class BudgetScope(enum.Enum):
    """What a budget limits; the value is the name stored and typed on the command line."""

    GLOBAL = "global"
    """All usage (the subject is empty)."""
    MISSION = "mission"
    """Usage of one mission (the subject is its id)."""
    AGENT = "agent"
    """Usage of one agent (the subject is its registry name)."""
    TAG = "tag"
    """Usage carrying one tag, e.g. a team: `team:payments` (the subject is the tag)."""


class BudgetPeriod(enum.Enum):
    """The calendar period (UTC) after which a budget's spend starts again from zero."""

    DAY = "day"
    """A UTC day."""
    WEEK = "week"
    """An ISO week, Monday 00:00 UTC to the next Monday."""
    MONTH = "month"
    """A calendar month."""
    TOTAL = "total"
    """Never resets: a lifetime cap (typical for a mission)."""


class AlertLevel(enum.Enum):
    """Which limit a `budget.alert` event reports."""

    SOFT = "soft"
    """Spend reached the soft limit: a warning."""
    HARD = "hard"
    """Spend reached the hard limit: new attempts are denied."""


@dataclass(frozen=True)
class Budget:
    """A spending limit of one subject per period; a None limit is not set (one must be)."""

    scope: BudgetScope
    subject: str
    period: BudgetPeriod
    soft_limit_micro_usd: int | None = None
    hard_limit_micro_usd: int | None = None

    def __post_init__(self) -> None:
        if self.scope is BudgetScope.GLOBAL and self.subject:
            raise InvalidInputError("a global budget has no subject", field="subject")
        if self.scope is not BudgetScope.GLOBAL and not self.subject.strip():
            raise InvalidInputError(f"a {self.scope.value} budget needs a subject", field="subject")
        if self.soft_limit_micro_usd is None and self.hard_limit_micro_usd is None:
            raise InvalidInputError("set a soft limit, a hard limit or both", field="limit")
        for name in ("soft_limit_micro_usd", "hard_limit_micro_usd"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise InvalidInputError(f"must be positive, got {value}", field=name)
        soft, hard = self.soft_limit_micro_usd, self.hard_limit_micro_usd
        if soft is not None and hard is not None and soft > hard:
            raise InvalidInputError(
                f"soft limit {format_usd(soft)} is above hard limit {format_usd(hard)}",
                field="soft_limit_micro_usd",
            )

    @property
    def name(self) -> str:
        """`scope:subject/period` for people and logs, e.g. `agent:sim-deep/day`."""
        return f"{self.scope.value}:{self.subject}/{self.period.value}"

    def limit_micro_usd(self, level: AlertLevel) -> int | None:
        """The soft or hard limit."""
        return self.soft_limit_micro_usd if level is AlertLevel.SOFT else self.hard_limit_micro_usd


@dataclass(frozen=True)
class BudgetStatus:
    """A budget and its spend in the period starting at `period_start` (None: `total`)."""

    budget: Budget
    spent_micro_usd: int
    period_start: datetime | None

    @property
    def soft_limit_reached(self) -> bool:
        """Whether spend reached the soft limit (an alert was raised for this period)."""
        soft = self.budget.soft_limit_micro_usd
        return soft is not None and self.spent_micro_usd >= soft

    @property
    def hard_limit_reached(self) -> bool:
        """Whether spend reached the hard limit (new attempts are denied)."""
        hard = self.budget.hard_limit_micro_usd
        return hard is not None and self.spent_micro_usd >= hard

    def to_json(self, level: AlertLevel) -> dict[str, Any]:
        """The payload of a `budget.alert` event for `level`."""
        return {
            "budget": self.budget.name,
            "scope": self.budget.scope.value,
            "subject": self.budget.subject,
            "period": self.budget.period.value,
            "period_start": self.period_start.isoformat() if self.period_start else None,
            "level": level.value,
            "limit_micro_usd": self.budget.limit_micro_usd(level),
            "spent_micro_usd": self.spent_micro_usd,
        }


@dataclass(frozen=True)
class BudgetDecision:
    """The answer of a budget check: may a new attempt start? `exceeded` says which budgets deny."""

    allowed: bool
    exceeded: tuple[BudgetStatus, ...]

    @property
    def reason(self) -> str:
        """One line for people: why the attempt is denied, or that no hard budget is spent."""
        if self.allowed:
            return "no hard budget that applies is spent"
        return "; ".join(
            f"budget {s.budget.name} spent {format_usd(s.spent_micro_usd)}"
            f" of hard limit {format_usd(s.budget.hard_limit_micro_usd or 0)}"
            for s in self.exceeded
        )
