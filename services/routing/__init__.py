"""RoutingService: which agent takes a task, why, and what the others would have cost.

`router` ranks agents (no I/O), `service` stores each decision with its `route.decided` event,
`servicer` speaks gRPC. Mounted by agentcoord.services.host.
"""

from __future__ import annotations

import grpc

from agentcoord.services.context import ServiceContext
from agentcoord.services.routing.router import Router
from agentcoord.services.routing.service import RoutingDesk
from agentcoord.services.routing.servicer import RoutingServicer
from agentcoord.v1 import routing_pb2_grpc

SERVICE_NAMES: tuple[str, ...] = ("agentcoord.v1.RoutingService",)


def add_to_server(server: grpc.aio.Server, context: ServiceContext) -> None:
    """Mount RoutingService, routing over the configured agent registry."""
    desk = RoutingDesk(context.db, Router(context.config.agents))
    routing_pb2_grpc.add_RoutingServiceServicer_to_server(RoutingServicer(desk), server)
