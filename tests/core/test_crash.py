"""Crash safety of the SQLite store: SIGKILL at random moments, a torn WAL tail, a full disk
and a read-only file never lose an acknowledged entry.

The kill test runs ``ELECTLOG_CRASH_TRIALS`` trials (default 20; docs/storage.md shows the
200-trial run); ``ELECTLOG_CRASH_SEED`` fixes the random schedule (default: a fixed seed).
This file doubles as the writer child: ``python tests/core/test_crash.py writer <db> <seed>``.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ORIGIN = "example.org/crash-test"
SIGNER_SEED = b"\x44" * 32
WRITER_KEYS = 3
SRC = Path(__file__).resolve().parents[2] / "src"


# --------------------------------------------------------------------------- the child


def _writer(db: str, seed: int) -> None:
    """Append signed entries in random batches forever; after each commit print
    ``A <index> <leaf hash hex>`` per entry, and ``C <size> <sha256(note) hex>`` per checkpoint,
    flushing stdout right after the store acknowledged them."""
    from electlog.checkpoint import NoteSigner
    from electlog.events import Author
    from electlog.keys import SigningKey
    from electlog.log import Log
    from electlog.store import SQLiteStore

    rng = random.Random(seed)
    store = SQLiteStore(db, origin=ORIGIN)
    log = Log(store)
    signer = NoteSigner(ORIGIN, SIGNER_SEED)
    authors = []
    for k in range(WRITER_KEYS):
        key = SigningKey.from_seed(bytes([k + 1]) * 32)
        head = store.author_head(key.key_id)
        if head is None:
            authors.append(Author(key, ORIGIN))
        else:
            authors.append(Author(key, ORIGIN, seq=head.seq, prev=head.prev))
    out = sys.stdout
    print("READY", flush=True)
    n = 0
    while True:
        batch = []
        for _ in range(rng.choice((1, 1, 2, 5, 17, 64, 200))):
            a = authors[rng.randrange(WRITER_KEYS)]
            pad = "p" * rng.choice((0, 10, 300, 3000))
            batch.append(a.sign("crash.test", {"n": n, "pad": pad}, time=n))
            n += 1
        receipts = log.append_many(batch)
        out.write("".join(f"A {r.index} {r.leaf_hash.hex()}\n" for r in receipts))
        out.flush()
        if rng.random() < 0.2:
            note = log.checkpoint(signer)
            digest = hashlib.sha256(note.encode()).hexdigest()
            out.write(f"C {receipts[-1].index + 1} {digest}\n")
            out.flush()


# --------------------------------------------------------------------------- the parent


def _spawn(db: Path, seed: int) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    errors = open(Path(str(db) + ".stderr"), "w")  # noqa: SIM115 - the child owns it
    try:
        return subprocess.Popen(
            [sys.executable, __file__, "writer", str(db), str(seed)],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=env,
        )
    finally:
        errors.close()


def _kill(child: subprocess.Popen[str]) -> str:
    """SIGKILL the child and return the rest of its output. Reads through the same buffered
    pipe object as the earlier ``readline`` calls, so no byte already read ahead is lost."""
    assert child.stdout is not None
    os.kill(child.pid, signal.SIGKILL)
    rest = child.stdout.read()
    child.stdout.close()
    assert child.wait(timeout=60) == -signal.SIGKILL
    return rest


def _check_store(db: Path, acked: dict[int, str], acked_cps: dict[str, int], trial: int) -> int:
    """Reopen after a kill and check every promise, then append one entry; returns the size
    found (a batch committed just before the kill may be there without its acknowledgement)."""
    from electlog import merkle
    from electlog.checkpoint import NoteSigner, verify_checkpoint
    from electlog.events import Author
    from electlog.keys import SigningKey
    from electlog.log import Log
    from electlog.store import SQLiteStore

    store = SQLiteStore(db)  # the open-time checks: contiguity, node counts, checkpoint root
    try:
        size = store.size()
        assert size >= len(acked)
        leaves = store.leaf_hashes(0, size)
        for index, leaf in acked.items():
            data = store.entry(index)
            assert leaves[index].hex() == leaf, f"acknowledged entry {index} changed"
            assert merkle.leaf_hash(data).hex() == leaf, f"entry {index} bytes changed"
        notes = {hashlib.sha256(cp.note.encode()).hexdigest(): cp for cp in store.checkpoints()}
        for digest, cp_size in acked_cps.items():
            assert digest in notes and notes[digest].size == cp_size, "acknowledged checkpoint lost"
        latest = store.latest_checkpoint()
        log = Log(store)
        if latest is not None:
            verifier = NoteSigner(ORIGIN, SIGNER_SEED).verifier()
            cp = verify_checkpoint(latest.note, verifier)
            assert cp.size == latest.size <= size
            assert log.root(cp.size) == cp.root
            if cp.size:
                proof = log.consistency_proof(cp.size)
                merkle.verify_consistency(cp.size, size, proof, cp.root, log.root())
        tree = merkle.MerkleTree(leaves)
        assert log.root() == tree.root()
        # the store accepts new appends (a fresh author per trial keeps chains independent)
        visitor = Author(SigningKey.from_seed(trial.to_bytes(4, "big") * 8), ORIGIN)
        receipt = log.append(visitor.sign("crash.visitor", {"trial": trial}, time=trial))
        assert receipt.index == size
        acked[receipt.index] = receipt.leaf_hash.hex()
        return size
    finally:
        store.close()


def _trials() -> int:
    return int(os.environ.get("ELECTLOG_CRASH_TRIALS", "20"))


def test_sigkill_never_loses_acknowledged_entries(tmp_path: Path) -> None:
    trials = _trials()
    seed = int(os.environ.get("ELECTLOG_CRASH_SEED", "20260101"))
    rng = random.Random(seed)
    db = tmp_path / "crash.sqlite"
    acked: dict[int, str] = {}
    acked_cps: dict[str, int] = {}
    cut_lines = 0
    start = time.monotonic()
    for trial in range(trials):
        child = _spawn(db, rng.randrange(2**32))
        assert child.stdout is not None
        ready = child.stdout.readline()
        assert ready == "READY\n", (ready, Path(str(db) + ".stderr").read_text())
        # let it run for a random while (often less than one batch), then kill it
        time.sleep(rng.choice((0.0, 0.001, 0.01, 0.03, 0.07, 0.15, 0.3)) * rng.random())
        lines = _kill(child).split("\n")
        if lines and lines[-1]:
            cut_lines += 1  # the kill cut an output line: that one was never acknowledged
        for line in lines[:-1]:
            kind, a, b = line.split(" ")
            if kind == "A":
                acked[int(a)] = b
            else:
                acked_cps[b] = int(a)
        _check_store(db, acked, acked_cps, trial)
    elapsed = time.monotonic() - start
    print(
        f"\n{trials} SIGKILL trials, {len(acked)} acknowledged entries, "
        f"{len(acked_cps)} acknowledged checkpoints, {cut_lines} cut output lines, "
        f"{elapsed:.1f} s (seed {seed})"
    )
    assert len(acked) > trials  # the children really wrote


def test_torn_wal_tail_is_ignored(tmp_path: Path) -> None:
    from electlog.store import SQLiteStore

    db = tmp_path / "torn.sqlite"
    child = _spawn(db, 7)
    assert child.stdout is not None
    assert child.stdout.readline() == "READY\n"
    acked: dict[int, str] = {}
    while len(acked) < 300:
        line = child.stdout.readline()
        kind, a, b = line.split()
        if kind == "A":
            acked[int(a)] = b
    for line in _kill(child).split("\n")[:-1]:
        kind, a, b = line.split()
        if kind == "A":
            acked[int(a)] = b
    wal = Path(str(db) + "-wal")
    assert wal.exists() and wal.stat().st_size > 0  # the killed writer left its WAL behind
    # a torn, half-written frame after the last commit: random bytes appended to the WAL
    with open(wal, "ab") as f:
        f.write(random.Random(1).randbytes(4096 + 100))
    assert _check_store(db, acked, {}, 999) >= 300
    with SQLiteStore(db) as store:
        store.check_integrity(full=True)  # type: ignore[attr-defined]


def _fill(db: Path, n: int) -> tuple[object, object, list[bytes]]:
    from electlog.events import Author
    from electlog.keys import SigningKey
    from electlog.log import Log
    from electlog.store import SQLiteStore

    store = SQLiteStore(db, origin=ORIGIN)
    author = Author(SigningKey.from_seed(b"\x09" * 32), ORIGIN)
    log = Log(store)
    entries = [author.sign("t", {"i": i, "pad": "x" * 1500}, time=i) for i in range(n)]
    log.append_many(entries)
    return store, author, [e.data for e in entries]


def test_disk_full_loses_nothing_acknowledged(tmp_path: Path) -> None:
    from electlog.errors import DiskFullError, StorageError
    from electlog.events import Author
    from electlog.log import Log
    from electlog.store import SQLiteStore

    db = tmp_path / "full.sqlite"
    store, author, datas = _fill(db, 20)
    assert isinstance(store, SQLiteStore) and isinstance(author, Author)
    conn = store._conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 12}")  # a disk with ~48 KiB left
    log = Log(store)
    with pytest.raises(DiskFullError) as info:
        for i in range(1000):
            batch = [
                author.sign("t", {"i": 100 + i, "j": j, "pad": "y" * 1500}, time=i)
                for j in range(3)
            ]
            try:
                log.append_many(batch)
            except StorageError:
                author.rewind(store.author_head(author.key_id))  # type: ignore[arg-type]
                raise
            datas.extend(e.data for e in batch)
    assert isinstance(info.value, StorageError)
    assert "full" in str(info.value)
    assert list(store.entries()) == datas  # every acknowledged entry, nothing else
    # room again: the store carries on
    conn.execute("PRAGMA max_page_count = 1073741823")
    more = author.sign("t", {"after": "full"}, time=1)
    assert log.append(more).index == len(datas)
    store.close()
    with SQLiteStore(db) as again:
        again.check_integrity(full=True)  # type: ignore[attr-defined]
        assert list(again.entries()) == [*datas, more.data]


_RO_CHILD = """
import sys
from electlog.errors import ReadOnlyStoreError, StorageError
from electlog.events import Author
from electlog.keys import SigningKey
from electlog.log import Log
from electlog.store import SQLiteStore
with SQLiteStore(sys.argv[1], read_only=True) as reader:
    print("READ", reader.size())
