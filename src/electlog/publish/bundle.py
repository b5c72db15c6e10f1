"""The portable bundle: one self-describing file holding a log's entries and checkpoints.

An auditor receives a bundle, reads it with :class:`BundleReader` (a streaming reader: memory
does not grow with the number of entries) and replays it, or imports it into any store with
:func:`import_bundle`, which sends every entry through :meth:`electlog.log.Log.append_many` so
every append check runs. The byte-exact layout is section 5 of docs/format.md::

    "ELECTLOG-BUNDLE\\n"                      16-byte magic
    record(header)                           canonical msgpack map
    record(entry) * entries                  exact entry bytes
    00 00 00 00                              end of entries
    record(note) * checkpoints               signed checkpoint notes, UTF-8
    00 00 00 00                              end of checkpoints
    SHA-256 of every byte above              32-byte trailer

    record(payload) = u32be(len(payload)) || payload || u32be(CRC-32(u32be(len) || payload))

A truncated or corrupted bundle raises :class:`~electlog.errors.BundleError` carrying the byte
``offset`` of the bad record and ``last_good_index``, the index of the last entry read intact;
every entry before it has been yielded and is sound as far as the bundle can tell.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, Final

import attrs

from .. import codec
from .._files import fsync_dir
from ..checkpoint import Checkpoint
from ..errors import (
    BundleError,
    BundleErrorReason,
    CheckpointError,
    DecodeError,
    DiskFullError,
    StorageError,
    UsageError,
)
from ..events import MAX_ENTRY_SIZE
from ..store._integrity import checkpoint_text
from ..store.base import Store, StoredCheckpoint

if TYPE_CHECKING:
    from ..log import Log

__all__ = [
    "BUNDLE_FORMAT_VERSION",
    "BUNDLE_MAGIC",
    "MAX_BUNDLE_CHECKPOINTS",
    "MAX_BUNDLE_CHECKPOINT_BYTES",
    "MAX_BUNDLE_HEADER_SIZE",
    "MAX_BUNDLE_NOTE_SIZE",
    "BundleImport",
    "BundleInfo",
    "BundleReader",
    "export_bundle",
    "import_bundle",
]

BUNDLE_MAGIC: Final = b"ELECTLOG-BUNDLE\n"
"""The first 16 bytes of every bundle."""

BUNDLE_FORMAT_VERSION: Final = 1
"""The bundle format version written in the header (``"v"``)."""

MAX_BUNDLE_HEADER_SIZE: Final = 4096
"""Largest header payload accepted, in bytes."""

MAX_BUNDLE_NOTE_SIZE: Final = 64 * 1024
"""Largest checkpoint note accepted, in bytes."""

MAX_BUNDLE_CHECKPOINTS: Final = 1 << 20
"""Most checkpoints a bundle may hold."""

MAX_BUNDLE_CHECKPOINT_BYTES: Final = 64 * 1024 * 1024
"""Most bytes all checkpoint notes of one bundle may take together (they are kept in memory)."""

_U32: Final = struct.Struct(">I")
_END: Final = b"\x00\x00\x00\x00"
_HEADER_KEYS: Final = frozenset({"checkpoints", "entries", "origin", "v"})
_MAX_COUNT: Final = 2**63 - 1
_FLUSH_BYTES: Final = 1 << 20


def _record(payload: bytes) -> bytes:
    head = _U32.pack(len(payload))
    return head + payload + _U32.pack(zlib.crc32(payload, zlib.crc32(head)))


@attrs.frozen(kw_only=True)
class BundleInfo:
    """What :func:`export_bundle` wrote: the file, the log, the counts and the trailer hash."""

    path: Path
    origin: str
    entries: int
    checkpoints: int
    sha256: bytes
    size_bytes: int


@attrs.frozen(kw_only=True)
class BundleImport:
    """What :func:`import_bundle` did: entries in the bundle, entries newly appended (the rest
    were already in the store, byte for byte), and checkpoints newly stored."""

    entries: int
    appended: int
    checkpoints_added: int


# --------------------------------------------------------------------------- export


def _source_store(source: Store | Log) -> Store:
    if isinstance(source, Store):
        return source
    store = getattr(source, "store", None)
    if isinstance(store, Store):
        return store
    raise UsageError("export needs a Store or a Log")


def _select(
    store: Store, up_to: StoredCheckpoint | str | None
) -> tuple[int, list[StoredCheckpoint]]:
    """The tree size to export and the checkpoints that go with it, oldest first."""
    cps = store.checkpoints()
    if up_to is None:
        size = store.size()
        return size, [cp for cp in cps if cp.size <= size]
    note = up_to.note if isinstance(up_to, StoredCheckpoint) else up_to
    if not isinstance(note, str):
        raise UsageError("up_to_checkpoint must be a StoredCheckpoint or a stored note")
    positions = [i for i, cp in enumerate(cps) if cp.note == note]
    if not positions:
        raise UsageError("up_to_checkpoint is not one of the store's checkpoints")
    last = positions[-1]
    size = cps[last].size
    return size, [cp for cp in cps[: last + 1] if cp.size <= size]


def export_bundle(
    source: Store | Log,
    path: str | os.PathLike[str],
    *,
    up_to_checkpoint: StoredCheckpoint | str | None = None,
) -> BundleInfo:
    """Write the log in ``source`` to a bundle file at ``path`` (replaced atomically).

    By default every entry present when the export starts and every stored checkpoint go in.
    With ``up_to_checkpoint`` (a :class:`StoredCheckpoint` or the note text of a stored
    checkpoint) the bundle holds the entries up to that checkpoint's size and the checkpoints
    stored up to and including it (those within that size). The file is written to a temporary
    name, flushed to disk and renamed, so a crash never leaves a half-written bundle at ``path``.
    """
    store = _source_store(source)
    target = Path(os.fspath(path))
    size, cps = _select(store, up_to_checkpoint)
    if len(cps) > MAX_BUNDLE_CHECKPOINTS:
        raise UsageError(f"{len(cps)} checkpoints exceed the bundle limit")
    notes = [cp.note.encode("utf-8") for cp in cps]
    for i, n in enumerate(notes):
        if not 0 < len(n) <= MAX_BUNDLE_NOTE_SIZE:
            raise UsageError(f"checkpoint {i} is {len(n)} bytes; a bundle note is 1..64 KiB")
    if sum(map(len, notes)) > MAX_BUNDLE_CHECKPOINT_BYTES:
        raise UsageError("the checkpoints exceed the bundle's 64 MiB checkpoint limit")
    header = codec.encode(
        {"checkpoints": len(cps), "entries": size, "origin": store.origin, "v": 1}
    )
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    digest = hashlib.sha256()
    total = 0
    try:
        with open(tmp, "wb") as f:
            buf = bytearray(BUNDLE_MAGIC)
            buf += _record(header)
            index = 0
            for data in store.entries(0, size):
                if not 0 < len(data) <= MAX_ENTRY_SIZE:
                    raise StorageError(f"stored entry {index} has an impossible length")
                head = _U32.pack(len(data))
                buf += head
                buf += data
                buf += _U32.pack(zlib.crc32(data, zlib.crc32(head)))
                index += 1
                if len(buf) >= _FLUSH_BYTES:
                    digest.update(buf)
                    f.write(buf)
                    total += len(buf)
                    buf.clear()
            if index != size:
                raise StorageError(f"the store yielded {index} entries, expected {size}")
            buf += _END
            for n in notes:
                buf += _record(n)
            buf += _END
            digest.update(buf)
            f.write(buf)
            total += len(buf)
            trailer = digest.digest()
            f.write(trailer)
            total += len(trailer)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except OSError as exc:
        msg = f"writing bundle {str(target)!r} failed: {exc}"
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFullError(msg) from exc
        raise StorageError(msg) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return BundleInfo(
        path=target,
        origin=store.origin,
        entries=size,
        checkpoints=len(cps),
        sha256=trailer,
        size_bytes=total,
    )


# --------------------------------------------------------------------------- reading


class BundleReader:
    """Streaming reader of a bundle file.

    Opening reads and checks the magic and the header (``origin``, ``format_version``,
    ``entry_count``, ``checkpoint_count``). Iterating yields ``(index, entry_bytes, offset)``
    for every entry, where ``offset`` is the byte offset of the entry's record; when the entries
    are exhausted the iterator goes on to read the checkpoints and the trailer, so a completed
    iteration has checked the whole file, and :attr:`checkpoints` and :attr:`sha256` are then
    available. Each iteration starts again at the first entry. Memory use does not depend on the
    number of entries. Problems raise :class:`~electlog.errors.BundleError` (with ``offset`` and
    ``last_good_index``) after every intact entry before them has been yielded.
    """

    def __init__(self, path: str | os.PathLike[str] | BinaryIO) -> None:
        self._owned = not isinstance(path, io.IOBase)
        if self._owned:
            try:
                self._path = str(os.fspath(path))  # type: ignore[arg-type]
                self._f: BinaryIO = open(self._path, "rb")  # noqa: SIM115 - closed in close()
            except (OSError, TypeError) as exc:
                raise BundleError(f"cannot open bundle {path!r}: {exc}", offset=0) from exc
        else:
            self._f = path  # type: ignore[assignment]
            self._path = getattr(path, "name", "<stream>")
        self._checkpoints: list[StoredCheckpoint] | None = None
        self._sha256: bytes | None = None
        try:
            self._read_header()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ header

    def _fail(
        self,
        message: str,
        offset: int,
        last_good: int = -1,
        reason: BundleErrorReason = BundleErrorReason.DAMAGED,
    ) -> BundleError:
        return BundleError(
            f"bundle {self._path!r}: {message}",
            offset=offset,
            last_good_index=last_good,
            reason=reason,
        )

    def _read(self, n: int) -> bytes:
        try:
            return self._f.read(n)
        except OSError as exc:
            raise BundleError(
                f"bundle {self._path!r}: read failed: {exc}", offset=self._tell()
            ) from exc

    def _tell(self) -> int | None:
        try:
            return self._f.tell()
        except OSError:
            return None

    def _read_header(self) -> None:
        try:
            self._f.seek(0)
        except OSError as exc:
            raise self._fail(f"cannot seek: {exc}", 0) from exc
        magic = self._read(len(BUNDLE_MAGIC))
        if magic != BUNDLE_MAGIC:
            if BUNDLE_MAGIC.startswith(magic):
                raise self._fail("truncated in the magic", 0)
            raise self._fail("not an electlog bundle (bad magic)", 0)
        digest = hashlib.sha256(magic)
        offset = len(BUNDLE_MAGIC)
        payload = self._record(offset, MAX_BUNDLE_HEADER_SIZE, "header", -1, digest)
        if payload is None:
            raise self._fail("the header record is empty", offset)
        try:
            header = codec.decode(payload, max_size=MAX_BUNDLE_HEADER_SIZE)
        except DecodeError as exc:
            inner = exc.offset or 0
            raise self._fail(f"header is not canonical msgpack: {exc}", offset + 4 + inner) from exc
        if not isinstance(header, dict) or set(header) != _HEADER_KEYS:
            got = sorted(header) if isinstance(header, dict) else type(header).__name__
            raise self._fail(f"header must be a map of {sorted(_HEADER_KEYS)}, got {got}", offset)
        version, origin = header["v"], header["origin"]
        entries, checkpoints = header["entries"], header["checkpoints"]
        if version != BUNDLE_FORMAT_VERSION or type(version) is not int:
            raise self._fail(f"unsupported bundle format version {version!r}", offset)
        if not isinstance(origin, str) or not origin:
            raise self._fail("header field 'origin' must be a non-empty string", offset)
        for name, value in (("entries", entries), ("checkpoints", checkpoints)):
            if type(value) is not int or not 0 <= value <= _MAX_COUNT:
                raise self._fail(f"header field {name!r} must be a count", offset)
        if checkpoints > MAX_BUNDLE_CHECKPOINTS:
            raise self._fail(f"{checkpoints} checkpoints exceed the limit", offset)
        self.origin: str = origin
        """The log id (origin) of the bundled log."""
        self.format_version: int = version
        """The bundle format version."""
        self.entry_count: int = entries
        """Number of entries the header declares."""
        self.checkpoint_count: int = checkpoints
        """Number of checkpoints the header declares."""
        self._entries_offset = offset + 8 + len(payload)
        self._digest_at_entries = digest

    @property
    def entries_offset(self) -> int:
        """The byte offset of the first entry record (just after the header record); where the
        end-of-entries marker is when the bundle holds no entries."""
        return self._entries_offset

    def _record(
        self,
        offset: int,
        limit: int,
        what: str,
        last_good: int,
        digest: hashlib._Hash,
    ) -> bytes | None:
        """Read one record at ``offset``; None for an end marker."""
        head = self._read(4)
        if len(head) < 4:
            raise self._fail(f"truncated: {what} record length missing", offset, last_good)
        digest.update(head)
        (length,) = _U32.unpack(head)
        if length == 0:
            return None
        if length > limit:
            raise self._fail(
                f"{what} record declares {length} bytes, more than the limit {limit}",
                offset,
                last_good,
            )
        body = self._read(length + 4)
        if len(body) < length + 4:
            raise self._fail(
                f"truncated: {what} record of {length} bytes is cut short", offset, last_good
            )
        digest.update(body)
        payload = body[:length]
        if zlib.crc32(payload, zlib.crc32(head)) != _U32.unpack_from(body, length)[0]:
            raise self._fail(f"{what} record fails its CRC-32", offset, last_good)
        return payload

    # ------------------------------------------------------------------ iteration

    def __iter__(self) -> Iterator[tuple[int, bytes, int]]:
        return self._iterate(yield_entries=True)

    def _iterate(self, *, yield_entries: bool) -> Iterator[tuple[int, bytes, int]]:
        f = self._f
        try:
            f.seek(self._entries_offset)
        except (OSError, ValueError) as exc:
            raise self._fail(f"cannot seek: {exc}", self._entries_offset) from exc
        digest = self._digest_at_entries.copy()
        read = f.read
        crc32 = zlib.crc32
        unpack = _U32.unpack
        offset = self._entries_offset
        last = -1
        for index in range(self.entry_count):
            head = read(4)
            if len(head) < 4:
                raise self._fail(f"truncated before entry {index}", offset, last)
            (length,) = unpack(head)
            if length == 0:
                raise self._fail(
                    f"end of entries after {index}, the header declares {self.entry_count}",
                    offset,
                    last,
                )
            if length > MAX_ENTRY_SIZE:
                raise self._fail(
                    f"entry {index} declares {length} bytes, more than {MAX_ENTRY_SIZE}",
                    offset,
                    last,
                )
            body = read(length + 4)
            if len(body) < length + 4:
                raise self._fail(f"truncated inside entry {index}", offset, last)
            data = body[:length]
            if crc32(data, crc32(head)) != unpack(body[length:])[0]:
                raise self._fail(f"entry {index} fails its CRC-32", offset, last)
            digest.update(head)
            digest.update(body)
            if yield_entries:
                yield index, data, offset
            last = index
            offset += length + 8
        self._finish(offset, last, digest)

    def _finish(self, offset: int, last: int, digest: hashlib._Hash) -> None:
        """Read and check what follows the entries (at ``offset``; ``last`` is the last entry
        read intact): the end marker, the checkpoints, the SHA-256 trailer (``digest`` has hashed
        every byte before it) and the end of the file."""
        read = self._f.read
        end = read(4)
        if end != _END:
            if len(end) < 4:
                raise self._fail("truncated before the end-of-entries marker", offset, last)
            raise self._fail(
                f"more entries than the {self.entry_count} the header declares", offset, last
            )
        digest.update(end)
        offset += 4
        checkpoints: list[StoredCheckpoint] = []
        total = 0
        for i in range(self.checkpoint_count):
            payload = self._record(offset, MAX_BUNDLE_NOTE_SIZE, f"checkpoint {i}", last, digest)
            if payload is None:
                raise self._fail(
                    f"end of checkpoints after {i}, the header declares {self.checkpoint_count}",
                    offset,
                    last,
                )
            total += len(payload)
            if total > MAX_BUNDLE_CHECKPOINT_BYTES:
                raise self._fail("checkpoints exceed the 64 MiB limit", offset, last)
            checkpoints.append(self._checkpoint(payload, i, offset, last))
            offset += len(payload) + 8
        end = read(4)
        if end != _END:
            if len(end) < 4:
                raise self._fail("truncated before the end-of-checkpoints marker", offset, last)
            raise self._fail(
                f"more checkpoints than the {self.checkpoint_count} the header declares",
                offset,
                last,
            )
        digest.update(end)
        offset += 4
        trailer = read(32)
        if len(trailer) < 32:
            raise self._fail("truncated in the SHA-256 trailer", offset, last)
        if trailer != digest.digest():
            raise self._fail("SHA-256 trailer does not match the bundle's contents", offset, last)
        if read(1):
            raise self._fail("bytes follow the SHA-256 trailer", offset + 32, last)
        self._checkpoints = checkpoints
        self._sha256 = trailer

    def _checkpoint(self, payload: bytes, i: int, offset: int, last: int) -> StoredCheckpoint:
        try:
            note = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self._fail(f"checkpoint {i} is not UTF-8", offset, last) from exc
        try:
            cp = Checkpoint.from_text(checkpoint_text(note))
        except (CheckpointError, UsageError) as exc:
            raise self._fail(
                f"checkpoint {i} does not parse: {exc}",
                offset,
                last,
                BundleErrorReason.CHECKPOINT_UNPARSABLE,
            ) from exc
        if cp.origin != self.origin:
            raise self._fail(
                f"checkpoint {i} is for log {cp.origin!r}, the bundle holds {self.origin!r}",
                offset,
                last,
                BundleErrorReason.CHECKPOINT_WRONG_ORIGIN,
            )
        if cp.size > self.entry_count:
            raise self._fail(
                f"checkpoint {i} commits to {cp.size} entries, the bundle holds {self.entry_count}",
                offset,
                last,
                BundleErrorReason.CHECKPOINT_BEYOND_ENTRIES,
            )
        return StoredCheckpoint(cp.size, note)

    def verify(self) -> None:
        """Read the whole file once, checking every record and the trailer."""
        for _ in self._iterate(yield_entries=False):
            pass

    @property
    def checkpoints(self) -> list[StoredCheckpoint]:
        """The bundled checkpoints, oldest first (reads the file to its end if no iteration
        has completed yet)."""
        if self._checkpoints is None:
            self.verify()
        assert self._checkpoints is not None
        return list(self._checkpoints)

    @property
    def sha256(self) -> bytes:
        """The SHA-256 trailer (after the whole file has been read and checked)."""
        if self._sha256 is None:
            self.verify()
        assert self._sha256 is not None
        return self._sha256

    def close(self) -> None:
        """Close the file (if the reader opened it)."""
        if self._owned:
            self._f.close()

    def __enter__(self) -> BundleReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"BundleReader({self._path!r}, origin={self.origin!r}, entries={self.entry_count})"


# --------------------------------------------------------------------------- import


def import_bundle(
    path: str | os.PathLike[str] | BundleReader,
    target: Store | Log,
    *,
    batch_size: int = 1000,
) -> BundleImport:
    """Import a bundle into ``target`` (a store or a :class:`~electlog.log.Log`).

    Every entry goes through :meth:`Log.append_many` (canonical form, signature, log id, author
    chain), in batches of ``batch_size``. Entries the store already holds must equal the
    bundle's byte for byte (so an interrupted import can simply be run again); then the
    bundle's checkpoints are checked against the tree (origin, size, root) and stored unless
    already present. A corrupt bundle raises :class:`~electlog.errors.BundleError` after the
    intact entries before the problem have been appended; a refused entry or checkpoint raises
    the append error and leaves its batch out.
    """
    from ..log import Log

    if not isinstance(batch_size, int) or batch_size < 1:
        raise UsageError("batch_size must be a positive integer")
    log = target if isinstance(target, Log) else Log(_source_store(target))
    store = log.store
    reader = path if isinstance(path, BundleReader) else BundleReader(path)
    try:
        if reader.origin != store.origin:
            raise UsageError(
                f"bundle is for log {reader.origin!r}, the store holds {store.origin!r}"
            )
        have = store.size()
        appended = 0
        pending: list[bytes] = []
        existing = store.entries(0, min(have, reader.entry_count))
        try:
            for index, data, _offset in reader:
                if index < have:
                    if next(existing) != data:
                        raise UsageError(
                            f"the store's entry {index} differs from the bundle's; "
                            "refusing to import into a diverging log"
                        )
                    continue
                pending.append(data)
                if len(pending) >= batch_size:
                    log.append_many(pending)
                    appended += len(pending)
                    pending = []
        except BundleError:
            if pending:  # keep every intact entry before the damage
                log.append_many(pending)
            raise
        if pending:
            log.append_many(pending)
            appended += len(pending)
        known = {cp.note for cp in store.checkpoints()}
        added = 0
        for cp in reader.checkpoints:
            if cp.note in known:
                continue
            log.add_checkpoint(cp.note)
            known.add(cp.note)
            added += 1
    finally:
        if reader is not path:
            reader.close()
    return BundleImport(entries=reader.entry_count, appended=appended, checkpoints_added=added)
