"""Translation between MissionService protobuf messages and domain types."""

from __future__ import annotations

from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from agentcoord.missions import MissionSpec, TaskSpec
from agentcoord.states import MissionState, TaskState
from agentcoord.store.missions import MissionRecord
from agentcoord.v1 import mission_pb2


def spec_document(request: mission_pb2.CreateMissionRequest) -> dict[str, Any]:
    """The request as the same document a mission file holds, so one validator serves both."""
    return {
        "name": request.name,
        "goal": request.goal,
        "tasks": [
            {
                "id": t.id,
                "description": t.description,
                "capabilities": list(t.capabilities),
                "depends_on": list(t.depends_on),
                "action": {
                    "kind": t.action.kind or "edit",
                    "environment": t.action.environment,
                    "paths": list(t.action.paths),
                    "command": t.action.command,
                },
            }
            for t in request.tasks
        ],
    }


def create_request(spec: MissionSpec, *, request_id: str) -> mission_pb2.CreateMissionRequest:
    """A CreateMissionRequest carrying a validated spec."""
    return mission_pb2.CreateMissionRequest(
        name=spec.name, goal=spec.goal, request_id=request_id, tasks=[task_to_proto(t) for t in spec.tasks]
    )


def task_to_proto(task: TaskSpec) -> mission_pb2.TaskSpec:
    a = task.action
    return mission_pb2.TaskSpec(
        id=task.id, description=task.description, capabilities=list(task.capabilities),
        depends_on=list(task.depends_on),
        action=mission_pb2.Action(kind=a.kind, environment=a.environment, paths=list(a.paths), command=a.command),
    )


def mission_to_proto(mission: MissionRecord) -> mission_pb2.Mission:
    created, updated = Timestamp(), Timestamp()
    created.FromDatetime(mission.created_at)
    updated.FromDatetime(mission.updated_at)
    return mission_pb2.Mission(
        mission_id=mission.mission_id, name=mission.name, goal=mission.goal,
        state=mission_state_to_proto(mission.state), reason=mission.reason,
        tasks=[
            mission_pb2.Task(
                spec=task_to_proto(t.spec), state=task_state_to_proto(t.state), agent=t.agent, reason=t.reason,
                attempts=t.attempts, cost_micro_usd=t.cost_micro_usd,
            )
            for t in mission.tasks
        ],
        created_at=created, updated_at=updated,
    )


def mission_state_to_proto(state: MissionState) -> mission_pb2.MissionState:
    return mission_pb2.MissionState.Value(f"MISSION_STATE_{state.name}")


def mission_state_from_proto(value: mission_pb2.MissionState) -> MissionState | None:
    if value == mission_pb2.MISSION_STATE_UNSPECIFIED:
        return None
    return MissionState[mission_pb2.MissionState.Name(value).removeprefix("MISSION_STATE_")]


def task_state_to_proto(state: TaskState) -> mission_pb2.TaskState:
    return mission_pb2.TaskState.Value(f"TASK_STATE_{state.name}")


def task_state_from_proto(value: mission_pb2.TaskState) -> TaskState:
    return TaskState[mission_pb2.TaskState.Name(value).removeprefix("TASK_STATE_")]
