"""``electlog eligibility`` on the store of ``electlog demo``: draw (pinning the latest
checkpoint), record, status; then a witnessed checkpoint and ``electlog verify`` names the failed
registration. Every command runs as a real process."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from electlog.election import Election
from electlog.keys import SigningKey
from electlog.log import Log
from electlog.rla.sampling import sample
from electlog.store import open_store

TIMEOUT = 300
SEED = "16180339887498948482"


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


def _election(store: Path) -> Election:
    s = open_store(str(store), create=False)
    try:
        log = Log(s)
        return Election.open(log, log.get(0).statement.author)
    finally:
        s.close()


def test_the_eligibility_workflow_on_the_demo_store(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    # full: a demo store with no sample yet (the minimal default draws one itself)
    _run(
        "demo",
        "--voters",
        "1140",
        "--seed",
        "5",
        "--dir",
        str(demo),
        "--jobs",
        "1",
        "--profile",
        "full",
    )
    store = demo / "election.sqlite"
    board = tmp_path / "board.pem"
    _run("keygen", "author", "--out", str(board))
    key = SigningKey.load(board)
    e = _election(store)
    st = e.state
    clock = iter(range(max(st.last_time.values()) + 3_600_000_000, 10**18, 1_000_000))

    def t() -> str:
        return str(next(clock))

    assert _run("eligibility", "status", str(store)).stdout == "no eligibility sample drawn\n"
    body = {"key_id": "hex:" + key.key_id.hex(), "role": "audit_board", "scope": [], "label": "EA"}
    authority = str(demo / "keys" / "authority.pem")
    _run(
        "append",
        str(store),
        "--key",
        authority,
        "--type",
        "key.authorised",
        "--body",
        json.dumps(body),
        "--time",
        t(),
    )
    # a result before the sample is refused: exit 2, nothing appended
    refused = _run(
        "eligibility",
        "record",
        str(store),
        "--key",
        str(board),
        "--member",
        "a",
        "--member",
        "b",
        "--time",
        t(),
        ok=False,
    )
    assert refused.returncode == 2 and "no eligibility sample" in refused.stderr
    bad = _run(
        "eligibility",
        "draw",
        str(store),
        SEED,
        "--key",
        str(board),
        "--size",
        "0",
        "--time",
        t(),
        ok=False,
    )
    assert bad.returncode == 2 and "--size" in bad.stderr
    listing = tmp_path / "check.csv"
    out = _run(
        "eligibility",
        "draw",
        str(store),
        SEED,
        "--key",
        str(board),
        "--csv",
        str(listing),
        "--time",
        t(),
    ).stdout
    assert out.startswith("eligibility sample: 59 of 1140 registrations under seed " + SEED)
    rows = list(csv.DictReader(listing.open(encoding="utf-8", newline="")))
    assert [r["draw"] for r in rows] == [str(n) for n in range(1, 60)]
    e = _election(store)
    assert [r["voter"] for r in rows] == [t_.id for t_ in sample(list(e.state.voters), SEED, 59)]
    failed = rows[4]["voter"]
    out = _run(
        "eligibility",
        "record",
        str(store),
        "--key",
        str(board),
        "--failed",
        failed,
        "--member",
        "ann",
        "--member",
        "bo",
        "--time",
        t(),
    ).stdout
    assert out == "59 checked, 1 failed: failure rate < 7.8% at 95%\n"
    status = json.loads(_run("eligibility", "status", str(store), "--json").stdout)
    assert status["failures"] == [{"voter": failed, "entry": int(rows[4]["registered_at"])}]
    # publish a witnessed checkpoint of the whole store, then the public audit names the failure
    witnesses = sorted((demo / "keys" / "witnesses").glob("*.skey"))
    keys = [a for w in witnesses for a in ("--witness-key", str(w))]
    stamp = str(int(t()) // 1_000_000 + 60)
    _run(
        "checkpoint",
        str(store),
        "--log-key",
        str(demo / "keys" / "log.skey"),
        *keys,
        "--timestamp",
        stamp,
    )
    verify = _run("verify", str(store), "--trust", str(demo / "trust.json"), ok=False)
    assert verify.returncode == 1, verify.stderr
    assert "rule.eligibility.sample_failure" in verify.stdout and failed in verify.stdout
    assert "59 checked, 1 failed: failure rate < 7.8% at 95%" in verify.stdout
