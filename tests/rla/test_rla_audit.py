"""Issue 19 step 3: the audit board's events, checked by the shared fold (writer and auditor),
the auditor's rla findings and report section, tampering, and the scenarios of the issue."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import attrs
import pytest

from audit_support import rechain, resign, write_bundle
from electlog.election.events import (
    AuditConcluded,
    AuditRoundClosed,
    AuditSampleDrawn,
    AuditSeedDrawn,
    BallotRecorded,
    KeyAuthorised,
)
from electlog.election.scenario import build_small_election
from electlog.election.tally import PostMarks
from electlog.errors import RuleViolation
from electlog.events import Entry
from electlog.keys import SigningKey
from electlog.log import Log
from electlog.rla import workflow as W
from electlog.rla.assertions import round_assertions
from electlog.rla.risk import comparison_pvalue
from electlog.rla.status import audit_section
from rla_support import (
    MEMBERS,
    Audited,
    index_of,
    publisher,
    run_audit,
    run_round,
    start_audit,
)

C1 = ("c1", 1)

COVERED: set[str] = set()
"""The ``rla.*`` rule codes these tests provoke (test_election_rules checks every code has one)."""


def covers(*codes: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def deco(fn: Callable[..., None]) -> Callable[..., None]:
        COVERED.update(codes)
        return fn

    return deco


def boxes_of(au: Audited, key: tuple[str, int]) -> set[tuple[str, int]]:
    return {(b.box, 1) for b in au.election.state.audit.rounds[key].batches}


@pytest.fixture(scope="module")
def honest() -> Audited:
    au = start_audit()
    run_audit(au)
    return au


def _codes(report: object) -> set[str]:
    return report.codes()  # type: ignore[attr-defined,no-any-return]


# --------------------------------------------------------------------------- honest audit


def test_mvr_equal_to_cvr_confirms_and_audits_clean(honest: Audited, tmp_path: Path) -> None:
    st = honest.election.state
    statuses = {key: ra.concluded for key, ra in st.audit.rounds.items()}
    # c2's only round has 12 ballots: its required sample (19) reaches them all
    assert statuses == {
        ("c1", 1): "confirmed",
        ("c1", 2): "confirmed",
        ("c2", 1): "full_hand_count",
    }
    report = publisher(honest).audit(honest.entries, tmp_path / "audited.bundle", honest.pinned)
    assert report.findings == ()
    assert report.verdict == "clean"
    assert report.rla is not None
    rounds = {(r["community"], r["round"]): r for r in report.rla["rounds"]}
    assert rounds[C1]["status"] == "confirmed"
    assert rounds[C1]["audit_rounds"] == [{"audit_round": 1, "sampled": 19, "confirmed": True}]
    first = rounds[C1]["assertions"][0]
    assert first["id"] == "director:elected:c1-v00" and first["margin"] == "8/15"
    assert Fraction(first["p_value"]) <= Fraction("0.05")
    assert (first["o1"], first["o2"], first["u1"], first["u2"]) == (0, 0, 0, 0)
    assert report.to_dict()["rla"] == report.rla


def test_a_log_that_ends_with_the_audit_goes_to_the_serial_replay_before_any_sharded_work(
    honest: Audited, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From a source read by index (a SQLite store) the audit looks at the log's last entries
    first: a log that ends with its risk-limiting audit is replayed serially at once, not after a
    sharded replay of the whole election that the first audit event throws away. From a bundle
    (read from its start) the router meets the first audit event as before. Both say why with
    the same words, and the report is the serial one."""
    from electlog.audit import audit
    from electlog.audit._shards import ShardedReplay
    from electlog.store import SQLiteStore

    fed: list[int] = []
    feed = ShardedReplay.feed_entries

    def counting(self: ShardedReplay, chunk: list[bytes]) -> None:
        fed.append(len(chunk))
        feed(self, chunk)

    monkeypatch.setattr(ShardedReplay, "feed_entries", counting)
    pub = publisher(honest)
    entries = honest.entries
    seed_drawn = index_of(entries, "audit.seed_drawn")  # witnessed before the seed, as required
    notes = pub.notes(entries, [80, 140, honest.pinned, seed_drawn, len(entries)])
    bundle = tmp_path / "audited.bundle"
    write_bundle(bundle, pub.origin, entries, notes)
    store = tmp_path / "audited.sqlite"
    with SQLiteStore(store, origin=pub.origin) as opened:
        log = Log(opened)
        log.append_many(entries)
        for note in notes:
            log.add_checkpoint(note)
    why = (
        f"serial: entry {index_of(entries, 'audit.declared')} is a risk-limiting audit event: "
        "its checks read every community's rounds and the whole log's tree, which only the "
        "serial replay holds"
    )
    for source, sharded_first in ((store, False), (bundle, True)):
        serial = json.loads(audit(source, pub.trust, serial=True).to_json())
        serial.pop("run")
        fed.clear()
        report = audit(source, pub.trust, jobs=2)
        assert report.run["replay"] == why, source
        assert bool(fed) is sharded_first, source
        got = json.loads(report.to_json())
        got.pop("run")
        assert got == serial
        assert got["verdict"] == "clean"


