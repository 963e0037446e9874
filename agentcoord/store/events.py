"""The event outbox: facts written in the same transaction as the state change they describe.

Writers take no shared lock. Each event records the id of the transaction that wrote it
(`xact_id`), and the bus order is (xact_id, event_id): an `EventPosition`. Readers see only
*settled* events, those of transactions older than every transaction still running (the
current snapshot's xmin). Every transaction still open, or started later, has a larger id, so
the settled prefix of the order only ever grows at its end: a consumer that reads in order from
its own offset never skips an event that commits late, and never sees one twice.

A transaction left open while it holds a transaction id holds every consumer back (not forever
wrong, only late); keep write transactions short.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from agentcoord.store.database import Connection

EVENTS_CHANNEL = "agentcoord_events"
_COLUMNS = "event_id, xact_id, topic, actor, mission_id, task_id, payload, created_at"
_SETTLED = "xact_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
_SELECT_OFFSET = "SELECT last_xact_id, last_event_id FROM consumer_offsets WHERE consumer = %s"
_SELECT_OFFSET_FOR_UPDATE = _SELECT_OFFSET + " FOR UPDATE"


@dataclass(frozen=True, order=True)
class EventPosition:
    """Where an event sits in the bus order: its writing transaction's id, then its own id."""

    xact_id: int = 0
    event_id: int = 0


START = EventPosition()
"""Before every event."""


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
    xact_id: int = 0

    @property
    def position(self) -> EventPosition:
        return EventPosition(self.xact_id, self.event_id)


async def append_event(
    conn: Connection,
    *,
    topic: str,
    actor: str,
    payload: Mapping[str, Any],
    mission_id: str = "",
    task_id: str = "",
) -> Event:
    """Write one event inside the caller's transaction and wake listeners on commit; the event.

    The notification carries no payload, so PostgreSQL folds a transaction's notifications into one.
    """
    cur = await conn.execute(
        f"WITH e AS (INSERT INTO events (topic, actor, mission_id, task_id, payload)"
        f" VALUES (%s, %s, %s, %s, %s) RETURNING {_COLUMNS})"
        f" SELECT {_COLUMNS}, pg_notify(%s, '') AS notified FROM e",
        (topic, actor, mission_id, task_id, Jsonb(dict(payload)), EVENTS_CHANNEL),
    )
    row = await cur.fetchone()
    assert row is not None
    return Event(**{k: v for k, v in row.items() if k != "notified"})


async def append_events(
    conn: Connection, *, topic: str, actor: str, payloads: Sequence[Mapping[str, Any]]
) -> list[int]:
    """Write events of one topic inside the caller's transaction, in order, in one statement.

    The same as calling `append_event` for each payload (no mission or task), with one round
    trip for all of them. Returns their event ids in order.
    """
    if not payloads:
        return []
    cur = await conn.execute(
        "INSERT INTO events (topic, actor, mission_id, task_id, payload)"
        " SELECT %s, %s, '', '', p.payload FROM jsonb_array_elements(%s) WITH ORDINALITY"
        " AS p (payload, n) ORDER BY p.n RETURNING event_id",
        # One JSON array, not a jsonb[]: a text array would escape every quote in Python.
        (topic, actor, Jsonb([dict(payload) for payload in payloads])),
    )
    event_ids = sorted(int(row["event_id"]) for row in await cur.fetchall())
    await conn.execute("SELECT pg_notify(%s, '')", (EVENTS_CHANNEL,))
    return event_ids


async def read_events_after(conn: Connection, after: EventPosition = START, *, limit: int = 500) -> list[Event]:
    """Settled events after `after`, in bus order, at most `limit`."""
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM events WHERE (xact_id, event_id) > (%s, %s) AND {_SETTLED}"
        " ORDER BY xact_id, event_id LIMIT %s",
        (after.xact_id, after.event_id, limit),
    )
    return [Event(**row) for row in await cur.fetchall()]


async def mission_log_after(
    conn: Connection, mission_id: str, after: EventPosition = START, *, topics: Sequence[str] | None = None,
) -> tuple[list[Event], int]:
    """A mission's committed events after `after` in bus order, settled or not, and the horizon.

    Events whose `xact_id` is below the horizon are settled: no event will ever appear before
    them. The others are committed but may still be joined by earlier-ordered events of
    transactions running now, so a reader that must see its own writes folds them provisionally.
    `topics` limits the read to those topics. With no events, the horizon is 0.
    """
    wanted = list(topics) if topics is not None else None
    cur = await conn.execute(
        f"SELECT {_COLUMNS}, pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS horizon FROM events"
        " WHERE mission_id = %s AND (xact_id, event_id) > (%s, %s) AND (%s::text[] IS NULL OR topic = ANY(%s::text[]))"
        " ORDER BY xact_id, event_id",
        (mission_id, after.xact_id, after.event_id, wanted, wanted),
    )
    rows = await cur.fetchall()
    horizon = int(rows[0]["horizon"]) if rows else 0
    return [Event(**{k: v for k, v in row.items() if k != "horizon"}) for row in rows], horizon


async def settled_mission_events(
    conn: Connection, mission_id: str, after: EventPosition = START, *, limit: int = 1000
) -> list[Event]:
    """A mission's settled events after `after`, in bus order (its log as a stream can show it)."""
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM events WHERE mission_id = %s AND (xact_id, event_id) > (%s, %s) AND {_SETTLED}"
        " ORDER BY xact_id, event_id LIMIT %s",
        (mission_id, after.xact_id, after.event_id, limit),
    )
    return [Event(**row) for row in await cur.fetchall()]


async def load_offset(conn: Connection, consumer: str, *, for_update: bool = False) -> EventPosition:
    """The position of the last event `consumer` has fully handled (START if none); optionally lock the row."""
    await conn.execute(
        "INSERT INTO consumer_offsets (consumer, last_event_id) VALUES (%s, 0) ON CONFLICT DO NOTHING",
        (consumer,),
    )
    query = _SELECT_OFFSET_FOR_UPDATE if for_update else _SELECT_OFFSET
    cur = await conn.execute(query, (consumer,))
    row = await cur.fetchone()
    return EventPosition(int(row["last_xact_id"]), int(row["last_event_id"])) if row else START


async def save_offset(conn: Connection, consumer: str, position: EventPosition) -> None:
    """Record that `consumer` has handled everything up to `position` (same transaction as the effect)."""
    await conn.execute(
        "INSERT INTO consumer_offsets (consumer, last_xact_id, last_event_id) VALUES (%s, %s, %s)"
        " ON CONFLICT (consumer) DO UPDATE"
        " SET last_xact_id = excluded.last_xact_id, last_event_id = excluded.last_event_id",
        (consumer, position.xact_id, position.event_id),
    )


async def listen_for_events(conn: psycopg.AsyncConnection[Any]) -> None:
    """Subscribe an autocommit connection to EVENTS_CHANNEL; wake-ups then arrive on `conn.notifies()`."""
    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(EVENTS_CHANNEL)))
