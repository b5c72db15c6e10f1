"""The storage interface every backend implements.

A store keeps, for one log (one origin): the entries in index order with their leaf hashes, the
complete-subtree Merkle nodes of level >= 1 (``node(level, index)`` is the hash of the complete
subtree over leaves ``[index * 2**level, (index + 1) * 2**level)``; level 0 is the leaf hash), every
checkpoint ever issued, and each author's head (sequence number and leaf hash of its last entry).

Writes happen only inside :meth:`Store.transaction`, which holds the store's exclusive write lock
(across processes for durable backends), shows the *committed* state re-read under that lock, and
commits durably when the ``with`` block ends normally. An exception inside the block rolls back:
nothing of it is visible afterwards. The log layer (:mod:`electlog.log`) does every check inside
the transaction, so two writers can never fork the log.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from types import TracebackType

import attrs

from ..events import AuthorHead

__all__ = ["Store", "StoreTx", "StoredCheckpoint"]


@attrs.frozen
class StoredCheckpoint:
    """A signed checkpoint note as stored, with the tree size it commits to."""

    size: int
    note: str


class StoreTx(abc.ABC):
    """An open write transaction. Reads see the committed state plus this transaction's writes."""

    @property
    @abc.abstractmethod
    def size(self) -> int:
        """Number of entries, including those appended in this transaction."""

    @abc.abstractmethod
    def author_head(self, key_id: bytes) -> AuthorHead | None:
        """The author's head, including this transaction's appends."""

    @abc.abstractmethod
    def node(self, level: int, index: int) -> bytes:
        """A complete-subtree hash (level 0 = leaf hash), including this transaction's writes."""

    @abc.abstractmethod
    def append(self, entry: bytes, leaf_hash: bytes, author: bytes, seq: int) -> int:
        """Stage one entry at index ``size``; sets the author's head to ``(seq, leaf_hash)``.
        Returns the index."""

    @abc.abstractmethod
    def put_nodes(self, nodes: Iterable[tuple[int, int, bytes]]) -> None:
        """Stage newly completed Merkle nodes of level >= 1."""


class Store(abc.ABC):
    """One log's durable (or in-memory) state. See the module docstring for the guarantees."""

    @property
    @abc.abstractmethod
    def origin(self) -> str:
        """The log id (C2SP origin) this store holds."""

    @abc.abstractmethod
    def size(self) -> int:
        """Number of committed entries."""

    @abc.abstractmethod
    def entry(self, index: int) -> bytes:
        """The exact bytes of entry ``index`` (``UsageError`` if out of range)."""

    @abc.abstractmethod
    def entries(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        """Entry bytes for indexes ``start <= i < stop`` (``stop`` defaults to the size at call
        time), streamed in index order."""

    @abc.abstractmethod
    def node(self, level: int, index: int) -> bytes:
        """A committed complete-subtree hash (level 0 = leaf hash of entry ``index``)."""

    @abc.abstractmethod
    def author_head(self, key_id: bytes) -> AuthorHead | None:
        """The author's committed head, or None if the author has no entry."""

    @abc.abstractmethod
    def checkpoints(self) -> list[StoredCheckpoint]:
        """Every checkpoint ever stored, oldest first."""

    @abc.abstractmethod
    def add_checkpoint(self, size: int, note: str) -> None:
        """Durably record a checkpoint note for tree size ``size``."""

    @abc.abstractmethod
    def transaction(self) -> AbstractContextManager[StoreTx]:
        """Exclusive write transaction; commits durably on normal exit, rolls back otherwise."""

    def leaf_hash(self, index: int) -> bytes:
        """The leaf hash of entry ``index``."""
        return self.node(0, index)

    def lower_path(self, index: int, height: int) -> list[bytes]:
        """The siblings ``node(level, (index >> level) ^ 1)`` for ``level < height``: the first
        ``height`` hashes of leaf ``index``'s audit path, when the aligned ``2**height``-leaf
        subtree holding it is committed (backends override with a cached bulk read)."""
        return [self.node(level, (index >> level) ^ 1) for level in range(height)]

    def leaf_hashes(self, start: int, stop: int) -> Sequence[bytes]:
        """Leaf hashes ``start <= i < stop`` (backends override with a bulk read)."""
        return [self.node(0, i) for i in range(start, stop)]

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The most recently stored checkpoint, or None."""
        cps = self.checkpoints()
        return cps[-1] if cps else None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources. Further calls fail."""

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
