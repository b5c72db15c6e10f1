"""The voter roll and objections: registrations, removals, publications, objections and unit
representatives."""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Any, Final

import attrs

from .. import codes as C
from ..events import (
    AnyObjectionFiled,
    AnyVoterRegistered,
    AnyVoterRemoved,
    ObjectionDecided,
    ObjectionDecidedV2,
    ObjectionFiled,
    ObjectionFiledV2,
    RollPublished,
    UnitRepRegistered,
    VoterRegistered,
    VoterRegisteredV2,
    VoterRemoved,
    VoterRemovedV2,
)
from ..rules import EligibilityBasis, RuleSet
from ._base import EventContext, _violation, applies, checks
from ._model import CommunityState, _Objection
from .eligibility import note_registered, note_removed

if TYPE_CHECKING:
    from ._state import ElectionState

_ADDING_OBJECTIONS: Final = frozenset({"omission", "data_error"})
"""Kinds of an upheld objection that let a person be registered after the roll's publication."""
_REMOVING_OBJECTIONS: Final = frozenset({"wrongful_inclusion", "data_error"})
"""Kinds of an upheld objection that let a voter be removed (reason ``objection_upheld``)."""


def _roll_row(v: AnyVoterRegistered) -> list[Any]:
    if isinstance(v, VoterRegisteredV2):  # roll_hash v2: no birth date, commitments instead
        return [
            v.voter,
            v.group,
            v.household_tag,
            v.basis,
            v.dedup,
            v.c_birth,
            v.c_basis,
            v.commitment,
        ]
    return [
        v.voter,
        v.group,
        v.household,
        v.birth_date.isoformat(),
        v.basis,
        v.years_resident,
        v.approval_ref,
        v.dedup,
        v.commitment,
    ]


def _roll_data(cs: CommunityState) -> list[list[Any]]:
    roll = cs.roll  # keyed by each registration's voter id: sorted by id without a key call
    return [_roll_row(roll[voter]) for voter in sorted(roll)]


# ------------------------------------------------------------------ voters and roll


def _roll_open(cs: CommunityState, what: str, who: str) -> None:
    if cs.frozen_at is not None:
        raise _violation(
            C.ROLL_FROZEN,
            f"{what} after the first ballot of {cs.community} was issued "
            f"(entry {cs.frozen_at}): the roll is frozen",
            who,
        )


def _cited_objection(
    st: ElectionState, ev: AnyVoterRegistered | AnyVoterRemoved
) -> _Objection | None:
    """The objection a registration or removal cites (``None`` if it cites none); an id
    that names no objection of the event's community is ``ref.unknown``."""
    if ev.objection is None:
        return None
    obj = st.objections.get(ev.objection)
    if obj is None or obj.event.community != ev.community:
        raise _violation(
            C.REF_UNKNOWN, f"{ev.TYPE} cites no objection of {ev.community}", ev.objection
        )
    return obj


@checks(VoterRegisteredV2)  # both schemas: one check (no wrapper call per registration)
@checks(VoterRegistered)
def _check_voter_registered(st: ElectionState, ctx: EventContext, ev: AnyVoterRegistered) -> None:
    cs = st.communities[ev.community]
    if cs.frozen_at is not None:  # the calls below only when they can refuse (hot path)
        _roll_open(cs, "registration", ev.voter)
    if st.local_day(ctx.time) >= st.election_day:
        raise _violation(C.PHASE_OUT_OF_WINDOW, "registration on or after election day", ev.voter)
    if ev.group not in cs.groups:
        raise _violation(C.REF_UNKNOWN, "unknown resident group", ev.group)
    other = st.voters.get(ev.voter)
    if other is not None:
        raise _violation(
            C.VOTER_DUPLICATE,
            f"voter id already registered in {other.community}",
            ev.voter,
        )
    first = st.dedup.get(ev.dedup)
    if first is not None:
        raise _violation(
            C.VOTER_DUPLICATE,
            f"the same person is registered as {first} in {st.voters[first].community}",
            ev.voter,
            first,
        )
    if isinstance(ev, VoterRegistered):  # v2 commits to the birth date and the basis evidence
        assert st.definition is not None
        check_age(st.rules, st.definition.election_day, ev.voter, ev.birth_date)
        check_basis_evidence(st.rules, ev.voter, ev.basis, ev.years_resident, ev.approval_ref)
    elif ev.basis not in st.rules.eligible_bases:
        raise _violation(C.VOTER_BASIS_INVALID, f"basis {ev.basis} is not accepted here", ev.voter)
    obj = None if ev.objection is None else _cited_objection(st, ev)
    if cs.roll_day is not None and not (
        obj is not None
        and obj.upheld
        and obj.event.voter == ev.voter
        and obj.event.kind in _ADDING_OBJECTIONS
    ):
        raise _violation(
            C.REGISTRATION_AFTER_ROLL_WITHOUT_OBJECTION,
            "registration after the roll was published needs an upheld omission "
            "(or data_error) objection about this voter",
            ev.voter,
            *([ev.objection] if ev.objection else []),
        )


