#!/usr/bin/env python3
"""Independent verifier for AgentCoordinator audit evidence. Needs Python 3.11+ and `cryptography`.

It imports nothing from AgentCoordinator: everything it checks is re-derived here from the
format in docs/audit-format.md, so it can be handed to an auditor on its own.

    python verify_audit_bundle.py proof PROOF.json [--public-key KEY.pem]
        checks an inclusion proof printed by `agentcoord audit prove SEQ`: the entry's hash,
        its audit path up to the root, and the Ed25519 signature of the checkpoint with that root.
    python verify_audit_bundle.py bundle DIR [--public-key KEY.pem]
        checks a bundle written by `agentcoord audit export DIR`: every entry's hash and link,
        seq without gaps, and every checkpoint's signature and Merkle root.

Pass --public-key with a key you obtained independently; without it the key shipped in the
proof or bundle is used, which only shows the evidence is self-consistent.
Exit status: 0 verified, 1 verification failed (the reason is printed), 2 unusable input.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ENTRY_DOMAIN = b"agentcoord.audit.entry.v1\x00"
ORIGIN = "agentcoord.audit.v1"
GENESIS = bytes(32)


class Failed(Exception):
    """The evidence does not verify."""


# --- canonical JSON and the entry hash ------------------------------------------------------

def _refuse(text: str) -> Any:
    raise Failed(f"non-integer number {text} in a payload")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise Failed("duplicate key in a payload")
    return dict(pairs)


def canonical(value: Any) -> str:
    """RFC 8785-style canonical JSON: keys by UTF-16 code units, compact, integers only."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canonical(value[k]) for k in keys) + "}"
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return str(value)
    raise Failed(f"{type(value).__name__} is not allowed in canonical JSON")


def entry_hash(entry: dict[str, Any]) -> bytes:
    """SHA-256(DOMAIN || canonical JSON of the record); the payload must already be canonical."""
    payload_text = entry["payload"]
    try:
        payload = json.loads(payload_text, parse_float=_refuse, parse_constant=_refuse, object_pairs_hook=_no_duplicates)
    except ValueError as exc:
        raise Failed(f"seq {entry['seq']}: payload is not JSON: {exc}") from None
    if canonical(payload) != payload_text:
        raise Failed(f"seq {entry['seq']}: payload is not in canonical form")
    datetime.strptime(entry["recorded_at"], "%Y-%m-%dT%H:%M:%S.%fZ")  # the documented form, or ValueError
    record = {
        "action": entry["action"], "actor": entry["actor"], "event_id": entry["event_id"], "payload": payload,
        "prev_hash": entry["prev_hash"], "recorded_at": entry["recorded_at"], "seq": entry["seq"],
        "subject": entry["subject"],
    }
    return hashlib.sha256(ENTRY_DOMAIN + canonical(record).encode("utf-8")).digest()


# --- RFC 6962 Merkle tree ---------------------------------------------------------------------

def leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_roots(entry_hashes: list[bytes], sizes: set[int]) -> dict[int, bytes]:
    """The root of the first n leaves for every n in `sizes`, in one pass over a stack of peaks."""
    roots = {0: hashlib.sha256(b"").digest()} if 0 in sizes else {}
    peaks: list[tuple[int, bytes]] = []  # (width, hash), widths strictly decreasing
    for count, data in enumerate(entry_hashes, start=1):
        width, value = 1, leaf(data)
        while peaks and peaks[-1][0] == width:
            left_width, left = peaks.pop()
            width, value = left_width + width, node(left, value)
        peaks.append((width, value))
        if count in sizes:
            root = peaks[-1][1]
            for _, left in reversed(peaks[:-1]):
                root = node(left, root)
            roots[count] = root
    return roots


def root_from_inclusion(index: int, size: int, leaf_hash: bytes, proof: list[bytes]) -> bytes:
    """RFC 9162 2.1.3.2: the root the audit path leads to."""
    if not 0 <= index < size or any(len(p) != 32 for p in proof):
        raise Failed("malformed inclusion proof")
    fn, sn, result = index, size - 1, leaf_hash
    for sibling in proof:
        if sn == 0:
            raise Failed("inclusion proof is too long")
        if fn & 1 or fn == sn:
            result = node(sibling, result)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise Failed("inclusion proof is too short")
    return result


# --- signed checkpoints -----------------------------------------------------------------------

