"""Mission specifications: the YAML a user writes, parsed and validated into domain types.

Validation happens before anything is stored, so a bad file creates nothing; every error names
the file, the field path (e.g. `tasks[2].depends_on[0]`) and the problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from agentcoord.errors import InvalidInputError
from agentcoord.yamlsource import load_yaml_file, with_line

_TASK_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_MISSION_KEYS = frozenset(
    {"name", "goal", "tasks", "context", "max_parallel", "max_attempts", "on_failure", "budget_usd", "review"}
)
MAX_CONTEXT_ITEMS = 50
ON_FAILURE_CHOICES = ("continue", "fail_fast")
REVIEW_CHOICES = ("policy", "all")
MAX_PARALLEL_LIMIT = 64
MAX_ATTEMPTS_LIMIT = 10
_TASK_KEYS = frozenset({"id", "description", "capabilities", "depends_on", "action"})
_ACTION_KEYS = frozenset({"kind", "environment", "paths", "command"})


@dataclass(frozen=True)
class Action:
    """What a task will do, in the terms policy rules match on."""

    kind: str = "edit"
    environment: str = ""
    paths: tuple[str, ...] = ()
    command: str = ""


@dataclass(frozen=True)
class TaskSpec:
    """One node of a mission's DAG."""

    id: str
    description: str
    capabilities: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    action: Action = field(default_factory=Action)


@dataclass(frozen=True)
class MissionSettings:
    """How a mission runs: parallelism, retries, what a failed task means, and its budget."""

    max_parallel: int = 4
    """At most this many of the mission's tasks run at once."""
    max_attempts: int = 3
    """A task is failed after this many attempts."""
    on_failure: str = "continue"
    """`continue`: independent tasks still run; `fail_fast`: the first failure stops the mission."""
    budget_micro_usd: int | None = None
    """The mission's budget; a forecast P90 above it refuses the mission unless overridden."""
    review: str = "policy"
    """`policy`: a result waits for review when a require_review rule matched its task; `all`:
    every result does (e.g. every change becomes a pull request someone must accept)."""


@dataclass(frozen=True)
class MissionSpec:
    """A goal and the tasks that reach it, validated: ids unique, dependencies known, no cycle.

    An empty `tasks` means the mission gives only a goal and a planning agent proposes the tasks.
    """

    name: str
    goal: str
    tasks: tuple[TaskSpec, ...]
    settings: MissionSettings = field(default_factory=MissionSettings)
    context: tuple[str, ...] = ()
    """Shared context the mission chose (decisions, conventions, lessons): in every agent's prompt."""

    def topological_order(self) -> list[str]:
        """Task ids in an order where every task comes after its dependencies."""
        return _topological_order(self.tasks, source="")


def load_mission_file(path: Path) -> MissionSpec:
    """Read and validate a mission YAML file; errors name the file, line, field and problem."""
    data, lines = load_yaml_file(path)
    try:
        return parse_mission(data, source=str(path))
    except InvalidInputError as error:
        raise with_line(error, lines) from None


def parse_mission(data: object, *, source: str = "<mission>") -> MissionSpec:
    """Validate an already-decoded mission document (from YAML, JSON or a gRPC request)."""
    if not isinstance(data, Mapping):
        raise InvalidInputError("expected a mapping with name, goal and tasks", source=source)
    _reject_unknown_keys(data, _MISSION_KEYS, source=source, path="")
    name = _required_text(data, "name", source=source, path="name")
    goal = _required_text(data, "goal", source=source, path="goal")
    settings = _parse_settings(data, source=source)
    context = _text_list(data.get("context", []), source=source, path="context")
    if len(context) > MAX_CONTEXT_ITEMS:
        raise InvalidInputError(f"at most {MAX_CONTEXT_ITEMS} items", source=source, field="context")
    tasks = parse_tasks(data["tasks"], source=source) if "tasks" in data else ()  # no tasks: to be planned
    return MissionSpec(name=name, goal=goal, tasks=tasks, settings=settings, context=context)


def parse_tasks(raw_tasks: object, *, source: str) -> tuple[TaskSpec, ...]:
    """Validate a task list (from a mission file or a planner): ids, dependencies, no cycle."""
    if not isinstance(raw_tasks, list) or not raw_tasks:
        raise InvalidInputError("must be a non-empty list of tasks", source=source, field="tasks")
    tasks = tuple(_parse_task(raw, source=source, path=f"tasks[{i}]") for i, raw in enumerate(raw_tasks))
    _check_ids_and_dependencies(tasks, source=source)
    _topological_order(tasks, source=source)
    return tasks


def _parse_settings(data: Mapping[Any, Any], *, source: str) -> MissionSettings:
    defaults = MissionSettings()
    max_parallel = _bounded_int(data, "max_parallel", defaults.max_parallel, MAX_PARALLEL_LIMIT, source=source)
    max_attempts = _bounded_int(data, "max_attempts", defaults.max_attempts, MAX_ATTEMPTS_LIMIT, source=source)
    on_failure = data.get("on_failure", defaults.on_failure)
    if on_failure not in ON_FAILURE_CHOICES:
        raise InvalidInputError(
            f"{on_failure!r} is not one of {', '.join(ON_FAILURE_CHOICES)}", source=source, field="on_failure"
        )
    budget = data.get("budget_usd")
    budget_micro_usd = None if budget is None else _usd(budget, source=source, path="budget_usd")
    review = data.get("review", defaults.review)
    if review not in REVIEW_CHOICES:
        raise InvalidInputError(f"{review!r} is not one of {', '.join(REVIEW_CHOICES)}", source=source, field="review")
    return MissionSettings(max_parallel, max_attempts, on_failure, budget_micro_usd, review)


