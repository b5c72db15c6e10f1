"""Risk measurement for risk-limiting audits, in exact arithmetic.

Every p-value here is a :class:`fractions.Fraction`, so the audit board and every auditor get the
same number and the same "confirmed" decision (``p <= alpha``, compared exactly). Sample-size
*estimates* need logarithms; they are computed with :mod:`decimal` at :data:`LN_PRECISION`
significant digits (a correctly rounded, platform-independent ``ln``), then rounded up.

Ballot-level comparison audits (:func:`comparison_pvalue`, :func:`comparison_sample_size`):
Stark's Kaplan–Markov test with the error inflator γ (Stark 2010, "Super-simple simultaneous
single-ballot risk-limiting audits"; Lindeman and Stark 2012, "A gentle introduction"). A sampled
ballot's *overstatement* ``x`` is ω/u: the assorter value of its cast vote record minus that of
the paper, over the assorter's upper bound (for a two-candidate margin, ``1/2`` is a one-vote
overstatement o1, ``1`` a two-vote overstatement o2, ``-1/2`` and ``-1`` the understatements u1
and u2). With diluted margin ``v`` (over ``u``)::

    p = min(1, prod_i (1 - v / (2 γ)) / (1 - x_i / γ))

Sample size (the published planning formula, which replaces ``-ln(1 - v/(2γ))`` by ``v/(2γ)``)::

    n = max(#discrepancies, ceil(-2 γ (ln α + sum_i ln(1 - x_i / γ)) / v))

Tests of a mean in [0, u] (SHANGRLA, Stark 2020/2023):

* :func:`kaplan_markov_pvalue`: the Kaplan–Markov martingale ``prod (t + g) / (x_i + g)``;
* :func:`alpha_pvalue` / :func:`alpha_sample_size`: ALPHA with a fixed alternative
  (:class:`FixedEta`) or the truncated shrinkage estimator (:class:`ShrinkTrunc`), with
  replacement (``N=None``) or without (``N`` the population size).

Ballot polling (:func:`bravo_pvalue`, :func:`bravo_asn`): BRAVO (Lindeman, Stark and Yates 2012).

Depends on the standard library and :mod:`electlog.errors` only.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from typing import Final, Protocol

import attrs

from electlog.errors import UsageError

__all__ = [
    "GAMMA",
    "LN_PRECISION",
    "AlphaEstimator",
    "FixedEta",
    "ShrinkTrunc",
    "alpha_pvalue",
    "alpha_sample_size",
    "bravo_asn",
    "bravo_pvalue",
    "comparison_pvalue",
    "comparison_sample_size",
    "format_p",
    "kaplan_markov_pvalue",
    "overstatement_counts",
    "to_fraction",
]

GAMMA: Final = Fraction("1.03905")
"""The error inflator γ of Stark's tools, Arlo and Colorado's RLA tool."""

LN_PRECISION: Final = 50
"""Significant digits of the logarithms in sample-size estimates."""

_SQRT_SCALE: Final = 10**20


def to_fraction(name: str, value: object) -> Fraction:
    """``value`` (an int, a Fraction or a decimal string such as ``"0.05"`` / ``"1/20"``) as a
    Fraction; :class:`~electlog.errors.UsageError` naming ``name`` otherwise (floats are refused:
    they are not exact)."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Fraction(value)
    if isinstance(value, str):
        try:
            return Fraction(value.strip())
        except (ValueError, ZeroDivisionError) as exc:
            raise UsageError(
                f"{name} must be a number such as '0.05' or '1/20', got {value!r}"
            ) from exc
    raise UsageError(f"{name} must be a Fraction, an int or a decimal string, got {value!r}")


