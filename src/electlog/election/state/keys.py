"""Keys and signer roles: who may sign each event type (:data:`SIGNER_ROLES`), the signer and
scope check every event passes, the genesis and the key events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from .. import codes as C
from ..events import (
    BallotIssued,
    BallotRecorded,
    BoxMerged,
    BoxOpened,
    BoxSealed,
    BoxTransferred,
    CandidatesPublished,
    CommitteeMemberAppointed,
    CommitteeMemberWithdrawn,
    CommitteeMemberWithdrawnV2,
    CommitteeVacancyFilled,
    ElectionDefined,
    ElectionEvent,
    GroupResultDeclared,
    GroupVotingClosed,
    HouseholdBallotCast,
    HouseholdBallotIssued,
    KeyAuthorised,
    KeyRevoked,
    KeyRevokedV2,
    NominationFiled,
    NominationWithdrawn,
    NominationWithdrawnV2,
    ObjectionDecided,
    ObjectionDecidedV2,
    ObjectionFiled,
    ObjectionFiledV2,
    ObserverAccredited,
    ProxyAuthorised,
    ProxyAuthorisedV2,
    ProxyListPublished,
    ResultDeclared,
    RollPublished,
    RoundCalled,
    UnitClosed,
    UnitOpened,
    UnitRepRegistered,
    VettingDecided,
    VettingDecidedV2,
    VoterRegistered,
    VoterRegisteredV2,
    VoterRemoved,
    VoterRemovedV2,
)
from ..rules import ElectionMode, Role
from ._base import (
    _SCOPE_FIELDS,
    GROUP_LEADER,
    GROUP_REP,
    EventContext,
    _day_of,
    _violation,
    applies,
    checks,
)
from ._model import CommunityState

if TYPE_CHECKING:
    from ._state import ElectionState

__all__ = ["SIGNER_ROLES"]

_A, _EC, _REG, _VET, _PS, _CU = (
    Role.AUTHORITY,
    Role.ELECTION_COMMITTEE,
    Role.REGISTRAR,
    Role.VETTING_COMMITTEE,
    Role.POLLING_STATION,
    Role.COUNTING_UNIT,
)

SIGNER_ROLES: Final[dict[type[ElectionEvent], tuple[Role, ...]]] = {
    ElectionDefined: (_A,),
    KeyAuthorised: (_A,),
    KeyRevoked: (_A,),
    KeyRevokedV2: (_A,),
    CommitteeMemberAppointed: (_A,),
    CommitteeMemberWithdrawn: (_A,),
    CommitteeMemberWithdrawnV2: (_A,),
    CommitteeVacancyFilled: (_A,),
    VoterRegistered: (_REG,),
    VoterRegisteredV2: (_REG,),
    VoterRemoved: (_REG,),
    VoterRemovedV2: (_REG,),
    RollPublished: (_REG,),
    UnitRepRegistered: (_REG,),
    ObjectionFiled: (_EC,),
    ObjectionFiledV2: (_EC,),
    ObjectionDecided: (_EC,),
    ObjectionDecidedV2: (_EC,),
    ObserverAccredited: (_EC,),
    HouseholdBallotIssued: (_PS,),
    GroupVotingClosed: (_PS,),
    HouseholdBallotCast: (_CU,),
    GroupResultDeclared: (_EC,),
    NominationFiled: (_EC,),
    NominationWithdrawn: (_EC,),
    NominationWithdrawnV2: (_EC,),
    VettingDecided: (_VET,),
    VettingDecidedV2: (_VET,),
    CandidatesPublished: (_EC,),
    ProxyAuthorised: (_EC,),
    ProxyAuthorisedV2: (_EC,),
    ProxyListPublished: (_EC,),
    UnitOpened: (_PS,),
    UnitClosed: (_PS,),
    BoxSealed: (_PS,),
    BoxTransferred: (_PS,),
    BoxMerged: (_CU,),
    BoxOpened: (_CU,),
    BallotIssued: (_PS,),
    BallotRecorded: (_CU,),
    ResultDeclared: (_EC,),
    RoundCalled: (_EC,),
}
"""The role(s) that may sign each event type. The scope (community) of an event is its
``community`` field, or the community of the unit / box it names; key and committee-free
events (genesis, key events) need a whole-election scope."""


# ------------------------------------------------------------------ signer checks

_UNSET: Final[Any] = object()


def _scope_of(
    st: ElectionState, event: ElectionEvent, fields: tuple[str, ...] = _SCOPE_FIELDS
) -> str | None:
    """The community an event acts in (``None`` for election-wide events): its ``community``,
    else the community of its ``unit``, else of its ``box`` (the first set). ``fields``: those
    of the three the event's type has (its handler's ``scope``), the others read as unset."""
    for field in fields:
        value = getattr(event, field, None)
        if value is None:
            continue
        if field == "community":
            if value not in st.communities:
                raise _violation(C.REF_UNKNOWN, f"{event.TYPE}: unknown community", value)
            return value  # type: ignore[no-any-return]
        if field == "unit":
            unit = st.units.get(value)
            if unit is None:
                raise _violation(C.REF_UNKNOWN, f"{event.TYPE}: unknown unit", value)
            return unit.community
        box = st.boxes.get(value)
        if box is None:
            raise _violation(C.REF_UNKNOWN, f"{event.TYPE}: unknown box", value)
        return st.units[box.unit].community
    return None


def _check_signer(
    st: ElectionState,
    ctx: EventContext,
    event: ElectionEvent,
    fields: tuple[str, ...] = _SCOPE_FIELDS,
) -> None:
    signer = ctx.signer
    key = (signer, type(event))
    cache = st._signer_scopes
    scope = cache.get(key, _UNSET)
    if scope is _UNSET:
        scope = cache[key] = _signer_scope(st, signer, event)
    community = _scope_of(st, event, fields)
    if scope is None:
        return
    if community is None or community not in scope:
        where = "the whole election" if community is None else f"community {community}"
        raise _violation(
            C.SIGNER_SCOPE,
            f"{event.TYPE} acts in {where}, outside the signer's scope",
            ctx.signer.hex()[:16],
        )


def _signer_scope(st: ElectionState, signer: bytes, event: ElectionEvent) -> frozenset[str] | None:
    """The communities ``signer`` may sign ``event``'s type for (``None``: all), or raise."""
    grants = st.grants.get(signer)
    who = signer.hex()[:16]
    if not grants:
        if signer in st.revoked:
            raise _violation(C.SIGNER_REVOKED, f"{event.TYPE} signed by a revoked key", who)
        raise _violation(
            C.SIGNER_UNAUTHORISED, f"{event.TYPE} signed by a key never authorised", who
        )
    roles = SIGNER_ROLES[type(event)]
    held = [grants[r] for r in roles if r in grants]
    if not held:
        have = ", ".join(sorted(str(r) for r in grants))
        need = ", ".join(str(r) for r in roles)
        raise _violation(
            C.SIGNER_ROLE, f"{event.TYPE} needs role {need}; the signer holds {have}", who
        )
    if any(s is None for s in held):
        return None
    return frozenset().union(*held)  # type: ignore[arg-type]


