"""In-memory store for tests and tools. Same semantics as the durable stores, minus durability."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from ..errors import UsageError
from ..events import AuthorHead
from .base import Store, StoredCheckpoint, StoreTx

__all__ = ["MemoryStore"]


class _MemoryTx(StoreTx):
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._base = len(store._entries)
        self.entries: list[bytes] = []
        self.leaves: list[bytes] = []
        self.heads: dict[bytes, AuthorHead] = {}
        self.nodes: dict[tuple[int, int], bytes] = {}

    @property
    def size(self) -> int:
        return self._base + len(self.entries)

    def author_head(self, key_id: bytes) -> AuthorHead | None:
        head = self.heads.get(key_id)
        return head if head is not None else self._store._heads.get(key_id)

    def node(self, level: int, index: int) -> bytes:
        if level == 0:
            if index >= self._base:
                return self.leaves[index - self._base]
            return self._store._leaves[index]
        found = self.nodes.get((level, index))
        if found is not None:
            return found
        return self._store._node_at(level, index)

    def append(self, entry: bytes, leaf_hash: bytes, author: bytes, seq: int) -> int:
        index = self.size
        self.entries.append(entry)
        self.leaves.append(leaf_hash)
        self.heads[author] = AuthorHead(seq, leaf_hash)
        return index

    def put_nodes(self, nodes: Iterable[tuple[int, int, bytes]]) -> None:
        for level, index, h in nodes:
            if level >= 1:
                self.nodes[(level, index)] = h


class MemoryStore(Store):
    """Keeps everything in lists and dicts. Thread-safe; not shared between processes."""

    def __init__(self, origin: str) -> None:
        if not isinstance(origin, str) or not origin:
            raise UsageError("a store needs a non-empty origin")
        self._origin = origin
        self._entries: list[bytes] = []
        self._leaves: list[bytes] = []
        self._levels: list[list[bytes]] = [self._leaves]
        self._heads: dict[bytes, AuthorHead] = {}
        self._checkpoints: list[StoredCheckpoint] = []
        self._lock = threading.RLock()

    @property
    def origin(self) -> str:
        return self._origin

    def size(self) -> int:
        return len(self._entries)

    def _check_index(self, index: int, size: int) -> None:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < size:
            raise UsageError(f"entry index {index!r} out of range for size {size}")

    def entry(self, index: int) -> bytes:
        self._check_index(index, len(self._entries))
        return self._entries[index]

    def entries(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        end = len(self._entries) if stop is None else stop
        if start < 0 or end > len(self._entries) or start > end:
            raise UsageError(f"entry range [{start}, {end}) out of range")
        for i in range(start, end):
            yield self._entries[i]

    def _node_at(self, level: int, index: int) -> bytes:
        try:
            return self._levels[level][index]
        except IndexError:
            raise UsageError(f"no complete Merkle node at level {level} index {index}") from None

    def node(self, level: int, index: int) -> bytes:
        if level < 0 or index < 0:
            raise UsageError("node level and index are non-negative")
        return self._node_at(level, index)

    def leaf_hashes(self, start: int, stop: int) -> Sequence[bytes]:
        return self._leaves[start:stop]

    def author_head(self, key_id: bytes) -> AuthorHead | None:
        return self._heads.get(key_id)

    def checkpoints(self) -> list[StoredCheckpoint]:
        return list(self._checkpoints)

    def add_checkpoint(self, size: int, note: str) -> None:
        with self._lock:
            if not 0 <= size <= len(self._entries):
                raise UsageError(f"checkpoint size {size} beyond the log size {len(self._entries)}")
            self._checkpoints.append(StoredCheckpoint(size, note))

    @contextmanager
    def transaction(self) -> Iterator[StoreTx]:
        with self._lock:
            tx = _MemoryTx(self)
            yield tx
            # commit: nothing above raised. Validate the staged nodes before mutating anything.
            staged = sorted(tx.nodes.items())
            expected: dict[int, int] = {}
            for (level, index), _ in staged:
                want = expected.get(level)
                if want is None:
                    want = len(self._levels[level]) if level < len(self._levels) else 0
                if index != want:
                    raise UsageError(f"Merkle node ({level}, {index}) staged out of order")
                expected[level] = index + 1
            self._entries.extend(tx.entries)
            self._leaves.extend(tx.leaves)
            self._heads.update(tx.heads)
            for (level, _index), h in staged:
                while len(self._levels) <= level:
                    self._levels.append([])
                self._levels[level].append(h)
