"""The SQLite store's integrity check in an audit (audit/_store_check.py ``sqlite_tree_check``):
beside the replay it reads no entry bytes, and summarises the stored tree (each level hashed)
and heads for the audit to compare with what it replayed. Every damaged store gives exactly
the findings of the store's own full check (``find_damage(full=True)``, what the audit reported
before) at every job count, and a sound store is judged without that full check."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from audit_support import GenericLog, build_generic, copy_sqlite_store, write_sqlite_store
from electlog.audit import _pipeline, _sources, _store_check, _tasks, audit, core
from electlog.audit import findings as F
from electlog.audit._pipeline import Aside
from electlog.audit._replay import CompactMerkleTree
from electlog.audit._shards import ShardedReplay, Shards
from electlog.audit._tasks import TaskEngine
from electlog.errors import AuditError
from electlog.store import SQLiteStore, _integrity
from electlog.store.base import DamageKind, StoreDamage


@pytest.fixture(scope="module")
def glog() -> GenericLog:
    # 3 authors x 71 rounds = 213 entries (13 groups of 16 and a tail of 5), 7 checkpoints
    # (the last of size 210: the newest entry of each author is after it)
    return build_generic(rounds=71)


@pytest.fixture(scope="module")
def pristine(glog: GenericLog, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sqlite_store(tmp_path_factory.mktemp("pristine") / "log.sqlite", glog)


@pytest.fixture
def copy(pristine: Path, tmp_path: Path) -> Path:
    """A closed copy of the pristine store (database file and checkpoint sidecar)."""
    return copy_sqlite_store(pristine, tmp_path / "log.sqlite")


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Summary queries of 32 rows, so the log's 213 leaves and 106 level-1 nodes take several
    (the workers fork after this, and see it too)."""
    monkeypatch.setattr(_integrity, "_DIGEST_BLOCK", 32)


@pytest.fixture
def full_checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The paths the audit ran the store's full check on (in this process)."""
    calls: list[str] = []
    real = _store_check.sqlite_full_check

    def spy(path: str) -> tuple[tuple[object, ...], str | None]:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(_store_check, "sqlite_full_check", spy)
    yield calls


def _sql(path: Path, *statements: str, params: tuple[object, ...] = ()) -> None:
    conn = sqlite3.connect(path)
    with conn:
        for sql in statements:
            conn.execute(sql, params if "?" in sql else ())
    conn.close()


def _value(path: Path, sql: str) -> object:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def _flip(value: object, bit: int = 77) -> bytes:
    out = bytearray(value)  # type: ignore[arg-type]
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _set(path: Path, table: str, column: str, where: str, value: object) -> None:
    _sql(path, f"UPDATE {table} SET {column} = ? WHERE {where}", params=(value,))


def _flip_leaf(path: Path) -> None:
    _set(
        path,
        "entries",
        "leaf",
        "idx = 5",
        _flip(_value(path, "SELECT leaf FROM entries WHERE idx = 5")),
    )


def _split_leaves(path: Path) -> None:
    """Leaf hashes 8 and 9 stored as 31 and 33 bytes: their concatenation is unchanged."""
    a = bytes(_value(path, "SELECT leaf FROM entries WHERE idx = 8"))  # type: ignore[arg-type]
    b = bytes(_value(path, "SELECT leaf FROM entries WHERE idx = 9"))  # type: ignore[arg-type]
    _set(path, "entries", "leaf", "idx = 8", a[:31])
    _set(path, "entries", "leaf", "idx = 9", a[31:] + b)


def _text_leaf(path: Path) -> None:
    _set(path, "entries", "leaf", "idx = 3", "not a leaf hash, 32 characters!")


def _flip_node(level: int, index: int) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        where = f"level = {level} AND idx = {index}"
        _set(
            path,
            "nodes",
            "hash",
            where,
            _flip(_value(path, f"SELECT hash FROM nodes WHERE {where}")),
        )

    return damage


def _real_node_index(path: Path) -> None:
    """Node (1, 7) moved to index 6.5: the level's row count and hashes in order unchanged."""
    _sql(path, "UPDATE nodes SET idx = 6.5 WHERE level = 1 AND idx = 7")


def _extra_node(level: object, index: int) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        _sql(path, "INSERT INTO nodes VALUES (?, ?, ?)", params=(level, index, b"\x05" * 32))

    return damage


