"""Typed gRPC clients for our own services, with deadlines and errors translated to ours.

Actors and the CLI talk to services only through these, so a missing server becomes one clear
ServiceUnavailableError naming the service and address, not a raw grpc traceback.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from agentcoord.budgets import Budget, BudgetPeriod, BudgetScope, BudgetStatus
from agentcoord.errors import (
    AgentCoordError,
    ConflictError,
    InvalidInputError,
    NoEligibleAgentError,
    NotFoundError,
    ServiceUnavailableError,
)
from agentcoord.v1 import (
    cost_pb2,
    cost_pb2_grpc,
    mission_pb2,
    mission_pb2_grpc,
    routing_pb2,
    routing_pb2_grpc,
)

DEFAULT_DEADLINE_S = 10.0


def translate_rpc_error(exc: grpc.RpcError, *, service: str, address: str) -> AgentCoordError:
    """Turn a gRPC failure into the matching domain error, keeping the server's message."""
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = (exc.details() if hasattr(exc, "details") else "") or str(code)
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return ServiceUnavailableError(
            f"{service} at {address} is unavailable ({code.name.lower()}: {details}); is `agentcoord up` running?"
        )
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidInputError(details)
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFoundError(details)
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        return NoEligibleAgentError(details) if service == "RoutingService" else ConflictError(details)
    return AgentCoordError(f"{service} failed ({code.name}): {details}")


def timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def budget_to_proto(budget: Budget) -> cost_pb2.Budget:
    """The wire form of a budget (enum members share names: MISSION is BUDGET_SCOPE_MISSION)."""
    return cost_pb2.Budget(
        scope=cost_pb2.BudgetScope.Value(f"BUDGET_SCOPE_{budget.scope.name}"),
        subject=budget.subject,
        period=cost_pb2.BudgetPeriod.Value(f"BUDGET_PERIOD_{budget.period.name}"),
        soft_limit_micro_usd=budget.soft_limit_micro_usd or 0,
        hard_limit_micro_usd=budget.hard_limit_micro_usd or 0,
    )


def budget_status_from_proto(status: cost_pb2.BudgetStatus) -> BudgetStatus:
    """The domain form of a budget and its spend as CostService sent it."""
    wire = status.budget
    budget = Budget(
        scope=BudgetScope[cost_pb2.BudgetScope.Name(wire.scope).removeprefix("BUDGET_SCOPE_")],
        subject=wire.subject,
        period=BudgetPeriod[cost_pb2.BudgetPeriod.Name(wire.period).removeprefix("BUDGET_PERIOD_")],
        soft_limit_micro_usd=wire.soft_limit_micro_usd or None,
        hard_limit_micro_usd=wire.hard_limit_micro_usd or None,
    )
    start = status.period_start.ToDatetime(tzinfo=UTC) if status.HasField("period_start") else None
    return BudgetStatus(budget, status.spent_micro_usd, start)


class RoutingClient:
    """Async client of RoutingService (used inside Mission hosts)."""

    def __init__(self, address: str, *, deadline_s: float = DEFAULT_DEADLINE_S) -> None:
        self._address = address
        self._deadline_s = deadline_s
        self._channel = grpc.aio.insecure_channel(address)
        self._stub = routing_pb2_grpc.RoutingServiceStub(self._channel)

    async def route(self, request: routing_pb2.RouteRequest) -> routing_pb2.RouteResponse:
        try:
            response: routing_pb2.RouteResponse = await self._stub.Route(request, timeout=self._deadline_s)
        except grpc.RpcError as exc:
            raise translate_rpc_error(exc, service="RoutingService", address=self._address) from exc
        return response

    async def route_batch(self, requests: Sequence[routing_pb2.RouteRequest]) -> list[routing_pb2.RouteResult]:
        """Route several tasks in one call; a result per request, in order (see RouteBatch)."""
        try:
            response: routing_pb2.RouteBatchResponse = await self._stub.RouteBatch(
                routing_pb2.RouteBatchRequest(requests=requests), timeout=self._deadline_s
            )
        except grpc.RpcError as exc:
            raise translate_rpc_error(exc, service="RoutingService", address=self._address) from exc
        return list(response.results)

    async def close(self) -> None:
        await self._channel.close()


