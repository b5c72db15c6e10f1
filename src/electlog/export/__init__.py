"""Exports in the ecosystem's formats, made from an audited log (docs/exports.md).

:func:`export_results` audits a source against a trust file and writes one of :data:`FORMATS`:
NIST SP 1500-100 v2 election results, SP 1500-103 cast vote records, SP 1500-101 event logs
(JSON), an Arlo ballot manifest or batch tallies (CSV), or plain CSV tables of the results,
turnout and findings. A log whose verdict is not clean needs ``force=True`` and the export says
so. The exports that go through the entries (cast vote records, event log, batch tallies) read
the source a second time as a stream and check it against the audited checkpoint; the log is
never held in memory. This package sits above :mod:`electlog.audit`; nothing below imports it.
"""

from __future__ import annotations

from ._api import FORMATS, ExportResult, export_results
from ._common import ExportError, ExportRefusedError, ExportSecrecyError
from .arlo import MANIFEST_COLUMNS
from .nist_cvr import FORBIDDEN_CVR_FIELDS, lint_cvr

__all__ = [
    "FORBIDDEN_CVR_FIELDS",
    "FORMATS",
    "MANIFEST_COLUMNS",
    "ExportError",
    "ExportRefusedError",
    "ExportResult",
    "ExportSecrecyError",
    "export_results",
    "lint_cvr",
]
