"""The simulated planner: seeded plausible DAGs from a goal, scripted invalid proposals, registry settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentcoord.actors.agents.sim_planner import INVALID_KINDS, SimulatedPlanner, plan_for_goal
from agentcoord.config import AgentConfig, Config
from agentcoord.errors import InvalidInputError
from agentcoord.missions import MissionSpec
from agentcoord.planning import PlanningError, plan_tasks
from agentcoord.services.routing.router import Router

GOAL = "Add a per-user rate limiter to the public API"


def registry_agent(**settings: Any) -> AgentConfig:
    return AgentConfig(
        name="sim-planner",
        adapter="sim",
        model="sim-medium",
        capabilities=("planning",),
        input_price_micro_usd_per_mtok=3_000_000,
        output_price_micro_usd_per_mtok=15_000_000,
        settings=settings,
    )


def test_the_plan_is_a_design_implement_test_docs_review_dag_named_after_the_goal() -> None:
    result = plan_tasks(GOAL, planner=SimulatedPlanner(seed=3))
    assert result.rejected == ()
    by_id = {t.id: t for t in result.tasks}
    implement = [t for t in result.tasks if t.id.startswith("implement-")]
    assert 1 <= len(implement) <= 2
    assert by_id["design"].depends_on == () and by_id["design"].capabilities == ("architecture",)
    assert all(t.depends_on == ("design",) and t.capabilities == ("code",) for t in implement)
    for later in ("test", "docs"):
        assert set(by_id[later].depends_on) == {t.id for t in implement}
    assert set(by_id["review"].depends_on) == {"test", "docs"}
    assert {c for t in result.tasks for c in t.capabilities} == {"architecture", "code", "test", "docs", "review"}
    paths = [p for t in result.tasks for p in t.action.paths]
    assert all("per_user_rate" in p for p in paths)
    assert len(paths) == len(set(paths))  # parallel tasks never share a file
    order = MissionSpec(name="plan", goal=GOAL, tasks=result.tasks).topological_order()
    assert order[0] == "design" and order[-1] == "review"


def test_every_planned_task_can_be_routed_to_a_default_sim_agent(tmp_path: Path) -> None:
    router = Router(Config.from_env({"AGENTCOORD_DATA_DIR": str(tmp_path)}).agents)
    for task in plan_tasks(GOAL, planner=SimulatedPlanner()).tasks:
        assert router.route(task.capabilities).agent


@settings(max_examples=50, deadline=None)
@given(goal=st.text(min_size=1, max_size=80).filter(str.strip), seed=st.integers(0, 2**32))
def test_plans_are_deterministic_per_seed_and_goal_and_always_valid(goal: str, seed: int) -> None:
    first = plan_tasks(goal, planner=SimulatedPlanner(seed=seed))
    again = plan_tasks(goal, planner=SimulatedPlanner(seed=seed))
    assert first == again
    assert first.rejected == ()


def test_different_seeds_give_different_plans() -> None:
    plans = {tuple(t["id"] for t in plan_for_goal(GOAL, seed=seed)) for seed in range(20)}
    assert len(plans) > 1


@pytest.mark.parametrize("invalid", [1, 2, 3, 4])
def test_the_first_invalid_proposals_are_broken_in_different_ways_and_then_retried(invalid: int) -> None:
    result = plan_tasks(GOAL, planner=SimulatedPlanner(invalid_proposals=invalid), max_tries=5)
    assert result.proposals == invalid + 1
    expected = ["invalid JSON", "dependency cycle", "unknown task 'integration-test'", "is not a valid id"]
    assert len(result.rejected) == invalid
    for reason, problem in zip(result.rejected, expected, strict=False):
        assert problem in reason
    assert len(INVALID_KINDS) == len(expected)


def test_more_invalid_proposals_than_tries_ends_in_a_planning_error() -> None:
    with pytest.raises(PlanningError) as caught:
        plan_tasks(GOAL, planner=SimulatedPlanner(invalid_proposals=3), max_tries=3)
    assert len(caught.value.reasons) == 3


def test_from_config_reads_seed_and_invalid_proposals_and_accepts_sim_agent_settings() -> None:
    planner = SimulatedPlanner.from_config(registry_agent(seed=11, invalid_proposals=1, latency_ms=10))
    result = plan_tasks(GOAL, planner=planner)
    assert len(result.rejected) == 1
    assert result == plan_tasks(GOAL, planner=SimulatedPlanner(seed=11, invalid_proposals=1))


@pytest.mark.parametrize(
    ("settings_", "field"),
    [
        ({"invalid_proposal": 1}, "sim-planner.settings.invalid_proposal"),
        ({"invalid_proposals": -1}, "sim-planner.settings.invalid_proposals"),
        ({"invalid_proposals": True}, "sim-planner.settings.invalid_proposals"),
        ({"latency_ms": -5}, "sim-planner.settings"),
    ],
)
def test_from_config_rejects_bad_settings_naming_them(settings_: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        SimulatedPlanner.from_config(registry_agent(**settings_))
    assert caught.value.field == field


def test_a_negative_number_of_invalid_proposals_is_refused() -> None:
    with pytest.raises(InvalidInputError) as caught:
        SimulatedPlanner(invalid_proposals=-1)
    assert caught.value.field == "invalid_proposals"
