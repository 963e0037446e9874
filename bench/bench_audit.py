"""Audit log benchmark: append and verify throughput, as ratios to baselines measured in the same run.

Append: AuditLog.append_many in transactions of 1, 100 and 1000 entries (lock, idempotency
look-up, chain head, hashing, COPY) against plain COPY of the same rows into a table of the
same shape without triggers, (a) in transactions of the same size and (b) as one bulk COPY.
Verify: the chain and Merkle checks over entries in memory, and `verify_log` end to end from
the database, against raw SHA-256 of the same preimage bytes.

    python bench/bench_audit.py                    # about a minute on 2 cores
    python bench/bench_audit.py --rows 100000 --single-rows 2000

Uses DATABASE_URL when set (a scratch database is created and dropped on that server), else
an embedded PostgreSQL in a temporary directory. Prints numbers; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from agentcoord.services.audit.canonical import canonical_payload
from agentcoord.services.audit.chain import ChainVerifier, hash_preimage
from agentcoord.services.audit.log import AuditLog
from agentcoord.services.audit.merkle import MerkleTree
from agentcoord.services.audit.verify import verify_log
from agentcoord.store import Database, migrate, start_embedded_postgres
from agentcoord.store.audit import AuditEntry

_COLUMNS = "seq, event_id, recorded_at, actor, action, subject, payload, prev_hash, entry_hash"
_TYPES = ["int8", "text", "timestamptz", "text", "text", "text", "bytea", "bytea", "bytea"]


def requests(count: int, tag: str) -> list[tuple[str, str, str, str, dict[str, object]]]:
    """Entries shaped like bus events: a task state change with a few fields."""
    return [
        (f"{tag}-{i}", "mission-runner", "task.state", f"mission/m{i % 50}/task/t{i % 7}",
         {"from": "running", "to": "succeeded", "attempt_id": f"a-{i}", "reason": "tests passed",
          "cost_micro_usd": 1250 + i, "event_created_at": "2026-12-04T16:18:47.000600Z"})
        for i in range(count)
    ]


async def timed_append(audit_log: AuditLog, count: int, batch: int, tag: str) -> float:
    """Entries per second appending `count` entries in transactions of `batch`."""
    pending = requests(count, tag)
    start = time.perf_counter()
    for first in range(0, count, batch):
        await audit_log.append_many(pending[first : first + batch])
    return count / (time.perf_counter() - start)


async def timed_copy(db: Database, rows: list[AuditEntry], batch: int) -> float:
    """Entries per second COPYing the same rows into a plain table, `batch` rows per transaction."""
    async with db.transaction() as conn:
        await conn.execute("DROP TABLE IF EXISTS bench_plain_copy")
        await conn.execute("CREATE TABLE bench_plain_copy (LIKE audit_log INCLUDING ALL)")
    start = time.perf_counter()
    for first in range(0, len(rows), batch):
        async with (
            db.transaction() as conn,
            conn.cursor().copy(f"COPY bench_plain_copy ({_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types(_TYPES)
            for e in rows[first : first + batch]:
                await copy.write_row((e.seq, e.event_id, e.recorded_at, e.actor, e.action, e.subject,
                                      e.payload, e.prev_hash, e.entry_hash))
    return len(rows) / (time.perf_counter() - start)


def in_memory_verify(entries: list[AuditEntry]) -> tuple[float, float]:
    """(entries/s of chain + tree checks, entries/s of raw SHA-256 over the same preimages)."""
    preimages = [hash_preimage(e) for e in entries]
    start = time.perf_counter()
    for data in preimages:
        hashlib.sha256(data).digest()
    raw = len(preimages) / (time.perf_counter() - start)
    start = time.perf_counter()
    verifier = ChainVerifier(first_seq=entries[0].seq, prev_hash=None)
    tree = MerkleTree()
    for entry in entries:
        verifier.check(entry)
        tree.append(entry.entry_hash)
    tree.root()
    checked = len(entries) / (time.perf_counter() - start)
    assert verifier.report().intact
    return checked, raw


async def run(url: str, rows: int, single_rows: int) -> None:
    db = await Database.open(url, max_size=2)
    audit_log = AuditLog(db)
    try:
        print(f"append: {rows} entries per batch size (batch 1: {single_rows})")
        print(f"{'batch':>6} {'append/s':>10} {'COPY same batch/s':>18} {'ratio':>6} {'bulk COPY/s':>12} {'ratio':>6}")
        for batch in (1, 100, 1000):
            count = single_rows if batch == 1 else rows
            append_rate = await timed_append(audit_log, count, batch, f"b{batch}")
            async with db.transaction() as conn:
                cur = await conn.execute(f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT %s", (count,))
                same_rows = [AuditEntry(**r) for r in await cur.fetchall()]
            same_batch = await timed_copy(db, same_rows, batch)
            bulk = await timed_copy(db, same_rows, len(same_rows))
            print(f"{batch:>6} {append_rate:>10.0f} {same_batch:>18.0f} {append_rate / same_batch:>6.2f}"
                  f" {bulk:>12.0f} {append_rate / bulk:>6.2f}")

        async with db.transaction() as conn:
            cur = await conn.execute(f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq")
            entries = [AuditEntry(**r) for r in await cur.fetchall()]
        checked, raw = in_memory_verify(entries)
        start = time.perf_counter()
        report = await verify_log(db)
        end_to_end = report.entries_checked / (time.perf_counter() - start)
        assert report.intact
        print(f"\nverify: {len(entries)} entries, mean preimage {sum(len(hash_preimage(e)) for e in entries[:1000]) // 1000} bytes")
        print(f"  raw SHA-256 of the preimages  {raw:>10.0f} entries/s")
        print(f"  chain + Merkle in memory      {checked:>10.0f} entries/s  ratio {checked / raw:.2f}")
        print(f"  verify_log from the database  {end_to_end:>10.0f} entries/s  ratio {end_to_end / raw:.2f}")
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000, help="entries per batched append run (default 20000)")
    parser.add_argument("--single-rows", type=int, default=300, help="entries for batch size 1 (fsync-bound)")
    args = parser.parse_args()
    canonical_payload({})  # import-time work out of the timings
    server_url = os.environ.get("DATABASE_URL")
    with tempfile.TemporaryDirectory() as scratch:
        embedded = None if server_url else start_embedded_postgres(Path(scratch) / "pg")
        server_url = server_url or embedded.url  # type: ignore[union-attr]
        name = f"bench_audit_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        params = conninfo_to_dict(server_url)
        params["dbname"] = name
        url = make_conninfo(**params)
        try:
            migrate(url)
            asyncio.run(run(url, args.rows, args.single_rows))
        finally:
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            if embedded is not None:
                embedded.stop()


if __name__ == "__main__":
    main()
