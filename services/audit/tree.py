"""The Merkle tree of the stored audit log, kept in step with the table.

Proofs and checkpoints need the tree over entries 1..n. Rebuilding it per request would read
the whole table each time; `LogTree` instead reads only the entry hashes appended since it last
looked, in batches, and answers roots and proofs for any size it has seen. It trusts what it
has already read: `agentcoord audit verify` is what rebuilds the tree from scratch.
"""

from __future__ import annotations

import asyncio

from agentcoord.errors import ConflictError, InvalidInputError
from agentcoord.services.audit.merkle import MerkleTree
from agentcoord.store import Database
from agentcoord.store import audit as audit_store

_READ_BATCH = 10_000


class LogTree:
    """A MerkleTree over the entry hashes of the log in `db`, grown on demand."""

    def __init__(self, db: Database, *, batch: int = _READ_BATCH) -> None:
        self._db = db
        self._batch = batch
        self._tree = MerkleTree()
        self._lock = asyncio.Lock()

    async def catch_up(self, *, at_least: int = 0) -> MerkleTree:
        """Read entries appended since the last call and return the tree.

        InvalidInputError when the log holds fewer than `at_least` entries; ConflictError when
        the stored seqs have a gap, which only tampering can make.
        """
        async with self._lock:
            while True:
                async with self._db.transaction() as conn:
                    rows = await audit_store.read_entry_hashes(conn, after_seq=self._tree.size, limit=self._batch)
                for seq, entry_hash in rows:
                    if seq != self._tree.size + 1:
                        raise ConflictError(
                            f"the audit log has no entry at seq {self._tree.size + 1}; run `agentcoord audit verify`"
                        )
                    self._tree.append(entry_hash)
                if len(rows) < self._batch:
                    break
            if self._tree.size < at_least:
                raise InvalidInputError(
                    f"the audit log holds {self._tree.size} entries, fewer than {at_least}", field="tree_size"
                )
            return self._tree
