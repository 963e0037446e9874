"""The RFC 6962 Merkle tree: published roots and proofs, the rejection matrix, and a naive reference.

The leaf inputs, roots and proofs are the Certificate Transparency test data also used by
transparency-dev/merkle (testonly/constants.go, proof/verify_test.go); their inclusion vectors
count leaves from 1, the tables below count from 0.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentcoord.services.audit.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

h = bytes.fromhex
LEAVES = [h(x) for x in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                          "606162636465666768696a6b6c6d6e6f")]
ROOTS = [h(x) for x in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
INCLUSION = [  # (index, size, proof)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [  # (old size, new size, proof)
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]
SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")


# A naive reference, written straight from the recursive definitions of RFC 6962 section 2.1.
def ref_root(data: list[bytes]) -> bytes:
    if not data:
        return hashlib.sha256(b"").digest()
    if len(data) == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = 1
    while k * 2 < len(data):
        k *= 2
    return hashlib.sha256(b"\x01" + ref_root(data[:k]) + ref_root(data[k:])).digest()


def ref_path(m: int, data: list[bytes]) -> list[bytes]:
    if len(data) <= 1:
        return []
    k = 1
    while k * 2 < len(data):
        k *= 2
    if m < k:
        return [*ref_path(m, data[:k]), ref_root(data[k:])]
    return [*ref_path(m - k, data[k:]), ref_root(data[:k])]


def ref_subproof(m: int, data: list[bytes], whole: bool) -> list[bytes]:
    if m == len(data):
        return [] if whole else [ref_root(data)]
    k = 1
    while k * 2 < len(data):
        k *= 2
    if m <= k:
        return [*ref_subproof(m, data[:k], whole), ref_root(data[k:])]
    return [*ref_subproof(m - k, data[k:], False), ref_root(data[:k])]


def flip(value: bytes, bit: int = 3) -> bytes:
    return bytes([value[0] ^ (1 << bit)]) + value[1:]


def test_published_roots_for_sizes_0_to_8() -> None:
    tree = MerkleTree(LEAVES)
    assert [tree.root(n) for n in range(9)] == ROOTS
    assert [MerkleTree(LEAVES[:n]).root() for n in range(9)] == ROOTS
    assert EMPTY_ROOT == ROOTS[0]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_published_inclusion_proofs_are_generated_and_verified(index: int, size: int, proof: list[str]) -> None:
    tree = MerkleTree(LEAVES)
    expected = [h(p) for p in proof]
    assert tree.inclusion_proof(index, size) == expected
    assert verify_inclusion(index, size, leaf_hash(LEAVES[index]), expected, ROOTS[size])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_published_consistency_proofs_are_generated_and_verified(old: int, new: int, proof: list[str]) -> None:
    tree = MerkleTree(LEAVES)
    expected = [h(p) for p in proof]
    assert tree.consistency_proof(old, new) == expected
    assert verify_consistency(old, new, ROOTS[old], ROOTS[new], expected)


def inclusion_corruptions(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> dict[str, tuple]:
    cases: dict[str, tuple] = {
        "index - 1": (index - 1, size, leaf, proof, root),
        "index + 1": (index + 1, size, leaf, proof, root),
        "index ^ 2": (index ^ 2, size, leaf, proof, root),
        "size * 2": (index, size * 2, leaf, proof, root),
        "size // 2": (index, size // 2, leaf, proof, root),
        "wrong leaf": (index, size, leaf_hash(b"WrongLeaf"), proof, root),
        "empty root": (index, size, leaf, proof, EMPTY_ROOT),
        "random root": (index, size, leaf, proof, SOME_HASH),
        "trailing garbage": (index, size, leaf, [*proof, b""], root),
        "trailing root": (index, size, leaf, [*proof, root], root),
        "preceding garbage": (index, size, leaf, [b"", *proof], root),
        "preceding root": (index, size, leaf, [root, *proof], root),
    }
    for i in range(len(proof)):
        for bit in (0, 3, 7):
            cases[f"proof[{i}] bit {bit} flipped"] = (index, size, leaf, [*proof[:i], flip(proof[i], bit),
                                                                          *proof[i + 1:]], root)
    if proof:
        cases["last element removed"] = (index, size, leaf, proof[:-1], root)
        cases["first element removed"] = (index, size, leaf, proof[1:], root)
    if len(proof) > 1:
        cases["element inserted"] = (index, size, leaf, [proof[0], SOME_HASH, *proof[1:]], root)
    return cases


def consistency_corruptions(old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]) -> dict[str, tuple]:
    cases: dict[str, tuple] = {
        "old - 1": (old - 1, new, old_root, new_root, proof),
        "old + 1": (old + 1, new, old_root, new_root, proof),
        "old ^ 2": (old ^ 2, new, old_root, new_root, proof),
        "new * 2": (old, new * 2, old_root, new_root, proof),
        "new // 2": (old, new // 2, old_root, new_root, proof),
        "wrong old root": (old, new, SOME_HASH, new_root, proof),
        "wrong new root": (old, new, old_root, SOME_HASH, proof),
        "swapped roots": (old, new, new_root, old_root, proof),
        "empty proof": (old, new, old_root, new_root, []),
        "trailing garbage": (old, new, old_root, new_root, [*proof, b""]),
        "trailing old root": (old, new, old_root, new_root, [*proof, old_root]),
        "trailing new root": (old, new, old_root, new_root, [*proof, new_root]),
        "preceding garbage": (old, new, old_root, new_root, [b"", *proof]),
        "preceding old root": (old, new, old_root, new_root, [old_root, *proof]),
        "preceding new root": (old, new, old_root, new_root, [new_root, *proof]),
        "preceding proof[0]": (old, new, old_root, new_root, [proof[0], *proof]),
        "last element removed": (old, new, old_root, new_root, proof[:-1]),
        "element inserted": (old, new, old_root, new_root, [proof[0], SOME_HASH, *proof[1:]]),
    }
    for i in range(len(proof)):
        for bit in (0, 4, 7):
            cases[f"proof[{i}] bit {bit} flipped"] = (old, new, old_root, new_root,
                                                       [*proof[:i], flip(proof[i], bit), *proof[i + 1:]])
    return cases


def accepted(verify: Callable[..., bool], cases: dict[str, tuple]) -> list[str]:
    return [name for name, args in cases.items() if verify(*args)]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_every_corruption_of_a_valid_inclusion_proof_is_rejected(index: int, size: int, proof: list[str]) -> None:
    good = [h(p) for p in proof]
    leaf = leaf_hash(LEAVES[index])
    assert verify_inclusion(index, size, leaf, good, ROOTS[size])
    assert accepted(verify_inclusion, inclusion_corruptions(index, size, leaf, good, ROOTS[size])) == []


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_every_corruption_of_a_valid_consistency_proof_is_rejected(old: int, new: int, proof: list[str]) -> None:
    good = [h(p) for p in proof]
    assert verify_consistency(old, new, ROOTS[old], ROOTS[new], good)
    assert accepted(verify_consistency, consistency_corruptions(old, new, ROOTS[old], ROOTS[new], good)) == []


def test_one_leaf_tree_root_is_the_leaf_hash_and_its_proof_is_empty() -> None:
    tree = MerkleTree([b"data"])
    leaf = leaf_hash(b"data")
    assert tree.root() == leaf
    assert tree.inclusion_proof(0) == []
    assert verify_inclusion(0, 1, leaf, [], leaf)
    assert root_from_inclusion_proof(0, 1, leaf, []) == leaf
    assert not verify_inclusion(0, 1, leaf, [], b"")  # wrong root size
    assert not verify_inclusion(0, 1, b"", [], leaf)  # wrong leaf size
    assert not verify_inclusion(1, 1, leaf, [], leaf)  # index outside the tree
    assert not verify_inclusion(0, 0, leaf, [], leaf)  # no leaf in an empty tree
    assert not verify_inclusion(0, 1, leaf, [leaf], leaf)  # a one-leaf proof has no siblings
    assert not verify_inclusion(0, 2, leaf, [], leaf)


def test_trivial_consistency_cases() -> None:
    a, b = ROOTS[1], ROOTS[2]
    assert verify_consistency(0, 0, a, a, [])
    assert verify_consistency(0, 5, a, b, [])  # the empty tree is a prefix of every tree
    assert verify_consistency(3, 3, b, b, [])
    assert not verify_consistency(3, 3, a, b, [])  # same size, different roots
    assert not verify_consistency(3, 3, a, a, [EMPTY_ROOT])  # same size needs an empty proof
    assert not verify_consistency(0, 1, a, b, [EMPTY_ROOT])
    assert not verify_consistency(2, 1, a, b, [])  # time travel
    assert not verify_consistency(1, 2, a, b, [])  # a growing tree needs a proof


def test_sizes_outside_the_tree_are_refused() -> None:
    tree = MerkleTree(LEAVES[:3])
    with pytest.raises(ValueError):
        tree.root(4)
    with pytest.raises(ValueError):
        tree.inclusion_proof(3, 3)
    with pytest.raises(ValueError):
        tree.consistency_proof(4, 3)


def test_node_and_leaf_prefixes_keep_a_leaf_from_passing_as_a_node() -> None:
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(a, b) != leaf_hash(a + b)
    assert MerkleTree([b"a", b"b"]).root() == node_hash(a, b)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(max_size=4), max_size=128), st.data())
def test_roots_and_proofs_match_the_naive_reference(data: list[bytes], draw: st.DataObject) -> None:
    tree = MerkleTree(data)
    n = len(data)
    assert tree.root() == ref_root(data)
    size = draw.draw(st.integers(0, n), label="size")
    assert tree.root(size) == ref_root(data[:size])
    if size:
        index = draw.draw(st.integers(0, size - 1), label="index")
        proof = tree.inclusion_proof(index, size)
        assert proof == ref_path(index, data[:size])
        assert verify_inclusion(index, size, leaf_hash(data[index]), proof, ref_root(data[:size]))
    old = draw.draw(st.integers(0, size), label="old")
    proof = tree.consistency_proof(old, size)
    assert proof == (ref_subproof(old, data[:size], True) if old else [])
    assert verify_consistency(old, size, ref_root(data[:old]), ref_root(data[:size]), proof)


def test_every_size_up_to_128_matches_the_reference() -> None:
    data = [i.to_bytes(2, "big") for i in range(128)]
    tree = MerkleTree()
    for n in range(1, 129):
        tree.append(data[n - 1])
        assert tree.root() == ref_root(data[:n])
    for size in (1, 2, 3, 5, 7, 8, 13, 64, 100, 127, 128):
        roots = [ref_root(data[:m]) for m in range(size + 1)]
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert proof == ref_path(index, data[:size])
            assert verify_inclusion(index, size, leaf_hash(data[index]), proof, roots[size])
        for old in range(1, size + 1):
            proof = tree.consistency_proof(old, size)
            assert proof == ref_subproof(old, data[:size], True)
            assert verify_consistency(old, size, roots[old], roots[size], proof)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), max_size=300), st.lists(st.integers(0, 70), max_size=20))
def test_extending_in_chunks_builds_the_tree_leaf_by_leaf_appends_build(data: list[bytes], cuts: list[int]) -> None:
    one_by_one = MerkleTree()
    for leaf in data:
        one_by_one.append(leaf)
    chunked = MerkleTree()
    start = 0
    for width in [*cuts, len(data)]:
        chunked.extend(data[start : start + width])
        start += width
    assert chunked.size == one_by_one.size == len(data)
    for size in range(len(data) + 1):
        assert chunked.root(size) == one_by_one.root(size) == ref_root(data[:size])
