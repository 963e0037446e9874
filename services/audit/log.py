"""AuditLog: the plain service object behind AuditService (append, read, verify, checkpoints, proofs).

Appends run inside one transaction holding the audit append lock: read the head of the chain,
hash the new entries onto it in one pass, store them with one COPY; only when that COPY meets an
event_id already stored are the idempotency keys looked up and the new entries alone stored.
`append_entries` does that on a caller's connection so the event appender can add a batch of
entries and move its offset in one transaction. Proofs come from a `LogTree` that follows the
table; verification (`verify.verify_log`) reads everything afresh.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agentcoord.errors import InvalidInputError, NotFoundError
from agentcoord.services.audit.canonical import canonical_payload, plain_payloads
from agentcoord.services.audit.chain import GENESIS_HASH, VerifyReport, chain_rows, iter_chain_rows
from agentcoord.services.audit.tree import LogTree
from agentcoord.services.audit.verify import verify_log
from agentcoord.store import Database
from agentcoord.store import audit as audit_store
from agentcoord.store.audit import AuditEntry, EntryFilter, StoredCheckpoint
from agentcoord.store.database import Connection

log = logging.getLogger(__name__)

BUS_EVENT_PREFIX = "event:"
"""event_id prefix reserved for entries the appender makes from bus events."""
MAX_PAGE_SIZE = 1000
_RESERVED_AT_START = "\x00" + BUS_EVENT_PREFIX  # found in NUL-joined ids where an id starts with it
_new_tuple = tuple.__new__  # NewEntry's own __new__ is a Python function; this builds the same tuple
MAX_APPEND_BATCH = 1000
"""Entries appended per transaction by `AuditLog.append_many` (longer lists are split)."""


class NewEntry(NamedTuple):
    """An entry to append: `payload` is already canonical bytes (see canonical_payload).

    A named tuple rather than a dataclass: appends make one per entry, and a tuple is cheaper.
    """

    event_id: str
    actor: str
    action: str
    subject: str
    payload: bytes


@dataclass(frozen=True)
class InclusionProof:
    """Entry `entry` is leaf `entry.seq - 1` of the tree of `tree_size` entries with `root_hash`.

    `checkpoint` is the signed checkpoint of that tree size when there is one.
    """

    entry: AuditEntry
    tree_size: int
    root_hash: bytes
    hashes: list[bytes]
    checkpoint: StoredCheckpoint | None


async def append_entries(
    conn: Connection, entries: Sequence[NewEntry] | Callable[[], Sequence[NewEntry]], *, begin: bool = False
) -> list[tuple[AuditEntry, bool]]:
    """Append entries in the caller's transaction; (entry, appended) for each, in order.

    `entries` may be a function making them, called while the lock and the head are being
    fetched (the server works meanwhile); what it raises ends the append with nothing stored.
    `begin`: open that transaction first (on a `store.audit.append_transaction` connection).

    An event_id already stored (or repeated within `entries`) yields the entry first stored
    and appends nothing. Replays are rare, so the ids are not looked up first: the rows are
    chained and COPYed at once (hashed as they are sent, the results built while the server
    stores them), and only when the unique index finds a stored event_id does the append roll
    back to its savepoint (keeping the lock and so the head it chained onto), look the ids up
    and chain and store just the new entries.
    """
    make = entries if callable(entries) else None
    if not (make or entries):
        return []
    head, recorded_at, made = await audit_store.begin_append(conn, begin=begin, meanwhile=make)
    if made is not None:
        entries = made
    assert not callable(entries)
    if not entries:
        return []
    seq, prev_hash = (head.seq, head.entry_hash) if head else (0, GENESIS_HASH)
    pending = dict(zip([new.event_id for new in entries], entries, strict=True))
    if len(pending) < len(entries):  # repeated ids: the first request for each is the one appended
        pending = {}
        for new in entries:
            pending.setdefault(new.event_id, new)
    rows = iter_chain_rows(pending.values(), first_seq=seq + 1, prev_hash=prev_hash, recorded_at=recorded_at)
    known: dict[str, AuditEntry] = {}
    stored = await audit_store.insert_new_rows(conn, rows, then=audit_store.entries_from_rows)
    if stored is None:
        known = await audit_store.stored_entries(conn, list(pending))
        pending = {event_id: new for event_id, new in pending.items() if event_id not in known}
        new_rows = chain_rows(pending.values(), first_seq=seq + 1, prev_hash=prev_hash, recorded_at=recorded_at)
        if new_rows:
            await audit_store.insert_rows(conn, new_rows)
        stored = audit_store.entries_from_rows(new_rows)
    if len(stored) == len(entries):  # all new and distinct, the common case
        return list(zip(stored, repeat(True)))
    known.update(zip(pending, stored))
    results: list[tuple[AuditEntry, bool]] = []
    for new in entries:
        appended = pending.pop(new.event_id, None) is not None  # True once per event_id appended
        results.append((known[new.event_id], appended))
    return results


class AuditLog:
    """Append to, read, prove and verify the audit log in `db`.

    `public_key` and `checkpoint_dir` are what `verify` checks checkpoints against.
    """

    def __init__(
        self, db: Database, *, public_key: Ed25519PublicKey | None = None, checkpoint_dir: Path | None = None
    ) -> None:
        self._db = db
        self._public_key = public_key
        self._checkpoint_dir = checkpoint_dir
        self._tree = LogTree(db)

    async def append(
        self, event_id: str, *, actor: str, action: str, subject: str, payload: Mapping[str, Any]
    ) -> tuple[AuditEntry, bool]:
        """Append one entry for a client; (entry, appended). Replays return the stored entry."""
        (result,) = await self.append_many([(event_id, actor, action, subject, payload)])
        return result

    async def append_many(
        self, requests: Sequence[tuple[str, str, str, str, Mapping[str, Any]]]
    ) -> list[tuple[AuditEntry, bool]]:
        """Append (event_id, actor, action, subject, payload) requests; (entry, appended) each.

        Every request is checked before anything is written; each batch of MAX_APPEND_BATCH is
        one transaction, so a failure part-way leaves earlier batches stored (replay them: the
        event ids make that harmless). A single batch is checked while its transaction's first
        round trip (BEGIN, lock, head) is out; a refusal then rolls that transaction back.
        """
        if not requests:
            return []
        if len(requests) <= MAX_APPEND_BATCH:  # one transaction: check while its first round trip is out
            async with audit_store.append_transaction(self._db) as conn:
                results = await append_entries(conn, functools.partial(_checked_all, requests), begin=True)
        else:
            checked = _checked_all(requests)
            results = []
            for start in range(0, len(checked), MAX_APPEND_BATCH):
                async with audit_store.append_transaction(self._db) as conn:
                    results += await append_entries(conn, checked[start : start + MAX_APPEND_BATCH], begin=True)
        appended = [entry.seq for entry, new in results if new]
        if appended:
            log.info("audit entries appended", extra={"first_seq": appended[0], "count": len(appended)})
        return results

    async def get_entry(self, seq: int) -> AuditEntry:
        """The entry at `seq`; NotFoundError when there is none."""
        async with self._db.transaction() as conn:
            entry = await audit_store.entry_by_seq(conn, seq)
        if entry is None:
            raise NotFoundError(f"no audit entry with seq {seq}")
        return entry

    async def list_entries(
        self, *, after_seq: int = 0, page_size: int = 100, where: EntryFilter | None = None
    ) -> list[AuditEntry]:
        """Entries after `after_seq` in seq order, filtered; at most `page_size` (<= 1000)."""
        if after_seq < 0:
            raise InvalidInputError("must not be negative", field="after_seq")
        if not 0 < page_size <= MAX_PAGE_SIZE:
            raise InvalidInputError(f"must be between 1 and {MAX_PAGE_SIZE}", field="page_size")
        where = where or EntryFilter()
        if where.since and where.until and where.until <= where.since:
            raise InvalidInputError("must be later than the start time", field="end_time")
        async with self._db.transaction() as conn:
            return await audit_store.read_entries(conn, after_seq=after_seq, limit=page_size, where=where)

    async def verify(self, from_seq: int = 0, to_seq: int = 0) -> VerifyReport:
        """Recompute chain, tree and checkpoint signatures (see verify.verify_log)."""
        return await verify_log(
            self._db, from_seq=from_seq, to_seq=to_seq, public_key=self._public_key,
            checkpoint_dir=self._checkpoint_dir,
        )

    async def checkpoint(self, tree_size: int = 0) -> StoredCheckpoint:
        """The signed checkpoint of `tree_size` entries (0: the newest); NotFoundError if none."""
        if tree_size < 0:
            raise InvalidInputError("must not be negative", field="tree_size")
        async with self._db.transaction() as conn:
            found = await audit_store.latest_checkpoint(conn, at_most=tree_size)
        if found is None or (tree_size and found.tree_size != tree_size):
            raise NotFoundError(f"no checkpoint of tree size {tree_size}" if tree_size else "no checkpoint yet")
        return found

    async def inclusion_proof(self, seq: int, tree_size: int = 0) -> InclusionProof:
        """The proof that entry `seq` is in the tree of `tree_size` entries.

        tree_size 0 means the smallest signed checkpoint holding the entry, or the whole log
        when no checkpoint holds it yet.
        """
        entry = await self.get_entry(seq)
        if tree_size < 0:
            raise InvalidInputError("must not be negative", field="tree_size")
        async with self._db.transaction() as conn:
            if tree_size:
                checkpoint = await audit_store.latest_checkpoint(conn, at_most=tree_size)
                checkpoint = checkpoint if checkpoint and checkpoint.tree_size == tree_size else None
            else:
                checkpoint = await audit_store.checkpoint_covering(conn, seq)
        size = tree_size or (checkpoint.tree_size if checkpoint else 0)
        if size and size < seq:
            raise InvalidInputError(f"a tree of {size} entries does not hold seq {seq}", field="tree_size")
        tree = await self._tree.catch_up(at_least=size)
        size = size or tree.size
        return InclusionProof(
            entry=entry, tree_size=size, root_hash=tree.root(size),
            hashes=tree.inclusion_proof(seq - 1, size), checkpoint=checkpoint,
        )

    async def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """The proof that the tree of `old_size` entries is a prefix of the tree of `new_size`."""
        if not 0 <= old_size <= new_size:
            raise InvalidInputError("must be between 0 and new_size", field="old_size")
        tree = await self._tree.catch_up(at_least=new_size)
        return tree.consistency_proof(old_size, new_size)


def _checked_all(requests: Sequence[tuple[str, str, str, str, Mapping[str, Any]]]) -> list[NewEntry]:
    """Every request checked and its payload canonical: in bulk when all pass, else one by one."""
    checked = _checked_in_bulk(requests)
    if checked is None:  # something to refuse, redact or print the slow way: request by request
        printed = plain_payloads([payload for *_, payload in requests])
        checked = [
            _checked(*request, index=i if len(requests) > 1 else None, printed=printed[i])
            for i, request in enumerate(requests)
        ]
    return checked


def _checked_in_bulk(requests: Sequence[tuple[str, str, str, str, Mapping[str, Any]]]) -> list[NewEntry] | None:
    """What `_checked` makes of each request, when every one passes and has a plain payload; else None.

    The common case decided with C-level passes over the whole batch; None sends the batch
    through `_checked` request by request, which refuses, redacts and names fields as always.
    """
    if not requests:
        return []
    event_ids, actors, actions, subjects, payloads = zip(*requests, strict=True)
    if not (all(event_ids) and all(actors) and all(actions) and all(subjects)):
        return None
    if set(map(type, event_ids)) != {str} or "\x00".join(("", *event_ids)).find(_RESERVED_AT_START) >= 0:
        return None  # (an id holding NUL + the prefix only costs the slow path, which decides)
    printed = plain_payloads(payloads)
    if None in printed:
        return None
    return list(map(_new_tuple, repeat(NewEntry), zip(event_ids, actors, actions, subjects, printed)))


def _checked(
    event_id: str, actor: str, action: str, subject: str, payload: Mapping[str, Any], *, index: int | None,
    printed: bytes | None = None,
) -> NewEntry:
    """Validate one client request and canonicalise its payload; errors name the field.

    `printed` is the payload's canonical bytes when `plain_payloads` already settled them.
    """
    where = "" if index is None else f"entries[{index}]."
    if not (event_id and actor and action and subject):
        for value, name in ((event_id, "event_id"), (actor, "actor"), (action, "action"), (subject, "subject")):
            if not value:
                raise InvalidInputError("is required", field=where + name)
    if event_id.startswith(BUS_EVENT_PREFIX):
        raise InvalidInputError(
            f"the prefix {BUS_EVENT_PREFIX!r} is reserved for events from the bus", field=where + "event_id"
        )
    if printed is None:
        printed = canonical_payload(payload, field=where + "payload")
    return NewEntry(event_id, actor, action, subject, printed)