try:
    store = SQLiteStore(sys.argv[1])
except ReadOnlyStoreError as exc:
    print("OPEN-READONLY", exc)
    raise SystemExit(0)
print("SIZE", store.size())
head = store.author_head(SigningKey.from_seed(b"\\x09" * 32).key_id)
author = Author(SigningKey.from_seed(b"\\x09" * 32), store.origin, seq=head.seq, prev=head.prev)
try:
    Log(store).append(author.sign("t", {"denied": True}, time=0))
    print("WROTE")
except ReadOnlyStoreError as exc:
    print("READONLY", exc)
except StorageError as exc:
    print("OTHER", type(exc).__name__, exc)
"""


@pytest.mark.parametrize("lock_directory", [False, True])
def test_read_only_file_is_a_read_only_error(tmp_path: Path, lock_directory: bool) -> None:
    from electlog.store import SQLiteStore

    directory = tmp_path / "ro"
    directory.mkdir()
    db = directory / "ro.sqlite"
    store, _, datas = _fill(db, 15)
    assert isinstance(store, SQLiteStore)
    store.close()
    os.chmod(db, 0o444)
    if lock_directory:
        os.chmod(directory, 0o555)
    cmd = [sys.executable, "-c", _RO_CHILD, str(db)]
    if os.geteuid() == 0:  # root ignores file modes: drop the capabilities that allow that
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv (util-linux) is needed to test read-only files as root"
        cmd = [setpriv, "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--", *cmd]
    env = dict(os.environ, PYTHONPATH=str(SRC))
    try:
        result = subprocess.run(
            cmd, check=False, capture_output=True, text=True, env=env, timeout=60
        )
    finally:
        os.chmod(directory, 0o755)
        os.chmod(db, 0o644)
    assert result.returncode == 0, result.stderr
    assert "WROTE" not in result.stdout
    assert result.stdout.startswith(("READ 15\nOPEN-READONLY", "READ 15\nSIZE 15\nREADONLY")), (
        result.stdout
    )
    with SQLiteStore(db) as again:
        assert list(again.entries()) == datas


def test_read_only_at_the_sqlite_level(tmp_path: Path) -> None:
    from electlog.errors import ReadOnlyStoreError
    from electlog.store import SQLiteStore

    store, _, datas = _fill(tmp_path / "q.sqlite", 5)
    assert isinstance(store, SQLiteStore)
    store._conn.execute("PRAGMA query_only = ON")  # SQLite itself refuses every write
    with pytest.raises(ReadOnlyStoreError, match="readonly"):
        store.add_checkpoint(0, "x")
    assert list(store.entries()) == datas and store.checkpoints() == []
    store.close()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "writer":
        _writer(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit("usage: test_crash.py writer <db> <seed>")
