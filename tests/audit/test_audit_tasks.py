"""Community tasks that read the source themselves give the serial reference replay's report.

``audit(..., engine="tasks")`` (local processes) and ``engine="dask"`` (a Dask ``LocalCluster``
of two worker processes on 127.0.0.1, started and stopped here) must give the JSON report of the
serial replay (everything but ``run``) on the clean election, on tamperings with findings in
both communities and a district event, on a SQLite store (whose full check runs as one more
task) and on a log the partition hands to the serial replay; ``electlog verify --engine dask``
runs as a real process against the same cluster. A source that only this process holds is a
usage error, and a source that changes between the tasks' reads and the audit's own is an
:class:`AuditError`, never a mixed report.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_audit_shards import _register_again
from test_audit_tamper import TAMPERINGS, changed_mark, more_recorded_than_issued, revoked_key_used

from audit_support import (
    ElectionLog,
    build_election,
    build_generic,
    write_bundle,
    write_sqlite_store,
)
from electlog import Log
from electlog.audit import Report, _shards, _tasks, audit
from electlog.audit import progress as progress_module
from electlog.audit._pipeline import CHUNK_SIZE
from electlog.audit._replay import FindingSink
from electlog.audit._shards import ShardedReplay
from electlog.audit._sources import open_source
from electlog.audit._tasks import CommunityTask, TaskResult, TaskResults, route_plan, run_task
from electlog.errors import AuditError, UsageError
from electlog.events import entry_leaf_hash
from electlog.store import SQLiteStore

ROOT = Path(__file__).resolve().parents[2]
TASKS = "sharded by community: 2 community task(s)"
CLUSTER_TIMEOUT = 60


@pytest.fixture(scope="module")
def el() -> ElectionLog:
    return build_election(0)


def _json(report: Report) -> dict[str, Any]:
    got = json.loads(report.to_json())
    got.pop("run")
    return got


def _serial(path: Path, el: ElectionLog) -> dict[str, Any]:
    reference = audit(path, el.trust, serial=True)
    assert reference.run["replay"] == "serial"
    return _json(reference)


def _bundle(tmp_path: Path, el: ElectionLog, entries: list[bytes], name: str = "copy") -> Path:
    path = tmp_path / f"{name}.bundle"
    write_bundle(path, el.origin, entries, el.notes)
    return path


def _three_findings(el: ElectionLog) -> list[bytes]:
    """A changed mark in c1, an extra ballot in c2 and a district key.revoked, in one copy."""
    entries = changed_mark(el)[0]
    entries = more_recorded_than_issued(attrs.evolve(el, entries=entries))[0]
    return revoked_key_used(attrs.evolve(el, entries=entries))[0]


# --------------------------------------------------------------------------- local tasks


def test_local_tasks_clean_election(el: ElectionLog, tmp_path: Path) -> None:
    path = _bundle(tmp_path, el, el.entries)
    expected = _serial(path, el)
    assert expected["verdict"] == "clean"
    for jobs in (1, 2):
        report = audit(path, el.trust, engine="tasks", jobs=jobs)
        assert _json(report) == expected
        assert report.run["replay"].startswith(TASKS), report.run
    # fewer tasks than communities: one task replays both (and reads the log once)
    report = audit(path, el.trust, engine="tasks", jobs=2, tasks=1)
    assert _json(report) == expected
    assert report.run["replay"].startswith("sharded by community: 1 community task(s)")


# one of each kind the tasks hand back differently: a rejected entry, an entry of another log,
# a broken chain, a district event's finding, a cut copy, a community's rule, a fallback (the
# sharded replay itself is held to the whole corpus in test_audit_shards.py)
KINDS = [
    "flipped byte (signature)",
    "replayed from another log",
    "entry deleted",
    "re-signed by an unauthorised key",
    "truncated below a checkpoint",
    "second ballot to one voter",
    "two entries swapped",
]


@pytest.mark.parametrize("name", KINDS)
def test_local_tasks_tamperings(name: str, el: ElectionLog, tmp_path: Path) -> None:
    tamper, code = TAMPERINGS[name]
    entries, notes = tamper(el)
    path = tmp_path / "copy.bundle"
    write_bundle(path, el.origin, entries, notes)
    expected = _serial(path, el)
    assert code in {f["code"] for f in expected["findings"]}
    assert _json(audit(path, el.trust, engine="tasks", jobs=2)) == expected


def test_local_tasks_sqlite_store_and_findings_in_both_communities(
    el: ElectionLog, tmp_path: Path
) -> None:
    # a SQLite store: its full integrity check runs as one more task beside the community tasks
    path = tmp_path / "copy.sqlite"
    store = SQLiteStore(path, origin=el.origin)
    log = Log(store)
    log.append_many(_three_findings(el))
    for note in el.notes[:-1]:  # the last note's root is of the untampered log
        log.add_checkpoint(note)
    store.close()
    expected = _serial(path, el)
    codes = {f["code"] for f in expected["findings"]}
    assert {"rule.result.mismatch", "rule.unit.returned_exceeds_issued"} <= codes
    assert {"c1", "c2"} <= {f["evidence"].get("community") for f in expected["findings"]}
    report = audit(path, el.trust, engine="tasks", jobs=2)
    assert _json(report) == expected
    assert report.run["replay"].startswith(TASKS)


def test_local_tasks_fall_back_to_the_serial_replay(el: ElectionLog, tmp_path: Path) -> None:
    # a voter of c1 registered again in c2: only the merge sees it and hands the log over
    path = _bundle(tmp_path, el, _register_again(el, "c2"))
    expected = _serial(path, el)
    assert "rule.voter.duplicate" in {f["code"] for f in expected["findings"]}
    report = audit(path, el.trust, engine="tasks", jobs=2)
    assert _json(report) == expected
    assert report.run["replay"].startswith("serial: "), report.run


def test_a_source_that_changed_between_the_reads(el: ElectionLog, tmp_path: Path) -> None:
    # the tasks read one copy, the audit's own process another: an AuditError, not a report
    first = _bundle(tmp_path, el, el.entries, "first")
    second = _bundle(tmp_path, el, changed_mark(el)[0], "second")
    tasks = [
        run_task(CommunityTask(str(first), el.trust.to_json(), True, 2, shard, None))
        for shard in range(2)
    ]
    assert all(t.fallback is None and t.read == len(el.entries) for t in tasks)
    replay = ShardedReplay(el.trust, FindingSink(), TaskResults(tasks, True))
    src = open_source(second)
    try:
        for chunk in src.chunks(CHUNK_SIZE):
            replay.feed_entries(chunk)
        with pytest.raises(AuditError, match="the source changed while the audit read it"):
            replay.entries_done()
    finally:
        src.close()
        replay.close()
    # and a copy with fewer entries than the tasks read
    third = _bundle(tmp_path, el, el.entries[:-1], "third")
    replay = ShardedReplay(el.trust, FindingSink(), TaskResults(tasks, True))
    src = open_source(third)
    try:
        for chunk in src.chunks(CHUNK_SIZE):
            replay.feed_entries(chunk)
        with pytest.raises(AuditError, match=r"read \d+ entries, this process \d+"):
            replay.entries_done()
    finally:
        src.close()
        replay.close()


def _same(one: TaskResult, other: TaskResult) -> None:
    """Equal task results (the end's eligibility state has no ==: compared as it travels)."""
    assert one._replace(end=None) == other._replace(end=None)
    assert pickle.dumps(one.end) == pickle.dumps(other.end)


def test_a_planned_task_is_the_task_that_routes_itself(
    el: ElectionLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # local tasks take the auditing process's routing (one pass) instead of each routing the
    # whole log: each shard's result is the same either way, on a copy with findings
    path = _bundle(tmp_path, el, _three_findings(el))
    trust = el.trust.to_json()
    plan, owned = route_plan(str(path), 2)
    assert len(plan) == len(_three_findings(el)) and set(plan) >= {0, 1, 255}
    for shard in range(2):
        task = CommunityTask(str(path), trust, True, 2, shard, None)
        planned = run_task(task._replace(plan=plan, owned=owned[shard]))
        _same(planned, run_task(task))
        assert planned.owned and planned.end is not None
    # the engine makes the plan once, in a process of its own (the auditing process, which
    # the tasks fork from, does not grow by the routing)
    calls = tmp_path / "routed"
    real = _tasks.route_plan

    def counted(source: str, shards: int) -> Any:
        with calls.open("a") as f:
            f.write(f"{os.getpid()} {shards}\n")
        return real(source, shards)

    monkeypatch.setattr(_tasks, "route_plan", counted)
    assert _json(audit(path, el.trust, engine="tasks", jobs=2)) == _serial(path, el)
    [(pid, shards)] = [line.split() for line in calls.read_text().splitlines()]
    assert shards == "2" and int(pid) != os.getpid()
    # a source that grew after it was routed, and a log the serial replay must audit
    with pytest.raises(AuditError, match=r"read more than the \d+ entries routed"):
        run_task(CommunityTask(str(path), trust, True, 2, 0, None, plan[:-1], owned[0]))
    fallback = _bundle(tmp_path, el, _register_again(el, "c2"), "fallback")
    plan, owned = route_plan(str(fallback), 2)
    for shard in range(2):
        task = CommunityTask(str(fallback), trust, True, 2, shard, None)
        _same(run_task(task._replace(plan=plan, owned=owned[shard])), run_task(task))
    assert audit(fallback, el.trust, engine="tasks", jobs=2).run["replay"].startswith("serial: ")
    with pytest.raises(UsageError, match="1 to 254 shards"):
        route_plan(str(path), 255)


def test_a_source_that_cannot_be_opened_is_named_as_by_the_default_engine(
    el: ElectionLog, tmp_path: Path
) -> None:
    # counting the tasks reads entry 0 only; what is wrong with the source is the audit's own
    # open's to say, in the default engine's words
    text = tmp_path / "notes.txt"
    text.write_text("not a log\n", encoding="utf-8")
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    for path in (tmp_path / "missing.bundle", text, garbage):
        with pytest.raises(AuditError) as default:
            audit(path, el.trust, jobs=2)
        with pytest.raises(AuditError) as tasks:
            audit(path, el.trust, engine="tasks", jobs=2)
        assert str(tasks.value) == str(default.value), path


def test_sources_and_options_a_task_cannot_use(el: ElectionLog, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="every worker can open, not a Log"):
        audit(el.log, el.trust, engine="tasks")
    with pytest.raises(UsageError, match="not a BytesSource"):
        audit(el.source(), el.trust, engine="dask", scheduler="tcp://127.0.0.1:1")
    path = _bundle(tmp_path, el, el.entries)
    with pytest.raises(UsageError, match="engine must be one of auto, processes, tasks, dask"):
        audit(path, el.trust, engine="threads")
    with pytest.raises(UsageError, match="needs engine='dask'"):
        audit(path, el.trust, engine="tasks", scheduler="tcp://127.0.0.1:1")
    with pytest.raises(UsageError, match="needs engine='dask'"):
        audit(path, el.trust, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(UsageError, match="needs the scheduler's address"):
        audit(path, el.trust, engine="dask")
    with pytest.raises(UsageError, match="tasks= is the number of community tasks"):
        audit(path, el.trust, tasks=2)
    for bad in (0, True, "2"):
        with pytest.raises(UsageError, match="tasks must be a positive integer"):
            audit(path, el.trust, engine="tasks", tasks=bad)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="no engine"):
        audit(path, el.trust, engine="tasks", serial=True)
    with pytest.raises(AuditError, match="cannot read"):
        audit(tmp_path / "missing.bundle", el.trust, engine="tasks")


# --------------------------------------------------------------------------- Dask


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A Dask LocalCluster of two worker processes on 127.0.0.1 (ephemeral ports), stopped at
    the end; its workers import this checkout's sources (PYTHONPATH)."""
    distributed = pytest.importorskip("distributed", reason="the distributed extra is missing")
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [old])])
    try:
        with distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            scheduler_port=0,
            dashboard_address=None,
            timeout=CLUSTER_TIMEOUT,
        ) as cluster:
            yield cluster.scheduler_address
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def test_dask_clean_and_tampered(scheduler: str, el: ElectionLog, tmp_path: Path) -> None:
    for name, entries in (("clean", el.entries), ("tampered", _three_findings(el))):
        path = _bundle(tmp_path, el, entries, name)
        expected = _serial(path, el)
        report = audit(path, el.trust, engine="dask", scheduler=scheduler)
        assert _json(report) == expected, name
        assert report.run["replay"] == (
            f"sharded by community: 2 community task(s) on the Dask cluster at {scheduler}"
        )
    assert expected["verdict"] == "findings"
    assert {"c1", "c2"} <= {f["evidence"].get("community") for f in expected["findings"]}


