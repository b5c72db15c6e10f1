"""Resident groups: households and the group elections by household ballot."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import codes as C
from ..events import (
    GroupResultDeclared,
    GroupVotingClosed,
    HouseholdBallotCast,
    HouseholdBallotIssued,
)
from ._base import (
    EventContext,
    _compare,
    _effective_marks,
    _violation,
    _writeins_registered,
    applies,
    checks,
)
from ._model import CommunityState, GroupElection

if TYPE_CHECKING:
    from ._state import ElectionState


# ------------------------------------------------------------------ resident groups


def _group(
    st: ElectionState,
    ev: HouseholdBallotIssued | HouseholdBallotCast | GroupResultDeclared | GroupVotingClosed,
) -> tuple[CommunityState, GroupElection]:
    cs = st.communities[ev.community]
    if ev.group not in cs.groups:
        raise _violation(C.REF_UNKNOWN, "unknown resident group", ev.group)
    if cs.roll_day is None:
        raise _violation(
            C.PHASE_OUT_OF_WINDOW, "group election before the roll is published", ev.group
        )
    ge = cs.group_elections.get(ev.group) or GroupElection(ev.community, ev.group, st)
    if ge.declared is not None:
        raise _violation(C.PHASE_OUT_OF_WINDOW, "the group election's result is declared", ev.group)
    return cs, ge


def _group_for_apply(st: ElectionState, community: str, group: str) -> GroupElection | None:
    cs = st.communities[community]
    if group not in cs.groups:
        return None
    ge = cs.group_elections.get(group)
    if ge is None:
        ge = cs.group_elections[group] = GroupElection(community, group, st)
    return ge


@checks(HouseholdBallotIssued)
def _check_household_issued(
    st: ElectionState, ctx: EventContext, ev: HouseholdBallotIssued
) -> None:
    cs, ge = _group(st, ev)
    if ge.closed:
        raise _violation(
            C.PHASE_OUT_OF_WINDOW,
            f"household ballot issued after group {ev.group}'s voting closed",
            ev.household,
        )
    if (ev.group, ev.household) not in cs.households:
        raise _violation(C.REF_UNKNOWN, "no registered voter lives in that household", ev.household)
    if ge.households.get(ev.household, 0) >= st.rules.household_ballots:
        raise _violation(
            C.HOUSEHOLD_DUPLICATE_BALLOT,
            f"household already received {st.rules.household_ballots} ballot(s)",
            ev.household,
        )


@applies(HouseholdBallotIssued)
def _apply_household_issued(
    st: ElectionState, ctx: EventContext, ev: HouseholdBallotIssued
) -> None:
    ge = _group_for_apply(st, ev.community, ev.group)
    if ge is not None:
        ge.issued += 1
        ge.households[ev.household] = ge.households.get(ev.household, 0) + 1


@checks(HouseholdBallotCast)
def _check_household_cast(st: ElectionState, ctx: EventContext, ev: HouseholdBallotCast) -> None:
    cs, ge = _group(st, ev)
    if not ge.closed:
        raise _violation(
            C.PHASE_OUT_OF_WINDOW,
            f"household ballot cast before group {ev.group}'s voting closed",
            ev.group,
        )
    if ev.serial in ge.serials:
        raise _violation(C.BALLOT_DUPLICATE_SERIAL, "serial already recorded", ev.serial.hex())
    _writeins_registered(ev.marks, _group_member(cs, ev.group))


@applies(HouseholdBallotCast)
def _apply_household_cast(st: ElectionState, ctx: EventContext, ev: HouseholdBallotCast) -> None:
    ge = _group_for_apply(st, ev.community, ev.group)
    if ge is None:
        return
    ge.serials.add(ev.serial)
    cs = st.communities[ev.community]
    marks, voided = _effective_marks(ev.marks, _group_member(cs, ev.group))
    ge.void_writeins += voided
    ge.tally.add(marks)


@checks(GroupVotingClosed)
def _check_group_closed(st: ElectionState, ctx: EventContext, ev: GroupVotingClosed) -> None:
    _, ge = _group(st, ev)
    if ge.closed:
        raise _violation(C.REF_DUPLICATE, "the group's voting is already closed", ev.group)


@applies(GroupVotingClosed)
def _apply_group_closed(st: ElectionState, ctx: EventContext, ev: GroupVotingClosed) -> None:
    ge = _group_for_apply(st, ev.community, ev.group)
    if ge is not None:
        ge.closed = True


@checks(GroupResultDeclared)
def _check_group_result(st: ElectionState, ctx: EventContext, ev: GroupResultDeclared) -> None:
    _, ge = _group(st, ev)
    if not ge.closed:
        raise _violation(
            C.PHASE_OUT_OF_WINDOW,
            f"group result declared before group {ev.group}'s voting closed",
            ev.group,
        )
    _compare(ev.result, st.group_result(ev.community, ev.group), ev.group)


@applies(GroupResultDeclared)
def _apply_group_result(st: ElectionState, ctx: EventContext, ev: GroupResultDeclared) -> None:
    ge = _group_for_apply(st, ev.community, ev.group)
    if ge is None or ge.declared is not None:
        return
    ge.declared = ev.result
    cs = st.communities[ev.community]
    result = st.group_result(ev.community, ev.group)
    for post in result.posts.values():
        cs.entitled.update(post.elected)


def _group_member(cs: CommunityState, group: str) -> Callable[[str], bool]:
    """Who a household ballot of ``group`` may write in: a registered voter of that group
    (the one predicate of the household ballots' check and apply)."""
    roll = cs.roll
    return lambda v: (r := roll.get(v)) is not None and r.group == group
