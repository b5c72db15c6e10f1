"""Issue 19 step 2: the risk measures reproduce the published Kaplan–Markov, BRAVO and SHANGRLA
numbers, in exact arithmetic."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from electlog.errors import UsageError
from electlog.rla.risk import (
    GAMMA,
    FixedEta,
    ShrinkTrunc,
    alpha_pvalue,
    alpha_sample_size,
    bravo_asn,
    bravo_pvalue,
    comparison_pvalue,
    comparison_sample_size,
    format_p,
    kaplan_markov_pvalue,
    overstatement_counts,
)


@pytest.mark.parametrize(
    ("margin", "n"),
    [("0.2", 24), ("0.1", 48), ("0.05", 96), ("0.01", 479), ("0.002", 2393)],
)
def test_kaplan_markov_sample_sizes_gamma_1_03905_alpha_0_1(margin: str, n: int) -> None:
    assert Fraction(103905, 100000) == GAMMA
    assert comparison_sample_size(margin, "0.1") == n


def test_kaplan_markov_sample_sizes_with_discrepancies() -> None:
    assert comparison_sample_size("0.05", "0.1", o1=1) == 123
    assert comparison_sample_size("0.005", "0.1", o1=1, u1=1) == 1067
    # the same given as overstatement values (ω/u) instead of counts
    assert comparison_sample_size("0.005", "0.1", overstatements=["1/2", "-1/2"]) == 1067
    # never below the number of discrepancies seen
    assert comparison_sample_size("1", "0.5", u2=30) == 30


def test_kaplan_markov_p_value_published() -> None:
    margin = Fraction(354040 - 337589, 724863)
    p = comparison_pvalue(margin, [Fraction(1, 2)] + [0] * 199)
    assert abs(float(p) - 0.21438135077031842) < 1e-12
    assert isinstance(p, Fraction)
    assert format_p(p) == "0.21438135077031611131"  # rounded up, never below the exact value
    assert Fraction(format_p(p)) >= p


def test_comparison_p_value_formula_and_counts() -> None:
    v = Fraction(1, 10)
    xs = [0, Fraction(1, 2), 0, 1, Fraction(-1, 2), -1]
    expected = (1 - v / (2 * GAMMA)) ** 6
    for x in xs:
        expected /= 1 - Fraction(x) / GAMMA
    assert comparison_pvalue(v, xs) == min(1, expected)
    assert overstatement_counts(xs) == {"o1": 1, "o2": 1, "u1": 1, "u2": 1}
    assert comparison_pvalue(v, []) == 1
    # more clean draws only lower the p-value; an overstatement raises it
    assert comparison_pvalue(v, [0] * 60) < comparison_pvalue(v, [0] * 59)
    assert comparison_pvalue(v, [0] * 59 + [Fraction(1, 2)]) > comparison_pvalue(v, [0] * 60)


def test_bravo_custer_county_2018() -> None:
    p = bravo_pvalue(1410, 1132, 170, 135)
    assert abs(float(p) - 0.1342382069344729) < 1e-12


@pytest.mark.parametrize(("margin", "asn"), [("0.2", 119), ("0.04", 2902), ("0.01", 46151)])
def test_bravo_asn_alpha_0_1(margin: str, asn: int) -> None:
    m = Fraction(margin)
    assert bravo_asn((1 + m) / 2, (1 - m) / 2, "0.1") == asn


def test_shangrla_kaplan_markov() -> None:
    assert kaplan_markov_pvalue([1] * 5) == Fraction(1, 32)
    s = [1, 1, 1, 1, 1, 0]
    g = Fraction(1, 10)
    assert kaplan_markov_pvalue(s, g=g) == (Fraction(11, 10) / Fraction(6, 10)) ** -5
    assert kaplan_markov_pvalue(s, g=g, random_order=False) == (
        (Fraction(11, 10) / Fraction(6, 10)) ** -5 * Fraction(6, 10) / Fraction(1, 10)
    )
    with pytest.raises(UsageError, match="negative"):
        kaplan_markov_pvalue([1, -1])
    assert kaplan_markov_pvalue([0, 1]) == 1  # a zero with g = 0: the product is infinite


def test_shangrla_alpha_sample_sizes() -> None:
    est = FixedEta(eta0=Fraction(3, 4))
    assert alpha_sample_size([1] * 5, alpha="0.05", population=1000, estim=est) == 8
    assert alpha_sample_size(["0.75"] * 5, alpha="0.05", population=1000, estim=est) == 14


def test_alpha_fixed_eta_with_replacement_is_the_product() -> None:
    est = FixedEta(eta0=Fraction(3, 4))
    # all ones: each term is eta/t = 3/2
    assert alpha_pvalue([1] * 8, estim=est) == Fraction(2, 3) ** 8
    # all halves: terms ((1/2)(3/4)/(1/2) + (1/2)(1/4)/(1/2)) = 1, p stays 1
    assert alpha_pvalue([Fraction(1, 2)] * 5, estim=est) == 1


def test_alpha_without_replacement_edge_cases() -> None:
    est = FixedEta(eta0=Fraction(1, 2))
    # SHANGRLA test_alpha_mart: N = 7, t = 3/7; four ones make the total exceed N t = 3
    assert alpha_pvalue([1, 0, 1, 1, 0, 0, 1], estim=est, population=7, t=Fraction(3, 7)) == 0
    assert alpha_pvalue([1, 0, 1, 1, 0, 0, 0], estim=est, population=7, t=Fraction(3, 7)) > 0
    with pytest.raises(UsageError, match="without replacement"):
        alpha_pvalue([1, 1, 1], estim=FixedEta(eta0="3/4"), population=2)


def test_shrink_trunc_follows_the_shangrla_formula() -> None:
    eta, t, u, d = Fraction(11, 20), Fraction(1, 2), Fraction(1), 10
    c = (eta - t) / 2
    est = ShrinkTrunc(eta0=eta, d=d)
    x = [Fraction(v) for v in (0, 0, 0, 0, 0, 1, 1, 1, 1, 1)]
    population = len(x)
    total = Fraction(0)
    for j in range(1, population + 1):
        for n in (None, population):
            m = t if n is None else (n * t - total) / (n - j + 1)
            got = est.eta(j, total, x[: j - 1], m, n, u, t)
            e = float(c) / math.sqrt(d + j - 1)
            want = min(
                float(u) - e, max((d * float(eta) + float(total)) / (d + j - 1), float(m) + e)
            )
            assert abs(float(got) - want) < 1e-15
        total += x[j - 1]
    p = alpha_pvalue([1] * 40, estim=ShrinkTrunc(eta0=Fraction(9, 10)), population=1000)
    assert 0 < p < Fraction(1, 20)


@pytest.mark.parametrize(
    "call",
    [
        lambda: comparison_sample_size("0.05", "1.5"),
        lambda: comparison_sample_size(0.05, "0.1"),
        lambda: comparison_sample_size("0", "0.1"),
        lambda: comparison_pvalue("0.1", [2]),
        lambda: comparison_pvalue("0.1", [0], gamma=1),
        lambda: comparison_sample_size("0.1", "0.1", o1=-1),
        lambda: bravo_pvalue(10, 12, 1, 1),
        lambda: bravo_asn("0.4", "0.6", "0.1"),
        lambda: alpha_pvalue([2], estim=FixedEta(eta0="0.75")),
        lambda: alpha_pvalue([1], estim=FixedEta(eta0="0.75"), t=1),
        lambda: format_p(Fraction(-1)),
    ],
)
def test_bad_parameters_raise_usage_error(call: object) -> None:
    with pytest.raises(UsageError):
        call()  # type: ignore[operator]


@pytest.mark.parametrize("bad", [None, 3, "0.5", b"\x01", object()])
def test_draws_that_are_not_a_list_of_numbers_are_a_usage_error(bad: object) -> None:
    from electlog.rla.risk import overstatement_counts

    for call in (
        lambda: kaplan_markov_pvalue(bad),  # type: ignore[arg-type]
        lambda: overstatement_counts(bad),  # type: ignore[arg-type]
    ):
        with pytest.raises(UsageError, match="must be an iterable of numbers"):
            call()


def test_format_p_refuses_what_is_not_an_exact_number() -> None:
    from electlog.rla.risk import format_p

    assert format_p(Fraction(1, 3), 3) == "0.334"  # rounded up, never below the exact value
    for bad in (None, 0.5, "half"):
        with pytest.raises(UsageError, match="p-value"):
            format_p(bad)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="digits"):
        format_p(Fraction(1, 3), -1)