def test_dask_sqlite_store_and_fallback(scheduler: str, el: ElectionLog, tmp_path: Path) -> None:
    path = write_sqlite_store(tmp_path / "copy.sqlite", el)
    report = audit(path, el.trust, engine="dask", scheduler=scheduler)
    assert _json(report) == _serial(path, el)
    assert report.verdict == "clean"
    path = _bundle(tmp_path, el, _register_again(el, "c2"))
    report = audit(path, el.trust, engine="dask", scheduler=scheduler)
    assert _json(report) == _serial(path, el)
    assert report.run["replay"].startswith("serial: ")


def test_dask_cli_verify(scheduler: str, el: ElectionLog, tmp_path: Path) -> None:
    path = _bundle(tmp_path, el, _three_findings(el))
    trust = tmp_path / "trust.json"
    el.trust.save(trust)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    args = [sys.executable, "-m", "electlog", "verify", str(path), "--trust", str(trust)]
    args += ["--engine", "dask", "--scheduler", scheduler, "--format", "json"]
    proc = subprocess.run(args, capture_output=True, env=env, timeout=CLUSTER_TIMEOUT, check=False)
    assert proc.returncode == 1, proc.stderr.decode(errors="replace")
    got = json.loads(proc.stdout)
    assert got.pop("run")["replay"].endswith(f"on the Dask cluster at {scheduler}")
    assert got == _serial(path, el)
    # a scheduler nobody listens at: exit 2 with the reason, within the connect timeout
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args[-3] = f"tcp://127.0.0.1:{port}"
    env["DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT"] = "2s"  # Dask's own setting (default 30 s)
    proc = subprocess.run(args, capture_output=True, env=env, timeout=CLUSTER_TIMEOUT, check=False)
    assert proc.returncode == 2
    assert b"cannot connect to the Dask scheduler" in proc.stderr


