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
from collections.abc import Collection, Iterator, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

import adbc_driver_postgresql.dbapi as adbc
import polars as pl
import psycopg
import pyarrow as pa
from polars.io.plugins import register_io_source
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
# What each USAGE_FRAME_SCHEMA column is in SQL: as read through ADBC, and as written to CSV
# (timestamps as epoch microseconds, which pyarrow's CSV reader parses as plain integers).
_SELECT = {
    **{name: sql.Identifier(name) for name in USAGE_FRAME_SCHEMA},
    "mission": sql.SQL("mission_id AS mission"),
    "task": sql.SQL("task_id AS task"),
}
_CSV_SELECT = {
    **_SELECT,
    "ended_at": sql.SQL("(extract(epoch FROM ended_at) * 1000000)::bigint AS ended_at"),
}
_USAGE_QUERY = sql.SQL("SELECT {columns} FROM usage_events WHERE ended_at >= {start} AND ended_at < {end}")
_CSV_QUERY = sql.SQL("COPY ({query}) TO STDOUT WITH (FORMAT csv)")
# Rows per batch a scan converts at a time. At 10M rows of two string columns, one 10M-row
# batch caused ~92k page faults, 300k-row batches ~28k, 65,536-row batches ~8k, at equal speed.
_SCAN_BATCH_ROWS = 65_536
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
    conn: psycopg.Connection[Any],
    *,
    start: datetime | None,
    end: datetime | None,
    columns: Collection[str] | None = None,
) -> pa.Table:
    """Usage events ending in [start, end) (None: open) as an Arrow table, USAGE_FRAME_SCHEMA names.

    `columns` (names from USAGE_FRAME_SCHEMA, None: all) are the only ones read, in schema order:
    a report that groups by two columns reads and converts much less. Reads over a new ADBC
    connection with `conn`'s parameters when `conn` is idle; through `conn` itself (seeing its
    uncommitted writes) when it is inside a transaction.
    """
    schema = _arrow_schema(columns)
    bounds = {
        "start": sql.Literal(start) if start is not None else sql.SQL("'-infinity'"),
        "end": sql.Literal(end) if end is not None else sql.SQL("'infinity'"),
    }
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        csv_columns = sql.SQL(", ").join(_CSV_SELECT[name] for name in schema.names)
        return _read_in_transaction(conn, _USAGE_QUERY.format(columns=csv_columns, **bounds), schema)
    # Bounds are quoted into the text: without parameters the driver streams the result with
    # COPY in batches; with them it holds the whole result in libpq first (twice the memory).
    select = sql.SQL(", ").join(_SELECT[name] for name in schema.names)
    query = _USAGE_QUERY.format(columns=select, **bounds).as_string(conn)
    with adbc.connect(_conninfo(conn)) as reader, reader.cursor() as cur:
        cur.execute(query)
        table = cur.fetch_arrow_table()
    return table.cast(schema)


def _arrow_schema(columns: Collection[str] | None) -> pa.Schema:
    if columns is None:
        return _ARROW_SCHEMA
    unknown = set(columns) - set(USAGE_FRAME_SCHEMA)
    if unknown or not columns:
        raise ValueError(f"usage columns must be some of {list(USAGE_FRAME_SCHEMA)}, not {sorted(unknown)}")
    return pa.schema([field for field in _ARROW_SCHEMA if field.name in columns])


def _read_in_transaction(
    conn: psycopg.Connection[Any], query: sql.Composed, schema: pa.Schema
) -> pa.Table:
    as_read = {
        field.name: pa.int64() if field.name == "ended_at" else field.type for field in schema
    }
    with conn.cursor().copy(_CSV_QUERY.format(query=query)) as copy:
        stream = io.BufferedReader(_CopyStream(iter(copy)), buffer_size=1 << 20)
        if not stream.peek(1):
            return schema.empty_table()
        table = csv.read_csv(
            stream,
            read_options=csv.ReadOptions(column_names=schema.names, block_size=1 << 24),
            convert_options=csv.ConvertOptions(column_types=as_read, strings_can_be_null=False),
        )
    return table.cast(schema)  # epoch microseconds become UTC timestamps without a copy


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
    conn: psycopg.Connection[Any],
    *,
    start: datetime | None,
    end: datetime | None,
    columns: Collection[str] | None = None,
) -> pl.DataFrame:
    """Usage events ending in [start, end) as a Polars frame with USAGE_FRAME_SCHEMA columns.

    `columns` as for `read_usage_arrow`: only those are read (None: all).
    """
    return usage_frame_from_arrow(read_usage_arrow(conn, start=start, end=end, columns=columns))


def usage_frame_from_arrow(table: pa.Table) -> pl.DataFrame:
    """A `read_usage_arrow` table as a Polars frame, every column converted now."""
    # The read arrives in batches; aggregations scan them as they are, so no copy into one chunk.
    frame = pl.from_arrow(table, rechunk=False)
    assert isinstance(frame, pl.DataFrame)
    return frame


def scan_usage_arrow(table: pa.Table) -> pl.LazyFrame:
    """A lazy frame over a `read_usage_arrow` table: each query converts only what it uses.

    Numbers and timestamps become Polars columns without a copy, but strings are copied into
    Polars' own layout (16-byte views). Converting a 10M-row read at once allocates 160 MB per
    string column, and touching that much fresh memory (page faults) cost more than the
    group-by itself. Here a query pulls the table one Arrow batch at a time, converting only
    the columns it projects (rows it filters are dropped per batch), so the streaming engine
    reuses the same memory batch after batch. The table stays as read: collecting twice
    converts twice and never reads PostgreSQL again.
    """
    schema = pl.Schema({name: USAGE_FRAME_SCHEMA[name] for name in table.column_names})

    def batches(
        with_columns: list[str] | None,
        predicate: pl.Expr | None,
        n_rows: int | None,
        batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:
        projected = table if with_columns is None else table.select(with_columns)
        if n_rows is not None:
            projected = projected.slice(0, n_rows)
        rows = min(batch_size or _SCAN_BATCH_ROWS, _SCAN_BATCH_ROWS)
        for batch in projected.to_batches(max_chunksize=rows) or [projected.schema.empty_table()]:
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            yield frame if predicate is None else frame.filter(predicate)

    # Polars marks IO sources unstable; the tests of this module and of every report dimension
    # compare scans with the converted frame, so a change in the interface shows there.
    return register_io_source(batches, schema=schema)


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
