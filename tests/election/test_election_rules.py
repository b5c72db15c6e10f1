"""One test per rule code: a minimal scenario that breaks the rule (asserting the code and the
offending ids) and the nearest variant that passes.

Most tests run the small scenario (electlog.election.scenario) up to a phase through the
Election facade, then submit the offending event; a refused event leaves the log unchanged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from electlog.election import codes as C
from electlog.election.codes import RULES
from electlog.election.events import (
    BallotIssued,
    BallotRecorded,
    BoxOpened,
    BoxSealed,
    BoxTransferred,
    CandidatesPublished,
    CommitteeMemberAppointed,
    CommitteeMemberWithdrawn,
    CommitteeVacancyFilled,
    CommunityDef,
    ElectionEvent,
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
    PostDef,
    PostList,
    ProxyAuthorised,
    ProxyListPublished,
    ResultDeclared,
    RollPublished,
    RoundCalled,
    UnitClosed,
    UnitOpened,
    VettingDecided,
    VoterRemoved,
)
from electlog.election.facade import Election
from electlog.election.rules import RuleSet
from electlog.election.scenario import OBSERVERS, UNIT_OBSERVERS, Scenario
from electlog.election.state import GROUP_LEADER, GROUP_REP, ElectionState, EventContext
from electlog.election.tally import (
    VOID_POST_WRITEIN_NOT_REGISTERED,
    VOID_RETURNED_EXCEEDS_ISSUED,
    PostMarks,
)
from electlog.errors import RuleViolation
from electlog.keys import SigningKey
from electlog.log import Log

COVERED: set[str] = set()


def covers(*codes: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Mark a test as the test of rule ``codes`` (the last test checks every code is covered)."""

    def deco(fn: Callable[..., None]) -> Callable[..., None]:
        COVERED.update(codes)
        return fn

    return deco


def until(phase: str, seed: int = 0, rules: RuleSet | None = None) -> Scenario:
    return Scenario(seed, rules=rules).run_until(phase)


def refused(
    s: Scenario, key: SigningKey, event: ElectionEvent, time: int, code: str
) -> RuleViolation:
    """Submit ``event``; assert it is refused with ``code`` and that nothing was appended."""
    size = len(s.log)
    before = s.e.state.state_hash()
    with pytest.raises(RuleViolation) as info:
        s.submit(key, event, time)
    assert info.value.code == code, str(info.value)
    assert len(s.log) == size
    assert s.e.state.state_hash() == before
    return info.value


def key(name: str) -> SigningKey:
    return SigningKey.from_seed(hashlib.sha256(name.encode()).digest())


# --------------------------------------------------------------------------- genesis


def _ctx(index: int, signer: bytes, time: int = 0) -> EventContext:
    return EventContext(index=index, time=time, signer=signer, leaf_hash=b"\x00" * 32)


@covers(C.GENESIS_MISSING)
def test_genesis_missing() -> None:
    s = Scenario(0)
    st = ElectionState(s.keys.authority.key_id)
    ka = KeyAuthorised(key_id=b"\x01" * 32, role="registrar", scope=(), label="x")
    with pytest.raises(RuleViolation) as info:
        st.check(_ctx(0, s.keys.authority.key_id), ka)
    assert info.value.code == C.GENESIS_MISSING
    # a genesis that is not entry 0 is also missing its place
    with pytest.raises(RuleViolation) as info:
        st.check(_ctx(3, s.keys.authority.key_id), s.definition())
    assert info.value.code == C.GENESIS_MISSING
    # through the facade: nothing is appended
    log = Log("example.org/genesis-missing")
    e = Election(log, ElectionState(s.keys.authority.key_id))
    with pytest.raises(RuleViolation):
        e.submit(e.author(s.keys.authority), ka, time=s.at(-40))
    assert len(log) == 0
    # passing: the genesis first
    e.submit(e.author(s.keys.authority), s.definition(), time=s.at(-40))
    e.submit(e.author(s.keys.authority), ka, time=s.at(-40))
    assert len(log) == 2


@covers(C.GENESIS_NOT_AUTHORITY)
def test_genesis_not_authority() -> None:
    s = Scenario(0)
    st = ElectionState(s.keys.authority.key_id)
    other = key("not-the-authority")
    with pytest.raises(RuleViolation) as info:
        st.check(_ctx(0, other.key_id), s.definition())
    assert info.value.code == C.GENESIS_NOT_AUTHORITY
    assert info.value.ids == (other.key_id.hex()[:16],)
    st.check(_ctx(0, s.keys.authority.key_id), s.definition())


@covers(C.GENESIS_DUPLICATE)
def test_genesis_duplicate() -> None:
    s = until("appoint_committees")
    refused(s, s.keys.authority, s.definition(), s.at(-39), C.GENESIS_DUPLICATE)


@covers(C.GENESIS_RULES_HASH)
def test_genesis_rules_hash() -> None:
    s = Scenario(0)
    st = ElectionState(s.keys.authority.key_id)
    good = s.definition()
    bad = attrs.evolve(good, rules_hash=RuleSet(min_age=16).hash())
    with pytest.raises(RuleViolation) as info:
        st.check(_ctx(0, s.keys.authority.key_id), bad)
    assert info.value.code == C.GENESIS_RULES_HASH
    st.check(_ctx(0, s.keys.authority.key_id), good)


@covers(C.GENESIS_INVALID)
def test_genesis_invalid() -> None:
    s = Scenario(0)
    st = ElectionState(s.keys.authority.key_id)
    good = s.definition()
    c1 = good.communities[0]
    twice = attrs.evolve(good, communities=(c1, c1))
    with pytest.raises(RuleViolation) as info:
        st.check(_ctx(0, s.keys.authority.key_id), twice)
    assert (info.value.code, info.value.ids) == (C.GENESIS_INVALID, ("c1",))
    reserved = CommunityDef(
        community="c9",
        name="n",
        mode="all_voters",
        groups=("g",),
        posts=(PostDef(post=GROUP_LEADER, seats=1, rank=0),),
    )
    bad = attrs.evolve(good, communities=(c1, reserved))
    with pytest.raises(RuleViolation) as info:
        st.check(_ctx(0, s.keys.authority.key_id), bad)
    assert (info.value.code, info.value.ids) == (C.GENESIS_INVALID, ("c9",))
    st.check(_ctx(0, s.keys.authority.key_id), good)


# --------------------------------------------------------------------------- signers


@covers(C.SIGNER_UNAUTHORISED)
def test_signer_unauthorised() -> None:
    s = until("register_voters")
    stranger = key("stranger")
    ev = s.registration("c1-v99", "c1", "c1-g1", "c1-h99")
    v = refused(s, stranger, ev, s.at(-30), C.SIGNER_UNAUTHORISED)
    assert v.ids == (stranger.key_id.hex()[:16],)
    s.submit(s.keys.registrar, ev, s.at(-30))


@covers(C.SIGNER_ROLE)
def test_signer_role() -> None:
    s = until("register_voters")
    ev = s.registration("c1-v99", "c1", "c1-g1", "c1-h99")
    v = refused(s, s.keys.vetting, ev, s.at(-30), C.SIGNER_ROLE)
    assert v.ids == (s.keys.vetting.key_id.hex()[:16],)
    assert "registrar" in str(v)
    # the authority is not a superuser either
    refused(s, s.keys.authority, ev, s.at(-30), C.SIGNER_ROLE)
    s.submit(s.keys.registrar, ev, s.at(-30))


@covers(C.SIGNER_SCOPE)
def test_signer_scope() -> None:
    s = until("register_voters")
    local = key("registrar-c2")
    s.submit(
        s.keys.authority,
        KeyAuthorised(key_id=local.key_id, role="registrar", scope=("c2",), label="c2 desk"),
        s.at(-31),
    )
    ev1 = s.registration("c1-v99", "c1", "c1-g1", "c1-h99")
    v = refused(s, local, ev1, s.at(-30), C.SIGNER_SCOPE)
    assert v.ids == (local.key_id.hex()[:16],)
    # a scoped key cannot sign election-wide events either
    s.submit(
        s.keys.authority,
        KeyAuthorised(key_id=local.key_id, role="authority", scope=("c2",), label="c2 office"),
        s.at(-31),
    )
    ka = KeyAuthorised(key_id=key("x").key_id, role="observer", scope=(), label="x")
    refused(s, local, ka, s.at(-30), C.SIGNER_SCOPE)
    s.submit(local, s.registration("c2-v99", "c2", "c2-g1", "c2-h99"), s.at(-30))


