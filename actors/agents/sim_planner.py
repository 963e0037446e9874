"""The simulated planning agent: deterministic, seeded plans for demos, tests and benchmarks.

From a goal it derives a plausible DAG: design, then one or two implementation tasks, then tests
and docs in parallel, then a review, with capabilities the default registry's agents cover and
file paths named after the goal's words (distinct per task, so parallel tasks do not conflict).
The same (seed, goal) always gives the same plan. `invalid_proposals` makes the first N
proposals invalid, each in a different way (see INVALID_KINDS), so planning retries are exercised.
It answers in a ```json fenced block behind a line of prose, as chat-style agents do. Like the
simulated agent, it never stands in for a real planner silently: every description says
"[simulated]".
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from typing import Any, Final

from agentcoord.actors.agents.sim import SimSettings
from agentcoord.config import AgentConfig
from agentcoord.errors import InvalidInputError

INVALID_KINDS: Final = ("malformed_json", "cycle", "unknown_dependency", "invalid_id")
"""How invalid proposal number k (from 1) is broken: INVALID_KINDS[(k - 1) % 4]."""

_PLANNER_SETTINGS: Final = frozenset({"invalid_proposals"})
_STOPWORDS: Final = frozenset(
    {
        "a", "add", "an", "and", "as", "at", "be", "build", "by", "create", "for", "from", "implement", "in",
        "into", "is", "it", "make", "new", "of", "on", "or", "our", "so", "that", "the", "this", "to", "we", "with",
    }
)
_COMPONENTS: Final = ("core", "api", "storage", "cli", "worker", "client")


class SimulatedPlanner:
    """A `agentcoord.planning.Planner` that invents a plan from the goal's words."""

    def __init__(self, *, seed: int = 7, invalid_proposals: int = 0) -> None:
        if invalid_proposals < 0:
            raise InvalidInputError(f"must not be negative, got {invalid_proposals}", field="invalid_proposals")
        self._seed = seed
        self._invalid_proposals = invalid_proposals

    @classmethod
    def from_config(cls, agent: AgentConfig) -> SimulatedPlanner:
        """A planner from a registry entry: `seed` as for the simulated agent, plus `invalid_proposals`.

        A simulated agent's other settings are accepted (and checked), so one registry entry can
        both plan and run tasks; anything else is rejected, naming the setting.
        """
        settings = agent.settings
        allowed = _PLANNER_SETTINGS | {f.name for f in dataclasses.fields(SimSettings)}
        unknown = sorted(set(settings) - allowed)
        if unknown:
            raise InvalidInputError(
                f"unknown setting; allowed: {', '.join(sorted(allowed))}",
                source="agent registry",
                field=f"{agent.name}.settings.{unknown[0]}",
            )
        invalid = settings.get("invalid_proposals", 0)
        if isinstance(invalid, bool) or not isinstance(invalid, int) or invalid < 0:
            raise InvalidInputError(
                "expected an integer >= 0", source="agent registry", field=f"{agent.name}.settings.invalid_proposals"
            )
        sim = SimSettings.parse({k: v for k, v in settings.items() if k not in _PLANNER_SETTINGS}, agent=agent.name)
        return cls(seed=sim.seed, invalid_proposals=invalid)

    def propose(self, *, goal: str, feedback: str, attempt: int) -> str:
        """A plan for `goal` in a fenced JSON block; broken on purpose for the first N attempts.

        `feedback` is ignored: the simulated planner's mistakes are scripted, not learned from.
        """
        tasks = plan_for_goal(goal, seed=self._seed)
        if attempt <= self._invalid_proposals:
            kind = INVALID_KINDS[(attempt - 1) % len(INVALID_KINDS)]
            text = _broken(tasks, kind)
        else:
            text = json.dumps({"tasks": tasks}, indent=2)
        return f"[simulated planner] Here is the plan:\n```json\n{text}\n```\n"


def plan_for_goal(goal: str, *, seed: int) -> list[dict[str, Any]]:
    """The valid plan (as the JSON task list) the simulated planner proposes for `goal`."""
    words = _significant_words(goal)
    subject = "_".join(words[:3]) or "change"
    rng = random.Random(f"{seed}:{goal}")
    components = rng.sample(_COMPONENTS, k=rng.choice((1, 2)))
    brief = goal.strip()

    def task(task_id: str, description: str, capability: str, depends_on: list[str], paths: list[str]) -> dict[str, Any]:
        planned: dict[str, Any] = {
            "id": task_id,
            "description": f"[simulated] {description}: {brief}",
            "capabilities": [capability],
            "depends_on": depends_on,
        }
        if paths:
            planned["action"] = {"kind": "edit", "paths": paths}
        return planned

    implement_ids = [f"implement-{c}" for c in components]
    return [
        task("design", "Design the approach", "architecture", [], [f"docs/design/{subject}.md"]),
        *(
            task(tid, f"Implement the {c} part", "code", ["design"], [f"src/{subject}/{c}.py"])
            for tid, c in zip(implement_ids, components, strict=True)
        ),
        task("test", "Write and run tests", "test", implement_ids, [f"tests/test_{subject}.py"]),
        task("docs", "Document the change", "docs", implement_ids, [f"docs/{subject}.md"]),
        task("review", "Review the whole change", "review", ["test", "docs"], []),
    ]


def _significant_words(goal: str) -> list[str]:
    words = re.findall(r"[a-z0-9]+", goal.lower())
    return [w for w in words if w not in _STOPWORDS][:8]


def _broken(tasks: list[dict[str, Any]], kind: str) -> str:
    """The plan, broken in the way `kind` names."""
    if kind == "malformed_json":
        text = json.dumps({"tasks": tasks}, indent=2)
        return text[: len(text) // 2]  # cut off mid-answer, as a truncated reply would be
    broken = [dict(t) for t in tasks]
    if kind == "cycle":
        broken[0]["depends_on"] = ["review"]  # design waits for the review that waits for it
    elif kind == "unknown_dependency":
        broken[-1]["depends_on"] = [*broken[-1]["depends_on"], "integration-test"]
    else:
        broken[0]["id"] = "Design Phase"
    return json.dumps({"tasks": broken}, indent=2)
