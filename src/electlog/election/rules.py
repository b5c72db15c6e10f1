"""The RuleSet: every number of the election rules as a parameter, plus roles and scopes.

A :class:`RuleSet` is recorded in the genesis event (``election.defined``) together with its
:meth:`RuleSet.hash`; the admission rules (:mod:`electlog.election.state`) read every deadline,
limit and share from it, so another jurisdiction configures rather than forks. The defaults are
the rules of the motivating election (docs/election.md, "RuleSet parameters" and "Rules").
"""

from __future__ import annotations

import datetime as _dt
import enum
import hashlib
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any, Final, Self

import attrs

from electlog.codec import encode
from electlog.errors import EncodeError, EntryError, UsageError

from .tally import TallyRules

__all__ = [
    "DEFAULT_PROXY_RELATIONSHIPS",
    "DEFAULT_REMOVAL_CODES",
    "DEFAULT_REMOVAL_REASONS",
    "DEFAULT_VETTING_CODES",
    "ELIGIBILITY_BASES",
    "PUBLIC_PROFILES",
    "REVOTE_RULES",
    "ElectionMode",
    "EligibilityBasis",
    "PublicProfile",
    "RevoteRule",
    "Role",
    "RuleSet",
]


class Role(enum.StrEnum):
    """The role a key is authorised for (``key.authorised``)."""

    AUTHORITY = "authority"
    ELECTION_COMMITTEE = "election_committee"
    REGISTRAR = "registrar"
    VETTING_COMMITTEE = "vetting_committee"
    POLLING_STATION = "polling_station"
    COUNTING_UNIT = "counting_unit"
    OBSERVER = "observer"
    AUDIT_BOARD = "audit_board"


class EligibilityBasis(enum.StrEnum):
    """Why a person may vote in a community (docs/election.md, "Rules": eligibility)."""

    LOCAL_RESIDENT = "local_resident"
    """Household registration here and living here."""
    REGISTERED_LIVING_ELSEWHERE_OPTED_IN = "registered_living_elsewhere_opted_in"
    """Household registration here, living elsewhere, opted in to vote here."""
    NON_LOCAL_APPROVED = "non_local_approved"
    """Not registered here, resident for at least ``non_local_min_years``, approved by the
    residents' meeting (``approval_ref``)."""


ELIGIBILITY_BASES: Final = tuple(b.value for b in EligibilityBasis)


class ElectionMode(enum.StrEnum):
    """How a community elects its committee (who receives a ballot)."""

    ALL_VOTERS = "all_voters"
    """Every registered voter votes."""
    HOUSEHOLD_REP = "household_rep"
    """One representative per household votes (one issued ballot per household)."""
    GROUP_REP = "group_rep"
    """The 2–3 representatives per resident group elected in the group elections vote."""


DEFAULT_REMOVAL_REASONS: Final = (
    "died",
    "moved_out",
    "deprived_of_rights",
    "duplicate",
    "objection_upheld",
)
DEFAULT_REMOVAL_CODES: Final = ("eligibility_ended", "duplicate", "objection_upheld")
"""The removal codes of the ``minimal`` public profile (``RuleSet.removal_codes``): the
``full`` profile's reasons ``died``, ``moved_out`` and ``deprived_of_rights`` are all
``eligibility_ended`` (the detail is committed, ``c_reason``)."""
REMOVAL_CODE_OF: Final = {
    "died": "eligibility_ended",
    "moved_out": "eligibility_ended",
    "deprived_of_rights": "eligibility_ended",
    "duplicate": "duplicate",
    "objection_upheld": "objection_upheld",
}
"""The ``minimal`` removal code of each default ``full`` removal reason."""
DEFAULT_VETTING_CODES: Final = ("eligibility", "qualification")
"""The public ``criteria_code`` of a ``vetting.decided`` v2 (``RuleSet.vetting_codes``):
``eligibility`` (the candidate is not, or no longer, an eligible voter of the community),
``qualification`` (a statutory qualification criterion); the criterion and the reason
themselves are committed (``c_reason``)."""
DEFAULT_PROXY_RELATIONSHIPS: Final = (
    "spouse",
    "parent",
    "child",
    "sibling",
    "grandparent",
    "grandchild",
)