@covers(C.SIGNER_REVOKED)
def test_signer_revoked() -> None:
    s = until("register_voters")
    ev = s.registration("c1-v99", "c1", "c1-g1", "c1-h99")
    s.submit(s.keys.registrar, ev, s.at(-31))
    s.submit(
        s.keys.authority,
        KeyRevoked(key_id=s.keys.registrar.key_id, reason="desk laptop lost"),
        s.at(-31, 12),
    )
    ev2 = s.registration("c1-v98", "c1", "c1-g1", "c1-h98")
    v = refused(s, s.keys.registrar, ev2, s.at(-30), C.SIGNER_REVOKED)
    assert v.ids == (s.keys.registrar.key_id.hex()[:16],)
    # re-authorised: effective from that entry
    s.submit(
        s.keys.authority,
        KeyAuthorised(key_id=s.keys.registrar.key_id, role="registrar", scope=(), label="r"),
        s.at(-30, 11),
    )
    s.submit(s.keys.registrar, ev2, s.at(-30, 12))


# --------------------------------------------------------------------------- refs and phases


@covers(C.REF_UNKNOWN)
def test_ref_unknown() -> None:
    s = until("register_voters")
    bad = s.registration("c1-v99", "c1", "c1-g9", "c1-h99")
    v = refused(s, s.keys.registrar, bad, s.at(-30), C.REF_UNKNOWN)
    assert v.ids == ("c1-g9",)
    bad_community = s.registration("c9-v99", "c9", "c9-g1", "c9-h99")
    v = refused(s, s.keys.registrar, bad_community, s.at(-30), C.REF_UNKNOWN)
    assert v.ids == ("c9",)
    s.submit(s.keys.registrar, s.registration("c1-v99", "c1", "c1-g2", "c1-h99"), s.at(-30))


@covers(C.REF_DUPLICATE)
def test_ref_duplicate() -> None:
    s = until("publish_rolls")
    s.publish_rolls()
    filed = ObjectionFiled(
        objection="obj-1", community="c1", voter="c1-v30", kind="omission", grounds="missing"
    )
    s.submit(s.keys.committee, filed, s.at(-23))
    again = ObjectionFiled(
        objection="obj-1", community="c2", voter="c2-v30", kind="omission", grounds="missing"
    )
    v = refused(s, s.keys.committee, again, s.at(-23), C.REF_DUPLICATE)
    assert v.ids == ("obj-1",)
    s.submit(s.keys.committee, attrs.evolve(again, objection="obj-2"), s.at(-23))


@covers(C.PHASE_OUT_OF_WINDOW)
def test_phase_out_of_window() -> None:
    s = until("publish_rolls")
    nom = NominationFiled(
        nomination="n-early",
        community="c1",
        post="director",
        candidate="c1-v00",
        nominators=("c1-v10",),
    )
    v = refused(s, s.keys.committee, nom, s.at(-26), C.PHASE_OUT_OF_WINDOW)
    assert v.ids == ("n-early",)
    # registration on election day is out of its window
    late = s.registration("c1-v99", "c1", "c1-g1", "c1-h99")
    refused(s, s.keys.registrar, late, s.at(0, 8), C.PHASE_OUT_OF_WINDOW)
    s.publish_rolls()
    s.submit(s.keys.committee, nom, s.at(-24))


def test_phase_units_before_candidates_and_proxy_list() -> None:
    s = until("publish_candidates")
    unit = UnitOpened(unit="u", community="c1", round=1, kind="main", observers=OBSERVERS)
    refused(s, s.keys.polling, unit, s.at(0, 7), C.PHASE_OUT_OF_WINDOW)  # no candidate list
    s.publish_candidates()
    refused(s, s.keys.polling, unit, s.at(0, 7), C.PHASE_OUT_OF_WINDOW)  # no proxy list
    s.authorise_proxies()
    refused(s, s.keys.polling, unit, s.at(-1, 7), C.PHASE_OUT_OF_WINDOW)  # before election day
    s.submit(s.keys.polling, unit, s.at(0, 7))


# --------------------------------------------------------------------------- committee


@covers(C.COMMITTEE_SIZE)
def test_committee_size_max_and_min() -> None:
    s = until("register_voters")
    for m in ("c1-v10", "c1-v11"):  # 7 + 2 = 9 members: allowed
        s.submit(
            s.keys.authority,
            CommitteeMemberAppointed(community="c1", member=m, appointed_by="street office"),
            s.at(-39),
        )
    tenth = CommitteeMemberAppointed(community="c1", member="c1-v12", appointed_by="office")
    v = refused(s, s.keys.authority, tenth, s.at(-39), C.COMMITTEE_SIZE)
    assert v.ids == ("c1", "c1-v12")
    # minimum, checked when the roll is first published
    s2 = until("register_voters", seed=1)
    s2.register_voters()
    s2.submit(
        s2.keys.authority,
        CommitteeMemberWithdrawn(community="c2", member="c2-v23", reason="moved away"),
        s2.at(-26),
    )
    st = s2.e.state
    pub = RollPublished(community="c2", size=st.roll_size("c2"), roll_hash=st.roll_hash("c2"))
    v = refused(s2, s2.keys.registrar, pub, s2.at(-25), C.COMMITTEE_SIZE)
    assert v.ids == ("c2",)
    s2.submit(
        s2.keys.authority,
        CommitteeVacancyFilled(
            community="c2", member="c2-v10", replaces="c2-v23", appointed_by="office"
        ),
        s2.at(-26),
    )
    s2.submit(s2.keys.registrar, pub, s2.at(-25))


@covers(C.COMMITTEE_MEMBER_NOT_WITHDRAWN)
def test_committee_member_not_withdrawn() -> None:
    s = until("publish_candidates")
    # c1-v06 (a member candidate) joins the committee and stays
    s.submit(
        s.keys.authority,
        CommitteeMemberAppointed(community="c1", member="c1-v06", appointed_by="office"),
        s.at(-9),
    )
    lists = _candidate_lists(s)
    v = refused(s, s.keys.committee, lists["c1"], s.at(-8), C.COMMITTEE_MEMBER_NOT_WITHDRAWN)
    assert v.ids == ("c1-v06",)
    s.submit(
        s.keys.authority,
        CommitteeMemberWithdrawn(community="c1", member="c1-v06", reason="nominated"),
        s.at(-9),
    )
    s.submit(s.keys.committee, lists["c1"], s.at(-8))
    # once listed, a candidate cannot join the committee
    late = CommitteeMemberAppointed(community="c1", member="c1-v00", appointed_by="office")
    v = refused(s, s.keys.authority, late, s.at(-7), C.COMMITTEE_MEMBER_NOT_WITHDRAWN)
    assert v.ids == ("c1-v00",)
    s.submit(s.keys.authority, attrs.evolve(late, member="c1-v19"), s.at(-7))


def _candidate_lists(s: Scenario) -> dict[str, CandidatesPublished]:
    defs = {c.community: c for c in s.definition().communities}
    out = {}
    for c, posts in s.candidates.items():
        seats = {p.post: p.seats for p in defs[c].posts}
        out[c] = CandidatesPublished(
            community=c,
            posts=tuple(
                PostList(post=p, seats=seats[p], candidates=cands) for p, cands in posts.items()
            ),
        )
    return out


# --------------------------------------------------------------------------- voters and roll


@covers(C.VOTER_DUPLICATE)
def test_voter_duplicate_id_and_person_across_communities() -> None:
    s = until("publish_rolls")
    same_id = s.registration("c1-v00", "c1", "c1-g1", "c1-h00")
    v = refused(s, s.keys.registrar, same_id, s.at(-29), C.VOTER_DUPLICATE)
    assert v.ids == ("c1-v00",)
    # the same person (dedup tag) under a new pseudonym in the other community
    person = s.e.state.voters["c1-v03"].dedup
    twin = s.registration("c2-v77", "c2", "c2-g1", "c2-h77", dedup=person)
    v = refused(s, s.keys.registrar, twin, s.at(-29), C.VOTER_DUPLICATE)
    assert v.ids == ("c2-v77", "c1-v03")
    # after removal (moved out) the person may register in c2
    s.submit(
        s.keys.registrar,
        VoterRemoved(voter="c1-v03", community="c1", reason="moved_out"),
        s.at(-29),
    )
    s.submit(s.keys.registrar, twin, s.at(-28))


@covers(C.VOTER_UNDERAGE)
def test_voter_underage_boundary() -> None:
    s = until("publish_rolls")
    eday = s.definition().election_day
    young = s.registration(
        "c1-v90",
        "c1",
        "c1-g1",
        "c1-h90",
        birth_date=eday.replace(year=eday.year - 18) + dt.timedelta(days=1),
    )
    v = refused(s, s.keys.registrar, young, s.at(-29), C.VOTER_UNDERAGE)
    assert v.ids == ("c1-v90",)
    just = s.registration(
        "c1-v90", "c1", "c1-g1", "c1-h90", birth_date=eday.replace(year=eday.year - 18)
    )
    s.submit(s.keys.registrar, just, s.at(-29))
    # the parameter is honoured
    s2 = until("publish_rolls", rules=RuleSet(min_age=16, public_profile="full"))
    s2.submit(s2.keys.registrar, young, s2.at(-29))


