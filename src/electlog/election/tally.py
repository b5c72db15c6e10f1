"""The election tally: classify ballots, count votes per post, decide winners, explain every seat.

One *round* is one ballot paper of one electorate (normally one community): every ballot of the
round carries marks for the round's posts (director, deputy directors, members). The tally is a
streaming fold: :class:`RoundTally` keeps one counter per candidate and per post, never the
ballots, so 100,000 ballots cost 100,000 cheap :meth:`RoundTally.add` calls and O(candidates)
memory. :meth:`RoundTally.result` turns the counters into a :class:`RoundResult` that carries
every count, every decision and the reason for every seat filled or not.

Rules (docs/election.md, "Tally"; every number is a :class:`TallyRules` parameter):

* A post is **void on a ballot** when ``len(in_favour) + len(write_ins) > seats`` (overvote), or
  when its marks are malformed: a "for"/"against" mark on someone not on that post's list, a
  candidate marked both "for" and "against", a write-in naming a listed candidate (a listed
  candidate is marked in the "for" column), a name repeated within one column, or marks for a post
  id that is not part of the round, or when the counting unit recorded it void with only a reason
  (``PostMarks.void``, e.g. a write-in naming no registered voter). None of these raises: the ballot
  is a physical fact, it is counted as cast, and only the affected post contributes nothing.
* A ballot is ``blank`` (no mark on any post), ``valid`` (at least one mark, no void post),
  ``void`` (marks, but every marked post void) or ``partly_valid`` (some post void, some valid).
* The round is **void** when more ballots were returned than issued, or when the ballots cast
  (returned, including blank and void ones) are not *strictly more* than ``turnout_min`` of the
  registered voters.
* A person is **elected** when their count is strictly more than ``majority`` of the ballots cast
  (not of valid votes), highest counts first, up to the seats. A group of equal counts that
  straddles the last seat is **tied**: none of them is elected, the seats they compete for stay
  open for a re-vote among them (never a silent pick).
* Seats left because too few persons passed the threshold are **unfilled** and call for a
  supplementary round (另行选举) whose candidates are the unelected of this round in vote order
  (:func:`supplementary_candidates`); there a person needs at least ``supplementary_min`` of the
  ballots cast, highest counts first, same tie rule.
* With ``combined_ballot`` (合并计票) a person's count for a post also includes the votes they got
  for every higher post of the round (lower ``rank`` number), so a director candidate who is not
  elected director can be elected deputy or member with the sum of their votes.
* One person holds one post: a person elected to a higher post of the round is not counted for
  the lower posts (``excluded``). A person *tied* for a higher post still competes for the lower
  ones (whether they win the re-vote is not known yet).

Every comparison is exact integer arithmetic on :class:`fractions.Fraction` parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Final

import attrs

from electlog.errors import UsageError

from ._declared import Discrepancy, compare_declared
from ._tally_types import (
    VOID_POST_REASONS,
    VOID_POST_WRITEIN_NOT_REGISTERED,
    VOID_RETURNED_EXCEEDS_ISSUED,
    VOID_TURNOUT,
    BallotClass,
    PostMarks,
    PostResult,
    PostSpec,
    RoundResult,
    TallyRules,
)

__all__ = [
    "VOID_POST_REASONS",
    "VOID_POST_WRITEIN_NOT_REGISTERED",
    "VOID_RETURNED_EXCEEDS_ISSUED",
    "VOID_TURNOUT",
    "BallotClass",
    "Discrepancy",
    "PostMarks",
    "PostResult",
    "PostSpec",
    "RoundResult",
    "RoundTally",
    "TallyRules",
    "compare_declared",
    "supplementary_candidates",
    "tally_round",
]


# --------------------------------------------------------------------------- counting


class _PostAcc:
    """Counters of one post (O(candidates) memory)."""

    __slots__ = (
        "against",
        "cands",
        "invalid",
        "overvote",
        "seats",
        "spec",
        "valid",
        "votes",
        "write_ins",
    )

    def __init__(self, spec: PostSpec) -> None:
        self.spec = spec
        self.seats = spec.seats
        self.cands = frozenset(spec.candidates)
        self.votes: dict[str, int] = dict.fromkeys(spec.candidates, 0)
        self.against: dict[str, int] = dict.fromkeys(spec.candidates, 0)
        self.write_ins: dict[str, int] = {}
        self.valid = 0
        self.overvote = 0
        self.invalid = 0


_VALID: Final = BallotClass.VALID
_PARTLY: Final = BallotClass.PARTLY_VALID
_VOID: Final = BallotClass.VOID
_BLANK: Final = BallotClass.BLANK
_ONLY_STR: Final = frozenset({str})


class RoundTally:
    """Streaming accumulator of one round: :meth:`add` each ballot, then :meth:`result`.

    Memory is O(candidates + distinct write-in persons), never O(ballots). :meth:`result` does
    not consume the accumulator: more ballots may be added and a new result taken.

    ``supplementary=True``: a supplementary round (另行选举), whose winners need at least
    ``supplementary_min`` of the ballots cast. ``revote=True``: a re-vote among the persons tied
    in an earlier round under the "most votes" rule (docs/election.md): no share threshold, the
    highest counts win (at least 1 vote), and equal counts across the last seat are a tie again.
    """

    __slots__ = (
        "_accs",
        "_blank",
        "_partly",
        "_posts",
        "_returned",
        "_revote",
        "_rules",
        "_supplementary",
        "_unknown",
        "_valid",
        "_void",
    )

    def __init__(
        self,
        posts: Sequence[PostSpec],
        rules: TallyRules,
        *,
        supplementary: bool = False,
        revote: bool = False,
    ) -> None:
        if not isinstance(rules, TallyRules):
            raise UsageError(f"rules must be a TallyRules, got {type(rules).__name__}")
        if not isinstance(supplementary, bool):
            raise UsageError("supplementary must be a bool")
        if not isinstance(revote, bool):
            raise UsageError("revote must be a bool")
        if supplementary and revote:
            raise UsageError("a round is tallied as supplementary or as a re-vote, not both")
        try:
            posts = tuple(posts)
        except TypeError as exc:
            raise UsageError(f"posts must be a sequence of PostSpec ({exc})") from exc
        accs: dict[str, _PostAcc] = {}
        for spec in posts:
            if not isinstance(spec, PostSpec):
                raise UsageError(f"posts must be PostSpec objects, got {type(spec).__name__}")
            if spec.post in accs:
                raise UsageError(f"post {spec.post} appears twice in the round")
            accs[spec.post] = _PostAcc(spec)
        self._posts = posts
        self._rules = rules
        self._supplementary = supplementary
        self._revote = revote
        self._accs = accs
        self._returned = 0
        self._valid = 0
        self._partly = 0
        self._void = 0
        self._blank = 0
        self._unknown = 0

    def add(self, marks: Mapping[str, PostMarks]) -> BallotClass:  # noqa: C901 (hot path)
        """Classify and count one ballot (post id -> marks); return its :class:`BallotClass`.

        The ballot is counted as cast whatever its content. A void post (overvote or malformed
        marks, see the module docstring) contributes nothing to that post. Raises
        :class:`~electlog.errors.UsageError` only when ``marks`` is not a mapping of post ids to
        :class:`PostMarks` (a programming error); the tally is then unchanged.
        """
        accs = self._accs
        good: list[tuple[_PostAcc, PostMarks]] = []
        bad: list[tuple[_PostAcc, bool]] = []  # (post, overvote?)
        unknown = False
        try:
            for pid, pm in marks.items():
                f = pm.in_favour
                a = pm.against
                w = pm.write_ins
                if pm.void is not None:  # recorded void with only a reason
                    acc = accs.get(pid)
                    if acc is None:
                        unknown = True
                    else:
                        bad.append((acc, False))
                    continue
                if not (f or a or w):
                    continue
                acc = accs.get(pid)
                if acc is None:
                    unknown = True
                    continue
                if len(f) + len(w) > acc.seats:
                    bad.append((acc, True))
                    continue
                fa = f + a if a else f
                cands = acc.cands
                if not cands.issuperset(fa) or (len(fa) > 1 and len(set(fa)) != len(fa)):
                    bad.append((acc, False))
                    continue
                if w and (
                    not cands.isdisjoint(w)
                    or (len(w) > 1 and len(set(w)) != len(w))
                    or not _ONLY_STR.issuperset(map(type, w))  # exactly str
                ):
                    bad.append((acc, False))
                    continue
                good.append((acc, pm))
        except (AttributeError, TypeError) as exc:
            raise UsageError(
                f"ballot {self._returned}: marks must map post ids to PostMarks ({exc})"
            ) from exc

        # Phase 2: nothing below can fail, so a ballot is counted completely or not at all.
        self._returned += 1
        if unknown:
            self._unknown += 1
        for acc, pm in good:
            acc.valid += 1
            votes = acc.votes
            for c in pm.in_favour:
                votes[c] += 1
            if pm.against:
                against = acc.against
                for c in pm.against:
                    against[c] += 1
            if pm.write_ins:
                wi = acc.write_ins
                for c in pm.write_ins:
                    wi[c] = wi.get(c, 0) + 1
        for acc, over in bad:
            if over:
                acc.overvote += 1
            else:
                acc.invalid += 1
        if good:
            if bad or unknown:
                self._partly += 1
                return _PARTLY
            self._valid += 1
            return _VALID
        if bad or unknown:
            self._void += 1
            return _VOID
        self._blank += 1
        return _BLANK

    def _threshold(self) -> tuple[Fraction, int]:
        """The share of ballots cast a winner needs, and the votes that makes."""
        cast = self._returned
        share = self._rules.supplementary_min if self._supplementary else self._rules.majority
        if self._revote:
            return share, 1  # the most votes win: the tied already met their round's threshold
        if self._supplementary:
            return share, max(1, -(-cast * share.numerator // share.denominator))
        return share, cast * share.numerator // share.denominator + 1

    def _round_void(self, *, registered: int, issued: int) -> tuple[str | None, str]:
        """Why the whole round is void (a ``VOID_*`` reason and its detail), or ``(None, "")``."""
        cast = self._returned
        turnout_min = self._rules.turnout_min
        if cast > issued:
            return VOID_RETURNED_EXCEEDS_ISSUED, f"{cast} ballots returned > {issued} issued"
        if cast * turnout_min.denominator <= registered * turnout_min.numerator:
            return VOID_TURNOUT, (
                f"{cast} ballots cast not > {turnout_min} of {registered} registered"
            )
        return None, ""

    def _higher_votes(self, rank: int, raw: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
        """On a combined ballot, each person's for-votes on the posts ranked above ``rank``."""
        higher: dict[str, int] = {}
        for other in self._posts:
            if other.rank < rank:
                for person, n in raw[other.post].items():
                    if n:
                        higher[person] = higher.get(person, 0) + n
        return higher

    def result(self, *, registered: int, issued: int) -> RoundResult:
        """Decide the round from the ballots added so far.

        ``registered``: voters on the roll of this round's electorate; ``issued``: ballots handed
        out. Raises :class:`~electlog.errors.UsageError` when either is not an int >= 0.
        """
        for name, value in (("registered", registered), ("issued", issued)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise UsageError(f"{name} must be an int >= 0, got {value!r}")
        rules = self._rules
        cast = self._returned
        share, min_votes = self._threshold()
        void_reason, void_detail = self._round_void(registered=registered, issued=issued)

        # raw for-votes per post (listed candidates first, in list order, then write-ins)
        raw: dict[str, dict[str, int]] = {}
        for pid, acc in self._accs.items():
            votes = dict(acc.votes)
            for person in sorted(acc.write_ins):
                votes[person] = acc.write_ins[person]
            raw[pid] = votes

        decide = _Decider(
            cast=cast,
            min_votes=min_votes,
            share=share,
            supplementary=self._supplementary,
            revote=self._revote,
            void_reason=void_reason,
            void_detail=void_detail,
        )
        results: dict[str, PostResult] = {}
        elected_above: dict[str, str] = {}  # person -> higher post they were elected to
        ranks = sorted({spec.rank for spec in self._posts})
        for rank in ranks:
            newly: dict[str, str] = {}
            for spec in self._posts:
                if spec.rank != rank:
                    continue
                acc = self._accs[spec.post]
                votes = raw[spec.post]
                higher = self._higher_votes(rank, raw) if rules.combined_ballot else {}
                counts = dict(votes)
                for person in sorted(higher):
                    counts[person] = counts.get(person, 0) + higher[person]
                pr = decide.post(
                    spec=spec,
                    acc=acc,
                    votes=votes,
                    counts=counts,
                    higher=higher,
                    elected_above=elected_above,
                )
                results[spec.post] = pr
                for person in pr.elected:
                    newly.setdefault(person, spec.post)
            for person, post in newly.items():
                elected_above.setdefault(person, post)

        return RoundResult(
            registered=registered,
            issued=issued,
            returned=cast,
            valid=self._valid,
            partly_valid=self._partly,
            void=self._void,
            blank=self._blank,
            unknown_post_ballots=self._unknown,
            round_void=void_reason is not None,
            void_reason=void_reason,
            supplementary=self._supplementary,
            revote=self._revote,
            rules=rules,
            min_votes=min_votes,
            posts={spec.post: results[spec.post] for spec in self._posts},
        )


def _votes_text(
    person: str, *, votes: Mapping[str, int], counts: Mapping[str, int], higher: Mapping[str, int]
) -> str:
    """A person's count in a reason: with its parts when higher posts' votes were added."""
    n = counts[person]
    extra = higher.get(person, 0)
    if extra:
        return f"{n} votes ({votes.get(person, 0)} for this post + {extra} for higher posts)"
    return f"{n} votes"


@attrs.frozen(kw_only=True)
class _Decider:
    """Winner determination and reason wording for one round."""

    cast: int
    min_votes: int
    share: Fraction
    supplementary: bool
    revote: bool
    void_reason: str | None
    void_detail: str

    def _threshold_text(self) -> str:
        if self.revote:
            return "(re-vote among the tied: the most votes win)"
        op = ">=" if self.supplementary else ">"
        return f"{op} {self.share} of {self.cast} ballots cast"

    def _below_text(self) -> str:
        if self.revote:
            return "(re-vote among the tied: a winner needs at least 1 vote)"
        op = "<" if self.supplementary else "not >"
        return f"{op} {self.share} of {self.cast} ballots cast ({self.min_votes} needed)"

    def _seat_lines(
        self, seats: int, elected: list[str], tied: list[str], counts: Mapping[str, int]
    ) -> list[str]:
        """One line per seat of a post decided in a valid round: who holds it, or why not."""
        lines = [f"seat {k}: {p} ({counts[p]} votes)" for k, p in enumerate(elected, start=1)]
        if tied:
            lines.extend(
                f"seat {k}: open, tie at cut-off among {', '.join(tied)} "
                f"({counts[tied[0]]} votes): re-vote"
                for k in range(len(elected) + 1, seats + 1)
            )
        else:
            what = "supplementary round (另行选举)" if not self.supplementary else "not filled"
            lines.extend(
                f"seat {k}: unfilled, only {len(elected)} person(s) reached "
                f"{self.min_votes} votes: {what}"
                for k in range(len(elected) + 1, seats + 1)
            )
        return lines

    def post(
        self,
        *,
        spec: PostSpec,
        acc: _PostAcc,
        votes: dict[str, int],
        counts: dict[str, int],
        higher: dict[str, int],
        elected_above: Mapping[str, str],
    ) -> PostResult:
        seats = spec.seats
        valid = acc.valid
        void = acc.overvote + acc.invalid
        excluded = tuple(sorted(p for p in counts if p in elected_above))
        reasons: dict[str, str] = {}

        def votes_text(person: str) -> str:
            return _votes_text(person, votes=votes, counts=counts, higher=higher)

        elected: list[str] = []
        tied: list[str] = []
        unfilled = 0
        revote = 0
        seat_reasons: list[str] = []
        if self.void_reason is not None:
            for person in counts:
                reasons[person] = (
                    f"not elected: {votes_text(person)}; round void ({self.void_detail})"
                )
            unfilled = seats
            seat_reasons = [
                f"seat {i}: unfilled, round void ({self.void_detail}): the round must be held again"
                for i in range(1, seats + 1)
            ]
        else:
            for person in excluded:
                reasons[person] = (
                    f"not counted: {votes_text(person)}; elected to higher post "
                    f"{elected_above[person]} (one person, one post)"
                )
            qualified = sorted(
                (
                    (n, person)
                    for person, n in counts.items()
                    if n >= self.min_votes and person not in elected_above
                ),
                key=lambda item: (-item[0], item[1]),
            )
            # A person with count c is elected iff at most `seats` qualified persons have a count
            # >= c; the equal-count group that straddles the last seat is tied.
            i = 0
            while i < len(qualified):
                n = qualified[i][0]
                j = i
                while j < len(qualified) and qualified[j][0] == n:
                    j += 1
                group = [person for _, person in qualified[i:j]]
                if j <= seats:
                    for person in group:
                        elected.append(person)
                        reasons[person] = f"elected: {votes_text(person)} {self._threshold_text()}"
                elif i < seats:
                    tied.extend(group)
                    revote = seats - i
                    for person in group:
                        others = ", ".join(p for p in group if p != person)
                        reasons[person] = (
                            f"tied at cut-off: {votes_text(person)}, equal with {others} for "
                            f"the last {revote} seat(s): re-vote among the tied"
                        )
                else:
                    for person in group:
                        reasons[person] = (
                            f"not elected: {votes_text(person)} {self._threshold_text()} but "
                            f"{i} person(s) have more votes for {seats} seat(s)"
                        )
                i = j
            for person in counts:
                if person not in reasons:
                    reasons[person] = f"not elected: {votes_text(person)} {self._below_text()}"
            if not tied:
                unfilled = seats - len(elected)
            seat_reasons = self._seat_lines(seats, elected, tied, counts)
        return PostResult(
            post=spec.post,
            seats=seats,
            rank=spec.rank,
            votes=votes,
            against=dict(acc.against),
            counts=counts,
            valid_ballots=valid,
            void_ballots=void,
            overvote_ballots=acc.overvote,
            invalid_ballots=acc.invalid,
            blank_ballots=self.cast - valid - void,
            elected=tuple(elected),
            tied=tuple(tied),
            excluded=excluded,
            unfilled=unfilled,
            revote_seats=revote,
            reasons=reasons,
            seat_reasons=tuple(seat_reasons),
        )


def tally_round(
    posts: Sequence[PostSpec],
    ballots: Iterable[Mapping[str, PostMarks]],
    *,
    registered: int,
    issued: int,
    rules: TallyRules = TallyRules(),
    supplementary: bool = False,
    revote: bool = False,
) -> RoundResult:
    """Tally a whole round in one call: a :class:`RoundTally` fed with every ballot."""
    tally = RoundTally(posts, rules, supplementary=supplementary, revote=revote)
    add = tally.add
    try:
        iterator = iter(ballots)
    except TypeError as exc:
        raise UsageError(f"ballots must be an iterable of mappings ({exc})") from exc
    for ballot in iterator:
        add(ballot)
    return tally.result(registered=registered, issued=issued)


def supplementary_candidates(first: PostResult, count: int) -> tuple[str, ...]:
    """Candidates of a supplementary round (另行选举) for a post of a finished first round.

    The persons of ``first`` who were neither elected, tied, nor elected to a higher post, in
    order of their count (highest first, equal counts by id), ``count`` of them; persons whose
    count equals that of the last one taken are included too, so the list may be longer than
    ``count`` rather than silently dropping one of equal standing.
    """
    if not isinstance(first, PostResult):
        raise UsageError(f"first must be a PostResult, got {type(first).__name__}")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise UsageError(f"count must be an int >= 0, got {count!r}")
    if count == 0:
        return ()
    skip = set(first.elected) | set(first.tied) | set(first.excluded)
    ranked = sorted(
        ((n, person) for person, n in first.counts.items() if person not in skip),
        key=lambda item: (-item[0], item[1]),
    )
    if len(ranked) <= count:
        return tuple(person for _, person in ranked)
    last = ranked[count - 1][0]
    return tuple(person for n, person in ranked if n >= last)
