"""The thin :class:`ElectionState`: the projections' data and the one fold over them.

``check`` and ``apply`` dispatch through the handler registry (:data:`._base.HANDLERS`) that
the projection modules fill: keys and signer roles (:mod:`.keys`), committee
(:mod:`.committee`), roll and objections (:mod:`.roll`), resident groups (:mod:`.groups`),
candidacy (:mod:`.candidacy`), polling units, boxes, proxies and ballots (:mod:`.polling`),
rounds and results (:mod:`.rounds`); state hashing lives in :mod:`.hashing`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from electlog.errors import UsageError

from .. import codes as C
from ..events import (
    EVENT_SCHEMAS,
    AnyVoterRegistered,
    ElectionDefined,
    ElectionEvent,
    NominationFiled,
    ProxyListPublished,
    proxy_list_hash,
)
from ..rules import ElectionMode, Role, RuleSet
from ..tally import RoundResult

# every projection module registers its handlers on import: import them all here
from . import candidacy, committee, groups, rounds  # noqa: F401
from ._base import DAY_US, HANDLERS, EventContext, _h, _violation, check_profile
from ._model import (
    BoxState,
    CommunityState,
    CountingBatch,
    GroupElection,
    RoundState,
    UnitState,
    _Objection,
)
from .audit_board import AuditState
from .eligibility import EligibilityState
from .hashing import PROJECTIONS, state_hash, state_hashes
from .keys import _check_genesis, _check_signer
from .polling import _proxy_data
from .roll import _roll_data

__all__ = ["ElectionState"]

_MISSING: Final = sorted(
    etype.__name__
    for etype in EVENT_SCHEMAS.values()
    if etype not in HANDLERS or not HANDLERS[etype].complete
)
if _MISSING:  # pragma: no cover - a bug, caught at import
    raise UsageError(f"event types without a check and an apply: {', '.join(_MISSING)}")

_handler_of: Final = HANDLERS.get


class ElectionState:
    """The projections of one election log and its admission rules.

    ``authority_key_id`` is the key id of the election authority: it must sign the genesis
    (``election.defined``) and is the first key with the ``authority`` role.
    """

    def __init__(self, authority_key_id: bytes) -> None:
        if not isinstance(authority_key_id, bytes) or len(authority_key_id) != 32:
            raise UsageError("authority_key_id must be a 32-byte key id")
        self.authority_key_id = authority_key_id
        self.definition: ElectionDefined | None = None
        self.rules: RuleSet = RuleSet()
        self.election_day = 0  # local day number
        self.events = 0  # events applied
        self.communities: dict[str, CommunityState] = {}
        self.grants: dict[bytes, dict[Role, frozenset[str] | None]] = {}
        self.revoked: set[bytes] = set()
        self.voters: dict[str, AnyVoterRegistered] = {}  # active voters, every community
        self.dedup: dict[bytes, str] = {}  # dedup tag -> active voter id
        self.objections: dict[str, _Objection] = {}
        self.nominations: dict[str, NominationFiled] = {}
        self.units: dict[str, UnitState] = {}
        self.boxes: dict[str, BoxState] = {}
        self.last_time: dict[bytes, int] = {}  # signer -> latest claimed time (µs UTC)
        self.audit = AuditState()  # the risk-limiting audit (audit_board.py)
        self.eligibility = EligibilityState()  # the eligibility sample (eligibility.py)
        self._tz = 0
        self._signer_scopes: dict[tuple[bytes, type], frozenset[str] | None] = {}

    # ------------------------------------------------------------------ public API

    @classmethod
    def rebuild(
        cls,
        authority_key_id: bytes,
        events: Iterable[tuple[EventContext, ElectionEvent]],
    ) -> ElectionState:
        """Fold ``events`` (with their contexts, in log order) into a fresh state with
        :meth:`apply` only (no checks)."""
        state = cls(authority_key_id)
        apply = state.apply
        for ctx, event in events:
            apply(ctx, event)
        return state

    def admit(self, ctx: EventContext, event: ElectionEvent) -> None:
        """:meth:`check` then :meth:`apply`."""
        self.check(ctx, event)
        self.apply(ctx, event)

    def check(self, ctx: EventContext, event: ElectionEvent) -> None:
        """Raise :class:`RuleViolation` if ``event`` at ``ctx`` breaks a rule; else None."""
        etype = type(event)
        handler = _handler_of(etype)
        if handler is None or etype is ElectionDefined or self.definition is None:
            self._check_outside(ctx, event)  # the genesis, or what comes before or is not one
            return
        _check_signer(self, ctx, event, handler.scope)
        last = self.last_time.get(ctx.signer)
        if last is not None and ctx.time < last:
            raise _violation(
                C.TIME_INCONSISTENT,
                f"entry {ctx.index} ({event.TYPE}) claims a time {(last - ctx.time) / 1e6:.0f} s "
                "earlier than the signer's previous event",
                ctx.signer.hex()[:16],
            )
        if handler.profile:
            check_profile(self, event)
        handler.check(self, ctx, event)

    def _check_outside(self, ctx: EventContext, event: ElectionEvent) -> None:
        """:meth:`check` of an event outside the fold's common case: any event before the
        genesis (only the genesis is admitted there), a second genesis, or not an election
        event."""
        etype = type(event)
        if self.definition is None:
            if etype is not ElectionDefined:
                raise _violation(
                    C.GENESIS_MISSING,
                    f"entry {ctx.index} ({event.TYPE}) comes before any election.defined",
                )
            _check_genesis(self, ctx, event)  # type: ignore[arg-type]
            return
        if etype is ElectionDefined:
            raise _violation(C.GENESIS_DUPLICATE, f"entry {ctx.index}: a second election.defined")
        raise UsageError(f"not an election event: {etype.__name__}")

    def apply(self, ctx: EventContext, event: ElectionEvent) -> None:
        """Fold ``event`` into the projections. Never raises for a well-formed event (one that
        may have failed :meth:`check`); what cannot be applied is skipped."""
        etype = type(event)
        if self.definition is None and etype is not ElectionDefined:
            return
        handler = _handler_of(etype)
        if handler is None:
            raise UsageError(f"not an election event: {etype.__name__}")
        signer = ctx.signer
        time = ctx.time
        last_time = self.last_time
        last = last_time.get(signer)
        if last is None or time > last:
            last_time[signer] = time
        if handler.community:
            community = event.community  # type: ignore[attr-defined]
            if community is not None and community not in self.communities:
                return
        handler.apply(self, ctx, event)
        self.events += 1

    def local_day(self, time_us: int) -> int:
        """The election's local calendar day (days since 1970-01-01) of a time in µs UTC."""
        return (time_us + self._tz) // DAY_US

    def community(self, community: str) -> CommunityState:
        """The state of a community (:class:`UsageError` if unknown)."""
        try:
            return self.communities[community]
        except KeyError:
            raise UsageError(f"unknown community {community!r}") from None

    def roll_hash(self, community: str) -> bytes:
        """The hash a ``roll.published`` of ``community`` must carry now (docs/election.md):
        ``electlog/roll/v1`` under the ``full`` public profile, ``electlog/roll/v2`` (rows
        without birth dates) under ``minimal``."""
        cs = self.community(community)
        tag = "electlog/roll/v1" if self.rules.public_profile == "full" else "electlog/roll/v2"
        return _h(tag, [community, _roll_data(cs)])

    def roll_size(self, community: str) -> int:
        """Active voters of ``community``."""
        return len(self.community(community).roll)

    def proxy_hash(self, community: str) -> bytes:
        """The hash a ``proxy.list_published`` of ``community`` must carry now."""
        return proxy_list_hash(community, _proxy_data(self.community(community)))

    def proxy_list(self, community: str) -> ProxyListPublished:
        """The ``proxy.list_published`` event that publishes ``community``'s proxies now (its
        ``count`` and ``list_hash`` from the replayed proxies)."""
        cs = self.community(community)
        return ProxyListPublished(
            community=community,
            count=len(cs.proxies),
            list_hash=proxy_list_hash(community, _proxy_data(cs)),
        )

    def electorate(self, community: str) -> int:
        """The ``registered`` count of the community's turnout rule: active voters
        (``all_voters``), households with an active voter (``household_rep``) or elected group
        leaders and representatives (``group_rep``)."""
        cs = self.community(community)
        if cs.mode == ElectionMode.HOUSEHOLD_REP:
            return cs.households_count()
        if cs.mode == ElectionMode.GROUP_REP:
            return len(cs.entitled)
        return len(cs.roll)

    def round(self, community: str, number: int) -> RoundState:
        """A round of a community (:class:`UsageError` if it does not exist)."""
        rs = self.community(community).rounds.get(number)
        if rs is None:
            raise UsageError(f"community {community!r} has no round {number}")
        return rs

    def result(self, community: str, number: int) -> RoundResult:
        """The recomputed result of a round from the ballots recorded so far; its ``registered``
        is the electorate frozen at the round's first ``ballot.issued`` (the current electorate
        before any ballot is issued)."""
        rs = self.round(community, number)
        registered = rs.registered if rs.registered is not None else self.electorate(community)
        return rs.tally.result(registered=registered, issued=rs.issued)

    def group_result(self, community: str, group: str) -> RoundResult:
        """The recomputed result of a resident group election."""
        cs = self.community(community)
        ge = cs.group_elections.get(group)
        if ge is None:
            if group not in cs.groups:
                raise UsageError(f"community {community!r} has no group {group!r}")
            ge = GroupElection(community, group, self)
        return ge.tally.result(registered=cs.group_households.get(group, 0), issued=ge.issued)

    def roles_of(self, key_id: bytes) -> dict[Role, frozenset[str] | None]:
        """The roles a key holds now, each with its scope (``None``: whole election)."""
        return dict(self.grants.get(key_id, {}))

    PROJECTIONS: Final = PROJECTIONS
    """The projections :meth:`state_hashes` covers, in the order of the combined hash."""

    def state_hashes(self) -> dict[str, bytes]:
        """SHA-256 over the canonical encoding of each projection (see :attr:`PROJECTIONS`)."""
        return state_hashes(self)

    def state_hash(self, projection: str | None = None) -> bytes:
        """The hash of one projection, or (``None``) of all of them together
        (:class:`UsageError` for a name not in :attr:`PROJECTIONS`)."""
        return state_hash(self, projection)

    def batch_issued(self, box: str) -> int:
        """Ballots issued into the counting batch of ``box``: the ``issued`` of its own unit and
        of the units of the boxes merged into it, each unit once (the anonymity set of every
        ballot counted from it)."""
        b = self.boxes.get(box)
        if b is None:
            raise UsageError(f"unknown box {box!r}")
        units = self.units
        return sum(units[u].issued for u in b.batch if u in units)

    def counting_batches(self, community: str, number: int) -> tuple[CountingBatch, ...]:
        """The counting batches of a round: every box of its units that was opened or had
        ballots recorded from it, by box id (:class:`UsageError` for an unknown round)."""
        rs = self.round(community, number)
        out = []
        for u in rs.units:
            for b in self.units[u].boxes:
                box = self.boxes[b]
                if box.opened or box.recorded:
                    out.append(
                        CountingBatch(
                            box=b,
                            units=tuple(sorted(box.batch)),
                            issued=self.batch_issued(b),
                            recorded=box.recorded,
                        )
                    )
        return tuple(sorted(out, key=lambda cb: cb.box))
