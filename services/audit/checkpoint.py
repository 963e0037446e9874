"""Signed checkpoints: the tree size and Merkle root of the audit log, signed with Ed25519.

A checkpoint is a small text note in the style of a transparency-log signed note
(docs/audit-format.md has the exact bytes)::

    agentcoord.audit.v1          origin: which log this is
    1000                         tree size (entries 1..1000)
    3q2+7w...=                   base64 of the 32-byte Merkle root
    2026-12-04T16:18:47Z         when it was signed (UTC, seconds)
                                 a blank line
    — agentcoord.audit.v1 AbCd...   key name, base64(4-byte key id || 64-byte signature)

The signature covers the four body lines, each ending in a newline. The signing key is a file
outside the database (PKCS#8 PEM, created 0600 on first start) and checkpoints are also written
to a directory outside the database: someone who rewrites the whole table and recomputes every
hash still cannot make the newest external checkpoint agree with it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from agentcoord.errors import InvalidInputError

log = logging.getLogger(__name__)

ORIGIN = "agentcoord.audit.v1"
SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space, as in signed notes
_ED25519_ALGORITHM = b"\x01"
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_SIZE = re.compile(r"^(0|[1-9][0-9]{0,18})$")
_CHECKPOINT_FILE = re.compile(r"^([0-9]+)\.checkpoint$")


class CheckpointError(ValueError):
    """A checkpoint note is malformed or its signature does not verify."""

    def __init__(self, message: str, *, bad_signature: bool = False) -> None:
        super().__init__(message)
        self.bad_signature = bad_signature


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint commits to: the log `origin`, its size, its Merkle root, and when."""

    origin: str
    tree_size: int
    root_hash: bytes
    signed_at: datetime

    def body(self) -> bytes:
        """The exact bytes the signature covers."""
        when = self.signed_at.astimezone(UTC).strftime(_TIME_FORMAT)
        root = base64.b64encode(self.root_hash).decode("ascii")
        return f"{self.origin}\n{self.tree_size}\n{root}\n{when}\n".encode()


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint and its note text (body, blank line, signature line)."""

    checkpoint: Checkpoint
    note: str


def key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """The 4-byte id of a key: SHA-256(name || "\\n" || 0x01 || raw public key)[:4]."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(name.encode() + b"\n" + _ED25519_ALGORITHM + raw).digest()[:4]


def sign_checkpoint(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> SignedCheckpoint:
    """Sign `checkpoint` (truncated to whole seconds, as the note carries them)."""
    checkpoint = Checkpoint(
        checkpoint.origin, checkpoint.tree_size, checkpoint.root_hash, checkpoint.signed_at.replace(microsecond=0)
    )
    body = checkpoint.body()
    signature = key_id(checkpoint.origin, key.public_key()) + key.sign(body)
    note = body.decode() + "\n" + SIGNATURE_PREFIX + checkpoint.origin + " " + base64.b64encode(signature).decode() + "\n"
    return SignedCheckpoint(checkpoint, note)


def parse_note(note: str) -> tuple[Checkpoint, bytes, bytes]:
    """(checkpoint, key id, signature) read from a note, without checking the signature."""
    body, sep, signature_line = note.partition("\n\n")
    lines = body.split("\n")
    if not sep or len(lines) != 4 or not signature_line.endswith("\n") or "\n" in signature_line[:-1]:
        raise CheckpointError("a checkpoint has four body lines, a blank line and one signature line")
    origin, size_text, root_text, when_text = lines
    if not _SIZE.match(size_text):
        raise CheckpointError(f"tree size {size_text!r} is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
        signed_at = datetime.strptime(when_text, _TIME_FORMAT).replace(tzinfo=UTC)
    except (binascii.Error, ValueError) as exc:
        raise CheckpointError(f"malformed checkpoint body: {exc}") from None
    if len(root) != 32:
        raise CheckpointError("the root is not 32 bytes")
    name, _, encoded = signature_line[:-1].removeprefix(SIGNATURE_PREFIX).partition(" ")
    if not signature_line.startswith(SIGNATURE_PREFIX) or name != origin:
        raise CheckpointError("the signature line does not name the checkpoint's origin", bad_signature=True)
    try:
        blob = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise CheckpointError("the signature is not base64", bad_signature=True) from None
    if len(blob) != 68:
        raise CheckpointError("the signature is not a 4-byte key id and a 64-byte Ed25519 signature",
                              bad_signature=True)
    checkpoint = Checkpoint(origin, int(size_text), root, signed_at)
    if checkpoint.body() != (body + "\n").encode():
        raise CheckpointError("the checkpoint body is not in canonical form")
    return checkpoint, blob[:4], blob[4:]


def verify_note(note: str, public_key: Ed25519PublicKey) -> Checkpoint:
    """The checkpoint in `note` if its signature verifies under `public_key`; CheckpointError if not."""
    checkpoint, kid, signature = parse_note(note)
    if kid != key_id(checkpoint.origin, public_key):
        raise CheckpointError("the checkpoint was signed by a different key", bad_signature=True)
    try:
        public_key.verify(signature, checkpoint.body())
    except InvalidSignature:
        raise CheckpointError("the checkpoint signature does not verify", bad_signature=True) from None
    return checkpoint


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 key in `path`, created there (mode 0600, directory 0700) if it does not exist."""
    try:
        return _load_private_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return _load_private_key(path)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    log.info("created the audit signing key %s", path)
    return key


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    """The public key as PEM (SubjectPublicKeyInfo), what verifiers are given."""
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key from a PEM file; a private key file yields its public half."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"cannot read the key: {exc}", source=str(path)) from exc
    try:
        if b"PRIVATE KEY" in data:
            private = serialization.load_pem_private_key(data, password=None)
            if isinstance(private, Ed25519PrivateKey):
                return private.public_key()
        else:
            public = serialization.load_pem_public_key(data)
            if isinstance(public, Ed25519PublicKey):
                return public
    except ValueError as exc:
        raise InvalidInputError(f"not a PEM key: {exc}", source=str(path)) from exc
    raise InvalidInputError("not an Ed25519 key", source=str(path))


def write_checkpoint_file(directory: Path, signed: SignedCheckpoint) -> Path:
    """Write `<size>.checkpoint` into `directory` atomically; an existing file is left alone."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / f"{signed.checkpoint.tree_size}.checkpoint"
    if path.exists():
        return path
    partial = directory / f".{path.name}.{os.getpid()}.tmp"
    partial.write_text(signed.note, encoding="utf-8")
    os.replace(partial, path)
    return path


def read_checkpoint_files(directory: Path) -> list[tuple[int, str]]:
    """(size in the file name, note text) of every `<size>.checkpoint` in `directory`, by size."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = _CHECKPOINT_FILE.match(path.name)
        if match:
            found.append((int(match.group(1)), path.read_text(encoding="utf-8")))
    return sorted(found)


def _load_private_key(path: Path) -> Ed25519PrivateKey:
    data = path.read_bytes()
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("the audit signing key %s is readable by others (mode %o); use 0600", path, mode)
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInputError("the audit signing key is not an Ed25519 key", source=str(path))
    return key


@dataclass(frozen=True)
class AuditFiles:
    """Where the audit state outside the database lives: the signing key and checkpoint copies."""

    signing_key: Path
    checkpoint_dir: Path

    @classmethod
    def under(cls, state_dir: Path) -> AuditFiles:
        """The default layout: <state_dir>/audit/signing.key and <state_dir>/audit/checkpoints/."""
        return cls(signing_key=state_dir / "audit" / "signing.key", checkpoint_dir=state_dir / "audit" / "checkpoints")
