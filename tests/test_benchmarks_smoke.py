"""The benchmark harness still runs: ``python -m benchmarks.run --quick`` in a scratch directory
produces a well-formed table and report. No timing is asserted here, ever."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import cases, pair, run, stages, store_check  # noqa: E402
from benchmarks._harness import MET, NOT_AVAILABLE, NOT_MET, Row, markdown  # noqa: E402

STATUSES = (MET, NOT_MET, "info")
ROW_RE = re.compile(r"^\| (?P<key>[^|]+?) \| (?P<rest>.*) \|$")


def _table_rows(report: str) -> dict[str, list[str]]:
    """Results-table rows of a RESULTS.md, by key (first cell)."""
    body = report.split("## Results", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in body.strip().splitlines()[2:]:  # skip header and separator
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        assert len(cells) == 7, line
        rows[cells[0]] = cells
    return rows


@pytest.fixture(scope="module")
def quick_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], str]:
    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "RESULTS.md"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "src")]))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--quick",
            "--output",
            str(out),
            "--workdir",
            str(tmp / "work"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.exists(), proc.stderr[-2000:]
    return proc, out.read_text(encoding="utf-8")


def test_quick_run_succeeds_and_prints_the_table(
    quick_run: tuple[subprocess.CompletedProcess[str], str],
) -> None:
    proc, _ = quick_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "electlog benchmarks (quick run" in proc.stdout
    for column in ("What", "electlog", "Baseline", "Ratio", "Target", "Status"):
        assert column in proc.stdout
    assert "Report written to" in proc.stdout


def test_report_describes_the_machine(
    quick_run: tuple[subprocess.CompletedProcess[str], str],
) -> None:
    _, report = quick_run
    assert report.startswith("# electlog benchmark results")
    machine = report.split("## Machine", 1)[1].split("## Results", 1)[0]
    for field in ("Date (UTC)", "CPU", "Cores", "RAM", "Python", "OpenSSL", "libsodium", "SQLite"):
        assert f"| {field}" in machine, field
    assert "python -m benchmarks.run --quick" in report


def test_report_has_every_row_with_a_plain_status(
    quick_run: tuple[subprocess.CompletedProcess[str], str],
) -> None:
    _, report = quick_run
    rows = _table_rows(report)
    # one row (or an explicit "not available") for every item of the brief
    for key in ("a", "c1", "c2", "d-store", "g3", "g4"):
        assert key in rows, sorted(rows)
    assert any(k.startswith("b") for k in rows)
    assert any(k.startswith("e") for k in rows)
    assert any(k.startswith("f") for k in rows)
    assert any(k.startswith("g1") for k in rows)
    assert len([k for k in rows if re.fullmatch(r"d\d+[ap]", k)]) == 2 * len(
        cases.QUICK.merkle_sizes
    )
    for key, cells in rows.items():
        status = cells[6]
        assert status in STATUSES or status.startswith(f"{NOT_AVAILABLE}: "), (key, status)
        assert "benchmark failed" not in status, (key, status)
        if status in (MET, NOT_MET):
            assert cells[5] not in ("", "—"), f"{key}: a judged row names its target"
        if status.startswith(NOT_AVAILABLE):
            assert len(status) > len(NOT_AVAILABLE) + 5, f"{key}: says why"
        if cells[4] != "—":
            assert re.fullmatch(r"\d+\.\d\d×", cells[4]), (key, cells[4])
    # targets of the brief appear where measured
    assert rows["a"][5] == "≥ 0.8×"
    assert rows["c1"][5] == "≥ 3×"
    assert rows["d-store"][5] == "≥ 10×"


def test_only_with_an_unknown_name_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as info:
        run.main(["--only", "nonsense"])
    assert info.value.code == 2


def test_a_failing_benchmark_becomes_a_row_and_exit_status_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(ctx: cases.Context) -> list[Row]:
        raise RuntimeError("boom")

    monkeypatch.setitem(cases.BENCHMARKS, "verify", broken)
    out = tmp_path / "r.md"
    code = run.main(
        ["--quick", "--only", "verify", "--output", str(out), "--workdir", str(tmp_path)]
    )
    assert code == 1
    rows = _table_rows(out.read_text(encoding="utf-8"))
    assert rows["verify"][6] == "not available: benchmark failed: RuntimeError: boom"


def test_markdown_escapes_pipes_and_lists_notes() -> None:
    row = Row(
        key="x",
        bench="x",
        what="a | b",
        measured="1 op/s",
        baseline="2 op/s",
        ratio=0.5,
        target="≥ 1×",
        status=NOT_MET,
        note="why | because",
    )
    text = markdown(
        [row],
        machine_info=[("CPU", "z")],
        command="cmd",
        mode="quick",
        elapsed=1.0,
        methodology=["m"],
    )
    assert "| x | a \\| b | 1 op/s | 2 op/s | 0.50× | ≥ 1× | not met |" in text
    assert "- **x** — why \\| because" in text
    assert _table_rows(text)["x"][1] == "a \\| b"


def test_stages_runs_every_stage_on_a_demo_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # benchmarks.stages calls the audit's internals as the audit does: it broke unnoticed once
    # when the parent's per-entry tuple changed; this runs it on a small demo election
    from electlog.cli import main
    from electlog.keys import verify_backend

    target = tmp_path / "demo"
    assert (
        main(["demo", "--voters", "1140", "--seed", "3", "--dir", str(target), "--jobs", "1"]) == 0
    )
    capsys.readouterr()
    store, trust = target / "election.sqlite", target / "trust.json"
    assert stages.main([str(store), str(trust), "--repeat", "1", "--limit", "3000"]) == 0
    out = capsys.readouterr().out
    figures = dict(re.findall(r"^  (\S+(?: \S+)?) +(\d+\.\d+)$", out, re.MULTILINE))
    stages_measured = {"read", "route", "checks", "decode", "verify", "raw verify", "replay"}
    if verify_backend() == "nacl":
        stages_measured.add("raw wrapper")
    assert set(figures) == stages_measured
    assert all(float(v) > 0 for v in figures.values()), out


def test_pair_audits_and_times_the_raw_loop_over_the_same_entries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from audit_support import build_generic, write_sqlite_store
    from electlog.keys import verify_backend

    glog = build_generic(rounds=40)
    path = write_sqlite_store(tmp_path / "log.sqlite", glog)
    trust = tmp_path / "trust.json"
    trust.write_text(glog.trust.to_json(), encoding="utf-8")
    assert pair.main([str(path), str(trust), "1", "--repeat", "1"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["entries"] == len(glog.entries)
    assert result["ratio"] == pytest.approx(result["raw_cpu_us"] / result["wall_us"], abs=2e-3)
    assert ("raw_wrapper_cpu_us" in result) == (verify_backend() == "nacl")
    assert result["parent_cpu_us"] > 0 and result["children_cpu_us"] == 0


def test_loops_in_children_run_together_and_a_failing_one_is_an_error() -> None:
    started: list[float] = []
    assert 0 <= cases._loop_in_children(lambda: started.append(1.0), 2, 3) < 5
    assert started == []  # the loops ran in the children, not here

    def fails() -> None:
        raise RuntimeError("boom")

    with pytest.raises(cases.BenchError, match="2 of 2 loops did not report"):
        cases._loop_in_children(fails, 2, 1)
    with pytest.raises(cases.BenchError, match="1 of 2 loops did not report"):
        cases._loops_in_children([lambda: None, fails], 1)


def test_loops_in_children_report_each_loops_cpu_time_in_order() -> None:
    def spin(seconds: float) -> Callable[[], None]:
        def loop() -> None:
            end = time.process_time() + seconds
            while time.process_time() < end:
                pass

        return loop

    def sleep() -> None:
        time.sleep(0.3)  # wall time, almost no CPU time

    busy, idle = cases._loops_in_children([spin(0.3), sleep], 1, cpu=True)
    assert busy >= 0.3 and idle < 0.1  # each loop's own CPU time, in the loops' order
    idle, busy = cases._loops_in_children([sleep, spin(0.2)], 2, cpu=True)
    assert busy >= 0.2 and idle < 0.1
    walls = cases._loops_in_children([sleep, sleep], 1)
    assert all(w >= 0.3 for w in walls)  # without cpu: the wall time


def test_store_check_measures_both_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from audit_support import build_generic, write_sqlite_store

    glog = build_generic(rounds=40)
    path = write_sqlite_store(tmp_path / "log.sqlite", glog)
    assert store_check.main([str(path), "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    figures = dict(re.findall(r"^  (\S+ \S+) +(-?\d+\.\d+)$", out, re.MULTILINE))
    assert set(figures) == {"full check", "tree check", "level digests"}, out


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="the sampler reads /proc (Linux)")
def test_the_memory_sampler_counts_descendants_and_not_itself() -> None:
    # in fresh processes of a known size, with no other child (this one may be large and may
    # have children: a test database)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "src")]))

    def sampled(during: str) -> list[float]:
        code = (
            "import subprocess, sys, time\n"
            "from benchmarks._child import _Sampler\n"
            "s = _Sampler(0.01, 1)\n"
            "s.start()\n" + during + "s.stop()\n"
            "print(s.peak, s.peak_self, s.cpu)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout
        return [float(x) for x in out.split()]

    peak, peak_self, _ = sampled("time.sleep(0.2)\n")
    assert peak == peak_self > 0  # no descendant but the sampler, which is left out

    # a grandchild (a shell's child) holding 120 MB of touched memory for a while
    peak, peak_self, cpu = sampled(
        "holder = ['sh', '-c', sys.executable + ' -c \"import time; b = bytearray(120 << 20); "
        "time.sleep(1.5)\"; true']\n"
        "assert subprocess.run(holder).returncode == 0\n"
    )
    assert 0 < peak_self < 200 << 20  # the sampling process
    assert peak - peak_self >= 120 << 20  # the grandchild's bytearray, found in the tree
    assert peak - peak_self < 200 << 20
    assert cpu > 0


def test_append_row_gives_the_ceiling_of_two_busy_cores(
    quick_run: tuple[subprocess.CompletedProcess[str], str],
) -> None:
    _, report = quick_run
    note = next(line for line in report.splitlines() if line.startswith("- **a** — "))
    if importlib.util.find_spec("msgspec") is None or (os.cpu_count() or 1) < 2:
        pytest.skip("the ceiling needs msgspec and two cores")
    found = re.search(
        r"took ([\d.]+) and ([\d.]+) µs of CPU per entry \(alone, taking turns with them: "
        r"([\d.]+) and ([\d.]+)\).*? "
        r"\(msgspec .*?\) ([\d.]+): with these, and nothing else done per entry, ([\d.]+) µs "
        r"of CPU, ([\d.]+) on each core, at most ([\d.]+)×",
        note,
    )
    assert found, note
    sign_c, check_c, sign, check, least, bound, half, ceiling = map(float, found.groups())
    assert min(sign_c, check_c, sign, check, least) > 0
    assert bound > sign_c + check_c + least  # plus SHA-256 and the raw insert
    assert half == pytest.approx(bound / 2, abs=0.06)
    assert ceiling == pytest.approx(sign / half, abs=0.011)
