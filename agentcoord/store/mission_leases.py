"""Mission leases: at most one process drives a mission at a time.

The supervisor moves a mission to a live host as soon as its call to the old host fails. On one
node that means the old process is gone; across nodes a call can also fail while the old host
still runs (a network fault between the two), and two runners would then race over the
mission's tasks, each closing the other's attempts as lost. So a drive holds a session-level
advisory lock on its mission, taken on a connection each host keeps for leases alone.
PostgreSQL drops the lock when that session ends: at once for a process that died (the kernel
closes its socket), and within about 11 s for a peer that went silent (the TCP keepalives set
below). A second driver waits until the first lets go, then resumes from the log.

If the lease session itself breaks (PostgreSQL restarted), its leases are gone while the host
keeps driving; the next `hold` reconnects. Until then another driver could start: the
compare-and-set on every task change still keeps each task to one accepted result.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg

from agentcoord.errors import StoreError

LOCK_POLL_S = 0.05
"""How often a waiting driver asks again for a lease another session holds."""
KEEPALIVE_SETTINGS = {"tcp_keepalives_idle": 5, "tcp_keepalives_interval": 2, "tcp_keepalives_count": 3}
"""The server's keepalives on the lease session (ignored over a Unix socket): a host whose
machine vanished loses its leases after 5 + 2 x 3 s instead of the system's two hours."""


def mission_lock_key(mission_id: str) -> int:
    """The advisory lock key of a mission: 64 bits of a hash, so two missions share one by chance
    about once in 10^19 pairs (a shared key would make one mission wait for the other)."""
    digest = hashlib.blake2b(f"agentcoord-mission:{mission_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class MissionLeases:
    """The leases of one process, on one connection of its own (reopened if it breaks)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._opening = asyncio.Lock()

    @asynccontextmanager
    async def hold(self, mission_id: str) -> AsyncIterator[None]:
        """Hold the mission's lease for the body, waiting while another session holds it."""
        key = mission_lock_key(mission_id)
        while (session := await self._try_lock(key)) is None:
            await asyncio.sleep(LOCK_POLL_S)
        try:
            yield
        finally:
            if not session.closed:  # a session that ended took the lease with it
                try:
                    await session.execute("SELECT pg_advisory_unlock(%s)", (key,))
                except psycopg.Error:
                    pass  # it ended just now

    async def connect(self) -> None:
        """Open the lease session now rather than at the first `hold`."""
        await self._connection()

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()

    async def _try_lock(self, key: int) -> psycopg.AsyncConnection[tuple[object, ...]] | None:
        """The session now holding the lease `key`, or None while another session holds it."""
        session = await self._connection()
        try:
            row = await (await session.execute("SELECT pg_try_advisory_lock(%s)", (key,))).fetchone()
        except psycopg.Error as exc:
            raise StoreError(f"mission lease: {str(exc).strip()}") from exc
        return session if row is not None and row[0] else None

    async def _connection(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        async with self._opening:
            if self._conn is None or self._conn.closed:
                try:
                    conn = await psycopg.AsyncConnection.connect(self._url, autocommit=True)
                    for name, value in KEEPALIVE_SETTINGS.items():
                        await conn.execute(f"SET {name} = {int(value)}")
                except psycopg.Error as exc:
                    raise StoreError(f"mission lease: cannot connect to PostgreSQL: {str(exc).strip()}") from exc
                self._conn = conn
            return self._conn
