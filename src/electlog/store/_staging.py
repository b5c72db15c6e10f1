"""The staging write transaction of the durable stores (:mod:`electlog.store.sqlite`,
:mod:`electlog.store.postgres`): a batch kept in Python lists and dicts, checked at commit
(:func:`validate_staged_nodes`) and written in bulk by the backend's subclass."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from .. import merkle
from ..errors import UsageError
from ..events import AuthorHead
from .base import StoreTx

__all__ = ["StagingTx", "validate_staged_nodes"]


def validate_staged_nodes(nodes: Mapping[tuple[int, int], bytes], old: int, new: int) -> None:
    """Raise :class:`UsageError` unless ``nodes`` are exactly the level >= 1 nodes completed by
    growing the tree from ``old`` to ``new`` leaves (each a 32-byte hash)."""
    want = 0
    level = 1
    while new >> level:
        want += (new >> level) - (old >> level)
        level += 1
    if len(nodes) != want:
        raise UsageError(
            f"{len(nodes)} Merkle nodes staged for growing the tree from {old} to {new} leaves, "
            f"expected {want}"
        )
    for (lvl, idx), h in nodes.items():
        if lvl < 1 or not (old >> lvl) <= idx < (new >> lvl):
            raise UsageError(
                f"Merkle node (level {lvl}, index {idx}) is not completed by growing the tree "
                f"from {old} to {new} leaves"
            )
        if type(h) is not bytes or len(h) != merkle.HASH_SIZE:
            raise UsageError(f"Merkle node (level {lvl}, index {idx}) is not a 32-byte hash")


class StagingTx(StoreTx):
    """A write transaction that stages a batch in Python lists and dicts; the backend's
    subclass writes it in bulk at commit (after :meth:`_check_staged`). Reads of what is not
    staged go to the two hooks, the store's committed-state readers ``read_head(key_id)`` and
    ``read_node(level, index)`` (called directly: no extra call per entry)."""

    __slots__ = ("_base", "_entries", "_heads", "_nodes", "_read_head", "_read_node")

    def __init__(
        self,
        base: int,
        read_head: Callable[[bytes], AuthorHead | None],
        read_node: Callable[[int, int], bytes],
    ) -> None:
        self._base = base
        self._read_head = read_head
        self._read_node = read_node
        self._entries: list[tuple[int, bytes, bytes]] = []
        self._heads: dict[bytes, tuple[bytes, int, bytes]] = {}
        self._nodes: dict[tuple[int, int], bytes] = {}

    @property
    def size(self) -> int:
        return self._base + len(self._entries)

    def author_head(self, key_id: bytes) -> AuthorHead | None:
        staged = self._heads.get(key_id)
        if staged is not None:
            return AuthorHead(staged[1], staged[2])
        return self._read_head(key_id)

    def node(self, level: int, index: int) -> bytes:
        if level == 0:
            if index >= self._base:
                pos = index - self._base
                if pos < len(self._entries):
                    return self._entries[pos][2]
                raise UsageError(f"no leaf {index} in a tree of size {self.size}")
            return self._read_node(0, index)
        staged = self._nodes.get((level, index))
        if staged is not None:
            return staged
        return self._read_node(level, index)

    def append(self, entry: bytes, leaf_hash: bytes, author: bytes, seq: int) -> int:
        if type(entry) is not bytes or type(leaf_hash) is not bytes or len(leaf_hash) != 32:
            raise UsageError("tx.append needs entry bytes and a 32-byte leaf hash")
        index = self._base + len(self._entries)
        self._entries.append((index, entry, leaf_hash))
        self._heads[author] = (author, seq, leaf_hash)
        return index

    def append_run(
        self, entries: Sequence[bytes], leaf_hashes: Sequence[bytes], author: bytes, first_seq: int
    ) -> int:
        n = len(entries)
        kinds = {*map(type, entries), *map(type, leaf_hashes)}
        if n != len(leaf_hashes) or (n and (kinds != {bytes} or {*map(len, leaf_hashes)} != {32})):
            raise UsageError("tx.append_run needs entry bytes and a 32-byte leaf hash for each")
        index = self._base + len(self._entries)
        if n:
            self._entries.extend(zip(range(index, index + n), entries, leaf_hashes, strict=True))
            self._heads[author] = (author, first_seq + n - 1, leaf_hashes[-1])
        return index

    def put_nodes(self, nodes: Iterable[tuple[int, int, bytes]]) -> None:
        staged = self._nodes
        for level, index, h in nodes:
            if level >= 1:
                staged[(level, index)] = h

    def _check_staged(self) -> bool:
        """Validate the staged nodes against the staged entries; False when nothing is staged
        (so there is nothing to write)."""
        if not self._entries:
            if self._nodes or self._heads:
                raise UsageError("Merkle nodes or heads staged without entries")
            return False
        validate_staged_nodes(self._nodes, self._base, self.size)
        return True
