"""The risk-limiting audit: the audit board's events checked and folded.

``audit.declared`` freezes the audited community rounds (their declared results, assertions and
Arlo ballot manifest); ``audit.seed_drawn`` fixes the public seed; each audit round draws a
sample (``audit.sample_drawn``), interprets every drawn paper ballot
(``audit.ballot_interpreted``) and measures the risk (``audit.round_closed``) until the round is
``audit.concluded``. The arithmetic is :mod:`electlog.rla` (the same functions the audit board's
``electlog rla`` commands use), so a forged sample, p-value or confirmation is refused by a
writer and named by the auditor (``rule.rla.*``). docs/rla.md describes the procedure.

The fold keeps every recorded ballot's marks (interned: equal ballots share one object), because
the audit compares sampled ballots with the log after the election; :func:`note_ballot` is
called by the ``ballot.recorded`` fold.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from electlog.errors import ElectlogError, UsageError
from electlog.rla.assertions import RoundAssertions, round_assertions
from electlog.rla.comparison import AssertionRisk, AuditParameters, draw, measure, required_total
from electlog.rla.manifest import ManifestBatch, ballot_ids, manifest_hash
from electlog.rla.risk import format_p
from electlog.rla.sampling import parse_ballot_id

from .. import codes as C
from ..events import (
    AuditBallotInterpreted,
    AuditBoxCounted,
    AuditConcluded,
    AuditDeclared,
    AuditRoundClosed,
    AuditSampleDrawn,
    AuditSeedDrawn,
    ElectionEvent,
)
from ..rules import Role
from ..tally import PostMarks, RoundResult
from ._base import EventContext, _effective_marks, _violation, applies, checks
from .keys import SIGNER_ROLES

if TYPE_CHECKING:
    from ._state import ElectionState

__all__ = ["AuditState", "RoundAudit", "audit_data", "note_ballot"]

Marks = Mapping[str, PostMarks]

_AUDIT_EVENTS: tuple[type[ElectionEvent], ...] = (
    AuditDeclared,
    AuditBoxCounted,
    AuditSeedDrawn,
    AuditSampleDrawn,
    AuditBallotInterpreted,
    AuditRoundClosed,
    AuditConcluded,
)
SIGNER_ROLES.update(dict.fromkeys(_AUDIT_EVENTS, (Role.AUDIT_BOARD,)))


class RoundAudit:
    """The audit of one community round: what the declaration froze (``result``,
    ``assertions``, ``batches``) and what the audit board did since."""

    __slots__ = (
        "assertions",
        "audit_round",
        "batches",
        "closed",
        "community",
        "concluded",
        "draws",
        "ids",
        "interpreted",
        "measured",
        "result",
        "round",
        "sheets",
    )

    def __init__(
        self,
        community: str,
        number: int,
        result: RoundResult,
        batches: tuple[ManifestBatch, ...],
    ) -> None:
        self.community = community
        self.round = number
        self.result = result
        self.assertions: RoundAssertions = round_assertions(result)
        self.batches = batches
        self.ids = frozenset(ballot_ids(batches))
        self.draws: list[str] = []
        self.audit_round = 0  # the last audit round drawn
        self.interpreted: dict[str, Marks | None] = {}
        self.closed: list[AuditRoundClosed] = []
        self.measured: list[AssertionRisk] = []
        self.sheets: dict[str, tuple[int, int]] = {}  # box -> (sheets, entry index)
        self.concluded: str | None = None

    @property
    def frame(self) -> list[str]:
        """The sampling frame (ballot ids in manifest order)."""
        return ballot_ids(self.batches)


_PostPair = tuple[str, PostMarks]
"""One post's marks on a recorded ballot, as :meth:`AuditState.recorded` rebuilds its map."""


