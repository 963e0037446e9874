"""Planning: proposals are extracted, validated like mission files, rejected with reasons, retried."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentcoord.errors import InvalidInputError
from agentcoord.missions import parse_mission
from agentcoord.planning import (
    PLAN_SCHEMA,
    PlanningError,
    plan_tasks,
    planning_prompt,
    validate_plan,
)

GOAL = "Add a per-user rate limiter"
VALID = {
    "tasks": [
        {"id": "design", "description": "Pick an algorithm", "capabilities": ["architecture"]},
        {
            "id": "implement",
            "description": "Write the middleware",
            "capabilities": ["code"],
            "depends_on": ["design"],
            "action": {"kind": "edit", "paths": ["api/ratelimit.py"]},
        },
    ]
}


class ScriptedPlanner:
    """Answers with the given texts in turn (the last one forever) and records every call."""

    def __init__(self, *answers: str) -> None:
        self.answers = answers
        self.calls: list[dict[str, Any]] = []

    def propose(self, *, goal: str, feedback: str, attempt: int) -> str:
        self.calls.append({"goal": goal, "feedback": feedback, "attempt": attempt})
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


def with_tasks(*changes: tuple[int, str, Any]) -> str:
    """VALID as JSON, with tasks[i][key] = value for each change."""
    plan = json.loads(json.dumps(VALID))
    for index, key, value in changes:
        plan["tasks"][index][key] = value
    return json.dumps(plan)


def test_a_valid_plan_is_accepted_on_the_first_proposal() -> None:
    planner = ScriptedPlanner(json.dumps(VALID))
    result = plan_tasks(f"  {GOAL}  ", planner=planner)
    assert [t.id for t in result.tasks] == ["design", "implement"]
    assert result.tasks[1].depends_on == ("design",)
    assert result.tasks[1].action.paths == ("api/ratelimit.py",)
    assert result.rejected == () and result.proposals == 1
    assert planner.calls == [{"goal": GOAL, "feedback": "", "attempt": 1}]


@pytest.mark.parametrize(
    "text",
    [
        f"Sure! Here is the plan:\n```json\n{json.dumps(VALID, indent=2)}\n```\nTell me if you want changes.",
        f"```\n{json.dumps(VALID)}\n```",
        f"The plan: {json.dumps(VALID['tasks'])} -- done",
    ],
    ids=["fenced-json", "fenced-no-language", "bare-array-in-prose"],
)
def test_plans_are_found_in_fenced_blocks_and_in_prose(text: str) -> None:
    assert [t.id for t in validate_plan(text, goal=GOAL)] == ["design", "implement"]


INVALID = [
    ("malformed-json", json.dumps(VALID)[:40], "", "invalid JSON"),
    ("no-json", "I could not come up with a plan.", "", "no JSON object or array"),
    ("tasks-not-a-list", '{"tasks": {"design": {}}}', "tasks", "non-empty list"),
    ("missing-tasks", '{"steps": []}', "steps", "unknown field"),
    ("tasks-missing", "{}", "tasks", "is required"),
    ("empty-tasks", '{"tasks": []}', "tasks", "non-empty list"),
    ("unknown-dependency", with_tasks((1, "depends_on", ["deploy"])), "tasks[1].depends_on[0]", "unknown task 'deploy'"),
    ("cycle", with_tasks((0, "depends_on", ["implement"])), "tasks[0].depends_on", "dependency cycle"),
    ("self-dependency", with_tasks((0, "depends_on", ["design"])), "tasks[0].depends_on[0]", "itself"),
    ("duplicate-id", with_tasks((1, "id", "design"), (1, "depends_on", [])), "tasks[1].id", "duplicate task id"),
    ("bad-id", with_tasks((0, "id", "Design Phase")), "tasks[0].id", "not a valid id"),
    ("wrong-type", with_tasks((0, "capabilities", "architecture")), "tasks[0].capabilities", "list of non-empty strings"),
    ("unknown-task-field", with_tasks((0, "priority", 1)), "tasks[0].priority", "unknown field"),
    ("empty-description", with_tasks((1, "description", " ")), "tasks[1].description", "non-empty string"),
    ("bad-action", with_tasks((1, "action", {"paths": "a.py"})), "tasks[1].action.paths", "list of non-empty strings"),
]


@pytest.mark.parametrize(("text", "field", "problem"), [case[1:] for case in INVALID], ids=[c[0] for c in INVALID])
def test_each_kind_of_invalid_plan_is_rejected_naming_the_field(text: str, field: str, problem: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        validate_plan(text, goal=GOAL, source="plan proposal 1")
    assert caught.value.field == field
    assert problem in caught.value.problem


@pytest.mark.parametrize(("text", "field", "problem"), [case[1:] for case in INVALID], ids=[c[0] for c in INVALID])
def test_a_rejected_proposal_is_retried_with_its_reason_as_feedback(text: str, field: str, problem: str) -> None:
    planner = ScriptedPlanner(text, json.dumps(VALID))
    result = plan_tasks(GOAL, planner=planner)
    assert [t.id for t in result.tasks] == ["design", "implement"]
    assert len(result.rejected) == 1 and result.proposals == 2
    reason = result.rejected[0]
    assert reason.startswith(f"plan proposal 1: {field}: " if field else "plan proposal 1: ")
    assert problem in reason
    assert [c["attempt"] for c in planner.calls] == [1, 2]
    assert reason in planner.calls[1]["feedback"]


def test_retries_are_bounded_and_the_error_lists_every_reason() -> None:
    planner = ScriptedPlanner(
        "no plan", with_tasks((0, "depends_on", ["implement"])), with_tasks((1, "depends_on", ["deploy"]))
    )
    with pytest.raises(PlanningError) as caught:
        plan_tasks(GOAL, planner=planner, max_tries=3)
    error = caught.value
    assert isinstance(error, InvalidInputError)
    assert len(planner.calls) == 3
    assert len(error.reasons) == 3
    assert "no JSON" in error.reasons[0]
    assert "tasks[0].depends_on" in error.reasons[1]
    assert "tasks[1].depends_on[0]" in error.reasons[2]
    assert all(reason in str(error) for reason in error.reasons)
    # every retry sees all earlier reasons, not just the last one
    assert all(reason in planner.calls[2]["feedback"] for reason in error.reasons[:2])


@pytest.mark.parametrize("max_tries", [1, 5])
def test_the_planner_is_asked_exactly_max_tries_times(max_tries: int) -> None:
    planner = ScriptedPlanner("[]")
    with pytest.raises(PlanningError) as caught:
        plan_tasks(GOAL, planner=planner, max_tries=max_tries)
    assert len(planner.calls) == max_tries
    assert len(caught.value.reasons) == max_tries


@pytest.mark.parametrize(("goal", "max_tries", "field"), [("  ", 3, "goal"), (GOAL, 0, "max_tries")])
def test_bad_arguments_are_rejected_without_asking_the_planner(goal: str, max_tries: int, field: str) -> None:
    planner = ScriptedPlanner(json.dumps(VALID))
    with pytest.raises(InvalidInputError) as caught:
        plan_tasks(goal, planner=planner, max_tries=max_tries)
    assert caught.value.field == field
    assert not isinstance(caught.value, PlanningError)
    assert planner.calls == []


def test_the_prompt_carries_goal_schema_and_feedback() -> None:
    first = planning_prompt(GOAL, "")
    assert GOAL in first
    assert json.dumps(PLAN_SCHEMA, indent=2) in first
    assert "rejected" not in first
    retry = planning_prompt(GOAL, "- plan proposal 1: tasks[0].id: bad")
    assert "- plan proposal 1: tasks[0].id: bad" in retry


def test_a_plan_using_every_schema_property_is_valid_and_others_are_not() -> None:
    task_schema = PLAN_SCHEMA["properties"]["tasks"]["items"]
    samples: dict[str, Any] = {
        "id": "a",
        "description": "d",
        "capabilities": ["code"],
        "depends_on": [],
        "action": {key: ["x.py"] if key == "paths" else "edit" for key in task_schema["properties"]["action"]["properties"]},
    }
    assert set(samples) == set(task_schema["properties"])
    assert validate_plan(json.dumps({"tasks": [samples]}), goal=GOAL)[0].action.paths == ("x.py",)
    with pytest.raises(InvalidInputError):
        validate_plan(json.dumps({"tasks": [{**samples, "estimate": 3}]}), goal=GOAL)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=70))
def test_the_schema_id_pattern_agrees_with_validation(task_id: str) -> None:
    pattern = PLAN_SCHEMA["properties"]["tasks"]["items"]["properties"]["id"]["pattern"]
    text = json.dumps([{"id": task_id, "description": "d"}])
    try:
        validate_plan(text, goal=GOAL)
        accepted = True
    except InvalidInputError:
        accepted = False
    # validation strips surrounding whitespace from text fields before checking the id
    assert accepted == bool(re.fullmatch(pattern, task_id.strip()))


# Well-formed tasks plus at most one broken one, so both outcomes (plan, PlanningError) are common.
_good_ids = st.sampled_from(["a", "b", "c", "d", "e"])
_any_ids = st.sampled_from(["a", "b", "A", "", "b b", "x" * 65])
_json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
_json_any = st.recursive(
    _json_leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)
_good_task = st.fixed_dictionaries(
    {"id": _good_ids, "description": st.just("do it")},
    optional={
        "depends_on": st.lists(_good_ids, max_size=2),
        "capabilities": st.lists(st.sampled_from(["code", "test"]), max_size=2),
        "action": st.fixed_dictionaries({}, optional={"paths": st.lists(st.text(min_size=1, max_size=5), max_size=2)}),
    },
)
_bad_task = st.fixed_dictionaries(
    {"id": _any_ids, "description": st.sampled_from(["", " ", 3, "fine"])},
    optional={"depends_on": st.lists(_any_ids, max_size=2) | _json_leaf, "action": _json_any, "extra": _json_leaf},
)
_task_lists = st.tuples(
    st.lists(_good_task, max_size=5, unique_by=lambda t: t["id"]) | st.lists(_good_task, max_size=5),
    st.lists(_bad_task, max_size=1),
).flatmap(lambda parts: st.permutations(parts[0] + parts[1]))
_plan_like = _task_lists.flatmap(lambda tasks: st.sampled_from([tasks, {"tasks": tasks}]))


def _rendered(value: object) -> st.SearchStrategy[str]:
    text = json.dumps(value)
    return st.sampled_from([text, f"```json\n{text}\n```", f"plan: {text} ok", text[: len(text) // 2]])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=40) | (_json_any | _plan_like).flatmap(_rendered), min_size=1, max_size=3))
def test_whatever_the_planner_says_the_outcome_is_a_valid_plan_or_a_planning_error(answers: list[str]) -> None:
    planner = ScriptedPlanner(*answers)
    try:
        result = plan_tasks(GOAL, planner=planner, max_tries=3)
    except PlanningError as error:
        assert len(error.reasons) == 3 == len(planner.calls)
        return
    document = {
        "name": "plan",
        "goal": GOAL,
        "tasks": [
            {
                "id": t.id,
                "description": t.description,
                "capabilities": list(t.capabilities),
                "depends_on": list(t.depends_on),
                "action": {
                    "kind": t.action.kind,
                    "environment": t.action.environment,
                    "paths": list(t.action.paths),
                    "command": t.action.command,
                },
            }
            for t in result.tasks
        ],
    }
    assert parse_mission(document).tasks == result.tasks
    assert len(result.rejected) == len(planner.calls) - 1
