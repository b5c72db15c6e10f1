"""The plain-text report: verdict and the first errors, then counts, checkpoint, tallies and every
finding."""

from __future__ import annotations

from typing import Any

from ..rla.eligibility import render_text as render_eligibility_text
from ..rla.status import render_text as render_rla_text
from .findings import Finding, Severity
from .report import Report

__all__ = ["render_tallies", "render_text"]


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _round_lines(number: str, rnd: dict[str, Any], electorate: int) -> list[str]:
    res = rnd["result"]
    declared = "not declared"
    if rnd["declared"]:
        declared = "declared, matches" if rnd["matches_declared"] else "declared, DIFFERS"
    void = f"  VOID ({res['void_reason']})" if res.get("round_void") else ""
    lines = [
        f"    round {number} ({rnd['kind']}): issued {res['issued']}, returned "
        f"{res['returned']} (turnout {_pct(res['returned'], electorate)}), valid {res['valid']}, "
        f"partly valid {res['partly_valid']}, void {res['void']}, blank {res['blank']}; "
        f"{declared}{void}"
    ]
    for post, pr in res["posts"].items():
        elected = ", ".join(f"{p} ({pr['counts'].get(p, 0)})" for p in pr["elected"]) or "nobody"
        extra = []
        if pr["tied"]:
            extra.append(f"tied: {', '.join(pr['tied'])}")
        if pr["unfilled"]:
            extra.append(f"{pr['unfilled']} unfilled")
        tail = f" [{'; '.join(extra)}]" if extra else ""
        lines.append(f"      {post} ({pr['seats']} seat(s)): elected {elected}{tail}")
        ranked = sorted(pr["counts"].items(), key=lambda kv: (-kv[1], kv[0]))
        lines.append("        " + ", ".join(f"{p} {n}" for p, n in ranked))
    return lines


def render_tallies(tallies: dict[str, Any], community: str | None = None) -> str:
    """The recomputed results per community, round and post (``community`` filters)."""
    lines: list[str] = []
    for cid, c in tallies.items():
        if community is not None and cid != community:
            continue
        lines.append(
            f"  {cid} {c['name']} ({c['mode']}): roll {c['roll']}, electorate {c['electorate']}"
        )
        for number, rnd in c["rounds"].items():
            lines.extend(_round_lines(number, rnd, c["electorate"]))
        for gid, g in c.get("groups", {}).items():
            res = g["result"]
            elected = "; ".join(
                f"{post}: {', '.join(pr['elected']) or 'nobody'}"
                for post, pr in res["posts"].items()
            )
            state = "matches" if g["matches_declared"] else "DIFFERS"
            if not g["declared"]:
                state = "not declared"
            lines.append(
                f"    group {gid}: {res['returned']} household ballots; {elected} ({state})"
            )
    return "\n".join(lines)


_FIRST_ERRORS = 3


def _finding_line(finding: Finding) -> str:
    where = "-" if finding.index is None else f"entry {finding.index}"
    return f"  {finding.severity.value.upper():<7} {where:<12} {finding.code}: {finding.message}"


def _first_errors(report: Report) -> list[str]:
    """The first few error findings right under the verdict (the full list ends the report,
    after the tallies)."""
    errors = [f for f in report.findings if f.severity is Severity.ERROR]
    if not errors:
        return []
    lines = [_finding_line(f) for f in errors[:_FIRST_ERRORS]]
    rest = len(report.findings) - len(lines)
    if rest > 0:
        lines.append(f"  ... {rest} more finding(s) listed at the end")
    return lines


def _sections(report: Report) -> list[str]:
    """The optional sections: the risk-limiting audit's, the eligibility sample's and the
    authorised tier's."""
    lines = [] if report.rla is None else render_rla_text(report.rla)
    if report.eligibility is not None:
        lines.extend(render_eligibility_text(report.eligibility))
    if report.authorised is not None:
        from .openings import render_text as render_authorised_text

        lines.extend(render_authorised_text(report.authorised))
    return lines