class AuditState:
    """The risk-limiting audit of a log: the declaration, the seed, every audited round, the
    ballots recorded into an audited round after the declaration (``frozen``: entry index and
    box) and the recorded marks of every box (``marks``)."""

    __slots__ = (
        "_intern",
        "declared",
        "declared_index",
        "frozen",
        "marks",
        "params",
        "rounds",
        "seed",
        "seed_index",
    )

    def __init__(self) -> None:
        self.declared: AuditDeclared | None = None
        self.declared_index: int | None = None
        self.params: AuditParameters | None = None
        self.seed: str | None = None
        self.seed_index: int | None = None
        self.rounds: dict[tuple[str, int], RoundAudit] = {}
        self.frozen: list[tuple[int, str]] = []
        # per box, each recorded ballot's (post, marks) pairs, each pair shared by every ballot
        # that marked that post alike, and each ballot by every ballot marked alike: 8 bytes a
        # repeated ballot, about 130 a distinct one, instead of a dict and its PostMarks
        # objects (500 or more), the largest per-voter part of the state otherwise
        self.marks: dict[str, list[tuple[_PostPair, ...]]] = {}
        self._intern: dict[Any, Any] = {}  # a pair, or a ballot's tuple of pairs: itself

    def recorded(self, ballot: str) -> Marks | None:
        """The recorded (counted) marks of ``"<box>#<position>"``, ``None`` if there is none."""
        try:
            box, pos = parse_ballot_id(ballot)
        except UsageError:
            return None
        ballots = self.marks.get(box)
        if ballots is None or pos > len(ballots):
            return None
        return dict(ballots[pos - 1])


def note_ballot(st: ElectionState, ctx: EventContext, box: str, marks: Marks) -> None:
    """Keep the counted ``marks`` of a ballot recorded from ``box`` (the ``ballot.recorded``
    fold calls this), and note a ballot recorded into a round already under audit."""
    au = st.audit
    table = au._intern
    ballot = tuple(marks.items())
    # a ballot marked like one already kept is found with one hash of it (each PostMarks
    # hashed once, in Python); only a new one interns its pairs, then itself
    shared = table.get(ballot)
    if shared is None:
        intern = table.setdefault
        ballot = tuple([intern(pair, pair) for pair in ballot])
        shared = intern(ballot, ballot)
    au.marks.setdefault(box, []).append(shared)
    if au.rounds:
        unit = st.units[st.boxes[box].unit]
        if (unit.community, unit.round) in au.rounds:
            au.frozen.append((ctx.index, box))


def _batches(st: ElectionState, community: str, number: int) -> tuple[ManifestBatch, ...]:
    return tuple(
        ManifestBatch(box=cb.box, units=tuple(cb.units), recorded=cb.recorded)
        for cb in st.counting_batches(community, number)
    )


def _round(st: ElectionState, community: str, number: int, what: str) -> RoundAudit:
    ra = st.audit.rounds.get((community, number))
    if ra is None:
        raise _violation(
            C.RLA_EVENT_ORDER,
            f"{what}: {community} round {number} is not under audit",
            community,
        )
    if ra.concluded is not None:
        raise _violation(
            C.RLA_EVENT_ORDER,
            f"{what}: the audit of {community} round {number} is concluded ({ra.concluded})",
            community,
        )
    return ra


# ------------------------------------------------------------------ declaration


@checks(AuditDeclared)
def _check_declared(st: ElectionState, ctx: EventContext, ev: AuditDeclared) -> None:
    au = st.audit
    if au.declared is not None:
        raise _violation(C.RLA_EVENT_ORDER, "an audit is already declared")
    try:
        AuditParameters.parse(ev.risk_limit, ev.test, ev.replacement)
    except UsageError as exc:
        raise _violation(C.RLA_PARAMETERS_INVALID, str(exc)) from None
    if not 0 < ev.checkpoint_size <= ctx.index:
        raise _violation(
            C.RLA_CHECKPOINT_MISMATCH,
            f"the pinned checkpoint (size {ev.checkpoint_size}) must cover entries before the "
            f"declaration (entry {ctx.index})",
        )
    rounds = []
    for ar in ev.rounds:
        cs = st.communities.get(ar.community)
        rs = None if cs is None else cs.rounds.get(ar.round)
        if rs is None:
            raise _violation(C.REF_UNKNOWN, f"no round {ar.round} of {ar.community}", ar.community)
        if rs.declared is None:
            raise _violation(
                C.RLA_EVENT_ORDER,
                f"{ar.community} round {ar.round} has no declared result to audit",
                ar.community,
            )
        rounds.append((ar.community, ar.round, _batches(st, ar.community, ar.round)))
    if manifest_hash(rounds) != ev.manifest_hash:
        raise _violation(
            C.RLA_MANIFEST_HASH,
            "manifest_hash is not SHA-256 of the audited rounds' Arlo ballot manifest",
        )


