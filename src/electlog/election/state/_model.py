"""The projections' records: a community, its rounds and group elections, polling units,
ballot boxes, counting batches and objections (plain mutable records the handlers of the
projection modules fold events into)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from electlog.errors import UsageError

from ..events import (
    AnyObjectionFiled,
    AnyProxyAuthorised,
    AnyVoterRegistered,
    CommunityDef,
    PostList,
    UnitOpened,
    UnitRepRegistered,
)
from ..rules import RevoteRule
from ..tally import PostSpec, RoundTally
from ._base import GROUP_LEADER, GROUP_REP

if TYPE_CHECKING:
    from ._state import ElectionState

__all__ = [
    "BoxState",
    "CommunityState",
    "CountingBatch",
    "GroupElection",
    "RoundState",
    "UnitState",
]


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
        self.roll: dict[str, AnyVoterRegistered] = {}
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
        self.proxies: dict[str, AnyProxyAuthorised] = {}  # principal -> authorisation
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
    event: AnyObjectionFiled
    day: int
    upheld: bool | None = None


def _new_round(
    st: ElectionState,
    cs: CommunityState,
    number: int,
    kind: str,
    posts: list[PostSpec],
    source: int = 0,
) -> None:
    try:
        rs = RoundState(cs.community, number, kind, tuple(posts), st, source)
    except UsageError:  # a duplicated post id in an unchecked event: nothing to apply
        return
    cs.rounds[number] = rs
