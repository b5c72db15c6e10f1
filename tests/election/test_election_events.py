"""Election event schemas: round trips, strict decoding, secrecy by schema, the RuleSet."""

from __future__ import annotations

import datetime as dt
import re
from fractions import Fraction
from typing import Any

import attrs
import pytest

from electlog.codec import decode, encode
from electlog.election.events import (
    EVENT_TYPES,
    AssertionRisk,
    AuditBallotInterpreted,
    AuditBoxCounted,
    AuditConcluded,
    AuditDeclared,
    AuditedRound,
    AuditRoundClosed,
    AuditSampleDrawn,
    AuditSeedDrawn,
    BallotIssued,
    BallotRecorded,
    BoxMerged,
    BoxOpened,
    BoxSealed,
    BoxTransferred,
    CandidatesPublished,
    CommitteeMemberAppointed,
    CommitteeMemberWithdrawn,
    CommitteeVacancyFilled,
    ElectionEvent,
    EligibilitySampleChecked,
    EligibilitySampleDrawn,
    GroupResultDeclared,
    GroupVotingClosed,
    HouseholdBallotCast,
    HouseholdBallotIssued,
    KeyAuthorised,
    KeyRevoked,
    NominationFiled,
    NominationWithdrawn,
    ObjectionDecided,
    ObjectionFiled,
    ObserverAccredited,
    PostList,
    ProxyAuthorised,
    ProxyListPublished,
    ResultDeclared,
    RollPublished,
    RoundCalled,
    UnitClosed,
    UnitOpened,
    UnitRepRegistered,
    VettingDecided,
    VoterRegistered,
    VoterRemoved,
    decode_event,
    has_marks,
    identifying_fields,
)
from electlog.election.rules import RuleSet
from electlog.election.scenario import Scenario
from electlog.election.tally import PostMarks, TallyRules
from electlog.errors import EntryError, UsageError
from electlog.events import Author, Statement
from electlog.keys import SigningKey

H = b"\x11" * 32