@applies(AuditDeclared)
def _apply_declared(st: ElectionState, ctx: EventContext, ev: AuditDeclared) -> None:
    au = st.audit
    if au.declared is not None:
        return
    au.declared = ev
    au.declared_index = ctx.index
    try:
        au.params = AuditParameters.parse(ev.risk_limit, ev.test, ev.replacement)
    except UsageError:
        au.params = None
    for ar in ev.rounds:
        cs = st.communities.get(ar.community)
        if cs is None or ar.round not in cs.rounds:
            continue
        try:
            result = st.result(ar.community, ar.round)
        except ElectlogError:
            continue
        au.rounds[(ar.community, ar.round)] = RoundAudit(
            ar.community, ar.round, result, _batches(st, ar.community, ar.round)
        )


@checks(AuditBoxCounted)
def _check_box_counted(st: ElectionState, ctx: EventContext, ev: AuditBoxCounted) -> None:
    ra = _round(st, ev.community, ev.round, "audit.box_counted")
    if ev.box not in {b.box for b in ra.batches}:
        raise _violation(C.REF_UNKNOWN, f"{ev.box} is no counting batch of the round", ev.box)
    if ev.box in ra.sheets:
        raise _violation(C.REF_DUPLICATE, f"{ev.box} was already counted", ev.box)


@applies(AuditBoxCounted)
def _apply_box_counted(st: ElectionState, ctx: EventContext, ev: AuditBoxCounted) -> None:
    ra = st.audit.rounds.get((ev.community, ev.round))
    if ra is not None and ev.box not in ra.sheets:
        ra.sheets[ev.box] = (ev.sheets, ctx.index)


@checks(AuditSeedDrawn)
def _check_seed(st: ElectionState, ctx: EventContext, ev: AuditSeedDrawn) -> None:
    au = st.audit
    if au.declared is None:
        raise _violation(C.RLA_EVENT_ORDER, "the seed is drawn before the audit is declared")
    if au.seed is not None:
        raise _violation(C.RLA_EVENT_ORDER, "the audit's seed is already drawn")


@applies(AuditSeedDrawn)
def _apply_seed(st: ElectionState, ctx: EventContext, ev: AuditSeedDrawn) -> None:
    au = st.audit
    if au.declared is not None and au.seed is None:
        au.seed = ev.seed
        au.seed_index = ctx.index


# ------------------------------------------------------------------ audit rounds


@checks(AuditSampleDrawn)
def _check_sample(st: ElectionState, ctx: EventContext, ev: AuditSampleDrawn) -> None:
    au = st.audit
    if au.seed is None:
        raise _violation(C.RLA_EVENT_ORDER, "a sample is drawn before the seed", ev.community)
    ra = _round(st, ev.community, ev.round, "audit.sample_drawn")
    if ra.audit_round != len(ra.closed) or ev.audit_round != ra.audit_round + 1:
        raise _violation(
            C.RLA_EVENT_ORDER,
            f"audit round {ev.audit_round} of {ev.community} round {ev.round}: the next audit "
            f"round is {len(ra.closed) + 1}, after audit round {ra.audit_round} is closed",
            ev.community,
        )
    if ra.assertions.full_count is not None:
        raise _violation(
            C.RLA_EVENT_ORDER,
            f"{ev.community} round {ev.round} needs a full hand count "
            f"({ra.assertions.full_count}), not a sample",
            ev.community,
        )
    params = au.params
    if params is None:  # pragma: no cover - a declaration with bad parameters was refused
        raise _violation(C.RLA_PARAMETERS_INVALID, "the audit's parameters are invalid")
    if ev.drop != len(ra.draws):
        raise _violation(
            C.RLA_SAMPLE_MISMATCH,
            f"the sample continues after draw {ev.drop}, but {len(ra.draws)} were drawn",
            ev.community,
        )
    want = draw(
        ra.frame, au.seed, drop=ev.drop, size=len(ev.ballots), replacement=params.replacement
    )
    if list(ev.ballots) != want:
        wrong = next(
            (i for i, (a, b) in enumerate(zip(ev.ballots, want, strict=False)) if a != b),
            min(len(want), len(ev.ballots)),
        )
        raise _violation(
            C.RLA_SAMPLE_MISMATCH,
            f"draw {ev.drop + wrong + 1} is not the consistent sampler's for the public seed",
            ev.community,
            *ev.ballots[wrong : wrong + 1],
        )
    need = required_total(ra.assertions, params, ra.measured)
    if len(ra.draws) + len(ev.ballots) < need and len(ev.ballots) == len(want):
        exhausted = not params.replacement and len(ra.draws) + len(ev.ballots) >= len(ra.ids)
        if not exhausted:
            raise _violation(
                C.RLA_SAMPLE_MISMATCH,
                f"the sample reaches {len(ra.draws) + len(ev.ballots)} draws; the round needs "
                f"{need}",
                ev.community,
            )


