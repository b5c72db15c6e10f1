"""What every projection module of the state shares: time helpers, :class:`EventContext`, the
violation and hash helpers, the per-event handler registry and the ballot-mark helpers.

The registry replaces the two parallel dispatch tables the state once had: each projection
module writes an event's check and apply side by side and registers them with
:func:`checks` / :func:`applies` (in the spirit of eventsourcing's ``@event``); a type
registered twice for the same step is a programming error caught at import.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs

from electlog.codec import encode
from electlog.errors import RuleViolation, UsageError

from .. import codes as C
from ..events import MINIMAL_SCHEMAS, ElectionEvent
from ..rules import PublicProfile
from ..tally import PostMarks, RoundResult, compare_declared

if TYPE_CHECKING:
    from ._state import ElectionState

__all__ = [
    "DAY_US",
    "GROUP_LEADER",
    "GROUP_REP",
    "HANDLERS",
    "EventContext",
    "Handler",
    "applies",
    "check_profile",
    "checks",
    "event_context",
    "local_day",
]

DAY_US: Final = 86_400_000_000
_EPOCH_ORDINAL: Final = _dt.date(1970, 1, 1).toordinal()
GROUP_LEADER: Final = "group_leader"
"""Post id of a resident group's leader in a group election."""
GROUP_REP: Final = "group_rep"
"""Post id of a resident group's representatives in a group election."""
_VOID_POST: Final = PostMarks(in_favour=("",))
"""Marks the tally classifies as malformed (a 'for' mark on the empty id, which is never a
candidate): how the state hands the tally a post voided by an unregistered write-in."""
_MAX_IDS_IN_VIOLATION: Final = 8


def local_day(time_us: int, tz_offset_minutes: int) -> int:
    """The local calendar day (days since 1970-01-01) of a UTC time in microseconds."""
    return (time_us + tz_offset_minutes * 60_000_000) // DAY_US


def _day_of(date: _dt.date) -> int:
    return date.toordinal() - _EPOCH_ORDINAL


def _violation(code: str, message: str, *ids: str) -> RuleViolation:
    return RuleViolation(code, message, ids=tuple(ids[:_MAX_IDS_IN_VIOLATION]))


def _h(tag: str, payload: object) -> bytes:
    return hashlib.sha256(encode([tag, payload])).digest()


@attrs.frozen(kw_only=True)
class EventContext:
    """Where an event sits in the log: entry ``index``, the statement's claimed ``time`` (µs
    UTC), the ``signer`` (author key id) and the entry's ``leaf_hash``."""

    index: int
    time: int
    signer: bytes
    leaf_hash: bytes = b""


_new_context = EventContext.__new__
_set_index = EventContext.__dict__["index"].__set__
_set_time = EventContext.__dict__["time"].__set__
_set_signer = EventContext.__dict__["signer"].__set__
_set_leaf_hash = EventContext.__dict__["leaf_hash"].__set__


def event_context(index: int, time: int, signer: bytes, leaf_hash: bytes) -> EventContext:
    """``EventContext(index=index, time=time, signer=signer, leaf_hash=leaf_hash)``, built with
    the slots' setters (half the cost of the keyword ``__init__``: the replay makes one per
    entry)."""
    ctx = _new_context(EventContext)
    _set_index(ctx, index)
    _set_time(ctx, time)
    _set_signer(ctx, signer)
    _set_leaf_hash(ctx, leaf_hash)
    return ctx


# --------------------------------------------------------------------------- the registry

Step = Callable[["ElectionState", EventContext, Any], None]
"""A check or an apply: ``step(state, ctx, event)``."""
_F = TypeVar("_F", bound=Callable[..., None])


def _unregistered(st: ElectionState, ctx: EventContext, event: Any) -> None:
    raise UsageError(f"no handler is registered for {type(event).__name__}")


_SCOPE_FIELDS: Final = ("community", "unit", "box")


class Handler:
    """The check and the apply of one event type (each raises :class:`UsageError` until its
    module registers it; :mod:`._state` refuses to import with one missing)."""

    __slots__ = ("apply", "check", "community", "profile", "scope", "type")

    def __init__(self, etype: type[ElectionEvent]) -> None:
        self.type = etype
        self.check: Step = _unregistered
        self.apply: Step = _unregistered
        self.scope: tuple[str, ...] = tuple(f for f in _SCOPE_FIELDS if hasattr(etype, f))
        """The fields of ``community``, ``unit``, ``box`` the type has, in that order (the
        signer's scope check reads the first that is set)."""
        self.community = hasattr(etype, "community")
        """Whether the type has a ``community`` field."""
        self.profile = etype.TYPE in MINIMAL_SCHEMAS
        """Whether the type's schema depends on the public profile (:func:`check_profile`)."""

    @property
    def complete(self) -> bool:
        """Whether both the check and the apply are registered."""
        return self.check is not _unregistered and self.apply is not _unregistered


