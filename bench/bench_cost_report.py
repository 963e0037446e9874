"""Weekly spend report: our Polars path vs pandas vs SQL GROUP BY in PostgreSQL, one run.

    python bench/bench_cost_report.py                       # 1M events (about a minute)
    python bench/bench_cost_report.py --events 10000000     # the issue's size

Uses DATABASE_URL, else an embedded PostgreSQL in a temp dir (or in --data-dir, kept between
runs: a table that already holds exactly --events rows, all in the reported week, is not filled
again); fills usage_events with
generate_series (every event inside the reported week), then scans it once unmeasured (warm
pages for every method). Each method runs in its own process (so peak RSS is its own) and
produces spend by agent and mission for last week:
  polars         what `spend_frame` does: read_usage_arrow of the columns the grouping uses
                 (ADBC: binary -> Arrow in C++), then the Polars lazy group-by over
                 scan_usage_arrow (strings converted batch by batch, counted in the aggregate)
  polars-csv     the same, read the way a connection inside a transaction reads (COPY -> CSV ->
                 pyarrow)
  polars-before  the path before column selection: every column read, the whole table
                 converted with pl.from_arrow (counted in the aggregate), then the same group-by
  spend_frame    agentcoord.reports.spend_frame itself, end to end (shown as aggregate)
  pandas         the same read as polars, then to_pandas() and DataFrame.groupby
  sql            GROUP BY in PostgreSQL, rows fetched by psycopg
Prints seconds (read and aggregate separately where they are separate), peak RSS, and ratios.
Asserts only that all methods agree on the total; nothing about time.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from agentcoord.reports import aggregate_spend, parse_period, spend_frame, usage_columns
from agentcoord.store import migrate, start_embedded_postgres
from agentcoord.store.usage_frames import read_usage_arrow, scan_usage_arrow, usage_frame_from_arrow

NOW = datetime.now(UTC)
KEYS = ["agent", "mission"]
COLUMNS = usage_columns(KEYS)  # what spend_frame reads for this grouping
METHODS = ("polars", "polars-csv", "polars-before", "spend_frame", "pandas", "sql")


def fill(url: str, n: int) -> None:
    week = parse_period("last-week", now=NOW)
    with psycopg.connect(url, autocommit=True) as conn:
        counts = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE ended_at >= %s AND ended_at < %s) FROM usage_events",
            (week.start, week.end),
        ).fetchone()
        if counts == (n, n):
            conn.execute("SELECT count(*), sum(cost_micro_usd) FROM usage_events").fetchone()
            return  # filled by an earlier run; still scanned once so pages are warm
        conn.execute("TRUNCATE usage_events")
        conn.execute(
            "INSERT INTO usage_events (idempotency_key, mission_id, task_id, agent, model,"
            " input_tokens, output_tokens, cost_micro_usd, computed_cost_micro_usd, started_at, ended_at)"
            " SELECT 'k-' || i, 'm-' || (i %% 500), 't-' || (i %% 5000),"
            " (ARRAY['sim-fast','sim-balanced','sim-deep'])[1 + i %% 3], 'sim-small',"
            " 1000 + i %% 997, 200 + i %% 89, 1000 + i %% 7919, 1000 + i %% 7919,"
            " %(start)s + (i %% 604000) * interval '1 second', %(start)s + (i %% 604000) * interval '1 second'"
            " FROM generate_series(1, %(n)s) AS i",
            {"start": week.start, "n": n},
        )
        conn.execute("VACUUM ANALYZE usage_events")
        # One unmeasured full scan, so the first method measured does not pay for cold pages.
        conn.execute("SELECT count(*), sum(cost_micro_usd) FROM usage_events").fetchone()


def run_polars(url: str, *, csv: bool = False, before: bool = False) -> dict[str, Any]:
    import polars as pl

    period = parse_period("last-week", now=NOW)
    began = time.perf_counter()
    with psycopg.connect(url) as conn:
        if csv:
            conn.execute("SELECT 1")  # inside a transaction: the COPY -> CSV read
        columns = None if before else COLUMNS
        table = read_usage_arrow(conn, start=period.start, end=period.end, columns=columns)
    read = time.perf_counter() - began
    began = time.perf_counter()
    events = usage_frame_from_arrow(table).lazy() if before else scan_usage_arrow(table)
    result = aggregate_spend(events, KEYS).collect()
    aggregate = time.perf_counter() - began
    assert isinstance(result, pl.DataFrame)
    return {"read": read, "aggregate": aggregate, "total": int(result["cost_micro_usd"].sum()), "groups": result.height}


def run_spend_frame(url: str) -> dict[str, Any]:
    began = time.perf_counter()
    result = spend_frame(url, parse_period("last-week", now=NOW), by=KEYS)
    return {"read": 0.0, "aggregate": time.perf_counter() - began,
            "total": int(result["cost_micro_usd"].sum()), "groups": result.height}


def run_pandas(url: str) -> dict[str, Any]:
    period = parse_period("last-week", now=NOW)
    began = time.perf_counter()
    with psycopg.connect(url) as conn:
        table = read_usage_arrow(conn, start=period.start, end=period.end, columns=COLUMNS)
    read = time.perf_counter() - began
    began = time.perf_counter()
    df = table.to_pandas()
    df["discrepancy_micro_usd"] = df["reported_cost_micro_usd"] - df["computed_cost_micro_usd"]
    result = (
        df.groupby(KEYS)
        .agg(cost_micro_usd=("cost_micro_usd", "sum"), input_tokens=("input_tokens", "sum"),
             output_tokens=("output_tokens", "sum"), attempts=("cost_micro_usd", "size"),
             computed_cost_micro_usd=("computed_cost_micro_usd", "sum"),
             reported_cost_micro_usd=("reported_cost_micro_usd", "sum"),
             discrepancy_micro_usd=("discrepancy_micro_usd", "sum"))
        .reset_index()
        .sort_values(["cost_micro_usd", *KEYS], ascending=[False, True, True])
    )
    aggregate = time.perf_counter() - began
    return {"read": read, "aggregate": aggregate, "total": int(result["cost_micro_usd"].sum()), "groups": len(result)}


def run_sql(url: str) -> dict[str, Any]:
    period = parse_period("last-week", now=NOW)
    began = time.perf_counter()
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT agent, mission_id, sum(cost_micro_usd)::bigint, sum(input_tokens)::bigint,"
            " sum(output_tokens)::bigint, count(*), sum(computed_cost_micro_usd)::bigint,"
            " coalesce(sum(reported_cost_micro_usd), 0)::bigint,"
            " coalesce(sum(reported_cost_micro_usd - computed_cost_micro_usd), 0)::bigint"
            " FROM usage_events WHERE ended_at >= %s AND ended_at < %s"
            " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
            (period.start, period.end),
        ).fetchall()
    return {"read": 0.0, "aggregate": time.perf_counter() - began, "total": sum(r[2] for r in rows), "groups": len(rows)}


def _child(name: str, url: str, queue: Any) -> None:
    methods = {"polars": run_polars, "polars-csv": lambda u: run_polars(u, csv=True),
               "polars-before": lambda u: run_polars(u, before=True), "spend_frame": run_spend_frame,
               "pandas": run_pandas, "sql": run_sql}
    result = methods[name](url)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(result)


def measure(name: str, url: str) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_child, args=(name, url, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--data-dir", type=Path, help="embedded PostgreSQL data dir to keep and reuse")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of every method, in turn; medians shown")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL")
    embedded = None
    if not url:
        embedded = start_embedded_postgres(args.data_dir or Path(tempfile.mkdtemp()) / "pg")
        url = embedded.url
    rounds: list[dict[str, dict[str, Any]]] = []
    try:
        migrate(url)
        fill(url, args.events)
        for _ in range(args.rounds):
            rounds.append({name: measure(name, url) for name in METHODS})
            rounds[-1]["load"] = {"1 min": os.getloadavg()[0]}
    finally:
        if embedded is not None:
            embedded.stop()
    assert len({r["total"] for one in rounds for n, r in one.items() if n != "load"}) == 1, rounds
    results = {
        name: {key: statistics.median(one[name][key] for one in rounds) for key in rounds[0][name]}
        for name in METHODS
    }
    print(f"weekly report (by agent, mission) over {args.events:,} usage events, {results['sql']['groups']:.0f} groups,"
          f" medians of {args.rounds} round(s)")
    print(f"{'path':<13} {'read s':>8} {'aggregate s':>12} {'total s':>8} {'peak RSS MB':>12}")
    for name, r in results.items():
        print(f"{name:<13} {r['read']:8.2f} {r['aggregate']:12.3f} {r['read'] + r['aggregate']:8.2f} {r['peak_rss_mb']:12.0f}")
    if args.rounds > 1:
        for key in ("aggregate", "read"):
            print(f"{key} s per round: " + "; ".join(
                f"{name} {' '.join(f'{one[name][key]:.2f}' for one in rounds)}" for name in METHODS
                if key == "aggregate" or results[name]["read"]))
        print("load average (1 min) after each round: " + " ".join(f"{one['load']['1 min']:.1f}" for one in rounds))
    polars, pandas, sql = results["polars"], results["pandas"], results["sql"]
    ratios = [one["pandas"]["aggregate"] / one["polars"]["aggregate"] for one in rounds]
    print(f"aggregate: polars is {statistics.median(ratios):.1f}x faster than pandas"
          f" (median of per-round ratios {' '.join(f'{x:.1f}' for x in ratios)})")
    before = results["polars-before"]
    print(f"before column selection: aggregate {before['aggregate']:.3f} s, read {before['read']:.2f} s")
    print(f"read: ADBC is {results['polars-csv']['read'] / polars['read']:.2f}x faster than COPY -> CSV")
    polars_s, pandas_s = polars["read"] + polars["aggregate"], pandas["read"] + pandas["aggregate"]
    print(f"end to end: pandas {pandas_s:.2f} s / polars {polars_s:.2f} s = {pandas_s / polars_s:.2f}x;"
          f" SQL GROUP BY {sql['aggregate']:.2f} s (polars / SQL = {polars_s / sql['aggregate']:.2f})")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
          f" on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
