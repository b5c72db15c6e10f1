"""The final pass run by the routing process, beside the community tasks.

With forked local tasks on two processes or more, from a store read by index, the process that
routes the log runs the audit's final pass over the same read (:func:`presumed_plan`: author
chains, the tree, claimed times, claims across communities), presuming that every entry
verifies and applies. The auditing process adopts that pass when every task applied every entry
it replayed and read what the pass read; otherwise it reads the log and runs the pass itself, as
before. Either way the report is the serial replay's.
"""

from __future__ import annotations

import mmap
import os
import pickle
import shutil
import sqlite3
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_audit_tamper import changed_mark, flipped_byte
from test_audit_tasks import _json, _serial, _three_findings
from test_audit_tasks_runs import STORES, Make, _sqlite_maker, _tasks_of, store_maker

from audit_support import ElectionLog, build_election
from electlog.audit import _decoding, _presumed, _shards, _tasks, audit
from electlog.audit._pipeline import CHUNK_SIZE
from electlog.audit._presumed import Presumption, presumed_plan
from electlog.audit._replay import CompactMerkleTree, FindingSink
from electlog.audit._shards import APPLIED, ShardedReplay
from electlog.audit._sources import open_source
from electlog.audit._tasks import TaskResults, route_plan, run_task
from electlog.errors import AuditError, UsageError


@pytest.fixture(scope="module")
def el() -> ElectionLog:
    return build_election(0)


@pytest.fixture(params=STORES)
def copy(request: pytest.FixtureRequest, tmp_path: Path, el: ElectionLog) -> Iterator[Make]:
    """Makes copies of the log in a store read by index (as test_audit_tasks_runs' ``make``)."""
    yield from store_maker(request, tmp_path, el)


