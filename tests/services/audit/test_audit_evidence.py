"""Evidence from a real log: checkpoints on schedule, proofs, `audit prove` / `audit export`, and the
independent verifier script (run as a separate process, so it cannot lean on project imports)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agentcoord.cli.main import main
from agentcoord.errors import InvalidInputError, NotFoundError
from agentcoord.services.audit.checkpoint import (
    load_or_create_signing_key,
    read_checkpoint_files,
    verify_note,
)
from agentcoord.services.audit.checkpointer import Checkpointer
from agentcoord.services.audit.merkle import (
    MerkleTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

SCRIPT = Path(__file__).resolve().parents[3] / "tools" / "verify_audit_bundle.py"


def run_script(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The verifier in a fresh interpreter with isolated mode: no project on its path."""
    return subprocess.run([sys.executable, "-I", str(SCRIPT), *args], input=stdin, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.fixture
def cli(audit_env, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", audit_env.url)
    monkeypatch.setenv("AGENTCOORD_DATA_DIR", str(audit_env.state_dir))

    def run(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(["audit", *args])
        return code, capsys.readouterr().out

    return run


def test_checkpoints_are_signed_every_n_entries_or_t_seconds(runner, audit_env) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    key = load_or_create_signing_key(audit_env.files.signing_key)
    checkpointer = Checkpointer(audit_env.db, key=key, checkpoint_dir=audit_env.files.checkpoint_dir,
                                every_entries=5, every_s=60, clock=lambda: now[0])

    async def scenario() -> list[int | None]:
        sizes = [await checkpointer.maybe_checkpoint()]  # empty log: nothing to sign
        await audit_env.fill(3, prefix="a")
        sizes.append(await checkpointer.maybe_checkpoint())  # first checkpoint comes at once
        await audit_env.fill(4, prefix="b")
        sizes.append(await checkpointer.maybe_checkpoint())  # 4 < 5 entries, 0 s: not due
        now[0] += timedelta(seconds=61)
        sizes.append(await checkpointer.maybe_checkpoint())  # T passed
        await audit_env.fill(5, prefix="c")
        sizes.append(await checkpointer.maybe_checkpoint())  # N reached
        sizes.append(await checkpointer.maybe_checkpoint())  # nothing new
        return [s.checkpoint.tree_size if s else None for s in sizes]

    assert runner.run(scenario()) == [None, 3, None, 7, 12, None]
    stored = runner.run(audit_env.log.checkpoint())
    assert stored.tree_size == 12 and runner.run(audit_env.log.checkpoint(7)).tree_size == 7
    files = read_checkpoint_files(audit_env.files.checkpoint_dir)
    assert [size for size, _ in files] == [3, 7, 12]
    assert files[-1][1] == stored.note
    assert verify_note(stored.note, key.public_key()).root_hash == stored.root_hash
    with pytest.raises(NotFoundError):
        runner.run(audit_env.log.checkpoint(8))


def test_inclusion_and_consistency_proofs_from_the_stored_log(runner, audit_env) -> None:
    runner.run(audit_env.fill(37, checkpoint_every=16))
    entries = runner.run(audit_env.log.list_entries(page_size=100))
    tree = MerkleTree(e.entry_hash for e in entries)
    proof = runner.run(audit_env.log.inclusion_proof(5))
    assert (proof.tree_size, proof.checkpoint.tree_size) == (16, 16)  # the smallest checkpoint holding it
    assert verify_inclusion(4, 16, leaf_hash(entries[4].entry_hash), proof.hashes, proof.checkpoint.root_hash)
    latest = runner.run(audit_env.log.inclusion_proof(37))
    assert (latest.tree_size, latest.checkpoint.tree_size, latest.root_hash) == (37, 37, tree.root())
    unsigned = runner.run(audit_env.log.inclusion_proof(20, 25))
    assert unsigned.checkpoint is None
    assert verify_inclusion(19, 25, leaf_hash(entries[19].entry_hash), unsigned.hashes, tree.root(25))
    hashes = runner.run(audit_env.log.consistency_proof(16, 37))
    assert verify_consistency(16, 37, tree.root(16), tree.root(37), hashes)
    with pytest.raises(InvalidInputError, match="tree_size"):
        runner.run(audit_env.log.inclusion_proof(5, 40))
    with pytest.raises(InvalidInputError, match="does not hold seq"):
        runner.run(audit_env.log.inclusion_proof(20, 10))
    with pytest.raises(NotFoundError):
        runner.run(audit_env.log.inclusion_proof(99))


def test_audit_prove_output_is_checked_by_the_independent_script(runner, audit_env, cli, tmp_path) -> None:
    runner.run(audit_env.fill(12, checkpoint_every=8))
    code, out = cli("prove", "3")
    assert code == 0
    document = json.loads(out)
    assert (document["leaf_index"], document["tree_size"]) == (2, 8)
    checked = run_script("proof", "-", stdin=out)
    assert (checked.returncode, checked.stdout) == (0, "OK: entry 3 is in the signed checkpoint of size 8\n")
    # Pinning the key obtained independently (`audit public-key`) works too.
    code, pem = cli("public-key")
    (tmp_path / "log.pem").write_text(pem)
    assert run_script("proof", "-", "--public-key", str(tmp_path / "log.pem"), stdin=out).returncode == 0
    # Any change to the evidence fails.
    for forge in (
        lambda d: d["entry"].update(actor="user:mallory"),
        lambda d: d.update(leaf_index=3),
        lambda d: d["proof"].__setitem__(0, "00" * 32),
        lambda d: d.update(checkpoint=d["checkpoint"].replace("\n8\n", "\n9\n")),
    ):
        forged = json.loads(out)
        forge(forged)
        result = run_script("proof", "-", stdin=json.dumps(forged))
        assert result.returncode == 1 and result.stdout.startswith("FAILED: "), result


def test_audit_export_writes_a_bundle_the_script_verifies(runner, audit_env, cli, tmp_path) -> None:
    runner.run(audit_env.fill(25, checkpoint_every=10))
    runner.run(audit_env.log.append("x", actor="user:ana", action="note", subject="system",
                                    payload={"text": "naïve ✓ 𝄞", "nested": {"b": [1, None, True], "a": -5}}))
    bundle = tmp_path / "bundle"
    code, out = cli("export", str(bundle))
    assert (code, out.strip()) == (0, f"exported 26 entries and 3 checkpoints to {bundle}")
    assert sorted(p.name for p in bundle.iterdir()) == ["checkpoints", "entries.jsonl", "manifest.json",
                                                         "public_key.pem"]
    result = run_script("bundle", str(bundle))
    assert (result.returncode, result.stdout) == (0, "OK: 26 entries and 3 signed checkpoints verified\n")
    assert cli("export", str(bundle))[0] == 2  # not empty: refused

    lines = (bundle / "entries.jsonl").read_text().splitlines()
    lines[6] = lines[6].replace('"act.0"', '"act.9"')
    (bundle / "entries.jsonl").write_text("\n".join(lines) + "\n")
    result = run_script("bundle", str(bundle))
    assert (result.returncode, result.stdout) == (1, "FAILED: seq 7: changed (the entry does not hash to its entry_hash)\n")


def test_a_bundle_missing_its_tail_fails_on_the_signed_checkpoint(runner, audit_env, cli, tmp_path) -> None:
    runner.run(audit_env.fill(20, checkpoint_every=10))
    bundle = tmp_path / "bundle"
    assert cli("export", str(bundle))[0] == 0
    # Drop entries 11..20 from the bundle: the chain holds, but checkpoint 20 is beyond it.
    lines = (bundle / "entries.jsonl").read_text().splitlines()
    (bundle / "entries.jsonl").write_text("\n".join(lines[:10]) + "\n")
    result = run_script("bundle", str(bundle))
    assert (result.returncode, result.stdout) == (1, "FAILED: checkpoint 20 is beyond the 10 entries in the bundle\n")
