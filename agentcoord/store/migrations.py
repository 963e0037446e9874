"""Schema migrations: numbered .sql files applied in order, each once, recorded in schema_version.

A file is applied when its version is missing from schema_version, not only when it is newer
than the newest applied, so a migration merged after a higher-numbered one still runs.

An advisory lock makes concurrent starters (several services booting at once) apply each file
exactly once.
"""

from __future__ import annotations

import logging
import re
from importlib import resources

import psycopg

from agentcoord.errors import StoreError

log = logging.getLogger(__name__)

_MIGRATION_LOCK = 0x61637631  # "acv1": any constant shared by every starter
_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def available_migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) for every bundled migration, in order."""
    folder = resources.files("agentcoord.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(url: str) -> int:
    """Apply pending migrations to the database at `url`; return the resulting schema version."""
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
            try:
                # Only create when missing: CREATE ... IF NOT EXISTS still needs CREATE on the schema,
                # which the application role (agentcoord_app) rightly lacks.
                exists = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
                if not (exists and exists[0]):
                    conn.execute(
                        "CREATE TABLE schema_version ("
                        " version integer PRIMARY KEY, name text NOT NULL,"
                        " applied_at timestamptz NOT NULL DEFAULT now())"
                    )
                applied = {row[0] for row in conn.execute("SELECT version FROM schema_version")}
                for version, name, sql in available_migrations():
                    if version in applied:
                        continue
                    with conn.transaction():
                        conn.execute(sql.encode())
                        conn.execute("INSERT INTO schema_version (version, name) VALUES (%s, %s)", (version, name))
                    log.info("applied migration %s", name)
                    applied.add(version)
                return max(applied, default=0)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
    except psycopg.Error as exc:
        raise StoreError(f"migration failed: {exc}") from exc
