"""PostgreSQL store (psycopg 3) for a central election service with many clients.

Same tables and guarantees as :class:`~electlog.store.SQLiteStore`, with an ``electlog_`` table
prefix (``electlog_meta``, ``electlog_entries``, ``electlog_nodes``, ``electlog_checkpoints``,
``electlog_heads``); one log per database (or per schema, chosen with the DSN's
``options=-csearch_path=...``). A write transaction runs ``LOCK TABLE electlog_entries IN
EXCLUSIVE MODE`` first: concurrent writers queue on that lock, so insert order equals commit
order, indexes have no gaps, and the primary key forbids two entries at one index. Readers are
never blocked. The ``COMMIT`` (with PostgreSQL's default ``synchronous_commit = on``) is the
durability point.

psycopg is imported when a store is opened, so electlog works without it installed; install it
with ``pip install 'electlog[postgres]'``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, Final, NoReturn

from ..errors import (
    DiskFullError,
    ReadOnlyStoreError,
    StorageError,
    StoreCorruptedError,
    UsageError,
)
from . import _common
from .base import DamageKind, StoreDamage, StoreTx

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresStore"]

_CREATE_LOCK: Final = 0x454C4C47  # advisory lock key held while creating the tables

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS electlog_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS electlog_entries "
    "(idx BIGINT PRIMARY KEY, data BYTEA NOT NULL, leaf BYTEA NOT NULL)",
    "CREATE TABLE IF NOT EXISTS electlog_nodes (level SMALLINT NOT NULL, idx BIGINT NOT NULL, "
    "hash BYTEA NOT NULL, PRIMARY KEY (level, idx))",
    "CREATE TABLE IF NOT EXISTS electlog_checkpoints "
    "(id BIGSERIAL PRIMARY KEY, size BIGINT NOT NULL, note TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS electlog_heads "
    "(author BYTEA PRIMARY KEY, seq BIGINT NOT NULL, prev BYTEA NOT NULL)",
)
_TABLES: Final = frozenset(
    {
        "electlog_meta",
        "electlog_entries",
        "electlog_nodes",
        "electlog_checkpoints",
        "electlog_heads",
    }
)

_QUERIES: Final = _common.Queries.for_tables("electlog_", "%s")
_SQL_SIZE: Final = _QUERIES.size
_SQL_UPSERT_HEAD: Final = (
    "INSERT INTO electlog_heads (author, seq, prev) VALUES (%s, %s, %s) "
    "ON CONFLICT (author) DO UPDATE SET seq = EXCLUDED.seq, prev = EXCLUDED.prev"
)

# SQLSTATE classes and codes mapped to electlog errors.
_DISK_FULL: Final = frozenset({"53100"})
_READ_ONLY: Final = frozenset({"25006", "42501"})
_CORRUPT: Final = frozenset({"XX001", "XX002"})


def _import_psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise StorageError(
            "PostgresStore needs psycopg 3: pip install 'electlog[postgres]'"
        ) from exc
    return psycopg


class _PostgresTx(_common.StagingTx):
    """Stages a batch in Python lists; :meth:`PostgresStore.transaction` writes it at commit."""

    __slots__ = ()

    def _write(self, conn: psycopg.Connection[Any]) -> None:
        """Validate the staged nodes and write everything (inside the open transaction)."""
        if not self._check_staged():
            return
        with conn.cursor() as cur:
            with cur.copy("COPY electlog_entries (idx, data, leaf) FROM STDIN") as copy:
                for row in self._entries:
                    copy.write_row(row)
            if self._nodes:
                with cur.copy("COPY electlog_nodes (level, idx, hash) FROM STDIN") as copy:
                    for (level, idx), h in self._nodes.items():
                        copy.write_row((level, idx, h))
            cur.executemany(_SQL_UPSERT_HEAD, list(self._heads.values()))


class PostgresStore(_common.DurableStore):
    """A log in a PostgreSQL database (see the module docstring).

    ``PostgresStore("postgresql://user:pw@host/db", origin="example.org/log")`` creates the
    tables if needed (``create=False`` requires them). Opening runs the same checks as
    :class:`~electlog.store.SQLiteStore` (contiguous entries, node rows per level, newest leaf
    hashes, root at the latest checkpoint) and raises
    :class:`~electlog.errors.StoreCorruptedError` if they fail. ``read_only=True`` opens a
    read-only session. ``lock_timeout`` bounds how long a writer waits for another writer
    (seconds; ``None`` waits indefinitely).
    """

    supports_multiprocess: Final = True
    """Any number of processes (and machines) may open the database and append."""

    _q = _QUERIES
    _conn: psycopg.Connection[Any]

    def __init__(
        self,
        dsn: str,
        *,
        origin: str | None = None,
        create: bool = True,
        read_only: bool = False,
        lock_timeout: float | None = 120.0,
        cache_bytes: int = 64 << 20,
    ) -> None:
        if not isinstance(dsn, str) or not dsn:
            raise UsageError("PostgresStore needs a DSN string")
        _common.check_origin_arg(origin)
        self._psycopg = _import_psycopg()
        super().__init__(
            where=f"PostgreSQL store {_redact(dsn)!r}",
            read_only=read_only,
            cache_bytes=cache_bytes,
            db_error=self._psycopg.Error,
        )
        self._in_tx = False
        try:
            self._conn = self._psycopg.connect(dsn, autocommit=True)
        except self._psycopg.Error as exc:
            self._raise(exc, "connect")
        try:
            if lock_timeout is not None:
                ms = max(1, int(lock_timeout * 1000))
                self._conn.execute(f"SET lock_timeout = {ms}")
            if self._read_only:
                self._conn.execute("SET default_transaction_read_only = on")
            self._origin = self._open(origin, create)
            self._open_check()
        except self._psycopg.Error as exc:
            self._conn.close()
            try:
                self._raise(exc, "open")
            finally:
                self._closed = True
        except BaseException:
            self._closed = True
            self._conn.close()
            raise

    # ------------------------------------------------------------------ opening

    def _tables(self) -> set[str]:
        rows = self._conn.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_name LIKE 'electlog%%'"
        ).fetchall()
        return {str(r[0]) for r in rows}

    def _open(self, origin: str | None, create: bool) -> str:
        conn = self._conn
        tables = self._tables()
        if not tables:
            origin = self._may_create(origin, create)
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_CREATE_LOCK,))
                for sql in _SCHEMA:
                    conn.execute(sql)
                conn.execute(
                    "INSERT INTO electlog_meta (key, value) VALUES (%s, %s), (%s, %s) "
                    "ON CONFLICT (key) DO NOTHING",
                    ("origin", origin, "format", str(_common.STORE_FORMAT_VERSION)),
                )
            tables = self._tables()
        if not tables >= _TABLES:
            raise StoreCorruptedError(
                f"{self._where}: electlog tables missing: {sorted(_TABLES - tables)}"
            )
        meta = {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM electlog_meta")}
        return _common.check_meta(meta, str(_common.STORE_FORMAT_VERSION), origin, self._where)

    def _damage(self, full: bool) -> list[StoreDamage]:
        conn = self._conn
        found: list[StoreDamage] = []
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                self._scan(full, found)
        except self._psycopg.Error as exc:
            if (getattr(exc, "sqlstate", None) or "") not in _CORRUPT:
                self._raise(exc, "integrity check")
            found.append(
                StoreDamage(
                    kind=DamageKind.FILE,
                    message=f"{self._where}: the database reports damage: {str(exc).strip()}",
                )
            )
        return found

    # ------------------------------------------------------------------ errors

    def _raise(self, exc: BaseException, what: str) -> NoReturn:
        state = getattr(exc, "sqlstate", None) or ""
        msg = f"{self._where}: {what} failed: {str(exc).strip()}"
        if self._closed:
            raise UsageError(f"{self._where} is closed") from exc
        if state in _DISK_FULL:
            raise DiskFullError(msg) from exc
        if state in _READ_ONLY:
            raise ReadOnlyStoreError(msg) from exc
        if state in _CORRUPT:
            self._corrupted = msg
            raise StoreCorruptedError(msg) from exc
        raise StorageError(msg) from exc

    def _in_write_tx(self) -> bool:
        return self._in_tx

    # ------------------------------------------------------------------ writes

    def add_checkpoint(self, size: int, note: str) -> None:
        _common.check_checkpoint_args(size, note)
        self._check_writable()
        try:
            with self._lock, self._conn.transaction():
                self._conn.execute("LOCK TABLE electlog_entries IN EXCLUSIVE MODE")
                row = self._conn.execute(_SQL_SIZE).fetchone()
                n = 0 if row is None or row[0] is None else int(row[0]) + 1
                if size > n:
                    raise UsageError(f"checkpoint size {size} beyond the log size {n}")
                self._conn.execute(
                    "INSERT INTO electlog_checkpoints (size, note) VALUES (%s, %s)", (size, note)
                )
        except self._psycopg.Error as exc:
            self._raise(exc, "storing a checkpoint")

    @contextmanager
    def transaction(self) -> Iterator[StoreTx]:
        self._check_writable()
        with self._lock:
            conn = self._conn
            try:
                ctx = conn.transaction()
                ctx.__enter__()
            except self._psycopg.Error as exc:
                self._raise(exc, "starting a write transaction")
            self._in_tx = True
            try:
                try:
                    conn.execute("LOCK TABLE electlog_entries IN EXCLUSIVE MODE")
                    row = conn.execute(_SQL_SIZE).fetchone()
                except self._psycopg.Error as exc:
                    self._raise(exc, "taking the write lock")
                base = 0 if row is None or row[0] is None else int(row[0]) + 1
                tx = _PostgresTx(base, self.author_head, self._read_node)
                yield tx
                try:
                    tx._write(conn)
                except self._psycopg.Error as exc:
                    self._raise(exc, f"writing {len(tx._entries)} entries")
            except BaseException as exc:
                self._in_tx = False
                # if the connection is gone the server rolls back by itself
                with suppress(self._psycopg.Error):
                    ctx.__exit__(type(exc), exc, exc.__traceback__)
                raise
            self._in_tx = False
            try:
                ctx.__exit__(None, None, None)  # COMMIT
            except self._psycopg.Error as exc:
                self._raise(exc, f"committing {len(tx._entries)} entries")
            self._known_size = max(self._known_size, tx.size)

    def __repr__(self) -> str:
        return f"PostgresStore({self._where}, origin={self._origin!r})"


def _redact(dsn: str) -> str:
    """The DSN without its password (for messages)."""
    try:
        import urllib.parse

        parts = urllib.parse.urlsplit(dsn)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "<dsn>"
    return dsn
