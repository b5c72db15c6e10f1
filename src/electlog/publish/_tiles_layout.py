"""The tlog-tiles layout (https://c2sp.org/tlog-tiles): tile paths, the bytes of a hash tile and
of an entry bundle, and the shape a file at a path must have. Shared by the exporter, the reader
(:mod:`electlog.publish.tiles`) and the log service (``electlog serve``). Section 6 of
docs/format.md is normative.
"""

from __future__ import annotations

import re
import struct
from typing import Final

from ..errors import TilesError, UsageError
from ..store.base import Store

TILE_HEIGHT: Final = 8
"""Levels of the Merkle tree one tile spans (fixed by tlog-tiles)."""

TILE_WIDTH: Final = 1 << TILE_HEIGHT
"""Hashes in a full tile, and entries in a full entry bundle (256)."""

MAX_TILES_ENTRY_SIZE: Final = 0xFFFF
"""Largest entry an entry bundle can carry (its length prefix is a big-endian uint16)."""

_U16: Final = struct.Struct(">H")
_TILE_RE: Final = re.compile(r"tile/(entries|[0-9]+)/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([0-9]+))?")


def parse_tile_path(rel: str) -> tuple[int | None, int, int] | None:
    """``(level, index, width)`` of a tlog-tiles path such as ``tile/1/x001/234.p/5`` (level
    None for an entry bundle), or None if ``rel`` is not the canonical path of a tile. Shared
    by the reader and the log service (``electlog serve``)."""
    m = _TILE_RE.fullmatch(rel)
    if m is None:
        return None
    index = int(m.group(2).replace("x", "").replace("/", ""))
    width = int(m.group(3)) if m.group(3) is not None else TILE_WIDTH
    try:
        if m.group(1) == "entries":
            return (None, index, width) if entries_path(index, width) == rel else None
        level = int(m.group(1))
        return (level, index, width) if tile_path(level, index, width) == rel else None
    except UsageError:
        return None


def _shape_problem(rel: str, data: bytes) -> str | None:
    """Why ``data`` cannot be the tile or entry bundle at ``rel`` (wrong length, a bundle that
    does not parse into its width of entries), or None."""
    parsed = parse_tile_path(rel)
    if parsed is None:
        return None
    level, _, width = parsed
    if level is not None:
        return None if len(data) == 32 * width else f"is {len(data)} bytes, expected {32 * width}"
    try:
        return None if len(_split_bundle(data, rel)) == width else "holds the wrong entry count"
    except TilesError as exc:
        return str(exc)


def _split_bundle(data: bytes, where: object) -> list[bytes]:
    entries: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise TilesError(f"{where}: truncated length at byte {pos}")
        (length,) = _U16.unpack_from(data, pos)
        if pos + 2 + length > len(data):
            raise TilesError(f"{where}: entry at byte {pos} is cut short")
        entries.append(data[pos + 2 : pos + 2 + length])
        pos += 2 + length
    return entries


def _encode_index(n: int) -> str:
    """``<N>`` of a tile path: zero-padded 3-digit groups, all but the last prefixed ``x``."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise UsageError(f"tile index {n!r} must be a non-negative integer")
    text = f"{n % 1000:03d}"
    n //= 1000
    while n:
        text = f"x{n % 1000:03d}/{text}"
        n //= 1000
    return text


def _suffix(width: int) -> str:
    if width == TILE_WIDTH:
        return ""
    if not isinstance(width, int) or not 1 <= width < TILE_WIDTH:
        raise UsageError(f"tile width {width!r} must be 1..256")
    return f".p/{width}"


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """The tlog-tiles path of hash tile ``index`` at ``level`` (``tile/<L>/<N>[.p/<W>]``)."""
    if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= 63:
        raise UsageError(f"tile level {level!r} must be 0..63")
    return f"tile/{level}/{_encode_index(index)}{_suffix(width)}"


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    """The tlog-tiles path of entry bundle ``index`` (``tile/entries/<N>[.p/<W>]``)."""
    return f"tile/entries/{_encode_index(index)}{_suffix(width)}"


def _partial_paths(size: int) -> list[str]:
    """The partial hash tiles and the partial entry bundle of a tree of ``size`` entries."""
    out = []
    level = 0
    while size >> (TILE_HEIGHT * level):
        count = size >> (TILE_HEIGHT * level)
        width = count & (TILE_WIDTH - 1)
        if width:
            out.append(tile_path(level, count >> TILE_HEIGHT, width))
        level += 1
    width = size & (TILE_WIDTH - 1)
    if width:
        out.append(entries_path(size >> TILE_HEIGHT, width))
    return out


def tile_bytes(store: Store, level: int, first: int, width: int) -> bytes:
    """The hashes ``first .. first + width - 1`` of Merkle level ``8 * level``: the bytes of
    hash tile ``first // 256`` of tile level ``level`` (``first`` a multiple of 256), read from
    ``store``. Shared by :func:`export_tiles` and the log service."""
    if level == 0:
        return b"".join(store.leaf_hashes(first, first + width))
    height = TILE_HEIGHT * level
    return b"".join(store.node(height, i) for i in range(first, first + width))


def bundle_bytes(store: Store, first: int, width: int) -> bytes:
    """The entry bundle of entries ``first .. first + width - 1``: ``u16be(len) || entry`` each.
    Shared by :func:`export_tiles` and the log service."""
    parts = []
    for i, data in enumerate(store.entries(first, first + width), start=first):
        if len(data) > MAX_TILES_ENTRY_SIZE:
            raise TilesError(
                f"entry {i} is {len(data)} bytes; tlog-tiles entry bundles carry at most "
                f"{MAX_TILES_ENTRY_SIZE}"
            )
        parts.append(_U16.pack(len(data)))
        parts.append(data)
    return b"".join(parts)
