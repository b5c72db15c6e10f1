"""PostgresStore: the conformance kit plus PostgreSQL-specific behaviour.

Needs a server: see tests/conftest.py (``ELECTLOG_TEST_POSTGRES_DSN`` or installed binaries).
"""

from __future__ import annotations

import psycopg
import pytest

from electlog import merkle
from electlog.checkpoint import NoteSigner
from electlog.errors import ReadOnlyStoreError, StorageError, StoreCorruptedError, UsageError
from electlog.events import Author, Entry
from electlog.keys import SigningKey
from electlog.log import Log
from electlog.store import Store, open_store
from electlog.store.postgres import PostgresStore
from electlog.testing.store_conformance import StoreConformance

pytestmark = pytest.mark.postgres

ORIGIN = "example.org/pg-test"
T0 = 1_767_225_600_000_000


class TestPostgresStore(StoreConformance):
    @pytest.fixture(autouse=True)
    def _database(self, postgres_dsn: str) -> None:
        self.dsn = postgres_dsn

    def make_store(self, origin: str) -> Store:
        return PostgresStore(self.dsn, origin=origin)

    def reopen_store(self, store: Store) -> Store:
        return PostgresStore(self.dsn)

    def damage(self, store: Store, what: str, key: int | bytes) -> None:
        table, column, where = _DAMAGE[what]
        with psycopg.connect(self.dsn, autocommit=True) as db:
            row = db.execute(f"SELECT {column} FROM {table} WHERE {where}", (key,)).fetchone()
            value = bytearray(row[0])
            value[0] ^= 0x10
            db.execute(f"UPDATE {table} SET {column} = %s WHERE {where}", (bytes(value), key))


_DAMAGE = {
    "leaf": ("electlog_entries", "leaf", "idx = %s"),
    "node": ("electlog_nodes", "hash", "level = 1 AND idx = %s"),
    "head": ("electlog_heads", "prev", "author = %s"),
}


def _entries(n: int, authors: int = 3) -> list[Entry]:
    signers = [Author(SigningKey.from_seed(bytes([k + 1]) * 32), ORIGIN) for k in range(authors)]
    return [signers[i % authors].sign("t", {"i": i}, time=T0 + i) for i in range(n)]


