"""RecordUsageStream over real gRPC: batched, all-or-nothing, idempotent, safe with concurrent writers."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import grpc
import psycopg
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


def event(key: str, **changes) -> cost_pb2.UsageEvent:
    fields = {
        "idempotency_key": key,
        "mission_id": "m-1",
        "task_id": "t-1",
        "agent": "sim-fast",
        "input_tokens": 1_000_000,
        "output_tokens": 100_000,
        "started_at": _timestamp(ENDED - timedelta(minutes=2)),
        "ended_at": _timestamp(ENDED),
    }
    fields.update(changes)
    return cost_pb2.UsageEvent(**fields)


def requests(keys: list[str], per_message: int = 50) -> Iterator[cost_pb2.RecordUsageStreamRequest]:
    for i in range(0, len(keys), per_message):
        yield cost_pb2.RecordUsageStreamRequest(events=[event(k) for k in keys[i : i + per_message]])


@pytest.fixture
def cost(runner, make_db, fresh_database_url, base_config) -> Iterator[cost_pb2_grpc.CostServiceStub]:
    context = ServiceContext(
        base_config.with_database_url(fresh_database_url), make_db(fresh_database_url)
    )
    hosted = runner.run(start_services(["cost"], context, host="127.0.0.1", port=0))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{hosted.port}") as channel:
            yield cost_pb2_grpc.CostServiceStub(channel)
    finally:
        runner.run(hosted.stop())


def _stored(url: str) -> tuple[int, int, int]:
    with psycopg.connect(url) as conn:
        rows, cost = conn.execute(
            "SELECT count(*), coalesce(sum(cost_micro_usd), 0) FROM usage_events"
        ).fetchone()
        keys_in_events = conn.execute(
            "SELECT coalesce(sum(jsonb_array_length(payload->'idempotency_keys')), 0)"
            " FROM events WHERE topic = 'usage.batch_recorded'"
        ).fetchone()[0]
    return rows, cost, keys_in_events


def test_a_stream_stores_every_event_priced_and_announced(cost, fresh_database_url) -> None:
    keys = [f"k-{i:04d}" for i in range(1_234)]

    response = cost.RecordUsageStream(requests(keys), timeout=30)

    assert (response.received, response.recorded) == (1_234, 1_234)
    # sim-small: 1M input x $0.80 + 100k output x $4.00 = $1.20 per event, priced by the table.
    assert _stored(fresh_database_url) == (1_234, 1_234 * 1_200_000, 1_234)


def test_replaying_a_stream_changes_nothing(cost, fresh_database_url) -> None:
    keys = [f"k-{i}" for i in range(300)]
    cost.RecordUsageStream(requests(keys), timeout=30)

    replay = cost.RecordUsageStream(requests(keys[::-1] + ["k-new"]), timeout=30)

    assert (replay.received, replay.recorded) == (301, 1)
    assert _stored(fresh_database_url) == (301, 301 * 1_200_000, 301)


def test_duplicate_keys_inside_one_stream_are_stored_once(cost, fresh_database_url) -> None:
    response = cost.RecordUsageStream(requests(["a", "b", "a", "a"]), timeout=30)

    assert (response.received, response.recorded) == (4, 2)
    assert _stored(fresh_database_url)[0] == 2


def test_concurrent_streams_with_overlapping_keys_store_each_key_once(
    cost, fresh_database_url
) -> None:
    streams = [[f"k-{(s * 150 + i) % 600}" for i in range(400)] for s in range(6)]

    with ThreadPoolExecutor(len(streams)) as pool:
        responses = list(pool.map(lambda keys: cost.RecordUsageStream(requests(keys), timeout=60), streams))

    unique = {key for keys in streams for key in keys}
    assert sum(r.recorded for r in responses) == len(unique) == 600
    assert _stored(fresh_database_url) == (600, 600 * 1_200_000, 600)


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (event("bad", input_tokens=-1), "events[120].input_tokens"),
        (event("bad", model="gpt-unknown"), "events[120].model"),
        (event("bad", ended_at=_timestamp(datetime.now(UTC) + timedelta(hours=2))), "events[120].ended_at"),
        (cost_pb2.UsageEvent(idempotency_key="bad", mission_id="m", task_id="t", agent="sim-fast"),
         "events[120].started_at"),
        (event("bad", agent=" "), "events[120].agent"),
        (event("bad", cost_micro_usd=-5), "events[120].cost_micro_usd"),
        (event("bad", tags=["team:a", " "]), "events[120].tags"),
        (event("bad", agent="ghost"), "events[120].agent"),
        (event("bad", started_at=_timestamp(datetime.now(UTC)),
               ended_at=_timestamp(datetime.now(UTC) - timedelta(hours=1))), "events[120].ended_at"),
        (event("bad", ended_at=Timestamp(seconds=10**12)), "events[120].ended_at"),
    ],
)
def test_one_bad_event_rejects_the_whole_stream(cost, fresh_database_url, bad, field) -> None:
    def stream() -> Iterator[cost_pb2.RecordUsageStreamRequest]:
        yield cost_pb2.RecordUsageStreamRequest(events=[event(f"k-{i}") for i in range(120)])
        yield cost_pb2.RecordUsageStreamRequest(events=[bad, event("k-after")])

    with pytest.raises(grpc.RpcError) as caught:
        cost.RecordUsageStream(stream(), timeout=30)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in caught.value.details()
    assert _stored(fresh_database_url) == (0, 0, 0)


def test_unknown_model_error_lists_the_priced_models(cost) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        cost.RecordUsage(cost_pb2.RecordUsageRequest(event=event("k", model="gpt-9")), timeout=10)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "unknown model 'gpt-9'; priced models: sim-large, sim-medium, sim-small" in caught.value.details()
