"""The SQL base of the durable stores: what :mod:`electlog.store.sqlite` and
:mod:`electlog.store.postgres` share over their common table layout.

It holds the SQL statements for both dialects (:class:`Queries`), the base class with the reads,
node caches and integrity checks (:class:`DurableStore`), and the checks run when an existing
store is opened; the staging write transaction is :class:`electlog.store._staging.StagingTx`.
The file-based stores (bundle, tiles) do not use it."""

from __future__ import annotations

import abc
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from typing import Any, ClassVar, Final, NoReturn

import attrs

from ..errors import (
    ReadOnlyStoreError,
    StorageError,
    StoreCorruptedError,
    UsageError,
)
from ..events import AuthorHead
from ._integrity import (
    Scan,
    as_blob,
    as_int,
    as_note,
)
from .base import Store, StoreDamage, StoredCheckpoint

__all__ = [
    "STORE_FORMAT_VERSION",
    "DurableStore",
    "Queries",
    "check_checkpoint_args",
    "check_meta",
    "check_origin_arg",
    "ordered_levels",
]

STORE_FORMAT_VERSION: Final = 1
"""Version of the durable stores' table layout, recorded in each store's ``meta`` table."""


_CHUNK: Final = 1024  # rows per query when streaming entries
_BLOCK_BITS: Final = 12  # nodes are cached in blocks of 4096 consecutive hashes of one level
_BLOCK: Final = 1 << _BLOCK_BITS
_BLOCK_BYTES: Final = _BLOCK * 32
_HIGH_LEVEL: Final = 8  # nodes of this level and above are cached one by one (or by group)
_HIGH_MAX: Final = 1 << 16
_GROUP: Final = 64  # complete high-level nodes are read and cached in aligned groups of 64


def ordered_levels(nodes: Sequence[tuple[int, int, bytes]]) -> dict[tuple[int, int], bytes]:
    """Nodes as a dict, keeping only level >= 1."""
    return {(lvl, idx): h for lvl, idx, h in nodes if lvl >= 1}


def check_origin_arg(origin: str | None) -> None:
    """Raise :class:`UsageError` unless ``origin`` is None or a non-empty string."""
    if origin is not None and (not isinstance(origin, str) or not origin):
        raise UsageError("origin must be a non-empty string")


