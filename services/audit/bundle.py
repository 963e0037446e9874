"""Portable evidence: inclusion proofs and export bundles that verify without this project.

Both are plain JSON (and text checkpoints) that tools/verify_audit_bundle.py checks with
nothing but the standard library and `cryptography`; docs/audit-format.md describes them.

A bundle directory holds::

    manifest.json             format, entry count, tree size and root
    entries.jsonl             one entry document per line, in seq order
    checkpoints/<n>.checkpoint  every signed checkpoint the database holds
    public_key.pem            the log's Ed25519 public key (compare it with one you trust)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agentcoord.services.audit.chain import format_recorded_at
from agentcoord.services.audit.checkpoint import (
    SignedCheckpoint,
    parse_note,
    public_key_pem,
    write_checkpoint_file,
)
from agentcoord.services.audit.log import InclusionProof
from agentcoord.services.audit.merkle import MerkleTree
from agentcoord.store import Database
from agentcoord.store import audit as audit_store
from agentcoord.store.audit import AuditEntry

PROOF_FORMAT = "agentcoord.audit.inclusion-proof.v1"
BUNDLE_FORMAT = "agentcoord.audit.bundle.v1"
_BATCH = 1000


def entry_document(entry: AuditEntry) -> dict[str, Any]:
    """An entry as JSON: hashes in hex, recorded_at as hashed, payload as its exact canonical text."""
    return {
        "seq": entry.seq,
        "event_id": entry.event_id,
        "recorded_at": format_recorded_at(entry.recorded_at),
        "actor": entry.actor,
        "action": entry.action,
        "subject": entry.subject,
        "payload": entry.payload.decode("utf-8"),
        "prev_hash": entry.prev_hash.hex(),
        "entry_hash": entry.entry_hash.hex(),
    }


def proof_document(proof: InclusionProof, public_key: Ed25519PublicKey | None) -> dict[str, Any]:
    """What `agentcoord audit prove` prints: the entry, its audit path, the checkpoint and key."""
    return {
        "format": PROOF_FORMAT,
        "entry": entry_document(proof.entry),
        "leaf_index": proof.entry.seq - 1,
        "tree_size": proof.tree_size,
        "root_hash": proof.root_hash.hex(),
        "proof": [h.hex() for h in proof.hashes],
        "checkpoint": proof.checkpoint.note if proof.checkpoint else None,
        "public_key": public_key_pem(public_key) if public_key else None,
    }


async def export_bundle(db: Database, directory: Path, *, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """Write a bundle of the whole log into `directory` (created; must be empty); its manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    if any(directory.iterdir()):
        raise FileExistsError(f"{directory} is not empty")
    async with db.transaction() as conn:
        checkpoints = await audit_store.read_checkpoints(conn)
    tree = MerkleTree()
    after_seq = 0
    with (directory / "entries.jsonl").open("w", encoding="utf-8") as out:
        while True:
            async with db.transaction() as conn:
                entries = await audit_store.read_entries(conn, after_seq=after_seq, limit=_BATCH)
            for entry in entries:
                out.write(json.dumps(entry_document(entry), ensure_ascii=False, sort_keys=True) + "\n")
                tree.append(entry.entry_hash)
            if len(entries) < _BATCH:
                break
            after_seq = entries[-1].seq
    for stored in checkpoints:
        checkpoint, _, _ = parse_note(stored.note)
        write_checkpoint_file(directory / "checkpoints", SignedCheckpoint(checkpoint, stored.note))
    (directory / "public_key.pem").write_text(public_key_pem(public_key), encoding="utf-8")
    manifest = {
        "format": BUNDLE_FORMAT,
        "entries": tree.size,
        "tree_size": tree.size,
        "root_hash": tree.root().hex(),
        "checkpoints": [c.tree_size for c in checkpoints],
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest
