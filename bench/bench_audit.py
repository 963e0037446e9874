"""Audit log benchmark: append and verify throughput, as ratios to baselines measured in the same run.

Append: AuditLog.append_many in transactions of 1, 100 and 1000 entries (lock, idempotency
look-up, chain head, hashing, COPY) against plain COPY of the same rows into a table of the
same shape without triggers, (a) in transactions of the same size and (b) as one bulk COPY.
Verify: the chain and Merkle checks over rows in memory (ChainVerifier.check_many and
MerkleTree.extend, as verify_log runs them), and `verify_log` end to end from the database,
against three baselines measured in the same run, each the fastest plain loop (a C-level map)
over the same data:
  A  raw SHA-256 of the entries' preimages alone (the issue's first reading of the goal);
  B  raw SHA-256 of every byte string verification must hash: the preimages, plus the Merkle
     leaf and node inputs (one leaf and about one node per entry);
  C  reading the same rows the way verify_log does (same query, batch size, binary tuples),
     plus B: the floor for any verifier that reads the database and hashes what it must.
In memory is compared with A and B, from the database with A and C.

The machine is shared and its load moves by several times within seconds, so measurements are
paired with their baselines back to back: each append transaction with the COPY of its rows,
each verify round with its raw-hashing and reading baselines; the ratios printed are medians over
the pairs or rounds.

    python bench/bench_audit.py                    # about a minute on 2 cores
    python bench/bench_audit.py --rows 100000 --single-rows 2000 --rounds 7

Uses DATABASE_URL when set (a scratch database is created and dropped on that server), else
an embedded PostgreSQL in a temporary directory. Prints numbers; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import operator
import os
import statistics
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
from agentcoord.store import audit as audit_store
from agentcoord.store.audit import AuditEntry, EntryRow

_COLUMNS = "seq, event_id, recorded_at, actor, action, subject, payload, prev_hash, entry_hash"
_TYPES = ["int8", "text", "timestamptz", "text", "text", "text", "bytea", "bytea", "bytea"]
_VERIFY_BATCH = 10_000  # verify_log's batch size
_BULK_GROUP = 2000  # entries per bulk COPY baseline
_digest = operator.methodcaller("digest")


def requests(count: int, tag: str) -> list[tuple[str, str, str, str, dict[str, object]]]:
    """Entries shaped like bus events: a task state change with a few fields."""
    return [
        (f"{tag}-{i}", "mission-runner", "task.state", f"mission/m{i % 50}/task/t{i % 7}",
         {"from": "running", "to": "succeeded", "attempt_id": f"a-{i}", "reason": "tests passed",
          "cost_micro_usd": 1250 + i, "event_created_at": "2026-12-04T16:18:47.000600Z"})
        for i in range(count)
    ]


async def fresh_copy_tables(db: Database) -> None:
    """Empty tables shaped like audit_log (same columns and indexes, no triggers)."""
    async with db.transaction() as conn:
        for table in ("bench_plain_copy", "bench_bulk_copy"):
            await conn.execute(f"DROP TABLE IF EXISTS {table}")
            await conn.execute(f"CREATE TABLE {table} (LIKE audit_log INCLUDING ALL)")


async def copy_seconds(db: Database, table: str, rows: list[AuditEntry]) -> float:
    """Seconds to COPY `rows` into `table` in one transaction, the way the append path writes them."""
    start = time.perf_counter()
    async with (
        db.transaction() as conn,
        conn.cursor().copy(f"COPY {table} ({_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.set_types(_TYPES)
        for e in rows:
            await copy.write_row((e.seq, e.event_id, e.recorded_at, e.actor, e.action, e.subject,
                                  e.payload, e.prev_hash, e.entry_hash))
    return time.perf_counter() - start


def raw_sha256_rate(items: list[bytes]) -> float:
    """Items per second hashing `items` with SHA-256: the faster of a map and a for loop, best of 3."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        list(map(_digest, map(hashlib.sha256, items)))
        best = min(best, time.perf_counter() - start)
        start = time.perf_counter()
        for data in items:
            hashlib.sha256(data).digest()
        best = min(best, time.perf_counter() - start)
    return len(items) / best


def merkle_inputs(entry_hashes: list[bytes]) -> list[bytes]:
    """Every input the Merkle tree over these leaves hashes: 0x00||leaf, then 0x01||left||right per level."""
    inputs = [b"\x00" + h for h in entry_hashes]
    level = [hashlib.sha256(data).digest() for data in inputs]
    while len(level) > 1:
        pairs = [b"\x01" + level[i] + level[i + 1] for i in range(0, len(level) - 1, 2)]
        inputs += pairs
        level = [hashlib.sha256(data).digest() for data in pairs]
    return inputs


