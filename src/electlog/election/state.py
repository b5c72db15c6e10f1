"""Election projections and admission rules: one fold, two callers (writer and auditor).

:class:`ElectionState` holds the projections of an election log (keys and roles, voter roll,
households and resident groups, committees, nominations and candidates, proxies, polling units
and boxes, running tallies, declared results). :meth:`ElectionState.check` raises
:class:`~electlog.errors.RuleViolation` when an event breaks a rule of the :class:`RuleSet`
given the projections so far; :meth:`ElectionState.apply` folds the event into the projections.
:meth:`ElectionState.admit` is check then apply.

``apply`` never raises for an event that failed ``check``: the auditor keeps replaying after a
violation to report everything, so ``apply`` skips what cannot be applied (an unknown unit, a
second registration of an active voter id) and otherwise records what the log says happened (a
ballot issued twice still counts as issued). For a log whose every event passed ``check``,
incremental application equals :meth:`ElectionState.rebuild`.

Cost: ``check`` and ``apply`` of registrations and ballots are a handful of dict and set
operations; the roll and proxy hashes are computed only when a roll or proxy list is published
(or on request).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import attrs

from electlog.codec import encode
from electlog.errors import RuleViolation, UsageError

from . import codes as C
from .events import (
    BallotIssued,
    BallotRecorded,
    BoxMerged,
    BoxOpened,
    BoxSealed,
    BoxTransferred,
    CandidatesPublished,
    CommitteeMemberAppointed,
    CommitteeMemberWithdrawn,
    CommitteeVacancyFilled,
    CommunityDef,
    ElectionDefined,
    ElectionEvent,
    GroupResultDeclared,
    GroupVotingClosed,
    HouseholdBallotCast,
    HouseholdBallotIssued,
    KeyAuthorised,
    KeyRevoked,
    NominationFiled,
    NominationWithdrawn,
    ObjectionDecided,
    ObjectionFiled,
    ObserverAccredited,
    PostList,
    ProxyAuthorised,
    ProxyListPublished,
    ResultDeclared,
    RollPublished,
    RoundCalled,
    UnitClosed,
    UnitOpened,
    UnitRepRegistered,
    VettingDecided,
    VoterRegistered,
    VoterRemoved,
    proxy_list_hash,
)
from .rules import ElectionMode, EligibilityBasis, RevoteRule, Role, RuleSet
from .tally import (
    PostMarks,
    PostSpec,
    RoundResult,
    RoundTally,
    compare_declared,
    supplementary_candidates,
)

__all__ = [
    "DAY_US",
    "GROUP_LEADER",
    "GROUP_REP",
    "SIGNER_ROLES",
    "BoxState",
    "CommunityState",
    "CountingBatch",
    "ElectionState",
    "EventContext",
    "GroupElection",
    "RoundState",
    "UnitState",
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
_ADDING_OBJECTIONS: Final = frozenset({"omission", "data_error"})
"""Kinds of an upheld objection that let a person be registered after the roll's publication."""
_REMOVING_OBJECTIONS: Final = frozenset({"wrongful_inclusion", "data_error"})
"""Kinds of an upheld objection that let a voter be removed (reason ``objection_upheld``)."""

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
    CommitteeMemberAppointed: (_A,),
    CommitteeMemberWithdrawn: (_A,),
    CommitteeVacancyFilled: (_A,),
    VoterRegistered: (_REG,),
    VoterRemoved: (_REG,),
    RollPublished: (_REG,),
    UnitRepRegistered: (_REG,),
    ObjectionFiled: (_EC,),
    ObjectionDecided: (_EC,),
    ObserverAccredited: (_EC,),
    HouseholdBallotIssued: (_PS,),
    GroupVotingClosed: (_PS,),
    HouseholdBallotCast: (_CU,),
    GroupResultDeclared: (_EC,),
    NominationFiled: (_EC,),
    NominationWithdrawn: (_EC,),
    VettingDecided: (_VET,),
    CandidatesPublished: (_EC,),
    ProxyAuthorised: (_EC,),
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


# --------------------------------------------------------------------------- projections


@attrs.frozen(kw_only=True)
class CountingBatch:
    """The ballots counted from one box: the ``units`` whose ballots it holds (its own and those
    of the boxes merged into it), the ballots ``issued`` into them (each unit once: the
    anonymity set of every ballot counted from it) and the ballots ``recorded`` from it."""

    box: str
    units: tuple[str, ...]
    issued: int
    recorded: int


class UnitState:
    """A polling unit: its community, round, kind, observers and participation counts.

    ``issued`` counts ``ballot.issued`` at this unit; ``recorded`` counts ``ballot.recorded``
    from boxes sealed at this unit. ``recorded > issued`` is not refused (the law voids the
    round; the tally says so); the auditor reports it as ``unit.returned_exceeds_issued``.
    """

    __slots__ = (
        "boxes",
        "closed",
        "community",
        "index",
        "issued",
        "kind",
        "observers",
        "recorded",
        "round",
        "unit",
    )

    def __init__(self, ev: UnitOpened, index: int) -> None:
        self.unit = ev.unit
        self.community = ev.community
        self.round = ev.round
        self.kind = ev.kind
        self.observers = ev.observers
        self.index = index
        self.closed = False
        self.issued = 0
        self.recorded = 0
        self.boxes: list[str] = []

    def to_data(self) -> list[Any]:
        """Canonical form for :meth:`ElectionState.state_hash`."""
        return [
            self.unit,
            self.community,
            self.round,
            self.kind,
            list(self.observers),
            self.closed,
            self.issued,
            self.recorded,
            sorted(self.boxes),
        ]


class BoxState:
    """A ballot box: the unit that sealed it, the unit holding it, ``opened``, the number of
    ballots recorded from it, the box it was merged into (``box.merged``) and its counting
    ``batch`` (its own unit and the units of the boxes merged into it, each once)."""

    __slots__ = ("batch", "box", "custody", "merged_into", "opened", "recorded", "unit")

    def __init__(self, box: str, unit: str) -> None:
        self.box = box
        self.unit = unit
        self.custody = unit
        self.opened = False
        self.recorded = 0
        self.merged_into: str | None = None
        self.batch: list[str] = [unit]  # units whose ballots this box holds (counting batch)

    def to_data(self) -> list[Any]:
        """Canonical form for :meth:`ElectionState.state_hash`."""
        return [
            self.box,
            self.unit,
            self.custody,
            self.opened,
            self.recorded,
            self.merged_into,
            sorted(self.batch),
        ]


class RoundState:
    """One round of a community: posts, kind, running tally, participation, declared result."""

    __slots__ = (
        "community",
        "counting_at",
        "declared",
        "ends_election",
        "issued",
        "issued_households",
        "issued_voters",
        "kind",
        "number",
        "posts",
        "registered",
        "serials",
        "source_round",
        "tally",
        "threshold",
        "units",
        "void_writeins",
    )

    def __init__(
        self,
        community: str,
        number: int,
        kind: str,
        posts: tuple[PostSpec, ...],
        state: ElectionState,
        source_round: int = 0,
    ) -> None:
        self.community = community
        self.number = number
        self.kind = kind
        self.source_round = source_round
        self.posts = posts
        self.threshold: str = self._threshold(community, kind, source_round, state)
        # seats this round leaves unfilled stay vacant (no further 另行选举): a supplementary
        # round, or a re-vote among the tied of one
        source = self._source(community, kind, source_round, state)
        self.ends_election: bool = kind == "supplementary" or (
            source is not None and source.ends_election
        )
        self.tally = RoundTally(
            posts,
            state.rules.tally,
            supplementary=self.threshold == "supplementary",
            revote=self.threshold == "most_votes",
        )
        self.issued = 0
        self.issued_voters: set[str] = set()
        self.issued_households: dict[tuple[str, str], int] = {}
        self.serials: set[bytes] = set()
        self.units: list[str] = []
        self.declared: dict[str, Any] | None = None
        self.void_writeins = 0
        self.registered: int | None = None  # electorate frozen at the round's first issuance
        self.counting_at: int | None = None  # entry index of the round's first box.opened

    @property
    def supplementary(self) -> bool:
        """Whether this is a supplementary round (另行选举)."""
        return self.kind == "supplementary"

    @staticmethod
    def _threshold(community: str, kind: str, source_round: int, state: ElectionState) -> str:
        """How the round's winners are decided: ``"majority"`` (more than ``majority`` of the
        ballots cast), ``"supplementary"`` (at least ``supplementary_min``) or ``"most_votes"``
        (a re-vote among the tied under ``RuleSet.revote_rule == "most_votes"``). A re-vote
        under ``"source_threshold"`` takes the threshold of the round whose tie it resolves."""
        if kind == "supplementary":
            return "supplementary"
        if kind != "revote":
            return "majority"
        if state.rules.revote_rule == RevoteRule.MOST_VOTES:
            return "most_votes"
        source = RoundState._source(community, kind, source_round, state)
        return source.threshold if source is not None else "majority"

    @staticmethod
    def _source(
        community: str, kind: str, source_round: int, state: ElectionState
    ) -> RoundState | None:
        """The round whose tie a re-vote resolves (None for any other kind)."""
        if kind != "revote":
            return None
        cs = state.communities.get(community)
        return cs.rounds.get(source_round) if cs is not None else None