def test_the_package_imports_no_dask_until_asked(
    el: ElectionLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = (
        "import sys, electlog, electlog.audit, electlog.audit._tasks, electlog.cli\n"
        "assert not {'dask', 'distributed'} & set(sys.modules), 'Dask imported'\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, env=env, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr.decode(errors="replace")
    # without the extra, engine="dask" is a usage error naming it
    monkeypatch.setitem(sys.modules, "distributed", None)
    path = _bundle(tmp_path, el, el.entries)
    with pytest.raises(UsageError, match=r"pip install 'electlog\[distributed\]'"):
        audit(path, el.trust, engine="dask", scheduler="tcp://127.0.0.1:1")


@pytest.mark.postgres
def test_local_tasks_postgresql_dsn(el: ElectionLog, postgres_dsn: str) -> None:
    # each task opens the DSN itself (without the full check, which this process runs)
    from electlog.store import open_store

    store = open_store(postgres_dsn, origin=el.origin)
    log = Log(store)
    log.append_many(el.entries)
    for note in el.notes:
        log.add_checkpoint(note)
    store.close()
    report = audit(postgres_dsn, el.trust, engine="tasks", jobs=2)
    assert report.source == "PostgreSQL log" and report.verdict == "clean"
    assert report.run["replay"].startswith(TASKS)
    assert _json(report) == _json(audit(postgres_dsn, el.trust, serial=True))


def test_local_tasks_generic_log(tmp_path: Path) -> None:
    # no election: the chunks are split evenly between the tasks, as between the processes
    gl = build_generic()
    entries = gl.entries
    entries[5] = entries[5][:-1] + bytes([entries[5][-1] ^ 1])  # one bad entry
    path = tmp_path / "generic.bundle"
    write_bundle(path, gl.origin, entries, gl.notes)
    serial = audit(path, gl.trust, serial=True, election=False)
    report = audit(path, gl.trust, engine="tasks", jobs=2, tasks=3, election=False)
    assert report.run["replay"].startswith("sharded by community: 3 community task(s)")
    assert _json(report) == _json(serial)
    assert report.verdict == "findings"


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 5).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.integers(0, n - 1) | st.just(_shards.ALL), min_size=1, max_size=40),
            st.randoms(use_true_random=False),
        )
    )
)
def test_a_chunks_whole_reply_is_the_tasks_replies_merged(case: tuple[Any, ...]) -> None:
    """The task results give the auditing process each chunk's statuses and leaf hashes at
    once: the same bytes as every task's reply spread over the chunk and merged (each entry's
    from its task, a district event's from task 0), and a part that does not match the
    routing is an AuditError."""
    n, routing, rnd = case
    ws = bytes(routing)
    datas = [rnd.randbytes(rnd.randrange(1, 9)) for _ in ws]
    parts = [
        [d for d, w in zip(datas, ws, strict=True) if w in (shard, _shards.ALL)]
        for shard in range(n)
    ]
    statuses = [bytes(rnd.randrange(1, 4) for _ in part) for part in parts]
    results = [TaskResult(w, statuses[w], 0, b"", frozenset(), None, None) for w in range(n)]
    pool = TaskResults(results, election=True)
    for w in range(n):
        pool.send(w, ("chunk", 0, 0, ws, parts[w]))
    replies = []
    for w in range(n):
        leaves = b"".join(entry_leaf_hash(d) for d in parts[w])
        replies.append(_shards._spread(w, ws, len(parts[w]), statuses[w], leaves))
    want = (_shards._merge([r[0] for r in replies]), _shards._merge([r[1] for r in replies]))
    assert pool.whole_reply(0) == want
    if n > 1 or len(parts[0]) > 1:  # a task that sent one entry too few
        cut = TaskResults(results, election=True)
        short = max(range(n), key=lambda w: len(parts[w]))
        for w in range(n):
            part = parts[w][:-1] if w == short else parts[w]
            cut._results[w] = results[w]._replace(statuses=statuses[w][: len(part)])
            cut.send(w, ("chunk", 0, 0, ws, part))
        with pytest.raises(AuditError, match="does not match its routing"):
            cut.whole_reply(0)