def test_the_report_section_is_the_writers(honest: Audited, tmp_path: Path) -> None:
    report = publisher(honest).audit(honest.entries, tmp_path / "a.bundle", honest.pinned)
    assert report.rla == audit_section(honest.election.state)


def test_two_audit_processes_give_byte_identical_json(honest: Audited, tmp_path: Path) -> None:
    pub = publisher(honest)
    bundle = tmp_path / "audited.bundle"
    pub.audit(honest.entries, bundle, honest.pinned)
    trust = tmp_path / "trust.json"
    pub.trust.save(trust)
    script = (
        "import json, sys\n"
        "from electlog.audit import audit, load_trust\n"
        "r = audit(sys.argv[1], load_trust(sys.argv[2]))\n"
        "d = r.to_dict(); d.pop('run')\n"
        "sys.stdout.write(json.dumps(d, ensure_ascii=False))\n"
    )
    outs = [
        subprocess.run(
            [sys.executable, "-c", script, str(bundle), str(trust)],
            capture_output=True,
            check=True,
            timeout=120,
        ).stdout
        for _ in range(2)
    ]
    assert outs[0] == outs[1]
    assert json.loads(outs[0])["rla"]["rounds"][0]["status"] == "confirmed"


# --------------------------------------------------------------------------- the scenarios


def _flip(marks: PostMarks) -> PostMarks:
    return PostMarks(in_favour=(), against=marks.against, write_ins=marks.write_ins)


def test_one_flipped_mark_raises_the_next_sample() -> None:
    clean = start_audit()
    st = clean.election.state
    first = W.next_sample_size(st, *C1)
    run_round(clean, *C1)
    assert W.next_sample_size(st, *C1) == 0  # confirmed

    au = start_audit()
    flipped: list[str] = []

    def read(ballot: str, recorded):  # type: ignore[no-untyped-def]
        if flipped or recorded is None or not recorded["director"].in_favour:
            return recorded
        flipped.append(ballot)  # the paper shows no vote for the director's winner
        return {**recorded, "director": _flip(recorded["director"])}

    run_round(au, *C1, read)
    ra = au.election.state.audit.rounds[C1]
    assert flipped and ra.closed[-1].confirmed is False
    director = next(m for m in ra.measured if m.assertion.kind == "elected")
    # the threshold assorter is 1 for a vote for the winner, 0 otherwise: a lost winner's vote
    # is its largest overstatement
    times = ra.draws.count(flipped[0])
    assert director.counts == {"o1": 0, "o2": times, "u1": 0, "u2": 0}
    more = W.next_sample_size(au.election.state, *C1)
    assert more > 0 and first + more > first
    assert run_round(au, *C1) == first + more


def test_not_found_counts_as_the_worst_case() -> None:
    au = start_audit()
    lost: list[str] = []

    def read(ballot: str, recorded):  # type: ignore[no-untyped-def]
        if lost:
            return recorded
        lost.append(ballot)
        return None

    run_round(au, *C1, read)
    ra = au.election.state.audit.rounds[C1]
    for m in ra.measured:
        assert m.counts["o2"] == ra.draws.count(lost[0])
        worst = [Fraction(1) if b == lost[0] else Fraction(0) for b in ra.draws]
        assert m.p_value == comparison_pvalue(m.assertion.diluted, worst)
    section = audit_section(au.election.state)
    assert section is not None and section["rounds"][0]["not_found"] == 1


