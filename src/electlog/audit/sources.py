"""Where an audited log comes from: a bundle file, a SQLite file, a tiles directory, a
PostgreSQL DSN, or an in-memory :class:`~electlog.log.Log` / :class:`~electlog.store.Store`.

Every source is read as a stream of entry bytes in index order, in chunks, followed by the
checkpoint notes it carries. Nothing the source says about itself is trusted beyond that: the
auditor recomputes leaf hashes, the tree and the author heads from the bytes. When a source
cannot be read beyond some point (a corrupt or truncated bundle), the chunk iterator raises
:class:`SourceUnreadable` naming the byte offset and the last good entry; the entries before it
have already been yielded and are checked.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

from electlog.errors import AuditError, BundleError, ElectlogError, StoreCorruptedError
from electlog.log import Log
from electlog.store import Store, is_postgres_dsn, open_store

__all__ = ["BytesSource", "Source", "SourceUnreadable", "StoreSource", "open_source"]

_SQLITE_MAGIC: Final = b"SQLite format 3\x00"


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

    def size_hint(self) -> int | None:
        """How many entries the source says it holds (for progress), if known."""
        return None

    def chunks(self, size: int) -> Iterator[list[bytes]]:
        """Entry bytes in index order, ``size`` per list (the last may be shorter)."""
        raise NotImplementedError

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

    def __init__(self, store: Store, description: str, *, owned: bool) -> None:
        self.store = store
        self.description = description
        self.origin = store.origin
        self._owned = owned
        self._read = 0

    def size_hint(self) -> int | None:
        try:
            return self.store.size()
        except ElectlogError:
            return None

    def chunks(self, size: int) -> Iterator[list[bytes]]:
        try:
            end = self.store.size()
            it = self.store.entries(0, end)
            for chunk in _chunked(it, size):
                self._read += len(chunk)
                yield chunk
        except ElectlogError as exc:
            raise SourceUnreadable(
                f"{self.description}: {exc}", offset=None, last_good_index=self._read - 1
            ) from exc

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

    def chunks(self, size: int) -> Iterator[list[bytes]]:
        for start in range(0, len(self._entries), size):
            yield self._entries[start : start + size]

    def checkpoint_notes(self) -> list[str]:
        return list(self._notes)


class RawSQLiteSource(Source):
    """A SQLite store file that refuses to open as a store (its own integrity check failed):
    the auditor still reads the ``entries`` and ``checkpoints`` tables as they are, so that
    every problem becomes a finding."""

    def __init__(self, path: Path) -> None:
        self.description = f"SQLite file {str(path)!r}"
        uri = "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro"
        try:
            self._conn = sqlite3.connect(uri, uri=True)
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'origin'").fetchone()
        except sqlite3.Error as exc:
            raise AuditError(f"{self.description} cannot be read: {exc}") from exc
        self.origin = row[0] if row is not None and isinstance(row[0], str) else None
        self._read = 0

    def size_hint(self) -> int | None:
        try:
            row = self._conn.execute("SELECT COUNT(*) FROM entries").fetchone()
        except sqlite3.Error:
            return None
        return int(row[0])

    def chunks(self, size: int) -> Iterator[list[bytes]]:
        last = -1
        try:
            while True:
                rows = self._conn.execute(
                    "SELECT idx, data FROM entries WHERE idx > ? ORDER BY idx LIMIT ?",
                    (last, size),
                ).fetchall()
                if not rows:
                    return
                chunk = [bytes(r[1]) if isinstance(r[1], bytes) else b"" for r in rows]
                last = rows[-1][0]
                self._read += len(chunk)
                yield chunk
        except sqlite3.Error as exc:
            raise SourceUnreadable(
                f"{self.description}: {exc}", offset=None, last_good_index=self._read - 1
            ) from exc

    def checkpoint_notes(self) -> list[str]:
        try:
            rows = self._conn.execute("SELECT note FROM checkpoints ORDER BY id").fetchall()
        except sqlite3.Error as exc:
            raise AuditError(f"{self.description}: cannot read checkpoints: {exc}") from exc
        return [r[0] for r in rows if isinstance(r[0], str)]

    def close(self) -> None:
        self._conn.close()


def open_source(source: object) -> Source:
    """Open ``source`` for reading (see the module docstring for what it may be).

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
            f"an audit source is a path, a postgresql:// DSN, a Log or a Store, not {source!r}"
        )
    if is_postgres_dsn(source):
        try:
            store = open_store(source, create=False, read_only=True)
        except ElectlogError as exc:
            raise AuditError(f"cannot open the PostgreSQL log: {exc}") from exc
        return StoreSource(store, "PostgreSQL log", owned=True)
    path = Path(source)
    if path.is_dir():
        return _tiles_source(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise AuditError(f"cannot read {str(path)!r}: {exc.strerror}") from exc
    if head == _SQLITE_MAGIC:
        try:
            store = open_store(path, create=False, read_only=True)
        except StoreCorruptedError:
            return RawSQLiteSource(path)
        except ElectlogError as exc:
            raise AuditError(f"cannot open {str(path)!r} as a log store: {exc}") from exc
        return StoreSource(store, f"SQLite file {str(path)!r}", owned=True)
    return _bundle_source(path)


def _bundle_source(path: Path) -> Source:
    raise AuditError(f"{str(path)!r} is not a SQLite store, and bundles are not supported yet")


def _tiles_source(path: Path) -> Source:
    raise AuditError(f"{str(path)!r} is a directory, and tiles are not supported yet")


_ = BundleError
