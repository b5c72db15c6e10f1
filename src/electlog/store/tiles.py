"""The tlog-tiles export and reader moved to :mod:`electlog.publish.tiles` (they sit above the
log); this path keeps working, with the same objects and no warning."""

from __future__ import annotations

from ..publish.tiles import (
    MAX_TILES_ENTRY_SIZE,
    TILE_HEIGHT,
    TILE_WIDTH,
    DirectoryFetcher,
    TilesFetcher,
    TilesInfo,
    TilesReader,
    bundle_bytes,
    entries_path,
    export_tiles,
    http_fetcher,
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
