"""Assertions and assorters (Stark 2020, SHANGRLA; Blom et al. 2021): what a risk-limiting audit
of a round has to confirm, as means of bounded per-ballot values.

A **linear assertion** says ``Σ_b g(b) > 0`` where a ballot's ``g(b) = constant + Σ_k a_k b_k``
is linear in the ballot's *contributions* ``b_k`` (for electlog: a person's count on a post from
that ballot, 0 or 1, up to K under 合并计票). With ``c = -min g`` (the smallest ``g`` any ballot
can have, from the contributions' bounds) the **assorter** ``A(b) = (g(b) + c) / (2c)`` lies in
``[0, u]``, ``u = (max g + c) / (2c)``, and the assertion holds exactly when the mean of ``A``
over the N ballots is more than 1/2. The assorter **margin** is ``v = 2 mean(A) - 1 = Σ g / (c N)``
(Blom, Budurushi, Rivest, Stark, Stuckey, Teague and Vukcevic 2021, "Assertion-based approaches
to auditing complex elections, with application to party-list proportional elections").

For a ballot-comparison audit, a sampled ballot's overstatement is ``ω = A(cvr) - A(mvr)`` and
its comparison assorter ``B = (1 - ω/u) / (2 - v/u)`` (:func:`overstatement_assorter`); the
Kaplan–Markov test of :mod:`electlog.rla.risk` takes ``x = ω/u`` and the diluted margin ``v/u``.

:func:`round_assertions` derives the electlog assertion set of a declared round
(:class:`~electlog.election.tally.RoundResult`) deterministically (docs/rla.md):

* every elected person: count > q·N (majority rounds; supplementary and re-vote rounds:
  count > min_votes - 1, i.e. ⌈N/3⌉ - 1 for a supplementary round);
* every unelected person: count < min_votes (*below the threshold*, mandatory when the post has
  unfilled seats) or beaten by every winner of the post (``winner - loser > 0``), whichever has the
  larger smallest diluted margin (the one that needs fewer ballots);
* the persons the declared result does not name: K times the ballots that give any of them a
  count on the post below the threshold (so each of them is below it);
* a single-seat post under a majority of at least ½ (not 合并计票, not a supplementary round or a
  re-vote) needs only its winner's assertion;
* a tie or a void round cannot be confirmed by sampling: :attr:`RoundAssertions.full_count`;
* with 合并计票 a ballot contributes up to K (the posts of that rank or higher) to a count.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Final

import attrs

from electlog.election.tally import PostMarks, PostResult, PostSpec, RoundResult, RoundTally
from electlog.errors import UsageError

__all__ = [
    "UNREPORTED",
    "Assertion",
    "Assorter",
    "LinearAssertion",
    "RoundAssertions",
    "ballot_contributions",
    "overstatement_assorter",
    "round_assertions",
    "round_specs",
]

UNREPORTED: Final = "*"
"""The person key of a post's persons the declared result does not name (counted together)."""


def _frac(name: str, value: object) -> Fraction:
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Fraction(value)
    raise UsageError(f"{name} must be a Fraction or an int, got {value!r}")


@attrs.frozen(kw_only=True)
class Assorter:
    """``A(b) = (g(b) + c) / (2c)`` of a :class:`LinearAssertion`, with upper bound ``upper``."""

    assertion: LinearAssertion
    c: Fraction
    upper: Fraction

    def value(self, contributions: Mapping[str, object]) -> Fraction:
        """The assorter value of one ballot given its contributions (missing keys are 0)."""
        return (self.assertion.g(contributions) + self.c) / (2 * self.c)

    def margin(self, totals: Mapping[str, object], ballots: int) -> Fraction:
        """The assorter margin ``2 mean(A) - 1 = Σ g / (c N)`` from the totals of the
        contributions over ``ballots`` ballots."""
        if not isinstance(ballots, int) or isinstance(ballots, bool) or ballots < 1:
            raise UsageError(f"an assorter margin needs ballots >= 1, got {ballots!r}")
        return self.assertion.total(totals, ballots) / (self.c * ballots)