HANDLERS: Final[dict[type[ElectionEvent], Handler]] = {}
"""Event type -> its :class:`Handler`: the one dispatch table of the fold (filled by the
projection modules' :func:`checks` / :func:`applies` at import)."""


def _register(etype: type[ElectionEvent], step: str, fn: Callable[..., None]) -> None:
    handler = HANDLERS.get(etype)
    if handler is None:
        handler = HANDLERS[etype] = Handler(etype)
    if getattr(handler, step) is not _unregistered:
        raise UsageError(f"{etype.__name__} has two {step} handlers")  # a bug, at import
    setattr(handler, step, fn)


def checks(etype: type[ElectionEvent]) -> Callable[[_F], _F]:
    """Register the decorated ``fn(state, ctx, event)`` as the admission check of ``etype``:
    it raises :class:`~electlog.errors.RuleViolation` when the event breaks a rule."""

    def deco(fn: _F) -> _F:
        _register(etype, "check", fn)
        return fn

    return deco


def applies(etype: type[ElectionEvent]) -> Callable[[_F], _F]:
    """Register the decorated ``fn(state, ctx, event)`` as the fold of ``etype`` into the
    projections: it never raises for a well-formed event, and skips what cannot be applied."""

    def deco(fn: _F) -> _F:
        _register(etype, "apply", fn)
        return fn

    return deco


# --------------------------------------------------------------------------- public profiles

_PROFILE_ID_FIELD: Final = {
    "voter.registered": "voter",
    "voter.removed": "voter",
    "objection.filed": "objection",
    "objection.decided": "objection",
    "committee.member_withdrawn": "member",
    "nomination.withdrawn": "candidate",
    "vetting.decided": "candidate",
    "proxy.authorised": "principal",
}
"""The id a profile mismatch names, per type (``key.revoked`` names its key id)."""


def check_profile(st: ElectionState, event: ElectionEvent) -> None:
    """Refuse an event whose schema is not the public profile's for its type
    (:data:`~electlog.election.events.MINIMAL_SCHEMAS`: schema 1 under ``full``, the listed
    schema under ``minimal``): ``voter.profile_mismatch`` for a registration,
    ``event.profile_mismatch`` for the other types."""
    minimal = MINIMAL_SCHEMAS.get(event.TYPE)
    if minimal is None:
        return
    profile = st.rules.public_profile
    want = minimal if profile == PublicProfile.MINIMAL else 1
    if want == event.SCHEMA:
        return
    field = _PROFILE_ID_FIELD.get(event.TYPE)
    ref = str(getattr(event, field)) if field else getattr(event, "key_id", b"").hex()[:16]
    code = (
        C.VOTER_PROFILE_MISMATCH if event.TYPE == "voter.registered" else C.EVENT_PROFILE_MISMATCH
    )
    raise _violation(
        code,
        f"a {event.TYPE} v{event.SCHEMA} in an election of public profile {profile} "
        f"(which writes v{want})",
        ref,
    )


# --------------------------------------------------------------------------- ballot marks


def _compare(declared: Mapping[str, Any], recomputed: RoundResult, what: str) -> None:
    diffs = compare_declared(declared, recomputed)
    if diffs:
        raise _violation(
            C.RESULT_MISMATCH,
            f"declared result of {what} differs from the recomputed tally in "
            f"{len(diffs)} place(s): " + "; ".join(str(d) for d in diffs[:5]),
            what,
            *(str(d) for d in diffs),
        )


def _writeins_registered(marks: Mapping[str, PostMarks], registered: Callable[[str], bool]) -> None:
    """Refuse a ballot whose write-ins name someone not registered: the counting unit
    records that post as ``{"void": "writein_not_registered"}`` instead."""
    for post, pm in marks.items():
        if pm.write_ins:
            strangers = [w for w in pm.write_ins if not registered(w)]
            if strangers:
                raise _violation(
                    C.WRITEIN_NOT_REGISTERED,
                    f"post {post}: a write-in names no registered voter; record the post as "
                    '{"void": "writein_not_registered"}',
                    post,
                )


def _effective_marks(
    marks: Mapping[str, PostMarks], registered: Callable[[str], bool]
) -> tuple[Mapping[str, PostMarks], int]:
    """Void (for the tally) every post whose write-ins name someone not registered."""
    out: dict[str, PostMarks] | None = None
    voided = 0
    for post, pm in marks.items():
        if pm.write_ins and not all(registered(w) for w in pm.write_ins):
            if out is None:
                out = dict(marks)
            out[post] = _VOID_POST
            voided += 1
        elif pm.void is not None:
            voided += 1
    return (marks if out is None else out), voided
