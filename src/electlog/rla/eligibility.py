"""The eligibility sample's statistics and report section.

With ``k`` registrations checked and ``f`` failures, the failure rate of the whole roll is, at
confidence ``c`` (95 % by default), below the one-sided Clopper–Pearson upper bound: the ``p``
at which ``P(X <= f)`` for ``X ~ Binomial(k, p)`` falls to ``1 - c``. With no failures that
is ``1 - (1 - c) ** (1 / k)``: k = 59 gives 0.0495..., reported as "< 5% at 95%".

:func:`failure_bound` computes it exactly: the binomial tail is summed in
:class:`fractions.Fraction` (no floating point), and the bound is the smallest number of two
significant decimal digits whose tail is at most ``1 - c``, so the statement is never
stronger than the data allow.

:func:`eligibility_section` is the report's ``eligibility`` JSON (``None`` when the log holds no
eligibility sample), :func:`eligibility_findings` what only the whole log shows (a failed
registration, named by its entry; a pinned checkpoint that is not the log's witnessed one).
Everything is a function of the log: two auditors get byte-identical JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from decimal import Decimal
from fractions import Fraction
from math import comb
from typing import Any, Final

from electlog.election.codes import ELIGIBILITY_CHECKPOINT_MISMATCH, ELIGIBILITY_SAMPLE_FAILURE
from electlog.election.state import ElectionState
from electlog.election.state.eligibility import EligibilityState
from electlog.errors import UsageError

from .status import AuditFinding, pinned_checkpoint_problem

__all__ = [
    "DEFAULT_CONFIDENCE",
    "eligibility_findings",
    "eligibility_section",
    "failure_bound",
    "format_percent",
    "render_html",
    "render_text",
    "tail_probability",
]

DEFAULT_CONFIDENCE: Final = Fraction(95, 100)
"""The confidence of the reported bound (95 %)."""

_MAX_CHECKED: Final = 1_000_000


def _check(checked: object, failures: object, confidence: object) -> Fraction:
    if not isinstance(checked, int) or isinstance(checked, bool) or not checked > 0:
        raise UsageError(f"checked must be an int >= 1, got {checked!r}")
    if checked > _MAX_CHECKED:
        raise UsageError(f"checked must be at most {_MAX_CHECKED}, got {checked}")
    if not isinstance(failures, int) or isinstance(failures, bool) or not 0 <= failures <= checked:
        raise UsageError(f"failures must be an int from 0 to checked ({checked}), got {failures!r}")
    if not isinstance(confidence, Fraction) or not 0 < confidence < 1:
        raise UsageError(
            f"confidence must be a Fraction strictly between 0 and 1, got {confidence!r}"
        )
    return confidence


def tail_probability(checked: int, failures: int, rate: Fraction) -> Fraction:
    """``P(X <= failures)`` for ``X ~ Binomial(checked, rate)``, exactly."""
    if not isinstance(rate, Fraction) or not 0 <= rate <= 1:
        raise UsageError(f"rate must be a Fraction from 0 to 1, got {rate!r}")
    _check(checked, failures, DEFAULT_CONFIDENCE)
    q = 1 - rate
    return sum(
        (comb(checked, i) * rate**i * q ** (checked - i) for i in range(failures + 1)),
        Fraction(0),
    )


def failure_bound(
    checked: int, failures: int = 0, confidence: Fraction = DEFAULT_CONFIDENCE
) -> Fraction:
    """The upper confidence bound on the roll's failure rate after ``failures`` of ``checked``
    sampled registrations failed: the smallest decimal of two significant digits ``b`` with
    ``P(X <= failures) <= 1 - confidence`` at rate ``b`` (exact; 1 when every registration
    failed). :class:`~electlog.errors.UsageError` for a count or confidence out of range."""
    alpha = 1 - _check(checked, failures, confidence)
    if failures == checked:
        return Fraction(1)

    def ok(rate: Fraction) -> bool:
        return tail_probability(checked, failures, rate) <= alpha

    # the decade 10^e < bound <= 10^(e+1): the tail falls as the rate grows, and ok(1) holds
    e = -1
    while ok(Fraction(1, 10 ** (-e))):
        e -= 1
    unit = Fraction(1, 10 ** (1 - e))  # two significant digits: m * unit, m = 11 .. 100
    lo, hi = 10, 100  # ok(hi * unit), not ok(lo * unit)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid * unit):
            hi = mid
        else:
            lo = mid
    return hi * unit


def format_percent(rate: Fraction) -> str:
    """``rate`` as a percentage without trailing zeros (``Fraction(1, 20)`` -> ``"5"``,
    ``Fraction(96, 1000)`` -> ``"9.6"``); the rate must be a finite decimal."""
    return _decimal_text(rate * 100)


def _decimal_text(value: Fraction) -> str:
    d = Decimal(value.numerator) / Decimal(value.denominator)
    if d * value.denominator != value.numerator:
        raise UsageError(f"{value} is not a finite decimal")
    return format(d.normalize(), "f")


def _statement(checked: int, failures: int, confidence: Fraction) -> str:
    bound = failure_bound(checked, failures, confidence)
    at = format_percent(confidence)
    if bound == 1:
        return f"every sampled registration failed: no bound below 100% at {at}%"
    return f"< {format_percent(bound)}% at {at}%"


def eligibility_section(st: ElectionState | EligibilityState) -> dict[str, Any] | None:
    """The report's ``eligibility`` section (docs/auditing.md), ``None`` when no sample was
    drawn: where it was drawn, its pinned checkpoint, roll size, seed and k, the sampled voters
    in draw order and, once checked, the failures, the bound and its statement (``st``: the
    replayed state, or its :class:`EligibilityState` alone, as the sharded audit merges it)."""
    el = st if isinstance(st, EligibilityState) else st.eligibility
    d = el.drawn
    if d is None:
        return None
    c = el.checked
    section: dict[str, Any] = {
        "drawn_at": el.drawn_index,
        "checkpoint": {"size": d.checkpoint_size, "root": d.checkpoint_root.hex()},
        "roll_size": d.roll_size,
        "seed": d.seed,
        "k": len(d.voters),
        "sample": list(d.voters),
        "checked_at": el.checked_index,
        "checked": None,
        "failures": None,
        "confidence": format_percent(DEFAULT_CONFIDENCE),
        "bound": None,
        "statement": None,
    }
    if c is not None:
        bound = failure_bound(c.checked, len(c.failures))
        section.update(
            checked=c.checked,
            failures=[{"voter": v, "entry": el.sample_entries.get(v)} for v in c.failures],
            bound=_decimal_text(bound),
            statement=_statement(c.checked, len(c.failures), DEFAULT_CONFIDENCE),
        )
    return section


def eligibility_findings(
    st: ElectionState | EligibilityState,
    root_at: Callable[[int], bytes] | None = None,
    witnessed: Collection[int] | None = None,
) -> list[AuditFinding]:
    """Each failed registration of the sample's result (``eligibility.sample_failure``, at the
    voter's registration entry) and, given the replayed tree's ``root_at(size)`` and the sizes
    of the ``witnessed`` checkpoints, a draw pinning a checkpoint the log does not have or that
    no witness cosigned (``eligibility.checkpoint_mismatch``); ``st`` as for
    :func:`eligibility_section`."""
    el = st if isinstance(st, EligibilityState) else st.eligibility
    out: list[AuditFinding] = []
    d = el.drawn
    if d is None:
        return out
    if el.checked is not None:
        for v in el.checked.failures:
            entry = el.sample_entries.get(v)
            out.append(
                AuditFinding(
                    code=ELIGIBILITY_SAMPLE_FAILURE,
                    index=entry if entry is not None else el.checked_index,
                    message=f"sampled voter {v}'s registration"
                    + (f" (entry {entry})" if entry is not None else "")
                    + " failed the audit board's check against the paper records "
                    f"(result at entry {el.checked_index})",
                    evidence={"voter": v, "registered_at": entry, "checked_at": el.checked_index},
                )
            )
    if root_at is not None:
        problem = pinned_checkpoint_problem(
            d.checkpoint_size, d.checkpoint_root, root_at, witnessed
        )
        if problem is not None:
            out.append(
                AuditFinding(
                    code=ELIGIBILITY_CHECKPOINT_MISMATCH,
                    index=el.drawn_index,
                    message=f"the eligibility sample pins checkpoint size {d.checkpoint_size}: "
                    f"{problem}",
                    evidence={"size": d.checkpoint_size, "root": d.checkpoint_root.hex()},
                )
            )
    return out


def render_text(section: dict[str, Any]) -> list[str]:
    """The eligibility section as plain-text report lines."""
    head = (
        f"eligibility sample: k = {section['k']} of {section['roll_size']} registrations, "
        f"seed {section['seed']}, checkpoint size {section['checkpoint']['size']}"
    )
    if section["checked"] is None:
        return [head, "  not checked yet"]
    failures = section["failures"]
    lines = [
        head,
        f"  {section['checked']} checked, {len(failures)} failed: failure rate "
        f"{section['statement']}",
    ]
    for f in failures:
        lines.append(f"    failed: {f['voter']} (registration entry {f['entry']})")
    return lines


def render_html(section: dict[str, Any], escape: Callable[[object], str]) -> str:
    """The eligibility section as an HTML ``<section id="eligibility">`` (``escape`` is the
    report's)."""
    e = escape
    parts = [
        '<section id="eligibility"><h2>Eligibility sample</h2>',
        f"<p>k = {e(section['k'])} of {e(section['roll_size'])} registrations, seed "
        f"{e(section['seed'])}, pinned checkpoint size {e(section['checkpoint']['size'])}.</p>",
    ]
    if section["checked"] is None:
        parts.append("<p>Not checked yet.</p>")
    else:
        failures = section["failures"]
        parts.append(
            f"<p>{e(section['checked'])} checked, {len(failures)} failed: failure rate "
            f"<strong>{e(section['statement'])}</strong>.</p>"
        )
        if failures:
            rows = "".join(
                f'<tr><td>{e(f["voter"])}</td><td class="num">{e(f["entry"])}</td></tr>'
                for f in failures
            )
            parts.append(
                '<table><thead><tr><th>failed voter</th><th class="num">registration entry</th>'
                f"</tr></thead><tbody>{rows}</tbody></table>"
            )
    parts.append("</section>")
    return "".join(parts)
