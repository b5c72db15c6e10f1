"""Candidacy: nominations, withdrawals, vetting decisions and the candidate list (which
opens round 1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import codes as C
from ..events import (
    CandidatesPublished,
    NominationFiled,
    NominationWithdrawn,
    NominationWithdrawnV2,
    PostList,
    VettingDecided,
    VettingDecidedV2,
)
from ..tally import PostSpec
from ._base import EventContext, _violation, applies, checks
from ._model import CommunityState, _new_round

if TYPE_CHECKING:
    from ._state import ElectionState


# ------------------------------------------------------------------ nominations


def _before_list(st: ElectionState, cs: CommunityState, what: str, *ids: str) -> None:
    if cs.roll_day is None:
        raise _violation(C.PHASE_OUT_OF_WINDOW, f"{what} before the roll is published", *ids)
    if cs.candidate_list is not None:
        raise _violation(
            C.PHASE_OUT_OF_WINDOW, f"{what} after the candidate list is published", *ids
        )


@checks(NominationFiled)
def _check_nomination(st: ElectionState, ctx: EventContext, ev: NominationFiled) -> None:
    cs = st.communities[ev.community]
    if ev.nomination in st.nominations:
        raise _violation(C.REF_DUPLICATE, "nomination id already used", ev.nomination)
    post = cs.posts.get(ev.post)
    if post is None:
        raise _violation(C.REF_UNKNOWN, "unknown post", ev.post)
    _before_list(st, cs, "nomination", ev.nomination)
    roll = cs.roll
    if ev.candidate not in roll:
        raise _violation(
            C.NOMINATION_NOT_REGISTERED,
            f"candidate is not a registered voter of {ev.community}",
            ev.candidate,
        )
    missing = [n for n in ev.nominators if n not in roll]
    if missing:
        raise _violation(
            C.NOMINATION_NOT_REGISTERED,
            f"nominator(s) not registered voters of {ev.community}",
            *missing,
        )
    limit = st.rules.nominator_limit_for(post.seats)
    for n in ev.nominators:
        named = cs.named.get((ev.post, n), set())
        if ev.candidate not in named and len(named) >= limit:
            raise _violation(
                C.NOMINATION_NOMINATOR_LIMIT,
                f"nominator already named {len(named)} candidate(s) for {ev.post} "
                f"({limit} allowed)",
                n,
                ev.candidate,
            )


@applies(NominationFiled)
def _apply_nomination(st: ElectionState, ctx: EventContext, ev: NominationFiled) -> None:
    if ev.nomination in st.nominations:
        return
    cs = st.communities[ev.community]
    if ev.post not in cs.posts:
        return
    st.nominations[ev.nomination] = ev
    cs.nominees.setdefault(ev.post, {}).setdefault(ev.candidate, set()).add(ev.nomination)
    for n in ev.nominators:
        cs.named.setdefault((ev.post, n), set()).add(ev.candidate)


@checks(NominationWithdrawnV2)
def _check_withdrawal_v2(st: ElectionState, ctx: EventContext, ev: NominationWithdrawnV2) -> None:
    _check_withdrawal(st, ctx, ev)


@checks(NominationWithdrawn)
def _check_withdrawal(
    st: ElectionState, ctx: EventContext, ev: NominationWithdrawn | NominationWithdrawnV2
) -> None:
    cs = st.communities[ev.community]
    if ev.candidate not in cs.nominees.get(ev.post, {}):
        raise _violation(C.REF_UNKNOWN, f"not a nominee for {ev.post}", ev.candidate)
    _before_list(st, cs, "withdrawal", ev.candidate)


@applies(NominationWithdrawnV2)
def _apply_withdrawal_v2(st: ElectionState, ctx: EventContext, ev: NominationWithdrawnV2) -> None:
    _apply_withdrawal(st, ctx, ev)


@applies(NominationWithdrawn)
def _apply_withdrawal(
    st: ElectionState, ctx: EventContext, ev: NominationWithdrawn | NominationWithdrawnV2
) -> None:
    nominees = st.communities[ev.community].nominees.get(ev.post)
    if nominees is not None:
        nominees.pop(ev.candidate, None)


@checks(VettingDecidedV2)
def _check_vetting_v2(st: ElectionState, ctx: EventContext, ev: VettingDecidedV2) -> None:
    if ev.criteria_code is not None and ev.criteria_code not in st.rules.vetting_codes:
        raise _violation(
            C.VETTING_CODE_UNKNOWN,
            f"criteria code {ev.criteria_code!r} is not one of {', '.join(st.rules.vetting_codes)}",
            ev.candidate,
        )
    _check_vetting(st, ctx, ev)


@checks(VettingDecided)
def _check_vetting(
    st: ElectionState, ctx: EventContext, ev: VettingDecided | VettingDecidedV2
) -> None:
    cs = st.communities[ev.community]
    if not any(ev.candidate in m for m in cs.nominees.values()):
        raise _violation(C.REF_UNKNOWN, "vetting of someone not nominated", ev.candidate)
    _before_list(st, cs, "vetting decision", ev.candidate)


@applies(VettingDecidedV2)
def _apply_vetting_v2(st: ElectionState, ctx: EventContext, ev: VettingDecidedV2) -> None:
    _apply_vetting(st, ctx, ev)


@applies(VettingDecided)
def _apply_vetting(
    st: ElectionState, ctx: EventContext, ev: VettingDecided | VettingDecidedV2
) -> None:
    st.communities[ev.community].vetting[ev.candidate] = ev.approved


@checks(CandidatesPublished)
def _check_candidates(st: ElectionState, ctx: EventContext, ev: CandidatesPublished) -> None:
    cs = st.communities[ev.community]
    if cs.candidate_list is not None:
        raise _violation(C.REF_DUPLICATE, "candidate list already published", ev.community)
    if cs.roll_day is None:
        raise _violation(
            C.PHASE_OUT_OF_WINDOW, "candidate list before the roll is published", ev.community
        )
    days = st.election_day - st.local_day(ctx.time)
    if days < st.rules.candidates_days_before:
        raise _violation(
            C.CANDIDATES_LIST_LATE,
            f"published {days} day(s) before election day, fewer than "
            f"{st.rules.candidates_days_before}",
            ev.community,
        )
    _observers_not_candidates(cs, ev.posts)
    listed_posts = [pl.post for pl in ev.posts]
    want_posts = {p: d.seats for p, d in cs.posts.items()}
    got_posts = {pl.post: pl.seats for pl in ev.posts}
    if len(listed_posts) != len(set(listed_posts)) or got_posts != want_posts:
        raise _violation(
            C.CANDIDATES_LIST_MISMATCH,
            "the list's posts and seats differ from the election definition",
            ev.community,
        )
    for pl in ev.posts:
        nominees = cs.nominees.get(pl.post, {})
        strangers = [c for c in pl.candidates if c not in nominees]
        if strangers:
            raise _violation(
                C.CANDIDATES_LIST_MISMATCH,
                f"listed for {pl.post} without a standing nomination",
                *strangers,
            )
        gone = [c for c in pl.candidates if c not in cs.roll]
        if gone:
            raise _violation(
                C.NOMINATION_NOT_REGISTERED,
                f"listed for {pl.post} but no longer a registered voter of {ev.community}",
                *gone,
            )
        unvetted = [c for c in pl.candidates if not cs.vetting.get(c, False)]
        if unvetted:
            raise _violation(
                C.VETTING_MISSING,
                f"listed for {pl.post} without an approving vetting decision",
                *unvetted,
            )
        omitted = sorted(c for c in nominees if cs.vetting.get(c, False) and c not in pl.candidates)
        if omitted:
            raise _violation(
                C.CANDIDATES_LIST_MISMATCH,
                f"approved nominees for {pl.post} missing from the list",
                *omitted,
            )
        need = pl.seats + st.rules.candidate_excess_for(pl.post)
        if len(pl.candidates) < need:
            raise _violation(
                C.CANDIDATES_NOT_MORE_THAN_SEATS,
                f"{pl.post}: {len(pl.candidates)} candidate(s) for {pl.seats} seat(s), "
                f"{need} needed",
                ev.community,
                pl.post,
            )
        members = [c for c in pl.candidates if c in cs.committee]
        if members:
            raise _violation(
                C.COMMITTEE_MEMBER_NOT_WITHDRAWN,
                f"listed for {pl.post} while still an election committee member",
                *members,
            )


@applies(CandidatesPublished)
def _apply_candidates(st: ElectionState, ctx: EventContext, ev: CandidatesPublished) -> None:
    cs = st.communities[ev.community]
    if cs.candidate_list is not None or 1 in cs.rounds:
        return
    cs.candidate_list = ev.posts
    posts = []
    for pl in ev.posts:
        d = cs.posts.get(pl.post)
        rank = d.rank if d is not None else 0
        posts.append(PostSpec(post=pl.post, seats=pl.seats, candidates=pl.candidates, rank=rank))
        cs.candidates.update(pl.candidates)
    _new_round(st, cs, 1, "first", posts)


def _observers_not_candidates(cs: CommunityState, posts: tuple[PostList, ...]) -> None:
    bad = sorted({c for pl in posts for c in pl.candidates if c in cs.observers})
    if bad:
        raise _violation(
            C.UNIT_OBSERVER_IS_CANDIDATE, "an accredited observer cannot be a candidate", *bad
        )
