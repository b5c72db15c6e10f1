"""The audit report: verdict, counts, tallies and findings (docs/auditing.md, "JSON report")."""

from __future__ import annotations

import json
from typing import Any, Final

import attrs

from .findings import Finding, Severity

__all__ = ["REPORT_SCHEMA", "VERDICT_CLEAN", "VERDICT_FINDINGS", "Counts", "Report"]

REPORT_SCHEMA: Final = "electlog-audit-report/1"
"""The ``schema`` value of every report of this format (JSON output)."""

VERDICT_CLEAN: Final = "clean"
VERDICT_FINDINGS: Final = "findings"


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

    ``verdict`` is ``"clean"`` when no finding of severity ``error`` or ``warning`` was made,
    else ``"findings"``. ``tallies`` maps each community id to its recomputed rounds (see
    docs/auditing.md). ``checkpoint`` describes the largest checkpoint that verified and matches
    the replayed tree (``size``, ``root`` hex, ``witnesses``), or is ``None``. ``since`` describes
    the ``--since`` checkpoint when one was given. ``run`` holds how the audit ran (jobs, signature
    backend, seconds): informative, not part of the verdict.
    """

    verdict: str
    origin: str
    source: str
    counts: Counts
    tallies: dict[str, Any]
    findings: tuple[Finding, ...]
    checkpoint: dict[str, Any] | None = None
    since: dict[str, Any] | None = None
    run: dict[str, Any] = attrs.field(factory=dict)
    schema: str = REPORT_SCHEMA

    @property
    def clean(self) -> bool:
        """Whether the verdict is clean."""
        return self.verdict == VERDICT_CLEAN

    def codes(self) -> set[str]:
        """The set of finding codes present."""
        return {f.code for f in self.findings}

    def by_code(self, code: str) -> list[Finding]:
        """The findings with ``code``, in report order."""
        return [f for f in self.findings if f.code == code]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object (schema :data:`REPORT_SCHEMA`, documented in docs/auditing.md)."""
        return {
            "schema": self.schema,
            "verdict": self.verdict,
            "origin": self.origin,
            "source": self.source,
            "counts": self.counts.to_dict(),
            "checkpoint": self.checkpoint,
            "since": self.since,
            "tallies": self.tallies,
            "findings": [f.to_dict() for f in self.findings],
            "run": dict(self.run),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text (UTF-8, keys in schema order)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False) + "\n"


def verdict_of(findings: tuple[Finding, ...]) -> str:
    """``"findings"`` if any finding is an error or a warning, else ``"clean"``."""
    for f in findings:
        if f.severity is not Severity.INFO:
            return VERDICT_FINDINGS
    return VERDICT_CLEAN
