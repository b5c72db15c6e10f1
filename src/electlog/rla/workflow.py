"""The audit board's workflow on an :class:`~electlog.election.Election`: each step computes its
event from the replayed state with the same :mod:`electlog.rla` functions the auditor uses,
then checks, signs and appends it (``Election.submit``). ``electlog rla`` is the command-line
form (docs/rla.md).

1. :func:`declare` — after the election, pin the latest witnessed checkpoint and the rounds'
   Arlo ballot manifest (:func:`electlog.rla.manifest.manifest_hash`).
2. :func:`count_box` — the sheets found in each box (optional, recommended).
3. :func:`draw_seed` — the seed of the public ceremony, after the declaration is witnessed.
4. :func:`draw_sample` — the next audit round's draws (:func:`retrieval_list` says where the
   ballots are), :func:`interpret` each one (marks, or not found), :func:`close_round`, and
   again while :func:`next_sample_size` is not 0.
5. :func:`conclude` — ``confirmed`` once a closed audit round confirms every assertion, or
   ``full_hand_count``.

Times are given (µs UTC, or a local date and time of the election's time zone): nothing here
reads a clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

import attrs

from electlog.election import Election
from electlog.election.events import (
    AssertionRisk,
    AuditBallotInterpreted,
    AuditBoxCounted,
    AuditConcluded,
    AuditDeclared,
    AuditedRound,
    AuditRoundClosed,
    AuditSampleDrawn,
    AuditSeedDrawn,
)
from electlog.election.state import ElectionState
from electlog.election.state.audit_board import RoundAudit
from electlog.election.tally import PostMarks
from electlog.errors import UsageError
from electlog.events import Author
from electlog.log import Receipt

from .comparison import AuditParameters, draw, measure, required_total
from .manifest import ManifestBatch, manifest_hash
from .risk import format_p
from .sampling import parse_ballot_id
from .status import STATUS_CONFIRMED, next_draws

__all__ = [
    "AuditParameters",
    "RetrievalRow",
    "close_round",
    "conclude",
    "count_box",
    "declare",
    "draw_sample",
    "draw_seed",
    "interpret",
    "next_sample_size",
    "planned_manifest_hash",
    "required_total",
    "retrieval_list",
]

Time = int | dt.datetime | dt.date


def _audited(state: ElectionState, community: str, round: int) -> RoundAudit:
    ra = state.audit.rounds.get((community, round))
    if ra is None:
        known = ", ".join(f"{c}/{n}" for c, n in state.audit.rounds) or "none"
        raise UsageError(f"{community} round {round} is not under audit (audited: {known})")
    return ra


def planned_manifest_hash(state: ElectionState, rounds: Sequence[tuple[str, int]]) -> bytes:
    """The manifest hash an audit of ``rounds`` must declare now."""
    return manifest_hash(
        (
            c,
            n,
            [
                ManifestBatch(box=cb.box, units=tuple(cb.units), recorded=cb.recorded)
                for cb in state.counting_batches(c, n)
            ],
        )
        for c, n in rounds
    )


def declare(
    election: Election,
    author: Author,
    *,
    rounds: Sequence[tuple[str, int]],
    risk_limit: str,
    checkpoint_size: int,
    checkpoint_root: bytes,
    test: str = "kaplan_markov",
    replacement: bool = True,
    time: Time,
) -> Receipt:
    """Declare the audit of ``rounds`` (every declared round when empty)."""
    state = election.state
    chosen = list(rounds) or [
        (c, n) for c, cs in state.communities.items() for n, rs in cs.rounds.items() if rs.declared
    ]
    if not chosen:
        raise UsageError("no declared round to audit")
    AuditParameters.parse(risk_limit, test, replacement)  # a clear error before signing
    event = AuditDeclared(
        rounds=tuple(AuditedRound(community=c, round=n) for c, n in chosen),
        method="comparison",
        risk_limit=risk_limit,
        test=test,
        replacement=replacement,
        checkpoint_size=checkpoint_size,
        checkpoint_root=checkpoint_root,
        manifest_hash=planned_manifest_hash(state, chosen),
    )
    return election.submit(author, event, time=time)


def count_box(
    election: Election,
    author: Author,
    community: str,
    round: int,
    box: str,
    sheets: int,
    *,
    time: Time,
) -> Receipt:
    """Record the number of paper ``sheets`` found in ``box``."""
    event = AuditBoxCounted(community=community, round=round, box=box, sheets=sheets)
    return election.submit(author, event, time=time)


def draw_seed(election: Election, author: Author, seed: str, *, time: Time) -> Receipt:
    """Record the public ``seed`` (e.g. 20 decimal digits from ten-sided dice)."""
    return election.submit(author, AuditSeedDrawn(seed=seed), time=time)


def next_sample_size(state: ElectionState, community: str, round: int) -> int:
    """The draws the next audit round of ``community``'s ``round`` must add (0: none is due:
    confirmed, concluded, an audit round open, or a full hand count needed)."""
    return next_draws(state, _audited(state, community, round))


def draw_sample(
    election: Election,
    author: Author,
    community: str,
    round: int,
    *,
    size: int | None = None,
    time: Time,
) -> AuditSampleDrawn:
    """Draw the next audit round's ballots (``size`` draws, default the required number) and
    record them; returns the event."""
    state = election.state
    ra = _audited(state, community, round)
    seed = state.audit.seed
    params = state.audit.params
    if seed is None or params is None:
        raise UsageError("draw the seed (electlog rla seed) before the sample")
    need = next_sample_size(state, community, round)
    n = need if size is None else size
    if n < 1:
        raise UsageError(f"no sample is due for {community} round {round}")
    ballots = draw(ra.frame, seed, drop=len(ra.draws), size=n, replacement=params.replacement)
    if not ballots:
        raise UsageError(f"every ballot of {community} round {round} is drawn already")
    event = AuditSampleDrawn(
        community=community,
        round=round,
        audit_round=ra.audit_round + 1,
        drop=len(ra.draws),
        ballots=tuple(ballots),
    )
    election.submit(author, event, time=time)
    return event


def interpret(
    election: Election,
    author: Author,
    community: str,
    round: int,
    ballot: str,
    marks: Mapping[str, PostMarks] | None,
    members: Iterable[str],
    *,
    time: Time,
) -> Receipt:
    """Record the audit board's reading of a drawn ballot (``marks=None``: not found)."""
    event = AuditBallotInterpreted(
        community=community,
        round=round,
        ballot=ballot,
        not_found=marks is None,
        marks=dict(marks or {}),
        members=tuple(members),
    )
    return election.submit(author, event, time=time)


