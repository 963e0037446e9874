"""MissionService over gRPC: protobuf in, MissionDesk call, protobuf out."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from agentcoord.missions import parse_mission
from agentcoord.services.mission.convert import (
    event_to_proto,
    mission_state_from_proto,
    mission_state_to_proto,
    mission_to_proto,
    queue_item_to_proto,
    review_to_proto,
    spec_document,
    verdict_from_proto,
)
from agentcoord.services.mission.desk import MissionDesk
from agentcoord.v1 import mission_pb2, mission_pb2_grpc


class MissionServicer(mission_pb2_grpc.MissionServiceServicer):
    """Translates MissionService calls to MissionDesk."""

    def __init__(self, desk: MissionDesk) -> None:
        self._desk = desk

    async def CreateMission(
        self, request: mission_pb2.CreateMissionRequest, context: grpc.aio.ServicerContext
    ) -> mission_pb2.CreateMissionResponse:
        spec = parse_mission(spec_document(request), source="CreateMissionRequest")
        mission, created = await self._desk.create(
            spec, request_id=request.request_id, allow_over_budget=request.allow_over_budget
        )
        return mission_pb2.CreateMissionResponse(mission=mission_to_proto(mission), created=created)

    async def GetMission(
        self, request: mission_pb2.GetMissionRequest, context: grpc.aio.ServicerContext
    ) -> mission_pb2.GetMissionResponse:
        return mission_pb2.GetMissionResponse(mission=mission_to_proto(await self._desk.get(request.mission_id)))

    async def ListMissions(
        self, request: mission_pb2.ListMissionsRequest, context: grpc.aio.ServicerContext
    ) -> mission_pb2.ListMissionsResponse:
        missions, token = await self._desk.list(
            state=mission_state_from_proto(request.state), page_size=request.page_size, page_token=request.page_token
        )
        return mission_pb2.ListMissionsResponse(missions=[mission_to_proto(m) for m in missions], next_page_token=token)

    async def CancelMission(
        self, request: mission_pb2.CancelMissionRequest, context: grpc.aio.ServicerContext
    ) -> mission_pb2.CancelMissionResponse:
        mission = await self._desk.cancel(request.mission_id, reason=request.reason)
        return mission_pb2.CancelMissionResponse(mission=mission_to_proto(mission))

    async def WatchMission(
        self, request: mission_pb2.WatchMissionRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[mission_pb2.WatchMissionResponse]:
        async for seq, event, state in self._desk.watch(request.mission_id, from_seq=request.from_seq):
            yield mission_pb2.WatchMissionResponse(
                event=event_to_proto(event, seq=seq), mission_state=mission_state_to_proto(state)
            )

    async def ReviewTask(
        self, request: mission_pb2.ReviewTaskRequest, context: grpc.aio.ServicerContext
    ) -> mission_pb2.ReviewTaskResponse:
        review, mission, recorded = await self._desk.review(
            request.mission_id, request.task_id, verdict=verdict_from_proto(request.verdict),
            reviewer=request.reviewer, reason=request.reason, review_id=request.review_id,
        )
        return mission_pb2.ReviewTaskResponse(
            review=review_to_proto(review), mission=mission_to_proto(mission), recorded=recorded
        )

    async def ListReviewQueue(
        self, request: mission_pb2.ListReviewQueueRequest, context: grpc.aio.ServicerContext
    ) -> mission_pb2.ListReviewQueueResponse:
        items = await self._desk.review_queue(limit=request.limit)
        return mission_pb2.ListReviewQueueResponse(items=[queue_item_to_proto(i, m) for i, m in items])
