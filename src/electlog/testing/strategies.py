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
  every admission rule held when each event was appended;
* tamperings: :func:`tamperings`, a valid log altered in one way, with the finding code the
  auditor must report.

Every strategy draws its sizes first and keeps them small by default, so a failing example
shrinks to a small, readable election (ids such as ``c1``, ``v3``, ``c1/member``).

Hypothesis is an optional dependency: ``pip install 'electlog[test]'``. Importing this module
registers nothing; hypothesis's entry point (:mod:`electlog.testing._hypothesis_setup`) registers
:func:`events` for every event class so that ``st.from_type(VoterRegistered)`` works.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any, Final, TypeVar

try:
    from hypothesis import strategies as st
    from hypothesis.strategies import SearchStrategy
except ImportError as _exc:  # pragma: no cover - exercised by a subprocess test
    raise ImportError(
        "electlog.testing.strategies needs hypothesis: pip install 'electlog[test]'"
    ) from _exc


from electlog.checkpoint import NoteSigner, WitnessSigner
from electlog.election import EVENT_TYPES, ElectionEvent, ElectionMode, Role, RuleSet
from electlog.election.events import (
    BallotIssued,
    BallotRecorded,
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
    HouseholdBallotCast,
    HouseholdBallotIssued,
    KeyAuthorised,
    KeyRevoked,
    NominationFiled,
    NominationWithdrawn,
    ObjectionDecided,
    ObjectionFiled,
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
)
from electlog.election.tally import PostMarks, PostSpec, TallyRules, tally_round
from electlog.keys import SigningKey

__all__ = [
    "ballots",
    "canonical_values",
    "community_defs",
    "election_definitions",
    "event_bodies",
    "events",
    "note_signers",
    "post_marks",
    "rulesets",
    "signing_keys",
    "tally_rules",
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


def canonical_values(*, max_leaves: int = 20) -> SearchStrategy[object]:
    """Values :func:`electlog.codec.encode` accepts and :func:`electlog.codec.decode` returns
    unchanged: ``None``, bools, ints in ``[-2**63, 2**64-1]``, UTF-8 text, bytes, lists and
    maps with str keys (nested a few levels, at most ``max_leaves`` scalars)."""
    scalars: SearchStrategy[object] = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(_INT_MIN, _INT_MAX),
        st.text(st.characters(codec="utf-8"), max_size=16),
        st.binary(max_size=32),
    )
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(
                st.text(st.characters(codec="utf-8"), max_size=8), children, max_size=4
            ),
        ),
        max_leaves=max_leaves,
    )


# --------------------------------------------------------------------------- rule sets


def _default_or(default: T, alternative: SearchStrategy[T]) -> SearchStrategy[T]:
    """``default`` first (what examples shrink to), else ``alternative``."""
    return st.just(default) | alternative


def _fractions(low: int, high: int) -> SearchStrategy[Fraction]:
    return st.tuples(st.integers(low, high), st.integers(1, 6)).map(
        lambda t: min(Fraction(t[0], t[1]), Fraction(1))
    )


@st.composite
def tally_rules(draw: st.DrawFn) -> TallyRules:
    """:class:`~electlog.election.tally.TallyRules`: the defaults, or shares near them and
    ``combined_ballot`` on or off."""
    default = TallyRules()
    return TallyRules(
        majority=draw(_default_or(default.majority, _fractions(1, 4))),
        supplementary_min=draw(_default_or(default.supplementary_min, _fractions(1, 3))),
        turnout_min=draw(_default_or(default.turnout_min, _fractions(0, 4))),
        combined_ballot=draw(st.booleans()),
    )


