"""Issue 11: a CLEAN verdict means a complete, witnessed election.

A copy cut back to a genuine witnessed checkpoint, a copy cut before a pending 另行选举 and a copy
with an unwitnessed tail are INCOMPLETE (exit 1) with the phase each community reached, or clean
so far in an in-progress audit (exit 0); a trust-file pin the copy does not extend is a rollback
or fork finding; every report shows the latest witnessed checkpoint with its cosigners' times;
claimed times are bound to the witnesses' cosignature times."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from audit_support import build_election, build_generic, seed, write_bundle
from electlog import Author, Log, NoteSigner, SigningKey, WitnessSigner, cosign
from electlog.audit import BytesSource, Report, Trust, audit, load_trust
from electlog.audit import findings as F
from electlog.audit._report_html import render_html
from electlog.audit._report_json import validate_report_dict
from electlog.audit._report_text import render_text
from electlog.checkpoint import Checkpoint, sign_note
from electlog.cli import main
from electlog.election.progress import PHASES
from electlog.errors import TrustFileError
from electlog.events import Entry
from electlog.simulate import DistrictConfig, SimulationResult, simulate_district
from electlog.store.memory import MemoryStore

ORIGIN = "district.example/test-verdict"


# --------------------------------------------------------------------------- the district


class District:
    """A 2,000-voter simulated district: its entries, notes, keys and trust."""

    def __init__(self) -> None:
        log = Log(MemoryStore(ORIGIN))
        # checkpoints every 2,000 entries, as a live election publishes them
        config = DistrictConfig.scaled(2000, checkpoint_every=2000)
        self.result: SimulationResult = simulate_district(
            log, voters=2000, seed=3, config=config, profile="full"
        )
        self.log = log
        self.entries = [log.get_bytes(i) for i in range(len(log))]
        self.notes = [c.note for c in log.checkpoints()]
        self.times = [Entry.from_bytes(d, verify=False).statement.time for d in self.entries]
        self.trust = self.trust_with()

    def trust_with(self, pinned: str | None = None) -> Trust:
        r = self.result
        return Trust.create(
            origin=r.origin,
            authority_key=r.authority_key,
            log_key=r.log_vkey,
            witnesses=list(r.witness_vkeys),
            quorum=r.quorum,
            pinned_checkpoint=pinned,
        )

    def first_size(self) -> int:
        return Checkpoint.from_text(self.notes[0][: self.notes[0].index("\n\n") + 1]).size

    def note(self, size: int) -> str:
        """A checkpoint of the first ``size`` entries, cosigned by every witness 30 s after
        the latest claimed time among them (an honest witness)."""
        text = Checkpoint(origin=ORIGIN, size=size, root=self.log.root(size)).to_text()
        note = sign_note(text, [self.result.keys.log])
        stamp = max(self.times[:size]) // 1_000_000 + 30
        for w in self.result.keys.witnesses:
            note = cosign(note, w, stamp)
        return note

    def source(self, entries: list[bytes], notes: list[str]) -> BytesSource:
        return BytesSource(entries, notes, origin=ORIGIN)

    def index_of(self, etype: str, **body: Any) -> int:
        for i, data in enumerate(self.entries):
            st = Entry.from_bytes(data, verify=False).statement
            if st.type == etype and all(st.body.get(k) == v for k, v in body.items()):
                return i
        raise LookupError(etype)


@pytest.fixture(scope="module")
def district() -> District:
    return District()


@pytest.fixture(scope="module")
def first_cut(district: District) -> Report:
    """The district cut back to its first witnessed checkpoint (a genuine note, untouched)."""
    size = district.first_size()
    return audit(district.source(district.entries[:size], district.notes[:1]), district.trust)


def _community_findings(report: Report) -> dict[str, Any]:
    return {
        f.evidence["community"]: f
        for f in report.by_code(F.ELECTION_INCOMPLETE)
        if f.evidence.get("what") == "community"
    }


# --------------------------------------------------------------------------- completeness


def test_cut_at_the_first_checkpoint_is_incomplete(district: District, first_cut: Report) -> None:
    report = first_cut
    assert report.verdict == "incomplete" and not report.clean and report.exit_status == 1
    assert not report.complete and not report.clean_so_far
    other = {
        f.code
        for f in report.findings
        if f.severity is not F.Severity.INFO and f.code != F.ELECTION_INCOMPLETE
    }
    assert other == set()  # nothing wrong with what is there
    per_community = _community_findings(report)
    assert set(per_community) == set(report.communities) and len(per_community) >= 2
    for cid, finding in per_community.items():
        phase = report.communities[cid]["phase"]
        assert phase in PHASES and phase != "results_declared"
        assert finding.severity is F.Severity.ERROR
        assert finding.evidence["phase"] == phase
        assert cid in finding.message and phase in finding.message
        assert report.communities[cid]["complete"] is False


def test_whole_district_communities_are_complete(district: District) -> None:
    report = audit(district.source(district.entries, district.notes), district.trust)
    assert report.communities and all(
        c["complete"] and c["phase"] == "results_declared" for c in report.communities.values()
    )
    assert len(district.notes) >= 3  # several checkpoints: the witness-time bounds all apply
    assert report.findings == () and report.verdict == "clean" and report.exit_status == 0


def test_cut_with_the_cli_exits_1_and_in_progress_exits_0(
    district: District, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    size = district.first_size()
    bundle = tmp_path / "cut.bundle"
    write_bundle(bundle, ORIGIN, district.entries[:size], district.notes[:1])
    trust = tmp_path / "trust.json"
    district.trust.save(trust)
    assert main(["verify", str(bundle), "--trust", str(trust)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("VERDICT: INCOMPLETE (")
    assert "election.incomplete: community c01 is not complete: it reached phase" in out
    assert main(["verify", str(bundle), "--trust", str(trust), "--in-progress"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("VERDICT: clean so far, up to ")
    assert f"at checkpoint 0 (size {size})" in out.splitlines()[0]
    assert (
        main(["verify", str(bundle), "--trust", str(trust), "--in-progress", "--format=json"]) == 0
    )
    data = json.loads(capsys.readouterr().out)
    validate_report_dict(data)
    assert data["verdict"] == "clean_in_progress"
    progress = data["progress"]
    assert progress["checkpoint"] == 0 and progress["checkpoint_size"] == size
    assert progress["phase"] in PHASES
    assert progress["incomplete_communities"] == sorted(data["communities"])


def test_in_progress_is_not_clean_so_far_with_other_findings(district: District) -> None:
    size = district.first_size()
    entries = district.entries[:size]
    entries[size // 2] = entries[size // 2][:-1] + bytes([entries[size // 2][-1] ^ 1])
    report = audit(district.source(entries, district.notes[:1]), district.trust, in_progress=True)
    assert report.verdict == "findings" and report.exit_status == 1


def test_cut_before_the_supplementary_round_names_the_pending_lingxing_xuanju(
    district: District,
) -> None:
    called = district.index_of("round.called", kind="supplementary")
    cid = Entry.from_bytes(district.entries[called], verify=False).statement.body["community"]
    report = audit(
        district.source(district.entries[:called], [district.note(called)]), district.trust
    )
    assert report.verdict == "incomplete" and report.exit_status == 1
    finding = _community_findings(report)[cid]
    assert finding.evidence["phase"] == "counted" and finding.evidence["round"] == 1
    assert any("另行选举" in p for p in finding.evidence["pending"])
    assert "另行选举" in finding.message
    # with the round called and held, that community is complete
    whole = audit(district.source(district.entries, district.notes), district.trust)
    assert whole.communities[cid] == {
        "phase": "results_declared",
        "round": 2,
        "complete": True,
        "pending": [],
    }


def test_unwitnessed_tail_is_a_warning_and_not_clean(district: District) -> None:
    size = district.first_size()
    report = audit(
        district.source(district.entries[: size + 25], district.notes[:1]), district.trust
    )
    (tail,) = report.by_code(F.LOG_UNWITNESSED_TAIL)
    assert tail.severity is F.Severity.WARNING
    assert tail.evidence["checkpoint_size"] == size and tail.evidence["unwitnessed"] == 25
    assert not report.clean and report.exit_status == 1
    assert report.verdict == "incomplete"
    assert audit(
        district.source(district.entries[: size + 25], district.notes[:1]),
        district.trust,
        in_progress=True,
    ).clean_so_far


# --------------------------------------------------------------------------- the checkpoint shown


def test_reports_show_the_latest_witnessed_checkpoint_and_cosigner_times(
    district: District, first_cut: Report
) -> None:
    cp = first_cut.checkpoint
    assert cp is not None and cp["size"] == district.first_size() and cp["position"] == 0
    names = {w.name for w in district.result.keys.witnesses}
    assert {w["name"] for w in cp["witnesses"]} == names
    text = render_text(first_cut)
    page = render_html(first_cut)
    data = json.loads(first_cut.to_json())
    validate_report_dict(data)
    assert data["checkpoint"]["root"] == district.log.root(cp["size"]).hex()
    for w in cp["witnesses"]:
        assert isinstance(w["timestamp"], int) and w["time"].endswith("Z")
        assert f"cosigned by {w['name']} at {w['time']} ({w['timestamp']})" in text
        assert w["time"] in page and str(w["timestamp"]) in page
    assert f"latest witnessed checkpoint 0: size {cp['size']} root {cp['root']}" in text
    assert 'id="latest-checkpoint"' in page and cp["root"] in page
    assert 'id="communities"' in page and "not complete" in page
    assert 'class="verdict incomplete"' in page and "Verdict: INCOMPLETE" in page
    assert "communities (phase reached)" in text
    assert {w["name"]: w["timestamp"] for w in data["checkpoint"]["witnesses"]} == {
        w["name"]: w["timestamp"] for w in cp["witnesses"]
    }


def test_reports_say_plainly_when_there_is_no_witnessed_checkpoint(district: District) -> None:
    report = audit(district.source(district.entries[:500], []), district.trust)
    assert report.checkpoint is None and not report.clean
    assert "latest witnessed checkpoint: NONE" in render_text(report)
    assert "<strong>none</strong>" in render_html(report)
    assert json.loads(report.to_json())["checkpoint"] is None


# --------------------------------------------------------------------------- the pinned checkpoint


def test_pinned_checkpoint_the_copy_does_not_reach_is_a_rollback(
    district: District, tmp_path: Path
) -> None:
    size = district.first_size()
    pinned = district.trust_with(pinned=district.notes[-1])
    path = tmp_path / "trust.json"
    pinned.save(path)
    assert load_trust(path).pinned_checkpoint == district.notes[-1]
    rolled_back = district.source(district.entries[:size], district.notes[:1])
    report = audit(rolled_back, load_trust(path), in_progress=True)
    (beyond,) = report.by_code(F.SINCE_BEYOND_LOG)
    assert "pinned checkpoint" in beyond.message
    assert beyond.evidence["since_size"] == len(district.entries)
    assert report.pinned == {
        "verified": True,
        "size": len(district.entries),
        "root": district.log.root().hex(),
        "consistent": False,
    }
    assert report.verdict == "findings" and report.exit_status == 1  # not even clean so far
    # the whole log extends the pin
    whole = audit(district.source(district.entries, district.notes), load_trust(path))
    assert whole.pinned is not None and whole.pinned["consistent"] is True
    assert F.SINCE_BEYOND_LOG not in whole.codes() and F.FORK_INCONSISTENT not in whole.codes()


def test_pinned_checkpoint_of_another_history_is_fork_evidence() -> None:
    el = build_election(0)
    forked = build_election(1, origin=el.origin)
    text = Checkpoint(origin=el.origin, size=100, root=forked.log.root(100)).to_text()
    note = sign_note(text, [el.log_signer])
    for w in el.witnesses:
        note = cosign(note, w, 1_777_000_000)
    trust = Trust.create(
        origin=el.origin,
        authority_key=el.keys.authority.public,
        log_key=el.log_signer.vkey,
        witnesses=[w.vkey for w in el.witnesses],
        quorum=2,
        pinned_checkpoint=note,
    )
    report = audit(el.source(), trust)
    (fork,) = report.by_code(F.FORK_INCONSISTENT)
    assert "pinned checkpoint" in fork.message and fork.evidence["since_note"] == note
    assert report.pinned is not None and report.pinned["consistent"] is False
    assert report.verdict == "findings"


def test_pinned_checkpoint_must_verify_with_the_trust_file(tmp_path: Path) -> None:
    glog = build_generic()
    data = glog.trust.to_dict()
    assert "pinned_checkpoint" not in data  # optional: absent unless set
    for bad, why in (
        ("not a note", "does not verify"),
        (glog.signed_note(30, glog.log.root(30), cosigners=1), "does not verify"),
        (42, "must be the text of a checkpoint note"),
        ("", "must be the text of a checkpoint note"),
    ):
        path = tmp_path / "trust.json"
        path.write_text(json.dumps({**data, "pinned_checkpoint": bad}), encoding="utf-8")
        with pytest.raises(TrustFileError, match=why):
            load_trust(path)
    good = glog.signed_note(30, glog.log.root(30))
    assert Trust.from_dict({**data, "pinned_checkpoint": good}).pinned_checkpoint == good


# --------------------------------------------------------------------------- witness time

T = 1_790_000_000  # seconds


def _timed_log(
    times_s: list[int], checkpoints: list[tuple[int, list[int]]]
) -> tuple[BytesSource, Trust]:
    """A generic log with one entry per claimed time (seconds) and checkpoints at the given
    sizes cosigned by two witnesses at the given timestamps."""
    origin = "example.org/witness-time"
    log = Log(origin)
    author = Author(SigningKey.from_seed(seed(90)), origin)
    log_key = NoteSigner.generate(origin, rng_seed=seed(91))
    witnesses = [WitnessSigner.generate(f"w{i}.example", rng_seed=seed(92 + i)) for i in range(2)]
    log.append_many(
        [author.sign("demo.note", {"n": i}, time=t * 1_000_000 + i) for i, t in enumerate(times_s)]
    )
    notes = []
    for size, stamps in checkpoints:
        note = sign_note(
            Checkpoint(origin=origin, size=size, root=log.root(size)).to_text(), [log_key]
        )
        for w, stamp in zip(witnesses, stamps, strict=True):
            note = cosign(note, w, stamp)
        notes.append(note)
    trust = Trust.create(
        origin=origin,
        authority_key=SigningKey.from_seed(seed(89)).public,
        log_key=log_key.vkey,
        witnesses=[w.vkey for w in witnesses],
        quorum=2,
    )
    entries = [log.get_bytes(i) for i in range(len(log))]
    return BytesSource(entries, notes, origin=origin), trust


def test_honest_times_are_clean() -> None:
    times = [T + 60 * i for i in range(10)]
    source, trust = _timed_log(times, [(5, [T + 300, T + 310]), (10, [T + 600, T + 900])])
    report = audit(source, trust, election=False)
    assert report.findings == () and report.clean


def test_entry_claiming_a_time_far_after_its_covering_checkpoint() -> None:
    times = [T + 60 * i for i in range(10)]
    times[3] = T + 2 * 3600  # two hours after the witnesses saw the tree holding it
    source, trust = _timed_log(times, [(5, [T + 300, T + 310]), (10, [T + 7300, T + 7300])])
    report = audit(source, trust, election=False)
    (finding,) = report.by_code(F.RULE_TIME_INCONSISTENT)
    assert finding.index == 3 and finding.severity is F.Severity.ERROR
    ev = finding.evidence
    assert ev["bound_kind"] == "not_after" and ev["checkpoint"] == 0 and ev["checkpoint_size"] == 5
    assert ev["claimed_time"] == times[3] * 1_000_000 + 3
    assert ev["cosignature_timestamp"] == T + 300  # the earliest cosignature
    assert ev["bound"] == (T + 300 + 900) * 1_000_000 and ev["tolerance_seconds"] == 900
    assert report.verdict == "findings"


def test_backdated_entry_after_a_checkpoint() -> None:
    times = [T + 60 * i for i in range(10)]
    times[7] = T - 2 * 3600  # claims a time two hours before the previous checkpoint
    source, trust = _timed_log(times, [(5, [T + 300, T + 330]), (10, [T + 600, T + 600])])
    report = audit(source, trust, election=False)
    (finding,) = report.by_code(F.RULE_TIME_INCONSISTENT)
    assert finding.index == 7
    ev = finding.evidence
    assert ev["bound_kind"] == "not_before" and ev["checkpoint"] == 0
    assert ev["cosignature_timestamp"] == T + 330  # the latest cosignature of checkpoint 0
    assert ev["bound"] == (T + 330 - 900) * 1_000_000


def test_times_within_the_tolerance_and_in_the_unwitnessed_tail() -> None:
    times = [T + 60 * i for i in range(12)]
    times[4] = T + 300 + 899  # just within the tolerance after the covering cosignature
    times[6] = T + 330 - 899  # just within it before the previous checkpoint's
    times[11] = T - 3600  # in the unwitnessed tail, backdated: still bound from below
    source, trust = _timed_log(times, [(5, [T + 300, T + 330]), (10, [T + 900, T + 900])])
    report = audit(source, trust, election=False)
    assert [f.index for f in report.by_code(F.RULE_TIME_INCONSISTENT)] == [11]
    assert F.LOG_UNWITNESSED_TAIL in report.codes()


def test_generic_log_fixture_is_time_consistent() -> None:
    glog = build_generic()
    report = audit(glog.source(), glog.trust, election=False)
    assert report.clean and report.findings == ()


# --------------------------------------------------------------------------- phases


def test_phases_of_the_small_election_in_order() -> None:
    from electlog.election.progress import community_progress, election_progress
    from electlog.election.scenario import Scenario

    s = Scenario(0)
    seen: dict[str, list[str]] = {"c1": [], "c2": []}
    for name in Scenario.PHASES:
        getattr(s, name)()
        for cid, p in election_progress(s.e.state).items():
            if not seen[cid] or seen[cid][-1] != p.phase:
                seen[cid].append(p.phase)
    assert seen["c1"] == [
        "definition",
        "roll",
        "groups",
        "candidates",
        "counted",
        "results_declared",
    ]
    assert seen["c2"] == ["definition", "roll", "groups", "candidates", "results_declared"]
    done = community_progress(s.e.state, "c1")
    assert done.complete and done.round == 2 and done.pending == ()
    assert done.to_dict() == {
        "phase": "results_declared",
        "round": 2,
        "complete": True,
        "pending": [],
    }


def test_voting_and_counted_phases_from_cut_copies() -> None:
    el = build_election(0)
    opened = el.index_of("unit.opened", community="c2")
    declared = el.index_of("result.declared", community="c2")
    for cut, phase in ((opened + 1, "voting"), (declared, "counted")):
        note = el.note(cut, cut=True)
        report = audit(el.source(el.entries[:cut], [note]), el.trust, in_progress=True)
        assert report.communities["c2"]["phase"] == phase, cut
        assert report.verdict == "clean_in_progress", report.findings
        assert report.progress is not None and report.progress["phase"] in PHASES
        assert report.verdict_line().startswith("clean so far, up to ")


def test_group_election_started_but_undeclared_is_pending() -> None:
    el = build_election(0)
    entries = list(el.entries)
    del entries[el.index_of("group.result_declared", community="c2")]
    report = audit(el.source(entries, []), el.trust)
    pending = report.communities["c2"]["pending"]
    assert any("group election was started but never declared" in p for p in pending)
    assert report.communities["c2"]["complete"] is False


@pytest.mark.parametrize(("tolerance", "flagged"), [(900, False), (60, True)])
def test_witness_time_tolerance_comes_from_the_genesis_ruleset(
    tolerance: int, flagged: bool
) -> None:
    from electlog.election.rules import RuleSet
    from electlog.election.scenario import build_small_election

    log, keys, _ = build_small_election(0, rules=RuleSet(time_tolerance_seconds=tolerance))
    entries = [log.get_bytes(i) for i in range(len(log))]
    latest = max(Entry.from_bytes(d, verify=False).statement.time for d in entries)
    log_key = NoteSigner.generate(log.origin, rng_seed=seed(70))
    witness = WitnessSigner.generate("w.example", rng_seed=seed(71))
    text = Checkpoint(origin=log.origin, size=len(log), root=log.root()).to_text()
    # the witness's clock is 5 minutes behind the last claimed time
    note = cosign(sign_note(text, [log_key]), witness, latest // 1_000_000 - 300)
    trust = Trust.create(
        origin=log.origin,
        authority_key=keys.authority.public,
        log_key=log_key.vkey,
        witnesses=[witness.vkey],
        quorum=1,
    )
    report = audit(BytesSource(entries, [note], origin=log.origin), trust)
    found = report.by_code(F.RULE_TIME_INCONSISTENT)
    assert bool(found) is flagged
    assert all(f.evidence["tolerance_seconds"] == tolerance for f in found)
    assert report.clean is not flagged
