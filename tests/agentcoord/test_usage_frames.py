"""Usage as Arrow: the ADBC read and the in-transaction COPY read give the same table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import psycopg
import pytest

from agentcoord.store import usage_frames
from agentcoord.store.usage_frames import (
    USAGE_FRAME_SCHEMA,
    read_usage_arrow,
    read_usage_frame,
    scan_usage_arrow,
    usage_frame_from_arrow,
)

START = datetime(2026, 11, 2, tzinfo=UTC)


def _insert(conn: psycopg.Connection, key: str, ended: datetime, reported: int | None) -> None:
    conn.execute(
        "INSERT INTO usage_events (idempotency_key, mission_id, task_id, attempt_id, agent, model,"
        " input_tokens, output_tokens, cost_micro_usd, reported_cost_micro_usd,"
        " computed_cost_micro_usd, started_at, ended_at)"
        " VALUES (%s, 'm-1', 't-1', %s, 'sim-fast', 'sim-small', 10, 20, 30, %s, 25, %s, %s)",
        (key, f"a-{key}", reported, ended - timedelta(seconds=1), ended),
    )


@pytest.fixture
def url(fresh_database_url: str) -> str:
    with psycopg.connect(fresh_database_url) as conn:
        _insert(conn, "inside", START + timedelta(microseconds=123_457), 40)
        _insert(conn, "no-report", START + timedelta(days=1), None)
        _insert(conn, "at-end", START + timedelta(days=7), 50)
    return fresh_database_url


def test_idle_and_in_transaction_reads_agree(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    opened = []
    connect = usage_frames.adbc.connect
    monkeypatch.setattr(usage_frames.adbc, "connect", lambda *a, **k: opened.append(1) or connect(*a, **k))
    end = START + timedelta(days=7)

    with psycopg.connect(url) as conn:
        by_adbc = read_usage_arrow(conn, start=START, end=end)
        conn.execute("SELECT 1")  # now inside a transaction
        by_copy = read_usage_arrow(conn, start=START, end=end)

    assert opened == [1]
    assert by_adbc.equals(by_copy)
    assert by_adbc.column_names == list(USAGE_FRAME_SCHEMA)
    assert by_adbc.column("reported_cost_micro_usd").to_pylist() == [40, None]
    assert by_adbc.column("ended_at").to_pylist() == [
        START + timedelta(microseconds=123_457), START + timedelta(days=1),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("start", "end", "keys"),
    [
        (None, None, 3),
        (START + timedelta(days=1), None, 2),
        (None, START + timedelta(days=1), 1),
        (datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 2, tzinfo=UTC), 0),
    ],
)
def test_open_and_empty_periods(url: str, start, end, keys: int) -> None:
    with psycopg.connect(url) as conn:
        frame = read_usage_frame(conn, start=start, end=end)
        conn.execute("SELECT 1")
        in_transaction = read_usage_frame(conn, start=start, end=end)

    assert frame.height == keys
    assert frame.schema == dict(USAGE_FRAME_SCHEMA)
    assert frame.equals(in_transaction)


def test_a_read_of_some_columns_is_those_columns_of_the_full_read(url: str) -> None:
    columns = ("ended_at", "agent", "cost_micro_usd", "reported_cost_micro_usd")

    with psycopg.connect(url) as conn:
        full = read_usage_frame(conn, start=None, end=None)
        some = read_usage_frame(conn, start=None, end=None, columns=columns)
        conn.execute("SELECT 1")
        some_in_transaction = read_usage_frame(conn, start=None, end=None, columns=columns)

    assert some.columns == ["agent", "cost_micro_usd", "reported_cost_micro_usd", "ended_at"]
    assert some.equals(full.select(some.columns))
    assert some_in_transaction.equals(some)


def test_unknown_columns_are_refused(url: str) -> None:
    with psycopg.connect(url) as conn, pytest.raises(ValueError, match="mission_id"):
        read_usage_arrow(conn, start=None, end=None, columns=("agent", "mission_id"))


def test_a_scan_of_the_read_answers_as_the_converted_frame(url: str) -> None:
    with psycopg.connect(url) as conn:
        table = read_usage_arrow(conn, start=None, end=None)
    frame = usage_frame_from_arrow(table)
    scan = scan_usage_arrow(table)

    assert scan.collect().equals(frame)
    assert scan.collect_schema() == frame.schema
    late = pl.col("ended_at") > START + timedelta(hours=1)
    assert scan.filter(late).select("cost_micro_usd", "task").collect().equals(
        frame.filter(late).select("cost_micro_usd", "task")
    )
    assert scan.head(1).collect().equals(frame.head(1))
    empty = scan_usage_arrow(table.slice(0, 0)).group_by("agent").agg(pl.len()).collect()
    assert empty.height == 0