def test_alpha_without_replacement_confirms_too() -> None:
    au = start_audit(test="alpha", replacement=False)
    run_round(au, *C1)
    ra = au.election.state.audit.rounds[C1]
    assert len(set(ra.draws)) == len(ra.draws)  # without replacement
    assert ra.closed[-1].confirmed


def test_the_2000_voter_demo_election_confirms_every_round() -> None:
    """``electlog demo --voters 2000``'s election (same simulator, seed 0), MVR = CVR."""
    import itertools

    from electlog.election import Election
    from electlog.keys import SigningKey
    from electlog.simulate import simulate_district

    log = Log("demo.example/rla-2000")
    result = simulate_district(log, voters=2000, seed=0, profile="full")
    e = Election.open(log, result.keys.authority.key_id)
    st = e.state
    clock = itertools.count(max(st.last_time.values()) + 3_600_000_000, 1_000_000)
    board = SigningKey.from_seed(bytes([9]) * 32)
    e.submit(
        e.author(result.keys.authority),
        KeyAuthorised(key_id=board.key_id, role="audit_board", scope=(), label="board"),
        time=next(clock),
    )
    au = Audited(log=log, election=e, keys=result.keys, board=board, pinned=len(log), clock=clock)
    W.declare(
        e,
        au.author(),
        rounds=[],
        risk_limit="0.05",
        checkpoint_size=au.pinned,
        checkpoint_root=log.root(au.pinned),
        time=au.time(),
    )
    W.draw_seed(e, au.author(), "31415926535897932384", time=au.time())
    run_audit(au)
    outcomes = {key: ra.concluded for key, ra in st.audit.rounds.items()}
    assert len(outcomes) == len(result.declared) >= 19
    assert set(outcomes.values()) == {"confirmed"}
    sizes = [ra.closed[-1].sampled for ra in st.audit.rounds.values()]
    assert all(len(ra.closed) == 1 for ra in st.audit.rounds.values())
    assert min(sizes) >= 11 and max(sizes) <= 30


# --------------------------------------------------------------------------- writer refusals


@covers("rla.sample_mismatch", "rla.event_order", "rla.risk_mismatch", "rla.interpretation_invalid")
def test_the_writer_refuses_what_the_auditor_would_name() -> None:
    au = start_audit()
    e, st = au.election, au.election.state
    ra = st.audit.rounds[C1]
    good = W.draw(ra.frame, "01382438112797316654", drop=0, size=19, replacement=True)
    forged = [*good[:-1], next(b for b in sorted(ra.ids) if b != good[-1])]
    bad = AuditSampleDrawn(community="c1", round=1, audit_round=1, drop=0, ballots=tuple(forged))
    with pytest.raises(RuleViolation) as exc:
        e.submit(au.author(), bad, time=au.time())
    assert exc.value.code == "rla.sample_mismatch"
    short = AuditSampleDrawn(
        community="c1", round=1, audit_round=1, drop=0, ballots=tuple(good[:5])
    )
    with pytest.raises(RuleViolation, match="needs 19"):
        e.submit(au.author(), short, time=au.time())
    with pytest.raises(RuleViolation) as exc:
        e.submit(au.author(), AuditSeedDrawn(seed="1"), time=au.time())
    assert exc.value.code == "rla.event_order"
    with pytest.raises(RuleViolation) as exc:
        e.submit(
            au.author(),
            AuditConcluded(community="c1", round=1, outcome="confirmed"),
            time=au.time(),
        )
    assert exc.value.code == "rla.risk_mismatch"
    W.draw_sample(e, au.author(), *C1, time=au.time())
    with pytest.raises(RuleViolation) as exc:  # not drawn
        W.interpret(
            e,
            au.author(),
            *C1,
            next(b for b in ra.ids if b not in ra.draws),
            None,
            MEMBERS,
            time=au.time(),
        )
    assert exc.value.code == "rla.interpretation_invalid"
    counting = au.election.author(au.keys.counting)  # type: ignore[attr-defined]
    with pytest.raises(RuleViolation) as exc:  # a counting unit key is no audit board
        W.interpret(e, counting, *C1, ra.draws[0], None, MEMBERS, time=au.time())
    assert exc.value.code == "signer.role"
    early = AuditRoundClosed(
        community="c1", round=1, audit_round=1, sampled=19, risks=(), confirmed=True
    )
    with pytest.raises(RuleViolation) as exc:  # before every drawn ballot is interpreted
        e.submit(au.author(), early, time=au.time())
    assert exc.value.code == "rla.event_order"


