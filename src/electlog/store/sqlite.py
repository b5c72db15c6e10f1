"""The embedded default store: one SQLite file (stdlib :mod:`sqlite3`), WAL, synchronous FULL.

Guarantees (docs/storage.md): a transaction takes SQLite's write lock with ``BEGIN IMMEDIATE``
(so writers in other processes wait, up to ``timeout`` seconds, instead of failing), re-reads the
size and heads under that lock, writes the whole batch with ``executemany`` and commits; the
``COMMIT`` is the durability point (one WAL fsync per batch). A crash before it loses the batch
and nothing else; after it, the batch survives.

Tables: ``meta`` (origin, format version), ``entries (idx INTEGER PRIMARY KEY, data, leaf)``,
``nodes (level, idx, hash)`` with primary key ``(level, idx)`` (levels >= 1; level 0 is the
``leaf`` column), ``checkpoints (id, size, note)`` and ``heads (author PRIMARY KEY, seq, prev)``.
A file is opened only when its schema is exactly these tables (no view, trigger or index of
anyone else's), with ``trusted_schema`` off and every value capped at 1 MiB.

Signed checkpoints survive what SQLite cannot tell from a crash (a damaged write-ahead-log
frame, a copy of the file without its ``-wal``): :meth:`SQLiteStore.add_checkpoint` commits,
copies the write-ahead log into the database file, and then writes the latest checkpoint note
atomically to ``<file>-checkpoint`` next to it (fsynced). Every open checks the store against
that note: a store shorter than it, whose tree differs from it, or that lacks it is
:class:`~electlog.errors.StoreCorruptedError`.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Final, NoReturn

from .. import merkle
from .._files import NotASmallFileError, read_small_file, write_atomic
from ..checkpoint import Checkpoint
from ..errors import (
    CheckpointError,
    DiskFullError,
    ElectlogError,
    ReadOnlyStoreError,
    StorageError,
    StoreCorruptedError,
    UsageError,
)
from . import _integrity, _sql
from ._integrity import (
    MAX_STORED_NOTE_SIZE,
    DigestQueries,
    Scan,
    StoredTree,
    checkpoint_text,
)
from ._staging import StagingTx
from .base import DamageKind, StoreDamage, StoreTx

__all__ = ["SQLiteStore"]

APPLICATION_ID: Final = 0x454C4C47  # "ELLG": marks a SQLite file as an electlog store

# SQLite primary result codes (the low byte of extended codes).
_SQLITE_READONLY: Final = 8
_SQLITE_CORRUPT: Final = 11
_SQLITE_FULL: Final = 13
_SQLITE_TOOBIG: Final = 18
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
_MASTER: Final = frozenset(("table", sql.split()[2], sql.split()[2], sql) for sql in _SCHEMA)
"""sqlite_master of an electlog store: exactly these rows (type, name, tbl_name, sql)."""
_STAT_TABLES: Final = frozenset({"sqlite_stat1", "sqlite_stat4"})  # made by ANALYZE: allowed
_VALUE_LIMIT: Final = 1 << 20
"""SQLITE_LIMIT_LENGTH of every connection: no value read or written exceeds 1 MiB (an entry is
at most 64 KiB, a checkpoint note at most 64 KiB)."""
SIDECAR_SUFFIX: Final = "-checkpoint"
"""The latest signed checkpoint note is kept in ``<database file>-checkpoint``."""

_QUERIES: Final = _sql.Queries.for_tables("", "?")
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


def _is_corrupt(exc: BaseException) -> bool:
    """Whether a sqlite3 error means the database file is damaged."""
    text = str(exc)
    return (
        _code(exc) in (_SQLITE_CORRUPT, _SQLITE_NOTADB, _SQLITE_TOOBIG)
        or "not a database" in text
        or "malformed" in text
        or "too big" in text  # a value over the 1 MiB cap: electlog never writes one
    )


def harden_connection(conn: sqlite3.Connection, *, read_only: bool) -> None:
    """Settings for every connection to a file that may be hostile: no value longer than
    1 MiB is read or written, functions with side effects are not run from the schema, and a
    read-only connection cannot write."""
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, _VALUE_LIMIT)
    conn.execute("PRAGMA trusted_schema = OFF")
    if read_only:
        conn.execute("PRAGMA query_only = ON")


def check_schema(conn: sqlite3.Connection, where: str) -> None:
    """Raise :class:`StoreCorruptedError` unless the schema is exactly electlog's tables (a view,
    trigger or index someone added could run any query -- a recursive view, a view yielding a
    huge value -- when electlog reads its tables). Reading the schema runs none of it."""
    rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    extra = [
        f"{r[0]} {r[1]!r}"
        for r in rows
        if tuple(r) not in _MASTER and not (r[0] == "table" and r[1] in _STAT_TABLES)
    ]
    missing = _MASTER - {tuple(r) for r in rows}
    if extra or missing:
        what = ", ".join(extra) or f"table {sorted(m[1] for m in missing)[0]!r} differs"
        raise StoreCorruptedError(
            f"{where}: not an electlog store: its schema is not electlog's ({what})"
        )


class _SQLiteTx(StagingTx):
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


class SQLiteStore(_sql.DurableStore):
    """A log in one SQLite file.

    ``SQLiteStore(path, origin="example.org/log")`` creates the file if needed (``create=False``
    requires an existing store). Opening an existing store checks that it belongs to ``origin``
    (when given), that its entries are contiguous, that the Merkle node rows match the size,
    that the newest entries hash to their leaves, and that the stored tree's root at the latest
    checkpoint equals that checkpoint's root; any failure raises
    :class:`~electlog.errors.StoreCorruptedError`. ``read_only=True`` opens without write access;
    with it, ``check_on_open=False`` skips the open's check (and :attr:`problems` stays empty),
    for a caller that runs :meth:`find_damage` (``full=True``) or :meth:`stored_tree` before
    reading anything else. ``timeout`` is how long a writer waits for another writer's lock
    (seconds); ``cache_bytes`` bounds the in-memory cache of Merkle node blocks used for fast
    proofs; ``page_cache_bytes`` SQLite's own page cache (``PRAGMA cache_size``; a one-pass scan
    such as the auditor's full check needs little)."""

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
        page_cache_bytes: int = 32 << 20,
        check_on_open: bool = True,
    ) -> None:
        _sql.check_origin_arg(origin)
        if isinstance(page_cache_bytes, bool) or not isinstance(page_cache_bytes, int):
            raise UsageError("page_cache_bytes must be an int")
        self._page_cache_kib = max(64, page_cache_bytes >> 10)
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
            check_on_open=check_on_open,
        )
        try:
            exists = self._path.is_file() and self._path.stat().st_size > 0
        except OSError as exc:
            raise StorageError(f"{self._where}: cannot inspect the file: {exc}") from exc
        if not exists and (read_only or not create):
            raise StorageError(f"{self._where} does not exist")
        self._stored: StoredTree | None = None  # the latest stored-tree summary
        self._conn = self._connect(timeout)
        try:
            self._origin = self._open(origin, create)
            self._open_check()
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
            harden_connection(conn, read_only=self._read_only)
            conn.execute(f"PRAGMA cache_size = -{self._page_cache_kib}")
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
                if self.sidecar_path.exists():
                    raise StoreCorruptedError(
                        f"{self._where} holds no log, but {str(self.sidecar_path)!r} keeps a "
                        "signed checkpoint of a log stored here: the database was lost or "
                        "replaced (restore it, or remove that file to start a new log)"
                    )
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
                            [("origin", origin), ("format", _sql.STORE_FORMAT_VERSION)],
                        )
                        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                        conn.execute(f"PRAGMA user_version = {_sql.STORE_FORMAT_VERSION}")
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
            self._check_schema()
            app = conn.execute("PRAGMA application_id").fetchone()[0]
            if app != APPLICATION_ID:
                raise StoreCorruptedError(f"{self._where}: not an electlog store (application id)")
            meta = dict(conn.execute("SELECT key, value FROM meta LIMIT 16").fetchall())
        except sqlite3.Error as exc:
            self._raise(exc, "open")
        return _sql.check_meta(meta, _sql.STORE_FORMAT_VERSION, origin, self._where)

    def _check_schema(self) -> None:
        check_schema(self._conn, self._where)

    def stored_tree(
        self, *, leaves: bool = True
    ) -> tuple[tuple[StoreDamage, ...], StoredTree | None]:
        """The full integrity check (:meth:`find_damage`) for a reader that computed the
        entries' leaf hashes and tree itself (the audit): every check but the entries' pass and
        the author heads' comparison, which read the entry bytes; instead, the stored-tree
        summary (a ``StoredTree``: each level of the stored tree hashed, in index order, from
        level 1 with ``leaves=False``, and the stored heads), None when a leaf or node row is
        missing or not well formed. Only a summary equal to the reader's own tree and heads,
        with no damage, says what the full check says; else :meth:`find_damage` names it."""
        q = _integrity.SQLITE_DIGESTS if leaves else _integrity.SQLITE_DIGESTS_ABOVE_LEAVES
        with self._lock:
            found = self._damage(True, q)
            stored = self._stored
        return tuple(found), stored

    def _damage(self, full: bool, digests: DigestQueries | None = None) -> list[StoreDamage]:
        conn = self._conn
        found: list[StoreDamage] = []
        self._stored = None
        try:
            self._file_size_damage(found)
            note = self._read_sidecar(found)  # before the snapshot: it is never newer than it
            if full:
                rows = conn.execute("PRAGMA integrity_check(20)").fetchall()
                problems = [str(r[0]) for r in rows]
                if problems != ["ok"]:
                    found.append(
                        StoreDamage(
                            kind=DamageKind.FILE,
                            message=f"{self._where}: SQLite integrity check: {problems[:3]}",
                        )
                    )
            conn.execute("BEGIN")  # one consistent snapshot for all checks
            try:
                scan = self._scan(full, found, digests)
                self._stored = scan.stored
                if note is not None:
                    self._check_sidecar(note, scan, found)
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if not _is_corrupt(exc):
                self._raise(exc, "integrity check")
            found.append(
                StoreDamage(
                    kind=DamageKind.FILE,
                    message=f"{self._where}: the database file is damaged: {exc}",
                )
            )
        return found

    def _file_size_damage(self, found: list[StoreDamage]) -> None:
        """A file cut short or padded: SQLite writes whole pages, and without a write-ahead log
        to replay the file holds at least the pages its header counts."""
        try:
            with self._path.open("rb") as fh:
                header = fh.read(100)
                length = os.fstat(fh.fileno()).st_size
            wal = Path(str(self._path) + "-wal")
            wal_pending = wal.exists() and wal.stat().st_size > 0
        except OSError:
            return  # the database open itself reports an unreadable file
        if len(header) < 100:
            problem = f"the file is {length} bytes, shorter than a SQLite header"
        else:
            page = int.from_bytes(header[16:18], "big")
            page = 65536 if page == 1 else page
            counted = int.from_bytes(header[28:32], "big")
            if page < 512 or length % page:
                problem = f"the file is {length} bytes, not a whole number of {page}-byte pages"
            elif not wal_pending and counted * page > length:
                problem = (
                    f"the file holds {length // page} pages, its header counts {counted}: "
                    "it was cut short"
                )
            else:
                return
        found.append(StoreDamage(kind=DamageKind.FILE, message=f"{self._where}: {problem}"))

    # ------------------------------------------------------------------ the checkpoint sidecar

    @property
    def sidecar_path(self) -> Path:
        """Where the latest signed checkpoint note is kept outside the database."""
        return Path(str(self._path) + SIDECAR_SUFFIX)

    def _read_sidecar(self, found: list[StoreDamage]) -> tuple[Checkpoint, str] | None:
        """The checkpoint kept next to the database, None if there is none (a store made before
        this file existed, or one that never had a checkpoint)."""
        path = self.sidecar_path
        try:
            raw = read_small_file(path, MAX_STORED_NOTE_SIZE)
        except FileNotFoundError:
            return None
        except OSError as exc:
            problem = f"cannot be read: {exc.strerror}"
        except NotASmallFileError as exc:
            problem = f"is not a checkpoint note: it {exc}"
        else:
            try:
                note = raw.decode("utf-8")
                return Checkpoint.from_text(checkpoint_text(note)), note
            except (UnicodeDecodeError, CheckpointError, UsageError) as exc:
                problem = f"is not a checkpoint note: {exc}"
        found.append(
            StoreDamage(
                kind=DamageKind.CHECKPOINT,
                message=f"{self._where}: the latest signed checkpoint {str(path)!r} {problem}",
            )
        )
        return None

    def _check_sidecar(
        self, kept: tuple[Checkpoint, str], scan: Scan, found: list[StoreDamage]
    ) -> None:
        """The store must hold the checkpoint kept next to it: its entries, its root, its note."""
        cp, note = kept
        side = repr(str(self.sidecar_path))
        if cp.origin != self._origin:
            problem = f"the signed checkpoint {side} is for log {cp.origin!r}"
        elif scan.size < cp.size:
            problem = (
                f"the store holds {scan.size} entries, but its latest signed checkpoint "
                f"({side}) commits to {cp.size}: signed entries were lost (a damaged "
                "write-ahead log, or a copy of the file without its -wal file)"
            )
        else:
            try:
                root = merkle.root_at(scan.read_node, cp.size)
            except ElectlogError:
                root = b""  # damage already reported by the scan
            rows = self._conn.execute(
                "SELECT COUNT(*) FROM checkpoints WHERE size = ? AND note = ?", (cp.size, note)
            ).fetchone()
            if root and root != cp.root:
                problem = (
                    f"the stored tree at size {cp.size} differs from the latest signed "
                    f"checkpoint ({side}): the log was rewritten"
                )
            elif rows is None or rows[0] == 0:
                problem = (
                    f"the latest signed checkpoint ({side}, size {cp.size}) is missing from "
                    "the store: checkpoints were lost"
                )
            else:
                return
        found.append(StoreDamage(kind=DamageKind.ROLLBACK, message=f"{self._where}: {problem}"))

    def _write_sidecar(self) -> None:
        """Copy the write-ahead log into the database file and keep the newest stored
        checkpoint in the sidecar (atomically, fsynced). Runs under the write lock, so sidecar
        writes happen in commit order and the file only ever moves forward."""
        conn = self._conn
        with suppress(sqlite3.Error):  # readers may hold frames back; the sidecar still guards
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(_QUERIES.latest_checkpoint).fetchone()
            if row is None:
                return
            note = str(row[1]).encode("utf-8")
            target = self.sidecar_path
            try:
                write_atomic(target, note)
            except OSError as exc:
                msg = (
                    f"{self._where}: the checkpoint was stored, but keeping a copy in "
                    f"{str(target)!r} failed: {exc.strerror}"
                )
                if exc.errno == errno.ENOSPC:
                    raise DiskFullError(msg) from exc
                raise StorageError(msg) from exc
        finally:
            self._rollback()

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
        if _is_corrupt(exc):
            msg = f"{self._where}: {what} failed: the database file is damaged ({text})"
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
        _sql.check_checkpoint_args(size, note)
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
                self._write_sidecar()
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