@covers(C.VOTER_PROFILE_MISMATCH)
def test_voter_profile_mismatch_and_the_minimal_profile_s_public_rules() -> None:
    full = until("publish_rolls")
    minimal = until("publish_rolls", rules=RuleSet(public_profile="minimal"))
    eday = full.definition().election_day
    v1 = full.registration("c1-v90", "c1", "c1-g1", "c1-h90")
    v2 = minimal.registration("c1-v90", "c1", "c1-g1", "c1-h90")
    assert v1.SCHEMA == 1 and v2.SCHEMA == 2
    v = refused(full, full.keys.registrar, v2, full.at(-29), C.VOTER_PROFILE_MISMATCH)
    assert v.ids == ("c1-v90",)
    refused(minimal, minimal.keys.registrar, v1, minimal.at(-29), C.VOTER_PROFILE_MISMATCH)
    # the same person again (dedup tag under the per-election key) is still caught publicly
    twin = minimal.voter_registration(
        salt=bytes(16),
        name="Resident c1-v91",
        id_number=minimal.personal["c1-v90"]["id_number"],
        voter="c1-v91",
        community="c1",
        group="c1-g1",
        household="c1-h91",
        birth_date=dt.date(1970, 1, 1),
        basis="local_resident",
    )
    minimal.submit(minimal.keys.registrar, v2, minimal.at(-29))
    refused(minimal, minimal.keys.registrar, twin, minimal.at(-29), C.VOTER_DUPLICATE)
    # an unaccepted basis is public; the age is not (c_birth): the public rules admit it
    rules = RuleSet(public_profile="minimal", eligible_bases=("local_resident",))
    narrow = until("publish_rolls", rules=rules)
    other = narrow.registration("c1-v92", "c1", "c1-g1", "c1-h92", basis="non_local_approved")
    refused(narrow, narrow.keys.registrar, other, narrow.at(-29), C.VOTER_BASIS_INVALID)
    young = minimal.registration("c1-v93", "c1", "c1-g1", "c1-h93", birth_date=eday)
    minimal.submit(minimal.keys.registrar, young, minimal.at(-29))


@covers(C.VOTER_BASIS_INVALID)
def test_voter_basis_invalid() -> None:
    s = until("publish_rolls")
    base: dict[str, Any] = {"basis": "non_local_approved", "approval_ref": "meeting-2026-03"}
    short = s.registration("c1-v91", "c1", "c1-g1", "c1-h91", years_resident=0, **base)
    v = refused(s, s.keys.registrar, short, s.at(-29), C.VOTER_BASIS_INVALID)
    assert v.ids == ("c1-v91",)
    unapproved = s.registration(
        "c1-v91", "c1", "c1-g1", "c1-h91", basis="non_local_approved", years_resident=2
    )
    refused(s, s.keys.registrar, unapproved, s.at(-29), C.VOTER_BASIS_INVALID)
    stray = s.registration("c1-v91", "c1", "c1-g1", "c1-h91", years_resident=3)
    refused(s, s.keys.registrar, stray, s.at(-29), C.VOTER_BASIS_INVALID)
    ok = s.registration("c1-v91", "c1", "c1-g1", "c1-h91", years_resident=1, **base)
    s.submit(s.keys.registrar, ok, s.at(-29))
    # a basis the RuleSet does not accept
    s2 = until(
        "publish_rolls", rules=RuleSet(eligible_bases=("local_resident",), public_profile="full")
    )
    opted = s2.registration(
        "c1-v92", "c1", "c1-g1", "c1-h92", basis="registered_living_elsewhere_opted_in"
    )
    refused(s2, s2.keys.registrar, opted, s2.at(-29), C.VOTER_BASIS_INVALID)


@covers(C.VOTER_REMOVAL_WITHOUT_REASON)
def test_voter_removal_without_reason() -> None:
    s = until("publish_rolls")
    for reason in ("", "disliked"):
        v = refused(
            s,
            s.keys.registrar,
            VoterRemoved(voter="c1-v01", community="c1", reason=reason),
            s.at(-29),
            C.VOTER_REMOVAL_WITHOUT_REASON,
        )
        assert v.ids == ("c1-v01",)
    # objection_upheld needs an upheld objection about that voter; citing an objection id
    # that does not exist is ref.unknown (issue 20 item 4)
    refused(
        s,
        s.keys.registrar,
        VoterRemoved(voter="c1-v01", community="c1", reason="objection_upheld"),
        s.at(-29),
        C.VOTER_REMOVAL_WITHOUT_REASON,
    )
    refused(
        s,
        s.keys.registrar,
        VoterRemoved(voter="c1-v01", community="c1", reason="objection_upheld", objection="x"),
        s.at(-29),
        C.REF_UNKNOWN,
    )
    s.submit(
        s.keys.registrar, VoterRemoved(voter="c1-v01", community="c1", reason="died"), s.at(-29)
    )


def test_removal_after_upheld_objection() -> None:
    s = until("objections")
    s.submit(
        s.keys.committee,
        ObjectionFiled(
            objection="obj-9",
            community="c1",
            voter="c1-v02",
            kind="wrongful_inclusion",
            grounds="lives elsewhere",
        ),
        s.at(-23),
    )
    s.submit(
        s.keys.committee,
        ObjectionDecided(objection="obj-9", community="c1", upheld=True, reason="checked"),
        s.at(-22),
    )
    s.submit(
        s.keys.registrar,
        VoterRemoved(voter="c1-v02", community="c1", reason="objection_upheld", objection="obj-9"),
        s.at(-22),
    )
    assert "c1-v02" not in s.e.state.voters


@covers(C.VOTER_NOT_REGISTERED)
def test_voter_not_registered() -> None:
    s = until("publish_rolls")
    gone = VoterRemoved(voter="c1-v55", community="c1", reason="died")
    v = refused(s, s.keys.registrar, gone, s.at(-29), C.VOTER_NOT_REGISTERED)
    assert v.ids == ("c1-v55",)
    # a voter of c2 is not on the roll of c1
    wrong = VoterRemoved(voter="c2-v01", community="c1", reason="died")
    refused(s, s.keys.registrar, wrong, s.at(-29), C.VOTER_NOT_REGISTERED)
    s.submit(s.keys.registrar, attrs.evolve(wrong, community="c2"), s.at(-29))


@covers(C.REGISTRATION_AFTER_ROLL_WITHOUT_OBJECTION)
def test_registration_after_roll_without_objection() -> None:
    s = until("objections")
    late = s.registration("c1-v30", "c1", "c1-g1", "c1-h14")
    v = refused(s, s.keys.registrar, late, s.at(-24), C.REGISTRATION_AFTER_ROLL_WITHOUT_OBJECTION)
    assert v.ids == ("c1-v30",)
    # an objection that is not yet decided is not enough
    s.submit(
        s.keys.committee,
        ObjectionFiled(
            objection="obj-1", community="c1", voter="c1-v30", kind="omission", grounds="missing"
        ),
        s.at(-23),
    )
    cited = s.registration("c1-v30", "c1", "c1-g1", "c1-h14", objection="obj-1")
    v = refused(s, s.keys.registrar, cited, s.at(-23), C.REGISTRATION_AFTER_ROLL_WITHOUT_OBJECTION)
    assert v.ids == ("c1-v30", "obj-1")
    s.submit(
        s.keys.committee,
        ObjectionDecided(objection="obj-1", community="c1", upheld=True, reason="ok"),
        s.at(-22),
    )
    s.submit(s.keys.registrar, cited, s.at(-22))
    # c2's roll is published too, but before publication a registration needs nothing
    s2 = until("publish_rolls")
    s2.submit(s2.keys.registrar, s2.registration("c1-v30", "c1", "c1-g1", "c1-h14"), s2.at(-26))


@covers(C.ROLL_PUBLISHED_LATE)
def test_roll_published_late() -> None:
    s = until("publish_rolls")
    st = s.e.state
    pub = RollPublished(community="c1", size=st.roll_size("c1"), roll_hash=st.roll_hash("c1"))
    v = refused(s, s.keys.registrar, pub, s.at(-19, 8), C.ROLL_PUBLISHED_LATE)
    assert v.ids == ("c1",)
    # local day matters: 23:30 local on day -20 is still day -20 (UTC is day -20 15:30)
    s.submit(s.keys.registrar, pub, s.at(-20, 23, 30))


def _upheld_objection(s: Scenario, objection: str, community: str, voter: str, time: int) -> None:
    """A wrongful-inclusion objection about ``voter``, filed and upheld at ``time``: after the
    roll's publication the only ground on which a voter leaves the roll."""
    s.submit(
        s.keys.committee,
        ObjectionFiled(
            objection=objection,
            community=community,
            voter=voter,
            kind="wrongful_inclusion",
            grounds="moved away",
        ),
        time,
    )
    s.submit(
        s.keys.committee,
        ObjectionDecided(objection=objection, community=community, upheld=True, reason="checked"),
        time,
    )


