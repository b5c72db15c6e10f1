"""Where a risk-limiting audit stands, from the replayed election state: the report section
(:func:`audit_section`, the JSON of ``Report.rla`` and of ``electlog rla status``) and the
findings only the whole log can show (:func:`audit_findings`).

Everything is a function of the log: two auditors (or two processes) give byte-identical JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, Final

import attrs

from electlog.election.codes import (
    RLA_CHECKPOINT_MISMATCH,
    RLA_EVENT_ORDER,
    RLA_MANIFEST_MISMATCH,
    RLA_ROUND_FROZEN,
)
from electlog.election.state import ElectionState
from electlog.election.state.audit_board import RoundAudit
from electlog.errors import ElectlogError

from .comparison import required_total
from .risk import format_p

__all__ = [
    "STATUS_CONFIRMED",
    "STATUS_FULL_HAND_COUNT",
    "STATUS_IN_PROGRESS",
    "STATUS_NEEDS_FULL_COUNT",
    "AuditFinding",
    "audit_findings",
    "audit_section",
    "next_draws",
    "render_html",
    "render_text",
    "round_status",
]

STATUS_CONFIRMED: Final = "confirmed"
STATUS_FULL_HAND_COUNT: Final = "full_hand_count"
STATUS_IN_PROGRESS: Final = "in_progress"
STATUS_NEEDS_FULL_COUNT: Final = "needs_full_hand_count"


@attrs.frozen(kw_only=True)
class AuditFinding:
    """A finding about the audit: the rule ``code`` (``rla.*``), entry ``index``, ``message``
    and ``evidence``."""

    code: str
    index: int | None
    message: str
    evidence: dict[str, Any]


def _confirmed(ra: RoundAudit) -> bool:
    return bool(ra.closed) and ra.closed[-1].confirmed and len(ra.closed) == ra.audit_round


def round_status(st: ElectionState, ra: RoundAudit) -> str:
    """``confirmed`` / ``full_hand_count`` (concluded so), ``needs_full_hand_count`` (a tie, a
    void round, no margin, or a required sample as large as the round), or ``in_progress``
    (a confirming audit round not concluded yet included)."""
    if ra.concluded is not None:
        return ra.concluded
    if ra.assertions.full_count is not None:
        return STATUS_NEEDS_FULL_COUNT
    params = st.audit.params
    if (
        params is not None
        and not _confirmed(ra)
        and required_total(ra.assertions, params, ra.measured) >= ra.assertions.ballots
    ):
        return STATUS_NEEDS_FULL_COUNT
    return STATUS_IN_PROGRESS


def next_draws(st: ElectionState, ra: RoundAudit) -> int:
    """Draws the next audit round of ``ra`` must add (0 when none is due: concluded, confirmed,
    an audit round open, or a full hand count needed)."""
    params = st.audit.params
    if params is None or round_status(st, ra) != STATUS_IN_PROGRESS or _confirmed(ra):
        return 0
    if len(ra.closed) < ra.audit_round:  # an audit round is open
        return 0
    need = required_total(ra.assertions, params, ra.measured)
    return max(1, need - len(ra.draws))


def _round_section(st: ElectionState, ra: RoundAudit) -> dict[str, Any]:
    risks = {m.assertion.id: m for m in ra.measured}
    assertions = []
    for a in ra.assertions.assertions:
        m = risks.get(a.id)
        entry = a.to_dict()
        entry["p_value"] = None if m is None else format_p(m.p_value)
        entry.update(m.counts if m is not None else {"o1": 0, "o2": 0, "u1": 0, "u2": 0})
        assertions.append(entry)
    not_found = sum(1 for v in ra.interpreted.values() if v is None)
    return {
        "community": ra.community,
        "round": ra.round,
        "status": round_status(st, ra),
        "full_count_reason": ra.assertions.full_count,
        "ballots": ra.assertions.ballots,
        "assertions": assertions,
        "manifest": [
            {
                "box": b.box,
                "units": list(b.units),
                "recorded": b.recorded,
                "sheets": ra.sheets[b.box][0] if b.box in ra.sheets else None,
            }
            for b in ra.batches
        ],
        "sample": list(ra.draws),
        "interpreted": len(ra.interpreted),
        "not_found": not_found,
        "audit_rounds": [
            {"audit_round": c.audit_round, "sampled": c.sampled, "confirmed": c.confirmed}
            for c in ra.closed
        ],
        "next_sample": next_draws(st, ra),
    }


def audit_section(st: ElectionState) -> dict[str, Any] | None:
    """The audit's JSON section (docs/rla.md, "Report"), ``None`` when no audit was declared."""
    au = st.audit
    d = au.declared
    if d is None:
        return None
    return {
        "declared_at": au.declared_index,
        "method": d.method,
        "risk_limit": d.risk_limit,
        "test": d.test,
        "replacement": d.replacement,
        "checkpoint": {"size": d.checkpoint_size, "root": d.checkpoint_root.hex()},
        "manifest_hash": d.manifest_hash.hex(),
        "seed": au.seed,
        "rounds": [_round_section(st, ra) for ra in au.rounds.values()],
    }


