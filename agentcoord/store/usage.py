"""Queries for usage events: idempotent inserts (one, or a batch through COPY) and spend sums.

Grouping and filter expressions come only from `_EXPRESSION_FOR_DIMENSION`, a fixed table keyed
by SpendDimension; every value (period bounds, filter values, record fields) is a bound
parameter. No caller-supplied text ever becomes SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from psycopg import sql

from agentcoord.store.database import Connection
from agentcoord.usage import SpendDimension, SpendFilters, SpendRow, UsageBatch, UsageRecord

# The capability of usage is that of its task: sorted capabilities joined with "+".
_CAPABILITY = (
    "coalesce((SELECT string_agg(c, '+' ORDER BY c) FROM unnest(t.capabilities) AS c), '')"
)
_EXPRESSION_FOR_DIMENSION: Mapping[SpendDimension, sql.SQL] = MappingProxyType(
    {
        SpendDimension.AGENT: sql.SQL("u.agent"),
        SpendDimension.MISSION: sql.SQL("u.mission_id"),
        SpendDimension.TASK: sql.SQL("u.task_id"),
        SpendDimension.MODEL: sql.SQL("u.model"),
        SpendDimension.CAPABILITY: sql.SQL(_CAPABILITY),
        SpendDimension.DAY: sql.SQL("to_char(u.ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
        SpendDimension.WEEK: sql.SQL("to_char(u.ended_at AT TIME ZONE 'UTC', 'IYYY-\"W\"IW')"),
    }
)
_TASK_JOIN = sql.SQL(
    " LEFT JOIN tasks AS t ON t.mission_id = u.mission_id AND t.task_id = u.task_id"
)
_COLUMNS = (
    "idempotency_key", "mission_id", "task_id", "attempt_id", "agent", "model", "tags",
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "cost_micro_usd", "reported_cost_micro_usd", "computed_cost_micro_usd",
    "started_at", "ended_at",
)  # fmt: skip
COLUMN_TYPES = (
    "text", "text", "text", "text", "text", "text", "text[]",
    "int8", "int8", "int8", "int8", "int8", "int8", "int8", "timestamptz", "timestamptz",
)  # fmt: skip
COLUMN_LIST = sql.SQL(", ").join(sql.Identifier(c) for c in _COLUMNS)
_INSERT_ONE = sql.SQL(
    "INSERT INTO usage_events ({columns}) VALUES ({values})"
    " ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key"
).format(columns=COLUMN_LIST, values=sql.SQL(", ").join(sql.Placeholder() * len(_COLUMNS)))
_CREATE_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS usage_staging"
    " (LIKE usage_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
_COPY_STAGING = sql.SQL("COPY usage_staging ({columns}) FROM STDIN (FORMAT BINARY)").format(
    columns=COLUMN_LIST
)
# Sorted, so concurrent batches with overlapping keys take row locks in one order (no deadlock).
_MERGE_STAGING = sql.SQL(
    "WITH recorded AS ("
    " INSERT INTO usage_events ({columns}) SELECT {columns} FROM usage_staging"
    " ORDER BY idempotency_key ON CONFLICT (idempotency_key) DO NOTHING"
    " RETURNING idempotency_key, cost_micro_usd),"
    " numbered AS (SELECT *, (row_number() OVER (ORDER BY idempotency_key) - 1) / %(chunk)s"
    " AS chunk FROM recorded)"
    " SELECT array_agg(idempotency_key ORDER BY idempotency_key) AS keys,"
    " sum(cost_micro_usd)::bigint AS cost_micro_usd FROM numbered GROUP BY chunk ORDER BY chunk"
).format(columns=COLUMN_LIST)


@dataclass(frozen=True)
class RecordedChunk:
    """Keys a batch insert stored now and their summed cost: one outbox event's worth.

    From `merge_staged_usage` the keys are sorted; from a stream COPYed directly (see
    usage_writer) they follow stream order.
    """

    idempotency_keys: tuple[str, ...]
    cost_micro_usd: int


def _row(record: UsageRecord) -> tuple[object, ...]:
    return (
        record.idempotency_key,
        record.mission_id,
        record.task_id,
        record.attempt_id,
        record.agent,
        record.model,
        list(record.tags),
        record.input_tokens,
        record.output_tokens,
        record.cache_read_tokens,
        record.cache_write_tokens,
        record.cost_micro_usd,
        record.reported_cost_micro_usd,
        record.computed_cost_micro_usd,
        record.started_at,
        record.ended_at,
    )


def usage_rows(
    batch: UsageBatch, *, costs_micro_usd: Sequence[int] | None = None
) -> Iterable[tuple[object, ...]]:
    """Row tuples of `batch` in the column order of COLUMN_LIST, straight from the columns.

    `costs_micro_usd` is `batch.costs_micro_usd()` when the caller has it already.
    """
    return zip(
        batch.idempotency_keys,
        batch.mission_ids,
        batch.task_ids,
        batch.attempt_ids,
        batch.agents,
        batch.models,
        map(list, batch.tags),  # the array dumper wants lists
        batch.input_tokens,
        batch.output_tokens,
        batch.cache_read_tokens,
        batch.cache_write_tokens,
        batch.costs_micro_usd() if costs_micro_usd is None else costs_micro_usd,
        batch.reported_costs_micro_usd,
        batch.computed_costs_micro_usd or [None] * len(batch),
        batch.started_at,
        batch.ended_at,
        strict=True,
    )


async def insert_usage(conn: Connection, record: UsageRecord) -> bool:
    """Store one usage event; False (and nothing changed) when its idempotency key is known."""
    cur = await conn.execute(_INSERT_ONE, _row(record))
    return await cur.fetchone() is not None


async def create_staging(conn: Connection) -> None:
    """Create this session's staging table (emptied at every commit) unless it exists."""
    await conn.execute(_CREATE_STAGING)


