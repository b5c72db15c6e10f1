"""NIST SP 1500-100 v2 Election Results Reporting (``ElectionResults.ElectionReport``, JSON).

Made from the audit's typed results (:attr:`electlog.audit.Report.results`): the district is the
election, each community a reporting unit whose posts are candidate contests with vote counts
per round (first round, re-vote among the tied, re-run, supplementary round 另行选举), each
resident group election its own reporting unit and contests. docs/exports.md has the mapping.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

from electlog import __version__
from electlog.audit import Report
from electlog.election.tally import PostResult, RoundResult

from ._ballots import Genesis
from ._common import generated_time, verdict_note

__all__ = ["build_nist_results", "write_nist_results"]

_T: Final = "ElectionResults."


def _text(content: str) -> dict[str, Any]:
    return {
        "@type": _T + "InternationalizedText",
        "Text": [{"@type": _T + "LanguageString", "Content": content, "Language": "zh"}],
    }


def _ext(other: str, value: str) -> dict[str, Any]:
    return {"@type": _T + "ExternalIdentifier", "Type": "other", "OtherType": other, "Value": value}


def _unit(uid: str, name: str, kind: str, **more: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "@id": uid,
        "@type": _T + "ReportingUnit",
        "Type": "other",
        "OtherType": kind,
    }
    out["Name"] = _text(name)
    out.update(more)
    return out


class _Contest:
    """One post of one electorate across its rounds."""

    def __init__(self, cid: str, name: str, district: str, post: PostResult) -> None:
        self.cid = cid
        self.name = name
        self.district = district
        self.seats = post.seats
        self.persons: dict[str, bool] = {}  # person -> is a write-in
        self.votes: dict[str, list[dict[str, Any]]] = {}
        self.status: dict[str, str] = {}
        self.rounds: list[str] = []

    def add_round(self, number: int, kind: str, gp: str, pr: PostResult) -> None:
        self.rounds.append(f"{number}:{kind}:{pr.seats}")
        listed = set(pr.against)
        for person, count in pr.votes.items():
            self.persons.setdefault(person, person not in listed)
            vc = self.votes.setdefault(person, [])
            vc.append(
                {
                    "@type": _T + "VoteCounts",
                    "GpUnitId": gp,
                    "Type": "total",
                    "Round": number,
                    "Count": count,
                }
            )
            if person in pr.against:
                vc.append(
                    {
                        "@type": _T + "VoteCounts",
                        "GpUnitId": gp,
                        "Type": "other",
                        "OtherType": "against",
                        "Round": number,
                        "Count": pr.against[person],
                    }
                )
            if person in pr.elected:
                self.status[person] = "winner"
            elif person in pr.tied:
                self.status[person] = "advanced-to-runoff"
            elif self.status.get(person) != "winner":
                self.status[person] = "defeated"

    def to_json(self, candidates: list[dict[str, Any]]) -> dict[str, Any]:
        sels = []
        for n, (person, write_in) in enumerate(self.persons.items(), start=1):
            cand = f"{self.cid}-{person}"
            candidates.append(
                {
                    "@id": cand,
                    "@type": _T + "Candidate",
                    "BallotName": _text(person),
                    "PostElectionStatus": self.status[person],
                }
            )
            sel: dict[str, Any] = {
                "@id": f"{self.cid}-sel-{person}",
                "@type": _T + "CandidateSelection",
                "CandidateIds": [cand],
                "SequenceOrder": n,
                "VoteCounts": self.votes[person],
            }
            if write_in:
                sel["IsWriteIn"] = True
            sels.append(sel)
        return {
            "@id": self.cid,
            "@type": _T + "CandidateContest",
            "Name": self.name,
            "ElectionDistrictId": self.district,
            "NumberElected": self.seats,
            "VotesAllowed": self.seats,
            "ContestSelection": sels,
            "ExternalIdentifier": [_ext("electlog-rounds", " ".join(self.rounds))],
        }


def _ballot_counts(gp: str, number: int, r: RoundResult) -> list[dict[str, Any]]:
    return [
        {
            "@type": _T + "BallotCounts",
            "GpUnitId": gp,
            "Type": "total",
            "Round": number,
            "BallotsCast": r.returned,
        },
        {
            "@type": _T + "BallotCounts",
            "GpUnitId": gp,
            "Type": "other",
            "OtherType": "issued",
            "Round": number,
            "BallotsCast": r.issued,
        },
    ]


def build_nist_results(
    report: Report, gen: Genesis, *, generated: str | None = None
) -> dict[str, Any]:
    """The ``ElectionResults.ElectionReport`` of an audited election."""
    units: list[dict[str, Any]] = []
    contests: list[_Contest] = []
    counts: list[dict[str, Any]] = []
    for cid, c in report.results.items():
        first = c.rounds.get(1)
        units.append(
            _unit(
                cid,
                c.name,
                "community",
                VotersRegistered=c.electorate,
                VotersParticipated=first.result.returned if first is not None else 0,
                ComposingGpUnitIds=[f"{cid}-{g}" for g in c.groups],
                ExternalIdentifier=[_ext("electlog-election-mode", c.mode)],
            )
        )
        by_post: dict[str, _Contest] = {}
        for number, r in c.rounds.items():
            counts.extend(_ballot_counts(cid, number, r.result))
            for post, pr in r.posts.items():
                contest = by_post.get(post)
                if contest is None:
                    contest = by_post[post] = _Contest(
                        f"{cid}-{post}", f"{c.name}: {post}", cid, pr
                    )
                contest.add_round(number, r.kind or "first", cid, pr)
        contests.extend(by_post.values())
        for g, gr in c.groups.items():
            gid = f"{cid}-{g}"
            units.append(_unit(gid, f"{c.name}: resident group {g}", "resident-group"))
            counts.extend(_ballot_counts(gid, 1, gr.result))
            for post, pr in gr.posts.items():
                contest = _Contest(f"{gid}-{post}", f"{c.name}, group {g}: {post}", gid, pr)
                contest.add_round(1, "household-ballot", gid, pr)
                contests.append(contest)
    units.insert(
        0,
        _unit(
            "district",
            gen.name,
            "district",
            ComposingGpUnitIds=list(report.results),
            VotersRegistered=sum(c.electorate for c in report.results.values()),
        ),
    )
    candidates: list[dict[str, Any]] = []
    contest_json = [c.to_json(candidates) for c in contests]
    day = gen.election_day.isoformat()
    election = {
        "@type": _T + "Election",
        "ElectionScopeId": "district",
        "Name": _text(gen.name),
        "StartDate": day,
        "EndDate": day,
        "Type": "other",
        "OtherType": "residents-committee",
        "ExternalIdentifier": [_ext("electlog-election-id", gen.election_id)],
        "BallotCounts": counts,
        "Candidate": candidates,
        "Contest": contest_json,
    }
    return {
        "@type": _T + "ElectionReport",
        "Format": "summary-contest",
        "GeneratedDate": generated or generated_time(None),
        "Issuer": f"electlog audit of {report.origin}",
        "IssuerAbbreviation": "electlog",
        "VendorApplicationId": f"electlog {__version__}",
        "SequenceStart": 1,
        "SequenceEnd": 1,
        "Status": "unofficial-complete" if report.complete else "unofficial-partial",
        "IsTest": False,
        "Notes": verdict_note(report),
        "ExternalIdentifier": [_ext("electlog-audit-verdict", report.verdict)],
        "Election": [election],
        "GpUnit": units,
    }


def write_nist_results(
    report: Report, gen: Genesis, write: Callable[[str], Any], *, generated: str | None = None
) -> int:
    """Write the results report; returns the number of contests."""
    doc = build_nist_results(report, gen, generated=generated)
    write(json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
    return len(doc["Election"][0]["Contest"])