def test_a_counting_unit_key_cannot_interpret_even_as_audit_board() -> None:
    au = start_audit()
    e = au.election
    counting = au.keys.counting  # type: ignore[attr-defined]
    e.submit(
        e.author(au.keys.authority),  # type: ignore[attr-defined]
        KeyAuthorised(key_id=counting.key_id, role="audit_board", scope=(), label="dual"),
        time=au.time(),
    )
    W.draw_sample(e, au.author(), *C1, time=au.time())
    ballot = e.state.audit.rounds[C1].draws[0]
    with pytest.raises(RuleViolation) as exc:
        W.interpret(e, e.author(counting), *C1, ballot, None, MEMBERS, time=au.time())
    assert exc.value.code == "rla.interpretation_invalid"


@covers("rla.manifest_mismatch")
def test_box_count_mismatch_is_recorded_and_reported(tmp_path: Path) -> None:
    au = start_audit()
    ra = au.election.state.audit.rounds[C1]
    box = ra.batches[0]
    W.count_box(au.election, au.author(), *C1, box.box, box.recorded - 1, time=au.time())
    report = publisher(au).audit(au.entries, tmp_path / "b.bundle", au.pinned)
    assert _codes(report) == {"rule.rla.manifest_mismatch"}
    (finding,) = report.by_code("rule.rla.manifest_mismatch")
    assert finding.evidence["sheets"] == box.recorded - 1
    assert report.rla is not None
    assert report.rla["rounds"][0]["manifest"][0]["sheets"] == box.recorded - 1


# --------------------------------------------------------------------------- tampering


@covers("rla.sample_mismatch")
def test_a_forged_sample_is_named(honest: Audited, tmp_path: Path) -> None:
    entries = honest.entries
    i = index_of(entries, "audit.sample_drawn")
    body = dict(Entry.from_bytes(entries[i], verify=False).statement.body)
    ra = honest.election.state.audit.rounds[C1]
    other = next(b for b in sorted(ra.ids) if b not in ra.draws)
    body["ballots"] = [other, *body["ballots"][1:]]
    entries[i] = resign(entries[i], honest.board, body=body)
    entries = rechain(entries, i, {honest.board.key_id: honest.board})
    report = publisher(honest).audit(entries, tmp_path / "t.bundle", honest.pinned)
    assert "rule.rla.sample_mismatch" in _codes(report)
    assert report.verdict == "findings"


@covers("rla.risk_mismatch")
def test_a_forged_p_value_is_named(honest: Audited, tmp_path: Path) -> None:
    entries = honest.entries
    i = index_of(entries, "audit.round_closed")
    body = dict(Entry.from_bytes(entries[i], verify=False).statement.body)
    risks = [dict(r) for r in body["risks"]]
    risks[0]["p_value"] = "0.00000000000000000001"
    body["risks"] = risks
    entries[i] = resign(entries[i], honest.board, body=body)
    entries = rechain(entries, i, {honest.board.key_id: honest.board})
    report = publisher(honest).audit(entries, tmp_path / "t.bundle", honest.pinned)
    assert "rule.rla.risk_mismatch" in _codes(report)


@covers("rla.event_order")
def test_a_seed_drawn_before_the_declaration_is_named(honest: Audited, tmp_path: Path) -> None:
    entries = honest.entries
    d = index_of(entries, "audit.declared")
    s = index_of(entries, "audit.seed_drawn")
    assert s == d + 1
    t_d = Entry.from_bytes(entries[d], verify=False).statement.time
    t_s = Entry.from_bytes(entries[s], verify=False).statement.time
    entries[d], entries[s] = (
        resign(entries[s], honest.board, time=t_d),
        resign(entries[d], honest.board, time=t_s),
    )
    entries = rechain(entries, d, {honest.board.key_id: honest.board})
    report = publisher(honest).audit(entries, tmp_path / "t.bundle", honest.pinned)
    assert "rule.rla.event_order" in _codes(report)
    (first, *_) = report.by_code("rule.rla.event_order")
    assert first.index == d


