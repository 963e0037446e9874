"""RoutingService over gRPC: translates protobuf to and from the routing desk's domain types.

No decisions are made here; errors raised by the desk (InvalidInputError, NoEligibleAgentError)
become gRPC statuses in agentcoord.services.errors.
"""

from __future__ import annotations

import grpc

from agentcoord.config import AgentConfig
from agentcoord.errors import NoEligibleAgentError
from agentcoord.routing import RouteDecision, TaskToRoute
from agentcoord.services.routing.service import RoutingDesk
from agentcoord.v1 import routing_pb2, routing_pb2_grpc


class RoutingServicer(routing_pb2_grpc.RoutingServiceServicer):
    """The grpc.aio servicer of agentcoord.v1.RoutingService."""

    def __init__(self, desk: RoutingDesk) -> None:
        self._desk = desk

    async def Route(
        self, request: routing_pb2.RouteRequest, context: grpc.aio.ServicerContext
    ) -> routing_pb2.RouteResponse:
        return _route_response(await self._desk.route(_task(request)))

    async def RouteBatch(
        self, request: routing_pb2.RouteBatchRequest, context: grpc.aio.ServicerContext
    ) -> routing_pb2.RouteBatchResponse:
        outcomes = await self._desk.route_many([_task(r) for r in request.requests])
        return routing_pb2.RouteBatchResponse(
            results=[
                routing_pb2.RouteResult(no_eligible_agent=str(outcome))
                if isinstance(outcome, NoEligibleAgentError)
                else routing_pb2.RouteResult(decision=_route_response(outcome))
                for outcome in outcomes
            ]
        )

    async def ListAgents(
        self, request: routing_pb2.ListAgentsRequest, context: grpc.aio.ServicerContext
    ) -> routing_pb2.ListAgentsResponse:
        return routing_pb2.ListAgentsResponse(agents=[_agent(a) for a in self._desk.agents()])


def _task(request: routing_pb2.RouteRequest) -> TaskToRoute:
    return TaskToRoute(
        capabilities=tuple(request.capabilities),
        mission_id=request.mission_id,
        task_id=request.task_id,
        description=request.description,
        expected_input_tokens=request.expected_input_tokens,
        expected_output_tokens=request.expected_output_tokens,
    )


def _route_response(decision: RouteDecision) -> routing_pb2.RouteResponse:
    return routing_pb2.RouteResponse(
        decision_id=decision.decision_id,
        agent=decision.agent,
        model=decision.model,
        reason=decision.reason,
        candidates=[
            routing_pb2.RouteCandidate(
                agent=c.agent,
                model=c.model,
                estimated_cost_micro_usd=c.estimated_cost_micro_usd,
                eligible=c.eligible,
                reason=c.reason,
            )
            for c in decision.candidates
        ],
    )


def _agent(agent: AgentConfig) -> routing_pb2.Agent:
    return routing_pb2.Agent(
        name=agent.name,
        adapter=agent.adapter,
        model=agent.model,
        capabilities=list(agent.capabilities),
        input_price_micro_usd_per_mtok=agent.input_price_micro_usd_per_mtok,
        output_price_micro_usd_per_mtok=agent.output_price_micro_usd_per_mtok,
        max_concurrency=agent.max_concurrency,
        enabled=agent.enabled,
    )
