"""Exports (issue 17): made only from an audited log (a log that is not clean needs ``force`` and
the export says so), the secrecy lint, the second read bound to the audited checkpoint, atomic
output, the CLI, data frames and the optional extras. On the small scenario election."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from audit_support import ElectionLog, build_election, write_bundle
from electlog.audit import BytesSource, audit
from electlog.cli import main
from electlog.errors import ElectlogError, UsageError
from electlog.events import Entry
from electlog.export import (
    FORBIDDEN_CVR_FIELDS,
    ExportError,
    ExportRefusedError,
    ExportSecrecyError,
    export_results,
    lint_cvr,
)

GENERATED = "2026-12-06T08:00:00Z"


@pytest.fixture(scope="module")
def el() -> ElectionLog:
    return build_election()


@pytest.fixture(scope="module")
def files(el: ElectionLog, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    d = tmp_path_factory.mktemp("scenario")
    bundle = d / "election.bundle"
    write_bundle(bundle, el.origin, el.entries, el.notes)
    trust = d / "trust.json"
    el.trust.save(trust)
    unclean = d / "unwitnessed.bundle"  # the last checkpoint missing: an unwitnessed tail
    write_bundle(unclean, el.origin, el.entries, el.notes[:-1])
    return bundle, trust, unclean


def test_the_scenario_is_clean_and_the_unwitnessed_copy_is_not(
    files: tuple[Path, Path, Path],
) -> None:
    bundle, trust, unclean = files
    assert audit(bundle, trust).clean
    assert audit(unclean, trust).verdict == "incomplete"


@pytest.mark.parametrize("fmt", ["nist-results", "nist-cvr", "nist-events", "csv"])
def test_a_log_that_is_not_clean_is_refused_without_force(
    files: tuple[Path, Path, Path], tmp_path: Path, fmt: str
) -> None:
    _, trust, unclean = files
    out = tmp_path / "out"
    with pytest.raises(ExportRefusedError, match="needs --force"):
        export_results(unclean, trust, format=fmt, output=out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left either
    result = export_results(unclean, trust, format=fmt, output=out, force=True)
    assert not result.clean
    assert "EXPORTED WITH --force: THE LOG IS NOT CLEAN" in out.read_text(encoding="utf-8")
    assert "INCOMPLETE" in out.read_text(encoding="utf-8")


def test_a_forced_results_export_is_marked_partial(
    files: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, trust, unclean = files
    out = tmp_path / "results.json"
    export_results(unclean, trust, format="nist-results", output=out, force=True)
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["Status"] == "unofficial-partial"
    assert doc["ExternalIdentifier"][0]["Value"] == "incomplete"


def test_cli_exit_statuses(files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    bundle, trust, unclean = files
    out = tmp_path / "r.json"
    args = ["export-results", "--trust", str(trust), "--format", "nist-results"]
    assert main([*args[:1], str(bundle), *args[1:], "--output", str(out), "--jobs", "1"]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["@type"] == "ElectionResults.ElectionReport"
    bad = tmp_path / "u.json"
    assert main([*args[:1], str(unclean), *args[1:], "--output", str(bad), "--jobs", "1"]) == 2
    assert not bad.exists()
    forced = [*args[:1], str(unclean), *args[1:], "--output", str(bad), "--force", "--jobs", "1"]
    assert main(forced) == 1
    assert bad.exists()
    # arlo-tallies needs one contest
    tallies = ["export-results", str(bundle), "--trust", str(trust), "--format", "arlo-tallies"]
    assert main([*tallies, "--output", str(tmp_path / "t.csv")]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["export-results", str(bundle), "--trust", str(trust), "--format", "pdf"])
    assert exc.value.code == 2


def test_usage_errors_name_what_is_wrong(files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    bundle, trust, _ = files
    out = tmp_path / "x"
    with pytest.raises(UsageError, match="unknown export format"):
        export_results(bundle, trust, format="pdf", output=out)
    with pytest.raises(UsageError, match="needs a community and a post"):
        export_results(bundle, trust, format="arlo-tallies", output=out, community="c1")
    with pytest.raises(UsageError, match="narrow the arlo formats"):
        export_results(bundle, trust, format="nist-cvr", output=out, community="c1")
    with pytest.raises(UsageError, match="no community 'nowhere'"):
        export_results(bundle, trust, format="arlo-manifest", output=out, community="nowhere")
    with pytest.raises(UsageError, match="round must be"):
        export_results(bundle, trust, format="arlo-manifest", output=out, round=0)
    with pytest.raises(ExportError, match="cannot write"):
        export_results(bundle, trust, format="csv", output=tmp_path / "no" / "such" / "dir")
    assert not out.exists()


# ---------------------------------------------------------------------------- secrecy


def test_the_secrecy_lint_refuses_identifying_fields_anywhere() -> None:
    clean = {"@type": "CVR.CVR", "BatchId": "b1", "CVRSnapshot": [{"CVRContest": []}]}
    lint_cvr(clean)
    for field in ("voter", "serial", "household", "proxy_for", "time", "index"):
        assert field in FORBIDDEN_CVR_FIELDS
        nested = {"@type": "CVR.CVR", "CVRSnapshot": [{"CVRContest": [{field: "x"}]}]}
        with pytest.raises(ExportSecrecyError, match=repr(field)):
            lint_cvr(nested)
    with pytest.raises(ExportSecrecyError, match="raw bytes"):
        lint_cvr({"CVRSnapshot": [{"Annotation": [b"\x01"]}]})


def test_the_cvr_export_carries_no_serial_no_voter_and_no_time(
    el: ElectionLog, files: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    bundle, trust, _ = files
    out = tmp_path / "cvr.json"
    result = export_results(bundle, trust, format="nist-cvr", output=out, generated=GENERATED)
    text = out.read_text(encoding="utf-8")
    doc = json.loads(text)
    issued_voters, serials, recorded = set(), set(), 0
    for data in el.entries:
        st = Entry.from_bytes(data, verify=False).statement
        if st.type == "ballot.recorded":
            serials.add(st.body["serial"].hex())
            recorded += 1
        if st.type == "ballot.issued":
            issued_voters.add(st.body["voter"])
    assert result.items == len(doc["CVR"]) == recorded
    assert serials and not any(s in text for s in serials)
    write_ins = {
        p["CVRWriteIn"]["Text"]
        for cvr in doc["CVR"]
        for c in cvr["CVRSnapshot"][0]["CVRContest"]
        for s in c.get("CVRContestSelection", [])
        for p in s["SelectionPosition"]
        if "CVRWriteIn" in p
    }
    for cvr in doc["CVR"]:
        lint_cvr(cvr)
        assert set(cvr) <= {
            "@type",
            "UniqueId",
            "ElectionId",
            "BatchId",
            "BallotStyleId",
            "BallotStyleUnitId",
            "CreatingDeviceId",
            "CurrentSnapshotId",
            "CVRSnapshot",
        }
    # a voter id appears only as a write-in vote (a vote for that person), never as the voter
    cvr_text = json.dumps(doc["CVR"])
    for voter in issued_voters - write_ins:
        assert f'"{voter}"' not in cvr_text


def test_ballots_of_a_batch_below_min_count_batch_are_withheld(
    el: ElectionLog, files: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: Any
) -> None:
    from electlog.export import _ballots, nist_cvr

    bundle, trust, _ = files
    real = _ballots.genesis

    def strict(source: object, report: Any) -> Any:
        import attrs

        return attrs.evolve(real(source, report), min_count_batch=10**6)

    monkeypatch.setattr(nist_cvr, "genesis", strict)
    out = tmp_path / "cvr.json"
    result = export_results(bundle, trust, format="nist-cvr", output=out)
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert result.items == 0 and doc["CVR"] == []
    assert "withheld" in doc["Notes"]


# ---------------------------------------------------------------------------- the second read


class _Changing(BytesSource):
    """A source whose entries change after the first read (the audit's)."""

    def __init__(self, el: ElectionLog, changed: list[bytes]) -> None:
        super().__init__(el.entries, el.notes, origin=el.origin)
        self.reads = 0
        self.changed = changed

    def chunks(self, size: int) -> Iterator[list[bytes]]:
        self.reads += 1
        entries = self._entries if self.reads == 1 else self.changed
        for start in range(0, len(entries), size):
            yield entries[start : start + size]


def test_a_source_changed_after_the_audit_is_an_export_error(
    el: ElectionLog, tmp_path: Path
) -> None:
    swapped = list(el.entries)
    swapped[5], swapped[6] = swapped[6], swapped[5]
    for changed in (swapped, el.entries[:-3]):
        src = _Changing(el, changed)
        with pytest.raises(ExportError, match="changed between the audit and the export"):
            export_results(src, el.trust, format="nist-events", output=tmp_path / "e.json")
        assert not (tmp_path / "e.json").exists()
    same = _Changing(el, list(el.entries))
    result = export_results(same, el.trust, format="nist-events", output=tmp_path / "e.json")
    assert result.items == len(el.entries) and same.reads == 2


def test_an_in_memory_log_exports_to_a_stream(el: ElectionLog) -> None:
    import io

    buf = io.StringIO()
    result = export_results(el.source(), el.trust, format="arlo-manifest", output=buf)
    lines = buf.getvalue().splitlines()
    assert lines[0] == "Container,Tabulator,Batch Name,Number of Ballots"
    assert sum(int(line.rsplit(",", 1)[1]) for line in lines[1:]) == result.items > 0


# ---------------------------------------------------------------------------- data frames


def test_report_to_frames(files: tuple[Path, Path, Path]) -> None:
    pd = pytest.importorskip("pandas")
    bundle, trust, _ = files
    report = audit(bundle, trust)
    frames = report.to_frames()
    assert set(frames) == {"results", "turnout", "findings"}
    assert all(isinstance(f, pd.DataFrame) for f in frames.values())
    res = frames["results"]
    cid, c = next(iter(report.results.items()))
    post, pr = next(iter(c.rounds[1].posts.items()))
    rows = res[(res.community == cid) & (res["round"] == 1) & (res.post == post)]
    assert dict(zip(rows.person, rows.votes, strict=True)) == pr.votes
    assert len(frames["findings"]) == len(report.findings)
    assert frames["turnout"].returned.sum() == sum(
        r.result.returned for c in report.results.values() for r in c.rounds.values()
    ) + sum(g.result.returned for c in report.results.values() for g in c.groups.values())


def test_the_core_and_the_exports_import_without_pandas_and_jsonschema() -> None:
    code = (
        "import sys\n"
        "sys.modules['pandas'] = None\n"
        "sys.modules['jsonschema'] = None\n"
        "import electlog, electlog.export, electlog.cli.export_results\n"
        "from electlog.audit.report import Report, Counts\n"
        "from electlog.errors import UsageError\n"
        "r = Report(verdict='clean', origin='o', source='s', counts=Counts(entries=0, "
        "authors=0, checkpoints=0, checkpoints_verified=0, findings={}, events={}), "
        "tallies={}, findings=())\n"
        "try:\n"
        "    r.to_frames()\n"
        "except UsageError as exc:\n"
        "    print('refused:', exc)\n"
    )
    src = str(Path(__file__).resolve().parents[2] / "src")
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "refused:" in proc.stdout and "electlog[frames]" in proc.stdout


def test_export_errors_are_electlog_errors() -> None:
    for cls in (ExportError, ExportRefusedError, ExportSecrecyError):
        assert issubclass(cls, ElectlogError)


def test_a_forced_event_log_marks_the_entries_the_audit_failed(
    el: ElectionLog, tmp_path: Path
) -> None:
    garbage = b"\x81\xa3not\xa5entry"
    entries = [*el.entries, garbage]
    src = BytesSource(entries, el.notes, origin=el.origin)
    out = tmp_path / "events.json"
    with pytest.raises(ExportRefusedError):
        export_results(src, el.trust, format="nist-events", output=out)
    result = export_results(src, el.trust, format="nist-events", output=out, force=True)
    doc = json.loads(out.read_text(encoding="utf-8"))
    events = {e["Id"]: e for d in doc["Device"] for e in d["Event"]}
    assert result.items == len(events) == len(entries)
    bad = events[str(len(entries) - 1)]
    assert bad["Type"] == "entry.malformed" and bad["Disposition"] == "failure"
    assert "entry.malformed" in bad["Details"]
    assert all(e["Disposition"] == "success" for i, e in events.items() if i != bad["Id"])
    assert "THE LOG IS NOT CLEAN" in doc["Details"]
