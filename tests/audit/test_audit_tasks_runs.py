"""A local community task reads only its own runs of the routing plan from a store.

Given the plan (:func:`route_plan`), a task on a SQLite file, a PostgreSQL database or a tiles
directory reads the index ranges of its shard's entries and the district events
(:meth:`Source.runs`), each entry once, and nothing else but the source's last entry and where
it ends; its result is the result of the task that reads every entry and routes it itself, for
every shard. A store that changed between the routing and the task's read (grown, shrunk, other
bytes) is an :class:`AuditError`, never a mixed report: the task refuses a source that does not
end where it was routed, and the audit's own read refuses entries other than the tasks'. A
SQLite file whose indexes are not ``0 .. n-1`` is read whole, as the audit reads it.
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import pytest
from test_audit_shards import _register_again
from test_audit_tamper import changed_mark
from test_audit_tasks import _json, _same, _serial, _three_findings

from audit_support import ElectionLog, build_election
from electlog import Entry, Log
from electlog.audit import _presumed, _tasks, audit
from electlog.audit._pipeline import CHUNK_SIZE
from electlog.audit._replay import FindingSink
from electlog.audit._shards import ALL, Fallback, Router, ShardedReplay
from electlog.audit._sources import Source, SourceUnreadable, open_entries, open_source
from electlog.audit._tasks import CommunityTask, TaskResult, TaskResults, route_plan, run_task
from electlog.checkpoint import Checkpoint
from electlog.errors import AuditError, UsageError
from electlog.publish import export_tiles
from electlog.store import MemoryStore, SQLiteStore, Store, open_store

Make = Callable[[str, list[bytes]], str]
"""Writes a copy of the given entries (a name for it) and returns the source to audit."""


@pytest.fixture(scope="module")
def el() -> ElectionLog:
    return build_election(0)


def _fill(store: Store, el: ElectionLog, entries: list[bytes]) -> Log:
    """``entries`` in ``store``, with the scenario's notes that fit them and one of them all."""
    log = Log(store)
    log.append_many(entries)
    for note in el.notes:
        cp = Checkpoint.from_text(note.split("\n\n", 1)[0] + "\n")
        if cp.size <= len(entries) and cp.root == log.root(cp.size):
            log.add_checkpoint(note)
    latest = log.latest_checkpoint()
    if latest is None or latest.size < len(entries):
        log.add_checkpoint(el.note(len(entries), log.root()))
    return log


def _sqlite_maker(tmp_path: Path, el: ElectionLog) -> Make:
    def make(name: str, entries: list[bytes]) -> str:
        path = tmp_path / f"{name}.sqlite"
        with SQLiteStore(path, origin=el.origin) as store:
            _fill(store, el, entries)
        return str(path)

    return make


def _tiles_maker(tmp_path: Path, el: ElectionLog) -> Make:
    def make(name: str, entries: list[bytes]) -> str:
        export_tiles(_fill(MemoryStore(el.origin), el, entries), tmp_path / name)
        return str(tmp_path / name)

    return make


def _postgres_maker(server: str, el: ElectionLog) -> Iterator[Make]:
    """Databases on the test server (``postgres_dsn`` is one per test), dropped at the end."""
    import secrets
    import urllib.parse

    import psycopg

    made: list[str] = []

    def make(name: str, entries: list[bytes]) -> str:
        db = f"electlog_runs_{name}_{secrets.token_hex(4)}"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db}"')
        made.append(db)
        dsn = urllib.parse.urlunsplit(urllib.parse.urlsplit(server)._replace(path=f"/{db}"))
        with open_store(dsn, origin=el.origin) as store:
            _fill(store, el, entries)
        return dsn

    try:
        yield make
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            for db in made:
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


STORES = ["sqlite", "tiles", pytest.param("postgres", marks=pytest.mark.postgres)]
"""The stores read by index, for a fixture's ``params`` (its maker: :func:`store_maker`)."""