def check_age(rules: RuleSet, election_day: _dt.date, voter: str, birth_date: _dt.date) -> None:
    """The rule ``voter.underage``: ``voter``, born on ``birth_date``, is at least
    ``rules.min_age`` on ``election_day``. One rule for both tiers: the replay of a v1
    registration and the authorised tier's replay of an opened ``c_birth``
    (:mod:`electlog.election.openings`)."""
    eday, b = election_day, birth_date
    age = eday.year - b.year - ((eday.month, eday.day) < (b.month, b.day))
    if age < rules.min_age:
        raise _violation(
            C.VOTER_UNDERAGE, f"aged {age} on election day, under {rules.min_age}", voter
        )


def check_basis_evidence(
    rules: RuleSet, voter: str, basis: str, years_resident: int | None, approval_ref: str | None
) -> None:
    """The rule ``voter.basis_invalid`` on a registration's basis and its evidence: an accepted
    basis; a non-local voter with ``rules.non_local_min_years`` of residence and the residents'
    meeting's approval reference; no evidence for another basis. Shared by the v1 replay and the
    authorised tier's replay of an opened ``c_basis``."""
    if basis not in rules.eligible_bases:
        raise _violation(C.VOTER_BASIS_INVALID, f"basis {basis} is not accepted here", voter)
    if basis == EligibilityBasis.NON_LOCAL_APPROVED:
        if years_resident is None or years_resident < rules.non_local_min_years:
            raise _violation(
                C.VOTER_BASIS_INVALID,
                f"non-local voter needs {rules.non_local_min_years} year(s) of residence",
                voter,
            )
        if not approval_ref:
            raise _violation(
                C.VOTER_BASIS_INVALID,
                "non-local voter needs the residents' meeting approval reference",
                voter,
            )
    elif years_resident is not None or approval_ref is not None:
        raise _violation(
            C.VOTER_BASIS_INVALID,
            f"years_resident / approval_ref belong to basis non_local_approved, not {basis}",
            voter,
        )


@applies(VoterRegisteredV2)  # both schemas: one fold
@applies(VoterRegistered)
def _apply_voter_registered(st: ElectionState, ctx: EventContext, ev: AnyVoterRegistered) -> None:
    cs = st.communities[ev.community]
    if ev.voter in st.voters:
        return
    st.voters[ev.voter] = ev
    note_registered(st, ctx, ev.voter)
    st.dedup.setdefault(ev.dedup, ev.voter)
    cs.roll[ev.voter] = ev
    key = (ev.group, ev.household)
    members = cs.households.get(key)
    if members is None:
        cs.households[key] = {ev.voter}
        cs.group_households[ev.group] = cs.group_households.get(ev.group, 0) + 1
    else:
        members.add(ev.voter)


@checks(VoterRemovedV2)
def _check_voter_removed_v2(st: ElectionState, ctx: EventContext, ev: VoterRemovedV2) -> None:
    _check_voter_removed(st, ctx, ev)


