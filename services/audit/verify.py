"""Full verification of the stored audit log: chain, Merkle tree and signed checkpoints.

1. The chain: every entry in the range is re-hashed and linked (chain.ChainVerifier); the first
   bad entry is reported as changed, broken link, missing or reordered/inserted.
2. The tree: the Merkle tree is rebuilt from the stored entry hashes (seq 1 onwards, also
   before the range, which only bounds the re-hashing).
3. The checkpoints, from the database and from the external directory: each must carry a valid
   Ed25519 signature of the log's key (else BAD_SIGNATURE); each one the tree reaches must have
   the recomputed root (else ROOT_MISMATCH, narrowed to the entries between the last matching
   and the first mismatching checkpoint); and, when verifying to the end, the log must be at
   least as long as the newest checkpoint, and serve it (else ROLLBACK).
Checkpoints are read before the entries, so appends racing the check cannot look like a rollback.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agentcoord.errors import InvalidInputError
from agentcoord.services.audit.chain import GENESIS_HASH, ChainVerifier, Problem, VerifyReport
from agentcoord.services.audit.checkpoint import (
    ORIGIN,
    CheckpointError,
    read_checkpoint_files,
    verify_note,
)
from agentcoord.services.audit.merkle import MerkleTree
from agentcoord.store import Database
from agentcoord.store import audit as audit_store

log = logging.getLogger(__name__)

_BATCH = 10_000


@dataclass(frozen=True)
class _Signed:
    """A checkpoint whose signature verified, and where it was found."""

    tree_size: int
    root_hash: bytes
    where: str


async def verify_log(
    db: Database,
    *,
    from_seq: int = 0,
    to_seq: int = 0,
    public_key: Ed25519PublicKey | None = None,
    checkpoint_dir: Path | None = None,
    origin: str = ORIGIN,
    batch: int = _BATCH,
) -> VerifyReport:
    """Verify seq in [from_seq, to_seq] (0: start / end of the log) and every checkpoint it reaches.

    InvalidInputError when the range is backwards, or checkpoints exist but no `public_key`
    was given to check them with.
    """
    if from_seq < 0:
        raise InvalidInputError("must not be negative", field="from_seq")
    if to_seq < 0 or (to_seq and to_seq < from_seq):
        raise InvalidInputError("must be 0 (the end) or at least from_seq", field="to_seq")
    async with db.transaction() as conn:
        stored = await audit_store.read_checkpoints(conn)
    external = read_checkpoint_files(checkpoint_dir) if checkpoint_dir else []
    if (stored or external) and public_key is None:
        raise InvalidInputError("is needed to check the signed checkpoints", field="public_key")
    report, tree = await _verify_chain(db, max(from_seq, 1), to_seq, batch)
    if report.intact and public_key is not None:
        report = _verify_checkpoints(report, tree, stored, external, public_key, origin, to_end=not to_seq)
    if not report.intact:
        log.warning("audit log verification failed: %s", report.describe())
    return report


async def _verify_chain(db: Database, first_seq: int, to_seq: int, batch: int) -> tuple[VerifyReport, MerkleTree]:
    """Re-hash the range through a ChainVerifier; the tree of every stored entry hash read."""
    tree = MerkleTree()
    anchor: bytes | None = GENESIS_HASH if first_seq == 1 else None
    while tree.size < first_seq - 1:  # before the range: the stored hashes are the leaves
        async with db.transaction() as conn:
            rows = await audit_store.read_entry_hashes(conn, after_seq=tree.size, to_seq=first_seq - 1, limit=batch)
        seqs = [seq for seq, _ in rows]
        hashes = [entry_hash for _, entry_hash in rows]
        first = tree.size + 1
        if seqs != list(range(first, first + len(rows))):
            gap = next(i for i, seq in enumerate(seqs) if seq != first + i)
            tree.extend(hashes[:gap])
            detail = f"expected seq {tree.size + 1}, found seq {seqs[gap]}"
            return VerifyReport(False, 0, tree.size + 1, Problem.MISSING, detail), tree
        tree.extend(hashes)
        if rows and rows[-1][0] == first_seq - 1:
            anchor = hashes[-1]
        if len(rows) < batch:
            break
    verifier = ChainVerifier(first_seq=first_seq, prev_hash=anchor)
    after_seq = first_seq - 1
    while not verifier.failed:
        async with db.transaction() as conn:
            entries = await audit_store.read_entry_rows(conn, after_seq=after_seq, to_seq=to_seq, limit=batch)
        passed = verifier.check_many(entries)
        tree.extend([entry[8] for entry in entries[:passed]])  # the stored entry hashes
        if len(entries) < batch:
            break
        after_seq = entries[-1][0]
    report = verifier.report()
    return VerifyReport(report.intact, report.entries_checked, report.first_bad_seq, report.problem,
                        report.detail, tree_size=tree.size, root_hash=tree.root()), tree


def _verify_checkpoints(
    report: VerifyReport,
    tree: MerkleTree,
    stored: list[audit_store.StoredCheckpoint],
    external: list[tuple[int, str]],
    public_key: Ed25519PublicKey,
    origin: str,
    *,
    to_end: bool,
) -> VerifyReport:
    """Check signatures, then roots, then rollback, in that order; the first failure is reported."""

    def failed(problem: Problem, detail: str, seq: int = 0) -> VerifyReport:
        return VerifyReport(False, report.entries_checked, seq, problem, detail, tree_size=report.tree_size,
                            root_hash=report.root_hash)

    signed: list[_Signed] = []
    stale: list[str] = []
    notes: list[tuple[str, str, audit_store.StoredCheckpoint | int]]
    notes = [(c.note, f"database checkpoint {c.tree_size}", c) for c in stored]
    notes += [(text, f"external checkpoint file {size}.checkpoint", size) for size, text in external]
    for note, where, source in notes:
        try:
            checkpoint = verify_note(note, public_key)
        except CheckpointError as exc:
            return failed(Problem.BAD_SIGNATURE, f"{where}: {exc}")
        if checkpoint.origin != origin:
            return failed(Problem.BAD_SIGNATURE, f"{where}: signed for the log {checkpoint.origin!r}, not {origin!r}")
        if isinstance(source, audit_store.StoredCheckpoint):
            if (source.tree_size, source.root_hash) != (checkpoint.tree_size, checkpoint.root_hash):
                return failed(Problem.BAD_SIGNATURE, f"{where}: the row's size or root differs from its signed note")
        elif source != checkpoint.tree_size:
            stale.append(f"{where} holds the checkpoint of size {checkpoint.tree_size}")
        signed.append(_Signed(checkpoint.tree_size, checkpoint.root_hash, where))

    matched = 0
    for item in sorted(signed, key=lambda s: s.tree_size):
        if item.tree_size > tree.size:
            continue
        if tree.root(item.tree_size) != item.root_hash:
            return failed(
                Problem.ROOT_MISMATCH,
                f"the Merkle root of entries 1..{item.tree_size} differs from {item.where}; an entry in seq "
                f"{matched + 1}..{item.tree_size} was rewritten and the chain recomputed",
                matched + 1,
            )
        matched = item.tree_size

    if to_end:
        if stale:
            return failed(Problem.ROLLBACK, f"an older checkpoint is passed off as newer: {stale[0]}")
        newest = max(signed, key=lambda s: s.tree_size, default=None)
        if newest is not None and newest.tree_size > tree.size:
            return failed(
                Problem.ROLLBACK,
                f"the log holds {tree.size} entries but {newest.where} was signed over {newest.tree_size}: "
                f"entries {tree.size + 1}..{newest.tree_size} were removed",
                tree.size + 1,
            )
        newest_stored = max((c.tree_size for c in stored), default=0)
        if newest is not None and newest_stored < newest.tree_size:
            return failed(
                Problem.ROLLBACK,
                f"the log serves checkpoint {newest_stored} as its newest, but {newest.where} is newer",
            )
    return VerifyReport(True, report.entries_checked, tree_size=report.tree_size, root_hash=report.root_hash,
                        checkpoints_checked=len(signed))