def _filled(dsn: str, n: int = 300) -> list[Entry]:
    entries = _entries(n)
    store = PostgresStore(dsn, origin=ORIGIN)
    log = Log(store)
    log.append_many(entries[: n // 2])
    log.append_many(entries[n // 2 :])
    log.checkpoint(NoteSigner.generate(ORIGIN, rng_seed=b"\x09" * 32))
    store.close()
    return entries


def _tamper(dsn: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql)


def test_open_arguments(postgres_dsn: str) -> None:
    with pytest.raises(StorageError, match="holds no electlog store"):
        PostgresStore(postgres_dsn, create=False)
    with pytest.raises(UsageError, match="needs an origin"):
        PostgresStore(postgres_dsn)
    store = PostgresStore(postgres_dsn, origin=ORIGIN)
    store.close()
    with pytest.raises(UsageError, match="holds log"):
        PostgresStore(postgres_dsn, origin="example.org/other")
    again = open_store(postgres_dsn)
    assert isinstance(again, PostgresStore) and again.origin == ORIGIN
    again.close()
    with pytest.raises(UsageError, match="check_on_open=False needs read_only=True"):
        PostgresStore(postgres_dsn, check_on_open=False)
    with PostgresStore(postgres_dsn, read_only=True, check_on_open=False) as unchecked:
        assert unchecked.problems == () and unchecked.find_damage(full=True) == ()
    with pytest.raises(UsageError, match="closed"):
        again.size()


def test_bad_dsn_is_a_storage_error(postgres_dsn: str) -> None:
    bad = postgres_dsn.rsplit("/", 1)[0] + "/no_such_database_here"
    with pytest.raises(StorageError, match="connect"):
        PostgresStore(bad, origin=ORIGIN)


@pytest.mark.parametrize(
    ("sql", "match"),
    [
        ("UPDATE electlog_nodes SET hash = '\\x00' WHERE level = 8 AND idx = 0", "root"),
        ("UPDATE electlog_entries SET data = '\\x00' WHERE idx = 299", "does not hash"),
        ("DELETE FROM electlog_entries WHERE idx = 17", "indexes"),
        ("DELETE FROM electlog_nodes WHERE level = 2 AND idx = 3", "level 2 holds"),
        ("UPDATE electlog_checkpoints SET note = 'garbage'", "does not parse"),
        ("UPDATE electlog_meta SET value = '2' WHERE key = 'format'", "format version"),
        ("DROP TABLE electlog_heads", "tables missing"),
    ],
)
def test_tampered_store_refuses_to_open(postgres_dsn: str, sql: str, match: str) -> None:
    _filled(postgres_dsn)
    _tamper(postgres_dsn, sql)
    with pytest.raises(StoreCorruptedError, match=match):
        PostgresStore(postgres_dsn)


def test_full_check_and_refusal_after_corruption(postgres_dsn: str) -> None:
    _filled(postgres_dsn)
    store = PostgresStore(postgres_dsn)
    store.check_integrity(full=True)
    _tamper(postgres_dsn, "UPDATE electlog_entries SET leaf = '\\x01' WHERE idx = 3")
    with pytest.raises(StoreCorruptedError, match="entry 3"):
        store.check_integrity(full=True)
    with pytest.raises(StoreCorruptedError, match="refuses writes"):
        Log(store).append_many(_entries(301)[300:])
    store.close()


def test_read_only_session(postgres_dsn: str) -> None:
    entries = _filled(postgres_dsn, 20)
    store = PostgresStore(postgres_dsn, read_only=True)
    assert store.read_only
    assert list(store.entries()) == [e.data for e in entries]
    with pytest.raises(ReadOnlyStoreError):
        store.add_checkpoint(0, "x")
    with pytest.raises(ReadOnlyStoreError):
        Log(store).append_many(_entries(21)[20:])
    # the server itself refuses writes in this session too
    with pytest.raises(Exception, match="read-only"):
        store._conn.execute("INSERT INTO electlog_checkpoints (size, note) VALUES (0, 'x')")
    store.close()


def test_large_batch_and_block_cache(postgres_dsn: str) -> None:
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(9000)]
    tree = merkle.MerkleTree(leaves)
    store = PostgresStore(postgres_dsn, origin=ORIGIN)
    with store.transaction() as tx:
        for i, h in enumerate(leaves):
            tx.append(i.to_bytes(4, "big"), h, b"\x01" * 32, i + 1)
        tx.put_nodes(n for n in merkle.new_nodes_batch(tx.node, 0, leaves) if n[0])
    for index in (0, 4095, 4096, 8999):
        assert merkle.inclusion_proof_at(store.node, index, 9000) == tree.inclusion_proof(
            index, 9000
        )
    assert (0, 0) in store._blocks
    assert list(store.leaf_hashes(4090, 4100)) == leaves[4090:4100]
    store.close()
    reopened = PostgresStore(postgres_dsn)
    reopened.check_integrity(full=True)
    reopened.close()


def test_server_side_refusals_map_to_storage_errors(
    postgres_server: str, postgres_dsn: str
) -> None:
    """A role that may only read gets ReadOnlyStoreError from the server's refusal."""
    import secrets
    import urllib.parse

    import psycopg

    entries = _filled(postgres_dsn, 10)
    role = f"electlog_reader_{secrets.token_hex(4)}"
    password = secrets.token_hex(8)
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    try:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
        parts = urllib.parse.urlsplit(postgres_dsn)
        netloc = f"{role}:{password}@{parts.hostname}:{parts.port or 5432}"
        reader_dsn = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
        store = PostgresStore(reader_dsn)
        assert list(store.entries()) == [e.data for e in entries]
        with pytest.raises(ReadOnlyStoreError, match="permission denied"):
            store.add_checkpoint(0, "x")
        with pytest.raises(ReadOnlyStoreError, match="permission denied"):
            Log(store).append_many(_entries(11)[10:])
        assert store.size() == 10 and len(store.checkpoints()) == 1
        assert password not in repr(store)
        store.close()
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(f"DROP ROLE {role}")
