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

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, Final, NoReturn

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

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresStore"]

_CHUNK: Final = 1024
_BLOCK_BITS: Final = 12
_BLOCK: Final = 1 << _BLOCK_BITS
_BLOCK_BYTES: Final = _BLOCK * 32
_HIGH_LEVEL: Final = 8
_HIGH_MAX: Final = 1 << 16
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

_SQL_SIZE: Final = "SELECT MAX(idx) FROM electlog_entries"
_SQL_LEAF: Final = "SELECT leaf FROM electlog_entries WHERE idx = %s"
_SQL_NODE: Final = "SELECT hash FROM electlog_nodes WHERE level = %s AND idx = %s"
_SQL_HEAD: Final = "SELECT seq, prev FROM electlog_heads WHERE author = %s"
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


class _PostgresTx(StoreTx):
    __slots__ = ("_base", "_entries", "_heads", "_nodes", "_store")

    def __init__(self, store: PostgresStore, base: int) -> None:
        self._store = store
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
        return self._store.author_head(key_id)

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

    def _write(self, conn: psycopg.Connection[Any]) -> None:
        if not self._entries:
            if self._nodes or self._heads:
                raise UsageError("Merkle nodes or heads staged without entries")
            return
        _common.validate_staged_nodes(self._nodes, self._base, self.size)
        with conn.cursor() as cur:
            with cur.copy("COPY electlog_entries (idx, data, leaf) FROM STDIN") as copy:
                for row in self._entries:
                    copy.write_row(row)
            if self._nodes:
                with cur.copy("COPY electlog_nodes (level, idx, hash) FROM STDIN") as copy:
                    for (level, idx), h in self._nodes.items():
                        copy.write_row((level, idx, h))
            cur.executemany(_SQL_UPSERT_HEAD, list(self._heads.values()))


