"""How far each community's election got: the phase reached and what is still pending.

Read-only over an :class:`~electlog.election.state.ElectionState` (the writer's or the
auditor's replay). A community goes through the phases of :data:`PHASES` in order:

``definition``
    the community is defined in the genesis; nothing else yet;
``roll``
    its voter roll has been published;
``groups``
    the resident group elections are declared: every group's in a ``group_rep`` community, the
    ones it held in another community (one that holds none goes from ``roll`` to
    ``candidates``);
``candidates``
    the candidate list of round 1 (or of the latest called round) is published;
``voting``
    a unit is open or a ballot was issued in the latest round;
``counted``
    ballots of the round were recorded and every unit of the round is closed, or results were
    declared but a further round is still owed (re-vote, 另行选举, re-run);
``results_declared``
    complete: round 1 and every later round are declared and nothing is pending.

A community is complete when round 1 and every later round are declared and nothing is pending:
no post with a tie not followed by a re-vote, no unfilled seats of a first, re-run or re-vote
round not followed by a supplementary round (另行选举), no void round not re-run, no started
group election undeclared. Unfilled seats left after a supplementary round (or after a re-vote
among the tied of a supplementary round) do not keep a community open: the law ends the election
there (the seats stay vacant).
"""

from __future__ import annotations

from typing import Any, Final

import attrs

from electlog.errors import ElectlogError

from .rules import ElectionMode
from .state import CommunityState, ElectionState

__all__ = ["PHASES", "CommunityProgress", "community_progress", "election_progress"]

PHASES: Final = (
    "definition",
    "roll",
    "groups",
    "candidates",
    "voting",
    "counted",
    "results_declared",
)
"""The phases of a community's election, in order; the last one means complete."""

_RANK: Final = {name: i for i, name in enumerate(PHASES)}


@attrs.frozen(kw_only=True)
class CommunityProgress:
    """The phase one community reached.

    ``phase``: a name of :data:`PHASES`; ``round``: the latest round number (``None`` before
    the candidate list); ``complete``: the election of this community is over; ``pending``:
    what is still owed, one sentence each (empty when complete).
    """

    community: str
    phase: str
    round: int | None
    complete: bool
    pending: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``phase``, ``round``, ``complete``, ``pending``."""
        return {
            "phase": self.phase,
            "round": self.round,
            "complete": self.complete,
            "pending": list(self.pending),
        }


def _round_phase(state: ElectionState, cs: CommunityState, number: int) -> str:
    rs = cs.rounds[number]
    if rs.declared is not None:
        return "results_declared"
    units = [state.units[u] for u in rs.units if u in state.units]
    if rs.serials and all(u.closed for u in units):
        return "counted"
    if units or rs.issued:
        return "voting"
    return "candidates"


def _pending(state: ElectionState, cs: CommunityState) -> list[str]:
    out: list[str] = []
    for gid, ge in sorted(cs.group_elections.items()):
        if ge.declared is None and (ge.issued or ge.serials):
            out.append(f"group {gid}: the group election was started but never declared")
    if cs.mode == ElectionMode.GROUP_REP:
        out.extend(
            f"group {gid}: no group election held"
            for gid in sorted(cs.groups)
            if gid not in cs.group_elections
        )
    if 1 not in cs.rounds:
        out.append("round 1: no candidate list published")
        return out
    reruns = {rs.source_round for rs in cs.rounds.values() if rs.kind == "rerun"}
    for number, rs in sorted(cs.rounds.items()):
        if rs.declared is None:
            out.append(f"round {number} ({rs.kind}): result not declared")
            continue
        try:
            result = state.result(cs.community, number)
        except ElectlogError:  # a round whose tally cannot be computed is reported elsewhere
            continue
        if result.round_void:
            if number not in reruns:
                out.append(
                    f"round {number} ({rs.kind}) is void ({result.void_reason}): no re-run called"
                )
            continue
        for post, pr in result.posts.items():
            if (number, post) in cs.followed:
                continue
            if pr.tied:
                out.append(
                    f"round {number} ({rs.kind}) {post}: tie among {', '.join(pr.tied)} for "
                    f"{pr.revote_seats} seat(s), no re-vote called"
                )
            elif pr.unfilled and not rs.ends_election:
                out.append(
                    f"round {number} ({rs.kind}) {post}: {pr.unfilled} unfilled seat(s), "
                    "no 另行选举 (supplementary round) called"
                )
    return out


def community_progress(state: ElectionState, community: str) -> CommunityProgress:
    """The phase ``community`` reached in ``state`` (:class:`~electlog.errors.UsageError` if
    the community is unknown)."""
    cs = state.community(community)
    phase = "definition"
    if cs.roll_publications:
        phase = "roll"
        held = cs.group_elections
        if cs.mode == ElectionMode.GROUP_REP:
            groups_done = all(
                (ge := held.get(g)) is not None and ge.declared is not None for g in cs.groups
            )
        else:
            groups_done = bool(held) and all(ge.declared is not None for ge in held.values())
        if groups_done:
            phase = "groups"
    latest = max(cs.rounds, default=None)
    if latest is not None:
        # the least advanced round still in progress, else the latest round
        open_rounds = [n for n, rs in cs.rounds.items() if rs.declared is None]
        rounds = open_rounds or [latest]
        phase = min((_round_phase(state, cs, n) for n in rounds), key=_RANK.__getitem__)
    pending = tuple(_pending(state, cs))
    if pending and phase == "results_declared":
        phase = "counted"
    complete = not pending and phase == "results_declared"
    return CommunityProgress(
        community=community, phase=phase, round=latest, complete=complete, pending=pending
    )


def election_progress(state: ElectionState) -> dict[str, CommunityProgress]:
    """:func:`community_progress` of every community, by community id (sorted)."""
    return {cid: community_progress(state, cid) for cid in sorted(state.communities)}
