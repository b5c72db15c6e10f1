"""``electlog demo`` end to end, in-process, at a small scale."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import pytest
from rich.console import Console

import electlog.cli.demo as demo_module
import electlog.simulate._run as simulate_run
from electlog.audit import audit, load_trust
from electlog.checkpoint import WitnessSigner, verify_checkpoint_detailed
from electlog.cli import main
from electlog.cli.demo import run_demo
from electlog.keys import SigningKey
from electlog.log import Log
from electlog.publish.bundle import BundleReader
from electlog.simulate import DistrictConfig, SimulationKeys, simulate_district
from electlog.store.memory import MemoryStore
from electlog.store.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parents[2]


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
    # authority, log, two witnesses, 5 roles x 19, dedup and salt secrets, manifest, audit
    # board, and the registrar's openings (the default profile is minimal)
    assert (keys / "openings.plaintext").is_file()
    assert len(files) == 1 + 1 + 2 + 19 * 5 + 2 + 1 + 1 + 1
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


# --------------------------------------------------------------------------- the witnesses


def _pids(target: Path) -> list[int]:
    return [int((d / "pid").read_text()) for d in sorted((target / "witnesses").glob("witness-?"))]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # the pid exists: it must not be one of our witnesses any more (a zombie would be ours)
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return b"witness" not in cmdline


def test_demo_witnesses_ran_as_separate_processes_and_were_stopped(
    demo_dir: tuple[Path, int, str],
) -> None:
    target, _, _ = demo_dir
    witnesses = target / "witnesses"
    assert sorted(p.name for p in witnesses.iterdir()) == ["clock", "witness-a", "witness-b"]
    pids = _pids(target)
    assert len(set(pids)) == 2 and os.getpid() not in pids
    assert all(_gone(pid) for pid in pids)
    trust = load_trust(target / "trust.json")
    for d, verifier in zip(sorted(witnesses.glob("witness-?")), trust.witnesses, strict=True):
        output = (d / "output.txt").read_text()
        assert f"electlog witness: {verifier.vkey}" in output
        assert "listening on http://127.0.0.1:" in output
        # each kept its own state: the latest checkpoint it cosigned is the log's last one
        assert (d / "witness.sqlite").is_file()
    with SQLiteStore(target / "election.sqlite", read_only=True) as store:
        latest = store.latest_checkpoint()
        assert latest is not None and latest.size == store.size()
    # the witnesses' own timestamps, from the simulated clock file: the last one is the clock's
    stamp = int((witnesses / "clock").read_text())
    checked = verify_checkpoint_detailed(latest.note, trust.log_key, list(trust.witnesses), 2)
    assert {t for _, t in checked.witnesses} == {stamp}


def test_demo_never_holds_a_witness_key_and_gives_the_in_process_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a saved key set, the demo process parses no witness private key and cosigns
    nothing itself (both would raise here); its witness processes give the very checkpoints
    the simulator's in-process path (for tests) gives with the same keys."""
    keys = SimulationKeys.generate(
        DistrictConfig.scaled(1140).origin, DistrictConfig.scaled(1140).community_ids
    )
    keys_dir = keys.save(tmp_path / "keys")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the operator's process touched a witness private key")

    with monkeypatch.context() as m:
        m.setattr(WitnessSigner, "from_skey", classmethod(refuse))
        m.setattr(simulate_run, "cosign", refuse)
        code = run_demo(
            tmp_path / "d",
            voters=1140,
            seed=2,
            jobs=1,
            keys=keys_dir,
            console=Console(file=io.StringIO()),
        )
    assert code == 0
    log = Log(MemoryStore(origin=keys.origin))
    in_process = simulate_district(
        log, voters=1140, seed=2, keys=SimulationKeys.load(keys_dir, witness_keys=True)
    )
    with SQLiteStore(tmp_path / "d" / "election.sqlite", read_only=True) as store:
        assert store.size() == in_process.size
        assert [c.note for c in store.checkpoints()] == [c.note for c in log.checkpoints()]
    assert in_process.checkpoints >= 1


def test_a_witness_that_cannot_start_is_a_clear_error_and_nothing_is_left_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = DistrictConfig.scaled(1140)
    keys_dir = SimulationKeys.generate(config.origin, config.community_ids).save(tmp_path / "k")
    (keys_dir / "witnesses" / "witness-b.skey").write_text("PRIVATE+KEY+not-a-key\n")
    target = tmp_path / "d"
    assert main(["demo", "--voters", "1140", "--dir", str(target), "--keys", str(keys_dir)]) == 2
    err = capsys.readouterr().err
    assert "witness.university.example/b" in err
    assert "exited with status 2 before listening" in err and "malformed signer key" in err
    assert "not-a-key" not in err  # never key material, not even a broken one
    assert all(_gone(pid) for pid in _pids(target))
    assert not (target / "election.bundle").exists()


_WITH_CTRL_C = (
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('electlog', run_name='__main__', alter_sys=True)"
)
"""``python -c _WITH_CTRL_C ARGS``: ``python -m electlog ARGS`` with Ctrl-C as a terminal gives
it. A shell without job control (a script's ``command &``, a CI runner's background job) starts
its commands with SIGINT ignored, and Python then leaves it ignored: this test's SIGINT would
not reach the demo at all."""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_demo_stops_its_witnesses(tmp_path: Path, sig: signal.Signals) -> None:
    """Ctrl-C (SIGINT to the demo alone: not to its process group, so the witnesses do not see
    it themselves) or SIGTERM mid-build: the demo stops its witness processes on the way out."""
    target = tmp_path / "d"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    demo = subprocess.Popen(
        [sys.executable, "-c", _WITH_CTRL_C, "demo", "--voters", "60000", "--dir", str(target)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        ready = [target / "witnesses" / f"witness-{x}" / "ready" for x in "ab"]
        deadline = time.monotonic() + 120
        while not all(p.exists() for p in ready):
            assert demo.poll() is None, demo.stderr.read() if demo.stderr else ""
            assert time.monotonic() < deadline, "the demo's witnesses did not start"
            time.sleep(0.05)
        pids = _pids(target)
        assert not any(_gone(pid) for pid in pids)
        demo.send_signal(sig)
        _, err = demo.communicate(timeout=120)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(timeout=30)
    assert demo.returncode == 130, err
    assert b"interrupted" in err
    assert all(_gone(pid) for pid in pids)
    assert not (target / "election.bundle").exists()


def test_the_demo_says_it_needs_the_server_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = demo_module.importlib.util.find_spec

    def without_uvicorn(name: str, *args: Any) -> Any:
        return None if name == "uvicorn" else real(name, *args)

    monkeypatch.setattr(demo_module.importlib.util, "find_spec", without_uvicorn)
    assert main(["demo", "--voters", "1140", "--dir", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert "uvicorn" in err and "electlog[server]" in err
    assert not (tmp_path / "d").exists()


def test_force_clears_the_witnesses_state_but_not_foreign_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "d"
    args = ["demo", "--voters", "1140", "--jobs", "1", "--dir", str(target)]
    assert main(args) == 0
    first = _pids(target)
    assert main([*args, "--force"]) == 0  # fresh witness state, new processes
    assert set(_pids(target)).isdisjoint(first)
    (target / "witnesses" / "witness-a" / "notes.txt").write_text("mine")
    before = (target / "election.bundle").read_bytes()
    capsys.readouterr()
    assert main([*args, "--force"]) == 2
    assert "notes.txt" in capsys.readouterr().err
    assert (target / "witnesses" / "witness-a" / "notes.txt").read_text() == "mine"
    assert (target / "election.bundle").read_bytes() == before  # nothing was touched