def pinned_checkpoint_problem(
    size: int,
    root: bytes,
    root_at: Callable[[int], bytes],
    witnessed: Collection[int] | None,
) -> str | None:
    """What is wrong with a checkpoint an audit board's event pins (``size``, ``root``), given the
    replayed tree's ``root_at(size)`` and the sizes of the ``witnessed`` checkpoints; None if it
    is the log's and was witnessed."""
    try:
        if root_at(size) != root:
            return "its root is not the replayed tree's"
    except ElectlogError:  # a size the replayed tree does not have
        return "the log has no such tree"
    if witnessed is not None and size not in witnessed:
        return "no witnessed checkpoint of that size was found"
    return None


def audit_findings(
    st: ElectionState,
    root_at: Callable[[int], bytes] | None = None,
    witnessed: Collection[int] | None = None,
) -> list[AuditFinding]:
    """What the fold could only note: ballots recorded into an audited round after the
    declaration (``rla.round_frozen``), box counts that differ from the recorded ballots
    (``rla.manifest_mismatch``) and, given the replayed tree's ``root_at(size)`` and the sizes
    of the ``witnessed`` checkpoints, a declaration pinning another checkpoint
    (``rla.checkpoint_mismatch``) and a seed drawn before a witnessed checkpoint covered the
    declaration (``rla.event_order``: witnesses only move forward, so a witnessed tree that holds
    the declaration and not yet the seed shows the declaration was public before the seed)."""
    au = st.audit
    out: list[AuditFinding] = []
    d = au.declared
    if d is None:
        return out
    for index, box in au.frozen:
        out.append(
            AuditFinding(
                code=RLA_ROUND_FROZEN,
                index=index,
                message=f"a ballot recorded from box {box} after the audit was declared",
                evidence={"box": box},
            )
        )
    for ra in au.rounds.values():
        recorded = {b.box: b.recorded for b in ra.batches}
        for box, (sheets, index) in ra.sheets.items():
            if sheets != recorded[box]:
                out.append(
                    AuditFinding(
                        code=RLA_MANIFEST_MISMATCH,
                        index=index,
                        message=f"{ra.community} round {ra.round}: box {box} holds {sheets} "
                        f"sheet(s), {recorded[box]} ballot(s) were recorded from it",
                        evidence={
                            "community": ra.community,
                            "round": ra.round,
                            "box": box,
                            "sheets": sheets,
                            "recorded": recorded[box],
                        },
                    )
                )
    if witnessed is not None and au.seed_index is not None and au.declared_index is not None:
        first, seed_at = au.declared_index, au.seed_index
        if not any(first < size <= seed_at for size in witnessed):
            out.append(
                AuditFinding(
                    code=RLA_EVENT_ORDER,
                    index=seed_at,
                    message="the seed was drawn before a witnessed checkpoint covered the audit "
                    f"declaration (no witnessed tree of size {first + 1} to {seed_at})",
                    evidence={"declared_at": first, "seed_at": seed_at},
                )
            )
    if root_at is not None:
        problem = pinned_checkpoint_problem(
            d.checkpoint_size, d.checkpoint_root, root_at, witnessed
        )
        if problem is not None:
            out.append(
                AuditFinding(
                    code=RLA_CHECKPOINT_MISMATCH,
                    index=au.declared_index,
                    message=f"the audit pins checkpoint size {d.checkpoint_size}: {problem}",
                    evidence={"size": d.checkpoint_size, "root": d.checkpoint_root.hex()},
                )
            )
    return out