class GroupElection:
    """A resident group's election by household ballot (posts ``group_leader`` and
    ``group_rep``, write-ins only, one ballot per household)."""

    __slots__ = (
        "closed",
        "community",
        "declared",
        "group",
        "households",
        "issued",
        "posts",
        "serials",
        "tally",
        "void_writeins",
    )

    def __init__(self, community: str, group: str, state: ElectionState) -> None:
        rules = state.rules
        self.community = community
        self.group = group
        self.posts = (
            PostSpec(post=GROUP_LEADER, seats=rules.group_leader_seats, candidates=(), rank=0),
            PostSpec(post=GROUP_REP, seats=rules.group_rep_seats, candidates=(), rank=1),
        )
        self.tally = RoundTally(self.posts, rules.tally)
        self.issued = 0
        self.households: dict[str, int] = {}
        self.serials: set[bytes] = set()
        self.declared: dict[str, Any] | None = None
        self.void_writeins = 0
        self.closed = False  # group.voting_closed


class CommunityState:
    """Everything the rules know about one community."""

    def __init__(self, definition: CommunityDef) -> None:
        self.definition = definition
        self.community = definition.community
        self.mode = definition.mode
        self.groups = frozenset(definition.groups)
        self.posts = {p.post: p for p in definition.posts}
        # roll
        self.roll: dict[str, VoterRegistered] = {}
        self.households: dict[tuple[str, str], set[str]] = {}  # (group, household) -> voters
        self.group_households: dict[str, int] = {}  # group -> households with a voter
        self.roll_day: int | None = None  # local day of the first publication
        self.roll_publications: list[tuple[int, bytes]] = []
        self.reps: dict[str, UnitRepRegistered] = {}
        self.observers: dict[str, str] = {}  # accredited observer -> organisation
        self.frozen_at: int | None = None  # entry index of the first ballot.issued (roll frozen)
        self.observing: dict[str, str] = {}  # observer -> the open unit they observe
        # committee
        self.committee: set[str] = set()
        self.vacancies: set[str] = set()  # withdrawn members not yet replaced
        self.former: set[str] = set()
        # nominations and vetting
        self.nominees: dict[str, dict[str, set[str]]] = {}  # post -> candidate -> nomination ids
        self.named: dict[tuple[str, str], set[str]] = {}  # (post, nominator) -> candidates
        self.vetting: dict[str, bool] = {}  # candidate -> approved (latest decision)
        self.candidate_list: tuple[PostList, ...] | None = None
        self.candidates: set[str] = set()  # every listed candidate of any round
        # proxies
        self.proxies: dict[str, ProxyAuthorised] = {}  # principal -> authorisation
        self.principals_of: dict[str, set[str]] = {}  # proxy -> principals
        self.proxy_list_published = False
        # voting
        self.voted: set[str] = set()  # principals issued a ballot in any round
        self.group_elections: dict[str, GroupElection] = {}
        self.entitled: set[str] = set()  # elected group leaders/representatives (group_rep mode)
        self.rounds: dict[int, RoundState] = {}
        self.followed: set[tuple[int, str]] = set()  # (source round, post) already followed up

    def households_count(self) -> int:
        """Households with at least one active voter."""
        return sum(self.group_households.values())


@attrs.frozen(kw_only=True)
class _Objection:
    event: ObjectionFiled
    day: int
    upheld: bool | None = None