def store_maker(request: pytest.FixtureRequest, tmp_path: Path, el: ElectionLog) -> Iterator[Make]:
    """The maker of copies of the log in the store ``request.param`` of :data:`STORES`."""
    if request.param == "sqlite":
        yield _sqlite_maker(tmp_path, el)
    elif request.param == "tiles":
        yield _tiles_maker(tmp_path, el)
    else:
        yield from _postgres_maker(request.getfixturevalue("postgres_server"), el)


@pytest.fixture(params=STORES)
def make(request: pytest.FixtureRequest, tmp_path: Path, el: ElectionLog) -> Iterator[Make]:
    yield from store_maker(request, tmp_path, el)


class _Reads:
    """Every entry index the tasks' sources hand out (``open_entries`` spied on), and whether
    any was read whole (:meth:`Source.chunks`)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.indexes: collections.Counter[int] = collections.Counter()
        self.whole = 0
        real = _tasks.open_entries

        def spied(source: str) -> Source:
            src = real(source)
            runs, chunks = src.runs, src.chunks

            def counted_runs(ranges: Any, size: int) -> Iterator[tuple[int, list[bytes]]]:
                for first, datas in runs(ranges, size):
                    assert 0 < len(datas) <= size
                    self.indexes.update(range(first, first + len(datas)))
                    yield first, datas

            def counted_chunks(size: int, *args: Any) -> Iterator[list[bytes]]:
                self.whole += 1
                yield from chunks(size, *args)

            src.runs = counted_runs  # type: ignore[method-assign]
            src.chunks = counted_chunks  # type: ignore[method-assign]
            return src

        monkeypatch.setattr(_tasks, "open_entries", spied)  # the tasks' reads
        monkeypatch.setattr(_presumed, "open_entries", spied)  # the routing's

    def clear(self) -> None:
        self.indexes.clear()
        self.whole = 0


def _tasks_of(source: str, el: ElectionLog, shards: int) -> list[CommunityTask]:
    return [CommunityTask(source, el.trust.to_json(), True, shards, s, None) for s in range(shards)]


def _planned_tasks(
    source: str, el: ElectionLog, shards: int, plan_of: str | None = None
) -> list[CommunityTask]:
    """The planned tasks of ``source`` with the plan of ``plan_of`` (default: ``source``)."""
    plan, owned = route_plan(plan_of or source, shards)
    return [t._replace(plan=plan, owned=owned[t.shard]) for t in _tasks_of(source, el, shards)]


def test_the_runs_of_a_plan() -> None:
    rng = random.Random(5)
    for n in (0, 1, 2, 7, 300):
        for _ in range(20):
            plan = bytes(rng.choice((0, 1, 2, ALL)) for _ in range(n))
            for shard in (0, 1, 2):
                runs = _tasks._runs(plan, shard)
                mine = [i for i, w in enumerate(plan) if w in (shard, ALL)]
                assert [i for a, b in runs for i in range(a, b)] == mine
                # maximal: nothing of the shard's touches a run from outside
                assert all(a < b for a, b in runs)
                assert all(b < len(plan) and plan[b] not in (shard, ALL) for a, b in runs[:-1])
                assert all(a == 0 or plan[a - 1] not in (shard, ALL) for a, _ in runs)
    assert _tasks._runs(bytes([ALL]) * 5, 3) == [(0, 5)]
    assert _tasks._runs(bytes([1, 1, 0, 1]), 1) == [(0, 2), (3, 4)]


@pytest.mark.parametrize("chunk", [CHUNK_SIZE, 7])
def test_a_planned_task_reads_its_runs_once_and_is_the_routed_task(
    make: Make, el: ElectionLog, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    # small chunks: runs split in several, and chunks of the routed read across runs
    monkeypatch.setattr(_tasks, "CHUNK_SIZE", chunk)
    monkeypatch.setattr(_presumed, "CHUNK_SIZE", chunk)  # the routing's read
    entries = _three_findings(el)
    source = make("copy", entries)
    reads = _Reads(monkeypatch)
    for shards in (1, 2):
        plan, _ = route_plan(source, shards)
        assert len(plan) == len(entries)
        for task in _planned_tasks(source, el, shards):
            reads.clear()
            planned = run_task(task)
            # each entry of the shard's runs read once, the last entry once more (the end),
            # nothing read whole
            want = collections.Counter(i for i, w in enumerate(plan) if w in (task.shard, ALL))
            want[len(plan) - 1] += 1
            assert reads.indexes == want and reads.whole == 0
            assert planned.read == len(entries) and len(planned.statuses) == sum(want.values()) - 1
            reads.clear()
            _same(planned, run_task(task._replace(plan=None, owned=frozenset())))
            assert reads.whole == 1  # the task that routes itself reads every entry
    # the audit with the tasks engine: the serial replay's report
    assert _json(audit(source, el.trust, engine="tasks", jobs=2)) == _json(
        audit(source, el.trust, serial=True)
    )


def test_a_store_changed_after_the_routing(make: Make, el: ElectionLog) -> None:
    entries = _three_findings(el)
    full = make("full", entries)
    short = make("short", entries[:-5])
    for task in _planned_tasks(full, el, 2, plan_of=short):  # grown since it was routed
        with pytest.raises(AuditError, match=r"read more than the \d+ entries routed"):
            run_task(task)
    # shrunk: every task sees its end moved (a SQLite file whose indexes are not those routed
    # is read whole, as one with a missing index, and ends early)
    for task in _planned_tasks(short, el, 2, plan_of=full):
        with pytest.raises(
            AuditError, match=r"(cannot read entries it was routed|read 315 of the 320 entries)"
        ):
            run_task(task)
    # other bytes (a ballot of c1 changed and the chain re-signed after it), routed alike: the
    # tasks replay what they read; the audit's own read of the routed copy refuses them
    other = make("other", changed_mark(attrs.evolve(el, entries=entries))[0])
    assert route_plan(other, 2) == route_plan(full, 2)
    results = [run_task(t) for t in _planned_tasks(other, el, 2, plan_of=full)]
    assert [r.read for r in results] == [len(entries)] * 2
    with pytest.raises(AuditError, match="read other entry bytes than this process"):
        _parent(full, el, results)
    _parent(other, el, results)  # the copy they read: no complaint


def _parent(source: str, el: ElectionLog, results: list[TaskResult]) -> None:
    """The audit's own read of ``source`` against the tasks' ``results``."""
    replay = ShardedReplay(el.trust, FindingSink(), TaskResults(results, True))
    src = open_source(source)
    try:
        for chunk in src.chunks(CHUNK_SIZE):
            replay.feed_entries(chunk)
        replay.entries_done()
    finally:
        src.close()
        replay.close()


def test_the_audit_of_a_copy_that_changed_after_the_routing(
    el: ElectionLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the auditing process routes one copy, the tasks and its own read see another
    make = _sqlite_maker(tmp_path, el)
    entries = _three_findings(el)
    full, short = make("full", entries), make("short", entries[:-1])
    routed = {"source": full}
    real, presumed = _tasks.route_plan, _tasks.presumed_plan
    monkeypatch.setattr(
        _tasks,
        "route_plan",
        lambda source, shards, stream=None: real(routed["source"], shards, stream),
    )
    monkeypatch.setattr(  # the routing that runs the final pass too: two processes or more
        _tasks,
        "presumed_plan",
        lambda source, shards, stream, presume: presumed(routed["source"], shards, stream, presume),
    )
    # two entries of c1 and c2 by other authors swapped: each routed to the other's task
    plan, _ = real(full, 2)
    i = next(
        i
        for i in range(len(plan) - 1)
        if (plan[i], plan[i + 1]) == (0, 1) and entries[i][7:39] != entries[i + 1][7:39]
    )
    swapped = list(entries)
    swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
    for copy, routed["source"] in ((full, short), (short, full), (make("swapped", swapped), full)):
        with pytest.raises(AuditError, match="the source changed while the audit read it"):
            audit(copy, el.trust, engine="tasks", jobs=2)
    routed["source"] = full
    # other bytes routed alike: the report is the changed copy's, as the serial replay's
    other = Path(make("other", changed_mark(attrs.evolve(el, entries=entries))[0]))
    report = audit(other, el.trust, engine="tasks", jobs=2)
    assert report.run["replay"].startswith("sharded by community: 2 community task(s)")
    assert _json(report) == _serial(other, el)


def test_a_sqlite_file_with_a_missing_index_is_read_whole(
    el: ElectionLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a damaged file: rows read in order are not the indexes; the task reads it all, as the
    # audit does, and the report is the serial replay's
    make = _sqlite_maker(tmp_path, el)
    whole = make("whole", el.entries)
    path = Path(make("gap", el.entries))
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DELETE FROM entries WHERE idx = 150")
    conn.close()
    src = open_entries(str(path))
    try:  # its rows read in order: one fewer than its indexes 0 .. n-1
        assert not src.indexed(len(el.entries) - 1)
    finally:
        src.close()
    # routed before the row went missing: read by index, the task of entry 150 misses it
    tasks = _planned_tasks(str(path), el, 2, plan_of=whole)
    mine = [t for t in tasks if any(a <= 150 < b for a, b in _tasks._runs(t.plan or b"", t.shard))]
    assert len(mine) == 1
    with pytest.raises(AuditError, match=r"entries \d+\.\.\d+ are not all stored"):
        run_task(mine[0])
    real, presumed = _tasks.route_plan, _tasks.presumed_plan
    with monkeypatch.context() as m:
        m.setattr(
            _tasks, "route_plan", lambda source, shards, stream=None: real(whole, shards, stream)
        )
        m.setattr(
            _tasks,
            "presumed_plan",
            lambda source, shards, stream, presume: presumed(whole, shards, stream, presume),
        )
        with pytest.raises(AuditError, match="the source changed while the audit read it"):
            audit(path, el.trust, engine="tasks", jobs=2)
    reads = _Reads(monkeypatch)
    for task in _planned_tasks(str(path), el, 2):
        reads.clear()
        _same(run_task(task), run_task(task._replace(plan=None, owned=frozenset())))
        assert reads.whole == 2 and reads.indexes.total() == 0
    expected = _serial(path, el)
    assert "source.damaged" in {f["code"] for f in expected["findings"]}
    assert _json(audit(path, el.trust, engine="tasks", jobs=2)) == expected


def test_a_sqlite_entry_value_that_is_no_entry(
    el: ElectionLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # read by index as by the whole read: a text value is the empty entry, rejected at its index
    path = Path(_sqlite_maker(tmp_path, el)("text", el.entries))
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE entries SET data = 'not an entry' WHERE idx = 40")
    conn.close()
    reads = _Reads(monkeypatch)
    for task in _planned_tasks(str(path), el, 2):
        reads.clear()
        planned = run_task(task)
        assert reads.whole == 0
        _same(planned, run_task(task._replace(plan=None, owned=frozenset())))
    assert _json(audit(path, el.trust, engine="tasks", jobs=2)) == _serial(path, el)


def test_sources_read_by_index(el: ElectionLog, tmp_path: Path) -> None:
    sqlite = _sqlite_maker(tmp_path, el)("copy", el.entries)
    n = len(el.entries)
    for source in (sqlite, _tiles_maker(tmp_path, el)("tiles", el.entries)):
        src = open_entries(source)
        try:
            assert src.indexed(n)
            got = list(src.runs([(0, 3), (10, 15), (n - 2, n)], 2))
            assert got == [
                (0, el.entries[0:2]),
                (2, el.entries[2:3]),
                (10, el.entries[10:12]),
                (12, el.entries[12:14]),
                (14, el.entries[14:15]),
                (n - 2, el.entries[n - 2 : n]),
            ]
            assert list(src.runs([(n - 3, None)], 2)) == [
                (n - 3, el.entries[n - 3 : n - 1]),
                (n - 1, el.entries[n - 1 :]),
            ]
            assert list(src.runs([(n, None)], 2)) == []
            with pytest.raises(SourceUnreadable):
                list(src.runs([(n - 1, n + 1)], 5))
        finally:
            src.close()
    # a SQLite file only while its indexes are 0 .. n-1 (the count an earlier read gave)
    src = open_entries(sqlite)
    try:
        assert not src.indexed(n - 1) and not src.indexed(n + 1) and not src.indexed(0)
    finally:
        src.close()
    # a bundle cannot: it is read whole
    from audit_support import write_bundle

    bundle = tmp_path / "copy.bundle"
    write_bundle(bundle, el.origin, el.entries, el.notes)
    src = open_entries(str(bundle))
    try:
        assert not src.indexed(n)
        with pytest.raises(UsageError, match="cannot be read by entry index"):
            src.runs([(0, 1)], 1)
    finally:
        src.close()


def test_a_fallback_log_by_runs(el: ElectionLog, tmp_path: Path) -> None:
    # a log the merge hands to the serial replay: the tasks' results by runs are the routed ones
    path = _sqlite_maker(tmp_path, el)("fallback", _register_again(el, "c2"))
    for task in _planned_tasks(path, el, 2):
        _same(run_task(task), run_task(task._replace(plan=None, owned=frozenset())))
    assert audit(path, el.trust, engine="tasks", jobs=2).run["replay"].startswith("serial: ")


def _streamed(
    source: str, el: ElectionLog, shards: int, shard: int, plan_of: str | None = None
) -> TaskResult:
    """Task ``shard`` of ``source`` run while the routing of ``plan_of`` (default: ``source``)
    writes its plan to a :class:`PlanStream` (the routing in a thread here, its process in an
    audit), as the engine's first task runs."""
    ctx = multiprocessing.get_context()
    size = _tasks._indexed_extent(source)
    assert size is not None
    stream = _tasks.PlanStream(size, ctx.Value("q", 0), ctx.Value("q", 0))
    task = _tasks_of(source, el, shards)[shard]._replace(plan_stream=stream)
    with ThreadPoolExecutor(1) as pool:
        routing = pool.submit(route_plan, plan_of or source, shards, stream)
        try:
            return run_task(task)
        finally:
            with contextlib.suppress(Fallback):
                routing.result()