class CostClient:
    """Blocking client of CostService (used by task executors, which are plain Ray tasks)."""

    def __init__(self, address: str, *, deadline_s: float = DEFAULT_DEADLINE_S) -> None:
        self._address = address
        self._deadline_s = deadline_s
        self._channel = grpc.insecure_channel(address)
        self._stub = cost_pb2_grpc.CostServiceStub(self._channel)

    def record_usage(self, event: cost_pb2.UsageEvent) -> bool:
        """Record usage; True if stored now, False if this idempotency key was already recorded."""
        response = self._call(self._stub.RecordUsage, cost_pb2.RecordUsageRequest(event=event))
        return bool(response.recorded)

    def set_budget(self, budget: Budget) -> None:
        """Create or replace the budget of (scope, subject, period)."""
        self._call(self._stub.SetBudget, cost_pb2.SetBudgetRequest(budget=budget_to_proto(budget)))

    def list_budgets(self) -> list[BudgetStatus]:
        """Every budget with its spend in the current period."""
        response = self._call(self._stub.ListBudgets, cost_pb2.ListBudgetsRequest())
        return [budget_status_from_proto(status) for status in response.budgets]

    def _call(self, method, request):  # type: ignore[no-untyped-def]
        try:
            return method(request, timeout=self._deadline_s)
        except grpc.RpcError as exc:
            raise translate_rpc_error(exc, service="CostService", address=self._address) from exc

    def close(self) -> None:
        self._channel.close()


class MissionClient:
    """Blocking client of MissionService (used by the CLI)."""

    def __init__(self, address: str, *, deadline_s: float = DEFAULT_DEADLINE_S) -> None:
        self._address = address
        self._deadline_s = deadline_s
        self._channel = grpc.insecure_channel(address)
        self._stub = mission_pb2_grpc.MissionServiceStub(self._channel)

    def create(self, request: mission_pb2.CreateMissionRequest) -> mission_pb2.CreateMissionResponse:
        return self._call(self._stub.CreateMission, request)

    def get(self, mission_id: str) -> mission_pb2.Mission:
        response = self._call(self._stub.GetMission, mission_pb2.GetMissionRequest(mission_id=mission_id))
        return response.mission

    def list(
        self,
        *,
        page_size: int = 50,
        page_token: str = "",
        state: mission_pb2.MissionState = mission_pb2.MISSION_STATE_UNSPECIFIED,
    ) -> mission_pb2.ListMissionsResponse:
        request = mission_pb2.ListMissionsRequest(page_size=page_size, page_token=page_token, state=state)
        return self._call(self._stub.ListMissions, request)

    def cancel(self, mission_id: str, *, reason: str = "") -> mission_pb2.Mission:
        request = mission_pb2.CancelMissionRequest(mission_id=mission_id, reason=reason)
        return self._call(self._stub.CancelMission, request).mission

    def review(self, request: mission_pb2.ReviewTaskRequest) -> mission_pb2.ReviewTaskResponse:
        return self._call(self._stub.ReviewTask, request)

    def review_queue(self, *, limit: int = 50) -> mission_pb2.ListReviewQueueResponse:
        return self._call(self._stub.ListReviewQueue, mission_pb2.ListReviewQueueRequest(limit=limit))

    def watch(self, mission_id: str, *, from_seq: int = 0, timeout_s: float | None = None) -> Iterator[
        mission_pb2.WatchMissionResponse
    ]:
        """Stream the mission's events after `from_seq` until it ends or `timeout_s` passes."""
        request = mission_pb2.WatchMissionRequest(mission_id=mission_id, from_seq=from_seq)
        try:
            yield from self._stub.WatchMission(request, timeout=timeout_s)
        except grpc.RpcError as exc:
            if timeout_s is not None and exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                return  # the caller's patience ran out, not the service
            raise translate_rpc_error(exc, service="MissionService", address=self._address) from exc

    def _call(self, method, request):  # type: ignore[no-untyped-def]
        try:
            return method(request, timeout=self._deadline_s)
        except grpc.RpcError as exc:
            raise translate_rpc_error(exc, service="MissionService", address=self._address) from exc

    def close(self) -> None:
        self._channel.close()