def check_checkpoint_args(size: int, note: str) -> None:
    """Raise :class:`UsageError` unless ``size`` is a non-negative integer and ``note`` text."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise UsageError(f"checkpoint size {size!r} is not a non-negative integer")
    if not isinstance(note, str):
        raise UsageError("a checkpoint note is text")


def check_meta(meta: Mapping[Any, Any], fmt: object, origin: str | None, where: str) -> str:
    """Check a store's ``meta`` rows: format version ``fmt`` (as the backend stores it) and an
    origin equal to ``origin`` when given. Returns the stored origin."""
    got = meta.get("format")
    if got != fmt:
        raise StoreCorruptedError(f"{where}: unsupported store format version {got!r}")
    stored = meta.get("origin")
    if not isinstance(stored, str) or not stored:
        raise StoreCorruptedError(f"{where}: meta table has no origin")
    if origin is not None and origin != stored:
        raise UsageError(f"{where} holds log {stored!r}, not {origin!r}")
    return stored


@attrs.frozen(kw_only=True)
class Queries:
    """The read queries of the durable stores' table layout in one SQL dialect."""

    size: str
    entry: str
    entry_range: str
    leaf: str
    leaf_range: str
    node: str
    node_range: str
    level_nodes: str
    head: str
    checkpoints: str
    latest_checkpoint: str
    bounds: str
    level_counts: str
    tail: str
    rows_range: str
    node_rows: str
    heads_all: str

    @classmethod
    def for_tables(cls, prefix: str, param: str) -> Queries:
        """The queries for tables named ``prefix`` + ``entries`` (``nodes``, ``heads``,
        ``checkpoints``) with ``param`` as the parameter placeholder."""
        entries, nodes = f"{prefix}entries", f"{prefix}nodes"
        cps, p = f"{prefix}checkpoints", param
        return cls(
            size=f"SELECT MAX(idx) FROM {entries}",
            entry=f"SELECT data FROM {entries} WHERE idx = {p}",
            entry_range=f"SELECT data FROM {entries} WHERE idx >= {p} AND idx < {p} ORDER BY idx",
            leaf=f"SELECT leaf FROM {entries} WHERE idx = {p}",
            leaf_range=f"SELECT leaf FROM {entries} WHERE idx >= {p} AND idx < {p} ORDER BY idx",
            node=f"SELECT hash FROM {nodes} WHERE level = {p} AND idx = {p}",
            node_range=(
                f"SELECT hash FROM {nodes} WHERE level = {p} AND idx >= {p} AND idx < {p} "
                "ORDER BY idx"
            ),
            level_nodes=f"SELECT idx, hash FROM {nodes} WHERE level = {p} ORDER BY idx",
            head=f"SELECT seq, prev FROM {prefix}heads WHERE author = {p}",
            checkpoints=f"SELECT size, note FROM {cps} ORDER BY id",
            latest_checkpoint=f"SELECT size, note FROM {cps} ORDER BY id DESC LIMIT 1",
            bounds=f"SELECT COUNT(*), MIN(idx), MAX(idx) FROM {entries}",
            level_counts=f"SELECT level, COUNT(*) FROM {nodes} GROUP BY level",
            tail=f"SELECT idx, data, leaf FROM {entries} WHERE idx >= {p} ORDER BY idx",
            rows_range=(
                f"SELECT idx, data, leaf FROM {entries} WHERE idx >= {p} AND idx < {p} ORDER BY idx"
            ),
            node_rows=(
                f"SELECT idx, hash FROM {nodes} WHERE level = {p} AND idx >= {p} AND idx < {p} "
                "ORDER BY idx"
            ),
            heads_all=f"SELECT author, seq, prev FROM {prefix}heads",
        )