# ------------------------------------------------------------------ genesis and keys


@checks(ElectionDefined)
def _check_genesis(st: ElectionState, ctx: EventContext, ev: ElectionDefined) -> None:
    if ctx.index != 0:
        raise _violation(
            C.GENESIS_MISSING, f"election.defined must be entry 0, found at {ctx.index}"
        )
    if ctx.signer != st.authority_key_id:
        raise _violation(
            C.GENESIS_NOT_AUTHORITY,
            "election.defined is not signed by the authority key",
            ctx.signer.hex()[:16],
        )
    if ev.rules.hash() != ev.rules_hash:
        raise _violation(C.GENESIS_RULES_HASH, "rules_hash is not SHA-256 of the recorded RuleSet")
    seen: set[str] = set()
    for c in ev.communities:
        if c.community in seen:
            raise _violation(C.GENESIS_INVALID, "community defined twice", c.community)
        seen.add(c.community)
        posts = [p.post for p in c.posts]
        if len(set(posts)) != len(posts):
            raise _violation(C.GENESIS_INVALID, "a post defined twice", c.community)
        if {GROUP_LEADER, GROUP_REP} & set(posts):
            raise _violation(C.GENESIS_INVALID, "group election post ids are reserved", c.community)
        if c.mode == ElectionMode.GROUP_REP and not c.groups:
            raise _violation(
                C.GENESIS_INVALID, "a group_rep community needs resident groups", c.community
            )


@applies(ElectionDefined)
def _apply_genesis(st: ElectionState, ctx: EventContext, ev: ElectionDefined) -> None:
    if st.definition is not None:
        return
    st.definition = ev
    st.rules = ev.rules
    st._tz = ev.rules.tz_offset_minutes * 60_000_000
    st.election_day = _day_of(ev.election_day)
    for c in ev.communities:
        st.communities.setdefault(c.community, CommunityState(c))
    st.grants[st.authority_key_id] = {Role.AUTHORITY: None}
    st._signer_scopes.clear()


@checks(KeyAuthorised)
def _check_key_authorised(st: ElectionState, ctx: EventContext, ev: KeyAuthorised) -> None:
    for c in ev.scope:
        if c not in st.communities:
            raise _violation(C.REF_UNKNOWN, "key scope names an unknown community", c)


@applies(KeyAuthorised)
def _apply_key_authorised(st: ElectionState, ctx: EventContext, ev: KeyAuthorised) -> None:
    grants = st.grants.setdefault(ev.key_id, {})
    role = Role(ev.role)
    new: frozenset[str] | None = frozenset(ev.scope) if ev.scope else None
    old = grants.get(role, frozenset())
    grants[role] = None if new is None or old is None else old | new
    st.revoked.discard(ev.key_id)
    st._signer_scopes.clear()


@checks(KeyRevokedV2)
def _check_key_revoked_v2(st: ElectionState, ctx: EventContext, ev: KeyRevokedV2) -> None:
    _check_key_revoked(st, ctx, ev)


@checks(KeyRevoked)
def _check_key_revoked(st: ElectionState, ctx: EventContext, ev: KeyRevoked | KeyRevokedV2) -> None:
    if not st.grants.get(ev.key_id):
        raise _violation(C.REF_UNKNOWN, "revoked key holds no role", ev.key_id.hex()[:16])


@applies(KeyRevokedV2)
def _apply_key_revoked_v2(st: ElectionState, ctx: EventContext, ev: KeyRevokedV2) -> None:
    _apply_key_revoked(st, ctx, ev)


@applies(KeyRevoked)
def _apply_key_revoked(st: ElectionState, ctx: EventContext, ev: KeyRevoked | KeyRevokedV2) -> None:
    if st.grants.pop(ev.key_id, None) is not None:
        st.revoked.add(ev.key_id)
        st._signer_scopes.clear()
