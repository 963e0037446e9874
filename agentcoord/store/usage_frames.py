"""Usage and outcomes as columnar frames for reports: PostgreSQL straight into Arrow.

Reports aggregate millions of usage events, so rows never become Python objects: usage is read
through the ADBC PostgreSQL driver, which decodes the server's binary output into Arrow
columns in C++ (no text parsing, timestamps stay timestamps), and handed to Polars without a
copy. That read opens its own ADBC connection with the caller's connection parameters, so it is
used only when the caller's connection has no open transaction; inside one (whose uncommitted
writes the read must see) the query's CSV output is streamed from COPY on that connection into
pyarrow's CSV reader instead, about half as fast. Synchronous, because reports and Ray jobs
read with a blocking connection.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

import adbc_driver_postgresql.dbapi as adbc
import polars as pl
import psycopg
import pyarrow as pa
from psycopg import sql
from psycopg.conninfo import make_conninfo
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
_ARROW_SCHEMA = pa.schema(
    [
        ("agent", pa.string()),
        ("mission", pa.string()),
        ("task", pa.string()),
        ("model", pa.string()),
        ("attempt_id", pa.string()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("cost_micro_usd", pa.int64()),
        ("computed_cost_micro_usd", pa.int64()),
        ("reported_cost_micro_usd", pa.int64()),
        ("ended_at", pa.timestamp("us", tz="UTC")),
    ]
)
_USAGE_QUERY = sql.SQL(
    "SELECT agent, mission_id AS mission, task_id AS task, model, attempt_id, input_tokens,"
    " output_tokens, cost_micro_usd, computed_cost_micro_usd, reported_cost_micro_usd, ended_at"
    " FROM usage_events WHERE ended_at >= {start} AND ended_at < {end}"
)
_CSV_TYPES = {
    **{field.name: field.type for field in _ARROW_SCHEMA if field.name != "ended_at"},
    "ended_at_us": pa.int64(),
}
_CSV_QUERY = sql.SQL(
    "COPY (SELECT agent, mission_id, task_id, model, attempt_id, input_tokens, output_tokens,"
    " cost_micro_usd, computed_cost_micro_usd, reported_cost_micro_usd,"
    " (extract(epoch FROM ended_at) * 1000000)::bigint"
    " FROM usage_events WHERE ended_at >= {start} AND ended_at < {end})"
    " TO STDOUT WITH (FORMAT csv)"
)
# Connection parameters handed on to the ADBC driver (its libpq may predate newer options).
_ADBC_PARAMETERS = frozenset(
    {
        "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "options",
        "application_name", "connect_timeout", "sslmode", "sslrootcert", "sslcert", "sslkey",
        "sslcrl", "target_session_attrs",
    }
)  # fmt: skip
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
    """Usage events ending in [start, end) (None: open) as an Arrow table, USAGE_FRAME_SCHEMA names.

    Reads over a new ADBC connection with `conn`'s parameters when `conn` is idle; through
    `conn` itself (seeing its uncommitted writes) when it is inside a transaction.
    """
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        return _read_in_transaction(conn, start=start, end=end)
    # Bounds are quoted into the text: without parameters the driver streams the result with
    # COPY in batches; with them it holds the whole result in libpq first (twice the memory).
    query = _USAGE_QUERY.format(
        start=sql.Literal(start) if start is not None else sql.SQL("'-infinity'"),
        end=sql.Literal(end) if end is not None else sql.SQL("'infinity'"),
    ).as_string(conn)
    with adbc.connect(_conninfo(conn)) as reader, reader.cursor() as cur:
        cur.execute(query)
        table = cur.fetch_arrow_table()
    return table.cast(_ARROW_SCHEMA)


def _read_in_transaction(
    conn: psycopg.Connection[Any], *, start: datetime | None, end: datetime | None
) -> pa.Table:
    query = _CSV_QUERY.format(
        start=sql.Literal(start) if start is not None else sql.SQL("'-infinity'"),
        end=sql.Literal(end) if end is not None else sql.SQL("'infinity'"),
    )
    with conn.cursor().copy(query) as copy:
        stream = io.BufferedReader(_CopyStream(iter(copy)), buffer_size=1 << 20)
        if not stream.peek(1):
            return _ARROW_SCHEMA.empty_table()
        table = csv.read_csv(
            stream,
            read_options=csv.ReadOptions(column_names=list(_CSV_TYPES), block_size=1 << 24),
            convert_options=csv.ConvertOptions(column_types=_CSV_TYPES, strings_can_be_null=False),
        )
    ended_at = table.column("ended_at_us").cast(pa.timestamp("us", tz="UTC"))
    return table.drop_columns("ended_at_us").append_column("ended_at", ended_at)


def _conninfo(conn: psycopg.Connection[Any]) -> str:
    """`conn`'s connection string, password included (`conn.info.dsn` leaves it out)."""
    return make_conninfo(
        **{
            option.keyword.decode(): option.val.decode()
            for option in conn.pgconn.info
            if option.val is not None and option.keyword.decode() in _ADBC_PARAMETERS
        }
    )


def read_usage_frame(
    conn: psycopg.Connection[Any], *, start: datetime | None, end: datetime | None
) -> pl.DataFrame:
    """Usage events ending in [start, end) as a Polars frame with USAGE_FRAME_SCHEMA columns."""
    # The read arrives in batches; aggregations scan them as they are, so no copy into one chunk.
    frame = pl.from_arrow(read_usage_arrow(conn, start=start, end=end), rechunk=False)
    assert isinstance(frame, pl.DataFrame)
    return frame.select(list(USAGE_FRAME_SCHEMA))


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