async def stage_usage(conn: Connection, batch: UsageBatch) -> None:
    """COPY the events of `batch` into this transaction's staging table (binary format).

    Call it once per batch as a stream arrives; nothing reaches usage_events until the merge
    (see `merge_staged_usage`).
    """
    await create_staging(conn)
    async with conn.cursor().copy(_COPY_STAGING) as copy:
        copy.set_types(list(COLUMN_TYPES))
        for row in usage_rows(batch):
            await copy.write_row(row)


async def merge_staged_usage(conn: Connection, *, chunk_size: int = 1000) -> list[RecordedChunk]:
    """Move staged usage into usage_events in one statement; replayed keys change nothing.

    Returns the newly stored keys in sorted chunks of at most `chunk_size`.
    """
    cur = await conn.execute(_MERGE_STAGING, {"chunk": chunk_size})
    return [
        RecordedChunk(tuple(row["keys"]), row["cost_micro_usd"]) for row in await cur.fetchall()
    ]


async def sum_spend(
    conn: Connection,
    *,
    group_by: Sequence[SpendDimension],
    start: datetime | None,
    end: datetime | None,
    filters: SpendFilters | None = None,
) -> list[SpendRow]:
    """Spend of usage events ending in [start, end), one row per group, most expensive first.

    `filters` keep only events whose dimension takes one of the listed values. With no
    dimensions there is one row (keys `()`) if any event matched, none otherwise.
    """
    filters = filters or {}
    keys = [_EXPRESSION_FOR_DIMENSION[d] for d in group_by]
    conditions: list[sql.Composable] = []
    params: dict[str, object] = {"start": start, "end": end}
    if start is not None:
        conditions.append(sql.SQL("u.ended_at >= %(start)s"))
    if end is not None:
        conditions.append(sql.SQL("u.ended_at < %(end)s"))
    for i, (dimension, values) in enumerate(filters.items()):
        params[f"f{i}"] = list(values)
        conditions.append(
            sql.SQL("{} = ANY({})").format(
                _EXPRESSION_FOR_DIMENSION[dimension], sql.Placeholder(f"f{i}")
            )
        )
    needs_tasks = SpendDimension.CAPABILITY in (*group_by, *filters)
    query = sql.SQL(
        "SELECT {keys}sum(u.cost_micro_usd)::bigint AS cost_micro_usd,"
        " sum(u.input_tokens)::bigint AS input_tokens,"
        " sum(u.output_tokens)::bigint AS output_tokens, count(*) AS events,"
        " coalesce(sum(u.computed_cost_micro_usd), 0)::bigint AS computed_cost_micro_usd,"
        " coalesce(sum(u.reported_cost_micro_usd), 0)::bigint AS reported_cost_micro_usd"
        " FROM usage_events AS u{join} {where} {group_by} HAVING count(*) > 0"
        " ORDER BY {cost} DESC{order}"
    ).format(
        keys=sql.SQL("").join(
            sql.SQL("{} AS {}, ").format(k, sql.Identifier(f"k{i}")) for i, k in enumerate(keys)
        ),
        join=_TASK_JOIN if needs_tasks else sql.SQL(""),
        where=sql.SQL("WHERE {}").format(sql.SQL(" AND ").join(conditions))
        if conditions
        else sql.SQL(""),
        group_by=sql.SQL("GROUP BY {}").format(
            sql.SQL(", ").join(sql.Literal(i + 1) for i in range(len(keys)))
        )
        if keys
        else sql.SQL(""),
        cost=sql.Literal(len(keys) + 1),
        order=sql.SQL("").join(sql.SQL(", {}").format(sql.Literal(i + 1)) for i in range(len(keys))),
    )
    cur = await conn.execute(query, params)
    return [
        SpendRow(
            keys=tuple(row[f"k{i}"] for i in range(len(keys))),
            cost_micro_usd=row["cost_micro_usd"],
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"],
            events=row["events"],
            computed_cost_micro_usd=row["computed_cost_micro_usd"],
            reported_cost_micro_usd=row["reported_cost_micro_usd"],
        )
        for row in await cur.fetchall()
    ]
