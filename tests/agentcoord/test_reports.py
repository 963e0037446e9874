"""Spend reports: period parsing, Polars aggregation equal to SQL sums, and the text table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import polars as pl
import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentcoord.errors import InvalidInputError
from agentcoord.reports import Period, parse_dimensions, parse_period, render_table, spend_frame

NOW = datetime(2026, 11, 5, 14, 30, tzinfo=UTC)  # a Thursday in ISO week 2026-W45


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("today", utc(2026, 11, 5), utc(2026, 11, 6)),
        ("yesterday", utc(2026, 11, 4), utc(2026, 11, 5)),
        ("this-week", utc(2026, 11, 2), utc(2026, 11, 9)),
        ("last-week", utc(2026, 10, 26), utc(2026, 11, 2)),
        ("last-7d", utc(2026, 10, 29, 14, 30), NOW),
        (" Last-30D ", utc(2026, 10, 6, 14, 30), NOW),
        ("all", None, None),
        ("2026-11-01..2026-11-08", utc(2026, 11, 1), utc(2026, 11, 8)),
    ],
)
def test_parse_period_forms(text: str, start: datetime | None, end: datetime | None) -> None:
    period = parse_period(text, now=NOW)

    assert (period.start, period.end) == (start, end)
    assert period.label


def test_periods_are_utc_whatever_the_zone_of_now() -> None:
    # 01:00 on 3 Nov in UTC+3 is still 2 Nov in UTC.
    period = parse_period(
        "today", now=datetime(2026, 11, 3, 1, 0, tzinfo=timezone(timedelta(hours=3)))
    )

    assert (period.start, period.end) == (utc(2026, 11, 2), utc(2026, 11, 3))
    assert period.label == "today [2026-11-02 00:00, 2026-11-03 00:00) UTC"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("next-week", "accepted: today, yesterday, this-week, last-week, last-<N>d"),
        ("", "accepted:"),
        ("last-0d", "at least 1"),
        ("2026-11-08..2026-11-01", "end date must be after"),
        ("2026-02-30..2026-03-02", "not a calendar date"),
    ],
)
def test_parse_period_rejects_bad_text(text: str, problem: str) -> None:
    with pytest.raises(InvalidInputError, match=problem) as caught:
        parse_period(text, now=NOW)
    assert caught.value.field == "period"


@given(
    now=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    )
)
def test_weeks_are_iso_weeks_that_tile_time(now: datetime) -> None:
    this_week = parse_period("this-week", now=now)
    last_week = parse_period("last-week", now=now)

    assert this_week.start is not None and this_week.end is not None
    assert this_week.start.isoweekday() == 1 and this_week.start.time() == datetime.min.time()
    assert this_week.start <= now < this_week.end
    assert this_week.end - this_week.start == timedelta(weeks=1)
    assert last_week.end == this_week.start
    assert last_week.start == this_week.start - timedelta(weeks=1)


def test_parse_dimensions() -> None:
    assert parse_dimensions("agent, Mission") == ("agent", "mission")
    for bad in ("", "agent,agent", "agent,team"):
        with pytest.raises(InvalidInputError) as caught:
            parse_dimensions(bad)
        assert caught.value.field == "by"


ROWS = [
    # key, mission, task, agent, model, input, output, cost (micro-USD), ended_at
    ("k1", "m-1", "t-1", "sim-fast", "sim-small", 1_000, 100, 9_200, utc(2026, 11, 3, 9)),
    ("k2", "m-1", "t-2", "sim-fast", "sim-small", 2_000, 200, 1_234_567, utc(2026, 11, 4, 9)),
    ("k3", "m-1", "t-3", "sim-deep", "sim-large", 3_000, 300, 500_001, utc(2026, 11, 4, 10)),
    ("k4", "m-2", "t-1", "sim-fast", "sim-small", 4_000, 400, 7, utc(2026, 11, 5, 9)),
    ("k5", "m-2", "t-1", "sim-fast", "sim-small", 5_000, 500, 42_000_000, utc(2026, 10, 1, 9)),
]


@pytest.fixture
def usage_url(fresh_database_url: str) -> str:
    with psycopg.connect(fresh_database_url) as conn:
        conn.cursor().executemany(
            "INSERT INTO usage_events (idempotency_key, mission_id, task_id, agent, model,"
            " input_tokens, output_tokens, cost_micro_usd, started_at, ended_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(*row[:8], row[8] - timedelta(minutes=5), row[8]) for row in ROWS],
        )
    return fresh_database_url


def test_spend_frame_totals_equal_the_sql_sums(usage_url: str) -> None:
    period = parse_period("this-week", now=NOW)

    frame = spend_frame(usage_url, period, by=("agent", "mission"))

    with psycopg.connect(usage_url) as conn:
        expected = conn.execute(
            "SELECT agent, mission_id, sum(cost_micro_usd)::bigint,"
            " sum(input_tokens)::bigint, count(*) FROM usage_events"
            " WHERE ended_at >= %s AND ended_at < %s GROUP BY 1, 2 ORDER BY 3 DESC",
            (period.start, period.end),
        ).fetchall()
    got = frame.select("agent", "mission", "cost_micro_usd", "input_tokens", "attempts").rows()
    assert got == expected
    assert frame["cost_micro_usd"].sum() == 1_234_567 + 500_001 + 9_200 + 7
    assert frame.row(0, named=True)["cost_usd"] == Decimal("1.243767")
    assert sum(frame["cost_usd"].to_list()) == Decimal("1.743775")


def test_spend_frame_reads_through_an_open_connection_and_any_grouping(usage_url: str) -> None:
    with psycopg.connect(usage_url) as conn:
        frame = spend_frame(conn, Period(None, None, "all time"), by=("model",))

    assert frame.select("model", "attempts").rows() == [("sim-small", 4), ("sim-large", 1)]


def test_render_table_aligns_columns_and_totals(usage_url: str) -> None:
    frame = spend_frame(usage_url, parse_period("this-week", now=NOW), by=("agent", "mission"))

    lines = render_table(frame).splitlines()

    assert lines[0].split() == [
        "agent",
        "mission",
        "cost_usd",
        "computed_usd",
        "discrepancy_usd",
        "input_tokens",
        "output_tokens",
        "attempts",
    ]
    assert lines[2].split() == ["sim-fast", "m-1", "$1.2438", "$0.0000", "$0.0000", "3,000", "300", "2"]
    assert lines[-1].split() == ["TOTAL", "$1.7438", "$0.0000", "$0.0000", "10,000", "1,000", "4"]
    assert set(lines[1]) == {"-", " "} and lines[-2] == lines[1]
    # Numbers are right-aligned: every row ends its cost column at the same offset.
    cost_ends = {
        line.index("$") + len(line.split("$")[1].split()[0]) + 1 for line in lines if "$" in line
    }
    assert len(cost_ends) == 1


def test_an_empty_period_renders_a_zero_total(usage_url: str) -> None:
    frame = spend_frame(usage_url, parse_period("2020-01-01..2020-02-01", now=NOW), by=("task",))

    assert frame.height == 0
    assert frame.schema["cost_usd"] == pl.Decimal(38, 6)
    assert render_table(frame).splitlines()[-1].split() == ["TOTAL", "$0.0000", "$0.0000", "$0.0000", "0", "0", "0"]
