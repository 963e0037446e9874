"""Spend reports: "what did my agents do this period, and what did it cost?" in one command.

`parse_period` turns what a user types (`last-7d`, `this-week`, `2026-11-01..2026-11-08`) into a
half-open UTC interval; `usage_lazy` reads the usage events of that interval from PostgreSQL as
Arrow into a Polars lazy frame with every dimension as a column; `spend_frame` aggregates it;
`week_over_week` and `forecast_micro_usd` compare and extrapolate; `render_table` prints a result
for `agentcoord report`. Weeks are ISO weeks (Monday to Monday), days are UTC days, and every
interval is [start, end).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import polars as pl
import psycopg

from agentcoord.errors import InvalidInputError
from agentcoord.money import MICRO_USD_PER_USD, format_usd
from agentcoord.store.usage_frames import (
    USAGE_FRAME_SCHEMA,
    read_task_capabilities,
    read_usage_arrow,
    scan_usage_arrow,
)
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
METRIC_COLUMNS = (
    "cost_usd",
    "cost_micro_usd",
    "input_tokens",
    "output_tokens",
    "attempts",
    "computed_cost_micro_usd",
    "reported_cost_micro_usd",
    "discrepancy_micro_usd",
)

# The usage columns each dimension is made from, and those every spend aggregation sums.
_DIMENSION_SOURCES = {
    "agent": ("agent",),
    "mission": ("mission",),
    "task": ("task",),
    "model": ("model",),
    "capability": ("mission", "task"),
    "day": ("ended_at",),
    "week": ("ended_at",),
}
_SPEND_SOURCES = (
    "cost_micro_usd",
    "input_tokens",
    "output_tokens",
    "computed_cost_micro_usd",
    "reported_cost_micro_usd",
)

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


def usage_lazy(
    conn: psycopg.Connection[Any],
    period: Period,
    *,
    with_capability: bool = True,
    columns: Collection[str] | None = None,
) -> pl.LazyFrame:
    """The usage events of `period` as a lazy frame with a column per dimension in DIMENSIONS.

    Adds `capability` (the task's sorted capabilities joined with "+", "" outside any task),
    `day` (YYYY-MM-DD) and `week` (YYYY-Www, ISO) to the USAGE_FRAME_SCHEMA columns. With
    `columns` (USAGE_FRAME_SCHEMA names, e.g. from `usage_columns`) only those are read from
    PostgreSQL; `day` and `week` then exist only when `ended_at` is read, and `capability` needs
    `mission` and `task`.
    """
    table = read_usage_arrow(conn, start=period.start, end=period.end, columns=columns)
    events = scan_usage_arrow(table)
    read = set(USAGE_FRAME_SCHEMA if columns is None else columns)
    if with_capability:
        tasks = read_task_capabilities(conn).lazy()
        events = events.join(tasks, on=["mission", "task"], how="left").with_columns(
            pl.col("capability").fill_null("")
        )
    else:
        events = events.with_columns(capability=pl.lit(""))
    if "ended_at" not in read:
        return events
    return events.with_columns(
        day=pl.col("ended_at").dt.strftime("%Y-%m-%d"),
        week=pl.col("ended_at").dt.strftime("%G-W%V"),
    )


def usage_columns(by: Sequence[str], *, extra: Sequence[str] = ()) -> tuple[str, ...]:
    """The USAGE_FRAME_SCHEMA columns a spend aggregation by `by` (DIMENSIONS) reads, plus `extra`.

    Reading only these matters at millions of events: every string column read costs a
    transfer from PostgreSQL and a copy into Polars' string layout.
    """
    needed = {*extra, *_SPEND_SOURCES, *(c for d in by for c in _DIMENSION_SOURCES[d])}
    return tuple(name for name in USAGE_FRAME_SCHEMA if name in needed)


def aggregate_spend(events: pl.LazyFrame, by: Sequence[str]) -> pl.LazyFrame:
    """Spend per group of `by` over a `usage_lazy` frame: the `by` columns, then METRIC_COLUMNS.

    `discrepancy_micro_usd` is what agents reported minus what the price table computes, over
    the events that reported a cost. Most expensive first.
    """
    keys = list(by)
    reported = pl.col("reported_cost_micro_usd")
    return (
        events.group_by(keys)
        .agg(
            pl.col("cost_micro_usd").sum(),
            pl.col("input_tokens").sum(),
            pl.col("output_tokens").sum(),
            pl.len().cast(pl.Int64).alias("attempts"),
            pl.col("computed_cost_micro_usd").sum(),
            reported.sum(),
            (reported - pl.col("computed_cost_micro_usd")).sum().alias("discrepancy_micro_usd"),
        )
        .with_columns(cost_usd=pl.col("cost_micro_usd").cast(pl.Decimal(38, 6)) / MICRO_USD_PER_USD)
        .sort(["cost_micro_usd", *keys], descending=[True, *(False for _ in keys)])
        .select(*keys, *METRIC_COLUMNS)
    )


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
    with _connection(source) as conn:
        events = usage_lazy(
            conn, period, with_capability="capability" in keys, columns=usage_columns(keys)
        )
        return aggregate_spend(events, keys).collect()


def week_over_week(
    source: str | psycopg.Connection[Any], *, now: datetime, by: Sequence[str] = ("agent",)
) -> pl.DataFrame:
    """Spend this ISO week so far against all of last week, per group of `by`.

    Columns: the `by` columns, `last_week_micro_usd`, `this_week_micro_usd`, `change_micro_usd`
    and `change_pct` (None when last week spent nothing). Largest change first.
    """
    keys = list(by)
    _check_dimensions(keys)
    this_week, last_week = parse_period("this-week", now=now), parse_period("last-week", now=now)
    both = Period(last_week.start, this_week.end, "last and this week")
    with _connection(source) as conn:
        events = usage_lazy(
            conn,
            both,
            with_capability="capability" in keys,
            columns=usage_columns(keys, extra=("ended_at",)),
        )
        is_this_week = pl.col("ended_at") >= this_week.start
        frame = (
            events.group_by(keys)
            .agg(
                pl.col("cost_micro_usd").filter(~is_this_week).sum().alias("last_week_micro_usd"),
                pl.col("cost_micro_usd").filter(is_this_week).sum().alias("this_week_micro_usd"),
            )
            .with_columns(
                change_micro_usd=pl.col("this_week_micro_usd") - pl.col("last_week_micro_usd")
            )
            .with_columns(
                change_pct=pl.when(pl.col("last_week_micro_usd") > 0).then(
                    100 * pl.col("change_micro_usd") / pl.col("last_week_micro_usd")
                )
            )
            .sort(["change_micro_usd", *keys], descending=[True, *(False for _ in keys)])
        )
        return frame.collect()


def forecast_micro_usd(spent_micro_usd: int, period: Period, *, now: datetime) -> int:
    """Spend at the end of `period` if the rate so far holds (linear; exact integer arithmetic).

    Before the period starts the forecast is 0; after it ends, what was spent.
    """
    if period.start is None or period.end is None:
        raise InvalidInputError("a forecast needs a bounded period", field="period")
    if now <= period.start:
        return 0
    if now >= period.end:
        return spent_micro_usd
    elapsed = (now - period.start) // timedelta(microseconds=1)
    total = (period.end - period.start) // timedelta(microseconds=1)
    return (spent_micro_usd * total + elapsed // 2) // elapsed


DISPLAY_METRICS = 6
"""How many metric columns `display_rows` shows after the group columns."""


def display_rows(df: pl.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Header and text rows of a `spend_frame` result for people, ending with a TOTAL row.

    Group columns, then DISPLAY_METRICS columns: cost, computed and discrepancy in dollars
    (4 decimals), input and output tokens, attempts.
    """
    keys = [c for c in df.columns if c not in METRIC_COLUMNS]
    header = [*keys, "cost_usd", "computed_usd", "discrepancy_usd", "input_tokens",
              "output_tokens", "attempts"]  # fmt: skip

    def cells(cost: int, computed: int, discrepancy: int, tokens_in: int, tokens_out: int,
              attempts: int) -> list[str]:  # fmt: skip
        return [format_usd(cost), format_usd(computed), format_usd(discrepancy),
                f"{tokens_in:,}", f"{tokens_out:,}", f"{attempts:,}"]  # fmt: skip

    body = [
        [*(str(row[k]) for k in keys),
         *cells(row["cost_micro_usd"], row["computed_cost_micro_usd"] or 0,
                row["discrepancy_micro_usd"] or 0, row["input_tokens"], row["output_tokens"],
                row["attempts"])]
        for row in df.iter_rows(named=True)
    ]
    sums = [int(df[c].sum()) for c in ("cost_micro_usd", "computed_cost_micro_usd",
            "discrepancy_micro_usd", "input_tokens", "output_tokens", "attempts")]  # fmt: skip
    total = ["TOTAL", *([""] * (len(keys) - 1)), *cells(*sums)]
    return header, [*body, total]


def render_table(df: pl.DataFrame) -> str:
    """A plain aligned text table of a `spend_frame` result, ending with a TOTAL row.

    Group names are left-aligned, numbers right-aligned, dollars shown with 4 decimals.
    """
    header, rows = display_rows(df)
    keys = len(header) - DISPLAY_METRICS
    widths = [max(len(line[i]) for line in (header, *rows)) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        aligned = (
            cell.ljust(width) if i < keys else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(aligned).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join(
        [line(header), rule, *(line(row) for row in rows[:-1]), rule, line(rows[-1])]
    )


@contextmanager
def _connection(source: str | psycopg.Connection[Any]) -> Iterator[psycopg.Connection[Any]]:
    if isinstance(source, str):
        with psycopg.connect(source) as conn:
            yield conn
    else:
        yield source


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
