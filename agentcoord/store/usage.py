"""Queries for usage events: idempotent inserts, spend sums, and the frame reports aggregate.

Grouping columns come only from `_COLUMN_FOR_DIMENSION`, a fixed table keyed by SpendDimension, and
are quoted as identifiers; every value (period bounds, record fields) is a bound parameter. No
caller-supplied text ever becomes SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any

import polars as pl
import psycopg
from psycopg import sql

from agentcoord.store.database import Connection
from agentcoord.usage import SpendDimension, SpendRow, UsageRecord

_COLUMN_FOR_DIMENSION: Mapping[SpendDimension, str] = MappingProxyType(
    {
        SpendDimension.AGENT: "agent",
        SpendDimension.MISSION: "mission_id",
        SpendDimension.TASK: "task_id",
        SpendDimension.MODEL: "model",
    }
)
_START_BOUND = sql.SQL("ended_at >= %(start)s")
_END_BOUND = sql.SQL("ended_at < %(end)s")

# Columns are named after SpendDimension values, so reports group by the names users type.
_FRAME_QUERY = sql.SQL(
    "SELECT agent, mission_id AS mission, task_id AS task, model,"
    " input_tokens, output_tokens, cost_micro_usd, ended_at FROM usage_events {where}"
)
USAGE_FRAME_SCHEMA: Mapping[str, pl.DataType] = MappingProxyType(
    {
        "agent": pl.String(),
        "mission": pl.String(),
        "task": pl.String(),
        "model": pl.String(),
        "input_tokens": pl.Int64(),
        "output_tokens": pl.Int64(),
        "cost_micro_usd": pl.Int64(),
        "ended_at": pl.Datetime("us", "UTC"),
    }
)


async def insert_usage(conn: Connection, record: UsageRecord) -> bool:
    """Store one usage event; False (and nothing changed) when its idempotency key is known."""
    cur = await conn.execute(
        "INSERT INTO usage_events (idempotency_key, mission_id, task_id, agent, model,"
        " input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_micro_usd,"
        " started_at, ended_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key",
        (
            record.idempotency_key,
            record.mission_id,
            record.task_id,
            record.agent,
            record.model,
            record.input_tokens,
            record.output_tokens,
            record.cache_read_tokens,
            record.cache_write_tokens,
            record.cost_micro_usd,
            record.started_at,
            record.ended_at,
        ),
    )
    return await cur.fetchone() is not None


async def sum_spend(
    conn: Connection,
    *,
    group_by: Sequence[SpendDimension],
    start: datetime | None,
    end: datetime | None,
) -> list[SpendRow]:
    """Spend of usage events ending in [start, end), one row per group, most expensive first.

    With no dimensions there is one row (keys `()`) if any event matched, none otherwise.
    """
    columns = [sql.Identifier(_COLUMN_FOR_DIMENSION[d]) for d in group_by]
    query = sql.SQL(
        "SELECT {keys}sum(cost_micro_usd)::bigint AS cost_micro_usd,"
        " sum(input_tokens)::bigint AS input_tokens, sum(output_tokens)::bigint AS output_tokens,"
        " count(*) AS events FROM usage_events {where} {group_by} HAVING count(*) > 0"
        " ORDER BY sum(cost_micro_usd) DESC{order}"
    ).format(
        keys=sql.SQL("").join(sql.SQL("{}, ").format(c) for c in columns),
        where=_where(start, end),
        group_by=sql.SQL("GROUP BY {}").format(sql.SQL(", ").join(columns))
        if columns
        else sql.SQL(""),
        order=sql.SQL("").join(sql.SQL(", {}").format(c) for c in columns),
    )
    cur = await conn.execute(query, {"start": start, "end": end})
    return [
        SpendRow(
            keys=tuple(row[_COLUMN_FOR_DIMENSION[d]] for d in group_by),
            cost_micro_usd=row["cost_micro_usd"],
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"],
            events=row["events"],
        )
        for row in await cur.fetchall()
    ]


def read_usage_frame(
    conn: psycopg.Connection[Any], *, start: datetime | None, end: datetime | None
) -> pl.DataFrame:
    """Usage events ending in [start, end) as a Polars frame with USAGE_FRAME_SCHEMA columns.

    Synchronous, because Polars reads through a blocking DB-API connection.
    """
    query = _FRAME_QUERY.format(where=_where(start, end)).as_string(conn)
    return pl.read_database(
        query,
        connection=conn,
        execute_options={"params": {"start": start, "end": end}},
        schema_overrides=dict(USAGE_FRAME_SCHEMA),
    )


def _where(start: datetime | None, end: datetime | None) -> sql.Composable:
    bounds = [
        bound for bound, value in ((_START_BOUND, start), (_END_BOUND, end)) if value is not None
    ]
    return sql.SQL("WHERE {}").format(sql.SQL(" AND ").join(bounds)) if bounds else sql.SQL("")
