"""CostService over gRPC: translates protobuf to and from the cost ledger's domain types.

Unset timestamps and unspecified dimensions are rejected here, because only the wire format can
express them; everything else is validated by the ledger.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from agentcoord.errors import InvalidInputError
from agentcoord.services.cost.ledger import CostLedger
from agentcoord.usage import SpendDimension, UsageRecord
from agentcoord.v1 import cost_pb2, cost_pb2_grpc

_DIMENSIONS = MappingProxyType(
    {
        cost_pb2.SPEND_DIMENSION_AGENT: SpendDimension.AGENT,
        cost_pb2.SPEND_DIMENSION_MISSION: SpendDimension.MISSION,
        cost_pb2.SPEND_DIMENSION_TASK: SpendDimension.TASK,
        cost_pb2.SPEND_DIMENSION_MODEL: SpendDimension.MODEL,
    }
)


class CostServicer(cost_pb2_grpc.CostServiceServicer):
    """The grpc.aio servicer of agentcoord.v1.CostService."""

    def __init__(self, ledger: CostLedger) -> None:
        self._ledger = ledger

    async def RecordUsage(
        self, request: cost_pb2.RecordUsageRequest, context: grpc.aio.ServicerContext
    ) -> cost_pb2.RecordUsageResponse:
        if not request.HasField("event"):
            raise InvalidInputError("is required", field="event")
        recorded = await self._ledger.record(_usage_record(request.event))
        return cost_pb2.RecordUsageResponse(recorded=recorded)

    async def GetSpend(
        self, request: cost_pb2.GetSpendRequest, context: grpc.aio.ServicerContext
    ) -> cost_pb2.GetSpendResponse:
        group_by = []
        for value in request.group_by:
            if value not in _DIMENSIONS:
                raise InvalidInputError(f"unsupported dimension {value}", field="group_by")
            group_by.append(_DIMENSIONS[value])
        spend = await self._ledger.spend(
            group_by=group_by,
            start=_optional_time(request, "start_time"),
            end=_optional_time(request, "end_time"),
        )
        return cost_pb2.GetSpendResponse(
            rows=[
                cost_pb2.SpendRow(
                    keys=list(row.keys),
                    cost_micro_usd=row.cost_micro_usd,
                    input_tokens=row.input_tokens,
                    output_tokens=row.output_tokens,
                    events=row.events,
                )
                for row in spend.rows
            ],
            total_cost_micro_usd=spend.total_cost_micro_usd,
        )


def _usage_record(event: cost_pb2.UsageEvent) -> UsageRecord:
    return UsageRecord(
        idempotency_key=event.idempotency_key,
        mission_id=event.mission_id,
        task_id=event.task_id,
        agent=event.agent,
        model=event.model,
        input_tokens=event.input_tokens,
        output_tokens=event.output_tokens,
        cache_read_tokens=event.cache_read_tokens,
        cache_write_tokens=event.cache_write_tokens,
        cost_micro_usd=event.cost_micro_usd,
        started_at=_required_time(event, "started_at"),
        ended_at=_required_time(event, "ended_at"),
    )


def _required_time(message: Message, name: str) -> datetime:
    value = _optional_time(message, name)
    if value is None:
        raise InvalidInputError("is required", field=name)
    return value


def _optional_time(message: Message, name: str) -> datetime | None:
    if not message.HasField(name):
        return None
    timestamp: Timestamp = getattr(message, name)
    return timestamp.ToDatetime(tzinfo=UTC)
