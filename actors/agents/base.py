"""The adapter contract: what every agent runner takes and returns."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class AgentOutcome(enum.Enum):
    """How an agent run ended."""

    SUCCEEDED = "succeeded"
    """The agent reported success."""
    FAILED = "failed"
    """The agent ran and reported (or exhibited) failure; `error` says what."""


@dataclass(frozen=True)
class AgentRun:
    """Everything an adapter needs to run one attempt of one task."""

    attempt_id: str
    mission_id: str
    task_id: str
    attempt_number: int
    goal: str
    description: str
    capabilities: tuple[str, ...]


@dataclass(frozen=True)
class AgentResult:
    """What one attempt produced and consumed. cost_micro_usd is None when the agent reports no cost."""

    outcome: AgentOutcome
    summary: str
    files_changed: tuple[str, ...]
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_micro_usd: int | None
    duration_ms: int
    error: str = ""


class AgentAdapter(Protocol):
    """Runs one agent attempt to completion."""

    def run(self, run: AgentRun) -> AgentResult:
        """Run the agent for `run` and return its result; raise only for infrastructure faults."""
        ...