def in_memory_verify(rows: list[EntryRow]) -> float:
    """Entries per second through the chain and Merkle checks verify_log runs, best of 3."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        verifier = ChainVerifier()
        tree = MerkleTree()
        for first in range(0, len(rows), _VERIFY_BATCH):
            batch = rows[first : first + _VERIFY_BATCH]
            passed = verifier.check_many(batch)
            tree.extend([row[8] for row in batch[:passed]])
        tree.root()
        best = min(best, time.perf_counter() - start)
        assert verifier.report().intact
    return len(rows) / best


async def read_rows(db: Database) -> tuple[list[EntryRow], float]:
    """Every row, read as verify_log reads them; and the best of 3 times taken to read them."""
    best = float("inf")
    rows: list[EntryRow] = []
    for _ in range(3):
        start = time.perf_counter()
        rows, after_seq = [], 0
        while True:
            async with db.transaction() as conn:
                batch = await audit_store.read_entry_rows(conn, after_seq=after_seq, limit=_VERIFY_BATCH)
            rows += batch
            if len(batch) < _VERIFY_BATCH:
                break
            after_seq = batch[-1][0]
        best = min(best, time.perf_counter() - start)
    return rows, best


async def append_pairs(audit_log: AuditLog, db: Database, count: int, batch: int, tag: str) -> tuple[float, ...]:
    """(append/s, COPY same batch/s, bulk COPY/s, median ratio to each) over `count` entries.

    Each append transaction is followed at once by a plain COPY of the rows it stored, in a
    transaction of the same size, into a table that grows as audit_log does; every
    `_BULK_GROUP` entries, those rows are COPYed again in one transaction into an emptied table.
    Rates are totals over all pairs; ratios are medians over the pairs (over the groups for bulk).
    """
    pending = requests(count, tag)
    append_s = same_s = bulk_s = 0.0
    same_ratios: list[float] = []
    bulk_ratios: list[float] = []
    group: list[AuditEntry] = []
    group_append_s = 0.0
    for first in range(0, count, batch):
        start = time.perf_counter()
        results = await audit_log.append_many(pending[first : first + batch])
        took = time.perf_counter() - start
        rows = [entry for entry, _ in results]
        same = await copy_seconds(db, "bench_plain_copy", rows)
        append_s, same_s, group_append_s = append_s + took, same_s + same, group_append_s + took
        same_ratios.append(same / took)
        group += rows
        if len(group) >= min(_BULK_GROUP, count) or first + batch >= count:
            async with db.transaction() as conn:
                await conn.execute("TRUNCATE bench_bulk_copy")
            bulk = await copy_seconds(db, "bench_bulk_copy", group)
            bulk_s += bulk
            bulk_ratios.append(bulk / group_append_s)
            group, group_append_s = [], 0.0
    return (count / append_s, count / same_s, count / bulk_s,
            statistics.median(same_ratios), statistics.median(bulk_ratios))


async def run(url: str, rows: int, single_rows: int, rounds: int) -> None:
    db = await Database.open(url, max_size=2)
    audit_log = AuditLog(db)
    try:
        print(f"append: {rows} entries per batch size (batch 1: {single_rows}), each transaction paired with"
              " its COPY baseline; ratios are medians over the pairs")
        print(f"{'batch':>6} {'append/s':>10} {'COPY same batch/s':>18} {'ratio':>6} {'bulk COPY/s':>12} {'ratio':>6}")
        for batch in (1, 100, 1000):
            await fresh_copy_tables(db)
            count = single_rows if batch == 1 else rows
            append_rate, same_batch, bulk, ratio, bulk_ratio = await append_pairs(audit_log, db, count, batch, f"b{batch}")
            print(f"{batch:>6} {append_rate:>10.0f} {same_batch:>18.0f} {ratio:>6.2f} {bulk:>12.0f} {bulk_ratio:>6.2f}")

        stored, _ = await read_rows(db)
        entries = [AuditEntry(*row) for row in stored]
        preimages = [hash_preimage(e) for e in entries]
        hashed = preimages + merkle_inputs([e.entry_hash for e in entries])
        n = len(stored)
        measured = []
        for _ in range(rounds):  # every rate of a round is measured back to back, baselines first
            raw_preimages = raw_sha256_rate(preimages)
            raw_all = n / (len(hashed) / raw_sha256_rate(hashed))
            _, read_s = await read_rows(db)
            read_and_hash = n / (read_s + n / raw_all)
            checked = in_memory_verify(stored)
            start = time.perf_counter()
            report = await verify_log(db)
            end_to_end = report.entries_checked / (time.perf_counter() - start)
            assert report.intact and report.entries_checked == n
            measured.append((raw_preimages, raw_all, read_and_hash, n / read_s, checked, end_to_end))
        a, b, c, read, checked, end_to_end = (statistics.median(column) for column in zip(*measured))
        ratio = {name: statistics.median(r[i] / r[j] for r in measured)
                 for name, i, j in (("mem/A", 4, 0), ("mem/B", 4, 1), ("db/A", 5, 0), ("db/C", 5, 2))}
        print(f"\nverify: {n} entries, mean preimage {sum(map(len, preimages)) // n} bytes,"
              f" {len(hashed) / n:.2f} hashed byte strings per entry; medians over {rounds} rounds")
        print(f"  A raw SHA-256 of the preimages                {a:>10.0f} entries/s")
        print(f"  B raw SHA-256 of all verify hashes (+Merkle)  {b:>10.0f} entries/s")
        print(f"  C read rows as verify_log does, then B        {c:>10.0f} entries/s  (reading alone {read:.0f}/s)")
        print(f"  chain + Merkle in memory                      {checked:>10.0f} entries/s"
              f"  ratio to A {ratio['mem/A']:.2f}, to B {ratio['mem/B']:.2f}")
        print(f"  verify_log from the database                  {end_to_end:>10.0f} entries/s"
              f"  ratio to A {ratio['db/A']:.2f}, to C {ratio['db/C']:.2f}")
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000, help="entries per batched append run (default 20000)")
    parser.add_argument("--single-rows", type=int, default=300, help="entries for batch size 1 (fsync-bound)")
    parser.add_argument("--rounds", type=int, default=5, help="paired verify rounds (default 5)")
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
            asyncio.run(run(url, args.rows, args.single_rows, args.rounds))
        finally:
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            if embedded is not None:
                embedded.stop()


if __name__ == "__main__":
    main()
