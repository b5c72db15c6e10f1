"""NIST SP 1500-103 Cast Vote Records (``CVR.CastVoteRecordReport``, JSON), streamed.

One CVR per counted ballot of a community round (docs/exports.md has the mapping). The report's
``CVR`` array is written as the ballots stream past; what must come after them (the reporting
devices seen) is written after the array, so memory never grows with the ballots.

The secrecy lint (:func:`lint_cvr`) runs on every CVR before it is written: no field name that
identifies a voter or links a ballot to its issuance anywhere in it, and no ballot from a
counting batch whose anonymity set (ballots issued into it) is below the RuleSet's
``min_count_batch``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Final

from electlog import __version__
from electlog.audit import Report
from electlog.audit._pipeline import IDENTIFYING_FIELDS
from electlog.election.tally import PostMarks

from ._ballots import BallotStream, genesis
from ._common import ExportSecrecyError, generated_time, verdict_note

__all__ = ["FORBIDDEN_CVR_FIELDS", "lint_cvr", "write_nist_cvr"]

FORBIDDEN_CVR_FIELDS: Final = frozenset(
    IDENTIFYING_FIELDS
    | {"serial", "voter", "household", "proxy_for", "principal", "time", "index", "seq", "prev"}
)
"""Field names that may appear nowhere in a cast vote record: every body field an election
event schema marks as identifying a voter (``voter``, ``household``, ``proxy_for``, ...), the
ballot serial, and the entry's time, index, sequence number and chain link (each of which could
tie the ballot to the moment, or the entry, of its issuance)."""

_T: Final = "CVR."


def contest_id(community: str, round: int, post: str) -> str:
    """The CVR contest id of a post in a round."""
    return f"{community}-r{round}-{post}"


def ballot_style(community: str, round: int) -> str:
    """The ballot style of a community round (its ballot paper; a blank ballot has no contest
    marked, its style still says which round it was cast in)."""
    return f"{community}-r{round}"


def selection_id(contest: str, person: str) -> str:
    """The id of the "for" selection of a listed candidate."""
    return f"{contest}-{person}"


def writein_id(contest: str) -> str:
    """The id of a contest's write-in selection."""
    return f"{contest}-write-in"


def lint_cvr(cvr: Any, *, where: str = "CVR") -> None:
    """Raise :class:`ExportSecrecyError` if any object in ``cvr`` (recursively) has a key from
    :data:`FORBIDDEN_CVR_FIELDS` or holds bytes."""
    stack: list[tuple[str, Any]] = [(where, cvr)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, Mapping):
            for key, item in value.items():
                if key in FORBIDDEN_CVR_FIELDS:
                    raise ExportSecrecyError(
                        f"secrecy lint: {path} carries the field {key!r}, which could identify "
                        "a voter or link the ballot to its issuance"
                    )
                stack.append((f"{path}.{key}", item))
        elif isinstance(value, list | tuple):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
        elif isinstance(value, bytes | bytearray | memoryview):
            raise ExportSecrecyError(f"secrecy lint: {path} holds raw bytes")


def _position(votes: int, *, allocable: bool, other: str | None = None) -> dict[str, Any]:
    pos: dict[str, Any] = {
        "@type": _T + "SelectionPosition",
        "HasIndication": "yes",
        "NumberVotes": votes,
        "IsAllocable": "yes" if allocable else "no",
    }
    if other is not None:
        pos["Status"] = ["other"]
        pos["OtherStatus"] = other
    return pos


def cvr_contest(contest: str, seats: int | None, pm: PostMarks) -> dict[str, Any]:
    """The ``CVR.CVRContest`` of one post's marks on one ballot."""
    out: dict[str, Any] = {"@type": _T + "CVRContest", "ContestId": contest}
    if pm.void is not None:
        out["Status"] = ["invalidated-rules"]
        out["OtherStatus"] = pm.void
        return out
    marked = len(pm.in_favour) + len(pm.write_ins)
    over = seats is not None and marked > seats
    sels: list[dict[str, Any]] = []
    for person in pm.in_favour:
        sels.append(
            {
                "@type": _T + "CVRContestSelection",
                "ContestSelectionId": selection_id(contest, person),
                "SelectionPosition": [_position(1, allocable=not over)],
            }
        )
    for person in pm.against:
        sels.append(
            {
                "@type": _T + "CVRContestSelection",
                "ContestSelectionId": selection_id(contest, person),
                "SelectionPosition": [_position(0, allocable=False, other="against")],
            }
        )
    for person in pm.write_ins:
        pos = _position(1, allocable=not over)
        pos["CVRWriteIn"] = {"@type": _T + "CVRWriteIn", "Text": person}
        sels.append(
            {
                "@type": _T + "CVRContestSelection",
                "ContestSelectionId": writein_id(contest),
                "SelectionPosition": [pos],
            }
        )
    if sels:
        out["CVRContestSelection"] = sels
    out["Selections"] = marked
    out["WriteIns"] = len(pm.write_ins)
    if over:
        out["Status"] = ["overvoted"]
        out["Overvotes"] = marked - (seats or 0)
    elif seats is not None and marked < seats:
        out["Undervotes"] = seats - marked
    return out


