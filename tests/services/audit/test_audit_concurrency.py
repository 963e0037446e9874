"""8 concurrent appenders x 10,000 entries each: seq stays gap-free, the chain never forks, verify passes.

Each appender sends its entries in batches of 100 (one transaction each, as AppendStream and the
event appender do), so 800 transactions race for the append lock. Single-entry transactions
would measure the disk's fsync rate rather than the lock (about 220 appends/s measured on the
machine, over 6 minutes for 80,000), so they are covered by the smaller test in test_audit_log.py.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

from agentcoord.services.audit.chain import GENESIS_HASH
from agentcoord.store.audit import AuditEntry

APPENDERS = 8
ENTRIES_EACH = 10_000
BATCH = 100


@pytest.mark.slow
def test_eight_concurrent_appenders_of_ten_thousand_entries(runner, audit_env) -> None:
    log = audit_env.log

    async def appender(worker: int) -> None:
        for start in range(0, ENTRIES_EACH, BATCH):
            results = await log.append_many([
                (f"w{worker}-{i}", f"worker:{worker}", "test.append", "system", {"worker": worker, "i": i})
                for i in range(start, start + BATCH)
            ])
            assert all(appended for _, appended in results)
            if start % 2000 == 0:
                await audit_env.checkpointer.checkpoint()

    async def scenario() -> tuple[list[tuple[int, bytes, bytes]], object]:
        await asyncio.gather(*(appender(w) for w in range(APPENDERS)))
        await audit_env.checkpointer.checkpoint()
        async with audit_env.db.transaction() as conn:
            cur = await conn.execute("SELECT seq, prev_hash, entry_hash FROM audit_log ORDER BY seq")
            rows = [(r["seq"], r["prev_hash"], r["entry_hash"]) for r in await cur.fetchall()]
        return rows, await log.verify()

    rows, report = runner.run(scenario(), timeout=300)
    total = APPENDERS * ENTRIES_EACH
    assert [seq for seq, _, _ in rows] == list(range(1, total + 1))  # no gaps
    prev_hashes = [prev for _, prev, _ in rows]
    assert prev_hashes == [GENESIS_HASH] + [entry_hash for _, _, entry_hash in rows[:-1]]  # one chain
    assert len(set(prev_hashes)) == total  # no entry has two successors: no fork
    assert report.intact and report.entries_checked == total and report.tree_size == total
    assert report.checkpoints_checked >= 2 * 2  # several checkpoints, each in the database and outside


def test_concurrent_appenders_replaying_each_others_ids_store_each_id_once(runner, audit_env) -> None:
    # Every appender sends the same 2,000 ids in its own order, so most batches meet ids another
    # appender stored a moment before and take the fall back (savepoint, look-up, re-chain).
    log = audit_env.log
    ids = [f"shared-{i}" for i in range(2000)]

    async def appender(worker: int) -> list[tuple[AuditEntry, bool]]:
        order = random.Random(worker).sample(ids, len(ids))
        results: list[tuple[AuditEntry, bool]] = []
        for start in range(0, len(order), 50):
            results += await log.append_many([
                (event_id, f"worker:{worker}", "test.append", "system", {"worker": worker})
                for event_id in order[start : start + 50]
            ])
        return results

    async def scenario() -> tuple[list[list[tuple[AuditEntry, bool]]], list[AuditEntry], object]:
        results = await asyncio.gather(*(appender(w) for w in range(4)))
        stored: list[AuditEntry] = []
        while page := await log.list_entries(after_seq=stored[-1].seq if stored else 0, page_size=1000):
            stored += page
        return results, stored, await log.verify()

    results, stored, report = runner.run(scenario(), timeout=120)
    assert [entry.seq for entry in stored] == list(range(1, len(ids) + 1))
    assert sorted(entry.event_id for entry in stored) == sorted(ids)
    by_id = {entry.event_id: entry for entry in stored}
    appended = Counter(entry.event_id for worker in results for entry, new in worker if new)
    assert appended == Counter(ids)  # each id appended by exactly one appender
    for worker in results:
        assert len(worker) == len(ids)
        assert all(entry == by_id[entry.event_id] for entry, _ in worker)  # replays got the stored entry
    assert report.intact and report.entries_checked == len(ids)
