"""`agentcoord report`: spend for a period, grouped, read from PostgreSQL as Arrow into Polars.

`--format table|csv|parquet|markdown|html` (HTML has inline SVG charts) and `--output FILE`;
`--quality` adds cost per accepted task, rework spend and counterfactual savings per agent and
capability.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from agentcoord.cli.output import say, table
from agentcoord.config import Config
from agentcoord.cost_quality import QUALITY_USAGE_COLUMNS, counterfactuals, quality_frame
from agentcoord.money import format_usd
from agentcoord.report_formats import FORMATS, check_format, cost_report, write_output
from agentcoord.reports import (
    DIMENSIONS,
    PERIOD_FORMS,
    Period,
    parse_dimensions,
    parse_period,
    usage_lazy,
)
from agentcoord.stack import resolve_database
from agentcoord.store.usage_frames import read_outcomes


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    report = subparsers.add_parser("report", help="spend for a period, grouped, as a table or file")
    report.add_argument("--period", default="last-7d", help=f"one of: {', '.join(PERIOD_FORMS)} (default last-7d)")
    report.add_argument("--by", default="agent,mission", help=f"comma-separated: {', '.join(DIMENSIONS)}")
    report.add_argument("--format", default="table", help=f"one of: {', '.join(FORMATS)} (default table)")
    report.add_argument("--output", type=Path, help="write to FILE instead of standard output")
    report.add_argument("--quality", action="store_true",
                        help="also show cost per accepted task, rework and counterfactual savings")
    report.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace, config: Config) -> int:
    now = datetime.now(UTC)
    period = parse_period(args.period, now=now)
    by = parse_dimensions(args.by)
    fmt = check_format(args.format, output=args.output)
    config, embedded = resolve_database(config)
    try:
        assert config.database.url
        with psycopg.connect(config.database.url) as conn:
            data = cost_report(conn, period=period, by=by, fmt=fmt, now=now)
            quality = _quality_text(conn, period) if args.quality else ""
    finally:
        if embedded is not None:
            embedded.stop()
    if args.output is not None:
        write_output(data, args.output)
        say(f"wrote {fmt} report to {args.output}")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    if quality:
        say(quality)
    return 0


def _quality_text(conn: psycopg.Connection[Any], period: Period) -> str:
    usage = usage_lazy(conn, period, with_capability=False, columns=QUALITY_USAGE_COLUMNS)
    quality = quality_frame(usage, read_outcomes(conn).lazy())
    rows = [
        [r["agent"], r["capability"], str(r["attempts"]), str(r["accepted_tasks"]),
         f"{r['acceptance_rate']:.0%}", format_usd(r["cost_micro_usd"]), format_usd(r["rework_micro_usd"]),
         format_usd(r["cost_per_accepted_task_micro_usd"]) if r["cost_per_accepted_task_micro_usd"] is not None else "-"]
        for r in quality.iter_rows(named=True)
    ]
    savings = [
        [r["capability"], r["agent"], r["alternative"], format_usd(r["saving_micro_usd"])]
        for r in counterfactuals(quality).iter_rows(named=True)
    ]
    return "\n".join([
        "", "cost of quality",
        table(["agent", "capability", "attempts", "accepted", "rate", "cost", "rework", "per accepted"], rows),
        "", "counterfactuals (at observed acceptance rates)",
        table(["capability", "instead of", "use", "would save"], savings) if savings else "no cheaper alternative observed",
    ])
