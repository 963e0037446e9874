"""CostService over gRPC: translates protobuf to and from the cost ledger's domain types.

Unset timestamps and unspecified enum values are rejected here, because only the wire format
can express them; everything else is validated by the ledger and the budget keeper.
"""

from __future__ import annotations

import operator
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from datetime import UTC, datetime
from itertools import repeat
from types import MappingProxyType

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from agentcoord.budgets import Budget, BudgetPeriod, BudgetScope, BudgetStatus
from agentcoord.clients import budget_to_proto
from agentcoord.errors import InvalidInputError
from agentcoord.services.cost.budgets import BudgetKeeper
from agentcoord.services.cost.ledger import CostLedger
from agentcoord.usage import SpendDimension, UsageBatch, UsageRecord
from agentcoord.v1 import cost_pb2, cost_pb2_grpc

_DIMENSIONS = MappingProxyType(
    {
        cost_pb2.SPEND_DIMENSION_AGENT: SpendDimension.AGENT,
        cost_pb2.SPEND_DIMENSION_MISSION: SpendDimension.MISSION,
        cost_pb2.SPEND_DIMENSION_TASK: SpendDimension.TASK,
        cost_pb2.SPEND_DIMENSION_MODEL: SpendDimension.MODEL,
        cost_pb2.SPEND_DIMENSION_CAPABILITY: SpendDimension.CAPABILITY,
        cost_pb2.SPEND_DIMENSION_DAY: SpendDimension.DAY,
        cost_pb2.SPEND_DIMENSION_WEEK: SpendDimension.WEEK,
    }
)
_SCOPES = MappingProxyType(
    {
        cost_pb2.BUDGET_SCOPE_GLOBAL: BudgetScope.GLOBAL,
        cost_pb2.BUDGET_SCOPE_MISSION: BudgetScope.MISSION,
        cost_pb2.BUDGET_SCOPE_AGENT: BudgetScope.AGENT,
        cost_pb2.BUDGET_SCOPE_TAG: BudgetScope.TAG,
    }
)
_PERIODS = MappingProxyType(
    {
        cost_pb2.BUDGET_PERIOD_DAY: BudgetPeriod.DAY,
        cost_pb2.BUDGET_PERIOD_WEEK: BudgetPeriod.WEEK,
        cost_pb2.BUDGET_PERIOD_MONTH: BudgetPeriod.MONTH,
        cost_pb2.BUDGET_PERIOD_TOTAL: BudgetPeriod.TOTAL,
    }
)


class CostServicer(cost_pb2_grpc.CostServiceServicer):
    """The grpc.aio servicer of agentcoord.v1.CostService."""

    def __init__(self, ledger: CostLedger, budgets: BudgetKeeper) -> None:
        self._ledger = ledger
        self._budgets = budgets

    async def RecordUsage(
        self, request: cost_pb2.RecordUsageRequest, context: grpc.aio.ServicerContext
    ) -> cost_pb2.RecordUsageResponse:
        if not request.HasField("event"):
            raise InvalidInputError("is required", field="event")
        recorded = await self._ledger.record(usage_record(request.event))
        return cost_pb2.RecordUsageResponse(recorded=recorded)

    async def RecordUsageStream(
        self,
        request_iterator: AsyncIterable[cost_pb2.RecordUsageStreamRequest],
        context: grpc.aio.ServicerContext,
    ) -> cost_pb2.RecordUsageStreamResponse:
        result = await self._ledger.record_stream(_batches(request_iterator))
        return cost_pb2.RecordUsageStreamResponse(
            received=result.received, recorded=result.recorded
        )

    async def GetSpend(
        self, request: cost_pb2.GetSpendRequest, context: grpc.aio.ServicerContext
    ) -> cost_pb2.GetSpendResponse:
        group_by = [_dimension(value, "group_by") for value in request.group_by]
        filters = {
            _dimension(f.dimension, "filters"): tuple(f.values) for f in request.filters
        }
        spend = await self._ledger.spend(
            group_by=group_by,
            start=_optional_time(request, "start_time"),
            end=_optional_time(request, "end_time"),
            filters=filters,
        )
        return cost_pb2.GetSpendResponse(
            rows=[
                cost_pb2.SpendRow(
                    keys=list(row.keys),
                    cost_micro_usd=row.cost_micro_usd,
                    input_tokens=row.input_tokens,
                    output_tokens=row.output_tokens,
                    events=row.events,
                    computed_cost_micro_usd=row.computed_cost_micro_usd,
                    reported_cost_micro_usd=row.reported_cost_micro_usd,
                )
                for row in spend.rows
            ],
            total_cost_micro_usd=spend.total_cost_micro_usd,
        )

    async def SetBudget(
        self, request: cost_pb2.SetBudgetRequest, context: grpc.aio.ServicerContext
    ) -> cost_pb2.SetBudgetResponse:
        budget = request.budget
        if budget.scope not in _SCOPES:
            raise InvalidInputError("choose a budget scope", field="budget.scope")
        if budget.period not in _PERIODS:
            raise InvalidInputError("choose a budget period", field="budget.period")
        await self._budgets.set_budget(
            Budget(
                scope=_SCOPES[budget.scope],
                subject=budget.subject,
                period=_PERIODS[budget.period],
                soft_limit_micro_usd=budget.soft_limit_micro_usd or None,
                hard_limit_micro_usd=budget.hard_limit_micro_usd or None,
            )
        )
        return cost_pb2.SetBudgetResponse()

    async def ListBudgets(
        self, request: cost_pb2.ListBudgetsRequest, context: grpc.aio.ServicerContext
    ) -> cost_pb2.ListBudgetsResponse:
        statuses = await self._budgets.budgets()
        return cost_pb2.ListBudgetsResponse(budgets=[_status(s) for s in statuses])

    async def CheckBudget(
        self, request: cost_pb2.CheckBudgetRequest, context: grpc.aio.ServicerContext
    ) -> cost_pb2.CheckBudgetResponse:
        decision = await self._budgets.budget_check(
            mission_id=request.mission_id, agent=request.agent, tags=tuple(request.tags)
        )
        return cost_pb2.CheckBudgetResponse(
            allowed=decision.allowed,
            exceeded=[_status(s) for s in decision.exceeded],
            reason=decision.reason,
        )


