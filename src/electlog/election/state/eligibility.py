"""The eligibility sample: the audit board's check of a public-seed sample of registrations.

Under the ``minimal`` public profile the public cannot check a voter's age or basis evidence
(they are commitments). The audit board checks k registrations against the registrar's paper
records instead: ``eligibility.sample_drawn`` fixes the sample (the consistent sampler's first k
draws under a public seed, over the active registrations a witnessed checkpoint already holds),
then ``eligibility.sample_checked`` records how many were checked and which failed. The sample
is :mod:`electlog.rla.sampling`'s, the same sampler the risk-limiting audit draws ballots with,
so a forged sample is refused by a writer and named by the auditor
(``rule.eligibility.sample_mismatch``).

The fold keeps each active voter's registration entry (the auditor names a failed voter's
entry) and the entry of the last change to the roll (registration or removal), which the pinned
checkpoint must follow.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from electlog.errors import ElectlogError, RuleViolation, UsageError
from electlog.rla.sampling import first_fraction, sample, sha256_hex

from .. import codes as C
from ..events import EligibilitySampleChecked, EligibilitySampleDrawn
from ..rules import Role
from ._base import EventContext, _violation, applies, checks
from .keys import SIGNER_ROLES

if TYPE_CHECKING:
    from ._state import ElectionState

__all__ = [
    "DrawPart",
    "EligibilityState",
    "draw_violation",
    "eligibility_data",
    "expected_sample",
    "note_registered",
    "note_removed",
    "sample_checked",
    "sample_drawn",
]

SIGNER_ROLES.update(
    dict.fromkeys((EligibilitySampleDrawn, EligibilitySampleChecked), (Role.AUDIT_BOARD,))
)


class EligibilityState:
    """The eligibility sample of a log: the draw and its entry, the result and its entry, each
    active voter's registration entry (``registered_at``) and the entry of the last registration
    or removal (``roll_changed_at``, -1 before any) and, once drawn, the sampled voters'
    registration entries (``sample_entries``)."""

    __slots__ = (
        "checked",
        "checked_index",
        "deferred",
        "drawn",
        "drawn_index",
        "registered_at",
        "roll_changed_at",
        "sample_entries",
    )

    def __init__(self) -> None:
        self.drawn: EligibilitySampleDrawn | None = None
        self.drawn_index: int | None = None
        self.checked: EligibilitySampleChecked | None = None
        self.checked_index: int | None = None
        self.registered_at: dict[str, int] = {}
        self.roll_changed_at = -1
        self.sample_entries: dict[str, int] = {}  # sampled voter -> registration entry
        self.deferred: list[DrawPart] | None = None
        """Set to a list by a replay that holds only some communities (the audit's shards):
        a draw's checks over the whole roll are not made here, its :class:`DrawPart` is kept."""

    def without_registrations(self) -> EligibilityState:
        """This state without each voter's registration entry (``registered_at``, one item per
        active voter), which only this replay's own later draws read: what a replay holding
        some communities sends to be merged (the draws, the results and the sampled voters'
        entries), so that the merge does not hold every voter's entry once more."""
        sent = EligibilityState()
        sent.drawn, sent.drawn_index = self.drawn, self.drawn_index
        sent.checked, sent.checked_index = self.checked, self.checked_index
        sent.roll_changed_at = self.roll_changed_at
        sent.sample_entries = self.sample_entries
        sent.deferred = self.deferred
        return sent


class DrawPart(NamedTuple):
    """What a state holding only some communities knows of a draw (``eligibility.sample_drawn``
    at entry ``at``, signed by ``signer``) that passed the checks it can make alone: the entry
    of its last roll change (-1 before any), its active voters, and its ``k`` smallest
    ``(ticket number, voter)`` under the draw's seed (full precision; ``None`` when an id or the
    seed cannot be sampled). The parts of every community decide the draw
    (:func:`draw_violation`): the roll changed at the largest entry, the roll size is the sum,
    and the sample is the ``k`` smallest of the merged tickets."""

    at: int
    signer: bytes
    event: EligibilitySampleDrawn
    roll_changed_at: int
    active: int
    tickets: list[tuple[str, str]] | None


def smallest_tickets(voters: Iterable[str], seed: str, k: int) -> list[tuple[str, str]]:
    """The ``k`` smallest ``(first_fraction(v, seed), v)`` of ``voters`` (str ids), smallest
    first: the consistent sampler's first ``k`` draws without replacement. The ticket is
    computed inline (one hash per voter, no per-voter checks or calls); an id it cannot encode
    goes through :func:`~electlog.rla.sampling.first_fraction`, which raises its
    :class:`~electlog.errors.UsageError`."""
    seed_hash = sha256_hex(seed)
    sha = hashlib.sha256
    from_bytes = int.from_bytes
    try:  # a generator: memory for k tickets, not one per voter
        return heapq.nsmallest(
            k,
            (
                ("0." + f"{from_bytes(sha((seed_hash + v).encode()).digest()):064d}"[::-1], v)
                for v in voters
            ),
        )
    except (UnicodeEncodeError, TypeError):
        return heapq.nsmallest(k, ((first_fraction(v, seed, seed_hash), v) for v in voters))


def draw_part(st: ElectionState, ctx: EventContext, ev: EligibilitySampleDrawn) -> DrawPart:
    """The :class:`DrawPart` of ``ev`` at ``ctx`` over the voters ``st`` holds."""
    try:
        tickets: list[tuple[str, str]] | None = smallest_tickets(st.voters, ev.seed, len(ev.voters))
    except ElectlogError:
        tickets = None
    el = st.eligibility
    return DrawPart(ctx.index, ctx.signer, ev, el.roll_changed_at, len(st.voters), tickets)


def note_registered(st: ElectionState, ctx: EventContext, voter: str) -> None:
    """A voter's registration was folded at ``ctx`` (the ``voter.registered`` fold calls this)."""
    el = st.eligibility
    el.registered_at[voter] = ctx.index
    el.roll_changed_at = ctx.index


def note_removed(st: ElectionState, ctx: EventContext, voter: str) -> None:
    """A voter's removal was folded at ``ctx`` (the ``voter.removed`` fold calls this)."""
    el = st.eligibility
    el.registered_at.pop(voter, None)
    el.roll_changed_at = ctx.index


def expected_sample(st: ElectionState, seed: str, k: int) -> list[str]:
    """The eligibility sample the state admits: the consistent sampler's first ``k`` draws
    under ``seed`` over the active voter ids of every community (the ids' order does not
    matter: each id's ticket depends on the seed and the id alone)."""
    if type(seed) is str and type(k) is int and k >= 0:
        # what sample() draws, without its checks (the roll's ids are distinct strs)
        try:
            return [v for _, v in smallest_tickets(st.voters, seed, k)]
        except UsageError:
            pass  # sample() below raises it, for the first id in its order
    return [t.id for t in sample(sorted(st.voters), seed, k)]


def sample_drawn(
    st: ElectionState, seed: str, k: int, checkpoint_size: int, checkpoint_root: bytes
) -> EligibilitySampleDrawn:
    """The ``eligibility.sample_drawn`` of ``k`` registrations under the public ``seed`` over
    the active roll of ``st``, pinning the witnessed checkpoint (``checkpoint_size``,
    ``checkpoint_root``) that holds that roll."""
    return EligibilitySampleDrawn(
        checkpoint_size=checkpoint_size,
        checkpoint_root=checkpoint_root,
        roll_size=len(st.voters),
        seed=seed,
        voters=tuple(expected_sample(st, seed, k)),
    )


def sample_checked(
    st: ElectionState, failures: Iterable[str], members: Sequence[str]
) -> EligibilitySampleChecked:
    """The ``eligibility.sample_checked`` of the sample drawn in ``st``: every sampled
    registration checked, ``failures`` (put in draw order) failed, agreed by ``members``;
    :class:`~electlog.errors.UsageError` when no sample was drawn or a failure was not sampled."""
    drawn = st.eligibility.drawn
    if drawn is None:
        raise UsageError("no eligibility sample was drawn")
    failed = set(failures)
    stray = sorted(failed.difference(drawn.voters))
    if stray:
        raise UsageError(f"failures not in the eligibility sample: {', '.join(stray[:5])}")
    return EligibilitySampleChecked(
        seed=drawn.seed,
        checked=len(drawn.voters),
        failures=tuple(v for v in drawn.voters if v in failed),
        members=tuple(members),
    )


# ------------------------------------------------------------------ the draw


@checks(EligibilitySampleDrawn)
def _check_drawn(st: ElectionState, ctx: EventContext, ev: EligibilitySampleDrawn) -> None:
    el = st.eligibility
    if el.drawn is not None:
        raise _violation(
            C.ELIGIBILITY_EVENT_ORDER,
            f"an eligibility sample was already drawn (entry {el.drawn_index})",
        )
    if not 0 < ev.checkpoint_size <= ctx.index:
        raise _violation(
            C.ELIGIBILITY_CHECKPOINT_MISMATCH,
            f"the pinned checkpoint (size {ev.checkpoint_size}) must cover entries before the "
            f"draw (entry {ctx.index})",
        )
    if el.deferred is not None:
        el.deferred.append(draw_part(st, ctx, ev))
        return
    violation = draw_violation(
        ev,
        el.roll_changed_at,
        len(st.voters),
        lambda: expected_sample(st, ev.seed, len(ev.voters)),
    )
    if violation is not None:
        raise violation


def draw_violation(
    ev: EligibilitySampleDrawn,
    roll_changed_at: int,
    active: int,
    want: Callable[[], list[str]],
) -> RuleViolation | None:
    """The violation of a draw's checks over the whole roll (None if it holds): the roll last
    changed at entry ``roll_changed_at``, ``active`` registrations are active and ``want()`` is
    the sample they admit (called only once the roll's checks hold)."""
    if roll_changed_at >= ev.checkpoint_size:
        return _violation(
            C.ELIGIBILITY_CHECKPOINT_MISMATCH,
            f"the roll changed at entry {roll_changed_at}, after the pinned checkpoint "
            f"(size {ev.checkpoint_size}): pin a checkpoint that holds the roll sampled",
        )
    if ev.roll_size != active:
        return _violation(
            C.ELIGIBILITY_SAMPLE_MISMATCH,
            f"roll_size is {ev.roll_size}, but {active} registrations are active",
        )
    wanted = want()
    if list(ev.voters) != wanted:
        wrong = next(
            (i for i, (a, b) in enumerate(zip(ev.voters, wanted, strict=False)) if a != b),
            min(len(wanted), len(ev.voters)),
        )
        return _violation(
            C.ELIGIBILITY_SAMPLE_MISMATCH,
            f"draw {wrong + 1} of {len(ev.voters)} is not the consistent sampler's for the "
            f"public seed over the {active} active registrations",
            *ev.voters[wrong : wrong + 1],
        )
    return None


@applies(EligibilitySampleDrawn)
def _apply_drawn(st: ElectionState, ctx: EventContext, ev: EligibilitySampleDrawn) -> None:
    el = st.eligibility
    if el.drawn is None:
        el.drawn = ev
        el.drawn_index = ctx.index
        el.sample_entries = {v: el.registered_at[v] for v in ev.voters if v in el.registered_at}


# ------------------------------------------------------------------ the result


@checks(EligibilitySampleChecked)
def _check_checked(st: ElectionState, ctx: EventContext, ev: EligibilitySampleChecked) -> None:
    el = st.eligibility
    drawn = el.drawn
    if drawn is None:
        raise _violation(C.ELIGIBILITY_EVENT_ORDER, "an eligibility result before the sample")
    if el.checked is not None:
        raise _violation(
            C.ELIGIBILITY_EVENT_ORDER,
            f"the eligibility sample's result was already recorded (entry {el.checked_index})",
        )
    if ev.seed != drawn.seed:
        raise _violation(
            C.ELIGIBILITY_SAMPLE_MISMATCH,
            f"the result names seed {ev.seed!r}, the sample was drawn under {drawn.seed!r}",
        )
    if ev.checked != len(drawn.voters):
        raise _violation(
            C.ELIGIBILITY_SAMPLE_MISMATCH,
            f"checked {ev.checked}, but {len(drawn.voters)} registrations were sampled",
        )
    order = {v: i for i, v in enumerate(drawn.voters)}
    stray = [v for v in ev.failures if v not in order]
    if stray:
        raise _violation(
            C.ELIGIBILITY_SAMPLE_MISMATCH,
            f"{len(stray)} failure(s) name a voter not in the sample",
            *stray,
        )
    if [order[v] for v in ev.failures] != sorted(order[v] for v in ev.failures):
        raise _violation(
            C.ELIGIBILITY_SAMPLE_MISMATCH, "the failures are not in the sample's draw order"
        )


@applies(EligibilitySampleChecked)
def _apply_checked(st: ElectionState, ctx: EventContext, ev: EligibilitySampleChecked) -> None:
    el = st.eligibility
    if el.drawn is not None and el.checked is None:
        el.checked = ev
        el.checked_index = ctx.index


def eligibility_data(st: ElectionState) -> Any:
    """The canonical data of the eligibility sample (part of the ``audit`` projection's state
    hash when a sample was drawn): the draw and the result with their entries."""
    el = st.eligibility
    return [
        None if el.drawn is None else [el.drawn_index, el.drawn.to_body()],
        None if el.checked is None else [el.checked_index, el.checked.to_body()],
    ]
