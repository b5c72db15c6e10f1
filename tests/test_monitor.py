"""``electlog monitor`` against a real tiles server process on 127.0.0.1 (tests/tiles_server.py):
the log grows and the monitor mirrors only what is new, a SIGKILLed monitor resumes and agrees,
and a server that starts serving another tree (a fork witnessed with the same keys, so only
consistency catches it) gets fork evidence a third party can check, and exit status 1."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from audit_support import GenericLog, build_election, build_generic
from electlog import Author, Log, SigningKey, merkle
from electlog.audit import Trust
from electlog.checkpoint import verify_checkpoint_detailed
from electlog.errors import ConsistencyProofError
from electlog.net import EVIDENCE_FORMAT
from electlog.store import MemoryStore, open_store
from electlog.store.tiles import export_tiles
from tiles_http_support import TilesServer, child_env, run_cli

WAIT = 60.0


def wait_for(predicate: Any, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def status_of(state: Path) -> dict[str, Any]:
    try:
        data = json.loads((state / "status.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    assert isinstance(data, dict)
    return data


def fork_of(glog: GenericLog, size: int) -> Log:
    """Another history of ``glog``'s log: same origin, other entries, checkpoints signed with
    the same log key and cosigned by the same witness keys (so every signature verifies)."""
    other = build_generic(origin=glog.origin, n_authors=2, rounds=(size + 1) // 2)
    fork = Log(MemoryStore(glog.origin))
    fork.append_many(other.log.get_bytes(i) for i in range(size))
    fork.add_checkpoint(glog.signed_note(size, fork.root(size)))
    return fork


def monitor_cli(url: str, trust: Path, state: Path, *extra: str) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "electlog", "monitor", url, "--trust", str(trust)]
    return subprocess.Popen(
        [*args, "--state", str(state), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )


def check_evidence(evidence: Path, trust: Trust) -> dict[str, Any]:
    """What a third party does with the evidence directory: both notes verify under the trust
    file, and the consistency proof from the old checkpoint to the new one fails."""
    body = json.loads((evidence / "evidence.json").read_text(encoding="utf-8"))
    assert body["format"] == EVIDENCE_FORMAT
    old = (evidence / "old.checkpoint").read_text(encoding="utf-8")
    new = (evidence / "new.checkpoint").read_text(encoding="utf-8")
    policy = (trust.log_key, list(trust.witnesses), trust.quorum)
    old_cp = verify_checkpoint_detailed(old, *policy).checkpoint
    new_cp = verify_checkpoint_detailed(new, *policy).checkpoint
    assert (body["old_size"], body["new_size"]) == (old_cp.size, new_cp.size)
    assert body["old_root"] == old_cp.root.hex() and body["new_root"] == new_cp.root.hex()
    if "consistency_proof" in body:
        proof = [bytes.fromhex(h) for h in body["consistency_proof"]]
        with pytest.raises(ConsistencyProofError):
            merkle.verify_consistency(old_cp.size, new_cp.size, proof, old_cp.root, new_cp.root)
        assert body["recomputed_old_root"] != body["old_root"]
    assert isinstance(body, dict)
    return body


# --------------------------------------------------------------------------- follow and fork


def election_fork(el: Any, extra: int) -> tuple[Log, str]:
    """Another history of ``el``'s election log, ``extra`` entries longer, checkpointed with the
    same log key and cosigned by the same witness keys."""
    fork = build_election(1, origin=el.origin).log
    author = Author(SigningKey.generate(), el.origin)
    fork.append_many(
        author.sign("demo.note", {"n": n}, time=1_790_100_000_000_000 + n) for n in range(extra)
    )
    note = el.note(len(fork), fork.root())
    fork.add_checkpoint(note)
    return fork, note


def test_monitor_follows_growth_then_catches_a_fork(tmp_path: Path) -> None:
    el = build_election()
    for note in el.notes:
        el.log.add_checkpoint(note)
    trust = tmp_path / "trust.json"
    el.trust.save(trust)
    served = tmp_path / "tiles"
    state = tmp_path / "state"
    export_tiles(el.log, served, checkpoint_note=el.notes[0])  # size 80
    server = TilesServer(tmp_path / "server", served)
    url = server.start()
    proc = monitor_cli(url, trust, state, "--follow", "--interval", "0.1", "--format", "json")
    try:
        wait_for(lambda: status_of(state).get("size") == 80, "the first round")
        first = status_of(state)
        assert first["audit_verdict"] == "clean_in_progress"
        assert first["new_entries"] == 80
        server.requests()
        # the log grows: a larger checkpoint of the same log is published
        export_tiles(el.log, served, checkpoint_note=el.notes[2])  # size 318
        wait_for(lambda: status_of(state).get("size") == 318, "the log's growth")
        grown = status_of(state)
        fetched = server.requests()
        # only what is new: entries 0..79 are mirrored, their bundle is not fetched again
        assert "tile/entries/000.p/80" not in fetched
        assert fetched.count("tile/entries/000") == 1  # entries 80..255 are in it
        assert fetched.count("tile/entries/001.p/62") == 1
        assert grown["new_entries"] == 318 - 80
        assert grown["audit_verdict"] in ("clean", "clean_in_progress")
        assert grown["audit_checkpoint_size"] == 318
        mirror = open_store(str(state / "mirror.sqlite"), read_only=True, create=False)
        try:
            assert mirror.size() == 318
            assert [c.size for c in mirror.checkpoints()] == [80, 318]
            assert list(mirror.entries()) == el.entries
        finally:
            mirror.close()
        # the server starts serving another tree: same origin, log key and witness keys
        fork, _ = election_fork(el, 20)
        export_tiles(fork, tmp_path / "fork")
        server.serve(tmp_path / "fork")
        proc.wait(timeout=WAIT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 1, err
        assert "fork" in err and "evidence in" in err
        [evidence] = (state / "evidence").iterdir()
        body = check_evidence(evidence, el.trust)
        assert body["kind"] == "fork"
        assert (body["old_size"], body["new_size"]) == (318, 338)
        # the root the new tree gives at the old size is the fork's, not the log's
        assert body["recomputed_old_root"] == fork.root(318).hex() != el.log.root().hex()
        # one JSON line per round on stdout: the report advanced from 80 to 318
        rounds = [json.loads(line) for line in out.splitlines()]
        assert rounds[0]["size"] == 80 and rounds[-1]["size"] == 318
        # the verified state did not move: a restart still holds 318 and raises the alarm again
        again = run_cli("monitor", url, "--trust", str(trust), "--state", str(state))
        assert again.returncode == 1 and "fork" in again.stderr
        assert len(list((state / "evidence").iterdir())) == 1  # the same evidence, not a copy
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        server.stop()