@covers(C.ROLL_HASH_MISMATCH)
def test_roll_hash_mismatch() -> None:
    s = until("publish_rolls")
    st = s.e.state
    good = RollPublished(community="c1", size=st.roll_size("c1"), roll_hash=st.roll_hash("c1"))
    for bad in (
        attrs.evolve(good, size=good.size + 1),
        attrs.evolve(good, roll_hash=st.roll_hash("c2")),
    ):
        v = refused(s, s.keys.registrar, bad, s.at(-25), C.ROLL_HASH_MISMATCH)
        assert v.ids == ("c1",)
    s.submit(s.keys.registrar, good, s.at(-25))
    # the hash follows the roll: after a removal (after publication: through an upheld
    # objection) the old hash is stale
    _upheld_objection(s, "obj-9", "c1", "c1-v00", s.at(-24))
    removal = VoterRemoved(
        voter="c1-v00", community="c1", reason="objection_upheld", objection="obj-9"
    )
    s.submit(s.keys.registrar, removal, s.at(-24, 11))
    refused(s, s.keys.registrar, good, s.at(-24, 12), C.ROLL_HASH_MISMATCH)


@covers(C.OBJECTION_LATE)
def test_objection_late() -> None:
    s = until("objections")
    mk = lambda oid: ObjectionFiled(  # noqa: E731
        objection=oid, community="c1", voter="c1-v01", kind="data_error", grounds="birth date"
    )
    v = refused(s, s.keys.committee, mk("late"), s.at(-19), C.OBJECTION_LATE)
    assert v.ids == ("late",)
    s.submit(s.keys.committee, mk("in-time"), s.at(-20, 23))  # 5 days after day -25


@covers(C.OBJECTION_DECISION_LATE)
def test_objection_decision_late() -> None:
    s = until("objections")
    s.submit(
        s.keys.committee,
        ObjectionFiled(
            objection="o", community="c1", voter="c1-v01", kind="data_error", grounds="g"
        ),
        s.at(-24),
    )
    decided = ObjectionDecided(objection="o", community="c1", upheld=False, reason="no error")
    v = refused(s, s.keys.committee, decided, s.at(-20), C.OBJECTION_DECISION_LATE)
    assert v.ids == ("o",)
    s.submit(s.keys.committee, decided, s.at(-21))


# --------------------------------------------------------------------------- households


@covers(C.HOUSEHOLD_DUPLICATE_BALLOT)
def test_household_duplicate_ballot_in_group_election() -> None:
    s = until("group_elections")
    issue = HouseholdBallotIssued(community="c1", group="c1-g1", household="c1-h00")
    s.submit(s.keys.polling, issue, s.at(-20, 9))
    v = refused(s, s.keys.polling, issue, s.at(-20, 10), C.HOUSEHOLD_DUPLICATE_BALLOT)
    assert v.ids == ("c1-h00",)
    s.submit(s.keys.polling, attrs.evolve(issue, household="c1-h02"), s.at(-20, 10))
    # a household of another group is unknown in this group's election
    refused(
        s,
        s.keys.polling,
        attrs.evolve(issue, household="c1-h01"),
        s.at(-20, 10),
        C.REF_UNKNOWN,
    )


def test_household_duplicate_ballot_in_household_rep_community() -> None:
    s = until("vote")
    _open_units(s, "c2")
    # c2-v00 and c2-v01 share household c2-h00; c2 elects one representative per household
    s.submit(s.keys.polling, BallotIssued(unit="c2-u", voter="c2-v00"), s.at(0, 9))
    v = refused(
        s,
        s.keys.polling,
        BallotIssued(unit="c2-u", voter="c2-v01"),
        s.at(0, 9),
        C.HOUSEHOLD_DUPLICATE_BALLOT,
    )
    assert v.ids == ("c2-h00", "c2-v01")
    s.submit(s.keys.polling, BallotIssued(unit="c2-u", voter="c2-v02"), s.at(0, 9))


# --------------------------------------------------------------------------- nominations


@covers(C.NOMINATION_NOMINATOR_LIMIT)
def test_nomination_nominator_limit() -> None:
    s = until("nominate")
    nom = lambda n, post, cand: NominationFiled(  # noqa: E731
        nomination=n, community="c1", post=post, candidate=cand, nominators=("c1-v12",)
    )
    s.submit(s.keys.committee, nom("a", "director", "c1-v00"), s.at(-15))
    # director has one seat: a second director candidate by the same nominator is too many
    v = refused(
        s, s.keys.committee, nom("b", "director", "c1-v01"), s.at(-15), C.NOMINATION_NOMINATOR_LIMIT
    )
    assert v.ids == ("c1-v12", "c1-v01")
    # naming the same candidate again, or candidates for another post, is fine
    s.submit(s.keys.committee, nom("c", "director", "c1-v00"), s.at(-15))
    s.submit(s.keys.committee, nom("d", "member", "c1-v04"), s.at(-15))
    s.submit(s.keys.committee, nom("e", "member", "c1-v05"), s.at(-15))
    refused(
        s, s.keys.committee, nom("f", "member", "c1-v06"), s.at(-15), C.NOMINATION_NOMINATOR_LIMIT
    )
    # the parameter overrides "= seats"
    s2 = until("nominate", rules=RuleSet(nominator_limit=2, public_profile="full"))
    s2.submit(s2.keys.committee, nom("a", "director", "c1-v00"), s2.at(-15))
    s2.submit(s2.keys.committee, nom("b", "director", "c1-v01"), s2.at(-15))


@covers(C.NOMINATION_NOT_REGISTERED)
def test_nomination_not_registered() -> None:
    s = until("nominate")
    bad_cand = NominationFiled(
        nomination="n", community="c1", post="director", candidate="c2-v00", nominators=("c1-v10",)
    )
    v = refused(s, s.keys.committee, bad_cand, s.at(-15), C.NOMINATION_NOT_REGISTERED)
    assert v.ids == ("c2-v00",)
    bad_nominator = attrs.evolve(bad_cand, candidate="c1-v00", nominators=("c1-v10", "c1-rep1"))
    v = refused(s, s.keys.committee, bad_nominator, s.at(-15), C.NOMINATION_NOT_REGISTERED)
    assert v.ids == ("c1-rep1",)
    s.submit(s.keys.committee, attrs.evolve(bad_nominator, nominators=("c1-v10",)), s.at(-15))
    # a nominee who leaves the roll cannot be listed: an objection about c2-v04 is upheld
    # within the objection window (day -21), the removal it grounds comes after the nomination
    s2 = until("group_elections")
    _upheld_objection(s2, "obj-9", "c2", "c2-v04", s2.at(-21))
    for phase in ("group_elections", "nominate", "vet"):
        getattr(s2, phase)()
    removal = VoterRemoved(
        voter="c2-v04", community="c2", reason="objection_upheld", objection="obj-9"
    )
    s2.submit(s2.keys.registrar, removal, s2.at(-9))
    v = refused(
        s2, s2.keys.committee, _candidate_lists(s2)["c2"], s2.at(-8), C.NOMINATION_NOT_REGISTERED
    )
    assert v.ids == ("c2-v04",)


@covers(C.VETTING_MISSING)
def test_vetting_missing_or_rejected() -> None:
    s = until("vet")
    lists = _candidate_lists(s)
    # no decision at all
    v = refused(s, s.keys.committee, lists["c2"], s.at(-8), C.VETTING_MISSING)
    assert set(v.ids) == {"c2-v00", "c2-v01"}
    s.vet()
    # a rejection, then listing anyway
    s.submit(
        s.keys.vetting,
        VettingDecided(
            community="c2",
            candidate="c2-v04",
            approved=False,
            criteria_ref="art. 12(3)",
            reason="criminal record",
        ),
        s.at(-11),
    )
    v = refused(s, s.keys.committee, lists["c2"], s.at(-8), C.VETTING_MISSING)
    assert v.ids == ("c2-v04",)
    # re-vetted (latest decision counts)
    s.submit(
        s.keys.vetting,
        VettingDecided(
            community="c2", candidate="c2-v04", approved=True, criteria_ref="art. 12", reason="ok"
        ),
        s.at(-10),
    )
    s.submit(s.keys.committee, lists["c2"], s.at(-8))


