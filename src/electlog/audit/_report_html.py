"""The HTML report: one self-contained file, readable offline and in any browser.

Inline CSS, inline SVG charts, no script, no font, no image or stylesheet fetched from anywhere
(a Content-Security-Policy ``default-src 'none'`` in the page says so to the browser too). The
verdict comes first, big and coloured; then the summary, the findings table (evidence in
``<details>``), turnout per community and the results per post as SVG bar charts.
"""

from __future__ import annotations

import html
import json
import unicodedata
from typing import Any, Final

from .. import __version__
from ..rla.eligibility import render_html as render_eligibility_html
from ..rla.status import render_html as render_rla_html
from .report import Report

__all__ = ["render_html"]

_CSS: Final = """
:root { --ok: #17663a; --bad: #a4161a; --warn: #8a5a00; --ink: #1b1b1b; --mute: #5c5c5c;
  --line: #d9d9d9; --bar: #4a6fa5; --win: #17663a; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
  margin: 0 auto; max-width: 1100px; padding: 0 1.2rem 3rem; }
header.verdict { margin: 1.2rem 0; padding: 1.4rem 1.6rem; border-radius: 10px; color: #fff; }
header.verdict.clean { background: var(--ok); }
header.verdict.findings { background: var(--bad); }
header.verdict.incomplete { background: var(--warn); }
header.verdict.clean_in_progress { background: var(--bar); }
header.verdict h1 { margin: 0; font-size: 2.6rem; letter-spacing: .02em; }
header.verdict p { margin: .4rem 0 0; font-size: 1.05rem; }
h2 { border-bottom: 2px solid var(--line); padding-bottom: .2rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .3rem .5rem;
  border-bottom: 1px solid var(--line); }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font: 13px/1.35 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { white-space: pre-wrap; word-break: break-all; margin: .3rem 0; }
.sev { font-weight: 700; text-transform: uppercase; font-size: .8rem; }
.sev.error { color: var(--bad); }
.sev.warning { color: var(--warn); }
.sev.info { color: var(--mute); }
.muted { color: var(--mute); }
svg text { font: 12px system-ui, sans-serif; fill: var(--ink); }
svg { max-width: 100%; height: auto; }
svg text.writein { font-style: italic; }
figure { margin: 1rem 0; }
figcaption { font-weight: 600; margin-bottom: .3rem; }
td, th, h1, h3, figcaption, p { overflow-wrap: break-word; }
td code { word-break: break-all; }
.key { display: inline-block; width: .8em; height: .8em; margin: 0 .25em 0 .6em;
  vertical-align: -.05em; }
@media (max-width: 640px) {
  body { padding: 0 .6rem 2rem; font-size: 14px; }
  header.verdict { padding: 1rem; }
  header.verdict h1 { font-size: 1.7rem; }
  th, td { padding: .25rem .3rem; }
}
"""

_LISTED: Final = "#4a6fa5"
"""Bar colour of a listed candidate (not elected)."""
_WRITE_IN: Final = "#b07cc6"
"""Bar colour of a write-in person (not elected)."""
_ELECTED: Final = "#17663a"
_OTHERS: Final = "#9a9a9a"
WRITE_IN_MIN_SHARE: Final = 0.05
"""A write-in person not elected or tied gets a bar of their own only with at least this share
of the ballots returned (and at least 2 votes); the rest are one "others" bar."""
WRITE_IN_MAX_BARS: Final = 5
"""At most this many write-in bars of their own per post (more when more are elected or tied);
the rest are one "others" bar."""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


_MAX_LABEL_W: Final = 300
"""Widest label column of a bar chart (SVG units); longer labels end in "…" (the full label
stays in the bar's tooltip)."""


def _text_width(text: str) -> int:
    """Estimated width of ``text`` at the charts' 12 px font: 12 per wide (CJK) character,
    7 per other character."""
    return sum(12 if unicodedata.east_asian_width(ch) in "WF" else 7 for ch in text)


