"""UsageWriter on real PostgreSQL: direct COPY, and the savepoint fall back on a known key."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from agentcoord.store import Database
from agentcoord.store.database import Connection
from agentcoord.store.events import append_events, read_events_after
from agentcoord.store.usage import RecordedChunk
from agentcoord.store.usage_writer import UsageWriter
from agentcoord.usage import UsageBatch, UsageRecord

ENDED = datetime(2026, 11, 5, 14, 30, tzinfo=UTC)


def batch(keys: list[str], *, cost: int = 10) -> UsageBatch:
    return UsageBatch.from_records(
        UsageRecord(
            idempotency_key=key, mission_id="m-1", task_id="t-1", agent="sim-fast",
            model="sim-small", input_tokens=1, output_tokens=1, reported_cost_micro_usd=cost,
            computed_cost_micro_usd=cost, started_at=ENDED - timedelta(minutes=1), ended_at=ENDED,
            tags=("team:a",),
        )
        for key in keys
    )  # fmt: skip


def keys(prefix: str, n: int) -> list[str]:
    return [f"{prefix}-{i:03d}" for i in range(n)]


async def write(
    conn: Connection, batches: list[UsageBatch], **options: int
) -> tuple[list[RecordedChunk], bool]:
    async with UsageWriter(conn, **options) as writer:
        for b in batches:
            await writer.write(b)
        return await writer.finish(), writer.fell_back


def stored(url: str) -> tuple[int, int, int]:
    with psycopg.connect(url) as conn:
        rows, distinct, cost = conn.execute(
            "SELECT count(*), count(DISTINCT idempotency_key), coalesce(sum(cost_micro_usd), 0)"
            " FROM usage_events"
        ).fetchone()
    return rows, distinct, cost


@pytest.fixture
def fresh_db(make_db, fresh_database_url) -> Database:
    return make_db(fresh_database_url)


def test_new_keys_are_copied_directly_in_stream_order(runner, fresh_db, fresh_database_url) -> None:
    async def scenario() -> tuple[list[RecordedChunk], bool]:
        async with fresh_db.transaction() as conn:
            return await write(conn, [batch(keys("b", 5)), batch(keys("a", 3), cost=7)], chunk_size=4)

    chunks, fell_back = runner.run(scenario())

    assert fell_back is False
    assert [c.idempotency_keys for c in chunks] == [
        ("b-000", "b-001", "b-002", "b-003"), ("b-004", "a-000", "a-001", "a-002"),
    ]  # fmt: skip
    assert [c.cost_micro_usd for c in chunks] == [40, 10 + 3 * 7]
    assert stored(fresh_database_url) == (8, 8, 71)


def test_a_replayed_key_inside_a_batch_falls_back_and_stores_only_new_keys(
    runner, fresh_db, fresh_database_url
) -> None:
    async def scenario() -> tuple[list[RecordedChunk], bool]:
        async with fresh_db.transaction() as conn:
            await write(conn, [batch(["old-1", "old-2"])])
        async with fresh_db.transaction() as conn:
            # The first batch is COPYed before the conflict; the second carries a known key.
            return await write(
                conn,
                [batch(keys("new", 3)), batch(["new-100", "old-2", "new-101"]), batch(["new-200"])],
                segment_events=3,
            )

    chunks, fell_back = runner.run(scenario())

    assert fell_back is True
    recorded = [key for chunk in chunks for key in chunk.idempotency_keys]
    assert recorded == sorted(["new-000", "new-001", "new-002", "new-100", "new-101", "new-200"])
    assert stored(fresh_database_url) == (8, 8, 80)


def test_a_key_repeated_within_the_stream_is_stored_once(runner, fresh_db, fresh_database_url) -> None:
    async def scenario() -> tuple[list[RecordedChunk], bool]:
        async with fresh_db.transaction() as conn:
            return await write(conn, [batch(["a", "b"]), batch(["c", "a"])])

    chunks, fell_back = runner.run(scenario())

    assert fell_back is True
    assert [key for chunk in chunks for key in chunk.idempotency_keys] == ["a", "b", "c"]
    assert stored(fresh_database_url) == (3, 3, 30)


def test_a_failed_stream_leaves_nothing_behind(runner, fresh_db, fresh_database_url) -> None:
    async def scenario() -> None:
        async with fresh_db.transaction() as conn, UsageWriter(conn) as writer:
            await writer.write(batch(keys("k", 10)))  # the COPY is still open here
            raise RuntimeError("the client went away")

    with pytest.raises(RuntimeError):
        runner.run(scenario(), timeout=30)

    assert stored(fresh_database_url) == (0, 0, 0)


def test_a_writer_overlapping_one_in_flight_waits_for_it_and_stores_the_rest(
    runner, fresh_db, fresh_database_url
) -> None:
    async def scenario() -> tuple[list[RecordedChunk], bool]:
        async with (
            await psycopg.AsyncConnection.connect(fresh_database_url) as other,
            await psycopg.AsyncConnection.connect(fresh_database_url, autocommit=True) as watch,
        ):
            await other.execute(  # an uncommitted writer holding k-005
                "INSERT INTO usage_events (idempotency_key, mission_id, task_id, agent, model,"
                " input_tokens, output_tokens, cost_micro_usd, started_at, ended_at)"
                " VALUES ('k-005', 'm-1', 't-1', 'sim-fast', 'sim-small', 1, 1, 10, %s, %s)",
                (ENDED, ENDED),
            )

            async def ours() -> tuple[list[RecordedChunk], bool]:
                async with fresh_db.transaction() as conn:
                    return await write(conn, [batch(keys("k", 10))])

            task = asyncio.create_task(ours())
            # The fast path gives up after its lock timeout; the merge then waits for `other`.
            while not await _merge_is_waiting(watch) and not task.done():
                await asyncio.sleep(0.02)
            await other.commit()
            return await task

    chunks, fell_back = runner.run(scenario(), timeout=60)

    assert fell_back is True
    recorded = [key for chunk in chunks for key in chunk.idempotency_keys]
    assert recorded == [k for k in keys("k", 10) if k != "k-005"]
    assert stored(fresh_database_url) == (10, 10, 100)


def test_writers_crossing_each_others_keys_both_finish_and_store_each_key_once(
    runner, make_db, fresh_database_url
) -> None:
    first, second = make_db(fresh_database_url), make_db(fresh_database_url)

    async def one(db: Database, mine: list[str], theirs: list[str], ready: asyncio.Event,
                  go: asyncio.Event) -> tuple[int, bool]:  # fmt: skip
        async with db.transaction() as conn, UsageWriter(conn, segment_events=1) as writer:
            await writer.write(batch(mine))  # sent and inserted: the other will wait on it
            ready.set()
            await go.wait()
            await writer.write(batch(theirs))
            chunks = await writer.finish()
            return sum(len(c.idempotency_keys) for c in chunks), writer.fell_back

    async def scenario() -> list[tuple[int, bool]]:
        ready = [asyncio.Event(), asyncio.Event()]
        go = asyncio.Event()
        tasks = [
            asyncio.create_task(one(first, keys("a", 20), keys("b", 20), ready[0], go)),
            asyncio.create_task(one(second, keys("b", 20), keys("a", 20), ready[1], go)),
        ]
        await asyncio.gather(*(r.wait() for r in ready))
        go.set()
        return list(await asyncio.gather(*tasks))

    results = runner.run(scenario(), timeout=60)

    assert sum(recorded for recorded, _ in results) == 40
    assert any(fell_back for _, fell_back in results)
    assert stored(fresh_database_url) == (40, 40, 400)


def test_appended_events_keep_their_order(runner, fresh_db) -> None:
    async def scenario() -> list[int]:
        async with fresh_db.transaction() as conn:
            ids = await append_events(
                conn, topic="test.many", actor="test", payloads=[{"i": i} for i in range(5)]
            )
        async with fresh_db.transaction() as conn:
            events = await read_events_after(conn)
        assert [e.event_id for e in events] == ids
        return [e.payload["i"] for e in events]

    assert runner.run(scenario()) == [0, 1, 2, 3, 4]


async def _merge_is_waiting(watch: psycopg.AsyncConnection) -> bool:
    # Autocommit: a transaction would keep reading one snapshot of pg_stat_activity.
    cur = await watch.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND query LIKE 'WITH recorded AS%'"
    )
    row = await cur.fetchone()
    return row is not None and row[0] > 0
