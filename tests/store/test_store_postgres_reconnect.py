"""PostgresStore after a lost connection: a server restart or a killed backend between calls is
survived by the next call, and a write whose COMMIT was cut off is resolved exactly once.

Real server processes throughout. The connection is cut at a precise protocol moment by a small
TCP proxy between the store and the server (:class:`_Proxy`): it drops the client's ``COMMIT``
before the server sees it, or forwards it, waits for the server's ``COMMIT`` answer and drops
the connection instead of delivering it. The restart test starts its own server (``initdb``,
``pg_ctl``) so it can stop and start it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from conftest import _free_port, _pg_bin
from electlog import merkle
from electlog.checkpoint import NoteSigner
from electlog.errors import (
    AuthorChainError,
    CommitOutcomeUnknownError,
    StorageError,
    StoreCorruptedError,
    StoreUnavailableError,
)
from electlog.events import Author, Entry
from electlog.keys import SigningKey
from electlog.log import Log
from electlog.store.postgres import PostgresStore

pytestmark = pytest.mark.postgres

ORIGIN = "example.org/pg-reconnect"
T0 = 1_767_225_600_000_000


def _authors(n: int = 3) -> list[Author]:
    return [Author(SigningKey.from_seed(bytes([k + 1]) * 32), ORIGIN) for k in range(n)]


def _sign(authors: list[Author], start: int, n: int) -> list[Entry]:
    return [
        authors[i % len(authors)].sign("t", {"i": i}, time=T0 + i) for i in range(start, start + n)
    ]


def _terminate(admin_dsn: str, store: PostgresStore) -> None:
    """Kill the store's backend from a second connection and wait until it is gone."""
    pid = store._conn.info.backend_pid
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        for _ in range(100):
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
            if row.fetchone() == (0,):
                return
            time.sleep(0.05)
    raise AssertionError(f"backend {pid} still running")


def _check_log(store: PostgresStore, entries: list[Entry]) -> None:
    """The store holds exactly ``entries``, in order, with intact chains and tree."""
    assert store.size() == len(entries)
    assert list(store.entries()) == [e.data for e in entries]
    assert list(store.leaf_hashes(0, len(entries))) == [e.leaf_hash for e in entries]
    tree = merkle.MerkleTree([e.leaf_hash for e in entries])
    assert Log(store).root() == tree.root()
    store.check_integrity(full=True)
    for author in {e.statement.author for e in entries}:
        mine = [e for e in entries if e.statement.author == author]
        head = store.author_head(author)
        assert head is not None
        assert (head.seq, head.prev) == (mine[-1].statement.seq, mine[-1].leaf_hash)


# --------------------------------------------------------------------------- killed backend


def test_terminated_backend_between_calls(postgres_server: str, postgres_dsn: str) -> None:
    """Every kind of call, made first after the backend was killed, reconnects and works."""
    authors = _authors()
    entries = _sign(authors, 0, 40)
    store = PostgresStore(postgres_dsn, origin=ORIGIN)
    log = Log(store)
    signer = NoteSigner.generate(ORIGIN, rng_seed=b"\x07" * 32)
    log.append_many(entries[:10])

    _terminate(postgres_server, store)
    assert store.size() == 10
    _terminate(postgres_server, store)
    assert [r.index for r in log.append_many(entries[10:20])] == list(range(10, 20))
    _terminate(postgres_server, store)
    note = log.checkpoint(signer)
    _terminate(postgres_server, store)
    assert store.latest_checkpoint() is not None and store.checkpoints()[-1].note == note
    _terminate(postgres_server, store)
    store.check_integrity(full=True)
    _terminate(postgres_server, store)
    assert store.entry(3) == entries[3].data
    _terminate(postgres_server, store)
    assert list(store.entries(5, 15)) == [e.data for e in entries[5:15]]
    _terminate(postgres_server, store)
    head = store.author_head(authors[0].key.key_id)
    assert head is not None and head.prev == entries[18].leaf_hash
    _terminate(postgres_server, store)
    store._blocks.clear()
    store._high.clear()
    assert store.node(1, 2) == merkle.node_hash(entries[4].leaf_hash, entries[5].leaf_hash)
    _terminate(postgres_server, store)
    assert list(store.leaf_hashes(0, 20)) == [e.leaf_hash for e in entries[:20]]
    _terminate(postgres_server, store)
    log.append_many(entries[20:40])
    _check_log(store, entries)
    store.close()