def _flip_head(path: Path) -> None:
    where = "author = (SELECT MIN(author) FROM heads)"
    _set(path, "heads", "prev", where, _flip(_value(path, f"SELECT prev FROM heads WHERE {where}")))


def _shift_head_seqs(path: Path) -> None:
    """One author's head seq one more, another's one less: their sum is still the size."""
    _sql(
        path,
        "UPDATE heads SET seq = seq + 1 WHERE author = (SELECT MIN(author) FROM heads)",
        "UPDATE heads SET seq = seq - 1 WHERE author = (SELECT MAX(author) FROM heads)",
    )


def _extra_head(path: Path) -> None:
    _sql(path, "INSERT INTO heads VALUES (?, 1, ?)", params=(b"\x07" * 32, b"\x08" * 32))


def _flip_entry(path: Path) -> None:
    _set(
        path,
        "entries",
        "data",
        "idx = 40",
        _flip(_value(path, "SELECT data FROM entries WHERE idx = 40"), 700),
    )


def _rewrite_entry(path: Path) -> None:
    """Entry 40 changed and its leaf hash with it: only the stored tree still commits to the
    old entry."""
    data = _flip(_value(path, "SELECT data FROM entries WHERE idx = 40"), 700)
    _set(path, "entries", "data", "idx = 40", data)
    _set(path, "entries", "leaf", "idx = 40", hashlib.sha256(b"\x00" + data).digest())


def _store_tree(path: Path) -> None:
    """Rewrite every Merkle node from the stored leaf hashes."""
    conn = sqlite3.connect(path)
    with conn:
        level = [bytes(r[0]) for r in conn.execute("SELECT leaf FROM entries ORDER BY idx")]
        conn.execute("DELETE FROM nodes")
        height = 0
        while len(level) > 1:
            height += 1
            level = [
                hashlib.sha256(b"\x01" + a + b).digest()
                for a, b in zip(level[0::2], level[1::2], strict=False)
            ]
            conn.executemany(
                "INSERT INTO nodes VALUES (?, ?, ?)", [(height, i, h) for i, h in enumerate(level)]
            )
    conn.close()


def _replayed_entry(path: Path) -> None:
    """The newest entry of the first author (index 210, seq 71, after the last checkpoint)
    replaced by its previous one (index 207, seq 70), with its leaf hash, the tree and the
    author's head rewritten to match: the head the replay ends with (seq 70), not the one the
    full check counts (71 entries). Only the entries themselves show the difference."""
    data = bytes(_value(path, "SELECT data FROM entries WHERE idx = 207"))  # type: ignore[arg-type]
    leaf = hashlib.sha256(b"\x00" + data).digest()
    _set(path, "entries", "data", "idx = 210", data)
    _set(path, "entries", "leaf", "idx = 210", leaf)
    _store_tree(path)
    author = hashlib.sha256(data[7:39]).digest()  # the key follows 7 bytes of envelope
    _sql(path, "UPDATE heads SET seq = 70, prev = ? WHERE author = ?", params=(leaf, author))


def _text_entry(path: Path) -> None:
    _set(path, "entries", "data", "idx = 12", "an entry stored as text")


def _flip_checkpoint(path: Path) -> None:
    note = str(_value(path, "SELECT note FROM checkpoints WHERE id = 2"))
    _set(path, "checkpoints", "note", "id = 2", note.replace("\n", "\n\n", 1))


DAMAGE = {
    "leaf hash": _flip_leaf,
    "leaf hashes of 31 and 33 bytes": _split_leaves,
    "leaf hash as text": _text_leaf,
    "level-1 node": _flip_node(1, 7),
    "level-3 node": _flip_node(3, 2),
    "level-6 node": _flip_node(6, 1),
    "top node": _flip_node(7, 0),
    "node at a fractional index": _real_node_index,
    "node past its level's end": _extra_node(1, 106),
    "node at a fractional level": _extra_node(1.5, 0),
    "node above the top": _extra_node(8, 0),
    "head": _flip_head,
    "head seqs": _shift_head_seqs,
    "head of no entries": _extra_head,
    "entry": _flip_entry,
    "entry and its leaf hash": _rewrite_entry,
    "entry as text": _text_entry,
    "entry replaced by an earlier one, tree and head to match": _replayed_entry,
    "checkpoint": _flip_checkpoint,
}


def _damaged(report: object) -> list[tuple[int | None, str, str]]:
    return [
        (f.index, f.message, f.evidence["kind"])
        for f in report.by_code(F.SOURCE_DAMAGED)  # type: ignore[attr-defined]
    ]


