"""Planning: turn a mission that gives only a goal into a validated task list.

A planner (a planning agent behind any adapter; the simulated planner in tests and demos) answers
with raw text that should hold a JSON plan shaped like `PLAN_SCHEMA`. The plan is checked by the
very rules a mission file obeys (`agentcoord.missions.parse_mission`: field types, id syntax,
unique ids, known dependencies, no cycle), so downstream a planned mission and a written one are
indistinguishable. A rejected proposal's reason names the bad field; it goes back to the planner
as feedback for its next try, and after `max_tries` rejections planning fails with every reason.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from agentcoord.errors import InvalidInputError
from agentcoord.missions import TaskSpec, parse_mission

log = logging.getLogger(__name__)

_NON_EMPTY_TEXT: Final = {"type": "string", "minLength": 1}

PLAN_SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "AgentCoordinator plan",
    "description": "The tasks that reach a mission's goal, as a DAG (depends_on).",
    "type": "object",
    "required": ["tasks"],
    "additionalProperties": False,
    "properties": {
        "tasks": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "description"],
                "additionalProperties": False,
                "properties": {
                    "id": {
                        "type": "string",
                        "pattern": "^[a-z0-9][a-z0-9_.-]{0,63}$",
                        "description": "Unique within the plan.",
                    },
                    "description": {**_NON_EMPTY_TEXT, "description": "What the agent must do."},
                    "capabilities": {
                        "type": "array",
                        "items": _NON_EMPTY_TEXT,
                        "description": "Skills the task needs, e.g. architecture, code, test, docs, review.",
                    },
                    "depends_on": {
                        "type": "array",
                        "items": _NON_EMPTY_TEXT,
                        "description": "Ids of tasks in this plan that must finish first; no cycles.",
                    },
                    "action": {
                        "type": "object",
                        "additionalProperties": False,
                        "description": "What the task will do, as policy rules see it.",
                        "properties": {
                            "kind": {"type": "string", "description": "e.g. edit, run, deploy; default edit."},
                            "environment": {"type": "string"},
                            "paths": {
                                "type": "array",
                                "items": _NON_EMPTY_TEXT,
                                "description": "Files the task will touch; overlapping tasks are serialised.",
                            },
                            "command": {"type": "string"},
                        },
                    },
                },
            },
        }
    },
}
"""The JSON schema of a plan, documented for planning agents (and given to them verbatim in
`planning_prompt`). Validation itself is `parse_mission`, which enforces these rules and more
(unique ids, known dependencies, no cycle). A bare JSON array of tasks is accepted as well."""

_FENCED_BLOCK = re.compile(r"```[ \t]*(?:json)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_PLAN_KEYS = frozenset(PLAN_SCHEMA["properties"])


class Planner(Protocol):
    """A planning agent: proposes a plan for a goal, as raw text expected to contain JSON."""

    def propose(self, *, goal: str, feedback: str, attempt: int) -> str:
        """Propose a plan for `goal`; `feedback` says why earlier proposals were rejected
        (empty on the first try); `attempt` counts from 1."""
        ...


@dataclass(frozen=True)
class PlanResult:
    """The accepted plan and the reasons every earlier proposal was rejected, in order."""

    tasks: tuple[TaskSpec, ...]
    rejected: tuple[str, ...]

    @property
    def proposals(self) -> int:
        """How many proposals the planner made, the accepted one included."""
        return len(self.rejected) + 1


class PlanningError(InvalidInputError):
    """Every proposal was rejected; `reasons` holds why, one per proposal, in order."""

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons = tuple(reasons)
        listed = "; ".join(f"({i}) {reason}" for i, reason in enumerate(self.reasons, start=1))
        super().__init__(
            f"no valid plan after {len(self.reasons)} proposals: {listed}", source="planning", field="tasks"
        )


def planning_prompt(goal: str, feedback: str) -> str:
    """The prompt a real planning agent gets: the goal, the rules, the schema and any feedback."""
    parts = [
        "You are planning work for a team of AI coding agents.",
        f"Goal: {goal.strip()}",
        (
            "Break the goal into tasks that form a dependency graph: each task names the tasks that must"
            " finish before it (depends_on), ids are unique, dependencies refer only to ids in the plan,"
            " and there are no cycles. List the files each task will touch in action.paths."
        ),
        "Answer with one JSON object matching this JSON schema, in a ```json fenced block, and nothing else:",
        json.dumps(PLAN_SCHEMA, indent=2),
    ]
    if feedback.strip():
        parts.append(f"Your previous proposal was rejected. Fix these problems:\n{feedback.strip()}")
    return "\n\n".join(parts)


def validate_plan(text: str, *, goal: str, source: str = "plan") -> tuple[TaskSpec, ...]:
    """The tasks of a proposal, or InvalidInputError naming the field (or the JSON syntax) at fault."""
    document = {"name": "plan", "goal": goal, "tasks": _task_list(_extract_json(text, source=source), source=source)}
    return parse_mission(document, source=source).tasks


def plan_tasks(goal: str, *, planner: Planner, max_tries: int = 3) -> PlanResult:
    """Ask `planner` for a plan until one is valid, at most `max_tries` times.

    Each retry gets the reasons for every rejection so far as feedback. Raises PlanningError with
    all reasons when no proposal is valid, and InvalidInputError for an empty goal or max_tries < 1
    (without asking the planner). Errors the planner itself raises propagate unchanged.
    """
    if not goal.strip():
        raise InvalidInputError("is required and must be a non-empty string", source="planning", field="goal")
    if max_tries < 1:
        raise InvalidInputError(f"must be at least 1, got {max_tries}", source="planning", field="max_tries")
    rejected: list[str] = []
    for attempt in range(1, max_tries + 1):
        text = planner.propose(goal=goal.strip(), feedback=_feedback(rejected), attempt=attempt)
        try:
            tasks = validate_plan(text, goal=goal, source=f"plan proposal {attempt}")
        except InvalidInputError as error:
            log.info("plan rejected", extra={"attempt": attempt, "reason": str(error)})
            rejected.append(str(error))
            continue
        log.info("plan accepted", extra={"attempt": attempt, "tasks": len(tasks)})
        return PlanResult(tasks=tasks, rejected=tuple(rejected))
    raise PlanningError(rejected)


def _feedback(rejected: Sequence[str]) -> str:
    return "\n".join(f"- {reason}" for reason in rejected)


def _extract_json(text: str, *, source: str) -> dict[str, Any] | list[Any]:
    """The first JSON value in a ```json fenced block if there is one, else in the text itself.

    Prose before the value and anything after it are ignored, as agents like to add both.
    """
    fenced = _FENCED_BLOCK.search(text)  # decoding starts at "{" or "[", so the value is an object or array
    body = fenced.group(1) if fenced else text
    starts = [i for i in (body.find("{"), body.find("[")) if i >= 0]
    if not starts:
        raise InvalidInputError("no JSON object or array found in the planner's answer", source=source)
    try:
        value, _ = json.JSONDecoder().raw_decode(body, min(starts))
    except json.JSONDecodeError as error:
        raise InvalidInputError(
            f"invalid JSON: {error.msg} (line {error.lineno}, column {error.colno})", source=source
        ) from None
    except RecursionError:
        raise InvalidInputError("invalid JSON: nested too deeply", source=source) from None
    return value


def _task_list(plan: dict[str, Any] | list[Any], *, source: str) -> object:
    """The task list of a plan object, or the plan itself when it is a bare list."""
    if isinstance(plan, list):
        return plan
    unknown = sorted(str(key) for key in plan if key not in _PLAN_KEYS)
    if unknown:
        raise InvalidInputError(f"unknown field; allowed: {', '.join(sorted(_PLAN_KEYS))}", source=source, field=unknown[0])
    if "tasks" not in plan:
        raise InvalidInputError("is required: the plan's list of tasks", source=source, field="tasks")
    return plan["tasks"]