def usage_record(event: cost_pb2.UsageEvent) -> UsageRecord:
    """The domain record of a protobuf usage event (unset times raise InvalidInputError)."""
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
        reported_cost_micro_usd=event.cost_micro_usd if event.HasField("cost_micro_usd") else None,
        started_at=_required_time(event, "started_at"),
        ended_at=_required_time(event, "ended_at"),
        attempt_id=event.attempt_id,
        tags=tuple(event.tags),
    )


# Every field a stream needs, read per event by one C-level call (then transposed).
_EVENT_FIELDS = operator.attrgetter(
    "idempotency_key", "mission_id", "task_id", "agent", "model", "input_tokens",
    "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_micro_usd", "attempt_id",
    "tags", "started_at.seconds", "started_at.nanos", "ended_at.seconds", "ended_at.nanos",
)  # fmt: skip


def usage_batch(
    events: Sequence[cost_pb2.UsageEvent], *, first_position: int = 0
) -> UsageBatch:
    """The domain columns of protobuf usage events, built column by column (no record per event).

    An unset time raises InvalidInputError naming the event's stream position
    (`events[41].ended_at`).
    """
    if not events:
        return UsageBatch([], [], [], [], [], [], [], [], [], [], [], [], [], [])
    (keys, missions, tasks, agents, models, inputs, outputs, cache_reads, cache_writes, costs,
     attempts, tags, started_s, started_ns, ended_s, ended_ns) = zip(*map(_EVENT_FIELDS, events))
    # An unset time reads as 0 s 0 ns, so only such events need the (slower) presence check.
    for name, seconds, nanos in (("started_at", started_s, started_ns),
                                 ("ended_at", ended_s, ended_ns)):
        if 0 in seconds:
            for i, (s, n) in enumerate(zip(seconds, nanos, strict=True)):
                if not (s or n) and not events[i].HasField(name):
                    raise InvalidInputError(
                        "is required", field=f"events[{first_position + i}].{name}"
                    )
    reported: list[int | None] = list(costs)
    if 0 in costs:  # 0 is the value of an unset cost too
        reported = [c if c or e.HasField("cost_micro_usd") else None
                    for c, e in zip(costs, events, strict=True)]
    return UsageBatch(
        idempotency_keys=keys, mission_ids=missions, task_ids=tasks, agents=agents,
        models=models, input_tokens=inputs, output_tokens=outputs,
        cache_read_tokens=cache_reads, cache_write_tokens=cache_writes,
        reported_costs_micro_usd=reported,
        started_at=_times(started_s, started_ns, "started_at", first_position),
        ended_at=_times(ended_s, ended_ns, "ended_at", first_position),
        attempt_ids=attempts, tags=list(map(tuple, tags)),
    )  # fmt: skip


def _times(
    seconds: Sequence[int], nanos: Sequence[int], name: str, first_position: int
) -> list[datetime]:
    # fromtimestamp mapped over whole columns: about half the cost of Timestamp.ToDatetime.
    try:
        times = list(map(datetime.fromtimestamp, seconds, repeat(UTC)))
        if any(nanos):
            times = [
                t.replace(microsecond=n // 1000) if n else t
                for t, n in zip(times, nanos, strict=True)
            ]
    except (ValueError, OverflowError, OSError):
        index = next(
            i for i, (s, n) in enumerate(zip(seconds, nanos, strict=True)) if not _valid_time(s, n)
        )
        raise InvalidInputError(
            "is not a valid time", field=f"events[{first_position + index}].{name}"
        ) from None
    return times


def _valid_time(seconds: int, nanos: int) -> bool:
    if not 0 <= nanos < 1_000_000_000:
        return False
    try:
        datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        return False
    return True


async def _batches(
    requests: AsyncIterable[cost_pb2.RecordUsageStreamRequest],
) -> AsyncIterator[UsageBatch]:
    position = 0
    async for request in requests:
        yield usage_batch(request.events, first_position=position)
        position += len(request.events)


def _status(status: BudgetStatus) -> cost_pb2.BudgetStatus:
    message = cost_pb2.BudgetStatus(budget=budget_to_proto(status.budget), spent_micro_usd=status.spent_micro_usd)
    if status.period_start is not None:
        message.period_start.FromDatetime(status.period_start)
    return message


def _dimension(value: cost_pb2.SpendDimension, field: str) -> SpendDimension:
    if value not in _DIMENSIONS:
        raise InvalidInputError(f"unsupported dimension {value}", field=field)
    return _DIMENSIONS[value]


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