@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_damage_gives_the_full_checks_findings(
    copy: Path, glog: GenericLog, full_checks: list[str], name: str
) -> None:
    DAMAGE[name](copy)
    with SQLiteStore(copy, read_only=True) as store:
        want = [(d.index, d.message, d.kind.value) for d in store.find_damage(full=True)]
    assert want, "the full check finds this damage"
    for jobs, serial in ((1, False), (2, False), (2, True)):
        report = audit(copy, glog.trust, election=False, jobs=jobs, serial=serial)
        assert _damaged(report) == want, (jobs, serial)
        assert report.verdict == "findings"
    assert full_checks == [str(copy)] * 3  # the summary differed: the full check named it


def test_sound_store_needs_no_full_check(
    copy: Path, glog: GenericLog, full_checks: list[str]
) -> None:
    for jobs, serial in ((1, False), (2, False), (2, True)):
        report = audit(copy, glog.trust, election=False, jobs=jobs, serial=serial)
        assert not _damaged(report)
        assert report.verdict == "incomplete"  # 3 entries after the last checkpoint, no damage
    assert full_checks == []


def test_resumed_audit_runs_the_full_check(
    copy: Path, glog: GenericLog, full_checks: list[str], tmp_path: Path
) -> None:
    """A resumed audit replays only the entries after its saved checkpoint: the store's full
    check runs beside it, as before (in the worker with jobs, here inline)."""
    state = tmp_path / "state"
    audit(copy, glog.trust, election=False, state=state)
    _flip_node(1, 7)(copy)
    report = audit(copy, glog.trust, election=False, state=state)
    with SQLiteStore(copy, read_only=True) as store:
        want = [(d.index, d.message, d.kind.value) for d in store.find_damage(full=True)]
    assert _damaged(report) == want and want


def _zero_page(which: str) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        raw = bytearray(path.read_bytes())
        page = len(raw) // 4096 - 1 if which == "last" else len(raw) // 4096 // 2
        raw[page * 4096 : (page + 1) * 4096] = bytes(4096)
        path.write_bytes(bytes(raw))

    return damage


@pytest.mark.parametrize("which", ["last", "middle"])
@pytest.mark.parametrize(("jobs", "engine"), [(1, "processes"), (2, "processes"), (2, "tasks")])
def test_a_file_sqlite_finds_damaged_is_refused_without_the_check_at_open(
    copy: Path, glog: GenericLog, which: str, jobs: int, engine: str
) -> None:
    """The audit opens a SQLite file without the store's check at open (it walks the entries
    and nodes tables in the auditing process); the check beside the replay finds a damaged
    file all the same, and the audit refuses it with the message it gave before."""
    _zero_page(which)(copy)
    with SQLiteStore(copy, read_only=True) as store:  # what the check at open finds
        assert [d.kind for d in store.problems][:1] == [DamageKind.FILE]
    with pytest.raises(AuditError) as refused:
        audit(copy, glog.trust, election=False, jobs=jobs, engine=engine)
    assert str(refused.value) == (
        f"the database is damaged and cannot be audited: SQLite store {str(copy)!r}: the "
        "database file is damaged: database disk image is malformed"
    )


