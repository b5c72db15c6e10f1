"""Writing a log as a static tlog-tiles directory (:func:`export_tiles`): every file written to
a temporary name, fsynced and renamed into place, the checkpoint last."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Final

import attrs

from .. import merkle
from ..checkpoint import Checkpoint
from ..errors import CheckpointError, StorageError, TilesError, UsageError
from ..store._integrity import checkpoint_text
from ..store.base import Store
from ._tiles_layout import (
    TILE_HEIGHT,
    TILE_WIDTH,
    _shape_problem,
    bundle_bytes,
    entries_path,
    tile_bytes,
    tile_path,
)

if TYPE_CHECKING:
    from ..log import Log

_TMP_RE: Final = re.compile(r"\..+\.tmp-([0-9]+)")


@attrs.frozen(kw_only=True)
class TilesInfo:
    """What :func:`export_tiles` wrote."""

    directory: Path
    origin: str
    size: int
    root: bytes
    tiles: int
    entry_bundles: int
    unchanged: int


def _source_store(source: Store | Log) -> Store:
    if isinstance(source, Store):
        return source
    store = getattr(source, "store", None)
    if isinstance(store, Store):
        return store
    raise UsageError("export_tiles needs a Store or a Log")


def _parse_note(note: str, what: str) -> Checkpoint:
    if not isinstance(note, str):
        raise UsageError(f"{what} must be a signed note (str)")
    try:
        return Checkpoint.from_text(checkpoint_text(note))
    except CheckpointError as exc:
        raise CheckpointError(f"{what} does not parse: {exc}") from exc


class _Writer:
    """Writes files durably: each to a temporary name, fsynced, renamed into place; the
    directories it wrote into are fsynced by :meth:`sync_dirs` (before the checkpoint)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.written = 0
        self.unchanged = 0
        self.replaced = 0
        self._dirs: set[Path] = set()

    def clean_leftovers(self) -> int:
        """Remove the temporary files of exports that were killed (their process is gone)."""
        removed = 0
        if not self.directory.is_dir():
            return 0
        for root, _dirs, files in os.walk(self.directory):
            for name in files:
                m = _TMP_RE.fullmatch(name)
                if m is None or _process_alive(int(m.group(1))):
                    continue
                try:
                    os.unlink(os.path.join(root, name))
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    where = os.path.join(root, name)
                    raise StorageError(f"removing {where} failed: {exc}") from exc
                self._dirs.add(Path(root))
                removed += 1
        return removed

    def put(self, rel: str, data: bytes, *, immutable: bool = True) -> None:
        path = self.directory / rel
        try:
            if immutable and path.is_file():
                old = path.read_bytes()
                if old == data:
                    self.unchanged += 1
                    return
                if _shape_problem(rel, old) is None:
                    raise TilesError(
                        f"{path} already exists with other contents; tiles are immutable "
                        "(is this directory another log's export?)"
                    )
                self.replaced += 1  # not a tile at all (cut short by a crash): rewrite it
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            self._dirs.add(path.parent)
        except OSError as exc:
            raise StorageError(f"writing {path} failed: {exc}") from exc
        self.written += 1

    def sync_dirs(self) -> None:
        """fsync every directory written into, and their parents up to the export root."""
        todo: set[Path] = set()
        for written in self._dirs:
            d = written
            while True:
                todo.add(d)
                if d == self.directory or self.directory not in d.parents:
                    break
                d = d.parent
        for d in sorted(todo, key=lambda p: len(p.parts), reverse=True):
            try:
                fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
            except OSError as exc:
                raise StorageError(f"opening {d} to fsync it failed: {exc}") from exc
            try:
                os.fsync(fd)
            except OSError as exc:
                raise StorageError(f"fsync of {d} failed: {exc}") from exc
            finally:
                os.close(fd)
        self._dirs.clear()


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # a leftover of an earlier process that had our pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def export_tiles(
    source: Store | Log,
    directory: str | os.PathLike[str],
    *,
    checkpoint_note: str | None = None,
    all_checkpoints: bool = True,
) -> TilesInfo:
    """Export the log in ``source`` as a tlog-tiles directory, up to a checkpoint.

    ``checkpoint_note`` is the signed note written as ``checkpoint`` (default: the store's
    latest checkpoint); its origin must be the log's and its root the store's root at its size,
    and the tree is exported at that size. With ``all_checkpoints`` (the default) the partial
    tiles and entry bundles of every stored checkpoint of a smaller size are written too, as
    the spec requires of a log that published those checkpoints. Existing identical files are
    left alone (so a later export extends an earlier one); an existing tile with other
    contents of a valid tile's shape raises :class:`~electlog.errors.TilesError`, while a file
    that cannot be that tile (zero-length or cut short by a power cut) is rewritten. Every
    file is written under a temporary name, fsynced and renamed; the directories are fsynced
    and only then is the ``checkpoint`` file replaced, so a crash never leaves a checkpoint
    whose tiles are not on disk. Temporary files of killed exports (``.NAME.tmp-PID`` whose
    process is gone) are removed first.
    """
    store = _source_store(source)
    if checkpoint_note is None:
        latest = store.latest_checkpoint()
        if latest is None:
            raise UsageError("the log has no checkpoint to export; sign one first")
        checkpoint_note = latest.note
    cp = _parse_note(checkpoint_note, "checkpoint note")
    if cp.origin != store.origin:
        raise CheckpointError(
            f"checkpoint is for log {cp.origin!r}, the store holds {store.origin!r}"
        )
    if cp.size > store.size():
        raise CheckpointError(f"checkpoint size {cp.size} exceeds the log size {store.size()}")
    if merkle.root_at(store.node, cp.size) != cp.root:
        raise CheckpointError(f"checkpoint root does not match the log's root at size {cp.size}")
    size = cp.size
    out = _Writer(Path(os.fspath(directory)))
    out.clean_leftovers()
    sizes = {size}
    if all_checkpoints:
        sizes.update(c.size for c in store.checkpoints() if 0 < c.size <= size)
    tiles = bundles = 0
    # full tiles and bundles of the exported size, then partial ones of every size
    level = 0
    while size >> (TILE_HEIGHT * level):
        count = size >> (TILE_HEIGHT * level)
        for n in range(count >> TILE_HEIGHT):
            out.put(tile_path(level, n), tile_bytes(store, level, n * TILE_WIDTH, TILE_WIDTH))
            tiles += 1
        level += 1
    for n in range(size >> TILE_HEIGHT):
        out.put(entries_path(n), bundle_bytes(store, n * TILE_WIDTH, TILE_WIDTH))
        bundles += 1
    for s in sorted(sizes):
        level = 0
        while s >> (TILE_HEIGHT * level):
            count = s >> (TILE_HEIGHT * level)
            width = count & (TILE_WIDTH - 1)
            if width:
                n = count >> TILE_HEIGHT
                out.put(
                    tile_path(level, n, width),
                    tile_bytes(store, level, n * TILE_WIDTH, width),
                )
                tiles += 1
            level += 1
        width = s & (TILE_WIDTH - 1)
        if width:
            n = s >> TILE_HEIGHT
            out.put(entries_path(n, width), bundle_bytes(store, n * TILE_WIDTH, width))
            bundles += 1
    out.sync_dirs()  # every tile is on disk before the checkpoint that refers to them
    out.put("checkpoint", checkpoint_note.encode("utf-8"), immutable=False)
    out.sync_dirs()
    return TilesInfo(
        directory=out.directory,
        origin=store.origin,
        size=size,
        root=cp.root,
        tiles=tiles,
        entry_bundles=bundles,
        unchanged=out.unchanged,
    )
