"""``electlog export-results SOURCE --trust FILE --format F --output PATH`` (docs/exports.md).

Exit status: 0 the export was written from a clean audit (or, with ``--in-progress``, clean so
far); 1 it was written with ``--force`` from a log that is not clean; 2 nothing was written
(usage, unreadable input, bad trust file, a log that is not clean without ``--force``).
"""

from __future__ import annotations

import argparse
import os
import sys

from ..export import FORMATS, export_results

__all__ = ["register"]


def _export(args: argparse.Namespace) -> int:
    result = export_results(
        args.source,
        args.trust,
        format=args.format,
        output=args.output,
        force=args.force,
        jobs=args.jobs if args.jobs is not None else (os.cpu_count() or 1),
        in_progress=args.in_progress,
        community=args.community,
        round=args.round,
        post=args.post,
        table=args.table,
    )
    report = result.report
    where = "standard output" if args.output in (None, "-") else args.output
    print(
        f"verdict: {report.verdict_line()}; {args.format}: {result.items} item(s) written to "
        f"{where}",
        file=sys.stderr,
    )
    if not result.clean:
        print(
            "warning: exported with --force from a log that is not clean (the export says so); "
            "run electlog verify for the findings",
            file=sys.stderr,
        )
        return 1
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``export-results``."""
    p = sub.add_parser(
        "export-results",
        help="audit a log copy and export it as NIST CDF JSON, Arlo CSV or plain CSV",
        description="Audit a log copy, then export its results, cast vote records, event log, "
        "Arlo ballot manifest or batch tallies, or CSV tables. A log that is not clean is "
        "refused unless --force. Exit status: 0 written from a clean audit, 1 written with "
        "--force, 2 nothing written.",
    )
    p.add_argument("source", help="bundle file, SQLite file, tiles directory or postgresql:// DSN")
    p.add_argument("--trust", required=True, help="the auditor's trust file (JSON)")
    p.add_argument("--format", required=True, choices=FORMATS, help="what to export")
    p.add_argument("--output", "-o", help="write here (atomically) instead of stdout")
    p.add_argument(
        "--force",
        action="store_true",
        help="export a log whose verdict is not clean (the export says so; exit status 1)",
    )
    p.add_argument(
        "--in-progress",
        action="store_true",
        help="a mid-election export: clean so far counts as clean",
    )
    p.add_argument("--community", help="arlo formats: only this community")
    p.add_argument("--round", type=int, help="arlo formats: only this round (tallies: 1)")
    p.add_argument("--post", help="arlo-tallies: the post (contest) to tally per batch")
    p.add_argument(
        "--table",
        choices=["results", "turnout", "findings"],
        default="results",
        help="csv: which table (default results)",
    )
    p.add_argument("--jobs", type=int, default=None, help="audit processes (default: every core)")
    p.set_defaults(func=_export)
