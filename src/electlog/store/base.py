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
import enum
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from types import TracebackType

import attrs

from ..errors import UsageError
from ..events import AuthorHead

__all__ = ["DamageKind", "Store", "StoreDamage", "StoreTx", "StoredCheckpoint"]


@attrs.frozen
class StoredCheckpoint:
    """A signed checkpoint note as stored, with the tree size it commits to."""

    size: int
    note: str


class DamageKind(enum.StrEnum):
    """What part of a store a :class:`StoreDamage` concerns (docs/storage.md, "What is detected
    where")."""

    FILE = "file"
    """The database file itself: SQLite's own structure check fails or a page cannot be read
    (a truncated, zeroed or overwritten file). Nothing read from it can be trusted."""
    ENTRIES = "entries"
    """Entry rows: indexes not ``0 .. size-1``, or a value that is not an entry."""
    LEAF = "leaf"
    """An entry does not hash to its stored leaf hash."""
    NODE = "node"
    """Merkle node rows: missing, extra, malformed, or not the hash of their children."""
    HEAD = "head"
    """Author heads: a head that is not its author's newest entry, or an author without one."""
    CHECKPOINT = "checkpoint"
    """A stored checkpoint does not parse, names another log or size, or its root is not the
    stored tree's root at its size."""
    ROLLBACK = "rollback"
    """The store is shorter than (or diverges from) the latest signed checkpoint recorded
    outside the database: acknowledged, signed data was lost."""


@attrs.frozen(kw_only=True)
class StoreDamage:
    """One problem a store's integrity check found: its :class:`DamageKind`, a message naming
    the store and what is wrong, and the entry index concerned (``None`` when not one entry)."""

    kind: DamageKind
    message: str
    index: int | None = None


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

    def append_run(
        self, entries: Sequence[bytes], leaf_hashes: Sequence[bytes], author: bytes, first_seq: int
    ) -> int:
        """Stage a run of one author's entries whose sequence numbers are ``first_seq``,
        ``first_seq + 1``, ... (the same as :meth:`append` for each in turn; a backend may
        stage them in bulk). Returns the index of the first."""
        if len(entries) != len(leaf_hashes):
            raise UsageError("tx.append_run needs one leaf hash per entry")
        index = self.size
        for seq, (entry, leaf_hash) in enumerate(zip(entries, leaf_hashes, strict=True), first_seq):
            self.append(entry, leaf_hash, author, seq)
        return index

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

    def find_damage(self, *, full: bool = True) -> tuple[StoreDamage, ...]:
        """Check the stored data against itself and return every problem found (empty when
        sound); never raises for damage. The durable stores recompute every leaf hash, Merkle
        node, author head and checkpoint root (``full=False``: the quicker checks run at
        open). The default implementation checks nothing (a store whose data cannot be damaged
        apart from its own code, such as :class:`~electlog.store.MemoryStore`)."""
        del full
        return ()

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
