import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SpendDimension(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SPEND_DIMENSION_UNSPECIFIED: _ClassVar[SpendDimension]
    SPEND_DIMENSION_AGENT: _ClassVar[SpendDimension]
    SPEND_DIMENSION_MISSION: _ClassVar[SpendDimension]
    SPEND_DIMENSION_TASK: _ClassVar[SpendDimension]
    SPEND_DIMENSION_MODEL: _ClassVar[SpendDimension]
    SPEND_DIMENSION_CAPABILITY: _ClassVar[SpendDimension]
    SPEND_DIMENSION_DAY: _ClassVar[SpendDimension]
    SPEND_DIMENSION_WEEK: _ClassVar[SpendDimension]

class BudgetScope(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BUDGET_SCOPE_UNSPECIFIED: _ClassVar[BudgetScope]
    BUDGET_SCOPE_GLOBAL: _ClassVar[BudgetScope]
    BUDGET_SCOPE_MISSION: _ClassVar[BudgetScope]
    BUDGET_SCOPE_AGENT: _ClassVar[BudgetScope]
    BUDGET_SCOPE_TAG: _ClassVar[BudgetScope]

class BudgetPeriod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BUDGET_PERIOD_UNSPECIFIED: _ClassVar[BudgetPeriod]
    BUDGET_PERIOD_DAY: _ClassVar[BudgetPeriod]
    BUDGET_PERIOD_WEEK: _ClassVar[BudgetPeriod]
    BUDGET_PERIOD_MONTH: _ClassVar[BudgetPeriod]
    BUDGET_PERIOD_TOTAL: _ClassVar[BudgetPeriod]
SPEND_DIMENSION_UNSPECIFIED: SpendDimension
SPEND_DIMENSION_AGENT: SpendDimension
SPEND_DIMENSION_MISSION: SpendDimension
SPEND_DIMENSION_TASK: SpendDimension
SPEND_DIMENSION_MODEL: SpendDimension
SPEND_DIMENSION_CAPABILITY: SpendDimension
SPEND_DIMENSION_DAY: SpendDimension
SPEND_DIMENSION_WEEK: SpendDimension
BUDGET_SCOPE_UNSPECIFIED: BudgetScope
BUDGET_SCOPE_GLOBAL: BudgetScope
BUDGET_SCOPE_MISSION: BudgetScope
BUDGET_SCOPE_AGENT: BudgetScope
BUDGET_SCOPE_TAG: BudgetScope
BUDGET_PERIOD_UNSPECIFIED: BudgetPeriod
BUDGET_PERIOD_DAY: BudgetPeriod
BUDGET_PERIOD_WEEK: BudgetPeriod
BUDGET_PERIOD_MONTH: BudgetPeriod
BUDGET_PERIOD_TOTAL: BudgetPeriod

class UsageEvent(_message.Message):
    __slots__ = ("idempotency_key", "mission_id", "task_id", "agent", "model", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_micro_usd", "started_at", "ended_at", "attempt_id", "tags")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MISSION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_READ_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_WRITE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_MICRO_USD_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    mission_id: str
    task_id: str
    agent: str
    model: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_micro_usd: int
    started_at: _timestamp_pb2.Timestamp
    ended_at: _timestamp_pb2.Timestamp
    attempt_id: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, idempotency_key: _Optional[str] = ..., mission_id: _Optional[str] = ..., task_id: _Optional[str] = ..., agent: _Optional[str] = ..., model: _Optional[str] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cache_read_tokens: _Optional[int] = ..., cache_write_tokens: _Optional[int] = ..., cost_micro_usd: _Optional[int] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attempt_id: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ...) -> None: ...

class RecordUsageRequest(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: UsageEvent
    def __init__(self, event: _Optional[_Union[UsageEvent, _Mapping]] = ...) -> None: ...

class RecordUsageResponse(_message.Message):
    __slots__ = ("recorded",)
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    recorded: bool
    def __init__(self, recorded: _Optional[bool] = ...) -> None: ...

class RecordUsageStreamRequest(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[UsageEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[UsageEvent, _Mapping]]] = ...) -> None: ...

class RecordUsageStreamResponse(_message.Message):
    __slots__ = ("received", "recorded")
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    received: int
    recorded: int
    def __init__(self, received: _Optional[int] = ..., recorded: _Optional[int] = ...) -> None: ...

class SpendFilter(_message.Message):
    __slots__ = ("dimension", "values")
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    dimension: SpendDimension
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, dimension: _Optional[_Union[SpendDimension, str]] = ..., values: _Optional[_Iterable[str]] = ...) -> None: ...

class GetSpendRequest(_message.Message):
    __slots__ = ("group_by", "start_time", "end_time", "filters")
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    group_by: _containers.RepeatedScalarFieldContainer[SpendDimension]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    filters: _containers.RepeatedCompositeFieldContainer[SpendFilter]
    def __init__(self, group_by: _Optional[_Iterable[_Union[SpendDimension, str]]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., filters: _Optional[_Iterable[_Union[SpendFilter, _Mapping]]] = ...) -> None: ...

class SpendRow(_message.Message):
    __slots__ = ("keys", "cost_micro_usd", "input_tokens", "output_tokens", "events", "computed_cost_micro_usd", "reported_cost_micro_usd")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    COST_MICRO_USD_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_COST_MICRO_USD_FIELD_NUMBER: _ClassVar[int]
    REPORTED_COST_MICRO_USD_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedScalarFieldContainer[str]
    cost_micro_usd: int
    input_tokens: int
    output_tokens: int
    events: int
    computed_cost_micro_usd: int
    reported_cost_micro_usd: int
    def __init__(self, keys: _Optional[_Iterable[str]] = ..., cost_micro_usd: _Optional[int] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., events: _Optional[int] = ..., computed_cost_micro_usd: _Optional[int] = ..., reported_cost_micro_usd: _Optional[int] = ...) -> None: ...

class GetSpendResponse(_message.Message):
    __slots__ = ("rows", "total_cost_micro_usd")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_MICRO_USD_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[SpendRow]
    total_cost_micro_usd: int
    def __init__(self, rows: _Optional[_Iterable[_Union[SpendRow, _Mapping]]] = ..., total_cost_micro_usd: _Optional[int] = ...) -> None: ...

class Budget(_message.Message):
    __slots__ = ("scope", "subject", "period", "soft_limit_micro_usd", "hard_limit_micro_usd")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    SOFT_LIMIT_MICRO_USD_FIELD_NUMBER: _ClassVar[int]
    HARD_LIMIT_MICRO_USD_FIELD_NUMBER: _ClassVar[int]
    scope: BudgetScope
    subject: str
    period: BudgetPeriod
    soft_limit_micro_usd: int
    hard_limit_micro_usd: int
    def __init__(self, scope: _Optional[_Union[BudgetScope, str]] = ..., subject: _Optional[str] = ..., period: _Optional[_Union[BudgetPeriod, str]] = ..., soft_limit_micro_usd: _Optional[int] = ..., hard_limit_micro_usd: _Optional[int] = ...) -> None: ...

class SetBudgetRequest(_message.Message):
    __slots__ = ("budget",)
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    budget: Budget
    def __init__(self, budget: _Optional[_Union[Budget, _Mapping]] = ...) -> None: ...

class SetBudgetResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListBudgetsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BudgetStatus(_message.Message):
    __slots__ = ("budget", "spent_micro_usd", "period_start")
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    SPENT_MICRO_USD_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    budget: Budget
    spent_micro_usd: int
    period_start: _timestamp_pb2.Timestamp
    def __init__(self, budget: _Optional[_Union[Budget, _Mapping]] = ..., spent_micro_usd: _Optional[int] = ..., period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListBudgetsResponse(_message.Message):
    __slots__ = ("budgets",)
    BUDGETS_FIELD_NUMBER: _ClassVar[int]
    budgets: _containers.RepeatedCompositeFieldContainer[BudgetStatus]
    def __init__(self, budgets: _Optional[_Iterable[_Union[BudgetStatus, _Mapping]]] = ...) -> None: ...

class CheckBudgetRequest(_message.Message):
    __slots__ = ("mission_id", "agent", "tags")
    MISSION_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    mission_id: str
    agent: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, mission_id: _Optional[str] = ..., agent: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ...) -> None: ...

class CheckBudgetResponse(_message.Message):
    __slots__ = ("allowed", "exceeded", "reason")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    EXCEEDED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    exceeded: _containers.RepeatedCompositeFieldContainer[BudgetStatus]
    reason: str
    def __init__(self, allowed: _Optional[bool] = ..., exceeded: _Optional[_Iterable[_Union[BudgetStatus, _Mapping]]] = ..., reason: _Optional[str] = ...) -> None: ...