def test_the_final_pass_follows_a_running_task_through_its_shared_statuses() -> None:
    """A task still running when the final pass starts gives its statuses as it writes them
    to its stream: the pass waits for those not written yet (written here by a thread, two at
    a time), takes the task's result at its end message, and refuses a result whose statuses
    differ from those it shared, or hands on the task's fallback."""
    import hashlib
    import multiprocessing
    import threading
    import time

    from electlog.audit._tasks import Following, StatusStream

    ctx = multiprocessing.get_context("fork")
    statuses = bytes([4, 3, 4, 1, 4, 2])
    datas = [bytes([k]) * 3 for k in range(6)]
    digest = hashlib.sha256(b"".join(entry_leaf_hash(d) for d in datas)).digest()
    result = TaskResult(0, statuses, 6, digest, frozenset({"c1"}), {"end": 1}, None)
    ws = bytes(6)
    stream = StatusStream(6, ctx.Value("q", 0))
    done = threading.Event()

    def task() -> None:
        for k in range(0, 6, 2):
            time.sleep(0.02)
            stream.put(statuses[k : k + 2])
        done.set()

    writer = threading.Thread(target=task)
    pool = TaskResults([None], True, {0: Following(done.is_set, lambda: result, stream)})
    writer.start()
    pool.send(0, ("chunk", 0, 0, ws, datas))  # waits for the six
    writer.join()
    assert stream.written() == 6
    assert pool.whole_reply(0)[0] == statuses
    pool.send(0, ("end", frozenset({"c1"}), 6))
    assert pool.receive("end", 0, 0) == {"end": 1}

    def shared(r: TaskResult) -> TaskResults:
        full = StatusStream(6, ctx.Value("q", 0))
        full.put(statuses)
        full.put(b"\x04")  # beyond its size: not shared (the result shows what was read)
        assert full.written() == 6
        return TaskResults([None], True, {0: Following(lambda: True, lambda: r, full)})

    other = shared(result._replace(statuses=bytes([4]) * 6))
    other.send(0, ("chunk", 0, 0, ws, datas))
    with pytest.raises(AuditError, match="other statuses than it shared"):
        other.send(0, ("end", frozenset({"c1"}), 6))
    fell = shared(result._replace(statuses=b"", fallback="an id used in two communities"))
    fell.send(0, ("chunk", 0, 0, ws, datas))
    with pytest.raises(_shards.Fallback, match="an id used in two communities"):
        fell.send(0, ("end", frozenset({"c1"}), 6))
    # a task that ends before writing all it was to write: its result gives the rest
    early = StatusStream(6, ctx.Value("q", 0))
    early.put(statuses[:2])
    pool = TaskResults([None], True, {0: Following(lambda: True, lambda: result, early)})
    pool.send(0, ("chunk", 0, 0, ws, datas))
    assert pool.whole_reply(0)[0] == statuses