@applies(AuditSampleDrawn)
def _apply_sample(st: ElectionState, ctx: EventContext, ev: AuditSampleDrawn) -> None:
    ra = st.audit.rounds.get((ev.community, ev.round))
    if ra is not None and ev.audit_round == ra.audit_round + 1:
        ra.draws.extend(ev.ballots)
        ra.audit_round = ev.audit_round


@checks(AuditBallotInterpreted)
def _check_interpreted(st: ElectionState, ctx: EventContext, ev: AuditBallotInterpreted) -> None:
    ra = _round(st, ev.community, ev.round, "audit.ballot_interpreted")
    if ev.ballot not in ra.draws:
        raise _violation(
            C.RLA_INTERPRETATION_INVALID,
            f"{ev.ballot} was not drawn for {ev.community} round {ev.round}",
            ev.ballot,
        )
    if ev.ballot in ra.interpreted:
        raise _violation(
            C.RLA_INTERPRETATION_INVALID, f"{ev.ballot} is already interpreted", ev.ballot
        )
    if ev.not_found and ev.marks:
        raise _violation(
            C.RLA_INTERPRETATION_INVALID, f"{ev.ballot}: not found, yet marks given", ev.ballot
        )
    scope = st.grants.get(ctx.signer, {}).get(Role.COUNTING_UNIT, frozenset())
    if scope is None or ev.community in scope:
        raise _violation(
            C.RLA_INTERPRETATION_INVALID,
            f"{ev.ballot} is interpreted by a counting-unit key of {ev.community}",
            ctx.signer.hex()[:16],
        )


@applies(AuditBallotInterpreted)
def _apply_interpreted(st: ElectionState, ctx: EventContext, ev: AuditBallotInterpreted) -> None:
    ra = st.audit.rounds.get((ev.community, ev.round))
    if ra is None or ev.ballot in ra.interpreted:
        return
    if ev.not_found:
        ra.interpreted[ev.ballot] = None
    else:
        roll = st.communities[ev.community].roll
        ra.interpreted[ev.ballot] = _effective_marks(ev.marks, roll.__contains__)[0]


def _measure(st: ElectionState, ra: RoundAudit) -> list[AssertionRisk] | None:
    params = st.audit.params
    if params is None or any(b not in ra.interpreted for b in ra.draws):
        return None
    return measure(ra.assertions, ra.result, params, ra.draws, st.audit.recorded, ra.interpreted)


