"""AgentCoordinator: a control plane for AI coding agents.

This package is the shared kernel (config, domain types, store, generated stubs, CLI);
`agentcoord.actors`, `agentcoord.services` and `agentcoord.dashboard` sit beside it.
"""

from agentcoord.errors import AgentCoordError

__all__ = ["AgentCoordError"]
__version__ = "0.1.0"
