"""The store: embedded server with pgvector, migrations applied once, outbox ordering."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.rows import dict_row

from agentcoord.errors import ConflictError
from agentcoord.missions import parse_mission
from agentcoord.states import TaskState
from agentcoord.store import migrate, migrations
from agentcoord.store import missions as store
from agentcoord.store.events import START, append_event, load_offset, read_events_after, save_offset
from agentcoord.store.migrations import available_migrations
from agentcoord.store.missions import mission_events
from agentcoord.store.task_changes import Applied, TaskChange, Transition, apply_task_changes


def test_migrations_are_applied_once_and_pgvector_is_there(fresh_database_url: str) -> None:
    latest = available_migrations()[-1][0]
    assert migrate(fresh_database_url) == latest  # second run: nothing new, same version
    with psycopg.connect(fresh_database_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]
        assert versions == [v for v, _, _ in available_migrations()]
        assert conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone() is not None
        assert conn.execute("SELECT '[1,2,3]'::vector <=> '[1,2,4]'::vector").fetchone()[0] > 0


def test_events_are_read_in_order_and_offsets_persist(runner, make_db, fresh_database_url: str) -> None:
    db = make_db(fresh_database_url)

    async def scenario() -> tuple[list[int], int]:
        async with db.transaction() as conn:
            for i in range(3):
                await append_event(conn, topic="test.event", actor="test", payload={"i": i}, mission_id="m1")
        async with db.transaction() as conn:
            events = await read_events_after(conn)
            await save_offset(conn, "consumer-a", events[1].position)
        async with db.transaction() as conn:
            offset = await load_offset(conn, "consumer-a")
            rest = await read_events_after(conn, offset)
        return [e.payload["i"] for e in events] + [e.payload["i"] for e in rest], offset

    order, offset = runner.run(scenario())
    assert order == [0, 1, 2, 2]
    assert offset > START


def test_an_event_that_commits_late_is_read_after_the_offset_not_skipped(
    runner, make_db, fresh_database_url: str
) -> None:
    """Writers take no lock: an event with a smaller id that commits later is still delivered, once."""
    db = make_db(fresh_database_url)

    async def scenario() -> tuple[list[str], list[str], list[str], list[str]]:
        slow = await psycopg.AsyncConnection.connect(fresh_database_url, row_factory=dict_row)
        try:
            # The slow writer gets the smaller event id (and transaction id), then stays open.
            await append_event(slow, topic="late", actor="test", payload={}, mission_id="m1")
            async with db.transaction() as conn:
                await append_event(conn, topic="early", actor="test", payload={}, mission_id="m1")
            async with db.transaction() as conn:
                while_open = await read_events_after(conn)
                mission_while_open = await mission_events(conn, "m1")
                await save_offset(conn, "consumer-a", while_open[-1].position if while_open else START)
            await slow.commit()
        finally:
            await slow.close()
        async with db.transaction() as conn:
            after = await read_events_after(conn, await load_offset(conn, "consumer-a"))
            log = await mission_events(conn, "m1")
        return ([e.topic for e in while_open], [e.topic for e in mission_while_open], [e.topic for e in after],
                [e.topic for e in log])

    while_open, mission_while_open, after, log = runner.run(scenario())
    assert while_open == mission_while_open == []  # "early" is held back until "late" is decided
    assert after == log == ["late", "early"]  # one order for every reader, nothing skipped


def test_a_lower_numbered_migration_merged_late_is_still_applied(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundled = migrations.available_migrations()
    late = (2, "0002_late_arrival.sql", "CREATE TABLE late_arrival (x integer)")
    assert all(version != 2 for version, _, _ in bundled)
    monkeypatch.setattr(migrations, "available_migrations", lambda: sorted([*bundled, late]))
    migrate(fresh_database_url)
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("SELECT to_regclass('late_arrival')").fetchone()[0] == "late_arrival"
        assert conn.execute("SELECT name FROM schema_version WHERE version = 2").fetchone()[0] == "0002_late_arrival.sql"


def test_a_task_transition_is_a_compare_and_set_that_writes_its_event_only_when_it_happens(
    runner, make_db, fresh_database_url: str
) -> None:
    db = make_db(fresh_database_url)
    spec = parse_mission({"name": "cas", "goal": "g", "tasks": [{"id": "a", "description": "x"}]})

    async def scenario() -> list[tuple[str, dict]]:
        async with db.transaction() as conn:
            await store.insert_mission(conn, mission_id="m-cas", request_id=None, spec=spec, actor="test")
            await store.set_task_state(conn, mission_id="m-cas", task_id="a", current=TaskState.PENDING,
                                       target=TaskState.ROUTED, agent="sim-fast", actor="test")
            applied = await apply_task_changes(conn, [TaskChange(
                "m-cas", "a", TaskState.ROUTED, (Transition(TaskState.RUNNING),), actor="test", starts="at-1",
                agent="sim-fast")])
            assert applied.applied == [Applied(attempts=1)]
        with pytest.raises(ConflictError, match="task m-cas/a is no longer routed"):
            async with db.transaction() as conn:  # it is running now: a stale writer loses
                await store.set_task_state(conn, mission_id="m-cas", task_id="a", current=TaskState.ROUTED,
                                           target=TaskState.FAILED, actor="test")
        async with db.transaction() as conn:
            return [(e.topic, e.payload) for e in await mission_events(conn, "m-cas") if e.topic == "task.state"]

    events = runner.run(scenario())
    assert [(p["from"], p["to"]) for _, p in events] == [("pending", "routed"), ("routed", "running")]
    assert events[0][1]["agent"] == "sim-fast" and events[1][1] == {
        "from": "routed", "to": "running", "reason": "", "attempt_id": "at-1", "attempt": 1}
