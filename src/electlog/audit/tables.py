"""The audit report as flat tables: results, turnout and findings, one row a dict.

The plain CSV export (``electlog export-results --format csv``) writes these rows and
:meth:`Report.to_frames` turns them into pandas DataFrames (pandas is the optional ``frames``
extra, imported only there). Column names are stable; docs/exports.md lists them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from electlog.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from .report import Report

__all__ = [
    "FINDING_COLUMNS",
    "RESULT_COLUMNS",
    "TABLES",
    "TURNOUT_COLUMNS",
    "finding_rows",
    "result_rows",
    "table_rows",
    "to_frames",
    "turnout_rows",
]

RESULT_COLUMNS: Final = (
    "community",
    "election",
    "round",
    "round_kind",
    "post",
    "seats",
    "person",
    "listed",
    "votes",
    "against",
    "count",
    "elected",
    "tied",
    "reason",
)
"""One row per person per post per round (``election`` is ``round`` or ``group:<id>``)."""

TURNOUT_COLUMNS: Final = (
    "community",
    "election",
    "round",
    "round_kind",
    "registered",
    "issued",
    "returned",
    "valid",
    "partly_valid",
    "void",
    "blank",
    "round_void",
    "void_reason",
    "declared",
    "matches_declared",
)
"""One row per round (and per resident group election) of each community."""

FINDING_COLUMNS: Final = ("code", "severity", "index", "message", "evidence")
"""One row per finding (``evidence`` as compact JSON)."""

TABLES: Final = ("results", "turnout", "findings")


def _elections(report: Report) -> Iterator[tuple[str, str, int, str, Any]]:
    for cid, c in report.results.items():
        for number, r in c.rounds.items():
            yield cid, "round", number, r.kind or "first", r
        for g, gr in c.groups.items():
            yield cid, f"group:{g}", 1, "household-ballot", gr


def result_rows(report: Report) -> Iterator[dict[str, Any]]:
    """The results table."""
    for cid, election, number, kind, r in _elections(report):
        for post, pr in r.posts.items():
            for person, count in pr.counts.items():
                yield {
                    "community": cid,
                    "election": election,
                    "round": number,
                    "round_kind": kind,
                    "post": post,
                    "seats": pr.seats,
                    "person": person,
                    "listed": person in pr.against,
                    "votes": pr.votes.get(person, 0),
                    "against": pr.against.get(person),
                    "count": count,
                    "elected": person in pr.elected,
                    "tied": person in pr.tied,
                    "reason": pr.reasons.get(person, ""),
                }


def turnout_rows(report: Report) -> Iterator[dict[str, Any]]:
    """The turnout table."""
    for cid, election, number, kind, r in _elections(report):
        res = r.result
        yield {
            "community": cid,
            "election": election,
            "round": number,
            "round_kind": kind,
            "registered": res.registered,
            "issued": res.issued,
            "returned": res.returned,
            "valid": res.valid,
            "partly_valid": res.partly_valid,
            "void": res.void,
            "blank": res.blank,
            "round_void": res.round_void,
            "void_reason": res.void_reason or "",
            "declared": r.declared,
            "matches_declared": r.matches_declared,
        }


def finding_rows(report: Report) -> Iterator[dict[str, Any]]:
    """The findings table."""
    for f in report.findings:
        yield {
            "code": f.code,
            "severity": f.severity.value,
            "index": f.index,
            "message": f.message,
            "evidence": json.dumps(f.evidence, sort_keys=True, ensure_ascii=False, default=str),
        }


_TABLES: Final = {
    "results": (RESULT_COLUMNS, result_rows),
    "turnout": (TURNOUT_COLUMNS, turnout_rows),
    "findings": (FINDING_COLUMNS, finding_rows),
}


def table_rows(report: Report, table: str) -> tuple[tuple[str, ...], Iterator[dict[str, Any]]]:
    """The columns and rows of ``table`` (one of :data:`TABLES`)."""
    try:
        columns, rows = _TABLES[table]
    except KeyError:
        raise UsageError(f"no table {table!r} (tables: {', '.join(TABLES)})") from None
    return columns, rows(report)


def to_frames(report: Report) -> dict[str, Any]:
    """``{"results": DataFrame, "turnout": DataFrame, "findings": DataFrame}``; pandas is the
    optional ``frames`` extra (:class:`UsageError` naming it when it is not installed)."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise UsageError("Report.to_frames needs pandas: pip install 'electlog[frames]'") from exc
    out: dict[str, Any] = {}
    for name, (columns, rows) in _TABLES.items():
        out[name] = pd.DataFrame.from_records(list(rows(report)), columns=list(columns))
    return out
