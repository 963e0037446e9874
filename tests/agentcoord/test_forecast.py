"""Cost forecasts: history from past usage, bootstrap P50/P90, fallbacks, determinism, bounds."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from agentcoord.config import AgentConfig
from agentcoord.errors import InvalidInputError, NoEligibleAgentError
from agentcoord.forecast import ROUTER_ESTIMATE, PastTaskCost, forecast_mission
from agentcoord.missions import TaskSpec
from agentcoord.services.routing.router import Router
from agentcoord.states import TaskState
from agentcoord.store.forecast import load_cost_history

CHEAP = AgentConfig("cheap", "sim", "sim-small", ("code", "test", "docs"), 1_000_000, 5_000_000)
DEEP = AgentConfig("deep", "sim", "sim-large", ("code", "test", "docs", "review"), 15_000_000, 75_000_000)
ROUTER = Router([CHEAP, DEEP])


def task(task_id: str, *capabilities: str) -> TaskSpec:
    return TaskSpec(id=task_id, description=f"do {task_id}", capabilities=capabilities)


def past(agent: str, *costs: int) -> list[PastTaskCost]:
    return [PastTaskCost(agent, cost) for cost in costs]


# --- history from the database ---------------------------------------------------------------


class PastMissions:
    """Writes past missions, tasks and usage rows with plain SQL."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.usage = 0

    def mission(self, mission_id: str) -> None:
        self.conn.execute(
            "INSERT INTO missions (mission_id, name, goal, state) VALUES (%s, %s, 'g', 'completed')",
            (mission_id, mission_id),
        )

    def task(self, mission_id: str, task_id: str, caps: list[str], state: str, agent: str, *costs: int) -> None:
        self.conn.execute(
            "INSERT INTO tasks (mission_id, task_id, position, description, capabilities, depends_on, action,"
            " state, agent, finished_at) VALUES (%s, %s, 0, 'd', %s, '{}', %s, %s, %s, %s)",
            (mission_id, task_id, caps, Jsonb({}), state, agent, datetime.now(UTC) if TaskState(state).is_terminal else None),
        )
        for cost in costs:  # one usage event per attempt
            self.usage += 1
            self.conn.execute(
                "INSERT INTO usage_events (idempotency_key, mission_id, task_id, agent, model, input_tokens,"
                " output_tokens, cost_micro_usd, started_at, ended_at)"
                " VALUES (%s, %s, %s, %s, 'm', 10, 10, %s, now(), now())",
                (f"u{self.usage}", mission_id, task_id, agent or "cheap", cost),
            )


@pytest.fixture
def history_db(fresh_database_url: str) -> str:
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        rows = PastMissions(conn)
        rows.mission("m1")
        rows.task("m1", "a", ["code"], "succeeded", "cheap", 100, 50)  # retried: both attempts count
        rows.task("m1", "b", ["test", "code", "code"], "failed", "cheap", 300)  # same set as {code, test}
        rows.task("m1", "c", ["code"], "running", "cheap", 999)  # unfinished: not history yet
        rows.task("m1", "d", ["code"], "succeeded", "cheap")  # no usage recorded
        rows.task("m1", "e", ["review"], "succeeded", "deep", 700)  # a set nobody asks for
        rows.task("m1", "f", ["code"], "accepted", "", 80)  # agent only known from its usage
        rows.mission("m2")
        rows.task("m2", "a", ["code"], "succeeded", "deep", 400)  # same task id, other mission
    return fresh_database_url


def test_history_sums_every_attempt_of_finished_tasks_per_capability_set(runner, make_db, history_db: str) -> None:
    db = make_db(history_db)

    async def load(sets: Sequence[Sequence[str]]) -> dict[tuple[str, ...], tuple[PastTaskCost, ...]]:
        async with db.transaction() as conn:
            return await load_cost_history(conn, capability_sets=sets)

    history = runner.run(load([["code"], ["code", "test"], ["test", "code", "test"], ["docs"]]))
    assert set(history) == {("code",), ("code", "test")}
    assert sorted(history[("code",)], key=lambda p: p.cost_micro_usd) == [
        PastTaskCost("cheap", 80),
        PastTaskCost("cheap", 150),
        PastTaskCost("deep", 400),
    ]
    assert history[("code", "test")] == (PastTaskCost("cheap", 300),)
    assert runner.run(load([])) == {}


def test_only_the_latest_finished_tasks_of_a_set_count(runner, make_db, fresh_database_url: str) -> None:
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        rows = PastMissions(conn)
        rows.mission("m1")
        for age_days, (task_id, state, cost) in enumerate(
            [("newest", "succeeded", 300), ("running", "running", 999), ("older", "failed", 200), ("oldest", "succeeded", 100)]
        ):
            rows.task("m1", task_id, ["code"], state, "cheap", cost)
            conn.execute("UPDATE tasks SET finished_at = now() - make_interval(days => %s)"
                         " WHERE task_id = %s AND finished_at IS NOT NULL", (age_days, task_id))
    db = make_db(fresh_database_url)

    async def load() -> Any:
        async with db.transaction() as conn:
            return await load_cost_history(conn, capability_sets=[["code"]], per_set=2)

    assert sorted(p.cost_micro_usd for p in runner.run(load())[("code",)]) == [200, 300]


