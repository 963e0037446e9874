"""`agentcoord audit verify`: recompute the hash chain straight from the database.

It reads the log itself rather than asking the AuditService, so a compromised service cannot
vouch for its own records. Exit 0 when intact, 1 naming the first bad seq.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from agentcoord.cli.output import say
from agentcoord.config import Config
from agentcoord.services.audit.log import verify_log
from agentcoord.stack import resolve_database
from agentcoord.store import Database


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    audit = subparsers.add_parser("audit", help="check the tamper-evident audit log")
    verbs = audit.add_subparsers(dest="verb", required=True)
    verify = verbs.add_parser("verify", help="recompute the hash chain; exit 0 intact, 1 tampered")
    verify.add_argument("--from", dest="from_seq", type=int, default=0, help="first seq to check (default: start)")
    verify.add_argument("--to", dest="to_seq", type=int, default=0, help="last seq to check (default: end)")
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    verify.set_defaults(handler=run_verify)


def run_verify(args: argparse.Namespace, config: Config) -> int:
    config, embedded = resolve_database(config)
    try:
        assert config.database.url
        report = asyncio.run(_verify(config.database.url, args.from_seq, args.to_seq))
    finally:
        if embedded is not None:
            embedded.stop()
    if args.json:
        say(json.dumps({
            "intact": report.intact,
            "entries_checked": report.entries_checked,
            "first_bad_seq": report.first_bad_seq,
            "problem": report.problem.value if report.problem else None,
            "detail": report.detail,
        }))
    else:
        say(report.describe())
    return 0 if report.intact else 1


async def _verify(url: str, from_seq: int, to_seq: int):  # type: ignore[no-untyped-def]
    db = await Database.open(url, max_size=1)
    try:
        return await verify_log(db, from_seq=from_seq, to_seq=to_seq)
    finally:
        await db.close()
