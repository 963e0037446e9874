"""Spend reports as files: table, CSV, Parquet, Markdown, and self-contained HTML with charts.

The HTML report carries its charts as inline SVG (no scripts, no CDN), so it opens offline and
can be mailed. Money is shown in dollars via agentcoord.money; files keep exact integer
micro-dollars beside the Decimal `cost_usd`.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import psycopg

from agentcoord.errors import InvalidInputError
from agentcoord.money import format_usd
from agentcoord.reports import (
    DISPLAY_METRICS,
    Period,
    display_rows,
    forecast_micro_usd,
    render_table,
    spend_frame,
)

FORMATS = ("table", "csv", "parquet", "markdown", "html")
_BINARY_FORMATS = ("parquet",)
_BAR_HEIGHT_PX = 22
_CHART_WIDTH_PX = 640
_LABEL_WIDTH_PX = 220
_MAX_BARS = 20


@dataclass(frozen=True)
class Chart:
    """A horizontal bar chart of micro-dollar values, one bar per label."""

    title: str
    labels: tuple[str, ...]
    values_micro_usd: tuple[int, ...]

    def sorted_by_label(self) -> Chart:
        """The same bars in label order (for time series such as days)."""
        pairs = sorted(zip(self.labels, self.values_micro_usd, strict=True))
        return replace(self, labels=tuple(p[0] for p in pairs), values_micro_usd=tuple(p[1] for p in pairs))


def check_format(name: str, *, output: Path | None) -> str:
    """`name` validated against FORMATS; binary formats need an output file."""
    key = name.strip().lower()
    if key not in FORMATS:
        raise InvalidInputError(f"unknown format {name!r}; choose from {', '.join(FORMATS)}", field="format")
    if key in _BINARY_FORMATS and output is None:
        raise InvalidInputError(f"{key} is binary: give --output FILE", field="output")
    return key


def render_report(
    frame: pl.DataFrame, fmt: str, *, title: str, charts: Sequence[Chart] = (), notes: Sequence[str] = ()
) -> bytes:
    """The report of a `spend_frame` result in format `fmt` (one of FORMATS), as bytes."""
    if fmt == "table":
        return (title + "\n" + render_table(frame) + "".join(f"\n{n}" for n in notes) + "\n").encode()
    if fmt == "csv":
        return frame.write_csv().encode()
    if fmt == "parquet":
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        return buffer.getvalue()
    if fmt == "markdown":
        return _markdown(frame, title=title, notes=notes).encode()
    if fmt == "html":
        return _html(frame, title=title, charts=charts, notes=notes).encode()
    raise InvalidInputError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}", field="format")


def bar_chart(frame: pl.DataFrame, *, label: str, title: str) -> Chart:
    """A chart of `cost_micro_usd` per value of `label`, costliest first (top 20)."""
    per = (
        frame.group_by(label)
        .agg(pl.col("cost_micro_usd").sum())
        .sort(["cost_micro_usd", label], descending=[True, False])
        .head(_MAX_BARS)
    )
    return Chart(title, tuple(str(v) for v in per[label]), tuple(int(v) for v in per["cost_micro_usd"]))


def _markdown(frame: pl.DataFrame, *, title: str, notes: Sequence[str]) -> str:
    header, rows = display_rows(frame)
    keys = len(header) - DISPLAY_METRICS

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    align = ["---"] * keys + ["---:"] * DISPLAY_METRICS
    body = [line(header), line(align), *(line(r) for r in rows)]
    return "\n".join([f"# {title}", "", *body, "", *notes]) + "\n"


def _svg(chart: Chart) -> str:
    top = max(chart.values_micro_usd, default=0) or 1
    bar_space = _CHART_WIDTH_PX - _LABEL_WIDTH_PX - 90
    height = _BAR_HEIGHT_PX * max(len(chart.labels), 1) + 10
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{_CHART_WIDTH_PX}" height="{height}"'
            f' role="img" aria-label="{html.escape(chart.title)}">'
        )
    ]
    for i, (label, value) in enumerate(zip(chart.labels, chart.values_micro_usd, strict=True)):
        y = 5 + i * _BAR_HEIGHT_PX
        width = max(1, value * bar_space // top) if value else 0
        parts.append(
            f'<text x="{_LABEL_WIDTH_PX - 6}" y="{y + 15}" text-anchor="end">{html.escape(label)}</text>'
            f'<rect x="{_LABEL_WIDTH_PX}" y="{y + 3}" width="{width}" height="{_BAR_HEIGHT_PX - 6}"'
            f' fill="#3b6ea5"><title>{html.escape(label)}: {format_usd(value)}</title></rect>'
            f'<text x="{_LABEL_WIDTH_PX + width + 6}" y="{y + 15}">{format_usd(value)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _html(frame: pl.DataFrame, *, title: str, charts: Sequence[Chart], notes: Sequence[str]) -> str:
    header, rows = display_rows(frame)
    keys = len(header) - DISPLAY_METRICS
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="{"num" if i >= keys else ""}">{html.escape(c)}</td>' for i, c in enumerate(r)
        ) + "</tr>"
        for r in rows
    )
    figures = "".join(
        f"<figure><figcaption>{html.escape(c.title)}</figcaption>{_svg(c)}</figure>" for c in charts
    )
    notes_html = "".join(f"<p>{html.escape(n)}</p>" for n in notes)
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px}td.num{text-align:right}"
        "tr:last-child{font-weight:bold}svg text{font-size:12px}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{notes_html}{figures}"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></body></html>\n"
    )


def write_output(data: bytes, output: Path | None) -> None:
    """Write `data` to `output` (parents created); the caller prints it when `output` is None."""
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(data)


def cost_report(
    source: str | psycopg.Connection[Any],
    *,
    period: Period,
    by: Sequence[str],
    fmt: str,
    now: datetime,
) -> bytes:
    """The spend report of `period` grouped by `by`, in format `fmt`, as `agentcoord report` and
    the cost_report Ray job write it: totals, a forecast to the end of a bounded period, and (in
    HTML) charts of spend per first grouping and per day."""
    frame = spend_frame(source, period, by=by)
    spent = int(frame["cost_micro_usd"].sum())
    notes = [f"Total spend {format_usd(spent)} over {int(frame['attempts'].sum()):,} attempts."]
    if period.start is not None and period.end is not None and period.start < now < period.end:
        forecast = forecast_micro_usd(spent, period, now=now)
        notes.append(f"Forecast to the end of the period at the rate so far: {format_usd(forecast)}.")
    charts: list[Chart] = []
    if fmt == "html":
        charts.append(bar_chart(frame, label=by[0], title=f"Spend by {by[0]}"))
        daily = spend_frame(source, period, by=("day",)).sort("day")
        charts.append(bar_chart(daily, label="day", title="Spend by day").sorted_by_label())
    return render_report(frame, fmt, title=f"Spend {period.label}, by {', '.join(by)}",
                         charts=charts, notes=notes)
