"""SQL for the audit log: serialised appends, idempotent look-ups, ranges read in seq order, checkpoints.

The tables (0001_initial.sql, 0004_audit_checkpoints.sql) are append-only: triggers refuse
UPDATE, DELETE and TRUNCATE, and the application role agentcoord_app lacks those privileges.
Writers call `begin_append` first; the transaction-scoped advisory lock it takes is held
until commit, so each appender sees the previous appender's committed row, seq stays gap-free
(1, 2, 3, ...) and the chain never forks. Rows then go in optimistically (`insert_new_rows`):
the unique index on event_id is the idempotency check, and only when it finds a stored id does
the writer roll back to the savepoint `begin_append` set, look the ids up (`stored_entries`) and
store the rest. Hashing lives in `agentcoord.services.audit.chain`; this module only moves rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from itertools import repeat
from typing import TypeVar

import orjson
import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row

from agentcoord.errors import StoreError
from agentcoord.store.database import Connection, Database

_APPEND_LOCK = 0x61636175  # "acau": shared by every audit appender
_COLUMNS = "seq, event_id, recorded_at, actor, action, subject, payload, prev_hash, entry_hash"
_COLUMN_TYPES = ["int8", "text", "timestamptz", "text", "text", "text", "bytea", "bytea", "bytea"]
_SAVEPOINT = "audit_append"  # set by begin_append, rolled back to when a COPY meets a stored event_id
_EVENT_ID_KEY = "audit_log_event_id_key"  # the unique index that makes appends idempotent
_new_object = object.__new__
_T = TypeVar("_T")


@dataclass(frozen=True)
class AuditEntry:
    """One link of the hash chain, exactly as stored.

    `payload` holds the canonical JSON bytes that were hashed; `entry_hash` is SHA-256 over the
    encoding in docs/audit-format.md and is its leaf in the Merkle tree.
    """

    seq: int
    event_id: str
    recorded_at: datetime
    actor: str
    action: str
    subject: str
    payload: bytes
    prev_hash: bytes
    entry_hash: bytes


EntryRow = tuple[int, str, datetime, str, str, str, bytes, bytes, bytes]
"""An entry's columns in AuditEntry field order, as bulk reads return them."""
_FIELDS = tuple(field.name for field in fields(AuditEntry))


def entry_from_row(row: EntryRow) -> AuditEntry:
    """The AuditEntry of a row read by `read_entry_rows`."""
    return AuditEntry(*row)


def entries_from_rows(rows: Sequence[EntryRow]) -> list[AuditEntry]:
    """`entry_from_row` of each row, made in bulk for a batch just appended.

    The frozen dataclass's own __init__ sets each of its nine fields through object.__setattr__;
    filling a new instance's __dict__ in one update gives an equal (and equally frozen) entry
    for about half the cost.
    """
    entries = list(map(_new_object, repeat(AuditEntry, len(rows))))
    for entry, row in zip(entries, rows, strict=True):
        entry.__dict__.update(zip(_FIELDS, row))
    return entries


@dataclass(frozen=True)
class StoredCheckpoint:
    """A signed checkpoint as the database keeps it; `note` is the signed text."""

    tree_size: int
    root_hash: bytes
    signed_at: datetime
    note: str


@dataclass(frozen=True)
class EntryFilter:
    """Which entries to list; empty / None fields do not filter.

    `mission_id` and `task_id` match the subject ("mission/<id>", ".../task/<id>"), `agent`
    matches the actor ("agent:<name>"), `since` / `until` bound recorded_at (until exclusive).
    """

    subject_prefix: str = ""
    mission_id: str = ""
    task_id: str = ""
    agent: str = ""
    action: str = ""
    since: datetime | None = None
    until: datetime | None = None


@asynccontextmanager
async def append_transaction(db: Database) -> AsyncIterator[Connection]:
    """A connection for one append transaction, which `begin_append(conn, begin=True)` opens.

    As `Database.transaction()`: committed on success, rolled back on error, psycopg errors
    raised as StoreError; but BEGIN does not cost a round trip of its own, it goes with the lock
    and the head read in begin_append's pipeline.
    """
    async with db.connection() as conn:
        try:
            yield conn
        except BaseException:
            if conn.info.transaction_status != TransactionStatus.IDLE:
                with contextlib.suppress(psycopg.Error):  # a broken connection: the pool discards it
                    await conn.execute("ROLLBACK")
            raise
        status = conn.info.transaction_status
        if status == TransactionStatus.INERROR:  # a failure swallowed on the way: nothing may commit
            await conn.execute("ROLLBACK")
            raise StoreError("the append transaction failed and was rolled back")
        if status != TransactionStatus.IDLE:
            await conn.execute("COMMIT")