class PostgresStore(Store):
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
        if origin is not None and (not isinstance(origin, str) or not origin):
            raise UsageError("origin must be a non-empty string")
        self._psycopg = _import_psycopg()
        self._read_only = bool(read_only)
        self._lock = threading.RLock()
        self._blocks: dict[tuple[int, int], bytes] = {}
        self._high: dict[tuple[int, int], bytes] = {}
        self._max_blocks = max(1, int(cache_bytes) // _BLOCK_BYTES)
        self._known_size = 0
        self._closed = False
        self._corrupted: str | None = None
        self._in_tx = False
        self._where = f"PostgreSQL store {_redact(dsn)!r}"
        try:
            self._conn: psycopg.Connection[Any] = self._psycopg.connect(dsn, autocommit=True)
        except self._psycopg.Error as exc:
            self._raise(exc, "connect")
        try:
            if lock_timeout is not None:
                ms = max(1, int(lock_timeout * 1000))
                self._conn.execute(f"SET lock_timeout = {ms}")
            if self._read_only:
                self._conn.execute("SET default_transaction_read_only = on")
            self._origin = self._open(origin, create)
            self.check_integrity()
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
            if self._read_only or not create:
                raise StorageError(f"{self._where} holds no electlog store")
            if origin is None:
                raise UsageError(f"creating {self._where} needs an origin")
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
        fmt = meta.get("format")
        if fmt != str(_common.STORE_FORMAT_VERSION):
            raise StoreCorruptedError(f"{self._where}: unsupported store format version {fmt!r}")
        stored = meta.get("origin")
        if not stored:
            raise StoreCorruptedError(f"{self._where}: meta table has no origin")
        if origin is not None and origin != stored:
            raise UsageError(f"{self._where} holds log {stored!r}, not {origin!r}")
        return stored

    def check_integrity(self, *, full: bool = False) -> None:
        """Check the stored data against itself, as :meth:`SQLiteStore.check_integrity` does
        (``full=True`` recomputes every leaf hash, every node and every checkpoint root).
        Raises :class:`~electlog.errors.StoreCorruptedError` and refuses writes from then on."""
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
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                count, lo, hi = conn.execute(
                    "SELECT COUNT(*), MIN(idx), MAX(idx) FROM electlog_entries"
                ).fetchone() or (0, None, None)
                size = _common.check_entries_contiguous(int(count), lo, hi, where)
                self._known_size = max(self._known_size, size)
                counts = {
                    int(level): int(n)
                    for level, n in conn.execute(
                        "SELECT level, COUNT(*) FROM electlog_nodes GROUP BY level"
                    )
                }
                _common.check_level_counts(counts, size, where)
                tail = conn.execute(
                    "SELECT idx, data, leaf FROM electlog_entries WHERE idx >= %s ORDER BY idx",
                    (0 if full else size - _common.TAIL_CHECK,),
                )
                _common.check_tail_leaves(tail, where)
                cps = conn.execute(
                    "SELECT size, note FROM electlog_checkpoints ORDER BY id"
                ).fetchall()
                if not full:
                    cps = cps[-1:]
                for cp_size, note in cps:
                    _common.check_checkpoint_root(
                        self._origin, size, int(cp_size), str(note), self._read_node_raw, where
                    )
                if full:
                    self._check_all_nodes(size)
        except self._psycopg.Error as exc:
            self._raise(exc, "integrity check")

    def _check_all_nodes(self, size: int) -> None:
        from .. import merkle

        tree = merkle.MerkleTree()
        for start in range(0, size, 65536):
            tree.extend(self._leaves_raw(start, min(size, start + 65536)))
        for level, count in _common.expected_level_counts(size).items():
            rows = self._conn.execute(
                "SELECT idx, hash FROM electlog_nodes WHERE level = %s ORDER BY idx", (level,)
            )
            for idx, h in rows:
                if idx >= count or tree.node(level, idx) != h:
                    raise StoreCorruptedError(
                        f"{self._where}: Merkle node (level {level}, index {idx}) is wrong"
                    )

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

    def _check_writable(self) -> None:
        if self._closed:
            raise UsageError(f"{self._where} is closed")
        if self._corrupted is not None:
            raise StoreCorruptedError(f"{self._where} refuses writes: {self._corrupted}")
        if self._read_only:
            raise ReadOnlyStoreError(f"{self._where} was opened read-only")

    def _query(self, sql: str, params: Sequence[object], what: str) -> list[tuple[Any, ...]]:
        if self._closed:
            raise UsageError(f"{self._where} is closed")
        try:
            with self._lock:
                return self._conn.execute(sql, params).fetchall()
        except self._psycopg.Error as exc:
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
            rows = self._query(_SQL_SIZE, (), "size")
            n = 0 if rows[0][0] is None else int(rows[0][0]) + 1
            if not self._in_tx and n > self._known_size:
                self._known_size = n
        return n

    def entry(self, index: int) -> bytes:
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise UsageError(f"entry index {index!r} out of range")
        rows = self._query(
            "SELECT data FROM electlog_entries WHERE idx = %s", (index,), f"reading entry {index}"
        )
        if not rows:
            raise UsageError(f"entry index {index} out of range for size {self.size()}")
        return bytes(rows[0][0])

    def entries(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        n = self.size()
        end = n if stop is None else stop
        if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start <= end <= n:
            raise UsageError(f"entry range [{start}, {end}) out of range")
        return self._stream(start, end)

    def _stream(self, start: int, end: int) -> Iterator[bytes]:
        pos = start
        while pos < end:
            hi = min(end, pos + _CHUNK)
            rows = self._query(
                "SELECT data FROM electlog_entries WHERE idx >= %s AND idx < %s ORDER BY idx",
                (pos, hi),
                f"reading entries {pos}..{hi - 1}",
            )
            if len(rows) != hi - pos:
                raise StoreCorruptedError(f"{self._where}: entries {pos}..{hi - 1} are missing")
            for (data,) in rows:
                yield bytes(data)
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
        if self._closed:
            raise UsageError(f"{self._where} is closed")
        try:
            with self._lock:
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
        except self._psycopg.Error as exc:
            self._raise(exc, f"reading Merkle node ({level}, {index})")

    def _load_block(self, level: int, block: int) -> bytes:
        lo = block << _BLOCK_BITS
        if level == 0:
            rows = self._conn.execute(
                "SELECT leaf FROM electlog_entries WHERE idx >= %s AND idx < %s ORDER BY idx",
                (lo, lo + _BLOCK),
            ).fetchall()
        else:
            rows = self._conn.execute(
                "SELECT hash FROM electlog_nodes WHERE level = %s AND idx >= %s AND idx < %s "
                "ORDER BY idx",
                (level, lo, lo + _BLOCK),
            ).fetchall()
        data = b"".join(bytes(r[0]) for r in rows)
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
        if level < 0 or index < 0:
            raise UsageError("node level and index are non-negative")
        return self._read_node(level, index)

    def _leaves_raw(self, start: int, stop: int) -> list[bytes]:
        rows = self._conn.execute(
            "SELECT leaf FROM electlog_entries WHERE idx >= %s AND idx < %s ORDER BY idx",
            (start, stop),
        ).fetchall()
        if len(rows) != stop - start:
            raise StoreCorruptedError(f"{self._where}: leaves {start}..{stop - 1} are missing")
        return [bytes(r[0]) for r in rows]

    def leaf_hashes(self, start: int, stop: int) -> Sequence[bytes]:
        if not 0 <= start <= stop or stop > self.size():
            raise UsageError(f"leaf range [{start}, {stop}) out of range")
        try:
            with self._lock:
                return self._leaves_raw(start, stop)
        except self._psycopg.Error as exc:
            self._raise(exc, f"reading leaf hashes {start}..{stop - 1}")

    def author_head(self, key_id: bytes) -> AuthorHead | None:
        rows = self._query(_SQL_HEAD, (key_id,), "reading an author head")
        return None if not rows else AuthorHead(int(rows[0][0]), bytes(rows[0][1]))

    def checkpoints(self) -> list[StoredCheckpoint]:
        rows = self._query(
            "SELECT size, note FROM electlog_checkpoints ORDER BY id", (), "reading checkpoints"
        )
        return [StoredCheckpoint(int(size), str(note)) for size, note in rows]

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        rows = self._query(
            "SELECT size, note FROM electlog_checkpoints ORDER BY id DESC LIMIT 1",
            (),
            "reading checkpoints",
        )
        return None if not rows else StoredCheckpoint(int(rows[0][0]), str(rows[0][1]))

    # ------------------------------------------------------------------ writes

    def add_checkpoint(self, size: int, note: str) -> None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise UsageError(f"checkpoint size {size!r} is not a non-negative integer")
        if not isinstance(note, str):
            raise UsageError("a checkpoint note is text")
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
                tx = _PostgresTx(self, 0 if row is None or row[0] is None else int(row[0]) + 1)
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

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                try:
                    self._conn.close()
                except self._psycopg.Error as exc:
                    raise StorageError(f"{self._where}: close failed: {exc}") from exc

    def __repr__(self) -> str:
        return f"PostgresStore({self._where}, origin={self._origin!r})"

    def __del__(self) -> None:
        try:
            if not self._closed:
                self._conn.close()
        except (AttributeError, ElectlogError):
            pass
        except Exception:
            pass


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