def _bounded_int(data: Mapping[Any, Any], key: str, default: int, limit: int, *, source: str) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
        raise InvalidInputError(f"must be an integer from 1 to {limit}", source=source, field=key)
    return value


def _usd(value: object, *, source: str, path: str) -> int:
    """Dollars as written (`"2.50"` or 2.5) to integer micro-dollars, exactly; positive only."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        amount = Decimal("NaN")
    if isinstance(value, bool) or not amount.is_finite() or amount <= 0 or amount.as_tuple().exponent < -6:  # type: ignore[operator]
        raise InvalidInputError(f"{value!r} is not a positive amount of US dollars", source=source, field=path)
    return int(amount * 1_000_000)


def _parse_task(raw: object, *, source: str, path: str) -> TaskSpec:
    if not isinstance(raw, Mapping):
        raise InvalidInputError("expected a mapping", source=source, field=path)
    _reject_unknown_keys(raw, _TASK_KEYS, source=source, path=path)
    task_id = _required_text(raw, "id", source=source, path=f"{path}.id")
    if not _TASK_ID.match(task_id):
        raise InvalidInputError(
            f"{task_id!r} is not a valid id (lowercase letters, digits, '_', '.', '-'; at most 64)",
            source=source,
            field=f"{path}.id",
        )
    description = _required_text(raw, "description", source=source, path=f"{path}.description")
    capabilities = _text_list(raw.get("capabilities", []), source=source, path=f"{path}.capabilities")
    depends_on = _text_list(raw.get("depends_on", []), source=source, path=f"{path}.depends_on")
    action = _parse_action(raw.get("action", {}), source=source, path=f"{path}.action")
    return TaskSpec(task_id, description, capabilities, depends_on, action)


def _parse_action(raw: object, *, source: str, path: str) -> Action:
    if not isinstance(raw, Mapping):
        raise InvalidInputError("expected a mapping with kind, environment, paths, command", source=source, field=path)
    _reject_unknown_keys(raw, _ACTION_KEYS, source=source, path=path)
    kind = raw.get("kind", "edit")
    environment = raw.get("environment", "")
    command = raw.get("command", "")
    for key, value in (("kind", kind), ("environment", environment), ("command", command)):
        if not isinstance(value, str):
            raise InvalidInputError("expected a string", source=source, field=f"{path}.{key}")
    paths = _text_list(raw.get("paths", []), source=source, path=f"{path}.paths")
    return Action(kind=kind, environment=environment, paths=paths, command=command)


def _check_ids_and_dependencies(tasks: Sequence[TaskSpec], *, source: str) -> None:
    seen: dict[str, int] = {}
    for i, task in enumerate(tasks):
        if task.id in seen:
            raise InvalidInputError(
                f"duplicate task id {task.id!r} (first used by tasks[{seen[task.id]}])",
                source=source,
                field=f"tasks[{i}].id",
            )
        seen[task.id] = i
    for i, task in enumerate(tasks):
        for j, dep in enumerate(task.depends_on):
            if dep not in seen:
                raise InvalidInputError(
                    f"unknown task {dep!r}; known tasks: {', '.join(sorted(seen))}",
                    source=source,
                    field=f"tasks[{i}].depends_on[{j}]",
                )
            if dep == task.id:
                raise InvalidInputError(
                    "a task cannot depend on itself", source=source, field=f"tasks[{i}].depends_on[{j}]"
                )


def _topological_order(tasks: Sequence[TaskSpec], *, source: str) -> list[str]:
    """Kahn's algorithm, stable in file order; a leftover means a cycle, which is reported."""
    remaining = {t.id: set(t.depends_on) for t in tasks}
    order: list[str] = []
    while remaining:
        ready = [t.id for t in tasks if t.id in remaining and not remaining[t.id]]
        if not ready:
            cycle = _find_cycle({tid: deps for tid, deps in remaining.items()})
            index = next(i for i, t in enumerate(tasks) if t.id == cycle[0])
            raise InvalidInputError(
                f"dependency cycle: {' -> '.join(cycle)}", source=source, field=f"tasks[{index}].depends_on"
            )
        for tid in ready:
            order.append(tid)
            del remaining[tid]
        for deps in remaining.values():
            deps.difference_update(ready)
    return order


def _find_cycle(graph: Mapping[str, set[str]]) -> list[str]:
    """Walk dependencies from any node until one repeats; every node here is on or behind a cycle."""
    node = next(iter(graph))
    path: list[str] = []
    while node not in path:
        path.append(node)
        node = min(graph[node])
    return path[path.index(node):] + [node]


def _reject_unknown_keys(data: Mapping[Any, Any], allowed: frozenset[str], *, source: str, path: str) -> None:
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        prefix = f"{path}." if path else ""
        raise InvalidInputError(
            f"unknown field; allowed: {', '.join(sorted(allowed))}", source=source, field=f"{prefix}{unknown[0]}"
        )


def _required_text(data: Mapping[Any, Any], key: str, *, source: str, path: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError("is required and must be a non-empty string", source=source, field=path)
    return value.strip()


def _text_list(value: object, *, source: str, path: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InvalidInputError("expected a list of non-empty strings", source=source, field=path)
    return tuple(value)