class DurableStore(Store):
    """The part of the SQL stores that does not depend on the database driver: reads over the
    common table layout (queries in :attr:`_q`), the Merkle node caches, the integrity checks
    and the state checks before writes. A backend sets ``_conn`` (a DB-API style connection
    whose ``execute`` returns a cursor), ``_origin``, :attr:`_q`, and implements
    :meth:`_raise` (driver error to :class:`StorageError` subclass), :meth:`_in_write_tx`,
    :meth:`_check` (the integrity checks in a read snapshot), ``transaction`` and
    ``add_checkpoint``."""

    _q: ClassVar[Queries]
    _conn: Any
    _origin: str

    def __init__(
        self,
        *,
        where: str,
        read_only: bool,
        cache_bytes: int,
        db_error: type[Exception],
        check_on_open: bool = True,
    ) -> None:
        if not isinstance(check_on_open, bool):
            raise UsageError("check_on_open must be True or False")
        if not check_on_open and not read_only:
            raise UsageError(
                f"{where}: check_on_open=False needs read_only=True (a store opened for "
                "writing is always checked at open)"
            )
        self._where = where
        self._db_error = db_error
        self._read_only = bool(read_only)
        self._check_on_open = check_on_open
        self._lock = threading.RLock()
        self._blocks: dict[tuple[int, int], bytes] = {}
        self._high: dict[tuple[int, int], bytes] = {}
        self._max_blocks = max(1, int(cache_bytes) // _BLOCK_BYTES)
        self._known_size = 0  # a committed size seen by this handle (grows only)
        self._closed = False
        self._corrupted: str | None = None
        self._problems: tuple[StoreDamage, ...] = ()

    # ------------------------------------------------------------------ backend hooks

    @abc.abstractmethod
    def _raise(self, exc: BaseException, what: str) -> NoReturn:
        """Re-raise a driver error as the matching :class:`StorageError` subclass."""

    @abc.abstractmethod
    def _in_write_tx(self) -> bool:
        """Whether this handle's connection is inside a transaction that may hold uncommitted
        rows (a size read then is not a committed size)."""

    @abc.abstractmethod
    def _damage(self, full: bool) -> list[StoreDamage]:
        """Open one consistent read snapshot, run :meth:`_scan` in it, and return the damage
        found (in the order found); a driver error that means a damaged database is
        ``DamageKind.FILE`` damage, any other driver error is raised as its
        :class:`StorageError`."""

    # ------------------------------------------------------------------ opening and checks

    def _may_create(self, origin: str | None, create: bool) -> str:
        """The origin to create an empty database's store with, or raise if it may not be."""
        if self._read_only or not create:
            raise StorageError(f"{self._where} holds no electlog store")
        if origin is None:
            raise UsageError(f"creating {self._where} needs an origin")
        return origin

    @property
    def problems(self) -> tuple[StoreDamage, ...]:
        """The damage found by the latest integrity check of this handle (the check at open,
        :meth:`check_integrity` or :meth:`find_damage`); empty when it passed. A store opened
        ``read_only=True`` opens although its open check fails, for forensics: look here."""
        return self._problems

    def find_damage(self, *, full: bool = True) -> tuple[StoreDamage, ...]:
        """Run the integrity check and return every problem found (docs/storage.md, "What is
        detected where"); a store with damage refuses writes from then on. ``full=False`` runs
        the quick check made at every open."""
        with self._lock:
            found = tuple(self._damage(full))
        self._problems = found
        if found and self._corrupted is None:
            self._corrupted = found[0].message
        return found

    def check_integrity(self, *, full: bool = False) -> None:
        """Check the stored data against itself; raise
        :class:`~electlog.errors.StoreCorruptedError` naming the first problem (and refuse
        writes from then on) if it does not hold.

        The default (run at every open) checks that entries are contiguous, that the number of
        Merkle nodes per level matches the size, that the newest entries hash to their stored
        leaf hashes and their authors' heads are those entries, that the heads' sequence
        numbers add up to the size, and that the root at the latest checkpoint equals the
        checkpoint's root. ``full=True`` also recomputes every leaf hash, every node and every
        author head, and checks every checkpoint (O(n)); the SQLite store also runs SQLite's
        ``PRAGMA integrity_check``. :meth:`find_damage` returns every problem instead.
        """
        found = self.find_damage(full=full)
        if found:
            more = f" (and {len(found) - 1} more problems)" if len(found) > 1 else ""
            raise StoreCorruptedError(found[0].message + more)

    def _open_check(self) -> None:
        """The check at open: raises unless the store was opened read-only (for forensics), in
        which case :attr:`problems` lists the damage; skipped for ``check_on_open=False``."""
        if not self._check_on_open:
            return
        if self._read_only:
            self.find_damage(full=False)
        else:
            self.check_integrity()

    def _scan(self, full: bool, found: list[StoreDamage], digests: Any = None) -> Scan:
        """Run the row checks (inside the backend's snapshot), appending to ``found``."""
        scan = Scan(self._conn.execute, self._q, self._origin, self._where, found)
        scan.run(full, digests)
        self._known_size = max(self._known_size, scan.size)
        return scan

    def _check_writable(self) -> None:
        if self._closed:
            raise UsageError(f"{self._where} is closed")
        if self._corrupted is not None:
            raise StoreCorruptedError(f"{self._where} refuses writes: {self._corrupted}")
        if self._read_only:
            raise ReadOnlyStoreError(f"{self._where} was opened read-only")

    def _query(self, sql: str, params: Sequence[object], what: str) -> list[Any]:
        if self._closed:
            raise UsageError(f"{self._where} is closed")
        try:
            with self._lock:
                rows: list[Any] = self._conn.execute(sql, params).fetchall()
                return rows
        except self._db_error as exc:
            self._raise(exc, what)

    # ------------------------------------------------------------------ reads

    @property
    def origin(self) -> str:
        return self._origin

    @property
    def read_only(self) -> bool:
        """Whether the store was opened read-only."""
        return self._read_only

    def size(self) -> int:
        with self._lock:
            rows = self._query(self._q.size, (), "size")
            n = 0 if rows[0][0] is None else as_int(rows[0][0], "an entry index", self._where) + 1
            if n > self._known_size and not self._in_write_tx():
                self._known_size = n
        return n

    def entry(self, index: int) -> bytes:
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise UsageError(f"entry index {index!r} out of range")
        rows = self._query(self._q.entry, (index,), f"reading entry {index}")
        if not rows:
            raise UsageError(f"entry index {index} out of range for size {self.size()}")
        return as_blob(rows[0][0], f"entry {index}", self._where)

    def entries(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        n = self.size()
        end = n if stop is None else stop
        if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start <= end <= n:
            raise UsageError(f"entry range [{start}, {end}) out of range")
        return self._stream(start, end)

    def _stream(self, start: int, end: int) -> Iterator[bytes]:
        sql = self._q.entry_range
        pos = start
        while pos < end:
            hi = min(end, pos + _CHUNK)
            rows = self._query(sql, (pos, hi), f"reading entries {pos}..{hi - 1}")
            if len(rows) != hi - pos:
                raise StoreCorruptedError(f"{self._where}: entries {pos}..{hi - 1} are missing")
            for k, (data,) in enumerate(rows):
                yield as_blob(data, f"entry {pos + k}", self._where)
            pos = hi

    def _read_node_raw(self, level: int, index: int) -> bytes:
        if level == 0:
            row = self._conn.execute(self._q.leaf, (index,)).fetchone()
        else:
            row = self._conn.execute(self._q.node, (level, index)).fetchone()
        if row is None:
            raise UsageError(f"no complete Merkle node at level {level} index {index}")
        return as_blob(row[0], f"Merkle node ({level}, {index})", self._where, size=32)

    def _read_node(self, level: int, index: int) -> bytes:
        """A committed node, from the caches or the database (inside this store's open
        transaction the database read sees the transaction's own rows)."""
        if level >= _HIGH_LEVEL:
            found = self._high.get((level, index))
            if found is not None:
                return found
        else:
            block = index >> _BLOCK_BITS
            cached = self._blocks.get((level, block))
            off = (index & (_BLOCK - 1)) << 5
            if cached is not None and off < len(cached):
                return cached[off : off + 32]
        if self._closed:
            raise UsageError(f"{self._where} is closed")
        try:
            with self._lock:
                # Nodes wholly below the committed size never change: cache them.
                if level >= _HIGH_LEVEL:
                    lo = index & ~(_GROUP - 1)
                    if (lo + _GROUP) << level <= self._known_size:
                        # a whole aligned group is complete: cache it with one range read
                        return self._load_group(level, lo)[index - lo]
                    h = self._read_node_raw(level, index)
                    if (index + 1) << level <= self._known_size:
                        if len(self._high) >= _HIGH_MAX:
                            self._high.clear()
                        self._high[(level, index)] = h
                    return h
                # Cache the block's nodes that are complete below the committed size (a
                # partial block at the tree's right edge is re-read once it has grown).
                lo = block << _BLOCK_BITS
                complete = (self._known_size >> level) - lo
                if index - lo < complete:
                    data = self._load_block(level, block, min(_BLOCK, complete))
                    return data[off : off + 32]
                return self._read_node_raw(level, index)
        except self._db_error as exc:
            self._raise(exc, f"reading Merkle node ({level}, {index})")

    def _load_group(self, level: int, lo: int) -> list[bytes]:
        rows = self._conn.execute(self._q.node_range, (level, lo, lo + _GROUP)).fetchall()
        group = [r[0] for r in rows]
        if len(group) != _GROUP or any(type(h) is not bytes or len(h) != 32 for h in group):
            raise StoreCorruptedError(
                f"{self._where}: Merkle nodes of level {level} from index {lo} are missing or "
                "malformed"
            )
        if len(self._high) + _GROUP > _HIGH_MAX:
            self._high.clear()
        self._high.update(((level, lo + k), h) for k, h in enumerate(group))
        return group

    def _load_block(self, level: int, block: int, count: int = _BLOCK) -> bytes:
        lo = block << _BLOCK_BITS
        if level == 0:
            rows = self._conn.execute(self._q.leaf_range, (lo, lo + count)).fetchall()
        else:
            rows = self._conn.execute(self._q.node_range, (level, lo, lo + count)).fetchall()
        try:
            data = b"".join([r[0] for r in rows])
        except TypeError:
            data = b""
        if len(rows) != count or len(data) != count << 5:
            raise StoreCorruptedError(
                f"{self._where}: Merkle nodes of level {level} from index {lo} are missing or "
                "malformed"
            )
        if len(self._blocks) >= self._max_blocks:
            self._blocks.clear()
        self._blocks[(level, block)] = data
        return data

    def node(self, level: int, index: int) -> bytes:
        if level < _HIGH_LEVEL:
            cached = self._blocks.get((level, index >> _BLOCK_BITS))
            if cached is not None and index >= 0 and level >= 0:
                off = (index & (_BLOCK - 1)) << 5
                if off < len(cached):
                    return cached[off : off + 32]
        if level < 0 or index < 0:
            raise UsageError("node level and index are non-negative")
        return self._read_node(level, index)

    def lower_path(self, index: int, height: int) -> list[bytes]:
        # The proof hot path: one slice of a cached block per level. A node past a cached
        # partial block's end slices to b"" (blocks hold whole 32-byte nodes); a missing block
        # raises KeyError; both take the checked path through node().
        if index >= 0 and 0 <= height <= _HIGH_LEVEL:
            blocks = self._blocks
            mask = _BLOCK - 1
            try:
                path = [
                    blocks[(level, index >> (level + _BLOCK_BITS))][
                        (off := (((index >> level) ^ 1) & mask) << 5) : off + 32
                    ]
                    for level in range(height)
                ]
                if b"" not in path:
                    return path
            except KeyError:
                pass
        return super().lower_path(index, height)

    def _leaves_raw(self, start: int, stop: int) -> list[bytes]:
        rows = self._conn.execute(self._q.leaf_range, (start, stop)).fetchall()
        if len(rows) != stop - start:
            raise StoreCorruptedError(f"{self._where}: leaves {start}..{stop - 1} are missing")
        return [
            as_blob(r[0], f"the leaf hash of entry {start + k}", self._where, size=32)
            for k, r in enumerate(rows)
        ]

    def leaf_hashes(self, start: int, stop: int) -> Sequence[bytes]:
        if not 0 <= start <= stop:
            raise UsageError(f"leaf range [{start}, {stop}) out of range")
        try:
            with self._lock:
                if stop > self.size():
                    raise UsageError(f"leaf range [{start}, {stop}) out of range")
                return self._leaves_raw(start, stop)
        except self._db_error as exc:
            self._raise(exc, f"reading leaf hashes {start}..{stop - 1}")

    def author_head(self, key_id: bytes) -> AuthorHead | None:
        rows = self._query(self._q.head, (key_id,), "reading an author head")
        if not rows:
            return None
        where = self._where
        return AuthorHead(
            as_int(rows[0][0], "an author head's seq", where),
            as_blob(rows[0][1], "an author head", where, size=32),
        )

    def checkpoints(self) -> list[StoredCheckpoint]:
        rows = self._query(self._q.checkpoints, (), "reading checkpoints")
        return [self._stored_checkpoint(size, note) for size, note in rows]

    def _stored_checkpoint(self, size: object, note: object) -> StoredCheckpoint:
        where = self._where
        return StoredCheckpoint(
            as_int(size, "a checkpoint size", where), as_note(note, "a checkpoint note", where)
        )

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        rows = self._query(self._q.latest_checkpoint, (), "reading checkpoints")
        return None if not rows else self._stored_checkpoint(rows[0][0], rows[0][1])

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                try:
                    self._conn.close()
                except self._db_error as exc:
                    raise StorageError(f"{self._where}: close failed: {exc}") from exc

    def __del__(self) -> None:
        with suppress(Exception):  # nothing may escape a finaliser
            if not self._closed:
                self._conn.close()
