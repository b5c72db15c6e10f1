"""C2SP tlog-tiles export (https://c2sp.org/tlog-tiles) and a reader that needs nothing else.

:func:`export_tiles` writes a log, up to a checkpoint, as a static directory any web server or
object store can serve to standard transparency-log clients and witnesses::

    checkpoint                       the signed checkpoint note
    tile/<L>/<N>[.p/<W>]             Merkle hash tiles, height 8 (256 hashes of 32 bytes)
    tile/entries/<N>[.p/<W>]         entry bundles: u16be(len) || entry, 256 per full bundle

``<N>`` is written in 3-digit groups, all but the last prefixed with ``x`` (1234067 →
``x001/x234/067``); ``.p/<W>`` marks a partial tile of width ``W`` (1..255). Tile ``N`` of level
``L`` holds, for ``i`` in 0..255, the hash of the complete subtree over leaves
``[(N*256 + i) * 256**L, (N*256 + i + 1) * 256**L)``. Section 6 of docs/format.md is normative.

:class:`TilesReader` opens such a directory, or a log served over HTTP
(:meth:`TilesReader.from_url`), as a read-only :class:`~electlog.store.Store`: it recomputes any
Merkle node (hence roots and proofs at any size) from the tiles alone, checks every full tile
against the hash the tile above holds for it, and checks every entry against its level-0 hash.
Its files come through a :class:`TilesFetcher` (:class:`DirectoryFetcher`, or the httpx fetcher
of ``_tiles_http``, imported only when a URL is opened); every check is the reader's, the same
for both.
"""

from __future__ import annotations

import abc
import errno
import os
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from hashlib import sha256
from pathlib import Path
from typing import Final

from .. import merkle
from .._files import NotASmallFileError, read_regular_fd
from ..checkpoint import Checkpoint
from ..errors import (
    CheckpointError,
    ElectlogError,
    EntryError,
    ReadOnlyStoreError,
    TilesError,
    TilesUnavailableError,
    UsageError,
)
from ..events import AuthorHead, Entry
from ..store._integrity import checkpoint_text
from ..store.base import Store, StoredCheckpoint, StoreTx
from ._tiles_export import TilesInfo, export_tiles
from ._tiles_layout import (
    MAX_TILES_ENTRY_SIZE,
    TILE_HEIGHT,
    TILE_WIDTH,
    _partial_paths,
    _split_bundle,
    bundle_bytes,
    entries_path,
    parse_tile_path,
    tile_bytes,
    tile_path,
)

__all__ = [
    "MAX_TILES_ENTRY_SIZE",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "DirectoryFetcher",
    "TilesFetcher",
    "TilesInfo",
    "TilesReader",
    "bundle_bytes",
    "entries_path",
    "export_tiles",
    "http_fetcher",
    "parse_tile_path",
    "tile_bytes",
    "tile_path",
]

_MAX_CHECKPOINT_FILE: Final = 1 << 20
_MAX_BUNDLE_FILE: Final = TILE_WIDTH * (2 + MAX_TILES_ENTRY_SIZE)
_TILE_CACHE: Final = 1024


