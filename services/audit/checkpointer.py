"""The checkpointer: signs the audit log's tree head every N entries or T seconds.

It runs in the audit service's background consumer after each round of appends. A checkpoint
is stored in the database (audit_checkpoints, so GetCheckpoint can serve it) and written to the
external checkpoint directory, which is what verification trusts over the database. Several
replicas may checkpoint the same size; the first row wins and the others skip it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agentcoord.services.audit.checkpoint import (
    ORIGIN,
    Checkpoint,
    SignedCheckpoint,
    sign_checkpoint,
    write_checkpoint_file,
)
from agentcoord.services.audit.tree import LogTree
from agentcoord.store import Database
from agentcoord.store import audit as audit_store
from agentcoord.store.audit import StoredCheckpoint

log = logging.getLogger(__name__)

CHECKPOINT_EVERY_ENTRIES = 1000
"""Sign a checkpoint once this many entries were appended since the last one..."""
CHECKPOINT_EVERY_S = 60.0
"""...or once this many seconds passed since the last one and the log grew at all."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Checkpointer:
    """Signs and publishes checkpoints of the log in `db` with `key`."""

    def __init__(
        self,
        db: Database,
        *,
        key: Ed25519PrivateKey,
        checkpoint_dir: Path,
        origin: str = ORIGIN,
        every_entries: int = CHECKPOINT_EVERY_ENTRIES,
        every_s: float = CHECKPOINT_EVERY_S,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._db = db
        self._key = key
        self._dir = checkpoint_dir
        self._origin = origin
        self._every_entries = every_entries
        self._every_s = every_s
        self._clock = clock
        self._tree = LogTree(db)
        self._last: StoredCheckpoint | None = None
        self._loaded = False

    async def maybe_checkpoint(self) -> SignedCheckpoint | None:
        """Sign the current tree head when N entries or T seconds have passed; the new checkpoint or None."""
        tree = await self._tree.catch_up()
        last = await self._newest()
        last_size = last.tree_size if last else 0
        if tree.size <= last_size:
            return None
        elapsed_s = (self._clock() - last.signed_at).total_seconds() if last else float("inf")
        if tree.size - last_size < self._every_entries and elapsed_s < self._every_s:
            return None
        return await self.checkpoint()

    async def checkpoint(self) -> SignedCheckpoint | None:
        """Sign the current tree head now (None when the newest checkpoint already covers it)."""
        tree = await self._tree.catch_up()
        last = await self._newest()
        if tree.size == 0 or (last is not None and last.tree_size >= tree.size):
            return None
        signed = sign_checkpoint(Checkpoint(self._origin, tree.size, tree.root(), self._clock()), self._key)
        row = StoredCheckpoint(
            tree_size=tree.size, root_hash=tree.root(), signed_at=signed.checkpoint.signed_at, note=signed.note
        )
        async with self._db.transaction() as conn:
            inserted = await audit_store.insert_checkpoint(conn, row)
        if not inserted:  # another replica signed this size first
            self._loaded = False
            return None
        write_checkpoint_file(self._dir, signed)
        self._last = row
        log.info("audit checkpoint signed", extra={"tree_size": tree.size})
        return signed

    async def _newest(self) -> StoredCheckpoint | None:
        if not self._loaded:
            async with self._db.transaction() as conn:
                self._last = await audit_store.latest_checkpoint(conn)
            self._loaded = True
        return self._last
