"""Ballot contents of a simulated election: realistic marks, drawn from a seeded generator.

A voter ranks the listed candidates of a post by popularity with some randomness
(Efraimidis–Spirakis weighted sampling) and marks the first ``k`` "for" (usually as many as there
are seats, sometimes fewer); some mark a candidate "against", some write in a registered voter
instead of a listed candidate. A few ballots are blank, a few overvote every post (void), a few
overvote one post (partly valid), and a very few write in someone who is not on the roll: that
post is void, as the law says, and the counting unit records only the reason
(``PostMarks(void="writein_not_registered")``), never the name. Group ballots (household ballots
of a resident group election) carry write-ins only.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Final

import attrs

from electlog.election.state import GROUP_LEADER, GROUP_REP
from electlog.election.tally import VOID_POST_WRITEIN_NOT_REGISTERED, PostMarks

__all__ = ["VOID_WRITE_IN", "GroupPlan", "PostPlan", "group_ballots", "round_ballots"]

VOID_WRITE_IN: Final = PostMarks(void=VOID_POST_WRITEIN_NOT_REGISTERED)
"""How a post whose write-in names no registered voter is recorded (and tallied): void, with
only the reason."""

P_BLANK: Final = 0.012
P_VOID: Final = 0.007
P_PARTLY: Final = 0.022
P_POST_SKIPPED: Final = 0.03
P_FEWER: Final = 0.14
P_WRITE_IN: Final = 0.02
P_UNREGISTERED: Final = 0.0015
P_AGAINST: Final = 0.05

Ballot = dict[str, PostMarks]


@attrs.frozen(kw_only=True)
class PostPlan:
    """A post on a ballot: id, seats, listed candidates (ballot order) and their popularity."""

    post: str
    seats: int
    candidates: tuple[str, ...]
    weights: tuple[float, ...]


def _pick(rng: random.Random, cands: Sequence[str], weights: Sequence[float], k: int) -> list[str]:
    """``k`` of ``cands`` without replacement, weighted (Efraimidis–Spirakis)."""
    rand = rng.random
    keyed = sorted(((rand() ** (1.0 / w), c) for c, w in zip(cands, weights, strict=True)))
    return [c for _, c in keyed[-k:]] if k else []


def _one_post(
    rng: random.Random,
    plan: PostPlan,
    write_ins: Sequence[str],
    unregistered: str,
) -> PostMarks | None:
    """Marks of one post (``None``: left blank); a write-in of ``unregistered`` (someone not on
    the roll) makes the post :data:`VOID_WRITE_IN`."""
    rand = rng.random
    if rand() < P_POST_SKIPPED:
        return None
    seats = plan.seats
    k = seats if seats == 1 or rand() >= P_FEWER else rng.randint(1, seats - 1)
    chosen = _pick(rng, plan.candidates, plan.weights, k)
    written: tuple[str, ...] = ()
    r = rand()
    if r < P_UNREGISTERED:
        written = (unregistered,)
        chosen.pop()
    elif r < P_WRITE_IN and write_ins:
        written = (rng.choice(write_ins),)
        chosen.pop()
    against: tuple[str, ...] = ()
    if rand() < P_AGAINST:
        rest = [c for c in plan.candidates if c not in chosen]
        if rest:
            against = (rng.choice(rest),)
    if written == (unregistered,):
        return VOID_WRITE_IN
    return PostMarks(in_favour=tuple(sorted(chosen)), against=against, write_ins=written)


def _overvote(rng: random.Random, plan: PostPlan) -> PostMarks:
    n = min(len(plan.candidates), plan.seats + 1)
    return PostMarks(in_favour=tuple(sorted(rng.sample(plan.candidates, n))))


def round_ballots(
    rng: random.Random,
    posts: Sequence[PostPlan],
    count: int,
    *,
    write_ins: Sequence[str],
    unregistered: str,
) -> tuple[list[Ballot], list[Ballot]]:
    """``count`` ballots of a round: (the ballots as recorded, the same as the tally will see
    them; the two lists are equal since a post voided by an unregistered write-in is recorded
    as :data:`VOID_WRITE_IN`)."""
    recorded: list[Ballot] = []
    tallied: list[Ballot] = []
    overvotable = [p for p in posts if len(p.candidates) > p.seats]
    for _ in range(count):
        u = rng.random()
        if u < P_BLANK:
            recorded.append({})
            tallied.append({})
            continue
        if u < P_BLANK + P_VOID and overvotable:
            ballot = {p.post: _overvote(rng, p) for p in overvotable}
            recorded.append(ballot)
            tallied.append(ballot)
            continue
        bad = rng.choice(overvotable).post if u < P_BLANK + P_VOID + P_PARTLY else None
        ballot = {}
        for p in posts:
            if p.post == bad:
                ballot[p.post] = _overvote(rng, p)
                continue
            marks = _one_post(rng, p, write_ins, unregistered)
            if marks is not None:
                ballot[p.post] = marks
        recorded.append(ballot)
        tallied.append(ballot)
    return recorded, tallied


@attrs.frozen(kw_only=True)
class GroupPlan:
    """A resident group election: the favourites the households write in.

    ``leader`` / ``leader_alt``: the popular and the second choice for group leader; ``reps``:
    the two popular representatives and ``rep_alt`` a third; ``others``: other voters of the
    group (occasional write-ins); ``stranger``: an id that is not a voter of the group (a write-in
    of someone outside the group voids the post: it is recorded as :data:`VOID_WRITE_IN`)."""

    leader: str
    leader_alt: str
    reps: tuple[str, str]
    rep_alt: str
    others: tuple[str, ...]
    stranger: str


def group_ballots(
    rng: random.Random, plan: GroupPlan, count: int
) -> tuple[list[Ballot], list[Ballot]]:
    """``count`` household ballots of a group election: (as recorded, as the tally sees them)."""
    recorded: list[Ballot] = []
    tallied: list[Ballot] = []
    r1, r2 = plan.reps
    for _ in range(count):
        rand = rng.random
        if rand() < 0.04:
            recorded.append({})
            tallied.append({})
            continue
        ballot: Ballot = {}
        void_leader = False
        r = rand()
        if r < 0.72:
            ballot[GROUP_LEADER] = PostMarks(write_ins=(plan.leader,))
        elif r < 0.85:
            ballot[GROUP_LEADER] = PostMarks(write_ins=(plan.leader_alt,))
        elif r < 0.88:
            ballot[GROUP_LEADER] = PostMarks(
                write_ins=tuple(sorted((plan.leader, plan.leader_alt)))
            )
        elif r < 0.90 and plan.others:
            ballot[GROUP_LEADER] = PostMarks(write_ins=(rng.choice(plan.others),))
        elif r < 0.905:
            ballot[GROUP_LEADER] = VOID_WRITE_IN
            void_leader = True
        r = rand()
        reps: tuple[str, ...] | None
        if r < 0.66:
            reps = (r1, r2)
        elif r < 0.76:
            reps = (r1, plan.rep_alt)
        elif r < 0.84:
            reps = (r2, plan.rep_alt)
        elif r < 0.90:
            reps = (r1,)
        elif r < 0.93:
            reps = (r1, r2, plan.rep_alt)
        else:
            reps = None
        if reps is not None:
            ballot[GROUP_REP] = PostMarks(write_ins=tuple(sorted(reps)))
        recorded.append(ballot)
        if void_leader:
            seen = dict(ballot)
            seen[GROUP_LEADER] = VOID_WRITE_IN
            tallied.append(seen)
        else:
            tallied.append(ballot)
    return recorded, tallied
