"""CostService over real gRPC: RecordUsage (idempotent), GetSpend, and INVALID_ARGUMENT details."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from agentcoord.services.context import ServiceContext
from agentcoord.services.host import start_services
from agentcoord.v1 import cost_pb2, cost_pb2_grpc

ENDED = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def _timestamp(value: datetime) -> Timestamp:
    timestamp = Timestamp()
    timestamp.FromDatetime(value)
    return timestamp


def usage_event(key: str, **changes) -> cost_pb2.UsageEvent:
    fields = {
        "idempotency_key": key,
        "mission_id": "m-1",
        "task_id": "t-1",
        "agent": "sim-fast",
        "model": "sim-small",
        "input_tokens": 1_000,
        "output_tokens": 200,
        "cost_micro_usd": 5_000,
        "started_at": _timestamp(ENDED - timedelta(minutes=2)),
        "ended_at": _timestamp(ENDED),
    }
    fields.update(changes)
    return cost_pb2.UsageEvent(**fields)


@pytest.fixture
def cost(
    runner, make_db, fresh_database_url, base_config
) -> Iterator[cost_pb2_grpc.CostServiceStub]:
    context = ServiceContext(
        base_config.with_database_url(fresh_database_url), make_db(fresh_database_url)
    )
    hosted = runner.run(start_services(["cost"], context, host="127.0.0.1", port=0))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{hosted.port}") as channel:
            yield cost_pb2_grpc.CostServiceStub(channel)
    finally:
        runner.run(hosted.stop())


def test_record_usage_is_idempotent(cost) -> None:
    first = cost.RecordUsage(cost_pb2.RecordUsageRequest(event=usage_event("k-1")), timeout=10)
    replay = cost.RecordUsage(cost_pb2.RecordUsageRequest(event=usage_event("k-1")), timeout=10)

    assert (first.recorded, replay.recorded) == (True, False)
    spend = cost.GetSpend(cost_pb2.GetSpendRequest(), timeout=10)
    assert [(row.cost_micro_usd, row.events) for row in spend.rows] == [(5_000, 1)]


def test_get_spend_groups_and_bounds_the_period(cost) -> None:
    events = [
        usage_event("k-1", cost_micro_usd=1_000),
        usage_event("k-2", mission_id="m-2", cost_micro_usd=7_000, input_tokens=10),
        usage_event("k-3", agent="sim-deep", model="sim-large", cost_micro_usd=3_000),
        usage_event(
            "k-old",
            cost_micro_usd=9_999,
            ended_at=_timestamp(ENDED - timedelta(days=2)),
            started_at=_timestamp(ENDED - timedelta(days=2)),
        ),
    ]
    for event in events:
        cost.RecordUsage(cost_pb2.RecordUsageRequest(event=event), timeout=10)

    spend = cost.GetSpend(
        cost_pb2.GetSpendRequest(
            group_by=[cost_pb2.SPEND_DIMENSION_MISSION, cost_pb2.SPEND_DIMENSION_AGENT],
            start_time=_timestamp(ENDED - timedelta(days=1)),
            end_time=_timestamp(ENDED + timedelta(seconds=1)),
        ),
        timeout=10,
    )

    assert [
        (list(row.keys), row.cost_micro_usd, row.input_tokens, row.events) for row in spend.rows
    ] == [
        (["m-2", "sim-fast"], 7_000, 10, 1),
        (["m-1", "sim-deep"], 3_000, 1_000, 1),
        (["m-1", "sim-fast"], 1_000, 1_000, 1),
    ]
    assert spend.total_cost_micro_usd == 11_000


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (usage_event("k-neg", input_tokens=-5), "input_tokens"),
        (usage_event("k-who", agent="nobody"), "agent"),
        (
            usage_event("k-late", ended_at=_timestamp(datetime.now(UTC) + timedelta(hours=1))),
            "ended_at",
        ),
        (
            cost_pb2.UsageEvent(
                idempotency_key="k-bare", mission_id="m", task_id="t", agent="sim-fast"
            ),
            "started_at",
        ),
    ],
)
def test_bad_usage_is_invalid_argument_naming_the_field(cost, event, field) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        cost.RecordUsage(cost_pb2.RecordUsageRequest(event=event), timeout=10)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in caught.value.details()
    assert cost.GetSpend(cost_pb2.GetSpendRequest(), timeout=10).rows == []


def test_unspecified_dimension_is_invalid_argument(cost) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        cost.GetSpend(
            cost_pb2.GetSpendRequest(group_by=[cost_pb2.SPEND_DIMENSION_UNSPECIFIED]), timeout=10
        )

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "group_by" in caught.value.details()
