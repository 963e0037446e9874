"""Usage as Arrow: the ADBC read and the in-transaction COPY read give the same table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from agentcoord.store import usage_frames
from agentcoord.store.usage_frames import USAGE_FRAME_SCHEMA, read_usage_arrow, read_usage_frame

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
