"""Fixtures for audit tests: a fresh log with its own state directory, signing key and checkpointer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from agentcoord.services.audit.checkpoint import AuditFiles, load_or_create_signing_key
from agentcoord.services.audit.checkpointer import Checkpointer
from agentcoord.services.audit.log import AuditLog
from agentcoord.store import Database


@dataclass
class AuditEnv:
    """A fresh, migrated database with an AuditLog, plus the files outside it."""

    url: str
    db: Database
    files: AuditFiles
    log: AuditLog
    checkpointer: Checkpointer
    state_dir: Path

    async def fill(self, count: int, *, checkpoint_every: int = 0, prefix: str = "req") -> None:
        """Append `count` entries, signing a checkpoint after every `checkpoint_every` of them."""
        step = checkpoint_every or count
        for start in range(0, count, step):
            await self.log.append_many([
                (f"{prefix}-{i}", f"agent:a{i % 3}", f"act.{i % 2}", f"mission/m{i % 2}/task/t{i % 4}", {"i": i})
                for i in range(start, min(start + step, count))
            ])
            if checkpoint_every:
                await self.checkpointer.checkpoint()


Tamper = Callable[..., None]


@pytest.fixture
def tamper(fresh_database_url: str) -> Tamper:
    """tamper(sql, params=()): run SQL on the fresh database as the superuser with triggers off,
    the way an intruder would edit the tables behind the app's back."""

    def run(sql: str, params: tuple[object, ...] = ()) -> None:
        with psycopg.connect(fresh_database_url, autocommit=True) as conn:
            conn.execute("SET session_replication_role = replica")
            conn.execute(sql, params)

    return run


@pytest.fixture
def audit_env(runner, make_db: Callable[[str], Database], fresh_database_url: str, tmp_path: Path) -> AuditEnv:
    db = make_db(fresh_database_url)
    files = AuditFiles.under(tmp_path)
    key = load_or_create_signing_key(files.signing_key)
    return AuditEnv(
        url=fresh_database_url,
        db=db,
        files=files,
        log=AuditLog(db, public_key=key.public_key(), checkpoint_dir=files.checkpoint_dir),
        checkpointer=Checkpointer(db, key=key, checkpoint_dir=files.checkpoint_dir, every_entries=10**9),
        state_dir=tmp_path,
    )
