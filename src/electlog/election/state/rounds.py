"""Rounds and results: declared results checked against the recomputed tally, and the rounds
that follow one (re-run, re-vote, supplementary)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import codes as C
from ..events import PostList, ResultDeclared, RoundCalled
from ..tally import PostResult, PostSpec, RoundResult, supplementary_candidates
from ._base import EventContext, _compare, _violation, applies, checks
from ._model import _new_round
from .candidacy import _observers_not_candidates

if TYPE_CHECKING:
    from ._state import ElectionState


# ------------------------------------------------------------------ results and rounds


@checks(ResultDeclared)
def _check_result(st: ElectionState, ctx: EventContext, ev: ResultDeclared) -> None:
    cs = st.communities[ev.community]
    rs = cs.rounds.get(ev.round)
    if rs is None:
        raise _violation(C.REF_UNKNOWN, f"{ev.community} has no round {ev.round}", ev.community)
    if rs.declared is not None:
        raise _violation(C.REF_DUPLICATE, f"round {ev.round} result already declared", ev.community)
    open_units = [u for u in rs.units if not st.units[u].closed]
    unopened = [
        b
        for u in rs.units
        for b in st.units[u].boxes
        if not st.boxes[b].opened and st.boxes[b].merged_into is None
    ]
    if open_units or unopened:
        raise _violation(
            C.RESULT_PREMATURE,
            f"{len(open_units)} unit(s) still open, {len(unopened)} box(es) unopened",
            *open_units,
            *unopened,
        )
    _compare(ev.result, st.result(ev.community, ev.round), f"{ev.community}#{ev.round}")


@applies(ResultDeclared)
def _apply_result(st: ElectionState, ctx: EventContext, ev: ResultDeclared) -> None:
    rs = st.communities[ev.community].rounds.get(ev.round)
    if rs is not None and rs.declared is None:
        rs.declared = ev.result


@checks(RoundCalled)
def _check_round_called(st: ElectionState, ctx: EventContext, ev: RoundCalled) -> None:
    cs = st.communities[ev.community]
    if ev.round in cs.rounds:
        raise _violation(C.REF_DUPLICATE, f"round {ev.round} already exists", ev.community)
    latest = max(cs.rounds, default=0)
    if ev.round != latest + 1:
        raise _violation(
            C.PHASE_OUT_OF_WINDOW,
            f"the next round is {latest + 1}, not {ev.round}",
            ev.community,
        )
    source = cs.rounds.get(ev.source_round)
    if source is None or source.declared is None:
        raise _violation(
            C.PHASE_OUT_OF_WINDOW,
            f"round {ev.source_round} has no declared result",
            ev.community,
        )
    first = st.result(ev.community, ev.source_round)
    _observers_not_candidates(cs, ev.posts)
    names = [pl.post for pl in ev.posts]
    if len(names) != len(set(names)):
        raise _violation(C.REF_DUPLICATE, "a post appears twice", ev.community)
    if ev.kind == "rerun":
        if not first.round_void:
            raise _violation(
                C.ROUND_NOT_WARRANTED,
                f"round {ev.source_round} is not void; nothing to re-run",
                ev.community,
            )
        want = {p.post: (p.seats, p.candidates) for p in source.posts}
        got = {pl.post: (pl.seats, pl.candidates) for pl in ev.posts}
        if got != want:
            raise _violation(
                C.ROUND_CANDIDATES_MISMATCH,
                "a re-run repeats the void round's posts, seats and candidates",
                ev.community,
            )
        return
    for pl in ev.posts:
        pr = first.posts.get(pl.post)
        if pr is None:
            raise _violation(C.REF_UNKNOWN, f"no post {pl.post} in the source round", pl.post)
        if (ev.source_round, pl.post) in cs.followed:
            raise _violation(
                C.REF_DUPLICATE,
                f"{pl.post} of round {ev.source_round} already followed up",
                pl.post,
            )
        _check_followed_post(st, ev, first, pr, pl)


def _check_followed_post(
    st: ElectionState, ev: RoundCalled, first: RoundResult, pr: PostResult, pl: PostList
) -> None:
    """A re-vote or supplementary round's post ``pl`` against its result ``pr`` in the source
    round (whose result is ``first``)."""
    if ev.kind == "revote":
        if first.round_void or not pr.tied:
            raise _violation(C.ROUND_NOT_WARRANTED, f"{pl.post}: no tie to re-vote", pl.post)
        if pl.seats != pr.revote_seats or set(pl.candidates) != set(pr.tied):
            raise _violation(
                C.ROUND_CANDIDATES_MISMATCH,
                f"{pl.post}: re-vote is for {pr.revote_seats} seat(s) among {', '.join(pr.tied)}",
                pl.post,
                *pl.candidates,
            )
    else:
        if first.round_void or pr.unfilled == 0:
            raise _violation(C.ROUND_NOT_WARRANTED, f"{pl.post}: no unfilled seats", pl.post)
        want_c = supplementary_candidates(pr, pr.unfilled + st.rules.candidate_excess_for(pl.post))
        if pl.seats != pr.unfilled or set(pl.candidates) != set(want_c):
            raise _violation(
                C.ROUND_CANDIDATES_MISMATCH,
                f"{pl.post}: supplementary round is for {pr.unfilled} seat(s) among "
                f"{', '.join(want_c)}",
                pl.post,
                *pl.candidates,
            )


@applies(RoundCalled)
def _apply_round_called(st: ElectionState, ctx: EventContext, ev: RoundCalled) -> None:
    cs = st.communities[ev.community]
    if ev.round in cs.rounds:
        return
    posts = []
    for pl in ev.posts:
        d = cs.posts.get(pl.post)
        posts.append(
            PostSpec(
                post=pl.post,
                seats=pl.seats,
                candidates=pl.candidates,
                rank=d.rank if d is not None else 0,
            )
        )
        cs.candidates.update(pl.candidates)
        if ev.kind != "rerun":
            cs.followed.add((ev.source_round, pl.post))
    _new_round(st, cs, ev.round, ev.kind, posts, ev.source_round)
