"""AuditLog: the plain service object behind AuditService (append, list, verify).

Appends run inside one transaction holding the audit append lock: look up the idempotency key,
read the head of the chain, hash the new entry onto it, insert. `append_entry` does that on a
caller's connection so the event appender can add many entries and move its offset in one
transaction. Verification reads the table in seq-ordered batches and streams them through the
pure `ChainVerifier`, so it sees exactly what is stored, including edits made behind the app's
back, in bounded memory.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from agentcoord.errors import InvalidInputError
from agentcoord.services.audit.canonical import canonical_payload
from agentcoord.services.audit.chain import GENESIS_HASH, ChainVerifier, VerifyReport, build_entry
from agentcoord.store import Database
from agentcoord.store import audit as audit_store
from agentcoord.store.audit import AuditEntry
from agentcoord.store.database import Connection

log = logging.getLogger(__name__)

BUS_EVENT_PREFIX = "event:"
"""event_id prefix reserved for entries the appender makes from bus events."""
MAX_PAGE_SIZE = 1000
_VERIFY_BATCH = 1000


async def append_entry(
    conn: Connection,
    event_id: str,
    *,
    actor: str,
    action: str,
    subject: str,
    payload: Mapping[str, Any],
) -> tuple[AuditEntry, bool]:
    """Append one entry in the caller's transaction; (entry, appended).

    A replayed `event_id` returns the entry first stored and appends nothing. The payload is
    redacted and canonicalised (InvalidInputError names the bad field) before the lock is taken.
    """
    payload_bytes = canonical_payload(payload)
    await audit_store.lock_for_append(conn)
    existing = await audit_store.entry_by_event_id(conn, event_id)
    if existing is not None:
        return existing, False
    head = await audit_store.last_entry(conn)
    entry = build_entry(
        seq=head.seq + 1 if head else 1,
        event_id=event_id,
        recorded_at=await audit_store.database_time(conn),
        actor=actor,
        action=action,
        subject=subject,
        payload=payload_bytes,
        prev_hash=head.entry_hash if head else GENESIS_HASH,
    )
    await audit_store.insert_entry(conn, entry)
    return entry, True


class AuditLog:
    """Append to, read and verify the audit log in `db`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def append(
        self, event_id: str, *, actor: str, action: str, subject: str, payload: Mapping[str, Any]
    ) -> tuple[AuditEntry, bool]:
        """Append one entry for a client; (entry, appended). Replays return the stored entry."""
        _require(event_id, "event_id")
        if event_id.startswith(BUS_EVENT_PREFIX):
            raise InvalidInputError(
                f"the prefix {BUS_EVENT_PREFIX!r} is reserved for events from the bus", field="event_id"
            )
        _require(actor, "actor")
        _require(action, "action")
        _require(subject, "subject")
        async with self._db.transaction() as conn:
            entry, appended = await append_entry(
                conn, event_id, actor=actor, action=action, subject=subject, payload=payload
            )
        if appended:
            log.info("audit entry appended", extra={"seq": entry.seq, "action": action, "subject": subject})
        return entry, appended

    async def list_entries(
        self, *, after_seq: int = 0, page_size: int = 100, subject_prefix: str = "", action: str = ""
    ) -> list[AuditEntry]:
        """Entries after `after_seq` in seq order, filtered; at most `page_size` (<= 1000)."""
        if after_seq < 0:
            raise InvalidInputError("must not be negative", field="after_seq")
        if not 0 < page_size <= MAX_PAGE_SIZE:
            raise InvalidInputError(f"must be between 1 and {MAX_PAGE_SIZE}", field="page_size")
        async with self._db.transaction() as conn:
            return await audit_store.read_entries(
                conn, after_seq=after_seq, limit=page_size, subject_prefix=subject_prefix, action=action
            )

    async def verify(self, from_seq: int = 0, to_seq: int = 0, *, batch: int = _VERIFY_BATCH) -> VerifyReport:
        """Recompute the chain over seq in [from_seq, to_seq] (0: start / end of the log).

        A range starting after seq 1 is anchored on the stored entry_hash of the entry before it.
        Deleting the newest entries leaves a shorter chain that still verifies; signed
        checkpoints are what will catch that.
        """
        if from_seq < 0:
            raise InvalidInputError("must not be negative", field="from_seq")
        if to_seq < 0 or (to_seq and to_seq < from_seq):
            raise InvalidInputError("must be 0 (the end) or at least from_seq", field="to_seq")
        first_seq = max(from_seq, 1)
        prev_hash: bytes | None = GENESIS_HASH
        if first_seq > 1:
            async with self._db.transaction() as conn:
                anchor = await audit_store.entry_by_seq(conn, first_seq - 1)
            prev_hash = anchor.entry_hash if anchor else None
        verifier = ChainVerifier(first_seq=first_seq, prev_hash=prev_hash)
        after_seq = first_seq - 1
        while not verifier.failed:
            async with self._db.transaction() as conn:
                entries = await audit_store.read_entries(conn, after_seq=after_seq, to_seq=to_seq, limit=batch)
            for entry in entries:
                if not verifier.check(entry):
                    break
            if len(entries) < batch:
                break
            after_seq = entries[-1].seq
        report = verifier.report()
        if not report.intact:
            log.warning("audit log verification failed: %s", report.describe())
        return report


async def verify_log(db: Database, *, from_seq: int = 0, to_seq: int = 0) -> VerifyReport:
    """Verify the audit log in `db` (what `agentcoord audit verify` calls)."""
    return await AuditLog(db).verify(from_seq, to_seq)


def _require(value: str, field: str) -> None:
    if not value:
        raise InvalidInputError("is required", field=field)
