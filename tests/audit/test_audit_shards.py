"""The replay sharded by community gives the serial reference replay's report.

The JSON report (everything but ``run``, which says how long it took and which replay ran) is
identical for ``jobs`` = 1, 2 and 4 and for ``audit(..., serial=True)``, on the clean election and
on every tampering of the tamper corpus, alone and together (findings in both communities and a
district event at once), and on the cases the partition hands to the serial replay (an id used
in two communities). The sharded replay must actually run where it can: a test fails if the
corpus's tamperings fall back to the serial path.
"""

from __future__ import annotations

import json
import signal
import time
from itertools import compress
from pathlib import Path
from typing import Any

import attrs
import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_audit_tamper import (
    TAMPERINGS,
    changed_mark,
    more_recorded_than_issued,
    revoked_key_used,
)

from audit_support import (
    ElectionLog,
    body_of,
    build_election,
    build_generic,
    rechain,
    resign,
    write_bundle,
)
from electlog import _workers as workers_module
from electlog.audit import Report, audit
from electlog.audit._decoding import parse_entry, where_of
from electlog.audit._replay import FindingSink
from electlog.audit._shards import _ID_TYPES, ALL, Fallback, Router, ShardedReplay, Shards, peek
from electlog.errors import ElectlogError

SHARDED = "sharded by community"

# The scenario's role keys sign in both communities; these tamperings make one of them claim an
# earlier time than its previous event, which only the whole log's order can judge: the sharded
# replay hands them to the serial one (docs/benchmarks.md, "When the serial replay runs").
TIME_GOES_BACK = {
    "two entries swapped",
    "registration after the roll without objection",
    "unit opened after counting began, backdated",
}


@pytest.fixture(scope="module")
def el() -> ElectionLog:
    return build_election(0)


def _reports(
    el: ElectionLog, tmp_path: Path, entries: list[bytes], notes: list[str], jobs: tuple[int, ...]
) -> tuple[dict[str, Any], dict[int, Report]]:
    path = tmp_path / "copy.bundle"
    write_bundle(path, el.origin, entries, notes)
    reference = audit(path, el.trust, serial=True, jobs=2)
    assert reference.run["replay"] == "serial"
    expected = json.loads(reference.to_json())
    expected.pop("run")
    out = {}
    for j in jobs:
        report = audit(path, el.trust, jobs=j)
        got = json.loads(report.to_json())
        got.pop("run")
        assert got == expected, (j, report.run["replay"])
        out[j] = report
    return expected, out


def test_clean_election_same_report_for_every_job_count(el: ElectionLog, tmp_path: Path) -> None:
    expected, reports = _reports(el, tmp_path, el.entries, el.notes, (1, 2, 4))
    assert expected["verdict"] == "clean"
    # one job is the serial replay (the same work without the routing); more are sharded
    assert reports[1].run["replay"] == "serial"
    assert {reports[2].run["replay"], reports[4].run["replay"]} == {SHARDED}


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_every_tampering_same_report_sharded_and_serial(
    name: str, el: ElectionLog, tmp_path: Path
) -> None:
    tamper, code = TAMPERINGS[name]
    entries, notes = tamper(el)
    expected, reports = _reports(el, tmp_path, entries, notes, (1, 2))
    del reports[1]  # the serial replay
    assert code in {f["code"] for f in expected["findings"]}
    replays = {r.run["replay"] for r in reports.values()}
    if name in TIME_GOES_BACK:
        assert all(
            r.startswith("serial: signer ") and r.endswith("its claimed time goes back")
            for r in replays
        ), replays
    else:
        assert replays == {SHARDED}, name


_WITHOUT_MSGSPEC = """
import json, sys
sys.modules["msgspec"] = None  # as if electlog[fast] were not installed: msgpack decodes
from electlog.audit import audit
from electlog.audit._decoding import STATEMENT_CODEC
assert STATEMENT_CODEC == "msgpack", STATEMENT_CODEC
out = []
for path in sys.argv[2:]:
    report = json.loads(audit(path, sys.argv[1], jobs=2).to_json())
    report.pop("run")
    out.append(report)
print(json.dumps(out))
"""