def samples() -> dict[str, ElectionEvent]:
    s = Scenario(3)
    marks = {
        "director": PostMarks(in_favour=("a",), against=(), write_ins=()),
        "member": PostMarks(in_favour=("b", "c"), against=("d",), write_ins=("e",)),
    }
    pl = PostList(post="member", seats=2, candidates=("b", "c", "d"))
    events: list[ElectionEvent] = [
        s.definition(),
        KeyAuthorised(key_id=H, role="registrar", scope=("c1",), label="desk 1"),
        KeyRevoked(key_id=H, reason="lost"),
        CommitteeMemberAppointed(community="c1", member="m1", appointed_by="street office"),
        CommitteeMemberWithdrawn(community="c1", member="m1", reason="nominated"),
        CommitteeVacancyFilled(community="c1", member="m2", replaces="m1", appointed_by="office"),
        s.registration("v1", "c1", "g1", "h1"),
        VoterRemoved(voter="v1", community="c1", reason="died", objection=None),
        RollPublished(community="c1", size=3, roll_hash=H),
        ObjectionFiled(objection="o1", community="c1", voter="v1", kind="omission", grounds="g"),
        ObjectionDecided(objection="o1", community="c1", upheld=True, reason="r"),
        UnitRepRegistered(rep="r1", community="c1", organisation="school"),
        ObserverAccredited(community="c1", observer="o1", organisation="university"),
        GroupVotingClosed(community="c1", group="g1"),
        HouseholdBallotIssued(community="c1", group="g1", household="h1"),
        HouseholdBallotCast(community="c1", group="g1", serial=b"\x01" * 16, marks=marks),
        GroupResultDeclared(community="c1", group="g1", result={"returned": 1}),
        NominationFiled(
            nomination="n1", community="c1", post="member", candidate="b", nominators=("x", "y")
        ),
        NominationWithdrawn(community="c1", post="member", candidate="b", reason="ill"),
        VettingDecided(community="c1", candidate="b", approved=False, criteria_ref="c", reason="r"),
        CandidatesPublished(community="c1", posts=(pl,)),
        ProxyAuthorised(
            community="c1", principal="p", proxy="q", relationship="spouse", attestation=H
        ),
        ProxyListPublished(community="c1", count=1, list_hash=H),
        UnitOpened(unit="u1", community="c1", round=1, kind="mobile", observers=("o1", "o2")),
        UnitClosed(unit="u1"),
        BoxSealed(unit="u1", box="b1"),
        BoxTransferred(box="b1", to_unit="u2"),
        BoxMerged(box="b2", into="b1"),
        BoxOpened(box="b1", observers=("o1",)),
        BallotIssued(unit="u1", voter="v1", proxy_for="v2"),
        BallotRecorded(box="b1", serial=b"\x02" * 16, marks=marks),
        ResultDeclared(community="c1", round=1, result={"posts": {}, "returned": 0}),
        RoundCalled(community="c1", round=2, source_round=1, kind="supplementary", posts=(pl,)),
        AuditDeclared(
            rounds=(AuditedRound(community="c1", round=1),),
            method="comparison",
            risk_limit="0.05",
            test="kaplan_markov",
            replacement=True,
            checkpoint_size=10,
            checkpoint_root=H,
            manifest_hash=H,
        ),
        AuditBoxCounted(community="c1", round=1, box="b1", sheets=3),
        AuditSeedDrawn(seed="01382438112797316654"),
        AuditSampleDrawn(community="c1", round=1, audit_round=1, drop=0, ballots=("b1#2", "b1#2")),
        AuditBallotInterpreted(
            community="c1",
            round=1,
            ballot="b1#2",
            not_found=False,
            marks=marks,
            members=("m1", "m2"),
        ),
        AuditRoundClosed(
            community="c1",
            round=1,
            audit_round=1,
            sampled=2,
            risks=(AssertionRisk(assertion="d:elected:a", p_value="0.5", o1=0, o2=0, u1=0, u2=0),),
            confirmed=False,
        ),
        AuditConcluded(community="c1", round=1, outcome="full_hand_count"),
        EligibilitySampleDrawn(
            checkpoint_size=3, checkpoint_root=H, roll_size=4, seed="27182", voters=("v2", "v1")
        ),
        EligibilitySampleChecked(seed="27182", checked=2, failures=("v1",), members=("m1", "m2")),
    ]
    return {e.TYPE: e for e in events}


SAMPLES = samples()


def test_every_event_type_has_a_sample_and_stable_names() -> None:
    assert set(SAMPLES) == set(EVENT_TYPES)
    for name, cls in EVENT_TYPES.items():
        assert name == cls.TYPE and cls.SCHEMA == 1
        assert name.count(".") == 1 and name == name.lower()


@pytest.mark.parametrize("type_name", sorted(EVENT_TYPES))
def test_round_trip_through_the_canonical_codec(type_name: str) -> None:
    event = SAMPLES[type_name]
    body = event.to_body()
    wire = encode(body)
    back = type(event).from_body(decode(wire))  # type: ignore[arg-type]
    assert back == event
    assert encode(back.to_body()) == wire


def _wrong(value: Any) -> Any:
    if isinstance(value, bool):
        return 1
    if isinstance(value, int):
        return "7"
    if isinstance(value, str):
        return 7
    if isinstance(value, bytes):
        return "not bytes"
    if value is None:
        return b"\x00"
    return "not a container"


@pytest.mark.parametrize("type_name", sorted(EVENT_TYPES))
def test_strict_fields_missing_extra_wrong(type_name: str) -> None:
    cls = EVENT_TYPES[type_name]
    body = SAMPLES[type_name].to_body()
    for field in body:
        missing = {k: v for k, v in body.items() if k != field}
        with pytest.raises(EntryError, match=re.escape(type_name)) as info:
            cls.from_body(missing)
        assert field in str(info.value)
        wrong = {**body, field: _wrong(body[field])}
        with pytest.raises(EntryError, match=re.escape(type_name)) as info:
            cls.from_body(wrong)
        assert field in str(info.value)
    with pytest.raises(EntryError, match="unexpected") as info:
        cls.from_body({**body, "zz_extra": 1})
    assert "zz_extra" in str(info.value) and type_name in str(info.value)


