"""PostgreSQL store (psycopg 3) for a central election service with many clients.

Same tables and guarantees as :class:`~electlog.store.SQLiteStore`, with an ``electlog_`` table
prefix (``electlog_meta``, ``electlog_entries``, ``electlog_nodes``, ``electlog_checkpoints``,
``electlog_heads``); one log per database (or per schema, chosen with the DSN's
``options=-csearch_path=...``). A write transaction runs ``LOCK TABLE electlog_entries IN
EXCLUSIVE MODE`` first: concurrent writers queue on that lock, so insert order equals commit
order, indexes have no gaps, and the primary key forbids two entries at one index. Readers are
never blocked. The ``COMMIT`` (with PostgreSQL's default ``synchronous_commit = on``) is the
durability point.

The store survives a server restart or a dropped connection: the next call reconnects (a bounded
number of attempts, then :class:`~electlog.errors.StoreUnavailableError`), and a read that meets
a lost connection is repeated once on the new one. A write is never repeated: one interrupted
before its ``COMMIT`` was sent rolled back on the server (``StoreUnavailableError``, nothing
written); one whose ``COMMIT`` got no answer is resolved by reading the log back under the write
lock -- the batch's leaf hashes at the indexes it took mean it committed (the caller gets its
receipts), anything else that it did not -- and only if the server stays unreachable is it
:class:`~electlog.errors.CommitOutcomeUnknownError`.

psycopg is imported when a store is opened, so electlog works without it installed; install it
with ``pip install 'electlog[postgres]'``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, Final, NoReturn, TypeVar

from ..errors import (
    CommitOutcomeUnknownError,
    DiskFullError,
    ReadOnlyStoreError,
    StorageError,
    StoreCorruptedError,
    StoreUnavailableError,
    UsageError,
)
from . import _sql
from ._staging import StagingTx
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

_QUERIES: Final = _sql.Queries.for_tables("electlog_", "%s")
_SQL_SIZE: Final = _QUERIES.size
_SQL_UPSERT_HEAD: Final = (
    "INSERT INTO electlog_heads (author, seq, prev) VALUES (%s, %s, %s) "
    "ON CONFLICT (author) DO UPDATE SET seq = EXCLUDED.seq, prev = EXCLUDED.prev"
)

# SQLSTATE classes and codes mapped to electlog errors.
_DISK_FULL: Final = frozenset({"53100"})
_READ_ONLY: Final = frozenset({"25006", "42501"})
_CORRUPT: Final = frozenset({"XX001", "XX002"})

_T = TypeVar("_T")


def _import_psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise StorageError(
            "PostgresStore needs psycopg 3: pip install 'electlog[postgres]'"
        ) from exc
    return psycopg


class _PostgresTx(StagingTx):
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


class PostgresStore(_sql.DurableStore):
    """A log in a PostgreSQL database (see the module docstring).

    ``PostgresStore("postgresql://user:pw@host/db", origin="example.org/log")`` creates the
    tables if needed (``create=False`` requires them). Opening runs the same checks as
    :class:`~electlog.store.SQLiteStore` (contiguous entries, node rows per level, newest leaf
    hashes, root at the latest checkpoint) and raises
    :class:`~electlog.errors.StoreCorruptedError` if they fail. ``read_only=True`` opens a
    read-only session; with it, ``check_on_open=False`` skips the open's check, for a caller
    that runs :meth:`find_damage` (``full=True``) before anything else. ``lock_timeout``
    bounds how long a writer waits for another writer (seconds; ``None`` waits indefinitely).

    A lost connection (server restart, ``pg_terminate_backend``, network) is replaced on the next
    call: up to ``reconnect_attempts`` connection attempts, ``connect_timeout`` seconds each, with
    a short growing pause between them; then
    :class:`~electlog.errors.StoreUnavailableError`. See the module docstring for how a write
    interrupted by a lost connection is resolved.
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
        reconnect_attempts: int = 5,
        connect_timeout: float = 10.0,
        check_on_open: bool = True,
    ) -> None:
        if not isinstance(dsn, str) or not dsn:
            raise UsageError("PostgresStore needs a DSN string")
        _sql.check_origin_arg(origin)
        if not isinstance(reconnect_attempts, int) or reconnect_attempts < 1:
            raise UsageError("reconnect_attempts must be a positive integer")
        if not isinstance(connect_timeout, (int, float)) or not connect_timeout > 0:
            raise UsageError("connect_timeout must be a positive number of seconds")
        self._dsn = dsn
        self._lock_timeout = lock_timeout
        self._reconnect_attempts = reconnect_attempts
        # libpq takes whole seconds and treats 1 as 2
        self._connect_timeout = max(2, round(connect_timeout))
        self._psycopg = _import_psycopg()
        super().__init__(
            where=f"PostgreSQL store {_redact(dsn)!r}",
            read_only=read_only,
            cache_bytes=cache_bytes,
            db_error=self._psycopg.Error,
            check_on_open=check_on_open,
        )
        self._in_tx = False
        try:
            self._conn = self._connect()
        except self._psycopg.Error as exc:
            self._raise(exc, "connect")
        try:
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

    # ------------------------------------------------------------------ connections

    def _connect(self) -> psycopg.Connection[Any]:
        """A new autocommit connection with this store's session settings."""
        conn: psycopg.Connection[Any] = self._psycopg.connect(
            self._dsn, autocommit=True, connect_timeout=self._connect_timeout
        )
        try:
            if self._lock_timeout is not None:
                ms = max(1, int(self._lock_timeout * 1000))
                conn.execute(f"SET lock_timeout = {ms}")
            if self._read_only:
                conn.execute("SET default_transaction_read_only = on")
        except BaseException:
            conn.close()
            raise
        return conn

    def _lost(self) -> bool:
        """Whether the connection is gone (psycopg marks it broken once an I/O on it failed)."""
        conn = getattr(self, "_conn", None)
        return conn is not None and bool(conn.broken or conn.closed) and not self._closed

    def _reconnect(self) -> None:
        """Replace a lost connection: bounded attempts, then StoreUnavailableError. The new
        connection must show the same log, at least as long as this handle has seen it."""
        with suppress(Exception):
            self._conn.close()
        last: BaseException | None = None
        for attempt in range(self._reconnect_attempts):
            if attempt:
                time.sleep(min(2.0, 0.1 * 2**attempt))
            try:
                conn = self._connect()
            except self._psycopg.Error as exc:
                last = exc
                continue
            try:
                row = conn.execute(
                    "SELECT (SELECT value FROM electlog_meta WHERE key = 'origin'), "
                    "(SELECT MAX(idx) FROM electlog_entries)"
                ).fetchone()
            except self._psycopg.Error as exc:
                conn.close()
                if conn.broken:
                    last = exc
                    continue
                self._conn = conn
                self._raise(exc, "checking the store after reconnecting")
            self._conn = conn
            stored, top = (None, None) if row is None else row
            size = 0 if top is None else int(top) + 1
            if stored != self._origin:
                self._corrupted = f"after reconnecting the database holds log {stored!r}"
                raise StoreCorruptedError(f"{self._where}: {self._corrupted}")
            if size < self._known_size:
                self._corrupted = (
                    f"after reconnecting the database holds {size} entries, this handle "
                    f"already saw {self._known_size} (a restored backup or a lagging replica?)"
                )
                raise StoreCorruptedError(f"{self._where}: {self._corrupted}")
            return
        raise StoreUnavailableError(
            f"{self._where}: the connection to the server was lost and "
            f"{self._reconnect_attempts} attempts to reconnect failed "
            f"({str(last).strip()}); nothing was written; the next call tries again"
        ) from last

    def _retrying(self, call: Callable[[], _T]) -> _T:
        """Run a read; if it met a lost connection outside a write transaction, reconnect and
        run it once more (reads are idempotent)."""
        with self._lock:
            try:
                return call()
            except StoreUnavailableError:
                if self._in_tx or not self._lost():
                    raise
            self._reconnect()
            return call()

    def _query(self, sql: str, params: Sequence[object], what: str) -> list[Any]:
        return self._retrying(lambda: super(PostgresStore, self)._query(sql, params, what))

    def _read_node(self, level: int, index: int) -> bytes:
        try:
            return super()._read_node(level, index)
        except StoreUnavailableError:
            if self._in_tx or not self._lost():
                raise
        with self._lock:
            self._reconnect()
            return super()._read_node(level, index)

    def leaf_hashes(self, start: int, stop: int) -> Sequence[bytes]:
        return self._retrying(lambda: super(PostgresStore, self).leaf_hashes(start, stop))

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
                    ("origin", origin, "format", str(_sql.STORE_FORMAT_VERSION)),
                )
            tables = self._tables()
        if not tables >= _TABLES:
            raise StoreCorruptedError(
                f"{self._where}: electlog tables missing: {sorted(_TABLES - tables)}"
            )
        meta = {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM electlog_meta")}
        return _sql.check_meta(meta, str(_sql.STORE_FORMAT_VERSION), origin, self._where)

    def _damage(self, full: bool) -> list[StoreDamage]:
        if self._closed:
            raise UsageError(f"{self._where} is closed")
        return self._retrying(lambda: self._damage_once(full))

    def _damage_once(self, full: bool) -> list[StoreDamage]:
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
        if self._lost():
            raise StoreUnavailableError(
                f"{self._where}: {what} failed: the connection to the server was lost "
                f"({str(exc).strip()}); nothing of this call was written; the store reconnects "
                "on the next call"
            ) from exc
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

    def _begin_write(self, what: str) -> int:
        """BEGIN, take the write lock and read the committed size; a connection found lost
        here (nothing written yet) is replaced once. Leaves ``_in_tx`` set."""
        for attempt in (0, 1):
            conn = self._conn
            try:
                if conn.info.transaction_status != self._psycopg.pq.TransactionStatus.IDLE:
                    # a COMMIT interrupted (KeyboardInterrupt) left a transaction open: end it,
                    # so its rows are never committed along with this write
                    conn.execute("ROLLBACK")
                conn.execute("BEGIN")
                self._in_tx = True
                conn.execute("LOCK TABLE electlog_entries IN EXCLUSIVE MODE")
                row = conn.execute(_SQL_SIZE).fetchone()
            except self._psycopg.Error as exc:
                self._rollback()
                if attempt or not self._lost():
                    self._raise(exc, what)
                self._reconnect()
                continue
            return 0 if row is None or row[0] is None else int(row[0]) + 1
        raise AssertionError("unreachable")  # pragma: no cover

    def _rollback(self) -> None:
        self._in_tx = False
        # if the connection is gone the server rolls back by itself
        with suppress(self._psycopg.Error):
            self._conn.execute("ROLLBACK")

    def _commit(self, conn: psycopg.Connection[Any]) -> None:
        """Send COMMIT (the durability point; tests interpose here)."""
        conn.execute("COMMIT")

    def _read_back(
        self, what: str, check: str, read: Callable[[psycopg.Connection[Any]], _T]
    ) -> _T:
        """After a COMMIT went unanswered: reconnect and run ``read`` under the write lock (so
        a transaction the old session still holds has ended, one way or the other)."""
        try:
            self._reconnect()
            conn = self._conn
            conn.execute("BEGIN")
            try:
                conn.execute("LOCK TABLE electlog_entries IN EXCLUSIVE MODE")
                return read(conn)
            finally:
                with suppress(self._psycopg.Error):
                    conn.execute("ROLLBACK")
        except (self._psycopg.Error, StoreUnavailableError) as exc:
            raise CommitOutcomeUnknownError(
                f"{self._where}: the connection was lost while committing {what}, and reading "
                f"the log back failed too ({str(exc).strip()}): it may or may not have been "
                f"stored. Do not resend it blindly: once the server is reachable, check {check}"
            ) from exc

    def add_checkpoint(self, size: int, note: str) -> None:
        _sql.check_checkpoint_args(size, note)
        self._check_writable()
        with self._lock:
            n = self._begin_write("storing a checkpoint")
            conn = self._conn
            try:
                if size > n:
                    raise UsageError(f"checkpoint size {size} beyond the log size {n}")
                row = conn.execute(
                    "INSERT INTO electlog_checkpoints (size, note) VALUES (%s, %s) RETURNING id",
                    (size, note),
                ).fetchone()
                cp_id = int(row[0]) if row is not None else -1
            except BaseException as exc:
                self._rollback()
                if isinstance(exc, self._psycopg.Error):
                    self._raise(exc, "storing a checkpoint")
                raise
            self._in_tx = False
            try:
                self._commit(conn)
            except self._psycopg.Error as exc:
                if not self._lost():
                    self._raise(exc, "storing a checkpoint")
                lost = exc
            else:
                return
        self._resolve_checkpoint(cp_id, size, note, lost)

    def _resolve_checkpoint(self, cp_id: int, size: int, note: str, lost: BaseException) -> None:
        with self._lock:
            what = f"the checkpoint of size {size}"
            row = self._read_back(
                what,
                "whether checkpoints() lists this note",
                lambda c: c.execute(
                    "SELECT note FROM electlog_checkpoints WHERE id = %s", (cp_id,)
                ).fetchone(),
            )
            if row is not None and str(row[0]) == note:
                return  # the COMMIT went through; only its answer was lost
            raise StoreUnavailableError(
                f"{self._where}: the connection was lost while committing {what}; read back, "
                "it was not stored; it is safe to store it again"
            ) from lost

    @contextmanager
    def transaction(self) -> Iterator[StoreTx]:
        self._check_writable()
        with self._lock:
            base = self._begin_write("taking the write lock")
            conn = self._conn
            try:
                tx = _PostgresTx(base, self.author_head, self._read_node)
                yield tx
                try:
                    tx._write(conn)
                except self._psycopg.Error as exc:
                    self._raise(exc, f"writing {len(tx._entries)} entries")
            except BaseException:
                self._rollback()
                raise
            self._in_tx = False
            try:
                self._commit(conn)
            except self._psycopg.Error as exc:
                if not self._lost():
                    self._raise(exc, f"committing {len(tx._entries)} entries")
                self._resolve_commit(tx, exc)
            self._known_size = max(self._known_size, tx.size)

    def _resolve_commit(self, tx: _PostgresTx, lost: BaseException) -> None:
        """The COMMIT of ``tx`` got no answer: return if the batch is in the log, raise
        StoreUnavailableError if it is not, CommitOutcomeUnknownError if that cannot be read."""
        base, mine = tx._base, [row[2] for row in tx._entries]
        stop = base + len(mine)
        what = f"{len(mine)} entries (indexes {base}..{stop - 1})"
        got = self._read_back(
            what,
            f"whether size() >= {stop} and leaf_hashes({base}, {stop}) equal the batch's leaf "
            "hashes (or where Log.author_head says each author's chain stands); resending an "
            "entry already stored is refused by the author-chain check",
            lambda c: [
                bytes(r[0]) for r in c.execute(_QUERIES.leaf_range, (base, stop)).fetchall()
            ],
        )
        if got == mine:
            return  # the COMMIT went through; only its answer was lost
        if not got or got[0] != mine[0]:
            raise StoreUnavailableError(
                f"{self._where}: the connection was lost while committing {what}; read back, "
                "nothing of the batch was appended; it is safe to append it again"
            ) from lost
        raise CommitOutcomeUnknownError(  # pragma: no cover - needs an identical other writer
            f"{self._where}: the connection was lost while committing {what}; read back, the "
            "log holds some of the batch's leaf hashes at those indexes but not all; check "
            "the log before resending anything"
        ) from lost

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
