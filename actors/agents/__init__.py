"""Agent adapters: one module per agent CLI (and the simulated agent), one registry by name.

Adding an agent means one new module and one line in `ADAPTERS`.
"""

from __future__ import annotations

from collections.abc import Callable

from agentcoord.actors.agents.base import (
    AgentAdapter,
    AgentEvent,
    AgentExecution,
    AgentOutcome,
    AgentResult,
    AgentRun,
    EventKind,
    FailureReason,
    run_agent,
)
from agentcoord.actors.agents.claude import ClaudeAgent
from agentcoord.actors.agents.codex import CodexAgent
from agentcoord.actors.agents.gemini import GeminiAgent
from agentcoord.actors.agents.process import AgentBinaryNotFoundError
from agentcoord.actors.agents.sim import SimulatedAgent
from agentcoord.config import AgentConfig
from agentcoord.errors import InvalidInputError

ADAPTERS: dict[str, Callable[[AgentConfig], AgentAdapter]] = {
    "sim": SimulatedAgent.from_config,
    "claude": ClaudeAgent.from_config,
    "codex": CodexAgent.from_config,
    "gemini": GeminiAgent.from_config,
}


def build_adapter(agent: AgentConfig) -> AgentAdapter:
    """The adapter that runs `agent`; unknown adapter names are a configuration error."""
    factory = ADAPTERS.get(agent.adapter)
    if factory is None:
        raise InvalidInputError(
            f"unknown adapter {agent.adapter!r}; known: {', '.join(sorted(ADAPTERS))}",
            source="agent registry",
            field=f"{agent.name}.adapter",
        )
    return factory(agent)


__all__ = [
    "ADAPTERS", "AgentAdapter", "AgentBinaryNotFoundError", "AgentEvent", "AgentExecution", "AgentOutcome",
    "AgentResult", "AgentRun", "EventKind", "FailureReason", "build_adapter", "run_agent",
]
