"""The routing desk: routes a task with the review tallies, then stores the decision and its event
in one statement.

This is the plain object behind RoutingService; the servicer only translates protobuf. A decision
is visible to the rest of the system only together with its `route.decided` event, so the audit
log records every decision by construction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from agentcoord.config import AgentConfig
from agentcoord.routing import RouteDecision
from agentcoord.services.routing.router import Router
from agentcoord.store import Database
from agentcoord.store.reviews import acceptance_stats
from agentcoord.store.routing import record_route_decision

log = logging.getLogger(__name__)

ROUTE_DECIDED_TOPIC = "route.decided"
ROUTING_ACTOR = "routing"


class RoutingDesk:
    """Routes tasks with a Router and records each decision."""

    def __init__(self, db: Database, router: Router) -> None:
        self._db = db
        self._router = router

    def agents(self) -> tuple[AgentConfig, ...]:
        """The agent registry, in registry order."""
        return self._router.agents

    async def route(
        self,
        capabilities: Sequence[str],
        *,
        mission_id: str = "",
        task_id: str = "",
        description: str = "",
        expected_input_tokens: int = 0,
        expected_output_tokens: int = 0,
    ) -> RouteDecision:
        """Choose an agent for a task and store the decision with its event; return the decision."""
        # Two statements, no transaction: the tallies are read, then the decision and its event
        # are written together. A verdict landing in between counts from the next decision on.
        async with self._db.connection() as conn:
            decision = self._router.route(
                capabilities,
                expected_input_tokens=expected_input_tokens,
                expected_output_tokens=expected_output_tokens,
                acceptance=await acceptance_stats(conn),
            )
            await record_route_decision(
                conn,
                decision,
                mission_id=mission_id,
                task_id=task_id,
                topic=ROUTE_DECIDED_TOPIC,
                actor=ROUTING_ACTOR,
                payload={**decision.to_json(), "description": description},
            )
        log.info(
            "routed task to %s",
            decision.agent,
            extra={
                "mission_id": mission_id,
                "task_id": task_id,
                "decision_id": decision.decision_id,
            },
        )
        return decision
