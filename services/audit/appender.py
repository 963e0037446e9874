"""The audit appender: the event-bus consumer that turns every event into an audit entry.

Because every state change writes an event in the same transaction, auditing the bus audits
everything by construction. Each batch of entries is appended (one lock, one COPY) in the same
transaction that moves the consumer offset ("audit-appender"), in the bus order of
`agentcoord.store.events` (entries follow that order, not event ids). Entries are keyed by
`event:<event_id>`, so delivery may repeat (restarts, several service replicas) but each event
is audited exactly once. After each round the checkpointer signs the tree head when it is due.

`consume_events` wakes on LISTEN/NOTIFY and also polls, so a missed notification (listener
reconnecting, NOTIFY lost in a crash) delays an entry by at most one poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

from agentcoord.errors import InvalidInputError, StoreError
from agentcoord.services.audit.canonical import canonical_payload, redact
from agentcoord.services.audit.chain import format_recorded_at
from agentcoord.services.audit.checkpoint import AuditFiles, load_or_create_signing_key
from agentcoord.services.audit.checkpointer import Checkpointer
from agentcoord.services.audit.log import BUS_EVENT_PREFIX, NewEntry, append_entries
from agentcoord.services.context import ServiceContext
from agentcoord.store import Database
from agentcoord.store.events import (
    Event,
    listen_for_events,
    load_offset,
    read_events_after,
    save_offset,
)

log = logging.getLogger(__name__)

CONSUMER = "audit-appender"
POLL_INTERVAL_S = 1.0
ROUND_LINGER_S = 0.05
"""After a notification, how long the appender lets more events arrive before its round.

Events come in bursts (a round of task starts, an agent's tool calls, each commit notifying),
and a round costs about ten statements whatever it appends; without the pause a busy bus got a
round per commit. The audit log trails the bus by this much more."""


def event_subject(event: Event) -> str:
    """What an event is about: "mission/<id>/task/<id>", "mission/<id>", "task/<id>" or "system"."""
    parts = []
    if event.mission_id:
        parts.append(f"mission/{event.mission_id}")
    if event.task_id:
        parts.append(f"task/{event.task_id}")
    return "/".join(parts) or "system"


def event_payload(event: Event) -> dict[str, Any]:
    """The event's payload plus `event_created_at` (when the fact was written to the bus)."""
    return {**event.payload, "event_created_at": format_recorded_at(event.created_at)}


async def append_pending_events(db: Database, *, batch: int = 500) -> int:
    """Audit every event after this consumer's offset; the number of entries newly appended.

    Safe to run concurrently: the offset row is locked for the batch, and a replayed event
    finds its entry already there.
    """
    appended_total = 0
    while True:
        async with db.transaction() as conn:
            offset = await load_offset(conn, CONSUMER, for_update=True)
            events = await read_events_after(conn, offset, limit=batch)
            results = await append_entries(conn, [_entry_for(event) for event in events])
            appended_total += sum(appended for _, appended in results)
            if events:
                await save_offset(conn, CONSUMER, events[-1].position)
        if len(events) < batch:
            return appended_total


async def consume_events(
    db: Database,
    *,
    listen_url: str | None,
    stop: asyncio.Event,
    poll_interval_s: float = POLL_INTERVAL_S,
    after_round: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Append pending events whenever NOTIFY arrives or `poll_interval_s` passes, until `stop`.

    `listen_url` is where a dedicated autocommit connection LISTENs; None polls only.
    `after_round` runs after every round of appends (the checkpointer).
    """
    listener = None
    if listen_url:
        listener = await _open_listener(listen_url)
    else:
        log.warning("audit appender has no database URL to LISTEN on; polling every %.1f s", poll_interval_s)
    try:
        while not stop.is_set():
            await append_pending_events(db)
            if after_round is not None:
                await after_round()
            await _wait_for_wakeup(listener, stop, poll_interval_s)
            if listener is not None and not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), ROUND_LINGER_S)
                await _next_notification(listener, 0.0, stop_after=None)  # those that came meanwhile
    finally:
        if listener is not None:
            await listener.close()


async def run_background(context: ServiceContext, stop: asyncio.Event) -> None:
    """The host's entry point: consume the bus into the audit log and sign checkpoints until `stop`.

    The signing key is created under the state directory on first start (see AuditFiles).
    """
    files = AuditFiles.under(context.config.state_dir)
    key = load_or_create_signing_key(files.signing_key)
    checkpointer = Checkpointer(context.db, key=key, checkpoint_dir=files.checkpoint_dir)
    await consume_events(
        context.db, listen_url=context.config.database.url, stop=stop, after_round=checkpointer.maybe_checkpoint
    )


def _entry_for(event: Event) -> NewEntry:
    """The audit entry for one event."""
    payload = event_payload(event)
    try:
        payload_bytes = canonical_payload(payload)
    except InvalidInputError as exc:
        # Refusing would stall the whole bus behind one event; keep the fact, flag the problem.
        log.warning("event %d has a payload that is not canonical JSON: %s", event.event_id, exc)
        payload_bytes = canonical_payload({
            "event_created_at": payload["event_created_at"],
            "payload_error": str(exc),
            "payload_text": json.dumps(redact(event.payload), sort_keys=True, ensure_ascii=False),
        })
    return NewEntry(
        event_id=f"{BUS_EVENT_PREFIX}{event.event_id}", actor=event.actor, action=event.topic,
        subject=event_subject(event), payload=payload_bytes,
    )


async def _wait_for_wakeup(listener: psycopg.AsyncConnection | None, stop: asyncio.Event, timeout_s: float) -> None:
    """Return on the first notification, after `timeout_s`, or as soon as `stop` is set."""
    waiters: set[asyncio.Future[Any]] = {asyncio.ensure_future(stop.wait())}
    if listener is not None:
        waiters.add(asyncio.ensure_future(_next_notification(listener, timeout_s)))
    try:
        done, _ = await asyncio.wait(
            waiters, timeout=None if listener is not None else timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
    finally:  # also when the consumer itself is cancelled: leave no waiter behind
        for task in waiters:
            task.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
    for task in done:
        task.result()  # a broken listener raises here; the host restarts the consumer


async def _open_listener(url: str) -> psycopg.AsyncConnection:
    """A dedicated autocommit connection subscribed to the events channel."""
    try:
        listener = await psycopg.AsyncConnection.connect(url, autocommit=True)
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to LISTEN for events: {exc}") from exc
    try:
        await listen_for_events(listener)
    except psycopg.Error as exc:
        await listener.close()
        raise StoreError(f"cannot LISTEN for events: {exc}") from exc
    return listener


async def _next_notification(
    listener: psycopg.AsyncConnection, timeout_s: float, *, stop_after: int | None = 1
) -> None:
    """Consume notifications: the next one (within `timeout_s`), or with stop_after None all that come in it."""
    try:
        async for _ in listener.notifies(timeout=timeout_s, stop_after=stop_after):
            pass
    except psycopg.Error as exc:
        raise StoreError(f"lost the LISTEN connection: {exc}") from exc
