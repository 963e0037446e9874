"""SQL for the audit log: serialised appends, idempotent look-ups, and ranges read in seq order.

The table (0001_initial.sql) is append-only: triggers refuse UPDATE, DELETE and TRUNCATE.
Writers call `lock_for_append` first; the transaction-scoped advisory lock it takes is held
until commit, so each appender sees the previous appender's committed row, seq stays gap-free
(1, 2, 3, ...) and the chain never forks. Hashing lives in `agentcoord.services.audit.chain`;
this module only moves rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agentcoord.store.database import Connection

_APPEND_LOCK = 0x61636175  # "acau": shared by every audit appender
_COLUMNS = "seq, event_id, recorded_at, actor, action, subject, payload, prev_hash, entry_hash"


@dataclass(frozen=True)
class AuditEntry:
    """One link of the hash chain, exactly as stored.

    `payload` holds the canonical JSON bytes that were hashed; `entry_hash` is SHA-256 over the
    encoding in docs/audit-format.md and is the leaf the future Merkle tree is built from.
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


async def lock_for_append(conn: Connection) -> None:
    """Serialise audit appends until the caller's transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_APPEND_LOCK,))


async def database_time(conn: Connection) -> datetime:
    """The database server's current time (all replicas of a service share one clock)."""
    cur = await conn.execute("SELECT clock_timestamp() AS now")
    row = await cur.fetchone()
    assert row is not None
    return row["now"]


async def last_entry(conn: Connection) -> AuditEntry | None:
    """The entry with the highest seq, or None for an empty log."""
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1")
    row = await cur.fetchone()
    return AuditEntry(**row) if row else None


async def entry_by_seq(conn: Connection, seq: int) -> AuditEntry | None:
    """The entry at `seq`, or None."""
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM audit_log WHERE seq = %s", (seq,))
    row = await cur.fetchone()
    return AuditEntry(**row) if row else None


async def entry_by_event_id(conn: Connection, event_id: str) -> AuditEntry | None:
    """The entry stored for idempotency key `event_id`, or None."""
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM audit_log WHERE event_id = %s", (event_id,))
    row = await cur.fetchone()
    return AuditEntry(**row) if row else None


async def insert_entry(conn: Connection, entry: AuditEntry) -> None:
    """Store a fully computed entry (the caller holds the append lock)."""
    await conn.execute(
        f"INSERT INTO audit_log ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            entry.seq,
            entry.event_id,
            entry.recorded_at,
            entry.actor,
            entry.action,
            entry.subject,
            entry.payload,
            entry.prev_hash,
            entry.entry_hash,
        ),
    )


async def read_entries(
    conn: Connection,
    *,
    after_seq: int = 0,
    to_seq: int = 0,
    limit: int = 500,
    subject_prefix: str = "",
    action: str = "",
) -> list[AuditEntry]:
    """Up to `limit` entries with seq in (after_seq, to_seq] (to_seq 0: no bound), in seq order.

    `subject_prefix` and `action` filter when non-empty. Callers page by passing the last seq
    they saw as `after_seq`, so memory stays bounded however long the log grows.
    """
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM audit_log"
        " WHERE seq > %(after)s"
        " AND (%(to)s = 0 OR seq <= %(to)s)"
        " AND (%(prefix)s = '' OR starts_with(subject, %(prefix)s))"
        " AND (%(action)s = '' OR action = %(action)s)"
        " ORDER BY seq LIMIT %(limit)s",
        {"after": after_seq, "to": to_seq, "prefix": subject_prefix, "action": action, "limit": limit},
    )
    return [AuditEntry(**row) for row in await cur.fetchall()]
