"""The event outbox: facts written in the same transaction as the state change they describe.

Consumers (the audit appender, dashboards, rollups) read events in `event_id` order from their
own offset. `append_event` takes a transaction-scoped advisory lock first, so ids become visible
in commit order and a consumer never skips an event that committed after a later id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from agentcoord.store.database import Connection

EVENTS_CHANNEL = "agentcoord_events"
_APPEND_LOCK = 0x61636576  # "acev"
_SELECT_OFFSET = "SELECT last_event_id FROM consumer_offsets WHERE consumer = %s"
_SELECT_OFFSET_FOR_UPDATE = _SELECT_OFFSET + " FOR UPDATE"


@dataclass(frozen=True)
class Event:
    """One fact on the bus."""

    event_id: int
    topic: str
    actor: str
    mission_id: str
    task_id: str
    payload: Mapping[str, Any]
    created_at: datetime


async def append_event(
    conn: Connection,
    *,
    topic: str,
    actor: str,
    payload: Mapping[str, Any],
    mission_id: str = "",
    task_id: str = "",
) -> int:
    """Write one event inside the caller's transaction and notify listeners on commit."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_APPEND_LOCK,))
    cur = await conn.execute(
        "INSERT INTO events (topic, actor, mission_id, task_id, payload)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING event_id",
        (topic, actor, mission_id, task_id, Jsonb(dict(payload))),
    )
    row = await cur.fetchone()
    assert row is not None
    event_id = int(row["event_id"])
    await conn.execute("SELECT pg_notify(%s, %s)", (EVENTS_CHANNEL, str(event_id)))
    return event_id


async def read_events_after(conn: Connection, after_event_id: int, *, limit: int = 500) -> list[Event]:
    """Events with id greater than `after_event_id`, oldest first."""
    cur = await conn.execute(
        "SELECT event_id, topic, actor, mission_id, task_id, payload, created_at"
        " FROM events WHERE event_id > %s ORDER BY event_id LIMIT %s",
        (after_event_id, limit),
    )
    return [Event(**row) for row in await cur.fetchall()]


async def load_offset(conn: Connection, consumer: str, *, for_update: bool = False) -> int:
    """The last event id `consumer` has fully handled (0 if none); optionally lock the row."""
    await conn.execute(
        "INSERT INTO consumer_offsets (consumer, last_event_id) VALUES (%s, 0) ON CONFLICT DO NOTHING",
        (consumer,),
    )
    query = _SELECT_OFFSET_FOR_UPDATE if for_update else _SELECT_OFFSET
    cur = await conn.execute(query, (consumer,))
    row = await cur.fetchone()
    return int(row["last_event_id"]) if row else 0


async def save_offset(conn: Connection, consumer: str, last_event_id: int) -> None:
    """Record that `consumer` has handled everything up to `last_event_id` (same transaction as the effect)."""
    await conn.execute(
        "INSERT INTO consumer_offsets (consumer, last_event_id) VALUES (%s, %s)"
        " ON CONFLICT (consumer) DO UPDATE SET last_event_id = excluded.last_event_id",
        (consumer, last_event_id),
    )


async def listen_for_events(conn: psycopg.AsyncConnection[Any]) -> None:
    """Subscribe an autocommit connection to EVENTS_CHANNEL; wake-ups then arrive on `conn.notifies()`."""
    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(EVENTS_CHANNEL)))
