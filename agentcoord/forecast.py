"""Cost forecasts: what a mission will probably cost (P50) and what it may cost (P90), before it runs.

Each task is matched with similar finished past tasks: the same capability set (sorted, unique)
done by the agent the router would pick now; failing that, the same capability set on any agent;
failing that, the router's own price estimate. A past task's cost is the sum of all its usage
(every attempt: retries cost money too). A Monte Carlo bootstrap then draws one past cost per
task per sample and sums them; P50/P90 are nearest-rank percentiles of those sums, in integer
micro-dollars. The same seed gives the same forecast.

History comes from `agentcoord.store.forecast.load_cost_history`; this module does no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy

from agentcoord.errors import InvalidInputError
from agentcoord.missions import TaskSpec

if TYPE_CHECKING:
    from agentcoord.services.routing.router import Router

ROUTER_ESTIMATE = "router estimate"


@dataclass(frozen=True)
class PastTaskCost:
    """One finished past task: the agent that had it and everything its attempts cost."""

    agent: str
    cost_micro_usd: int


CostHistory = Mapping[tuple[str, ...], Sequence[PastTaskCost]]
"""Past task costs keyed by capability set (see `capability_set`)."""


def capability_set(capabilities: Iterable[str]) -> tuple[str, ...]:
    """The key tasks are compared by: capabilities sorted (by code point) without duplicates."""
    return tuple(sorted(set(capabilities)))


@dataclass(frozen=True)
class TaskForecast:
    """One task's share: the agent the router would pick, what the estimate rests on, its median."""

    task_id: str
    agent: str
    basis: str
    """`history(n=12)` (that agent's past tasks), `history(n=12, any agent)`, or `router estimate`."""
    p50_micro_usd: int

    def to_json(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "agent": self.agent, "basis": self.basis, "p50_micro_usd": self.p50_micro_usd}


@dataclass(frozen=True)
class Forecast:
    """A mission's forecast cost: P50 and P90 of the simulated totals, and each task's part."""

    p50_micro_usd: int
    p90_micro_usd: int
    per_task: tuple[TaskForecast, ...]
    samples: int
    seed: int

    def over_budget(self, budget_micro_usd: int) -> bool:
        """True when the P90 exceeds the budget: the mission probably fits, but not safely."""
        return self.p90_micro_usd > budget_micro_usd

    def to_json(self) -> dict[str, Any]:
        """The forecast as stored with the mission, to be compared with the actual cost later."""
        return {
            "p50_micro_usd": self.p50_micro_usd,
            "p90_micro_usd": self.p90_micro_usd,
            "samples": self.samples,
            "seed": self.seed,
            "per_task": [t.to_json() for t in self.per_task],
        }


def forecast_mission(
    tasks: Sequence[TaskSpec],
    *,
    router: Router,
    history: CostHistory,
    samples: int = 4000,
    seed: int = 0,
) -> Forecast:
    """Forecast the cost of running `tasks` once each, by bootstrap over similar past tasks.

    Raises NoEligibleAgentError when the router has no agent for some task (the mission could
    not run either), and InvalidInputError when `samples` < 1.
    """
    if samples < 1:
        raise InvalidInputError(f"must be at least 1, got {samples}", source="forecast", field="samples")
    rng = numpy.random.default_rng(seed)
    totals = numpy.zeros(samples, dtype=numpy.int64)
    per_task = []
    for task in tasks:
        decision = router.route(task.capabilities)
        costs, basis = _costs_for(
            history.get(decision.capabilities, ()),
            agent=decision.agent,
            estimate_micro_usd=decision.estimated_cost_micro_usd,
        )
        # Vectorised: a mission of 20 tasks draws 80,000 costs, a few milliseconds in pure Python.
        totals += numpy.asarray(costs, dtype=numpy.int64)[rng.integers(len(costs), size=samples)]
        per_task.append(TaskForecast(task.id, decision.agent, basis, percentile(costs, 50)))
    sums = totals.tolist()
    return Forecast(
        p50_micro_usd=percentile(sums, 50),
        p90_micro_usd=percentile(sums, 90),
        per_task=tuple(per_task),
        samples=samples,
        seed=seed,
    )


def percentile(values: Sequence[int], percent: int) -> int:
    """The nearest-rank percentile: the smallest value with at least `percent`% of values at or below it."""
    ordered = sorted(values)
    if not ordered:
        return 0
    rank = -(-percent * len(ordered) // 100)  # ceiling, in integers
    return ordered[max(1, rank) - 1]


def _costs_for(past: Sequence[PastTaskCost], *, agent: str, estimate_micro_usd: int) -> tuple[list[int], str]:
    """What one task's draws come from, and how the forecast says so."""
    same_agent = [p.cost_micro_usd for p in past if p.agent == agent]
    if same_agent:
        return same_agent, f"history(n={len(same_agent)})"
    if past:
        return [p.cost_micro_usd for p in past], f"history(n={len(past)}, any agent)"
    return [estimate_micro_usd], ROUTER_ESTIMATE
