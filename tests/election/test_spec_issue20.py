"""Issue 20: where an independent verifier and electlog disagreed, and what docs/election.md
left open. Each ruling of election.md's "Rulings on what the rules leave open" has a test here,
through the Election facade (the writer refuses it, nothing appended) and, where the auditor
reports it, through ``audit`` on a log that holds the event anyway (appended by an insider,
``Mini.force``). The last tests check the documented code tables against the code."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from electlog.audit import FINDINGS, all_codes, audit
from electlog.audit import findings as F
from electlog.election import codes as C
from electlog.election.codes import RULES
from electlog.election.events import (
    BoxMerged,
    BoxSealed,
    BoxTransferred,
    CandidatesPublished,
    CommitteeMemberAppointed,
    CommitteeMemberWithdrawn,
    CommitteeVacancyFilled,
    CommunityDef,
    ElectionDefined,
    ElectionEvent,
    HouseholdBallotIssued,
    KeyAuthorised,
    NominationFiled,
    NominationWithdrawn,
    ObjectionDecided,
    ObjectionFiled,
    ObserverAccredited,
    PostDef,
    PostList,
    ProxyAuthorised,
    ProxyListPublished,
    ResultDeclared,
    RollPublished,
    UnitOpened,
    UnitRepRegistered,
    VettingDecided,
    VoterRegistered,
    VoterRemoved,
)
from electlog.election.facade import Election
from electlog.election.receipts import commitment, dedup_tag
from electlog.election.rules import RuleSet
from electlog.election.scenario import UNIT_OBSERVERS, Scenario
from electlog.errors import EntryError, RuleViolation
from electlog.events import Author
from electlog.log import Log
from issue11_support import Mini, at, checkpointed, key

ROOT = Path(__file__).resolve().parents[2]
ELECTION_DOC = (ROOT / "docs" / "election.md").read_text(encoding="utf-8")
AUDITING_DOC = (ROOT / "docs" / "auditing.md").read_text(encoding="utf-8")

PROVOKED: set[str] = set()
"""Rule codes this module provokes through the writer (collected at import by ``provokes``)."""


def provokes(*codes: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def deco(fn: Callable[..., None]) -> Callable[..., None]:
        PROVOKED.update(codes)
        return fn

    return deco


def refused(m: Mini, who: str, event: ElectionEvent, code: str, **kw: int) -> RuleViolation:
    """Submit ``event``; assert it is refused with ``code`` and nothing changed."""
    size, before = len(m.log), m.e.state.state_hash()
    with pytest.raises(RuleViolation) as info:
        m.sub(who, event, **kw)
    assert info.value.code == code, str(info.value)
    assert len(m.log) == size and m.e.state.state_hash() == before
    return info.value


def audited_codes(m: Mini) -> set[str]:
    return set(audit(*checkpointed(m)).codes())


def objection(m: Mini, oid: str, voter: str, kind: str, upheld: bool = True) -> None:
    m.sub(
        "committee",
        ObjectionFiled(objection=oid, community="c1", voter=voter, kind=kind, grounds="g"),
        day=-24,
    )
    m.sub("committee", ObjectionDecided(objection=oid, community="c1", upheld=upheld, reason="r"))


def nominate(m: Mini, nid: str, candidate: str, nominators: tuple[str, ...] = ("v10",)) -> None:
    m.sub(
        "committee",
        NominationFiled(
            nomination=nid,
            community="c1",
            post="director",
            candidate=candidate,
            nominators=nominators,
        ),
        day=-24,
    )


def vet(m: Mini, candidate: str, approved: bool = True) -> None:
    m.sub(
        "vetting",
        VettingDecided(
            community="c1", candidate=candidate, approved=approved, criteria_ref="a1", reason="r"
        ),
    )


def candidate_list(*candidates: str) -> CandidatesPublished:
    return CandidatesPublished(
        community="c1", posts=(PostList(post="director", seats=1, candidates=candidates),)
    )


# =========================================================================== disagreements


@provokes(C.REGISTRATION_AFTER_ROLL_WITHOUT_OBJECTION, C.VOTER_REMOVAL_AFTER_ROLL_WITHOUT_OBJECTION)
def test_1_unit_rep_and_removal_for_died_after_publication() -> None:
    m = Mini(voters=5)
    m.publish_roll()
    rep = UnitRepRegistered(rep="rep1", community="c1", organisation="company")
    refused(m, "registrar", rep, C.REGISTRATION_AFTER_ROLL_WITHOUT_OBJECTION)
    died = VoterRemoved(voter="v03", community="c1", reason="died")
    refused(m, "registrar", died, C.VOTER_REMOVAL_AFTER_ROLL_WITHOUT_OBJECTION)
    m.force("registrar", rep)
    m.force("registrar", died)
    codes = audited_codes(m)
    assert "rule.registration.after_roll_without_objection" in codes
    assert "rule.voter.removal_after_roll_without_objection" in codes


def _committee(m: Mini, n: int) -> None:
    for i in range(n):
        m.sub(
            "authority",
            CommitteeMemberAppointed(community="c1", member=f"m{i}", appointed_by="office"),
            day=-39,
        )


@provokes(C.COMMITTEE_SIZE)
def test_2_committee_size_holds_at_every_publication() -> None:
    m = Mini(voters=5, rules=RuleSet(committee_min=7, min_observers=1, public_profile="full"))
    _committee(m, 6)
    size = m.e.state.roll_size("c1")
    first = RollPublished(community="c1", size=size, roll_hash=m.e.state.roll_hash("c1"))
    refused(m, "registrar", first, C.COMMITTEE_SIZE, day=-25)
    m.sub("authority", CommitteeMemberAppointed(community="c1", member="m6", appointed_by="office"))
    m.publish_roll()
    m.sub("authority", CommitteeMemberWithdrawn(community="c1", member="m0", reason="candidate"))
    again = RollPublished(community="c1", size=size, roll_hash=m.e.state.roll_hash("c1"))
    v = refused(m, "registrar", again, C.COMMITTEE_SIZE)  # 6 sitting + 1 open vacancy
    assert v.ids == ("c1",)
    m.force("registrar", again)
    assert "rule.committee.size" in audited_codes(m)
    m2 = Mini(voters=5, rules=RuleSet(committee_min=7, min_observers=1, public_profile="full"))
    _committee(m2, 7)
    m2.publish_roll()
    m2.sub("authority", CommitteeMemberWithdrawn(community="c1", member="m0", reason="cand."))
    fill = CommitteeVacancyFilled(community="c1", member="m9", replaces="m0", appointed_by="o")
    m2.sub("authority", fill)
    m2.publish_roll(day=-22)  # the vacancy is filled: 7 sit again


@provokes(C.REF_DUPLICATE)
def test_3_a_second_proxy_list_is_ref_duplicate() -> None:
    m = Mini(voters=20)
    m.publish_roll()
    m.candidates()  # publishes the (empty) proxy list
    again = ProxyListPublished(community="c1", count=0, list_hash=m.e.state.proxy_hash("c1"))
    refused(m, "committee", again, C.REF_DUPLICATE)
    m.force("committee", again)
    assert "rule.ref.duplicate" in audited_codes(m)


@provokes(C.REF_UNKNOWN)
def test_4_a_cited_objection_that_does_not_exist_is_ref_unknown() -> None:
    m = Mini(voters=5)
    before = VoterRemoved(voter="v04", community="c1", reason="died", objection="nope")
    assert refused(m, "registrar", before, C.REF_UNKNOWN).ids == ("nope",)
    ghost = m.registration("v50", objection="nope")
    refused(m, "registrar", ghost, C.REF_UNKNOWN)
    m.publish_roll()
    after = VoterRemoved(voter="v04", community="c1", reason="objection_upheld", objection="nope")
    refused(m, "registrar", after, C.REF_UNKNOWN)
    refused(m, "registrar", ghost, C.REF_UNKNOWN)
    m.force("registrar", after)
    assert "rule.ref.unknown" in audited_codes(m)


def _force_body(m: Mini, who: str, event: ElectionEvent, **changes: Any) -> None:
    """Append ``event`` with body fields replaced by ``changes`` (not a valid event)."""
    author = m.e.author(m.k[who])
    body = {**event.to_body(), **changes}
    m.log.append(author.sign(event.TYPE, body, time=m.tick(), schema=event.SCHEMA))


def malformed(m: Mini, who: str, event: ElectionEvent, field: str) -> None:
    """Submit ``event``; assert the writer refuses it as a body that does not fit its schema
    (``EntryError`` naming ``field``) and nothing changed."""
    size, before = len(m.log), m.e.state.state_hash()
    with pytest.raises(EntryError, match=field):
        m.sub(who, event)
    assert len(m.log) == size and m.e.state.state_hash() == before


def test_5_empty_text_and_empty_nominators_are_malformed() -> None:
    m = Mini(voters=20)
    label = KeyAuthorised(key_id=key("x").key_id, role="registrar", scope=(), label="")
    malformed(m, "authority", label, "label")
    appointed = CommitteeMemberAppointed(community="c1", member="m1", appointed_by="")
    malformed(m, "authority", appointed, "appointed_by")
    m.publish_roll()
    nominate(m, "n0", "v00")
    reason = VettingDecided(
        community="c1", candidate="v00", approved=True, criteria_ref="a", reason=""
    )
    malformed(m, "vetting", reason, "reason")
    nobody = NominationFiled(
        nomination="n1", community="c1", post="director", candidate="v01", nominators=()
    )
    malformed(m, "committee", nobody, "nominators")
    # voter.removed.reason alone may be empty (then it is no accepted reason: a rule code)
    refused(
        m,
        "registrar",
        VoterRemoved(voter="v01", community="c1", reason=""),
        C.VOTER_REMOVAL_WITHOUT_REASON,
    )
    # in a log: event.malformed, one finding per entry
    good = CommitteeMemberAppointed(community="c1", member="m1", appointed_by="office")
    _force_body(m, "authority", good, appointed_by="")
    nom = NominationFiled(
        nomination="n9", community="c1", post="director", candidate="v00", nominators=("v01",)
    )
    _force_body(m, "committee", nom, nominators=[])
    report = audit(*checkpointed(m))
    found = report.by_code("event.malformed")
    assert len(found) == 2
    assert "appointed_by" in found[0].message and "nominators" in found[1].message


def _scenario_at_vote() -> Scenario:
    s = Scenario(0).run_until("vote")
    for n, c in enumerate(("c1", "c2")):
        unit = f"{c}-r1-main"
        s.submit(
            s.keys.polling,
            UnitOpened(
                unit=unit, community=c, round=1, kind="main", observers=UNIT_OBSERVERS[unit]
            ),
            s.at(0, 7, 30 + n),
        )
    s.submit(
        s.keys.polling,
        UnitOpened(
            unit="c1-r1-station",
            community="c1",
            round=1,
            kind="mobile",
            observers=UNIT_OBSERVERS["c1-r1-station"],
        ),
        s.at(0, 7, 33),
    )
    s.submit(s.keys.polling, BoxSealed(unit="c1-r1-station", box="mobile-box"), s.at(0, 7, 40))
    return s


def test_6_a_box_is_transferred_only_within_its_community_and_round() -> None:
    s = _scenario_at_vote()
    size = len(s.log)
    with pytest.raises(RuleViolation) as info:
        s.submit(s.keys.polling, BoxTransferred(box="mobile-box", to_unit="c2-r1-main"), s.at(0, 9))
    assert info.value.code == C.REF_UNKNOWN and info.value.ids == ("c2-r1-main",)
    assert len(s.log) == size
    s.submit(s.keys.polling, BoxTransferred(box="mobile-box", to_unit="c1-r1-main"), s.at(0, 9))
    box = s.e.state.boxes["mobile-box"]
    assert (box.unit, box.custody) == ("c1-r1-station", "c1-r1-main")
    # the refused transfer in a log: the auditor reports it
    author = s.e.author(s.keys.polling)
    away = BoxTransferred(box="mobile-box", to_unit="c2-r1-main")
    s.log.append(author.sign(away.TYPE, away.to_body(), time=s.at(0, 9, 5), schema=away.SCHEMA))
    holder = SimpleNamespace(log=s.log, k={"authority": s.keys.authority}, now=s.at(0, 9, 5))
    found = audit(*checkpointed(holder)).by_code("rule.ref.unknown")  # type: ignore[arg-type]
    assert [f.index for f in found] == [len(s.log) - 1]


@provokes(C.REF_UNKNOWN)
def test_7_household_ballot_for_a_household_without_voter_is_ref_unknown() -> None:
    m = Mini(voters=5)
    m.sub("registrar", VoterRemoved(voter="v04", community="c1", reason="moved_out"))
    m.publish_roll()
    for household in ("nobody", "hv04"):  # never registered / its only voter removed
        issued = HouseholdBallotIssued(community="c1", group="g1", household=household)
        assert refused(m, "polling", issued, C.REF_UNKNOWN).ids == (household,)
    m.sub("polling", HouseholdBallotIssued(community="c1", group="g1", household="hv03"))
    m.force("polling", HouseholdBallotIssued(community="c1", group="g1", household="nobody"))
    assert "rule.ref.unknown" in audited_codes(m)


# =========================================================================== left open


def test_ruleset_body_missing_extra_or_mistyped_is_malformed() -> None:
    body = RuleSet().to_body()
    bad = [
        {k: v for k, v in body.items() if k != "proxy_cap"},
        {**body, "proxy_caps": 3},
        {**body, "proxy_cap": "3"},
        {**body, "majority": "2/4"},
        {**body, "revote_rule": "most_votes"},
    ]
    for b in bad:
        with pytest.raises(EntryError):
            RuleSet.from_body(b)
    assert RuleSet.from_body(body) == RuleSet()
    # a genesis carrying such a body: event.malformed in an audit
    authority = key("authority")
    definition = ElectionDefined(
        election_id="e",
        name="e",
        election_day=dt.date(2026, 5, 17),
        communities=(
            CommunityDef(
                community="c1",
                name="c",
                mode="all_voters",
                groups=("g1",),
                posts=(PostDef(post="director", seats=1, rank=0),),
            ),
        ),
        rules=RuleSet(),
        rules_hash=RuleSet().hash(),
    )
    genesis = {**definition.to_body(), "rules": bad[0]}
    log = Log("example.org/issue20")
    now = at(-40)
    log.append(
        Author(authority, log.origin).sign(
            ElectionDefined.TYPE, genesis, time=now, schema=ElectionDefined.SCHEMA
        )
    )
    holder = SimpleNamespace(log=log, k={"authority": authority}, now=now)
    report = audit(*checkpointed(holder))  # type: ignore[arg-type]
    malformed = report.by_code("event.malformed")
    assert [f.index for f in malformed] == [0] and "proxy_cap" in malformed[0].message


JANUARY = int(dt.datetime(2026, 1, 5, 2, tzinfo=dt.UTC).timestamp()) * 1_000_000
"""A time before every election day of these tests."""


def _define(communities: tuple[CommunityDef, ...], day: dt.date = dt.date(2026, 5, 17)) -> Log:
    log = Log("example.org/issue20")
    rules = RuleSet(public_profile="full")
    definition = ElectionDefined(
        election_id="e",
        name="e",
        election_day=day,
        communities=communities,
        rules=rules,
        rules_hash=rules.hash(),
    )
    Election.create(log, key("authority"), definition, time=JANUARY)
    return log


def _community(cid: str, *posts: str) -> CommunityDef:
    return CommunityDef(
        community=cid,
        name=cid,
        mode="all_voters",
        groups=("g1",),
        posts=tuple(PostDef(post=p, seats=1, rank=i) for i, p in enumerate(posts)),
    )


@provokes(C.GENESIS_INVALID)
def test_ids_community_unique_in_election_post_unique_in_community() -> None:
    log = _define((_community("c1", "director", "member"), _community("c2", "director")))
    assert len(log) == 1
    for communities, what in (
        ((_community("c1", "director"), _community("c1", "member")), "community"),
        ((_community("c1", "director", "director"),), "post"),
    ):
        with pytest.raises(RuleViolation) as info:
            _define(communities)
        assert info.value.code == C.GENESIS_INVALID and what in str(info.value)
    # unit ids are election-wide
    m = Mini(voters=30).until_vote()
    m.unit("u1", ("o1",))
    again = UnitOpened(unit="u1", community="c1", round=1, kind="station", observers=("o2",))
    refused(m, "polling", again, C.REF_DUPLICATE)


@provokes(C.VOTER_UNDERAGE)
@pytest.mark.parametrize(
    ("election_day", "ok"), [(dt.date(2026, 2, 28), False), (dt.date(2026, 3, 1), True)]
)
def test_born_on_29_february_comes_of_age_on_1_march(election_day: dt.date, ok: bool) -> None:
    log = _define((_community("c1", "director"),), day=election_day)
    e = Election.open(log, key("authority").key_id)
    registrar = key("registrar")
    e.submit(
        e.author(key("authority")),
        KeyAuthorised(key_id=registrar.key_id, role="registrar", scope=(), label="desk"),
        time=JANUARY + 1,
    )
    reg = VoterRegistered(
        voter="leap",
        community="c1",
        group="g1",
        household="h1",
        birth_date=dt.date(2008, 2, 29),
        basis="local_resident",
        dedup=dedup_tag(b"k" * 32, "leap"),
        commitment=commitment(b"s" * 16, {"id": "leap"}),
    )
    if ok:
        e.submit(e.author(registrar), reg, time=JANUARY + 2)
        assert e.state.roll_size("c1") == 1
    else:
        with pytest.raises(RuleViolation) as info:
            e.submit(e.author(registrar), reg, time=JANUARY + 2)
        assert info.value.code == C.VOTER_UNDERAGE and "aged 17" in str(info.value)


@provokes(C.VOTER_BASIS_INVALID)
def test_approval_ref_exactly_for_non_local_voters_and_never_empty() -> None:
    m = Mini(voters=1)
    empty = m.registration("v10", basis="non_local_approved", years_resident=2, approval_ref="")
    malformed(m, "registrar", empty, "approval_ref")
    missing = m.registration("v10", basis="non_local_approved", years_resident=2)
    refused(m, "registrar", missing, C.VOTER_BASIS_INVALID, day=-30)
    stray = m.registration("v10", approval_ref="meeting 7")
    refused(m, "registrar", stray, C.VOTER_BASIS_INVALID)
    ok = m.registration(
        "v10", basis="non_local_approved", years_resident=2, approval_ref="meeting 7"
    )
    m.sub("registrar", ok)


@provokes(C.VOTER_REMOVAL_WITHOUT_REASON, C.REGISTRATION_AFTER_ROLL_WITHOUT_OBJECTION)
def test_which_objection_kind_allows_which_change() -> None:
    m = Mini(voters=6)
    m.publish_roll()
    objection(m, "om", "v01", "omission")
    objection(m, "wi", "v02", "wrongful_inclusion")
    objection(m, "de", "v03", "data_error")
    objection(m, "no", "v04", "wrongful_inclusion", upheld=False)
    # stricter: an omission objection no longer removes
    by_omission = VoterRemoved(
        voter="v01", community="c1", reason="objection_upheld", objection="om"
    )
    refused(m, "registrar", by_omission, C.VOTER_REMOVAL_WITHOUT_REASON)
    rejected = VoterRemoved(voter="v04", community="c1", reason="objection_upheld", objection="no")
    refused(m, "registrar", rejected, C.VOTER_REMOVAL_WITHOUT_REASON)
    other_voter = VoterRemoved(
        voter="v05", community="c1", reason="objection_upheld", objection="wi"
    )
    refused(m, "registrar", other_voter, C.VOTER_REMOVAL_WITHOUT_REASON)
    m.sub(
        "registrar",
        VoterRemoved(voter="v02", community="c1", reason="objection_upheld", objection="wi"),
    )
    # a wrongful inclusion never adds a voter; a data error is corrected: removed, registered
    refused(
        m,
        "registrar",
        m.registration("v02", objection="wi"),
        C.REGISTRATION_AFTER_ROLL_WITHOUT_OBJECTION,
    )
    m.sub(
        "registrar",
        VoterRemoved(voter="v03", community="c1", reason="objection_upheld", objection="de"),
    )
    m.sub("registrar", m.registration("v03", birth_date=dt.date(1971, 1, 1), objection="de"))
    assert m.e.state.community("c1").roll["v03"].birth_date == dt.date(1971, 1, 1)
    # the removal by an omission objection is reported by the auditor
    m.force("registrar", by_omission)
    assert "rule.voter.removal_without_reason" in audited_codes(m)


@provokes(C.COMMITTEE_SIZE, C.REF_DUPLICATE, C.REF_UNKNOWN)
def test_committee_vacancies_and_reappointment() -> None:
    m = Mini(
        voters=3,
        rules=RuleSet(committee_min=0, committee_max=2, min_observers=1, public_profile="full"),
    )
    _committee(m, 2)
    sitting = CommitteeMemberAppointed(community="c1", member="m1", appointed_by="office")
    refused(m, "authority", sitting, C.REF_DUPLICATE)
    m.sub("authority", CommitteeMemberWithdrawn(community="c1", member="m0", reason="candidate"))
    # the open vacancy counts against committee_max: no new appointment, only the filling
    newcomer = CommitteeMemberAppointed(community="c1", member="m5", appointed_by="office")
    refused(m, "authority", newcomer, C.COMMITTEE_SIZE)
    back = CommitteeMemberAppointed(community="c1", member="m0", appointed_by="office")
    refused(m, "authority", back, C.REF_DUPLICATE)  # stricter: a withdrawn member never returns
    fill_back = CommitteeVacancyFilled(community="c1", member="m0", replaces="m0", appointed_by="o")
    refused(m, "authority", fill_back, C.REF_DUPLICATE)
    no_vacancy = CommitteeVacancyFilled(
        community="c1", member="m5", replaces="m1", appointed_by="o"
    )
    refused(m, "authority", no_vacancy, C.REF_UNKNOWN)
    m.sub(
        "authority",
        CommitteeVacancyFilled(community="c1", member="m5", replaces="m0", appointed_by="o"),
    )
    assert m.e.state.community("c1").committee == {"m1", "m5"}
    m.force("authority", back)
    assert "rule.ref.duplicate" in audited_codes(m)


@provokes(C.NOMINATION_NOMINATOR_LIMIT, C.VETTING_MISSING)
def test_nominator_limit_counts_withdrawn_nominations_and_latest_vetting_counts() -> None:
    m = Mini(voters=20)
    m.publish_roll()
    nominate(m, "n0", "v00")
    m.sub(
        "committee",
        NominationWithdrawn(community="c1", post="director", candidate="v00", reason="r"),
    )
    other = NominationFiled(
        nomination="n1", community="c1", post="director", candidate="v01", nominators=("v10",)
    )
    refused(m, "committee", other, C.NOMINATION_NOMINATOR_LIMIT, day=-24)
    nominate(m, "n2", "v00")  # the same candidate again does not count twice
    nominate(m, "n3", "v01", ("v11",))
    never = VettingDecided(
        community="c1", candidate="v05", approved=True, criteria_ref="a1", reason="r"
    )
    refused(m, "vetting", never, C.REF_UNKNOWN)
    vet(m, "v00", approved=True)
    vet(m, "v00", approved=False)  # the latest decision counts
    vet(m, "v01")
    refused(m, "committee", candidate_list("v00", "v01"), C.VETTING_MISSING, day=-10)
    vet(m, "v00", approved=True)
    m.sub("committee", candidate_list("v00", "v01"), day=-10)


@provokes(C.CANDIDATES_LIST_MISMATCH, C.NOMINATION_NOT_REGISTERED)
def test_candidate_list_is_exactly_the_approved_nominees_registered_at_publication() -> None:
    m = Mini(voters=20)
    m.publish_roll()
    for i, c in enumerate(("v00", "v01", "v02")):
        nominate(m, f"n{i}", c, (f"v1{i}",))
        vet(m, c)
    # a nominator (v10) and a candidate (v02) leave the roll by upheld objections
    objection(m, "o10", "v10", "wrongful_inclusion")
    objection(m, "o02", "v02", "wrongful_inclusion")
    for voter, oid in (("v10", "o10"), ("v02", "o02")):
        m.sub(
            "registrar",
            VoterRemoved(voter=voter, community="c1", reason="objection_upheld", objection=oid),
        )
    omits = candidate_list("v00", "v01")  # v02 is still an approved, standing nominee
    refused(m, "committee", omits, C.CANDIDATES_LIST_MISMATCH, day=-10)
    stranger = candidate_list("v00", "v01", "v02", "v03")
    refused(m, "committee", stranger, C.CANDIDATES_LIST_MISMATCH)
    everyone = candidate_list("v00", "v01", "v02")
    refused(m, "committee", everyone, C.NOMINATION_NOT_REGISTERED)
    m.sub(
        "committee",
        NominationWithdrawn(community="c1", post="director", candidate="v02", reason="left"),
    )
    m.sub("committee", omits)  # v00, nominated by v10 who left the roll, stays listed


@provokes(C.PROXY_NOT_REGISTERED, C.REF_DUPLICATE)
def test_proxy_chains_and_a_second_proxy_of_one_principal() -> None:
    m = Mini(voters=8)
    m.publish_roll()

    def proxy(principal: str, holder: str) -> ProxyAuthorised:
        return ProxyAuthorised(
            community="c1",
            principal=principal,
            proxy=holder,
            relationship="spouse",
            attestation=b"\x01" * 32,
        )

    m.sub("committee", proxy("v01", "v02"), day=-20)
    holder_gives = refused(m, "committee", proxy("v02", "v03"), C.PROXY_NOT_REGISTERED)
    assert "holds proxies" in str(holder_gives)
    refused(m, "committee", proxy("v04", "v01"), C.PROXY_NOT_REGISTERED)  # v01 gave one
    refused(m, "committee", proxy("v01", "v05"), C.REF_DUPLICATE)
    m.sub("committee", proxy("v04", "v02"))


@provokes(C.PHASE_OUT_OF_WINDOW, C.BOX_SEQUENCE)
def test_units_need_an_open_round_and_a_box_stays_its_sealing_units() -> None:
    m = Mini(voters=30).until_vote()
    round2 = UnitOpened(unit="u9", community="c1", round=2, kind="main", observers=("o6",))
    refused(m, "polling", round2, C.PHASE_OUT_OF_WINDOW, day=0, hour=8)
    m.unit("main", ("o1",))
    m.unit("mobile", ("o2",), kind="mobile")
    m.unit("spare", ("o3",), kind="station")
    m.issue("main", m.voters[:12])
    m.issue("mobile", m.voters[12:15])
    m.close("main")
    # transferred to a closed unit: still the box of "mobile", which must close before it opens
    m.sub("polling", BoxTransferred(box="mobile-box", to_unit="main"))
    assert m.e.state.boxes["mobile-box"].unit == "mobile"
    m.close("mobile")
    m.close("spare")
    m.sub("counting", BoxMerged(box="mobile-box", into="main-box"))
    moved = BoxTransferred(box="mobile-box", to_unit="spare")
    refused(m, "polling", moved, C.BOX_SEQUENCE)  # stricter: a merged box holds nothing
    m.sub("counting", BoxMerged(box="spare-box", into="main-box"))
    m.open_box("main-box")
    m.record("main-box", 15)
    assert m.e.state.units["main"].recorded == 15 and m.e.state.units["mobile"].recorded == 0
    result = m.e.tally("c1", 1)
    m.sub("committee", ResultDeclared(community="c1", round=1, result=result.to_dict()))
    late = UnitOpened(unit="u8", community="c1", round=1, kind="station", observers=("o6",))
    refused(m, "polling", late, C.PHASE_OUT_OF_WINDOW)
    m.force("polling", moved)
    assert "rule.box.sequence" in audited_codes(m)


@provokes(C.UNIT_OBSERVER_IS_CANDIDATE)
def test_a_candidate_of_the_community_is_a_listed_person_not_a_nominee() -> None:
    m = Mini(voters=30)
    m.publish_roll()
    nominate(m, "n0", "v00")
    nominate(m, "n1", "v01", ("v11",))
    nominate(m, "n2", "v02", ("v12",))
    # a nominee may be accredited and observe once not listed; o1 is no voter at all
    m.accredit(("v02", "o1"))
    m.sub(
        "committee",
        NominationWithdrawn(community="c1", post="director", candidate="v02", reason="observes"),
    )
    vet(m, "v00")
    vet(m, "v01")
    m.sub("committee", candidate_list("v00", "v01"), day=-10)
    m.sub(
        "committee",
        ProxyListPublished(community="c1", count=0, list_hash=m.e.state.proxy_hash("c1")),
    )
    listed = ObserverAccredited(community="c1", observer="v01", organisation="x")
    refused(m, "committee", listed, C.UNIT_OBSERVER_IS_CANDIDATE)
    m.unit("u1", ("v02",))


@provokes(C.PHASE_OUT_OF_WINDOW)
def test_after_means_log_order_not_claimed_time() -> None:
    # a nomination entered after the roll but claiming an earlier day: accepted
    m = Mini(voters=20)
    m.publish_roll(day=-25)
    early = NominationFiled(
        nomination="n0", community="c1", post="director", candidate="v00", nominators=("v10",)
    )
    m.e.submit(m.e.author(m.k["committee"]), early, time=at(-27))
    # a nomination entered before the roll but claiming a later day: refused
    m2 = Mini(voters=20)
    size = len(m2.log)
    with pytest.raises(RuleViolation) as info:
        m2.e.submit(m2.e.author(m2.k["committee"]), early, time=at(-20))
    assert info.value.code == C.PHASE_OUT_OF_WINDOW and len(m2.log) == size


# =========================================================================== done means


def test_an_internal_error_of_the_replay_is_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    """election.replay_error cannot come from a log (check and apply handle every well-formed
    event); provoke it with a check that fails for one event type."""
    from electlog.election.state import ElectionState

    m = Mini(voters=3)
    check = ElectionState.check

    def failing(self: ElectionState, ctx: Any, event: ElectionEvent) -> None:
        if isinstance(event, VoterRegistered) and event.voter == "v01":
            raise KeyError("boom")
        check(self, ctx, event)

    monkeypatch.setattr(ElectionState, "check", failing)
    errors = audit(*checkpointed(m)).by_code("election.replay_error")
    assert len(errors) == 1 and "KeyError" in errors[0].message


def _backticked_codes(text: str) -> set[str]:
    return set(re.findall(r"`([a-z_]+\.[a-z_]+)`", text))


def _table_lines(doc: str, header: str) -> list[str]:
    lines = doc.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    out = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        out.append(line)
    return out


def _documented_rule_codes() -> set[str]:
    phase_rows = _table_lines(ELECTION_DOC, "| phase | events | window")
    windows = {c for row in phase_rows for c in _backticked_codes(row.split("|")[3])}
    rule_rows = _table_lines(ELECTION_DOC, "| code | kind | RuleSet parameter | rule |")
    listed = {re.match(r"^\| `([^`]+)`", row).group(1) for row in rule_rows}  # type: ignore[union-attr]
    assert windows and windows <= listed, sorted(windows - listed)
    return listed


def _provoked_rule_codes() -> set[str]:
    from test_election_issue11 import COVERED as ISSUE11
    from test_election_rules import COVERED as RULE_TESTS
    from test_eligibility_sample import COVERED as ELIGIBILITY
    from test_openings_rules import COVERED as OPENINGS  # the authorised tier's own rules
    from test_privacy_codes import COVERED as PRIVACY  # the minimal profile's codes
    from test_rla_audit import COVERED as RLA

    return PROVOKED | ISSUE11 | RULE_TESTS | RLA | PRIVACY | ELIGIBILITY | OPENINGS


def test_every_listed_rule_code_exists_is_provoked_and_every_emitted_code_is_listed() -> None:
    listed = _documented_rule_codes()
    assert listed == set(RULES), sorted(listed ^ set(RULES))
    provoked = _provoked_rule_codes()
    assert listed <= provoked, sorted(listed - provoked)
    # every code the code can emit: raised by the rules (C.NAME in the election layer) or
    # reported by the auditor (a RuleInfo kind "finding") is listed
    src = ROOT / "src" / "electlog" / "election"
    raised = {
        getattr(C, name)
        for path in src.rglob("*.py")
        for name in re.findall(r"\bC\.([A-Z_]+)\b", path.read_text(encoding="utf-8"))
    }
    assert raised <= listed, sorted(raised - listed)
    audit_src = "".join(  # the auditor, and the risk-limiting audit's findings it reports
        p.read_text(encoding="utf-8")
        for part in ("audit", "rla")
        for p in (ROOT / "src" / "electlog" / part).glob("*.py")
    ) + (ROOT / "src" / "electlog" / "election" / "openings.py").read_text(
        encoding="utf-8"
    )  # the authorised tier's rule functions (audit/openings.py reports what they raise)
    for code, info in RULES.items():
        if info.kind == "violation":
            assert code in raised, code
        else:  # reported by the auditor's replay, not raised by check
            name = next(n for n in C.__all__ if getattr(C, n) == code)
            assert re.search(rf"\b{name}\b", audit_src), code


def test_every_listed_finding_code_exists_is_emitted_and_every_emitted_one_is_listed() -> None:
    rows = _table_lines(AUDITING_DOC, "| code | severity | meaning |")
    listed = set(re.findall(r"^\| `([a-z_.]+)` \|", "\n".join(rows), re.MULTILINE))
    every = set(
        re.findall(
            r"^\| `([a-z_]+\.[a-z_.]+)` \| (?:error|warning|info) \|", AUDITING_DOC, re.MULTILINE
        )
    )
    assert every == set(all_codes()), sorted(every ^ set(all_codes()))
    assert listed <= every
    # fixed codes: each has an emit site outside findings.py, and every F.NAME emitted is one
    src = ROOT / "src" / "electlog"
    emitted: set[str] = set()
    for path in src.rglob("*.py"):
        if path.name == "findings.py":
            continue
        for name in re.findall(r"\bF\.([A-Z_]+)\b", path.read_text(encoding="utf-8")):
            if name != "RULE_PREFIX":
                emitted.add(getattr(F, name))
    assert set(FINDINGS) <= emitted, sorted(set(FINDINGS) - emitted)
    assert emitted <= every, sorted(emitted - every)
    # rule.* findings: every rule code is provoked (test above) and becomes rule.<code>
    assert {f"rule.{c}" for c in RULES} <= every
    # and the tests provoke every fixed code: its string or constant appears in a test
    tests_text = "".join(
        p.read_text(encoding="utf-8")
        for p in (ROOT / "tests").rglob("test_*.py")
        if p.name != "test_audit_docs.py"
    )
    names = {getattr(F, n): n for n in dir(F) if n.isupper() and isinstance(getattr(F, n), str)}
    unprovoked = sorted(
        code
        for code in FINDINGS
        if f'"{code}"' not in tests_text and not re.search(rf"\bF\.{names[code]}\b", tests_text)
    )
    assert not unprovoked, unprovoked