def test_id_text_and_date_rules() -> None:
    body = SAMPLES["voter.registered"].to_body()
    for bad in ("", "has space", "tab\t", "x" * 65):
        with pytest.raises(EntryError, match="voter"):
            VoterRegistered.from_body({**body, "voter": bad})
    for bad in ("2026-5-17", "20260517", "2026-02-30", "2026-W01-1", "2026-05-17T00"):
        with pytest.raises(EntryError, match="birth_date"):
            VoterRegistered.from_body({**body, "birth_date": bad})
    with pytest.raises(EntryError, match="basis"):
        VoterRegistered.from_body({**body, "basis": "tourist"})
    with pytest.raises(EntryError, match="commitment"):
        VoterRegistered.from_body({**body, "commitment": b"\x00" * 31})
    ok = VoterRegistered.from_body({**body, "birth_date": "2000-02-29"})
    assert ok.birth_date == dt.date(2000, 2, 29)


def test_marks_are_strict() -> None:
    body = SAMPLES["ballot.recorded"].to_body()
    member = body["marks"]["member"]
    cases = [
        {**member, "for": ["c", "b"]},  # unsorted
        {**member, "for": ["b", "b"]},  # repeated
        {k: v for k, v in member.items() if k != "against"},  # missing column
        {**member, "abstain": []},  # unknown column
        {**member, "write_ins": [""]},  # empty id
        {**member, "for": "b"},  # not an array
    ]
    for bad in cases:
        with pytest.raises(EntryError, match=r"ballot\.recorded\.marks\.member"):
            BallotRecorded.from_body({**body, "marks": {**body["marks"], "member": bad}})
    with pytest.raises(EntryError, match="post id"):
        BallotRecorded.from_body({**body, "marks": {"": member}})


def test_decode_event_from_signed_statement() -> None:
    key = SigningKey.from_seed(b"\x05" * 32)
    author = Author(key, "example.org/log")
    ev = SAMPLES["ballot.issued"]
    entry = author.sign(ev.TYPE, ev.to_body(), time=1, schema=ev.SCHEMA)
    assert decode_event(entry.statement) == ev
    st = entry.statement
    with pytest.raises(EntryError, match="unknown election event type"):
        decode_event(attrs.evolve(st, type="ballot.stuffed"))
    with pytest.raises(EntryError, match="schema version 2"):
        decode_event(attrs.evolve(st, schema=2))
    with pytest.raises(EntryError, match=r"ballot\.issued"):
        decode_event(attrs.evolve(st, body={**st.body, "marks": {}}))
    assert isinstance(st, Statement)


def test_secrecy_by_schema() -> None:
    for cls in EVENT_TYPES.values():
        assert not (identifying_fields(cls) and has_marks(cls)), cls.TYPE
    # the schema marks really are in place: issuance names the voter, the ballot has marks
    assert identifying_fields(BallotIssued) == ("voter", "proxy_for")
    assert has_marks(BallotRecorded) and identifying_fields(BallotRecorded) == ()
    assert has_marks(HouseholdBallotCast) and identifying_fields(HouseholdBallotCast) == ()
    assert "household" in identifying_fields(HouseholdBallotIssued)
    # no shared identifier but the unit/box: issuance has no serial, the ballot no voter
    assert not set(attrs.fields_dict(BallotIssued)) & {"serial", "marks"}
    assert set(attrs.fields_dict(BallotRecorded)) == {"box", "serial", "marks"}


# --------------------------------------------------------------------------- RuleSet


