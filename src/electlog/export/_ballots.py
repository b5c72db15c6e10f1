"""The recorded ballots of an audited log, streamed: each ``ballot.recorded`` entry with the
community, round and counting batch (box) it belongs to.

Memory is O(units + boxes + authors), never O(ballots): the stream keeps only which unit sealed
each box and which community and round each unit served. A ballot whose entry the audit found
against (a rule finding at its index: an export made with ``force``) is passed over, so the
ballots streamed are the ballots the audit counted (findings beyond the audit's per-code cap
carry no index; docs/exports.md says so).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from typing import Final

import attrs

from electlog.audit import Report
from electlog.election.events import (
    BallotRecorded,
    BoxSealed,
    ElectionDefined,
    KeyAuthorised,
    UnitOpened,
    decode_event,
)
from electlog.election.tally import PostMarks
from electlog.errors import ElectlogError

from ._common import EntryStream, ExportError

__all__ = ["Ballot", "BallotStream", "Genesis", "genesis", "rejected_indexes"]

_WANTED: Final = frozenset(
    {UnitOpened.TYPE, BoxSealed.TYPE, BallotRecorded.TYPE, KeyAuthorised.TYPE}
)


@attrs.frozen(kw_only=True)
class Ballot:
    """One counted ballot: ``community``, ``round``, the ``box`` it was counted from (its
    counting batch), the ``unit`` that sealed that box, the ``device`` (author key id, hex) that
    recorded it, and its ``marks`` per post. Nothing else: no serial, no time, no index."""

    community: str
    round: int
    box: str
    unit: str
    device: str
    marks: dict[str, PostMarks]


@attrs.frozen(kw_only=True)
class Genesis:
    """What the genesis event says about the election as a whole."""

    election_id: str
    name: str
    election_day: _dt.date
    min_count_batch: int


def rejected_indexes(report: Report) -> frozenset[int]:
    """Entry indexes with a rule finding (the audit refused the event)."""
    return frozenset(
        f.index for f in report.findings if f.index is not None and f.code.startswith("rule.")
    )


def genesis(source: object, report: Report) -> Genesis:
    """The election's genesis event (read from the start of the source)."""
    for _index, read in EntryStream(source, report):
        if read is not None and read.type == ElectionDefined.TYPE:
            try:
                ev = decode_event(read.statement())
            except ElectlogError:
                break
            assert isinstance(ev, ElectionDefined)
            return Genesis(
                election_id=ev.election_id,
                name=ev.name,
                election_day=ev.election_day,
                min_count_batch=ev.rules.min_count_batch,
            )
        break
    raise ExportError("the log does not start with an election.defined event: nothing to export")


@attrs.define
class BallotStream:
    """Iterate the counted ballots; afterwards ``devices`` maps every recording key id (hex) to
    its role and label from its ``key.authorised`` event."""

    source: object
    report: Report
    devices: dict[str, tuple[str, str]] = attrs.field(factory=dict)

    def __iter__(self) -> Iterator[Ballot]:
        rejected = rejected_indexes(self.report)
        units: dict[str, tuple[str, int]] = {}
        boxes: dict[str, str] = {}
        keys: dict[str, tuple[str, str]] = {}
        devices = self.devices
        for index, read in EntryStream(self.source, self.report):
            if read is None or index in rejected or read.type not in _WANTED:
                continue
            try:
                ev = decode_event(read.statement())
            except ElectlogError:
                continue  # reported by the audit
            if isinstance(ev, BallotRecorded):
                unit = boxes.get(ev.box)
                where = None if unit is None else units.get(unit)
                if unit is None or where is None:
                    continue
                device = read.author.hex()
                if device not in devices:
                    devices[device] = keys.get(device, ("", ""))
                yield Ballot(
                    community=where[0],
                    round=where[1],
                    box=ev.box,
                    unit=unit,
                    device=device,
                    marks=ev.marks,
                )
            elif isinstance(ev, UnitOpened):
                units.setdefault(ev.unit, (ev.community, ev.round))
            elif isinstance(ev, BoxSealed):
                boxes.setdefault(ev.box, ev.unit)
            elif isinstance(ev, KeyAuthorised):
                keys[ev.key_id.hex()] = (ev.role, ev.label)
