"""Usage and outcomes as columnar frames for reports: PostgreSQL COPY straight into Arrow.

Reports aggregate millions of usage events, so rows never become Python objects: the query's
CSV output is streamed from COPY into pyarrow's CSV reader with fixed column types, and handed
to Polars without a copy. Synchronous, because reports and Ray jobs read with a blocking
connection.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

import polars as pl
import psycopg
import pyarrow as pa
from psycopg import sql
from pyarrow import csv

# Columns are named after SpendDimension values, so reports group by the names users type.
USAGE_FRAME_SCHEMA: Mapping[str, pl.DataType] = MappingProxyType(
    {
        "agent": pl.String(),
        "mission": pl.String(),
        "task": pl.String(),
        "model": pl.String(),
        "attempt_id": pl.String(),
        "input_tokens": pl.Int64(),
        "output_tokens": pl.Int64(),
        "cost_micro_usd": pl.Int64(),
        "computed_cost_micro_usd": pl.Int64(),
        "reported_cost_micro_usd": pl.Int64(),
        "ended_at": pl.Datetime("us", "UTC"),
    }
)
_ARROW_TYPES = {
    "agent": pa.string(),
    "mission": pa.string(),
    "task": pa.string(),
    "model": pa.string(),
    "attempt_id": pa.string(),
    "input_tokens": pa.int64(),
    "output_tokens": pa.int64(),
    "cost_micro_usd": pa.int64(),
    "computed_cost_micro_usd": pa.int64(),
    "reported_cost_micro_usd": pa.int64(),
    "ended_at_us": pa.int64(),
}
_USAGE_QUERY = sql.SQL(
    "COPY (SELECT agent, mission_id, task_id, model, attempt_id, input_tokens, output_tokens,"
    " cost_micro_usd, computed_cost_micro_usd, reported_cost_micro_usd,"
    " (extract(epoch FROM ended_at) * 1000000)::bigint"
    " FROM usage_events WHERE ended_at >= {start} AND ended_at < {end})"
    " TO STDOUT WITH (FORMAT csv)"
)
OUTCOME_SCHEMA: Mapping[str, pl.DataType] = MappingProxyType(
    {
        "attempt_id": pl.String(),
        "mission": pl.String(),
        "task": pl.String(),
        "agent": pl.String(),
        "outcome": pl.String(),
        "task_state": pl.String(),
        "capability": pl.String(),
    }
)
# One row per attempt, with its task's state and capability key (sorted, "+"-joined).
_OUTCOMES_QUERY = (
    "SELECT a.attempt_id, a.mission_id AS mission, a.task_id AS task, a.agent,"
    " coalesce(a.outcome, '') AS outcome, t.state AS task_state,"
    " coalesce((SELECT string_agg(c, '+' ORDER BY c) FROM unnest(t.capabilities) AS c), '')"
    " AS capability FROM attempts AS a JOIN tasks AS t USING (mission_id, task_id)"
)
TASK_CAPABILITY_QUERY = (
    "SELECT mission_id AS mission, task_id AS task,"
    " coalesce((SELECT string_agg(c, '+' ORDER BY c) FROM unnest(capabilities) AS c), '')"
    " AS capability FROM tasks"
)


class _CopyStream(io.RawIOBase):
    """A readable file over COPY TO STDOUT chunks, so pyarrow can stream-parse them."""

    def __init__(self, chunks: Iterator[Any]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        wanted = len(buffer)
        filled = 0
        while filled < wanted:
            if not self._pending:
                chunk = next(self._chunks, None)
                if chunk is None:
                    break
                self._pending = memoryview(bytes(chunk))
            n = min(wanted - filled, len(self._pending))
            buffer[filled : filled + n] = self._pending[:n]
            self._pending = self._pending[n:]
            filled += n
        return filled


def read_usage_arrow(
    conn: psycopg.Connection[Any], *, start: datetime | None, end: datetime | None
) -> pa.Table:
    """Usage events ending in [start, end) (None: open) as an Arrow table (`ended_at_us`)."""
    query = _USAGE_QUERY.format(
        start=sql.Literal(start) if start is not None else sql.SQL("'-infinity'"),
        end=sql.Literal(end) if end is not None else sql.SQL("'infinity'"),
    )
    with conn.cursor().copy(query) as copy:
        stream = io.BufferedReader(_CopyStream(iter(copy)), buffer_size=1 << 20)
        if not stream.peek(1):
            return pa.schema(_ARROW_TYPES).empty_table()
        return csv.read_csv(
            stream,
            read_options=csv.ReadOptions(column_names=list(_ARROW_TYPES), block_size=1 << 24),
            convert_options=csv.ConvertOptions(column_types=_ARROW_TYPES, strings_can_be_null=False),
        )


def read_usage_frame(
    conn: psycopg.Connection[Any], *, start: datetime | None, end: datetime | None
) -> pl.DataFrame:
    """Usage events ending in [start, end) as a Polars frame with USAGE_FRAME_SCHEMA columns."""
    frame = pl.from_arrow(read_usage_arrow(conn, start=start, end=end))
    assert isinstance(frame, pl.DataFrame)
    return frame.with_columns(
        pl.from_epoch(pl.col("ended_at_us"), time_unit="us").dt.replace_time_zone("UTC").alias("ended_at")
    ).select(list(USAGE_FRAME_SCHEMA))


def read_outcomes(conn: psycopg.Connection[Any]) -> pl.DataFrame:
    """Every attempt with its outcome, its task's state and capability (OUTCOME_SCHEMA)."""
    return pl.read_database(_OUTCOMES_QUERY, conn, schema_overrides=dict(OUTCOME_SCHEMA))


def read_task_capabilities(conn: psycopg.Connection[Any]) -> pl.DataFrame:
    """(mission, task, capability) of every task."""
    return pl.read_database(
        TASK_CAPABILITY_QUERY,
        conn,
        schema_overrides={"mission": pl.String(), "task": pl.String(), "capability": pl.String()},
    )
