"""The election committee of each community: appointments, withdrawals and vacancies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import codes as C
from ..events import (
    CommitteeMemberAppointed,
    CommitteeMemberWithdrawn,
    CommitteeMemberWithdrawnV2,
    CommitteeVacancyFilled,
)
from ._base import EventContext, _violation, applies, checks
from ._model import CommunityState

if TYPE_CHECKING:
    from ._state import ElectionState


# ------------------------------------------------------------------ committee


@checks(CommitteeMemberAppointed)
def _check_member_appointed(
    st: ElectionState, ctx: EventContext, ev: CommitteeMemberAppointed
) -> None:
    cs = st.communities[ev.community]
    if ev.member in cs.committee:
        raise _violation(C.REF_DUPLICATE, "already a committee member", ev.member)
    if ev.member in cs.former:
        raise _violation(
            C.REF_DUPLICATE, "a withdrawn member does not rejoin the committee", ev.member
        )
    _not_a_candidate(cs, ev.member)
    if len(cs.committee) + len(cs.vacancies) >= st.rules.committee_max:
        raise _violation(
            C.COMMITTEE_SIZE,
            f"the committee of {ev.community} would exceed {st.rules.committee_max} seats",
            ev.community,
            ev.member,
        )


@applies(CommitteeMemberAppointed)
def _apply_member_appointed(
    st: ElectionState, ctx: EventContext, ev: CommitteeMemberAppointed
) -> None:
    cs = st.communities[ev.community]
    cs.committee.add(ev.member)
    cs.former.discard(ev.member)


@checks(CommitteeMemberWithdrawnV2)
def _check_member_withdrawn_v2(
    st: ElectionState, ctx: EventContext, ev: CommitteeMemberWithdrawnV2
) -> None:
    _check_member_withdrawn(st, ctx, ev)


@checks(CommitteeMemberWithdrawn)
def _check_member_withdrawn(
    st: ElectionState, ctx: EventContext, ev: CommitteeMemberWithdrawn | CommitteeMemberWithdrawnV2
) -> None:
    if ev.member not in st.communities[ev.community].committee:
        raise _violation(C.REF_UNKNOWN, "not a committee member", ev.member)


@applies(CommitteeMemberWithdrawnV2)
def _apply_member_withdrawn_v2(
    st: ElectionState, ctx: EventContext, ev: CommitteeMemberWithdrawnV2
) -> None:
    _apply_member_withdrawn(st, ctx, ev)


@applies(CommitteeMemberWithdrawn)
def _apply_member_withdrawn(
    st: ElectionState, ctx: EventContext, ev: CommitteeMemberWithdrawn | CommitteeMemberWithdrawnV2
) -> None:
    cs = st.communities[ev.community]
    if ev.member in cs.committee:
        cs.committee.discard(ev.member)
        cs.vacancies.add(ev.member)
        cs.former.add(ev.member)


@checks(CommitteeVacancyFilled)
def _check_vacancy_filled(st: ElectionState, ctx: EventContext, ev: CommitteeVacancyFilled) -> None:
    cs = st.communities[ev.community]
    if ev.replaces not in cs.vacancies:
        raise _violation(C.REF_UNKNOWN, "no open vacancy of that member", ev.replaces)
    if ev.member in cs.committee:
        raise _violation(C.REF_DUPLICATE, "already a committee member", ev.member)
    if ev.member in cs.former:
        raise _violation(C.REF_DUPLICATE, "a withdrawn member cannot fill a vacancy", ev.member)
    _not_a_candidate(cs, ev.member)


def _not_a_candidate(cs: CommunityState, member: str) -> None:
    if member in cs.candidates:
        raise _violation(
            C.COMMITTEE_MEMBER_NOT_WITHDRAWN,
            "a listed candidate cannot join the election committee",
            member,
        )


@applies(CommitteeVacancyFilled)
def _apply_vacancy_filled(st: ElectionState, ctx: EventContext, ev: CommitteeVacancyFilled) -> None:
    cs = st.communities[ev.community]
    if ev.replaces in cs.vacancies and ev.member not in cs.committee:
        cs.vacancies.discard(ev.replaces)
        cs.committee.add(ev.member)
