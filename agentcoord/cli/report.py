"""`agentcoord report`: spend for a period, grouped, read straight from PostgreSQL with Polars."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from agentcoord.cli.output import say
from agentcoord.config import Config
from agentcoord.reports import (
    PERIOD_FORMS,
    parse_dimensions,
    parse_period,
    render_table,
    spend_frame,
)
from agentcoord.stack import resolve_database


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    report = subparsers.add_parser("report", help="spend table for a period, grouped by agent/mission/task/model")
    report.add_argument("--period", default="last-7d", help=f"one of: {', '.join(PERIOD_FORMS)} (default last-7d)")
    report.add_argument("--by", default="agent,mission", help="comma-separated: agent, mission, task, model")
    report.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace, config: Config) -> int:
    period = parse_period(args.period, now=datetime.now(UTC))
    by = parse_dimensions(args.by)
    config, embedded = resolve_database(config)
    try:
        assert config.database.url
        frame = spend_frame(config.database.url, period, by=by)
    finally:
        if embedded is not None:
            embedded.stop()
    say(f"spend {period.label}, by {', '.join(by)}")
    say(render_table(frame))
    return 0