@attrs.frozen(kw_only=True)
class LinearAssertion:
    """``Σ_b (constant + Σ_k coefficients[k] · b_k) > 0`` over the ballots, where each ballot's
    contribution ``b_k`` is an integer in ``[0, bounds.get(k, 1)]``."""

    coefficients: Mapping[str, Fraction]
    constant: Fraction = Fraction(0)
    bounds: Mapping[str, int] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        for k, a in self.coefficients.items():
            _frac(f"coefficient of {k!r}", a)
        _frac("constant", self.constant)
        for k, bound in self.bounds.items():
            if not isinstance(bound, int) or isinstance(bound, bool) or bound < 1:
                raise UsageError(f"the bound of {k!r} must be an int >= 1, got {bound!r}")

    def g(self, contributions: Mapping[str, object]) -> Fraction:
        """``g(b)`` of one ballot (keys not in ``coefficients`` are ignored)."""
        total = self.constant
        for k, a in self.coefficients.items():
            b = contributions.get(k, 0)
            if not isinstance(b, int) or isinstance(b, bool) or b < 0:
                raise UsageError(f"contribution {k!r} must be an int >= 0, got {b!r}")
            total += a * b
        return total

    def total(self, totals: Mapping[str, object], ballots: int) -> Fraction:
        """``Σ_b g(b)`` from the totals of the contributions over ``ballots`` ballots."""
        out = self.constant * ballots
        for k, a in self.coefficients.items():
            out += a * _frac(f"total of {k!r}", totals.get(k, 0))
        return out

    def assorter(self) -> Assorter:
        """The assorter; :class:`UsageError` when no ballot can make ``g`` negative (the
        assertion cannot fail, so there is nothing to audit)."""
        low = self.constant + sum(
            (a * self.bounds.get(k, 1) for k, a in self.coefficients.items() if a < 0),
            Fraction(0),
        )
        high = self.constant + sum(
            (a * self.bounds.get(k, 1) for k, a in self.coefficients.items() if a > 0),
            Fraction(0),
        )
        if low >= 0:
            raise UsageError("no ballot makes this assertion's g negative: nothing to audit")
        c = -low
        return Assorter(assertion=self, c=c, upper=(high + c) / (2 * c))


def overstatement_assorter(omega: object, margin: object, upper: object) -> Fraction:
    """The comparison assorter value ``(1 - ω/u) / (2 - v/u)`` of a ballot whose overstatement
    is ``omega`` = A(cvr) - A(mvr), for an assertion with assorter margin ``margin`` and upper
    bound ``upper``."""
    w = _frac("omega", omega)
    v = _frac("margin", margin)
    u = _frac("upper", upper)
    if u <= 0:
        raise UsageError(f"the assorter's upper bound must be > 0, got {u}")
    return (1 - w / u) / (2 - v / u)


# --------------------------------------------------------------------------- electlog rounds


def _key(post: str, person: str) -> str:
    return f"{post}\x00{person}"


@attrs.frozen(kw_only=True)
class Assertion:
    """One assertion of a round: its stable ``id`` (``"<post>:<kind>:<person>[>...]"``), the
    ``post``, the ``kind`` (``elected``, ``below_threshold``, ``beaten``, ``unreported``),
    the ``persons`` it is about, the ``linear`` form, its ``assorter``, and the reported
    assorter ``margin`` and ``diluted`` margin (margin / upper bound, what the Kaplan–Markov test
    uses)."""

    id: str
    post: str
    kind: str
    persons: tuple[str, ...]
    linear: LinearAssertion
    assorter: Assorter
    margin: Fraction
    diluted: Fraction

    def value(self, contributions: Mapping[str, int]) -> Fraction:
        """The assorter value of one ballot (contributions from :func:`ballot_contributions`)."""
        return self.assorter.value(contributions)

    def to_dict(self) -> dict[str, object]:
        """JSON / canonical form (fractions as ``"num/den"`` strings)."""
        return {
            "id": self.id,
            "post": self.post,
            "kind": self.kind,
            "persons": list(self.persons),
            "margin": str(self.margin),
            "diluted_margin": str(self.diluted),
            "upper_bound": str(self.assorter.upper),
        }


@attrs.frozen(kw_only=True)
class RoundAssertions:
    """The assertion set of a round over ``ballots`` ballots cast; ``full_count`` names why the
    round needs a full hand count instead (``"tie"``, ``"void_round"``, ``"no_ballots"``, or
    ``"margin"`` when an assertion's reported margin is not positive), else ``None``."""

    ballots: int
    assertions: tuple[Assertion, ...]
    full_count: str | None

    @property
    def smallest_margin(self) -> Fraction | None:
        """The smallest diluted margin (what sets the sample size), ``None`` without any."""
        return min((a.diluted for a in self.assertions), default=None)


def round_specs(result: RoundResult) -> list[PostSpec]:
    """The round's posts as :class:`PostSpec` (listed candidates are the keys of ``against``)."""
    return [
        PostSpec(post=p, seats=pr.seats, candidates=tuple(pr.against), rank=pr.rank)
        for p, pr in result.posts.items()
    ]


def ballot_contributions(
    result: RoundResult, marks: Mapping[str, PostMarks] | None
) -> dict[str, int]:
    """One ballot's contribution to every count of the round, under the round's own tally rules
    (a void post contributes nothing; 合并计票 adds the votes for higher posts): keys are
    ``"<post>\\x00<person>"``, and ``"<post>\\x00*"`` is 1 when the ballot gives a count on the
    post to anyone the result does not name. ``marks=None`` (a ballot that is not there)
    contributes nothing."""
    if marks is None:
        return {}
    tally = RoundTally(
        round_specs(result), result.rules, supplementary=result.supplementary, revote=result.revote
    )
    tally.add(marks)
    one = tally.result(registered=0, issued=1)
    out: dict[str, int] = {}
    for post, pr in one.posts.items():
        named = result.posts[post].counts
        for person, n in pr.counts.items():
            if n:
                if person in named:
                    out[_key(post, person)] = n
                else:
                    out[_key(post, UNREPORTED)] = 1
    return out


