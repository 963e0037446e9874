"""Translation between MissionService protobuf messages and domain types."""

from __future__ import annotations

import json
from typing import Any

from agentcoord.clients import timestamp
from agentcoord.missions import MissionSettings, MissionSpec, TaskSpec
from agentcoord.money import micro_usd_to_usd
from agentcoord.reviews import Review, ReviewVerdict
from agentcoord.states import MissionState, TaskState
from agentcoord.store.events import Event
from agentcoord.store.missions import MissionRecord, TaskRecord
from agentcoord.store.reviews import ReviewQueueItem
from agentcoord.v1 import mission_pb2


def spec_document(request: mission_pb2.CreateMissionRequest) -> dict[str, Any]:
    """The request as the same document a mission file holds, so one validator serves both.

    Unset settings (zero values) are left out so the file defaults apply; no tasks means the
    mission is goal-only and will be planned.
    """
    document: dict[str, Any] = {"name": request.name, "goal": request.goal}
    settings = request.settings
    if settings.max_parallel:
        document["max_parallel"] = settings.max_parallel
    if settings.max_attempts:
        document["max_attempts"] = settings.max_attempts
    if settings.on_failure:
        document["on_failure"] = settings.on_failure
    if settings.review:
        document["review"] = settings.review
    if settings.budget_micro_usd:
        document["budget_usd"] = str(micro_usd_to_usd(settings.budget_micro_usd))
    if request.context:
        document["context"] = list(request.context)
    if request.tasks:
        document["tasks"] = [
            {
                "id": t.id, "description": t.description, "capabilities": list(t.capabilities),
                "depends_on": list(t.depends_on),
                "action": {
                    "kind": t.action.kind or "edit", "environment": t.action.environment,
                    "paths": list(t.action.paths), "command": t.action.command,
                },
            }
            for t in request.tasks
        ]
    return document


def create_request(
    spec: MissionSpec, *, request_id: str, allow_over_budget: bool = False
) -> mission_pb2.CreateMissionRequest:
    """A CreateMissionRequest carrying a validated spec."""
    return mission_pb2.CreateMissionRequest(
        name=spec.name, goal=spec.goal, request_id=request_id, tasks=[task_to_proto(t) for t in spec.tasks],
        settings=settings_to_proto(spec.settings), allow_over_budget=allow_over_budget, context=list(spec.context),
    )


def settings_to_proto(settings: MissionSettings) -> mission_pb2.MissionSettings:
    return mission_pb2.MissionSettings(
        max_parallel=settings.max_parallel, max_attempts=settings.max_attempts, on_failure=settings.on_failure,
        budget_micro_usd=settings.budget_micro_usd or 0, review=settings.review,
    )


def task_to_proto(task: TaskSpec) -> mission_pb2.TaskSpec:
    a = task.action
    return mission_pb2.TaskSpec(
        id=task.id, description=task.description, capabilities=list(task.capabilities),
        depends_on=list(task.depends_on),
        action=mission_pb2.Action(kind=a.kind, environment=a.environment, paths=list(a.paths), command=a.command),
    )


def mission_to_proto(mission: MissionRecord) -> mission_pb2.Mission:
    return mission_pb2.Mission(
        mission_id=mission.mission_id, name=mission.name, goal=mission.goal,
        state=mission_state_to_proto(mission.state), reason=mission.reason,
        tasks=[task_record_to_proto(t) for t in mission.tasks],
        created_at=timestamp(mission.created_at), updated_at=timestamp(mission.updated_at),
        settings=settings_to_proto(mission.settings),
        forecast_p50_micro_usd=mission.forecast_p50_micro_usd or 0,
        forecast_p90_micro_usd=mission.forecast_p90_micro_usd or 0,
    )


def task_record_to_proto(task: TaskRecord) -> mission_pb2.Task:
    return mission_pb2.Task(
        spec=task_to_proto(task.spec), state=task_state_to_proto(task.state), agent=task.agent, reason=task.reason,
        attempts=task.attempts, cost_micro_usd=task.cost_micro_usd,
    )


def event_to_proto(event: Event, *, seq: int) -> mission_pb2.MissionEvent:
    """`seq` is the event's place in its mission's log (see MissionDesk.watch)."""
    return mission_pb2.MissionEvent(
        seq=seq, topic=event.topic, task_id=event.task_id, actor=event.actor,
        payload_json=json.dumps(dict(event.payload), sort_keys=True), created_at=timestamp(event.created_at),
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


def review_to_proto(review: Review) -> mission_pb2.Review:
    return mission_pb2.Review(
        review_id=review.review_id, mission_id=review.mission_id, task_id=review.task_id,
        attempt_id=review.attempt_id, agent=review.agent, verdict=verdict_to_proto(review.verdict),
        reviewer=review.reviewer, reason=review.reason, created_at=timestamp(review.created_at),
    )


def verdict_to_proto(verdict: ReviewVerdict) -> mission_pb2.ReviewVerdict:
    return mission_pb2.ReviewVerdict.Value(f"REVIEW_VERDICT_{verdict.name}")


def verdict_from_proto(value: mission_pb2.ReviewVerdict) -> ReviewVerdict | None:
    if value == mission_pb2.REVIEW_VERDICT_UNSPECIFIED:
        return None
    return ReviewVerdict[mission_pb2.ReviewVerdict.Name(value).removeprefix("REVIEW_VERDICT_")]


def queue_item_to_proto(item: ReviewQueueItem, mission: MissionRecord) -> mission_pb2.ReviewQueueItem:
    return mission_pb2.ReviewQueueItem(
        mission_id=item.mission_id, mission_name=item.mission_name, task=task_record_to_proto(mission.task(item.task_id)), attempt_id=item.attempt_id,
        summary=item.summary, waiting_since=timestamp(item.waiting_since),
    )