@covers("rla.round_frozen")
def test_a_ballot_recorded_after_the_declaration_is_named(honest: Audited, tmp_path: Path) -> None:
    entries = honest.entries
    counting = honest.keys.counting  # type: ignore[attr-defined]
    b = max(
        i
        for i in range(len(entries))
        if Entry.from_bytes(entries[i], verify=False).statement.type == BallotRecorded.TYPE
        and Entry.from_bytes(entries[i], verify=False).statement.body["box"].startswith("c1")
    )
    st = Entry.from_bytes(entries[b], verify=False).statement
    body = dict(st.body)
    body["serial"] = bytes(range(16))
    late = Entry.from_bytes(entries[-1], verify=False).statement.time + 1_000_000
    extra = resign(entries[b], counting, body=body, time=late)
    entries = rechain([*entries, extra], len(entries), {counting.key_id: counting})
    report = publisher(honest).audit(entries, tmp_path / "t.bundle", honest.pinned)
    assert "rule.rla.round_frozen" in _codes(report)
    (finding,) = report.by_code("rule.rla.round_frozen")
    assert finding.index == len(entries) - 1


@covers("rla.checkpoint_mismatch")
def test_a_declaration_pinning_another_root_is_named(honest: Audited, tmp_path: Path) -> None:
    entries = honest.entries
    i = index_of(entries, "audit.declared")
    body = dict(Entry.from_bytes(entries[i], verify=False).statement.body)
    body["checkpoint_root"] = bytes(32)
    entries[i] = resign(entries[i], honest.board, body=body)
    entries = rechain(entries, i, {honest.board.key_id: honest.board})
    report = publisher(honest).audit(entries, tmp_path / "t.bundle", honest.pinned)
    assert "rule.rla.checkpoint_mismatch" in _codes(report)


@pytest.mark.slow
def test_the_20000_voter_demo_election_needs_11_to_19_ballots_per_round() -> None:
    """Issue 19's figure: ``electlog demo --voters 20000`` (seed 0), no discrepancies, 5% risk:
    the first sample of every community round is 11 to 19 ballots."""
    from electlog.election import Election
    from electlog.simulate import simulate_district

    log = Log("demo.example/rla-20000")
    result = simulate_district(log, voters=20000, seed=0, profile="full")
    st = Election.open(log, result.keys.authority.key_id).state
    params = W.AuditParameters.parse("0.05", "kaplan_markov", True)
    sizes = {}
    for (community, number), declared in result.declared.items():
        ra = round_assertions(st.result(community, number))
        assert declared is not None and ra.full_count is None
        sizes[(community, number)] = W.required_total(ra, params)
    assert min(sizes.values()) == 11 and max(sizes.values()) == 19, sizes


def test_replaying_the_audited_log_equals_the_writers_state(honest: Audited) -> None:
    from electlog.election.facade import log_events
    from electlog.election.state import ElectionState

    authority = honest.keys.authority.key_id  # type: ignore[attr-defined]
    rebuilt = ElectionState.rebuild(authority, log_events(honest.log))
    assert rebuilt.state_hashes() == honest.election.state.state_hashes()
    assert audit_section(rebuilt) == audit_section(honest.election.state)


def test_the_report_with_an_audit_follows_the_json_schema(honest: Audited, tmp_path: Path) -> None:
    try:  # the public name once the audit package's report modules are private (issue 14)
        from electlog.audit import validate_report_dict  # type: ignore[attr-defined]
    except ImportError:
        from electlog.audit.report_json import validate_report_dict

    rla_fields = (
        "declared_at",
        "method",
        "risk_limit",
        "test",
        "replacement",
        "checkpoint",
        "manifest_hash",
        "seed",
        "rounds",
    )

    report = publisher(honest).audit(honest.entries, tmp_path / "s.bundle", honest.pinned)
    data = json.loads(report.to_json())
    validate_report_dict(data)
    assert list(data)[-1] == "rla" and tuple(data["rla"]) == rla_fields
    data["rla"].pop("seed")
    with pytest.raises(ValueError, match="rla fields"):
        validate_report_dict(data)