def _fit(text: str, width: int) -> str:
    """``text``, shortened with "…" to fit ``width``."""
    if _text_width(text) <= width:
        return text
    while text and _text_width(text) + 12 > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _bar_chart(
    rows: list[tuple[str, float, str, str]],
    *,
    maximum: float,
    marker: float | None = None,
    marker_label: str = "",
    width: int = 760,
    italic: frozenset[int] = frozenset(),
) -> str:
    """Horizontal bars: ``(label, value, value text, colour)`` per row (rows whose position is
    in ``italic`` get an italic label). The SVG scales down to narrow screens (CSS)."""
    shown = [_fit(label, _MAX_LABEL_W - 16) for label, _, _, _ in rows]
    longest = max((_text_width(label) for label in shown), default=0)
    label_w = max(120, min(_MAX_LABEL_W, longest + 16))
    text_w, row_h = 190, 24
    plot_w = width - label_w - text_w
    height = row_h * len(rows) + 26
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">'
    ]
    for i, (label, value, text, colour) in enumerate(rows):
        y = 6 + i * row_h
        w = 0.0 if maximum <= 0 else max(0.0, min(1.0, value / maximum)) * plot_w
        cls = ' class="writein"' if i in italic else ""
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end"{cls}>{_e(shown[i])}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row_h - 8}" '
            f'fill="{colour}"><title>{_e(label)}: {_e(text)}</title></rect>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}">{_e(text)}</text>'
        )
    if marker is not None and maximum > 0:
        x = label_w + min(1.0, marker / maximum) * plot_w
        parts.append(
            f'<line x1="{x:.1f}" y1="2" x2="{x:.1f}" y2="{height - 18}" stroke="#a4161a" '
            f'stroke-dasharray="4 3"/><text x="{x:.1f}" y="{height - 4}" text-anchor="middle" '
            f'fill="#a4161a">{_e(marker_label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _post_rows(
    pr: dict[str, Any], returned: int
) -> tuple[list[tuple[str, float, str, str]], frozenset[int]]:
    """The bars of one post: every listed candidate, then write-ins (italic) with enough votes
    or elected or tied, then one "others" bar for the remaining write-ins."""
    counts: dict[str, int] = pr["counts"]
    listed = set(pr["against"])  # against-marks are kept for every listed candidate
    elected, tied = set(pr["elected"]), set(pr.get("tied", ()))
    floor = max(2, int(WRITE_IN_MIN_SHARE * returned + 0.999999))
    room = max(WRITE_IN_MAX_BARS, len((elected | tied) - listed))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    small = [p for p, n in ranked if p not in listed and p not in elected | tied and n < floor]
    if len(small) == 1:  # one name is shown as itself, not as "others: 1 name"
        floor = 0
    rows: list[tuple[str, float, str, str]] = []
    italic: set[int] = set()
    others_names = others_votes = 0
    for person, n in ranked:
        mark = " ✓" if person in elected else ""
        if person in listed:
            rows.append((person, float(n), f"{n}{mark}", _ELECTED if mark else _LISTED))
            continue
        if person in elected or person in tied or (n >= floor and room > 0):
            room -= 1
            italic.add(len(rows))
            colour = _ELECTED if mark else _WRITE_IN
            rows.append((person, float(n), f"{n}{mark} · write-in", colour))
            continue
        others_names += 1
        others_votes += n
    if others_names:
        rows.append(
            (
                "others",
                float(others_votes),
                f"others: {_plural(others_names, 'name')}, {_plural(others_votes, 'vote')}",
                _OTHERS,
            )
        )
        italic.add(len(rows) - 1)
    return rows, frozenset(italic)


_LEGEND: Final = (
    f'<span class="muted"><span class="key" style="background:{_LISTED}"></span>listed '
    f'candidate<span class="key" style="background:{_WRITE_IN}"></span><em>write-in</em>'
    f'<span class="key" style="background:{_ELECTED}"></span>elected ✓'
    f'<span class="key" style="background:{_OTHERS}"></span><em>others</em>: write-ins with '
    "few votes, together</span>"
)