@covers(C.CANDIDATES_NOT_MORE_THAN_SEATS)
def test_candidates_not_more_than_seats() -> None:
    s = until("publish_candidates")
    s.submit(
        s.keys.committee,
        NominationWithdrawn(community="c2", post="director", candidate="c2-v01", reason="ill"),
        s.at(-9),
    )
    one = CandidatesPublished(
        community="c2",
        posts=(
            PostList(post="director", seats=1, candidates=("c2-v00",)),
            PostList(post="member", seats=2, candidates=("c2-v02", "c2-v03", "c2-v04")),
        ),
    )
    v = refused(s, s.keys.committee, one, s.at(-8), C.CANDIDATES_NOT_MORE_THAN_SEATS)
    assert v.ids == ("c2", "director")
    # with min_candidate_excess = 0 equal numbers are allowed
    s2 = until("publish_candidates", rules=RuleSet(min_candidate_excess=0, public_profile="full"))
    s2.submit(
        s2.keys.committee,
        NominationWithdrawn(community="c2", post="director", candidate="c2-v01", reason="ill"),
        s2.at(-9),
    )
    s2.submit(s2.keys.committee, one, s2.at(-8))
    # a per-post override: members need two more candidates than seats
    s3 = until(
        "publish_candidates",
        rules=RuleSet(post_candidate_excess={"member": 2}, public_profile="full"),
    )
    v = refused(
        s3,
        s3.keys.committee,
        _candidate_lists(s3)["c2"],
        s3.at(-8),
        C.CANDIDATES_NOT_MORE_THAN_SEATS,
    )
    assert v.ids == ("c2", "member")
    s3.submit(s3.keys.committee, _candidate_lists(s3)["c1"], s3.at(-8))  # c1: 4 for 2 seats


@covers(C.CANDIDATES_LIST_LATE)
def test_candidates_list_late() -> None:
    s = until("publish_candidates")
    lists = _candidate_lists(s)
    v = refused(s, s.keys.committee, lists["c1"], s.at(-4), C.CANDIDATES_LIST_LATE)
    assert v.ids == ("c1",)
    s.submit(s.keys.committee, lists["c1"], s.at(-5))


@covers(C.CANDIDATES_LIST_MISMATCH)
def test_candidates_list_mismatch() -> None:
    s = until("publish_candidates")
    good = _candidate_lists(s)["c2"]
    omitted = CandidatesPublished(
        community="c2",
        posts=(
            good.posts[0],
            PostList(post="member", seats=2, candidates=("c2-v02", "c2-v03")),
        ),
    )
    s2 = Scenario(0).run_until("publish_candidates")
    v = refused(s, s.keys.committee, omitted, s.at(-8), C.CANDIDATES_LIST_MISMATCH)
    assert v.ids == ("c2-v04",)
    stranger = CandidatesPublished(
        community="c2",
        posts=(
            good.posts[0],
            PostList(post="member", seats=2, candidates=(*good.posts[1].candidates, "c2-v09")),
        ),
    )
    v = refused(s, s.keys.committee, stranger, s.at(-8), C.CANDIDATES_LIST_MISMATCH)
    assert v.ids == ("c2-v09",)
    wrong_seats = CandidatesPublished(
        community="c2", posts=(good.posts[0], attrs.evolve(good.posts[1], seats=1))
    )
    refused(s, s.keys.committee, wrong_seats, s.at(-8), C.CANDIDATES_LIST_MISMATCH)
    missing_post = CandidatesPublished(community="c2", posts=(good.posts[0],))
    refused(s, s.keys.committee, missing_post, s.at(-8), C.CANDIDATES_LIST_MISMATCH)
    s.submit(s.keys.committee, good, s.at(-8))
    # a rejected nominee is left out
    s2.submit(
        s2.keys.committee,
        NominationFiled(
            nomination="n-extra",
            community="c2",
            post="member",
            candidate="c2-v05",
            nominators=("c2-v20",),
        ),
        s2.at(-10),
    )
    s2.submit(
        s2.keys.vetting,
        VettingDecided(
            community="c2", candidate="c2-v05", approved=False, criteria_ref="r", reason="no"
        ),
        s2.at(-9),
    )
    s2.submit(s2.keys.committee, good, s2.at(-8))


# --------------------------------------------------------------------------- proxies


def _proxy(principal: str, proxy: str, relationship: str = "spouse") -> ProxyAuthorised:
    return ProxyAuthorised(
        community="c1",
        principal=principal,
        proxy=proxy,
        relationship=relationship,
        attestation=hashlib.sha256(principal.encode()).digest(),
    )


@covers(C.PROXY_CAP_EXCEEDED)
def test_proxy_cap_exceeded() -> None:
    s = until("authorise_proxies")
    for p in ("c1-v10", "c1-v11", "c1-v12"):
        s.submit(s.keys.committee, _proxy(p, "c1-v13", "sibling"), s.at(-6))
    v = refused(
        s, s.keys.committee, _proxy("c1-v14", "c1-v13", "sibling"), s.at(-6), C.PROXY_CAP_EXCEEDED
    )
    assert v.ids == ("c1-v13", "c1-v14")
    s.submit(s.keys.committee, _proxy("c1-v14", "c1-v15", "sibling"), s.at(-6))


@covers(C.PROXY_PRINCIPAL_VOTED)
def test_proxy_principal_voted() -> None:
    s = until("vote")
    _open_units(s, "c1")
    # c1-v09 gave a proxy to c1-v08: no ballot in person
    v = refused(
        s,
        s.keys.polling,
        BallotIssued(unit="c1-u", voter="c1-v09"),
        s.at(0, 9),
        C.PROXY_PRINCIPAL_VOTED,
    )
    assert v.ids == ("c1-v09",)
    s.submit(
        s.keys.polling, BallotIssued(unit="c1-u", voter="c1-v08", proxy_for="c1-v09"), s.at(0, 9)
    )
    # and a voter already issued a ballot cannot give a proxy afterwards (a later round's list
    # is closed anyway; the rule is checked on a fresh community state)
    s2 = until("authorise_proxies")
    st = s2.e.state
    st.community("c1").voted.add("c1-v10")  # as if issued a ballot in an earlier round
    with pytest.raises(RuleViolation) as info:
        st.check(
            EventContext(index=len(s2.log), time=s2.at(-6), signer=s2.keys.committee.key_id),
            _proxy("c1-v10", "c1-v11"),
        )
    assert info.value.code == C.PROXY_PRINCIPAL_VOTED


@covers(C.PROXY_NOT_REGISTERED)
def test_proxy_not_registered() -> None:
    s = until("authorise_proxies")
    v = refused(s, s.keys.committee, _proxy("c1-v10", "c2-v10"), s.at(-6), C.PROXY_NOT_REGISTERED)
    assert v.ids == ("c2-v10",)
    refused(s, s.keys.committee, _proxy("c1-v10", "c1-v10"), s.at(-6), C.PROXY_NOT_REGISTERED)
    s.submit(s.keys.committee, _proxy("c1-v10", "c1-v11"), s.at(-6))
    # no chains: the principal c1-v10 cannot hold proxies, the proxy c1-v11 cannot give one
    refused(s, s.keys.committee, _proxy("c1-v12", "c1-v10"), s.at(-6), C.PROXY_NOT_REGISTERED)
    refused(s, s.keys.committee, _proxy("c1-v11", "c1-v12"), s.at(-6), C.PROXY_NOT_REGISTERED)


@covers(C.PROXY_NOT_CLOSE_RELATIVE)
def test_proxy_not_close_relative() -> None:
    s = until("authorise_proxies")
    v = refused(
        s,
        s.keys.committee,
        _proxy("c1-v10", "c1-v11", "friend"),
        s.at(-6),
        C.PROXY_NOT_CLOSE_RELATIVE,
    )
    assert v.ids == ("c1-v10", "c1-v11")
    s.submit(s.keys.committee, _proxy("c1-v10", "c1-v11", "grandchild"), s.at(-6))


@covers(C.PROXY_NOT_AUTHORISED)
def test_proxy_not_authorised() -> None:
    s = until("vote")
    _open_units(s, "c1")
    # c1-v07's proxy is c1-v08, not c1-v06
    bad = BallotIssued(unit="c1-u", voter="c1-v06", proxy_for="c1-v07")
    v = refused(s, s.keys.polling, bad, s.at(0, 9), C.PROXY_NOT_AUTHORISED)
    assert v.ids == ("c1-v06", "c1-v07")
    refused(
        s,
        s.keys.polling,
        BallotIssued(unit="c1-u", voter="c1-v06", proxy_for="c1-v10"),
        s.at(0, 9),
        C.PROXY_NOT_AUTHORISED,
    )
    s.submit(s.keys.polling, attrs.evolve(bad, voter="c1-v08"), s.at(0, 9))


@covers(C.PROXY_LIST_MISMATCH)
def test_proxy_list_mismatch() -> None:
    s = until("authorise_proxies")
    s.submit(s.keys.committee, _proxy("c1-v10", "c1-v11"), s.at(-6))
    st = s.e.state
    good = ProxyListPublished(community="c1", count=1, list_hash=st.proxy_hash("c1"))
    v = refused(s, s.keys.committee, attrs.evolve(good, count=2), s.at(-6), C.PROXY_LIST_MISMATCH)
    assert v.ids == ("c1",)
    refused(
        s,
        s.keys.committee,
        attrs.evolve(good, list_hash=st.proxy_hash("c2")),
        s.at(-6),
        C.PROXY_LIST_MISMATCH,
    )
    s.submit(s.keys.committee, good, s.at(-6))
    # after publication no more proxies
    refused(s, s.keys.committee, _proxy("c1-v12", "c1-v13"), s.at(-5), C.PHASE_OUT_OF_WINDOW)


# --------------------------------------------------------------------------- units, boxes, ballots


