"""Mission files: valid DAGs parse; every malformed case names file, line, field and problem."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentcoord.errors import InvalidInputError
from agentcoord.missions import load_mission_file, parse_mission

HELLO = Path(__file__).resolve().parents[2] / "examples" / "missions" / "hello.yaml"


def test_example_mission_parses_in_dependency_order() -> None:
    spec = load_mission_file(HELLO)
    assert spec.name == "hello"
    assert [t.id for t in spec.tasks] == ["write", "test", "document"]
    assert spec.topological_order() == ["write", "test", "document"]
    assert spec.tasks[0].action.paths == ("utils/greeting.py",)


BAD_FILES = {
    "malformed-yaml": ("name: x\ngoal: [unclosed\n", "malformed YAML: line 3"),
    "unknown-dependency": (
        "name: x\ngoal: g\ntasks:\n  - id: a\n    description: d\n    depends_on: [nope]\n",
        ":6: tasks[0].depends_on[0]: unknown task 'nope'",
    ),
    "cycle": (
        "name: x\ngoal: g\ntasks:\n  - {id: a, description: d, depends_on: [b]}\n  - {id: b, description: d, depends_on: [a]}\n",
        "dependency cycle: a -> b -> a",
    ),
    "duplicate-id": (
        "name: x\ngoal: g\ntasks:\n  - {id: a, description: d}\n  - {id: a, description: e}\n",
        "tasks[1].id: duplicate task id 'a'",
    ),
    "empty-goal": ("name: x\ngoal: ''\ntasks:\n  - {id: a, description: d}\n", ":2: goal: is required"),
    "no-tasks": ("name: x\ngoal: g\ntasks: []\n", "tasks: must be a non-empty list"),
    "unknown-field": ("name: x\ngoal: g\nowner: me\ntasks:\n  - {id: a, description: d}\n", ":3: owner: unknown field"),
    "bad-id": ("name: x\ngoal: g\ntasks:\n  - {id: 'Has Space', description: d}\n", "tasks[0].id: 'Has Space' is not a valid id"),
    "self-dependency": (
        "name: x\ngoal: g\ntasks:\n  - {id: a, description: d, depends_on: [a]}\n",
        "tasks[0].depends_on[0]: a task cannot depend on itself",
    ),
    "context-not-list": ("name: x\ngoal: g\ncontext: be nice\ntasks:\n  - {id: a, description: d}\n", ":3: context: expected a list"),
    "capabilities-not-list": (
        "name: x\ngoal: g\ntasks:\n  - {id: a, description: d, capabilities: code}\n",
        "tasks[0].capabilities: expected a list of non-empty strings",
    ),
    "blank-capability": (
        "name: x\ngoal: g\ntasks:\n  - {id: a, description: d, capabilities: [code, ' ']}\n",
        "tasks[0].capabilities: expected a list of non-empty strings",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_mission_files_are_rejected_with_a_precise_message(case: str, tmp_path: Path) -> None:
    text, expected = BAD_FILES[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInputError) as caught:
        load_mission_file(path)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_missing_file_is_named() -> None:
    with pytest.raises(InvalidInputError, match="nowhere.yaml: cannot read file"):
        load_mission_file(Path("nowhere.yaml"))


@st.composite
def dags(draw: st.DrawFn) -> dict[str, object]:
    """Random DAGs: each task may depend only on tasks listed before it, then shuffled."""
    size = draw(st.integers(min_value=1, max_value=25))
    tasks = []
    for i in range(size):
        deps = draw(st.lists(st.integers(min_value=0, max_value=max(0, i - 1)), max_size=min(i, 4), unique=True)) if i else []
        tasks.append({"id": f"t{i}", "description": f"task {i}", "depends_on": [f"t{d}" for d in deps]})
    random.Random(draw(st.integers())).shuffle(tasks)
    return {"name": "random", "goal": "g", "tasks": tasks}


@given(dags())
def test_random_dags_order_every_task_after_its_dependencies(document: dict[str, object]) -> None:
    spec = parse_mission(document)
    order = spec.topological_order()
    position = {task_id: i for i, task_id in enumerate(order)}
    assert sorted(order) == sorted(t.id for t in spec.tasks)
    for task in spec.tasks:
        assert all(position[dep] < position[task.id] for dep in task.depends_on)


@given(dags(), st.data())
def test_adding_a_back_edge_is_always_reported_as_a_cycle(document: dict[str, object], data: st.DataObject) -> None:
    tasks = document["tasks"]
    assert isinstance(tasks, list)
    with_deps = [t for t in tasks if t["depends_on"]]
    if not with_deps:
        return
    task = data.draw(st.sampled_from(with_deps))
    dependency = next(t for t in tasks if t["id"] == task["depends_on"][0])
    dependency["depends_on"] = [*dependency["depends_on"], task["id"]]
    with pytest.raises(InvalidInputError, match="dependency cycle"):
        parse_mission(document)
