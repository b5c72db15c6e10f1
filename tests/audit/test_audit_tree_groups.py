"""The Merkle tree's groups of 16 leaves hashed by the shard workers that hold them whole.

With jobs >= 2 each shard worker hashes the levels 1-4 of every group of 16 entries of a chunk
it holds (its own and district entries), the parent merges the shards' parts and hashes only
the groups no shard held whole; the tree must come out exactly as if the parent had hashed every
group (its level digests are what the store check compares with the stored tree's).
"""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from electlog.audit._replay import CompactMerkleTree, group_levels
from electlog.audit._shards import ALL, _chunk_groups, _merge, _own_groups


def _leaf(i: int) -> bytes:
    return hashlib.sha256(i.to_bytes(4, "big")).digest()


def _shard_parts(ws: bytes, leaves: list[bytes], nshards: int) -> list[tuple[bytes, bytes]]:
    """Each shard's :func:`_own_groups` of a chunk routed as ``ws``."""
    return [
        _own_groups(
            shard, ws, b"".join([h for h, w in zip(leaves, ws, strict=True) if w in (shard, ALL)])
        )
        for shard in range(nshards)
    ]


_routing = st.integers(2, 4).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(
            st.one_of(
                st.integers(0, n - 1),  # scattered entries
                st.just(ALL),
                st.tuples(st.integers(0, n - 1), st.integers(1, 40)),  # a run of one community
                st.tuples(st.just(ALL), st.integers(1, 40)),
            ),
            max_size=40,
        ),
    )
)


def _expand(items: list[object]) -> bytes:
    out = bytearray()
    for item in items:
        if isinstance(item, tuple):
            out += bytes([item[0]]) * item[1]
        else:
            assert isinstance(item, int)
            out.append(item)
    return bytes(out)


@settings(max_examples=150, deadline=None)
@given(_routing)
def test_the_merged_groups_are_the_groups_hashed(routing: tuple[int, list[object]]) -> None:
    nshards, items = routing
    ws = _expand(items)
    leaves = [_leaf(i) for i in range(len(ws))]
    parts = _shard_parts(ws, leaves, nshards)
    hashes = b"".join(leaves)
    groups = _chunk_groups(hashes, _merge([p[0] for p in parts]), _merge([p[1] for p in parts]))
    whole = len(ws) // 16 * 16 * 32
    assert groups == group_levels(hashes[:whole])
    # the groups the shards held whole were hashed by them, not here
    for g in range(len(ws) // 16):
        held = {w for w in ws[16 * g : 16 * g + 16]} - {ALL}
        assert _merge([p[0] for p in parts])[g] == (1 if len(held) <= 1 else 0)


def test_parts_that_do_not_fit_the_chunk_are_not_used() -> None:
    hashes = b"".join(_leaf(i) for i in range(40))
    flags, nodes = _own_groups(0, bytes(40), hashes)
    assert _chunk_groups(hashes, flags, nodes) == group_levels(hashes[: 32 * 32])
    assert _chunk_groups(hashes, flags[:1], nodes) is None
    assert _chunk_groups(hashes, flags, nodes[:-32]) is None
    assert _chunk_groups(hashes + _leaf(99) * 16, flags, nodes) is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 70), max_size=8), st.booleans())
def test_a_tree_fed_groups_is_the_tree_hashed(chunks: list[int], wrong: bool) -> None:
    """Chunks of any size (groups are used only where the tree holds whole groups of 16; wrong
    groups, of the wrong length, are never used): the same level digests and roots."""
    plain, fed = CompactMerkleTree(), CompactMerkleTree()
    try:
        plain.keep_digests()
        fed.keep_digests()
        at = 0
        for size in chunks:
            hashes = b"".join(_leaf(i) for i in range(at, at + size))
            at += size
            plain.extend_joined(hashes)
            whole = size // 16 * 16 * 32
            groups = group_levels(hashes[:whole])
            if wrong:
                groups = [level + b"\x00" * 32 for level in groups]
            fed.extend_joined(hashes, groups)
        assert fed.level_digests() == plain.level_digests()
        for size in range(1, at + 1, 5):
            assert fed.root(size) == plain.root(size)
    finally:
        plain.close()
        fed.close()


def test_groups_of_another_alignment_are_not_used() -> None:
    """Groups of the leaves of a chunk that starts mid-group (the tree holds a partial group)
    would be the wrong nodes: they are computed here instead."""
    plain, fed = CompactMerkleTree(), CompactMerkleTree()
    try:
        first = b"".join(_leaf(i) for i in range(5))
        second = b"".join(_leaf(i) for i in range(5, 5 + 32))
        for tree in (plain, fed):
            tree.extend_joined(first)
        plain.extend_joined(second)
        fed.extend_joined(second, group_levels(second))  # misaligned by 5 leaves
        assert fed.root(37) == plain.root(37)
        assert fed.node(4, 1) == plain.node(4, 1)
    finally:
        plain.close()
        fed.close()