def _read_regular(directory: Path, rel: str, limit: int) -> bytes:
    """The bytes of ``directory/rel``, which must be a regular file of at most ``limit`` bytes
    reached without following any symbolic link below ``directory`` (so never a FIFO, a
    device, or a file outside the directory). Raises ``OSError`` or :class:`TilesError`."""
    parts = rel.split("/")
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            try:
                sub = os.open(
                    part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd
                )
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise TilesError(
                        f"{directory / rel}: {part!r} is not a directory (symbolic links are "
                        "not followed inside a tiles directory)"
                    ) from exc
                raise
            os.close(fd)
            fd = sub
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            sub = os.open(parts[-1], flags, dir_fd=fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise TilesError(
                    f"{directory / rel} is a symbolic link; a tiles directory is read as "
                    "regular files only"
                ) from exc
            raise
        os.close(fd)
        fd = sub
        try:
            return read_regular_fd(fd, limit)
        except NotASmallFileError as exc:
            raise TilesError(f"{directory / rel} {exc}") from exc
    finally:
        os.close(fd)


class TilesFetcher(abc.ABC):
    """Where a :class:`TilesReader` gets its files from: a directory (:class:`DirectoryFetcher`)
    or a log served over HTTP (``TilesReader.from_url``). A fetcher only moves bytes; every
    check of what they say is the reader's, whichever fetcher brought them."""

    @abc.abstractmethod
    def fetch(self, rel: str, limit: int) -> bytes:
        """The bytes of the file at the tlog-tiles path ``rel`` (``checkpoint``, ``tile/...``),
        at most ``limit`` of them. Raises :class:`~electlog.errors.TilesUnavailableError` (with
        ``missing`` for a file that does not exist) or :class:`~electlog.errors.TilesError`,
        naming the file."""

    @abc.abstractmethod
    def where(self, rel: str) -> str:
        """The file's name in messages (a path or a URL)."""

    @property
    @abc.abstractmethod
    def description(self) -> str:
        """The whole source in messages (``tiles directory '...'``, ``tiles at https://...``)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (a directory holds none)."""


class DirectoryFetcher(TilesFetcher):
    """Files of a local tiles directory: regular files only, no symbolic link followed below
    the directory, each read up to its size cap."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(os.fspath(directory))

    def fetch(self, rel: str, limit: int) -> bytes:
        try:
            return _read_regular(self.directory, rel, limit)
        except OSError as exc:
            raise TilesUnavailableError(
                f"missing or unreadable {self.directory / rel}: {exc}",
                missing=exc.errno == errno.ENOENT,
            ) from exc

    def where(self, rel: str) -> str:
        return str(self.directory / rel)

    @property
    def description(self) -> str:
        return f"tiles directory {str(self.directory)!r}"


def http_fetcher(
    url: str,
    *,
    timeout: float = 10.0,
    file_deadline: float = 120.0,
    max_total_bytes: int = 1 << 33,
    max_redirects: int = 3,
    transport: object | None = None,
) -> TilesFetcher:
    """The fetcher of a log served over HTTP at ``url`` (see :meth:`TilesReader.from_url`)."""
    try:
        from ._tiles_http import HttpFetcher
    except ModuleNotFoundError as exc:
        if exc.name is not None and not exc.name.startswith("electlog"):
            raise UsageError(
                f"reading tiles over HTTP needs {exc.name}: pip install 'electlog[server]'"
            ) from exc
        raise
    return HttpFetcher(
        url,
        timeout=timeout,
        file_deadline=file_deadline,
        max_total_bytes=max_total_bytes,
        max_redirects=max_redirects,
        transport=transport,
    )


class TilesReader(Store):
    """A tlog-tiles directory, or a log served over HTTP, opened as a read-only store (see the
    module docstring).

    ``source`` is a directory path or a :class:`TilesFetcher`; :meth:`from_url` reads a log
    served over ``http://`` or ``https://`` (it needs httpx, the ``server`` extra). The
    ``checkpoint`` file is read and parsed unless ``checkpoint_note`` gives the note to read
    the tree of (a monitor that fetched and verified it already); its signatures are *not*
    verified here: pass :attr:`checkpoint_note` to
    :func:`~electlog.checkpoint.verify_checkpoint` with the log's key. ``size()`` is the
    checkpoint's size. Nodes, roots and proofs come from the tiles; a missing, mis-sized or
    inconsistent tile or entry bundle raises :class:`~electlog.errors.TilesError` naming the
    file (:class:`~electlog.errors.TilesUnavailableError` when it could not be fetched at all).
    A partial tile or bundle that is missing is read as the prefix of the full one, as
    tlog-tiles clients do once a log has filled it. :meth:`verify` checks everything.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | TilesFetcher,
        *,
        checkpoint_note: str | None = None,
    ) -> None:
        if isinstance(source, TilesFetcher):
            self._fetcher = source
        elif isinstance(source, str | os.PathLike):
            self._fetcher = DirectoryFetcher(source)
        else:
            raise UsageError(f"a tiles source is a directory or a TilesFetcher, not {source!r}")
        self._dir = self._fetcher.directory if isinstance(self._fetcher, DirectoryFetcher) else None
        where = self._fetcher.where("checkpoint")
        if checkpoint_note is None:
            try:
                raw = self._fetcher.fetch("checkpoint", _MAX_CHECKPOINT_FILE)
            except TilesUnavailableError as exc:
                raise TilesUnavailableError(
                    f"cannot read the checkpoint: {exc}", missing=exc.missing
                ) from exc
            try:
                note = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise TilesError(f"{where} is not a checkpoint note: {exc}") from exc
        elif isinstance(checkpoint_note, str):
            note = checkpoint_note
        else:
            raise UsageError("checkpoint_note must be the text of a signed note")
        try:
            cp = Checkpoint.from_text(checkpoint_text(note))
        except (CheckpointError, UsageError) as exc:
            raise TilesError(f"{where} is not a checkpoint note: {exc}") from exc
        self._note = note
        self._checkpoint = cp
        self._tiles: dict[tuple[int, int], list[bytes]] = {}
        self._heads: dict[bytes, AuthorHead] | None = None

    # ------------------------------------------------------------------ store API

    @property
    def origin(self) -> str:
        return self._checkpoint.origin

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        checkpoint_note: str | None = None,
        timeout: float = 10.0,
        file_deadline: float = 120.0,
        max_total_bytes: int = 1 << 33,
        max_redirects: int = 3,
        transport: object | None = None,
    ) -> TilesReader:
        """A log served as tlog-tiles at ``url`` (``http://`` or ``https://``; the
        ``checkpoint`` and ``tile/...`` paths are resolved below it). Each file is capped as in
        a directory; ``timeout`` bounds connecting and each read (seconds), ``file_deadline``
        one whole file, ``max_total_bytes`` everything this reader fetches; redirects are
        followed only within the same scheme, host and port, at most ``max_redirects`` times.
        Every failure is a :class:`~electlog.errors.TilesUnavailableError` naming the URL.
        ``transport`` (an ``httpx.BaseTransport``) is for tests. Needs httpx (the ``server``
        extra); :class:`~electlog.errors.UsageError` without it."""
        fetcher = http_fetcher(
            url,
            timeout=timeout,
            file_deadline=file_deadline,
            max_total_bytes=max_total_bytes,
            max_redirects=max_redirects,
            transport=transport,
        )
        try:
            return cls(fetcher, checkpoint_note=checkpoint_note)
        except BaseException:
            fetcher.close()
            raise

    @property
    def directory(self) -> Path | None:
        """The tiles directory (None for a log read over HTTP)."""
        return self._dir

    @property
    def fetcher(self) -> TilesFetcher:
        """Where the files come from (an HTTP fetcher counts what it fetched)."""
        return self._fetcher

    @property
    def description(self) -> str:
        """The source in messages: the directory or the URL."""
        return self._fetcher.description

    def close(self) -> None:
        self._fetcher.close()

    @property
    def checkpoint(self) -> Checkpoint:
        """The parsed checkpoint (signatures not verified)."""
        return self._checkpoint

    @property
    def checkpoint_note(self) -> str:
        """The signed note as found in the ``checkpoint`` file."""
        return self._note

    def size(self) -> int:
        return self._checkpoint.size

    def checkpoints(self) -> list[StoredCheckpoint]:
        return [StoredCheckpoint(self._checkpoint.size, self._note)]

    def add_checkpoint(self, size: int, note: str) -> None:
        raise ReadOnlyStoreError(f"{self.description} is read-only")

    def transaction(self) -> AbstractContextManager[StoreTx]:
        raise ReadOnlyStoreError(f"{self.description} is read-only")

    # ------------------------------------------------------------------ tiles

    def _read(self, rel: str, expect: int | None = None) -> bytes:
        data = self._fetcher.fetch(rel, _MAX_BUNDLE_FILE if expect is None else expect)
        if expect is not None and len(data) != expect:
            raise TilesError(f"{self._fetcher.where(rel)} is {len(data)} bytes, expected {expect}")
        return data

    def _read_partial(self, rel: str, full: str, expect: int | None) -> tuple[bytes, str]:
        """A tile or bundle and the path it was read from: when the partial one ``rel`` is
        missing, the full one ``full`` (the log filled it since and may have removed the
        partial file, as tlog-tiles allows; the caller takes its prefix)."""
        try:
            return self._read(rel, expect), rel
        except TilesUnavailableError as exc:
            if not exc.missing or rel == full:
                raise
        try:
            return self._read(full, None if expect is None else 32 * TILE_WIDTH), full
        except TilesUnavailableError as exc:
            if exc.missing:
                raise TilesUnavailableError(
                    f"{self._fetcher.where(rel)} is missing (and so is the full "
                    f"{self._fetcher.where(full)})",
                    missing=True,
                ) from exc
            raise

    def _width(self, level: int, n: int) -> int:
        """The width of tile ``n`` at tile level ``level`` in this tree (0 if it is empty)."""
        count = self.size() >> (TILE_HEIGHT * level)
        full = count >> TILE_HEIGHT
        if n < full:
            return TILE_WIDTH
        if n == full:
            return count & (TILE_WIDTH - 1)
        return 0

    def _tile(self, level: int, n: int) -> list[bytes]:
        """The 9 levels of hash tile ``n`` at tile level ``level``, checked against the tile
        above when full."""
        found = self._tiles.get((level, n))
        if found is not None:
            return found
        width = self._width(level, n)
        if width == 0:
            raise UsageError(f"tile {n} of level {level} is beyond a tree of size {self.size()}")
        data, _ = self._read_partial(tile_path(level, n, width), tile_path(level, n), 32 * width)
        data = data[: 32 * width]  # a full tile read for a missing partial one: its prefix
        rows = [[data[i : i + 32] for i in range(0, len(data), 32)]]
        while len(rows[-1]) > 1:
            below = rows[-1]
            rows.append(
                [
                    sha256(b"\x01" + below[i] + below[i + 1]).digest()
                    for i in range(0, len(below) - 1, 2)
                ]
            )
        flat = [b"".join(r) for r in rows]
        if width == TILE_WIDTH:
            top = flat[TILE_HEIGHT]
            above = self._tile(level + 1, n >> TILE_HEIGHT)[0]
            pos = (n & (TILE_WIDTH - 1)) * 32
            if above[pos : pos + 32] != top:
                raise TilesError(
                    f"{self._fetcher.where(tile_path(level, n))} does not hash to the value tile "
                    f"level "
                    f"{level + 1} holds for it"
                )
        if len(self._tiles) >= _TILE_CACHE:
            self._tiles.clear()
        self._tiles[(level, n)] = flat
        return flat

    def node(self, level: int, index: int) -> bytes:
        if not isinstance(level, int) or not isinstance(index, int) or level < 0 or index < 0:
            raise UsageError("node level and index are non-negative integers")
        if (index + 1) << level > self.size():
            raise UsageError(
                f"no complete Merkle node at level {level} index {index} in a tree of size "
                f"{self.size()}"
            )
        tile_level, sub = divmod(level, TILE_HEIGHT)
        first = index << sub  # index of the first covered hash at Merkle level 8 * tile_level
        rows = self._tile(tile_level, first >> TILE_HEIGHT)
        pos = (index & ((TILE_WIDTH >> sub) - 1)) * 32
        return rows[sub][pos : pos + 32]

    def leaf_hashes(self, start: int, stop: int) -> Sequence[bytes]:
        if not 0 <= start <= stop <= self.size():
            raise UsageError(f"leaf range [{start}, {stop}) out of range")
        out: list[bytes] = []
        i = start
        while i < stop:
            row = self._tile(0, i >> TILE_HEIGHT)[0]
            end = min(stop, ((i >> TILE_HEIGHT) + 1) << TILE_HEIGHT)
            off = i & (TILE_WIDTH - 1)
            out.extend(row[(off + k) * 32 : (off + k + 1) * 32] for k in range(end - i))
            i = end
        return out

    def _bundle(self, n: int) -> list[bytes]:
        width = self._width(0, n)
        if width == 0:
            raise UsageError(f"entry bundle {n} is beyond a tree of size {self.size()}")
        rel = entries_path(n, width)
        full = entries_path(n)
        data, got = self._read_partial(rel, full, None)
        where = self._fetcher.where(got)
        entries = _split_bundle(data, where)
        expected = width if got == rel else TILE_WIDTH
        if len(entries) != expected:
            raise TilesError(f"{where} holds {len(entries)} entries, expected {expected}")
        entries = entries[:width]
        leaves = self._tile(0, n)[0]
        for k, e in enumerate(entries):
            if sha256(b"\x00" + e).digest() != leaves[k * 32 : (k + 1) * 32]:
                raise TilesError(
                    f"{where}: entry {n * TILE_WIDTH + k} does not match its leaf hash"
                )
        return entries

    def entry(self, index: int) -> bytes:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < self.size():
            raise UsageError(f"entry index {index!r} out of range for size {self.size()}")
        return self._bundle(index >> TILE_HEIGHT)[index & (TILE_WIDTH - 1)]

    def entries(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        end = self.size() if stop is None else stop
        if not isinstance(start, int) or not isinstance(end, int):
            raise UsageError("entry range bounds must be integers")
        if not 0 <= start <= end <= self.size():
            raise UsageError(f"entry range [{start}, {end}) out of range")
        return self._stream(start, end)

    def _stream(self, start: int, end: int) -> Iterator[bytes]:
        i = start
        while i < end:
            n = i >> TILE_HEIGHT
            bundle = self._bundle(n)
            stop = min(end, (n + 1) << TILE_HEIGHT)
            yield from bundle[i - (n << TILE_HEIGHT) : stop - (n << TILE_HEIGHT)]
            i = stop

    def author_head(self, key_id: bytes) -> AuthorHead | None:
        """The author's head after the last entry (computed by one pass over the entries)."""
        if self._heads is None:
            heads: dict[bytes, AuthorHead] = {}
            for i, data in enumerate(self.entries()):
                try:
                    e = Entry.from_bytes(data, verify=False)
                except ElectlogError as exc:
                    raise EntryError(f"entry {i} in the tiles does not parse: {exc}") from exc
                heads[e.author] = AuthorHead(e.statement.seq, e.leaf_hash)
            self._heads = heads
        return self._heads.get(key_id)

    # ------------------------------------------------------------------ proofs

    def root(self, size: int | None = None) -> bytes:
        """The Merkle root of the first ``size`` entries (default: the checkpoint's size)."""
        return merkle.root_at(self.node, self._size_arg(size))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Inclusion proof of entry ``index`` in the tree of ``size`` entries."""
        return merkle.inclusion_proof_at(self.node, index, self._size_arg(size))

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """Consistency proof from tree size ``size1`` to ``size2``."""
        return merkle.consistency_proof_at(self.node, size1, self._size_arg(size2))

    def _size_arg(self, size: int | None) -> int:
        if size is None:
            return self.size()
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= self.size():
            raise UsageError(f"tree size {size!r} out of range [0, {self.size()}]")
        return size

    def verify(self) -> None:
        """Check every file the directory serves (:meth:`problems`); raises
        :class:`~electlog.errors.TilesError` listing what is wrong."""
        found = self.problems()
        if len(found) == 1:
            raise TilesError(found[0])
        if found:
            more = f"; and {len(found) - 5} more" if len(found) > 5 else ""
            raise TilesError(f"{len(found)} problems: " + "; ".join(found[:5]) + more)

    def problems(self, *, entries: bool = True) -> list[str]:
        """Everything wrong with the directory, one message per problem naming the file.

        Checked: every hash tile of the checkpoint's tree against the tile above it, every
        entry bundle (unless ``entries=False``, for a caller that read them all already)
        against its level-0 hashes, the root recomputed from the tiles against the
        checkpoint's; and every other file under ``tile/``: no symbolic link, FIFO or device
        anywhere, each partial tile or bundle of an earlier (smaller) tree equal to the
        prefix of the tree's own tile, and every file such an earlier tree needs present (a
        directory serving ``tile/0/001.p/44`` serves the tree of size 300, so it must serve
        ``tile/entries/001.p/44`` too). Files of a larger tree than the checkpoint's (an
        export that was interrupted before its checkpoint) are checked where they overlap.
        """
        out: list[str] = []
        size = self.size()
        level = 0
        while size >> (TILE_HEIGHT * level):
            count = size >> (TILE_HEIGHT * level)
            for n in range((count + TILE_WIDTH - 1) >> TILE_HEIGHT):
                try:
                    self._tile(level, n)
                except TilesError as exc:
                    out.append(str(exc))
            level += 1
        if entries:
            for n in range((size + TILE_WIDTH - 1) >> TILE_HEIGHT):
                try:
                    self._bundle(n)
                except TilesError as exc:
                    out.append(str(exc))
        if not out:
            root = self.root()
            if root != self._checkpoint.root:
                out.append(
                    f"root recomputed from the tiles {root.hex()} differs from the "
                    f"checkpoint's {self._checkpoint.root.hex()}"
                )
        if self._dir is not None:  # a served log cannot be listed: only its tree is checked
            out.extend(self._served_file_problems(self._dir))
        return out

    def _served_file_problems(self, directory: Path) -> list[str]:
        out: list[str] = []
        seen: set[str] = set()
        earlier: set[int] = set()
        stack = [directory / "tile"]
        while stack:
            d = stack.pop()
            try:
                with os.scandir(d) as it:
                    items = list(it)
            except FileNotFoundError:
                continue
            except OSError as exc:
                out.append(f"cannot list {d}: {exc}")
                continue
            for item in items:
                path = Path(item.path)
                if item.is_symlink():
                    out.append(f"{path} is a symbolic link; a tiles directory serves regular files")
                elif item.is_dir(follow_symlinks=False):
                    stack.append(path)
                elif not item.is_file(follow_symlinks=False):
                    out.append(f"{path} is not a regular file (a FIFO, device or socket)")
                else:
                    rel = path.relative_to(directory).as_posix()
                    seen.add(rel)
                    problem = self._served_file_problem(directory, rel, earlier)
                    if problem is not None:
                        out.append(problem)
        for s in sorted(earlier):
            for rel in _partial_paths(s):
                if rel not in seen:
                    out.append(
                        f"{directory / rel} is missing: the directory serves other partial "
                        f"tiles of the tree of size {s} (an earlier checkpoint) but not this one"
                    )
        return out

    def _served_file_problem(self, directory: Path, rel: str, earlier: set[int]) -> str | None:
        """Check a file under ``tile/`` that is not (necessarily) one of the tree's own."""
        parsed = parse_tile_path(rel)
        if parsed is None:
            return None  # not a tlog-tiles path: not part of the log
        level, n, width = parsed
        current = self._width(level or 0, n)
        if current in (0, width):
            return None  # beyond the tree, or the tree's own file (checked by problems())
        if (level is None or level == 0) and width < TILE_WIDTH:
            s = n * TILE_WIDTH + width
            if s < self.size():
                earlier.add(s)
        path = directory / rel
        try:
            if level is not None:
                data = _read_regular(directory, rel, 32 * width)
                if len(data) != 32 * width:
                    return f"{path} is {len(data)} bytes, expected {32 * width}"
                k = min(width, current)
                if data[: 32 * k] != self._tile(level, n)[0][: 32 * k]:
                    return (
                        f"{path} differs from the first {k} hashes of the tree's own tile "
                        f"{tile_path(level, n, current)}"
                    )
                return None
            found = _split_bundle(_read_regular(directory, rel, _MAX_BUNDLE_FILE), path)
            if len(found) != width:
                return f"{path} holds {len(found)} entries, expected {width}"
            k = min(width, current)
            leaves = self._tile(0, n)[0]
            for i, e in enumerate(found[:k]):
                if sha256(b"\x00" + e).digest() != leaves[i * 32 : (i + 1) * 32]:
                    return f"{path}: entry {n * TILE_WIDTH + i} does not match its leaf hash"
        except OSError as exc:
            return f"cannot read {path}: {exc}"
        except TilesError as exc:
            return str(exc)
        return None

    def __repr__(self) -> str:
        where = str(self._dir) if self._dir is not None else self._fetcher.where("")
        return f"TilesReader({where!r}, origin={self.origin!r}, size={self.size()})"