# --------------------------------------------------------------------------- the state


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
        self.voters: dict[str, VoterRegistered] = {}  # active voters, every community
        self.dedup: dict[bytes, str] = {}  # dedup tag -> active voter id
        self.objections: dict[str, _Objection] = {}
        self.nominations: dict[str, NominationFiled] = {}
        self.units: dict[str, UnitState] = {}
        self.boxes: dict[str, BoxState] = {}
        self.last_time: dict[bytes, int] = {}  # signer -> latest claimed time (µs UTC)
        self._tz = 0
        self._signer_scopes: dict[tuple[bytes, type], frozenset[str] | None] = {}
        self._checks: dict[type[ElectionEvent], Callable[[EventContext, Any], None]] = {
            KeyAuthorised: self._check_key_authorised,
            KeyRevoked: self._check_key_revoked,
            CommitteeMemberAppointed: self._check_member_appointed,
            CommitteeMemberWithdrawn: self._check_member_withdrawn,
            CommitteeVacancyFilled: self._check_vacancy_filled,
            VoterRegistered: self._check_voter_registered,
            VoterRemoved: self._check_voter_removed,
            RollPublished: self._check_roll_published,
            ObjectionFiled: self._check_objection_filed,
            ObjectionDecided: self._check_objection_decided,
            UnitRepRegistered: self._check_rep,
            HouseholdBallotIssued: self._check_household_issued,
            HouseholdBallotCast: self._check_household_cast,
            GroupVotingClosed: self._check_group_closed,
            ObserverAccredited: self._check_observer_accredited,
            BoxMerged: self._check_box_merged,
            GroupResultDeclared: self._check_group_result,
            NominationFiled: self._check_nomination,
            NominationWithdrawn: self._check_withdrawal,
            VettingDecided: self._check_vetting,
            CandidatesPublished: self._check_candidates,
            ProxyAuthorised: self._check_proxy,
            ProxyListPublished: self._check_proxy_list,
            UnitOpened: self._check_unit_opened,
            UnitClosed: self._check_unit_closed,
            BoxSealed: self._check_box_sealed,
            BoxTransferred: self._check_box_transferred,
            BoxOpened: self._check_box_opened,
            BallotIssued: self._check_ballot_issued,
            BallotRecorded: self._check_ballot_recorded,
            ResultDeclared: self._check_result,
            RoundCalled: self._check_round_called,
        }
        self._applies: dict[type[ElectionEvent], Callable[[EventContext, Any], None]] = {
            ElectionDefined: self._apply_genesis,
            KeyAuthorised: self._apply_key_authorised,
            KeyRevoked: self._apply_key_revoked,
            CommitteeMemberAppointed: self._apply_member_appointed,
            CommitteeMemberWithdrawn: self._apply_member_withdrawn,
            CommitteeVacancyFilled: self._apply_vacancy_filled,
            VoterRegistered: self._apply_voter_registered,
            VoterRemoved: self._apply_voter_removed,
            RollPublished: self._apply_roll_published,
            ObjectionFiled: self._apply_objection_filed,
            ObjectionDecided: self._apply_objection_decided,
            UnitRepRegistered: self._apply_rep,
            HouseholdBallotIssued: self._apply_household_issued,
            HouseholdBallotCast: self._apply_household_cast,
            GroupVotingClosed: self._apply_group_closed,
            ObserverAccredited: self._apply_observer_accredited,
            BoxMerged: self._apply_box_merged,
            GroupResultDeclared: self._apply_group_result,
            NominationFiled: self._apply_nomination,
            NominationWithdrawn: self._apply_withdrawal,
            VettingDecided: self._apply_vetting,
            CandidatesPublished: self._apply_candidates,
            ProxyAuthorised: self._apply_proxy,
            ProxyListPublished: self._apply_proxy_list,
            UnitOpened: self._apply_unit_opened,
            UnitClosed: self._apply_unit_closed,
            BoxSealed: self._apply_box_sealed,
            BoxTransferred: self._apply_box_transferred,
            BoxOpened: self._apply_box_opened,
            BallotIssued: self._apply_ballot_issued,
            BallotRecorded: self._apply_ballot_recorded,
            ResultDeclared: self._apply_result,
            RoundCalled: self._apply_round_called,
        }

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
        if self.definition is None:
            if etype is not ElectionDefined:
                raise _violation(
                    C.GENESIS_MISSING,
                    f"entry {ctx.index} ({event.TYPE}) comes before any election.defined",
                )
            self._check_genesis(ctx, event)  # type: ignore[arg-type]
            return
        if etype is ElectionDefined:
            raise _violation(C.GENESIS_DUPLICATE, f"entry {ctx.index}: a second election.defined")
        fn = self._checks.get(etype)
        if fn is None:
            raise UsageError(f"not an election event: {etype.__name__}")
        self._check_signer(ctx, event)
        last = self.last_time.get(ctx.signer)
        if last is not None and ctx.time < last:
            raise _violation(
                C.TIME_INCONSISTENT,
                f"entry {ctx.index} ({event.TYPE}) claims a time {(last - ctx.time) / 1e6:.0f} s "
                "earlier than the signer's previous event",
                ctx.signer.hex()[:16],
            )
        fn(ctx, event)

    def apply(self, ctx: EventContext, event: ElectionEvent) -> None:
        """Fold ``event`` into the projections. Never raises for a well-formed event (one that
        may have failed :meth:`check`); what cannot be applied is skipped."""
        etype = type(event)
        if self.definition is None and etype is not ElectionDefined:
            return
        fn = self._applies.get(etype)
        if fn is None:
            raise UsageError(f"not an election event: {etype.__name__}")
        last = self.last_time.get(ctx.signer)
        if last is None or ctx.time > last:
            self.last_time[ctx.signer] = ctx.time
        community = getattr(event, "community", None)
        if community is not None and community not in self.communities:
            return
        fn(ctx, event)
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
        """The hash a ``roll.published`` of ``community`` must carry now (docs/election.md)."""
        cs = self.community(community)
        return _h("electlog/roll/v1", [community, self._roll_data(cs)])

    def roll_size(self, community: str) -> int:
        """Active voters of ``community``."""
        return len(self.community(community).roll)

    def proxy_hash(self, community: str) -> bytes:
        """The hash a ``proxy.list_published`` of ``community`` must carry now."""
        return proxy_list_hash(community, self._proxy_data(self.community(community)))

    def proxy_list(self, community: str) -> ProxyListPublished:
        """The ``proxy.list_published`` event that publishes ``community``'s proxies now (its
        ``count`` and ``list_hash`` from the replayed proxies)."""
        cs = self.community(community)
        return ProxyListPublished(
            community=community,
            count=len(cs.proxies),
            list_hash=proxy_list_hash(community, self._proxy_data(cs)),
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

    PROJECTIONS: Final = (
        "keys",
        "roll",
        "objections",
        "groups",
        "committee",
        "candidates",
        "proxies",
        "units",
        "tally",
        "results",
        "times",
    )

    def state_hashes(self) -> dict[str, bytes]:
        """SHA-256 over the canonical encoding of each projection (see :attr:`PROJECTIONS`)."""
        return {
            name: _h(f"electlog/state/{name}/v1", self._data(name)) for name in self.PROJECTIONS
        }

    def state_hash(self, projection: str | None = None) -> bytes:
        """The hash of one projection, or (``None``) of all of them together."""
        if projection is None:
            hashes = self.state_hashes()
            return _h("electlog/state/v1", [[k, hashes[k]] for k in self.PROJECTIONS])
        if projection not in self.PROJECTIONS:
            raise UsageError(f"unknown projection {projection!r}; one of {self.PROJECTIONS}")
        return _h(f"electlog/state/{projection}/v1", self._data(projection))

    # ------------------------------------------------------------------ projection data

    @staticmethod
    def _roll_data(cs: CommunityState) -> list[list[Any]]:
        return [
            [
                v.voter,
                v.group,
                v.household,
                v.birth_date.isoformat(),
                v.basis,
                v.years_resident,
                v.approval_ref,
                v.dedup,
                v.commitment,
            ]
            for v in sorted(cs.roll.values(), key=lambda v: v.voter)
        ]

    @staticmethod
    def _proxy_data(cs: CommunityState) -> list[list[Any]]:
        return [
            [p.principal, p.proxy, p.relationship, p.attestation]
            for p in sorted(cs.proxies.values(), key=lambda p: p.principal)
        ]

    def _data(self, name: str) -> Any:
        cs_list = [self.communities[c] for c in sorted(self.communities)]
        if name == "keys":
            return [
                self.definition.to_body() if self.definition else None,
                [
                    [
                        k,
                        sorted(
                            [str(r), None if s is None else sorted(s)]
                            for r, s in self.grants[k].items()
                        ),
                    ]
                    for k in sorted(self.grants)
                ],
                sorted(self.revoked),
            ]
        if name == "roll":
            return [
                [
                    c.community,
                    self._roll_data(c),
                    c.roll_day,
                    [[d, h] for d, h in c.roll_publications],
                    sorted([r.rep, r.organisation] for r in c.reps.values()),
                    c.frozen_at,
                ]
                for c in cs_list
            ]
        if name == "objections":
            return [
                [o.event.to_body(), o.day, o.upheld] for _, o in sorted(self.objections.items())
            ]
        if name == "groups":
            return [
                [
                    c.community,
                    sorted([g, h, sorted(v)] for (g, h), v in c.households.items()),
                    sorted([g, n] for g, n in c.group_households.items()),
                    [
                        [
                            g,
                            ge.issued,
                            sorted([h, n] for h, n in ge.households.items()),
                            sorted(ge.serials),
                            ge.void_writeins,
                            ge.closed,
                            self.group_result(c.community, g).to_dict(),
                        ]
                        for g, ge in sorted(c.group_elections.items())
                    ],
                    sorted(c.entitled),
                ]
                for c in cs_list
            ]
        if name == "committee":
            return [
                [c.community, sorted(c.committee), sorted(c.vacancies), sorted(c.former)]
                for c in cs_list
            ]
        if name == "candidates":
            return [
                [
                    c.community,
                    sorted(
                        [p, sorted([cand, sorted(ids)] for cand, ids in m.items())]
                        for p, m in c.nominees.items()
                    ),
                    sorted([p, n, sorted(s)] for (p, n), s in c.named.items()),
                    sorted([k, v] for k, v in c.vetting.items()),
                    None if c.candidate_list is None else [pl.to_body() for pl in c.candidate_list],
                    sorted(c.candidates),
                ]
                for c in cs_list
            ] + [sorted([k, v.to_body()] for k, v in self.nominations.items())]
        if name == "proxies":
            return [[c.community, self._proxy_data(c), c.proxy_list_published] for c in cs_list]
        if name == "units":
            return [
                [u.to_data() for _, u in sorted(self.units.items())],
                [b.to_data() for _, b in sorted(self.boxes.items())],
                [
                    [
                        c.community,
                        sorted([o, org] for o, org in c.observers.items()),
                        sorted([o, u] for o, u in c.observing.items()),
                    ]
                    for c in cs_list
                ],
            ]
        if name == "tally":
            return [
                [
                    c.community,
                    [
                        [
                            n,
                            rs.kind,
                            rs.source_round,
                            [[p.post, p.seats, list(p.candidates), p.rank] for p in rs.posts],
                            rs.issued,
                            sorted(rs.issued_voters),
                            sorted([g, h, k] for (g, h), k in rs.issued_households.items()),
                            sorted(rs.serials),
                            rs.void_writeins,
                            rs.registered,
                            rs.counting_at,
                            sorted(rs.units),
                            self.result(c.community, n).to_dict(),
                        ]
                        for n, rs in sorted(c.rounds.items())
                    ],
                    sorted(c.voted),
                    sorted([r, p] for r, p in c.followed),
                ]
                for c in cs_list
            ]
        if name == "times":
            return sorted([k, t] for k, t in self.last_time.items())
        # results
        return [
            [
                c.community,
                [[n, rs.declared] for n, rs in sorted(c.rounds.items())],
                [[g, ge.declared] for g, ge in sorted(c.group_elections.items())],
            ]
            for c in cs_list
        ]

    # ------------------------------------------------------------------ signer checks

    def _scope_of(self, event: ElectionEvent) -> str | None:
        """The community an event acts in (``None`` for election-wide events)."""
        community = getattr(event, "community", None)
        if community is not None:
            if community not in self.communities:
                raise _violation(C.REF_UNKNOWN, f"{event.TYPE}: unknown community", community)
            return str(community)
        unit_id = getattr(event, "unit", None)
        if unit_id is not None:
            unit = self.units.get(unit_id)
            if unit is None:
                raise _violation(C.REF_UNKNOWN, f"{event.TYPE}: unknown unit", unit_id)
            return unit.community
        box_id = getattr(event, "box", None)
        if box_id is not None:
            box = self.boxes.get(box_id)
            if box is None:
                raise _violation(C.REF_UNKNOWN, f"{event.TYPE}: unknown box", box_id)
            return self.units[box.unit].community
        return None

    def _check_signer(self, ctx: EventContext, event: ElectionEvent) -> None:
        etype = type(event)
        key = (ctx.signer, etype)
        cache = self._signer_scopes
        if key in cache:
            scope = cache[key]
        else:
            scope = cache[key] = self._signer_scope(ctx.signer, event)
        community = self._scope_of(event)
        if scope is None:
            return
        if community is None or community not in scope:
            where = "the whole election" if community is None else f"community {community}"
            raise _violation(
                C.SIGNER_SCOPE,
                f"{event.TYPE} acts in {where}, outside the signer's scope",
                ctx.signer.hex()[:16],
            )

    def _signer_scope(self, signer: bytes, event: ElectionEvent) -> frozenset[str] | None:
        """The communities ``signer`` may sign ``event``'s type for (``None``: all), or raise."""
        grants = self.grants.get(signer)
        who = signer.hex()[:16]
        if not grants:
            if signer in self.revoked:
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

    def _check_genesis(self, ctx: EventContext, ev: ElectionDefined) -> None:
        if ctx.index != 0:
            raise _violation(
                C.GENESIS_MISSING, f"election.defined must be entry 0, found at {ctx.index}"
            )
        if ctx.signer != self.authority_key_id:
            raise _violation(
                C.GENESIS_NOT_AUTHORITY,
                "election.defined is not signed by the authority key",
                ctx.signer.hex()[:16],
            )
        if ev.rules.hash() != ev.rules_hash:
            raise _violation(
                C.GENESIS_RULES_HASH, "rules_hash is not SHA-256 of the recorded RuleSet"
            )
        seen: set[str] = set()
        for c in ev.communities:
            if c.community in seen:
                raise _violation(C.GENESIS_INVALID, "community defined twice", c.community)
            seen.add(c.community)
            posts = [p.post for p in c.posts]
            if len(set(posts)) != len(posts):
                raise _violation(C.GENESIS_INVALID, "a post defined twice", c.community)
            if {GROUP_LEADER, GROUP_REP} & set(posts):
                raise _violation(
                    C.GENESIS_INVALID, "group election post ids are reserved", c.community
                )
            if c.mode == ElectionMode.GROUP_REP and not c.groups:
                raise _violation(
                    C.GENESIS_INVALID, "a group_rep community needs resident groups", c.community
                )

    def _apply_genesis(self, ctx: EventContext, ev: ElectionDefined) -> None:
        if self.definition is not None:
            return
        self.definition = ev
        self.rules = ev.rules
        self._tz = ev.rules.tz_offset_minutes * 60_000_000
        self.election_day = _day_of(ev.election_day)
        for c in ev.communities:
            self.communities.setdefault(c.community, CommunityState(c))
        self.grants[self.authority_key_id] = {Role.AUTHORITY: None}
        self._signer_scopes.clear()

    def _check_key_authorised(self, ctx: EventContext, ev: KeyAuthorised) -> None:
        for c in ev.scope:
            if c not in self.communities:
                raise _violation(C.REF_UNKNOWN, "key scope names an unknown community", c)

    def _apply_key_authorised(self, ctx: EventContext, ev: KeyAuthorised) -> None:
        grants = self.grants.setdefault(ev.key_id, {})
        role = Role(ev.role)
        new: frozenset[str] | None = frozenset(ev.scope) if ev.scope else None
        old = grants.get(role, frozenset())
        grants[role] = None if new is None or old is None else old | new
        self.revoked.discard(ev.key_id)
        self._signer_scopes.clear()

    def _check_key_revoked(self, ctx: EventContext, ev: KeyRevoked) -> None:
        if not self.grants.get(ev.key_id):
            raise _violation(C.REF_UNKNOWN, "revoked key holds no role", ev.key_id.hex()[:16])

    def _apply_key_revoked(self, ctx: EventContext, ev: KeyRevoked) -> None:
        if self.grants.pop(ev.key_id, None) is not None:
            self.revoked.add(ev.key_id)
            self._signer_scopes.clear()

    # ------------------------------------------------------------------ committee

    def _check_member_appointed(self, ctx: EventContext, ev: CommitteeMemberAppointed) -> None:
        cs = self.communities[ev.community]
        if ev.member in cs.committee:
            raise _violation(C.REF_DUPLICATE, "already a committee member", ev.member)
        if ev.member in cs.former:
            raise _violation(
                C.REF_DUPLICATE, "a withdrawn member does not rejoin the committee", ev.member
            )
        self._not_a_candidate(cs, ev.member)
        if len(cs.committee) + len(cs.vacancies) >= self.rules.committee_max:
            raise _violation(
                C.COMMITTEE_SIZE,
                f"the committee of {ev.community} would exceed {self.rules.committee_max} seats",
                ev.community,
                ev.member,
            )

    def _apply_member_appointed(self, ctx: EventContext, ev: CommitteeMemberAppointed) -> None:
        cs = self.communities[ev.community]
        cs.committee.add(ev.member)
        cs.former.discard(ev.member)

    def _check_member_withdrawn(self, ctx: EventContext, ev: CommitteeMemberWithdrawn) -> None:
        if ev.member not in self.communities[ev.community].committee:
            raise _violation(C.REF_UNKNOWN, "not a committee member", ev.member)

    def _apply_member_withdrawn(self, ctx: EventContext, ev: CommitteeMemberWithdrawn) -> None:
        cs = self.communities[ev.community]
        if ev.member in cs.committee:
            cs.committee.discard(ev.member)
            cs.vacancies.add(ev.member)
            cs.former.add(ev.member)

    def _check_vacancy_filled(self, ctx: EventContext, ev: CommitteeVacancyFilled) -> None:
        cs = self.communities[ev.community]
        if ev.replaces not in cs.vacancies:
            raise _violation(C.REF_UNKNOWN, "no open vacancy of that member", ev.replaces)
        if ev.member in cs.committee:
            raise _violation(C.REF_DUPLICATE, "already a committee member", ev.member)
        if ev.member in cs.former:
            raise _violation(C.REF_DUPLICATE, "a withdrawn member cannot fill a vacancy", ev.member)
        self._not_a_candidate(cs, ev.member)

    @staticmethod
    def _not_a_candidate(cs: CommunityState, member: str) -> None:
        if member in cs.candidates:
            raise _violation(
                C.COMMITTEE_MEMBER_NOT_WITHDRAWN,
                "a listed candidate cannot join the election committee",
                member,
            )

    def _apply_vacancy_filled(self, ctx: EventContext, ev: CommitteeVacancyFilled) -> None:
        cs = self.communities[ev.community]
        if ev.replaces in cs.vacancies and ev.member not in cs.committee:
            cs.vacancies.discard(ev.replaces)
            cs.committee.add(ev.member)

    # ------------------------------------------------------------------ voters and roll

    @staticmethod
    def _roll_open(cs: CommunityState, what: str, who: str) -> None:
        if cs.frozen_at is not None:
            raise _violation(
                C.ROLL_FROZEN,
                f"{what} after the first ballot of {cs.community} was issued "
                f"(entry {cs.frozen_at}): the roll is frozen",
                who,
            )

    def _cited_objection(self, ev: VoterRegistered | VoterRemoved) -> _Objection | None:
        """The objection a registration or removal cites (``None`` if it cites none); an id
        that names no objection of the event's community is ``ref.unknown``."""
        if ev.objection is None:
            return None
        obj = self.objections.get(ev.objection)
        if obj is None or obj.event.community != ev.community:
            raise _violation(
                C.REF_UNKNOWN, f"{ev.TYPE} cites no objection of {ev.community}", ev.objection
            )
        return obj

    def _check_voter_registered(self, ctx: EventContext, ev: VoterRegistered) -> None:
        cs = self.communities[ev.community]
        self._roll_open(cs, "registration", ev.voter)
        day = self.local_day(ctx.time)
        if day >= self.election_day:
            raise _violation(
                C.PHASE_OUT_OF_WINDOW, "registration on or after election day", ev.voter
            )
        if ev.group not in cs.groups:
            raise _violation(C.REF_UNKNOWN, "unknown resident group", ev.group)
        other = self.voters.get(ev.voter)
        if other is not None:
            raise _violation(
                C.VOTER_DUPLICATE,
                f"voter id already registered in {other.community}",
                ev.voter,
            )
        first = self.dedup.get(ev.dedup)
        if first is not None:
            raise _violation(
                C.VOTER_DUPLICATE,
                f"the same person is registered as {first} in {self.voters[first].community}",
                ev.voter,
                first,
            )
        assert self.definition is not None
        eday = self.definition.election_day
        b = ev.birth_date
        age = eday.year - b.year - ((eday.month, eday.day) < (b.month, b.day))
        if age < self.rules.min_age:
            raise _violation(
                C.VOTER_UNDERAGE,
                f"aged {age} on election day, under {self.rules.min_age}",
                ev.voter,
            )
        self._check_basis(ev)
        obj = self._cited_objection(ev)
        if cs.roll_day is not None and not (
            obj is not None
            and obj.upheld
            and obj.event.voter == ev.voter
            and obj.event.kind in _ADDING_OBJECTIONS
        ):
            raise _violation(
                C.REGISTRATION_AFTER_ROLL_WITHOUT_OBJECTION,
                "registration after the roll was published needs an upheld omission "
                "(or data_error) objection about this voter",
                ev.voter,
                *([ev.objection] if ev.objection else []),
            )

    def _check_basis(self, ev: VoterRegistered) -> None:
        rules = self.rules
        if ev.basis not in rules.eligible_bases:
            raise _violation(
                C.VOTER_BASIS_INVALID, f"basis {ev.basis} is not accepted here", ev.voter
            )
        if ev.basis == EligibilityBasis.NON_LOCAL_APPROVED:
            if ev.years_resident is None or ev.years_resident < rules.non_local_min_years:
                raise _violation(
                    C.VOTER_BASIS_INVALID,
                    f"non-local voter needs {rules.non_local_min_years} year(s) of residence",
                    ev.voter,
                )
            if not ev.approval_ref:
                raise _violation(
                    C.VOTER_BASIS_INVALID,
                    "non-local voter needs the residents' meeting approval reference",
                    ev.voter,
                )
        elif ev.years_resident is not None or ev.approval_ref is not None:
            raise _violation(
                C.VOTER_BASIS_INVALID,
                f"years_resident / approval_ref belong to basis non_local_approved, not {ev.basis}",
                ev.voter,
            )

    def _apply_voter_registered(self, ctx: EventContext, ev: VoterRegistered) -> None:
        cs = self.communities[ev.community]
        if ev.voter in self.voters:
            return
        self.voters[ev.voter] = ev
        self.dedup.setdefault(ev.dedup, ev.voter)
        cs.roll[ev.voter] = ev
        key = (ev.group, ev.household)
        members = cs.households.get(key)
        if members is None:
            cs.households[key] = {ev.voter}
            cs.group_households[ev.group] = cs.group_households.get(ev.group, 0) + 1
        else:
            members.add(ev.voter)

    def _check_voter_removed(self, ctx: EventContext, ev: VoterRemoved) -> None:
        cs = self.communities[ev.community]
        if ev.voter not in cs.roll:
            raise _violation(C.VOTER_NOT_REGISTERED, f"not on the roll of {ev.community}", ev.voter)
        self._roll_open(cs, "removal", ev.voter)
        if ev.reason not in self.rules.removal_reasons:
            raise _violation(
                C.VOTER_REMOVAL_WITHOUT_REASON,
                f"removal reason {ev.reason!r} is not one of "
                f"{', '.join(self.rules.removal_reasons)}",
                ev.voter,
            )
        obj = self._cited_objection(ev)
        if ev.reason == "objection_upheld":
            if not (
                obj is not None
                and obj.upheld
                and obj.event.voter == ev.voter
                and obj.event.kind in _REMOVING_OBJECTIONS
            ):
                raise _violation(
                    C.VOTER_REMOVAL_WITHOUT_REASON,
                    "removal for an upheld objection cites no upheld wrongful_inclusion (or "
                    "data_error) objection about this voter",
                    ev.voter,
                )
        elif cs.roll_day is not None:
            raise _violation(
                C.VOTER_REMOVAL_AFTER_ROLL_WITHOUT_OBJECTION,
                f"removal ({ev.reason}) after the roll's publication: only an upheld objection "
                "('objection_upheld') removes a voter now",
                ev.voter,
            )

    def _apply_voter_removed(self, ctx: EventContext, ev: VoterRemoved) -> None:
        cs = self.communities[ev.community]
        reg = cs.roll.pop(ev.voter, None)
        if reg is None:
            return
        del self.voters[ev.voter]
        if self.dedup.get(reg.dedup) == ev.voter:
            del self.dedup[reg.dedup]
        key = (reg.group, reg.household)
        members = cs.households.get(key)
        if members is not None:
            members.discard(ev.voter)
            if not members:
                del cs.households[key]
                cs.group_households[reg.group] -= 1
                if not cs.group_households[reg.group]:
                    del cs.group_households[reg.group]

    def _check_roll_published(self, ctx: EventContext, ev: RollPublished) -> None:
        cs = self.communities[ev.community]
        day = self.local_day(ctx.time)
        if cs.roll_day is None:
            if self.election_day - day < self.rules.roll_days_before:
                raise _violation(
                    C.ROLL_PUBLISHED_LATE,
                    f"published {self.election_day - day} day(s) before election day, "
                    f"fewer than {self.rules.roll_days_before}",
                    ev.community,
                )
        elif day >= self.election_day:
            raise _violation(
                C.PHASE_OUT_OF_WINDOW, "roll republished on or after election day", ev.community
            )
        size = len(cs.committee)  # sitting members: an open vacancy is no member
        if size < self.rules.committee_min:
            raise _violation(
                C.COMMITTEE_SIZE,
                f"the committee of {ev.community} has {size} members, fewer than "
                f"{self.rules.committee_min}",
                ev.community,
            )
        want = self.roll_hash(ev.community)
        if ev.size != len(cs.roll) or ev.roll_hash != want:
            raise _violation(
                C.ROLL_HASH_MISMATCH,
                f"published size {ev.size} / hash {ev.roll_hash.hex()[:16]}…, replayed roll has "
                f"{len(cs.roll)} voters / hash {want.hex()[:16]}…",
                ev.community,
            )

    def _apply_roll_published(self, ctx: EventContext, ev: RollPublished) -> None:
        cs = self.communities[ev.community]
        day = self.local_day(ctx.time)
        if cs.roll_day is None:
            cs.roll_day = day
        cs.roll_publications.append((day, ev.roll_hash))

    def _check_objection_filed(self, ctx: EventContext, ev: ObjectionFiled) -> None:
        cs = self.communities[ev.community]
        if ev.objection in self.objections:
            raise _violation(C.REF_DUPLICATE, "objection id already used", ev.objection)
        if cs.roll_day is None:
            raise _violation(
                C.PHASE_OUT_OF_WINDOW, "objection before the roll is published", ev.objection
            )
        days = self.local_day(ctx.time) - cs.roll_day
        if days > self.rules.objection_days:
            raise _violation(
                C.OBJECTION_LATE,
                f"filed {days} day(s) after publication, more than {self.rules.objection_days}",
                ev.objection,
            )

    def _apply_objection_filed(self, ctx: EventContext, ev: ObjectionFiled) -> None:
        if ev.objection not in self.objections:
            self.objections[ev.objection] = _Objection(event=ev, day=self.local_day(ctx.time))

    def _check_objection_decided(self, ctx: EventContext, ev: ObjectionDecided) -> None:
        obj = self.objections.get(ev.objection)
        if obj is None or obj.event.community != ev.community:
            raise _violation(C.REF_UNKNOWN, "unknown objection", ev.objection)
        if obj.upheld is not None:
            raise _violation(C.REF_DUPLICATE, "objection already decided", ev.objection)
        days = self.local_day(ctx.time) - obj.day
        if days > self.rules.objection_decision_days:
            raise _violation(
                C.OBJECTION_DECISION_LATE,
                f"decided {days} day(s) after filing, more than "
                f"{self.rules.objection_decision_days}",
                ev.objection,
            )

    def _apply_objection_decided(self, ctx: EventContext, ev: ObjectionDecided) -> None:
        obj = self.objections.get(ev.objection)
        if obj is not None and obj.upheld is None and obj.event.community == ev.community:
            self.objections[ev.objection] = attrs.evolve(obj, upheld=ev.upheld)

    def _check_rep(self, ctx: EventContext, ev: UnitRepRegistered) -> None:
        cs = self.communities[ev.community]
        self._roll_open(cs, "unit representative", ev.rep)
        if cs.roll_day is not None:
            raise _violation(
                C.REGISTRATION_AFTER_ROLL_WITHOUT_OBJECTION,
                "unit representative registered after the roll's publication (no objection "
                "can add one)",
                ev.rep,
            )
        if ev.rep in cs.reps or ev.rep in self.voters:
            raise _violation(
                C.REF_DUPLICATE, "id already used by a voter or representative", ev.rep
            )

    def _apply_rep(self, ctx: EventContext, ev: UnitRepRegistered) -> None:
        self.communities[ev.community].reps.setdefault(ev.rep, ev)

    # ------------------------------------------------------------------ resident groups

    def _group(
        self,
        ev: HouseholdBallotIssued | HouseholdBallotCast | GroupResultDeclared | GroupVotingClosed,
    ) -> tuple[CommunityState, GroupElection]:
        cs = self.communities[ev.community]
        if ev.group not in cs.groups:
            raise _violation(C.REF_UNKNOWN, "unknown resident group", ev.group)
        if cs.roll_day is None:
            raise _violation(
                C.PHASE_OUT_OF_WINDOW, "group election before the roll is published", ev.group
            )
        ge = cs.group_elections.get(ev.group) or GroupElection(ev.community, ev.group, self)
        if ge.declared is not None:
            raise _violation(
                C.PHASE_OUT_OF_WINDOW, "the group election's result is declared", ev.group
            )
        return cs, ge

    def _group_for_apply(self, community: str, group: str) -> GroupElection | None:
        cs = self.communities[community]
        if group not in cs.groups:
            return None
        ge = cs.group_elections.get(group)
        if ge is None:
            ge = cs.group_elections[group] = GroupElection(community, group, self)
        return ge

    def _check_household_issued(self, ctx: EventContext, ev: HouseholdBallotIssued) -> None:
        cs, ge = self._group(ev)
        if ge.closed:
            raise _violation(
                C.PHASE_OUT_OF_WINDOW,
                f"household ballot issued after group {ev.group}'s voting closed",
                ev.household,
            )
        if (ev.group, ev.household) not in cs.households:
            raise _violation(
                C.REF_UNKNOWN, "no registered voter lives in that household", ev.household
            )
        if ge.households.get(ev.household, 0) >= self.rules.household_ballots:
            raise _violation(
                C.HOUSEHOLD_DUPLICATE_BALLOT,
                f"household already received {self.rules.household_ballots} ballot(s)",
                ev.household,
            )

    def _apply_household_issued(self, ctx: EventContext, ev: HouseholdBallotIssued) -> None:
        ge = self._group_for_apply(ev.community, ev.group)
        if ge is not None:
            ge.issued += 1
            ge.households[ev.household] = ge.households.get(ev.household, 0) + 1

    def _check_household_cast(self, ctx: EventContext, ev: HouseholdBallotCast) -> None:
        cs, ge = self._group(ev)
        if not ge.closed:
            raise _violation(
                C.PHASE_OUT_OF_WINDOW,
                f"household ballot cast before group {ev.group}'s voting closed",
                ev.group,
            )
        if ev.serial in ge.serials:
            raise _violation(C.BALLOT_DUPLICATE_SERIAL, "serial already recorded", ev.serial.hex())
        self._writeins_registered(ev.marks, self._group_member(cs, ev.group))

    def _apply_household_cast(self, ctx: EventContext, ev: HouseholdBallotCast) -> None:
        ge = self._group_for_apply(ev.community, ev.group)
        if ge is None:
            return
        ge.serials.add(ev.serial)
        cs = self.communities[ev.community]
        marks, voided = self._effective_marks(ev.marks, self._group_member(cs, ev.group))
        ge.void_writeins += voided
        ge.tally.add(marks)

    def _check_group_closed(self, ctx: EventContext, ev: GroupVotingClosed) -> None:
        _, ge = self._group(ev)
        if ge.closed:
            raise _violation(C.REF_DUPLICATE, "the group's voting is already closed", ev.group)

    def _apply_group_closed(self, ctx: EventContext, ev: GroupVotingClosed) -> None:
        ge = self._group_for_apply(ev.community, ev.group)
        if ge is not None:
            ge.closed = True

    def _check_group_result(self, ctx: EventContext, ev: GroupResultDeclared) -> None:
        _, ge = self._group(ev)
        if not ge.closed:
            raise _violation(
                C.PHASE_OUT_OF_WINDOW,
                f"group result declared before group {ev.group}'s voting closed",
                ev.group,
            )
        self._compare(ev.result, self.group_result(ev.community, ev.group), ev.group)

    def _apply_group_result(self, ctx: EventContext, ev: GroupResultDeclared) -> None:
        ge = self._group_for_apply(ev.community, ev.group)
        if ge is None or ge.declared is not None:
            return
        ge.declared = ev.result
        cs = self.communities[ev.community]
        result = self.group_result(ev.community, ev.group)
        for post in result.posts.values():
            cs.entitled.update(post.elected)

    @staticmethod
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

    @staticmethod
    def _group_member(cs: CommunityState, group: str) -> Callable[[str], bool]:
        """Who a household ballot of ``group`` may write in: a registered voter of that group
        (the one predicate of the household ballots' check and apply)."""
        roll = cs.roll
        return lambda v: (r := roll.get(v)) is not None and r.group == group

    @staticmethod
    def _writeins_registered(
        marks: Mapping[str, PostMarks], registered: Callable[[str], bool]
    ) -> None:
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

    @staticmethod
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

    # ------------------------------------------------------------------ nominations

    def _before_list(self, cs: CommunityState, what: str, *ids: str) -> None:
        if cs.roll_day is None:
            raise _violation(C.PHASE_OUT_OF_WINDOW, f"{what} before the roll is published", *ids)
        if cs.candidate_list is not None:
            raise _violation(
                C.PHASE_OUT_OF_WINDOW, f"{what} after the candidate list is published", *ids
            )

    def _check_nomination(self, ctx: EventContext, ev: NominationFiled) -> None:
        cs = self.communities[ev.community]
        if ev.nomination in self.nominations:
            raise _violation(C.REF_DUPLICATE, "nomination id already used", ev.nomination)
        post = cs.posts.get(ev.post)
        if post is None:
            raise _violation(C.REF_UNKNOWN, "unknown post", ev.post)
        self._before_list(cs, "nomination", ev.nomination)
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
        limit = self.rules.nominator_limit_for(post.seats)
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

    def _apply_nomination(self, ctx: EventContext, ev: NominationFiled) -> None:
        if ev.nomination in self.nominations:
            return
        cs = self.communities[ev.community]
        if ev.post not in cs.posts:
            return
        self.nominations[ev.nomination] = ev
        cs.nominees.setdefault(ev.post, {}).setdefault(ev.candidate, set()).add(ev.nomination)
        for n in ev.nominators:
            cs.named.setdefault((ev.post, n), set()).add(ev.candidate)

    def _check_withdrawal(self, ctx: EventContext, ev: NominationWithdrawn) -> None:
        cs = self.communities[ev.community]
        if ev.candidate not in cs.nominees.get(ev.post, {}):
            raise _violation(C.REF_UNKNOWN, f"not a nominee for {ev.post}", ev.candidate)
        self._before_list(cs, "withdrawal", ev.candidate)

    def _apply_withdrawal(self, ctx: EventContext, ev: NominationWithdrawn) -> None:
        nominees = self.communities[ev.community].nominees.get(ev.post)
        if nominees is not None:
            nominees.pop(ev.candidate, None)

    def _check_vetting(self, ctx: EventContext, ev: VettingDecided) -> None:
        cs = self.communities[ev.community]
        if not any(ev.candidate in m for m in cs.nominees.values()):
            raise _violation(C.REF_UNKNOWN, "vetting of someone not nominated", ev.candidate)
        self._before_list(cs, "vetting decision", ev.candidate)

    def _apply_vetting(self, ctx: EventContext, ev: VettingDecided) -> None:
        self.communities[ev.community].vetting[ev.candidate] = ev.approved

    def _check_candidates(self, ctx: EventContext, ev: CandidatesPublished) -> None:
        cs = self.communities[ev.community]
        if cs.candidate_list is not None:
            raise _violation(C.REF_DUPLICATE, "candidate list already published", ev.community)
        if cs.roll_day is None:
            raise _violation(
                C.PHASE_OUT_OF_WINDOW, "candidate list before the roll is published", ev.community
            )
        days = self.election_day - self.local_day(ctx.time)
        if days < self.rules.candidates_days_before:
            raise _violation(
                C.CANDIDATES_LIST_LATE,
                f"published {days} day(s) before election day, fewer than "
                f"{self.rules.candidates_days_before}",
                ev.community,
            )
        self._observers_not_candidates(cs, ev.posts)
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
            omitted = sorted(
                c for c in nominees if cs.vetting.get(c, False) and c not in pl.candidates
            )
            if omitted:
                raise _violation(
                    C.CANDIDATES_LIST_MISMATCH,
                    f"approved nominees for {pl.post} missing from the list",
                    *omitted,
                )
            need = pl.seats + self.rules.candidate_excess_for(pl.post)
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

    def _apply_candidates(self, ctx: EventContext, ev: CandidatesPublished) -> None:
        cs = self.communities[ev.community]
        if cs.candidate_list is not None or 1 in cs.rounds:
            return
        cs.candidate_list = ev.posts
        posts = []
        for pl in ev.posts:
            d = cs.posts.get(pl.post)
            rank = d.rank if d is not None else 0
            posts.append(
                PostSpec(post=pl.post, seats=pl.seats, candidates=pl.candidates, rank=rank)
            )
            cs.candidates.update(pl.candidates)
        self._new_round(cs, 1, "first", posts)

    def _new_round(
        self, cs: CommunityState, number: int, kind: str, posts: list[PostSpec], source: int = 0
    ) -> None:
        try:
            rs = RoundState(cs.community, number, kind, tuple(posts), self, source)
        except UsageError:  # a duplicated post id in an unchecked event: nothing to apply
            return
        cs.rounds[number] = rs

    # ------------------------------------------------------------------ proxies

    def _check_proxy(self, ctx: EventContext, ev: ProxyAuthorised) -> None:
        cs = self.communities[ev.community]
        if cs.roll_day is None:
            raise _violation(
                C.PHASE_OUT_OF_WINDOW, "proxy before the roll is published", ev.principal
            )
        if cs.proxy_list_published:
            raise _violation(
                C.PHASE_OUT_OF_WINDOW, "proxy after the proxy list is published", ev.principal
            )
        for who in (ev.principal, ev.proxy):
            if who not in cs.roll:
                raise _violation(
                    C.PROXY_NOT_REGISTERED, f"not a registered voter of {ev.community}", who
                )
        if ev.principal == ev.proxy:
            raise _violation(C.PROXY_NOT_REGISTERED, "a voter cannot be their own proxy", ev.proxy)
        if ev.proxy in cs.proxies:
            raise _violation(C.PROXY_NOT_REGISTERED, "the proxy gave a proxy themselves", ev.proxy)
        if ev.principal in cs.principals_of:
            raise _violation(
                C.PROXY_NOT_REGISTERED, "the principal holds proxies for others", ev.principal
            )
        if ev.relationship not in self.rules.proxy_relationships:
            raise _violation(
                C.PROXY_NOT_CLOSE_RELATIVE,
                f"relationship {ev.relationship!r} is not a close relative",
                ev.principal,
                ev.proxy,
            )
        if ev.principal in cs.proxies:
            raise _violation(C.REF_DUPLICATE, "principal already gave a proxy", ev.principal)
        if ev.principal in cs.voted:
            raise _violation(
                C.PROXY_PRINCIPAL_VOTED,
                "the principal has already been issued a ballot",
                ev.principal,
            )
        held = cs.principals_of.get(ev.proxy, set())
        if len(held) >= self.rules.proxy_cap:
            raise _violation(
                C.PROXY_CAP_EXCEEDED,
                f"proxy already holds {len(held)} principal(s), cap {self.rules.proxy_cap}",
                ev.proxy,
                ev.principal,
            )

    def _apply_proxy(self, ctx: EventContext, ev: ProxyAuthorised) -> None:
        cs = self.communities[ev.community]
        if ev.principal in cs.proxies:
            return
        cs.proxies[ev.principal] = ev
        cs.principals_of.setdefault(ev.proxy, set()).add(ev.principal)

    def _check_proxy_list(self, ctx: EventContext, ev: ProxyListPublished) -> None:
        cs = self.communities[ev.community]
        if cs.proxy_list_published:
            raise _violation(C.REF_DUPLICATE, "proxy list already published", ev.community)
        want = self.proxy_hash(ev.community)
        if ev.count != len(cs.proxies) or ev.list_hash != want:
            raise _violation(
                C.PROXY_LIST_MISMATCH,
                f"published {ev.count} proxies / hash {ev.list_hash.hex()[:16]}…, replayed "
                f"{len(cs.proxies)} / {want.hex()[:16]}…",
                ev.community,
            )

    def _apply_proxy_list(self, ctx: EventContext, ev: ProxyListPublished) -> None:
        self.communities[ev.community].proxy_list_published = True

    # ------------------------------------------------------------------ units and boxes

    def _check_observers(self, cs: CommunityState, observers: tuple[str, ...], what: str) -> None:
        distinct = set(observers)
        if len(distinct) < self.rules.min_observers:
            raise _violation(
                C.UNIT_OBSERVERS,
                f"{what}: {len(distinct)} distinct observer(s), {self.rules.min_observers} needed",
                what,
            )
        bad = sorted(o for o in distinct if o in cs.candidates)
        if bad:
            raise _violation(
                C.UNIT_OBSERVER_IS_CANDIDATE, f"{what}: an observer is a candidate", *bad
            )
        strangers = sorted(o for o in distinct if o not in cs.observers)
        if strangers:
            raise _violation(
                C.OBSERVER_NOT_ACCREDITED,
                f"{what}: observer(s) not accredited in {cs.community}",
                *strangers,
            )

    @staticmethod
    def _observers_not_candidates(cs: CommunityState, posts: tuple[PostList, ...]) -> None:
        bad = sorted({c for pl in posts for c in pl.candidates if c in cs.observers})
        if bad:
            raise _violation(
                C.UNIT_OBSERVER_IS_CANDIDATE, "an accredited observer cannot be a candidate", *bad
            )

    def _check_observer_accredited(self, ctx: EventContext, ev: ObserverAccredited) -> None:
        cs = self.communities[ev.community]
        if ev.observer in cs.observers:
            raise _violation(C.REF_DUPLICATE, "observer already accredited", ev.observer)
        if ev.observer in cs.candidates:
            raise _violation(
                C.UNIT_OBSERVER_IS_CANDIDATE, "a candidate cannot be an observer", ev.observer
            )

    def _apply_observer_accredited(self, ctx: EventContext, ev: ObserverAccredited) -> None:
        self.communities[ev.community].observers.setdefault(ev.observer, ev.organisation)

    def _check_unit_opened(self, ctx: EventContext, ev: UnitOpened) -> None:
        cs = self.communities[ev.community]
        if ev.unit in self.units:
            raise _violation(C.REF_DUPLICATE, "unit id already used", ev.unit)
        rs = cs.rounds.get(ev.round)
        if rs is None:
            raise _violation(
                C.PHASE_OUT_OF_WINDOW,
                f"round {ev.round} of {ev.community} has no candidate list / was not called",
                ev.unit,
            )
        if rs.declared is not None:
            raise _violation(
                C.PHASE_OUT_OF_WINDOW, f"round {ev.round} result already declared", ev.unit
            )
        if ev.round == 1 and self.local_day(ctx.time) < self.election_day:
            raise _violation(C.PHASE_OUT_OF_WINDOW, "unit opened before election day", ev.unit)
        if not cs.proxy_list_published:
            raise _violation(
                C.PHASE_OUT_OF_WINDOW,
                "voting before the community's proxy list is published",
                ev.unit,
            )
        self._counting_not_begun(ev.community, ev.round, "unit.opened", ev.unit)
        self._check_observers(cs, ev.observers, ev.unit)
        busy = sorted(o for o in set(ev.observers) if o in cs.observing)
        if busy:
            raise _violation(
                C.OBSERVER_BUSY,
                f"{ev.unit}: observer(s) already at open unit {cs.observing[busy[0]]}",
                *busy,
            )

    def _apply_unit_opened(self, ctx: EventContext, ev: UnitOpened) -> None:
        if ev.unit in self.units:
            return
        rs = self.communities[ev.community].rounds.get(ev.round)
        if rs is None:
            return
        self.units[ev.unit] = UnitState(ev, ctx.index)
        rs.units.append(ev.unit)
        observing = self.communities[ev.community].observing
        for o in ev.observers:
            observing.setdefault(o, ev.unit)

    def _open_unit(self, unit_id: str, what: str) -> UnitState:
        unit = self.units[unit_id]  # existence checked by _scope_of
        if unit.closed:
            raise _violation(C.UNIT_NOT_OPEN, f"{what} at a closed unit", unit_id)
        return unit

    def _check_unit_closed(self, ctx: EventContext, ev: UnitClosed) -> None:
        self._open_unit(ev.unit, "unit.closed")

    def _apply_unit_closed(self, ctx: EventContext, ev: UnitClosed) -> None:
        unit = self.units.get(ev.unit)
        if unit is not None and not unit.closed:
            unit.closed = True
            observing = self.communities[unit.community].observing
            for o in unit.observers:
                if observing.get(o) == unit.unit:
                    del observing[o]

    def _counting_not_begun(self, community: str, number: int, what: str, *ids: str) -> None:
        """Phases by log order: once a round's first box is opened, nothing more is issued,
        opened or sealed for that round, whatever time an event claims."""
        rs = self.communities[community].rounds.get(number)
        if rs is not None and rs.counting_at is not None:
            raise _violation(
                C.PHASE_OUT_OF_WINDOW,
                f"{what}: counting of {community} round {number} began at entry {rs.counting_at}",
                *ids,
            )

    def _check_box_sealed(self, ctx: EventContext, ev: BoxSealed) -> None:
        unit = self._open_unit(ev.unit, "box.sealed")
        self._counting_not_begun(unit.community, unit.round, "box.sealed", ev.box)
        if ev.box in self.boxes:
            raise _violation(C.BOX_SEQUENCE, "box already sealed", ev.box)

    def _apply_box_sealed(self, ctx: EventContext, ev: BoxSealed) -> None:
        unit = self.units.get(ev.unit)
        if unit is not None and ev.box not in self.boxes:
            self.boxes[ev.box] = BoxState(ev.box, ev.unit)
            unit.boxes.append(ev.box)

    def _check_box_transferred(self, ctx: EventContext, ev: BoxTransferred) -> None:
        box = self.boxes[ev.box]
        if box.opened:
            raise _violation(C.BOX_SEQUENCE, "an opened box cannot be transferred", ev.box)
        if box.merged_into is not None:
            raise _violation(
                C.BOX_SEQUENCE, f"box was merged into {box.merged_into}; it holds nothing", ev.box
            )
        to = self.units.get(ev.to_unit)
        origin = self.units[box.unit]
        if to is None or to.community != origin.community or to.round != origin.round:
            raise _violation(C.REF_UNKNOWN, "no unit of the same community and round", ev.to_unit)

    def _apply_box_transferred(self, ctx: EventContext, ev: BoxTransferred) -> None:
        box = self.boxes.get(ev.box)
        if box is not None and ev.to_unit in self.units:
            box.custody = ev.to_unit

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

    def _check_box_merged(self, ctx: EventContext, ev: BoxMerged) -> None:
        box = self.boxes[ev.box]  # existence checked by _scope_of
        into = self.boxes.get(ev.into)
        if into is None:
            raise _violation(C.REF_UNKNOWN, "box.merged: unknown target box", ev.into)
        if ev.box == ev.into:
            raise _violation(C.BOX_SEQUENCE, "a box cannot be merged into itself", ev.box)
        for b in (box, into):
            if b.opened:
                raise _violation(C.BOX_SEQUENCE, "an opened box cannot be merged", b.box)
            if b.merged_into is not None:
                raise _violation(C.BOX_SEQUENCE, "box already merged into another", b.box)
        unit = self.units[box.unit]
        if not unit.closed:
            raise _violation(
                C.BOX_SEQUENCE, f"box merged while its unit {unit.unit} is still open", ev.box
            )
        target = self.units[into.unit]
        if target.community != unit.community or target.round != unit.round:
            raise _violation(
                C.BOX_SEQUENCE, "boxes of different communities or rounds", ev.box, ev.into
            )

    def _apply_box_merged(self, ctx: EventContext, ev: BoxMerged) -> None:
        box = self.boxes.get(ev.box)
        into = self.boxes.get(ev.into)
        if box is None or into is None or box is into or box.merged_into is not None:
            return
        box.merged_into = ev.into
        batch = into.batch
        for u in box.batch:
            if u not in batch:
                batch.append(u)

    def _check_box_opened(self, ctx: EventContext, ev: BoxOpened) -> None:
        box = self.boxes[ev.box]
        if box.opened:
            raise _violation(C.BOX_SEQUENCE, "box already opened", ev.box)
        if box.merged_into is not None:
            raise _violation(
                C.BOX_SEQUENCE, f"box was merged into {box.merged_into}; it is never opened", ev.box
            )
        unit = self.units[box.unit]
        if not unit.closed:
            raise _violation(
                C.BOX_SEQUENCE, f"box opened while its unit {unit.unit} is still open", ev.box
            )
        self._check_observers(self.communities[unit.community], ev.observers, ev.box)
        issued = self.batch_issued(ev.box)
        if issued < self.rules.min_count_batch:
            raise _violation(
                C.BOX_SMALL_BATCH,
                f"{issued} ballot(s) issued into the counting batch of {ev.box} "
                f"(units {', '.join(sorted(box.batch))}), fewer than "
                f"{self.rules.min_count_batch}: merge it into another box first",
                ev.box,
            )

    def _apply_box_opened(self, ctx: EventContext, ev: BoxOpened) -> None:
        box = self.boxes.get(ev.box)
        if box is not None:
            box.opened = True
            unit = self.units[box.unit]
            rs = self.communities[unit.community].rounds.get(unit.round)
            if rs is not None and rs.counting_at is None:
                rs.counting_at = ctx.index

    # ------------------------------------------------------------------ ballots

    def _check_ballot_issued(self, ctx: EventContext, ev: BallotIssued) -> None:
        unit = self._open_unit(ev.unit, "ballot.issued")
        self._counting_not_begun(unit.community, unit.round, "ballot.issued", ev.unit, ev.voter)
        cs = self.communities[unit.community]
        rs = cs.rounds[unit.round]
        principal = ev.voter
        if ev.proxy_for is not None:
            principal = ev.proxy_for
            auth = cs.proxies.get(principal)
            if auth is None or auth.proxy != ev.voter:
                raise _violation(
                    C.PROXY_NOT_AUTHORISED,
                    "no proxy authorisation of this voter for this principal",
                    ev.voter,
                    principal,
                )
        elif principal in cs.proxies:
            raise _violation(
                C.PROXY_PRINCIPAL_VOTED,
                f"gave a proxy to {cs.proxies[principal].proxy}; cannot vote in person",
                principal,
            )
        reg = cs.roll.get(principal)
        if reg is None:
            raise _violation(
                C.BALLOT_NOT_REGISTERED, f"not on the roll of {unit.community}", principal
            )
        if ev.proxy_for is not None and ev.voter not in cs.roll:
            raise _violation(
                C.BALLOT_NOT_REGISTERED, f"proxy not on the roll of {unit.community}", ev.voter
            )
        if cs.mode == ElectionMode.GROUP_REP and principal not in cs.entitled:
            raise _violation(
                C.BALLOT_NOT_ENTITLED, "not an elected group representative", principal
            )
        if principal in rs.issued_voters:
            raise _violation(
                C.BALLOT_DUPLICATE_ISSUE,
                f"already issued a ballot in round {unit.round}",
                principal,
            )
        if cs.mode == ElectionMode.HOUSEHOLD_REP:
            key = (reg.group, reg.household)
            if rs.issued_households.get(key, 0) >= self.rules.household_ballots:
                raise _violation(
                    C.HOUSEHOLD_DUPLICATE_BALLOT,
                    f"household already received its ballot in round {unit.round}",
                    reg.household,
                    principal,
                )

    def _apply_ballot_issued(self, ctx: EventContext, ev: BallotIssued) -> None:
        unit = self.units.get(ev.unit)
        if unit is None:
            return
        cs = self.communities[unit.community]
        rs = cs.rounds[unit.round]
        principal = ev.proxy_for if ev.proxy_for is not None else ev.voter
        if rs.registered is None:
            rs.registered = self.electorate(cs.community)
        if cs.frozen_at is None:
            cs.frozen_at = ctx.index
        unit.issued += 1
        rs.issued += 1
        rs.issued_voters.add(principal)
        cs.voted.add(principal)
        reg = cs.roll.get(principal)
        if reg is not None and cs.mode == ElectionMode.HOUSEHOLD_REP:
            key = (reg.group, reg.household)
            rs.issued_households[key] = rs.issued_households.get(key, 0) + 1

    def _check_ballot_recorded(self, ctx: EventContext, ev: BallotRecorded) -> None:
        box = self.boxes[ev.box]
        if not box.opened:
            raise _violation(C.BOX_SEQUENCE, "ballot recorded from a box not opened", ev.box)
        unit = self.units[box.unit]
        rs = self.communities[unit.community].rounds[unit.round]
        if rs.declared is not None:
            raise _violation(
                C.PHASE_OUT_OF_WINDOW, f"round {unit.round} result already declared", ev.box
            )
        if ev.serial in rs.serials:
            raise _violation(
                C.BALLOT_DUPLICATE_SERIAL, "ballot serial already recorded", ev.serial.hex()
            )
        self._writeins_registered(ev.marks, self.communities[unit.community].roll.__contains__)

    def _apply_ballot_recorded(self, ctx: EventContext, ev: BallotRecorded) -> None:
        box = self.boxes.get(ev.box)
        if box is None:
            return
        unit = self.units[box.unit]
        cs = self.communities[unit.community]
        rs = cs.rounds[unit.round]
        roll = cs.roll
        marks, voided = self._effective_marks(ev.marks, roll.__contains__)
        rs.void_writeins += voided
        rs.tally.add(marks)
        rs.serials.add(ev.serial)
        box.recorded += 1
        unit.recorded += 1

    # ------------------------------------------------------------------ results and rounds

    def _check_result(self, ctx: EventContext, ev: ResultDeclared) -> None:
        cs = self.communities[ev.community]
        rs = cs.rounds.get(ev.round)
        if rs is None:
            raise _violation(C.REF_UNKNOWN, f"{ev.community} has no round {ev.round}", ev.community)
        if rs.declared is not None:
            raise _violation(
                C.REF_DUPLICATE, f"round {ev.round} result already declared", ev.community
            )
        open_units = [u for u in rs.units if not self.units[u].closed]
        unopened = [
            b
            for u in rs.units
            for b in self.units[u].boxes
            if not self.boxes[b].opened and self.boxes[b].merged_into is None
        ]
        if open_units or unopened:
            raise _violation(
                C.RESULT_PREMATURE,
                f"{len(open_units)} unit(s) still open, {len(unopened)} box(es) unopened",
                *open_units,
                *unopened,
            )
        self._compare(ev.result, self.result(ev.community, ev.round), f"{ev.community}#{ev.round}")

    def _apply_result(self, ctx: EventContext, ev: ResultDeclared) -> None:
        rs = self.communities[ev.community].rounds.get(ev.round)
        if rs is not None and rs.declared is None:
            rs.declared = ev.result

    def _check_round_called(self, ctx: EventContext, ev: RoundCalled) -> None:
        cs = self.communities[ev.community]
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
        first = self.result(ev.community, ev.source_round)
        self._observers_not_candidates(cs, ev.posts)
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
            if ev.kind == "revote":
                if first.round_void or not pr.tied:
                    raise _violation(
                        C.ROUND_NOT_WARRANTED, f"{pl.post}: no tie to re-vote", pl.post
                    )
                if pl.seats != pr.revote_seats or set(pl.candidates) != set(pr.tied):
                    raise _violation(
                        C.ROUND_CANDIDATES_MISMATCH,
                        f"{pl.post}: re-vote is for {pr.revote_seats} seat(s) among "
                        f"{', '.join(pr.tied)}",
                        pl.post,
                        *pl.candidates,
                    )
            else:
                if first.round_void or pr.unfilled == 0:
                    raise _violation(
                        C.ROUND_NOT_WARRANTED, f"{pl.post}: no unfilled seats", pl.post
                    )
                want_c = supplementary_candidates(
                    pr, pr.unfilled + self.rules.candidate_excess_for(pl.post)
                )
                if pl.seats != pr.unfilled or set(pl.candidates) != set(want_c):
                    raise _violation(
                        C.ROUND_CANDIDATES_MISMATCH,
                        f"{pl.post}: supplementary round is for {pr.unfilled} seat(s) among "
                        f"{', '.join(want_c)}",
                        pl.post,
                        *pl.candidates,
                    )

    def _apply_round_called(self, ctx: EventContext, ev: RoundCalled) -> None:
        cs = self.communities[ev.community]
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
        self._new_round(cs, ev.round, ev.kind, posts, ev.source_round)
