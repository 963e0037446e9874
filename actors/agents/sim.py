"""The simulated agent: deterministic, seeded, for demos, tests and benchmarks.

The same (seed, mission, task, attempt) always yields the same tokens, cost, events and outcome,
so a demo or a test is reproducible. It is registered like any other adapter and named as
simulated everywhere it appears; it never stands in for a real agent silently.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentcoord.actors.agents.base import (
    AgentEvent,
    AgentOutcome,
    AgentResult,
    AgentRun,
    EventKind,
    FailureReason,
)
from agentcoord.config import AgentConfig
from agentcoord.errors import InvalidInputError


@dataclass(frozen=True)
class SimSettings:
    """Knobs of a simulated agent (the `settings` mapping of its registry entry).

    `failure_rates` overrides `failure_rate` per capability: a task fails with the highest rate
    among its capabilities. `rejection_rates` (per capability, the highest one applies) switch
    on the simulated reviewer: every successful result then comes with its verdict, rejected
    with that probability, and is reviewed at once; without them results need no review.
    """

    seed: int = 7
    latency_ms: int = 100
    failure_rate: float = 0.0
    mean_output_tokens: int = 1500
    failure_rates: Mapping[str, float] = field(default_factory=dict)
    rejection_rates: Mapping[str, float] | None = None

    @classmethod
    def parse(cls, settings: Mapping[str, Any], *, agent: str) -> SimSettings:
        allowed = {"seed", "latency_ms", "failure_rate", "mean_output_tokens", "failure_rates", "rejection_rates"}
        unknown = sorted(set(settings) - allowed)
        if unknown:
            raise InvalidInputError(
                f"unknown setting; allowed: {', '.join(sorted(allowed))}", source="agent registry",
                field=f"{agent}.settings.{unknown[0]}",
            )
        failure_rates = _rates(settings.get("failure_rates", {}), field=f"{agent}.settings.failure_rates")
        rejection_rates = settings.get("rejection_rates")
        if rejection_rates is not None:
            rejection_rates = _rates(rejection_rates, field=f"{agent}.settings.rejection_rates")
        parsed = cls(**{**settings, "failure_rates": failure_rates, "rejection_rates": rejection_rates})
        if parsed.latency_ms < 0 or parsed.mean_output_tokens < 1 or not 0.0 <= parsed.failure_rate <= 1.0:
            raise InvalidInputError(
                "latency_ms >= 0, mean_output_tokens >= 1 and 0 <= failure_rate <= 1 are required",
                source="agent registry", field=f"{agent}.settings",
            )
        return parsed

    def failure_rate_for(self, capabilities: tuple[str, ...]) -> float:
        return max([self.failure_rate, *(self.failure_rates.get(c, 0.0) for c in capabilities)])

    def rejection_rate_for(self, capabilities: tuple[str, ...]) -> float | None:
        """The chance a result is rejected; None when this agent's results get no simulated review."""
        if self.rejection_rates is None:
            return None
        return max([0.0, *(self.rejection_rates.get(c, 0.0) for c in capabilities)])


def _rates(raw: object, *, field: str) -> dict[str, float]:
    if not isinstance(raw, Mapping) or not all(
        isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool) and 0.0 <= v <= 1.0
        for k, v in raw.items()
    ):
        raise InvalidInputError(
            "expected a mapping of capability to a rate between 0 and 1", source="agent registry", field=field
        )
    return {k: float(v) for k, v in raw.items()}


class SimulatedAgent:
    """An adapter that pretends to do the task: waits, spends tokens, succeeds or fails by seed."""

    def __init__(self, agent: AgentConfig, settings: SimSettings) -> None:
        self._agent = agent
        self._settings = settings

    @classmethod
    def from_config(cls, agent: AgentConfig) -> SimulatedAgent:
        return cls(agent, SimSettings.parse(agent.settings, agent=agent.name))

    @property
    def repository(self) -> Path | None:
        """The simulated agent touches no files, so it needs no checkout."""
        return None

    def start(self, run: AgentRun, *, workdir: Path | None) -> _SimulatedExecution:
        return _SimulatedExecution(self._agent, self._settings, run)


class _SimulatedExecution:
    """Waits the simulated latency (cancellable), then reports the seeded outcome."""

    def __init__(self, agent: AgentConfig, settings: SimSettings, run: AgentRun) -> None:
        self._agent = agent
        self._settings = settings
        self._run = run
        self._cancelled = threading.Event()
        self._result: AgentResult | None = None

    def cancel(self) -> None:
        self._cancelled.set()

    def events(self) -> Iterator[AgentEvent]:
        if self._result is not None:
            return
        s, run = self._settings, self._run
        key = f"{s.seed}:{self._agent.name}:{run.mission_id}:{run.task_id}:{run.attempt_number}"
        rng = random.Random(key)
        started = time.monotonic()
        session_id = run.resume_session_id or f"sim-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
        yield AgentEvent(EventKind.SESSION, {"session_id": session_id, "simulated": True})
        delay_s = s.latency_ms / 1000 * rng.uniform(0.8, 1.2)
        if self._cancelled.wait(delay_s):  # the simulated work itself, cut short by cancel()
            self._result = self._finish(started, session_id, rng, cancelled=True)
            return
        self._result = self._finish(started, session_id, rng, cancelled=False)
        if self._result.outcome is AgentOutcome.SUCCEEDED:
            yield AgentEvent(EventKind.FILE_CHANGE, {"changes": [{"path": self._result.files_changed[0], "kind": "add"}]})
        yield AgentEvent(EventKind.MESSAGE, {"text": self._result.summary})

    def result(self) -> AgentResult:
        for _ in self.events():
            pass
        assert self._result is not None
        return self._result

    def _finish(self, started: float, session_id: str, rng: random.Random, *, cancelled: bool) -> AgentResult:
        s, run = self._settings, self._run
        input_tokens = 1500 + 4 * len(run.description) + rng.randint(0, 2500)
        output_tokens = max(1, int(rng.gauss(s.mean_output_tokens, s.mean_output_tokens * 0.2)))
        cache_read_tokens = rng.randint(0, input_tokens // 2)
        failed = rng.random() < s.failure_rate_for(run.capabilities)
        rejection_rate = s.rejection_rate_for(run.capabilities)
        rejected = rng.random() < (rejection_rate or 0.0)
        if cancelled:
            failure, error = FailureReason.CANCELLED, "simulated run cancelled"
        elif failed:
            failure, error = FailureReason.AGENT_ERROR, "simulated failure"
        else:
            failure, error = None, ""
        return AgentResult(
            outcome=AgentOutcome.FAILED if failure else AgentOutcome.SUCCEEDED,
            summary=f"[simulated {self._agent.name}] {'gave up on' if failure else 'completed'}: {run.description}",
            files_changed=() if failure else (f"src/{run.task_id}.py",),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cache_read_tokens,
            cache_write_tokens=0,
            cost_micro_usd=self._agent.cost_micro_usd(input_tokens=input_tokens, output_tokens=output_tokens),
            duration_ms=int((time.monotonic() - started) * 1000),
            error=error,
            failure=failure,
            session_id=session_id,
            num_turns=1,
            simulated_verdict="" if failure or rejection_rate is None else ("rejected" if rejected else "accepted"),
        )