class RevoteRule(enum.StrEnum):
    """Who wins a re-vote among the persons tied at a round's cut-off (``RuleSet.revote_rule``)."""

    MOST_VOTES = "most_votes"
    """The most votes win a re-vote after a tie (docs/election.md), with no share threshold (the
    tied already met their round's threshold); a tie again means another re-vote."""
    SOURCE_THRESHOLD = "source_threshold"
    """The re-vote applies the threshold of the round whose tie it resolves: more than
    ``majority`` of the ballots cast after a first, re-run or re-vote round, at least
    ``supplementary_min`` after a supplementary round (另行选举)."""


REVOTE_RULES: Final = tuple(r.value for r in RevoteRule)
DEFAULT_REVOTE_RULE: Final = RevoteRule.MOST_VOTES.value


class PublicProfile(enum.StrEnum):
    """What the public log shows of a voter (``RuleSet.public_profile``)."""

    FULL = "full"
    """``voter.registered`` v1: birth date, stable household id, basis details in the clear;
    every eligibility rule is checked by the public audit (every log written before profiles
    existed)."""
    MINIMAL = "minimal"
    """``voter.registered`` v2: no birth date, per-field salted commitments (``c_birth``,
    ``c_basis``), a per-election household tag, a per-election dedup key; the public audit
    says which rules it cannot check (the voter's age, the non-local basis evidence)."""


PUBLIC_PROFILES: Final = tuple(p.value for p in PublicProfile)
DEFAULT_PUBLIC_PROFILE: Final = PublicProfile.MINIMAL.value
"""The profile of a new :class:`RuleSet` (``RuleSet().public_profile``)."""
BODY_DEFAULT_PUBLIC_PROFILE: Final = PublicProfile.FULL.value
"""The profile of a rules body without a ``public_profile`` field: every log written before
profiles existed is ``full``, so the body omits ``full`` and always writes ``minimal``. This
encoding is independent of :data:`DEFAULT_PUBLIC_PROFILE`, so changing the default for new
elections leaves every old log's rules bytes and hash unchanged."""

_INT_FIELDS: Final = (
    "min_age",
    "roll_days_before",
    "objection_days",
    "objection_decision_days",
    "committee_min",
    "committee_max",
    "candidates_days_before",
    "min_candidate_excess",
    "proxy_cap",
    "min_observers",
    "household_ballots",
    "group_leader_seats",
    "group_rep_seats",
    "non_local_min_years",
    "tz_offset_minutes",
    "min_count_batch",
    "time_tolerance_seconds",
)
_TUPLE_FIELDS: Final = ("eligible_bases", "removal_reasons", "proxy_relationships")
_SHARE_FIELDS: Final = ("majority", "supplementary_min", "turnout_min")


