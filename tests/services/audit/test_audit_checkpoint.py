"""Signed checkpoints: the note format, signatures, the signing key file and the external directory."""

from __future__ import annotations

import base64
import stat
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agentcoord.errors import InvalidInputError
from agentcoord.services.audit.checkpoint import (
    ORIGIN,
    Checkpoint,
    CheckpointError,
    load_or_create_signing_key,
    load_public_key,
    parse_note,
    public_key_pem,
    read_checkpoint_files,
    sign_checkpoint,
    verify_note,
    write_checkpoint_file,
)

ROOT = bytes(range(32))
WHEN = datetime(2026, 12, 4, 16, 18, 47, 123456, tzinfo=UTC)


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_a_note_has_the_documented_shape_and_verifies(key: Ed25519PrivateKey) -> None:
    signed = sign_checkpoint(Checkpoint(ORIGIN, 1000, ROOT, WHEN), key)
    lines = signed.note.split("\n")
    assert lines[:5] == [ORIGIN, "1000", base64.b64encode(ROOT).decode(), "2026-12-04T16:18:47Z", ""]
    assert lines[5].startswith(f"\u2014 {ORIGIN} ") and lines[6] == ""
    assert len(base64.b64decode(lines[5].split(" ")[2])) == 68
    checkpoint = verify_note(signed.note, key.public_key())
    assert checkpoint == Checkpoint(ORIGIN, 1000, ROOT, WHEN.replace(microsecond=0)) == signed.checkpoint


@pytest.mark.parametrize(
    ("edit", "bad_signature"),
    [
        (lambda n: n.replace("\n1000\n", "\n1001\n"), True),  # size
        (lambda n: n.replace(base64.b64encode(ROOT).decode(), base64.b64encode(bytes(32)).decode()), True),  # root
        (lambda n: n.replace("16:18:47Z", "16:18:48Z"), True),  # time
        (lambda n: n.replace(ORIGIN + "\n", "other.log\n", 1), True),  # origin
        (lambda n: n[:-10] + ("A" if n[-10] != "A" else "B") + n[-9:], True),  # signature bytes
        (lambda n: n.replace("\n\n", "\n"), False),  # no blank line
        (lambda n: n.replace("\n1000\n", "\n01000\n"), False),  # non-canonical number
        (lambda n: n + "\u2014 extra line\n", False),
    ],
)
def test_any_edit_of_a_note_is_refused(key: Ed25519PrivateKey, edit, bad_signature: bool) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 1000, ROOT, WHEN), key).note
    with pytest.raises(CheckpointError) as caught:
        verify_note(edit(note), key.public_key())
    if bad_signature:
        assert caught.value.bad_signature


def test_a_note_from_another_key_is_refused(key: Ed25519PrivateKey) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 5, ROOT, WHEN), Ed25519PrivateKey.generate()).note
    with pytest.raises(CheckpointError, match="different key") as caught:
        verify_note(note, key.public_key())
    assert caught.value.bad_signature
    checkpoint, _, _ = parse_note(note)  # parsing alone does not check the signature
    assert checkpoint.tree_size == 5


def test_the_signing_key_is_created_once_with_mode_0600(tmp_path) -> None:
    path = tmp_path / "audit" / "signing.key"
    key = load_or_create_signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again = load_or_create_signing_key(path)
    assert public_key_pem(again.public_key()) == public_key_pem(key.public_key())
    # The public key is exportable and loads from either the PEM or the private key file.
    exported = tmp_path / "public.pem"
    exported.write_text(public_key_pem(key.public_key()))
    note = sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT, WHEN), key).note
    assert verify_note(note, load_public_key(exported)).tree_size == 1
    assert verify_note(note, load_public_key(path)).tree_size == 1
    assert "PRIVATE" not in exported.read_text()


def test_a_file_that_is_not_a_key_is_bad_input(tmp_path) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("hello")
    with pytest.raises(InvalidInputError, match="bogus.pem"):
        load_public_key(bogus)


def test_checkpoint_files_are_written_once_and_read_by_size(key: Ed25519PrivateKey, tmp_path) -> None:
    first = sign_checkpoint(Checkpoint(ORIGIN, 10, ROOT, WHEN), key)
    second = sign_checkpoint(Checkpoint(ORIGIN, 2, ROOT, WHEN), key)
    directory = tmp_path / "checkpoints"
    write_checkpoint_file(directory, first)
    write_checkpoint_file(directory, second)
    write_checkpoint_file(directory, sign_checkpoint(Checkpoint(ORIGIN, 10, bytes(32), WHEN), key))  # ignored
    (directory / "notes.txt").write_text("not a checkpoint")
    assert read_checkpoint_files(directory) == [(2, second.note), (10, first.note)]
    assert read_checkpoint_files(tmp_path / "absent") == []
