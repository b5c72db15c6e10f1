"""The JSON report (schema ``electlog-audit-report/2``, documented in docs/auditing.md).

The schema is stable: fields are only ever added in a new schema version. :data:`REPORT_FIELDS`,
:data:`COUNTS_FIELDS`, :data:`FINDING_FIELDS` and :data:`RUN_FIELDS` list the fields in order
(a test checks them against docs/auditing.md and against real reports).
"""

from __future__ import annotations

from typing import Any, Final

from ..errors import UsageError
from .report import INCOMPLETE_CODES, REPORT_SCHEMA, VERDICTS, Report

__all__ = [
    "AUTHORISED_FIELDS",
    "CHECKPOINT_FIELDS",
    "COMMUNITY_FIELDS",
    "COUNTS_FIELDS",
    "FINDING_FIELDS",
    "OPTIONAL_REPORT_FIELDS",
    "OPTIONAL_RUN_FIELDS",
    "PROGRESS_FIELDS",
    "REPORT_FIELDS",
    "REPORT_SCHEMA",
    "RLA_FIELDS",
    "RUN_FIELDS",
    "WITNESS_FIELDS",
    "render_json",
    "validate_report_dict",
]

REPORT_FIELDS: Final = (
    "schema",
    "verdict",
    "origin",
    "source",
    "counts",
    "checkpoint",
    "since",
    "pinned",
    "communities",
    "progress",
    "tallies",
    "findings",
    "run",
)
OPTIONAL_REPORT_FIELDS: Final = ("rla", "eligibility", "authorised")
"""Top-level fields after :data:`REPORT_FIELDS` only when there is something to say, in this
order: ``rla``, the risk-limiting audit (docs/rla.md), only in the report of a log that declares
one; ``eligibility``, the eligibility sample, only in the report of a log that draws one;
``authorised``, the authorised tier (:data:`AUTHORISED_FIELDS`), only when openings were
checked."""
AUTHORISED_FIELDS: Final = ("tier", "election", "checkpoint", "openings", "checked", "rules")
ELIGIBILITY_FIELDS: Final = (
    "drawn_at",
    "checkpoint",
    "roll_size",
    "seed",
    "k",
    "sample",
    "checked_at",
    "checked",
    "failures",
    "confidence",
    "bound",
    "statement",
)
RLA_FIELDS: Final = (
    "declared_at",
    "method",
    "risk_limit",
    "test",
    "replacement",
    "checkpoint",
    "manifest_hash",
    "seed",
    "rounds",
)
COUNTS_FIELDS: Final = (
    "entries",
    "authors",
    "checkpoints",
    "checkpoints_verified",
    "findings",
    "events",
)
CHECKPOINT_FIELDS: Final = ("size", "root", "witnesses", "note", "position")
WITNESS_FIELDS: Final = ("name", "timestamp", "time")
COMMUNITY_FIELDS: Final = ("phase", "round", "complete", "pending")
PROGRESS_FIELDS: Final = (
    "phase",
    "checkpoint",
    "checkpoint_size",
    "entries",
    "incomplete_communities",
)
FINDING_FIELDS: Final = ("code", "severity", "index", "message", "evidence")
RUN_FIELDS: Final = (
    "jobs",
    "signature_backend",
    "elapsed_seconds",
    "entries_per_second",
    "election_replay",
    "replay",
)
OPTIONAL_RUN_FIELDS: Final = ("state",)
"""``run`` fields after :data:`RUN_FIELDS` only when asked for: ``state``, how a resumable
audit (``audit(..., state=...)``) used its state directory."""
_SEVERITIES: Final = ("error", "warning", "info")


def render_json(report: Report, *, indent: int | None = 2) -> str:
    """The report as JSON text (UTF-8, keys in schema order, trailing newline)."""
    return report.to_json(indent=indent)


def _require(cond: bool, what: str) -> None:
    if not cond:
        raise UsageError(f"report does not follow {REPORT_SCHEMA}: {what}")