def _election(report: Report, election_id: str, name: str) -> dict[str, Any]:
    contests: list[dict[str, Any]] = []
    candidates: dict[str, dict[str, Any]] = {}
    for cid, c in report.results.items():
        for number, r in c.rounds.items():
            for post, pr in r.posts.items():
                cont = contest_id(cid, number, post)
                sels: list[dict[str, Any]] = []
                for person in pr.against:  # the listed candidates, in list order
                    cand = f"{cid}-{person}"
                    candidates.setdefault(
                        cand, {"@id": cand, "@type": _T + "Candidate", "Name": person}
                    )
                    sels.append(
                        {
                            "@id": selection_id(cont, person),
                            "@type": _T + "CandidateSelection",
                            "CandidateIds": [cand],
                        }
                    )
                sels.append(
                    {"@id": writein_id(cont), "@type": _T + "CandidateSelection", "IsWriteIn": True}
                )
                contests.append(
                    {
                        "@id": cont,
                        "@type": _T + "CandidateContest",
                        "Name": f"{c.name}: {post}, round {number}"
                        + (f" ({r.kind})" if r.kind else ""),
                        "ContestSelection": sels,
                        "NumberElected": pr.seats,
                        "VotesAllowed": pr.seats,
                    }
                )
    return {
        "@id": election_id,
        "@type": _T + "Election",
        "Name": name,
        "ElectionScopeId": "district",
        "Candidate": list(candidates.values()),
        "Contest": contests,
    }


def _gp_units(report: Report) -> list[dict[str, Any]]:
    units = [{"@id": "district", "@type": _T + "GpUnit", "Type": "other", "OtherType": "district"}]
    for cid, c in report.results.items():
        units.append(
            {
                "@id": cid,
                "@type": _T + "GpUnit",
                "Type": "other",
                "OtherType": "community",
                "Name": c.name,
            }
        )
    return units


def write_nist_cvr(
    source: object,
    report: Report,
    write: Callable[[str], Any],
    *,
    generated: str | None = None,
) -> int:
    """Write the CVR report of ``source`` (audited as ``report``) with ``write``; returns the
    number of CVRs written. Ballots from a batch below ``min_count_batch`` are withheld (and
    counted in the report's notes)."""
    gen = genesis(source, report)
    small: dict[tuple[str, int, str], int] = {}
    seats: dict[str, int] = {}
    for cid, c in report.results.items():
        for number, r in c.rounds.items():
            for box, b in r.batches.items():
                if b.issued < gen.min_count_batch:
                    small[(cid, number, box)] = b.issued
            for post, pr in r.posts.items():
                seats[contest_id(cid, number, post)] = pr.seats
    head = {
        "@type": _T + "CastVoteRecordReport",
        "GeneratedDate": generated or generated_time(None),
        "Version": "1.0.0",
        "ReportType": ["other"],
        "OtherReportType": "electlog audited log export",
        "ReportGeneratingDeviceIds": ["electlog"],
        "Election": [_election(report, gen.election_id, gen.name)],
        "GpUnit": _gp_units(report),
    }
    body = json.dumps(head, ensure_ascii=False, separators=(",", ":"))
    write(body[:-1] + ',"CVR":[')
    stream = BallotStream(source, report)
    written = 0
    withheld = 0
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    for ballot in stream:
        if (ballot.community, ballot.round, ballot.box) in small:
            withheld += 1
            continue
        contests = [
            cvr_contest(
                contest_id(ballot.community, ballot.round, post),
                seats.get(contest_id(ballot.community, ballot.round, post)),
                pm,
            )
            for post, pm in sorted(ballot.marks.items())
        ]
        written += 1
        snap = f"cvr-{written}-original"
        cvr = {
            "@type": _T + "CVR",
            "UniqueId": str(written),
            "ElectionId": gen.election_id,
            "BatchId": ballot.box,
            "BallotStyleId": ballot_style(ballot.community, ballot.round),
            "BallotStyleUnitId": ballot.community,
            "CreatingDeviceId": ballot.device,
            "CurrentSnapshotId": snap,
            "CVRSnapshot": [
                {
                    "@id": snap,
                    "@type": _T + "CVRSnapshot",
                    "Type": "original",
                    "CVRContest": contests,
                }
            ],
        }
        lint_cvr(cvr, where=f"CVR {written}")
        write(("," if written > 1 else "") + dumps(cvr))
    devices = [
        {
            "@id": dev,
            "@type": _T + "ReportingDevice",
            "Application": f"electlog counting unit ({role or 'unknown role'})",
            "Notes": [label] if label else [],
        }
        for dev, (role, label) in stream.devices.items()
    ]
    devices.append(
        {
            "@id": "electlog",
            "@type": _T + "ReportingDevice",
            "Application": f"electlog {__version__}",
        }
    )
    notes = verdict_note(report) + f"; {written} cast vote records"
    if withheld:
        notes += (
            f"; {withheld} ballot(s) withheld: counted from a batch below min_count_batch "
            f"{gen.min_count_batch} (their anonymity set is too small to publish them)"
        )
    tail = {"ReportingDevice": devices, "Notes": notes}
    write("]," + json.dumps(tail, ensure_ascii=False, separators=(",", ":"))[1:] + "\n")
    return written