class _Passes:
    """How the audit's final pass ran in this (the auditing) process: the chunks it fed here,
    and the passes it adopted from the routing process (forked processes count apart)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fed = 0
        self.adopted = 0
        me = os.getpid()
        feed, adopt = ShardedReplay.feed_entries, ShardedReplay.adopt

        def fed(replay: ShardedReplay, chunk: list[bytes]) -> None:
            if os.getpid() == me:
                self.fed += 1
            feed(replay, chunk)

        def adopted(replay: ShardedReplay, *args: Any) -> None:
            self.adopted += 1
            adopt(replay, *args)

        monkeypatch.setattr(ShardedReplay, "feed_entries", fed)
        monkeypatch.setattr(ShardedReplay, "adopt", adopted)


def _serial_of(source: str, el: ElectionLog) -> dict[str, Any] | None:
    """The serial replay's report of a copy (None for PostgreSQL: the serial path there is the
    one test_audit_tasks_runs compares)."""
    return None if "://" in source else _serial(Path(source), el)


@pytest.mark.parametrize("verdict", ["clean", "findings"])
def test_a_log_whose_entries_all_apply_is_not_read_again_after_the_tasks(
    copy: Make, el: ElectionLog, monkeypatch: pytest.MonkeyPatch, verdict: str
) -> None:
    # with findings: a changed mark, an extra ballot, a revoked key used; each entry is applied
    # all the same, so the routing's pass stands
    source = copy(verdict, el.entries if verdict == "clean" else _three_findings(el))
    expected = _serial_of(source, el)
    passes = _Passes(monkeypatch)
    report = audit(source, el.trust, engine="tasks", jobs=2)
    assert report.verdict == verdict
    assert (passes.fed, passes.adopted) == (0, 1)
    if expected is not None:
        assert _json(report) == expected
    # one process: no routing beside the tasks, the pass runs here after them
    passes.fed = passes.adopted = 0
    alone = audit(source, el.trust, engine="tasks", jobs=1)
    assert passes.fed > 0 and passes.adopted == 0
    assert _json(alone) == _json(report)


def test_an_entry_a_task_rejects_gets_the_pass_here(
    el: ElectionLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a signature byte flipped in the file (a store refuses to append it): its task rejects
    # the entry, so the presumption does not stand and the pass runs here
    path = Path(_sqlite_maker(tmp_path, el)("flipped", el.entries))
    flipped = flipped_byte(el)[0][150]
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE entries SET data = ? WHERE idx = 150", (flipped,))
    conn.close()
    expected = _serial(path, el)
    passes = _Passes(monkeypatch)
    report = audit(path, el.trust, engine="tasks", jobs=2)
    assert "entry.signature_invalid" in {f["code"] for f in expected["findings"]}
    assert passes.fed > 0 and passes.adopted == 0
    assert _json(report) == expected


def _value(v: Any) -> Any:
    """A replay attribute as a comparable value."""
    if isinstance(v, mmap.mmap):
        return bytes(v)
    if isinstance(v, CompactMerkleTree):
        return v.handed()[:3]
    if hasattr(v, "__dict__") and not isinstance(v, type):
        return {k: _value(x) for k, x in vars(v).items()}
    return v


def _handed(presume: Presumption) -> dict[str, Any]:
    presume.state.seek(0)
    state: dict[str, Any] = pickle.load(presume.state)
    return state


def test_the_pass_handed_over_is_the_pass_run_here(el: ElectionLog, tmp_path: Path) -> None:
    path = _sqlite_maker(tmp_path, el)("clean", el.entries)
    presume = Presumption(el.trust.to_json())
    try:
        plan, owned, why_not = presumed_plan(path, 2, None, presume)
        assert why_not is None
        assert (plan, owned) == route_plan(path, 2)
        state = _handed(presume)
        # the auditing process's own pass, given the tasks' results
        tasks = [t._replace(plan=plan, owned=owned[t.shard]) for t in _tasks_of(path, el, 2)]
        results = [run_task(t) for t in tasks]
        assert all(r.statuses.count(APPLIED) == len(r.statuses) for r in results)
        pool = TaskResults(results, True)
        here = ShardedReplay(el.trust, FindingSink(), pool)
        fresh = ShardedReplay(el.trust, FindingSink(), pool)
        src = open_source(path)
        try:
            for chunk in src.chunks(CHUNK_SIZE):
                here.feed_entries(chunk)
        finally:
            src.close()
        fed = here.handed()
        for name, value in fed.items():
            got = state[name][:3] if name == "tree" else state[name]
            assert _value(got) == _value(value[:3] if name == "tree" else value), name
        assert state["counts"] == [len(r.statuses) for r in results]
        assert state["digests"] == [r.digest for r in results]
        # nothing that feeding changes is left out of what is handed over
        changed = {
            name for name, value in vars(here).items() if _value(value) != _value(vars(fresh)[name])
        }
        assert changed and changed <= {*ShardedReplay._FED, "tree", "_person", "_tags"}
        # adopted, a replay holds what the fed one holds, its tree with the digests handed over
        adopted = ShardedReplay(el.trust, FindingSink(), pool)
        adopted.adopt(state, presume.take_leaves(), state["stored_leaves"])
        for name in changed:
            assert _value(getattr(adopted, name)) == _value(getattr(here, name)), name
        size = len(el.entries)
        assert all(adopted.tree.root(n) == here.tree.root(n) for n in (1, 17, size // 2, size))
        assert adopted.tree.level_digests() == state["tree"][3]
        assert adopted.adopted and adopted.stored_leaves == state["stored_leaves"] is not None
        with pytest.raises(AuditError, match="not been fed"):
            adopted.adopt(state, presume.state, None)
        adopted.close()
        here.close()
        fresh.close()
    finally:
        presume.close()
    with pytest.raises(AuditError, match="handed over already"):
        presume.take_leaves()
    with pytest.raises(UsageError, match="1 to 254 shards"):
        presumed_plan(path, 255, None, Presumption(el.trust.to_json()))


def test_an_adopted_tree_keeps_its_digests_until_it_grows() -> None:
    leaves = [bytes([i]) * 32 for i in range(37)]
    built = CompactMerkleTree()
    built.keep_digests()
    built.extend(leaves)
    handed = built.handed()
    assert handed[3] == built.level_digests()
    shared = built._file
    other = CompactMerkleTree()
    other.adopt(shared, handed)
    assert other.root(37) == built.root(37) and other.root(5) == built.root(5)
    assert other.level_digests() == built.level_digests()
    other.extend([b"\x01" * 32])
    with pytest.raises(UsageError, match="keeps no level digests"):
        other.level_digests()
    with pytest.raises(AuditError, match="does not hold 40 leaves"):
        CompactMerkleTree().adopt(shared, (40, handed[1], handed[2], None))
    other.close()


def test_a_pass_the_presumption_cannot_run_is_run_here(
    el: ElectionLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an entry the routing cannot decode: its task rejects it, so the pass runs here
    path = Path(_sqlite_maker(tmp_path, el)("text", el.entries))
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE entries SET data = 'not an entry' WHERE idx = 40")
    conn.close()
    presume = Presumption(el.trust.to_json())
    try:
        plan, _, why_not = presumed_plan(str(path), 2, None, presume)
        assert why_not is not None and "entry 40" in why_not
        assert len(plan) == len(el.entries)
        assert presume.state.seek(0, os.SEEK_END) == 0  # nothing handed over
    finally:
        presume.close()
    passes = _Passes(monkeypatch)
    assert _json(audit(path, el.trust, engine="tasks", jobs=2)) == _serial(path, el)
    assert passes.fed > 0 and passes.adopted == 0


def test_tasks_that_read_other_bytes_than_the_pass(
    el: ElectionLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the routing's pass read a copy with other bytes (a changed mark, routed alike), the tasks
    # the clean copy and applied every entry: the pass here reads the copy again and compares
    # the tasks with that read
    make = _sqlite_maker(tmp_path, el)
    clean = make("clean", el.entries)
    other = make("other", list(changed_mark(el)[0]))
    assert route_plan(other, 2) == route_plan(clean, 2)
    real = _tasks.presumed_plan

    def elsewhere(
        source: str, shards: int, stream: Any, presume: Presumption
    ) -> tuple[bytes, list[frozenset[str]], str | None]:
        return real(other, shards, stream, presume)

    monkeypatch.setattr(_tasks, "presumed_plan", elsewhere)
    passes = _Passes(monkeypatch)
    report = audit(clean, el.trust, engine="tasks", jobs=2)
    assert report.verdict == "clean"
    assert passes.fed > 0 and passes.adopted == 0
    assert _json(report) == _serial(Path(clean), el)


def test_a_state_that_cannot_be_written_or_read_gets_the_pass_here(
    el: ElectionLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = Path(_sqlite_maker(tmp_path, el)("clean", el.entries))
    expected = _serial(path, el)
    real_dump, real_load = pickle.dump, pickle.load

    def full_disk(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_presumed.pickle, "dump", full_disk)
    passes = _Passes(monkeypatch)
    assert _json(audit(path, el.trust, engine="tasks", jobs=2)) == expected
    assert passes.fed > 0 and passes.adopted == 0
    monkeypatch.setattr(_presumed.pickle, "dump", real_dump)

    def cut_short(file: Any) -> Any:
        raise EOFError("Ran out of input")

    def damaged(file: Any) -> Any:
        return [b"not", b"a state"]  # what a damaged file could unpickle to

    for load in (cut_short, damaged):
        monkeypatch.setattr(_tasks.pickle, "load", load)
        passes.fed = passes.adopted = 0
        assert _json(audit(path, el.trust, engine="tasks", jobs=2)) == expected
        assert passes.fed > 0 and passes.adopted == 0
    monkeypatch.setattr(_tasks.pickle, "load", real_load)
    passes.fed = 0
    assert _json(audit(path, el.trust, engine="tasks", jobs=2)) == expected
    assert (passes.fed, passes.adopted) == (0, 1)


def test_the_pass_takes_the_stored_leaf_hashes_only_when_the_tasks_agree(
    el: ElectionLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the routing's pass takes the leaf hashes a SQLite file stores instead of hashing every
    # entry; a stored one that is not its entry's (the bytes intact) cannot be adopted: the
    # task that verifies the entry digests the hash of its bytes
    path = Path(_sqlite_maker(tmp_path, el)("leaf", el.entries))
    src = open_source(str(path))
    try:
        for chunk in src.chunks(CHUNK_SIZE):
            assert src.chunk_leaves() == _presumed._leaf_hashes(chunk)
    finally:
        src.close()
    hashed = 0
    real_hashes = _presumed._leaf_hashes

    def counted(datas: list[bytes]) -> list[bytes]:
        nonlocal hashed
        hashed += len(datas)
        return real_hashes(datas)

    monkeypatch.setattr(_presumed, "_leaf_hashes", counted)
    presume = Presumption(el.trust.to_json())
    try:
        assert presumed_plan(str(path), 2, None, presume)[2] is None
    finally:
        presume.close()
    assert hashed == 0  # every chunk's hashes came from the file
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE entries SET leaf = ? WHERE idx = 77", (b"\x07" * 32,))
    conn.close()
    expected = _serial(path, el)
    assert "source.damaged" in {f["code"] for f in expected["findings"]}
    passes = _Passes(monkeypatch)
    assert _json(audit(path, el.trust, engine="tasks", jobs=2)) == expected
    assert passes.fed > 0 and passes.adopted == 0
    # a stored hash that is not a 32-byte blob: the chunk is hashed from its bytes
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE entries SET leaf = x'07' WHERE idx = 77")
    conn.close()
    src = open_source(str(path), quick_check=False)
    try:
        first = next(src.chunks(CHUNK_SIZE))
        assert src.chunk_leaves() is None and len(first) > 77
    finally:
        src.close()
    passes.fed = 0
    assert _json(audit(path, el.trust, engine="tasks", jobs=2)) == _serial(path, el)


def _restated(data: bytes, **fields: Any) -> bytes:
    """``data`` with statement fields replaced (any type; the signature then fails), the
    envelope's layout kept (format.md: the statement is the last field, a bin 8 or 16)."""
    head = 114  # the envelope up to the statement's bin header
    size = data[115] if data[head] == 0xC4 else int.from_bytes(data[115:117], "big")
    statement = msgpack.unpackb(data[len(data) - size :], raw=False)
    statement.update(fields)
    packed = msgpack.packb(statement, use_bin_type=True)
    if len(packed) < 256:
        return data[:head] + bytes([0xC4, len(packed)]) + packed
    return data[:head] + b"\xc5" + len(packed).to_bytes(2, "big") + packed


