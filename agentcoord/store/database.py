"""Connection pool and transactions over psycopg 3 (async).

Every component that touches PostgreSQL holds one `Database`; psycopg errors are translated to
`StoreError` here so callers see one error family.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from agentcoord.errors import StoreError

log = logging.getLogger(__name__)

Connection = psycopg.AsyncConnection[DictRow]
"""A pooled connection whose rows are dicts; every store query function takes one."""


class Database:
    """An open connection pool; use `transaction()` for every unit of work."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str, *, min_size: int = 1, max_size: int = 8) -> Database:
        """Open a pool to `url` and wait until one connection works."""
        pool = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            kwargs={"row_factory": dict_row, "autocommit": True},
            open=False,
        )
        try:
            await pool.open(wait=True, timeout=30)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc
        except Exception as exc:  # the pool raises its own PoolTimeout
            raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc
        return cls(pool)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A connection inside one transaction, committed on success, rolled back on error."""
        try:
            async with self._pool.connection() as conn, conn.transaction():
                yield cast(Connection, conn)  # the pool is opened with row_factory=dict_row
        except psycopg.Error as exc:
            raise StoreError(str(exc).strip()) from exc

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A connection outside any transaction: each statement commits by itself.

        For a read that is one statement (one round trip instead of three with BEGIN/COMMIT).
        """
        try:
            async with self._pool.connection() as conn:
                yield cast(Connection, conn)
        except psycopg.Error as exc:
            raise StoreError(str(exc).strip()) from exc

    async def close(self) -> None:
        await self._pool.close()
