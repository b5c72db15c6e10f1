"""The embedded default store: one SQLite file (stdlib :mod:`sqlite3`), WAL, synchronous FULL.

Guarantees (docs/storage.md): a transaction takes SQLite's write lock with ``BEGIN IMMEDIATE``
(so writers in other processes wait, up to ``timeout`` seconds, instead of failing), re-reads the
size and heads under that lock, writes the whole batch with ``executemany`` and commits; the
``COMMIT`` is the durability point (one WAL fsync per batch). A crash before it loses the batch
and nothing else; after it, the batch survives.

Tables: ``meta`` (origin, format version), ``entries (idx INTEGER PRIMARY KEY, data, leaf)``,
``nodes (level, idx, hash)`` with primary key ``(level, idx)`` (levels >= 1; level 0 is the
``leaf`` column), ``checkpoints (id, size, note)`` and ``heads (author PRIMARY KEY, seq, prev)``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Final, NoReturn

from ..errors import (
    DiskFullError,
    ElectlogError,
    ReadOnlyStoreError,
    StorageError,
    StoreCorruptedError,
    UsageError,
)
from ..events import AuthorHead
from . import _common
from .base import Store, StoredCheckpoint, StoreTx

__all__ = ["SQLiteStore"]

APPLICATION_ID: Final = 0x454C4C47  # "ELLG": marks a SQLite file as an electlog store
_CHUNK: Final = 1024  # rows per query when streaming entries
_BLOCK_BITS: Final = 12  # nodes are cached in blocks of 4096 consecutive hashes of one level
_BLOCK: Final = 1 << _BLOCK_BITS
_BLOCK_BYTES: Final = _BLOCK * 32
_HIGH_LEVEL: Final = 8  # nodes of this level and above are cached one by one
_HIGH_MAX: Final = 1 << 16

# SQLite primary result codes (the low byte of extended codes).
_SQLITE_READONLY: Final = 8
_SQLITE_CORRUPT: Final = 11
_SQLITE_FULL: Final = 13
_SQLITE_CANTOPEN: Final = 14
_SQLITE_NOTADB: Final = 26

_SCHEMA: Final = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value NOT NULL) WITHOUT ROWID",
    "CREATE TABLE entries (idx INTEGER PRIMARY KEY, data BLOB NOT NULL, leaf BLOB NOT NULL)",
    "CREATE TABLE nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, "
    "PRIMARY KEY (level, idx)) WITHOUT ROWID",
    "CREATE TABLE checkpoints (id INTEGER PRIMARY KEY, size INTEGER NOT NULL, note TEXT NOT NULL)",
    "CREATE TABLE heads (author BLOB PRIMARY KEY, seq INTEGER NOT NULL, prev BLOB NOT NULL) "
    "WITHOUT ROWID",
)
_TABLES: Final = frozenset({"meta", "entries", "nodes", "checkpoints", "heads"})

_SQL_SIZE: Final = "SELECT MAX(idx) FROM entries"
_SQL_ENTRY: Final = "SELECT data FROM entries WHERE idx = ?"
_SQL_LEAF: Final = "SELECT leaf FROM entries WHERE idx = ?"
_SQL_NODE: Final = "SELECT hash FROM nodes WHERE level = ? AND idx = ?"
_SQL_HEAD: Final = "SELECT seq, prev FROM heads WHERE author = ?"
_SQL_INSERT_ENTRY: Final = "INSERT INTO entries (idx, data, leaf) VALUES (?, ?, ?)"
_SQL_INSERT_NODE: Final = "INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)"
_SQL_UPSERT_HEAD: Final = (
    "INSERT INTO heads (author, seq, prev) VALUES (?, ?, ?) "
    "ON CONFLICT (author) DO UPDATE SET seq = excluded.seq, prev = excluded.prev"
)


def _code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


class _SQLiteTx(StoreTx):
    """Stages a batch in Python lists; :meth:`SQLiteStore.transaction` writes it at commit."""

    __slots__ = ("_base", "_conn", "_entries", "_heads", "_nodes", "_store")

    def __init__(self, store: SQLiteStore, conn: sqlite3.Connection, base: int) -> None:
        self._store = store
        self._conn = conn
        self._base = base
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
        return self._store._read_head(key_id)

    def node(self, level: int, index: int) -> bytes:
        if level == 0:
            if index >= self._base:
                pos = index - self._base
                if pos < len(self._entries):
                    return self._entries[pos][2]
                raise UsageError(f"no leaf {index} in a tree of size {self.size}")
            return self._store._read_node(0, index)
        staged = self._nodes.get((level, index))
        if staged is not None:
            return staged
        return self._store._read_node(level, index)

    def append(self, entry: bytes, leaf_hash: bytes, author: bytes, seq: int) -> int:
        if type(entry) is not bytes or type(leaf_hash) is not bytes or len(leaf_hash) != 32:
            raise UsageError("tx.append needs entry bytes and a 32-byte leaf hash")
        index = self._base + len(self._entries)
        self._entries.append((index, entry, leaf_hash))
        self._heads[author] = (author, seq, leaf_hash)
        return index

    def put_nodes(self, nodes: Iterable[tuple[int, int, bytes]]) -> None:
        staged = self._nodes
        for level, index, h in nodes:
            if level >= 1:
                staged[(level, index)] = h

    def _write(self) -> None:
        """Validate the staged nodes and write everything (inside the open transaction)."""
        if not self._entries:
            if self._nodes or self._heads:
                raise UsageError("Merkle nodes or heads staged without entries")
            return
        _common.validate_staged_nodes(self._nodes, self._base, self.size)
        conn = self._conn
        conn.executemany(_SQL_INSERT_ENTRY, self._entries)
        if self._nodes:
            conn.executemany(
                _SQL_INSERT_NODE, [(lvl, idx, h) for (lvl, idx), h in self._nodes.items()]
            )
        conn.executemany(_SQL_UPSERT_HEAD, self._heads.values())


class SQLiteStore(Store):
    """A log in one SQLite file.

    ``SQLiteStore(path, origin="example.org/log")`` creates the file if needed (``create=False``
    requires an existing store). Opening an existing store checks that it belongs to ``origin``
    (when given), that its entries are contiguous, that the Merkle node rows match the size,
    that the newest entries hash to their leaves, and that the stored tree's root at the latest
    checkpoint equals that checkpoint's root; any failure raises
    :class:`~electlog.errors.StoreCorruptedError`. ``read_only=True`` opens without write access.
    ``timeout`` is how long a writer waits for another writer's lock (seconds);
    ``cache_bytes`` bounds the in-memory cache of Merkle node blocks used for fast proofs.
    """

    supports_multiprocess: Final = True
    """Several processes may open the same file and append concurrently."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        origin: str | None = None,
        create: bool = True,
        read_only: bool = False,
        timeout: float = 120.0,
        cache_bytes: int = 64 << 20,
    ) -> None:
        if origin is not None and (not isinstance(origin, str) or not origin):
            raise UsageError("origin must be a non-empty string")
        try:
            self._path = Path(os.fspath(path))
        except TypeError as exc:
            raise UsageError(
                f"SQLite store path must be a path, got {type(path).__name__}"
            ) from exc
        self._read_only = bool(read_only)
        self._lock = threading.RLock()
        self._blocks: dict[tuple[int, int], bytes] = {}
        self._high: dict[tuple[int, int], bytes] = {}
        self._max_blocks = max(1, int(cache_bytes) // _BLOCK_BYTES)
        self._known_size = 0  # a committed size seen by this handle (grows only)
        self._closed = False
        self._corrupted: str | None = None
        self._where = f"SQLite store {str(self._path)!r}"
        try:
            exists = self._path.is_file() and self._path.stat().st_size > 0
        except OSError as exc:
            raise StorageError(f"{self._where}: cannot inspect the file: {exc}") from exc
        if not exists and (read_only or not create):
            raise StorageError(f"{self._where} does not exist")
        self._conn = self._connect(timeout)
        try:
            self._origin = self._open(origin, create)
            self._check_on_open()
        except BaseException:
            self._closed = True
            self._conn.close()
            raise

    # ------------------------------------------------------------------ opening

    def _connect(self, timeout: float) -> sqlite3.Connection:
        try:
            if self._read_only:
                conn = self._connect_read_only(timeout)
            else:
                conn = sqlite3.connect(
                    self._path, timeout=timeout, isolation_level=None, check_same_thread=False
                )
        except sqlite3.Error as exc:
            self._raise(exc, "open")
        try:
            conn.execute("PRAGMA cache_size = -32768")
            if not self._read_only:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
                if mode is None or str(mode[0]).lower() != "wal":
                    raise StorageError(f"{self._where}: cannot switch to WAL journal mode")
                conn.execute("PRAGMA journal_size_limit = 67108864")
            conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            conn.close()
            self._raise(exc, "open")
        except BaseException:
            conn.close()
            raise
        return conn

    def _connect_read_only(self, timeout: float) -> sqlite3.Connection:
        """Open with ``mode=ro``. A WAL database in a directory we cannot write to (so SQLite
        cannot create its shared-memory file) is opened ``immutable`` instead -- but only when
        no write-ahead log exists, so no committed transaction can be missed."""
        base = "file:" + urllib.parse.quote(str(self._path.resolve())) + "?mode=ro"
        conn = sqlite3.connect(
            base, uri=True, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.Error as exc:
            conn.close()
            wal = Path(str(self._path) + "-wal")
            if _code(exc) not in (_SQLITE_READONLY, _SQLITE_CANTOPEN) or (
                wal.exists() and wal.stat().st_size > 0
            ):
                raise
        return sqlite3.connect(
            base + "&immutable=1",
            uri=True,
            timeout=timeout,
            isolation_level=None,
            check_same_thread=False,
        )

    def _open(self, origin: str | None, create: bool) -> str:
        conn = self._conn
        try:
            tables = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if not tables:
                if self._read_only or not create:
                    raise StorageError(f"{self._where} holds no electlog store")
                if origin is None:
                    raise UsageError(f"creating {self._where} needs an origin")
                conn.execute("BEGIN IMMEDIATE")
                try:
                    tables = {
                        r[0]
                        for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
                    }
                    if not tables:  # nobody created it while we waited for the lock
                        for sql in _SCHEMA:
                            conn.execute(sql)
                        conn.executemany(
                            "INSERT INTO meta (key, value) VALUES (?, ?)",
                            [("origin", origin), ("format", _common.STORE_FORMAT_VERSION)],
                        )
                        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                        conn.execute(f"PRAGMA user_version = {_common.STORE_FORMAT_VERSION}")
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                tables = {
                    r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
                }
            if not tables >= _TABLES:
                raise StoreCorruptedError(
                    f"{self._where} is a SQLite database but not an electlog store "
                    f"(missing tables {sorted(_TABLES - tables)})"
                )
            app = conn.execute("PRAGMA application_id").fetchone()[0]
            if app != APPLICATION_ID:
                raise StoreCorruptedError(f"{self._where}: not an electlog store (application id)")
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.Error as exc:
            self._raise(exc, "open")
        fmt = meta.get("format")
        if fmt != _common.STORE_FORMAT_VERSION:
            raise StoreCorruptedError(f"{self._where}: unsupported store format version {fmt!r}")
        stored = meta.get("origin")
        if not isinstance(stored, str) or not stored:
            raise StoreCorruptedError(f"{self._where}: meta table has no origin")
        if origin is not None and origin != stored:
            raise UsageError(f"{self._where} holds log {stored!r}, not {origin!r}")
        return stored

    def _check_on_open(self) -> None:
        """Cheap integrity checks (see the class docstring)."""
        self.check_integrity()

    def check_integrity(self, *, full: bool = False) -> None:
        """Check the stored data against itself; raise
        :class:`~electlog.errors.StoreCorruptedError` (and refuse writes from then on) if it
        does not hold.

        The default (run at every open) checks that entries are contiguous, that the number of
        Merkle nodes per level matches the size, that the newest entries hash to their stored
        leaf hashes and that the root at the latest checkpoint equals the checkpoint's root.
        ``full=True`` also runs SQLite's ``PRAGMA integrity_check``, recomputes every leaf hash
        and every node, and checks every checkpoint (O(n)).
        """
        try:
            with self._lock:
                self._check(full)
        except StoreCorruptedError as exc:
            self._corrupted = str(exc)
            raise

    def _check(self, full: bool) -> None:
        conn = self._conn
        where = self._where
        try:
            if full:
                problems = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
                if problems != ["ok"]:
                    raise StoreCorruptedError(f"{where}: integrity check: {problems[:3]}")
            conn.execute("BEGIN")  # one consistent snapshot for all checks
            try:
                count, lo, hi = conn.execute(
                    "SELECT COUNT(*), MIN(idx), MAX(idx) FROM entries"
                ).fetchone()
                size = _common.check_entries_contiguous(count, lo, hi, where)
                self._known_size = size
                counts = dict(conn.execute("SELECT level, COUNT(*) FROM nodes GROUP BY level"))
                _common.check_level_counts(counts, size, where)
                tail = conn.execute(
                    "SELECT idx, data, leaf FROM entries WHERE idx >= ? ORDER BY idx",
                    (0 if full else size - _common.TAIL_CHECK,),
                )
                _common.check_tail_leaves(tail, where)
                cps = conn.execute("SELECT size, note FROM checkpoints ORDER BY id").fetchall()
                if not full:
                    cps = cps[-1:]
                for cp_size, note in cps:
                    _common.check_checkpoint_root(
                        self._origin, size, cp_size, note, self._read_node_raw, where
                    )
                if full:
                    self._check_all_nodes(size)
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._raise(exc, "integrity check")

    def _check_all_nodes(self, size: int) -> None:
        from .. import merkle

        tree = merkle.MerkleTree()
        for start in range(0, size, 65536):
            tree.extend(self._leaves_raw(start, min(size, start + 65536)))
        for level, count in _common.expected_level_counts(size).items():
            rows = self._conn.execute(
                "SELECT idx, hash FROM nodes WHERE level = ? ORDER BY idx", (level,)
            )
            for idx, h in rows:
                if idx >= count or tree.node(level, idx) != h:
                    raise StoreCorruptedError(
                        f"{self._where}: Merkle node (level {level}, index {idx}) is wrong"
                    )

    # ------------------------------------------------------------------ errors

    def _raise(self, exc: sqlite3.Error, what: str) -> NoReturn:
        """Re-raise a sqlite3 error as the matching :class:`StorageError` subclass."""
        code = _code(exc)
        text = str(exc)
        msg = f"{self._where}: {what} failed: {text}"
        if self._closed or "closed database" in text:
            raise UsageError(f"{self._where} is closed") from exc
        if code == _SQLITE_FULL or "database or disk is full" in text:
            raise DiskFullError(msg) from exc
        if code == _SQLITE_READONLY or "readonly database" in text:
            if what == "open":
                msg += " (open it with read_only=True to read it)"
            raise ReadOnlyStoreError(msg) from exc
        if (
            code in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
            or "not a database" in text
            or "malformed" in text
        ):
            self._corrupted = msg
            raise StoreCorruptedError(msg) from exc
        if code == _SQLITE_CANTOPEN and not os.access(self._path.parent, os.W_OK):
            raise ReadOnlyStoreError(msg) from exc
        raise StorageError(msg) from exc

    def _check_writable(self) -> None:
        if self._closed:
            raise UsageError(f"{self._where} is closed")
        if self._corrupted is not None:
            raise StoreCorruptedError(f"{self._where} refuses writes: {self._corrupted}")
        if self._read_only:
            raise ReadOnlyStoreError(f"{self._where} was opened read-only")

    # ------------------------------------------------------------------ reads

    @property
    def origin(self) -> str:
        return self._origin

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @property
    def read_only(self) -> bool:
        """Whether the store was opened read-only."""
        return self._read_only

    def size(self) -> int:
        try:
            with self._lock:
                row = self._conn.execute(_SQL_SIZE).fetchone()
                n = 0 if row[0] is None else int(row[0]) + 1
                if not self._conn.in_transaction and n > self._known_size:
                    self._known_size = n
        except sqlite3.Error as exc:
            self._raise(exc, "size")
        return n

    def entry(self, index: int) -> bytes:
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise UsageError(f"entry index {index!r} out of range")
        try:
            with self._lock:
                row = self._conn.execute(_SQL_ENTRY, (index,)).fetchone()
        except sqlite3.Error as exc:
            self._raise(exc, f"reading entry {index}")
        if row is None:
            raise UsageError(f"entry index {index} out of range for size {self.size()}")
        return bytes(row[0])

    def entries(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        end = self.size() if stop is None else stop
        if (
            not isinstance(start, int)
            or not isinstance(end, int)
            or start < 0
            or start > end
            or end > self.size()
        ):
            raise UsageError(f"entry range [{start}, {end}) out of range")
        return self._stream(start, end)

    def _stream(self, start: int, end: int) -> Iterator[bytes]:
        pos = start
        while pos < end:
            hi = min(end, pos + _CHUNK)
            try:
                with self._lock:
                    rows = self._conn.execute(
                        "SELECT data FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx",
                        (pos, hi),
                    ).fetchall()
            except sqlite3.Error as exc:
                self._raise(exc, f"reading entries {pos}..{hi - 1}")
            if len(rows) != hi - pos:
                raise StoreCorruptedError(f"{self._where}: entries {pos}..{hi - 1} are missing")
            for (data,) in rows:
                yield data
            pos = hi

    def _read_node_raw(self, level: int, index: int) -> bytes:
        if level == 0:
            row = self._conn.execute(_SQL_LEAF, (index,)).fetchone()
        else:
            row = self._conn.execute(_SQL_NODE, (level, index)).fetchone()
        if row is None:
            raise UsageError(f"no complete Merkle node at level {level} index {index}")
        return bytes(row[0])

    def _read_node(self, level: int, index: int) -> bytes:
        """A node, from the caches or the database (inside this store's open transaction the
        database read sees the transaction's own rows)."""
        if level >= _HIGH_LEVEL:
            found = self._high.get((level, index))
            if found is not None:
                return found
        else:
            block = index >> _BLOCK_BITS
            cached = self._blocks.get((level, block))
            if cached is not None:
                off = (index & (_BLOCK - 1)) << 5
                return cached[off : off + 32]
        try:
            with self._lock:
                # Nodes wholly below the committed size never change: cache them.
                if level >= _HIGH_LEVEL:
                    h = self._read_node_raw(level, index)
                    if (index + 1) << level <= self._known_size:
                        if len(self._high) >= _HIGH_MAX:
                            self._high.clear()
                        self._high[(level, index)] = h
                    return h
                if ((block + 1) << _BLOCK_BITS) << level <= self._known_size:
                    data = self._load_block(level, block)
                    off = (index & (_BLOCK - 1)) << 5
                    return data[off : off + 32]
                return self._read_node_raw(level, index)
        except sqlite3.Error as exc:
            self._raise(exc, f"reading Merkle node ({level}, {index})")

    def _load_block(self, level: int, block: int) -> bytes:
        lo = block << _BLOCK_BITS
        if level == 0:
            sql = "SELECT leaf FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx"
            rows = self._conn.execute(sql, (lo, lo + _BLOCK)).fetchall()
        else:
            sql = "SELECT hash FROM nodes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx"
            rows = self._conn.execute(sql, (level, lo, lo + _BLOCK)).fetchall()
        data = b"".join(r[0] for r in rows)
        if len(rows) != _BLOCK or len(data) != _BLOCK_BYTES:
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
                return cached[off : off + 32]
        if level < 0 or index < 0:
            raise UsageError("node level and index are non-negative")
        return self._read_node(level, index)

    def _leaves_raw(self, start: int, stop: int) -> list[bytes]:
        rows = self._conn.execute(
            "SELECT leaf FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx", (start, stop)
        ).fetchall()
        if len(rows) != stop - start:
            raise StoreCorruptedError(f"{self._where}: leaves {start}..{stop - 1} are missing")
        return [r[0] for r in rows]

    def leaf_hashes(self, start: int, stop: int) -> Sequence[bytes]:
        if not 0 <= start <= stop:
            raise UsageError(f"leaf range [{start}, {stop}) out of range")
        try:
            with self._lock:
                if stop > self.size():
                    raise UsageError(f"leaf range [{start}, {stop}) out of range")
                return self._leaves_raw(start, stop)
        except sqlite3.Error as exc:
            self._raise(exc, f"reading leaf hashes {start}..{stop - 1}")

    def _read_head(self, key_id: bytes) -> AuthorHead | None:
        try:
            with self._lock:
                row = self._conn.execute(_SQL_HEAD, (key_id,)).fetchone()
        except sqlite3.Error as exc:
            self._raise(exc, "reading an author head")
        return None if row is None else AuthorHead(int(row[0]), bytes(row[1]))

    def author_head(self, key_id: bytes) -> AuthorHead | None:
        return self._read_head(key_id)

    def checkpoints(self) -> list[StoredCheckpoint]:
        try:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT size, note FROM checkpoints ORDER BY id"
                ).fetchall()
        except sqlite3.Error as exc:
            self._raise(exc, "reading checkpoints")
        return [StoredCheckpoint(int(size), str(note)) for size, note in rows]

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        try:
            with self._lock:
                row = self._conn.execute(
                    "SELECT size, note FROM checkpoints ORDER BY id DESC LIMIT 1"
                ).fetchone()
        except sqlite3.Error as exc:
            self._raise(exc, "reading checkpoints")
        return None if row is None else StoredCheckpoint(int(row[0]), str(row[1]))

    # ------------------------------------------------------------------ writes

    def add_checkpoint(self, size: int, note: str) -> None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise UsageError(f"checkpoint size {size!r} is not a non-negative integer")
        if not isinstance(note, str):
            raise UsageError("a checkpoint note is text")
        self._check_writable()
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    row = conn.execute(_SQL_SIZE).fetchone()
                    n = 0 if row[0] is None else int(row[0]) + 1
                    if size > n:
                        raise UsageError(f"checkpoint size {size} beyond the log size {n}")
                    conn.execute("INSERT INTO checkpoints (size, note) VALUES (?, ?)", (size, note))
                    conn.execute("COMMIT")
                except BaseException:
                    self._rollback()
                    raise
            except sqlite3.Error as exc:
                self._raise(exc, "storing a checkpoint")

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            # SQLite may have rolled back already (e.g. after SQLITE_FULL)
            with suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")

    @contextmanager
    def transaction(self) -> Iterator[StoreTx]:
        self._check_writable()
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                row = conn.execute(_SQL_SIZE).fetchone()
            except sqlite3.Error as exc:
                self._rollback()
                self._raise(exc, "starting a write transaction")
            tx = _SQLiteTx(self, conn, 0 if row[0] is None else int(row[0]) + 1)
            try:
                yield tx
                tx._write()
                conn.execute("COMMIT")
                self._known_size = max(self._known_size, tx.size)
            except sqlite3.Error as exc:
                self._rollback()
                self._raise(exc, f"committing {len(tx._entries)} entries")
            except BaseException:
                self._rollback()
                raise

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                try:
                    self._conn.close()
                except sqlite3.Error as exc:
                    raise StorageError(f"{self._where}: close failed: {exc}") from exc

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self._path)!r}, origin={self._origin!r})"

    def __del__(self) -> None:
        try:
            if not self._closed:
                self._conn.close()
        except (AttributeError, ElectlogError, sqlite3.Error):
            pass