@pytest.mark.parametrize(
    "fields",
    [
        {"time": "noon"},
        {"time": 1.5},
        {"seq": "2"},
        {"author": [1]},
        {"prev": [1]},
        {"body": [1]},
        {"body": {"community": "c1", "voter": ["c1-v1"], "dedup": b"\x01" * 32}},
        {"body": {"community": "c1"}},
    ],
    ids=[
        "time-str",
        "time-float",
        "seq-str",
        "author-list",
        "prev-list",
        "body-list",
        "voter-list",
        "voter-missing",
    ],
)
def test_a_crafted_statement_gets_the_pass_here(
    el: ElectionLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fields: dict[str, Any]
) -> None:
    # the routing's pass presumes every entry verified, so it reads fields no task has checked
    # yet: a crafted statement's may be of any type. Its task rejects the entry, so the pass
    # does not stand (it does not fail the audit) and runs here.
    path = Path(_sqlite_maker(tmp_path, el)("crafted", el.entries))
    i = el.index_of("voter.registered", 5)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "UPDATE entries SET data = ? WHERE idx = ?", (_restated(el.entries[i], **fields), i)
        )
    conn.close()
    expected = _serial(path, el)
    assert expected["verdict"] == "findings"
    passes = _Passes(monkeypatch)
    assert _json(audit(path, el.trust, engine="tasks", jobs=2)) == expected
    assert passes.fed > 0 and passes.adopted == 0


_ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=3),
    st.binary(max_size=33),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(0, 3), max_size=2),
)
_STATEMENT_FIELDS = ("author", "body", "log", "prev", "schema", "seq", "time", "type", "v")
_BODY_FIELDS = ("community", "unit", "box", "voter", "dedup", "rep", "objection", "nomination")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    at=st.integers(1, 10**6),
    field=st.sampled_from(_STATEMENT_FIELDS + tuple(f"body.{f}" for f in _BODY_FIELDS)),
    value=_ANY_VALUE,
)
def test_a_field_of_any_type_gives_the_serial_report(
    el: ElectionLog,
    clean_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
    at: int,
    field: str,
    value: Any,
) -> None:
    # one field of one entry's statement, top level or the body's, made any value: the task
    # engine's report is the serial replay's, whatever the routing's pass makes of it
    i = 1 + at % (len(el.entries) - 1)
    data = el.entries[i]
    if field.startswith("body."):
        head = data[115] if data[114] == 0xC4 else int.from_bytes(data[115:117], "big")
        body = dict(msgpack.unpackb(data[len(data) - head :], raw=False)["body"])
        body[field[5:]] = value
        changed = _restated(data, body=body)
    else:
        changed = _restated(data, **{field: value})
    path = tmp_path_factory.mktemp("any") / "copy.sqlite"
    shutil.copyfile(clean_file, path)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE entries SET data = ? WHERE idx = ?", (changed, i))
    conn.close()
    assert _json(audit(path, el.trust, engine="tasks", jobs=2)) == _serial(path, el)


@pytest.fixture(scope="module")
def clean_file(el: ElectionLog, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite copy of the clean log, copied by each example that changes it."""
    return Path(_sqlite_maker(tmp_path_factory.mktemp("clean"), el)("clean", el.entries))


def test_the_routing_without_msgspec_reports_alike(
    el: ElectionLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # without electlog[fast] the routing decodes every statement whole (no route_statement)
    # and its claims are where_of a dict: the reports are the serial replay's still
    path = Path(_sqlite_maker(tmp_path, el)("findings", _three_findings(el)))
    expected = _serial(path, el)
    monkeypatch.setattr(_shards, "route_statement", None)
    monkeypatch.setattr(_decoding, "_Where", types.SimpleNamespace)
    assert isinstance(_decoding.where_of({"voter": "c1-v1"}), types.SimpleNamespace)
    for engine in ("tasks", "processes"):
        assert _json(audit(path, el.trust, engine=engine, jobs=2)) == expected
