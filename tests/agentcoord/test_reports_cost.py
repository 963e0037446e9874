"""Cost reports: formats, charts, quality and counterfactuals, forecast, totals, CLI and Ray job."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from agentcoord.cli.main import main as cli_main
from agentcoord.cost_quality import counterfactuals, quality_frame
from agentcoord.report_formats import cost_report
from agentcoord.reports import (
    DIMENSIONS,
    Period,
    aggregate_spend,
    forecast_micro_usd,
    parse_period,
    spend_frame,
    usage_lazy,
    week_over_week,
)
from agentcoord.states import TaskState
from agentcoord.store.usage_frames import read_outcomes

NOW = datetime(2026, 11, 5, 12, tzinfo=UTC)  # Thursday noon of ISO week 2026-W45


def insert_usage(conn: psycopg.Connection, rows: list[dict]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO usage_events (idempotency_key, mission_id, task_id, attempt_id, agent, model,"
            " input_tokens, output_tokens, cost_micro_usd, reported_cost_micro_usd,"
            " computed_cost_micro_usd, started_at, ended_at) VALUES (%(key)s, %(mission)s, %(task)s,"
            " %(attempt)s, %(agent)s, 'sim-small', 10, 5, %(cost)s, %(reported)s, %(computed)s,"
            " %(ended)s, %(ended)s)",
            [{"mission": "m-1", "task": "t-1", "attempt": "", "agent": "sim-fast", "reported": None,
              "ended": NOW - timedelta(hours=1), **row, "computed": row.get("computed", row["cost"])}
             for row in rows],
        )


@pytest.fixture
def url(fresh_database_url: str) -> str:
    with psycopg.connect(fresh_database_url) as conn:
        insert_usage(conn, [
            {"key": "a", "cost": 1_000_000, "ended": datetime(2026, 11, 3, 9, tzinfo=UTC)},
            {"key": "b", "cost": 3_000_000, "agent": "sim-deep", "mission": "m-2",
             "ended": datetime(2026, 11, 4, 9, tzinfo=UTC), "reported": 3_000_000, "computed": 2_500_000},
            {"key": "c", "cost": 500_000, "ended": datetime(2026, 10, 28, 9, tzinfo=UTC)},
        ])
    return fresh_database_url


def test_discrepancy_between_reported_and_computed_cost_is_a_column(url: str) -> None:
    frame = spend_frame(url, parse_period("this-week", now=NOW), by=("agent",))

    assert frame.select("agent", "cost_micro_usd", "computed_cost_micro_usd", "discrepancy_micro_usd").rows() == [
        ("sim-deep", 3_000_000, 2_500_000, 500_000),
        ("sim-fast", 1_000_000, 1_000_000, 0),
    ]


def test_day_and_week_dimensions(url: str) -> None:
    frame = spend_frame(url, Period(None, None, "all"), by=("week", "day"))

    assert frame.select("week", "day", "cost_micro_usd").sort("day").rows() == [
        ("2026-W44", "2026-10-28", 500_000),
        ("2026-W45", "2026-11-03", 1_000_000),
        ("2026-W45", "2026-11-04", 3_000_000),
    ]


def test_week_over_week(url: str) -> None:
    frame = week_over_week(url, now=NOW, by=("agent",))

    assert frame.rows() == [
        ("sim-deep", 0, 3_000_000, 3_000_000, None),
        ("sim-fast", 500_000, 1_000_000, 500_000, 100.0),
    ]


@pytest.mark.parametrize("by", [(d,) for d in DIMENSIONS] + [("capability", "agent", "week")])
def test_reading_only_the_needed_columns_changes_no_result(fresh_database_url: str, by: tuple[str, ...]) -> None:
    attempts = [("a0", "t0", "sim-deep", "succeeded", "accepted", ["code", "review"]),
                ("a1", "t1", "sim-fast", "failed", "rejected", ["code"])]
    with psycopg.connect(fresh_database_url) as conn:
        _outcomes(conn, attempts)
        insert_usage(conn, [
            {"key": "a0", "attempt": "a0", "mission": "m-q", "task": "t0", "agent": "sim-deep", "cost": 7,
             "reported": 7, "computed": 5},
            {"key": "a1", "attempt": "a1", "mission": "m-q", "task": "t1", "agent": "sim-fast", "cost": 3,
             "ended": datetime(2026, 10, 28, 9, tzinfo=UTC)},
            {"key": "x", "cost": 11, "ended": datetime(2026, 11, 4, 23, 59, tzinfo=UTC)},
        ])
        period = Period(None, None, "all")
        everything = aggregate_spend(usage_lazy(conn, period), by).collect()

        assert spend_frame(conn, period, by=by).equals(everything)
    assert int(everything["cost_micro_usd"].sum()) == 21


def test_forecast_extrapolates_the_rate_so_far() -> None:
    week = parse_period("this-week", now=NOW)  # 3.5 of 7 days elapsed at Thursday noon

    assert forecast_micro_usd(4_000_000, week, now=NOW) == 8_000_000
    assert forecast_micro_usd(4_000_000, week, now=week.start) == 0
    assert forecast_micro_usd(4_000_000, week, now=week.end + timedelta(days=1)) == 4_000_000


@pytest.mark.parametrize("fmt", ["csv", "parquet", "markdown", "html", "table"])
def test_every_format_carries_the_same_totals(url: str, fmt: str) -> None:
    data = cost_report(url, period=parse_period("this-week", now=NOW), by=("agent", "mission"), fmt=fmt, now=NOW)

    if fmt in ("csv", "parquet"):
        frame = pl.read_csv(io.BytesIO(data)) if fmt == "csv" else pl.read_parquet(io.BytesIO(data))
        assert frame["cost_micro_usd"].sum() == 4_000_000
    else:
        text = data.decode()
        assert "$4.0000" in text  # the TOTAL row
        assert "Forecast to the end of the period at the rate so far: $8.0000." in text
    if fmt == "html":
        text = data.decode()
        assert text.count("<svg") == 2 and "Spend by day" in text
        assert "<script" not in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")


def _outcomes(conn: psycopg.Connection, attempts: list[tuple[str, str, str, str, str, list[str]]]) -> None:
    conn.execute("INSERT INTO missions (mission_id, name, goal, state) VALUES ('m-q', 'q', 'q', 'completed')")
    tasks = {}
    for _, task, _, _, state, caps in attempts:
        tasks[task] = (state, caps)
    for position, (task, (state, caps)) in enumerate(tasks.items()):
        conn.execute(
            "INSERT INTO tasks (mission_id, task_id, position, description, capabilities, depends_on,"
            " action, state, finished_at) VALUES ('m-q', %s, %s, '', %s, '{}', %s, %s, %s)",
            (task, position, caps, Jsonb({}), state, datetime.now(UTC) if TaskState(state).is_terminal else None),
        )
    for number, (attempt, task, agent, outcome, _, _) in enumerate(attempts):
        conn.execute(
            "INSERT INTO attempts (attempt_id, mission_id, task_id, number, agent, outcome)"
            " VALUES (%s, 'm-q', %s, %s, %s, %s)",
            (attempt, task, number, agent, outcome),
        )


def test_quality_rework_and_counterfactual_savings(fresh_database_url: str) -> None:
    # sim-deep: 4 attempts at "code", $1 each, all accepted. sim-fast: 4 attempts at $0.10,
    # half rejected. Expected cost per accepted result: deep $1.00, fast $0.20.
    attempts = [(f"d{i}", f"td{i}", "sim-deep", "succeeded", "accepted", ["code"]) for i in range(4)]
    attempts += [(f"f{i}", f"tf{i}", "sim-fast", "succeeded", "accepted" if i < 2 else "rejected", ["code"])
                 for i in range(4)]
    with psycopg.connect(fresh_database_url) as conn:
        _outcomes(conn, attempts)
        insert_usage(conn, [{"key": a, "attempt": a, "mission": "m-q", "task": t, "agent": agent,
                             "cost": 1_000_000 if agent == "sim-deep" else 100_000}
                            for a, t, agent, *_ in attempts])
        quality = quality_frame(usage_lazy(conn, Period(None, None, "all")), read_outcomes(conn).lazy())

    rows = {r["agent"]: r for r in quality.iter_rows(named=True)}
    assert (rows["sim-deep"]["accepted_tasks"], rows["sim-deep"]["cost_per_accepted_task_micro_usd"]) == (4, 1_000_000)
    assert (rows["sim-fast"]["accepted_tasks"], rows["sim-fast"]["rework_micro_usd"]) == (2, 200_000)
    assert rows["sim-fast"]["acceptance_rate"] == 0.5
    saving = counterfactuals(quality).rows(named=True)
    assert saving == [{
        "capability": "code", "agent": "sim-deep", "alternative": "sim-fast", "accepted_tasks": 4,
        "expected_micro_usd": 1_000_000, "alternative_expected_micro_usd": 200_000,
        "saving_micro_usd": 3_200_000,
    }]


events = st.lists(
    st.fixed_dictionaries({
        "agent": st.sampled_from(["sim-fast", "sim-deep"]),
        "mission": st.sampled_from(["m-1", "m-2", "m-3"]),
        "cost": st.integers(0, 10**10),
        "ended": st.datetimes(min_value=datetime(2026, 10, 20), max_value=datetime(2026, 11, 12),
                              timezones=st.just(UTC)),
    }),
    max_size=30,
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=events, by=st.sampled_from([("agent",), ("mission", "agent"), ("day",), ("week", "model")]),
       period=st.sampled_from(["this-week", "last-week", "all", "2026-10-25..2026-11-04"]))
def test_report_totals_equal_the_sum_of_the_events(fresh_database_url, rows, by, period) -> None:
    with psycopg.connect(fresh_database_url) as conn:
        conn.execute("TRUNCATE usage_events")
        insert_usage(conn, [{"key": f"k-{i}", **row} for i, row in enumerate(rows)])
    bounds = parse_period(period, now=NOW)
    inside = [r for r in rows if (bounds.start is None or r["ended"] >= bounds.start)
              and (bounds.end is None or r["ended"] < bounds.end)]

    frame = spend_frame(fresh_database_url, bounds, by=by)

    assert int(frame["cost_micro_usd"].sum()) == sum(r["cost"] for r in inside)
    assert int(frame["attempts"].sum()) == len(inside)


def test_cli_report_writes_files_and_rejects_bad_input(url: str, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    out = tmp_path / "r.html"

    assert cli_main(["report", "--period", "all", "--by", "agent", "--format", "html", "--output", str(out)]) == 0
    assert "<svg" in out.read_text()
    assert cli_main(["report", "--period", "next-year"]) == 2
    assert cli_main(["report", "--period", "all", "--format", "parquet"]) == 2
    assert cli_main(["report", "--period", "all", "--format", "pdf"]) == 2
    assert "unknown format 'pdf'" in capsys.readouterr().err


def test_ray_job_writes_every_format(url: str, tmp_path: Path, ray_cluster, base_config) -> None:
    from agentcoord.jobs.cost_report import main

    code = main(["--period", "all", "--by", "agent", "--formats", "html,csv,parquet",
                 "--output-dir", str(tmp_path)], config=base_config.with_database_url(url))

    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cost-all-agent.csv", "cost-all-agent.html", "cost-all-agent.parquet"]
    assert pl.read_parquet(tmp_path / "cost-all-agent.parquet")["cost_micro_usd"].sum() == 4_500_000
