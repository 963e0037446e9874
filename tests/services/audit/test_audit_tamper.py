"""The tamper matrix: a superuser edits the log behind the app's back; `agentcoord audit verify` catches it.

Each case starts from 30 entries with signed checkpoints at 10, 20 and 30 (in the database and
in the external directory), tampers as an intruder with full database access would, and checks
the exit code, the first bad seq and what is reported. The signing key and the external
checkpoints are outside the intruder's reach.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agentcoord.cli.main import main
from agentcoord.services.audit.chain import build_entry
from agentcoord.services.audit.checkpoint import ORIGIN, Checkpoint, sign_checkpoint

EXIT_TAMPERED, EXIT_BAD_SIGNATURE, EXIT_ROOT_MISMATCH, EXIT_ROLLBACK = 1, 4, 5, 6


@pytest.fixture
def verify(runner, audit_env, monkeypatch, capsys) -> Callable[..., tuple[int, dict[str, Any]]]:
    """A 30-entry log with checkpoints 10/20/30; verify(*args) runs the CLI, returns (exit, JSON report)."""
    runner.run(audit_env.fill(30, checkpoint_every=10))
    monkeypatch.setenv("DATABASE_URL", audit_env.url)
    monkeypatch.setenv("AGENTCOORD_DATA_DIR", str(audit_env.state_dir))

    def run(*args: str) -> tuple[int, dict[str, Any]]:
        capsys.readouterr()
        code = main(["audit", "verify", "--json", *args])
        return code, json.loads(capsys.readouterr().out)

    return run


def outcome(result: tuple[int, dict[str, Any]]) -> tuple[int, int, str | None]:
    code, report = result
    return code, report["first_bad_seq"], report["problem"]


def test_an_untouched_log_verifies_with_every_checkpoint(verify) -> None:
    code, report = verify()
    assert (code, report["intact"], report["entries_checked"], report["tree_size"]) == (0, True, 30, 30)
    assert report["checkpoints_checked"] == 6  # three in the database, three outside


def test_a_changed_payload_byte(verify, tamper) -> None:
    tamper("UPDATE audit_log SET payload = overlay(payload placing '9' from 6 for 1) WHERE seq = 14")
    assert outcome(verify()) == (EXIT_TAMPERED, 14, "changed")


def test_a_changed_hash(verify, tamper) -> None:
    tamper("UPDATE audit_log SET entry_hash = sha256('forged') WHERE seq = 14")
    assert outcome(verify()) == (EXIT_TAMPERED, 14, "changed")


def test_a_deleted_row(verify, tamper) -> None:
    tamper("DELETE FROM audit_log WHERE seq = 14")
    assert outcome(verify()) == (EXIT_TAMPERED, 14, "missing")


def test_two_swapped_rows(verify, tamper) -> None:
    tamper("UPDATE audit_log SET seq = 1014 WHERE seq = 14")
    tamper("UPDATE audit_log SET seq = 14 WHERE seq = 17")
    tamper("UPDATE audit_log SET seq = 17 WHERE seq = 1014")
    code, report = verify()
    assert outcome((code, report)) == (EXIT_TAMPERED, 14, "reordered/inserted")
    assert report["detail"] == "seq 14 holds the entry hashed as seq 17"


def test_an_inserted_row(runner, verify, tamper, audit_env) -> None:
    entry = runner.run(audit_env.log.get_entry(13))
    forged = build_entry(seq=14, event_id="forged", recorded_at=entry.recorded_at, actor="user:mallory",
                         action="act.0", subject="system", payload=b"{}", prev_hash=entry.entry_hash)
    tamper("UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 14")
    tamper("UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000")
    tamper("INSERT INTO audit_log (seq, event_id, recorded_at, actor, action, subject, payload, prev_hash, entry_hash)"
           " VALUES (14, 'forged', %s, 'user:mallory', 'act.0', 'system', '\\x7b7d', %s, %s)",
           (forged.recorded_at, forged.prev_hash, forged.entry_hash))
    code, report = verify()
    assert outcome((code, report)) == (EXIT_TAMPERED, 14, "reordered/inserted")
    assert report["detail"] == "seq 15 holds the entry hashed as seq 14"


def test_a_rewritten_row_with_every_later_hash_recomputed(runner, verify, tamper, audit_env) -> None:
    entries = runner.run(audit_env.log.list_entries(page_size=100))
    prev = entries[12].entry_hash
    for entry in entries[13:]:  # seq 14..30, rewritten as the intruder likes, chain recomputed
        payload = b'{"i":-1}' if entry.seq == 14 else entry.payload
        forged = build_entry(seq=entry.seq, event_id=entry.event_id, recorded_at=entry.recorded_at,
                             actor=entry.actor, action=entry.action, subject=entry.subject, payload=payload,
                             prev_hash=prev)
        tamper("UPDATE audit_log SET payload = %s, prev_hash = %s, entry_hash = %s WHERE seq = %s",
               (forged.payload, forged.prev_hash, forged.entry_hash, entry.seq))
        prev = forged.entry_hash
    code, report = verify()
    assert outcome((code, report)) == (EXIT_ROOT_MISMATCH, 11, "root mismatch")
    assert "seq 11..20" in report["detail"]
    # The chain alone holds: only the signed, external roots show the rewrite.
    assert outcome(verify("--to", "30"))[0] == EXIT_ROOT_MISMATCH
    assert verify("--to", "10")[0] == 0


def test_a_truncated_and_resealed_tail(verify, tamper) -> None:
    # The intruder drops entries 26..30 and the database's checkpoint of 30, leaving a valid chain
    # and a newest database checkpoint (20) that matches it.
    tamper("DELETE FROM audit_log WHERE seq > 25")
    tamper("DELETE FROM audit_checkpoints WHERE tree_size > 25")
    code, report = verify()
    assert outcome((code, report)) == (EXIT_ROLLBACK, 26, "rollback")
    assert "entries 26..30 were removed" in report["detail"]


def test_an_older_checkpoint_served_as_the_newest(verify, tamper) -> None:
    tamper("DELETE FROM audit_checkpoints WHERE tree_size = 30")
    code, report = verify()
    assert (code, report["problem"]) == (EXIT_ROLLBACK, "rollback")
    assert "serves checkpoint 20 as its newest" in report["detail"]


def test_an_older_checkpoint_copied_over_the_newest_external_file(verify, audit_env) -> None:
    directory = audit_env.files.checkpoint_dir
    (directory / "30.checkpoint").write_text((directory / "20.checkpoint").read_text())
    code, report = verify()
    assert (code, report["problem"]) == (EXIT_ROLLBACK, "rollback")
    assert "30.checkpoint holds the checkpoint of size 20" in report["detail"]


def test_a_replaced_checkpoint_signature_in_the_database(verify, tamper, audit_env) -> None:
    tamper("UPDATE audit_checkpoints SET note = regexp_replace(note, ' [A-Za-z0-9+/=]+\\n$', ' '"
           " || encode(sha256('x') || sha256('y') || '\\x01020304'::bytea, 'base64') || E'\\n')"
           " WHERE tree_size = 20")
    code, report = verify()
    assert (code, report["problem"]) == (EXIT_BAD_SIGNATURE, "bad checkpoint signature")
    assert "database checkpoint 20" in report["detail"]


def test_a_checkpoint_signed_by_another_key(verify, audit_env) -> None:
    path = audit_env.files.checkpoint_dir / "30.checkpoint"
    original = path.read_text()
    checkpoint = Checkpoint(ORIGIN, 30, bytes(32), datetime.now(UTC))
    path.write_text(sign_checkpoint(checkpoint, Ed25519PrivateKey.generate()).note)
    code, report = verify()
    assert (code, report["problem"]) == (EXIT_BAD_SIGNATURE, "bad checkpoint signature")
    assert "30.checkpoint" in report["detail"] and "different key" in report["detail"]
    path.write_text(original)
    assert verify()[0] == 0


def test_human_output_names_the_seq_and_the_help_lists_the_exit_codes(verify, tamper, capsys) -> None:
    tamper("DELETE FROM audit_log WHERE seq = 7")
    assert main(["audit", "verify"]) == EXIT_TAMPERED
    assert capsys.readouterr().out.strip() == "audit log TAMPERED at seq 7: missing (expected seq 7, found seq 8)"
    with pytest.raises(SystemExit):
        main(["audit", "verify", "--help"])
    text = capsys.readouterr().out
    for code in ("4  a checkpoint's signature is bad", "5  root mismatch", "6  truncation or rollback"):
        assert code in text
