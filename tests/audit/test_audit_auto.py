"""The default engine, ``engine="auto"``: the community tasks for a local log read by entry index
(a SQLite file here), else the processes engine while its projected memory is at most half of
what the machine has available and the community tasks beyond (with the same report), and the
processes engine wherever the tasks cannot run or the memory cannot be read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from audit_support import ElectionLog, build_election, write_bundle, write_sqlite_store
from electlog.audit import Report, _auto, audit
from electlog.audit._sources import Source
from electlog.errors import AuditError, UsageError

SHARDED = "sharded by community"
TASKS = "sharded by community: 2 community task(s) in 2 local process(es) (engine 'auto': "


@pytest.fixture(scope="module")
def el() -> ElectionLog:
    return build_election(0)


@pytest.fixture
def store_path(el: ElectionLog, tmp_path: Path) -> Path:
    return write_sqlite_store(tmp_path / "copy.sqlite", el)


@pytest.fixture
def bundle_path(el: ElectionLog, tmp_path: Path) -> Path:
    path = tmp_path / "copy.bundle"
    write_bundle(path, el.origin, el.entries, el.notes)
    return path


def _json(report: Report) -> dict[str, Any]:
    got = json.loads(report.to_json())
    got.pop("run")
    return got


def _free(monkeypatch: pytest.MonkeyPatch, free: int | None) -> None:
    monkeypatch.setattr(_auto, "available_memory", lambda: free)


def test_a_local_store_gets_the_tasks(
    el: ElectionLog, store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _json(audit(store_path, el.trust, serial=True))
    # a small store keeps the processes engine, which starts faster
    assert len(el.entries) < _auto.TASKS_FROM
    assert audit(store_path, el.trust, jobs=2).run["replay"] == SHARDED
    monkeypatch.setattr(_auto, "TASKS_FROM", len(el.entries))
    report = audit(store_path, el.trust, jobs=2)  # whatever the memory
    assert report.run["replay"] == TASKS + _auto.BY_INDEX.removeprefix("engine 'auto': ") + ")"
    assert _json(report) == expected
    assert f"\nreplay       {report.run['replay']}\n" in report.to_text()
    assert "<th>replay</th><td>sharded by community: 2 community task(s)" in report.to_html()
    # named, the processes engine runs
    processes = audit(store_path, el.trust, jobs=2, engine="processes")
    assert processes.run["replay"] == SHARDED
    assert _json(processes) == expected


def test_a_bundle_gets_the_processes_engine_while_it_fits(
    el: ElectionLog, bundle_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _json(audit(bundle_path, el.trust, serial=True))
    report = audit(bundle_path, el.trust, jobs=2)  # this machine's memory, a small log
    assert report.run["replay"] == SHARDED
    assert _json(report) == expected
    need = _auto.projected_mb(len(el.entries), 2)
    _free(monkeypatch, int(need * 2e6) - 1)
    report = audit(bundle_path, el.trust, jobs=2)
    assert report.run["replay"].startswith(TASKS), report.run
    assert f"{len(el.entries):,} entries" in report.run["replay"]
    assert _json(report) == expected
    assert "the processes engine would need about" in report.to_html()
    # exactly half of the memory available still fits
    _free(monkeypatch, int(need * 2e6) + 1)
    assert audit(bundle_path, el.trust, jobs=2).run["replay"] == SHARDED


class _Probe(Source):
    """A source as ``open_entries`` gives it, of ``entries`` entries read by index or not."""

    def __init__(self, entries: int | None, indexed: bool) -> None:
        self.entries, self.by_index, self.closed = entries, indexed, False

    def extent(self) -> int | None:
        return self.entries

    def indexed(self, count: int) -> bool:
        return self.by_index and count == self.entries

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    ("source", "indexed", "free", "engine"),
    [
        ("postgresql://auditor@db/log", True, None, "tasks"),  # local, by index
        ("/data/tiles", True, None, "tasks"),
        ("https://log.example/", True, 10**12, "processes"),  # three reads over the network
        ("https://log.example/", True, 1, "tasks"),  # unless it would not fit
        ("/data/copy.bundle", False, 10**12, "processes"),
        ("/data/copy.bundle", False, None, "processes"),  # memory unknown: no switch
        ("/data/copy.bundle", False, 1, "tasks"),
    ],
)
def test_what_auto_chooses_for_each_kind_of_source(
    source: str, indexed: bool, free: int | None, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = _Probe(1_000_000, indexed)
    monkeypatch.setattr(_auto, "open_entries", lambda where: probe)
    _free(monkeypatch, free)
    assert _auto.choose(source, True, 2).engine == engine
    assert probe.closed
    probe = _Probe(_auto.TASKS_FROM - 1, indexed)  # small: only memory decides
    assert _auto.choose(source, True, 2).engine == ("processes" if free != 1 else "tasks")
    probe = _Probe(None, indexed)  # no size: the processes engine
    assert _auto.choose(source, True, 2) == _auto.Choice("processes")
    probe = _Probe(1_000_000, indexed)  # tasks not forked here: only memory decides
    monkeypatch.setattr(_auto, "FOLLOWS", False)
    assert _auto.choose(source, True, 2).engine == ("processes" if free != 1 else "tasks")


def test_the_projection_grows_with_the_entries_and_the_jobs() -> None:
    base = _auto.projected_mb(0, 2)
    assert base == _auto.BASE_MB + 2 * _auto.PROCESS_MB
    assert _auto.projected_mb(1_000_000, 2) == pytest.approx(base + 420)
    assert _auto.projected_mb(0, 4) == base + 2 * _auto.PROCESS_MB
    # every measurement of the processes engine (its docstring) is within the projection
    for entries, jobs, measured in ((76_945, 2, 178), (447_641, 2, 324), (1_781_696, 2, 882)):
        assert measured <= _auto.projected_mb(entries, jobs) <= measured * 1.25


def test_the_processes_engine_wherever_the_tasks_cannot_run_or_memory_is_unknown(
    el: ElectionLog,
    store_path: Path,
    bundle_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _free(monkeypatch, 0)  # nothing available: the tasks wherever they can run
    assert audit(el.log, el.trust, jobs=2).run["replay"] == SHARDED  # held in this process
    assert audit(store_path, el.trust, jobs=1).run["replay"] == "serial"
    assert audit(store_path, el.trust, jobs=2, serial=True).run["replay"] == "serial"
    state = audit(store_path, el.trust, jobs=2, state=tmp_path / "state")  # no usage error
    assert state.run["replay"] == "serial" and state.verdict == "clean"
    assert audit(bundle_path, el.trust, jobs=2).run["replay"].startswith(TASKS)
    _free(monkeypatch, None)  # not readable: no switch for a bundle
    assert audit(bundle_path, el.trust, jobs=2).run["replay"] == SHARDED
    assert _auto.choose(store_path, False, 2) == _auto.Choice("processes")  # a generic log
    assert _auto.choose(tmp_path / "missing", True, 2) == _auto.Choice("processes")


def test_a_network_source_that_cannot_be_opened_fails_once(
    el: ElectionLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []

    def refuse(source: str) -> None:
        opened.append(source)
        raise AuditError(f"cannot read {source}: refused")

    monkeypatch.setattr(_auto, "open_entries", refuse)
    for source in ("http://127.0.0.1:1/log", "postgresql://nobody@127.0.0.1:1/none"):
        with pytest.raises(AuditError, match="refused"):  # the probe's error, not a second try
            audit(source, el.trust, jobs=2)
    assert opened == ["http://127.0.0.1:1/log", "postgresql://nobody@127.0.0.1:1/none"]
    # a file that cannot be probed: the audit's own open names what is wrong
    with pytest.raises(AuditError, match="cannot read"):
        audit("missing.sqlite", el.trust, jobs=2)


def test_a_task_count_or_a_scheduler_still_names_its_engine(
    el: ElectionLog, bundle_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _free(monkeypatch, 0)  # auto would take the tasks: it does not guess the cluster or count
    with pytest.raises(UsageError, match="needs engine='tasks' or 'dask'"):
        audit(bundle_path, el.trust, jobs=2, tasks=1)
    with pytest.raises(UsageError, match="needs engine='dask'"):
        audit(bundle_path, el.trust, jobs=2, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(UsageError, match="engine must be one of auto, processes, tasks, dask"):
        audit(bundle_path, el.trust, engine="threads")
    report = audit(bundle_path, el.trust, engine="tasks", jobs=2, tasks=1)
    assert report.run["replay"] == (
        "sharded by community: 1 community task(s) in 1 local process(es)"
    )  # named, so no reason given


def _fake_linux(root: Path, meminfo_kb: int, cgroup: str, files: dict[str, str]) -> None:
    (root / "proc" / "self").mkdir(parents=True)
    (root / "proc" / "meminfo").write_text(
        f"MemTotal:       99999999 kB\nMemAvailable:   {meminfo_kb} kB\n", encoding="ascii"
    )
    (root / "proc" / "self" / "cgroup").write_text(cgroup, encoding="ascii")
    for name, text in files.items():
        path = root / "cg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="ascii")


@pytest.mark.parametrize(
    ("cgroup", "files", "expected"),
    [
        # no memory cgroup: the machine's available memory
        ("0::/\n", {}, 4_000_000 * 1024),
        # v2 with a nearer limit: limit - current
        ("0::/a/b\n", {"a/b/memory.max": "3000\n", "a/b/memory.current": "1000\n"}, 2000),
        # v2 without a limit
        ("0::/a\n", {"a/memory.max": "max\n", "a/memory.current": "5\n"}, 4_000_000 * 1024),
        # v1, the group's own directory
        (
            "4:memory:/g\n1:cpu:/\n",
            {"memory/g/memory.limit_in_bytes": "700\n", "memory/g/memory.usage_in_bytes": "100"},
            600,
        ),
        # v1 in a container that shows its group as the root; LONG_MAX rounded: no limit
        (
            "4:memory:/elsewhere\n",
            {
                "memory/memory.limit_in_bytes": "9223372036854771712",
                "memory/memory.usage_in_bytes": "1",
            },
            4_000_000 * 1024,
        ),
        # used beyond the limit: nothing available
        ("0::/\n", {"memory.max": "10", "memory.current": "20"}, 0),
    ],
)
def test_available_memory_reads_meminfo_and_the_nearer_cgroup_limit(
    tmp_path: Path, cgroup: str, files: dict[str, str], expected: int
) -> None:
    _fake_linux(tmp_path, 4_000_000, cgroup, files)
    got = _auto.available_memory(str(tmp_path / "proc"), str(tmp_path / "cg"))
    assert got == expected


def test_available_memory_is_none_where_nothing_can_be_read(tmp_path: Path) -> None:
    assert _auto.available_memory(str(tmp_path / "none"), str(tmp_path / "none")) is None
    real = _auto.available_memory()
    assert real is None or real > 0