def _each(name: str, values: object) -> Iterator[tuple[int, object]]:
    """``enumerate(values)``, or :class:`UsageError` naming ``name`` if ``values`` is not an
    iterable of numbers (a str or bytes is refused too: it is not a list of draws)."""
    if isinstance(values, str | bytes | bytearray):
        raise UsageError(f"{name} must be an iterable of numbers, got {type(values).__name__}")
    try:
        it = iter(values)  # type: ignore[call-overload]
    except TypeError as exc:
        raise UsageError(
            f"{name} must be an iterable of numbers, got {type(values).__name__}"
        ) from exc
    return enumerate(it)


def _alpha(value: object) -> Fraction:
    a = to_fraction("the risk limit", value)
    if not 0 < a < 1:
        raise UsageError(f"the risk limit must be strictly between 0 and 1, got {a}")
    return a


def _gamma(value: object) -> Fraction:
    g = to_fraction("gamma", value)
    if g <= 1:
        raise UsageError(f"gamma must be > 1, got {g}")
    return g


def _margin(value: object) -> Fraction:
    m = to_fraction("the diluted margin", value)
    if not 0 < m <= 2:
        raise UsageError(f"the diluted margin must be in (0, 2], got {m}")
    return m


def _count(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise UsageError(f"{name} must be an int >= 0, got {value!r}")
    return value


def _ln(x: Fraction) -> decimal.Decimal:
    ctx = decimal.Context(prec=LN_PRECISION)
    num = decimal.Decimal(x.numerator)
    return ctx.divide(num, decimal.Decimal(x.denominator)).ln(ctx)


def _ceil(x: decimal.Decimal) -> int:
    return int(x.to_integral_value(rounding=decimal.ROUND_CEILING))


def format_p(p: Fraction, digits: int = 20) -> str:
    """``p`` as a decimal string with ``digits`` digits after the point, rounded **up** (so the
    shown value is never below the exact one): the form p-values take in events and reports."""
    p = to_fraction("the p-value", p)
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 0:
        raise UsageError(f"digits must be a nonnegative int, got {digits!r}")
    if p < 0:
        raise UsageError(f"a p-value is >= 0, got {p}")
    scaled = -((-p.numerator * 10**digits) // p.denominator)
    whole, frac = divmod(scaled, 10**digits)
    return f"{whole}.{frac:0{digits}d}"


# --------------------------------------------------------------------------- comparison (KM)


def _overstatements(values: Iterable[object]) -> list[Fraction]:
    out = []
    for i, v in _each("the overstatements", values):
        x = to_fraction(f"overstatement {i}", v)
        if not -1 <= x <= 1:
            raise UsageError(f"overstatement {i} must be in [-1, 1] (ω/u), got {x}")
        out.append(x)
    return out


def comparison_pvalue(
    margin: object, overstatements: Iterable[object], *, gamma: object = GAMMA
) -> Fraction:
    """Kaplan–Markov p-value of a ballot-comparison sample: ``margin`` is the diluted margin
    v/u of the assertion, ``overstatements`` one ω/u per draw (0 where the paper matched the
    record). ``min(1, prod (1 - v/(2γ)) / (1 - x/γ))``, exact."""
    v = _margin(margin)
    g = _gamma(gamma)
    xs = _overstatements(overstatements)
    clean = 1 - v / (2 * g)
    if clean <= 0:
        return Fraction(0)
    p = clean ** len(xs)
    for x in xs:
        p /= 1 - x / g
    return min(Fraction(1), p)


def overstatement_counts(overstatements: Iterable[object]) -> dict[str, int]:
    """How many draws were two-vote / one-vote over- and understatements: ``o2`` (x > 1/2),
    ``o1`` (0 < x <= 1/2), ``u1`` (-1/2 <= x < 0) and ``u2`` (x < -1/2), x = ω/u."""
    counts = {"o1": 0, "o2": 0, "u1": 0, "u2": 0}
    half = Fraction(1, 2)
    for x in _overstatements(overstatements):
        if x > half:
            counts["o2"] += 1
        elif x > 0:
            counts["o1"] += 1
        elif x < -half:
            counts["u2"] += 1
        elif x < 0:
            counts["u1"] += 1
    return counts


def comparison_sample_size(
    margin: object,
    alpha: object,
    *,
    gamma: object = GAMMA,
    o1: int = 0,
    o2: int = 0,
    u1: int = 0,
    u2: int = 0,
    overstatements: Iterable[object] = (),
) -> int:
    """The total sample size at which a comparison audit stops if the draws show the given
    discrepancies (``o1`` ... ``u2`` as counts and/or ``overstatements`` as ω/u values) and no
    others: ``max(#discrepancies, ceil(-2γ (ln α + Σ ln(1 - x/γ)) / v))`` (Lindeman and Stark's
    formula, Arlo's ``nMin``). A sample smaller than this cannot confirm; the estimate may exceed
    the number of ballots (then count them all)."""
    v = _margin(margin)
    a = _alpha(alpha)
    g = _gamma(gamma)
    xs = _overstatements(overstatements)
    for name, count, x in (
        ("o1", o1, Fraction(1, 2)),
        ("o2", o2, Fraction(1)),
        ("u1", u1, Fraction(-1, 2)),
        ("u2", u2, Fraction(-1)),
    ):
        xs.extend([x] * _count(name, count))
    total = _ln(a)
    for x in xs:
        total += _ln(1 - x / g)
    n = _ceil(-2 * _dec(g) * total / _dec(v))
    nonzero = sum(1 for x in xs if x != 0)
    return max(nonzero, n)


def _dec(x: Fraction) -> decimal.Decimal:
    ctx = decimal.Context(prec=LN_PRECISION)
    return ctx.divide(decimal.Decimal(x.numerator), decimal.Decimal(x.denominator))


# --------------------------------------------------------------------------- mean tests


def _values(values: Iterable[object], u: Fraction) -> list[Fraction]:
    out = []
    for i, v in _each("the sample values", values):
        x = to_fraction(f"sample value {i}", v)
        if not 0 <= x <= u:
            raise UsageError(f"sample value {i} must be in [0, {u}], got {x}")
        out.append(x)
    return out


def kaplan_markov_pvalue(
    values: Iterable[object],
    *,
    t: object = Fraction(1, 2),
    g: object = 0,
    random_order: bool = True,
) -> Fraction:
    """Kaplan–Markov p-value for the hypothesis that the mean of a nonnegative population is
    ``t`` or more, from i.i.d. draws ``values``: the running product ``prod (t + g)/(x_i + g)``,
    its minimum when ``random_order`` (optional stopping), else its last value; at most 1."""
    tt = to_fraction("t", t)
    gg = to_fraction("g", g)
    if tt <= 0 or gg < 0:
        raise UsageError(f"kaplan_markov needs t > 0 and g >= 0, got t={tt}, g={gg}")
    p: Fraction | None = Fraction(1)  # None: the product became infinite
    best = Fraction(1)
    for i, v in _each("the sample values", values):
        x = to_fraction(f"sample value {i}", v)
        if x < 0:
            raise UsageError(f"sample value {i} is negative ({x}): the population is nonnegative")
        if p is None:
            continue
        if x + gg == 0:
            p = None  # (t + g) / 0: the product is infinite from here on
            continue
        p *= (tt + gg) / (x + gg)
        best = min(best, p)
    if random_order:
        return min(Fraction(1), best)
    return Fraction(1) if p is None else min(Fraction(1), p)


class AlphaEstimator(Protocol):
    """Chooses ALPHA's alternative mean ``eta_j`` for draw ``j`` (1-based) from the earlier
    draws: ``eta(j, total_before, earlier, m_j, population, u, t)``."""

    def eta(
        self,
        j: int,
        total_before: Fraction,
        earlier: Sequence[Fraction],
        m: Fraction,
        population: int | None,
        u: Fraction,
        t: Fraction,
    ) -> Fraction:
        """The alternative mean for draw ``j``."""
        ...  # pragma: no cover


def _eta_converter(value: object) -> Fraction:
    return to_fraction("eta", value)


def _c_converter(value: object) -> Fraction | None:
    return None if value is None else to_fraction("c", value)


@attrs.frozen(kw_only=True)
class FixedEta:
    """ALPHA's fixed alternative: the population mean is ``eta``; for draw j the mean of what
    is left is ``(N eta - S_j)/(N - j + 1)`` without replacement, ``eta`` with replacement."""

    eta0: Fraction = attrs.field(converter=_eta_converter)

    def eta(
        self,
        j: int,
        total_before: Fraction,
        earlier: Sequence[Fraction],
        m: Fraction,
        population: int | None,
        u: Fraction,
        t: Fraction,
    ) -> Fraction:
        """The alternative mean for draw ``j``."""
        if population is None:
            return self.eta0
        return (population * self.eta0 - total_before) / (population - j + 1)


def _sqrt_up(x: Fraction) -> Fraction:
    """A deterministic rational upper approximation of sqrt(x) (20 decimals)."""
    scaled = x * _SQRT_SCALE * _SQRT_SCALE
    root = math.isqrt(scaled.numerator // scaled.denominator)
    return Fraction(root + 1, _SQRT_SCALE)


@attrs.frozen(kw_only=True)
class ShrinkTrunc:
    """ALPHA's truncated shrinkage estimator (SHANGRLA ``shrink_trunc`` with ``f = 0``): the
    mean of the earlier draws shrunk towards ``eta0`` with weight ``d``,
    ``(d eta0 + S_j)/(d + j - 1)``, truncated to ``[m_j + e_j, u - e_j]`` with
    ``e_j = c / sqrt(d + j - 1)`` (``c`` defaults to ``(eta0 - t)/2``; the square root is a
    fixed 20-decimal rational so every auditor gets the same value)."""

    eta0: Fraction = attrs.field(converter=_eta_converter)
    d: int = 100
    c: Fraction | None = attrs.field(default=None, converter=_c_converter)

    def eta(
        self,
        j: int,
        total_before: Fraction,
        earlier: Sequence[Fraction],
        m: Fraction,
        population: int | None,
        u: Fraction,
        t: Fraction,
    ) -> Fraction:
        """The alternative mean for draw ``j``."""
        c = self.c if self.c is not None else (self.eta0 - t) / 2
        if u - c < t + c:
            c = (u - c) / 2
        weighted = (self.d * self.eta0 + total_before) / (self.d + j - 1)
        tol = c / _sqrt_up(Fraction(self.d + j - 1))
        return min(u - tol, max(weighted, m + tol))


def _alpha_terms(
    xs: Sequence[Fraction],
    *,
    population: int | None,
    t: Fraction,
    u: Fraction,
    estim: AlphaEstimator,
) -> list[Fraction | None]:
    """The running ALPHA martingale after each draw; ``None`` where it is certainly infinite
    (the null is impossible: p = 0)."""
    out: list[Fraction | None] = []
    total = Fraction(0)
    prod: Fraction | None = Fraction(1)
    done_one = False  # the null is certainly true: p = 1 from here on
    for j, x in enumerate(xs, start=1):
        if population is not None:
            if j > population:
                raise UsageError(f"{j} draws without replacement from {population} ballots")
            m = (population * t - total) / (population - j + 1)
        else:
            m = t
        if prod is not None and not done_one:
            if m < 0:
                prod = None
            elif m > u:
                done_one = True
            elif m in (0, u):
                pass  # this draw says nothing
            else:
                eta = estim.eta(j, total, xs[: j - 1], m, population, u, t)
                if not m < eta <= u:
                    raise UsageError(f"ALPHA: eta_{j} = {eta} is not in (m_j, u] = ({m}, {u}]")
                prod *= (x * eta / m + (u - x) * (u - eta) / (u - m)) / u
        total += x
        out.append(Fraction(0) if done_one else prod)
    if population is not None and xs and total > population * t and not done_one:
        out[-1] = None  # the sample total alone exceeds the null's population total
    return out


def alpha_pvalue(
    values: Iterable[object],
    *,
    estim: AlphaEstimator,
    population: int | None = None,
    t: object = Fraction(1, 2),
    u: object = 1,
) -> Fraction:
    """ALPHA p-value for the hypothesis that the mean of a population in [0, ``u``] is at most
    ``t``, from the draws ``values`` in draw order (with replacement when ``population`` is
    None, else without, from ``population`` items): ``min(1, 1 / max_j T_j)``."""
    tt = to_fraction("t", t)
    uu = to_fraction("u", u)
    if not 0 < tt < uu:
        raise UsageError(f"ALPHA needs 0 < t < u, got t={tt}, u={uu}")
    pop = None if population is None else _count("the population size", population)
    xs = _values(values, uu)
    best = Fraction(1)
    for term in _alpha_terms(xs, population=pop, t=tt, u=uu, estim=estim):
        if term is None:
            return Fraction(0)
        if term > 0:
            best = min(best, 1 / term)
    return best


def alpha_sample_size(
    pilot: Sequence[object],
    *,
    alpha: object,
    population: int,
    estim: AlphaEstimator,
    t: object = Fraction(1, 2),
    u: object = 1,
) -> int:
    """The draws ALPHA needs if the population looks like ``pilot`` repeated (SHANGRLA's
    deterministic ``sample_size``): the first j at which the p-value is at most ``alpha``, or
    ``population`` if it never is."""
    a = _alpha(alpha)
    tt = to_fraction("t", t)
    uu = to_fraction("u", u)
    pop = _count("the population size", population)
    xs = _values(pilot, uu)
    if not xs:
        raise UsageError("alpha_sample_size needs at least one pilot value")
    tiled = [xs[i % len(xs)] for i in range(pop)]
    for j, term in enumerate(_alpha_terms(tiled, population=pop, t=tt, u=uu, estim=estim), 1):
        if term is None or (term > 0 and 1 / term <= a):
            return j
    return pop


# --------------------------------------------------------------------------- BRAVO


def bravo_pvalue(
    reported_winner: int, reported_loser: int, sampled_winner: int, sampled_loser: int
) -> Fraction:
    """BRAVO p-value of a winner-loser pair from a ballot-polling sample: with
    ``s = W / (W + L)`` of the reported votes, ``1 / ((2s)^{n_w} (2 - 2s)^{n_l})``, at most 1."""
    w = _count("the winner's reported votes", reported_winner)
    lo = _count("the loser's reported votes", reported_loser)
    nw = _count("the winner's sampled votes", sampled_winner)
    nl = _count("the loser's sampled votes", sampled_loser)
    if w <= lo:
        raise UsageError(f"BRAVO needs the winner ahead: {w} <= {lo}")
    s = Fraction(w, w + lo)
    t = (2 * s) ** nw * (2 - 2 * s) ** nl
    return Fraction(1) if t == 0 else min(Fraction(1), 1 / t)


def bravo_asn(p_winner: object, p_loser: object, alpha: object) -> int:
    """BRAVO's average sample number: with ``s = p_w/(p_w + p_l)``, ``z_w = ln 2s`` and
    ``z_l = ln(2 - 2s)``, ``ceil((ln(1/α) + z_w/2) / (p_w z_w + p_l z_l))`` (p_w, p_l the
    winner's and loser's shares of the ballots)."""
    pw = to_fraction("p_w", p_winner)
    pl = to_fraction("p_l", p_loser)
    a = _alpha(alpha)
    if not 0 <= pl < pw <= 1 or pl == 0:
        raise UsageError(f"BRAVO ASN needs 0 < p_l < p_w <= 1, got {pw}, {pl}")
    s = pw / (pw + pl)
    zw = _ln(2 * s)
    zl = _ln(2 - 2 * s)
    return _ceil((_ln(1 / a) + zw / 2) / (_dec(pw) * zw + _dec(pl) * zl))
