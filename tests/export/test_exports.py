"""Exports (issue 17): every JSON export validates against the vendored NIST schema, and the
round trips hold on a small simulated district (1,140 voters, ``electlog demo``): the CVR export
tallies to electlog's counts post by post, the results export's counts are the audit's, the
event log has one event per entry with its leaf hash, the Arlo manifest totals the recorded
ballots and the batch tallies sum to the post's votes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from electlog.audit import Report, audit
from electlog.audit._sources import open_source
from electlog.cli import main
from electlog.election.tally import PostMarks, PostSpec, RoundTally
from electlog.events import Entry, entry_leaf_hash
from electlog.export import FORMATS, MANIFEST_COLUMNS, export_results

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "nist"
SCHEMAS = {
    "nist-results": "NIST_V2_election_results_reporting.json",
    "nist-cvr": "NIST_V0_cast_vote_records.json",
    "nist-events": "NIST_V1-8_election_event_logging.json",
}
GENERATED = "2026-12-06T08:00:00Z"


def validate(fmt: str, doc: Any) -> None:
    schema = json.loads((VECTORS / SCHEMAS[fmt]).read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(
        schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, [(list(e.absolute_path)[:6], e.message[:200]) for e in errors[:5]]


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Report]:
    target = tmp_path_factory.mktemp("export-demo") / "demo"
    assert main(["demo", "--voters", "1140", "--dir", str(target), "--jobs", "1"]) == 0
    bundle, trust = target / "election.bundle", target / "trust.json"
    report = audit(bundle, trust)
    assert report.clean
    return bundle, trust, report


@pytest.fixture(scope="module")
def exports(
    district: tuple[Path, Path, Report], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    bundle, trust, _ = district
    out = tmp_path_factory.mktemp("exports")
    paths = {}
    for fmt in ("nist-results", "nist-cvr", "nist-events", "arlo-manifest", "csv"):
        paths[fmt] = out / f"export.{fmt}"
        result = export_results(bundle, trust, format=fmt, output=paths[fmt], generated=GENERATED)
        assert result.clean and result.items > 0
    return paths


@pytest.mark.parametrize("fmt", sorted(SCHEMAS))
def test_json_exports_validate_against_the_nist_schemas(exports: dict[str, Path], fmt: str) -> None:
    doc = json.loads(exports[fmt].read_text(encoding="utf-8"))
    validate(fmt, doc)
    top = {"nist-results": "ElectionResults.ElectionReport", "nist-cvr": "CVR.CastVoteRecordReport"}
    assert doc["@type"] == top.get(fmt, "EventLogging.ElectionEventLog")


def test_the_schema_check_catches_a_broken_document(exports: dict[str, Path]) -> None:
    doc = json.loads(exports["nist-cvr"].read_text(encoding="utf-8"))
    doc["CVR"][0]["CVRSnapshot"][0]["Type"] = "photocopied"
    with pytest.raises(AssertionError):
        validate("nist-cvr", doc)


def test_every_export_records_the_verdict(exports: dict[str, Path]) -> None:
    results = json.loads(exports["nist-results"].read_text(encoding="utf-8"))
    assert results["Notes"].startswith("electlog audit verdict: CLEAN;")
    assert results["ExternalIdentifier"][0]["Value"] == "clean"
    assert results["Status"] == "unofficial-complete"
    cvr = json.loads(exports["nist-cvr"].read_text(encoding="utf-8"))
    assert cvr["Notes"].startswith("electlog audit verdict: CLEAN;")
    events = json.loads(exports["nist-events"].read_text(encoding="utf-8"))
    assert events["Details"].startswith("electlog audit verdict: CLEAN;")
    assert exports["csv"].read_text(encoding="utf-8").startswith("# electlog audit verdict: CLEAN;")


# ---------------------------------------------------------------------------- round trips


def _marks_of(contest: dict[str, Any], prefix: str) -> PostMarks:
    """The PostMarks a CVR contest expresses (the inverse of the export's mapping)."""
    if "invalidated-rules" in contest.get("Status", []):
        return PostMarks(void=contest["OtherStatus"])
    in_favour, against, write_ins = [], [], []
    for sel in contest.get("CVRContestSelection", []):
        pos = sel["SelectionPosition"][0]
        if "CVRWriteIn" in pos:
            write_ins.append(pos["CVRWriteIn"]["Text"])
        elif pos.get("OtherStatus") == "against":
            against.append(sel["ContestSelectionId"][len(prefix) :])
        else:
            assert pos["NumberVotes"] == 1
            in_favour.append(sel["ContestSelectionId"][len(prefix) :])
    return PostMarks(
        in_favour=sorted(in_favour), against=sorted(against), write_ins=sorted(write_ins)
    )


def test_tallying_the_cvr_export_reproduces_electlogs_counts(
    district: tuple[Path, Path, Report], exports: dict[str, Path]
) -> None:
    _, _, report = district
    doc = json.loads(exports["nist-cvr"].read_text(encoding="utf-8"))
    tallies: dict[tuple[str, int], RoundTally] = {}
    for cid, c in report.results.items():
        for number, r in c.rounds.items():
            res = r.result
            specs = [
                PostSpec(post=p, seats=pr.seats, candidates=tuple(pr.against), rank=pr.rank)
                for p, pr in res.posts.items()
            ]
            tallies[(cid, number)] = RoundTally(
                specs, res.rules, supplementary=res.supplementary, revote=res.revote
            )
    for cvr in doc["CVR"]:
        community = cvr["BallotStyleUnitId"]
        style = cvr["BallotStyleId"]
        assert style.startswith(f"{community}-r")
        number = int(style[len(community) + 2 :])
        ballot: dict[str, PostMarks] = {}
        for contest in cvr["CVRSnapshot"][0]["CVRContest"]:
            assert contest["ContestId"].startswith(f"{style}-")
            post = contest["ContestId"][len(style) + 1 :]
            ballot[post] = _marks_of(contest, f"{contest['ContestId']}-")
        tallies[(community, number)].add(ballot)
    assert len(doc["CVR"]) == report.counts.events["ballot.recorded"]
    for (cid, number), tally in tallies.items():
        want = report.results[cid].rounds[number].result
        got = tally.result(registered=want.registered, issued=want.issued)
        assert got.returned == want.returned, (cid, number)
        assert (got.valid, got.partly_valid, got.void, got.blank) == (
            want.valid,
            want.partly_valid,
            want.void,
            want.blank,
        )
        for post, pr in want.posts.items():
            g = got.posts[post]
            assert g.votes == pr.votes, (cid, number, post)
            assert g.against == pr.against
            assert (g.valid_ballots, g.void_ballots, g.blank_ballots) == (
                pr.valid_ballots,
                pr.void_ballots,
                pr.blank_ballots,
            )
            assert g.elected == pr.elected


def test_the_results_exports_counts_equal_the_audit_reports(
    district: tuple[Path, Path, Report], exports: dict[str, Path]
) -> None:
    _, _, report = district
    doc = json.loads(exports["nist-results"].read_text(encoding="utf-8"))
    election = doc["Election"][0]
    contests = {c["@id"]: c for c in election["Contest"]}
    candidates = {c["@id"]: c for c in election["Candidate"]}
    checked = 0
    kinds = set()
    for cid, c in report.results.items():
        for number, r in c.rounds.items():
            kinds.add(r.kind)
            for post, pr in r.posts.items():
                contest = contests[f"{cid}-{post}"]
                rounds = contest["ExternalIdentifier"][0]["Value"].split()
                assert f"{number}:{r.kind or 'first'}:{pr.seats}" in rounds
                if number == 1:
                    assert contest["NumberElected"] == pr.seats
                for person, votes in pr.votes.items():
                    sel = next(
                        s
                        for s in contest["ContestSelection"]
                        if s["CandidateIds"] == [f"{cid}-{post}-{person}"]
                    )
                    counts = {
                        (v["Type"], v.get("OtherType")): v["Count"]
                        for v in sel["VoteCounts"]
                        if v["Round"] == number
                    }
                    assert counts[("total", None)] == votes
                    if person in pr.against:
                        assert counts[("other", "against")] == pr.against[person]
                    checked += 1
                for person in pr.elected:
                    assert candidates[f"{cid}-{post}-{person}"]["PostElectionStatus"] == "winner"
            cast = [
                b
                for b in election["BallotCounts"]
                if b["GpUnitId"] == cid and b["Round"] == number and b["Type"] == "total"
            ]
            assert [b["BallotsCast"] for b in cast] == [r.result.returned]
        for g, gr in c.groups.items():
            for post, pr in gr.posts.items():
                contest = contests[f"{cid}-{g}-{post}"]
                total = sum(
                    v["Count"]
                    for s in contest["ContestSelection"]
                    for v in s["VoteCounts"]
                    if v["Type"] == "total"
                )
                assert total == sum(pr.votes.values())
    assert checked > 100
    assert "supplementary" in kinds  # the 另行选举 rounds are exported too
    units = {u["@id"]: u for u in doc["GpUnit"]}
    for cid, c in report.results.items():
        assert units[cid]["VotersRegistered"] == c.electorate


def test_the_event_log_has_one_event_per_entry_with_its_leaf_hash(
    district: tuple[Path, Path, Report], exports: dict[str, Path]
) -> None:
    bundle, _, report = district
    doc = json.loads(exports["nist-events"].read_text(encoding="utf-8"))
    events = {}
    for device in doc["Device"]:
        seqs = [int(e["Sequence"]) for e in device["Event"]]
        assert seqs == list(range(1, len(seqs) + 1)), device["Id"]  # the author's chain
        for e in device["Event"]:
            assert e["Id"] not in events
            events[e["Id"]] = (device["Id"], e)
    assert len(events) == report.counts.entries
    src = open_source(bundle)
    try:
        index = 0
        for chunk in src.chunks(1000):
            for data in chunk:
                device, e = events[str(index)]
                entry = Entry.from_bytes(data, verify=False)
                assert e["Hash"] == entry_leaf_hash(data).hex()
                assert e["Type"] == entry.statement.type
                assert device == entry.author.hex()
                assert e["Disposition"] == "success"
                index += 1
    finally:
        src.close()
    assert index == report.counts.entries


def _csv_rows(path: Path) -> list[dict[str, str]]:
    text = path.read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_the_arlo_manifest_totals_the_recorded_ballots(
    district: tuple[Path, Path, Report], exports: dict[str, Path]
) -> None:
    _, _, report = district
    text = exports["arlo-manifest"].read_text(encoding="utf-8")
    assert text.splitlines()[0] == ",".join(MANIFEST_COLUMNS)
    rows = _csv_rows(exports["arlo-manifest"])
    total = sum(int(r["Number of Ballots"]) for r in rows)
    assert total == report.counts.events["ballot.recorded"]
    returned = sum(r.result.returned for c in report.results.values() for r in c.rounds.values())
    assert total == returned
    assert len({r["Batch Name"] for r in rows}) == len(rows)


def test_arlo_batch_tallies_sum_to_the_posts_votes(
    district: tuple[Path, Path, Report], tmp_path: Path
) -> None:
    bundle, trust, report = district
    cid, c = next(iter(report.results.items()))
    post, pr = next(iter(c.rounds[1].posts.items()))
    out = tmp_path / "tallies.csv"
    result = export_results(
        bundle, trust, format="arlo-tallies", output=out, community=cid, post=post
    )
    rows = _csv_rows(out)
    assert result.items == len(rows) == len(c.rounds[1].batches)
    assert list(rows[0]) == ["Batch Name", *pr.votes]
    assert {r["Batch Name"] for r in rows} == set(c.rounds[1].batches)
    for person, votes in pr.votes.items():
        assert sum(int(r[person]) for r in rows) == votes


def test_the_csv_tables(district: tuple[Path, Path, Report], tmp_path: Path) -> None:
    bundle, trust, report = district
    for table in ("results", "turnout", "findings"):
        out = tmp_path / f"{table}.csv"
        result = export_results(bundle, trust, format="csv", output=out, table=table)
        lines = out.read_text(encoding="utf-8").splitlines()
        body = list(csv.DictReader(io.StringIO("\n".join(lines[1:]))))
        assert len(body) == result.items
        if table == "turnout":
            first = next(b for b in body if b["election"] == "round" and b["round"] == "1")
            r = report.results[first["community"]].rounds[1].result
            assert int(first["returned"]) == r.returned
            assert int(first["registered"]) == r.registered
        if table == "findings":
            assert len(body) == len(report.findings)


def test_formats_list() -> None:
    assert set(FORMATS) == {
        "nist-results",
        "nist-cvr",
        "nist-events",
        "arlo-manifest",
        "arlo-tallies",
        "csv",
    }