def test_a_forecast_from_stored_history(runner, make_db, history_db: str) -> None:
    db = make_db(history_db)
    tasks = [task("implement", "code"), task("review", "review"), task("check", "test", "code")]

    async def load() -> Any:
        async with db.transaction() as conn:
            return await load_cost_history(conn, capability_sets=[t.capabilities for t in tasks])

    forecast = forecast_mission(tasks, router=ROUTER, history=runner.run(load()))
    implement, review, check = forecast.per_task
    assert (implement.agent, implement.basis, implement.p50_micro_usd) == ("cheap", "history(n=2)", 80)
    # only the deep agent reviews, so the review done by deep is same-agent history
    assert (review.agent, review.basis, review.p50_micro_usd) == ("deep", "history(n=1)", 700)
    assert (check.basis, check.p50_micro_usd) == ("history(n=1)", 300)
    assert 80 + 700 + 300 <= forecast.p50_micro_usd <= forecast.p90_micro_usd <= 150 + 700 + 300


# --- the bootstrap ---------------------------------------------------------------------------


def exact_percentile(histories: Sequence[Sequence[int]], percent: int) -> int:
    """The percentile of the exact distribution of sums (every combination equally likely per task)."""
    weights: Counter[int] = Counter()
    for combination in itertools.product(*histories):
        weights[sum(combination)] += 1
    total = sum(weights.values())
    target = Fraction(percent, 100)
    cumulative = Fraction(0)
    for value in sorted(weights):
        cumulative += Fraction(weights[value], total)
        # keep well clear of a boundary, where 4000 samples could land either side
        assert abs(cumulative - target) > Fraction(3, 100)
        if cumulative > target:
            return value
    raise AssertionError("unreachable")


def test_p50_and_p90_match_the_exact_distribution_of_sums() -> None:
    a = [100, 100, 100, 300]
    b = [1000, 1000, 1000, 1000, 5000]
    history = {("code",): past("cheap", *a), ("test",): past("cheap", *b)}
    forecast = forecast_mission([task("a", "code"), task("b", "test")], router=ROUTER, history=history)
    assert forecast.p50_micro_usd == exact_percentile([a, b], 50) == 1100
    assert forecast.p90_micro_usd == exact_percentile([a, b], 90) == 5100
    assert [t.p50_micro_usd for t in forecast.per_task] == [100, 1000]
    assert forecast.over_budget(5099) and not forecast.over_budget(5100)


def test_same_agent_history_is_preferred_then_any_agent_then_the_router_estimate() -> None:
    tasks = [task("a", "code"), task("b", "test", "code", "code"), task("c", "docs")]
    history = {
        ("code",): past("cheap", 100) + past("deep", 9000),  # the router picks cheap for code
        ("code", "test"): past("deep", 7000, 7000),
    }
    forecast = forecast_mission(tasks, router=ROUTER, history=history)
    estimate = ROUTER.route(["docs"]).estimated_cost_micro_usd
    assert [(t.task_id, t.agent, t.basis, t.p50_micro_usd) for t in forecast.per_task] == [
        ("a", "cheap", "history(n=1)", 100),
        ("b", "cheap", "history(n=2, any agent)", 7000),
        ("c", "cheap", ROUTER_ESTIMATE, estimate),
    ]
    assert forecast.p50_micro_usd == forecast.p90_micro_usd == 100 + 7000 + estimate
    assert forecast.to_json()["per_task"][2] == {
        "task_id": "c", "agent": "cheap", "basis": ROUTER_ESTIMATE, "p50_micro_usd": estimate
    }


def test_the_same_seed_gives_the_same_forecast_and_seeds_differ() -> None:
    history = {("code",): past("cheap", *range(100, 10_000, 37))}
    tasks = [task(f"t{i}", "code") for i in range(3)]
    first = forecast_mission(tasks, router=ROUTER, history=history, samples=50, seed=5)
    assert forecast_mission(tasks, router=ROUTER, history=history, samples=50, seed=5) == first
    outcomes = {
        (f.p50_micro_usd, f.p90_micro_usd)
        for f in (forecast_mission(tasks, router=ROUTER, history=history, samples=50, seed=s) for s in range(10))
    }
    assert len(outcomes) > 1


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(InvalidInputError) as caught:
        forecast_mission([task("a", "code")], router=ROUTER, history={}, samples=0)
    assert caught.value.field == "samples"
    with pytest.raises(NoEligibleAgentError):
        forecast_mission([task("a", "deploy")], router=ROUTER, history={})
    empty = forecast_mission([], router=ROUTER, history={})
    assert (empty.p50_micro_usd, empty.p90_micro_usd, empty.per_task) == (0, 0, ())


_capability_sets = st.sampled_from([("code",), ("test",), ("code", "test"), ("review",), ("code", "docs")])


@settings(max_examples=100, deadline=None)
@given(
    task_sets=st.lists(_capability_sets, min_size=1, max_size=8),
    histories=st.dictionaries(
        _capability_sets,
        st.tuples(st.sampled_from(["cheap", "deep", "retired"]), st.lists(st.integers(0, 10**9), min_size=1, max_size=20)),
    ),
    seed=st.integers(0, 2**32),
)
def test_p50_never_exceeds_p90_and_both_lie_between_the_cheapest_and_dearest_totals(
    task_sets: list[tuple[str, ...]], histories: dict[tuple[str, ...], tuple[str, list[int]]], seed: int
) -> None:
    tasks = [task(f"t{i}", *caps) for i, caps in enumerate(task_sets)]
    history = {caps: past(agent, *costs) for caps, (agent, costs) in histories.items()}
    forecast = forecast_mission(tasks, router=ROUTER, history=history, samples=200, seed=seed)

    def bounds(caps: tuple[str, ...]) -> tuple[int, int]:
        if caps in histories:  # one agent per set here, so whichever basis is used, these are its costs
            costs = histories[caps][1]
            return min(costs), max(costs)
        estimate = ROUTER.route(caps).estimated_cost_micro_usd
        return estimate, estimate

    low = sum(bounds(caps)[0] for caps in task_sets)
    high = sum(bounds(caps)[1] for caps in task_sets)
    assert low <= forecast.p50_micro_usd <= forecast.p90_micro_usd <= high
