from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Agent(_message.Message):
    __slots__ = ("name", "adapter", "model", "capabilities", "input_price_micro_usd_per_mtok", "output_price_micro_usd_per_mtok", "max_concurrency", "enabled")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    INPUT_PRICE_MICRO_USD_PER_MTOK_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_PRICE_MICRO_USD_PER_MTOK_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    name: str
    adapter: str
    model: str
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    input_price_micro_usd_per_mtok: int
    output_price_micro_usd_per_mtok: int
    max_concurrency: int
    enabled: bool
    def __init__(self, name: _Optional[str] = ..., adapter: _Optional[str] = ..., model: _Optional[str] = ..., capabilities: _Optional[_Iterable[str]] = ..., input_price_micro_usd_per_mtok: _Optional[int] = ..., output_price_micro_usd_per_mtok: _Optional[int] = ..., max_concurrency: _Optional[int] = ..., enabled: _Optional[bool] = ...) -> None: ...

class RouteRequest(_message.Message):
    __slots__ = ("mission_id", "task_id", "capabilities", "description", "expected_input_tokens", "expected_output_tokens")
    MISSION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    mission_id: str
    task_id: str
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    description: str
    expected_input_tokens: int
    expected_output_tokens: int
    def __init__(self, mission_id: _Optional[str] = ..., task_id: _Optional[str] = ..., capabilities: _Optional[_Iterable[str]] = ..., description: _Optional[str] = ..., expected_input_tokens: _Optional[int] = ..., expected_output_tokens: _Optional[int] = ...) -> None: ...

class RouteCandidate(_message.Message):
    __slots__ = ("agent", "model", "estimated_cost_micro_usd", "eligible", "reason")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_COST_MICRO_USD_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    agent: str
    model: str
    estimated_cost_micro_usd: int
    eligible: bool
    reason: str
    def __init__(self, agent: _Optional[str] = ..., model: _Optional[str] = ..., estimated_cost_micro_usd: _Optional[int] = ..., eligible: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class RouteResponse(_message.Message):
    __slots__ = ("decision_id", "agent", "model", "reason", "candidates")
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    decision_id: str
    agent: str
    model: str
    reason: str
    candidates: _containers.RepeatedCompositeFieldContainer[RouteCandidate]
    def __init__(self, decision_id: _Optional[str] = ..., agent: _Optional[str] = ..., model: _Optional[str] = ..., reason: _Optional[str] = ..., candidates: _Optional[_Iterable[_Union[RouteCandidate, _Mapping]]] = ...) -> None: ...

class RouteBatchRequest(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[RouteRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[RouteRequest, _Mapping]]] = ...) -> None: ...

class RouteBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[RouteResult]
    def __init__(self, results: _Optional[_Iterable[_Union[RouteResult, _Mapping]]] = ...) -> None: ...

class RouteResult(_message.Message):
    __slots__ = ("decision", "no_eligible_agent")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    NO_ELIGIBLE_AGENT_FIELD_NUMBER: _ClassVar[int]
    decision: RouteResponse
    no_eligible_agent: str
    def __init__(self, decision: _Optional[_Union[RouteResponse, _Mapping]] = ..., no_eligible_agent: _Optional[str] = ...) -> None: ...

class ListAgentsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAgentsResponse(_message.Message):
    __slots__ = ("agents",)
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[Agent]
    def __init__(self, agents: _Optional[_Iterable[_Union[Agent, _Mapping]]] = ...) -> None: ...