def render_text(report: Report) -> str:
    """The report as plain text (ends with a newline)."""
    c = report.counts
    f = c.findings
    if report.clean:
        tail = ""
    elif report.verdict == "clean_in_progress" and report.progress is not None:
        unfinished = len(report.progress["incomplete_communities"])
        tail = f"; {unfinished} of {len(report.communities)} communities not finished"
    else:
        tail = f" ({f['error']} error(s), {f['warning']} warning(s))"
    lines = [
        f"VERDICT: {report.verdict_line()}{tail}",
        *_first_errors(report),
        f"log          {report.origin}",
        f"source       {report.source}",
        f"entries      {c.entries} from {c.authors} author(s)",
        f"checkpoints  {c.checkpoints} found, {c.checkpoints_verified} verified",
    ]
    if report.checkpoint is not None:
        cp = report.checkpoint
        lines.append(
            f"latest witnessed checkpoint {cp['position']}: size {cp['size']} root {cp['root']}"
        )
        for w in cp["witnesses"]:
            lines.append(f"  cosigned by {w['name']} at {w['time']} ({w['timestamp']})")
        if not cp["witnesses"]:
            lines.append("  cosigned by no witness (the trust file's quorum is 0)")
    else:
        lines.append("latest witnessed checkpoint: NONE (no checkpoint verifies with the quorum)")
    for label, s in (("since", report.since), ("pinned", report.pinned)):
        if s is None:
            continue
        if not s.get("verified"):
            lines.append(f"{label:<12} the given checkpoint does not verify")
        else:
            state = "consistent" if s["consistent"] else "NOT consistent"
            lines.append(f"{label:<12} size {s['size']}: {state} with this log")
    if report.communities:
        lines.append("communities (phase reached)")
        for cid, cm in report.communities.items():
            where = "" if cm["round"] is None else f", round {cm['round']}"
            state = "complete" if cm["complete"] else "NOT complete"
            lines.append(f"  {cid:<12} {cm['phase']}{where}: {state}")
            lines.extend(f"    pending: {p}" for p in cm["pending"])
    run = report.run
    if run:
        lines.append(
            f"run          {run.get('jobs')} job(s), {run.get('signature_backend')}, "
            f"{run.get('elapsed_seconds')} s, {run.get('entries_per_second')} entries/s"
        )
        if run.get("replay"):  # which replay and engine ran (and why, if the default chose)
            lines.append(f"replay       {run['replay']}")
    lines.extend(_state_line(run))
    if c.events:
        lines.append("events")
        lines.extend(f"  {t:<36} {n:>9}" for t, n in sorted(c.events.items()))
    if report.tallies:
        lines.append("tallies (recomputed from the recorded ballots)")
        lines.append(render_tallies(report.tallies))
    lines.extend(_sections(report))
    lines.append(f"findings     {f['error']} error, {f['warning']} warning, {f['info']} info")
    lines.extend(_finding_line(finding) for finding in report.findings)
    return "\n".join(lines) + "\n"


def _state_line(run: dict[str, Any]) -> list[str]:
    """How a resumable audit used its state directory (``run.state``): one line, or none."""
    state = run.get("state")
    if not isinstance(state, dict):
        return []
    resumed, saved = state.get("resumed_from"), state.get("saved_at")
    parts = [str(state.get("directory"))]
    if state.get("full_audit"):
        parts.append(f"NOT resumed, audited in full: {state['full_audit']}")
    elif resumed:
        parts.append(f"resumed from size {resumed['size']} ({state.get('entries_read')} read)")
    else:
        parts.append("no saved state: audited in full")
    parts.append(
        f"saved at size {saved['size']}"
        if saved
        else f"not saved: {state.get('not_saved') or 'nothing new'}"
    )
    return [f"state        {'; '.join(parts)}"]