async def begin_append(
    conn: Connection, *, begin: bool = False, meanwhile: Callable[[], _T] | None = None
) -> tuple[AuditEntry | None, datetime, _T | None]:
    """Take the append lock, set the append savepoint, read the head and the clock, in one round trip.

    Returns the entry with the highest seq (None for an empty log), the database clock and what
    `meanwhile()` returned (None without it): it runs once the statements are sent, while the
    server works on them. The statements are pipelined but still run one after another, each
    with its own snapshot, so the head read sees every entry committed before the lock was
    granted. The lock is taken before the savepoint, so `insert_new_rows` rolling back to it
    keeps the lock. With `begin` the pipeline opens the transaction first (on an
    `append_transaction` connection).
    """
    made = None
    async with conn.pipeline():
        if begin:
            await conn.execute("BEGIN")
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_APPEND_LOCK,))
        await conn.execute(f"SAVEPOINT {_SAVEPOINT}")
        head_cur = await conn.execute(f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1")
        now_cur = await conn.execute("SELECT clock_timestamp() AS now")
        if meanwhile is not None:
            made = meanwhile()
    head = await head_cur.fetchone()
    now = await now_cur.fetchone()
    assert now is not None
    return AuditEntry(**head) if head else None, now["now"], made


async def stored_entries(conn: Connection, event_ids: Sequence[str]) -> dict[str, AuditEntry]:
    """The entries already stored for `event_ids`, by event_id (the caller holds the append lock)."""
    try:  # the ids go as one JSON array: far cheaper to send than a text[] of them
        ids_json = orjson.dumps(list(event_ids)).decode()
    except orjson.JSONEncodeError:  # a lone surrogate: let psycopg refuse it
        cur = await conn.execute(f"SELECT {_COLUMNS} FROM audit_log WHERE event_id = ANY(%s)", (list(event_ids),))
    else:
        cur = await conn.execute(
            f"SELECT {_COLUMNS} FROM audit_log WHERE event_id = ANY(ARRAY(SELECT json_array_elements_text(%s::json)))",
            (ids_json,),
        )
    return {row["event_id"]: AuditEntry(**row) for row in await cur.fetchall()}


async def entry_by_seq(conn: Connection, seq: int) -> AuditEntry | None:
    """The entry at `seq`, or None."""
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM audit_log WHERE seq = %s", (seq,))
    row = await cur.fetchone()
    return AuditEntry(**row) if row else None


async def insert_rows(conn: Connection, rows: Sequence[EntryRow]) -> None:
    """Store fully computed entries with one binary COPY (the caller holds the append lock)."""
    async with conn.cursor().copy(f"COPY audit_log ({_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(_COLUMN_TYPES)
        for row in rows:
            await copy.write_row(row)


async def insert_new_rows(
    conn: Connection, rows: Iterable[EntryRow], *, then: Callable[[list[EntryRow]], _T]
) -> _T | None:
    """Store `rows` as `insert_rows` does, unless an event_id among them is already stored.

    The optimistic half of an append: idempotency is checked by the unique index while the rows
    go in, not looked up first. On a duplicate event_id the transaction goes back to the savepoint
    `begin_append` set (still holding the lock), nothing is stored and the result is None: the
    caller looks the ids up with `stored_entries` and appends only the new ones.

    The server stores COPY data as it arrives, more slowly than it is written, so the client's
    work is overlapped with it: `rows` may be computed as they are taken (`iter_chain_rows`
    hashes them chunk by chunk), and once all are written `then(rows)` runs while the server is
    still storing them; its result is returned when the COPY succeeds.
    """
    written: list[EntryRow] = []
    append = written.append
    try:
        async with conn.cursor().copy(f"COPY audit_log ({_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_COLUMN_TYPES)
            for row in rows:
                append(row)
                await copy.write_row(row)
            result = then(written)
    except psycopg.errors.UniqueViolation as exc:
        if exc.diag.constraint_name != _EVENT_ID_KEY:
            raise
        await conn.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        return None
    return result


async def read_entries(
    conn: Connection,
    *,
    after_seq: int = 0,
    to_seq: int = 0,
    limit: int = 500,
    where: EntryFilter = EntryFilter(),
) -> list[AuditEntry]:
    """Up to `limit` entries with seq in (after_seq, to_seq] (to_seq 0: no bound), in seq order.

    `where` filters. Callers page by passing the last seq they saw as `after_seq`, so memory
    stays bounded however long the log grows.
    """
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM audit_log"
        " WHERE seq > %(after)s"
        " AND (%(to)s = 0 OR seq <= %(to)s)"
        " AND (%(prefix)s = '' OR starts_with(subject, %(prefix)s))"
        " AND (%(mission)s = '' OR subject = 'mission/' || %(mission)s"
        "      OR starts_with(subject, 'mission/' || %(mission)s || '/'))"
        " AND (%(task)s = '' OR subject = 'task/' || %(task)s"
        "      OR right(subject, length(%(task)s) + 6) = '/task/' || %(task)s)"
        " AND (%(agent)s = '' OR actor = 'agent:' || %(agent)s)"
        " AND (%(action)s = '' OR action = %(action)s)"
        " AND (%(since)s::timestamptz IS NULL OR recorded_at >= %(since)s)"
        " AND (%(until)s::timestamptz IS NULL OR recorded_at < %(until)s)"
        " ORDER BY seq LIMIT %(limit)s",
        {"after": after_seq, "to": to_seq, "prefix": where.subject_prefix, "mission": where.mission_id,
         "task": where.task_id, "agent": where.agent, "action": where.action, "since": where.since,
         "until": where.until, "limit": limit},
    )
    return [AuditEntry(**row) for row in await cur.fetchall()]


async def read_entry_rows(
    conn: Connection, *, after_seq: int = 0, to_seq: int = 0, limit: int = 10_000
) -> list[EntryRow]:
    """Up to `limit` rows with seq in (after_seq, to_seq] (to_seq 0: no bound), in seq order.

    The bulk form of `read_entries` for the verifier: plain tuples, read in binary.
    """
    async with conn.cursor(row_factory=tuple_row, binary=True) as cur:
        await cur.execute(
            f"SELECT {_COLUMNS} FROM audit_log WHERE seq > %s AND (%s = 0 OR seq <= %s) ORDER BY seq LIMIT %s",
            (after_seq, to_seq, to_seq, limit),
        )
        return await cur.fetchall()


async def read_entry_hashes(
    conn: Connection, *, after_seq: int, to_seq: int = 0, limit: int = 10_000
) -> list[tuple[int, bytes]]:
    """(seq, entry_hash) of up to `limit` entries after `after_seq` (to `to_seq`, 0: the end), by seq.

    The Merkle leaves; callers check the seqs, since a gap would shift every later leaf.
    """
    async with conn.cursor(row_factory=tuple_row, binary=True) as cur:
        await cur.execute(
            "SELECT seq, entry_hash FROM audit_log WHERE seq > %s AND (%s = 0 OR seq <= %s) ORDER BY seq LIMIT %s",
            (after_seq, to_seq, to_seq, limit),
        )
        return await cur.fetchall()


async def insert_checkpoint(conn: Connection, checkpoint: StoredCheckpoint) -> bool:
    """Store a signed checkpoint; False when one for that tree size is already there."""
    cur = await conn.execute(
        "INSERT INTO audit_checkpoints (tree_size, root_hash, signed_at, note) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (tree_size) DO NOTHING",
        (checkpoint.tree_size, checkpoint.root_hash, checkpoint.signed_at, checkpoint.note),
    )
    return cur.rowcount == 1


async def latest_checkpoint(conn: Connection, *, at_most: int = 0) -> StoredCheckpoint | None:
    """The checkpoint with the largest tree size (at most `at_most` when non-zero), or None."""
    cur = await conn.execute(
        "SELECT tree_size, root_hash, signed_at, note FROM audit_checkpoints"
        " WHERE %s = 0 OR tree_size <= %s ORDER BY tree_size DESC LIMIT 1",
        (at_most, at_most),
    )
    row = await cur.fetchone()
    return StoredCheckpoint(**row) if row else None


async def checkpoint_covering(conn: Connection, tree_size: int) -> StoredCheckpoint | None:
    """The smallest checkpoint whose tree holds `tree_size` entries or more, or None."""
    cur = await conn.execute(
        "SELECT tree_size, root_hash, signed_at, note FROM audit_checkpoints"
        " WHERE tree_size >= %s ORDER BY tree_size LIMIT 1",
        (tree_size,),
    )
    row = await cur.fetchone()
    return StoredCheckpoint(**row) if row else None


async def read_checkpoints(conn: Connection) -> list[StoredCheckpoint]:
    """Every stored checkpoint, by tree size."""
    cur = await conn.execute("SELECT tree_size, root_hash, signed_at, note FROM audit_checkpoints ORDER BY tree_size")
    return [StoredCheckpoint(**row) for row in await cur.fetchall()]
