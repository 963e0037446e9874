"""Route decisions: which agent takes a task, what the others would have cost, and why.

The router (agentcoord.services.routing.router) makes them, the store keeps them
(agentcoord.store.routing) and the event bus carries them; this module holds only the types, so
each of those depends on the kernel rather than on one another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TaskToRoute:
    """What a route decision is made for: the task's capabilities, where it belongs, and the tokens
    it is expected to use (0: the router's default)."""

    capabilities: tuple[str, ...]
    mission_id: str = ""
    task_id: str = ""
    description: str = ""
    expected_input_tokens: int = 0
    expected_output_tokens: int = 0


@dataclass(frozen=True)
class RouteCandidate:
    """One agent considered for a task: what it would have cost and why it is (not) eligible."""

    agent: str
    model: str
    estimated_cost_micro_usd: int
    eligible: bool
    reason: str

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored in route_decisions.candidates and in `route.decided` events."""
        return {
            "agent": self.agent,
            "model": self.model,
            "estimated_cost_micro_usd": self.estimated_cost_micro_usd,
            "eligible": self.eligible,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RouteCandidate:
        """The inverse of `to_json`."""
        return cls(
            agent=str(data["agent"]),
            model=str(data["model"]),
            estimated_cost_micro_usd=int(data["estimated_cost_micro_usd"]),
            eligible=bool(data["eligible"]),
            reason=str(data["reason"]),
        )


@dataclass(frozen=True)
class RouteDecision:
    """The chosen agent and model, the reason, and every candidate: eligible cheapest first.

    `capabilities` (sorted, unique) and the expected token counts are what the decision was made
    for; every candidate's estimate prices those tokens.
    """

    decision_id: str
    agent: str
    model: str
    reason: str
    capabilities: tuple[str, ...]
    expected_input_tokens: int
    expected_output_tokens: int
    candidates: tuple[RouteCandidate, ...]

    @property
    def estimated_cost_micro_usd(self) -> int:
        """What the chosen agent is expected to cost."""
        return next(c.estimated_cost_micro_usd for c in self.candidates if c.agent == self.agent)

    def to_json(self) -> dict[str, Any]:
        """The decision as a JSON object, as carried by `route.decided` events."""
        return {
            "decision_id": self.decision_id,
            "agent": self.agent,
            "model": self.model,
            "reason": self.reason,
            "capabilities": list(self.capabilities),
            "expected_input_tokens": self.expected_input_tokens,
            "expected_output_tokens": self.expected_output_tokens,
            "candidates": [c.to_json() for c in self.candidates],
        }
