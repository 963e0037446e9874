"""MissionService over real gRPC: validation, idempotency, pagination, not found."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from agentcoord.v1 import mission_pb2, mission_pb2_grpc


@pytest.fixture
def stub(stack: Any) -> Any:
    channel = grpc.insecure_channel(stack.address)
    yield mission_pb2_grpc.MissionServiceStub(channel)
    channel.close()


def _request(request_id: str = "", **overrides: Any) -> mission_pb2.CreateMissionRequest:
    fields: dict[str, Any] = {
        "name": "svc", "goal": "exercise the service", "request_id": request_id,
        "tasks": [mission_pb2.TaskSpec(id="only", description="do it", capabilities=["code"])],
    }
    fields.update(overrides)
    return mission_pb2.CreateMissionRequest(**fields)


def test_invalid_missions_are_invalid_argument_with_the_field(stub: Any) -> None:
    cyclic = [
        mission_pb2.TaskSpec(id="a", description="d", depends_on=["b"]),
        mission_pb2.TaskSpec(id="b", description="d", depends_on=["a"]),
    ]
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreateMission(_request(tasks=cyclic), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "dependency cycle" in caught.value.details()
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreateMission(_request(goal=""), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "goal" in caught.value.details()


def test_create_is_idempotent_by_request_id(stub: Any) -> None:
    first = stub.CreateMission(_request("svc-idem"), timeout=10)
    again = stub.CreateMission(_request("svc-idem"), timeout=10)
    assert first.created and not again.created
    assert again.mission.mission_id == first.mission.mission_id


def test_list_pages_without_repeats_and_filters_by_state(stub: Any) -> None:
    ids = {stub.CreateMission(_request(f"svc-page-{i}"), timeout=10).mission.mission_id for i in range(3)}
    seen: list[str] = []
    token = ""
    while True:
        page = stub.ListMissions(mission_pb2.ListMissionsRequest(page_size=2, page_token=token), timeout=10)
        seen += [m.mission_id for m in page.missions]
        token = page.next_page_token
        if not token:
            break
    assert ids <= set(seen) and len(seen) == len(set(seen))
    failed = stub.ListMissions(
        mission_pb2.ListMissionsRequest(state=mission_pb2.MISSION_STATE_CANCELLED, page_size=200), timeout=10
    )
    assert all(m.state == mission_pb2.MISSION_STATE_CANCELLED for m in failed.missions)
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListMissions(mission_pb2.ListMissionsRequest(page_token="garbage!"), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "page_token" in caught.value.details()


def test_unknown_mission_is_not_found(stub: Any) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetMission(mission_pb2.GetMissionRequest(mission_id="no-such-mission"), timeout=10)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
