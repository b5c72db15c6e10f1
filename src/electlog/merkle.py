"""RFC 6962 Merkle tree hashing, proofs, and RFC 9162 proof verification.

Hashing (RFC 6962 §2.1): a leaf hash is ``SHA-256(0x00 || data)``, an interior node is
``SHA-256(0x01 || left || right)``, and the hash of the empty tree is ``SHA-256()``. Proofs are
lists of 32-byte hashes; leaf indexes are 0-based.

Verification (:func:`verify_inclusion`, :func:`verify_consistency`) is the literal algorithm of
RFC 9162 §2.1.3.2 / §2.1.4.2, preceded by strict edge rules: every hash is exactly 32 bytes, the
proof has exactly the number of hashes the sizes call for, ``0 <= index < size``, a consistency
proof starts from a non-empty tree (``1 <= size1 <= size2``), and equal sizes need an empty proof
and equal roots. Both raise a :class:`~electlog.errors.ProofError` subclass saying what failed and
return ``None`` on success.

Proof generation works over any storage of *complete subtree* hashes. A :data:`NodeReader`
``get_node(level, index)`` returns the hash of the complete subtree covering the leaves
``[index * 2**level, (index + 1) * 2**level)`` (level 0 holds the leaf hashes). Such a node never
changes once complete, so stores keep them forever and :func:`root_at`,
:func:`inclusion_proof_at` and :func:`consistency_proof_at` answer for *any* past tree size with
O(log n) node reads. :func:`new_nodes` / :func:`new_nodes_batch` list the nodes an append
completes. :class:`MerkleTree` is the in-memory tree built on these same functions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from itertools import count, repeat
from typing import Final, TypeAlias

from .errors import ConsistencyProofError, InclusionProofError, ProofError, UsageError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MAX_TREE_SIZE",
    "InclusionProver",
    "MerkleTree",
    "NodeReader",
    "PathReader",
    "consistency_proof_at",
    "inclusion_proof_at",
    "leaf_hash",
    "new_nodes",
    "new_nodes_batch",
    "node_hash",
    "root",
    "root_at",
    "subtree_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE: Final = 32
"""Size in bytes of every hash: leaf hashes, node hashes, roots and proof elements."""

MAX_TREE_SIZE: Final = 2**63 - 1
"""Largest tree size and leaf index accepted: every size and index of a log is in
[0, 2**63 - 1] (docs/format.md §3.2), the range of a checkpoint's size."""

EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
"""The root of the empty tree, ``SHA-256()`` (RFC 6962 §2.1)."""

NodeReader: TypeAlias = Callable[[int, int], bytes]
"""``get_node(level, index)``: the hash of the complete subtree over leaves
``[index * 2**level, (index + 1) * 2**level)``; level 0 is the leaf hashes."""

PathReader: TypeAlias = Callable[[int, int], list[bytes]]
"""``lower_path(index, height)``: the first ``height`` hashes of leaf ``index``'s audit path, i.e.
the siblings ``get_node(level, (index >> level) ^ 1)`` for ``level < height``, read in bulk. Only
called when the aligned ``2**height``-leaf subtree holding ``index`` is complete."""

_sha256 = hashlib.sha256
_LEAF_PREFIX: Final = b"\x00"
_NODE_PREFIX: Final = b"\x01"


# --------------------------------------------------------------------------- hashing


