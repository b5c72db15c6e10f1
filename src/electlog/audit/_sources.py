"""Where an audited log comes from: a bundle file, a SQLite file, a tiles directory, a log
served as tlog-tiles over ``http://`` or ``https://``, a PostgreSQL DSN, or an in-memory
:class:`~electlog.log.Log` / :class:`~electlog.store.Store`.

Every source is read as a stream of entry bytes in index order, in chunks, followed by the
checkpoint notes it carries. Nothing the source says about itself is trusted beyond that: the
auditor recomputes leaf hashes, the tree and the author heads from the bytes. When a source
cannot be read beyond some point (a corrupt or truncated bundle), the chunk iterator raises
:class:`SourceUnreadable` naming the byte offset and the last good entry; the entries before it
have already been yielded and are checked.

A store (SQLite file, PostgreSQL, tiles) can also be read by entry index, range by range
(:meth:`Source.runs`): a community task reads only its own entries so. A bundle cannot.
"""

from __future__ import annotations

import hashlib
import operator
import os
import sqlite3
import struct
import urllib.parse
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from electlog.errors import AuditError, BundleError, ElectlogError, UsageError
from electlog.events import MAX_ENTRY_SIZE
from electlog.log import Log
from electlog.publish.bundle import BUNDLE_MAGIC, MAX_BUNDLE_NOTE_SIZE, BundleReader
from electlog.publish.tiles import TilesReader
from electlog.store import PostgresStore, Store, is_postgres_dsn, open_store
from electlog.store._integrity import SQLITE_DIGESTS
from electlog.store.base import DamageKind, StoreDamage
from electlog.store.sqlite import check_schema, harden_connection

from ._store_check import (
    DeferredCheck,
    TreeCheck,
    _sqlite_small_cache,
    sqlite_full_check,
    sqlite_tree_check,
)

__all__ = [
    "BundleSource",
    "BytesSource",
    "Source",
    "SourceUnreadable",
    "StoreSource",
    "open_entries",
    "open_source",
    "refuse_file_damage",
    "sqlite_full_check",
]

_SQLITE_MAGIC: Final = b"SQLite format 3\x00"
_SQLITE_HEADER: Final = 100
_SQLITE_PAYLOAD_FRACTIONS: Final = b"\x40\x20\x20"  # header bytes 21..23 of every SQLite file
_U32: Final = struct.Struct(">I")
_END: Final = b"\x00\x00\x00\x00"


