"""The audit report: verdict, counts, tallies and findings (docs/auditing.md, "JSON report")."""

from __future__ import annotations

import json
from typing import Any, Final

import attrs

from ..election.tally import RoundResult
from ..errors import UsageError
from .findings import (
    AUDIT_FINDINGS_CAPPED,
    ELECTION_INCOMPLETE,
    LOG_UNWITNESSED_TAIL,
    Finding,
    Severity,
    finding_info,
)
from .results import CommunityResults

__all__ = [
    "INCOMPLETE_CODES",
    "REPORT_SCHEMA",
    "VERDICTS",
    "VERDICT_CLEAN",
    "VERDICT_CLEAN_IN_PROGRESS",
    "VERDICT_FINDINGS",
    "VERDICT_INCOMPLETE",
    "Counts",
    "Report",
    "severity_counts",
    "verdict_of",
]

REPORT_SCHEMA: Final = "electlog-audit-report/2"
"""The ``schema`` value of every report of this format (JSON output)."""

VERDICT_CLEAN: Final = "clean"
"""Intact, every rule held, every result matches, every community complete, every entry
witnessed (exit status 0)."""
VERDICT_INCOMPLETE: Final = "incomplete"
"""Nothing is wrong with what is there, but the election is not finished in the log or entries
are not witnessed (exit status 1)."""
VERDICT_FINDINGS: Final = "findings"
"""Errors or warnings other than incompleteness (exit status 1)."""
VERDICT_CLEAN_IN_PROGRESS: Final = "clean_in_progress"
"""An in-progress audit (``in_progress=True``) of an incomplete but otherwise clean log: clean
so far, up to the phase and checkpoint in ``Report.progress`` (exit status 0)."""
VERDICTS: Final = (VERDICT_CLEAN, VERDICT_INCOMPLETE, VERDICT_FINDINGS, VERDICT_CLEAN_IN_PROGRESS)

INCOMPLETE_CODES: Final = frozenset({ELECTION_INCOMPLETE, LOG_UNWITNESSED_TAIL})
"""The finding codes that only say the log is not finished (verdict ``incomplete``, or clean so
far in an in-progress audit)."""


@attrs.frozen(kw_only=True)
class Counts:
    """What the audit saw.

    ``entries``: entries read (bad ones included); ``authors``: distinct signing keys with at
    least one valid entry; ``checkpoints``: checkpoint notes found in the source;
    ``checkpoints_verified``: of those, how many carry a valid log signature and the witness
    quorum; ``findings``: findings per severity (every severity present, zero included);
    ``events``: valid entries per event type.
    """

    entries: int
    authors: int
    checkpoints: int
    checkpoints_verified: int
    findings: dict[str, int]
    events: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "entries": self.entries,
            "authors": self.authors,
            "checkpoints": self.checkpoints,
            "checkpoints_verified": self.checkpoints_verified,
            "findings": dict(self.findings),
            "events": dict(sorted(self.events.items())),
        }


