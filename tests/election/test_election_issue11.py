"""Issue 11 rules: claimed times per signer, phases by log order, accredited observers, the
frozen roll, per-round validity, counting batches, group voting close, unregistered write-ins.

Each test builds a one-community election directly (tests/issue11_support.py), breaks one rule
and checks the code, then the nearest variant that passes; audit tests replay the same log."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from electlog.audit import Severity, audit
from electlog.election import codes as C
from electlog.election.codes import RULES
from electlog.election.events import (
    BallotIssued,
    BallotRecorded,
    BoxMerged,
    BoxOpened,
    BoxSealed,
    ElectionEvent,
    GroupResultDeclared,
    GroupVotingClosed,
    HouseholdBallotCast,
    HouseholdBallotIssued,
    ObjectionDecided,
    ObjectionFiled,
    ObserverAccredited,
    ResultDeclared,
    UnitOpened,
    UnitRepRegistered,
    VoterRemoved,
)
from electlog.election.facade import Election
from electlog.election.state import GROUP_LEADER
from electlog.election.tally import VOID_TURNOUT, PostMarks
from electlog.errors import RuleViolation
from issue11_support import Mini, checkpointed

COVERED: set[str] = set()


def covers(*codes: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def deco(fn: Callable[..., None]) -> Callable[..., None]:
        COVERED.update(codes)
        return fn

    return deco


def refused(m: Mini, who: str, event: ElectionEvent, code: str, **kw: int) -> RuleViolation:
    """Submit ``event``; assert it is refused with ``code`` and nothing was appended."""
    size, before = len(m.log), m.e.state.state_hash()
    with pytest.raises(RuleViolation) as info:
        m.sub(who, event, **kw)
    assert info.value.code == code, str(info.value)
    assert len(m.log) == size
    assert m.e.state.state_hash() == before
    return info.value


def voted(m: Mini, n: int, unit: str = "u1") -> None:
    """Open ``unit`` with observer o1, issue ``n`` ballots, close it, open and count its box."""
    m.unit(unit, ("o1",))
    m.issue(unit, m.voters[:n])
    m.close(unit)
    m.open_box(f"{unit}-box")
    m.record(f"{unit}-box", n)


# --------------------------------------------------------------------------- 4b claimed times


@covers(C.TIME_INCONSISTENT)
def test_signer_time_never_goes_back() -> None:
    m = Mini(voters=3)
    late = m.now
    reg = m.registration("v99")
    size = len(m.log)
    with pytest.raises(RuleViolation) as info:
        m.e.submit(m.e.author(m.k["registrar"]), reg, time=late - 3_600_000_000)
    assert info.value.code == C.TIME_INCONSISTENT
    assert info.value.ids == (m.k["registrar"].key_id.hex()[:16],)
    assert len(m.log) == size
    # another signer is not bound by the registrar's clock; the same time again is fine
    m.e.submit(
        m.e.author(m.k["committee"]),
        ObserverAccredited(community="c1", observer="o1", organisation="u"),
        time=late - 3_600_000_000,
    )
    m.e.submit(m.e.author(m.k["registrar"]), reg, time=late)
    # the per-signer clock is rebuilt by a replay (apply only)
    again = Election.open(m.log, m.k["authority"].key_id).state
    assert again.last_time == m.e.state.last_time
    assert again.state_hash() == m.e.state.state_hash()
    assert again.last_time[m.k["registrar"].key_id] == late


# --------------------------------------------------------------------------- 4a phases by order


@covers(C.PHASE_OUT_OF_WINDOW)
def test_counting_closes_issuance_units_and_sealing_of_the_round() -> None:
    m = Mini(voters=30).until_vote()
    m.unit("u1", ("o1",))
    m.unit("u2", ("o2",))
    m.issue("u1", m.voters[:12])
    m.issue("u2", m.voters[12:14])
    m.close("u1")
    m.open_box("u1-box")
    # u2 is still open, but the round's counting began: no ballot, no box, no new unit
    v = refused(m, "polling", BallotIssued(unit="u2", voter="v20"), C.PHASE_OUT_OF_WINDOW)
    assert "counting" in str(v)
    refused(m, "polling", BoxSealed(unit="u2", box="u2-box2"), C.PHASE_OUT_OF_WINDOW)
    late_unit = UnitOpened(unit="u3", community="c1", round=1, kind="station", observers=("o3",))
    refused(m, "polling", late_unit, C.PHASE_OUT_OF_WINDOW)
    # the same acts before the first box.opened are accepted
    m2 = Mini(voters=30).until_vote()
    m2.unit("u1", ("o1",))
    m2.unit("u2", ("o2",))
    m2.issue("u2", ["v20"])
    m2.sub("polling", BoxSealed(unit="u2", box="u2-box2"))
    m2.sub("polling", late_unit)


# --------------------------------------------------------------------------- 4c observers


@covers(C.OBSERVER_NOT_ACCREDITED)
def test_observers_must_be_accredited_before_they_are_named() -> None:
    m = Mini(voters=30)
    m.publish_roll()
    m.candidates()
    m.accredit(("o1", "o5"))
    ghost = UnitOpened(unit="u1", community="c1", round=1, kind="main", observers=("ghost-1",))
    v = refused(m, "polling", ghost, C.OBSERVER_NOT_ACCREDITED, day=0, hour=8)
    assert v.ids == ("ghost-1",)
    m.unit("u1", ("o1",))
    m.issue("u1", m.voters[:12])
    m.close("u1")
    refused(
        m, "counting", BoxOpened(box="u1-box", observers=("ghost-2",)), C.OBSERVER_NOT_ACCREDITED
    )
    m.open_box("u1-box", ("o5",))


@covers(C.OBSERVER_BUSY)
def test_an_observer_watches_one_open_unit_at_a_time() -> None:
    m = Mini(voters=30).until_vote()
    m.unit("u1", ("o1", "o2"))
    second = UnitOpened(unit="u2", community="c1", round=1, kind="station", observers=("o2",))
    v = refused(m, "polling", second, C.OBSERVER_BUSY)
    assert v.ids == ("o2",)
    m.issue("u1", m.voters[:3])
    m.close("u1")
    m.sub("polling", second)  # o2 is free once u1 closed


@covers(C.UNIT_OBSERVER_IS_CANDIDATE)
def test_an_accredited_observer_is_never_a_candidate() -> None:
    m = Mini(voters=30)
    m.publish_roll()
    # a nominee who is an accredited observer cannot be listed
    m.accredit(("v01",))
    with pytest.raises(RuleViolation) as info:
        m.candidates()
    assert info.value.code == C.UNIT_OBSERVER_IS_CANDIDATE and info.value.ids == ("v01",)
    # and a listed candidate cannot be accredited
    m2 = Mini(voters=30)
    m2.publish_roll()
    m2.candidates()
    acc = ObserverAccredited(community="c1", observer="v00", organisation="x")
    refused(m2, "committee", acc, C.UNIT_OBSERVER_IS_CANDIDATE)


# --------------------------------------------------------------------------- 5 the roll


def _frozen_case() -> Mini:
    m = Mini(voters=20)
    m.publish_roll()
    m.sub(
        "committee",
        ObjectionFiled(
            objection="ob1", community="c1", voter="v05", kind="wrongful_inclusion", grounds="g"
        ),
        day=-24,
    )
    m.sub(
        "committee",
        ObjectionDecided(objection="ob1", community="c1", upheld=True, reason="moved away"),
    )
    m.candidates()
    m.accredit()
    return m


@covers(C.ROLL_FROZEN)
def test_roll_frozen_refuses_removal_registration_and_reps() -> None:
    m = _frozen_case()
    m.unit("u1", ("o1",))
    m.issue("u1", ["v00"])
    removal = VoterRemoved(voter="v05", community="c1", reason="objection_upheld", objection="ob1")
    v = refused(m, "registrar", removal, C.ROLL_FROZEN)
    assert v.ids == ("v05",)
    refused(m, "registrar", m.registration("v77"), C.ROLL_FROZEN)
    rep = UnitRepRegistered(rep="rep9", community="c1", organisation="company")
    refused(m, "registrar", rep, C.ROLL_FROZEN)
    # the same removal before the first ballot is accepted
    m2 = _frozen_case()
    m2.sub("registrar", removal)


@covers(C.VOTER_REMOVAL_AFTER_ROLL_WITHOUT_OBJECTION)
def test_after_publication_only_an_upheld_objection_removes() -> None:
    m = _frozen_case()
    v = refused(
        m,
        "registrar",
        VoterRemoved(voter="v06", community="c1", reason="moved_out"),
        C.VOTER_REMOVAL_AFTER_ROLL_WITHOUT_OBJECTION,
    )
    assert v.ids == ("v06",)
    rep = UnitRepRegistered(rep="rep1", community="c1", organisation="company")
    refused(m, "registrar", rep, C.REGISTRATION_AFTER_ROLL_WITHOUT_OBJECTION)
    m.sub(
        "registrar",
        VoterRemoved(voter="v05", community="c1", reason="objection_upheld", objection="ob1"),
    )
    # before publication any accepted reason removes, and reps register
    m2 = Mini(voters=5)
    m2.sub("registrar", VoterRemoved(voter="v04", community="c1", reason="moved_out"))
    m2.sub("registrar", rep)


def test_turnout_denominator_is_the_roll_frozen_at_first_issuance() -> None:
    # 10 of 20 voted (void: not more than half); a late removal of a non-voter (forced into
    # the log by an insider) must not turn it into 10 of 19 for the writer nor the auditor
    m = Mini(voters=20).until_vote()
    m.unit("u1", ("o1",))
    m.issue("u1", m.voters[:10])
    m.close("u1")
    m.open_box("u1-box")
    m.record("u1-box", 10)
    m.force("registrar", VoterRemoved(voter="v19", community="c1", reason="died"))
    assert m.e.state.roll_size("c1") == 19
    result = m.e.state.result("c1", 1)
    assert result.registered == 20
    assert result.round_void and result.void_reason == VOID_TURNOUT
    assert m.e.state.round("c1", 1).registered == 20
    again = Election.open(m.log, m.k["authority"].key_id).state
    assert again.result("c1", 1).registered == 20
    source, trust = checkpointed(m)
    report = audit(source, trust)
    assert "rule.roll.frozen" in report.codes()
    assert report.tallies["c1"]["rounds"]["1"]["result"]["round_void"] is True


# --------------------------------------------------------------------------- 6 round validity


def _two_units(over: int, under: int) -> Mini:
    """u1: 12 issued, 12 + over recorded; u2: 12 issued, 12 - under recorded."""
    m = Mini(voters=30).until_vote()
    m.unit("u1", ("o1",))
    m.unit("u2", ("o2",))
    m.issue("u1", m.voters[:12])
    m.issue("u2", m.voters[12:24])
    m.close("u1")
    m.close("u2")
    m.open_box("u1-box")
    m.open_box("u2-box")
    m.record("u1-box", 12 + over)
    m.record("u2-box", 12 - under, start=100)
    return m


def test_one_batch_over_returned_another_under_the_round_is_valid_everywhere() -> None:
    m = _two_units(over=2, under=3)
    result = m.e.tally("c1", 1)
    assert not result.round_void and result.returned == 23 and result.issued == 24
    assert result.posts["director"].elected == ("v00",)
    m.sub("committee", ResultDeclared(community="c1", round=1, result=result.to_dict()))
    report = audit(*checkpointed(m))
    warnings = report.by_code("rule.unit.returned_exceeds_issued")
    assert len(warnings) == 1
    w = warnings[0]
    assert w.severity is Severity.WARNING
    assert "void" not in w.message.replace("decide whether it is void", "")
    assert w.evidence["units"] == ["u1"] and (w.evidence["issued"], w.evidence["recorded"]) == (
        12,
        14,
    )
    assert all(f.severity is not Severity.ERROR for f in report.findings), report.codes()
    tally = report.tallies["c1"]["rounds"]["1"]
    assert tally["matches_declared"] is True and tally["result"]["round_void"] is False
    assert RULES[C.UNIT_RETURNED_EXCEEDS_ISSUED].kind == "finding"


def test_round_total_over_returned_is_void_for_writer_and_auditor() -> None:
    m = _two_units(over=3, under=1)
    result = m.e.tally("c1", 1)
    assert result.round_void and result.returned == 26 and result.issued == 24
    m.sub("committee", ResultDeclared(community="c1", round=1, result=result.to_dict()))
    report = audit(*checkpointed(m))
    assert report.tallies["c1"]["rounds"]["1"]["result"]["round_void"] is True
    assert report.tallies["c1"]["rounds"]["1"]["matches_declared"] is True
    assert [f.severity for f in report.by_code("rule.unit.returned_exceeds_issued")] == [
        Severity.WARNING
    ]


# --------------------------------------------------------------------------- 7 counting batches


@covers(C.BOX_SMALL_BATCH)
def test_a_small_box_is_merged_before_it_is_counted() -> None:
    m = Mini(voters=30).until_vote()
    m.unit("main", ("o1",))
    m.unit("mobile", ("o2",), kind="mobile")
    m.issue("main", m.voters[:12])
    m.issue("mobile", m.voters[12:16])
    m.close("main")
    m.close("mobile")
    v = refused(m, "counting", BoxOpened(box="mobile-box", observers=("o5",)), C.BOX_SMALL_BATCH)
    assert v.ids == ("mobile-box",)
    # a merge may not go into itself, nor into an opened box
    refused(m, "counting", BoxMerged(box="mobile-box", into="mobile-box"), C.BOX_SEQUENCE)
    m.sub("counting", BoxMerged(box="mobile-box", into="main-box"))
    assert m.e.state.batch_issued("main-box") == 16
    refused(m, "counting", BoxOpened(box="mobile-box", observers=("o5",)), C.BOX_SEQUENCE)
    m.open_box("main-box")
    m.record("main-box", 16)
    rec = BallotRecorded(
        box="mobile-box", serial=b"\xee" * 16, marks={"director": PostMarks(in_favour=("v00",))}
    )
    refused(m, "counting", rec, C.BOX_SEQUENCE)
    result = m.e.tally("c1", 1)
    m.sub("committee", ResultDeclared(community="c1", round=1, result=result.to_dict()))
    report = audit(*checkpointed(m))
    assert report.findings == () or all(
        f.severity is not Severity.ERROR for f in report.findings
    ), report.codes()
    r1 = report.tallies["c1"]["rounds"]["1"]
    assert r1["batches"] == {
        "main-box": {"units": ["main", "mobile"], "issued": 16, "recorded": 16}
    }
    assert r1["smallest_anonymity_set"] == 16


def test_auditor_reports_a_small_batch_counted() -> None:
    m = Mini(voters=30).until_vote()
    m.unit("main", ("o1",))
    m.unit("mobile", ("o2",), kind="mobile")
    m.issue("main", m.voters[:12])
    m.issue("mobile", m.voters[12:16])
    m.close("main")
    m.close("mobile")
    m.open_box("main-box")
    m.force("counting", BoxOpened(box="mobile-box", observers=("o5",)))
    m.record("main-box", 12)
    m.record("mobile-box", 4, start=50, for_="v01")
    report = audit(*checkpointed(m))
    assert "rule.box.small_batch" in report.codes()
    small = report.by_code("secrecy.small_batch")
    assert len(small) == 1 and small[0].severity is Severity.ERROR
    assert small[0].evidence["box"] == "mobile-box" and small[0].evidence["issued"] == 4
    r1 = report.tallies["c1"]["rounds"]["1"]
    assert r1["smallest_anonymity_set"] == 4
    assert r1["batches"]["mobile-box"] == {"units": ["mobile"], "issued": 4, "recorded": 4}


# --------------------------------------------------------------------------- 8 group voting close


def test_household_ballots_are_cast_only_after_the_group_voting_closed() -> None:
    m = Mini(voters=6)
    m.publish_roll()
    m.sub("polling", HouseholdBallotIssued(community="c1", group="g1", household="hv00"))
    m.sub("polling", HouseholdBallotIssued(community="c1", group="g1", household="hv01"))
    marks = {GROUP_LEADER: PostMarks(write_ins=("v02",))}
    cast = HouseholdBallotCast(community="c1", group="g1", serial=b"\x01" * 16, marks=marks)
    v = refused(m, "counting", cast, C.PHASE_OUT_OF_WINDOW)
    assert "before" in str(v)
    early = GroupResultDeclared(
        community="c1", group="g1", result=m.e.state.group_result("c1", "g1").to_dict()
    )
    refused(m, "committee", early, C.PHASE_OUT_OF_WINDOW)
    m.sub("polling", GroupVotingClosed(community="c1", group="g1"))
    refused(m, "polling", GroupVotingClosed(community="c1", group="g1"), C.REF_DUPLICATE)
    late = HouseholdBallotIssued(community="c1", group="g1", household="hv03")
    refused(m, "polling", late, C.PHASE_OUT_OF_WINDOW)
    m.sub("counting", cast)
    m.sub(
        "committee",
        GroupResultDeclared(
            community="c1", group="g1", result=m.e.state.group_result("c1", "g1").to_dict()
        ),
    )


# --------------------------------------------------------------------------- 9 write-ins


@covers(C.WRITEIN_NOT_REGISTERED)
def test_a_writein_naming_no_voter_is_recorded_as_a_void_post_only() -> None:
    m = Mini(voters=30).until_vote()
    m.unit("u1", ("o1",))
    m.issue("u1", m.voters[:12])
    m.close("u1")
    m.open_box("u1-box")
    receipt = {"director": PostMarks(write_ins=("coerced-receipt-7731",))}
    bad = BallotRecorded(box="u1-box", serial=b"\x01" * 16, marks=receipt)
    v = refused(m, "counting", bad, C.WRITEIN_NOT_REGISTERED)
    assert "coerced" not in str(v)
    void = {"director": PostMarks(void="writein_not_registered")}
    m.sub("counting", BallotRecorded(box="u1-box", serial=b"\x01" * 16, marks=void))
    m.record("u1-box", 11, start=10)
    result = m.e.tally("c1", 1)
    assert result.posts["director"].void_ballots == 1
    assert result.posts["director"].valid_ballots == 11
    assert m.e.state.round("c1", 1).void_writeins == 1
    # group elections: a write-in of someone outside the group's roll is refused too
    m2 = Mini(voters=6)
    m2.publish_roll()
    m2.sub("polling", HouseholdBallotIssued(community="c1", group="g1", household="hv00"))
    m2.sub("polling", GroupVotingClosed(community="c1", group="g1"))
    stranger = {GROUP_LEADER: PostMarks(write_ins=("nobody",))}
    refused(
        m2,
        "counting",
        HouseholdBallotCast(community="c1", group="g1", serial=b"\x02" * 16, marks=stranger),
        C.WRITEIN_NOT_REGISTERED,
    )
    assert RULES[C.WRITEIN_NOT_REGISTERED].kind == "violation"
