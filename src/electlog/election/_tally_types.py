"""The tally's parameters and results: :class:`TallyRules`, :class:`PostSpec`,
:class:`PostMarks`, :class:`BallotClass`, :class:`PostResult`, :class:`RoundResult` and the
void reasons. Every name here is offered by :mod:`electlog.election.tally` (and the election's
own names by :mod:`electlog.election`); the counting itself is there."""

from __future__ import annotations

import enum
import warnings
from collections.abc import Iterable
from fractions import Fraction
from typing import Any, Final

import attrs

from electlog.errors import UsageError

VOID_RETURNED_EXCEEDS_ISSUED: Final = "returned_exceeds_issued"
"""``RoundResult.void_reason`` when more ballots were returned than issued."""

VOID_POST_WRITEIN_NOT_REGISTERED: Final = "writein_not_registered"
"""``PostMarks.void`` reason: a write-in named no registered voter (the post is void on that
ballot and only this reason is recorded)."""

VOID_POST_REASONS: Final = (VOID_POST_WRITEIN_NOT_REGISTERED,)
"""Every reason a counting unit may record for a post void on a ballot (``PostMarks.void``)."""

VOID_TURNOUT: Final = "turnout_not_above_half"
"""``RoundResult.void_reason`` when ballots cast are not more than ``turnout_min`` of registered
(the name keeps the default ½ for stability; the share used is ``rules.turnout_min``)."""


# --------------------------------------------------------------------------- parameters


def _to_fraction(value: object) -> Fraction:
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Fraction(value)
    raise UsageError(f"tally rule share must be a fractions.Fraction, got {type(value).__name__}")


def _share_in_unit_interval(
    _inst: object, attribute: attrs.Attribute[Any], value: Fraction
) -> None:
    if not 0 <= value <= 1:
        raise UsageError(f"TallyRules.{attribute.name} must be between 0 and 1, got {value}")


def _check_bool(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, bool):
        raise UsageError(f"{attribute.name} must be a bool, got {type(value).__name__}")


@attrs.frozen(kw_only=True)
class TallyRules:
    """The tally parameters of a RuleSet.

    ``majority``: a winner needs strictly more than this share of the ballots cast (returned),
    not of the valid votes. ``supplementary_min``: a supplementary-round (另行选举) winner needs
    at least this share of the ballots cast. ``turnout_min``: the round is void unless the
    ballots cast are strictly more than this share of the registered voters.
    ``combined_ballot``: 合并计票, a person's count for a post includes their votes for every
    higher post of the round.
    """

    majority: Fraction = attrs.field(
        default=Fraction(1, 2), converter=_to_fraction, validator=_share_in_unit_interval
    )
    supplementary_min: Fraction = attrs.field(
        default=Fraction(1, 3), converter=_to_fraction, validator=_share_in_unit_interval
    )
    turnout_min: Fraction = attrs.field(
        default=Fraction(1, 2), converter=_to_fraction, validator=_share_in_unit_interval
    )
    combined_ballot: bool = attrs.field(default=False, validator=_check_bool)

    def to_dict(self) -> dict[str, object]:
        """Plain canonical-encodable form: shares as ``"num/den"`` strings."""
        return {
            "majority": str(self.majority),
            "supplementary_min": str(self.supplementary_min),
            "turnout_min": str(self.turnout_min),
            "combined_ballot": self.combined_ballot,
        }


def _str_tuple(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise UsageError("expected a sequence of ids, got a single str")
    try:
        items = tuple(value)
    except TypeError as exc:
        raise UsageError(f"expected a sequence of ids, got {type(value).__name__}") from exc
    for item in items:
        if not isinstance(item, str):
            raise UsageError(f"ids must be str, got {type(item).__name__}")
    return items


@attrs.frozen(kw_only=True)
class PostSpec:
    """One post of a round: its id, seats, candidate list (list order) and rank.

    ``rank`` orders posts for the one-person-one-post rule and for combined counting: higher
    posts have lower rank numbers (director 0, deputy 1, member 2).
    """

    post: str
    seats: int
    candidates: tuple[str, ...] = attrs.field(converter=_str_tuple)
    rank: int = 0

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.post, str) or not self.post:
            raise UsageError(f"PostSpec.post must be a non-empty str, got {self.post!r}")
        if not isinstance(self.seats, int) or isinstance(self.seats, bool) or self.seats < 0:
            raise UsageError(f"PostSpec {self.post}: seats must be an int >= 0, got {self.seats!r}")
        if not isinstance(self.rank, int) or isinstance(self.rank, bool):
            raise UsageError(f"PostSpec {self.post}: rank must be an int, got {self.rank!r}")
        if len(set(self.candidates)) != len(self.candidates):
            raise UsageError(f"PostSpec {self.post}: a candidate is listed twice")


