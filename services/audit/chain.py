"""The hash chain: how an audit entry's hash is computed, and the pure verifier over entries.

entry_hash = SHA-256(b"agentcoord.audit.entry.v1\\x00" + canonical JSON of the entry record),
where the record holds seq, event_id, recorded_at, actor, action, subject, the payload (as a
JSON value) and prev_hash (hex); docs/audit-format.md spells it out byte for byte. The prefix
separates these hashes from every other SHA-256 the system makes (Merkle nodes use their own
prefixes; checkpoints are signed notes). Entry hashes are the leaves of the Merkle tree (merkle.py).

`ChainVerifier` checks entries one at a time, so a caller can stream a log of any length
through it; `verify_chain` runs it over an iterable. `ChainVerifier.check_many` checks a batch
of stored rows with bulk (C-level) operations and, when anything in it is off, falls back to
checking them one at a time, so the first bad entry is found and described the same way.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import operator
from binascii import hexlify
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat
from typing import Any

import orjson

from agentcoord.errors import InvalidInputError
from agentcoord.services.audit.canonical import all_canonical, is_canonical
from agentcoord.store.audit import AuditEntry, EntryRow, entry_from_row

ENTRY_DOMAIN = b"agentcoord.audit.entry.v1\x00"
GENESIS_HASH = bytes(32)
"""prev_hash of seq 1: 32 zero bytes."""
REORDER_WINDOW = 1000
"""How far from its seq a bad entry is looked for under another seq (to report it as moved)."""

# DOMAIN || the record's canonical JSON. Its keys are fixed, so their sorted order is too; the
# strings go in as orjson writes them (the canonical escaping, see canonical.py) and the
# payload as its stored canonical bytes.
_RECORD = ENTRY_DOMAIN + (
    b'{"action":%b,"actor":%b,"event_id":%b,"payload":%b,"prev_hash":"%b","recorded_at":"%b","seq":%d,'
    b'"subject":%b}'
)
# The same record split around prev_hash, the one field that depends on the entry before it.
_HEAD = ENTRY_DOMAIN + b'{"action":%b,"actor":%b,"event_id":%b,"payload":%b,"prev_hash":"'
_TAIL_START, _TAIL_END = b'","recorded_at":"', b'","seq":%d,"subject":%b}'
_CHAIN_CHUNK = 64  # rows hashed per step of iter_chain_rows: about what psycopg buffers before sending
_digest = operator.methodcaller("digest")


def format_recorded_at(moment: datetime) -> str:
    """RFC 3339 in UTC with exactly six fractional digits, e.g. 2025-01-02T03:04:05.000600Z."""
    if moment.tzinfo is None:
        raise ValueError("recorded_at must be timezone-aware")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def hash_preimage(entry: AuditEntry) -> bytes:
    """The exact bytes SHA-256 is taken over: every field of `entry` except entry_hash.

    Raises InvalidInputError when the payload bytes are not canonical JSON (not JSON, floats,
    key order, whitespace, ...): such bytes could not have come from an honest append.
    """
    if not is_canonical(entry.payload):
        raise InvalidInputError("is not in canonical JSON form", field="payload")
    return _preimage(entry)


def _preimage(entry: AuditEntry) -> bytes:
    """DOMAIN || canonical JSON of the record, assembled around the (canonical) payload bytes.

    The record's keys are fixed, so their sorted order is too: splicing the stored payload in
    yields exactly the canonical JSON of the record, without parsing the payload again.
    """
    return _assemble(entry.seq, entry.event_id, entry.recorded_at, entry.actor, entry.action, entry.subject,
                     entry.payload, entry.prev_hash)


def _assemble(
    seq: int, event_id: str, recorded_at: datetime, actor: str, action: str, subject: str, payload: bytes,
    prev_hash: bytes,
) -> bytes:
    try:
        return _RECORD % (
            _json_text(action), _json_text(actor), _json_text(event_id), payload, hexlify(prev_hash),
            _recorded_at_bytes(recorded_at), int(seq), _json_text(subject),
        )
    except orjson.JSONEncodeError:
        raise InvalidInputError("string is not valid Unicode (lone surrogate): surrogates not allowed",
                                field="entry") from None


def _json_text(text: str) -> bytes:
    """A string as canonical JSON writes it (quoted and escaped), as UTF-8."""
    if not isinstance(text, str):
        raise TypeError(f"expected a string, not {type(text).__name__}")
    return orjson.dumps(text)


@functools.lru_cache(maxsize=1024)  # entries of one batch share their recorded_at
def _recorded_at_bytes(moment: datetime) -> bytes:
    return format_recorded_at(moment).encode()


def compute_entry_hash(entry: AuditEntry) -> bytes:
    """SHA-256 over `hash_preimage(entry)` (32 bytes); what entry.entry_hash must equal."""
    return hashlib.sha256(hash_preimage(entry)).digest()


def build_entry(
    *,
    seq: int,
    event_id: str,
    recorded_at: datetime,
    actor: str,
    action: str,
    subject: str,
    payload: bytes,
    prev_hash: bytes,
) -> AuditEntry:
    """A new entry whose entry_hash covers all the given content (`payload`: canonical bytes)."""
    preimage = _assemble(seq, event_id, recorded_at, actor, action, subject, payload, prev_hash)
    return AuditEntry(
        seq=seq, event_id=event_id, recorded_at=recorded_at, actor=actor, action=action, subject=subject,
        payload=payload, prev_hash=prev_hash, entry_hash=hashlib.sha256(preimage).digest(),
    )


def chain_rows(
    new: Iterable[tuple[str, str, str, str, bytes]], *, first_seq: int, prev_hash: bytes, recorded_at: datetime
) -> list[EntryRow]:
    """New entries (event_id, actor, action, subject, canonical payload) chained onto `prev_hash`.

    They get seq `first_seq`, `first_seq + 1`, ... and share `recorded_at`; each row holds the
    entry_hash `build_entry` computes (see `entry_from_row`).
    """
    return list(iter_chain_rows(new, first_seq=first_seq, prev_hash=prev_hash, recorded_at=recorded_at))


def iter_chain_rows(
    new: Iterable[tuple[str, str, str, str, bytes]], *, first_seq: int, prev_hash: bytes, recorded_at: datetime
) -> Iterator[EntryRow]:
    """The rows of `chain_rows`, printed and hashed a chunk at a time as they are consumed.

    An append COPYs the rows as this yields them, so the server stores one chunk while the next
    is made. Everything but prev_hash is known before hashing starts, so the two parts of each
    preimage around it are printed in bulk (C-level maps) and only the loop that must run in
    order (join, hash, link) is left per entry. Whatever could make printing fail (a non-string,
    a lone surrogate, a payload that is not bytes) is refused here, before the first row.
    """
    new = list(new)
    if not new:
        return iter(())
    event_ids, actors, actions, subjects, payloads = zip(*new, strict=True)
    texts = (*event_ids, *actors, *actions, *subjects)
    if not set(map(type, texts)) <= {str}:
        for text in texts:
            _json_text(text)  # raises naming the type
    if not set(map(type, payloads)) <= {bytes}:
        raise TypeError("payloads must be canonical JSON bytes")
    try:
        written = {text: orjson.dumps(text) for text in {*actors, *actions, *subjects}}  # few and repeated
        ids_written = list(map(orjson.dumps, event_ids))
    except orjson.JSONEncodeError:
        raise InvalidInputError("string is not valid Unicode (lone surrogate): surrogates not allowed",
                                field="entry") from None
    seqs = range(first_seq, first_seq + len(new))
    tail = _TAIL_START + _recorded_at_bytes(recorded_at) + _TAIL_END
    columns = (seqs, event_ids, actors, actions, subjects, payloads)
    return _linked(columns, ids_written, written, tail=tail, prev_hash=prev_hash, recorded_at=recorded_at)


def _linked(
    columns: tuple[Sequence[Any], ...], ids_written: list[bytes], written: dict[str, bytes], *, tail: bytes,
    prev_hash: bytes, recorded_at: datetime,
) -> Iterator[EntryRow]:
    """Print and hash head || hex(prev_hash) || tail in order, `_CHAIN_CHUNK` at a time; yield the rows."""
    sha256 = hashlib.sha256
    printed = written.__getitem__
    seqs, event_ids, actors, actions, subjects, payloads = columns
    for start in range(0, len(seqs), _CHAIN_CHUNK):
        chunk = slice(start, start + _CHAIN_CHUNK)
        heads = map(_HEAD.__mod__, zip(map(printed, actions[chunk]), map(printed, actors[chunk]),
                                       ids_written[chunk], payloads[chunk]))
        tails = map(tail.__mod__, zip(seqs[chunk], map(printed, subjects[chunk])))
        hashes: list[bytes] = []
        append = hashes.append
        links = [prev_hash]
        for head, end in zip(heads, tails):
            prev_hash = sha256(head + hexlify(prev_hash) + end).digest()
            append(prev_hash)
        links += hashes[:-1]
        yield from zip(seqs[chunk], event_ids[chunk], repeat(recorded_at), actors[chunk], actions[chunk],
                       subjects[chunk], payloads[chunk], links, hashes)


class Problem(enum.Enum):
    """What is wrong at the first bad entry."""

    CHANGED = "changed"
    """The entry's content no longer hashes to its entry_hash (or its payload is not canonical)."""
    BROKEN_LINK = "broken link"
    """prev_hash differs from the entry_hash of the entry before it."""
    MISSING = "missing"
    """seq skips ahead: the entry with the expected seq is gone (or was moved later)."""
    REORDERED = "reordered/inserted"
    """seq goes backwards or repeats: an entry was moved earlier or an extra one inserted."""
    BAD_SIGNATURE = "bad checkpoint signature"
    """A checkpoint (in the database or the external directory) is not signed by the log's key."""
    ROOT_MISMATCH = "root mismatch"
    """The chain holds together, but the Merkle root of the first n entries differs from the
    signed checkpoint of size n: entries were rewritten and every later hash recomputed."""
    ROLLBACK = "rollback"
    """The log is shorter than, or serves a checkpoint older than, the newest checkpoint signed:
    the tail was truncated (and perhaps re-sealed) or an old checkpoint is passed off as new."""


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of verifying a range of the log.

    `entries_checked` counts entries read up to and including the first bad one.
    `first_bad_seq` is 0 when intact; `detail` says what was found there. `tree_size` and
    `root_hash` describe the tree recomputed from the stored entry hashes, and
    `checkpoints_checked` counts the signed checkpoints compared with it (when the chain held).
    """

    intact: bool
    entries_checked: int
    first_bad_seq: int = 0
    problem: Problem | None = None
    detail: str = ""
    tree_size: int = 0
    root_hash: bytes = b""
    checkpoints_checked: int = 0

    def describe(self) -> str:
        """One line for people, e.g. "audit log TAMPERED at seq 7: changed (...)"."""
        if self.intact:
            noun = "entry" if self.entries_checked == 1 else "entries"
            signed = f", {self.checkpoints_checked} signed checkpoints match" if self.checkpoints_checked else ""
            return f"audit log intact: {self.entries_checked} {noun}{signed}"
        assert self.problem is not None
        where = f" at seq {self.first_bad_seq}" if self.first_bad_seq else ""
        return f"audit log TAMPERED{where}: {self.problem.value} ({self.detail})"


class ChainVerifier:
    """Checks entries in the order given and remembers the first failure.

    Start at `first_seq` with `prev_hash` the entry_hash of the entry before it (GENESIS_HASH
    for seq 1, None to accept the first entry's prev_hash unchecked).
    """

    def __init__(self, *, first_seq: int = 1, prev_hash: bytes | None = GENESIS_HASH) -> None:
        self._expected_seq = first_seq
        self._prev_hash = prev_hash
        self._checked = 0
        self._failure: VerifyReport | None = None

    @property
    def failed(self) -> bool:
        """True once a bad entry has been seen; later entries are then ignored."""
        return self._failure is not None

    def check(self, entry: AuditEntry) -> bool:
        """Check the next entry; False (and the report is final) when it is the first bad one."""
        if self._failure is not None:
            return False
        self._checked += 1
        expected = self._expected_seq
        if entry.seq > expected:
            return self._fail(expected, Problem.MISSING, f"expected seq {expected}, found seq {entry.seq}")
        if entry.seq < expected:
            return self._fail(
                entry.seq, Problem.REORDERED, f"seq {entry.seq} appears where seq {expected} belongs"
            )
        linked = self._prev_hash is None or entry.prev_hash == self._prev_hash
        try:
            recomputed = compute_entry_hash(entry)
        except InvalidInputError:
            return self._fail(entry.seq, Problem.CHANGED, "payload bytes are not canonical JSON")
        if recomputed != entry.entry_hash:
            moved = _hashed_as(entry)
            if moved:
                return self._fail(
                    min(entry.seq, moved), Problem.REORDERED, f"seq {entry.seq} holds the entry hashed as seq {moved}"
                )
        if not linked:
            before = "the genesis hash" if entry.seq == 1 else f"the entry_hash of seq {entry.seq - 1}"
            return self._fail(entry.seq, Problem.BROKEN_LINK, f"prev_hash does not match {before}")
        if recomputed != entry.entry_hash:
            return self._fail(entry.seq, Problem.CHANGED, "entry hash does not match its content")
        self._expected_seq = expected + 1
        self._prev_hash = entry.entry_hash
        return True

    def check_many(self, rows: Sequence[EntryRow]) -> int:
        """Check the next stored rows in order; how many passed (all of them unless one is bad).

        A batch with nothing wrong is settled with bulk operations; otherwise the rows go
        through `check` one by one, which stops at and describes the first bad one.
        """
        if self._failure is not None or not rows:
            return 0
        if self._intact(rows):
            self._checked += len(rows)
            self._expected_seq += len(rows)
            self._prev_hash = rows[-1][8]
            return len(rows)
        for passed, row in enumerate(rows):
            if not self.check(entry_from_row(row)):
                return passed
        return len(rows)

    def _intact(self, rows: Sequence[EntryRow]) -> bool:
        """True when every row passes every check of `check`; False decides nothing."""
        seqs, event_ids, recorded_ats, actors, actions, subjects, payloads, prev_hashes, entry_hashes = zip(*rows)
        first = self._expected_seq
        if seqs != tuple(range(first, first + len(rows))):
            return False
        if (self._prev_hash is not None and prev_hashes[0] != self._prev_hash) or prev_hashes[1:] != entry_hashes[:-1]:
            return False
        if not all_canonical(payloads):
            return False
        dumps = orjson.dumps
        try:  # actors, actions and subjects repeat: each distinct one is written once
            written = {text: dumps(text) for text in {*actors, *actions, *subjects}}.__getitem__
            preimages = map(_RECORD.__mod__, zip(
                map(written, actions), map(written, actors), map(dumps, event_ids), payloads,
                map(hexlify, prev_hashes), map(_recorded_at_bytes, recorded_ats), seqs, map(written, subjects),
            ))
            return list(map(_digest, map(hashlib.sha256, preimages))) == list(entry_hashes)
        except (TypeError, ValueError):  # e.g. a string orjson cannot write: `check` says what is wrong
            return False

    def report(self) -> VerifyReport:
        """The verdict over everything checked so far."""
        return self._failure or VerifyReport(intact=True, entries_checked=self._checked)

    def _fail(self, seq: int, problem: Problem, detail: str) -> bool:
        self._failure = VerifyReport(
            intact=False, entries_checked=self._checked, first_bad_seq=seq, problem=problem, detail=detail
        )
        return False


def _hashed_as(entry: AuditEntry) -> int:
    """The seq (within REORDER_WINDOW of its own) under which `entry` hashes correctly, or 0.

    Only run on an entry that fails to verify: it tells an entry moved to another seq (a swap,
    or one shifted by an inserted entry) from one whose content changed.
    """
    preimage = _preimage(entry)
    marker = f',"seq":{entry.seq},"subject":'.encode()
    cut = preimage.rindex(marker)  # the subject after it is a JSON string, so this is the record's own seq
    before = hashlib.sha256(preimage[:cut])
    after = preimage[cut + len(marker) :]
    for delta in range(1, REORDER_WINDOW + 1):
        for seq in (entry.seq - delta, entry.seq + delta):
            if seq < 1:
                continue
            candidate = before.copy()
            candidate.update(f',"seq":{seq},"subject":'.encode() + after)
            if candidate.digest() == entry.entry_hash:
                return seq
    return 0


def verify_chain(
    entries: Iterable[AuditEntry], *, first_seq: int = 1, prev_hash: bytes | None = GENESIS_HASH
) -> VerifyReport:
    """Verify entries in the order given (see `ChainVerifier`); stops at the first bad entry."""
    verifier = ChainVerifier(first_seq=first_seq, prev_hash=prev_hash)
    for entry in entries:
        if not verifier.check(entry):
            break
    return verifier.report()