def _open_units(s: Scenario, c: str, round: int = 1, day: int = 0) -> None:
    s.submit(
        s.keys.polling,
        UnitOpened(unit=f"{c}-u", community=c, round=round, kind="main", observers=OBSERVERS),
        s.at(day, 7),
    )
    s.submit(s.keys.polling, BoxSealed(unit=f"{c}-u", box=f"{c}-box"), s.at(day, 7, 10))


C1_BATCH = tuple(f"c1-v{i:02d}" for i in range(10, 20))
"""Ten c1 voters who gave no proxy: enough ballots (min_count_batch) to open a box on its own."""
C2_HOUSEHOLDS = tuple(f"c2-v{i:02d}" for i in range(0, 24, 2))
"""One voter of each of c2's twelve households (c2 elects one representative per household)."""


def _issue(s: Scenario, unit: str, voters: tuple[str, ...], hour: int = 9) -> None:
    """Issue a ballot to each of ``voters`` at ``unit``, one a minute from ``hour``:00."""
    for i, v in enumerate(voters):
        s.submit(s.keys.polling, BallotIssued(unit=unit, voter=v), s.at(0, hour, i))


@covers(C.UNIT_OBSERVERS)
def test_unit_observers() -> None:
    s = until("vote")
    a, b, c = OBSERVERS  # accredited in c1
    two = UnitOpened(unit="u", community="c1", round=1, kind="main", observers=(a, b, a))
    v = refused(s, s.keys.polling, two, s.at(0, 7), C.UNIT_OBSERVERS)
    assert v.ids == ("u",)
    s.submit(s.keys.polling, attrs.evolve(two, observers=(a, b, c)), s.at(0, 7))
    # the same rule when a box is opened (enough ballots issued to open it on its own)
    s.submit(s.keys.polling, BoxSealed(unit="u", box="b"), s.at(0, 7))
    _issue(s, "u", C1_BATCH)
    s.submit(s.keys.polling, UnitClosed(unit="u"), s.at(0, 18))
    refused(s, s.keys.counting, BoxOpened(box="b", observers=(a,)), s.at(0, 18), C.UNIT_OBSERVERS)
    s.submit(s.keys.counting, BoxOpened(box="b", observers=OBSERVERS), s.at(0, 18))


@covers(C.UNIT_OBSERVER_IS_CANDIDATE)
def test_unit_observer_is_candidate() -> None:
    s = until("vote")
    a, b, _ = OBSERVERS  # accredited in c1
    unit = UnitOpened(unit="u", community="c1", round=1, kind="main", observers=(a, b, "c1-v05"))
    v = refused(s, s.keys.polling, unit, s.at(0, 7), C.UNIT_OBSERVER_IS_CANDIDATE)
    assert v.ids == ("c1-v05",)
    # a candidate of c2 may be accredited as an observer in c1, and observe there
    s.submit(
        s.keys.committee,
        ObserverAccredited(community="c1", observer="c2-v00", organisation="neighbours"),
        s.at(-1),
    )
    s.submit(s.keys.polling, attrs.evolve(unit, observers=(a, b, "c2-v00")), s.at(0, 7))


@covers(C.UNIT_NOT_OPEN)
def test_unit_not_open() -> None:
    s = until("vote")
    _open_units(s, "c1")
    s.submit(s.keys.polling, BallotIssued(unit="c1-u", voter="c1-v00"), s.at(0, 9))
    s.submit(s.keys.polling, UnitClosed(unit="c1-u"), s.at(0, 18))
    v = refused(
        s, s.keys.polling, BallotIssued(unit="c1-u", voter="c1-v01"), s.at(0, 18), C.UNIT_NOT_OPEN
    )
    assert v.ids == ("c1-u",)
    refused(s, s.keys.polling, UnitClosed(unit="c1-u"), s.at(0, 18), C.UNIT_NOT_OPEN)
    refused(
        s, s.keys.polling, BallotIssued(unit="c1-zz", voter="c1-v01"), s.at(0, 18), C.REF_UNKNOWN
    )


@covers(C.UNIT_RETURNED_EXCEEDS_ISSUED)
def test_batch_returned_exceeds_issued_is_exposed_not_refused() -> None:
    # issue 11 item 6 (GUIDE §4): the law's test is per round. A counting batch with more
    # ballots recorded than issued into it is not refused and does not void the round: it is
    # exposed (counting_batches; the auditor's warning unit.returned_exceeds_issued). The round
    # is void only when the round's ballots returned exceed its ballots issued. Each box holds
    # at least min_count_batch issued ballots, so it is opened on its own.
    s = until("vote")
    _open_units(s, "c1")
    station = "c1-u2"
    s.submit(
        s.keys.polling,
        UnitOpened(
            unit=station,
            community="c1",
            round=1,
            kind="station",
            observers=UNIT_OBSERVERS["c1-r1-station"],
        ),
        s.at(0, 7, 10),
    )
    s.submit(s.keys.polling, BoxSealed(unit=station, box="c1-box2"), s.at(0, 7, 10))
    _issue(s, "c1-u", C1_BATCH)
    _issue(s, station, tuple(f"c1-v{i:02d}" for i in range(20, 30)), hour=10)
    for u in ("c1-u", station):
        s.submit(s.keys.polling, UnitClosed(unit=u), s.at(0, 18))
    s.submit(s.keys.counting, BoxOpened(box="c1-box", observers=OBSERVERS), s.at(0, 18))
    s.submit(
        s.keys.counting,
        BoxOpened(box="c1-box2", observers=UNIT_OBSERVERS["c1-r1-station"]),
        s.at(0, 18),
    )
    marks = {"director": PostMarks(in_favour=("c1-v00",))}

    def record(box: str, serials: range) -> None:
        for i in serials:
            s.submit(
                s.keys.counting,
                BallotRecorded(box=box, serial=i.to_bytes(16, "big"), marks=marks),
                s.at(0, 19),
            )

    record("c1-box", range(11))  # 11 ballots in the box, 10 issued: recorded, not refused
    record("c1-box2", range(100, 109))  # 9 of 10
    batches = {b.box: (b.units, b.issued, b.recorded) for b in s.e.state.counting_batches("c1", 1)}
    assert batches == {
        "c1-box": (("c1-u",), 10, 11),
        "c1-box2": ((station,), 10, 9),
    }
    assert (s.e.state.units["c1-u"].issued, s.e.state.units["c1-u"].recorded) == (10, 11)
    result = s.e.tally("c1", 1)
    assert (result.issued, result.returned) == (20, 20)
    assert not result.round_void and result.posts["director"].elected == ("c1-v00",)
    assert RULES[C.UNIT_RETURNED_EXCEEDS_ISSUED].kind == "finding"
    # one more ballot: the round's returned exceed its issued, and the round is void
    record("c1-box2", range(109, 110))
    result = s.e.tally("c1", 1)
    assert (result.issued, result.returned) == (20, 21)
    assert result.round_void and result.void_reason == VOID_RETURNED_EXCEEDS_ISSUED


@covers(C.BOX_SEQUENCE)
def test_box_sequence() -> None:
    s = until("vote")
    _open_units(s, "c1")
    refused(s, s.keys.polling, BoxSealed(unit="c1-u", box="c1-box"), s.at(0, 8), C.BOX_SEQUENCE)
    marks = {"director": PostMarks(in_favour=("c1-v00",))}
    rec = BallotRecorded(box="c1-box", serial=b"\x01" * 16, marks=marks)
    v = refused(s, s.keys.counting, rec, s.at(0, 19), C.BOX_SEQUENCE)
    assert v.ids == ("c1-box",)
    opened = BoxOpened(box="c1-box", observers=OBSERVERS)
    refused(s, s.keys.counting, opened, s.at(0, 12), C.BOX_SEQUENCE)  # unit still open
    _issue(s, "c1-u", C1_BATCH)  # enough ballots to open the box on its own
    s.submit(s.keys.polling, UnitClosed(unit="c1-u"), s.at(0, 18))
    s.submit(s.keys.counting, opened, s.at(0, 18, 30))
    refused(s, s.keys.counting, opened, s.at(0, 18, 40), C.BOX_SEQUENCE)
    refused(
        s,
        s.keys.polling,
        BoxTransferred(box="c1-box", to_unit="c1-u"),
        s.at(0, 18, 45),
        C.BOX_SEQUENCE,
    )
    s.submit(s.keys.counting, rec, s.at(0, 19))