@checks(AuditRoundClosed)
def _check_round_closed(st: ElectionState, ctx: EventContext, ev: AuditRoundClosed) -> None:
    ra = _round(st, ev.community, ev.round, "audit.round_closed")
    if ev.audit_round != ra.audit_round or len(ra.closed) >= ra.audit_round:
        raise _violation(
            C.RLA_EVENT_ORDER,
            f"audit round {ev.audit_round} of {ev.community} round {ev.round} is not the open "
            "audit round",
            ev.community,
        )
    pending = [b for b in ra.draws if b not in ra.interpreted]
    if pending:
        raise _violation(
            C.RLA_EVENT_ORDER,
            f"{len(pending)} drawn ballot(s) not interpreted yet",
            ev.community,
            *pending,
        )
    measured = _measure(st, ra)
    params = st.audit.params
    if measured is None or params is None:  # pragma: no cover - covered by the checks above
        raise _violation(C.RLA_PARAMETERS_INVALID, "the audit's parameters are invalid")
    if ev.sampled != len(ra.draws):
        raise _violation(
            C.RLA_RISK_MISMATCH,
            f"sampled {ev.sampled}, but {len(ra.draws)} draws were made",
            ev.community,
        )
    want = [
        (
            m.assertion.id,
            format_p(m.p_value),
            m.counts["o1"],
            m.counts["o2"],
            m.counts["u1"],
            m.counts["u2"],
        )
        for m in measured
    ]
    got = [(r.assertion, r.p_value, r.o1, r.o2, r.u1, r.u2) for r in ev.risks]
    if got != want:
        bad = [g[0] for g, w in zip(got, want, strict=False) if g != w] or ["(assertion list)"]
        raise _violation(
            C.RLA_RISK_MISMATCH,
            f"the measured risk differs from the recomputed one for {', '.join(bad[:3])}",
            ev.community,
            *bad,
        )
    confirmed = all(m.p_value <= params.risk_limit for m in measured)
    if ev.confirmed != confirmed:
        raise _violation(
            C.RLA_RISK_MISMATCH,
            f"confirmed is {ev.confirmed}, but the p-values say {confirmed} at risk limit "
            f"{params.risk_limit}",
            ev.community,
        )


@applies(AuditRoundClosed)
def _apply_round_closed(st: ElectionState, ctx: EventContext, ev: AuditRoundClosed) -> None:
    ra = st.audit.rounds.get((ev.community, ev.round))
    if ra is None or ev.audit_round != ra.audit_round or len(ra.closed) >= ra.audit_round:
        return
    ra.closed.append(ev)
    measured = _measure(st, ra)
    if measured is not None:
        ra.measured = measured


@checks(AuditConcluded)
def _check_concluded(st: ElectionState, ctx: EventContext, ev: AuditConcluded) -> None:
    ra = _round(st, ev.community, ev.round, "audit.concluded")
    if ev.outcome != "confirmed":
        return
    params = st.audit.params
    last = ra.closed[-1] if ra.closed else None
    ok = (
        last is not None
        and last.audit_round == ra.audit_round
        and params is not None
        and bool(ra.measured)
        and all(m.p_value <= params.risk_limit for m in ra.measured)
    )
    if not ok or ra.assertions.full_count is not None:
        raise _violation(
            C.RLA_RISK_MISMATCH,
            f"{ev.community} round {ev.round} is not confirmed by a closed audit round",
            ev.community,
        )


@applies(AuditConcluded)
def _apply_concluded(st: ElectionState, ctx: EventContext, ev: AuditConcluded) -> None:
    ra = st.audit.rounds.get((ev.community, ev.round))
    if ra is not None and ra.concluded is None:
        ra.concluded = ev.outcome


def _marks_data(marks: Marks | None) -> Any:
    if marks is None:
        return None
    return [
        [p, list(m.in_favour), list(m.against), list(m.write_ins), m.void]
        for p, m in sorted(marks.items())
    ]


def audit_data(st: ElectionState) -> Any:
    """The canonical data of the ``audit`` projection (state hashes): the declaration, the
    seed, and per audited round its draws, interpretations, box counts, closed audit rounds and
    conclusion."""
    au = st.audit
    return [
        None if au.declared is None else au.declared.to_body(),
        au.seed,
        [
            [
                ra.community,
                ra.round,
                list(ra.draws),
                sorted([b, _marks_data(m)] for b, m in ra.interpreted.items()),
                sorted([box, n] for box, (n, _) in ra.sheets.items()),
                [c.to_body() for c in ra.closed],
                ra.concluded,
            ]
            for ra in au.rounds.values()
        ],
        [[i, box] for i, box in au.frozen],
    ]
