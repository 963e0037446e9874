"""Spend reports: "what did my agents do this period, and what did it cost?" in one command.

`parse_period` turns what a user types (`last-7d`, `this-week`, `2026-11-01..2026-11-08`) into a
half-open UTC interval; `spend_frame` reads the usage events of that interval from PostgreSQL
with Polars and aggregates them there; `render_table` prints the result for `agentcoord report`.
Weeks are ISO weeks (Monday to Monday), days are UTC days, and every interval is [start, end).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import polars as pl
import psycopg

from agentcoord.errors import InvalidInputError
from agentcoord.money import MICRO_USD_PER_USD, format_usd
from agentcoord.store.usage import read_usage_frame
from agentcoord.usage import SpendDimension

PERIOD_FORMS = (
    "today",
    "yesterday",
    "this-week",
    "last-week",
    "last-<N>d (e.g. last-7d, last-30d)",
    "all",
    "YYYY-MM-DD..YYYY-MM-DD (end date exclusive)",
)
DIMENSIONS = tuple(d.value for d in SpendDimension)
METRIC_COLUMNS = ("cost_usd", "cost_micro_usd", "input_tokens", "output_tokens", "attempts")

_LAST_DAYS = re.compile(r"last-(\d{1,5})d")
_DATE_RANGE = re.compile(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})")
_DAY = timedelta(days=1)
_WEEK = timedelta(weeks=1)


@dataclass(frozen=True)
class Period:
    """A half-open interval [start, end) in UTC; None is an open bound. `label` is for people."""

    start: datetime | None
    end: datetime | None
    label: str


def parse_period(text: str, *, now: datetime) -> Period:
    """The period `text` names, relative to `now` (timezone-aware); see PERIOD_FORMS.

    Raises InvalidInputError listing the accepted forms when `text` is none of them.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    key = text.strip().lower()
    today = datetime.combine(now.date(), time(), tzinfo=UTC)
    this_monday = today - timedelta(days=today.weekday())
    if key == "all":
        return Period(None, None, "all time")
    if key == "today":
        return _period(key, today, today + _DAY)
    if key == "yesterday":
        return _period(key, today - _DAY, today)
    if key == "this-week":
        return _period(key, this_monday, this_monday + _WEEK)
    if key == "last-week":
        return _period(key, this_monday - _WEEK, this_monday)
    if match := _LAST_DAYS.fullmatch(key):
        days = int(match.group(1))
        if days == 0:
            raise InvalidInputError("last-<N>d needs N of at least 1", field="period")
        return _period(key, now - timedelta(days=days), now)
    if match := _DATE_RANGE.fullmatch(key):
        start, end = (_midnight(match.group(i)) for i in (1, 2))
        if end <= start:
            raise InvalidInputError(
                f"{text!r}: the end date must be after the start date", field="period"
            )
        return _period(key, start, end)
    raise InvalidInputError(
        f"unrecognised period {text!r}; accepted: {', '.join(PERIOD_FORMS)}", field="period"
    )


def parse_dimensions(text: str) -> tuple[str, ...]:
    """Comma-separated dimension names (`"agent,mission"`), validated, for `report --by`."""
    names = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    _check_dimensions(names)
    return names


def spend_frame(
    source: str | psycopg.Connection[Any],
    period: Period,
    *,
    by: Sequence[str] = ("agent", "mission"),
) -> pl.DataFrame:
    """Spend per group of `by` (names from DIMENSIONS) for usage events ending in `period`.

    `source` is a PostgreSQL URL or an open (synchronous) psycopg connection. One row per group,
    most expensive first: the `by` columns, then METRIC_COLUMNS (`cost_usd` is an exact Decimal,
    `attempts` counts usage events, one per agent attempt).
    """
    keys = tuple(by)
    _check_dimensions(keys)
    if isinstance(source, str):
        with psycopg.connect(source) as conn:
            events = read_usage_frame(conn, start=period.start, end=period.end)
    else:
        events = read_usage_frame(source, start=period.start, end=period.end)
    return (
        events.group_by(keys)
        .agg(
            pl.col("cost_micro_usd").sum(),
            pl.col("input_tokens").sum(),
            pl.col("output_tokens").sum(),
            pl.len().cast(pl.Int64).alias("attempts"),
        )
        .with_columns(cost_usd=pl.col("cost_micro_usd").cast(pl.Decimal(38, 6)) / MICRO_USD_PER_USD)
        .sort(["cost_micro_usd", *keys], descending=[True, *(False for _ in keys)])
        .select(*keys, *METRIC_COLUMNS)
    )


def render_table(df: pl.DataFrame) -> str:
    """A plain aligned text table of a `spend_frame` result, ending with a TOTAL row.

    Group names are left-aligned, numbers right-aligned, dollars shown with 4 decimals.
    """
    keys = [c for c in df.columns if c not in METRIC_COLUMNS]
    header = [*keys, "cost_usd", "input_tokens", "output_tokens", "attempts"]
    body = [
        [
            *(str(row[k]) for k in keys),
            format_usd(row["cost_micro_usd"]),
            f"{row['input_tokens']:,}",
            f"{row['output_tokens']:,}",
            f"{row['attempts']:,}",
        ]
        for row in df.iter_rows(named=True)
    ]
    total = [
        "TOTAL",
        *([""] * (len(keys) - 1)),
        format_usd(int(df["cost_micro_usd"].sum())),
        f"{int(df['input_tokens'].sum()):,}",
        f"{int(df['output_tokens'].sum()):,}",
        f"{int(df['attempts'].sum()):,}",
    ]
    widths = [max(len(line[i]) for line in (header, *body, total)) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        aligned = (
            cell.ljust(width) if i < len(keys) else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(aligned).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in body), rule, line(total)])


def _period(key: str, start: datetime, end: datetime) -> Period:
    return Period(start, end, f"{key} [{start:%Y-%m-%d %H:%M}, {end:%Y-%m-%d %H:%M}) UTC")


def _midnight(text: str) -> datetime:
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInputError(f"{text!r} is not a calendar date", field="period") from exc
    return datetime.combine(day, time(), tzinfo=UTC)


def _check_dimensions(names: Sequence[str]) -> None:
    if not names:
        raise InvalidInputError(f"choose at least one of {', '.join(DIMENSIONS)}", field="by")
    for name in names:
        if name not in DIMENSIONS:
            raise InvalidInputError(
                f"unknown dimension {name!r}; choose from {', '.join(DIMENSIONS)}", field="by"
            )
    if len(set(names)) != len(names):
        raise InvalidInputError("a dimension may appear only once", field="by")
