"""The error hierarchy: one root, families with structured fields.

Library errors (psycopg, Ray, grpc) are translated into these at the boundary and chained,
so callers handle one family and the CLI and gRPC layers map them in one place each.
"""

from __future__ import annotations


class AgentCoordError(Exception):
    """Root of every error AgentCoordinator raises on purpose."""

    retryable: bool = False


class InvalidInputError(AgentCoordError):
    """Input was rejected; `source` and `field` say where, the message says what is wrong."""

    def __init__(self, message: str, *, source: str = "", field: str = "") -> None:
        self.source = source
        self.field = field
        where = ": ".join(part for part in (source, field) if part)
        super().__init__(f"{where}: {message}" if where else message)
        self.problem = message


class NotFoundError(AgentCoordError):
    """A named thing (mission, task, agent, entry) does not exist."""


class ConflictError(AgentCoordError):
    """The request contradicts current state (e.g. an illegal state transition)."""


class IllegalTransitionError(ConflictError):
    """A lifecycle state was asked to move somewhere its state machine forbids."""

    def __init__(self, kind: str, current: str, target: str) -> None:
        self.current = current
        self.target = target
        super().__init__(f"{kind} cannot move from {current} to {target}")


class NoEligibleAgentError(AgentCoordError):
    """No enabled agent has every capability a task needs."""


class StoreError(AgentCoordError):
    """The database could not be reached or refused an operation."""

    retryable = True


class ServiceUnavailableError(AgentCoordError):
    """A gRPC service we depend on could not be reached."""

    retryable = True