@checks(VoterRemoved)
def _check_voter_removed(st: ElectionState, ctx: EventContext, ev: AnyVoterRemoved) -> None:
    cs = st.communities[ev.community]
    if ev.voter not in cs.roll:
        raise _violation(C.VOTER_NOT_REGISTERED, f"not on the roll of {ev.community}", ev.voter)
    _roll_open(cs, "removal", ev.voter)
    # v1 names a reason of removal_reasons; v2 a code of removal_codes (the detail committed)
    accepted = st.rules.removal_codes if ev.SCHEMA == 2 else st.rules.removal_reasons
    if ev.reason not in accepted:
        what = "code" if ev.SCHEMA == 2 else "reason"
        raise _violation(
            C.VOTER_REMOVAL_WITHOUT_REASON,
            f"removal {what} {ev.reason!r} is not one of {', '.join(accepted)}",
            ev.voter,
        )
    obj = _cited_objection(st, ev)
    if ev.reason == "objection_upheld":
        if not (
            obj is not None
            and obj.upheld
            and obj.event.voter == ev.voter
            and obj.event.kind in _REMOVING_OBJECTIONS
        ):
            raise _violation(
                C.VOTER_REMOVAL_WITHOUT_REASON,
                "removal for an upheld objection cites no upheld wrongful_inclusion (or "
                "data_error) objection about this voter",
                ev.voter,
            )
    elif cs.roll_day is not None:
        raise _violation(
            C.VOTER_REMOVAL_AFTER_ROLL_WITHOUT_OBJECTION,
            f"removal ({ev.reason}) after the roll's publication: only an upheld objection "
            "('objection_upheld') removes a voter now",
            ev.voter,
        )


@applies(VoterRemovedV2)
def _apply_voter_removed_v2(st: ElectionState, ctx: EventContext, ev: VoterRemovedV2) -> None:
    _apply_voter_removed(st, ctx, ev)


@applies(VoterRemoved)
def _apply_voter_removed(st: ElectionState, ctx: EventContext, ev: AnyVoterRemoved) -> None:
    cs = st.communities[ev.community]
    reg = cs.roll.pop(ev.voter, None)
    if reg is None:
        return
    del st.voters[ev.voter]
    note_removed(st, ctx, ev.voter)
    if st.dedup.get(reg.dedup) == ev.voter:
        del st.dedup[reg.dedup]
    key = (reg.group, reg.household)
    members = cs.households.get(key)
    if members is not None:
        members.discard(ev.voter)
        if not members:
            del cs.households[key]
            cs.group_households[reg.group] -= 1
            if not cs.group_households[reg.group]:
                del cs.group_households[reg.group]


@checks(RollPublished)
def _check_roll_published(st: ElectionState, ctx: EventContext, ev: RollPublished) -> None:
    cs = st.communities[ev.community]
    day = st.local_day(ctx.time)
    if cs.roll_day is None:
        if st.election_day - day < st.rules.roll_days_before:
            raise _violation(
                C.ROLL_PUBLISHED_LATE,
                f"published {st.election_day - day} day(s) before election day, "
                f"fewer than {st.rules.roll_days_before}",
                ev.community,
            )
    elif day >= st.election_day:
        raise _violation(
            C.PHASE_OUT_OF_WINDOW, "roll republished on or after election day", ev.community
        )
    size = len(cs.committee)  # sitting members: an open vacancy is no member
    if size < st.rules.committee_min:
        raise _violation(
            C.COMMITTEE_SIZE,
            f"the committee of {ev.community} has {size} members, fewer than "
            f"{st.rules.committee_min}",
            ev.community,
        )
    want = st.roll_hash(ev.community)
    if ev.size != len(cs.roll) or ev.roll_hash != want:
        raise _violation(
            C.ROLL_HASH_MISMATCH,
            f"published size {ev.size} / hash {ev.roll_hash.hex()[:16]}…, replayed roll has "
            f"{len(cs.roll)} voters / hash {want.hex()[:16]}…",
            ev.community,
        )


@applies(RollPublished)
def _apply_roll_published(st: ElectionState, ctx: EventContext, ev: RollPublished) -> None:
    cs = st.communities[ev.community]
    day = st.local_day(ctx.time)
    if cs.roll_day is None:
        cs.roll_day = day
    cs.roll_publications.append((day, ev.roll_hash))


