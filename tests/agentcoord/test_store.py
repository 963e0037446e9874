"""The store: embedded server with pgvector, migrations applied once, outbox ordering."""

from __future__ import annotations

import psycopg
import pytest

from agentcoord.store import migrate, migrations
from agentcoord.store.events import append_event, load_offset, read_events_after, save_offset
from agentcoord.store.migrations import available_migrations


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
            events = await read_events_after(conn, 0)
            await save_offset(conn, "consumer-a", events[1].event_id)
        async with db.transaction() as conn:
            offset = await load_offset(conn, "consumer-a")
            rest = await read_events_after(conn, offset)
        return [e.payload["i"] for e in events] + [e.payload["i"] for e in rest], offset

    order, offset = runner.run(scenario())
    assert order == [0, 1, 2, 2]
    assert offset > 0


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
