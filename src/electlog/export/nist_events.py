"""NIST SP 1500-101 Election Event Logging (``EventLogging.ElectionEventLog``, JSON), streamed.

One ``Device`` per author key, one ``Event`` per log entry (docs/exports.md has the mapping).
The format nests a device's events under the device, while the log interleaves authors; the
events are spooled to a temporary SQLite file keyed by (device, entry index) on the way through
and read back device by device, so memory stays O(authors) however long the log.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from electlog.audit import Report, Severity
from electlog.election.events import KeyAuthorised, decode_event
from electlog.errors import ElectlogError

from ._common import EntryStream, ExportError, generated_time, iso_time, verdict_note

__all__ = ["write_nist_events"]

_T: Final = "EventLogging."
_BATCH: Final = 5000


def _entry_findings(report: Report) -> dict[int, tuple[str, str, str]]:
    """Per entry index: (worst severity, codes, first message) of the findings at it."""
    out: dict[int, tuple[str, str, str]] = {}
    rank = {Severity.ERROR.value: 0, Severity.WARNING.value: 1, Severity.INFO.value: 2}
    for f in report.findings:
        if f.index is None:
            continue
        sev = f.severity.value
        old = out.get(f.index)
        if old is None:
            out[f.index] = (sev, f.code, f.message)
        else:
            worst = sev if rank[sev] < rank[old[0]] else old[0]
            out[f.index] = (worst, f"{old[1]} {f.code}", old[2])
    return out


def write_nist_events(
    source: object,
    report: Report,
    write: Callable[[str], Any],
    *,
    generated: str | None = None,
) -> int:
    """Write the event log of ``source`` (audited as ``report``); returns the number of
    events (always the audited number of entries)."""
    findings = _entry_findings(report)
    with tempfile.TemporaryDirectory(prefix="electlog-export-") as tmp:
        db = sqlite3.connect(str(Path(tmp) / "events.sqlite"))
        try:
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            db.execute(
                "CREATE TABLE ev (dev INTEGER, idx INTEGER, doc TEXT, PRIMARY KEY (dev, idx)) "
                "WITHOUT ROWID"
            )
            devices: dict[str, int] = {}
            roles: dict[str, tuple[str, str]] = {}
            rows: list[tuple[int, int, str]] = []
            dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
            count = 0
            for index, read in EntryStream(source, report):
                count += 1
                event: dict[str, Any] = {"@type": _T + "Event", "Id": str(index)}
                if read is None:
                    device = "unreadable"
                    event.update(Sequence="0", TimeStamp=iso_time(0), Type="entry.malformed")
                else:
                    device = read.author.hex()
                    event.update(
                        Sequence=str(read.seq),
                        TimeStamp=iso_time(read.time),
                        Type=read.type,
                        Hash=read.leaf_hash.hex(),
                    )
                    if read.type == KeyAuthorised.TYPE:
                        try:
                            ev = decode_event(read.statement())
                        except ElectlogError:
                            pass
                        else:
                            assert isinstance(ev, KeyAuthorised)
                            roles.setdefault(ev.key_id.hex(), (ev.role, ev.label))
                found = findings.get(index)
                if found is None:
                    event["Disposition"] = "success"
                else:
                    severity, codes, message = found
                    event["Disposition"] = "failure" if severity == "error" else "success"
                    event["Severity"] = severity
                    event["Description"] = message
                    event["Details"] = f"electlog findings: {codes}"
                dev = devices.setdefault(device, len(devices))
                rows.append((dev, index, dumps(event)))
                if len(rows) >= _BATCH:
                    db.executemany("INSERT INTO ev VALUES (?, ?, ?)", rows)
                    rows.clear()
            db.executemany("INSERT INTO ev VALUES (?, ?, ?)", rows)
            rows.clear()
            head = {
                "@type": _T + "ElectionEventLog",
                "GeneratedTime": generated or generated_time(None),
                "ElectionId": report.origin,
                "Details": verdict_note(report)
                + "; Event.Hash is the entry's RFC 6962 leaf hash, SHA-256(0x00 || entry bytes), "
                "hex; Event.Id is the entry's 0-based log index; Event.Sequence is the author's "
                "sequence number",
            }
            write(json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1] + ',"Device":[')
            for n, (device, dev) in enumerate(devices.items()):
                role, label = roles.get(device, ("", ""))
                dev_head: dict[str, Any] = {
                    "@type": _T + "Device",
                    "Id": device,
                    "Type": "other",
                    "OtherType": f"electlog author key ({role})" if role else "electlog author key",
                    "Manufacturer": "electlog",
                }
                if label:
                    dev_head["Details"] = label
                text = json.dumps(dev_head, ensure_ascii=False, separators=(",", ":"))
                write(("," if n else "") + text[:-1] + ',"Event":[')
                first = True
                for (doc,) in db.execute("SELECT doc FROM ev WHERE dev = ? ORDER BY idx", (dev,)):
                    write(doc if first else "," + doc)
                    first = False
                write("]}")
            write("]}\n")
        except sqlite3.Error as exc:
            raise ExportError(f"cannot spool the event log to a temporary file: {exc}") from exc
        finally:
            db.close()
    return count