def close_round(
    election: Election, author: Author, community: str, round: int, *, time: Time
) -> AuditRoundClosed:
    """Measure the risk of the open audit round and record it; returns the event."""
    state = election.state
    ra = _audited(state, community, round)
    params = state.audit.params
    if params is None:  # pragma: no cover - a declaration with bad parameters is refused
        raise UsageError("the audit's parameters are invalid")
    pending = [b for b in ra.draws if b not in ra.interpreted]
    if pending:
        raise UsageError(f"{len(pending)} drawn ballot(s) are not interpreted, e.g. {pending[0]}")
    measured = measure(
        ra.assertions, ra.result, params, ra.draws, state.audit.recorded, ra.interpreted
    )
    event = AuditRoundClosed(
        community=community,
        round=round,
        audit_round=ra.audit_round,
        sampled=len(ra.draws),
        risks=tuple(
            AssertionRisk(
                assertion=m.assertion.id,
                p_value=format_p(m.p_value),
                o1=m.counts["o1"],
                o2=m.counts["o2"],
                u1=m.counts["u1"],
                u2=m.counts["u2"],
            )
            for m in measured
        ),
        confirmed=all(m.p_value <= params.risk_limit for m in measured),
    )
    election.submit(author, event, time=time)
    return event


def conclude(
    election: Election,
    author: Author,
    community: str,
    round: int,
    *,
    outcome: str = STATUS_CONFIRMED,
    time: Time,
) -> Receipt:
    """End the audit of a round: ``confirmed`` or ``full_hand_count``."""
    event = AuditConcluded(community=community, round=round, outcome=outcome)
    return election.submit(author, event, time=time)


@attrs.frozen(kw_only=True)
class RetrievalRow:
    """Where to find a drawn ballot: ``box`` and ``position`` (recording order, 1-based), the
    ``units`` whose ballots the box holds, the ``ballot`` id, and the ``draws`` (1-based draw
    numbers) that picked it."""

    box: str
    position: int
    units: tuple[str, ...]
    ballot: str
    draws: tuple[int, ...]
    audit_round: int

    def to_dict(self) -> dict[str, object]:
        """CSV / JSON form."""
        return {
            "box": self.box,
            "position": self.position,
            "units": " + ".join(self.units),
            "ballot": self.ballot,
            "draws": " ".join(str(d) for d in self.draws),
            "audit_round": self.audit_round,
        }


def retrieval_list(
    state: ElectionState, community: str, round: int, audit_round: int | None = None
) -> list[RetrievalRow]:
    """The ballots to fetch for ``audit_round`` (default the latest drawn), once each, by box
    and position (the retrieval order); a ballot drawn in an earlier audit round is not fetched
    again."""
    ra = _audited(state, community, round)
    number = ra.audit_round if audit_round is None else audit_round
    if not 1 <= number <= ra.audit_round:
        raise UsageError(f"{community} round {round} has no audit round {number}")
    sizes = [c.sampled for c in ra.closed]
    begin = sizes[number - 2] if number >= 2 else 0
    end = sizes[number - 1] if len(sizes) >= number else len(ra.draws)
    earlier = set(ra.draws[:begin])
    units = {b.box: b.units for b in ra.batches}
    rows: dict[str, list[int]] = {}
    for i, ballot in enumerate(ra.draws[begin:end]):
        if ballot not in earlier:  # a ballot drawn again is interpreted already
            rows.setdefault(ballot, []).append(begin + i + 1)
    out = []
    for ballot, draws in rows.items():
        box, pos = parse_ballot_id(ballot)
        out.append(
            RetrievalRow(
                box=box,
                position=pos,
                units=units.get(box, ()),
                ballot=ballot,
                draws=tuple(draws),
                audit_round=number,
            )
        )
    return sorted(out, key=lambda r: (r.box, r.position))
