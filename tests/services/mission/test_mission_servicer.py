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


def test_a_mission_over_its_budget_is_refused_unless_allowed(stub: Any) -> None:
    tiny = mission_pb2.MissionSettings(budget_micro_usd=1)
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreateMission(_request(settings=tiny), timeout=10)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "exceeds the budget $0.0000" in caught.value.details()
    allowed = stub.CreateMission(_request(settings=tiny, allow_over_budget=True), timeout=10).mission
    assert allowed.forecast_p90_micro_usd >= allowed.forecast_p50_micro_usd > 0
    assert allowed.settings.budget_micro_usd == 1


def test_settings_travel_with_the_mission(stub: Any) -> None:
    settings = mission_pb2.MissionSettings(max_parallel=2, max_attempts=5, on_failure="fail_fast")
    mission = stub.CreateMission(_request(settings=settings), timeout=10).mission
    assert (mission.settings.max_parallel, mission.settings.max_attempts, mission.settings.on_failure) == (2, 5, "fail_fast")
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreateMission(_request(settings=mission_pb2.MissionSettings(on_failure="panic")), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "on_failure" in caught.value.details()
