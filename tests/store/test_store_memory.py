"""MemoryStore against the store conformance kit."""

from __future__ import annotations

from electlog.store import MemoryStore, Store
from electlog.testing.store_conformance import StoreConformance


class TestMemoryStore(StoreConformance):
    def make_store(self, origin: str) -> Store:
        return MemoryStore(origin)

    def reopen_store(self, store: Store) -> Store:
        return store  # no persistence: the same object is the only handle
