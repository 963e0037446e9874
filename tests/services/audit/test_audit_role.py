"""The application role: it may append to and read the audit tables, never change them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from agentcoord.errors import StoreError
from agentcoord.services.audit.log import AuditLog
from agentcoord.services.audit.verify import verify_log


@pytest.fixture
def app_url(fresh_database_url: str) -> Iterator[str]:
    """A login role that is a member of agentcoord_app (as docs/audit-format.md tells operators)."""
    name = f"t_app_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD 'pw' IN ROLE agentcoord_app")
    params = conninfo_to_dict(fresh_database_url)
    params.update(user=name, password="pw")
    yield make_conninfo(**params)
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        conn.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{name}'")
        conn.execute(f"DROP ROLE {name}")


def test_the_app_role_appends_but_cannot_update_delete_or_truncate(runner, make_db, app_url: str) -> None:
    db = make_db(app_url)
    log = AuditLog(db)
    runner.run(log.append("req-1", actor="user:ana", action="a", subject="system", payload={"n": 1}))

    async def attempt(sql: str) -> None:
        async with db.transaction() as conn:
            await conn.execute(sql)

    for table, column in (("audit_log", "actor"), ("audit_checkpoints", "note")):
        for sql in (f"UPDATE {table} SET {column} = 'x'", f"DELETE FROM {table}", f"TRUNCATE {table}"):
            # Refused by privileges before the append-only trigger is even reached.
            with pytest.raises(StoreError, match=f"permission denied for table {table}"):
                runner.run(attempt(sql))
    with pytest.raises(StoreError, match="permission denied to set parameter"):
        runner.run(attempt("SET session_replication_role = replica"))  # no way around the triggers either

    async def privileges() -> list[tuple[str, bool]]:
        async with db.transaction() as conn:
            cur = await conn.execute(
                "SELECT p, has_table_privilege('audit_log', p) AS ok FROM unnest(ARRAY["
                "'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p"
            )
            return [(row["p"], row["ok"]) for row in await cur.fetchall()]

    assert runner.run(privileges()) == [
        ("SELECT", True), ("INSERT", True), ("UPDATE", False), ("DELETE", False), ("TRUNCATE", False)
    ]
    assert runner.run(verify_log(db)).intact


def test_the_app_role_still_works_the_other_tables(runner, make_db, app_url: str) -> None:
    db = make_db(app_url)

    async def touch() -> int:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO consumer_offsets (consumer, last_event_id) VALUES ('t', 1)")
            await conn.execute("UPDATE consumer_offsets SET last_event_id = 2 WHERE consumer = 't'")
            cur = await conn.execute("DELETE FROM consumer_offsets WHERE consumer = 't'")
            return cur.rowcount

    assert runner.run(touch()) == 1