def test_without_msgspec_every_report_is_the_same(el: ElectionLog, tmp_path: Path) -> None:
    """The parent's routing decode and the workers' strict decode use msgspec with
    ``electlog[fast]`` and msgpack without it: the clean election and every tampering of the
    corpus, audited with 2 jobs in a process where msgspec cannot be imported, give the reports
    this process gives."""
    import subprocess
    import sys

    from electlog.audit._decoding import STATEMENT_CODEC

    if STATEMENT_CODEC != "msgspec":
        pytest.skip("msgspec is not installed: every audit here already decodes with msgpack")
    cases = [(el.entries, el.notes)] + [TAMPERINGS[name][0](el) for name in TAMPERINGS]
    paths = []
    expected = []
    for k, (entries, notes) in enumerate(cases):
        path = tmp_path / f"case{k}.bundle"
        write_bundle(path, el.origin, entries, notes)
        paths.append(str(path))
        report = json.loads(audit(path, el.trust, jobs=2).to_json())
        report.pop("run")
        expected.append(report)
    trust = tmp_path / "trust.json"
    el.trust.save(trust)
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_MSGSPEC, str(trust), *paths],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout)
    assert len(got) == len(expected) >= 20
    for k, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert g == e, k


def test_findings_in_both_communities_and_a_district_event(el: ElectionLog, tmp_path: Path) -> None:
    # a changed mark in c1, an extra ballot recorded in c2 and a key.revoked (a district event,
    # which every shard applies and shard 0 reports) in one copy
    entries = changed_mark(el)[0]
    entries = more_recorded_than_issued(attrs.evolve(el, entries=entries))[0]
    entries = revoked_key_used(attrs.evolve(el, entries=entries))[0]
    expected, reports = _reports(el, tmp_path, entries, el.notes, (1, 2, 4))
    codes = [f["code"] for f in expected["findings"]]
    assert {
        "rule.result.mismatch",
        "rule.unit.returned_exceeds_issued",
        "rule.signer.revoked",
    } <= set(codes)
    communities = {f["evidence"].get("community") for f in expected["findings"]}
    assert {"c1", "c2"} <= communities
    assert {reports[2].run["replay"], reports[4].run["replay"]} == {SHARDED}


def _register_again(el: ElectionLog, community: str) -> list[bytes]:
    """A voter of c1 registered a second time, in ``community``, while still on c1's roll."""
    entries = list(el.entries)
    first = el.index_of("voter.registered")
    body = body_of(entries[first])
    assert body["community"] == "c1"
    other = body_of(entries[el.index_of("voter.registered", community=community)])
    body.update(community=community, group=other["group"], household=other["household"])
    i = first + 1
    entries.insert(i, resign(entries[first], el.keys.registrar, body=body))
    return rechain(entries, i, el.key_map())


@pytest.mark.parametrize("community", ["c1", "c2"])
def test_an_id_in_two_communities_goes_to_the_serial_replay(
    community: str, el: ElectionLog, tmp_path: Path
) -> None:
    # registered again in its own community: the shard sees it (sharded); in another community:
    # only the merge sees it, and hands the log to the serial replay, with the same report
    entries = _register_again(el, community)
    expected, reports = _reports(el, tmp_path, entries, el.notes, (1, 2, 4))
    assert "rule.voter.duplicate" in {f["code"] for f in expected["findings"]}
    replays = {reports[2].run["replay"], reports[4].run["replay"]}
    if community == "c1":
        assert replays == {SHARDED}
    else:
        assert all(r.startswith("serial: ") for r in replays), replays


def test_the_sharded_replay_is_a_replay() -> None:
    # core.audit drives it like the serial replay (feed, finish, results, communities)
    from electlog.audit._replay import Replay

    assert issubclass(ShardedReplay, Replay)


