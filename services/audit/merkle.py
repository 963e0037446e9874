"""The Merkle tree over audit entries (RFC 6962 / RFC 9162 section 2.1), with its proofs.

Leaves are the entries' entry_hash values in seq order. leaf = SHA-256(0x00 || entry_hash),
node = SHA-256(0x01 || left || right); the tree over n leaves splits at the largest power of
two below n; the empty tree's hash is SHA-256 of nothing. An inclusion proof shows an entry is
in the tree of a given size; a consistency proof shows the tree of an older size is a prefix of
a newer one, so a checkpoint can never be rolled back or rewritten without detection.

`MerkleTree` keeps every complete subtree's hash (one flat bytearray per level, 32 bytes a
node), grows one leaf at a time in amortised O(1) hashes (or many at a time, level by level,
with the hashing done in bulk), and answers roots and proofs for
any size up to its own from those stored nodes in O(log n) hashes. The verifiers are the
iterative algorithms of RFC 9162 2.1.3.2 and 2.1.4.2; tools/verify_audit_bundle.py holds an
independent copy of them.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of the tree with no leaves."""
_digest = operator.methodcaller("digest")


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one leaf (data is an entry_hash for the audit log)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an inner node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


class MerkleTree:
    """An append-only Merkle tree over leaf data; roots and proofs for every size up to `size`."""

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        # _levels[k] holds the hashes of the complete subtrees of 2**k leaves, left to right.
        self._levels: list[bytearray] = [bytearray()]
        self.extend(leaves)

    @property
    def size(self) -> int:
        """How many leaves the tree holds."""
        return len(self._levels[0]) // HASH_SIZE

    def append(self, data: bytes) -> None:
        """Add one leaf (its data, e.g. an entry_hash) at the right edge."""
        node = leaf_hash(data)
        level = 0
        while True:
            row = self._levels[level]
            row += node
            count = len(row) // HASH_SIZE
            if count % 2:
                return
            node = node_hash(bytes(row[-2 * HASH_SIZE : -HASH_SIZE]), node)
            level += 1
            if level == len(self._levels):
                self._levels.append(bytearray())

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append many leaves in order: the same tree as appending them one by one.

        Level by level: the new nodes of a level are appended to it, and every pair of nodes
        that became complete is hashed into the next level up, all in bulk.
        """
        nodes = b"".join(map(_digest, map(hashlib.sha256, map(b"\x00".__add__, leaves))))
        level = 0
        while nodes:
            row = self._levels[level]
            first_pair = len(row) // (2 * HASH_SIZE) * 2 * HASH_SIZE  # where the first incomplete pair starts
            row += nodes
            end = len(row) // (2 * HASH_SIZE) * 2 * HASH_SIZE
            if end == first_pair:
                return
            pairs = bytes(row[first_pair:end])
            step = 2 * HASH_SIZE
            nodes = b"".join(map(_digest, map(hashlib.sha256, map(b"\x01".__add__, map(
                pairs.__getitem__, map(slice, range(0, len(pairs), step), range(step, len(pairs) + 1, step))
            )))))
            level += 1
            if level == len(self._levels):
                self._levels.append(bytearray())

    def root(self, size: int | None = None) -> bytes:
        """The root of the tree of the first `size` leaves (default: all of them)."""
        size = self.size if size is None else size
        self._check_size(size)
        return self._subtree(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The audit path of leaf `index` (0-based) in the tree of `size` leaves, leaf to root."""
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is outside a tree of size {size}")
        proof: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                proof.append(self._subtree(start + k, end))
                end = start + k
            else:
                proof.append(self._subtree(start, start + k))
                start += k
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """The proof that the tree of `old_size` leaves is a prefix of the tree of `new_size`."""
        new_size = self.size if new_size is None else new_size
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise ValueError(f"old size {old_size} must be between 0 and the new size {new_size}")
        if old_size in (0, new_size):
            return []
        proof: list[bytes] = []
        start, end, whole = 0, new_size, True
        m = old_size
        while m != end - start:
            k = _split(end - start)
            if m <= k:
                proof.append(self._subtree(start + k, end))
                end = start + k
            else:
                proof.append(self._subtree(start, start + k))
                m -= k
                start += k
                whole = False
        if not whole:
            proof.append(self._subtree(start, end))
        proof.reverse()
        return proof

    def _subtree(self, start: int, end: int) -> bytes:
        """The hash of leaves [start, end), a subtree as RFC 6962 splits it (start aligned)."""
        width = end - start
        level = width.bit_length() - 1
        if width == 1 << level:
            offset = (start >> level) * HASH_SIZE
            return bytes(self._levels[level][offset : offset + HASH_SIZE])
        k = 1 << level
        return node_hash(self._subtree(start, start + k), self._subtree(start + k, end))

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} is outside 0..{self.size}")


def _split(n: int) -> int:
    """The largest power of two strictly less than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """The root an inclusion proof leads to for leaf hash `leaf`, or None if the proof is malformed."""
    if not 0 <= index < size or len(leaf) != HASH_SIZE or any(len(p) != HASH_SIZE for p in proof):
        return None
    fn, sn = index, size - 1
    result = leaf
    for sibling in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    return result if sn == 0 else None


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """True when `proof` shows leaf hash `leaf` at `index` in the tree of `size` with `root`."""
    return root_from_inclusion_proof(index, size, leaf, proof) == root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """True when `proof` shows the tree (old_size, old_root) is a prefix of (new_size, new_root)."""
    if not 0 <= old_size <= new_size or any(len(p) != HASH_SIZE for p in proof):
        return False
    if old_size == new_size:
        return old_root == new_root and not proof
    if old_size == 0:
        return not proof
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node itself
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