def test_box_transfer_keeps_origin_unit() -> None:
    s = until("vote")
    _open_units(s, "c1")
    # other observers than c1-u's (one open unit each), and enough ballots issued at the
    # mobile unit for its box to be opened on its own
    s.submit(
        s.keys.polling,
        UnitOpened(
            unit="c1-mobile",
            community="c1",
            round=1,
            kind="mobile",
            observers=UNIT_OBSERVERS["c1-r1-station"],
        ),
        s.at(0, 7, 10),
    )
    s.submit(s.keys.polling, BoxSealed(unit="c1-mobile", box="c1-mbox"), s.at(0, 7, 10))
    _issue(s, "c1-mobile", C1_BATCH)
    refused(
        s,
        s.keys.polling,
        BoxTransferred(box="c1-mbox", to_unit="c2-r1-main"),
        s.at(0, 12),
        C.REF_UNKNOWN,
    )
    s.submit(s.keys.polling, BoxTransferred(box="c1-mbox", to_unit="c1-u"), s.at(0, 12))
    assert s.e.state.boxes["c1-mbox"].custody == "c1-u"
    s.submit(s.keys.polling, UnitClosed(unit="c1-mobile"), s.at(0, 12))
    s.submit(s.keys.counting, BoxOpened(box="c1-mbox", observers=OBSERVERS), s.at(0, 18))
    s.submit(
        s.keys.counting,
        BallotRecorded(box="c1-mbox", serial=b"\x02" * 16, marks={}),
        s.at(0, 19),
    )
    assert s.e.state.units["c1-mobile"].recorded == 1
    assert s.e.state.units["c1-u"].recorded == 0


@covers(C.BALLOT_DUPLICATE_ISSUE)
def test_ballot_duplicate_issue() -> None:
    s = until("vote")
    _open_units(s, "c1")
    s.submit(s.keys.polling, BallotIssued(unit="c1-u", voter="c1-v00"), s.at(0, 9))
    v = refused(
        s,
        s.keys.polling,
        BallotIssued(unit="c1-u", voter="c1-v00"),
        s.at(0, 10),
        C.BALLOT_DUPLICATE_ISSUE,
    )
    assert v.ids == ("c1-v00",)
    # a proxy's own ballot and the principal's ballot are two ballots; the principal's only once
    s.submit(s.keys.polling, BallotIssued(unit="c1-u", voter="c1-v08"), s.at(0, 10))
    s.submit(
        s.keys.polling, BallotIssued(unit="c1-u", voter="c1-v08", proxy_for="c1-v09"), s.at(0, 10)
    )
    v = refused(
        s,
        s.keys.polling,
        BallotIssued(unit="c1-u", voter="c1-v08", proxy_for="c1-v09"),
        s.at(0, 10),
        C.BALLOT_DUPLICATE_ISSUE,
    )
    assert v.ids == ("c1-v09",)


@covers(C.BALLOT_NOT_REGISTERED)
def test_ballot_not_registered() -> None:
    s = until("vote")
    _open_units(s, "c1")
    for who in ("c1-rep1", "c2-v00", "c1-v77"):  # unit rep, other community, unknown
        v = refused(
            s,
            s.keys.polling,
            BallotIssued(unit="c1-u", voter=who),
            s.at(0, 9),
            C.BALLOT_NOT_REGISTERED,
        )
        assert v.ids == (who,)
    s.submit(s.keys.polling, BallotIssued(unit="c1-u", voter="c1-v30"), s.at(0, 9))


@covers(C.BALLOT_DUPLICATE_SERIAL)
def test_ballot_duplicate_serial() -> None:
    s = until("vote")
    _open_units(s, "c1")
    _issue(s, "c1-u", C1_BATCH)
    s.submit(s.keys.polling, UnitClosed(unit="c1-u"), s.at(0, 18))
    s.submit(s.keys.counting, BoxOpened(box="c1-box", observers=OBSERVERS), s.at(0, 18))
    rec = BallotRecorded(box="c1-box", serial=b"\x07" * 16, marks={})
    s.submit(s.keys.counting, rec, s.at(0, 19))
    v = refused(s, s.keys.counting, rec, s.at(0, 19), C.BALLOT_DUPLICATE_SERIAL)
    assert v.ids == ((b"\x07" * 16).hex(),)
    s.submit(s.keys.counting, attrs.evolve(rec, serial=b"\x08" * 16), s.at(0, 19))


@covers(C.WRITEIN_NOT_REGISTERED)
def test_writein_not_registered_is_refused_and_recorded_as_a_void_post_only() -> None:
    # issue 11 item 9: a write-in naming no registered voter is no longer published (it would
    # be a coercion receipt); the ballot is refused and the counting unit records that post
    # void with only the reason; the post is void on that ballot, the other posts count
    s = until("vote")
    _open_units(s, "c1")
    _issue(s, "c1-u", C1_BATCH)
    s.submit(s.keys.polling, UnitClosed(unit="c1-u"), s.at(0, 18))
    s.submit(s.keys.counting, BoxOpened(box="c1-box", observers=OBSERVERS), s.at(0, 18))
    bad = {
        "director": PostMarks(in_favour=("c1-v00",)),
        "member": PostMarks(in_favour=("c1-v04",), write_ins=("outsider",)),
    }
    v = refused(
        s,
        s.keys.counting,
        BallotRecorded(box="c1-box", serial=b"\x01" * 16, marks=bad),
        s.at(0, 19),
        C.WRITEIN_NOT_REGISTERED,
    )
    assert v.ids == ("member",) and "outsider" not in str(v)
    void = {
        "director": PostMarks(in_favour=("c1-v00",)),
        "member": PostMarks(void=VOID_POST_WRITEIN_NOT_REGISTERED),
    }
    good = {"member": PostMarks(in_favour=("c1-v04",), write_ins=("c1-v11",))}
    s.submit(
        s.keys.counting, BallotRecorded(box="c1-box", serial=b"\x01" * 16, marks=void), s.at(0, 19)
    )
    s.submit(
        s.keys.counting, BallotRecorded(box="c1-box", serial=b"\x02" * 16, marks=good), s.at(0, 19)
    )
    r = s.e.tally("c1", 1)
    member = r.posts["member"]
    assert member.invalid_ballots == 1 and member.valid_ballots == 1
    assert member.votes["c1-v04"] == 1 and member.votes["c1-v11"] == 1
    assert "outsider" not in member.votes
    assert r.posts["director"].votes["c1-v00"] == 1  # the rest of that ballot counts
    assert r.partly_valid == 1
    assert s.e.state.round("c1", 1).void_writeins == 1
    assert RULES[C.WRITEIN_NOT_REGISTERED].kind == "violation"


# --------------------------------------------------------------------------- results and rounds


@covers(C.RESULT_MISMATCH)
def test_result_mismatch() -> None:
    s = until("vote")
    _open_units(s, "c2")
    _issue(s, "c2-u", C2_HOUSEHOLDS)  # 12 ballots: the box can be opened on its own
    s.submit(s.keys.polling, UnitClosed(unit="c2-u"), s.at(0, 18))
    s.submit(s.keys.counting, BoxOpened(box="c2-box", observers=OBSERVERS), s.at(0, 18))
    for i in range(12):
        marks = {
            "director": PostMarks(in_favour=("c2-v00",)),
            "member": PostMarks(in_favour=("c2-v02", "c2-v03")),
        }
        s.submit(
            s.keys.counting,
            BallotRecorded(box="c2-box", serial=bytes([i]) * 16, marks=marks),
            s.at(0, 19),
        )
    good = s.e.tally("c2", 1).to_dict()
    bad: dict[str, Any] = {**good, "posts": {**good["posts"]}}  # type: ignore[dict-item]
    bad["posts"]["director"] = {**bad["posts"]["director"], "votes": {"c2-v00": 11, "c2-v01": 1}}
    v = refused(
        s,
        s.keys.committee,
        ResultDeclared(community="c2", round=1, result=bad),
        s.at(0, 21),
        C.RESULT_MISMATCH,
    )
    assert v.ids[0] == "c2#1"
    assert any("director.votes[c2-v00]" in i for i in v.ids)
    assert any("director.votes[c2-v01]" in i for i in v.ids)
    s.submit(s.keys.committee, ResultDeclared(community="c2", round=1, result=good), s.at(0, 21))
    assert s.e.tally("c2", 1).elected["director"] == ("c2-v00",)


def test_group_result_mismatch() -> None:
    s = until("group_elections")
    s.submit(
        s.keys.polling,
        HouseholdBallotIssued(community="c2", group="c2-g1", household="c2-h00"),
        s.at(-20),
    )
    # household ballots are cast only after the group's voting closed
    s.submit(s.keys.polling, GroupVotingClosed(community="c2", group="c2-g1"), s.at(-20, 16))
    s.submit(
        s.keys.counting,
        HouseholdBallotCast(
            community="c2",
            group="c2-g1",
            serial=b"\x01" * 16,
            marks={GROUP_LEADER: PostMarks(write_ins=("c2-v00",))},
        ),
        s.at(-20, 17),
    )
    good = s.e.state.group_result("c2", "c2-g1").to_dict()
    bad = {**good, "returned": 2}
    v = refused(
        s,
        s.keys.committee,
        GroupResultDeclared(community="c2", group="c2-g1", result=bad),
        s.at(-20, 18),
        C.RESULT_MISMATCH,
    )
    assert v.ids[0] == "c2-g1"
    s.submit(
        s.keys.committee,
        GroupResultDeclared(community="c2", group="c2-g1", result=good),
        s.at(-20, 18),
    )