def test_the_auditing_process_does_not_walk_the_tables_at_open(
    copy: Path, glog: GenericLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With workers, every pass over the store's tables runs beside the replay: none in the
    auditing process (whose CPU time per entry bounds the audit's rate)."""
    scans: list[bool] = []
    real = _integrity.Scan.run

    def spy(self: _integrity.Scan, full: bool, digests: object = None) -> None:
        scans.append(full)
        real(self, full, digests)  # type: ignore[arg-type]

    monkeypatch.setattr(_integrity.Scan, "run", spy)  # the aside's process has a copy
    report = audit(copy, glog.trust, election=False, jobs=2)
    assert report.verdict == "incomplete" and not _damaged(report)
    assert scans == []
    with SQLiteStore(copy, read_only=True):  # the spy sees a store's check at open
        pass
    assert scans == [False]


def _file_damage_check(path: str) -> _store_check.TreeCheck:
    """A store check that finds the file damaged (a module function: it runs in a worker)."""
    return _store_check.TreeCheck(
        (StoreDamage(kind=DamageKind.FILE, message=f"{path}: a page is overwritten"),), None, None
    )


@pytest.fixture
def asides(monkeypatch: pytest.MonkeyPatch) -> list[Aside[object]]:
    """The store checks the audit starts beside the replay (as found: damaged), kept here."""
    monkeypatch.setattr(_sources, "sqlite_tree_check", _file_damage_check)
    started: list[Aside[object]] = []
    for cls in (Shards, TaskEngine):
        real = cls.aside

        def spy(self: object, fn: object, arg: object, real: object = real) -> Aside[object]:
            aside: Aside[object] = real(self, fn, arg)  # type: ignore[operator]
            started.append(aside)
            return aside

        monkeypatch.setattr(cls, "aside", spy)
    return started


def _until_ready(asides: list[Aside[object]]) -> None:
    deadline = time.monotonic() + 30
    while not (asides and asides[0].ready()):
        assert time.monotonic() < deadline, "the check beside the replay did not answer"
        time.sleep(0.01)


_REFUSED = "the database is damaged and cannot be audited: .*: a page is overwritten"


def test_a_damaged_file_is_refused_before_one_entry_is_verified_with_one_job(
    copy: Path, glog: GenericLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one job the store's check runs first, in this process."""
    monkeypatch.setattr(_sources, "sqlite_tree_check", _file_damage_check)
    verified: list[int] = []
    real = _pipeline.verify_chunk
    monkeypatch.setattr(_pipeline, "verify_chunk", lambda c: verified.append(len(c)) or real(c))
    with pytest.raises(AuditError, match=_REFUSED):
        audit(copy, glog.trust, election=False, jobs=1)
    assert verified == []


def test_a_damaged_file_is_refused_at_the_chunk_after_the_check_answers(
    copy: Path, glog: GenericLog, monkeypatch: pytest.MonkeyPatch, asides: list[Aside[object]]
) -> None:
    """With workers the audit looks at the check beside them between chunks: once it has
    found the file damaged, no further chunk is read."""
    monkeypatch.setattr(core, "CHUNK_SIZE", 16)  # the log's 213 entries in 14 chunks
    fed: list[int] = []
    real = ShardedReplay.feed_entries

    def feed(self: ShardedReplay, chunk: list[bytes]) -> None:
        fed.append(len(chunk))
        real(self, chunk)
        _until_ready(asides)

    monkeypatch.setattr(ShardedReplay, "feed_entries", feed)
    with pytest.raises(AuditError, match=_REFUSED):
        audit(copy, glog.trust, election=False, jobs=2)
    assert fed in ([], [16])  # the check may have answered before the first chunk


def test_community_tasks_stop_once_the_check_beside_them_finds_the_file_damaged(
    copy: Path, glog: GenericLog, monkeypatch: pytest.MonkeyPatch, asides: list[Aside[object]]
) -> None:
    """The task engine looks at the check before waiting for each task's result: once it has
    found the file damaged, no task's result is taken in."""
    real_start = TaskEngine._start

    def start(self: TaskEngine) -> object:
        jobs = real_start(self)
        _until_ready(asides)
        return jobs

    monkeypatch.setattr(TaskEngine, "_start", start)
    taken: list[int] = []

    class Results(_tasks.TaskResults):
        def __init__(self, results: list[_tasks.TaskResult], election: bool) -> None:
            taken.append(len(results))
            super().__init__(results, election)

    monkeypatch.setattr(_tasks, "TaskResults", Results)
    with pytest.raises(AuditError, match=_REFUSED):
        audit(copy, glog.trust, election=False, jobs=2, engine="tasks")
    assert taken == []


def test_the_check_beside_the_replay_is_asked_once(glog: GenericLog) -> None:
    """Its result is read once (the early look and the damage findings share it)."""
    with Shards(2, glog.trust, election=False) as shards:
        aside = shards.aside(len, "abc")
        _until_ready([aside])
        assert aside.ready() and aside() == 3 and aside() == 3 and aside.ready()


@pytest.mark.parametrize("job", [False, True])
def test_the_process_beside_the_replay_ends_by_itself(glog: GenericLog, job: bool) -> None:
    """With a job (a store's check) or without one (a bundle has none), the process beside the
    replay exits on its own when the workers close: exit status 0, not the SIGTERM that
    ``close`` sends a process still alive after its wait (which made every sharded audit of a
    bundle wait that long: it held a copy of the pipe's other end, so closing this one was no
    end-of-file for it)."""
    with Shards(2, glog.trust, election=False) as shards:
        process = shards.workers.beside
        assert process is not None
        if job:
            aside = shards.aside(len, "abc")
            _until_ready([aside])
            assert aside() == 3
    assert process.exitcode == 0


@pytest.mark.parametrize("size", [0, 1, 2, 15, 16, 17, 31, 32, 33, 100, 255, 256, 257, 1000])
def test_level_digests_are_the_levels_hashed(size: int) -> None:
    """Each level of the replayed tree hashed in index order: the complete nodes of every level
    up to the tree's height, the tree fed in uneven chunks."""
    leaves = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(size)]
    tree = CompactMerkleTree()
    try:
        tree.keep_digests()
        for start in range(0, size, 7):
            tree.extend(leaves[start : start + 7])
        want = []
        level = leaves
        while True:
            want.append(hashlib.sha256(b"".join(level)).digest())
            level = [
                hashlib.sha256(b"\x01" + a + b).digest()
                for a, b in zip(level[0::2], level[1::2], strict=False)
            ]
            if not level:
                break
        assert tree.level_digests() == tuple(want)
    finally:
        tree.close()


def test_store_summary_is_the_replayed_trees(copy: Path) -> None:
    """The stored-tree summary of a sound store equals the level digests of a tree of its
    entries' leaf hashes, and its heads are the stored heads."""
    with SQLiteStore(copy, read_only=True) as store:
        damage, stored = store.stored_tree()
        entries = list(store.entries(0, store.size()))
    assert damage == () and stored is not None
    tree = CompactMerkleTree()
    try:
        tree.keep_digests()
        tree.extend([hashlib.sha256(b"\x00" + e).digest() for e in entries])
        assert stored.size == len(entries) and stored.digests == tree.level_digests()
    finally:
        tree.close()
    assert len(stored.heads) == 3 and sum(seq for seq, _ in stored.heads.values()) == 213


def test_summary_queries_count_only_well_formed_rows() -> None:
    """The summary's row checks, on rows a damaged or hostile file may hold: a hash that is
    text (even with a blob's bytes), a number or 31 bytes is not counted; an index that is a
    real makes the sum of indexes a real."""
    from electlog.store._integrity import SQLITE_DIGESTS as _DIGESTS

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE nodes (level INTEGER, idx INTEGER, hash BLOB)")
    good = bytes(range(65, 97))  # 32 bytes that are also ASCII text
    rows = [(1, 0, good), (1, 1, good.decode()), (1, 2, 7), (1, 3, good[:31]), (1, 4, None)]
    conn.executemany("INSERT INTO nodes VALUES (?, ?, ?)", rows)
    count, total, well_formed, joined = conn.execute(_DIGESTS.nodes, (1, 0, 5)).fetchone()
    assert (count, total, well_formed) == (5, 10, 1)
    assert joined.startswith(good + good)  # the text's bytes, as a blob's would be
    conn.execute("UPDATE nodes SET idx = 3.5 WHERE idx = 3")
    assert type(conn.execute(_DIGESTS.nodes, (1, 0, 5)).fetchone()[1]) is float
    conn.close()


def _read_stored_leaves(path: Path, start: int = 0) -> bytes | None:
    src = _sources.open_source(path, quick_check=False)
    try:
        assert isinstance(src, _sources.RawSQLiteSource)
        for _ in src.chunks(50, start):
            pass
        return src.stored_leaves()
    finally:
        src.close()


def _gap(path: Path) -> None:
    _sql(path, "DELETE FROM entries WHERE idx = 60")


@pytest.mark.parametrize(
    "damage",
    [_split_leaves, _text_leaf, _gap],
    ids=["leaf hashes of 31 and 33 bytes", "leaf hash as text", "an index missing"],
)
def test_the_read_hashes_the_stored_leaves_only_when_each_is_one(
    copy: Path, damage: Callable[[Path], None]
) -> None:
    """The tree check leaves level 0 (the stored leaf hashes) to the audit's read of the
    entries' rows: on a sound store that read's digest is the summary's level 0; stored leaf
    hashes of 31 and 33 bytes (whose concatenation is unchanged), one stored as text, or an
    index missing make it None, so the full check runs and names the damage; a read from a
    later index (a resumed audit) has none."""
    with SQLiteStore(copy, read_only=True) as store:
        _, stored = store.stored_tree()
        _, above = store.stored_tree(leaves=False)
    assert stored is not None and above is not None
    assert above.digests == stored.digests[1:]
    assert _read_stored_leaves(copy) == stored.digests[0]
    assert _read_stored_leaves(copy, start=100) is None
    damage(copy)
    assert _read_stored_leaves(copy) is None