@st.composite
def rulesets(draw: st.DrawFn) -> RuleSet:
    """:class:`~electlog.election.RuleSet` instances: every parameter is its default (what
    examples shrink to) or a nearby value; the result always passes the RuleSet's own checks."""
    d = RuleSet()
    committee_min = draw(_default_or(d.committee_min, st.integers(1, 9)))
    committee_max = draw(_default_or(d.committee_max, st.integers(committee_min, 11)))
    committee_max = max(committee_max, committee_min)
    bases = draw(
        _default_or(
            d.eligible_bases,
            st.lists(st.sampled_from(ELIGIBILITY_BASES), min_size=1, unique=True).map(tuple),
        )
    )
    relationships = draw(
        _default_or(
            d.proxy_relationships,
            st.lists(st.sampled_from(DEFAULT_PROXY_RELATIONSHIPS), min_size=1, unique=True).map(
                tuple
            ),
        )
    )
    return RuleSet(
        min_age=draw(_default_or(d.min_age, st.integers(16, 21))),
        roll_days_before=draw(_default_or(d.roll_days_before, st.integers(5, 30))),
        objection_days=draw(_default_or(d.objection_days, st.integers(1, 7))),
        objection_decision_days=draw(_default_or(d.objection_decision_days, st.integers(1, 5))),
        committee_min=committee_min,
        committee_max=committee_max,
        nominator_limit=draw(_default_or(d.nominator_limit, st.integers(1, 4))),
        candidates_days_before=draw(_default_or(d.candidates_days_before, st.integers(1, 7))),
        min_candidate_excess=draw(_default_or(d.min_candidate_excess, st.integers(0, 2))),
        proxy_cap=draw(_default_or(d.proxy_cap, st.integers(1, 4))),
        proxy_relationships=relationships,
        min_observers=draw(_default_or(d.min_observers, st.integers(1, 5))),
        household_ballots=draw(_default_or(d.household_ballots, st.integers(1, 2))),
        group_leader_seats=draw(_default_or(d.group_leader_seats, st.integers(1, 2))),
        group_rep_seats=draw(_default_or(d.group_rep_seats, st.integers(1, 3))),
        eligible_bases=bases,
        non_local_min_years=draw(_default_or(d.non_local_min_years, st.integers(0, 5))),
        removal_reasons=DEFAULT_REMOVAL_REASONS,
        tally=draw(_default_or(d.tally, tally_rules())),
        tz_offset_minutes=draw(_default_or(d.tz_offset_minutes, st.integers(-720, 840))),
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

    @st.composite
    def build(draw: st.DrawFn) -> PostMarks:
        limit = None if overvotes or seats is None else seats
        chosen = draw(
            st.lists(st.sampled_from(listed), unique=True, max_size=limit)
            if listed
            else st.just([])
        )
        room = None if limit is None else max(limit - len(chosen), 0)
        written = draw(
            st.lists(st.sampled_from(pool), unique=True, max_size=room)
            if pool and room != 0
            else st.just([])
        )
        rest = [c for c in listed if c not in chosen]
        opposed = draw(
            st.lists(st.sampled_from(rest), unique=True) if against and rest else st.just([])
        )
        return PostMarks(for_=sorted(chosen), against=sorted(opposed), write_ins=sorted(written))

    return build()


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
    specs = _post_specs(posts)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, PostMarks]:
        out: dict[str, PostMarks] = {}
        for post, seats, candidates in specs:
            if blank_posts and not draw(st.booleans()):
                continue
            out[post] = draw(
                post_marks(
                    candidates,
                    seats=seats,
                    write_ins=write_ins,
                    overvotes=overvotes,
                    against=against,
                )
            )
        return out

    return build()


# --------------------------------------------------------------------------- election definitions


def _posts_of(community: str, deputies: int, members: int) -> tuple[PostDef, ...]:
    return (
        PostDef(post=f"{community}/director", seats=1, rank=0),
        PostDef(post=f"{community}/deputy", seats=deputies, rank=1),
        PostDef(post=f"{community}/member", seats=members, rank=2),
    )


@st.composite
def community_defs(
    draw: st.DrawFn,
    community: str = "c1",
    *,
    groups: int | SearchStrategy[int] = _ONE_TO_THREE,
    modes: Sequence[str] = tuple(ElectionMode),
) -> CommunityDef:
    """One community: ``groups`` resident groups (``c1-g1`` ...), posts ``<community>/director``
    (1 seat), ``/deputy`` and ``/member`` (1-2 seats each), an election mode from ``modes``."""
    n_groups = draw(_as_strategy(groups))
    deputies = draw(st.integers(1, 2))
    members = draw(st.integers(1, 2))
    return CommunityDef(
        community=community,
        name=f"Community {community}",
        mode=draw(st.sampled_from(tuple(str(m) for m in modes))),
        groups=tuple(f"{community}-g{i}" for i in range(1, n_groups + 1)),
        posts=_posts_of(community, deputies, members),
    )


@st.composite
def election_definitions(
    draw: st.DrawFn,
    *,
    communities: int | SearchStrategy[int] = _ONE_TO_THREE,
    groups: int | SearchStrategy[int] = _ONE_TO_THREE,
    modes: Sequence[str] = tuple(ElectionMode),
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


def _check_coverage() -> None:
    missing = [cls.__name__ for cls in EVENT_TYPES.values() if cls not in _EVENT_STRATEGIES]
    if missing:  # pragma: no cover - guarded by a test
        raise RuntimeError(f"electlog.testing.strategies has no strategy for {missing}")


_check_coverage()