def validate_report_dict(data: Any) -> None:
    """Check that ``data`` (a decoded JSON report) has exactly the documented shape; raises
    :class:`~electlog.errors.UsageError` (a ``ValueError``) naming the first deviation. For
    consumers' tests and ours."""
    _require(isinstance(data, dict), "top level is not an object")
    extra = tuple(data)[len(REPORT_FIELDS) :]
    _require(
        tuple(data)[: len(REPORT_FIELDS)] == REPORT_FIELDS
        and list(extra) == [f for f in OPTIONAL_REPORT_FIELDS if f in extra],
        f"top-level fields {list(data)}",
    )
    if "authorised" in data:
        section = data["authorised"]
        _require(
            isinstance(section, dict) and tuple(section) == AUTHORISED_FIELDS, "authorised fields"
        )
        _require(section["tier"] == "authorised", "authorised.tier")
    if "rla" in data:
        rla = data["rla"]
        _require(isinstance(rla, dict) and tuple(rla) == RLA_FIELDS, "rla fields")
        _require(isinstance(rla["rounds"], list), "rla.rounds")
    if "eligibility" in data:
        el = data["eligibility"]
        _require(isinstance(el, dict) and tuple(el) == ELIGIBILITY_FIELDS, "eligibility fields")
        _require(isinstance(el["sample"], list) and len(el["sample"]) == el["k"], "eligibility.k")
    _require(data["schema"] == REPORT_SCHEMA, f"schema {data['schema']!r}")
    _require(data["verdict"] in VERDICTS, f"verdict {data['verdict']!r}")
    _require(isinstance(data["origin"], str) and isinstance(data["source"], str), "origin/source")
    counts = data["counts"]
    _require(isinstance(counts, dict) and tuple(counts) == COUNTS_FIELDS, "counts fields")
    for name in ("entries", "authors", "checkpoints", "checkpoints_verified"):
        _require(isinstance(counts[name], int) and counts[name] >= 0, f"counts.{name}")
    _require(tuple(counts["findings"]) == _SEVERITIES, "counts.findings severities")
    _require(
        all(isinstance(k, str) and isinstance(v, int) for k, v in counts["events"].items()),
        "counts.events",
    )
    cp = data["checkpoint"]
    _require(cp is None or (isinstance(cp, dict) and tuple(cp) == CHECKPOINT_FIELDS), "checkpoint")
    if cp is not None:
        for w in cp["witnesses"]:
            _require(isinstance(w, dict) and tuple(w) == WITNESS_FIELDS, "checkpoint.witnesses")
    _require(data["since"] is None or isinstance(data["since"], dict), "since")
    _require(data["pinned"] is None or isinstance(data["pinned"], dict), "pinned")
    _require(isinstance(data["communities"], dict), "communities")
    for cid, c in data["communities"].items():
        _require(isinstance(c, dict) and tuple(c) == COMMUNITY_FIELDS, f"communities.{cid}")
    progress = data["progress"]
    _require(
        progress is None or (isinstance(progress, dict) and tuple(progress) == PROGRESS_FIELDS),
        "progress",
    )
    if data["verdict"] == "clean_in_progress":
        _require(progress is not None, "a clean_in_progress verdict without progress")
    _require(isinstance(data["tallies"], dict), "tallies")
    _require(isinstance(data["findings"], list), "findings")
    for i, f in enumerate(data["findings"]):
        _require(isinstance(f, dict) and tuple(f) == FINDING_FIELDS, f"findings[{i}] fields")
        _require(isinstance(f["code"], str) and bool(f["code"]), f"findings[{i}].code")
        _require(f["severity"] in _SEVERITIES, f"findings[{i}].severity")
        _require(f["index"] is None or isinstance(f["index"], int), f"findings[{i}].index")
        _require(isinstance(f["message"], str), f"findings[{i}].message")
        _require(isinstance(f["evidence"], dict), f"findings[{i}].evidence")
    run = data["run"]
    _require(
        isinstance(run, dict) and tuple(run) in (RUN_FIELDS, RUN_FIELDS + OPTIONAL_RUN_FIELDS),
        "run fields",
    )
    errors = counts["findings"]["error"] + counts["findings"]["warning"]
    _require((data["verdict"] == "clean") == (errors == 0), "verdict does not match the counts")
    others = [
        f
        for f in data["findings"]
        if f["severity"] != "info"
        and f["code"] not in INCOMPLETE_CODES
        and f["evidence"].get("code") not in INCOMPLETE_CODES
    ]
    if data["verdict"] in ("incomplete", "clean_in_progress"):
        _require(not others and errors > 0, "verdict does not match the findings")
