"""The audit appender: every bus event becomes exactly one audit entry, woken by NOTIFY."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

from agentcoord.services.audit.appender import CONSUMER, append_pending_events, consume_events
from agentcoord.services.audit.chain import format_recorded_at
from agentcoord.services.audit.log import AuditLog
from agentcoord.store import Database
from agentcoord.store.audit import AuditEntry
from agentcoord.store.events import START, append_event, load_offset, read_events_after, save_offset


async def _write_events(db: Database, count: int, *, start: int = 0) -> None:
    async with db.transaction() as conn:
        for i in range(start, start + count):
            await append_event(conn, topic="task.updated", actor="supervisor", payload={"i": i},
                               mission_id="m1", task_id=f"t{i}")


async def _entries(db: Database) -> list[AuditEntry]:
    return await AuditLog(db).list_entries(page_size=1000)


async def _eventually(check: Callable[[], Awaitable[bool]], *, deadline_s: float = 10.0) -> bool:
    """Poll `check` until it holds or the deadline passes."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if await check():
            return True
        await asyncio.sleep(0.02)
    return False


def test_events_become_entries_with_subject_actor_and_payload(runner, make_db, fresh_database_url: str) -> None:
    db = make_db(fresh_database_url)

    async def scenario() -> tuple[int, list[AuditEntry], list, int]:
        async with db.transaction() as conn:
            await append_event(conn, topic="mission.created", actor="user:ana", payload={"name": "x"}, mission_id="m1")
            await append_event(conn, topic="task.started", actor="supervisor", payload={"token": "abc"},
                               mission_id="m1", task_id="t1")
            await append_event(conn, topic="agents.reloaded", actor="system", payload={"count": 3})
        async with db.transaction() as conn:
            events = await read_events_after(conn)
        appended = await append_pending_events(db)
        async with db.transaction() as conn:
            offset = await load_offset(conn, CONSUMER)
        return appended, await _entries(db), events, offset

    appended, entries, events, offset = runner.run(scenario())
    assert appended == 3
    assert offset == events[-1].position
    assert [(e.event_id, e.actor, e.action, e.subject) for e in entries] == [
        (f"event:{events[0].event_id}", "user:ana", "mission.created", "mission/m1"),
        (f"event:{events[1].event_id}", "supervisor", "task.started", "mission/m1/task/t1"),
        (f"event:{events[2].event_id}", "system", "agents.reloaded", "system"),
    ]
    assert json.loads(entries[1].payload) == {
        "token": "[REDACTED]", "event_created_at": format_recorded_at(events[1].created_at)
    }


def test_each_event_is_audited_once_across_repeated_and_concurrent_runs(
    runner, make_db, fresh_database_url: str
) -> None:
    db = make_db(fresh_database_url)

    async def scenario() -> tuple[list[int], int, list[AuditEntry], object]:
        await _write_events(db, 30)
        first = await asyncio.gather(*(append_pending_events(db, batch=4) for _ in range(4)))
        await _write_events(db, 10, start=30)
        second = await asyncio.gather(*(append_pending_events(db, batch=3) for _ in range(3)))
        async with db.transaction() as conn:  # a lost offset replays the whole bus
            await save_offset(conn, CONSUMER, START)
        again = await append_pending_events(db)
        return [*first, *second], again, await _entries(db), await AuditLog(db).verify()

    counts, again, entries, report = runner.run(scenario())
    assert sum(counts) == 40
    assert again == 0
    assert len({e.event_id for e in entries}) == len(entries) == 40
    assert [json.loads(e.payload)["i"] for e in entries] == list(range(40))
    assert report.intact and report.entries_checked == 40


def test_an_event_payload_canonical_json_cannot_hold_is_still_audited(runner, make_db, fresh_database_url: str) -> None:
    db = make_db(fresh_database_url)

    async def scenario() -> list[AuditEntry]:
        async with db.transaction() as conn:
            await append_event(conn, topic="agent.finished", actor="agent:sim", payload={"duration_s": 1.5,
                                                                                         "password": "pw"})
        await _write_events(db, 1)
        await append_pending_events(db)
        return await _entries(db)

    flagged, after = runner.run(scenario())
    payload = json.loads(flagged.payload)
    assert "duration_s" in payload["payload_error"]
    assert json.loads(payload["payload_text"]) == {"duration_s": 1.5, "password": "[REDACTED]"}
    assert after.action == "task.updated"  # the bus kept moving


def test_notify_wakes_the_consumer_without_waiting_for_a_poll(runner, make_db, fresh_database_url: str) -> None:
    db = make_db(fresh_database_url)

    async def scenario() -> tuple[bool, bool]:
        stop = asyncio.Event()
        task = asyncio.create_task(consume_events(db, listen_url=fresh_database_url, stop=stop, poll_interval_s=300))

        async def offset_exists() -> bool:  # the first pass is done, so the listener is up
            async with db.transaction() as conn:
                cur = await conn.execute("SELECT 1 FROM consumer_offsets WHERE consumer = %s", (CONSUMER,))
                return await cur.fetchone() is not None

        started = await _eventually(offset_exists)
        await _write_events(db, 2)

        async def two_entries() -> bool:
            return len(await _entries(db)) == 2

        woke = await _eventually(two_entries, deadline_s=20)
        stop.set()
        await asyncio.wait_for(task, timeout=10)
        return started, woke

    assert runner.run(scenario()) == (True, True)


def test_without_a_listen_url_the_consumer_polls(runner, make_db, fresh_database_url: str) -> None:
    db = make_db(fresh_database_url)

    async def scenario() -> bool:
        stop = asyncio.Event()
        task = asyncio.create_task(consume_events(db, listen_url=None, stop=stop, poll_interval_s=0.05))
        await _write_events(db, 3)

        async def three_entries() -> bool:
            return len(await _entries(db)) == 3

        done = await _eventually(three_entries)
        stop.set()
        await asyncio.wait_for(task, timeout=10)
        return done

    assert runner.run(scenario())