def test_ruleset_defaults_round_trip_and_hash() -> None:
    r = RuleSet()
    assert (r.min_age, r.roll_days_before, r.objection_days, r.objection_decision_days) == (
        18,
        20,
        5,
        3,
    )
    assert (r.committee_min, r.committee_max, r.proxy_cap, r.min_observers) == (7, 9, 3, 3)
    assert r.candidates_days_before == 5 and r.min_candidate_excess == 1
    assert r.tz_offset_minutes == 480 and r.nominator_limit_for(3) == 3
    assert r.tally == TallyRules()
    body = r.to_body()
    assert RuleSet.from_body(decode(encode(body))) == r  # type: ignore[arg-type]
    assert len(r.hash()) == 32 and r.hash() == RuleSet().hash()
    seen = {r.hash()}
    for change in (
        {"min_age": 16},
        {"proxy_cap": 2},
        {"nominator_limit": 1},
        {"tz_offset_minutes": 0},
        {"removal_reasons": ("died",)},
        {"tally": TallyRules(majority=Fraction(2, 3))},
        {"tally": TallyRules(combined_ballot=True)},
        {"post_candidate_excess": {"member": 2}},
    ):
        h = attrs.evolve(r, **change).hash()  # type: ignore[arg-type]
        assert h not in seen
        seen.add(h)


def test_ruleset_from_body_is_strict() -> None:
    body = RuleSet().to_body()
    for bad, match in (
        ({**body, "majority": "2/4"}, "lowest terms"),
        ({**body, "majority": "1/0"}, "zero denominator"),
        ({**body, "majority": "0.5"}, "num/den"),
        ({**body, "majority": "3/2"}, "between 0 and 1"),
        ({**body, "min_age": True}, "min_age"),
        ({**body, "min_age": -1}, "min_age"),
        ({**body, "eligible_bases": ["alien"]}, "unknown bases"),
        ({**body, "tz_offset_minutes": 1440}, "tz_offset_minutes"),
        ({**body, "combined_ballot": 0}, "combined_ballot"),
        ({k: v for k, v in body.items() if k != "proxy_cap"}, "proxy_cap"),
        ({**body, "extra": 1}, "extra"),
        ({**body, "post_candidate_excess": {"member": "2"}}, "post_candidate_excess"),
        ({**body, "post_candidate_excess": {"member": -1}}, "post_candidate_excess"),
    ):
        with pytest.raises(EntryError, match=match):
            RuleSet.from_body(bad)


def test_ruleset_constructor_rejects_nonsense() -> None:
    with pytest.raises(UsageError):
        RuleSet(committee_min=10, committee_max=9)
    with pytest.raises(UsageError):
        RuleSet(proxy_cap=-1)
    with pytest.raises(UsageError):
        RuleSet(eligible_bases=("local_resident", "alien"))


def test_void_post_body_is_strict() -> None:
    void = {"director": PostMarks(void="writein_not_registered")}
    ev = BallotRecorded(box="b1", serial=b"\x01" * 16, marks=void)
    body = ev.to_body()
    assert body["marks"] == {"director": {"void": "writein_not_registered"}}
    assert BallotRecorded.from_body(body) == ev
    for bad in (
        {"void": "free text"},
        {"void": None},
        {"void": "writein_not_registered", "for": []},
        {"void": "writein_not_registered", "against": [], "for": [], "write_ins": []},
    ):
        with pytest.raises(EntryError) as info:
            BallotRecorded.from_body({**body, "marks": {"director": bad}})
        assert "ballot.recorded.marks.director" in str(info.value)
    mixed = {"director": PostMarks(write_ins=("x",), void="writein_not_registered")}
    with pytest.raises(EntryError):
        BallotRecorded(box="b1", serial=b"\x01" * 16, marks=mixed).to_body()
    unknown = {"director": PostMarks(void="other")}
    with pytest.raises(EntryError):
        BallotRecorded(box="b1", serial=b"\x01" * 16, marks=unknown).to_body()


def test_issue11_ruleset_parameters_are_validated_and_hashed() -> None:
    base = RuleSet()
    assert (base.min_count_batch, base.time_tolerance_seconds) == (10, 900)
    body = base.to_body()
    assert body["min_count_batch"] == 10 and body["time_tolerance_seconds"] == 900
    for name in ("min_count_batch", "time_tolerance_seconds"):
        with pytest.raises(UsageError):
            RuleSet(**{name: -1})
        with pytest.raises(EntryError):
            RuleSet.from_body({**body, name: "10"})
        assert attrs.evolve(base, **{name: 5}).hash() != base.hash()
    assert RuleSet.from_body(body) == base
