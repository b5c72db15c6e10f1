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
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Final, NoReturn

from ..errors import (
    DiskFullError,
    ReadOnlyStoreError,
    StorageError,
    StoreCorruptedError,
    UsageError,
)
from . import _common
from .base import StoreTx

__all__ = ["SQLiteStore"]

APPLICATION_ID: Final = 0x454C4C47  # "ELLG": marks a SQLite file as an electlog store

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

_QUERIES: Final = _common.Queries.for_tables("", "?")
_SQL_SIZE: Final = _QUERIES.size
_SQL_INSERT_ENTRY: Final = "INSERT INTO entries (idx, data, leaf) VALUES (?, ?, ?)"
_SQL_INSERT_NODE: Final = "INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)"
_SQL_UPSERT_HEAD: Final = (
    "INSERT INTO heads (author, seq, prev) VALUES (?, ?, ?) "
    "ON CONFLICT (author) DO UPDATE SET seq = excluded.seq, prev = excluded.prev"
)


def _code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


class _SQLiteTx(_common.StagingTx):
    """Stages a batch in Python lists; :meth:`SQLiteStore.transaction` writes it at commit."""

    __slots__ = ()

    def _write(self, conn: sqlite3.Connection) -> None:
        """Validate the staged nodes and write everything (inside the open transaction)."""
        if not self._check_staged():
            return
        conn.executemany(_SQL_INSERT_ENTRY, self._entries)
        if self._nodes:
            conn.executemany(
                _SQL_INSERT_NODE, [(lvl, idx, h) for (lvl, idx), h in self._nodes.items()]
            )
        conn.executemany(_SQL_UPSERT_HEAD, self._heads.values())


class SQLiteStore(_common.DurableStore):
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

    _q = _QUERIES
    _conn: sqlite3.Connection

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
        _common.check_origin_arg(origin)
        try:
            self._path = Path(os.fspath(path))
        except TypeError as exc:
            raise UsageError(
                f"SQLite store path must be a path, got {type(path).__name__}"
            ) from exc
        super().__init__(
            where=f"SQLite store {str(self._path)!r}",
            read_only=read_only,
            cache_bytes=cache_bytes,
            db_error=sqlite3.Error,
        )
        try:
            exists = self._path.is_file() and self._path.stat().st_size > 0
        except OSError as exc:
            raise StorageError(f"{self._where}: cannot inspect the file: {exc}") from exc
        if not exists and (read_only or not create):
            raise StorageError(f"{self._where} does not exist")
        self._conn = self._connect(timeout)
        try:
            self._origin = self._open(origin, create)
            self.check_integrity()
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
                origin = self._may_create(origin, create)
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
        return _common.check_meta(meta, _common.STORE_FORMAT_VERSION, origin, self._where)

    def _check(self, full: bool) -> None:
        conn = self._conn
        try:
            if full:
                problems = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
                if problems != ["ok"]:
                    raise StoreCorruptedError(f"{self._where}: integrity check: {problems[:3]}")
            conn.execute("BEGIN")  # one consistent snapshot for all checks
            try:
                self._check_rows(full)
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._raise(exc, "integrity check")

    # ------------------------------------------------------------------ errors

    def _raise(self, exc: BaseException, what: str) -> NoReturn:
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

    def _in_write_tx(self) -> bool:
        return self._conn.in_transaction

    # ------------------------------------------------------------------ reads

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    # ------------------------------------------------------------------ writes

    def add_checkpoint(self, size: int, note: str) -> None:
        _common.check_checkpoint_args(size, note)
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
            base = 0 if row[0] is None else int(row[0]) + 1
            tx = _SQLiteTx(base, self.author_head, self._read_node)
            try:
                yield tx
                tx._write(conn)
                conn.execute("COMMIT")
                self._known_size = max(self._known_size, tx.size)
            except sqlite3.Error as exc:
                self._rollback()
                self._raise(exc, f"committing {len(tx._entries)} entries")
            except BaseException:
                self._rollback()
                raise

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self._path)!r}, origin={self._origin!r})"