def _nonneg_int(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise UsageError(f"RuleSet.{attribute.name} must be an int >= 0, got {value!r}")


def _str_tuple(value: object) -> tuple[str, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise UsageError(f"expected a sequence of str, got {type(value).__name__}")
    for item in value:
        if not isinstance(item, str) or not item:
            raise UsageError(f"expected non-empty str items, got {item!r}")
    return tuple(value)


def _excess_pairs(value: object) -> tuple[tuple[str, int], ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Mapping | list | tuple):
        raise UsageError("post_candidate_excess must map post ids to ints")
    items: Iterable[Any] = value.items() if isinstance(value, Mapping) else value
    try:
        pairs = sorted((k, v) for k, v in items)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"post_candidate_excess must map post ids to ints: {exc}") from None
    for k, v in pairs:
        if (
            not isinstance(k, str)
            or not k
            or not isinstance(v, int)
            or isinstance(v, bool)
            or v < 0
        ):
            raise UsageError(f"post_candidate_excess: {k!r} -> {v!r} is not post id -> int >= 0")
    if len({k for k, _ in pairs}) != len(pairs):
        raise UsageError("post_candidate_excess names a post twice")
    return tuple(pairs)


def _revote_rule(_inst: object, _attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or value not in REVOTE_RULES:
        raise UsageError(f"RuleSet.revote_rule must be one of {REVOTE_RULES}, got {value!r}")


def _public_profile(_inst: object, _attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or value not in PUBLIC_PROFILES:
        raise UsageError(f"RuleSet.public_profile must be one of {PUBLIC_PROFILES}, got {value!r}")


_OPTIONAL_CHOICES: Final = (
    ("revote_rule", REVOTE_RULES, DEFAULT_REVOTE_RULE),
    ("public_profile", PUBLIC_PROFILES, BODY_DEFAULT_PUBLIC_PROFILE),
)
"""The RuleSet fields recorded only when they differ from their body default: (name, values,
the value a body without the field means). The body default is fixed by the format, not by
the field's default in :class:`RuleSet` (``public_profile``: absent means ``full``, although
new rule sets default to ``minimal``)."""
_OPTIONAL_LISTS: Final = (
    ("removal_codes", DEFAULT_REMOVAL_CODES),
    ("vetting_codes", DEFAULT_VETTING_CODES),
)
"""The code lists of the ``minimal`` profile, recorded (as arrays) only when they differ from
their default, so rule bodies written before they existed keep their bytes and hash."""


def _optional_choice(value: object, choices: tuple[str, ...], default: str, where: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise EntryError(f"{where} must be one of {list(choices)}")
    if value == default:
        raise EntryError(
            f"{where} {value!r} is the default of a body (what a body without the field "
            "means) and is written by omission"
        )
    return value


def _optional_list(value: object, default: tuple[str, ...], where: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(x, str) and x for x in value):
        raise EntryError(f"{where} must be an array of non-empty strings")
    if tuple(value) == default:
        raise EntryError(f"{where} is the default and is written by omission")
    return tuple(value)


def _fraction_text(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def _parse_fraction(value: object, where: str) -> Fraction:
    if not isinstance(value, str) or value.count("/") != 1:
        raise EntryError(f"{where} must be a 'num/den' string, got {value!r}")
    num, den = value.split("/")
    if not (num.isdigit() and den.isdigit() and num.isascii() and den.isascii()):
        raise EntryError(f"{where} must be a 'num/den' string of decimal digits, got {value!r}")
    try:
        numerator, denominator = int(num), int(den)
    except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
        raise EntryError(f"{where} has too many digits") from None
    if denominator == 0:
        raise EntryError(f"{where} has a zero denominator")
    frac = Fraction(numerator, denominator)
    if _fraction_text(frac) != value:
        raise EntryError(f"{where} must be in lowest terms ({_fraction_text(frac)}), got {value!r}")
    return frac


_EPOCH: Final = _dt.datetime(1970, 1, 1)


@attrs.frozen(kw_only=True)
class RuleSet:
    """Every parameter of the admission rules and the tally (defaults: docs/election.md,
    "RuleSet parameters").

    Days are calendar days of the election's local time zone (``tz_offset_minutes`` east of UTC,
    default UTC+8): a statement's claimed time is converted to a local date, and a deadline
    "≥ N days before election day" holds when ``election_day - local_date >= N``.
    """

    min_age: int = attrs.field(default=18, validator=_nonneg_int)
    """A voter is at least this old on election day."""
    roll_days_before: int = attrs.field(default=20, validator=_nonneg_int)
    """The voter roll is first published at least this many days before election day."""
    objection_days: int = attrs.field(default=5, validator=_nonneg_int)
    """Objections to the roll are filed within this many days of its first publication."""
    objection_decision_days: int = attrs.field(default=3, validator=_nonneg_int)
    """Each objection is decided within this many days of its filing."""
    committee_min: int = attrs.field(default=7, validator=_nonneg_int)
    """Smallest election committee (checked when the roll is published)."""
    committee_max: int = attrs.field(default=9, validator=_nonneg_int)
    """Largest election committee (checked at every appointment)."""
    nominator_limit: int | None = attrs.field(default=None)
    """A nominator names at most this many candidates per post; ``None``: the post's seats."""
    candidates_days_before: int = attrs.field(default=5, validator=_nonneg_int)
    """The candidate list is published at least this many days before election day."""
    min_candidate_excess: int = attrs.field(default=1, validator=_nonneg_int)
    """差额: every post lists at least ``seats + min_candidate_excess`` candidates."""
    post_candidate_excess: tuple[tuple[str, int], ...] = attrs.field(
        default=(), converter=_excess_pairs
    )
    """Per-post overrides of ``min_candidate_excess`` (post id -> excess), e.g.
    ``{"member": 2}``; recorded as a map."""
    proxy_cap: int = attrs.field(default=3, validator=_nonneg_int)
    """A proxy holds at most this many principals."""
    proxy_relationships: tuple[str, ...] = attrs.field(
        default=DEFAULT_PROXY_RELATIONSHIPS, converter=_str_tuple
    )
    """Close relatives who may hold a proxy."""
    min_observers: int = attrs.field(default=3, validator=_nonneg_int)
    """Observers named when a polling unit is opened and when a box is opened."""
    household_ballots: int = attrs.field(default=1, validator=_nonneg_int)
    """Household ballots per household in a group election (and ballots per household in
    ``household_rep`` communities)."""
    group_leader_seats: int = attrs.field(default=1, validator=_nonneg_int)
    """Seats of post ``group_leader`` in a resident group election."""
    group_rep_seats: int = attrs.field(default=2, validator=_nonneg_int)
    """Seats of post ``group_rep`` (resident representatives) in a group election."""
    eligible_bases: tuple[str, ...] = attrs.field(default=ELIGIBILITY_BASES, converter=_str_tuple)
    """Eligibility bases accepted for registration (a subset of :class:`EligibilityBasis`)."""
    non_local_min_years: int = attrs.field(default=1, validator=_nonneg_int)
    """Years of residence a ``non_local_approved`` voter needs."""
    removal_reasons: tuple[str, ...] = attrs.field(
        default=DEFAULT_REMOVAL_REASONS, converter=_str_tuple
    )
    """Reasons a voter may be removed from the roll (``voter.removed`` v1, ``full`` profile)."""
    removal_codes: tuple[str, ...] = attrs.field(
        default=DEFAULT_REMOVAL_CODES, converter=_str_tuple
    )
    """Removal codes of ``voter.removed`` v2 (``minimal`` profile); ``objection_upheld`` is the
    code that cites an upheld objection. Recorded only when not the default."""
    vetting_codes: tuple[str, ...] = attrs.field(
        default=DEFAULT_VETTING_CODES, converter=_str_tuple
    )
    """Public criteria codes of ``vetting.decided`` v2 (``minimal`` profile). Recorded only
    when not the default."""
    tally: TallyRules = attrs.field(factory=TallyRules)
    """Tally parameters (majority, supplementary minimum, turnout minimum, combined ballot)."""
    tz_offset_minutes: int = attrs.field(default=480)
    """Offset of the election's local time from UTC in minutes (UTC+8 = 480)."""
    min_count_batch: int = attrs.field(default=10, validator=_nonneg_int)
    """A box is opened for counting only if at least this many ballots were issued into its
    counting batch (its own unit and the units of boxes merged into it, ``box.merged``)."""
    time_tolerance_seconds: int = attrs.field(default=900, validator=_nonneg_int)
    """How far a statement's claimed time may lie outside the witness cosignature times around
    its entry (the auditor's time binding, ``time.inconsistent``)."""
    revote_rule: str = attrs.field(default=DEFAULT_REVOTE_RULE, validator=_revote_rule)
    """Who wins a re-vote among the tied (:class:`RevoteRule`): ``"most_votes"`` (the
    default) or ``"source_threshold"``. Recorded in the body only when it is not the default,
    so rule bodies written before this field existed keep their bytes and their hash."""
    public_profile: str = attrs.field(default=DEFAULT_PUBLIC_PROFILE, validator=_public_profile)
    """What the public log shows of a voter (:class:`PublicProfile`): ``"minimal"`` (the
    default for new elections) or ``"full"`` (the profile of every log written before the
    field existed, and kept by choice). The body records ``"minimal"`` and omits ``"full"``
    (:data:`BODY_DEFAULT_PUBLIC_PROFILE`), so a ``full`` rule set's body and hash are those
    of a log written before profiles existed."""

    def __attrs_post_init__(self) -> None:
        if self.nominator_limit is not None:
            _nonneg_int(self, attrs.fields(RuleSet).nominator_limit, self.nominator_limit)
        tz = self.tz_offset_minutes
        if not isinstance(tz, int) or isinstance(tz, bool) or not -1440 < tz < 1440:
            raise UsageError(
                f"RuleSet.tz_offset_minutes must be an int in (-1440, 1440), got {tz!r}"
            )
        if not isinstance(self.tally, TallyRules):
            raise UsageError("RuleSet.tally must be a TallyRules")
        if self.committee_min > self.committee_max:
            raise UsageError("RuleSet.committee_min exceeds committee_max")
        unknown = set(self.eligible_bases) - set(ELIGIBILITY_BASES)
        if unknown:
            raise UsageError(f"RuleSet.eligible_bases has unknown bases {sorted(unknown)}")

    # ------------------------------------------------------------------ local time

    @property
    def timezone(self) -> _dt.timezone:
        """The election's local time zone (UTC + ``tz_offset_minutes``)."""
        return _dt.timezone(_dt.timedelta(minutes=self.tz_offset_minutes))

    def timestamp(self, when: _dt.datetime | _dt.date) -> int:
        """The claimed time (integer µs since 1970-01-01T00:00:00Z) that events take, of a local
        date and time: a naive ``datetime`` is a wall-clock time in the election's time zone, an
        aware one is converted, a ``date`` means local midnight. Exact to the microsecond.

        ``RuleSet().timestamp(datetime(2026, 5, 17, 8, 30))`` is 2026-05-17 00:30 UTC (UTC+8).
        """
        if isinstance(when, _dt.datetime):
            moment = when if when.tzinfo is not None else when.replace(tzinfo=self.timezone)
        elif isinstance(when, _dt.date):
            moment = _dt.datetime(when.year, when.month, when.day, tzinfo=self.timezone)
        else:
            raise UsageError(f"timestamp() takes a datetime or a date, not {type(when).__name__}")
        offset = moment.utcoffset()
        if offset is None:
            raise UsageError(f"the time zone of {when!r} gives no UTC offset")
        delta = moment.replace(tzinfo=None) - offset - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds

    def local_datetime(self, time_us: int) -> _dt.datetime:
        """The naive local date and time (election time zone) of a claimed time in µs UTC; the
        inverse of :meth:`timestamp`."""
        if isinstance(time_us, bool) or not isinstance(time_us, int):
            raise UsageError(f"local_datetime() takes µs as an int, not {time_us!r}")
        try:
            return _EPOCH + _dt.timedelta(minutes=self.tz_offset_minutes, microseconds=time_us)
        except OverflowError:
            raise UsageError(f"{time_us} µs is outside the dates Python represents") from None

    # ------------------------------------------------------------------ encoding

    def to_body(self) -> dict[str, Any]:
        """The canonical-encodable form recorded in ``election.defined`` (shares as
        ``"num/den"`` strings in lowest terms)."""
        body: dict[str, Any] = {name: getattr(self, name) for name in _INT_FIELDS}
        body["nominator_limit"] = self.nominator_limit
        body["post_candidate_excess"] = dict(self.post_candidate_excess)
        for name in _TUPLE_FIELDS:
            body[name] = list(getattr(self, name))
        for name in _SHARE_FIELDS:
            body[name] = _fraction_text(getattr(self.tally, name))
        body["combined_ballot"] = self.tally.combined_ballot
        for name, _, body_default in _OPTIONAL_CHOICES:
            if getattr(self, name) != body_default:
                body[name] = getattr(self, name)
        for name, default in _OPTIONAL_LISTS:
            if getattr(self, name) != default:
                body[name] = list(getattr(self, name))
        return body

    @classmethod
    def from_body(cls, body: Mapping[str, Any], *, where: str = "rules") -> Self:
        """Strictly parse :meth:`to_body` output; raises :class:`EntryError` naming the field."""
        if not isinstance(body, Mapping):
            raise EntryError(f"{where} must be a map")
        expected = {
            *_INT_FIELDS,
            *_TUPLE_FIELDS,
            *_SHARE_FIELDS,
            "nominator_limit",
            "post_candidate_excess",
            "combined_ballot",
        }
        keys = set(body) - {name for name, _, _ in _OPTIONAL_CHOICES}
        keys -= {name for name, _ in _OPTIONAL_LISTS}
        if keys != expected:
            missing = sorted(expected - keys)
            extra = sorted(str(k) for k in keys - expected)
            raise EntryError(f"{where}: fields wrong: missing {missing}, unexpected {extra}")
        kw: dict[str, Any] = {}
        for name in _INT_FIELDS:
            v = body[name]
            if not isinstance(v, int) or isinstance(v, bool):
                raise EntryError(f"{where}.{name} must be an integer")
            kw[name] = v
        nl = body["nominator_limit"]
        if nl is not None and (not isinstance(nl, int) or isinstance(nl, bool)):
            raise EntryError(f"{where}.nominator_limit must be an integer or nil")
        kw["nominator_limit"] = nl
        pe = body["post_candidate_excess"]
        if not isinstance(pe, Mapping) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
            for k, v in pe.items()
        ):
            raise EntryError(f"{where}.post_candidate_excess must be a map of post id to integer")
        kw["post_candidate_excess"] = pe
        for name in _TUPLE_FIELDS:
            v = body[name]
            if not isinstance(v, list | tuple) or not all(isinstance(x, str) and x for x in v):
                raise EntryError(f"{where}.{name} must be an array of non-empty strings")
            kw[name] = tuple(v)
        for name, choices, default in _OPTIONAL_CHOICES:
            kw[name] = (
                _optional_choice(body[name], choices, default, f"{where}.{name}")
                if name in body
                else default
            )
        for name, list_default in _OPTIONAL_LISTS:
            if name in body:
                kw[name] = _optional_list(body[name], list_default, f"{where}.{name}")
        cb = body["combined_ballot"]
        if not isinstance(cb, bool):
            raise EntryError(f"{where}.combined_ballot must be a boolean")
        try:
            kw["tally"] = TallyRules(
                majority=_parse_fraction(body["majority"], f"{where}.majority"),
                supplementary_min=_parse_fraction(
                    body["supplementary_min"], f"{where}.supplementary_min"
                ),
                turnout_min=_parse_fraction(body["turnout_min"], f"{where}.turnout_min"),
                combined_ballot=cb,
            )
            return cls(**kw)
        except UsageError as exc:
            raise EntryError(f"{where}: {exc}") from exc

    def canonical_bytes(self) -> bytes:
        """The canonical encoding of :meth:`to_body`."""
        try:
            return encode(self.to_body())
        except EncodeError as exc:  # pragma: no cover - validated fields always encode
            raise UsageError(f"RuleSet does not encode: {exc}") from exc

    def hash(self) -> bytes:
        """SHA-256 of :meth:`canonical_bytes` (recorded in the genesis event and checked)."""
        return hashlib.sha256(self.canonical_bytes()).digest()

    def candidate_excess_for(self, post: str) -> int:
        """差额 for ``post``: its override in ``post_candidate_excess`` or
        ``min_candidate_excess``."""
        for k, v in self.post_candidate_excess:
            if k == post:
                return v
        return self.min_candidate_excess

    def nominator_limit_for(self, seats: int) -> int:
        """How many candidates one nominator may name for a post with ``seats`` seats."""
        return seats if self.nominator_limit is None else self.nominator_limit