def leaf_hash(data: bytes) -> bytes:
    """The RFC 6962 leaf hash ``SHA-256(0x00 || data)``."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise UsageError(f"leaf data must be bytes, got {type(data).__name__}")
    return _sha256(_LEAF_PREFIX + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The RFC 6962 interior node hash ``SHA-256(0x01 || left || right)``.

    Both children must be 32-byte hashes.
    """
    _require_hash(left, "left child", UsageError)
    _require_hash(right, "right child", UsageError)
    return _sha256(_NODE_PREFIX + bytes(left) + bytes(right)).digest()


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The RFC 6962 Merkle Tree Hash (MTH) over the given leaf hashes.

    The empty sequence gives :data:`EMPTY_ROOT` (``SHA-256()``); one leaf gives that leaf hash.
    Every element must be a 32-byte hash (:class:`~electlog.errors.UsageError` otherwise).
    """
    if isinstance(leaf_hashes, bytes | bytearray | str):
        raise UsageError("root() takes a sequence of 32-byte leaf hashes, not a single value")
    return MerkleTree(leaf_hashes).root()


# --------------------------------------------------------------------------- nodes


def new_nodes(get_node: NodeReader, index: int, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
    """The nodes ``(level, index, hash)`` that become complete when leaf ``index`` is appended
    to a tree of size ``index``, starting with ``(0, index, leaf_hash)`` and going up.

    Reads only nodes that were already complete (the left siblings on the way up), one per new
    interior node.
    """
    if type(index) is not int or index < 0:
        _require_size(index, "leaf index", UsageError)
    nodes = [(0, index, leaf_hash)]
    h = leaf_hash
    level = 0
    i = index
    while i & 1:
        h = _sha256(_NODE_PREFIX + get_node(level, i - 1) + h).digest()
        i >>= 1
        level += 1
        nodes.append((level, i, h))
    return nodes


def new_nodes_batch(
    get_node: NodeReader, start_index: int, leaf_hashes: Sequence[bytes]
) -> list[tuple[int, int, bytes]]:
    """All nodes ``(level, index, hash)`` completed by appending ``leaf_hashes`` as leaves
    ``start_index, start_index + 1, ...`` to a tree of size ``start_index``.

    The result holds the same nodes as calling :func:`new_nodes` for each leaf in turn, ordered
    by level and then index. Each needed pre-existing node (at most one per level) is read once.
    """
    _require_size(start_index, "start index", UsageError)
    out: list[tuple[int, int, bytes]] = []
    for level, (start, hashes) in enumerate(_new_levels(get_node, start_index, leaf_hashes)):
        out.extend(zip(repeat(level), count(start), hashes, strict=False))
    return out


def _new_levels(
    get_node: NodeReader, start_index: int, leaf_hashes: Sequence[bytes]
) -> list[tuple[int, list[bytes]]]:
    """The core of :func:`new_nodes_batch`: per level, the index of the first new node and the
    new node hashes in index order (element 0 is level 0, the leaves themselves)."""
    cur = leaf_hashes if isinstance(leaf_hashes, list) else list(leaf_hashes)
    if not cur:
        return []
    out = [(start_index, cur)]
    first = start_index
    level = 0
    sha = _sha256
    prefix = _NODE_PREFIX
    while True:
        if first & 1:
            cur = [get_node(level, first - 1), *cur]
            first -= 1
        if len(cur) < 2:
            break
        cur = [sha(prefix + a + b).digest() for a, b in zip(cur[0::2], cur[1::2], strict=False)]
        first >>= 1
        level += 1
        out.append((first, cur))
    return out


def subtree_hash(get_node: NodeReader, start: int, end: int) -> bytes:
    """The Merkle Tree Hash of leaves ``[start, end)`` as a tree of its own, computed from
    complete subtrees (at most ``log2(end - start) + 1`` node reads).

    ``start`` must be a multiple of the largest power of two not above ``end - start`` (true of
    every subtree that appears in RFC 6962 proofs); ``start < end``.
    """
    _require_int(start, "start", UsageError)
    _require_int(end, "end", UsageError)
    n = end - start
    if start < 0 or n <= 0:
        raise UsageError(f"subtree range [{start}, {end}) is empty or negative")
    top = n.bit_length() - 1
    if start & ((1 << top) - 1):
        raise UsageError(
            f"subtree range [{start}, {end}) is not aligned: start must be a multiple of {1 << top}"
        )
    if n == 1 << top:
        return get_node(top, start >> top)
    hashes: list[bytes] = []
    pos = start
    rem = n
    while rem:
        level = rem.bit_length() - 1
        hashes.append(get_node(level, pos >> level))
        pos += 1 << level
        rem -= 1 << level
    h = hashes.pop()
    while hashes:
        h = _sha256(_NODE_PREFIX + hashes.pop() + h).digest()
    return h


def root_at(get_node: NodeReader, size: int) -> bytes:
    """The Merkle Tree Hash of the first ``size`` leaves (:data:`EMPTY_ROOT` for size 0), from
    at most ``log2(size) + 1`` node reads."""
    _require_size(size, "size", UsageError)
    if size == 0:
        return EMPTY_ROOT
    return subtree_hash(get_node, 0, size)


def inclusion_proof_at(get_node: NodeReader, index: int, size: int) -> list[bytes]:
    """The RFC 6962 audit path ``PATH(index, D[0:size])`` (leaf sibling first, root side last),
    from O(log size) node reads.

    Walked bottom-up: at level ``L`` the sibling of the node holding ``index`` covers leaves
    ``[j * 2**L, (j + 1) * 2**L)`` with ``j = (index >> L) ^ 1``; it is read as one complete node
    when it lies inside the tree, hashed from complete nodes when it is the tree's right edge,
    and skipped when it starts beyond ``size`` (RFC 6962 promotes the lone node).
    """
    if type(size) is not int or type(index) is not int:
        _require_size(size, "size", UsageError)
        _require_int(index, "index", UsageError)
    if not 0 <= index < size:
        raise UsageError(f"leaf index {index} is not in a tree of size {size}")
    path: list[bytes] = []
    append = path.append
    level = 0
    i = index
    last = size - 1
    while last:  # while the tree above this level has more than one node
        j = i ^ 1
        lo = j << level
        if lo < size:
            if (j + 1) << level <= size:
                append(get_node(level, j))
            else:
                append(_edge_hash(get_node, lo, size))
        i >>= 1
        last >>= 1
        level += 1
    return path


class InclusionProver:
    """Inclusion proofs over a :data:`NodeReader` that memoise the upper part of each path.

    Split leaf ``index``'s audit path in a tree of ``size`` leaves at level ``h``: when the
    aligned ``2**h``-leaf subtree holding ``index`` is complete, the first ``h`` hashes are its
    siblings inside that subtree (complete nodes), and the rest depends only on ``index >> h``
    and ``size`` (nodes never change once complete, so neither does it). That rest is memoised
    (bounded) for ``h = height``, and built on a miss from the same memo one step higher up
    (``h + step``), so a miss costs ``step`` node reads; the first ``height`` hashes are read per
    proof, through ``lower_path`` when the storage offers a bulk read. Results equal
    :func:`inclusion_proof_at`'s.
    """

    __slots__ = ("_get_node", "_height", "_lower", "_max", "_step", "_upper")

    def __init__(
        self,
        get_node: NodeReader,
        lower_path: PathReader | None = None,
        *,
        height: int = 8,
        step: int = 4,
        max_cached: int = 16384,
    ) -> None:
        if type(height) is not int or not 1 <= height <= 32:
            raise UsageError("height must be an integer in [1, 32]")
        if type(step) is not int or not 1 <= step <= 32:
            raise UsageError("step must be an integer in [1, 32]")
        if type(max_cached) is not int or max_cached < 1:
            raise UsageError("max_cached must be a positive integer")
        self._get_node = get_node
        self._height = height
        self._step = step
        self._max = max_cached
        self._upper: dict[tuple[int, int, int], list[bytes]] = {}

        def default_lower(index: int, height: int) -> list[bytes]:
            return [get_node(level, (index >> level) ^ 1) for level in range(height)]

        self._lower: PathReader = lower_path if lower_path is not None else default_lower

    def __call__(self, index: int, size: int) -> list[bytes]:
        """The RFC 6962 audit path ``PATH(index, D[0:size])``, as :func:`inclusion_proof_at`."""
        h = self._height
        if (
            type(size) is int
            and type(index) is int
            and 0 <= index < size <= MAX_TREE_SIZE
            and ((index >> h) + 1) << h <= size
        ):
            upper = self._upper.get((h, index >> h, size))
            if upper is None:
                upper = self._upper_path(index, size, h)
            return self._lower(index, h) + upper
        return inclusion_proof_at(self._get_node, index, size)

    def _upper_path(self, index: int, size: int, h: int) -> list[bytes]:
        """``PATH(index, D[0:size])[h:]``, memoised; the ``2**h`` subtree holding ``index`` is
        complete."""
        key = (h, index >> h, size)
        upper = self._upper.get(key)
        if upper is None:
            up = h + self._step
            if ((index >> up) + 1) << up <= size:
                get_node = self._get_node
                upper = [get_node(level, (index >> level) ^ 1) for level in range(h, up)]
                upper += self._upper_path(index, size, up)
            else:
                upper = inclusion_proof_at(self._get_node, index, size)[h:]
            if len(self._upper) >= self._max:
                self._upper.clear()
            self._upper[key] = upper
        return upper


def _edge_hash(get_node: NodeReader, start: int, end: int) -> bytes:
    """MTH of ``[start, end)`` where ``start`` is aligned to a power of two larger than the
    range (a right-edge subtree): combine its complete aligned pieces right to left."""
    hashes: list[bytes] = []
    pos = start
    rem = end - start
    while rem:
        level = rem.bit_length() - 1
        hashes.append(get_node(level, pos >> level))
        pos += 1 << level
        rem -= 1 << level
    h = hashes.pop()
    while hashes:
        h = _sha256(_NODE_PREFIX + hashes.pop() + h).digest()
    return h


def consistency_proof_at(get_node: NodeReader, size1: int, size2: int) -> list[bytes]:
    """The RFC 6962 consistency proof ``PROOF(size1, D[0:size2])`` from O(log size2) node
    reads. Requires ``1 <= size1 <= size2``; equal sizes give the empty proof."""
    _require_size(size1, "size1", UsageError)
    _require_size(size2, "size2", UsageError)
    if size1 == 0:
        raise UsageError("a consistency proof from the empty tree (size1 = 0) proves nothing")
    if size1 > size2:
        raise UsageError(f"size1 {size1} is larger than size2 {size2}")
    if size1 == size2:
        return []
    path: list[bytes] = []
    lo, hi = 0, size2
    complete_old_subtree = True  # SUBPROOF's b: the old tree is this very subtree
    while size1 != hi:
        k = 1 << ((hi - lo - 1).bit_length() - 1)  # largest power of two < hi - lo
        if size1 <= lo + k:
            path.append(subtree_hash(get_node, lo + k, hi))
            hi = lo + k
        else:
            path.append(subtree_hash(get_node, lo, lo + k))
            lo += k
            complete_old_subtree = False
    if not complete_old_subtree:
        path.append(subtree_hash(get_node, lo, hi))
    path.reverse()
    return path


# --------------------------------------------------------------------------- verification


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Verify that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` leaves with ``root``.

    RFC 9162 §2.1.3.2 plus the strict edge rules of this module (``0 <= index < size``, 32-byte
    hashes, exact proof length). Raises :class:`~electlog.errors.InclusionProofError` saying
    what failed; returns ``None`` if the proof holds.
    """
    err = InclusionProofError
    _require_size(index, "leaf index", err)
    _require_size(size, "tree size", err)
    if size == 0:
        raise err("no leaf is included in the empty tree (tree size 0)")
    if index >= size:
        raise err(f"leaf index {index} is not below tree size {size}")
    leaf = _require_hash(leaf_hash, "leaf hash", err)
    expected_root = _require_hash(root, "root", err)
    path = _require_proof(proof, err)
    inner = (index ^ (size - 1)).bit_length()
    want = inner + (index >> inner).bit_count()
    if len(path) != want:
        raise err(
            f"proof has {len(path)} hashes, expected {want} for leaf {index} of tree size {size}"
        )
    # RFC 9162 §2.1.3.2, step by step.
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise err("proof is longer than the path from the leaf to the root")
        if fn & 1 or fn == sn:
            r = _sha256(_NODE_PREFIX + p + r).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _sha256(_NODE_PREFIX + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise err("proof is shorter than the path from the leaf to the root")
    if r != expected_root:
        raise err(f"calculated root {r.hex()} != expected root {expected_root.hex()}")


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Verify that the tree of ``size2`` leaves with ``root2`` extends the tree of ``size1``
    leaves with ``root1``.

    RFC 9162 §2.1.4.2 plus the strict edge rules of this module: ``1 <= size1 <= size2`` (a
    proof from the empty tree is rejected), 32-byte hashes, exact proof length, and equal sizes
    need an empty proof and equal roots. Raises :class:`~electlog.errors.ConsistencyProofError`
    saying what failed; returns ``None`` if the proof holds.
    """
    err = ConsistencyProofError
    _require_size(size1, "size1", err)
    _require_size(size2, "size2", err)
    if size1 > size2:
        raise err(f"size1 {size1} is larger than size2 {size2}: a log cannot shrink")
    if size1 == 0:
        raise err("a consistency proof from the empty tree (size1 = 0) proves nothing")
    path = _require_proof(proof, err)
    if size1 == size2:
        # RFC 9162 §2.1.4.2 step 1 literally: equal sizes need an empty proof and equal roots;
        # the roots are compared as given (as transparency-dev/merkle does, and as its vectors
        # expect), not length-checked: nothing is hashed, so nothing else can go wrong.
        if path:
            raise err(f"proof has {len(path)} hashes, expected 0 for equal sizes {size1}")
        if not isinstance(root1, bytes) or not isinstance(root2, bytes):
            raise err("root1 and root2 must be bytes")
        if root1 != root2:
            raise err(f"equal sizes {size1} but root1 {root1.hex()} != root2 {root2.hex()}")
        return
    first = _require_hash(root1, "root1", err)
    second = _require_hash(root2, "root2", err)
    inner = ((size1 - 1) ^ (size2 - 1)).bit_length()
    border = ((size1 - 1) >> inner).bit_count()
    shift = (size1 & -size1).bit_length() - 1  # trailing zero bits of size1
    power_of_two = size1 == 1 << shift
    want = (0 if power_of_two else 1) + inner - shift + border
    if len(path) != want:
        raise err(
            f"proof has {len(path)} hashes, expected {want} from size {size1} to size {size2}"
        )
    # RFC 9162 §2.1.4.2, step by step.
    if power_of_two:
        path.insert(0, first)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise err("proof is longer than the path to the new root")
        if fn & 1 or fn == sn:
            fr = _sha256(_NODE_PREFIX + c + fr).digest()
            sr = _sha256(_NODE_PREFIX + c + sr).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _sha256(_NODE_PREFIX + sr + c).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise err("proof is shorter than the path to the new root")
    if fr != first:
        raise err(f"calculated root1 {fr.hex()} != expected root1 {first.hex()}")
    if sr != second:
        raise err(f"calculated root2 {sr.hex()} != expected root2 {second.hex()}")


# --------------------------------------------------------------------------- in-memory tree


class MerkleTree:
    """An in-memory, append-only RFC 6962 Merkle tree of leaf hashes.

    Keeps every complete subtree hash, level by level, so an append costs amortised O(1)
    hashing (at most log2 n) and roots and proofs at any past size cost O(log n). Invalid
    arguments raise :class:`~electlog.errors.UsageError`.
    """

    __slots__ = ("_edges", "_get_node", "_levels")

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        levels: list[list[bytes]] = [[]]
        self._levels = levels
        # right-edge subtree hashes of the current size, by level (see _current_proof)
        self._edges: tuple[int, dict[int, bytes]] = (0, {})

        def get_node(level: int, index: int) -> bytes:
            return levels[level][index]

        self._get_node: NodeReader = get_node
        self.extend(leaf_hashes)

    def __len__(self) -> int:
        return len(self._levels[0])

    def __repr__(self) -> str:
        return f"MerkleTree(size={len(self)})"

    def append(self, leaf_hash: bytes) -> int:
        """Append one 32-byte leaf hash; returns its 0-based index."""
        if type(leaf_hash) is not bytes or len(leaf_hash) != HASH_SIZE:
            leaf_hash = _require_hash(leaf_hash, "leaf hash", UsageError)
        levels = self._levels
        index = len(levels[0])
        for level, _, h in new_nodes(self._get_node, index, leaf_hash):
            if level == len(levels):
                levels.append([h])
            else:
                levels[level].append(h)
        return index

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append several 32-byte leaf hashes in order (all are checked before any is added)."""
        if isinstance(leaf_hashes, bytes | bytearray | str):
            raise UsageError("extend() takes an iterable of 32-byte leaf hashes, not one value")
        levels = self._levels
        hashes = _checked_leaf_hashes(leaf_hashes, len(levels[0]))
        for level, (_, level_hashes) in enumerate(
            _new_levels(self._get_node, len(levels[0]), hashes)
        ):
            if level == len(levels):
                levels.append(level_hashes)
            else:
                levels[level].extend(level_hashes)

    def node(self, level: int, index: int) -> bytes:
        """The hash of the complete subtree over leaves ``[index * 2**level, (index + 1) *
        2**level)`` (a :data:`NodeReader`)."""
        _require_size(level, "level", UsageError)
        _require_size(index, "index", UsageError)
        if level >= len(self._levels) or index >= len(self._levels[level]):
            raise UsageError(
                f"node (level {level}, index {index}) is not complete in a tree of size {len(self)}"
            )
        return self._levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        """The Merkle Tree Hash of the first ``size`` leaves (default: all)."""
        return root_at(self._get_node, self._size(size, "size"))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The inclusion proof of leaf ``index`` in the tree of ``size`` leaves (default: all)."""
        n = len(self._levels[0])
        if (size is None or size is n or (type(size) is int and size == n)) and (
            type(index) is int and 0 <= index < n
        ):
            return self._current_proof(index, n)
        return inclusion_proof_at(self._get_node, index, self._size(size, "size"))

    def _current_proof(self, index: int, n: int) -> list[bytes]:
        """:func:`inclusion_proof_at` at the tree's current size ``n``, read straight from the
        level lists: at level ``L`` the sibling ``j = (index >> L) ^ 1`` is a complete node when
        ``j < len(levels[L])`` (``n >> L`` complete nodes), the right edge's subtree when it
        starts inside the tree (memoised per level until the next append), else skipped."""
        path: list[bytes] = []
        append = path.append
        i = index
        last = n - 1
        for level, nodes in enumerate(self._levels):
            if not last:
                break
            j = i ^ 1
            if j < len(nodes):
                append(nodes[j])
            elif j <= last:
                size, edges = self._edges
                if size != n:
                    edges = {}
                    self._edges = (n, edges)
                edge = edges.get(level)
                if edge is None:
                    edge = edges[level] = _edge_hash(self._get_node, j << level, n)
                append(edge)
            i >>= 1
            last >>= 1
        return path

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """The consistency proof from the tree of ``size1`` leaves to the tree of ``size2``
        leaves (default: all); ``1 <= size1 <= size2``."""
        return consistency_proof_at(self._get_node, size1, self._size(size2, "size2"))

    def _size(self, size: int | None, name: str) -> int:
        n = len(self._levels[0])
        if size is None:
            return n
        _require_size(size, name, UsageError)
        if size > n:
            raise UsageError(f"{name} {size} is larger than the tree ({n} leaves)")
        return size


# --------------------------------------------------------------------------- argument checks


def _require_int(value: object, what: str, err: type[Exception]) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise err(f"{what} must be an int, got {type(value).__name__}")
    return value


def _require_size(value: object, what: str, err: type[Exception]) -> int:
    n = _require_int(value, what, err)
    if not 0 <= n <= MAX_TREE_SIZE:
        raise err(f"{what} {n} is out of range [0, 2**63 - 1]")
    return n


def _require_hash(value: object, what: str, err: type[Exception]) -> bytes:
    if not isinstance(value, bytes | bytearray):
        raise err(f"{what} must be bytes, got {type(value).__name__}")
    if len(value) != HASH_SIZE:
        raise err(f"{what} is {len(value)} bytes, expected {HASH_SIZE}")
    return bytes(value)


def _require_proof(proof: object, err: type[ProofError]) -> list[bytes]:
    if isinstance(proof, bytes | bytearray | str) or not isinstance(proof, Sequence):
        raise err(f"proof must be a sequence of 32-byte hashes, got {type(proof).__name__}")
    return [_require_hash(p, f"proof[{i}]", err) for i, p in enumerate(proof)]


def _checked_leaf_hashes(leaf_hashes: Iterable[bytes], first_index: int) -> list[bytes]:
    try:
        out = list(leaf_hashes)
    except TypeError as exc:
        raise UsageError(
            f"expected an iterable of 32-byte leaf hashes, got {type(leaf_hashes).__name__}"
        ) from exc
    for i, h in enumerate(out):
        if type(h) is not bytes or len(h) != HASH_SIZE:
            out[i] = _require_hash(h, f"leaf hash {first_index + i}", UsageError)
    return out
