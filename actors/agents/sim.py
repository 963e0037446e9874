"""The simulated agent: deterministic, seeded, for demos, tests and benchmarks.

The same (seed, mission, task, attempt) always yields the same tokens, cost and outcome, so a
demo or a test is reproducible. It is registered like any other adapter and named as simulated
everywhere it appears; it never stands in for a real agent silently.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentcoord.actors.agents.base import AgentOutcome, AgentResult, AgentRun
from agentcoord.config import AgentConfig
from agentcoord.errors import InvalidInputError


@dataclass(frozen=True)
class SimSettings:
    """Knobs of a simulated agent (the `settings` mapping of its registry entry)."""

    seed: int = 7
    latency_ms: int = 100
    failure_rate: float = 0.0
    mean_output_tokens: int = 1500

    @classmethod
    def parse(cls, settings: Mapping[str, Any], *, agent: str) -> SimSettings:
        allowed = {"seed", "latency_ms", "failure_rate", "mean_output_tokens"}
        unknown = sorted(set(settings) - allowed)
        if unknown:
            raise InvalidInputError(
                f"unknown setting; allowed: {', '.join(sorted(allowed))}", source="agent registry",
                field=f"{agent}.settings.{unknown[0]}",
            )
        parsed = cls(**settings)
        if parsed.latency_ms < 0 or parsed.mean_output_tokens < 1 or not 0.0 <= parsed.failure_rate <= 1.0:
            raise InvalidInputError(
                "latency_ms >= 0, mean_output_tokens >= 1 and 0 <= failure_rate <= 1 are required",
                source="agent registry", field=f"{agent}.settings",
            )
        return parsed


class SimulatedAgent:
    """An adapter that pretends to do the task: waits, spends tokens, succeeds or fails by seed."""

    def __init__(self, agent: AgentConfig, settings: SimSettings) -> None:
        self._agent = agent
        self._settings = settings

    @classmethod
    def from_config(cls, agent: AgentConfig) -> SimulatedAgent:
        return cls(agent, SimSettings.parse(agent.settings, agent=agent.name))

    def run(self, run: AgentRun) -> AgentResult:
        s = self._settings
        rng = random.Random(f"{s.seed}:{self._agent.name}:{run.mission_id}:{run.task_id}:{run.attempt_number}")
        started = time.monotonic()
        if s.latency_ms:
            time.sleep(s.latency_ms / 1000 * rng.uniform(0.8, 1.2))  # the simulated work itself
        input_tokens = 1500 + 4 * len(run.description) + rng.randint(0, 2500)
        output_tokens = max(1, int(rng.gauss(s.mean_output_tokens, s.mean_output_tokens * 0.2)))
        cache_read_tokens = rng.randint(0, input_tokens // 2)
        failed = rng.random() < s.failure_rate
        cost = self._agent.cost_micro_usd(input_tokens=input_tokens, output_tokens=output_tokens)
        return AgentResult(
            outcome=AgentOutcome.FAILED if failed else AgentOutcome.SUCCEEDED,
            summary=f"[simulated {self._agent.name}] {'gave up on' if failed else 'completed'}: {run.description}",
            files_changed=() if failed else (f"src/{run.task_id}.py",),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cache_read_tokens,
            cache_write_tokens=0,
            cost_micro_usd=cost,
            duration_ms=int((time.monotonic() - started) * 1000),
            error="simulated failure" if failed else "",
        )
