"""8 concurrent appenders x 10,000 entries each: seq stays gap-free, the chain never forks, verify passes.

Each appender sends its entries in batches of 100 (one transaction each, as AppendStream and the
event appender do), so 800 transactions race for the append lock. Single-entry transactions
would measure the disk's fsync rate rather than the lock (about 220 appends/s measured on the
machine, over 6 minutes for 80,000), so they are covered by the smaller test in test_audit_log.py.
"""

from __future__ import annotations

import asyncio

import pytest

from agentcoord.services.audit.chain import GENESIS_HASH

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
