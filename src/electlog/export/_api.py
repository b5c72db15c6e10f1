"""``export_results(source, trust, format=..., output=...)``: one audited export."""

from __future__ import annotations

import csv
import io
import os
from typing import IO, Any, Final

import attrs

from electlog.audit import Report, Trust
from electlog.audit.tables import TABLES, table_rows
from electlog.errors import UsageError

from ._ballots import genesis
from ._common import audited, open_output, verdict_note
from .arlo import write_arlo_manifest, write_arlo_tallies
from .nist_cvr import write_nist_cvr
from .nist_events import write_nist_events
from .nist_results import write_nist_results

__all__ = ["FORMATS", "ExportResult", "export_results"]

FORMATS: Final = (
    "nist-results",
    "nist-cvr",
    "nist-events",
    "arlo-manifest",
    "arlo-tallies",
    "csv",
)
"""Every export format (docs/exports.md)."""


@attrs.frozen(kw_only=True)
class ExportResult:
    """What an export wrote: the ``format``, the audit ``report`` it was made from, how many
    ``items`` (contests, CVRs, events, ballots in the manifest, batches, rows) and whether the
    log was ``clean`` (``False``: exported with ``force``, and the export says so)."""

    format: str
    report: Report
    items: int
    clean: bool


def _write_csv(report: Report, write: Any, table: str) -> int:
    columns, rows = table_rows(report, table)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\r\n")
    buf.write(f"# {verdict_note(report)}\r\n")
    w.writeheader()
    n = 0
    for row in rows:
        w.writerow(row)
        n += 1
        if buf.tell() > 1 << 16:
            write(buf.getvalue())
            buf.seek(0)
            buf.truncate()
    write(buf.getvalue())
    return n


def export_results(
    source: object,
    trust: Trust | str | os.PathLike[str],
    *,
    format: str,
    output: str | os.PathLike[str] | IO[str] | None,
    force: bool = False,
    jobs: int = 1,
    in_progress: bool = False,
    community: str | None = None,
    round: int | None = None,
    post: str | None = None,
    table: str = "results",
    generated: str | None = None,
) -> ExportResult:
    """Audit ``source`` against ``trust`` and export it as ``format`` (one of :data:`FORMATS`)
    to ``output`` (a path, written atomically; an open text stream; or ``None`` for standard
    output).

    A log whose verdict is not clean is refused (:class:`ExportRefusedError`) unless ``force``;
    a forced export says in its notes that the log is not clean. ``community`` / ``round``
    narrow ``arlo-manifest``; ``arlo-tallies`` needs ``community`` and ``post`` (``round``
    defaults to 1); ``table`` picks the ``csv`` table (``results``, ``turnout``,
    ``findings``); ``generated`` fixes the generation time (``YYYY-MM-DDTHH:MM:SSZ``, default
    now). ``jobs`` and ``in_progress`` are the audit's.
    """
    if format not in FORMATS:
        raise UsageError(f"unknown export format {format!r} (formats: {', '.join(FORMATS)})")
    if not isinstance(force, bool):
        raise UsageError("force must be a bool")
    if table not in TABLES:
        raise UsageError(f"no table {table!r} (tables: {', '.join(TABLES)})")
    if round is not None and (isinstance(round, bool) or not isinstance(round, int) or round < 1):
        raise UsageError(f"round must be an int >= 1, got {round!r}")
    if format == "arlo-tallies" and (community is None or post is None):
        raise UsageError("arlo-tallies needs a community and a post (one contest)")
    if format not in ("arlo-manifest", "arlo-tallies") and (
        community is not None or round is not None or post is not None
    ):
        raise UsageError(f"community, round and post narrow the arlo formats, not {format}")
    if format == "arlo-manifest" and post is not None:
        raise UsageError("arlo-manifest takes a community and round, not a post")
    report = audited(source, trust, force=force, jobs=jobs, in_progress=in_progress)
    with open_output(output) as write:
        if format == "nist-results":
            items = write_nist_results(report, genesis(source, report), write, generated=generated)
        elif format == "nist-cvr":
            items = write_nist_cvr(source, report, write, generated=generated)
        elif format == "nist-events":
            items = write_nist_events(source, report, write, generated=generated)
        elif format == "arlo-manifest":
            items = write_arlo_manifest(report, write, community=community, round=round)
        elif format == "arlo-tallies":
            assert community is not None and post is not None
            items = write_arlo_tallies(
                source, report, write, community=community, post=post, round=round or 1
            )
        else:
            items = _write_csv(report, write, table)
    return ExportResult(format=format, report=report, items=items, clean=report.clean_so_far)