def check_checkpoint(note: str, public_key: Ed25519PublicKey) -> tuple[int, bytes]:
    """(tree size, root) of a checkpoint note whose Ed25519 signature verifies."""
    body, sep, signature_line = note.partition("\n\n")
    lines = body.split("\n")
    if not sep or len(lines) != 4 or not signature_line.startswith("\u2014 "):
        raise Failed("malformed checkpoint note")
    origin, size_text, root_text, when = lines
    name, _, encoded = signature_line.rstrip("\n")[2:].partition(" ")
    if origin != ORIGIN or name != origin:
        raise Failed(f"checkpoint of another log: {origin!r}")
    try:
        blob = base64.b64decode(encoded, validate=True)
        root = base64.b64decode(root_text, validate=True)
        datetime.strptime(when, "%Y-%m-%dT%H:%M:%SZ")
        size = int(size_text)
    except (binascii.Error, ValueError) as exc:
        raise Failed(f"malformed checkpoint note: {exc}") from None
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key_id = hashlib.sha256(name.encode() + b"\n\x01" + raw).digest()[:4]
    if len(blob) != 68 or blob[:4] != key_id or len(root) != 32:
        raise Failed(f"checkpoint {size_text}: not signed by this key")
    try:
        public_key.verify(blob[4:], (body + "\n").encode())
    except InvalidSignature:
        raise Failed(f"checkpoint {size_text}: bad signature") from None
    return size, root


def load_key(pem: str | bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, Ed25519PublicKey):
        raise TypeError("not an Ed25519 public key")
    return key


# --- the two commands -------------------------------------------------------------------------

def verify_proof(document: dict[str, Any], public_key: Ed25519PublicKey | None) -> str:
    entry = document["entry"]
    if entry_hash(entry) != bytes.fromhex(entry["entry_hash"]):
        raise Failed(f"seq {entry['seq']}: the entry does not hash to its entry_hash")
    index, size = document["leaf_index"], document["tree_size"]
    if index != entry["seq"] - 1:
        raise Failed("leaf_index is not seq - 1")
    proof = [bytes.fromhex(h) for h in document["proof"]]
    root = root_from_inclusion(index, size, leaf(bytes.fromhex(entry["entry_hash"])), proof)
    if root != bytes.fromhex(document["root_hash"]):
        raise Failed("the audit path does not lead to root_hash")
    if document.get("checkpoint") is None:
        return f"entry {entry['seq']} is in the tree of size {size} (no signed checkpoint to anchor it)"
    key = public_key or load_key(document["public_key"])
    signed_size, signed_root = check_checkpoint(document["checkpoint"], key)
    if (signed_size, signed_root) != (size, root):
        raise Failed("the signed checkpoint is for a different tree size or root")
    return f"entry {entry['seq']} is in the signed checkpoint of size {size}"


def verify_bundle(directory: Path, public_key: Ed25519PublicKey | None) -> str:
    key = public_key or load_key((directory / "public_key.pem").read_bytes())
    hashes: list[bytes] = []
    prev = GENESIS
    with (directory / "entries.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            entry = json.loads(line)
            seq = len(hashes) + 1
            if entry["seq"] != seq:
                raise Failed(f"seq {seq}: missing or out of order (found seq {entry['seq']})")
            if bytes.fromhex(entry["prev_hash"]) != prev:
                raise Failed(f"seq {seq}: prev_hash does not match the entry before it")
            recomputed = entry_hash(entry)
            if recomputed != bytes.fromhex(entry["entry_hash"]):
                raise Failed(f"seq {seq}: changed (the entry does not hash to its entry_hash)")
            hashes.append(recomputed)
            prev = recomputed
    checkpoints = sorted((directory / "checkpoints").glob("*.checkpoint")) if (directory / "checkpoints").is_dir() else []
    signed = {}
    for path in checkpoints:
        size, root = check_checkpoint(path.read_text(encoding="utf-8"), key)
        if path.name != f"{size}.checkpoint":
            raise Failed(f"{path.name} holds the checkpoint of size {size}")
        if size > len(hashes):
            raise Failed(f"checkpoint {size} is beyond the {len(hashes)} entries in the bundle")
        signed[size] = root
    roots = merkle_roots(hashes, set(signed))
    for size, root in sorted(signed.items()):
        if roots[size] != root:
            raise Failed(f"the Merkle root of entries 1..{size} differs from its signed checkpoint")
    return f"{len(hashes)} entries and {len(signed)} signed checkpoints verified"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["proof", "bundle"])
    parser.add_argument("path", type=Path, help="proof JSON file ('-' for stdin) or bundle directory")
    parser.add_argument("--public-key", type=Path, help="PEM public key obtained independently")
    args = parser.parse_args(argv)
    try:
        key = load_key(args.public_key.read_bytes()) if args.public_key else None
        if args.kind == "proof":
            text = sys.stdin.read() if str(args.path) == "-" else args.path.read_text(encoding="utf-8")
            message = verify_proof(json.loads(text), key)
        else:
            message = verify_bundle(args.path, key)
    except Failed as exc:
        sys.stdout.write(f"FAILED: {exc}\n")
        return 1
    except (OSError, ValueError, KeyError, TypeError) as exc:
        sys.stderr.write(f"error: unusable input: {exc!r}\n")
        return 2
    sys.stdout.write(f"OK: {message}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
