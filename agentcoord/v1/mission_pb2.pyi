import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReviewVerdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVIEW_VERDICT_UNSPECIFIED: _ClassVar[ReviewVerdict]
    REVIEW_VERDICT_ACCEPTED: _ClassVar[ReviewVerdict]
    REVIEW_VERDICT_REJECTED: _ClassVar[ReviewVerdict]

class MissionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MISSION_STATE_UNSPECIFIED: _ClassVar[MissionState]
    MISSION_STATE_CREATED: _ClassVar[MissionState]
    MISSION_STATE_PLANNING: _ClassVar[MissionState]
    MISSION_STATE_RUNNING: _ClassVar[MissionState]
    MISSION_STATE_AWAITING_REVIEW: _ClassVar[MissionState]
    MISSION_STATE_COMPLETED: _ClassVar[MissionState]
    MISSION_STATE_FAILED: _ClassVar[MissionState]
    MISSION_STATE_CANCELLED: _ClassVar[MissionState]

class TaskState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_STATE_UNSPECIFIED: _ClassVar[TaskState]
    TASK_STATE_PENDING: _ClassVar[TaskState]
    TASK_STATE_ROUTED: _ClassVar[TaskState]
    TASK_STATE_RUNNING: _ClassVar[TaskState]
    TASK_STATE_SUCCEEDED: _ClassVar[TaskState]
    TASK_STATE_FAILED: _ClassVar[TaskState]
    TASK_STATE_BLOCKED_BY_POLICY: _ClassVar[TaskState]
    TASK_STATE_AWAITING_REVIEW: _ClassVar[TaskState]
    TASK_STATE_ACCEPTED: _ClassVar[TaskState]
    TASK_STATE_REJECTED: _ClassVar[TaskState]
REVIEW_VERDICT_UNSPECIFIED: ReviewVerdict
REVIEW_VERDICT_ACCEPTED: ReviewVerdict
REVIEW_VERDICT_REJECTED: ReviewVerdict
MISSION_STATE_UNSPECIFIED: MissionState
MISSION_STATE_CREATED: MissionState
MISSION_STATE_PLANNING: MissionState
MISSION_STATE_RUNNING: MissionState
MISSION_STATE_AWAITING_REVIEW: MissionState
MISSION_STATE_COMPLETED: MissionState
MISSION_STATE_FAILED: MissionState
MISSION_STATE_CANCELLED: MissionState
TASK_STATE_UNSPECIFIED: TaskState
TASK_STATE_PENDING: TaskState
TASK_STATE_ROUTED: TaskState
TASK_STATE_RUNNING: TaskState
TASK_STATE_SUCCEEDED: TaskState
TASK_STATE_FAILED: TaskState
TASK_STATE_BLOCKED_BY_POLICY: TaskState
TASK_STATE_AWAITING_REVIEW: TaskState
TASK_STATE_ACCEPTED: TaskState
TASK_STATE_REJECTED: TaskState

class Action(_message.Message):
    __slots__ = ("kind", "environment", "paths", "command")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    PATHS_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    kind: str
    environment: str
    paths: _containers.RepeatedScalarFieldContainer[str]
    command: str
    def __init__(self, kind: _Optional[str] = ..., environment: _Optional[str] = ..., paths: _Optional[_Iterable[str]] = ..., command: _Optional[str] = ...) -> None: ...

class TaskSpec(_message.Message):
    __slots__ = ("id", "description", "capabilities", "depends_on", "action")
    ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    DEPENDS_ON_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    description: str
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    depends_on: _containers.RepeatedScalarFieldContainer[str]
    action: Action
    def __init__(self, id: _Optional[str] = ..., description: _Optional[str] = ..., capabilities: _Optional[_Iterable[str]] = ..., depends_on: _Optional[_Iterable[str]] = ..., action: _Optional[_Union[Action, _Mapping]] = ...) -> None: ...

class Task(_message.Message):
    __slots__ = ("spec", "state", "agent", "reason", "attempts", "cost_micro_usd")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    COST_MICRO_USD_FIELD_NUMBER: _ClassVar[int]
    spec: TaskSpec
    state: TaskState
    agent: str
    reason: str
    attempts: int
    cost_micro_usd: int
    def __init__(self, spec: _Optional[_Union[TaskSpec, _Mapping]] = ..., state: _Optional[_Union[TaskState, str]] = ..., agent: _Optional[str] = ..., reason: _Optional[str] = ..., attempts: _Optional[int] = ..., cost_micro_usd: _Optional[int] = ...) -> None: ...

class Mission(_message.Message):
    __slots__ = ("mission_id", "name", "goal", "state", "reason", "tasks", "created_at", "updated_at", "settings", "forecast_p50_micro_usd", "forecast_p90_micro_usd")
    MISSION_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    GOAL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    FORECAST_P50_MICRO_USD_FIELD_NUMBER: _ClassVar[int]
    FORECAST_P90_MICRO_USD_FIELD_NUMBER: _ClassVar[int]
    mission_id: str
    name: str
    goal: str
    state: MissionState
    reason: str
    tasks: _containers.RepeatedCompositeFieldContainer[Task]
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    settings: MissionSettings
    forecast_p50_micro_usd: int
    forecast_p90_micro_usd: int
    def __init__(self, mission_id: _Optional[str] = ..., name: _Optional[str] = ..., goal: _Optional[str] = ..., state: _Optional[_Union[MissionState, str]] = ..., reason: _Optional[str] = ..., tasks: _Optional[_Iterable[_Union[Task, _Mapping]]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., settings: _Optional[_Union[MissionSettings, _Mapping]] = ..., forecast_p50_micro_usd: _Optional[int] = ..., forecast_p90_micro_usd: _Optional[int] = ...) -> None: ...

class MissionSettings(_message.Message):
    __slots__ = ("max_parallel", "max_attempts", "on_failure", "budget_micro_usd", "review")
    MAX_PARALLEL_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    ON_FAILURE_FIELD_NUMBER: _ClassVar[int]
    BUDGET_MICRO_USD_FIELD_NUMBER: _ClassVar[int]
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    max_parallel: int
    max_attempts: int
    on_failure: str
    budget_micro_usd: int
    review: str
    def __init__(self, max_parallel: _Optional[int] = ..., max_attempts: _Optional[int] = ..., on_failure: _Optional[str] = ..., budget_micro_usd: _Optional[int] = ..., review: _Optional[str] = ...) -> None: ...

class CreateMissionRequest(_message.Message):
    __slots__ = ("name", "goal", "tasks", "request_id", "settings", "allow_over_budget", "context")
    NAME_FIELD_NUMBER: _ClassVar[int]
    GOAL_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    ALLOW_OVER_BUDGET_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    name: str
    goal: str
    tasks: _containers.RepeatedCompositeFieldContainer[TaskSpec]
    request_id: str
    settings: MissionSettings
    allow_over_budget: bool
    context: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., goal: _Optional[str] = ..., tasks: _Optional[_Iterable[_Union[TaskSpec, _Mapping]]] = ..., request_id: _Optional[str] = ..., settings: _Optional[_Union[MissionSettings, _Mapping]] = ..., allow_over_budget: _Optional[bool] = ..., context: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateMissionResponse(_message.Message):
    __slots__ = ("mission", "created")
    MISSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    mission: Mission
    created: bool
    def __init__(self, mission: _Optional[_Union[Mission, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class GetMissionRequest(_message.Message):
    __slots__ = ("mission_id",)
    MISSION_ID_FIELD_NUMBER: _ClassVar[int]
    mission_id: str
    def __init__(self, mission_id: _Optional[str] = ...) -> None: ...

class GetMissionResponse(_message.Message):
    __slots__ = ("mission",)
    MISSION_FIELD_NUMBER: _ClassVar[int]
    mission: Mission
    def __init__(self, mission: _Optional[_Union[Mission, _Mapping]] = ...) -> None: ...

class ListMissionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "state")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    state: MissionState
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., state: _Optional[_Union[MissionState, str]] = ...) -> None: ...

class ListMissionsResponse(_message.Message):
    __slots__ = ("missions", "next_page_token")
    MISSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    missions: _containers.RepeatedCompositeFieldContainer[Mission]
    next_page_token: str
    def __init__(self, missions: _Optional[_Iterable[_Union[Mission, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelMissionRequest(_message.Message):
    __slots__ = ("mission_id", "reason")
    MISSION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    mission_id: str
    reason: str
    def __init__(self, mission_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelMissionResponse(_message.Message):
    __slots__ = ("mission",)
    MISSION_FIELD_NUMBER: _ClassVar[int]
    mission: Mission
    def __init__(self, mission: _Optional[_Union[Mission, _Mapping]] = ...) -> None: ...

class WatchMissionRequest(_message.Message):
    __slots__ = ("mission_id", "from_seq")
    MISSION_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_SEQ_FIELD_NUMBER: _ClassVar[int]
    mission_id: str
    from_seq: int
    def __init__(self, mission_id: _Optional[str] = ..., from_seq: _Optional[int] = ...) -> None: ...

class MissionEvent(_message.Message):
    __slots__ = ("seq", "topic", "task_id", "actor", "payload_json", "created_at")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    seq: int
    topic: str
    task_id: str
    actor: str
    payload_json: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, seq: _Optional[int] = ..., topic: _Optional[str] = ..., task_id: _Optional[str] = ..., actor: _Optional[str] = ..., payload_json: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WatchMissionResponse(_message.Message):
    __slots__ = ("event", "mission_state")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    MISSION_STATE_FIELD_NUMBER: _ClassVar[int]
    event: MissionEvent
    mission_state: MissionState
    def __init__(self, event: _Optional[_Union[MissionEvent, _Mapping]] = ..., mission_state: _Optional[_Union[MissionState, str]] = ...) -> None: ...

class Review(_message.Message):
    __slots__ = ("review_id", "mission_id", "task_id", "attempt_id", "agent", "verdict", "reviewer", "reason", "created_at")
    REVIEW_ID_FIELD_NUMBER: _ClassVar[int]
    MISSION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    REVIEWER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    review_id: str
    mission_id: str
    task_id: str
    attempt_id: str
    agent: str
    verdict: ReviewVerdict
    reviewer: str
    reason: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, review_id: _Optional[str] = ..., mission_id: _Optional[str] = ..., task_id: _Optional[str] = ..., attempt_id: _Optional[str] = ..., agent: _Optional[str] = ..., verdict: _Optional[_Union[ReviewVerdict, str]] = ..., reviewer: _Optional[str] = ..., reason: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReviewTaskRequest(_message.Message):
    __slots__ = ("mission_id", "task_id", "verdict", "reviewer", "reason", "review_id")
    MISSION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    REVIEWER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REVIEW_ID_FIELD_NUMBER: _ClassVar[int]
    mission_id: str
    task_id: str
    verdict: ReviewVerdict
    reviewer: str
    reason: str
    review_id: str
    def __init__(self, mission_id: _Optional[str] = ..., task_id: _Optional[str] = ..., verdict: _Optional[_Union[ReviewVerdict, str]] = ..., reviewer: _Optional[str] = ..., reason: _Optional[str] = ..., review_id: _Optional[str] = ...) -> None: ...

class ReviewTaskResponse(_message.Message):
    __slots__ = ("review", "mission", "recorded")
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    MISSION_FIELD_NUMBER: _ClassVar[int]
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    review: Review
    mission: Mission
    recorded: bool
    def __init__(self, review: _Optional[_Union[Review, _Mapping]] = ..., mission: _Optional[_Union[Mission, _Mapping]] = ..., recorded: _Optional[bool] = ...) -> None: ...

class ListReviewQueueRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class ReviewQueueItem(_message.Message):
    __slots__ = ("mission_id", "mission_name", "task", "attempt_id", "summary", "waiting_since")
    MISSION_ID_FIELD_NUMBER: _ClassVar[int]
    MISSION_NAME_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    WAITING_SINCE_FIELD_NUMBER: _ClassVar[int]
    mission_id: str
    mission_name: str
    task: Task
    attempt_id: str
    summary: str
    waiting_since: _timestamp_pb2.Timestamp
    def __init__(self, mission_id: _Optional[str] = ..., mission_name: _Optional[str] = ..., task: _Optional[_Union[Task, _Mapping]] = ..., attempt_id: _Optional[str] = ..., summary: _Optional[str] = ..., waiting_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListReviewQueueResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ReviewQueueItem]
    def __init__(self, items: _Optional[_Iterable[_Union[ReviewQueueItem, _Mapping]]] = ...) -> None: ...
