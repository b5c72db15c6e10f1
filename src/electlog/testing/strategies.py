"""Hypothesis strategies for property-testing software built on electlog.

``from electlog.testing import strategies as est`` and draw:

* keys: :func:`signing_keys`, :func:`note_signers`, :func:`witness_signers`;
* values and rules: :func:`canonical_values` (what :func:`electlog.codec.encode` accepts),
  :func:`rulesets`, :func:`election_definitions`;
* single events: :func:`events` (an event instance of a given type) and :func:`event_bodies` (its
  body dict), valid against the event's schema (not against the rules of an election: ids are
  random);
* ballots: :func:`ballots` for a given candidate list;
* whole elections: :func:`signed_event_streams`, valid signed logs from genesis to results across
  several communities, built through the :class:`~electlog.election.facade.Election` facade, so
  every admission rule held when each event was appended; :func:`election_builders`, a live
  election stopped before a given phase (:class:`ElectionBuilder` is the engine of both);
* tamperings: :func:`tamperings`, a valid log altered in one way, with the finding code the
  auditor must report.

Every strategy draws its sizes first and keeps them small by default, so a failing example
shrinks to a small, readable election (ids such as ``c1``, ``c1-v3``, ``director``) printed as
a one-line summary.

Hypothesis is an optional dependency: ``pip install 'electlog[test]'``. Importing this module
registers nothing; hypothesis's entry point (:mod:`electlog.testing._hypothesis_setup`) registers
:func:`events` for every event class so that ``st.from_type(VoterRegistered)`` works.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, Final, TypeVar

try:
    from hypothesis import assume
    from hypothesis import strategies as st
    from hypothesis.strategies import SearchStrategy
except ImportError as _exc:  # pragma: no cover - exercised by a subprocess test
    raise ImportError(
        "electlog.testing.strategies needs hypothesis: pip install 'electlog[test]'"
    ) from _exc


import attrs

from electlog.audit import BytesSource, Trust
from electlog.audit.findings import (
    CHAIN_SEQ_GAP,
    CHECKPOINT_COSIGNATURE_INVALID,
    CHECKPOINT_ROOT_MISMATCH,
    CHECKPOINT_SIGNATURE_INVALID,
    CHECKPOINT_SPLIT_VIEW,
    CHECKPOINT_WITNESS_QUORUM,
    ENTRY_MALFORMED,
    ENTRY_SIGNATURE_INVALID,
    ENTRY_WRONG_LOG,
    LOG_TRUNCATED,
    SOURCE_UNREADABLE,
    rule_finding_code,
)
from electlog.checkpoint import Checkpoint, WitnessSigner
from electlog.codec import encode
from electlog.election import (
    EVENT_TYPES,
    ElectionEvent,
    ElectionMode,
    EligibilityBasis,
    Role,
    RoundResult,
    RuleSet,
    decode_event,
)
from electlog.election.build import (
    ROLE_KEY_NAMES,
    PhaseBuilder,
    RoleKeys,
    checkpoint_note,
    cosigned_checkpoint,
    follow_up_round,
)
from electlog.election.codes import (
    BALLOT_DUPLICATE_SERIAL,
    BALLOT_NOT_REGISTERED,
    BOX_SMALL_BATCH,
    OBSERVER_NOT_ACCREDITED,
    PHASE_OUT_OF_WINDOW,
    RESULT_MISMATCH,
    ROLL_FROZEN,
    VOTER_DUPLICATE,
    VOTER_UNDERAGE,
)
from electlog.election.events import (
    AnyVoterRegistered,
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
    PostDef,
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
)
from electlog.election.rules import (
    DEFAULT_PROXY_RELATIONSHIPS,
    DEFAULT_REMOVAL_REASONS,
    ELIGIBILITY_BASES,
    PublicProfile,
)
from electlog.election.state import ElectionState, EventContext
from electlog.election.tally import (
    VOID_POST_WRITEIN_NOT_REGISTERED,
    PostMarks,
    PostSpec,
    TallyRules,
    tally_round,
)
from electlog.errors import ElectlogError, StorageError, UsageError
from electlog.events import ZERO_HASH, Entry, Statement, entry_leaf_hash
from electlog.keys import SigningKey
from electlog.log import Log
from electlog.merkle import MerkleTree, new_nodes_batch
from electlog.note import NoteSigner
from electlog.store import MemoryStore, Store
from electlog.store.bundle import export_bundle

from ._chooser import DrawChooser
from .audit_strategies import AUDIT_EVENT_STRATEGIES

__all__ = [
    "TAMPERING_KINDS",
    "DrawChooser",
    "ElectionBuilder",
    "ElectionKeys",
    "SignedElection",
    "Tampering",
    "ballots",
    "canonical_values",
    "community_defs",
    "election_builders",
    "election_definitions",
    "event_bodies",
    "events",
    "note_signers",
    "post_marks",
    "rulesets",
    "signed_event_streams",
    "signing_keys",
    "tally_rules",
    "tamperings",
    "witness_signers",
]

T = TypeVar("T")

_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**64 - 1

# Election days the strategies draw from; the election's own events are dated relative to it.
_FIRST_DAY: Final = _dt.date(2026, 1, 1)
_LAST_DAY: Final = _dt.date(2030, 12, 31)

UNIT_KINDS: Final = ("main", "station", "mobile")
OBJECTION_KINDS: Final = ("omission", "wrongful_inclusion", "data_error")
ROUND_KINDS: Final = ("revote", "supplementary", "rerun")


_ONE_TO_THREE: Final = st.integers(1, 3)
_MARK: Final = st.integers(0, 2)  # 0 no mark, 1 for, 2 against
_FOR_ONLY: Final = st.integers(0, 1)
_BOOL: Final = st.booleans()
_POST_NAMES: Final = ("director", "deputy", "member")
_ONE_TO_TWO: Final = st.integers(1, 2)
_ZERO_TO_TWO: Final = st.integers(0, 2)
_ZERO_TO_THREE: Final = st.integers(0, 3)
_MODES: Final = tuple(str(m) for m in ElectionMode)
_BALLOT_MODES: Final = (str(ElectionMode.ALL_VOTERS), str(ElectionMode.HOUSEHOLD_REP))


def _as_strategy(value: int | SearchStrategy[int]) -> SearchStrategy[int]:
    if isinstance(value, int):
        return st.just(value)
    return value


# --------------------------------------------------------------------------- keys


def signing_keys() -> SearchStrategy[SigningKey]:
    """Ed25519 :class:`~electlog.keys.SigningKey` from drawn 32-byte seeds (shrinks towards
    the all-zero seed). Deterministic: the same example always gives the same key."""
    return st.binary(min_size=32, max_size=32).map(SigningKey.from_seed)


def note_signers(name: str | SearchStrategy[str] | None = None) -> SearchStrategy[NoteSigner]:
    """C2SP note signers (checkpoint keys). ``name`` is the key name (a log's origin); drawn as
    ``example.org/log<n>`` when not given."""
    names = _key_names("example.org/log") if name is None else name
    return st.builds(
        NoteSigner,
        names if isinstance(names, SearchStrategy) else st.just(names),
        st.binary(min_size=32, max_size=32),
    )


def witness_signers(name: str | SearchStrategy[str] | None = None) -> SearchStrategy[WitnessSigner]:
    """C2SP cosignature/v1 witness signers, named ``witness<n>`` unless ``name`` is given."""
    names = _key_names("witness") if name is None else name
    return st.builds(
        WitnessSigner,
        names if isinstance(names, SearchStrategy) else st.just(names),
        st.binary(min_size=32, max_size=32),
    )


def _key_names(prefix: str) -> SearchStrategy[str]:
    return st.integers(1, 9).map(lambda n: f"{prefix}{n}")


# --------------------------------------------------------------------------- values


def _containers(children: SearchStrategy[object]) -> SearchStrategy[object]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(st.characters(codec="utf-8"), max_size=8), children, max_size=4),
    )


_SCALARS: Final[SearchStrategy[object]] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(_INT_MIN, _INT_MAX),
    st.text(st.characters(codec="utf-8"), max_size=16),
    st.binary(max_size=32),
)


def canonical_values(*, max_leaves: int = 20) -> SearchStrategy[object]:
    """Values :func:`electlog.codec.encode` accepts and :func:`electlog.codec.decode` returns
    unchanged: ``None``, bools, ints in ``[-2**63, 2**64-1]``, UTF-8 text, bytes, lists and
    maps with str keys (nested a few levels, at most ``max_leaves`` scalars)."""
    return st.recursive(_SCALARS, _containers, max_leaves=max_leaves)


# --------------------------------------------------------------------------- rule sets


def _default_or(default: T, alternative: SearchStrategy[T]) -> SearchStrategy[T]:
    """``default`` first (what examples shrink to), else ``alternative``."""
    return st.just(default) | alternative


def _fractions(low: int, high: int) -> SearchStrategy[Fraction]:
    return st.tuples(st.integers(low, high), st.integers(1, 6)).map(
        lambda t: min(Fraction(t[0], t[1]), Fraction(1))
    )


_TALLY_DEFAULT: Final = TallyRules()
_MAJORITY: Final = _default_or(_TALLY_DEFAULT.majority, _fractions(1, 4))
_SUPPLEMENTARY: Final = _default_or(_TALLY_DEFAULT.supplementary_min, _fractions(1, 3))
_TURNOUT: Final = _default_or(_TALLY_DEFAULT.turnout_min, _fractions(0, 4))


@st.composite
def tally_rules(draw: st.DrawFn) -> TallyRules:
    """:class:`~electlog.election.tally.TallyRules`: the defaults, or shares near them and
    ``combined_ballot`` on or off."""
    return TallyRules(
        majority=draw(_MAJORITY),
        supplementary_min=draw(_SUPPLEMENTARY),
        turnout_min=draw(_TURNOUT),
        combined_ballot=draw(_BOOL),
    )


_RD: Final = RuleSet()
_RULE_FIELDS: Final[dict[str, SearchStrategy[Any]]] = {
    "min_age": _default_or(_RD.min_age, st.integers(16, 21)),
    "roll_days_before": _default_or(_RD.roll_days_before, st.integers(5, 30)),
    "objection_days": _default_or(_RD.objection_days, st.integers(1, 7)),
    "objection_decision_days": _default_or(_RD.objection_decision_days, st.integers(1, 5)),
    "nominator_limit": _default_or(_RD.nominator_limit, st.integers(1, 4)),
    "candidates_days_before": _default_or(_RD.candidates_days_before, st.integers(1, 7)),
    "min_candidate_excess": _default_or(_RD.min_candidate_excess, st.integers(0, 2)),
    "post_candidate_excess": _default_or(
        _RD.post_candidate_excess,
        st.dictionaries(st.sampled_from(_POST_NAMES), st.integers(0, 2), max_size=2).map(
            lambda m: tuple(sorted(m.items()))
        ),
    ),
    "proxy_cap": _default_or(_RD.proxy_cap, st.integers(1, 4)),
    "proxy_relationships": _default_or(
        _RD.proxy_relationships,
        st.lists(st.sampled_from(DEFAULT_PROXY_RELATIONSHIPS), min_size=1, unique=True).map(tuple),
    ),
    "min_observers": _default_or(_RD.min_observers, st.integers(1, 5)),
    "household_ballots": _default_or(_RD.household_ballots, st.integers(1, 2)),
    "group_leader_seats": _default_or(_RD.group_leader_seats, st.integers(1, 2)),
    "group_rep_seats": _default_or(_RD.group_rep_seats, st.integers(1, 3)),
    "eligible_bases": _default_or(
        _RD.eligible_bases,
        st.lists(st.sampled_from(ELIGIBILITY_BASES), min_size=1, unique=True).map(tuple),
    ),
    "non_local_min_years": _default_or(_RD.non_local_min_years, st.integers(0, 5)),
    "tally": _default_or(_RD.tally, tally_rules()),
    "tz_offset_minutes": _default_or(_RD.tz_offset_minutes, st.integers(-720, 840)),
    # The strategies build schema-1 events and their tamperings check full-profile rules:
    # they draw the full profile (minimal elections: Scenario(rules=RuleSet()), simulate).
    "public_profile": st.just(PublicProfile.FULL.value),
}
_COMMITTEE_MIN: Final = _default_or(_RD.committee_min, st.integers(1, 9))


@st.composite
def rulesets(draw: st.DrawFn) -> RuleSet:
    """:class:`~electlog.election.RuleSet` instances: every parameter is its default (what
    examples shrink to) or a nearby value, under the ``full`` public profile (the events the
    strategies draw are its schema-1 bodies); the result always passes the RuleSet's own
    checks."""
    committee_min = draw(_COMMITTEE_MIN)
    committee_max = draw(_default_or(_RD.committee_max, st.integers(committee_min, 11)))
    fields = {name: draw(strategy) for name, strategy in _RULE_FIELDS.items()}
    return RuleSet(
        committee_min=committee_min,
        committee_max=max(committee_max, committee_min),
        removal_reasons=DEFAULT_REMOVAL_REASONS,
        **fields,
    )


# --------------------------------------------------------------------------- ids and texts


def _ids(prefix: str, high: int = 30) -> SearchStrategy[str]:
    return st.integers(1, high).map(lambda n: f"{prefix}{n}")


_TEXT: Final = st.text(
    st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")), min_size=1, max_size=24
)
_HASH: Final = st.binary(min_size=32, max_size=32)
_SERIAL: Final = st.binary(min_size=16, max_size=16)
_BIRTH: Final = st.dates(_dt.date(1920, 1, 1), _dt.date(2015, 12, 31))
_COMMUNITY: Final = _ids("c", 5)
_GROUP: Final = _ids("g", 9)
_PERSON: Final = _ids("v")
_HOUSEHOLD: Final = _ids("h")
_UNIT: Final = _ids("u", 9)
_BOX: Final = _ids("b", 9)
_POST: Final = st.sampled_from(("director", "deputy", "member"))
_OBSERVERS: Final = st.lists(_ids("o", 9), max_size=5)


@st.composite
def _marks(
    draw: st.DrawFn,
    listed: tuple[str, ...],
    pool: tuple[str, ...],
    limit: int | None,
    against: bool,
) -> PostMarks:
    chosen: list[str] = []
    opposed: list[str] = []
    for cand in listed:
        full = limit is not None and len(chosen) >= limit
        mark = draw(_MARK if against else _FOR_ONLY)
        if mark == 1 and not full:
            chosen.append(cand)
        elif mark == 2:
            opposed.append(cand)
    written: list[str] = []
    for person in pool:
        if (limit is None or len(chosen) + len(written) < limit) and draw(_BOOL):
            written.append(person)
    return PostMarks(in_favour=sorted(chosen), against=sorted(opposed), write_ins=sorted(written))


def post_marks(
    candidates: Sequence[str] = (),
    *,
    seats: int | None = None,
    write_ins: Sequence[str] = (),
    overvotes: bool = True,
    against: bool = True,
) -> SearchStrategy[PostMarks]:
    """The marks of one ballot on one post with the listed ``candidates``.

    "for" and "against" marks name listed candidates (never both for one candidate); write-ins
    come from ``write_ins`` (minus the listed candidates). With ``overvotes=False`` (and
    ``seats`` given) ``for + write-ins <= seats``, so the post is never void by overvote.
    Shrinks towards no mark at all (a blank post)."""
    listed = tuple(dict.fromkeys(candidates))
    pool = tuple(w for w in dict.fromkeys(write_ins) if w not in listed)
    limit = None if overvotes or seats is None else seats
    return _marks(listed, pool, limit, against)


def _post_specs(posts: object) -> list[tuple[str, int, tuple[str, ...]]]:
    items: Any = posts
    if isinstance(posts, CandidatesPublished | RoundCalled):
        items = posts.posts
    elif isinstance(posts, Mapping):
        items = [PostSpec(post=p, seats=s, candidates=c) for p, (s, c) in posts.items()]
    out: list[tuple[str, int, tuple[str, ...]]] = []
    for p in items:
        if isinstance(p, PostSpec | PostList):
            out.append((p.post, p.seats, tuple(p.candidates)))
        else:
            raise TypeError(
                "ballots() takes PostSpec/PostList items, a CandidatesPublished / RoundCalled "
                "event, or a mapping post -> (seats, candidates)"
            )
    return out


def ballots(
    posts: Sequence[PostSpec | PostList]
    | CandidatesPublished
    | RoundCalled
    | Mapping[str, tuple[int, Sequence[str]]],
    *,
    write_ins: Sequence[str] = (),
    overvotes: bool = True,
    against: bool = True,
    blank_posts: bool = True,
) -> SearchStrategy[dict[str, PostMarks]]:
    """Ballots for a candidate list: ``{post: PostMarks}`` in the shape
    :class:`~electlog.election.events.BallotRecorded` and the tally take.

    ``posts``: :class:`~electlog.election.tally.PostSpec` or
    :class:`~electlog.election.events.PostList` items, a ``candidates.published`` /
    ``round.called`` event, or ``{post: (seats, candidates)}``. ``write_ins``: persons who may be
    written in (registered voters, for a ballot the rules accept without voiding the post).
    ``overvotes=False`` never marks more than the seats; ``blank_posts=False`` puts every post on
    the ballot. Shrinks towards the blank ballot ``{}``."""
    specs = tuple(_post_specs(posts))
    return _ballot(specs, tuple(write_ins), overvotes, against, blank_posts)


@st.composite
def _ballot(
    draw: st.DrawFn,
    specs: tuple[tuple[str, int, tuple[str, ...]], ...],
    write_ins: tuple[str, ...],
    overvotes: bool,
    against: bool,
    blank_posts: bool,
) -> dict[str, PostMarks]:
    out: dict[str, PostMarks] = {}
    for post, seats, candidates in specs:
        if blank_posts and not draw(_BOOL):
            continue
        out[post] = draw(
            post_marks(
                candidates, seats=seats, write_ins=write_ins, overvotes=overvotes, against=against
            )
        )
    return out


# --------------------------------------------------------------------------- election definitions


def _posts_of(deputies: int, members: int) -> tuple[PostDef, ...]:
    return (
        PostDef(post="director", seats=1, rank=0),
        PostDef(post="deputy", seats=deputies, rank=1),
        PostDef(post="member", seats=members, rank=2),
    )


@st.composite
def community_defs(
    draw: st.DrawFn,
    community: str = "c1",
    *,
    groups: int | SearchStrategy[int] = _ONE_TO_THREE,
    modes: Sequence[str] = _MODES,
) -> CommunityDef:
    """One community: ``groups`` resident groups (``c1-g1`` ...), posts ``director`` (1 seat),
    ``deputy`` and ``member`` (1-2 seats each), an election mode from ``modes``."""
    n_groups = draw(_as_strategy(groups))
    deputies = draw(st.integers(1, 2))
    members = draw(st.integers(1, 2))
    return CommunityDef(
        community=community,
        name=f"Community {community}",
        mode=draw(st.sampled_from(tuple(str(m) for m in modes))),
        groups=tuple(f"{community}-g{i}" for i in range(1, n_groups + 1)),
        posts=_posts_of(deputies, members),
    )


@st.composite
def election_definitions(
    draw: st.DrawFn,
    *,
    communities: int | SearchStrategy[int] = _ONE_TO_THREE,
    groups: int | SearchStrategy[int] = _ONE_TO_THREE,
    modes: Sequence[str] = _MODES,
    rules: RuleSet | SearchStrategy[RuleSet] | None = None,
    election_day: _dt.date | SearchStrategy[_dt.date] | None = None,
) -> ElectionDefined:
    """Genesis events (``election.defined``): ``communities`` communities ``c1``, ``c2`` ...
    (see :func:`community_defs`), a RuleSet (default :func:`rulesets`) with its correct hash,
    and an election day in 2026-2030. Sizes are drawn first and small."""
    n = draw(_as_strategy(communities))
    if rules is None:
        rule_set = draw(rulesets())
    elif isinstance(rules, RuleSet):
        rule_set = rules
    else:
        rule_set = draw(rules)
    if election_day is None:
        day = draw(st.dates(_FIRST_DAY, _LAST_DAY))
    elif isinstance(election_day, _dt.date):
        day = election_day
    else:
        day = draw(election_day)
    comms = tuple(
        draw(community_defs(f"c{i}", groups=groups, modes=modes)) for i in range(1, n + 1)
    )
    return ElectionDefined(
        election_id=f"e{day.year}",
        name=f"Residents' committee election {day.year}",
        election_day=day,
        communities=comms,
        rules=rule_set,
        rules_hash=rule_set.hash(),
    )


# --------------------------------------------------------------------------- single events


@st.composite
def _post_lists(draw: st.DrawFn) -> tuple[PostList, ...]:
    posts = draw(st.lists(_POST, min_size=1, max_size=3, unique=True))
    out = []
    for post in posts:
        seats = draw(st.integers(1, 2))
        cands = draw(st.lists(_PERSON, max_size=4, unique=True))
        out.append(PostList(post=post, seats=seats, candidates=tuple(cands)))
    return tuple(out)


@st.composite
def _marks_maps(draw: st.DrawFn) -> dict[str, PostMarks]:
    specs = draw(_post_lists())
    pool = draw(st.lists(_PERSON, max_size=3, unique=True))
    return draw(ballots(list(specs), write_ins=pool))


@st.composite
def _round_results(draw: st.DrawFn) -> dict[str, Any]:
    specs = [
        PostSpec(post=p.post, seats=p.seats, candidates=p.candidates) for p in draw(_post_lists())
    ]
    papers = draw(st.lists(ballots(specs), max_size=5))
    registered = draw(st.integers(len(papers), len(papers) + 5))
    issued = draw(st.integers(max(len(papers) - 1, 0), registered))
    return tally_round(specs, papers, registered=registered, issued=issued).to_dict()


_EVENT_STRATEGIES: Final[dict[type[ElectionEvent], SearchStrategy[Any]]] = {
    ElectionDefined: election_definitions(),
    KeyAuthorised: st.builds(
        KeyAuthorised,
        key_id=_HASH,
        role=st.sampled_from(tuple(str(r) for r in Role)),
        scope=st.lists(_COMMUNITY, max_size=2, unique=True).map(tuple),
        label=_TEXT,
    ),
    KeyRevoked: st.builds(KeyRevoked, key_id=_HASH, reason=_TEXT),
    CommitteeMemberAppointed: st.builds(
        CommitteeMemberAppointed, community=_COMMUNITY, member=_PERSON, appointed_by=_TEXT
    ),
    CommitteeMemberWithdrawn: st.builds(
        CommitteeMemberWithdrawn, community=_COMMUNITY, member=_PERSON, reason=_TEXT
    ),
    CommitteeVacancyFilled: st.builds(
        CommitteeVacancyFilled,
        community=_COMMUNITY,
        member=_PERSON,
        replaces=_PERSON,
        appointed_by=_TEXT,
    ),
    VoterRegistered: st.builds(
        VoterRegistered,
        voter=_PERSON,
        community=_COMMUNITY,
        group=_GROUP,
        household=_HOUSEHOLD,
        birth_date=_BIRTH,
        basis=st.sampled_from(ELIGIBILITY_BASES),
        years_resident=st.none() | st.integers(0, 50),
        approval_ref=st.none() | _TEXT,
        objection=st.none() | _ids("obj"),
        dedup=_HASH,
        commitment=_HASH,
    ),
    VoterRemoved: st.builds(
        VoterRemoved,
        voter=_PERSON,
        community=_COMMUNITY,
        reason=st.sampled_from(DEFAULT_REMOVAL_REASONS),
        objection=st.none() | _ids("obj"),
    ),
    RollPublished: st.builds(
        RollPublished, community=_COMMUNITY, size=st.integers(0, 1000), roll_hash=_HASH
    ),
    ObjectionFiled: st.builds(
        ObjectionFiled,
        objection=_ids("obj"),
        community=_COMMUNITY,
        voter=_PERSON,
        kind=st.sampled_from(OBJECTION_KINDS),
        grounds=_TEXT,
    ),
    ObjectionDecided: st.builds(
        ObjectionDecided,
        objection=_ids("obj"),
        community=_COMMUNITY,
        upheld=st.booleans(),
        reason=_TEXT,
    ),
    UnitRepRegistered: st.builds(
        UnitRepRegistered, rep=_ids("rep"), community=_COMMUNITY, organisation=_TEXT
    ),
    HouseholdBallotIssued: st.builds(
        HouseholdBallotIssued, community=_COMMUNITY, group=_GROUP, household=_HOUSEHOLD
    ),
    HouseholdBallotCast: st.builds(
        HouseholdBallotCast,
        community=_COMMUNITY,
        group=_GROUP,
        serial=_SERIAL,
        marks=ballots(
            {"group_leader": (1, ()), "group_rep": (2, ())}, write_ins=("v1", "v2", "v3")
        ),
    ),
    GroupResultDeclared: st.builds(
        GroupResultDeclared, community=_COMMUNITY, group=_GROUP, result=_round_results()
    ),
    NominationFiled: st.builds(
        NominationFiled,
        nomination=_ids("n"),
        community=_COMMUNITY,
        post=_POST,
        candidate=_PERSON,
        nominators=st.lists(_PERSON, min_size=1, max_size=3, unique=True).map(tuple),
    ),
    NominationWithdrawn: st.builds(
        NominationWithdrawn, community=_COMMUNITY, post=_POST, candidate=_PERSON, reason=_TEXT
    ),
    VettingDecided: st.builds(
        VettingDecided,
        community=_COMMUNITY,
        candidate=_PERSON,
        approved=st.booleans(),
        criteria_ref=_TEXT,
        reason=_TEXT,
    ),
    CandidatesPublished: st.builds(CandidatesPublished, community=_COMMUNITY, posts=_post_lists()),
    ProxyAuthorised: st.builds(
        ProxyAuthorised,
        community=_COMMUNITY,
        principal=_PERSON,
        proxy=_PERSON,
        relationship=st.sampled_from(DEFAULT_PROXY_RELATIONSHIPS),
        attestation=_HASH,
    ),
    ProxyListPublished: st.builds(
        ProxyListPublished, community=_COMMUNITY, count=st.integers(0, 100), list_hash=_HASH
    ),
    UnitOpened: st.builds(
        UnitOpened,
        unit=_UNIT,
        community=_COMMUNITY,
        round=st.integers(1, 3),
        kind=st.sampled_from(UNIT_KINDS),
        observers=_OBSERVERS.map(tuple),
    ),
    UnitClosed: st.builds(UnitClosed, unit=_UNIT),
    BoxSealed: st.builds(BoxSealed, unit=_UNIT, box=_BOX),
    BoxTransferred: st.builds(BoxTransferred, box=_BOX, to_unit=_UNIT),
    BoxOpened: st.builds(BoxOpened, box=_BOX, observers=_OBSERVERS.map(tuple)),
    BallotIssued: st.builds(BallotIssued, unit=_UNIT, voter=_PERSON, proxy_for=st.none() | _PERSON),
    BallotRecorded: st.builds(BallotRecorded, box=_BOX, serial=_SERIAL, marks=_marks_maps()),
    ResultDeclared: st.builds(
        ResultDeclared, community=_COMMUNITY, round=st.integers(1, 3), result=_round_results()
    ),
    RoundCalled: st.builds(
        RoundCalled,
        community=_COMMUNITY,
        round=st.integers(2, 4),
        source_round=st.integers(1, 3),
        kind=st.sampled_from(ROUND_KINDS),
        posts=_post_lists(),
    ),
    ObserverAccredited: st.builds(
        ObserverAccredited, community=_COMMUNITY, observer=_ids("o", 9), organisation=_TEXT
    ),
    GroupVotingClosed: st.builds(GroupVotingClosed, community=_COMMUNITY, group=_GROUP),
    BoxMerged: st.builds(BoxMerged, box=_BOX, into=_BOX),
}


def events(event_type: type[ElectionEvent]) -> SearchStrategy[ElectionEvent]:
    """Instances of ``event_type`` that are valid against its schema
    (``event_type.from_body(event.to_body()) == event``), with small readable ids. They are
    not checked against an election's rules (use :func:`signed_event_streams` for that)."""
    if not (isinstance(event_type, type) and issubclass(event_type, ElectionEvent)):
        raise TypeError(f"events() needs an election event class, got {event_type!r}")
    strategy = _EVENT_STRATEGIES.get(event_type)
    if strategy is None:
        known = ", ".join(sorted(c.__name__ for c in _EVENT_STRATEGIES))
        raise TypeError(f"no strategy for {event_type.__name__}; known event classes: {known}")
    return strategy


def event_bodies(event_type: type[ElectionEvent]) -> SearchStrategy[dict[str, Any]]:
    """The canonical bodies (``event.to_body()``) of :func:`events` of ``event_type``: what a
    statement of type ``event_type.TYPE`` carries."""
    return events(event_type).map(lambda event: event.to_body())


_EVENT_STRATEGIES.update(AUDIT_EVENT_STRATEGIES)  # the audit board's events


def _check_coverage() -> None:
    missing = [cls.__name__ for cls in EVENT_TYPES.values() if cls not in _EVENT_STRATEGIES]
    if missing:  # pragma: no cover - guarded by a test
        raise RuntimeError(f"electlog.testing.strategies has no strategy for {missing}")


_check_coverage()


# --------------------------------------------------------------------------- whole elections


@attrs.frozen(kw_only=True)
class ElectionKeys(RoleKeys):
    """The signing keys of a generated election: the authority (genesis, keys, committees) and
    one whole-election key per role."""

    @classmethod
    def from_seed(cls, seed: bytes) -> ElectionKeys:
        """Deterministic keys derived from ``seed`` (test fixtures: drawn elections must
        shrink and replay; never keys for a real election)."""
        return cls.derive(lambda name: hashlib.sha256(seed + name.encode()).digest())


@attrs.frozen(kw_only=True, eq=False, repr=False)
class SignedElection:
    """A whole election drawn by :func:`signed_event_streams`: every entry (exactly as signed
    and appended), the cosigned checkpoints, and the keys and trust anchors to check them.

    Every event passed the admission rules when it was appended (it was submitted through
    :class:`~electlog.election.facade.Election`), so an audit of :meth:`log` with :meth:`trust`
    reports no finding.
    """

    origin: str
    definition: ElectionDefined
    keys: ElectionKeys
    log_signer: NoteSigner
    witnesses: tuple[WitnessSigner, ...]
    quorum: int
    entries: tuple[Entry, ...]
    checkpoints: tuple[str, ...]
    results: dict[tuple[str, int], RoundResult]
    """The declared result of every round, by ``(community, round)``."""
    summary: str
    """One line per community: mode, voters, posts, rounds (also the repr)."""

    def __repr__(self) -> str:
        return f"SignedElection({self.origin!r}, {len(self.entries)} entries; {self.summary})"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """Hypothesis (and IPython) print examples with this: the short summary."""
        p.text(repr(self))

    @property
    def entry_bytes(self) -> tuple[bytes, ...]:
        """The exact bytes of every entry, in log order."""
        return tuple(e.data for e in self.entries)

    def events(self) -> list[tuple[EventContext, ElectionEvent]]:
        """Every entry as ``(EventContext, event)``, in log order."""
        out = []
        for index, entry in enumerate(self.entries):
            st_ = entry.statement
            ctx = EventContext(
                index=index, time=st_.time, signer=st_.author, leaf_hash=entry.leaf_hash
            )
            out.append((ctx, decode_event(st_)))
        return out

    def state(self) -> ElectionState:
        """The projections rebuilt from the entries."""
        return ElectionState.rebuild(self.keys.authority.key_id, self.events())

    def trust(self) -> Trust:
        """The auditor's trust anchors for this election."""
        return Trust.create(
            origin=self.origin,
            authority_key=self.keys.authority.public,
            log_key=self.log_signer.verifier(),
            witnesses=[w.verifier() for w in self.witnesses],
            quorum=self.quorum,
        )

    def log(self, store: Store | None = None) -> Log:
        """A log holding every entry and checkpoint, in ``store`` (an empty store; default a
        new :class:`~electlog.store.MemoryStore`)."""
        log = Log(MemoryStore(self.origin) if store is None else store)
        log.append_many(self.entries)
        for note in self.checkpoints:
            log.add_checkpoint(note)
        return log


class _Community:
    """What the builder decided for one community."""

    def __init__(self, cid: str) -> None:
        self.cid = cid
        self.mode = ""
        self.groups: list[str] = []
        self.posts: list[tuple[str, int]] = []
        self.households: list[list[str]] = []  # voters per household
        self.group_of: dict[str, str] = {}  # household -> group
        self.household_of: dict[str, str] = {}  # voter -> household
        self.voters: list[str] = []  # everyone registered before the roll
        self.late: str | None = None  # registered after an upheld omission objection
        self.removed: str | None = None  # removed after an upheld wrongful-inclusion objection
        self.candidates: dict[str, list[str]] = {}  # post -> listed candidates
        self.dropped: tuple[str, str, str] | None = None  # (post, person, how)
        self.committee_candidate: str | None = None
        self.committee: list[str] = []
        self.proxies: list[tuple[str, str]] = []  # (principal, proxy)


class ElectionBuilder(PhaseBuilder):
    """Builds a valid election phase by phase, drawing every choice from ``draw`` (a
    hypothesis draw function, e.g. ``data.draw``): a
    :class:`~electlog.election.build.PhaseBuilder` with a :class:`DrawChooser`. Used by
    :func:`signed_event_streams` and by :class:`electlog.testing.stateful.ElectionMachine` (one
    phase per step; it sets :attr:`draw` to each step's draw).

    Every event is submitted through :class:`~electlog.election.facade.Election`; a
    :class:`~electlog.errors.RuleViolation` here means the builder (or the rules) are wrong.
    """

    PHASES = (
        "define",
        "appoint_committees",
        "register_voters",
        "publish_rolls",
        "objections",
        "group_elections",
        "nominate",
        "publish_candidates",
        "authorise_proxies",
        "accredit_observers",
        "vote",
        "follow_up_rounds",
        "checkpoint",
    )

    def __init__(
        self,
        draw: Callable[[SearchStrategy[Any]], Any],
        *,
        communities: int | SearchStrategy[int] = _ONE_TO_TWO,
        extra_voters: int | SearchStrategy[int] = _ZERO_TO_THREE,
        modes: Sequence[str] = _MODES,
        rules: RuleSet | SearchStrategy[RuleSet] | None = None,
        witnesses: int | SearchStrategy[int] = _ZERO_TO_TWO,
        quorum: int | SearchStrategy[int] | None = None,
        follow_up_rounds: bool = True,
        origin: str = "example.org/election",
        store: Store | None = None,
    ) -> None:
        self.origin = origin
        rule_set: RuleSet
        if rules is None:
            rule_set = draw(rulesets())
        elif isinstance(rules, RuleSet):
            rule_set = rules
        else:
            rule_set = draw(rules)
        self.explicit_rules = isinstance(rules, RuleSet)
        self.n_communities = draw(_as_strategy(communities))
        self.extra_voters = extra_voters
        self.modes = tuple(modes)
        self.follow_ups = follow_up_rounds
        seed = draw(st.binary(min_size=8, max_size=8))
        self.keys = ElectionKeys.from_seed(seed)
        self.log_signer = NoteSigner(origin, hashlib.sha256(b"log" + seed).digest())
        n_witnesses = draw(_as_strategy(witnesses))
        self.witnesses = tuple(
            WitnessSigner(f"witness{i}", hashlib.sha256(b"w%d" % i + seed).digest())
            for i in range(1, n_witnesses + 1)
        )
        if quorum is None:
            quorum = st.integers(0, n_witnesses)
        self.quorum = min(draw(_as_strategy(quorum)), n_witnesses)
        self.day: _dt.date = draw(st.dates(_FIRST_DAY, _LAST_DAY))
        super().__init__(
            Log(MemoryStore(origin) if store is None else store),
            rule_set,
            DrawChooser(draw),
            dedup_secret=hashlib.sha256(b"dedup" + seed).digest(),
            election_day=self.day,
        )
        self.definition: ElectionDefined | None = None
        self.communities: list[_Community] = []
        self.results: dict[tuple[str, int], RoundResult] = {}
        self.rounds_held: dict[str, int] = {}
        self.checkpoints: list[str] = []
        self._minute = 0
        self._today = -10_000
        # the calendar: roll first published on day `roll`, candidate list on day `listing`
        r = self.rules
        self.listing = -max(r.candidates_days_before, 1)
        self.roll = min(-r.roll_days_before, self.listing) - 1

    # ------------------------------------------------------------------ plumbing

    def __repr__(self) -> str:
        nxt = self.PHASES[len(self.done)] if len(self.done) < len(self.PHASES) else "done"
        return f"ElectionBuilder({len(self.log)} entries, next phase {nxt}; {self.summary()})"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """Hypothesis (and IPython) print examples with this: the short summary."""
        p.text(repr(self))

    @property
    def draw(self) -> Callable[[SearchStrategy[Any]], Any]:
        """The hypothesis draw function every choice comes from (settable: a state machine
        gives each step's draw)."""
        return self._chooser.draw

    @draw.setter
    def draw(self, draw: Callable[[SearchStrategy[Any]], Any]) -> None:
        self._chooser.draw = draw

    @property
    def _chooser(self) -> DrawChooser:
        assert isinstance(self.choose, DrawChooser)
        return self.choose

    def at(self, day: int) -> int:
        """A time (µs UTC) on local day ``election day + day``, one minute after the previous
        event of that day (days never go backwards)."""
        if day != self._today:
            if day < self._today:
                raise UsageError(f"day {day} comes before day {self._today}")
            self._today = day
            self._minute = 8 * 60
        self._minute += 1
        return self.local_time(day, 0, self._minute)

    def submit(self, key: SigningKey, event: ElectionEvent, day: int) -> None:
        """Check, sign, append and apply one event."""
        self.e.submit(self.author(key), event, time=self.at(day))

    def run_all(self) -> SignedElection:
        """Run every remaining phase and return the election."""
        while self.next_phase() is not None:
            pass
        return self.result()

    def result(self) -> SignedElection:
        """The election as built so far."""
        entries = tuple(self.log)
        definition = self.definition
        if definition is None:
            raise UsageError("the define phase has not run")
        return SignedElection(
            origin=self.origin,
            definition=definition,
            keys=self.keys,
            log_signer=self.log_signer,
            witnesses=self.witnesses,
            quorum=self.quorum,
            entries=entries,
            checkpoints=tuple(self.checkpoints),
            results=dict(self.results),
            summary=self.summary(),
        )

    def summary(self) -> str:
        """One readable line per community."""
        parts = []
        for c in self.communities:
            posts = ", ".join(f"{p}×{s}" for p, s in c.posts)
            rounds = self.rounds_held.get(c.cid, 0)
            parts.append(
                f"{c.cid} {c.mode} {len(c.voters)} voters in {len(c.households)} households, "
                f"posts {posts}, {rounds} round(s)"
            )
        return "; ".join(parts)

    # ------------------------------------------------------------------ phases

    def define(self) -> None:
        """Draw the communities (sizes first), sign the genesis and authorise the role keys."""
        draw = self.draw
        r = self.rules
        for i in range(1, self.n_communities + 1):
            c = _Community(f"c{i}")
            c.mode = self.choose.choice(self.modes)
            c.groups = [f"{c.cid}-g{j}" for j in range(1, self.choose.integer(1, 2) + 1)]
            n_posts = self.choose.integer(1, 3)
            c.posts = [
                (name, 1 if name == "director" else self.choose.integer(1, 2))
                for name in _POST_NAMES[:n_posts]
            ]
            listed = {
                post: seats + r.candidate_excess_for(post) + self.choose.integer(0, 1)
                for post, seats in c.posts
            }
            dropped = self.choose.choice((None, "withdrawn", "rejected"))
            needed = sum(listed.values()) + (1 if dropped else 0)
            late = self.choose.boolean()
            removed = self.choose.boolean()
            n_voters = max(needed, 2) + draw(_as_strategy(self.extra_voters))
            n_voters += int(late) + int(removed)
            voters = [f"{c.cid}-v{k}" for k in range(1, n_voters + 1)]
            # households of 1-3 voters, spread over the groups
            k = 0
            while k < len(voters):
                size = self.choose.integer(1, 3)
                members = voters[k : k + size]
                hh = f"{c.cid}-h{len(c.households) + 1}"
                c.households.append(members)
                c.group_of[hh] = c.groups[(len(c.households) - 1) % len(c.groups)]
                for v in members:
                    c.household_of[v] = hh
                k += size
            c.voters = voters
            if late:
                c.late = voters[-1]
                c.voters = voters[:-1]
            if removed:
                c.removed = c.voters[-1]
            pool = [v for v in c.voters if v != c.removed]
            at = 0
            for post, _ in c.posts:
                c.candidates[post] = pool[at : at + listed[post]]
                at += listed[post]
            if dropped:
                c.dropped = (self.choose.choice([p for p, _ in c.posts]), pool[at], dropped)
            if r.committee_min >= 1 and self.choose.boolean():
                c.committee_candidate = c.candidates[c.posts[-1][0]][0]
            self.communities.append(c)
        if not self.explicit_rules:
            # the drawn communities are small: count batches no larger than every round can
            # fill (a group_rep community's electorate may be empty: then any batch size)
            smallest = min(
                0
                if c.mode == str(ElectionMode.GROUP_REP)
                else len({c.household_of[v] for v in c.voters if v != c.removed})
                if c.mode == str(ElectionMode.HOUSEHOLD_REP)
                else len(c.voters) - (c.removed is not None)
                for c in self.communities
            )
            r = self.rules = attrs.evolve(
                r, min_count_batch=min(r.min_count_batch, self.choose.integer(0, 2), smallest)
            )
        self.definition = self.election_definition(
            f"e{self.day.year}",
            f"Residents' committee election {self.day.year}",
            (
                self.community(c.cid, f"Community {c.cid}", c.mode, c.groups, c.posts)
                for c in self.communities
            ),
        )
        start = self.roll - 3
        self.create(self.keys.authority, self.definition, self.at(start))
        grants = self.key_grants(
            (key, str(role), (), name)
            for (key, role), name in zip(self.keys.roles(), ROLE_KEY_NAMES, strict=True)
        )
        for event in grants:
            self.submit(self.keys.authority, event, start)

    def appoint_committees(self) -> None:
        """``committee_min`` members per community (one may be a future candidate)."""
        size = self.rules.committee_min
        for c in self.communities:
            c.committee = [f"{c.cid}-m{i}" for i in range(1, size + 1)]
            if c.committee_candidate is not None:
                c.committee[-1] = c.committee_candidate
            for event in self.appointments(c.cid, c.committee, "district"):
                self.submit(self.keys.authority, event, self.roll - 3)

    def _registration(self, c: _Community, voter: str, **kw: Any) -> AnyVoterRegistered:
        r = self.rules
        basis = self.choose.choice(r.eligible_bases)
        eday = self.day
        oldest = eday.year - 95
        youngest = eday.year - r.min_age - 1
        birth = _dt.date(self.choose.integer(oldest, max(oldest, youngest)), 6, 1)
        hh = c.household_of[voter]
        non_local = basis == str(EligibilityBasis.NON_LOCAL_APPROVED)
        return self.voter_registration(
            salt=hashlib.sha256(b"salt" + voter.encode()).digest()[:16],
            name=f"Resident {voter}",
            id_number=f"ID-{voter}",
            voter=voter,
            community=c.cid,
            group=c.group_of[hh],
            household=hh,
            birth_date=birth,
            basis=basis,
            years_resident=r.non_local_min_years + self.choose.integer(0, 3) if non_local else None,
            approval_ref="residents' meeting minutes" if non_local else None,
            **kw,
        )

    def register_voters(self) -> None:
        """Every voter of the first roll; sometimes a unit representative and a removal."""
        for c in self.communities:
            for v in c.voters:
                self.submit(self.keys.registrar, self._registration(c, v), self.roll - 2)
            if self.choose.boolean():
                rep = self.unit_rep(f"{c.cid}-rep1", c.cid, "Property company")
                self.submit(self.keys.registrar, rep, self.roll - 2)

    def _publish_roll(self, c: _Community, day: int) -> None:
        self.submit(self.keys.registrar, self.roll_publication(c.cid), day)

    def publish_rolls(self) -> None:
        """Each roll published ``roll_days_before`` days (or more) before election day (where
        the rules have no ``objection_upheld`` removal reason, the drawn removal comes first:
        after publication only an upheld objection removes a voter)."""
        for c in self.communities:
            if c.removed is not None and "objection_upheld" not in self.rules.removal_reasons:
                removal = self.removal(c.removed, c.cid, self.rules.removal_reasons[0])
                self.submit(self.keys.registrar, removal, self.roll)
            self._publish_roll(c, self.roll)

    def _upheld_objection(
        self, c: _Community, suffix: str, voter: str, kind: str, grounds: str
    ) -> str:
        """File an objection about ``voter`` in community ``c`` and decide it upheld; returns
        the objection id."""
        obj = f"{c.cid}-{suffix}"
        for event in self.objection(obj, c.cid, voter, kind, grounds, upheld=True, reason="ok"):
            self.submit(self.keys.committee, event, self.roll)
        return obj

    def objections(self) -> None:
        """An upheld omission (late registration) and an upheld wrongful inclusion (removal)
        where drawn, each followed by a republished roll; sometimes a rejected objection."""
        for c in self.communities:
            changed = False
            if c.late is not None:
                obj = self._upheld_objection(
                    c, "obj1", c.late, "omission", "resident, missing from the roll"
                )
                self.submit(
                    self.keys.registrar, self._registration(c, c.late, objection=obj), self.roll
                )
                c.voters.append(c.late)
                changed = True
            if c.removed is not None and "objection_upheld" in self.rules.removal_reasons:
                obj = self._upheld_objection(
                    c, "obj2", c.removed, "wrongful_inclusion", "moved away"
                )
                removal = self.removal(c.removed, c.cid, "objection_upheld", obj)
                self.submit(self.keys.registrar, removal, self.roll)
                changed = True
            if self.choose.boolean():
                for event in self.objection(
                    f"{c.cid}-obj3",
                    c.cid,
                    c.voters[0],
                    "data_error",
                    "birth date",
                    upheld=False,
                    reason="data correct",
                ):
                    self.submit(self.keys.committee, event, self.roll)
            if changed:
                self._publish_roll(c, self.roll)

    def _active(self, c: _Community) -> list[str]:
        roll = self.e.state.community(c.cid).roll
        return [v for v in c.voters if v in roll]

    def group_elections(self) -> None:
        """Household-ballot elections of group leader and representatives: in every group of a
        ``group_rep`` community (its electorate), in some groups elsewhere."""
        draw = self.draw
        r = self.rules
        s = self.e.state
        if r.household_ballots < 1:
            return
        for c in self.communities:
            cs = s.community(c.cid)
            for group in c.groups:
                if c.mode != str(ElectionMode.GROUP_REP) and not self.choose.boolean():
                    continue
                households = sorted(h for (g, h) in cs.households if g == group)
                if not households:
                    continue
                members = sorted(
                    v for v in self._active(c) if c.group_of[c.household_of[v]] == group
                )
                issued = [h for h in households if not self.choose.boolean()] or households[:1]
                in_group = set(members)  # a household ballot may name only voters of the group
                consensus = {
                    "group_leader": PostMarks(
                        write_ins=tuple(sorted(members[: r.group_leader_seats]))
                    ),
                    "group_rep": PostMarks(
                        write_ins=tuple(
                            sorted(
                                members[
                                    r.group_leader_seats : r.group_leader_seats + r.group_rep_seats
                                ]
                            )
                        )
                    ),
                }
                posts = {
                    "group_leader": (r.group_leader_seats, ()),
                    "group_rep": (r.group_rep_seats, ()),
                }
                choice = st.just(consensus) | ballots(
                    posts, write_ins=(*members, f"{c.cid}-nobody")
                )
                returned = len(issued) - (1 if len(issued) > 1 and self.choose.boolean() else 0)
                marks = [_void_unregistered(draw(choice), in_group) for _ in range(returned)]
                serials = [_serial(f"{c.cid}/{group}/{i}") for i in range(returned)]
                handed, shut, cast = self.household_vote(c.cid, group, issued, marks, serials)
                for event in [*handed, shut]:
                    self.submit(self.keys.polling, event, self.roll)
                for event in cast:
                    self.submit(self.keys.counting, event, self.roll)
                self.submit(self.keys.committee, self.group_result(c.cid, group), self.roll)

    def nominate(self) -> None:
        """Nominations (nominators within the per-post limit), a withdrawal or a rejection,
        vetting, and the committee member who is a candidate withdrawing from the committee."""
        r = self.rules
        n = 0
        for c in self.communities:
            named: dict[tuple[str, str], int] = {}
            pool = self._active(c)
            seats = dict(c.posts)
            entries = [(p, cand) for p, cands in c.candidates.items() for cand in cands]
            if c.dropped is not None:
                entries.append((c.dropped[0], c.dropped[1]))
            for post, cand in entries:
                limit = r.nominator_limit_for(seats[post])
                free = [v for v in pool if named.get((post, v), 0) < limit]
                if not free:
                    raise UsageError(f"{c.cid}: no nominator left for {post} (limit {limit})")
                nominator = free[0]
                named[(post, nominator)] = named.get((post, nominator), 0) + 1
                n += 1
                filed = self.nomination(f"n{n}", c.cid, post, cand, (nominator,))
                self.submit(self.keys.committee, filed, self.roll)
            if c.dropped is not None and c.dropped[2] == "withdrawn":
                post, cand, _ = c.dropped
                withdrawn = self.nomination_withdrawn(c.cid, post, cand, "moved")
                self.submit(self.keys.committee, withdrawn, self.roll)
            for _post, cand in entries:
                if c.dropped is not None and c.dropped[2] == "withdrawn" and cand == c.dropped[1]:
                    continue
                approved = not (c.dropped is not None and cand == c.dropped[1])
                why = "meets every criterion" if approved else "not resident"
                decision = self.vetting(c.cid, cand, ("regulation art. 12", why), approved=approved)
                self.submit(self.keys.vetting, decision, self.roll)
            if c.committee_candidate is not None:
                replacement = f"{c.cid}-m{len(c.committee) + 1}"
                for event in self.committee_change(
                    c.cid, c.committee_candidate, replacement, "nominated", "district"
                ):
                    self.submit(self.keys.authority, event, self.roll)

    def publish_candidates(self) -> None:
        """Candidate lists, ``candidates_days_before`` days (or more) before election day."""
        for c in self.communities:
            lists = [(p, seats, c.candidates[p]) for p, seats in c.posts]
            self.submit(self.keys.committee, self.candidate_list(c.cid, lists), self.listing)

    def authorise_proxies(self) -> None:
        """A few written proxies to close relatives (within the cap), then every proxy list."""
        r = self.rules
        for c in self.communities:
            pool = self._active(c)
            holders: dict[str, int] = {}
            principals: set[str] = set()
            for _ in range(self.choose.integer(0, 2)):
                free = [v for v in pool if v not in principals and v not in holders]
                if len(free) < 2:
                    break
                principal = self.choose.choice(free)
                proxies = [
                    v
                    for v in pool
                    if v != principal and v not in principals and holders.get(v, 0) < r.proxy_cap
                ]
                if not proxies:
                    break
                proxy = self.choose.choice(proxies)
                holders[proxy] = holders.get(proxy, 0) + 1
                principals.add(principal)
                c.proxies.append((principal, proxy))
                relationship = self.choose.choice(r.proxy_relationships)
                letter = hashlib.sha256(f"letter/{principal}".encode()).digest()
                self.submit(
                    self.keys.committee,
                    self.proxy(c.cid, principal, proxy, relationship, letter),
                    self.listing,
                )
            self.submit(self.keys.committee, self.proxy_list(c.cid), self.listing)

    def _principals(self, c: _Community, number: int) -> list[str]:
        """Who may be issued a ballot in round ``number`` (the electorate, in roll order)."""
        cs = self.e.state.community(c.cid)
        active = self._active(c)
        if c.mode == str(ElectionMode.GROUP_REP):
            return [v for v in active if v in cs.entitled]
        if c.mode == str(ElectionMode.HOUSEHOLD_REP):
            seen: set[str] = set()
            out = []
            for v in active:
                hh = c.household_of[v]
                if hh not in seen:
                    seen.add(hh)
                    out.append(v)
            return out
        return active

    def _observers(self, k: int) -> tuple[str, ...]:
        """The observers of a round's ``k``-th unit (``k`` from 0): ``min_observers`` (at least
        one) of the accredited panel, never the same at two units open together."""
        n = max(self.rules.min_observers, 1)
        return tuple(f"obs-{i}" for i in range(1 + k * n, 1 + (k + 1) * n))

    def accredit_observers(self) -> None:
        """The committee of every community accredits a panel of observers ``obs-0`` ...
        ``obs-{2n+1}`` (``n`` = ``min_observers``): the units' observers and spares for an app
        that opens its own unit on election day."""
        n = max(self.rules.min_observers, 1)
        for c in self.communities:
            panel = [(f"obs-{i}", "observer panel") for i in range(2 * n + 2)]
            for event in self.accreditations(c.cid, panel):
                self.submit(self.keys.committee, event, self.listing)

    def _hold_round(self, c: _Community, number: int, posts: Sequence[PostList], day: int) -> None:
        draw = self.draw
        minimum = self.rules.min_count_batch
        kinds = draw(st.lists(st.sampled_from(UNIT_KINDS), min_size=1, max_size=2))
        units = [f"{c.cid}-r{number}-u{i}" for i in range(1, len(kinds) + 1)]
        observers = {u: self._observers(k) for k, u in enumerate(units)}
        for unit, kind in zip(units, kinds, strict=True):
            opened = self.unit_opened(c.cid, number, unit, kind, observers[unit])
            self.submit(self.keys.polling, opened, day)
            self.submit(self.keys.polling, self.box_sealed(unit, f"{unit}-box"), day)
        proxy_of = dict(c.proxies)
        issued = {u: 0 for u in units}
        electorate = self._principals(c, number)
        for n, principal in enumerate(electorate):
            # abstains (shrinks towards everyone voting), unless the round would then issue
            # fewer ballots than one counting batch needs
            can_abstain = sum(issued.values()) + len(electorate) - n > minimum
            if can_abstain and self.choose.integer(0, 3) == 3:
                continue
            unit = self.choose.choice(units)
            holder = proxy_of.get(principal)
            event = (
                self.issuance(unit, holder, principal)
                if holder is not None
                else self.issuance(unit, principal)
            )
            self.submit(self.keys.polling, event, day)
            issued[unit] += 1
        for unit in units:
            self.submit(self.keys.polling, self.unit_closed(unit), day)
        if len(units) > 1 and self.choose.boolean():
            self.submit(self.keys.polling, self.box_transferred(f"{units[-1]}-box", units[0]), day)
        # a box into which fewer than min_count_batch ballots were issued is merged into the
        # box of the unit that issued the most before counting (one counting batch); a larger
        # box may be merged too (merging is always allowed, and draws cover box.merged)
        target = max(units, key=lambda u: issued[u])
        counted_in = self.counting_batches(issued, target, minimum, lambda _: self.choose.boolean())
        for unit, into in counted_in.items():
            if into != unit:
                self.submit(self.keys.counting, self.box_merged(f"{unit}-box", f"{into}-box"), day)
        batch = sum(n for u, n in issued.items() if counted_in[u] == target)
        if batch < minimum:
            raise UsageError(
                f"{c.cid} round {number}: {batch} ballot(s) issued, fewer than "
                f"min_count_batch={minimum}; pass rules with a smaller min_count_batch"
            )
        for unit in units:
            if counted_in[unit] == unit:
                self.submit(
                    self.keys.counting, self.box_opened(f"{unit}-box", observers[unit]), day
                )
        roll = self.e.state.community(c.cid).roll
        write_ins = (*self._active(c)[:3], f"{c.cid}-nobody")
        paper = ballots(list(posts), write_ins=write_ins)
        for unit in units:
            returned = issued[unit] - (1 if issued[unit] and self.choose.integer(0, 4) == 0 else 0)
            marks = [_void_unregistered(draw(paper), roll) for _ in range(returned)]
            serials = [_serial(f"{unit}/{i}/{self.origin}") for i in range(returned)]
            for ballot in self.recorded(f"{counted_in[unit]}-box", marks, serials):
                self.submit(self.keys.counting, ballot, day)
        declared, result = self.declaration(c.cid, number)
        self.results[(c.cid, number)] = result
        self.rounds_held[c.cid] = number
        self.submit(self.keys.committee, declared, day)

    def vote(self) -> None:
        """Election day: units with observers, boxes, ballots issued (proxies for their
        principals), units closed, boxes opened, ballots recorded, results declared."""
        for c in self.communities:
            lists = [(p, seats, c.candidates[p]) for p, seats in c.posts]
            self._hold_round(c, 1, self.candidate_list(c.cid, lists).posts, 0)

    def follow_up_rounds(self) -> None:
        """Where round 1 asks for one: a re-run of a void round, a re-vote among the tied, or a
        supplementary round (另行选举) for unfilled seats (one further round at most)."""
        if not self.follow_ups:
            return
        called: list[tuple[_Community, list[PostList]]] = []
        for c in self.communities:
            listed = {p: (seats, c.candidates[p]) for p, seats in c.posts}
            kind, posts = follow_up_round(self.results[(c.cid, 1)], listed, self.rules)
            if not posts or self.choose.boolean():
                continue
            self.submit(self.keys.committee, self.round_called(c.cid, 2, kind, posts), 1)
            called.append((c, posts))
        for c, posts in called:
            self._hold_round(c, 2, posts, 7)

    def checkpoint(self) -> None:
        """A checkpoint of the whole log signed by the log key and cosigned by every witness."""
        stamp = self.at(8) // 1_000_000
        self.checkpoints.append(checkpoint_note(self.log, self.log_signer, self.witnesses, stamp))


def _serial(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()[:16]


def _void_unregistered(marks: Mapping[str, PostMarks], roll: Any) -> dict[str, PostMarks]:
    """``marks`` with every post whose write-ins name someone not in ``roll`` (the community's
    roll; for a household ballot, the group's voters) recorded void with only the reason (the
    name is never published)."""
    return {
        post: PostMarks(void=VOID_POST_WRITEIN_NOT_REGISTERED)
        if any(w not in roll for w in pm.write_ins)
        else pm
        for post, pm in marks.items()
    }


@st.composite
def election_builders(
    draw: st.DrawFn,
    *,
    until: str = "vote",
    communities: int | SearchStrategy[int] = _ONE_TO_TWO,
    extra_voters: int | SearchStrategy[int] = _ZERO_TO_THREE,
    modes: Sequence[str] = _MODES,
    rules: RuleSet | SearchStrategy[RuleSet] | None = None,
) -> ElectionBuilder:
    """Live elections stopped just before phase ``until`` (one of
    :attr:`ElectionBuilder.PHASES`), for testing software that acts in that phase: with
    ``until="vote"`` the candidate lists and proxy lists are published and election day has
    come, so a polling-station app can open a unit (``builder.e`` is the
    :class:`~electlog.election.facade.Election`, ``builder.keys.polling`` the polling station's
    key, ``builder.at(0)`` a time on election day).

    To let the builder draw again (run further phases) inside a test, give it the test's draw
    first: ``builder.draw = data.draw``.
    """
    if until not in ElectionBuilder.PHASES:
        raise UsageError(f"unknown phase {until!r}; one of {ElectionBuilder.PHASES}")
    builder = ElectionBuilder(
        draw, communities=communities, extra_voters=extra_voters, modes=modes, rules=rules
    )
    while builder.PHASES[len(builder.done)] != until:
        builder.next_phase()
    return builder


@st.composite
def signed_event_streams(
    draw: st.DrawFn,
    *,
    communities: int | SearchStrategy[int] = _ONE_TO_TWO,
    extra_voters: int | SearchStrategy[int] = _ZERO_TO_THREE,
    modes: Sequence[str] = _MODES,
    rules: RuleSet | SearchStrategy[RuleSet] | None = None,
    witnesses: int | SearchStrategy[int] = _ZERO_TO_TWO,
    quorum: int | SearchStrategy[int] | None = None,
    follow_up_rounds: bool = True,
    origin: str = "example.org/election",
) -> SignedElection:
    """Whole elections, valid by construction: genesis and role keys, committees, voter
    registrations (households, groups, eligibility bases), the roll published in time,
    objections (a late registration, a removal), resident group elections, nominations within
    the nominator limits, a withdrawal or a rejected vetting, the candidate list, proxies, the
    vote (units, observers, sealed boxes, ballots issued and recorded with drawn marks,
    overvotes and write-ins included), declared results, a re-run / re-vote / supplementary
    round where the result calls for one, and a cosigned checkpoint.

    ``communities``: how many (``c1``, ``c2``, ...); ``extra_voters``: voters beyond the
    candidates each community needs; ``modes``: election modes to draw from; ``rules``: a
    RuleSet or a strategy of them (default :func:`rulesets`, which shrinks to the defaults);
    ``witnesses``: how many witnesses cosign the checkpoint; ``quorum``: the trust file's
    witness quorum (default drawn from 0 to the number of witnesses).
    Every choice shrinks towards one community with the fewest voters, everyone voting, the
    default rules.
    """
    builder = ElectionBuilder(
        draw,
        communities=communities,
        extra_voters=extra_voters,
        modes=modes,
        rules=rules,
        witnesses=witnesses,
        quorum=quorum,
        follow_up_rounds=follow_up_rounds,
        origin=origin,
    )
    return builder.run_all()


# --------------------------------------------------------------------------- tamperings

TAMPERING_KINDS: Final = (
    "signature",
    "malformed",
    "drop",
    "truncate",
    "reorder",
    "wrong_log",
    "checkpoint_signature",
    "witness_quorum",
    "cosignature",
    "split_view",
    "result_rewritten",
    "ballot_stuffed",
    "ballot_duplicated",
    "ghost_voter",
    "duplicate_registration",
    "underage_voter",
    "bundle_corrupted",
    "bundle_truncated",
    "rollback",
    "backdated_unit",
    "ghost_observers",
    "late_removal",
    "small_batch",
)
"""Every kind of tampering :func:`tamperings` draws. The ``result_rewritten`` ...
``underage_voter`` kinds and ``backdated_unit`` ... ``small_batch`` are insider attacks: the log
is rewritten and re-signed with every key (authors, log, witnesses), so only the election rules
can catch them. ``rollback`` needs no key: a copy cut back to an earlier genuine, witnessed
checkpoint, before the election was complete."""

ELECTION_INCOMPLETE: Final = "election.incomplete"
"""The auditor's finding for a community whose election is not complete (the ``rollback``
tampering's expected finding)."""


@attrs.frozen(kw_only=True, eq=False, repr=False)
class Tampering:
    """A valid election (``election``) altered one way, and what the auditor must report.

    ``entries`` / ``checkpoints`` are the tampered log copy (audit it with :meth:`source`); for
    the ``bundle_*`` kinds ``bundle`` holds the tampered bundle file bytes (write them with
    :meth:`write_bundle`). ``expected`` is the finding code the audit must report, ``index`` the
    entry index that finding names (``None``: about the log or a checkpoint).
    """

    kind: str
    description: str
    expected: str
    index: int | None
    election: SignedElection
    entries: tuple[bytes, ...]
    checkpoints: tuple[str, ...]
    bundle: bytes | None = None

    def __repr__(self) -> str:
        return (
            f"Tampering({self.kind}: {self.description}; expect {self.expected}"
            f"{'' if self.index is None else f' at entry {self.index}'}; {self.election!r})"
        )

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """Hypothesis (and IPython) print examples with this: the short description."""
        p.text(repr(self))

    def trust(self) -> Trust:
        """The trust anchors of the untampered election (what an auditor holds)."""
        return self.election.trust()

    def source(self) -> BytesSource:
        """The tampered copy as an audit source: ``audit(t.source(), t.trust())``."""
        return BytesSource(self.entries, self.checkpoints, origin=self.election.origin)

    def write_bundle(self, path: str | os.PathLike[str]) -> Path:
        """Write the tampered copy as a bundle file (the tampered bytes for ``bundle_*``
        kinds); returns the path. Checkpoints beyond the copy's size (``truncate``) cannot be
        carried by a bundle and are left out."""
        target = Path(path)
        if self.bundle is not None:
            try:
                target.write_bytes(self.bundle)
            except OSError as exc:
                raise StorageError(f"cannot write {target}: {exc}") from exc
            return target
        _export_raw(self.election.origin, self.entries, self.checkpoints, target)
        return target


def _export_raw(origin: str, entries: Sequence[bytes], notes: Sequence[str], path: Path) -> None:
    """Export entries (checked by nothing) and notes as a bundle through a raw store."""
    store = MemoryStore(origin)
    leaves = [entry_leaf_hash(e) for e in entries]
    with store.transaction() as tx:
        for data, leaf in zip(entries, leaves, strict=True):
            tx.append(data, leaf, b"\x00" * 32, 1)
        tx.put_nodes(n for n in new_nodes_batch(tx.node, 0, leaves) if n[0] >= 1)
    for note in notes:
        cut = note.rfind("\n\n")
        try:
            size = Checkpoint.from_text(note[: cut + 1]).size
        except ElectlogError:
            continue
        if size <= len(entries):
            store.add_checkpoint(size, note)
    export_bundle(store, path)


def _resign_all(
    election: SignedElection, statements: Sequence[Statement]
) -> tuple[tuple[bytes, ...], tuple[str, ...]]:
    """Re-sign every statement in order with its author's key, repairing every author chain,
    and sign and cosign a fresh checkpoint of the result: the log an insider holding every key
    would publish."""
    keys = election.keys.by_key_id()
    heads: dict[bytes, tuple[int, bytes]] = {}
    out: list[bytes] = []
    for st_ in statements:
        seq, prev = heads.get(st_.author, (0, ZERO_HASH))
        entry = Entry.create(attrs.evolve(st_, seq=seq + 1, prev=prev), keys[st_.author])
        heads[st_.author] = (seq + 1, entry.leaf_hash)
        out.append(entry.data)
    return tuple(out), (_checkpoint_of(election, out),)


def _checkpoint_of(
    election: SignedElection, entries: Sequence[bytes], root: bytes | None = None
) -> str:
    leaves = [entry_leaf_hash(e) for e in entries]
    tree = MerkleTree()
    tree.extend(leaves)
    cp = Checkpoint(
        origin=election.origin,
        size=len(entries),
        root=tree.root() if root is None else root,
    )
    # cosigned one minute after the latest claimed time (the witnesses' clock is consistent
    # with the entries' claimed times)
    latest = max((Entry.from_bytes(e, verify=False).statement.time for e in entries), default=0)
    return cosigned_checkpoint(
        cp, election.log_signer, election.witnesses, latest // 1_000_000 + 60
    )


def _find(election: SignedElection, event_type: type[ElectionEvent]) -> list[int]:
    return [i for i, e in enumerate(election.entries) if e.type == event_type.TYPE]


def _applicable(election: SignedElection, kind: str) -> bool:
    n = len(election.entries)
    if kind in ("witness_quorum", "cosignature"):
        return bool(election.witnesses) and election.quorum >= 1
    if kind == "drop":
        return any(_next_of_author(election, i) is not None for i in range(n))
    if kind == "reorder":
        return any(
            election.entries[i].author != election.entries[i + 1].author for i in range(n - 1)
        )
    if kind in ("ballot_stuffed", "ballot_duplicated"):
        return bool(_find(election, BallotRecorded))
    if kind == "ghost_voter":
        return bool(_find(election, BallotIssued))
    if kind == "underage_voter":
        return election.definition.rules.min_age >= 1 and bool(_find(election, VoterRegistered))
    if kind == "duplicate_registration":
        return bool(_find(election, VoterRegistered))
    if kind in ("result_rewritten", "rollback"):
        return bool(_find(election, ResultDeclared))
    if kind == "backdated_unit":
        return bool(_find(election, BoxOpened))
    if kind == "ghost_observers":
        return bool(_find(election, UnitOpened))
    if kind == "late_removal":
        return _late_removal_target(election) is not None
    if kind == "small_batch":
        return bool(_small_merges(election))
    return True


def _next_of_author(election: SignedElection, i: int) -> int | None:
    author = election.entries[i].author
    for j in range(i + 1, len(election.entries)):
        if election.entries[j].author == author:
            return j
    return None


def _with_body(statement: Statement, body: dict[str, Any]) -> Statement:
    return attrs.evolve(statement, body=body)


@st.composite
def tamperings(
    draw: st.DrawFn,
    elections: SearchStrategy[SignedElection] | None = None,
    *,
    kinds: Sequence[str] = TAMPERING_KINDS,
) -> Tampering:
    """A valid election altered one way (a kind of :data:`TAMPERING_KINDS`), paired with the
    finding code the auditor must report for it (and the entry index it must name).

    ``elections`` defaults to :func:`signed_event_streams` in ``all_voters`` and
    ``household_rep`` communities with one or two witnesses and a quorum of at least one (so
    that every kind applies). Use::

        @given(est.tamperings())
        def test_audit_catches(t):
            report = audit(t.source(), t.trust())
            assert t.expected in {f.code for f in report.findings}
    """
    unknown = set(kinds) - set(TAMPERING_KINDS)
    if unknown:
        raise UsageError(f"unknown tampering kinds {sorted(unknown)}; see TAMPERING_KINDS")
    election = draw(
        elections
        if elections is not None
        else signed_event_streams(modes=_BALLOT_MODES, witnesses=_ONE_TO_TWO, quorum=_ONE_TO_TWO)
    )
    usable = [k for k in kinds if _applicable(election, k)]
    assume(usable)  # e.g. a ballot kind, and nobody voted: draw another election
    kind = draw(st.sampled_from(usable))
    return _TAMPER[kind](draw, election)


def _t(
    election: SignedElection,
    kind: str,
    description: str,
    expected: str,
    index: int | None,
    entries: Sequence[bytes] | None = None,
    checkpoints: Sequence[str] | None = None,
    bundle: bytes | None = None,
) -> Tampering:
    return Tampering(
        kind=kind,
        description=description,
        expected=expected,
        index=index,
        election=election,
        entries=tuple(election.entry_bytes if entries is None else entries),
        checkpoints=tuple(election.checkpoints if checkpoints is None else checkpoints),
        bundle=bundle,
    )


def _pick(draw: st.DrawFn, indexes: Sequence[int]) -> int:
    return int(draw(st.sampled_from(list(indexes))))


def _tamper_signature(draw: st.DrawFn, el: SignedElection) -> Tampering:
    i = draw(st.integers(0, len(el.entries) - 1))
    entry = el.entries[i]
    sig = bytearray(entry.signature)
    sig[draw(st.integers(0, 63))] ^= 1 << draw(st.integers(0, 7))
    data = encode({"key": entry.public_key, "sig": bytes(sig), "stmt": entry.statement_bytes})
    entries = list(el.entry_bytes)
    entries[i] = data
    return _t(
        el,
        "signature",
        f"one bit of entry {i}'s signature flipped",
        ENTRY_SIGNATURE_INVALID,
        i,
        entries,
    )


def _tamper_malformed(draw: st.DrawFn, el: SignedElection) -> Tampering:
    i = draw(st.integers(0, len(el.entries) - 1))
    entries = list(el.entry_bytes)
    how = draw(st.sampled_from(("trailing byte", "truncated", "garbage")))
    if how == "trailing byte":
        entries[i] = entries[i] + b"\x00"
    elif how == "truncated":
        entries[i] = entries[i][: draw(st.integers(1, len(entries[i]) - 1))]
    else:
        entries[i] = b"\xc1" + entries[i][1:]
    return _t(el, "malformed", f"entry {i} made non-canonical ({how})", ENTRY_MALFORMED, i, entries)


def _tamper_drop(draw: st.DrawFn, el: SignedElection) -> Tampering:
    i = _pick(draw, [k for k in range(len(el.entries)) if _next_of_author(el, k) is not None])
    j = _next_of_author(el, i)
    assert j is not None
    entries = list(el.entry_bytes)
    del entries[i]
    return _t(el, "drop", f"entry {i} removed", CHAIN_SEQ_GAP, j - 1, entries)


def _tamper_truncate(draw: st.DrawFn, el: SignedElection) -> Tampering:
    k = draw(st.integers(1, min(5, len(el.entries) - 1)))
    entries = el.entry_bytes[:-k]
    return _t(el, "truncate", f"the last {k} entries removed", LOG_TRUNCATED, None, entries)


def _tamper_reorder(draw: st.DrawFn, el: SignedElection) -> Tampering:
    n = len(el.entries)
    i = _pick(draw, [k for k in range(n - 1) if el.entries[k].author != el.entries[k + 1].author])
    entries = list(el.entry_bytes)
    entries[i], entries[i + 1] = entries[i + 1], entries[i]
    return _t(
        el, "reorder", f"entries {i} and {i + 1} swapped", CHECKPOINT_ROOT_MISMATCH, None, entries
    )


def _tamper_wrong_log(draw: st.DrawFn, el: SignedElection) -> Tampering:
    i = draw(st.integers(0, len(el.entries) - 1))
    st_ = el.entries[i].statement
    key = el.keys.by_key_id()[st_.author]
    entries = list(el.entry_bytes)
    entries[i] = Entry.create(attrs.evolve(st_, log="example.org/another-log"), key).data
    return _t(el, "wrong_log", f"entry {i} re-signed for another log", ENTRY_WRONG_LOG, i, entries)


def _note_parts(note: str) -> tuple[str, list[str]]:
    text, _, block = note.partition("\n\n")
    return text + "\n", block.splitlines()


def _tamper_checkpoint_signature(draw: st.DrawFn, el: SignedElection) -> Tampering:
    text, lines = _note_parts(el.checkpoints[-1])
    name, _, b64 = lines[0][2:].partition(" ")
    raw = bytearray(base64.b64decode(b64))
    raw[draw(st.integers(4, len(raw) - 1))] ^= 1
    lines[0] = f"— {name} {base64.b64encode(bytes(raw)).decode()}"
    note = text + "\n" + "".join(f"{line}\n" for line in lines)
    return _t(
        el,
        "checkpoint_signature",
        "the log signature of the checkpoint altered",
        CHECKPOINT_SIGNATURE_INVALID,
        None,
        checkpoints=(*el.checkpoints[:-1], note),
    )


def _tamper_witness_quorum(draw: st.DrawFn, el: SignedElection) -> Tampering:
    text, lines = _note_parts(el.checkpoints[-1])
    kept = lines[: 1 + el.quorum - 1]  # the log signature and quorum - 1 cosignatures
    note = text + "\n" + "".join(f"{line}\n" for line in kept)
    return _t(
        el,
        "witness_quorum",
        f"cosignatures removed: {el.quorum - 1} left, quorum {el.quorum}",
        CHECKPOINT_WITNESS_QUORUM,
        None,
        checkpoints=(*el.checkpoints[:-1], note),
    )


def _tamper_cosignature(draw: st.DrawFn, el: SignedElection) -> Tampering:
    text, lines = _note_parts(el.checkpoints[-1])
    w = draw(st.integers(1, len(lines) - 1))
    name, _, b64 = lines[w][2:].partition(" ")
    raw = bytearray(base64.b64decode(b64))
    raw[draw(st.integers(12, len(raw) - 1))] ^= 1  # the signature, after key id and time
    lines[w] = f"— {name} {base64.b64encode(bytes(raw)).decode()}"
    note = text + "\n" + "".join(f"{line}\n" for line in lines)
    return _t(
        el,
        "cosignature",
        f"the cosignature of {name} altered",
        CHECKPOINT_COSIGNATURE_INVALID,
        None,
        checkpoints=(*el.checkpoints[:-1], note),
    )


def _tamper_split_view(draw: st.DrawFn, el: SignedElection) -> Tampering:
    root = hashlib.sha256(b"another tree").digest()
    other = _checkpoint_of(el, el.entry_bytes, root=root)
    return _t(
        el,
        "split_view",
        "a second checkpoint of the same size with another root, signed by the log key",
        CHECKPOINT_SPLIT_VIEW,
        None,
        checkpoints=(*el.checkpoints, other),
    )


def _rewritten(
    el: SignedElection,
    kind: str,
    description: str,
    expected: str,
    index: int,
    statements: Sequence[Statement],
) -> Tampering:
    entries, notes = _resign_all(el, statements)
    return _t(
        el, kind, description + " (log re-signed with every key)", expected, index, entries, notes
    )


def _statements(el: SignedElection) -> list[Statement]:
    return [e.statement for e in el.entries]


def _tamper_result(draw: st.DrawFn, el: SignedElection) -> Tampering:
    i = _pick(draw, _find(el, ResultDeclared))
    sts = _statements(el)
    body = dict(sts[i].body)
    result = dict(body["result"])
    field = draw(st.sampled_from(("returned", "valid", "blank", "issued")))
    result[field] = int(result[field]) + 1
    body["result"] = result
    sts[i] = _with_body(sts[i], body)
    return _rewritten(
        el,
        "result_rewritten",
        f"declared result at entry {i}: {field} + 1",
        rule_finding_code(RESULT_MISMATCH),
        i,
        sts,
    )


def _tamper_stuffed(draw: st.DrawFn, el: SignedElection) -> Tampering:
    i = _pick(draw, _find(el, BallotRecorded))
    sts = _statements(el)
    body = dict(sts[i].body)
    body["serial"] = hashlib.sha256(b"stuffed" + body["serial"]).digest()[:16]
    sts.insert(i + 1, _with_body(sts[i], body))
    box = body["box"]
    unit = next(s.body["unit"] for s in sts if s.type == BoxSealed.TYPE and s.body["box"] == box)
    opened = next(s.body for s in sts if s.type == UnitOpened.TYPE and s.body["unit"] == unit)
    declared = next(
        k
        for k in range(i + 2, len(sts))
        if sts[k].type == ResultDeclared.TYPE
        and sts[k].body["community"] == opened["community"]
        and sts[k].body["round"] == opened["round"]
    )
    return _rewritten(
        el,
        "ballot_stuffed",
        f"an extra ballot recorded from box {box} after entry {i}",
        rule_finding_code(RESULT_MISMATCH),
        declared,
        sts,
    )


def _tamper_duplicated(draw: st.DrawFn, el: SignedElection) -> Tampering:
    i = _pick(draw, _find(el, BallotRecorded))
    sts = _statements(el)
    sts.insert(i + 1, sts[i])
    return _rewritten(
        el,
        "ballot_duplicated",
        f"the ballot of entry {i} recorded twice",
        rule_finding_code(BALLOT_DUPLICATE_SERIAL),
        i + 1,
        sts,
    )


def _tamper_ghost(draw: st.DrawFn, el: SignedElection) -> Tampering:
    i = _pick(draw, _find(el, BallotIssued))
    sts = _statements(el)
    body = {**sts[i].body, "voter": "ghost-1", "proxy_for": None}
    sts.insert(i + 1, _with_body(sts[i], body))
    return _rewritten(
        el,
        "ghost_voter",
        f"a ballot issued to an unregistered voter after entry {i}",
        rule_finding_code(BALLOT_NOT_REGISTERED),
        i + 1,
        sts,
    )


def _tamper_duplicate_registration(draw: st.DrawFn, el: SignedElection) -> Tampering:
    i = _pick(draw, _find(el, VoterRegistered))
    sts = _statements(el)
    body = {**sts[i].body, "voter": f"{sts[i].body['voter']}-again"}
    sts.insert(i + 1, _with_body(sts[i], body))
    return _rewritten(
        el,
        "duplicate_registration",
        f"the person of entry {i} registered a second time",
        rule_finding_code(VOTER_DUPLICATE),
        i + 1,
        sts,
    )


def _tamper_underage(draw: st.DrawFn, el: SignedElection) -> Tampering:
    i = _pick(draw, _find(el, VoterRegistered))
    sts = _statements(el)
    day = el.definition.election_day
    young = day.replace(year=day.year - el.definition.rules.min_age + 1, day=1)
    sts[i] = _with_body(sts[i], {**sts[i].body, "birth_date": young.isoformat()})
    return _rewritten(
        el,
        "underage_voter",
        f"the voter of entry {i} made younger than the minimum age",
        rule_finding_code(VOTER_UNDERAGE),
        i,
        sts,
    )


def _bundle_bytes(el: SignedElection) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "election.bundle"
        _export_raw(el.origin, el.entry_bytes, el.checkpoints, path)
        return path.read_bytes()


def _tamper_bundle_corrupted(draw: st.DrawFn, el: SignedElection) -> Tampering:
    data = bytearray(_bundle_bytes(el))
    # somewhere in the entries: after the magic and the header record, before the trailer
    header_len = int.from_bytes(data[16:20], "big")
    start = 16 + 8 + header_len
    pos = draw(st.integers(start, len(data) - 33))
    data[pos] ^= 1 << draw(st.integers(0, 7))
    return _t(
        el,
        "bundle_corrupted",
        f"bundle byte {pos} flipped",
        SOURCE_UNREADABLE,
        None,
        bundle=bytes(data),
    )


def _tamper_bundle_truncated(draw: st.DrawFn, el: SignedElection) -> Tampering:
    data = _bundle_bytes(el)
    header_len = int.from_bytes(data[16:20], "big")
    cut = draw(st.integers(16 + 8 + header_len + 1, len(data) - 1))
    return _t(
        el,
        "bundle_truncated",
        f"bundle cut after {cut} of {len(data)} bytes",
        SOURCE_UNREADABLE,
        None,
        bundle=data[:cut],
    )


def _tamper_rollback(draw: st.DrawFn, el: SignedElection) -> Tampering:
    i = _pick(draw, _find(el, ResultDeclared))
    entries = el.entry_bytes[:i]
    return _t(
        el,
        "rollback",
        f"the copy cut back to a genuine witnessed checkpoint of {i} entries, before a result "
        f"was declared",
        ELECTION_INCOMPLETE,
        None,
        entries,
        (_checkpoint_of(el, entries),),
    )


def _tamper_backdated_unit(draw: st.DrawFn, el: SignedElection) -> Tampering:
    i = _pick(draw, _find(el, BoxOpened))
    sts = _statements(el)
    box = sts[i].body["box"]
    unit = next(s.body["unit"] for s in sts if s.type == BoxSealed.TYPE and s.body["box"] == box)
    opened = next(s for s in sts[:i] if s.type == UnitOpened.TYPE and s.body["unit"] == unit)
    # the station's key opens one more unit of that round after counting began, claiming the
    # time of its own latest act (before the box was opened)
    latest = max(s.time for s in sts[:i] if s.author == opened.author)
    body = {**opened.body, "unit": f"{unit}-late"}
    sts.insert(i + 1, attrs.evolve(opened, body=body, time=latest))
    return _rewritten(
        el,
        "backdated_unit",
        f"unit {unit}-late opened after box {box} was opened (entry {i}), claiming an earlier time",
        rule_finding_code(PHASE_OUT_OF_WINDOW),
        i + 1,
        sts,
    )


def _tamper_ghost_observers(draw: st.DrawFn, el: SignedElection) -> Tampering:
    i = _pick(draw, _find(el, UnitOpened))
    sts = _statements(el)
    n = len(sts[i].body["observers"])
    body = {**sts[i].body, "observers": [f"ghost-{k}" for k in range(1, n + 1)]}
    sts[i] = _with_body(sts[i], body)
    return _rewritten(
        el,
        "ghost_observers",
        f"the unit opened at entry {i} names observers nobody accredited",
        rule_finding_code(OBSERVER_NOT_ACCREDITED),
        i,
        sts,
    )


def _late_removal_target(el: SignedElection) -> tuple[int, Statement, str] | None:
    """(index of a community's first ballot issuance, a registrar statement of that community,
    a voter of that community still on the roll), or ``None``."""
    sts = _statements(el)
    removed = {s.body["voter"] for s in sts if s.type == VoterRemoved.TYPE}
    for i, s in enumerate(sts):
        if s.type != BallotIssued.TYPE:
            continue
        unit = next(
            u for u in sts[:i] if u.type == UnitOpened.TYPE and u.body["unit"] == s.body["unit"]
        )
        community = unit.body["community"]
        for r in sts[:i]:
            if (
                r.type == VoterRegistered.TYPE
                and r.body["community"] == community
                and r.body["voter"] not in removed
            ):
                return i, r, r.body["voter"]
        return None
    return None


def _tamper_late_removal(draw: st.DrawFn, el: SignedElection) -> Tampering:
    target = _late_removal_target(el)
    assert target is not None  # _applicable checked it
    i, registration, voter = target
    sts = _statements(el)
    community = registration.body["community"]
    removal = VoterRemoved(voter=voter, community=community, reason="died")
    latest = max(s.time for s in sts[: i + 1] if s.author == registration.author)
    sts.insert(
        i + 1,
        attrs.evolve(
            registration,
            type=VoterRemoved.TYPE,
            schema=VoterRemoved.SCHEMA,
            body=removal.to_body(),
            time=max(latest, sts[i].time),
        ),
    )
    return _rewritten(
        el,
        "late_removal",
        f"voter {voter} removed from the roll of {community} after its first ballot was issued "
        f"(entry {i})",
        rule_finding_code(ROLL_FROZEN),
        i + 1,
        sts,
    )


def _small_merges(el: SignedElection) -> list[int]:
    """The ``box.merged`` entries whose box's unit issued fewer than ``min_count_batch``
    ballots (a box that could not be opened on its own)."""
    minimum = el.definition.rules.min_count_batch
    sts = _statements(el)
    issued: dict[str, int] = {}
    unit_of: dict[str, str] = {}
    for s in sts:
        if s.type == BallotIssued.TYPE:
            issued[s.body["unit"]] = issued.get(s.body["unit"], 0) + 1
        elif s.type == BoxSealed.TYPE:
            unit_of[s.body["box"]] = s.body["unit"]
    return [
        i
        for i in _find(el, BoxMerged)
        if issued.get(unit_of.get(sts[i].body["box"], ""), 0) < minimum
    ]


def _tamper_small_batch(draw: st.DrawFn, el: SignedElection) -> Tampering:
    i = _pick(draw, _small_merges(el))
    sts = _statements(el)
    box = sts[i].body["box"]
    unit = next(s.body["unit"] for s in sts if s.type == BoxSealed.TYPE and s.body["box"] == box)
    opened = next(s for s in sts if s.type == UnitOpened.TYPE and s.body["unit"] == unit)
    event = BoxOpened(box=box, observers=tuple(opened.body["observers"]))
    sts[i] = attrs.evolve(
        sts[i], type=BoxOpened.TYPE, schema=BoxOpened.SCHEMA, body=event.to_body()
    )
    return _rewritten(
        el,
        "small_batch",
        f"box {box} opened on its own (fewer than min_count_batch ballots issued into it) "
        f"instead of merged, at entry {i}",
        rule_finding_code(BOX_SMALL_BATCH),
        i,
        sts,
    )


_TAMPER: Final[dict[str, Callable[[st.DrawFn, SignedElection], Tampering]]] = {
    "signature": _tamper_signature,
    "malformed": _tamper_malformed,
    "drop": _tamper_drop,
    "truncate": _tamper_truncate,
    "reorder": _tamper_reorder,
    "wrong_log": _tamper_wrong_log,
    "checkpoint_signature": _tamper_checkpoint_signature,
    "witness_quorum": _tamper_witness_quorum,
    "cosignature": _tamper_cosignature,
    "split_view": _tamper_split_view,
    "result_rewritten": _tamper_result,
    "ballot_stuffed": _tamper_stuffed,
    "ballot_duplicated": _tamper_duplicated,
    "ghost_voter": _tamper_ghost,
    "duplicate_registration": _tamper_duplicate_registration,
    "underage_voter": _tamper_underage,
    "bundle_corrupted": _tamper_bundle_corrupted,
    "bundle_truncated": _tamper_bundle_truncated,
    "rollback": _tamper_rollback,
    "backdated_unit": _tamper_backdated_unit,
    "ghost_observers": _tamper_ghost_observers,
    "late_removal": _tamper_late_removal,
    "small_batch": _tamper_small_batch,
}