def _turnout_section(tallies: dict[str, Any]) -> str:
    rows: list[tuple[str, float, str, str]] = []
    for cid, c in tallies.items():
        electorate = int(c["electorate"])
        first = c["rounds"].get("1")
        returned = int(first["result"]["returned"]) if first else 0
        share = returned / electorate if electorate else 0.0
        colour = "#17663a" if share > 0.5 else "#a4161a"
        rows.append((f"{cid} {c['name']}", share, f"{share:.1%} ({returned}/{electorate})", colour))
    if not rows:
        return ""
    chart = _bar_chart(rows, maximum=1.0, marker=0.5, marker_label="½ of registered")
    return (
        '<section id="turnout"><h2>Turnout per community (round 1)</h2>'
        f'<figure>{chart}<figcaption class="muted">Ballots returned as a share of the '
        "electorate; a round needs more than half.</figcaption></figure></section>"
    )


def _results_section(tallies: dict[str, Any]) -> str:
    out = [
        '<section id="results"><h2>Results recomputed from the recorded ballots</h2>'
        f"<p>{_LEGEND}</p>"
    ]
    for cid, c in tallies.items():
        out.append(
            f'<h3>{_e(cid)} — {_e(c["name"])} <span class="muted">({_e(c["mode"])}, '
            f"roll {_e(c['roll'])})</span></h3>"
        )
        for number, rnd in c["rounds"].items():
            res = rnd["result"]
            if rnd["declared"]:
                state = (
                    "matches the declared result"
                    if rnd["matches_declared"]
                    else ("<strong>differs from the declared result</strong>")
                )
            else:
                state = "no result declared"
            void = " — <strong>round void</strong>" if res.get("round_void") else ""
            out.append(
                f"<p>Round {_e(number)} ({_e(rnd['kind'])}): {_e(res['returned'])} ballots "
                f"returned of {_e(res['issued'])} issued; {state}{void}.</p>"
            )
            for post, pr in res["posts"].items():
                rows, italic = _post_rows(pr, int(res["returned"]))
                maximum = float(max([res["returned"], 1]))
                chart = _bar_chart(
                    rows,
                    maximum=maximum,
                    marker=float(res["min_votes"]),
                    marker_label=f"{res['min_votes']} needed",
                    italic=italic,
                )
                out.append(
                    f"<figure><figcaption>{_e(post)} — {_e(pr['seats'])} seat(s); elected: "
                    f"{_e(', '.join(pr['elected']) or 'nobody')}</figcaption>{chart}</figure>"
                )
    out.append("</section>")
    return "".join(out)


def _findings_section(report: Report) -> str:
    if not report.findings:
        return '<section id="findings"><h2>Findings</h2><p>None: every check passed.</p></section>'
    rows = []
    for f in report.findings:
        evidence = json.dumps(f.evidence, indent=1, ensure_ascii=False)
        where = "—" if f.index is None else str(f.index)
        rows.append(
            f'<tr><td class="sev {_e(f.severity.value)}">{_e(f.severity.value)}</td>'
            f'<td><code>{_e(f.code)}</code></td><td class="num">{_e(where)}</td>'
            f"<td>{_e(f.message)}<details><summary>evidence</summary><pre>{_e(evidence)}</pre>"
            "</details></td></tr>"
        )
    return (
        '<section id="findings"><h2>Findings</h2><table><thead><tr><th>severity</th>'
        "<th>code</th><th>entry</th><th>what</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></section>"
    )


def _summary_section(report: Report) -> str:
    c = report.counts
    rows = [
        ("log (origin)", f"<code>{_e(report.origin)}</code>"),
        ("source", _e(report.source)),
        ("entries", f"{c.entries:,} from {c.authors} author(s)"),
        ("checkpoints", f"{c.checkpoints} found, {c.checkpoints_verified} verified"),
    ]
    if report.checkpoint is not None:
        cp = report.checkpoint
        cosigners = "".join(
            f"<li>{_e(w['name'])}: {_e(w['time'])} (<code>{_e(w['timestamp'])}</code>)</li>"
            for w in cp["witnesses"]
        )
        rows.append(
            (
                "latest witnessed checkpoint",
                f'<span id="latest-checkpoint">checkpoint {_e(cp["position"])}, size '
                f"{cp['size']:,}, root <code>{_e(cp['root'])}</code>; cosigned by:</span>"
                f"<ul>{cosigners or '<li>no witness (quorum 0)</li>'}</ul>",
            )
        )
    else:
        rows.append(
            (
                "latest witnessed checkpoint",
                '<span id="latest-checkpoint"><strong>none</strong>: no checkpoint in the copy '
                "verifies with the witness quorum</span>",
            )
        )
    for label, s in (
        ("earlier checkpoint (--since)", report.since),
        ("pinned checkpoint (trust file)", report.pinned),
    ):
        if s is None:
            continue
        text = "does not verify"
        if s.get("verified"):
            text = f"size {s['size']:,}: " + (
                "consistent with this log"
                if s["consistent"]
                else "<strong>NOT extended by this log</strong> (rollback or fork: see the "
                "findings)"
            )
        rows.append((label, text))
    f = c.findings
    rows.append(("findings", f"{f['error']} error, {f['warning']} warning, {f['info']} info"))
    if report.run:
        r = report.run
        rows.append(
            (
                "run",
                f"{_e(r.get('jobs'))} job(s), {_e(r.get('signature_backend'))}, "
                f"{_e(r.get('elapsed_seconds'))} s",
            )
        )
        if r.get("replay"):
            rows.append(("replay", _e(r["replay"])))
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<section id="summary"><h2>Summary</h2><table>{body}</table></section>'


