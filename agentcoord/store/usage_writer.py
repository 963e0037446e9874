"""Idempotent bulk writes of usage streams: COPY straight into usage_events, merge on a conflict.

Most streams carry only new idempotency keys, and for them the cheapest correct write is one
binary COPY into usage_events (the heap and its three indexes, nothing else). `UsageWriter` does
that inside a savepoint, in segments so that a conflict shows up early, with a short
`lock_timeout` so that it never waits long on another writer; and it keeps the COPY data it sent
in a spool (memory, then a temporary file).

Any failure of that fast path (a replayed key raises a unique violation, an overlapping writer
still in flight a lock timeout, rarely a deadlock) rolls the savepoint back, so this transaction
then holds no usage rows another writer could wait on. The spooled rows and the rest of the
stream go to the staging table instead, and one merge sorted by key (`merge_staged_usage`)
stores the new keys at the end, as every stream did before the fast path existed. Sorted merges
of writers that hold no other usage rows cannot deadlock each other, and fast writers give up
within the lock timeout, so overlapping streams all finish and each key is stored once.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from itertools import chain
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg import AsyncCopy, errors, sql
from psycopg.copy import AsyncWriter

from agentcoord.store.database import Connection
from agentcoord.store.usage import (
    COLUMN_LIST,
    COLUMN_TYPES,
    RecordedChunk,
    create_staging,
    merge_staged_usage,
    usage_rows,
)
from agentcoord.usage import UsageBatch

log = logging.getLogger(__name__)

# PostgreSQL's binary COPY framing: an 11-byte signature, flags and header-extension length,
# then the rows, then a -1 field count.
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_TRAILER = b"\xff\xff"
_COPY_DIRECT = sql.SQL("COPY usage_events ({columns}) FROM STDIN (FORMAT BINARY)").format(
    columns=COLUMN_LIST
)
_COPY_STAGING = sql.SQL("COPY usage_staging ({columns}) FROM STDIN (FORMAT BINARY)").format(
    columns=COLUMN_LIST
)
_SAVEPOINT = "usage_direct_copy"
# How long the fast path waits on another writer's uncommitted row before it falls back; well
# under deadlock_timeout (1 s by default), so a fast writer gives up before a deadlock is
# detected in a merging writer.
FAST_LOCK_TIMEOUT = "50ms"
# Conflicting merges are retried this often (a deadlock with a fast writer that has not yet
# given up is possible, though unlikely, at the edge of the lock timeout).
_MERGE_ATTEMPTS = 5
_SPOOL_READ_BYTES = 1 << 20


class _Discard(AsyncWriter):
    """The writer of an encode-only Copy: the formatter's output is taken, never sent."""

    async def write(self, data: Any) -> None:  # pragma: no cover - never called
        raise AssertionError("encode-only copy")


