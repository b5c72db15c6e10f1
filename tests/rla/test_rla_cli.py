"""Issue 19 step 4: the audit board's workflow without Python, ``electlog rla`` on the store of
``electlog demo --voters 2000``: declare, seed, draw (CSV and printable page), interpret,
close, conclude, status; then a witnessed checkpoint and ``electlog verify`` is CLEAN with the
audit section. Every command runs as a real process."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from electlog.election import Election
from electlog.keys import SigningKey
from electlog.log import Log
from electlog.store import open_store

ROUND = "c01/1"
TIMEOUT = 300


def _run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "electlog", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    if ok:
        assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc


def _state(store: Path) -> Any:
    s = open_store(str(store), create=False)
    try:
        log = Log(s)
        e = Election.open(log, log.get(0).statement.author)
        return e.state, len(log)
    finally:
        s.close()


def _marks_json(marks: Any) -> str:
    return json.dumps(
        {
            post: (
                {"void": pm.void}
                if pm.void is not None
                else {
                    "for": list(pm.in_favour),
                    "against": list(pm.against),
                    "write_ins": list(pm.write_ins),
                }
            )
            for post, pm in marks.items()
        }
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("rla-demo")
    _run("demo", "--voters", "2000", "--dir", str(d), "--jobs", "1")
    return d


def test_the_audit_board_workflow_on_the_demo_store(demo: Path, tmp_path: Path) -> None:
    store = demo / "election.sqlite"
    board = tmp_path / "board.pem"
    _run("keygen", "author", "--out", str(board))
    key = SigningKey.load(board)
    state, _ = _state(store)
    clock = iter(range(max(state.last_time.values()) + 3_600_000_000, 10**18, 1_000_000))

    def t() -> str:
        return str(next(clock))

    body = {"key_id": "hex:" + key.key_id.hex(), "role": "audit_board", "scope": [], "label": "RLA"}
    _run(
        "append",
        str(store),
        "--key",
        str(demo / "keys" / "authority.pem"),
        "--type",
        "key.authorised",
        "--body",
        json.dumps(body),
        "--time",
        t(),
    )
    # the audit must pin a checkpoint that covers the election: the demo's last one does
    out = _run(
        "rla", "declare", str(store), "--key", str(board), "--round", ROUND, "--time", t()
    ).stdout
    assert "audit declared: 1 round(s), risk limit 0.05" in out
    # a sample before the seed is refused (exit 2, nothing appended)
    _run("rla", "draw", str(store), "--key", str(board), "--round", ROUND, "--time", t(), ok=False)
    witnesses = sorted((demo / "keys" / "witnesses").glob("*.skey"))

    def witness(stamp: int) -> None:
        keys = [a for w in witnesses for a in ("--witness-key", str(w))]
        log_key = str(demo / "keys" / "log.skey")
        _run("checkpoint", str(store), "--log-key", log_key, *keys, "--timestamp", str(stamp))

    witness(int(t()) // 1_000_000 + 60)  # the declaration is witnessed before the seed ceremony
    _run("rla", "seed", str(store), "--key", str(board), "31415926535897932384", "--time", t())
    listing, page = tmp_path / "retrieve.csv", tmp_path / "retrieve.html"
    out = _run(
        "rla",
        "draw",
        str(store),
        "--key",
        str(board),
        "--round",
        ROUND,
        "--csv",
        str(listing),
        "--page",
        str(page),
        "--time",
        t(),
    ).stdout
    assert out.startswith("audit round 1 of c01 round 1:")
    rows = list(csv.DictReader(listing.open(encoding="utf-8", newline="")))
    assert rows and list(rows[0]) == ["box", "position", "units", "ballot", "draws", "audit_round"]
    assert rows == sorted(rows, key=lambda r: (r["box"], int(r["position"])))
    assert "<table>" in page.read_text(encoding="utf-8") and rows[0]["ballot"] in page.read_text(
        encoding="utf-8"
    )
    state, _ = _state(store)
    for row in rows:
        marks = state.audit.recorded(row["ballot"])
        _run(
            "rla",
            "interpret",
            str(store),
            "--key",
            str(board),
            "--round",
            ROUND,
            "--ballot",
            row["ballot"],
            "--marks",
            _marks_json(marks),
            "--member",
            "ann",
            "--member",
            "bo",
            "--time",
            t(),
        )
    out = _run("rla", "close", str(store), "--key", str(board), "--round", ROUND, "--time", t())
    assert ": confirmed" in out.stdout
    _run("rla", "conclude", str(store), "--key", str(board), "--round", ROUND, "--time", t())
    status = json.loads(_run("rla", "status", str(store), "--json").stdout)
    (only,) = status["rounds"]
    assert only["status"] == "confirmed" and only["audit_rounds"][0]["confirmed"] is True
    assert "c01 round 1: confirmed" in _run("rla", "status", str(store)).stdout

    # witness the audit's events and verify the whole log: CLEAN, with the audit section
    witness(int(t()) // 1_000_000 + 60)
    bundle = tmp_path / "audited.bundle"
    _run("export", str(store), "--bundle", str(bundle))
    proc = _run(
        "verify", str(bundle), "--trust", str(demo / "trust.json"), "--format", "json", ok=False
    )
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, report["findings"]
    assert report["verdict"] == "clean"
    assert report["rla"]["rounds"][0]["status"] == "confirmed"
    text = _run("verify", str(bundle), "--trust", str(demo / "trust.json")).stdout
    assert "risk-limiting audit: comparison audit, risk limit 0.05" in text
    html_out = tmp_path / "report.html"
    _run(
        "verify",
        str(bundle),
        "--trust",
        str(demo / "trust.json"),
        "--format",
        "html",
        "--output",
        str(html_out),
    )
    assert '<section id="rla">' in html_out.read_text(encoding="utf-8")