def _make(
    aid: str,
    post: str,
    kind: str,
    persons: tuple[str, ...],
    linear: LinearAssertion,
    totals: Mapping[str, int],
    ballots: int,
) -> Assertion:
    assorter = linear.assorter()  # the callers make sure some ballot can make g negative
    margin = assorter.margin(totals, ballots)
    return Assertion(
        id=aid,
        post=post,
        kind=kind,
        persons=persons,
        linear=linear,
        assorter=assorter,
        margin=margin,
        diluted=margin / assorter.upper,
    )


class _NoMargin(Exception):
    """A post whose assertions cannot all be sampled: the round needs a full hand count."""


@attrs.frozen(kw_only=True)
class _Post:
    """What the assertions of one post are built from."""

    post: str
    pr: PostResult
    n: int
    m: int
    k: int

    def totals(self) -> dict[str, int]:
        return {_key(self.post, person): c for person, c in self.pr.counts.items()}

    def make(
        self,
        suffix: str,
        kind: str,
        persons: tuple[str, ...],
        coefficients: dict[str, Fraction],
        constant: Fraction = Fraction(0),
    ) -> Assertion:
        lin = LinearAssertion(
            coefficients=coefficients,
            constant=constant,
            bounds=dict.fromkeys((c for c in coefficients if not c.endswith(UNREPORTED)), self.k),
        )
        return _make(f"{self.post}:{suffix}", self.post, kind, persons, lin, self.totals(), self.n)


def _loser(p: _Post, lo: str) -> list[Assertion]:
    """An unelected person's assertion(s): below the threshold, or beaten by every winner,
    whichever has the larger smallest diluted margin (below is required with unfilled seats)."""
    kl = _key(p.post, lo)
    below = None
    if p.pr.counts[lo] < p.m < p.n * p.k:
        below = p.make(
            f"below_threshold:{lo}",
            "below_threshold",
            (lo,),
            {kl: Fraction(-1)},
            Fraction(p.m, p.n),
        )
    beaten = []
    if p.pr.elected and p.pr.unfilled == 0:
        beaten = [
            p.make(
                f"beaten:{w}>{lo}",
                "beaten",
                (w, lo),
                {_key(p.post, w): Fraction(1), kl: Fraction(-1)},
            )
            for w in p.pr.elected
        ]
    if below is not None and (not beaten or below.diluted >= min(b.diluted for b in beaten)):
        return [below]
    if beaten:
        return beaten
    raise _NoMargin  # at or above the threshold with no winner to beat


def _post_assertions(result: RoundResult, post: str, pr: PostResult) -> list[Assertion]:
    rules = result.rules
    n, m = result.returned, result.min_votes
    majority_round = not (result.supplementary or result.revote)
    tau = rules.majority * n if majority_round else Fraction(m - 1)
    k = (
        sum(1 for other in result.posts.values() if other.rank <= pr.rank)
        if rules.combined_ballot
        else 1
    )
    p = _Post(post=post, pr=pr, n=n, m=m, k=k)
    out = [
        p.make(f"elected:{w}", "elected", (w,), {_key(post, w): Fraction(1)}, -tau / n)
        for w in pr.elected
        if tau > 0
    ]
    single = (
        pr.seats == 1
        and majority_round
        and rules.majority >= Fraction(1, 2)
        and not rules.combined_ballot
        and len(pr.elected) == 1
    )
    if single:  # nobody else can pass a majority of the ballots
        return out
    skip = set(pr.elected) | set(pr.excluded)
    for lo in sorted((q for q in pr.counts if q not in skip), key=lambda q: (-pr.counts[q], q)):
        out.extend(_loser(p, lo))
    # K times the ballots naming anyone unreported bounds each unreported person's count
    if m >= n * k:  # a threshold no ballot mix can miss by a margin: count them all
        raise _NoMargin
    out.append(
        p.make(
            "unreported", "unreported", (), {_key(post, UNREPORTED): Fraction(-k)}, Fraction(m, n)
        )
    )
    return out


def round_assertions(result: RoundResult) -> RoundAssertions:
    """The assertion set of a declared round (module docstring), in a fixed order: posts in
    the round's order; per post its winners, then its unelected persons in count order (equal
    counts by id), then the unreported persons."""
    if not isinstance(result, RoundResult):
        raise UsageError(f"round_assertions needs a RoundResult, got {type(result).__name__}")
    n = result.returned
    if result.round_void:
        return RoundAssertions(ballots=n, assertions=(), full_count="void_round")
    if n == 0:
        return RoundAssertions(ballots=n, assertions=(), full_count="no_ballots")
    if any(pr.tied for pr in result.posts.values()):
        return RoundAssertions(ballots=n, assertions=(), full_count="tie")
    out: list[Assertion] = []
    try:
        for post, pr in result.posts.items():
            if pr.seats:
                out.extend(_post_assertions(result, post, pr))
    except _NoMargin:
        return RoundAssertions(ballots=n, assertions=(), full_count="margin")
    if any(a.margin <= 0 for a in out):
        return RoundAssertions(ballots=n, assertions=tuple(out), full_count="margin")
    return RoundAssertions(ballots=n, assertions=tuple(out), full_count=None)