def test_a_task_that_reads_its_entries_as_they_are_routed(
    el: ElectionLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the first task starts while the log is routed: each part of the plan as it comes, read
    # by its runs (small chunks, and a routing slower than the task: the task waits for it)
    path = _sqlite_maker(tmp_path, el)("copy", _three_findings(el))
    monkeypatch.setattr(_tasks, "CHUNK_SIZE", 37)
    monkeypatch.setattr(_presumed, "CHUNK_SIZE", 37)  # the routing's chunks
    put = _tasks.StatusStream.put

    def slow(self: _tasks.StatusStream, statuses: bytes) -> None:
        time.sleep(0.002)
        put(self, statuses)

    monkeypatch.setattr(_tasks.StatusStream, "put", slow)
    reads = _Reads(monkeypatch)
    for planned in _planned_tasks(path, el, 2):
        reads.clear()
        _same(_streamed(path, el, 2, planned.shard), run_task(planned))
        assert reads.whole == 1  # the routing's read; the task's by runs, each entry once
    # the routing finds, half way, that the log needs the serial replay: the task stops too
    route = Router._route

    def needs_serial(self: Router, i: int, m: Any) -> str | None:
        if i == len(_three_findings(el)) // 2:
            raise Fallback("an id of two communities")
        return route(self, i, m)

    with monkeypatch.context() as m:
        m.setattr(Router, "_route", needs_serial)
        assert _streamed(path, el, 2, 0).fallback is not None
    # routed more entries than the source had when the audit began (it grew, or a row is
    # missing): the engine starts that task again by the whole plan
    short = _sqlite_maker(tmp_path, el)("short", _three_findings(el)[:-1])
    with pytest.raises(AuditError, match=r"was routed \d+ entries, not the \d+ indexed"):
        _streamed(short, el, 2, 1, plan_of=path)


def test_the_engine_starts_the_first_task_while_the_log_is_routed(
    el: ElectionLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _sqlite_maker(tmp_path, el)("copy", _three_findings(el))
    calls = tmp_path / "tasks"
    real = _tasks.run_task

    def noted(task: CommunityTask) -> TaskResult:
        with calls.open("a") as f:
            f.write(f"{task.shard} {task.plan_stream is not None} {task.plan is not None}\n")
        return real(task)

    monkeypatch.setattr(_tasks, "run_task", noted)
    report = audit(path, el.trust, engine="tasks", jobs=2)
    assert _json(report) == _serial(Path(path), el)
    assert sorted(calls.read_text().split("\n")[:-1]) == ["0 True False", "1 False True"]
    # with one process there is no core for it: the tasks wait for the whole plan
    calls.unlink()
    assert _json(audit(path, el.trust, engine="tasks", jobs=1)) == _serial(Path(path), el)
    assert sorted(calls.read_text().split("\n")[:-1]) == ["0 False True", "1 False True"]


def test_the_task_beside_the_routing_is_the_largest_the_genesis_suggests(
    el: ElectionLog, tmp_path: Path
) -> None:
    # a genesis whose communities list 2, 6 and 3 groups (re-signed by the authority)
    statement = Entry.from_bytes(el.entries[0]).statement
    communities = statement.body["communities"]
    body = dict(statement.body)
    body["communities"] = [
        {**communities[k % 2], "community": f"c{k + 1}", "groups": [f"g{k}-{j}" for j in range(n)]}
        for k, n in enumerate((2, 6, 3))
    ]
    genesis = Entry.create(attrs.evolve(statement, body=body), el.keys.authority)
    path = tmp_path / "genesis.sqlite"
    with SQLiteStore(path, origin=el.origin) as store:
        Log(store).append(genesis)
    for shards, largest in ((1, 0), (2, 1), (3, 1)):  # weights [11], [5, 6], [2, 6, 3]
        assert _tasks._largest_guess(str(path), shards) == largest
    # the test election's two communities list as many groups: the first; a source that says
    # nothing of its groups: the first
    assert _tasks._largest_guess(_sqlite_maker(tmp_path, el)("copy", el.entries), 2) == 0
    assert _tasks._largest_guess(str(tmp_path / "missing.sqlite"), 4) == 0


def test_a_task_waiting_for_the_routing_stops_when_the_auditing_process_is_gone(
    el: ElectionLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the routing never ends (its process and the auditing one were killed): the task, which
    # has read what was routed, sees its parent change and stops instead of waiting forever
    path = _sqlite_maker(tmp_path, el)("copy", el.entries)
    size = _tasks._indexed_extent(path)
    assert size is not None
    ctx = multiprocessing.get_context()
    stream = _tasks.PlanStream(size, ctx.Value("q", 0), ctx.Value("q", 0))
    plan, _ = route_plan(path, 2)
    stream.plan.put(plan[:100])  # routed so far
    parents = iter([4242] + [4242] * 3 + [1] * 100)
    monkeypatch.setattr(_tasks.os, "getppid", lambda: next(parents))
    waits = iter(range(1000))  # a task that never stopped would fail here, not hang

    def sleep(seconds: float) -> None:
        next(waits)

    monkeypatch.setattr(_tasks.time, "sleep", sleep)
    task = _tasks_of(path, el, 2)[0]._replace(plan_stream=stream)
    with pytest.raises(AuditError, match="the auditing process is gone"):
        run_task(task)
    assert stream.end() == -1  # nothing ended the routing: only the parent's change stopped it
