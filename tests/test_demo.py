"""``electlog demo`` end to end, in-process, at a small scale."""

from __future__ import annotations

import contextlib
import io
import json
import stat
from pathlib import Path
from typing import Any

import attrs
import pytest
from rich.console import Console

import electlog.cli.demo as demo_module
from electlog.audit import audit, load_trust
from electlog.cli import main
from electlog.cli.demo import run_demo
from electlog.keys import SigningKey
from electlog.store.bundle import BundleReader
from electlog.store.sqlite import SQLiteStore


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str]:
    target = tmp_path_factory.mktemp("demo") / "out"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["demo", "--voters", "2000", "--dir", str(target), "--jobs", "2"])
    return target, code, buf.getvalue()


def test_demo_runs_clean_and_writes_everything(demo_dir: tuple[Path, int, str]) -> None:
    target, code, out = demo_dir
    assert code == 0
    for name in ("election.sqlite", "election.bundle", "trust.json", "report.html"):
        assert (target / name).is_file(), name
    assert "verdict: CLEAN" in out
    assert (
        f"electlog verify {target / 'election.bundle'} --trust {target / 'trust.json'} \\\n"
        "      --format html --output report.html"
    ) in out
    # the table: every community, the district total of 131 seats all filled
    assert all(f"c{i:02d} " in out for i in range(1, 20))
    assert "2,000" in out and " 131 " in out
    html = (target / "report.html").read_text()
    assert html.lstrip().lower().startswith("<!doctype html") and "clean" in html.lower()


def test_demo_outputs_are_what_an_auditor_needs(demo_dir: tuple[Path, int, str]) -> None:
    target, _, _ = demo_dir
    trust = load_trust(target / "trust.json")
    assert json.loads((target / "trust.json").read_text())["quorum"] == 2
    # the bundle and the store hold the same log, and the bundle audits clean on its own
    with SQLiteStore(target / "election.sqlite", read_only=True) as store:
        size, origin = store.size(), store.origin
    assert origin == trust.origin
    with BundleReader(target / "election.bundle") as reader:
        assert (reader.origin, reader.entry_count) == (origin, size)
        reader.verify()  # every record and the trailer
        assert reader.checkpoint_count == len(reader.checkpoints) >= 1
    report = audit(target / "election.bundle", trust, jobs=1)
    assert report.clean and report.counts.entries == size


def test_demo_key_files_are_private_and_match_the_trust(demo_dir: tuple[Path, int, str]) -> None:
    target, _, _ = demo_dir
    keys = target / "keys"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    files = [p for p in keys.rglob("*") if p.is_file()]
    # authority, log, two witnesses, 5 roles x 19, dedup and salt secrets, manifest
    assert len(files) == 1 + 1 + 2 + 19 * 5 + 2 + 1
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    trust = load_trust(target / "trust.json")
    authority = SigningKey.load(keys / "authority.pem")
    assert authority.public == trust.authority_key
    assert (keys / "log.skey").read_text().startswith("PRIVATE+KEY+" + trust.origin + "+")


def test_demo_refuses_a_non_empty_dir_without_force(
    demo_dir: tuple[Path, int, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target, _, _ = demo_dir
    before = (target / "election.bundle").stat().st_mtime_ns
    assert main(["demo", "--voters", "2000", "--dir", str(target)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (target / "election.bundle").stat().st_mtime_ns == before
    # --force replaces only the demo's files
    other = tmp_path / "out"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    (other / "election.bundle").write_text("stale")
    assert main(["demo", "--voters", "1140", "--seed", "3", "--dir", str(other), "--force"]) == 0
    assert (other / "notes.txt").read_text() == "mine"
    assert (other / "election.bundle").stat().st_size > 1000
    # a second --force run replaces its own keys; a foreign file among them stops it
    assert main(["demo", "--voters", "1140", "--seed", "4", "--dir", str(other), "--force"]) == 0
    (other / "keys" / "mine.txt").write_text("keep")
    before = (other / "election.bundle").read_bytes()
    assert main(["demo", "--voters", "1140", "--dir", str(other), "--force"]) == 2
    assert (other / "keys" / "mine.txt").read_text() == "keep"
    assert (other / "election.bundle").read_bytes() == before  # nothing was touched


def test_demo_exit_status_follows_the_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = demo_module.audit

    def with_findings(*args: Any, **kwargs: Any) -> Any:
        report = real(*args, **kwargs)
        return attrs.evolve(report, verdict="findings")

    monkeypatch.setattr(demo_module, "audit", with_findings)
    assert main(["demo", "--voters", "1140", "--dir", str(tmp_path / "d"), "--jobs", "1"]) == 1
    assert "verdict: FINDINGS" in capsys.readouterr().out


def test_demo_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--voters", "100", "--dir", str(tmp_path / "x")]) == 2
    assert "1140" in capsys.readouterr().err
    assert main(["demo", "--voters", "2000", "--jobs", "0", "--dir", str(tmp_path / "y")]) == 2


def test_demo_progress_bars_on_a_terminal(tmp_path: Path) -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120)
    code = run_demo(tmp_path / "d", voters=1140, seed=1, jobs=1, console=console, progress=True)
    assert code == 0
    text = buf.getvalue()
    for step in ("building the election", "exporting the bundle", "auditing with 1 job(s)"):
        assert step in text
    assert "100%" in text and "verdict: CLEAN" in text
