"""Writes an attempt's agent events to the event outbox, in batches, so each becomes an audit entry.

The task executor is synchronous (a Ray task) while the store is asyncio psycopg, so each
executor thread keeps one event loop and one connection, warm across the attempts it runs (a Ray
worker process runs many attempts one after another; the connection closes when none follows
within IDLE_CLOSE_S), and runs each batch there. A connection
that broke, or a write that was interrupted (a cancel), is dropped and the next write connects
anew. A session event is written at once (with its row in agent_sessions) because a retry must
be able to resume the session even when this worker dies the next moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
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
IDLE_CLOSE_S = 30.0
"""How long an executor's connection outlives its attempt, waiting for the worker's next one.

Ray hands a node's idle workers out in no fixed order, so a busy node reuses a given worker every
few seconds, not every few hundred milliseconds; each reconnect costs a new server backend. The
workers a node keeps are bounded by its soft limit (see agentcoord.actors.worker_soft_limit)."""


class _WarmConnection:
    """One event loop and one autocommit connection of one thread, reused by its attempts.

    Between attempts the connection stays open for IDLE_CLOSE_S only: Ray keeps idle workers
    around, and a server's connections must not go to workers that have nothing to do.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._conn: Connection | None = None
        self._url = ""
        self._lock = threading.Lock()
        self._busy = False
        self._idle_timer: threading.Timer | None = None

    def connection(self, url: str, *, check: bool = False) -> Connection:
        """The warm connection to `url`, (re)connected if it is missing, broken or mid-transaction.

        The connection is in use from here until `idle`. With `check`, a connection kept from an
        earlier attempt is first pinged (one round trip): the server may have closed it meanwhile.
        """
        with self._lock:
            self._busy = True
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
        conn = self._conn
        if conn is not None and (
            self._url != url or conn.broken or conn.closed or conn.info.transaction_status != TransactionStatus.IDLE
            or (check and not self._alive(conn))
        ):
            self.reset()
            conn = None
        if conn is None:
            try:
                conn = self.loop.run_until_complete(
                    psycopg.AsyncConnection.connect(url, autocommit=True, row_factory=dict_row)
                )
            except psycopg.Error as exc:
                raise StoreError(f"cannot connect to PostgreSQL to record agent events: {exc}") from exc
            self._conn, self._url = conn, url
        return conn

    def idle(self) -> None:
        """The attempt is over: close the connection unless another attempt takes it soon."""
        with self._lock:
            self._busy = False
            if self._conn is not None:
                self._idle_timer = threading.Timer(IDLE_CLOSE_S, self._close_if_idle)
                self._idle_timer.daemon = True
                self._idle_timer.start()

    def _close_if_idle(self) -> None:
        with self._lock:  # never while an attempt uses it: `connection` marks it busy first
            if self._busy or self._conn is None:
                return
            conn, self._conn = self._conn, None
            conn.pgconn.finish()

    def _alive(self, conn: Connection) -> bool:
        try:
            self.loop.run_until_complete(conn.execute(""))
        except psycopg.Error:
            return False
        return True

    def reset(self) -> None:
        """Drop the connection, and any write a cancel interrupted, with a fresh event loop."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.pgconn.finish()  # closes the socket without needing the (maybe busy) loop
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        if pending:
            with contextlib.suppress(BaseException):
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()
        self.loop = asyncio.new_event_loop()


_THREAD = threading.local()


def _warm_connection() -> _WarmConnection:
    warm: _WarmConnection | None = getattr(_THREAD, "warm", None)
    if warm is None:
        warm = _THREAD.warm = _WarmConnection()
    return warm


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
        self._url = database_url
        self._warm = _warm_connection()
        self._warm.connection(database_url, check=True)  # fail before the agent starts if the store is unreachable
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
                self._warm.loop.run_until_complete(self._write(self._warm.connection(self._url), batch))
            except psycopg.Error as exc:
                self._warm.reset()
                raise StoreError(f"cannot record agent events: {exc}") from exc
            except BaseException:  # a cancel arrived mid-write: the connection's state is unknown
                self._warm.reset()
                raise
            self.recorded += len(batch)

    def close(self) -> None:
        """Flush what is queued (skipped if it fails); the connection stays warm for a next attempt."""
        try:
            self.flush()
        except StoreError:
            log.exception("agent events of attempt %s could not be recorded", self._attempt_id)
        finally:
            self._warm.idle()

    async def _write(self, conn: Connection, batch: list[AgentEvent]) -> None:
        async with conn.transaction():
            for event in batch:
                payload: Mapping[str, Any] = redact({**event.payload, "attempt_id": self._attempt_id,
                                                      "agent": self._agent})
                await append_event(
                    conn, topic=event.topic, actor=f"agent:{self._agent}", payload=payload, **self._ids
                )
                session_id = event.payload.get("session_id")
                if event.kind is EventKind.SESSION and isinstance(session_id, str) and session_id:
                    await agent_store.record_session(
                        conn, attempt_id=self._attempt_id, agent=self._agent, session_id=session_id,
                        resumed_from=self._resumed_from, **self._ids,
                    )