class UsageWriter:
    """Writes the batches of one usage stream inside the caller's transaction.

    Use as an `async with` block (it owns a spool file and may hold an open COPY); call `write` for each validated, priced
    batch in stream order, then `finish` once; the caller commits (or rolls back) the
    transaction. Not reusable.
    """

    def __init__(
        self,
        conn: Connection,
        *,
        chunk_size: int = 1000,
        segment_events: int = 20_000,
        spool_memory_bytes: int = 32 << 20,
    ) -> None:
        self._conn = conn
        self._chunk_size = chunk_size
        self._segment_events = segment_events
        # Closed by finish() or on leaving the `async with` block, whichever comes first.
        self._spool = tempfile.SpooledTemporaryFile(max_size=spool_memory_bytes)  # noqa: SIM115
        self._encoder_cursor = conn.cursor()
        self._copy_context: Any = None
        self._copy: AsyncCopy | None = None
        self._in_segment = 0
        self._started = False
        self._fell_back = False
        self._lock_timeout = ""
        self._keys: list[Sequence[str]] = []
        self._costs: list[Sequence[int]] = []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # An open COPY holds the connection: end it (failed) so the transaction can roll back.
        if self._copy is not None:
            context = self._copy_context
            self._copy = self._copy_context = None
            error = exc or RuntimeError("usage stream ended without finish()")
            try:
                await context.__aexit__(type(error), error, tb)
            except psycopg.Error:
                pass  # the transaction is rolled back next anyway
        self._spool.close()

    @property
    def fell_back(self) -> bool:
        """Whether the stream went through staging and the merge (some write conflicted)."""
        return self._fell_back

    async def write(self, batch: UsageBatch) -> None:
        """Send one batch (COPY into usage_events, or staging once the fast path failed)."""
        if not len(batch):
            return
        costs = batch.costs_micro_usd()
        rows = self._encode(batch, costs)
        if self._fell_back:
            await self._stage([rows])
            return
        self._spool.write(rows)
        self._keys.append(batch.idempotency_keys)
        self._costs.append(costs)
        try:
            if not self._started:
                await self._start()
            if self._copy is None:
                await self._open_segment()
            assert self._copy is not None
            await self._copy.write(rows)
            self._in_segment += len(batch)
            if self._in_segment >= self._segment_events:
                await self._close_segment()
        except psycopg.Error as exc:
            await self._fall_back(exc)

    async def finish(self) -> list[RecordedChunk]:
        """End the stream's writes; the keys stored now in chunks of at most `chunk_size`.

        On the fast path every key was new, and the chunks follow stream order; after a fall
        back they are the merge's, sorted by key.
        """
        if not self._fell_back and self._started:
            try:
                await self._close_segment()
            except psycopg.Error as exc:
                await self._fall_back(exc)
            else:
                await self._conn.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
                await self._conn.execute(
                    "SELECT set_config('lock_timeout', %s, true)", (self._lock_timeout,)
                )
        self._spool.close()
        if self._fell_back:
            return await self._merge()
        keys = list(chain.from_iterable(self._keys))
        costs = list(chain.from_iterable(self._costs))
        size = self._chunk_size
        return [
            RecordedChunk(tuple(keys[i : i + size]), sum(costs[i : i + size]))
            for i in range(0, len(keys), size)
        ]

    def _encode(self, batch: UsageBatch, costs: Sequence[int]) -> bytes:
        """The rows of `batch` in binary COPY format, without the framing."""
        encoder = AsyncCopy(self._encoder_cursor, binary=True, writer=_Discard())
        encoder.set_types(list(COLUMN_TYPES))
        formatter = encoder.formatter
        parts = [formatter.write_row(row) for row in usage_rows(batch, costs_micro_usd=costs)]
        parts.append(formatter.end())
        return b"".join(parts)[len(_SIGNATURE) : -len(_TRAILER)]

    async def _start(self) -> None:
        self._started = True
        await self._conn.execute(f"SAVEPOINT {_SAVEPOINT}")
        cur = await self._conn.execute("SELECT current_setting('lock_timeout') AS value")
        row = await cur.fetchone()
        assert row is not None
        self._lock_timeout = row["value"]
        await self._conn.execute(
            "SELECT set_config('lock_timeout', %s, true)", (FAST_LOCK_TIMEOUT,)
        )

    async def _open_segment(self) -> None:
        self._copy_context = self._conn.cursor().copy(_COPY_DIRECT)
        self._copy = await self._copy_context.__aenter__()
        await self._copy.write(_SIGNATURE)

    async def _close_segment(self) -> None:
        if self._copy is None:
            return
        copy, context = self._copy, self._copy_context
        self._copy = self._copy_context = None
        self._in_segment = 0
        await copy.write(_TRAILER)
        await context.__aexit__(None, None, None)

    async def _fall_back(self, exc: psycopg.Error) -> None:
        """Undo the direct writes; stage what they carried; later batches go to staging."""
        log.info(
            "usage stream falls back to staging and merge: %s",
            exc.sqlstate or type(exc).__name__,
        )
        self._fell_back = True
        if self._copy is not None:
            context = self._copy_context
            self._copy = self._copy_context = None
            try:
                await context.__aexit__(type(exc), exc, exc.__traceback__)
            except psycopg.Error:
                pass  # the COPY already failed; the rollback below is what matters
        await self._conn.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        await self._conn.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
        self._keys.clear()
        self._costs.clear()
        self._spool.seek(0)
        await self._stage(iter(lambda: self._spool.read(_SPOOL_READ_BYTES), b""))
        self._spool.close()

    async def _stage(self, rows: Any) -> None:
        """COPY encoded rows (an iterable of bytes) into the transaction's staging table."""
        await create_staging(self._conn)
        async with self._conn.cursor().copy(_COPY_STAGING) as copy:
            await copy.write(_SIGNATURE)
            for block in rows:
                await copy.write(block)
            await copy.write(_TRAILER)

    async def _merge(self) -> list[RecordedChunk]:
        """Merge staging into usage_events, retrying a merge a deadlock detector chose."""
        for attempt in range(1, _MERGE_ATTEMPTS + 1):
            try:
                async with self._conn.transaction():
                    return await merge_staged_usage(self._conn, chunk_size=self._chunk_size)
            except (errors.DeadlockDetected, errors.LockNotAvailable) as exc:
                if attempt == _MERGE_ATTEMPTS:
                    raise
                log.info("usage merge retried after %s", exc.sqlstate)
        raise AssertionError("unreachable")