def test_a_bundle_cut_mid_entry_same_report(el: ElectionLog, tmp_path: Path) -> None:
    # the source becomes unreadable part way: the entries before are checked alike
    path = tmp_path / "cut.bundle"
    data = write_bundle(path, el.origin, el.entries, el.notes)
    path.write_bytes(data[: len(data) // 2])
    reports = {}
    for kind, kwargs in (("serial", {"serial": True}), ("sharded", {"jobs": 2})):
        report = audit(path, el.trust, **kwargs)  # type: ignore[arg-type]
        got = json.loads(report.to_json())
        got.pop("run")
        reports[kind] = got
    assert reports["serial"] == reports["sharded"]
    assert "source.unreadable" in {f["code"] for f in reports["serial"]["findings"]}


def test_a_generic_log_is_split_evenly_with_the_same_report(tmp_path: Path) -> None:
    gl = build_generic()
    entries = gl.entries
    entries[5] = entries[5][:-1] + bytes([entries[5][-1] ^ 1])  # one bad entry
    source = gl.source(entries)
    serial = audit(source, gl.trust, serial=True, election=False)
    sharded = audit(gl.source(entries), gl.trust, jobs=2, election=False)
    assert sharded.run["replay"] == SHARDED
    a, b = json.loads(serial.to_json()), json.loads(sharded.to_json())
    a.pop("run")
    b.pop("run")
    assert a == b
    assert a["verdict"] == "findings"


def test_workers_whose_replies_are_not_read_stop_at_once_when_the_audit_is_abandoned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An audit that fails, is interrupted or goes to the serial replay leaves chunks in
    flight whose replies nobody reads: a worker then cannot exit by itself (its queue's thread
    waits on a full pipe), so leaving the workers' context with an exception terminates them
    instead of waiting for each to stop (which made every fallback to the serial replay and
    every Ctrl-C of a sharded audit wait out the join timeout of each worker)."""
    monkeypatch.setattr(workers_module, "_JOIN_TIMEOUT", 60.0)
    gl = build_generic(rounds=40)
    chunk = gl.entries
    with pytest.raises(Fallback), Shards(2, gl.trust, election=False) as shards:
        workers = shards.workers.processes
        ws = bytes(k % 2 for k in range(len(chunk)))
        outs = [[d for d, w in zip(chunk, ws, strict=True) if w == s] for s in (0, 1)]
        for no in range(40):  # far more replies than a pipe holds, none of them read
            for s in (0, 1):
                shards.send(s, ("chunk", no, no * len(chunk), ws, outs[s]))
        shards.receive("chunk", 0, 0)  # the workers are at work
        started = time.monotonic()
        raise Fallback("the log needs the serial replay")
    assert time.monotonic() - started < 30  # not a 60 s wait per worker
    assert [w.exitcode for w in workers] == [-signal.SIGTERM] * 2


@pytest.mark.parametrize("etype", [[1], {"x": 1}, 7, None])
def test_a_statement_whose_type_is_no_text_same_report(
    etype: Any, el: ElectionLog, tmp_path: Path
) -> None:
    # in the canonical envelope, so the parent's routing decode reads it: an unhashable type
    # once raised TypeError there; the worker rejects the entry, and the report is the serial's
    entries = list(el.entries)
    i = el.index_of("voter.registered")
    envelope = msgpack.unpackb(entries[i])
    statement = msgpack.unpackb(envelope["stmt"])
    statement["type"] = etype
    envelope["stmt"] = msgpack.packb(dict(sorted(statement.items())), use_bin_type=True)
    entries[i] = msgpack.packb(envelope, use_bin_type=True)
    assert peek(entries[i]) is not None
    expected, reports = _reports(el, tmp_path, entries, el.notes, (2, 4))
    assert "entry.malformed" in {f["code"] for f in expected["findings"]}
    assert reports[2].run["replay"] == SHARDED


# ----------------------------------------------------------------- the parent's routing


class _Captured:
    """Shards that keep what the parent sends and never reply (the chunks stay pending)."""

    election = True
    in_flight = 1 << 30

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.sent: list[tuple[int, tuple[Any, ...]]] = []

    def send(self, shard: int, msg: tuple[Any, ...]) -> None:
        self.sent.append((shard, msg))

    def receive(self, kind: str, shard: int, tag: int) -> Any:
        raise AssertionError("nothing is collected here")


def _peek_routing(
    router: Router, chunk: list[bytes], base: int
) -> tuple[bytes, list[tuple[Any, ...] | None]]:
    """The routing of a chunk and the parent's per-entry fields as the parent read them before
    its decode was inlined: ``peek`` of each entry, then ``Router._route_event``."""
    ws = bytearray()
    metas: list[tuple[Any, ...] | None] = []
    for k, data in enumerate(chunk):
        m = peek(data)
        dest = "" if m is None else router._route_event(base + k, m.get("type"), m.get("body"))
        ws.append(ALL if dest is None else router._cshard.get(dest, 0))
        if m is None:
            metas.append(None)
            continue
        etype, body = m.get("type"), m.get("body")
        claim = None
        if type(etype) is str and etype in _ID_TYPES and type(body) is dict:
            claim = where_of(body)
        fields = (m.get("author"), m.get("seq"), m.get("time"), m.get("prev"), etype)
        metas.append((*fields, claim, "*" if dest is None else dest))
    return bytes(ws), metas


def _strict(data: bytes) -> bool:
    """Whether ``data`` decodes strictly (what a worker verifies)."""
    try:
        parse_entry(data)
    except ElectlogError:
        return False
    return True


def _rewrapped(data: bytes, how: int) -> bytes:
    """Entry bytes with the statement's bin header or the envelope made non-canonical."""
    stmt = msgpack.unpackb(data)["stmt"]
    if how == 0:  # a bin16 header for a short statement (or bin8 length off by one)
        head = b"\xc5" + len(stmt).to_bytes(2, "big") if len(stmt) < 256 else b"\xc4\xff"
        return data[:114] + head + stmt
    if how == 1:  # a bin32 header
        return data[:114] + b"\xc6" + len(stmt).to_bytes(4, "big") + stmt
    if how == 2:  # extra bytes after the statement
        return data + b"\x00"
    # the statement's map with its keys in reverse order (still a dict to msgpack)
    m = msgpack.unpackb(stmt)
    stmt = msgpack.packb(dict(reversed(m.items())), use_bin_type=True)
    head = (
        b"\xc4" + bytes([len(stmt)]) if len(stmt) < 256 else b"\xc5" + len(stmt).to_bytes(2, "big")
    )
    return data[:114] + head + stmt


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    jobs=st.sampled_from([2, 3, 4]),
    changes=st.lists(
        st.tuples(
            st.integers(0, 10**6), st.integers(0, 6), st.integers(0, 10**6), st.integers(0, 255)
        ),
        max_size=6,
    ),
)
def test_the_parent_routes_as_peek_reads(
    el: ElectionLog, jobs: int, changes: list[tuple[int, int, int, int]]
) -> None:
    # the parent's inlined decode gives the routing, each shard's entries and the fields of
    # the log-wide checks that peek and Router._route_event give, on every entry of a clean
    # election and on damaged ones (bytes flipped or cut, non-canonical headers, keys out of
    # order, a statement of another shape); a Fallback is raised at the same entry
    entries = list(el.entries)
    for at, kind, pos, byte in changes:
        i = 1 + at % (len(entries) - 1)  # the genesis stays: it names the communities
        data = el.entries[i]
        if kind == 0:
            p = pos % len(data)
            entries[i] = data[:p] + bytes([byte]) + data[p + 1 :]
        elif kind == 1:
            entries[i] = data[: pos % len(data)]
        elif kind == 2:  # another statement: a plain map, an array or a body that is text
            envelope = msgpack.unpackb(data)
            other = [
                {"type": "box.sealed", "body": {"unit": "u1", "box": "b9"}},
                [1, 2],
                {"body": "x"},
            ]
            envelope["stmt"] = msgpack.packb(other[byte % 3], use_bin_type=True)
            entries[i] = msgpack.packb(envelope, use_bin_type=True)
        else:
            entries[i] = _rewrapped(data, kind - 3)
    shards = _Captured(jobs)
    replay = ShardedReplay(el.trust, FindingSink(), shards)
    reference = Router(jobs)
    try:
        for start in range(0, len(entries), 97):
            chunk = entries[start : start + 97]
            try:
                ws, metas = _peek_routing(reference, chunk, start)
            except Fallback as exc:
                with pytest.raises(Fallback) as got:
                    replay.feed_entries(chunk)
                assert got.value.reason == exc.reason
                return
            shards.sent.clear()
            replay.feed_entries(chunk)
            # the same for every entry that decodes strictly (a worker uses no other): the
            # parent's decode of what routing reads may take an entry the general decode
            # refuses (invalid UTF-8 in a field it skips), which its worker rejects anyway
            strict = [_strict(data) for data in chunk]
            got = replay._pending[-1][2]
            routed = shards.sent[0][1][3]
            assert list(compress(got, strict)) == list(compress(metas, strict))
            assert list(compress(routed, strict)) == list(compress(ws, strict))
            for shard, msg in shards.sent:
                assert msg[2:4] == (start, routed)
                assert msg[4] == [
                    d for d, w in zip(chunk, routed, strict=True) if w in (shard, ALL)
                ]
            assert sorted(s for s, _ in shards.sent) == list(range(jobs))
    finally:
        replay.close()


def _spread_by_definition(
    shard: int, ws: bytes, statuses: bytes, leaves: bytes
) -> tuple[bytes, bytes]:
    """A shard's reply by its definition, one entry at a time: its entries' statuses and leaf
    hashes at their places in the chunk where it reports them (every entry of shard 0, its
    own only for the others), zeros elsewhere."""
    mine = [k for k, w in enumerate(ws) if w in (shard, ALL)]
    out = bytearray(len(ws))
    hashes = bytearray(32 * len(ws))
    for j, k in enumerate(mine):
        if shard == 0 or ws[k] == shard:
            out[k] = statuses[j]
            hashes[32 * k : 32 * k + 32] = leaves[32 * j : 32 * j + 32]
    return bytes(out), bytes(hashes)


@settings(max_examples=150, deadline=None)
@given(jobs=st.integers(2, 5), data=st.data())
def test_a_shards_reply_puts_its_results_at_their_places_in_the_chunk(
    jobs: int, data: st.DataObject
) -> None:
    """work_chunk's routing (which entries are the shard's, which it reports) and _spread's
    reply, done with C loops, are those of the definition; a reply of the wrong length is
    refused."""
    from electlog.audit._shards import _marks, _spread
    from electlog.errors import AuditError

    ws = bytes(data.draw(st.lists(st.sampled_from([*range(jobs), ALL]), max_size=60)))
    for shard in range(jobs):
        mine = [k for k, w in enumerate(ws) if w in (shard, ALL)]
        statuses = bytes(
            data.draw(st.lists(st.integers(1, 4), min_size=len(mine), max_size=len(mine)))
        )
        leaves = data.draw(st.binary(min_size=32 * len(mine), max_size=32 * len(mine)))
        assert _spread(shard, ws, len(mine), statuses, leaves) == _spread_by_definition(
            shard, ws, statuses, leaves
        )
        assert _marks(ws, shard, ALL) == bytes(w in (shard, ALL) for w in ws)
        with pytest.raises(AuditError, match="does not match its chunk"):
            _spread(shard, ws, len(mine) + 1, statuses, leaves)
        with pytest.raises(AuditError, match="does not match its chunk"):
            _spread(shard, ws, len(mine), statuses, leaves + bytes(32))
