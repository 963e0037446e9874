"""Writes an attempt's agent events to the event outbox, in batches, so each becomes an audit entry.

The task executor is synchronous (a Ray task) while the store is asyncio psycopg, so the recorder
keeps one connection on a private event loop for the attempt and runs each batch there. A session
event is written at once (with its row in agent_sessions) because a retry must be able to resume
the session even when this worker dies the next moment.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.rows import dict_row

from agentcoord.actors.agents.base import AgentEvent, EventKind
from agentcoord.errors import StoreError
from agentcoord.services.audit.canonical import redact
from agentcoord.store import agents as agent_store
from agentcoord.store.database import Connection
from agentcoord.store.events import append_event

log = logging.getLogger(__name__)

BATCH_EVENTS = 100
BATCH_INTERVAL_S = 0.5


class EventRecorder:
    """Batches one attempt's events into the outbox (topic `agent.<kind>`, actor `agent:<name>`)."""

    def __init__(
        self, database_url: str, *, mission_id: str, task_id: str, attempt_id: str, agent: str,
        resumed_from: str = "",
    ) -> None:
        self._ids = {"mission_id": mission_id, "task_id": task_id}
        self._attempt_id = attempt_id
        self._agent = agent
        self._resumed_from = resumed_from
        self._pending: list[AgentEvent] = []
        self._last_flush = time.monotonic()
        self._loop = asyncio.new_event_loop()
        try:
            self._conn: Connection = self._loop.run_until_complete(
                psycopg.AsyncConnection.connect(database_url, autocommit=True, row_factory=dict_row)
            )
        except psycopg.Error as exc:
            self._loop.close()
            raise StoreError(f"cannot connect to PostgreSQL to record agent events: {exc}") from exc
        self.recorded = 0

    def add(self, event: AgentEvent) -> None:
        """Queue one event; write the batch when it is full, old enough, or a session started."""
        self._pending.append(event)
        if (
            event.kind is EventKind.SESSION
            or len(self._pending) >= BATCH_EVENTS
            or time.monotonic() - self._last_flush >= BATCH_INTERVAL_S
        ):
            self.flush()

    def flush(self) -> None:
        """Write every queued event in one transaction."""
        batch, self._pending = self._pending, []
        self._last_flush = time.monotonic()
        if batch:
            try:
                self._loop.run_until_complete(self._write(batch))
            except psycopg.Error as exc:
                raise StoreError(f"cannot record agent events: {exc}") from exc
            self.recorded += len(batch)

    def close(self) -> None:
        """Flush what is queued and release the connection (the flush is skipped if it fails)."""
        try:
            self.flush()
        except StoreError:
            log.exception("agent events of attempt %s could not be recorded", self._attempt_id)
        finally:
            self._loop.run_until_complete(self._conn.close())
            self._loop.close()

    async def _write(self, batch: list[AgentEvent]) -> None:
        async with self._conn.transaction():
            for event in batch:
                payload: Mapping[str, Any] = redact({**event.payload, "attempt_id": self._attempt_id,
                                                      "agent": self._agent})
                await append_event(
                    self._conn, topic=event.topic, actor=f"agent:{self._agent}", payload=payload, **self._ids
                )
                session_id = event.payload.get("session_id")
                if event.kind is EventKind.SESSION and isinstance(session_id, str) and session_id:
                    await agent_store.record_session(
                        self._conn, attempt_id=self._attempt_id, agent=self._agent, session_id=session_id,
                        resumed_from=self._resumed_from, **self._ids,
                    )