# --------------------------------------------------------------------------- server restart


class _OwnServer:
    """A throwaway PostgreSQL server this test may stop and start (same data, same port)."""

    def __init__(self, base: Path) -> None:
        initdb, self.pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if initdb is None or self.pg_ctl is None:
            if os.environ.get("CI"):
                pytest.fail("CI must run the restart test: initdb/pg_ctl not found")
            pytest.skip("the restart test needs initdb and pg_ctl")
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root
            user = pwd.getpwnam("postgres")
            os.chown(base, user.pw_uid, user.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.base, self.data = base, base / "data"
        self.port = _free_port()
        self.running = False
        subprocess.run(
            [*self.prefix, initdb, "-D", str(self.data), "-A", "trust", "-U", "electlog", "-N"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        self.dsn = f"postgresql://electlog@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        opts = f"-F -p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.base / "server.log")
        subprocess.run(
            [*self.prefix, self.pg_ctl, "-D", str(self.data), "-l", log, "-o", opts, "-w", "start"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            [*self.prefix, self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        self.running = False


@pytest.fixture
def own_server() -> Iterator[_OwnServer]:
    base = Path(tempfile.mkdtemp(prefix="electlog-pg-restart-"))
    server = None
    try:
        server = _OwnServer(base)
        server.start()
        yield server
    finally:
        if server is not None and server.running:
            server.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


def test_server_restart_between_calls(own_server: _OwnServer) -> None:
    """pg_ctl stop -m fast / start between calls: the next call works. While the server stays
    away, calls fail within bounded attempts with StoreUnavailableError and write nothing."""
    authors = _authors()
    entries = _sign(authors, 0, 30)
    store = PostgresStore(own_server.dsn, origin=ORIGIN, reconnect_attempts=3, connect_timeout=2)
    log = Log(store)
    log.append_many(entries[:10])

    own_server.stop("fast")
    own_server.start()
    assert store.size() == 10
    own_server.stop("fast")
    own_server.start()
    log.append_many(entries[10:20])

    own_server.stop("fast")
    began = time.monotonic()
    with pytest.raises(StoreUnavailableError, match="attempts to reconnect failed"):
        store.size()
    with pytest.raises(StoreUnavailableError):
        log.append_many(entries[20:30])
    with pytest.raises(StoreUnavailableError):
        list(store.entries())
    assert time.monotonic() - began < 30
    own_server.start()
    _check_log(store, entries[:20])  # the refused batch left nothing
    log.append_many(entries[20:30])
    own_server.stop("immediate")  # a crash, not a clean shutdown
    own_server.start()
    _check_log(store, entries)
    store.close()


# --------------------------------------------------------------------------- cut at COMMIT


class _Proxy:
    """A TCP proxy to a PostgreSQL server that can cut one connection at its next COMMIT.

    ``cut("before")``: the client's COMMIT message is not forwarded, the connection is closed
    (the server never commits). ``cut("after")``: the COMMIT is forwarded, and once the server's
    answer (the ``COMMIT`` command tag) arrives the connection is closed instead of delivering it.
    ``then`` is the mode afterwards: ``"pass"`` or ``"refuse"`` (new connections are closed at
    once, as if the server stayed away)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = int(self.listener.getsockname()[1])
        self.mode = "pass"
        self.then = "pass"
        self.cuts = 0
        self.stopping = False
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def cut(self, when: str, then: str = "pass") -> None:
        self.mode, self.then = when, then

    def _accept(self) -> None:
        while not self.stopping:
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.mode == "refuse":
                client.close()
                continue
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            t = threading.Thread(target=self._pump, args=(client, server), daemon=True)
            self.threads.append(t)
            t.start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        armed = False
        try:
            while not self.stopping:
                ready, _, _ = select.select([client, server], [], [], 0.2)
                for sock in ready:
                    data = sock.recv(1 << 16)
                    if not data:
                        return
                    if sock is client:
                        if b"COMMIT\x00" in data and self.mode in ("before", "after"):
                            if self.mode == "before":
                                self._cut_done()
                                return
                            armed = True
                        server.sendall(data)
                    else:
                        if armed and b"COMMIT\x00" in data:
                            self._cut_done()
                            return
                        client.sendall(data)
        except OSError:
            return
        finally:
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def _cut_done(self) -> None:
        self.cuts += 1
        self.mode = self.then

    def close(self) -> None:
        self.stopping = True
        self.listener.close()
        for t in self.threads:
            t.join(timeout=5)


@pytest.fixture
def proxy(postgres_dsn: str) -> Iterator[tuple[_Proxy, str]]:
    """A proxy to the test database and the DSN that goes through it (without TLS, so the
    proxy can see the COMMIT)."""
    parts = urllib.parse.urlsplit(postgres_dsn)
    p = _Proxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    netloc = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    query = "&".join(q for q in (parts.query, "sslmode=disable") if q)
    dsn = urllib.parse.urlunsplit(parts._replace(netloc=f"{netloc}127.0.0.1:{p.port}", query=query))
    try:
        yield p, dsn
    finally:
        p.close()


def test_commit_lost_before_the_server_saw_it(proxy: tuple[_Proxy, str]) -> None:
    """COMMIT never reached the server: read back, nothing was appended; the caller is told so,
    and appending the same batch again stores it exactly once."""
    p, dsn = proxy
    authors = _authors()
    entries = _sign(authors, 0, 30)
    store = PostgresStore(dsn, origin=ORIGIN)
    log = Log(store)
    log.append_many(entries[:10])
    p.cut("before")
    with pytest.raises(StoreUnavailableError, match="nothing of the batch was appended"):
        log.append_many(entries[10:20])
    assert p.cuts == 1
    _check_log(store, entries[:10])
    receipts = log.append_many(entries[10:20])
    assert [(r.index, r.leaf_hash) for r in receipts] == [
        (10 + k, e.leaf_hash) for k, e in enumerate(entries[10:20])
    ]
    log.append_many(entries[20:30])
    _check_log(store, entries)
    store.close()


def test_commit_answer_lost_gives_the_receipts(proxy: tuple[_Proxy, str]) -> None:
    """The server committed but its answer never arrived: read back, the batch is there, so the
    caller gets its receipts; nothing is duplicated and the chains continue."""
    p, dsn = proxy
    authors = _authors()
    entries = _sign(authors, 0, 30)
    store = PostgresStore(dsn, origin=ORIGIN)
    log = Log(store)
    log.append_many(entries[:10])
    p.cut("after")
    receipts = log.append_many(entries[10:20])
    assert p.cuts == 1
    assert [(r.index, r.leaf_hash) for r in receipts] == [
        (10 + k, e.leaf_hash) for k, e in enumerate(entries[10:20])
    ]
    _check_log(store, entries[:20])
    with pytest.raises(AuthorChainError):  # a blind resend could not duplicate it either
        log.append_many(entries[10:20])
    log.append_many(entries[20:30])
    _check_log(store, entries)
    store.close()


def test_checkpoint_commit_lost_either_way(proxy: tuple[_Proxy, str]) -> None:
    """A checkpoint whose COMMIT answer was lost is stored once and add_checkpoint returns; one
    whose COMMIT never arrived raises StoreUnavailableError and is not stored."""
    p, dsn = proxy
    entries = _sign(_authors(), 0, 12)
    store = PostgresStore(dsn, origin=ORIGIN)
    log = Log(store)
    signer = NoteSigner.generate(ORIGIN, rng_seed=b"\x08" * 32)
    log.append_many(entries[:6])
    p.cut("after")
    first = log.checkpoint(signer)
    assert p.cuts == 1
    assert [c.note for c in store.checkpoints()] == [first]
    log.append_many(entries[6:])
    p.cut("before")
    with pytest.raises(StoreUnavailableError, match="not stored"):
        log.checkpoint(signer)
    assert p.cuts == 2
    assert [c.note for c in store.checkpoints()] == [first]
    second = log.checkpoint(signer)
    assert [c.note for c in store.checkpoints()] == [first, second]
    _check_log(store, entries)
    store.close()


def test_commit_outcome_unknown_when_the_server_stays_away(proxy: tuple[_Proxy, str]) -> None:
    """The COMMIT answer was lost and the server cannot be reached to read back: the caller is
    told the outcome is unknown and how to check; once the server is back the check answers
    (here: committed) and the store works on."""
    p, dsn = proxy
    authors = _authors()
    entries = _sign(authors, 0, 30)
    store = PostgresStore(dsn, origin=ORIGIN, reconnect_attempts=2)
    log = Log(store)
    log.append_many(entries[:10])
    p.cut("after", then="refuse")
    with pytest.raises(CommitOutcomeUnknownError, match=r"leaf_hashes\(10, 20\)") as info:
        log.append_many(entries[10:20])
    assert not isinstance(info.value, StoreUnavailableError)  # not "safe to retry"
    with pytest.raises(StoreUnavailableError):
        store.size()
    p.cut("pass")
    assert store.size() >= 20
    assert list(store.leaf_hashes(10, 20)) == [e.leaf_hash for e in entries[10:20]]
    log.append_many(entries[20:30])
    _check_log(store, entries)
    store.close()


def test_no_psycopg_error_escapes_a_lost_connection(proxy: tuple[_Proxy, str]) -> None:
    """Whatever call meets the lost connection, the error is an electlog StorageError."""
    p, dsn = proxy
    store = PostgresStore(dsn, origin=ORIGIN, reconnect_attempts=1)
    log = Log(store)
    entries = _sign(_authors(), 0, 4)
    log.append_many(entries[:2])
    p.cut("before", then="refuse")
    calls = [
        lambda: log.append_many(entries[2:]),
        store.size,
        store.checkpoints,
        lambda: store.entry(0),
        lambda: store.check_integrity(full=True),
    ]
    for call in calls:
        with pytest.raises(StorageError) as info:
            call()
        assert not isinstance(info.value, psycopg.Error)
    p.cut("pass")
    _check_log(store, entries[:2])
    store.close()


def test_reconnect_to_a_shorter_log_is_refused(postgres_server: str, postgres_dsn: str) -> None:
    """After reconnecting, a database holding fewer entries than the handle already saw (a
    restored backup, a lagging replica) is StoreCorruptedError and writes are refused."""
    entries = _sign(_authors(), 0, 20)
    store = PostgresStore(postgres_dsn, origin=ORIGIN)
    log = Log(store)
    log.append_many(entries[:10])
    log.append_many(entries[10:])
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:  # roll back to 10 entries
        conn.execute("DELETE FROM electlog_entries WHERE idx >= 10")
        conn.execute("DELETE FROM electlog_nodes WHERE (idx + 1) * (1 << level) > 10")
    _terminate(postgres_server, store)
    with pytest.raises(StoreCorruptedError, match="already saw 20"):
        store.size()
    with pytest.raises(StoreCorruptedError, match="refuses writes"):
        log.append_many(entries[10:])
    store.close()


def test_interrupted_commit_is_not_committed_with_the_next_write(postgres_dsn: str) -> None:
    """A KeyboardInterrupt before the COMMIT went out leaves the session inside the batch's
    transaction; the next write must roll it back, not commit it along with its own rows."""
    entries = _sign(_authors(), 0, 20)
    store = PostgresStore(postgres_dsn, origin=ORIGIN)
    log = Log(store)
    log.append_many(entries[:10])

    def interrupted(conn: object) -> None:
        del store._commit  # once
        raise KeyboardInterrupt

    store._commit = interrupted  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        log.append_many(entries[10:20])
    assert [r.index for r in log.append_many(entries[10:20])] == list(range(10, 20))
    _check_log(store, entries)
    store.close()
