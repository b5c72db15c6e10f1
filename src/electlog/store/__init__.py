"""Stores: where a log's entries, Merkle nodes, checkpoints and author heads live.

``open_store(target)`` chooses the backend: ``":memory:"`` → :class:`MemoryStore`, a
``postgresql://`` or ``postgres://`` DSN → :class:`PostgresStore`, anything else is a path to a
SQLite file → :class:`SQLiteStore` (the embedded default). See docs/storage.md for the
guarantees. The bundle file and tlog-tiles live one layer up, in :mod:`electlog.publish`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..errors import UsageError
from .base import Store, StoredCheckpoint, StoreTx
from .memory import MemoryStore
from .postgres import PostgresStore
from .sqlite import SQLiteStore

if TYPE_CHECKING:
    from ..publish import (
        BundleImport as BundleImport,
    )
    from ..publish import (
        BundleInfo as BundleInfo,
    )
    from ..publish import (
        BundleReader as BundleReader,
    )
    from ..publish import (
        TilesInfo as TilesInfo,
    )
    from ..publish import (
        TilesReader as TilesReader,
    )
    from ..publish import (
        export_bundle as export_bundle,
    )
    from ..publish import (
        export_tiles as export_tiles,
    )
    from ..publish import (
        import_bundle as import_bundle,
    )

# The bundle and tiles names moved to electlog.publish, above the log (a store never needs
# them); users imported them from here, so they still resolve here, on first use.
_PUBLISH_NAMES = frozenset(
    {
        "BundleImport",
        "BundleInfo",
        "BundleReader",
        "TilesInfo",
        "TilesReader",
        "export_bundle",
        "export_tiles",
        "import_bundle",
    }
)


def __getattr__(name: str) -> object:
    """``from electlog.store import BundleReader`` (and the other bundle and tiles names) as
    before they moved to :mod:`electlog.publish`: the same objects, no warning."""
    if name in _PUBLISH_NAMES:
        from .. import publish

        return getattr(publish, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MemoryStore",
    "PostgresStore",
    "SQLiteStore",
    "Store",
    "StoreTx",
    "StoredCheckpoint",
    "is_postgres_dsn",
    "open_store",
]

_DSN_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_dsn(target: object) -> bool:
    """Whether ``target`` is a ``postgresql://`` / ``postgres://`` connection URI."""
    return isinstance(target, str) and target.lower().startswith(_DSN_SCHEMES)


def open_store(
    target: str | os.PathLike[str],
    *,
    origin: str | None = None,
    create: bool = True,
    read_only: bool = False,
) -> Store:
    """Open (or create) the store at ``target``.

    ``":memory:"`` gives a new :class:`MemoryStore` (``origin`` required); a ``postgresql://``
    DSN a :class:`PostgresStore`; any other string or path a :class:`SQLiteStore`. ``origin``
    is required to create a store and, when given for an existing one, must match it.
    ``create=False`` requires the store to exist; ``read_only=True`` opens without write access
    (writes raise :class:`~electlog.errors.ReadOnlyStoreError`).
    """
    if isinstance(target, os.PathLike):
        target = os.fspath(target)
    if not isinstance(target, str) or not target:
        raise UsageError(f"open_store needs a path or a DSN, got {target!r}")
    if target == ":memory:":
        if origin is None:
            raise UsageError("an in-memory store needs an origin")
        return MemoryStore(origin)
    if is_postgres_dsn(target):
        return PostgresStore(target, origin=origin, create=create, read_only=read_only)
    return SQLiteStore(target, origin=origin, create=create, read_only=read_only)