def _marks_tuple(value: Iterable[str]) -> tuple[str, ...]:
    # no validation: malformed marks void the post at tally time instead of raising here
    return value if type(value) is tuple else tuple(value)


_NOT_GIVEN: Any = object()


@attrs.frozen(kw_only=True, init=False)
class PostMarks:
    """The marks of one ballot for one post.

    ``in_favour``: listed candidates marked "for" (the body's ``for`` column); ``against``:
    listed candidates marked "against"; ``write_ins``: persons (voter ids) written in. Each is
    sorted and unique by contract. A listed candidate with no mark abstains; a post absent from a
    ballot (or with no mark at all) is blank for that post. Malformed marks are not rejected
    here: the tally voids that post.

    ``void``: the counting unit recorded this post void with only a reason (one of
    :data:`VOID_POST_REASONS`, e.g. ``"writein_not_registered"``: a write-in naming no registered
    voter, whose text is never published); ``in_favour``, ``against`` and ``write_ins`` are then
    empty, and the tally counts the post as void on this ballot.

    ``for_`` (keyword and attribute) is the former name of ``in_favour``; it still works and
    emits a :class:`DeprecationWarning`.
    """

    in_favour: tuple[str, ...] = attrs.field(default=(), converter=_marks_tuple)
    against: tuple[str, ...] = attrs.field(default=(), converter=_marks_tuple)
    write_ins: tuple[str, ...] = attrs.field(default=(), converter=_marks_tuple)
    void: str | None = None

    def __init__(
        self,
        *,
        in_favour: Iterable[str] = (),
        against: Iterable[str] = (),
        write_ins: Iterable[str] = (),
        void: str | None = None,
        for_: Iterable[str] = _NOT_GIVEN,
    ) -> None:
        if for_ is not _NOT_GIVEN:
            warnings.warn(
                "PostMarks(for_=...) is deprecated: use PostMarks(in_favour=...)",
                DeprecationWarning,
                stacklevel=2,
            )
            if in_favour:
                raise UsageError("PostMarks takes in_favour or its old name for_, not both")
            in_favour = for_
        self.__attrs_init__(in_favour=in_favour, against=against, write_ins=write_ins, void=void)

    @property
    def for_(self) -> tuple[str, ...]:
        """Deprecated name of :attr:`in_favour`."""
        warnings.warn(
            "PostMarks.for_ is deprecated: use PostMarks.in_favour",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.in_favour


class BallotClass(enum.StrEnum):
    """How one ballot was classified (the value is the stable string)."""

    VALID = "valid"
    """At least one mark, and every marked post valid."""
    PARTLY_VALID = "partly_valid"
    """At least one post void (overvote or malformed marks) and at least one post valid."""
    VOID = "void"
    """Marks, but every marked post void."""
    BLANK = "blank"
    """No mark on any post."""


# --------------------------------------------------------------------------- results


@attrs.frozen(kw_only=True, eq=True)
class PostResult:
    """The counts and decision of one post in one round.

    ``votes``: for-votes on this post per person (every listed candidate, zero included, then
    write-in persons). ``against``: against-marks per listed candidate. ``counts``: the count the
    decision used (equal to ``votes`` unless ``combined_ballot`` adds the votes for higher posts).
    ``valid_ballots`` / ``void_ballots`` (= ``overvote_ballots`` + ``invalid_ballots``) /
    ``blank_ballots``: how the ballots cast treated this post. ``elected``: winners, highest count
    first (equal counts by id). ``tied``: persons tied across the last open seat(s), who need a
    re-vote for ``revote_seats`` seats. ``unfilled``: seats not filled because too few persons
    reached the threshold (a supplementary round). ``excluded``: persons with a count here who
    were elected to a higher post of the round. ``reasons``: for every person in ``counts``, why
    they were or were not elected. ``seat_reasons``: one line per seat.
    """

    post: str
    seats: int
    rank: int
    votes: dict[str, int]
    against: dict[str, int]
    counts: dict[str, int]
    valid_ballots: int
    void_ballots: int
    overvote_ballots: int
    invalid_ballots: int
    blank_ballots: int
    elected: tuple[str, ...]
    tied: tuple[str, ...]
    excluded: tuple[str, ...]
    unfilled: int
    revote_seats: int
    reasons: dict[str, str]
    seat_reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        """Plain canonical-encodable form (str keys; ints, strs, bools, lists, dicts)."""
        return {
            "post": self.post,
            "seats": self.seats,
            "rank": self.rank,
            "votes": dict(self.votes),
            "against": dict(self.against),
            "counts": dict(self.counts),
            "valid_ballots": self.valid_ballots,
            "void_ballots": self.void_ballots,
            "overvote_ballots": self.overvote_ballots,
            "invalid_ballots": self.invalid_ballots,
            "blank_ballots": self.blank_ballots,
            "elected": list(self.elected),
            "tied": list(self.tied),
            "excluded": list(self.excluded),
            "unfilled": self.unfilled,
            "revote_seats": self.revote_seats,
            "reasons": dict(self.reasons),
            "seat_reasons": list(self.seat_reasons),
        }


@attrs.frozen(kw_only=True, eq=True)
class RoundResult:
    """The result of one round: ballot counts, validity, and a :class:`PostResult` per post.

    ``returned`` is the number of ballots cast (every ballot given to :meth:`RoundTally.add`,
    blank and void ones included); ``valid + partly_valid + void + blank == returned``.
    ``unknown_post_ballots`` counts ballots with marks for a post id not in the round.
    ``min_votes`` is the smallest count that meets the threshold of this round (majority, or
    ``supplementary_min`` in a supplementary round; never below 1). ``round_void`` /
    ``void_reason`` (:data:`VOID_RETURNED_EXCEEDS_ISSUED` or :data:`VOID_TURNOUT`, checked in
    that order; ``None`` when valid): a void round elects nobody and leaves every seat unfilled.
    """

    registered: int
    issued: int
    returned: int
    valid: int
    partly_valid: int
    void: int
    blank: int
    unknown_post_ballots: int
    round_void: bool
    void_reason: str | None
    supplementary: bool
    rules: TallyRules
    min_votes: int
    posts: dict[str, PostResult]
    revote: bool = False
    """Tallied as a re-vote among the tied under the "most votes" rule (``min_votes`` is 1; not
    part of :meth:`to_dict`: ``min_votes`` carries the threshold a declaration is checked on)."""

    @property
    def elected(self) -> dict[str, tuple[str, ...]]:
        """Winners per post id."""
        return {post: pr.elected for post, pr in self.posts.items()}

    def to_dict(self) -> dict[str, object]:
        """Plain canonical-encodable form; ``void_reason`` is ``""`` for a valid round.

        This is the form a declared result takes in a signed event; :func:`compare_declared`
        compares such a dict with a recomputed result.
        """
        return {
            "registered": self.registered,
            "issued": self.issued,
            "returned": self.returned,
            "valid": self.valid,
            "partly_valid": self.partly_valid,
            "void": self.void,
            "blank": self.blank,
            "unknown_post_ballots": self.unknown_post_ballots,
            "round_void": self.round_void,
            "void_reason": self.void_reason or "",
            "supplementary": self.supplementary,
            "rules": self.rules.to_dict(),
            "min_votes": self.min_votes,
            "posts": {post: pr.to_dict() for post, pr in self.posts.items()},
        }

    def format_table(self) -> str:
        """A plain-text results table: the round's ballot counts, then one line per person."""
        lines = [
            f"registered {self.registered}  issued {self.issued}  returned {self.returned}  "
            f"valid {self.valid}  partly valid {self.partly_valid}  void {self.void}  "
            f"blank {self.blank}",
            f"round {'VOID: ' + (self.void_reason or '') if self.round_void else 'valid'}; "
            f"threshold {self.min_votes} votes",
        ]
        for pr in self.posts.values():
            lines.append(
                f"{pr.post} ({pr.seats} seat(s)): valid {pr.valid_ballots}  "
                f"void {pr.void_ballots}  blank {pr.blank_ballots}"
            )
            for person, count in pr.counts.items():
                against = pr.against.get(person)
                against_text = "-" if against is None else str(against)
                lines.append(
                    f"  {person:<12} {count:>8}  against {against_text:>6}  {pr.reasons[person]}"
                )
            lines.extend(f"  {line}" for line in pr.seat_reasons)
        return "\n".join(lines)
