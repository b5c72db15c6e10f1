"""Stores: where a log's entries, Merkle nodes, checkpoints and author heads live.

``open_store(target)`` chooses the backend: ``":memory:"`` → :class:`MemoryStore`, a
``postgresql://`` or ``postgres://`` DSN → ``PostgresStore``, anything else is a path to a SQLite
file → ``SQLiteStore`` (the embedded default). See docs/storage.md for the guarantees.
"""

from __future__ import annotations

from .base import Store, StoredCheckpoint, StoreTx
from .memory import MemoryStore

__all__ = ["MemoryStore", "Store", "StoreTx", "StoredCheckpoint"]