def render_text(section: dict[str, Any]) -> list[str]:
    """The audit section as plain-text report lines."""
    lines = [
        f"risk-limiting audit: {section['method']} audit, risk limit {section['risk_limit']}, "
        f"{section['test']} {'with' if section['replacement'] else 'without'} replacement, "
        f"checkpoint size {section['checkpoint']['size']}, seed {section['seed'] or '(not drawn)'}"
    ]
    for r in section["rounds"]:
        rounds = ", ".join(
            f"#{a['audit_round']} {a['sampled']} draws "
            f"{'confirms' if a['confirmed'] else 'does not confirm'}"
            for a in r["audit_rounds"]
        )
        lines.append(
            f"  {r['community']} round {r['round']}: {r['status']}"
            f"{' (' + r['full_count_reason'] + ')' if r['full_count_reason'] else ''}; "
            f"{r['ballots']} ballots, {len(r['sample'])} draws, {r['interpreted']} interpreted "
            f"({r['not_found']} not found); audit rounds: {rounds or 'none'}; "
            f"next sample {r['next_sample']}"
        )
        for a in r["assertions"]:
            lines.append(
                f"    {a['id']:<40} margin {a['margin']:>9} p {a['p_value'] or '-':<22} "
                f"o1 {a['o1']} o2 {a['o2']} u1 {a['u1']} u2 {a['u2']}"
            )
    return lines


def render_html(section: dict[str, Any], escape: Callable[[object], str]) -> str:
    """The audit section as an HTML ``<section id="rla">`` (``escape`` is the report's)."""
    e = escape
    parts = [
        '<section id="rla"><h2>Risk-limiting audit</h2>',
        f"<p>{e(section['method'])} audit at risk limit {e(section['risk_limit'])}, "
        f"{e(section['test'])} {'with' if section['replacement'] else 'without'} replacement; "
        f"pinned checkpoint size {e(section['checkpoint']['size'])}; seed "
        f"{e(section['seed'] or '(not drawn)')}.</p>",
    ]
    for r in section["rounds"]:
        parts.append(
            f"<h3>{e(r['community'])} round {e(r['round'])}: {e(r['status'])}</h3>"
            f"<p>{e(r['ballots'])} ballots; {len(r['sample'])} draws; {e(r['interpreted'])} "
            f"interpreted, {e(r['not_found'])} not found; next sample {e(r['next_sample'])}.</p>"
        )
        rows = "".join(
            f'<tr><td>{e(a["id"])}</td><td class="num">{e(a["margin"])}</td>'
            f'<td class="num">{e(a["p_value"] or "-")}</td><td class="num">{e(a["o1"])}</td>'
            f'<td class="num">{e(a["o2"])}</td><td class="num">{e(a["u1"])}</td>'
            f'<td class="num">{e(a["u2"])}</td></tr>'
            for a in r["assertions"]
        )
        parts.append(
            '<table><thead><tr><th>assertion</th><th class="num">margin</th>'
            '<th class="num">p-value</th><th class="num">o1</th><th class="num">o2</th>'
            '<th class="num">u1</th><th class="num">u2</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>"
        )
    parts.append("</section>")
    return "".join(parts)
