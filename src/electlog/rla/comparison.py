"""One community round's ballot-comparison audit, as arithmetic: the sample each audit round
must draw and the risk its interpretations measure.

The audit board (``electlog rla``) and every auditor (the election state's fold) call the same
functions, so a recorded sample, p-value or confirmation is either what these functions give or
a finding. Everything is exact: p-values are :class:`~fractions.Fraction` (shown rounded up to
20 decimals by :func:`~electlog.rla.risk.format_p`), sample sizes integers.

For every assertion of the round (:func:`~electlog.rla.assertions.round_assertions`) and every
draw (in draw order, a ballot drawn twice counts twice), the overstatement is
``x = (A(cvr) - A(mvr)) / u``: the recorded ballot (the CVR) against the audit board's reading of
the paper (the MVR). A ballot the board could not find counts as the worst case, ``x = 1``.

* ``kaplan_markov`` (with replacement): :func:`~electlog.rla.risk.comparison_pvalue` with
  γ = 1.03905 on the diluted margin ``v/u``.
* ``alpha`` (with or without replacement): ALPHA on the comparison assorter values
  ``B = (1 - x) / (2 - v/u)`` in ``[0, u_B = 2/(2 - v/u)]``, null mean 1/2, truncated shrinkage
  with ``eta0 = 9/10 u_B`` (a bet near the upper bound, as comparison audits call for) and
  ``d = 100``.

The sample an audit round must reach (:func:`required_total`) is the largest over the assertions
of :func:`~electlog.rla.risk.comparison_sample_size` given the discrepancies seen so far (the
Lindeman–Stark formula; with none, 11 to 19 ballots per round at 5% in the 20,000-voter demo),
at most the number of ballots: a round whose requirement reaches it is counted by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Final

import attrs

from electlog.election.tally import PostMarks, RoundResult
from electlog.errors import UsageError

from .assertions import Assertion, RoundAssertions, ballot_contributions
from .risk import (
    ShrinkTrunc,
    alpha_pvalue,
    comparison_pvalue,
    comparison_sample_size,
    overstatement_counts,
    to_fraction,
)
from .sampling import sample

__all__ = [
    "KAPLAN_MARKOV",
    "TESTS",
    "AssertionRisk",
    "AuditParameters",
    "draw",
    "measure",
    "required_total",
]

KAPLAN_MARKOV: Final = "kaplan_markov"
ALPHA: Final = "alpha"
TESTS: Final = (KAPLAN_MARKOV, ALPHA)

Marks = Mapping[str, PostMarks]


@attrs.frozen(kw_only=True)
class AuditParameters:
    """What an audit declaration fixes: the risk limit α, the test and whether the sample is
    drawn with replacement (Kaplan–Markov needs it)."""

    risk_limit: Fraction
    test: str = KAPLAN_MARKOV
    replacement: bool = True

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.risk_limit, Fraction) or not 0 < self.risk_limit < 1:
            raise UsageError(f"the risk limit must be a Fraction in (0, 1), got {self.risk_limit}")
        if self.test not in TESTS:
            raise UsageError(f"the test must be one of {', '.join(TESTS)}, got {self.test!r}")
        if not isinstance(self.replacement, bool):
            raise UsageError("replacement must be a bool")
        if self.test == KAPLAN_MARKOV and not self.replacement:
            raise UsageError("the Kaplan–Markov test needs sampling with replacement")

    @classmethod
    def parse(cls, risk_limit: object, test: str, replacement: bool) -> AuditParameters:
        """From a risk limit given as text (``"0.05"``) or Fraction."""
        return cls(
            risk_limit=to_fraction("the risk limit", risk_limit),
            test=test,
            replacement=replacement,
        )


@attrs.frozen(kw_only=True)
class AssertionRisk:
    """One assertion's measurement: ``p_value`` and the discrepancy ``counts`` (o1, o2, u1,
    u2) over the ``overstatements`` x of every draw."""

    assertion: Assertion
    p_value: Fraction
    counts: dict[str, int]
    overstatements: tuple[Fraction, ...]


def draw(ids: Sequence[str], seed: str, *, drop: int, size: int, replacement: bool) -> list[str]:
    """Draws ``drop + 1`` to ``drop + size`` of the consistent sampler over ``ids``."""
    return [t.id for t in sample(ids, seed, size, with_replacement=replacement, drop=drop)]


def _overstatements(
    a: Assertion,
    result: RoundResult,
    draws: Sequence[str],
    cvr: Callable[[str], Marks | None],
    mvr: Mapping[str, Marks | None],
    cache: dict[str, tuple[dict[str, int], dict[str, int] | None]],
) -> list[Fraction]:
    xs = []
    for ballot in draws:
        pair = cache.get(ballot)
        if pair is None:
            paper = mvr[ballot]
            pair = cache[ballot] = (
                ballot_contributions(result, cvr(ballot)),
                None if paper is None else ballot_contributions(result, paper),
            )
        recorded, read = pair
        if read is None:
            xs.append(Fraction(1))  # not found: the worst case
        else:
            xs.append((a.value(recorded) - a.value(read)) / a.assorter.upper)
    return xs


def measure(
    assertions: RoundAssertions,
    result: RoundResult,
    params: AuditParameters,
    draws: Sequence[str],
    cvr: Callable[[str], Marks | None],
    mvr: Mapping[str, Marks | None],
) -> list[AssertionRisk]:
    """Every assertion's risk after ``draws`` (every drawn ballot interpreted in ``mvr``, ``None``
    for not found; ``cvr(ballot)`` gives the recorded marks)."""
    missing = [b for b in draws if b not in mvr]
    if missing:
        raise UsageError(f"{len(missing)} drawn ballot(s) not interpreted, e.g. {missing[0]}")
    cache: dict[str, tuple[dict[str, int], dict[str, int] | None]] = {}
    out = []
    for a in assertions.assertions:
        xs = _overstatements(a, result, draws, cvr, mvr, cache)
        if params.test == KAPLAN_MARKOV:
            p = comparison_pvalue(a.diluted, xs)
        else:
            scale = 2 - a.diluted
            values = [(1 - x) / scale for x in xs]
            p = alpha_pvalue(
                values,
                estim=ShrinkTrunc(eta0=Fraction(9, 5) / scale),
                population=None if params.replacement else assertions.ballots,
                u=2 / scale,
            )
        out.append(
            AssertionRisk(
                assertion=a, p_value=p, counts=overstatement_counts(xs), overstatements=tuple(xs)
            )
        )
    return out


def required_total(
    assertions: RoundAssertions,
    params: AuditParameters,
    measured: Sequence[AssertionRisk] = (),
) -> int:
    """The number of draws the round's sample must reach: the largest Lindeman–Stark estimate
    over the assertions given the discrepancies measured so far, at most the number of ballots
    (every ballot: a full hand count). A round that needs a full hand count requires them all."""
    n = assertions.ballots
    if assertions.full_count is not None:
        return n
    seen = {m.assertion.id: [x for x in m.overstatements if x != 0] for m in measured}
    need = 0
    for a in assertions.assertions:
        need = max(
            need,
            comparison_sample_size(a.diluted, params.risk_limit, overstatements=seen.get(a.id, ())),
        )
    return min(need, n)
