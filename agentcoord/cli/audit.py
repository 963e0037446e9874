"""`agentcoord audit verify | prove | export | public-key`: check and prove the audit log.

These read the database and the state directory themselves rather than asking the
AuditService, so a compromised service cannot vouch for its own records. The signed
checkpoints are checked with the public key of the log (by default derived from the signing
key under the state directory; pass --public-key to pin one you trust) and compared with the
external checkpoint directory (default <state dir>/audit/checkpoints).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agentcoord.cli.output import say
from agentcoord.config import Config
from agentcoord.errors import InvalidInputError
from agentcoord.services.audit.bundle import export_bundle, proof_document
from agentcoord.services.audit.chain import Problem, VerifyReport
from agentcoord.services.audit.checkpoint import AuditFiles, load_public_key, public_key_pem
from agentcoord.services.audit.log import AuditLog
from agentcoord.services.audit.verify import verify_log
from agentcoord.stack import resolve_database
from agentcoord.store import Database

T = TypeVar("T")

EXIT_INTACT, EXIT_TAMPERED = 0, 1
EXIT_BAD_SIGNATURE, EXIT_ROOT_MISMATCH, EXIT_ROLLBACK = 4, 5, 6
EXIT_FOR_PROBLEM = {
    Problem.BAD_SIGNATURE: EXIT_BAD_SIGNATURE,
    Problem.ROOT_MISMATCH: EXIT_ROOT_MISMATCH,
    Problem.ROLLBACK: EXIT_ROLLBACK,
}
"""Problems with their own exit code; every entry-level problem (changed, missing, ...) exits 1."""

_VERIFY_EPILOG = """\
exit codes:
  0  intact: chain, Merkle tree and every signed checkpoint agree
  1  tampered entry: the first bad seq is named, with what is wrong
     (changed, broken link, missing, reordered/inserted)
  2  bad input (e.g. a backwards range, or checkpoints but no public key)
  3  the database could not be reached
  4  a checkpoint's signature is bad (not signed by the log's key, or altered)
  5  root mismatch: the chain holds but the Merkle root differs from a signed checkpoint
     (entries rewritten and every later hash recomputed)
  6  truncation or rollback: the log is shorter than, or serves a checkpoint older than,
     the newest checkpoint in the external directory
Checks run in that order; the first failure decides the exit code.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    audit = subparsers.add_parser("audit", help="check and prove the tamper-evident audit log")
    verbs = audit.add_subparsers(dest="verb", required=True)

    verify = verbs.add_parser(
        "verify", help="recompute chain, Merkle tree and checkpoint signatures",
        epilog=_VERIFY_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify.add_argument("--from", dest="from_seq", type=int, default=0, help="first seq to re-hash (default: start)")
    verify.add_argument("--to", dest="to_seq", type=int, default=0,
                        help="last seq to re-hash (default: the end; only then is rollback checked)")
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    _key_options(verify)
    verify.set_defaults(handler=run_verify)

    prove = verbs.add_parser("prove", help="print an inclusion proof of one entry as JSON")
    prove.add_argument("seq", type=int, help="the entry's seq")
    prove.add_argument("--size", dest="tree_size", type=int, default=0,
                       help="tree size to prove against (default: the smallest checkpoint holding the entry)")
    _key_options(prove)
    prove.set_defaults(handler=run_prove)

    export = verbs.add_parser("export", help="write a self-verifying bundle (JSONL, checkpoints, public key)")
    export.add_argument("directory", type=Path, help="where to write the bundle (created; must be empty)")
    _key_options(export)
    export.set_defaults(handler=run_export)

    public = verbs.add_parser("public-key", help="print the log's Ed25519 public key (PEM)")
    _key_options(public)
    public.set_defaults(handler=run_public_key)


def _key_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--public-key", type=Path, default=None,
                        help="PEM public key of the log (default: from <state dir>/audit/signing.key)")
    parser.add_argument("--checkpoints", type=Path, default=None,
                        help="external checkpoint directory (default: <state dir>/audit/checkpoints)")


def run_verify(args: argparse.Namespace, config: Config) -> int:
    public_key, checkpoint_dir = _keys(args, config)
    report = _with_database(config, lambda db: verify_log(
        db, from_seq=args.from_seq, to_seq=args.to_seq, public_key=public_key, checkpoint_dir=checkpoint_dir
    ))
    say(json.dumps(_report_json(report)) if args.json else report.describe())
    if report.intact:
        return EXIT_INTACT
    assert report.problem is not None
    return EXIT_FOR_PROBLEM.get(report.problem, EXIT_TAMPERED)


def run_prove(args: argparse.Namespace, config: Config) -> int:
    public_key, _ = _keys(args, config)

    async def prove(db: Database) -> dict[str, object]:
        proof = await AuditLog(db).inclusion_proof(args.seq, args.tree_size)
        return proof_document(proof, public_key)

    say(json.dumps(_with_database(config, prove), indent=2, ensure_ascii=False))
    return EXIT_INTACT


def run_export(args: argparse.Namespace, config: Config) -> int:
    public_key, _ = _keys(args, config)
    if public_key is None:
        raise InvalidInputError("is needed to export a bundle", field="--public-key")
    try:
        manifest = _with_database(config, lambda db: export_bundle(db, args.directory, public_key=public_key))
    except (FileExistsError, OSError) as exc:
        raise InvalidInputError(str(exc), field="directory") from exc
    say(f"exported {manifest['entries']} entries and {len(manifest['checkpoints'])} checkpoints to {args.directory}")
    return EXIT_INTACT


def run_public_key(args: argparse.Namespace, config: Config) -> int:
    public_key, _ = _keys(args, config)
    if public_key is None:
        raise InvalidInputError("no signing key yet; start the audit service once", field="--public-key")
    say(public_key_pem(public_key).rstrip("\n"))
    return EXIT_INTACT


def _keys(args: argparse.Namespace, config: Config) -> tuple[Ed25519PublicKey | None, Path]:
    """The public key and external checkpoint directory to use (options, else the state dir)."""
    files = AuditFiles.under(config.state_dir)
    key_path = args.public_key or files.signing_key
    public_key = load_public_key(key_path) if args.public_key or key_path.exists() else None
    return public_key, args.checkpoints or files.checkpoint_dir


def _with_database(config: Config, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` on a one-connection pool to the configured (or embedded) database."""
    config, embedded = resolve_database(config)
    try:
        assert config.database.url
        return asyncio.run(_run(config.database.url, work))
    finally:
        if embedded is not None:
            embedded.stop()


async def _run(url: str, work: Callable[[Database], Awaitable[T]]) -> T:
    db = await Database.open(url, max_size=1)
    try:
        return await work(db)
    finally:
        await db.close()


def _report_json(report: VerifyReport) -> dict[str, object]:
    return {
        "intact": report.intact,
        "entries_checked": report.entries_checked,
        "first_bad_seq": report.first_bad_seq,
        "problem": report.problem.value if report.problem else None,
        "detail": report.detail,
        "tree_size": report.tree_size,
        "root_hash": report.root_hash.hex(),
        "checkpoints_checked": report.checkpoints_checked,
    }
