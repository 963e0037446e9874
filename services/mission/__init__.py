"""MissionService: the front door for missions. Needs Ray initialised in the hosting process."""

from __future__ import annotations

import grpc

from agentcoord.actors.supervisor import supervisor_handle
from agentcoord.services.context import ServiceContext
from agentcoord.services.mission.desk import MissionDesk
from agentcoord.services.mission.servicer import MissionServicer
from agentcoord.services.routing.router import Router
from agentcoord.v1 import mission_pb2_grpc

SERVICE_NAMES = ("agentcoord.v1.MissionService",)


def add_to_server(server: grpc.aio.Server, context: ServiceContext) -> None:
    supervisor = supervisor_handle(context.config)

    async def start_mission(mission_id: str) -> None:
        await supervisor.start_mission.remote(mission_id, context.config)

    async def wake_mission(mission_id: str) -> None:
        await supervisor.wake_mission.remote(mission_id)

    desk = MissionDesk(
        context.db, router=Router(context.config.agents), start_mission=start_mission, wake_mission=wake_mission
    )
    mission_pb2_grpc.add_MissionServiceServicer_to_server(MissionServicer(desk), server)