@covers("rla.manifest_hash", "rla.parameters_invalid", "rla.checkpoint_mismatch")
def test_a_bad_declaration_is_refused() -> None:
    from electlog.election.events import AuditDeclared, AuditedRound

    log, keys, e = build_small_election(0)
    st = e.state
    t = max(st.last_time.values()) + 3_600_000_000
    board = SigningKey.from_seed(bytes([7]) * 32)
    e.submit(
        e.author(keys.authority),
        KeyAuthorised(key_id=board.key_id, role="audit_board", scope=(), label="board"),
        time=t,
    )
    size = len(log)
    good = AuditDeclared(
        rounds=(AuditedRound(community="c1", round=1),),
        method="comparison",
        risk_limit="0.05",
        test="kaplan_markov",
        replacement=True,
        checkpoint_size=size,
        checkpoint_root=log.root(size),
        manifest_hash=W.planned_manifest_hash(st, [("c1", 1)]),
    )
    for change, code in (
        ({"manifest_hash": bytes(32)}, "rla.manifest_hash"),
        ({"rounds": (AuditedRound(community="c2", round=1),)}, "rla.manifest_hash"),
        ({"risk_limit": "1.5"}, "rla.parameters_invalid"),
        ({"replacement": False}, "rla.parameters_invalid"),
        ({"checkpoint_size": size + 1}, "rla.checkpoint_mismatch"),
    ):
        with pytest.raises(RuleViolation) as exc:
            e.submit(e.author(board), attrs.evolve(good, **change), time=t + 1)
        assert exc.value.code == code, change
    e.submit(e.author(board), good, time=t + 1)
    assert st.audit.declared == good


@covers("rla.event_order")
def test_a_seed_drawn_before_a_witnessed_checkpoint_covers_the_declaration(
    honest: Audited, tmp_path: Path
) -> None:
    from audit_support import write_bundle
    from electlog.audit import audit

    pub = publisher(honest)
    entries = honest.entries
    seed_at = index_of(entries, "audit.seed_drawn")
    notes = pub.notes(entries, [80, 140, honest.pinned, len(entries)])  # none between
    write_bundle(tmp_path / "early.bundle", honest.log.origin, entries, notes)
    report = audit(tmp_path / "early.bundle", pub.trust)
    (finding,) = report.by_code("rule.rla.event_order")
    assert finding.index == seed_at and "before a witnessed checkpoint" in finding.message
    # a witnessed tree holding the declaration but not the seed clears it
    assert "rule.rla.event_order" not in _codes(
        pub.audit(entries, tmp_path / "ok.bundle", honest.pinned)
    )


def test_the_look_at_the_end_finds_the_first_audit_event_of_the_last_block(
    honest: Audited, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The look reads the last entries, then further back while every one of them is an audit
    event, and gives the first audit event of the block; at most ``_TAIL_MOST`` entries back,
    where it gives the earliest it read."""
    from electlog.audit import _shards
    from electlog.audit._sources import Source

    entries = honest.entries
    first = index_of(entries, "audit.declared")
    block = len(entries) - first
    assert block > 16
    assert not any(_type(d).startswith("audit.") for d in entries[:first])

    class Ended(Source):
        def __init__(self) -> None:
            self.reads: list[int] = []

        def tail(self, count: int) -> list[tuple[int, bytes]]:
            self.reads.append(count)
            start = max(0, len(entries) - count)
            return list(enumerate(entries[start:], start))

    def reason(at: int) -> str:
        return _shards._audit_reason(at)

    src = Ended()
    assert _shards.audit_events_at_end(src) == reason(first)  # within the last 2,000
    assert src.reads == [2000]
    monkeypatch.setattr(_shards, "CHUNK_SIZE", 4)
    src.reads.clear()
    assert _shards.audit_events_at_end(src) == reason(first)
    assert src.reads[0] == 4 and src.reads[-1] >= block  # read back until the block began
    monkeypatch.setattr(_shards, "_TAIL_MOST", 16)
    src.reads.clear()
    assert _shards.audit_events_at_end(src) == reason(len(entries) - 16)
    assert src.reads == [4, 16]
    # a log that does not end with an audit event: nothing found, one read
    src.reads.clear()
    entries = entries[:first]
    assert _shards.audit_events_at_end(src) is None
    assert src.reads == [4]


def _type(data: bytes) -> str:
    return Entry.from_bytes(data, verify=False).statement.type