@covers(C.RESULT_PREMATURE)
def test_result_premature() -> None:
    s = until("vote")
    _open_units(s, "c2")
    _issue(s, "c2-u", C2_HOUSEHOLDS)  # 12 ballots: the box can be opened on its own
    declare = lambda: ResultDeclared(  # noqa: E731
        community="c2", round=1, result=s.e.tally("c2", 1).to_dict()
    )
    v = refused(s, s.keys.committee, declare(), s.at(0, 12), C.RESULT_PREMATURE)
    assert v.ids == ("c2-u", "c2-box")
    s.submit(s.keys.polling, UnitClosed(unit="c2-u"), s.at(0, 18))
    v = refused(s, s.keys.committee, declare(), s.at(0, 18), C.RESULT_PREMATURE)
    assert v.ids == ("c2-box",)
    s.submit(s.keys.counting, BoxOpened(box="c2-box", observers=OBSERVERS), s.at(0, 18))
    s.submit(s.keys.committee, declare(), s.at(0, 21))
    # after the declaration nothing more is counted in that round
    refused(
        s,
        s.keys.counting,
        BallotRecorded(box="c2-box", serial=b"\x01" * 16, marks={}),
        s.at(0, 22),
        C.PHASE_OUT_OF_WINDOW,
    )


@covers(C.ROUND_NOT_WARRANTED)
def test_round_not_warranted() -> None:
    s = until("supplementary_round")
    director = RoundCalled(
        community="c1",
        round=2,
        source_round=1,
        kind="supplementary",
        posts=(PostList(post="director", seats=1, candidates=("c1-v01", "c1-v00")),),
    )
    v = refused(s, s.keys.committee, director, s.at(1), C.ROUND_NOT_WARRANTED)
    assert v.ids == ("director",)
    revote = attrs.evolve(
        director,
        kind="revote",
        posts=(PostList(post="member", seats=1, candidates=("c1-v05", "c1-v06")),),
    )
    refused(s, s.keys.committee, revote, s.at(1), C.ROUND_NOT_WARRANTED)  # no tie
    rerun = attrs.evolve(director, kind="rerun")
    refused(s, s.keys.committee, rerun, s.at(1), C.ROUND_NOT_WARRANTED)  # round 1 not void
    s.supplementary_round()


@covers(C.ROUND_CANDIDATES_MISMATCH)
def test_round_candidates_mismatch() -> None:
    s = until("supplementary_round")
    call = RoundCalled(
        community="c1",
        round=2,
        source_round=1,
        kind="supplementary",
        posts=(PostList(post="member", seats=1, candidates=("c1-v05", "c1-v23")),),
    )
    v = refused(s, s.keys.committee, call, s.at(1), C.ROUND_CANDIDATES_MISMATCH)
    assert v.ids == ("member", "c1-v05", "c1-v23")
    two_seats = attrs.evolve(
        call, posts=(PostList(post="member", seats=2, candidates=("c1-v05", "c1-v06")),)
    )
    refused(s, s.keys.committee, two_seats, s.at(1), C.ROUND_CANDIDATES_MISMATCH)
    ok = attrs.evolve(
        call, posts=(PostList(post="member", seats=1, candidates=("c1-v06", "c1-v05")),)
    )
    s.submit(s.keys.committee, ok, s.at(1))
    # the same post of the same source round cannot be followed up twice
    refused(s, s.keys.committee, attrs.evolve(ok, round=3), s.at(1), C.REF_DUPLICATE)


# --------------------------------------------------------------------------- group_rep mode


def _group_rep_state() -> tuple[ElectionState, Callable[..., None], Scenario]:
    """A one-community group_rep election driven directly on an ElectionState."""
    s = Scenario(5)
    d = s.definition()
    c = attrs.evolve(d.communities[0], mode="group_rep")
    definition = attrs.evolve(d, communities=(c,))
    st = ElectionState(s.keys.authority.key_id)
    n = [0]

    def admit(event: ElectionEvent, signer: SigningKey, time: int) -> None:
        st.admit(EventContext(index=n[0], time=time, signer=signer.key_id), event)
        n[0] += 1

    admit(definition, s.keys.authority, s.at(-40))
    for k, role in s.keys.roles():
        admit(
            KeyAuthorised(key_id=k.key_id, role=role, scope=(), label="k"),
            s.keys.authority,
            s.at(-40),
        )
    for i in range(7):
        admit(
            CommitteeMemberAppointed(community="c1", member=f"m{i}", appointed_by="office"),
            s.keys.authority,
            s.at(-39),
        )
    for i in range(8):
        admit(
            s.registration(f"c1-v{i:02d}", "c1", "c1-g1", f"c1-h{i}"), s.keys.registrar, s.at(-30)
        )
    admit(
        RollPublished(community="c1", size=8, roll_hash=st.roll_hash("c1")),
        s.keys.registrar,
        s.at(-25),
    )
    for i in range(8):
        admit(
            HouseholdBallotIssued(community="c1", group="c1-g1", household=f"c1-h{i}"),
            s.keys.polling,
            s.at(-20, 9),
        )
    # household ballots are cast only after the group's voting closed
    admit(GroupVotingClosed(community="c1", group="c1-g1"), s.keys.polling, s.at(-20, 16))
    for i in range(8):
        admit(
            HouseholdBallotCast(
                community="c1",
                group="c1-g1",
                serial=bytes([i]) * 16,
                marks={
                    GROUP_LEADER: PostMarks(write_ins=("c1-v00",)),
                    GROUP_REP: PostMarks(write_ins=("c1-v01", "c1-v02")),
                },
            ),
            s.keys.counting,
            s.at(-20, 17),
        )
    admit(
        GroupResultDeclared(
            community="c1", group="c1-g1", result=st.group_result("c1", "c1-g1").to_dict()
        ),
        s.keys.committee,
        s.at(-20, 18),
    )
    return st, admit, s


@covers(C.BALLOT_NOT_ENTITLED)
def test_ballot_not_entitled_in_group_rep_mode() -> None:
    st, admit, s = _group_rep_state()
    assert st.community("c1").entitled == {"c1-v00", "c1-v01", "c1-v02"}
    assert st.electorate("c1") == 3
    for post, cands in (("director", 2), ("deputy", 2), ("member", 3)):
        for j in range(cands):
            admit(
                NominationFiled(
                    nomination=f"{post}-{j}",
                    community="c1",
                    post=post,
                    candidate=f"c1-v{3 + j:02d}",
                    nominators=(f"c1-v0{j}",),
                ),
                s.keys.committee,
                s.at(-15),
            )
    for j in range(3):
        admit(
            VettingDecided(
                community="c1",
                candidate=f"c1-v{3 + j:02d}",
                approved=True,
                criteria_ref="r",
                reason="ok",
            ),
            s.keys.vetting,
            s.at(-12),
        )
    admit(
        CandidatesPublished(
            community="c1",
            posts=(
                PostList(post="director", seats=1, candidates=("c1-v03", "c1-v04")),
                PostList(post="deputy", seats=1, candidates=("c1-v03", "c1-v04")),
                PostList(post="member", seats=2, candidates=("c1-v03", "c1-v04", "c1-v05")),
            ),
        ),
        s.keys.committee,
        s.at(-8),
    )
    admit(
        ProxyListPublished(community="c1", count=0, list_hash=st.proxy_hash("c1")),
        s.keys.committee,
        s.at(-6),
    )
    for o in OBSERVERS:  # a unit names only accredited observers
        admit(
            ObserverAccredited(community="c1", observer=o, organisation="panel"),
            s.keys.committee,
            s.at(-6),
        )
    admit(
        UnitOpened(unit="u", community="c1", round=1, kind="main", observers=OBSERVERS),
        s.keys.polling,
        s.at(0, 7),
    )
    with pytest.raises(RuleViolation) as info:
        admit(BallotIssued(unit="u", voter="c1-v05"), s.keys.polling, s.at(0, 9))
    assert (info.value.code, info.value.ids) == (C.BALLOT_NOT_ENTITLED, ("c1-v05",))
    admit(BallotIssued(unit="u", voter="c1-v01"), s.keys.polling, s.at(0, 9))


def test_every_rule_code_has_a_test() -> None:
    from test_election_issue11 import COVERED as ISSUE11  # rules of issue 11, tested there
    from test_eligibility_sample import COVERED as ELIGIBILITY  # the eligibility sample's rules
    from test_openings_rules import COVERED as OPENINGS  # the authorised tier's own rules
    from test_privacy_codes import COVERED as PRIVACY  # the minimal profile's codes
    from test_rla_audit import COVERED as RLA  # the risk-limiting audit's rules (issue 19)

    covered = COVERED | ISSUE11 | RLA | PRIVACY | ELIGIBILITY | OPENINGS
    assert set(RULES) == covered, sorted(set(RULES) ^ covered)
