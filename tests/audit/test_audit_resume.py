"""The resumable audit (``audit(..., state=DIR)``, ``electlog verify --state``).

Auditing a copy up to checkpoint k with a state, then the whole log resuming from it, gives the
report (JSON, everything but ``run``) a full audit without state gives: for every checkpoint,
on the clean election and with a tampering before and after the resume point, from entries in
memory and from a bundle (a stream source, whose saved prefix is hashed, not verified). A state
for another trust file or log is refused, a flipped byte of it is detected, and a copy rolled
back below (or rewritten under) the saved checkpoint is rollback or fork evidence.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_audit_tamper import changed_mark

from audit_support import (
    ElectionLog,
    build_election,
    build_generic,
    rechain,
    resign,
    write_bundle,
)
from electlog.audit import BytesSource, Report, audit
from electlog.audit._replay import CompactMerkleTree
from electlog.audit._resume import STATE_FILE
from electlog.errors import AuditStateError, ElectlogError
from electlog.events import entry_leaf_hash


@pytest.fixture(scope="module")
def el() -> ElectionLog:
    return build_election(0)


def _json(report: Report) -> dict[str, Any]:
    out = json.loads(report.to_json())
    out.pop("run")
    return dict(out)


def _sizes(el: ElectionLog) -> list[int]:
    return [int(note.split("\n")[1]) for note in el.notes]


def _renote(el: ElectionLog, entries: list[bytes], sizes: list[int]) -> list[str]:
    """Checkpoints over ``entries`` (a tampered copy the log key signed as it is)."""
    tree = CompactMerkleTree()
    tree.extend([entry_leaf_hash(d) for d in entries])
    try:
        return [el.note(s, root=tree.root(s)) for s in sizes]
    finally:
        tree.close()


def _duplicate_registration(el: ElectionLog) -> list[bytes]:
    """A voter registered twice, early in the log (before the first checkpoint)."""
    entries = list(el.entries)
    i = el.index_of("voter.registered", 3)
    assert i + 1 < _sizes(el)[0]
    entries.insert(i + 1, resign(entries[i], el.keys.registrar))
    return rechain(entries, i + 1, el.key_map())


def _copy(el: ElectionLog, tamper: str) -> tuple[list[bytes], list[str], str | None]:
    """The copy, its checkpoints and the finding code the tampering must produce."""
    if tamper == "none":
        return list(el.entries), list(el.notes), None
    if tamper == "before":
        entries = _duplicate_registration(el)
        code = "rule.voter.duplicate"
    else:
        entries = changed_mark(el)[0]
        code = "rule.result.mismatch"
    return entries, _renote(el, entries, [*_sizes(el)[:-1], len(entries)]), code


def _source(kind: str, el: ElectionLog, entries: list[bytes], notes: list[str], where: Path) -> Any:
    if kind == "memory":
        return BytesSource(entries, notes, origin=el.origin)
    path = where / f"copy-{len(entries)}-{len(notes)}.bundle"
    write_bundle(path, el.origin, entries, notes)
    return path


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    k=st.integers(min_value=0, max_value=2),
    tamper=st.sampled_from(["none", "before", "after"]),
    kind=st.sampled_from(["memory", "bundle"]),
)
def test_resuming_at_any_checkpoint_gives_the_full_report(
    el: ElectionLog, k: int, tamper: str, kind: str
) -> None:
    entries, notes, code = _copy(el, tamper)
    sizes = [int(n.split("\n")[1]) for n in notes]
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        full = audit(_source(kind, el, entries, notes, where), el.trust)
        if code is not None:
            assert code in {f.code for f in full.findings}
        state = where / "state"
        cut = sizes[k]
        first = audit(
            _source(kind, el, entries[:cut], notes[: k + 1], where),
            el.trust,
            state=state,
            in_progress=True,
        )
        assert first.run["state"]["saved_at"]["size"] == cut
        resumed = audit(_source(kind, el, entries, notes, where), el.trust, state=state)
        assert resumed.run["state"]["resumed_from"]["size"] == cut
        assert resumed.run["state"]["entries_read"] == len(entries) - cut
        assert _json(resumed) == _json(full)
        # and once more: nothing new, the same report again
        again = audit(_source(kind, el, entries, notes, where), el.trust, state=state)
        assert again.run["state"]["entries_read"] == len(entries) - sizes[-1]
        assert _json(again) == _json(full)


def test_jobs_and_sqlite_source_resume_to_the_same_report(el: ElectionLog, tmp_path: Path) -> None:
    from electlog import Log
    from electlog.store import SQLiteStore

    path = tmp_path / "copy.sqlite"
    log = Log(SQLiteStore(path, origin=el.origin))
    size0 = _sizes(el)[1]
    log.append_many(el.entries[:size0])
    log.add_checkpoint(el.notes[0])
    log.add_checkpoint(el.notes[1])
    log.store.close()
    state = tmp_path / "state"
    first = audit(path, el.trust, state=state, jobs=2, in_progress=True)
    assert first.run["state"]["saved_at"]["size"] == size0
    log = Log(SQLiteStore(path, origin=el.origin))
    log.append_many(el.entries[size0:])
    log.add_checkpoint(el.notes[2])
    log.store.close()
    full = audit(path, el.trust, jobs=2)
    resumed = audit(path, el.trust, state=state, jobs=2)
    assert resumed.run["state"]["resumed_from"]["size"] == size0
    assert resumed.run["state"]["entries_read"] == len(el.entries) - size0
    assert _json(resumed) == _json(full) and full.verdict == "clean"


def _saved(el: ElectionLog, tmp_path: Path) -> Path:
    state = tmp_path / "state"
    audit(BytesSource(el.entries, el.notes, origin=el.origin), el.trust, state=state)
    assert (state / STATE_FILE).is_file()
    return state


def test_a_state_for_another_trust_file_or_log_is_refused(el: ElectionLog, tmp_path: Path) -> None:
    state = _saved(el, tmp_path)
    other = build_generic()
    with pytest.raises(AuditStateError, match="another trust file"):
        audit(other.source(), other.trust, state=state, election=False)
    with pytest.raises(AuditStateError, match="election=True"):
        audit(BytesSource(el.entries, el.notes), el.trust, state=state, election=False)
    with pytest.raises(AuditStateError, match=r"declares 'elsewhere\.example'"):
        audit(BytesSource(el.entries, el.notes, origin="elsewhere.example"), el.trust, state=state)


@pytest.mark.parametrize("position", [0, 30, 1000, -40, -1])
def test_a_flipped_byte_of_the_state_is_detected(
    el: ElectionLog, tmp_path: Path, position: int
) -> None:
    state = _saved(el, tmp_path)
    path = state / STATE_FILE
    data = bytearray(path.read_bytes())
    data[position] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(AuditStateError, match=r"damaged|not an electlog audit state"):
        audit(BytesSource(el.entries, el.notes, origin=el.origin), el.trust, state=state)
    path.write_bytes(bytes(data[:100]))  # truncated
    with pytest.raises(AuditStateError):
        audit(BytesSource(el.entries, el.notes, origin=el.origin), el.trust, state=state)


def test_a_snapshot_naming_a_foreign_class_is_refused() -> None:
    import msgpack

    from electlog.audit._snapshot import decode_graph, encode_graph

    bad = msgpack.packb([[["os", "system", [], False]], [5, 0]], use_bin_type=True)
    with pytest.raises(AuditStateError, match="outside electlog"):
        decode_graph(bad)
    forged = msgpack.packb(
        [[["electlog.audit._resume", "ResumePlan", ["x"], False]], [5, 0, 1]], use_bin_type=True
    )
    with pytest.raises(AuditStateError, match="other attributes"):
        decode_graph(forged)
    for junk in (b"", b"\xc1", msgpack.packb([[], [99]]), msgpack.packb([[], [7, 5]])):
        with pytest.raises(AuditStateError):
            decode_graph(junk)
    from collections import Counter

    graph = {"a": [1, {2, 3}], "b": (b"x", frozenset({"y"})), "n": Counter({"t": 2, ("k",): 1})}
    graph["c"] = graph["a"]  # shared: comes back shared
    back = decode_graph(encode_graph(graph))
    assert back == graph and back["c"] is back["a"]
    assert type(back["n"]) is Counter and back["n"]["t"] == 2


@pytest.mark.parametrize("kind", ["memory", "bundle"])
def test_a_rolled_back_copy_is_evidence_not_a_pass(
    el: ElectionLog, tmp_path: Path, kind: str
) -> None:
    state = _saved(el, tmp_path)
    before = (state / STATE_FILE).read_bytes()
    size = _sizes(el)[1]
    report = audit(
        _source(kind, el, el.entries[:size], el.notes[:2], tmp_path), el.trust, state=state
    )
    codes = {f.code for f in report.findings}
    assert "since.beyond_log" in codes and report.verdict != "clean"
    assert "fewer than" in report.run["state"]["full_audit"]
    assert (state / STATE_FILE).read_bytes() == before  # the evidence is kept


@pytest.mark.parametrize("kind", ["memory", "bundle"])
def test_a_rewritten_prefix_is_fork_evidence(el: ElectionLog, tmp_path: Path, kind: str) -> None:
    size = _sizes(el)[1]
    state = tmp_path / "state"
    audit(
        BytesSource(el.entries[:size], el.notes[:2], origin=el.origin),
        el.trust,
        state=state,
        in_progress=True,
    )
    entries = _duplicate_registration(el)  # the operator rewrote history and re-signed it
    notes = _renote(el, entries, [*_sizes(el)[:-1], len(entries)])
    report = audit(_source(kind, el, entries, notes, tmp_path), el.trust, state=state)
    assert "fork.inconsistent" in {f.code for f in report.findings}
    assert "differs" in report.run["state"]["full_audit"]


def test_cli_verify_state(el: ElectionLog, tmp_path: Path) -> None:
    bundle = tmp_path / "log.bundle"
    write_bundle(bundle, el.origin, el.entries, el.notes)
    trust = tmp_path / "trust.json"
    el.trust.save(trust)
    cmd = [sys.executable, "-m", "electlog", "verify", str(bundle), "--trust", str(trust)]
    cmd += ["--state", str(tmp_path / "state"), "--jobs", "1"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert first.returncode == 0, first.stderr
    assert "saved at size 318" in first.stdout
    second = subprocess.run(
        [*cmd, "--format", "json"], capture_output=True, text=True, timeout=120, check=False
    )
    assert second.returncode == 0, second.stderr
    run = json.loads(second.stdout)["run"]["state"]
    assert run["resumed_from"]["size"] == len(el.entries) and run["entries_read"] == 0
    (tmp_path / "state" / STATE_FILE).write_bytes(b"electlog audit state\n" + bytes(100))
    bad = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode != 0 and "damaged" in bad.stderr


def test_state_must_be_a_path(el: ElectionLog) -> None:
    with pytest.raises(ElectlogError, match="state must be"):
        audit(BytesSource(el.entries, el.notes), el.trust, state=3)  # type: ignore[arg-type]


def test_a_tiles_directory_resumes_and_the_report_validates(
    el: ElectionLog, tmp_path: Path
) -> None:
    from electlog.audit._report_json import validate_report_dict
    from electlog.log import Log
    from electlog.publish.tiles import export_tiles
    from electlog.store import MemoryStore

    log = Log(MemoryStore(el.origin))
    log.append_many(el.entries)
    for note in el.notes:
        log.add_checkpoint(note)
    export_tiles(log, tmp_path / "t1", checkpoint_note=el.notes[1])
    first = audit(tmp_path / "t1", el.trust, state=tmp_path / "state", in_progress=True)
    assert first.run["state"]["saved_at"]["size"] == _sizes(el)[1]
    export_tiles(log, tmp_path / "t2", checkpoint_note=el.notes[2])
    full = audit(tmp_path / "t2", el.trust)
    resumed = audit(tmp_path / "t2", el.trust, state=tmp_path / "state")
    assert resumed.run["state"]["entries_read"] == len(el.entries) - _sizes(el)[1]
    assert _json(resumed) == _json(full) and full.verdict == "clean"
    validate_report_dict(json.loads(resumed.to_json()))
    assert "state        " in resumed.to_text() and "resumed from size 140" in resumed.to_text()