@attrs.frozen(kw_only=True)
class Report:
    """The result of :func:`electlog.audit.audit`.

    ``verdict`` is one of :data:`VERDICTS`: ``"clean"`` when no finding of severity ``error``
    or ``warning`` was made (so every community is complete and every entry witnessed);
    ``"incomplete"`` when the only such findings are ``election.incomplete`` and
    ``log.unwitnessed_tail``; ``"clean_in_progress"`` instead of ``"incomplete"`` when the audit
    was asked for in progress; else ``"findings"``. ``tallies`` maps each community id to its
    recomputed rounds as JSON and ``communities`` to the phase it reached (see docs/auditing.md);
    ``results`` holds the same results as typed objects
    (``report.results["c1"].rounds[1].posts["director"].elected``; :meth:`result` is the
    short form), each ``to_dict()`` giving the JSON in ``tallies``.
    ``checkpoint`` describes the largest checkpoint that verified with the witness quorum and
    matches the replayed tree (``size``, ``root`` hex, ``witnesses`` with their timestamps,
    ``note``, ``position``), or is ``None``. ``since`` / ``pinned`` describe the ``--since``
    checkpoint and the trust file's pinned one when given. ``progress`` (in-progress audits)
    says how far the log got. ``run`` holds how the audit ran (jobs, signature backend, seconds):
    informative, not part of the verdict.
    """

    verdict: str
    origin: str
    source: str
    counts: Counts
    tallies: dict[str, Any]
    findings: tuple[Finding, ...]
    checkpoint: dict[str, Any] | None = None
    since: dict[str, Any] | None = None
    pinned: dict[str, Any] | None = None
    communities: dict[str, Any] = attrs.field(factory=dict)
    progress: dict[str, Any] | None = None
    run: dict[str, Any] = attrs.field(factory=dict)
    schema: str = REPORT_SCHEMA
    results: dict[str, CommunityResults] = attrs.field(factory=dict)
    rla: dict[str, Any] | None = None
    """The risk-limiting audit's section (docs/rla.md, "Report"), ``None`` when the log has no
    ``audit.declared``; in the JSON only when present."""
    eligibility: dict[str, Any] | None = None
    """The eligibility sample's section (docs/auditing.md, "Eligibility sample"), ``None`` when
    the log has no ``eligibility.sample_drawn``; in the JSON only when present."""
    authorised: dict[str, Any] | None = None
    """The authorised tier's section (docs/auditing.md, "The authorised tier"): the openings it
    checked, ``None`` for a public audit; in the JSON only when present."""

    @property
    def tier(self) -> str:
        """Which tier ran: ``"authorised"`` when openings were checked, else ``"public"``."""
        return "public" if self.authorised is None else "authorised"

    def result(self, community: str, round: int = 1) -> RoundResult:
        """The recomputed result of ``community``'s round ``round`` (default the first):
        ``report.result("c1").posts["director"].elected``. :class:`UsageError` naming the
        communities or rounds there are when there is no such result."""
        c = self.results.get(community)
        if c is None:
            known = ", ".join(self.results) or "none"
            raise UsageError(f"no results for community {community!r} (communities: {known})")
        r = c.rounds.get(round)
        if r is None:
            known = ", ".join(str(n) for n in c.rounds) or "none"
            raise UsageError(f"community {community!r} has no round {round} (rounds: {known})")
        return r.result

    @property
    def clean(self) -> bool:
        """Whether the verdict is ``clean``: intact, every rule held, complete and witnessed."""
        return self.verdict == VERDICT_CLEAN

    @property
    def complete(self) -> bool:
        """Whether every community's election is complete and every entry is witnessed (no
        ``election.incomplete`` or ``log.unwitnessed_tail`` finding)."""
        return not any(f.code in INCOMPLETE_CODES for f in self.findings)

    @property
    def clean_so_far(self) -> bool:
        """Whether nothing is wrong with what the log holds: ``clean``, or ``clean_in_progress``
        in an in-progress audit."""
        return self.verdict in (VERDICT_CLEAN, VERDICT_CLEAN_IN_PROGRESS)

    @property
    def exit_status(self) -> int:
        """``electlog verify``'s exit status for this report: 0 clean (or clean so far in an
        in-progress audit), 1 otherwise."""
        return 0 if self.clean_so_far else 1

    def verdict_line(self) -> str:
        """The verdict in words: ``CLEAN``, ``INCOMPLETE``, ``FINDINGS`` or ``clean so far, up
        to <phase> at checkpoint N (size S)``."""
        if self.verdict == VERDICT_CLEAN_IN_PROGRESS and self.progress is not None:
            p = self.progress
            at = (
                f"checkpoint {p['checkpoint']} (size {p['checkpoint_size']})"
                if p.get("checkpoint") is not None
                else "no witnessed checkpoint"
            )
            upto = p["phase"] if p.get("phase") is not None else f"entry {p['entries']}"
            return f"clean so far, up to {upto} at {at}"
        return self.verdict.upper()

    def codes(self) -> set[str]:
        """The set of finding codes present."""
        return {f.code for f in self.findings}

    def by_code(self, code: str) -> list[Finding]:
        """The findings with ``code``, in report order."""
        return [f for f in self.findings if f.code == code]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object (schema :data:`REPORT_SCHEMA`, documented in docs/auditing.md)."""
        return (
            {
                "schema": self.schema,
                "verdict": self.verdict,
                "origin": self.origin,
                "source": self.source,
                "counts": self.counts.to_dict(),
                "checkpoint": self.checkpoint,
                "since": self.since,
                "pinned": self.pinned,
                "communities": self.communities,
                "progress": self.progress,
                "tallies": self.tallies,
                "findings": [f.to_dict() for f in self.findings],
                "run": dict(self.run),
            }
            | ({} if self.rla is None else {"rla": self.rla})
            | ({} if self.eligibility is None else {"eligibility": self.eligibility})
            | ({} if self.authorised is None else {"authorised": self.authorised})
        )

    def to_frames(self) -> dict[str, Any]:
        """The results, turnout and findings as pandas DataFrames, keyed ``"results"``,
        ``"turnout"`` and ``"findings"`` (columns: :mod:`electlog.audit.tables`). pandas is the
        optional ``frames`` extra: :class:`UsageError` naming it when it is missing."""
        from .tables import to_frames

        return to_frames(self)

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text (UTF-8, keys in schema order)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False) + "\n"

    def to_text(self) -> str:
        """The plain-text report (what ``electlog verify`` prints): the verdict and the first
        errors, then counts, the latest witnessed checkpoint, tallies and every finding."""
        from ._report_text import render_text

        return render_text(self)

    def to_html(self) -> str:
        """The report as one self-contained HTML page (inline CSS and SVG, nothing fetched;
        what ``electlog verify --html`` writes)."""
        from ._report_html import render_html

        return render_html(self)


def severity_counts(findings: tuple[Finding, ...]) -> dict[str, int]:
    """Findings per severity (every severity, zero included); a capped code counts in full."""
    by_severity = {s.value: 0 for s in Severity}
    for f in findings:
        if f.code != AUDIT_FINDINGS_CAPPED:
            by_severity[f.severity.value] += 1
    for f in findings:
        if f.code == AUDIT_FINDINGS_CAPPED:
            capped = str(f.evidence["code"])
            sev = finding_info(capped).severity.value
            by_severity[sev] += int(f.evidence["total"]) - int(f.evidence["listed"])
            by_severity[f.severity.value] += 1
    return by_severity


def verdict_of(findings: tuple[Finding, ...], *, in_progress: bool = False) -> str:
    """The verdict of ``findings``: ``"findings"`` if an error or warning other than
    :data:`INCOMPLETE_CODES` was made; else ``"incomplete"`` (``"clean_in_progress"`` when
    ``in_progress``) if one of those was made; else ``"clean"``."""
    incomplete = False
    for f in findings:
        if f.severity is Severity.INFO:
            continue
        if f.code in INCOMPLETE_CODES:
            incomplete = True
            continue
        if f.code == AUDIT_FINDINGS_CAPPED and f.evidence.get("code") in INCOMPLETE_CODES:
            incomplete = True
            continue
        return VERDICT_FINDINGS
    if incomplete:
        return VERDICT_CLEAN_IN_PROGRESS if in_progress else VERDICT_INCOMPLETE
    return VERDICT_CLEAN