@checks(ObjectionFiledV2)
def _check_objection_filed_v2(st: ElectionState, ctx: EventContext, ev: ObjectionFiledV2) -> None:
    _check_objection_filed(st, ctx, ev)


@checks(ObjectionFiled)
def _check_objection_filed(st: ElectionState, ctx: EventContext, ev: AnyObjectionFiled) -> None:
    cs = st.communities[ev.community]
    if ev.objection in st.objections:
        raise _violation(C.REF_DUPLICATE, "objection id already used", ev.objection)
    if cs.roll_day is None:
        raise _violation(
            C.PHASE_OUT_OF_WINDOW, "objection before the roll is published", ev.objection
        )
    days = st.local_day(ctx.time) - cs.roll_day
    if days > st.rules.objection_days:
        raise _violation(
            C.OBJECTION_LATE,
            f"filed {days} day(s) after publication, more than {st.rules.objection_days}",
            ev.objection,
        )


@applies(ObjectionFiledV2)
def _apply_objection_filed_v2(st: ElectionState, ctx: EventContext, ev: ObjectionFiledV2) -> None:
    _apply_objection_filed(st, ctx, ev)


@applies(ObjectionFiled)
def _apply_objection_filed(st: ElectionState, ctx: EventContext, ev: AnyObjectionFiled) -> None:
    if ev.objection not in st.objections:
        st.objections[ev.objection] = _Objection(event=ev, day=st.local_day(ctx.time))


@checks(ObjectionDecidedV2)
def _check_objection_decided_v2(
    st: ElectionState, ctx: EventContext, ev: ObjectionDecidedV2
) -> None:
    _check_objection_decided(st, ctx, ev)


@checks(ObjectionDecided)
def _check_objection_decided(
    st: ElectionState, ctx: EventContext, ev: ObjectionDecided | ObjectionDecidedV2
) -> None:
    obj = st.objections.get(ev.objection)
    if obj is None or obj.event.community != ev.community:
        raise _violation(C.REF_UNKNOWN, "unknown objection", ev.objection)
    if obj.upheld is not None:
        raise _violation(C.REF_DUPLICATE, "objection already decided", ev.objection)
    days = st.local_day(ctx.time) - obj.day
    if days > st.rules.objection_decision_days:
        raise _violation(
            C.OBJECTION_DECISION_LATE,
            f"decided {days} day(s) after filing, more than {st.rules.objection_decision_days}",
            ev.objection,
        )


@applies(ObjectionDecidedV2)
def _apply_objection_decided_v2(
    st: ElectionState, ctx: EventContext, ev: ObjectionDecidedV2
) -> None:
    _apply_objection_decided(st, ctx, ev)


@applies(ObjectionDecided)
def _apply_objection_decided(
    st: ElectionState, ctx: EventContext, ev: ObjectionDecided | ObjectionDecidedV2
) -> None:
    obj = st.objections.get(ev.objection)
    if obj is not None and obj.upheld is None and obj.event.community == ev.community:
        st.objections[ev.objection] = attrs.evolve(obj, upheld=ev.upheld)


@checks(UnitRepRegistered)
def _check_rep(st: ElectionState, ctx: EventContext, ev: UnitRepRegistered) -> None:
    cs = st.communities[ev.community]
    _roll_open(cs, "unit representative", ev.rep)
    if cs.roll_day is not None:
        raise _violation(
            C.REGISTRATION_AFTER_ROLL_WITHOUT_OBJECTION,
            "unit representative registered after the roll's publication (no objection "
            "can add one)",
            ev.rep,
        )
    if ev.rep in cs.reps or ev.rep in st.voters:
        raise _violation(C.REF_DUPLICATE, "id already used by a voter or representative", ev.rep)


@applies(UnitRepRegistered)
def _apply_rep(st: ElectionState, ctx: EventContext, ev: UnitRepRegistered) -> None:
    st.communities[ev.community].reps.setdefault(ev.rep, ev)
