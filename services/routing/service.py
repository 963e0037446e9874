"""The routing desk: routes tasks with the review tallies, then stores the decisions with their
events in one statement.

This is the plain object behind RoutingService; the servicer only translates protobuf. A decision
is visible to the rest of the system only together with its `route.decided` event, so the audit
log records every decision by construction. A batch (`route_many`, what Mission hosts send for a
round of tasks) costs one read and one write however many tasks it holds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from agentcoord.config import AgentConfig
from agentcoord.errors import InvalidInputError, NoEligibleAgentError
from agentcoord.reviews import AcceptanceStats
from agentcoord.routing import RouteDecision, TaskToRoute
from agentcoord.services.routing.router import Router
from agentcoord.store import Database
from agentcoord.store.reviews import acceptance_stats
from agentcoord.store.routing import DecisionRecord, record_route_decisions

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

    async def route(self, task: TaskToRoute) -> RouteDecision:
        """Choose an agent for a task and store the decision with its event; return the decision.

        Raises NoEligibleAgentError (nothing stored) when no enabled agent covers the task.
        """
        [outcome] = await self.route_many([task], field_prefix="")
        if isinstance(outcome, NoEligibleAgentError):
            raise outcome
        return outcome

    async def route_many(
        self, tasks: Sequence[TaskToRoute], *, field_prefix: str = "requests"
    ) -> list[RouteDecision | NoEligibleAgentError]:
        """Route tasks together: one read of the review tallies, one statement storing every decision.

        Each task gets its decision, or the NoEligibleAgentError saying why no agent can take it
        (nothing is stored for that task). An invalid task (a blank capability, negative tokens)
        raises InvalidInputError naming `{field_prefix}[i].field`, and nothing is stored at all.
        """
        # Two statements, no transaction: the tallies are read, then the decisions and their
        # events are written together. A verdict landing in between counts from the next batch on.
        async with self._db.connection() as conn:
            acceptance = await acceptance_stats(conn)
            outcomes = [self._decide(task, acceptance, index, field_prefix) for index, task in enumerate(tasks)]
            records = [
                DecisionRecord(outcome, task.mission_id, task.task_id, {**outcome.to_json(), "description": task.description})
                for task, outcome in zip(tasks, outcomes, strict=True) if isinstance(outcome, RouteDecision)
            ]
            await record_route_decisions(conn, records, topic=ROUTE_DECIDED_TOPIC, actor=ROUTING_ACTOR)
        for record in records:
            log.info(
                "routed task to %s", record.decision.agent,
                extra={"mission_id": record.mission_id, "task_id": record.task_id,
                       "decision_id": record.decision.decision_id},
            )
        return outcomes

    def _decide(
        self, task: TaskToRoute, acceptance: AcceptanceStats, index: int, field_prefix: str
    ) -> RouteDecision | NoEligibleAgentError:
        try:
            return self._router.route(
                task.capabilities, expected_input_tokens=task.expected_input_tokens,
                expected_output_tokens=task.expected_output_tokens, acceptance=acceptance,
            )
        except NoEligibleAgentError as exc:
            return exc
        except InvalidInputError as exc:
            if not field_prefix:
                raise
            raise InvalidInputError(exc.problem, field=f"{field_prefix}[{index}].{exc.field}") from exc
