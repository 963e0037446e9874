"""The cost ledger on real PostgreSQL: exactly-once recording, validation, and exact spend sums."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentcoord.errors import InvalidInputError
from agentcoord.prices import bundled_price_table
from agentcoord.services.cost.ledger import CostLedger
from agentcoord.store import Database
from agentcoord.store.events import read_events_after
from agentcoord.usage import SpendDimension, UsageRecord

NOW = datetime(2026, 11, 5, 14, 30, tzinfo=UTC)


def usage(key: str = "k-1", **changes) -> UsageRecord:
    record = UsageRecord(
        idempotency_key=key,
        mission_id="m-1",
        task_id="t-1",
        agent="sim-fast",
        model="sim-small",
        input_tokens=4_000,
        output_tokens=1_500,
        started_at=NOW - timedelta(minutes=3),
        ended_at=NOW - timedelta(minutes=1),
        reported_cost_micro_usd=12_345,
    )
    return dataclasses.replace(record, **changes)


def _counts(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT count(*) FROM usage_events").fetchone()[0]
        events = conn.execute(
            "SELECT count(*) FROM events WHERE topic = 'usage.recorded'"
        ).fetchone()[0]
    return rows, events


@pytest.fixture
def fresh_db(make_db, fresh_database_url) -> Database:
    return make_db(fresh_database_url)


@pytest.fixture
def ledger(fresh_db, base_config) -> CostLedger:
    return CostLedger(fresh_db, base_config.agents, bundled_price_table(), clock=lambda: NOW)


def test_a_new_event_is_stored_with_its_bus_event(
    runner, ledger, fresh_db, fresh_database_url
) -> None:
    assert runner.run(ledger.record(usage())) is True

    async def read():
        # Settled events only: a transaction open elsewhere on the server (another test's) may
        # hold the horizon back for a moment.
        for _ in range(100):
            async with fresh_db.transaction() as conn:
                if events := await read_events_after(conn):
                    return events
            await asyncio.sleep(0.05)
        return []

    [event] = runner.run(read())
    assert (event.topic, event.actor, event.mission_id, event.task_id) == (
        "usage.recorded",
        "cost",
        "m-1",
        "t-1",
    )
    assert event.payload == ledger.complete(usage()).to_json()
    assert _counts(fresh_database_url) == (1, 1)


def test_replaying_a_key_changes_nothing(runner, ledger, fresh_database_url) -> None:
    assert runner.run(ledger.record(usage())) is True
    assert runner.run(ledger.record(usage(input_tokens=99))) is False

    assert _counts(fresh_database_url) == (1, 1)
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("SELECT input_tokens FROM usage_events").fetchone()[0] == 4_000


def test_concurrent_writers_with_distinct_keys_are_all_stored(
    runner, ledger, fresh_database_url
) -> None:
    async def write_all():
        return await asyncio.gather(*(ledger.record(usage(f"k-{i}")) for i in range(24)))

    assert runner.run(write_all()) == [True] * 24
    assert _counts(fresh_database_url) == (24, 24)


def test_concurrent_replays_of_one_key_record_it_once(runner, ledger, fresh_database_url) -> None:
    async def write_all():
        return await asyncio.gather(*(ledger.record(usage("same")) for _ in range(8)))

    assert sorted(runner.run(write_all())) == [False] * 7 + [True]
    assert _counts(fresh_database_url) == (1, 1)


def test_missing_model_and_cost_come_from_the_registry(runner, ledger, fresh_database_url) -> None:
    assert runner.run(ledger.record(usage(model="", reported_cost_micro_usd=None))) is True

    with psycopg.connect(fresh_database_url) as conn:
        model, cost = conn.execute("SELECT model, cost_micro_usd FROM usage_events").fetchone()
    # sim-fast: 4000 x $0.80/M + 1500 x $4/M.
    assert (model, cost) == ("sim-small", 9_200)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"mission_id": " "}, "mission_id"),
        ({"task_id": ""}, "task_id"),
        ({"agent": "nobody"}, "agent"),
        ({"input_tokens": -1}, "input_tokens"),
        ({"output_tokens": -1}, "output_tokens"),
        ({"cache_read_tokens": -1}, "cache_read_tokens"),
        ({"reported_cost_micro_usd": -1}, "cost_micro_usd"),
        ({"started_at": NOW, "ended_at": NOW - timedelta(seconds=1)}, "ended_at"),
        ({"ended_at": NOW + timedelta(minutes=5, seconds=1)}, "ended_at"),
        ({"started_at": datetime(2026, 11, 5, 14, 0)}, "started_at"),
    ],
)
def test_invalid_events_are_rejected_and_store_nothing(
    runner, ledger, fresh_database_url, changes, field
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        runner.run(ledger.record(usage(**changes)))

    assert caught.value.field == field
    assert field in str(caught.value)
    assert _counts(fresh_database_url) == (0, 0)


def test_an_event_ending_within_the_clock_skew_is_accepted(runner, ledger) -> None:
    assert runner.run(ledger.record(usage(ended_at=NOW + timedelta(minutes=5)))) is True


def test_spend_period_is_half_open(runner, ledger) -> None:
    start, end = NOW - timedelta(hours=2), NOW - timedelta(hours=1)
    for key, ended_at in (
        ("before", start - timedelta(seconds=1)),
        ("at-start", start),
        ("at-end", end),
    ):
        runner.run(
            ledger.record(usage(key, started_at=ended_at - timedelta(minutes=1), ended_at=ended_at))
        )

    spend = runner.run(ledger.spend(group_by=[SpendDimension.AGENT], start=start, end=end))

    assert [(row.keys, row.events) for row in spend.rows] == [(("sim-fast",), 1)]


def test_spend_rejects_repeated_dimensions_and_reversed_periods(runner, ledger) -> None:
    with pytest.raises(InvalidInputError, match="group_by"):
        runner.run(ledger.spend(group_by=[SpendDimension.AGENT, SpendDimension.AGENT]))
    with pytest.raises(InvalidInputError, match="end"):
        runner.run(ledger.spend(group_by=[], start=NOW, end=NOW - timedelta(days=1)))


usage_events = st.lists(
    st.builds(
        dict,
        mission_id=st.sampled_from(["m-1", "m-2", "m-3"]),
        task_id=st.sampled_from(["t-1", "t-2"]),
        agent=st.sampled_from(["sim-fast", "sim-balanced", "sim-deep"]),
        model=st.sampled_from(["", "sim-large"]),
        input_tokens=st.integers(0, 10**7),
        output_tokens=st.integers(0, 10**6),
        reported_cost_micro_usd=st.none() | st.integers(0, 10**9),
    ),
    max_size=12,
)
dimensions = st.lists(
    st.sampled_from([SpendDimension.AGENT, SpendDimension.MISSION, SpendDimension.TASK, SpendDimension.MODEL]),
    unique=True,
    max_size=4,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=usage_events, group_by=dimensions)
def test_spend_rows_and_total_equal_the_sums_of_the_events(
    runner, ledger, fresh_database_url, events, group_by
) -> None:
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE usage_events, events")
    records = [usage(f"k-{i}", **fields) for i, fields in enumerate(events)]
    for record in records:
        runner.run(ledger.record(record))
    with psycopg.connect(fresh_database_url) as conn:
        stored = conn.execute(
            "SELECT agent, mission_id, task_id, model, cost_micro_usd FROM usage_events"
        ).fetchall()

    spend = runner.run(ledger.spend(group_by=group_by))

    column = {
        SpendDimension.AGENT: 0,
        SpendDimension.MISSION: 1,
        SpendDimension.TASK: 2,
        SpendDimension.MODEL: 3,
    }
    expected: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0])
    for row in stored:
        sums = expected[tuple(row[column[d]] for d in group_by)]
        sums[0] += row[4]
        sums[1] += 1
    assert {row.keys: [row.cost_micro_usd, row.events] for row in spend.rows} == expected
    assert spend.total_cost_micro_usd == sum(row[4] for row in stored)
    assert len(stored) == len(records)
    costs = [row.cost_micro_usd for row in spend.rows]
    assert costs == sorted(costs, reverse=True)
