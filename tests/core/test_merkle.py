"""Tests of electlog.merkle: RFC 6962 hashing, proof generation, RFC 9162 verification."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from electlog.errors import (
    ConsistencyProofError,
    InclusionProofError,
    ProofError,
    UsageError,
)
from electlog.merkle import (
    EMPTY_ROOT,
    InclusionProver,
    MerkleTree,
    consistency_proof_at,
    inclusion_proof_at,
    leaf_hash,
    new_nodes,
    new_nodes_batch,
    node_hash,
    root,
    root_at,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)

HERE = Path(__file__).resolve().parents[1]  # tests/
VECTORS = HERE / "vectors" / "transparency-dev-merkle" / "testdata"
FORMAT_MD = HERE.parent / "docs" / "format.md"

# --------------------------------------------------------------------------- reference data

# The RFC 6962 reference leaves used by certificate-transparency and transparency-dev/merkle
# (proof/verify_test.go), and the well-known roots of their first 1..8 leaves.
REFERENCE_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
REFERENCE_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (0-based leaf index, tree size, proof) from transparency-dev/merkle proof/verify_test.go.
REFERENCE_INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
REFERENCE_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

REFERENCE_LEAF_HASHES = [leaf_hash(d) for d in REFERENCE_LEAVES]


def H(hex_string: str) -> bytes:
    return bytes.fromhex(hex_string)


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def distinct_leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def flip(h: bytes, bit: int = 0) -> bytes:
    b = bytearray(h)
    b[bit // 8 % len(b)] ^= 1 << (bit % 8)
    return bytes(b)


# A literal, recursive transcription of RFC 6962 §2.1 (MTH, PATH, PROOF) over a list of leaf
# hashes: the independent oracle for the node-based implementation.
def ref_mth(d: Sequence[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return sha(b"")
    if n == 1:
        return d[0]
    k = 1 << ((n - 1).bit_length() - 1)
    return sha(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


# --------------------------------------------------------------------------- hashing


def test_leaf_and_node_hash_are_rfc6962() -> None:
    assert leaf_hash(b"") == H("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    assert leaf_hash(b"abc") == sha(b"\x00abc")
    left, right = sha(b"l"), sha(b"r")
    assert node_hash(left, right) == sha(b"\x01" + left + right)
    assert node_hash(left, right) != node_hash(right, left)
    assert H("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == EMPTY_ROOT


@pytest.mark.parametrize("bad", [b"", b"x" * 31, b"x" * 33, "x" * 32, None])
def test_node_hash_rejects_non_hashes(bad: Any) -> None:
    with pytest.raises(UsageError):
        node_hash(bad, sha(b"r"))
    with pytest.raises(UsageError):
        node_hash(sha(b"l"), bad)


def test_leaf_hash_rejects_non_bytes() -> None:
    with pytest.raises(UsageError, match="bytes"):
        leaf_hash("text")  # type: ignore[arg-type]


@pytest.mark.parametrize("size", range(1, 9))
def test_reference_roots(size: int) -> None:
    assert root(REFERENCE_LEAF_HASHES[:size]).hex() == REFERENCE_ROOTS[size - 1]
    assert MerkleTree(REFERENCE_LEAF_HASHES).root(size).hex() == REFERENCE_ROOTS[size - 1]


def test_root_of_empty_and_single() -> None:
    assert root([]) == EMPTY_ROOT
    assert MerkleTree().root() == EMPTY_ROOT
    h = sha(b"only")
    assert root([h]) == h


@pytest.mark.parametrize("bad", [[b"short"], [sha(b"a"), "x" * 32], sha(b"a"), "abc"])
def test_root_rejects_bad_leaf_hashes(bad: Any) -> None:
    with pytest.raises(UsageError):
        root(bad)


@pytest.mark.parametrize(("index", "size", "proof"), REFERENCE_INCLUSION)
def test_reference_inclusion_proofs(index: int, size: int, proof: list[str]) -> None:
    tree = MerkleTree(REFERENCE_LEAF_HASHES)
    assert [p.hex() for p in tree.inclusion_proof(index, size)] == proof
    verify_inclusion(
        REFERENCE_LEAF_HASHES[index],
        index,
        size,
        [H(p) for p in proof],
        H(REFERENCE_ROOTS[size - 1]),
    )


@pytest.mark.parametrize(("size1", "size2", "proof"), REFERENCE_CONSISTENCY)
def test_reference_consistency_proofs(size1: int, size2: int, proof: list[str]) -> None:
    tree = MerkleTree(REFERENCE_LEAF_HASHES)
    assert [p.hex() for p in tree.consistency_proof(size1, size2)] == proof
    verify_consistency(
        size1,
        size2,
        [H(p) for p in proof],
        H(REFERENCE_ROOTS[size1 - 1]),
        H(REFERENCE_ROOTS[size2 - 1]),
    )


# --------------------------------------------------------------------------- vendored vectors

# Every vendored vector is held to its own wantErr (none is exempt).
DEVIATIONS: dict[str, str] = {}


def _vector_paths(kind: str) -> list[Path]:
    return sorted((VECTORS / kind).rglob("*.json"))


def _b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def test_all_vectors_are_present() -> None:
    inclusion, consistency = _vector_paths("inclusion"), _vector_paths("consistency")
    assert len(inclusion) + len(consistency) == 196
    assert len(inclusion) > 90
    assert len(consistency) > 90
    assert set(DEVIATIONS) <= {str(p.relative_to(VECTORS)) for p in consistency}


def _check_vector(path: Path, run: Callable[[dict[str, Any]], None]) -> None:
    case = json.loads(path.read_text())
    rel = str(path.relative_to(VECTORS))
    want_err = case["wantErr"] if rel not in DEVIATIONS else not case["wantErr"]
    if want_err:
        with pytest.raises(ProofError) as info:
            run(case)
        assert str(info.value)  # every failure says what failed
    else:
        run(case)


@pytest.mark.parametrize(
    "path", _vector_paths("inclusion"), ids=lambda p: str(p.relative_to(VECTORS / "inclusion"))
)
def test_inclusion_vector(path: Path) -> None:
    def run(case: dict[str, Any]) -> None:
        verify_inclusion(
            _b64(case["leafHash"]),
            case["leafIdx"],
            case["treeSize"],
            [_b64(p) for p in case["proof"] or []],
            _b64(case["root"]),
        )

    _check_vector(path, run)


@pytest.mark.parametrize(
    "path", _vector_paths("consistency"), ids=lambda p: str(p.relative_to(VECTORS / "consistency"))
)
def test_consistency_vector(path: Path) -> None:
    def run(case: dict[str, Any]) -> None:
        verify_consistency(
            case["size1"],
            case["size2"],
            [_b64(p) for p in case["proof"] or []],
            _b64(case["root1"]),
            _b64(case["root2"]),
        )

    _check_vector(path, run)


def test_equal_sizes_compare_roots_as_given() -> None:
    """The vector with 12-byte placeholder roots passes; unequal or non-bytes roots fail."""
    path = "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"
    case = json.loads((VECTORS / path).read_text())
    assert case["wantErr"] is False
    root = _b64(case["root1"])
    assert len(root) == 12
    verify_consistency(case["size1"], case["size2"], [], root, root)
    with pytest.raises(ConsistencyProofError, match=r"root1 .* != root2"):
        verify_consistency(case["size1"], case["size2"], [], root, root[:-1])
    with pytest.raises(ConsistencyProofError, match="must be bytes"):
        verify_consistency(1, 1, [], "x" * 32, "x" * 32)  # type: ignore[arg-type]
    # once anything is hashed, roots must be 32 bytes
    with pytest.raises(ConsistencyProofError, match="root1 is 12 bytes"):
        verify_consistency(1, 2, [sha(b"a")], root, sha(b"b"))


# --------------------------------------------------------------------------- edge rules


GOOD_TREE = MerkleTree(distinct_leaves(11))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"index": True}, "leaf index must be an int"),
        ({"index": -1}, "leaf index -1 is out of range"),
        ({"index": 11}, "leaf index 11 is not below tree size 11"),
        ({"index": 3.0}, "leaf index must be an int"),
        ({"size": 0, "index": 0}, "empty tree"),
        ({"size": False}, "tree size must be an int"),
        ({"size": 2**64}, "out of range"),
        ({"leaf": sha(b"x")[:31]}, "leaf hash is 31 bytes, expected 32"),
        ({"leaf": "x" * 32}, "leaf hash must be bytes"),
        ({"root": b""}, "root is 0 bytes, expected 32"),
        ({"proof": None}, "proof must be a sequence"),
        ({"proof": b"x" * 32}, "proof must be a sequence"),
        ({"drop": True}, "proof has 3 hashes, expected 4"),
        ({"extra": True}, "proof has 5 hashes, expected 4"),
        ({"short_element": True}, r"proof\[2\] is 33 bytes, expected 32"),
        ({"root": sha(b"other")}, "calculated root [0-9a-f]{64} != expected root [0-9a-f]{64}"),
    ],
)
def test_verify_inclusion_edge_rules(kwargs: dict[str, Any], message: str) -> None:
    index, size = kwargs.get("index", 3), kwargs.get("size", 11)
    proof: Any = GOOD_TREE.inclusion_proof(3)
    assert len(proof) == 4
    if kwargs.get("drop"):
        proof = proof[:-1]
    if kwargs.get("extra"):
        proof = [*proof, sha(b"extra")]
    if kwargs.get("short_element"):
        proof[2] += b"\x00"
    proof = kwargs.get("proof", proof)
    leaf = kwargs.get("leaf", GOOD_TREE.node(0, 3))
    expected_root = kwargs.get("root", GOOD_TREE.root())
    with pytest.raises(InclusionProofError, match=message):
        verify_inclusion(leaf, index, size, proof, expected_root)


def test_verify_inclusion_accepts_tuples_and_bytearrays() -> None:
    proof = GOOD_TREE.inclusion_proof(3)
    verify_inclusion(
        bytearray(GOOD_TREE.node(0, 3)), 3, 11, tuple(map(bytearray, proof)), GOOD_TREE.root()
    )


@pytest.mark.parametrize(
    "case",
    [
        (0, 0, [], EMPTY_ROOT, EMPTY_ROOT, "from the empty tree"),
        (0, 5, [], EMPTY_ROOT, GOOD_TREE.root(5), "from the empty tree"),
        (6, 5, [], GOOD_TREE.root(6), GOOD_TREE.root(5), "size1 6 is larger than size2 5"),
        (True, 5, [], GOOD_TREE.root(1), GOOD_TREE.root(5), "size1 must be an int"),
        (1, -5, [], GOOD_TREE.root(1), GOOD_TREE.root(5), "size2 -5 is out of range"),
        (5, 5, [sha(b"x")], GOOD_TREE.root(5), GOOD_TREE.root(5), "expected 0 for equal sizes"),
        (5, 5, [], GOOD_TREE.root(5), GOOD_TREE.root(6), "equal sizes 5 but root1 .* != root2"),
        (5, 6, [], GOOD_TREE.root(5)[:16], GOOD_TREE.root(6), "root1 is 16 bytes"),
        (
            3,
            7,
            [],
            GOOD_TREE.root(3),
            GOOD_TREE.root(7),
            "proof has 0 hashes, expected 4 from size 3 to size 7",
        ),
        (
            3,
            7,
            GOOD_TREE.consistency_proof(3, 7),
            GOOD_TREE.root(3),
            GOOD_TREE.root(8),
            "calculated root2 [0-9a-f]{64} != expected root2",
        ),
        (
            3,
            7,
            GOOD_TREE.consistency_proof(3, 7),
            GOOD_TREE.root(4),
            GOOD_TREE.root(7),
            "calculated root1 [0-9a-f]{64} != expected root1",
        ),
    ],
    ids=lambda case: str(case[-1]),
)
def test_verify_consistency_edge_rules(
    case: tuple[Any, Any, list[bytes], bytes, bytes, str],
) -> None:
    size1, size2, proof, root1, root2, message = case
    with pytest.raises(ConsistencyProofError, match=message):
        verify_consistency(size1, size2, proof, root1, root2)


def test_equal_sizes_with_empty_proof_verify() -> None:
    verify_consistency(7, 7, [], GOOD_TREE.root(7), GOOD_TREE.root(7))
    assert GOOD_TREE.consistency_proof(7, 7) == []


# --------------------------------------------------------------------------- MerkleTree


def test_tree_append_returns_index_and_len() -> None:
    tree = MerkleTree()
    leaves = distinct_leaves(5)
    assert [tree.append(h) for h in leaves] == [0, 1, 2, 3, 4]
    assert len(tree) == 5
    tree.extend(distinct_leaves(9)[5:])
    assert len(tree) == 9
    assert tree.root() == ref_mth(distinct_leaves(9))
    assert tree.node(3, 0) == ref_mth(distinct_leaves(8))
    assert repr(tree) == "MerkleTree(size=9)"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: t.append(b"short"), "leaf hash is 5 bytes"),
        (lambda t: t.append("x" * 32), "leaf hash must be bytes"),
        (lambda t: t.extend([sha(b"a"), b"bad"]), "leaf hash 6 is 3 bytes"),
        (lambda t: t.extend(sha(b"a")), "not one value"),
        (lambda t: t.extend(5), "iterable of 32-byte leaf hashes, got int"),
        (lambda t: t.root(6), "size 6 is larger than the tree"),
        (lambda t: t.root(-1), "size -1 is out of range"),
        (lambda t: t.root(True), "size must be an int"),
        (lambda t: t.inclusion_proof(5), "leaf index 5 is not in a tree of size 5"),
        (lambda t: t.inclusion_proof(2, 2), "leaf index 2 is not in a tree of size 2"),
        (lambda t: t.inclusion_proof(0, 6), "size 6 is larger than the tree"),
        (lambda t: t.inclusion_proof(-1), "index -1"),
        (lambda t: t.inclusion_proof("0"), "index must be an int"),
        (lambda t: t.consistency_proof(0), "empty tree"),
        (lambda t: t.consistency_proof(4, 3), "size1 4 is larger than size2 3"),
        (lambda t: t.consistency_proof(2, 6), "size2 6 is larger than the tree"),
        (lambda t: t.node(1, 2), r"node \(level 1, index 2\) is not complete"),
        (lambda t: t.node(3, 0), r"node \(level 3, index 0\) is not complete"),
    ],
)
def test_tree_usage_errors(call: Callable[[MerkleTree], object], message: str) -> None:
    tree = MerkleTree(distinct_leaves(5))
    with pytest.raises(UsageError, match=message):
        call(tree)
    assert len(tree) == 5  # a rejected extend adds nothing
    assert tree.root() == ref_mth(distinct_leaves(5))


def test_tree_matches_rfc6962_reference_exhaustively_for_small_sizes() -> None:
    leaves = distinct_leaves(33)
    tree = MerkleTree()
    for n in range(1, 34):
        tree.append(leaves[n - 1])
        d = leaves[:n]
        assert tree.root() == ref_mth(d)
        for m in range(1, n + 1):
            assert tree.root(m) == ref_mth(leaves[:m])
            assert tree.inclusion_proof(m - 1, n) == ref_path(m - 1, d)
            assert tree.consistency_proof(m, n) == ref_subproof(m, d, True)
    for index in range(33):
        assert tree.inclusion_proof(index) == ref_path(index, leaves)


def test_proofs_at_the_current_size_match_the_reference_as_the_tree_grows() -> None:
    """Proofs without a size (the tree's own fast path, which memoises right-edge subtree
    hashes until the next append) equal the RFC 6962 reference at every size and index, asked
    in an order that reuses and then invalidates the memo."""
    leaves = distinct_leaves(70)
    tree = MerkleTree()
    for n in range(1, 71):
        tree.append(leaves[n - 1])
        d = leaves[:n]
        for index in (*range(n - 1, -1, -1), n - 1, 0):
            assert tree.inclusion_proof(index) == ref_path(index, d)
        if n % 7 == 0:
            tree.extend([])  # extending by nothing keeps the size, and the proofs
            assert tree.inclusion_proof(n - 1) == ref_path(n - 1, d)


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 5000), extra=st.integers(0, 40), data=st.data())
def test_current_size_proofs_equal_inclusion_proof_at(size: int, extra: int, data: Any) -> None:
    tree = MerkleTree(distinct_leaves(size))
    for grow in (0, extra):
        tree.extend(distinct_leaves(size + grow)[len(tree) :])
        n = len(tree)
        for index in {0, n - 1, data.draw(st.integers(0, n - 1))}:
            expected = inclusion_proof_at(tree.node, index, n)
            assert tree.inclusion_proof(index) == expected
            assert tree.inclusion_proof(index, n) == expected


# --------------------------------------------------------------------------- node helpers


class CountingReader:
    """A node reader over a MerkleTree that only answers nodes complete at ``size`` and counts
    reads, so a helper that peeks at nodes from the future or reads too much is caught."""

    def __init__(self, tree: MerkleTree, size: int) -> None:
        self.tree, self.size, self.reads = tree, size, 0

    def __call__(self, level: int, index: int) -> bytes:
        self.reads += 1
        assert (index + 1) << level <= self.size, f"node ({level}, {index}) not complete"
        return self.tree.node(level, index)


def test_helpers_read_only_complete_nodes_and_o_log_n() -> None:
    n = 5000
    tree = MerkleTree(distinct_leaves(n))
    for size in [1, 2, 3, 1023, 1024, 1025, 2047, 3000, 4097, 4999]:
        bound = 2 * size.bit_length() + 2
        reader = CountingReader(tree, size)
        assert root_at(reader, size) == tree.root(size)
        assert reader.reads <= size.bit_length()
        for index in {0, size // 3, size - 1}:
            reader = CountingReader(tree, size)
            proof = inclusion_proof_at(reader, index, size)
            assert reader.reads <= bound
            verify_inclusion(tree.node(0, index), index, size, proof, tree.root(size))
        for size1 in {1, size // 2 or 1, size}:
            reader = CountingReader(tree, size)
            proof = consistency_proof_at(reader, size1, size)
            assert reader.reads <= bound
            verify_consistency(size1, size, proof, tree.root(size1), tree.root(size))


def test_subtree_hash_checks_range() -> None:
    tree = MerkleTree(distinct_leaves(16))
    assert subtree_hash(tree.node, 8, 13) == ref_mth(distinct_leaves(16)[8:13])
    with pytest.raises(UsageError, match="not aligned"):
        subtree_hash(tree.node, 2, 7)
    with pytest.raises(UsageError, match="empty"):
        subtree_hash(tree.node, 4, 4)
    with pytest.raises(UsageError, match="start must be an int"):
        subtree_hash(tree.node, None, 4)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        root_at(tree.node, -1)


def test_new_nodes_lists_completed_subtrees() -> None:
    tree = MerkleTree(distinct_leaves(7))
    new_leaf = leaf_hash(b"eighth")
    reader = CountingReader(tree, 7)
    nodes = new_nodes(reader, 7, new_leaf)
    leaves = [*distinct_leaves(7), new_leaf]
    assert nodes == [
        (0, 7, new_leaf),
        (1, 3, ref_mth(leaves[6:8])),
        (2, 1, ref_mth(leaves[4:8])),
        (3, 0, ref_mth(leaves)),
    ]
    assert reader.reads == 3
    assert new_nodes(CountingReader(tree, 7), 8, new_leaf) == [(0, 8, new_leaf)]
    with pytest.raises(UsageError, match="leaf index -1"):
        new_nodes(tree.node, -1, new_leaf)
    with pytest.raises(UsageError, match="start index must be an int"):
        new_nodes_batch(tree.node, "7", [new_leaf])  # type: ignore[arg-type]
    assert new_nodes_batch(tree.node, 7, []) == []


@settings(max_examples=60, deadline=None)
@given(start=st.integers(0, 600), count=st.integers(0, 300))
def test_new_nodes_batch_equals_repeated_new_nodes(start: int, count: int) -> None:
    leaves = distinct_leaves(start + count)
    base = MerkleTree(leaves[:start])
    batch_reader = CountingReader(base, start)
    batch = new_nodes_batch(batch_reader, start, leaves[start:])

    one_by_one = MerkleTree(leaves[:start])
    expected: list[tuple[int, int, bytes]] = []
    for i in range(start, start + count):
        nodes = new_nodes(one_by_one.node, i, leaves[i])
        expected.extend(nodes)
        one_by_one.append(leaves[i])
    assert sorted(batch) == sorted(expected)
    assert batch == sorted(batch, key=lambda node: (node[0], node[1]))
    # Only pre-existing left neighbours are read, at most one per level.
    assert batch_reader.reads <= (start + count).bit_length()
    grown = MerkleTree(leaves[:start])
    grown.extend(leaves[start:])
    assert grown.root() == one_by_one.root() == ref_mth(leaves)


# --------------------------------------------------------------------------- properties


def _assert_inclusion_fails(
    leaf: bytes, index: int, size: int, proof: list[bytes], r: bytes
) -> None:
    with pytest.raises(InclusionProofError):
        verify_inclusion(leaf, index, size, proof, r)


def _assert_consistency_fails(
    size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes
) -> None:
    with pytest.raises(ConsistencyProofError):
        verify_consistency(size1, size2, proof, root1, root2)


@settings(max_examples=100, deadline=None)
@given(
    sizes=st.integers(1, 300).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))),
    bit=st.integers(0, 255),
)
@example(sizes=(300, 300), bit=0)
@example(sizes=(1, 300), bit=7)
@example(sizes=(129, 257), bit=255)
@example(sizes=(63, 64), bit=100)
def test_generated_proofs_verify_and_mutations_fail(sizes: tuple[int, int], bit: int) -> None:
    m, n = sizes
    leaves = distinct_leaves(2 * n + 2)  # room to ask for proof shapes at larger sizes
    tree = MerkleTree(leaves)
    root_m, root_n = tree.root(m), tree.root(n)
    assert root(leaves[:m]) == root_m
    assert root(leaves[:n]) == root_n

    for index in range(m):
        proof = tree.inclusion_proof(index, m)
        leaf = leaves[index]
        verify_inclusion(leaf, index, m, proof, root_m)
        _assert_inclusion_fails(leaf, index, m, proof, flip(root_m, bit))
        _assert_inclusion_fails(flip(leaf, bit), index, m, proof, root_m)
        _assert_inclusion_fails(leaf, index, m, [*proof, root_m], root_m)
        _assert_inclusion_fails(leaf, index, m, [root_m, *proof], root_m)
        for i in range(len(proof)):
            flipped = list(proof)
            flipped[i] = flip(proof[i], bit)
            _assert_inclusion_fails(leaf, index, m, flipped, root_m)
            _assert_inclusion_fails(leaf, index, m, proof[:i] + proof[i + 1 :], root_m)
        for other in {index - 1, index + 1, index ^ 1, index ^ 2, m, -1}:
            if other != index:
                _assert_inclusion_fails(leaf, other, m, proof, root_m)
        # A size that changes the proof's shape must fail (one that keeps it cannot be caught
        # by any RFC 6962 verifier, see test_size_change_with_same_proof_shape_is_inherent).
        for other_size in {m - 1, m + 1, 2 * m, m // 2, index, index + 1, 0}:
            if other_size != m and (
                other_size <= index or len(tree.inclusion_proof(index, other_size)) != len(proof)
            ):
                _assert_inclusion_fails(leaf, index, other_size, proof, root_m)

    proof = tree.consistency_proof(m, n)
    verify_consistency(m, n, proof, root_m, root_n)
    _assert_consistency_fails(m, n, proof, flip(root_m, bit), root_n)
    _assert_consistency_fails(m, n, proof, root_m, flip(root_n, bit))
    _assert_consistency_fails(m, n, [*proof, root_n], root_m, root_n)
    _assert_consistency_fails(m, n, [root_m, *proof], root_m, root_n)
    if m != n:
        _assert_consistency_fails(m, n, proof, root_n, root_m)
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = flip(proof[i], bit)
        _assert_consistency_fails(m, n, flipped, root_m, root_n)
        _assert_consistency_fails(m, n, proof[:i] + proof[i + 1 :], root_m, root_n)
    for size1, size2 in {(m - 1, n), (m + 1, n), (m, n + 1), (m, n - 1), (m, 2 * n), (m ^ 2, n)}:
        if (size1, size2) == (m, n):
            continue
        valid = 1 <= size1 <= size2
        if not valid or len(tree.consistency_proof(size1, size2)) != len(proof):
            _assert_consistency_fails(size1, size2, proof, root_m, root_n)


def test_size_change_with_same_proof_shape_is_inherent() -> None:
    """RFC 6962 proofs do not commit to the tree size beyond their shape: the proof of leaf 0
    in a tree of 3 also verifies leaf 0 against the same root at size 4. This pins that the
    property test above only mutates sizes that change the proof shape for a reason."""
    tree = MerkleTree(distinct_leaves(4))
    proof = tree.inclusion_proof(0, 3)
    verify_inclusion(tree.node(0, 0), 0, 4, proof, tree.root(3))


# --------------------------------------------------------------------------- docs vectors


def _merkle_section() -> str:
    text = FORMAT_MD.read_text(encoding="utf-8")
    start = text.index("<!-- section:merkle")
    end = text.index("<!-- /section:merkle -->", start)
    return text[start:end]


def _doc_tables() -> list[tuple[str, dict[str, int], list[list[str]]]]:
    """Every ``<!-- vectors:NAME k=v ... -->`` marker in the merkle section with the rows of the
    markdown table that follows it (header and separator dropped)."""
    section = _merkle_section()
    tables = []
    for marker in re.finditer(r"<!-- vectors:(\S+)((?: \w+=\d+)*) -->\n", section):
        params = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", marker.group(2))}
        lines = section[marker.end() :].split("\n")
        rows = []
        for line in lines[2:]:
            if not line.startswith("|"):
                break
            rows.append([cell.strip().strip("`") for cell in line.strip("|").split("|")])
        assert lines[0].startswith("|") and set(lines[1]) <= set("|-: "), marker.group(0)
        tables.append((marker.group(1), params, rows))
    return tables


def test_docs_golden_vectors() -> None:
    tables = _doc_tables()
    kinds = [name for name, _, _ in tables]
    assert kinds.count("merkle-leaves") == 1
    assert kinds.count("merkle-roots") == 1
    assert kinds.count("merkle-inclusion") >= 1
    assert kinds.count("merkle-consistency") >= 1
    leaf_hashes: list[bytes] = []
    roots: dict[int, bytes] = {}
    checked = 0
    for name, params, rows in tables:
        if name == "merkle-leaves":
            for i, (index, data, hashed) in enumerate(rows):
                assert int(index) == i
                assert leaf_hash(bytes.fromhex(data)) == H(hashed)
                leaf_hashes.append(H(hashed))
                checked += 1
            tree = MerkleTree(leaf_hashes)
        elif name == "merkle-roots":
            for size, hexroot in rows:
                assert root(leaf_hashes[: int(size)]) == H(hexroot)
                roots[int(size)] = H(hexroot)
                checked += 1
        elif name == "merkle-inclusion":
            index, size = params["index"], params["size"]
            proof = [H(h) for i, (pos, h) in enumerate(rows) if int(pos) == i]
            assert len(proof) == len(rows)
            assert tree.inclusion_proof(index, size) == proof
            verify_inclusion(leaf_hashes[index], index, size, proof, roots[size])
            checked += 1
        elif name == "merkle-consistency":
            size1, size2 = params["size1"], params["size2"]
            proof = [H(h) for i, (pos, h) in enumerate(rows) if int(pos) == i]
            assert len(proof) == len(rows)
            assert tree.consistency_proof(size1, size2) == proof
            verify_consistency(size1, size2, proof, roots[size1], roots[size2])
            checked += 1
        else:
            pytest.fail(f"unknown vector table {name}")
    assert len(leaf_hashes) == 8 and roots[0] == EMPTY_ROOT and len(roots) == 9
    assert checked >= 19


# --------------------------------------------------------------------------- memoised proofs


@pytest.mark.parametrize("height", [1, 2, 3, 5])
def test_inclusion_prover_equals_inclusion_proof_at(height: int) -> None:
    tree = MerkleTree(leaf_hash(bytes([i])) for i in range(70))
    calls: list[tuple[int, int]] = []

    def lower(index: int, h: int) -> list[bytes]:
        calls.append((index, h))
        return [tree.node(level, (index >> level) ^ 1) for level in range(h)]

    for reader in (None, lower):
        prove = InclusionProver(tree.node, reader, height=height, max_cached=7)
        for _ in range(2):  # the second pass is served from the memo (and its evictions)
            for size in range(1, 71):
                for index in range(size):
                    want = inclusion_proof_at(tree.node, index, size)
                    assert prove(index, size) == want, (index, size)
    # the bulk reader is used exactly where the leaf's aligned 2**height subtree is complete
    assert calls and all(((i >> height) + 1) << height <= 70 for i, _ in calls)
    assert {h for _, h in calls} == {height}


def test_inclusion_prover_never_serves_a_path_for_another_size() -> None:
    tree = MerkleTree(leaf_hash(bytes([i])) for i in range(40))
    prove = InclusionProver(tree.node, height=2)
    assert prove(1, 8) == tree.inclusion_proof(1, 8)
    assert prove(1, 12) == tree.inclusion_proof(1, 12) != tree.inclusion_proof(1, 8)
    assert prove(1, 8) == tree.inclusion_proof(1, 8)


@pytest.mark.parametrize(
    ("index", "size"), [(-1, 4), (4, 4), (0, 0), ("1", 4), (1, "4"), (True, 4), (1.0, 4)]
)
def test_inclusion_prover_rejects_bad_arguments(index: Any, size: Any) -> None:
    tree = MerkleTree(leaf_hash(bytes([i])) for i in range(8))
    with pytest.raises(UsageError):
        InclusionProver(tree.node, height=1)(index, size)


@pytest.mark.parametrize("kwargs", [{"height": 0}, {"height": 33}, {"max_cached": 0}])
def test_inclusion_prover_rejects_bad_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        InclusionProver(MerkleTree().node, **kwargs)
