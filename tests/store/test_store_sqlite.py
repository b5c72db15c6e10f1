"""SQLiteStore: the conformance kit plus SQLite-specific behaviour (open checks, errors)."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from electlog import merkle
from electlog.checkpoint import NoteSigner
from electlog.errors import (
    ReadOnlyStoreError,
    StorageError,
    StoreCorruptedError,
    UsageError,
)
from electlog.events import Author, Entry
from electlog.keys import SigningKey
from electlog.log import Log
from electlog.store import MemoryStore, Store, open_store
from electlog.store.sqlite import SQLiteStore
from electlog.testing.store_conformance import StoreConformance

ORIGIN = "example.org/sqlite-test"
T0 = 1_767_225_600_000_000


class TestSQLiteStore(StoreConformance):
    def make_store(self, origin: str) -> Store:
        return SQLiteStore(self.tmp_path / "log.sqlite", origin=origin)

    def reopen_store(self, store: Store) -> Store:
        assert isinstance(store, SQLiteStore)
        return SQLiteStore(store.path)

    def damage(self, store: Store, what: str, key: int | bytes) -> None:
        assert isinstance(store, SQLiteStore)
        table, column, where = _DAMAGE[what]
        with contextlib.closing(sqlite3.connect(store.path)) as db, db:
            row = db.execute(f"SELECT {column} FROM {table} WHERE {where}", (key,)).fetchone()
            value = bytearray(row[0])
            value[0] ^= 0x10
            db.execute(f"UPDATE {table} SET {column} = ? WHERE {where}", (bytes(value), key))


_DAMAGE = {
    "leaf": ("entries", "leaf", "idx = ?"),
    "node": ("nodes", "hash", "level = 1 AND idx = ?"),
    "head": ("heads", "prev", "author = ?"),
}


class TestSQLiteStoreSmallCache(TestSQLiteStore):
    """The same kit with a node cache of one block, so cache eviction paths run."""

    def make_store(self, origin: str) -> Store:
        return SQLiteStore(self.tmp_path / "log.sqlite", origin=origin, cache_bytes=1)

    def reopen_store(self, store: Store) -> Store:
        assert isinstance(store, SQLiteStore)
        return SQLiteStore(store.path, cache_bytes=1)


def _entries(n: int, authors: int = 3) -> list[Entry]:
    signers = [Author(SigningKey.from_seed(bytes([k + 1]) * 32), ORIGIN) for k in range(authors)]
    return [signers[i % authors].sign("t", {"i": i}, time=T0 + i) for i in range(n)]


def _filled(path: Path, n: int = 300, checkpoint: bool = True) -> list[Entry]:
    entries = _entries(n)
    with SQLiteStore(path, origin=ORIGIN) as store:
        log = Log(store)
        log.append_many(entries[: n // 2])
        log.append_many(entries[n // 2 :])
        if checkpoint:
            log.checkpoint(NoteSigner.generate(ORIGIN, rng_seed=b"\x09" * 32))
    return entries


def _tamper(path: Path, *sql: str) -> None:
    conn = sqlite3.connect(path)
    with conn:
        for stmt in sql:
            conn.execute(stmt)
    conn.close()


def test_file_settings(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with SQLiteStore(path, origin=ORIGIN) as store:
        conn = store._conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 60_000
        assert store.path == path and not store.read_only
        assert "s.sqlite" in repr(store)
    raw = sqlite3.connect(path)
    tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"meta", "entries", "nodes", "checkpoints", "heads"}
    assert dict(raw.execute("SELECT key, value FROM meta")) == {"origin": ORIGIN, "format": 1}
    raw.close()


def test_reopen_keeps_origin_and_rejects_another(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    _filled(path, 10)
    with SQLiteStore(path) as store:
        assert store.origin == ORIGIN and store.size() == 10
    with SQLiteStore(path, origin=ORIGIN) as store:
        assert store.size() == 10
    with pytest.raises(UsageError, match="holds log"):
        SQLiteStore(path, origin="example.org/other")


def test_open_arguments(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="does not exist"):
        SQLiteStore(tmp_path / "missing.sqlite", create=False)
    with pytest.raises(StorageError, match="does not exist"):
        SQLiteStore(tmp_path / "missing.sqlite", read_only=True)
    assert not (tmp_path / "missing.sqlite").exists()
    with pytest.raises(UsageError, match="needs an origin"):
        SQLiteStore(tmp_path / "new.sqlite")
    with pytest.raises(UsageError):
        SQLiteStore(tmp_path / "new.sqlite", origin="")
    with pytest.raises(UsageError):
        SQLiteStore(123, origin=ORIGIN)  # type: ignore[arg-type]
    with pytest.raises(StorageError):
        SQLiteStore(tmp_path, origin=ORIGIN)  # a directory


def test_garbage_file_is_corrupted(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(StoreCorruptedError, match="not a database"):
        SQLiteStore(path, origin=ORIGIN)


def test_other_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    _tamper(path, "CREATE TABLE people (name TEXT)")
    with pytest.raises(StoreCorruptedError, match="not an electlog store"):
        SQLiteStore(path, origin=ORIGIN)


def test_truncated_file_is_corrupted(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    _filled(path, 300)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    with pytest.raises(StoreCorruptedError):
        SQLiteStore(path)


@pytest.mark.parametrize(
    ("sql", "match"),
    [
        ("UPDATE nodes SET hash = zeroblob(32) WHERE level = 8 AND idx = 0", "root"),
        ("UPDATE nodes SET hash = zeroblob(32) WHERE level = 2 AND idx = 74", "root"),
        ("UPDATE entries SET leaf = zeroblob(32) WHERE idx = 290", "does not hash"),
        ("UPDATE entries SET data = x'00' WHERE idx = 299", "does not hash"),
        ("DELETE FROM entries WHERE idx = 17", "indexes"),
        ("DELETE FROM entries WHERE idx = 299", "level"),
        ("DELETE FROM nodes WHERE level = 2 AND idx = 3", "level 2 holds"),
        ("INSERT INTO nodes VALUES (1, 150, zeroblob(32))", "level 1 holds"),
        ("UPDATE checkpoints SET note = 'garbage'", "does not parse"),
        ("UPDATE checkpoints SET size = 299", "recorded with size"),
        ("UPDATE meta SET value = 2 WHERE key = 'format'", "format version"),
        ("DELETE FROM meta WHERE key = 'origin'", "no origin"),
        ("PRAGMA application_id = 7", "application id"),
    ],
)
def test_tampered_store_refuses_to_open(tmp_path: Path, sql: str, match: str) -> None:
    path = tmp_path / "s.sqlite"
    _filled(path, 300)
    _tamper(path, sql)
    with pytest.raises(StoreCorruptedError, match=match):
        SQLiteStore(path)


def test_checkpoint_of_another_log_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    _filled(path, 20, checkpoint=False)
    other = Log("example.org/other")
    note = other.checkpoint(NoteSigner.generate("example.org/other", rng_seed=b"\x01" * 32))
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO checkpoints (size, note) VALUES (0, ?)", (note,))
    conn.close()
    with pytest.raises(StoreCorruptedError, match="for log"):
        SQLiteStore(path)


@pytest.mark.parametrize("column", ["data", "leaf"])
def test_full_check_finds_old_entry_tampering(tmp_path: Path, column: str) -> None:
    path = tmp_path / "s.sqlite"
    _filled(path, 300)
    _tamper(path, f"UPDATE entries SET {column} = zeroblob(32) WHERE idx = 0")
    store = SQLiteStore(path)  # the quick check only re-hashes the newest entries
    with pytest.raises(StoreCorruptedError, match="entry 0 does not hash"):
        store.check_integrity(full=True)
    with pytest.raises(StoreCorruptedError, match="refuses writes"):
        Log(store).append_many(_entries(1))
    with pytest.raises(StoreCorruptedError, match="refuses writes"):
        store.add_checkpoint(0, "x")
    assert store.size() == 300  # reads still work for forensics
    store.close()


def test_full_check_finds_wrong_node(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    _filled(path, 300, checkpoint=False)
    with SQLiteStore(path) as store:
        store.check_integrity(full=True)  # a sound store passes
    _tamper(path, "UPDATE nodes SET hash = zeroblob(32) WHERE level = 1 AND idx = 7")
    with (
        SQLiteStore(path) as store,
        pytest.raises(StoreCorruptedError, match=r"\(level 1, index 7\)"),
    ):
        store.check_integrity(full=True)


def test_corruption_found_while_open_stops_writes(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    entries = _filled(path, 40)
    store = SQLiteStore(path)
    _tamper(path, "UPDATE nodes SET hash = zeroblob(32) WHERE level = 5 AND idx = 0")
    with pytest.raises(StoreCorruptedError):
        store.check_integrity()
    with pytest.raises(StoreCorruptedError), store.transaction():
        pass
    assert store.entry(39) == entries[39].data
    store.close()


def test_read_only_store(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    entries = _filled(path, 30)
    with SQLiteStore(path, read_only=True) as store:
        assert store.read_only
        assert list(store.entries()) == [e.data for e in entries]
        assert Log(store).root() == merkle.root([e.leaf_hash for e in entries])
        with pytest.raises(ReadOnlyStoreError):
            Log(store).append_many(_entries(31)[30:])
        with pytest.raises(ReadOnlyStoreError):
            store.add_checkpoint(0, "x")
        with pytest.raises(ReadOnlyStoreError), store.transaction():
            pass


def test_closed_store_refuses_calls(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite", origin=ORIGIN)
    store.close()
    store.close()  # idempotent
    calls: list[Callable[[], object]] = [
        store.size,
        lambda: store.entry(0),
        lambda: store.node(0, 0),
        store.checkpoints,
        lambda: store.author_head(b"\x00" * 32),
        lambda: store.add_checkpoint(0, "x"),
        lambda: store.transaction().__enter__(),
    ]
    for call in calls:
        with pytest.raises(UsageError, match="closed"):
            call()


def test_bad_arguments(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.sqlite", origin=ORIGIN) as store:
        for bad in (-1, True, "0"):
            with pytest.raises(UsageError):
                store.entry(bad)  # type: ignore[arg-type]
        with pytest.raises(UsageError):
            store.node(-1, 0)
        with pytest.raises(UsageError):
            store.leaf_hashes(0, 1)
        with pytest.raises(UsageError):
            store.add_checkpoint(-1, "x")
        with pytest.raises(UsageError):
            store.add_checkpoint(0, b"x")  # type: ignore[arg-type]
        with pytest.raises(UsageError), store.transaction() as tx:
            tx.append("text", b"\x00" * 32, b"\x01" * 32, 1)  # type: ignore[arg-type]
        with pytest.raises(UsageError), store.transaction() as tx:
            tx.put_nodes([(1, 0, b"\x00" * 32)])  # nodes without entries
        assert store.size() == 0


def test_missing_nodes_are_refused_at_commit(tmp_path: Path) -> None:
    entries = _entries(2)
    with SQLiteStore(tmp_path / "s.sqlite", origin=ORIGIN) as store:
        with pytest.raises(UsageError, match="expected 1"), store.transaction() as tx:
            for e in entries:
                tx.append(e.data, e.leaf_hash, e.author, e.statement.seq)
            # growing 0 -> 2 completes node (1, 0), which is not staged
        assert store.size() == 0


def test_two_handles_see_each_other(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    entries = _entries(600)
    a = SQLiteStore(path, origin=ORIGIN)
    b = SQLiteStore(path)
    Log(a).append_many(entries[:300])
    assert b.size() == 300
    Log(b).append_many(entries[300:])
    assert a.size() == 600
    tree = merkle.MerkleTree(e.leaf_hash for e in entries)
    for size in (1, 255, 256, 300, 511, 512, 600):
        assert Log(a).root(size) == tree.root(size) == Log(b).root(size)
    a.close()
    b.close()


def test_proofs_from_a_large_store_use_the_block_cache(tmp_path: Path) -> None:
    # 9000 leaves: two complete 4096-node blocks at level 0, one at level 1
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(9000)]
    tree = merkle.MerkleTree(leaves)
    with SQLiteStore(tmp_path / "s.sqlite", origin=ORIGIN) as store:
        with store.transaction() as tx:
            for i, h in enumerate(leaves):
                tx.append(i.to_bytes(4, "big"), h, b"\x01" * 32, i + 1)
            tx.put_nodes(n for n in merkle.new_nodes_batch(tx.node, 0, leaves) if n[0])
        for index in (0, 4095, 4096, 8191, 8192, 8999):
            for size in (index + 1, 8192, 9000):
                if index < size:
                    got = merkle.inclusion_proof_at(store.node, index, size)
                    assert got == tree.inclusion_proof(index, size)
                    assert Log(store).inclusion_proof(index, size) == got
        assert store.lower_path(5000, 8) == tree.inclusion_proof(5000, 9000)[:8]
        assert (0, 0) in store._blocks and (1, 0) in store._blocks
        assert store.leaf_hashes(4000, 4200) == leaves[4000:4200]
        assert merkle.consistency_proof_at(store.node, 4097, 9000) == tree.consistency_proof(
            4097, 9000
        )


def test_high_level_nodes_are_read_in_groups(tmp_path: Path) -> None:
    # 20,000 leaves: level 8 has 78 complete nodes, i.e. one complete aligned group of 64
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(20_000)]
    tree = merkle.MerkleTree(leaves)
    path = tmp_path / "s.sqlite"
    with SQLiteStore(path, origin=ORIGIN) as store, store.transaction() as tx:
        for i, h in enumerate(leaves):
            tx.append(i.to_bytes(4, "big"), h, b"\x01" * 32, i + 1)
        tx.put_nodes(n for n in merkle.new_nodes_batch(tx.node, 0, leaves) if n[0])
    with SQLiteStore(path, read_only=True) as store:
        log = Log(store)
        for index in (0, 1, 255, 4096, 16383, 16384, 19_999):
            for size in (16384, 16385, 20_000):
                if index < size:
                    assert log.inclusion_proof(index, size) == tree.inclusion_proof(index, size)
        assert all((8, k) in store._high for k in range(64))
        assert (8, 65) in store._high and (8, 66) not in store._high  # incomplete group: singly
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE nodes SET hash = x'00' WHERE level = 8 AND idx = 5")
    conn.close()
    with (
        SQLiteStore(path, read_only=True) as store,
        pytest.raises(StoreCorruptedError, match="level 8 from index 0"),
    ):
        Log(store).inclusion_proof(3000, 20_000)


def test_rolled_back_nodes_never_reach_the_cache(tmp_path: Path) -> None:
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(4096)]
    with SQLiteStore(tmp_path / "s.sqlite", origin=ORIGIN) as store:

        class Boom(Exception):
            pass

        with pytest.raises(Boom), store.transaction() as tx:
            for i, h in enumerate(leaves):
                tx.append(b"x" + i.to_bytes(4, "big"), h, b"\x01" * 32, i + 1)
            tx.put_nodes(n for n in merkle.new_nodes_batch(tx.node, 0, leaves) if n[0])
            assert store.size() == 0  # the store's own view is the committed one
            tx.node(0, 5)
            raise Boom
        assert store._blocks == {} and store._high == {}
        with pytest.raises(UsageError):
            store.node(0, 5)


def test_writer_waits_for_another_writers_lock(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    entries = _entries(4, authors=2)
    a = SQLiteStore(path, origin=ORIGIN)
    b = SQLiteStore(path)
    done = threading.Event()
    order: list[str] = []

    def second() -> None:
        Log(b).append_many(entries[2:])
        order.append("b")
        done.set()

    with a.transaction() as tx:
        t = threading.Thread(target=second)
        t.start()
        assert not done.wait(0.5)  # b is blocked on a's write lock, not failing
        for e in entries[:2]:
            tx.append(e.data, e.leaf_hash, e.author, e.statement.seq)
        tx.put_nodes(
            n
            for n in merkle.new_nodes_batch(tx.node, 0, [e.leaf_hash for e in entries[:2]])
            if n[0]
        )
        order.append("a")
    t.join(30)
    assert order == ["a", "b"]
    assert list(a.entries()) == [e.data for e in entries]
    a.close()
    b.close()


def test_open_store_chooses_the_backend(tmp_path: Path) -> None:
    mem = open_store(":memory:", origin=ORIGIN)
    assert isinstance(mem, MemoryStore) and mem.origin == ORIGIN
    with pytest.raises(UsageError):
        open_store(":memory:")
    path = tmp_path / "o.sqlite"
    with open_store(path, origin=ORIGIN) as store:
        assert isinstance(store, SQLiteStore)
    with open_store(str(path)) as store:
        assert isinstance(store, SQLiteStore) and store.origin == ORIGIN
    with open_store(path, read_only=True) as store:
        assert isinstance(store, SQLiteStore) and store.read_only
    with pytest.raises(StorageError):
        open_store(tmp_path / "none.sqlite", create=False)
    with pytest.raises(UsageError):
        open_store(42)  # type: ignore[arg-type]