def _events_section(report: Report) -> str:
    events = "".join(
        f'<tr><td><code>{_e(t)}</code></td><td class="num">{n:,}</td></tr>'
        for t, n in sorted(report.counts.events.items())
    )
    if not events:
        return ""
    return (
        '<section id="events"><h2>Events in the log</h2><table><thead><tr><th>type</th>'
        f'<th class="num">count</th></tr></thead><tbody>{events}</tbody></table></section>'
    )


def _communities_section(report: Report) -> str:
    if not report.communities:
        return ""
    rows = []
    for cid, c in report.communities.items():
        state = "complete" if c["complete"] else "<strong>not complete</strong>"
        pending = "".join(f"<li>{_e(p)}</li>" for p in c["pending"])
        rows.append(
            f"<tr><td><code>{_e(cid)}</code></td><td>{_e(c['phase'])}</td>"
            f'<td class="num">{_e("—" if c["round"] is None else c["round"])}</td>'
            f"<td>{state}{f'<ul>{pending}</ul>' if pending else ''}</td></tr>"
        )
    return (
        '<section id="communities"><h2>Phase reached per community</h2><table><thead><tr>'
        '<th>community</th><th>phase</th><th class="num">latest round</th><th>state</th>'
        "</tr></thead><tbody>" + "".join(rows) + "</tbody></table></section>"
    )


def _authorised_html(section: dict[str, Any]) -> str:
    from .openings import render_html as render_authorised_html

    return render_authorised_html(section, _e)


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    verdict = report.verdict_line() if not report.clean else "CLEAN"
    f = report.counts.findings
    if report.clean:
        sentence = (
            f"All {report.counts.entries:,} entries, every checkpoint and every election rule "
            "verified against your trust file; every community's election is complete."
        )
    elif report.verdict == "clean_in_progress":
        sentence = (
            "Nothing is wrong with what the log holds so far; the election is not finished "
            "(in-progress audit)."
        )
    elif report.verdict == "incomplete":
        sentence = (
            "Nothing is wrong with what the log holds, but the election is not complete in it "
            "or entries are not witnessed: see the communities and findings below."
        )
    else:
        sentence = f"{f['error']} error(s) and {f['warning']} warning(s) found: see below."
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>electlog audit: {_e(verdict)} — {_e(report.origin)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f'<header class="verdict {_e(report.verdict)}"><h1 id="verdict">Verdict: {_e(verdict)}'
        f"</h1><p>{_e(sentence)}</p></header>",
        _summary_section(report),
        _communities_section(report),
        _findings_section(report),
        _turnout_section(report.tallies),
        _results_section(report.tallies) if report.tallies else "",
        "" if report.rla is None else render_rla_html(report.rla, _e),
        "" if report.eligibility is None else render_eligibility_html(report.eligibility, _e),
        "" if report.authorised is None else _authorised_html(report.authorised),
        _events_section(report),
        f'<footer class="muted"><p>Report schema <code>{_e(report.schema)}</code>, written by '
        f"electlog {_e(__version__)}. A clean verdict says the copy you audited is what the "
        "signers signed and the checkpoints commit to, that every rule held and that the election "
        "is complete; see "
        "docs/auditing.md for what it does not prove.</p></footer>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