def test_a_followed_task_killed_fails_the_audit_at_once(
    el: ElectionLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last task, which the final pass follows, dies (SIGKILL: the out-of-memory killer)
    after sharing one status: the audit fails with an AuditError naming it, without waiting."""
    import signal
    import time

    path = write_sqlite_store(tmp_path / "copy.sqlite", el)
    real = _tasks.run_task

    def dying(task: CommunityTask) -> TaskResult:
        # shard 0 starts while the log is routed; of the others, the largest starts last
        if task.plan_stream is None and task.stream is not None and task.stream.size == max(SIZES):
            time.sleep(0.5)  # the other task is done: the final pass follows this one
            task.stream.put(b"\x04")
            os.kill(os.getpid(), signal.SIGKILL)
        return real(task)

    plan, _ = route_plan(str(path), 2)
    SIZES = [plan.count(shard) + plan.count(_shards.ALL) for shard in range(1, 2)]
    monkeypatch.setattr(_tasks, "run_task", dying)
    started = time.monotonic()
    with pytest.raises(AuditError, match=r"community task \d failed: .*exit code -9"):
        audit(path, el.trust, engine="tasks", jobs=2)
    assert time.monotonic() - started < 30


class _Bar:
    """Stands in for the rich progress bar: the rows added and each update, in order."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, int | None]] = []  # as shown, top to bottom
        self.ids: list[int] = []
        self.updates: list[tuple[str, int, int | None]] = []

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def add_task(self, description: str, total: int | None, **fields: Any) -> int:
        self.rows.append((description, total))
        self.ids.append(max(self.ids, default=-1) + 1)
        return self.ids[-1]

    def remove_task(self, row: int) -> None:
        del self.rows[self.ids.index(row)]
        self.ids.remove(row)

    def update(self, row: int, completed: int, total: int | None = None) -> None:
        self.updates.append((self.rows[self.ids.index(row)][0], completed, total))


def test_the_progress_bar_shows_the_tasks_as_they_finish(
    el: ElectionLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With community tasks the entries' count moves only in the final pass: the bar has a
    row of its own for the tasks, above the entries', moved as each task's result comes in,
    every task's but the last before any entry (the final pass follows the last task, whose
    result comes in during it); the processes engine's bar keeps its one row."""
    bar = _Bar()
    monkeypatch.setattr(progress_module, "_rich_bar", lambda: bar)
    path = _bundle(tmp_path, el, el.entries)
    report = audit(path, el.trust, jobs=2, engine="tasks", progress=True)
    assert report.verdict in ("clean", "incomplete")
    tasks = report.run["replay"].split(": ")[1].split(" community")[0]
    n = int(tasks)
    assert bar.rows == [("community tasks", n), ("verifying", len(el.entries))]
    staged = [(done, total) for row, done, total in bar.updates if row == "community tasks"]
    assert staged == [(k, n) for k in range(n + 1)]
    first_entries = next(i for i, u in enumerate(bar.updates) if u[0] == "verifying")
    last_task = bar.updates.index(("community tasks", n, n))
    assert ("community tasks", n - 1, n) in bar.updates[:first_entries]
    assert last_task < len(bar.updates) - 1  # before the entries' last count
    assert bar.updates[-1] == ("verifying", len(el.entries), None)
    bar = _Bar()
    audit(path, el.trust, jobs=2, progress=True)
    assert bar.rows == [("verifying", len(el.entries))]