class SourceUnreadable(Exception):
    """Raised by :meth:`Source.chunks` when the source cannot be read any further."""

    def __init__(self, message: str, *, offset: int | None, last_good_index: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.last_good_index = last_good_index


class Source:
    """A readable log copy. Subclasses implement :meth:`chunks` and :meth:`checkpoint_notes`."""

    description: str = ""
    origin: str | None = None
    """The origin the source declares (bundle header, store metadata), if it declares one."""
    notes_problem: tuple[str, int | None] | None = None
    """Damage found after the entries (in the checkpoint section): message and byte offset."""
    damage: tuple[StoreDamage, ...] = ()
    """What the store's own full integrity check found (stored leaf hashes, Merkle nodes, author
    heads, checkpoints, a lost signed checkpoint): each becomes a ``source.damaged`` finding."""
    full_check: tuple[Callable[[str], DeferredCheck], str] | None = None
    """A full integrity check still to run (a module-level function and its argument, so a
    worker process can run it beside the replay); its damage is added to :attr:`damage`."""
    tree_check: tuple[Callable[[str], TreeCheck], str] | None = None
    """The same check for an audit that reads every entry from the start (not resumed): the
    check that reads no entry bytes, whose summary of the stored tree and heads the audit
    compares with the tree and heads it replayed (:func:`settle_tree_check`)."""

    def size_hint(self) -> int | None:
        """How many entries the source says it holds (for progress), if known."""
        return None

    def extent(self) -> int | None:
        """About how many entries the source holds, found cheaply (for sizing the audit; a
        SQLite file's highest index + 1, without the count that walks its table)."""
        return self.size_hint()

    def sized(self) -> tuple[int | None, bool]:
        """:meth:`extent` and whether the source reads that many entries by index from 0
        (:meth:`indexed`); ``(None, False)`` when it cannot say."""
        try:
            entries = self.extent()
            return entries, entries is not None and self.indexed(entries)
        except (SourceUnreadable, AuditError):
            return None, False

    def stored_leaves(self) -> bytes | None:
        """With a :attr:`tree_check`: the SHA-256 of the stored leaf hashes of every entry
        :meth:`chunks` read, in index order (the summary's level 0, which the tree check leaves
        to this read), or None when the entries read were not exactly the indexes from 0 on,
        each with a stored leaf hash of 32 bytes (the full check then names what is wrong)."""
        return None

    def chunks(self, size: int) -> Iterator[list[bytes]]:
        """Entry bytes in index order, ``size`` per list (the last may be shorter)."""
        raise NotImplementedError

    def chunk_leaves(self) -> list[bytes] | None:
        """The stored leaf hashes of the chunk :meth:`chunks` gave last, one per entry in order,
        where the source stores them (a SQLite file) and each is a blob of 32 bytes; else None.
        What the store says, not a hash of the bytes: only a reader that compares them with
        hashes of the bytes (the task engine's routing, :mod:`._presumed`) may use them."""
        return None

    def indexed(self, count: int) -> bool:
        """Whether :meth:`runs` reads this source by entry index, ``count`` being how many
        entries a read of every entry (:meth:`chunks`) gave it: whether that read's i-th entry
        is always the entry :meth:`runs` reads at index i. A store's read stops at a missing
        index, so a store says yes; a SQLite file (read row by row, a missing index skipped)
        only while its indexes are exactly ``0 .. count - 1``; a bundle never."""
        return False

    def runs(
        self, runs: Iterable[tuple[int, int | None]], size: int
    ) -> Iterator[tuple[int, list[bytes]]]:
        """The entries of each index range ``[start, stop)`` of ``runs`` (ascending, not
        overlapping) as ``(index of the first, entry bytes)`` chunks of at most ``size``, each
        within one range; ``stop`` None: up to the source's end, as :meth:`chunks` would read
        from ``start``. Raises :class:`SourceUnreadable` where a range cannot be read whole
        (past the source's end, a missing or unreadable entry); only for an :meth:`indexed`
        source (:class:`~electlog.errors.UsageError` otherwise)."""
        raise UsageError(f"{self.description} cannot be read by entry index")

    def tail(self, count: int) -> list[tuple[int, bytes]]:
        """The last ``count`` entries (or fewer) as ``(index, entry bytes)`` pairs in index
        order, read directly where the source reads by index (a store, a SQLite file, tiles);
        empty where it cannot (a bundle is read from its start) or where the read fails (the
        audit's own read reports why). A look ahead only: the audit reads every entry anyway."""
        return []

    def checkpoint_notes(self) -> list[str]:
        """Every checkpoint note the source carries, oldest first (call after :meth:`chunks`)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release files and connections."""


def _chunked(it: Iterator[bytes], size: int) -> Iterator[list[bytes]]:
    chunk: list[bytes] = []
    for data in it:
        chunk.append(data)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class StoreSource(Source):
    """A :class:`Store` (memory, SQLite or PostgreSQL), read through its public reads only."""

    def __init__(self, store: Store, description: str, *, owned: bool, check: bool = True) -> None:
        """``check=False`` skips the store's full integrity check (a community task reads the
        entries only; the audit's own process runs the check)."""
        self.store = store
        self.description = description
        self.origin = store.origin
        self._owned = owned
        self._read = 0
        try:
            self.damage = store.find_damage(full=True) if check else ()
        except ElectlogError as exc:
            if owned:
                store.close()
            raise AuditError(f"{description}: the integrity check could not run: {exc}") from exc

    def size_hint(self) -> int | None:
        try:
            return self.store.size()
        except ElectlogError:
            return None

    def chunks(self, size: int, start: int = 0) -> Iterator[list[bytes]]:
        """As :meth:`Source.chunks`; ``start``: the first entry read (a resumed audit)."""
        for _, chunk in self.runs([(start, None)], size):
            yield chunk

    def indexed(self, count: int) -> bool:
        return True

    def runs(
        self, runs: Iterable[tuple[int, int | None]], size: int
    ) -> Iterator[tuple[int, list[bytes]]]:
        for start, stop in runs:
            self._read = start
            try:
                end = max(start, self.store.size()) if stop is None else stop
                for chunk in _chunked(self.store.entries(start, end), size):
                    first = self._read
                    self._read += len(chunk)
                    yield first, chunk
            except ElectlogError as exc:
                raise SourceUnreadable(
                    f"{self.description}: {exc}", offset=None, last_good_index=self._read - 1
                ) from exc

    def tail(self, count: int) -> list[tuple[int, bytes]]:
        try:
            size = self.store.size()
            start = max(0, size - count)
            return list(enumerate(self.store.entries(start, size), start))
        except ElectlogError:
            return []

    def checkpoint_notes(self) -> list[str]:
        try:
            return [c.note for c in self.store.checkpoints()]
        except ElectlogError as exc:
            raise AuditError(f"{self.description}: cannot read checkpoints: {exc}") from exc

    def close(self) -> None:
        if self._owned:
            self.store.close()


class BytesSource(Source):
    """Entries and checkpoint notes given as Python values: for tools and tests that hold a log
    copy in memory in some other form (``origin=None``: the source declares no origin)."""

    def __init__(
        self,
        entries: Sequence[bytes],
        notes: Sequence[str] = (),
        *,
        origin: str | None = None,
        description: str = "entries in memory",
    ) -> None:
        self._entries = list(entries)
        self._notes = list(notes)
        self.origin = origin
        self.description = description

    def size_hint(self) -> int | None:
        return len(self._entries)

    def chunks(self, size: int, start: int = 0) -> Iterator[list[bytes]]:
        """As :meth:`Source.chunks`; ``start``: the first entry read (a resumed audit)."""
        for first in range(start, len(self._entries), size):
            yield self._entries[first : first + size]

    def checkpoint_notes(self) -> list[str]:
        return list(self._notes)


class RawSQLiteSource(Source):
    """A SQLite store file read table by table: ``entries`` (``idx``, ``data``) in index order
    and ``checkpoints`` (``note``) in insertion order (docs/storage.md), as they are, so that
    every problem (even in a store that refuses to open) becomes a finding. Read-only."""

    def __init__(self, path: Path) -> None:
        self.description = f"SQLite file {str(path)!r}"
        self.path = path
        uri = "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro"
        try:
            self._conn = sqlite3.connect(uri, uri=True)
        except sqlite3.Error as exc:
            raise AuditError(f"{self.description} cannot be read: {exc}") from exc
        try:
            harden_connection(self._conn, read_only=True)
            check_schema(self._conn, self.description)
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'origin'").fetchone()
        except (sqlite3.Error, ElectlogError) as exc:
            self._conn.close()
            raise AuditError(f"{self.description} cannot be read: {exc}") from exc
        self.origin = row[0] if row is not None and isinstance(row[0], str) else None
        self._read = 0
        self._leaves: hashlib._Hash | None = None  # the stored leaf hashes read from index 0
        self._chunk_leaves: list[bytes] | None = None  # those of the last chunk read

    def size_hint(self) -> int | None:
        try:
            row = self._conn.execute("SELECT COUNT(*) FROM entries").fetchone()
        except sqlite3.Error:
            return None
        return int(row[0])

    def extent(self) -> int | None:
        try:
            top = self._conn.execute(SQLITE_DIGESTS.bounds).fetchone()[1]
        except sqlite3.Error:
            return None
        return top + 1 if isinstance(top, int) else None

    def chunks(self, size: int, start: int = 0) -> Iterator[list[bytes]]:
        """As :meth:`Source.chunks`; ``start``: the first entry read (a resumed audit)."""
        return self._after(size, start)

    def _after(self, size: int, start: int) -> Iterator[list[bytes]]:
        """The rows from index ``start`` on, in index order (a missing index skipped); from
        index 0, their stored leaf hashes hashed as they come (:meth:`stored_leaves`)."""
        last = start - 1
        self._read = start
        leaves = self._leaves = hashlib.sha256() if start == 0 else None
        while True:
            self._chunk_leaves = None
            rows = self._rows(_ROWS_AFTER, (last, size))
            if not rows:
                return
            idx = rows[-1][0]
            if not isinstance(idx, int):
                raise SourceUnreadable(
                    f"{self.description}: entry index {idx!r} is not an integer",
                    offset=None,
                    last_good_index=self._read - 1,
                )
            # the indexes are unique integers above last, in order: the last one says the
            # rows are exactly last + 1 .. idx; each stored leaf hash a blob of 32 bytes
            stored: list[Any] = [r[2] for r in rows]  # their types are checked next
            if (
                idx == last + len(rows)
                and _ONLY_BYTES.issuperset(map(type, stored))
                and _ONLY_32.issuperset(map(len, stored))
            ):
                self._chunk_leaves = stored
                if leaves is not None:
                    leaves.update(b"".join(stored))
            else:
                leaves = self._leaves = None
            last = idx
            self._read += len(rows)
            yield _entry_data(rows)

    def stored_leaves(self) -> bytes | None:
        leaves = self._leaves
        return None if leaves is None else leaves.digest()

    def chunk_leaves(self) -> list[bytes] | None:
        return self._chunk_leaves

    def indexed(self, count: int) -> bool:
        """Yes while the table's lowest index is 0 and its highest ``count - 1``: the
        ``count`` rows read in order are then the indexes ``0 .. count - 1`` (two lookups
        instead of a count, which walks the table; a row added or removed since is a changed
        source, found by the audit's own read)."""
        try:
            bounds = self._conn.execute(SQLITE_DIGESTS.bounds).fetchone()
        except sqlite3.Error:
            return False
        return tuple(bounds) == ((0, count - 1) if count else (None, None))

    def runs(
        self, runs: Iterable[tuple[int, int | None]], size: int
    ) -> Iterator[tuple[int, list[bytes]]]:
        for start, stop in runs:
            if stop is None:
                first = start
                for chunk in self._after(size, start):
                    yield first, chunk
                    first += len(chunk)
                continue
            for first in range(start, stop, size):
                end = min(stop, first + size)
                self._read = first
                rows = self._rows(_ROWS_BETWEEN, (first, end - 1))
                if len(rows) != end - first:  # the indexes are unique integers (the rowid)
                    raise SourceUnreadable(
                        f"{self.description}: entries {first}..{end - 1} are not all stored",
                        offset=None,
                        last_good_index=first - 1,
                    )
                yield first, _entry_data(rows)

    def tail(self, count: int) -> list[tuple[int, bytes]]:
        try:
            rows = self._conn.execute(_ROWS_LAST, (count,)).fetchall()
        except sqlite3.Error:
            return []
        return [
            (idx, data) for idx, data in reversed(rows) if type(idx) is int and type(data) is bytes
        ]

    def _rows(self, sql: str, params: tuple[int, int]) -> list[tuple[object, ...]]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise SourceUnreadable(
                f"{self.description}: {exc}", offset=None, last_good_index=self._read - 1
            ) from exc

    def checkpoint_notes(self) -> list[str]:
        try:
            rows = self._conn.execute("SELECT note FROM checkpoints ORDER BY id").fetchall()
        except sqlite3.Error as exc:
            raise AuditError(f"{self.description}: cannot read checkpoints: {exc}") from exc
        return [r[0] for r in rows if isinstance(r[0], str) and len(r[0]) <= MAX_BUNDLE_NOTE_SIZE]

    def close(self) -> None:
        self._conn.close()


_ROWS_AFTER: Final = "SELECT idx, data, leaf FROM entries WHERE idx > ? ORDER BY idx LIMIT ?"
_ROWS_BETWEEN: Final = "SELECT idx, data FROM entries WHERE idx BETWEEN ? AND ? ORDER BY idx"
_ROWS_LAST: Final = "SELECT idx, data FROM entries ORDER BY idx DESC LIMIT ?"


_DATA: Final = operator.itemgetter(1)
_ONLY_BYTES: Final = frozenset({bytes})
_ONLY_32: Final = frozenset({32})


def _entry_data(rows: Sequence[Sequence[object]]) -> list[bytes]:
    """The entry bytes of ``(idx, data, ...)`` rows; a value that is no entry (not a blob, too
    long) becomes ``b""``, which the replay rejects at its index."""
    datas: list[Any] = list(map(_DATA, rows))
    if (
        datas
        and _ONLY_BYTES.issuperset(map(type, datas))
        and max(map(len, datas)) <= MAX_ENTRY_SIZE
    ):
        return datas  # the common case, checked by C loops
    return [d if isinstance(d, bytes) and len(d) <= MAX_ENTRY_SIZE else b"" for d in datas]


def open_source(source: object, *, quick_check: bool = True) -> Source:
    """Open ``source`` for reading (see the module docstring for what it may be).

    A SQLite file gets the store's check at open, which refuses a file SQLite finds damaged
    before anything is read from it; ``quick_check=False`` leaves that to the caller, which
    then runs the source's :attr:`~Source.full_check` (or :attr:`~Source.tree_check`) and
    refuses what it finds (:func:`refuse_file_damage`), as the audit does.

    Raises :class:`~electlog.errors.AuditError` if it cannot be opened at all.
    """
    if isinstance(source, Source):
        return source
    if isinstance(source, Log):
        return StoreSource(source.store, f"log {source.origin!r}", owned=False)
    if isinstance(source, Store):
        return StoreSource(source, f"store of {source.origin!r}", owned=False)
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if not isinstance(source, str) or not source:
        raise AuditError(
            f"an audit source is a path, an http(s):// URL, a postgresql:// DSN, a Log or a "
            f"Store, not {source!r}"
        )
    if source.startswith(("http://", "https://")):
        return _url_source(source)
    if is_postgres_dsn(source):
        try:
            store = open_store(source, create=False, read_only=True)
        except ElectlogError as exc:
            raise AuditError(f"cannot open the PostgreSQL log: {exc}") from exc
        src = StoreSource(store, "PostgreSQL log", owned=True)
        refuse_file_damage(src.damage, src)
        return src
    path = Path(source)
    if path.is_dir():
        return _tiles_source(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(_SQLITE_HEADER)
    except OSError as exc:
        raise AuditError(f"cannot read {str(path)!r}: {exc.strerror}") from exc
    if head[: len(_SQLITE_MAGIC)] == _SQLITE_MAGIC:
        return _sqlite_source(path, quick_check)
    if head[: len(BUNDLE_MAGIC)] != BUNDLE_MAGIC and head[21:24] == _SQLITE_PAYLOAD_FRACTIONS:
        raise AuditError(
            f"{str(path)!r} is a damaged SQLite store: its header does not start with the "
            "SQLite magic string (the rest of the header is SQLite's)"
        )
    return _bundle_source(path)


def open_entries(source: str) -> Source:
    """``source`` (a path, an ``http(s)://`` URL or a ``postgresql://`` DSN) opened to read its
    entries only, for a reader beside an audit whose own :func:`open_source` of the same
    source runs the integrity checks and refuses a damaged database (a community task): a
    SQLite file or a PostgreSQL database without the store's open check (its count of the
    entries walks the table) nor its full check, the file read as the audit reads it."""
    if is_postgres_dsn(source):
        try:
            store = PostgresStore(source, create=False, read_only=True, check_on_open=False)
        except ElectlogError as exc:
            raise AuditError(f"cannot open the PostgreSQL log: {exc}") from exc
        return StoreSource(store, "PostgreSQL log", owned=True, check=False)
    if not source.startswith(("http://", "https://")):
        path = Path(source)
        try:
            with path.open("rb") as fh:
                head = fh.read(len(_SQLITE_MAGIC))
        except OSError:
            head = b""  # a directory, a missing file: as the audit opens it
        if head == _SQLITE_MAGIC:
            return RawSQLiteSource(path)
    return open_source(source)


def _sqlite_source(path: Path, quick_check: bool = True) -> Source:
    """The store's own read-only open identifies the file as an electlog store (exactly
    electlog's schema, capped values) and its full integrity check lists the damage (a store
    whose open check fails opens read-only all the same, for forensics). The entries are then
    read with a connection of our own with SQLite's default page cache, so a long scan does
    not grow the audit's memory. A file SQLite itself finds damaged cannot be audited: the
    open check refuses it here, or (``quick_check=False``) the caller's full check does."""
    try:
        store = _sqlite_small_cache(path, check_on_open=quick_check)
    except ElectlogError as exc:
        raise AuditError(f"cannot open {str(path)!r} as a log store: {exc}") from exc
    try:
        # the open check's findings (a read-only open lists its damage instead of raising)
        quick = store.problems if quick_check else []
    finally:
        store.close()
    src = RawSQLiteSource(path)
    refuse_file_damage(quick, src)
    # The full check (every leaf and node recomputed) is O(n): the audit runs it beside the
    # replay, in a worker process when it has some (see electlog.audit.core); an audit that
    # reads every entry runs the one that leaves the entries' part to the replay.
    src.full_check = (sqlite_full_check, str(path))
    src.tree_check = (sqlite_tree_check, str(path))
    return src


def refuse_file_damage(damage: Sequence[StoreDamage], src: Source) -> None:
    """Raise :class:`AuditError` (and close ``src``) when the database itself is damaged:
    nothing read from it can be trusted, so there is no audit to run."""
    for d in damage:
        if d.kind is DamageKind.FILE:
            src.close()
            raise AuditError(f"the database is damaged and cannot be audited: {d.message}")


class BundleSource(Source):
    """A bundle file (docs/format.md §5), read with :class:`~electlog.store.BundleReader`.

    Entries stream through the reader, which checks every record's CRC and stops at the first
    damage (:class:`SourceUnreadable` with the byte offset and the last good entry). The
    reader also refuses checkpoint notes that name another origin or more entries than the
    bundle holds; those are exactly what the auditor must judge itself (a truncated log, a
    replayed checkpoint), so in that case the checkpoint section is read again leniently here,
    record by record, keeping every note whose record is intact, and the damage past it, if any,
    is reported in :attr:`notes_problem`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"bundle {str(path)!r}"
        try:
            self._reader = BundleReader(path)
        except BundleError as exc:
            raise AuditError(f"{self.description} cannot be read: {exc}") from exc
        self.origin = self._reader.origin
        self._end_of_entries: int | None = None
        self._notes: list[str] | None = None
        self._failure: BundleError | None = None

    def size_hint(self) -> int | None:
        return self._reader.entry_count

    def chunks(self, size: int) -> Iterator[list[bytes]]:
        chunk: list[bytes] = []
        end = self._reader.entries_offset
        last = -1
        try:
            for index, data, offset in self._reader:
                chunk.append(data)
                last = index
                end = offset + len(data) + 8
                if len(chunk) >= size:
                    yield chunk
                    chunk = []
            self._notes = [c.note for c in self._reader.checkpoints]
        except BundleError as exc:
            if chunk:
                yield chunk
                chunk = []
            if last + 1 < self._reader.entry_count:
                raise SourceUnreadable(
                    str(exc), offset=exc.offset, last_good_index=exc.last_good_index
                ) from exc
            self._failure = exc  # every entry was read: the damage is after the entries
        if chunk:
            yield chunk
        self._end_of_entries = end

    def checkpoint_notes(self) -> list[str]:
        if self._notes is not None:
            return list(self._notes)
        if self._failure is None or self._end_of_entries is None:
            return []
        notes, problem = self._lenient_notes(self._end_of_entries)
        if problem is not None:
            self.notes_problem = problem
        elif not self._failure.reason.is_checkpoint_content:
            offset = self._failure.offset
            self.notes_problem = (str(self._failure), offset)
        return notes

    def _lenient_notes(self, start: int) -> tuple[list[str], tuple[str, int | None] | None]:
        """Every intact note record after the entries; the first structural problem."""
        notes: list[str] = []
        digest_ok = True
        try:
            with self.path.open("rb") as fh:
                fh.seek(start)
                if fh.read(4) != _END:
                    return notes, ("no end-of-entries marker after the last entry", start)
                pos = start + 4
                for i in range(self._reader.checkpoint_count):
                    head = fh.read(4)
                    if len(head) < 4:
                        return notes, (f"truncated before checkpoint {i}", pos)
                    (length,) = _U32.unpack(head)
                    if length == 0 or length > MAX_BUNDLE_NOTE_SIZE:
                        return notes, (f"checkpoint {i} record has length {length}", pos)
                    body = fh.read(length + 4)
                    if len(body) < length + 4:
                        return notes, (f"truncated inside checkpoint {i}", pos)
                    payload = body[:length]
                    if zlib.crc32(payload, zlib.crc32(head)) != _U32.unpack(body[length:])[0]:
                        return notes, (f"checkpoint {i} record fails its CRC-32", pos)
                    try:
                        notes.append(payload.decode("utf-8"))
                    except UnicodeDecodeError:
                        return notes, (f"checkpoint {i} is not UTF-8", pos)
                    pos += length + 8
                if fh.read(4) != _END:
                    return notes, ("no end-of-checkpoints marker", pos)
                pos += 4
                trailer = fh.read(32)
                extra = fh.read(1)
                fh.seek(0)
                digest = hashlib.sha256()
                remaining = pos
                while remaining:
                    block = fh.read(min(remaining, 1 << 20))
                    if not block:
                        break
                    digest.update(block)
                    remaining -= len(block)
                digest_ok = trailer == digest.digest() and not extra
        except OSError as exc:
            return notes, (f"cannot read the checkpoints: {exc.strerror}", start)
        if not digest_ok:
            return notes, ("SHA-256 trailer does not match the bundle's contents", pos)
        return notes, None

    def close(self) -> None:
        self._reader.close()


def _bundle_source(path: Path) -> Source:
    return BundleSource(path)


_LOG_SUFFIXES = (".bundle", ".sqlite", ".sqlite3", ".db")


def _log_files_hint(path: Path) -> str:
    """For a directory that holds no tiles: the log files inside it (bundles, SQLite files), as
    a suggestion of what to verify instead ("" when there are none)."""
    try:
        found = sorted(p for p in path.iterdir() if p.suffix in _LOG_SUFFIXES and p.is_file())[:5]
    except OSError:
        return ""
    if not found:
        return ""
    names = " or ".join(repr(str(p)) for p in found)
    return f"; it holds no tiles, but {names}: verify that instead"


class TilesSource(StoreSource):
    """A tlog-tiles directory: the entries stream from its bundles (each checked against its
    hash tile, each full tile against the tile above); after them every other file the
    directory serves is checked (:meth:`TilesReader.problems`: the tree's upper tiles, the
    partial tiles and bundles of earlier checkpoints, no symbolic links or special files), and
    what is wrong is reported in :attr:`notes_problem`."""

    def __init__(self, reader: TilesReader, description: str) -> None:
        super().__init__(reader, description, owned=True)
        self._reader = reader

    def checkpoint_notes(self) -> list[str]:
        notes = super().checkpoint_notes()
        problems = self._reader.problems(entries=False)
        if problems:
            shown = "; ".join(problems[:5])
            more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
            self.notes_problem = (f"{len(problems)} damaged file(s): {shown}{more}", None)
        return notes


def _url_source(url: str) -> Source:
    """A log served as tlog-tiles over HTTP: the same reader and checks as a directory (only
    the listing of files beyond the tree's own is not possible)."""
    try:
        reader = TilesReader.from_url(url)
    except ElectlogError as exc:
        raise AuditError(f"{url} is not a readable tlog-tiles log: {exc}") from exc
    return TilesSource(reader, reader.description)


def _tiles_source(path: Path) -> Source:
    try:
        reader = TilesReader(path)
    except ElectlogError as exc:
        hint = _log_files_hint(path) if not (path / "checkpoint").exists() else ""
        raise AuditError(
            f"{str(path)!r} is not a readable tlog-tiles directory: {exc}{hint}"
        ) from exc
    return TilesSource(reader, f"tiles directory {str(path)!r}")
