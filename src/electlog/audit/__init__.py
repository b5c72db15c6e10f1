"""The auditor: replay a copy of a log, run every check, and report named findings.

``audit(source, trust)`` reads a log copy (bundle, SQLite file, tiles directory, PostgreSQL DSN,
or an in-memory log), verifies every entry (canonical form, signature, log id, author chain),
rebuilds the Merkle tree and checks every checkpoint (root, log signature, witness quorum, split
views, consistency with a checkpoint seen before), replays the election with the writers' own
rules and tally, and returns a :class:`Report`: a verdict (:data:`VERDICTS`: clean, incomplete,
findings, or clean so far in an in-progress audit), counts, each community's phase, per-community
tallies, the latest witnessed checkpoint and every :class:`Finding`, written out by
:meth:`Report.to_text`, :meth:`Report.to_json` or :meth:`Report.to_html`
(:func:`validate_report_dict` checks a decoded JSON report). docs/auditing.md is the auditor's
guide.
"""

from __future__ import annotations

from ._report_json import validate_report_dict
from ._sources import BytesSource
from .core import audit, read_since
from .findings import FINDINGS, Finding, FindingInfo, Severity, all_codes, finding_info
from .openings import read_openings, seal_openings
from .report import (
    REPORT_SCHEMA,
    VERDICT_CLEAN,
    VERDICT_CLEAN_IN_PROGRESS,
    VERDICT_FINDINGS,
    VERDICT_INCOMPLETE,
    VERDICTS,
    Counts,
    Report,
)
from .results import BatchSummary, CommunityResults, GroupResults, RoundResults, UnitSummary
from .trust import TRUST_FORMAT, Trust, load_trust

__all__ = [
    "FINDINGS",
    "REPORT_SCHEMA",
    "TRUST_FORMAT",
    "VERDICTS",
    "VERDICT_CLEAN",
    "VERDICT_CLEAN_IN_PROGRESS",
    "VERDICT_FINDINGS",
    "VERDICT_INCOMPLETE",
    "BatchSummary",
    "BytesSource",
    "CommunityResults",
    "Counts",
    "Finding",
    "FindingInfo",
    "GroupResults",
    "Report",
    "RoundResults",
    "Severity",
    "Trust",
    "UnitSummary",
    "all_codes",
    "audit",
    "finding_info",
    "load_trust",
    "read_openings",
    "read_since",
    "seal_openings",
    "validate_report_dict",
]
