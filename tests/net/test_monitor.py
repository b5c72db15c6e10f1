"""``electlog monitor`` against a real tiles server process on 127.0.0.1 (tests/tiles_server.py):
the log grows and the monitor mirrors only what is new, a SIGKILLed monitor resumes and agrees,
and a server that starts serving another tree (a fork witnessed with the same keys, so only
consistency catches it) gets fork evidence a third party can check, and exit status 1."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from audit_support import GenericLog, build_election, build_generic, flip
from electlog import Author, Log, SigningKey, merkle
from electlog.audit import Trust
from electlog.checkpoint import verify_checkpoint_detailed
from electlog.errors import ConsistencyProofError, UsageError
from electlog.net import EVIDENCE_FORMAT, Monitor, MonitorAlarm
from electlog.publish.tiles import entries_path, export_tiles
from electlog.store import MemoryStore, open_store
from tiles_http_support import TilesServer, child_env, run_cli

WAIT = 120.0  # bounded; a monitor round now also saves the audit state, slower under load


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
    """``electlog monitor`` as a child process (the default ``--jobs``: every core). Its stdout
    and stderr go to files beside the state (:func:`monitor_output`): a pipe nobody reads fills
    after about 50 follow-mode rounds (64 KiB) and the monitor then blocks writing its report."""
    args = [sys.executable, "-m", "electlog", "monitor", url, "--trust", str(trust)]
    out_path, err_path = _output_paths(state)
    with out_path.open("a", encoding="utf-8") as out, err_path.open("a", encoding="utf-8") as err:
        return subprocess.Popen(
            [*args, "--state", str(state), *extra],
            stdout=out,
            stderr=err,
            text=True,
            env=child_env(),
        )


def _output_paths(state: Path) -> tuple[Path, Path]:
    state.parent.mkdir(parents=True, exist_ok=True)
    return state.parent / f"{state.name}.monitor.out", state.parent / f"{state.name}.monitor.err"


def monitor_output(state: Path) -> tuple[str, str]:
    """What the monitor processes of ``state`` wrote to stdout and stderr."""
    out_path, err_path = _output_paths(state)
    return out_path.read_text(encoding="utf-8"), err_path.read_text(encoding="utf-8")


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
        # the same proof verifies from the root the new tree has at the old size: the log key
        # signed two trees that disagree on the first old_size entries
        recomputed = bytes.fromhex(body["recomputed_old_root"])
        merkle.verify_consistency(old_cp.size, new_cp.size, proof, recomputed, new_cp.root)
        assert body["proof_verifies_from_recomputed_old_root"] is True
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
        out, err = monitor_output(state)
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


@contextlib.contextmanager
def busy_cores(n: int, seconds: float) -> Iterator[None]:
    """``n`` processes that keep a core busy each, for at most ``seconds`` (killed on exit)."""
    code = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass\n"
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait(timeout=30)


def test_follow_audits_every_round_at_two_jobs_under_load(tmp_path: Path) -> None:
    """Issue 16's stall: each follow-mode round audits with a pool of forked workers, which
    inherited the monitor's SIGTERM handler, so ``Pool.terminate()`` could not end a worker
    that was still waiting for the task queue's lock (which terminate() holds) and the round
    hung joining it. The race is lost more often on a busy machine: 24 rounds, each auditing
    a new checkpoint with 2 jobs, while every core is kept busy, must each finish in time."""
    glog = build_generic(rounds=120, checkpoint_every=5)  # a checkpoint every 15 entries
    notes = glog.notes[:24]
    trust = tmp_path / "trust.json"
    glog.trust.save(trust)
    state = tmp_path / "state"
    export_tiles(glog.log, tmp_path / "t0", checkpoint_note=notes[0])
    server = TilesServer(tmp_path / "server", tmp_path / "t0")
    url = server.start()
    args = ["--jobs", "2", "--no-election", "--follow", "--interval", "0.05", "--format", "json"]
    proc = monitor_cli(url, trust, state, *args)
    try:
        with busy_cores(os.cpu_count() or 2, 4 * WAIT):
            for k, note in enumerate(notes):
                size = _parse_size(note)
                if k:
                    export_tiles(glog.log, tmp_path / f"t{k}", checkpoint_note=note)
                    server.serve(tmp_path / f"t{k}")
                wait_for(
                    lambda s=size: status_of(state).get("audit_checkpoint_size") == s,
                    f"the round that audits the checkpoint of size {size} (round {k + 1})",
                )
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        server.stop()
    out, err = monitor_output(state)
    assert proc.returncode == 0, err
    rounds = [json.loads(line) for line in out.splitlines()]
    audited = sorted({r["audit_checkpoint_size"] for r in rounds})
    assert audited == [_parse_size(n) for n in notes]
    assert {r["audit_verdict"] for r in rounds} == {"clean"}


def _parse_size(note: str) -> int:
    return int(note.splitlines()[1])


# --------------------------------------------------------------------------- SIGKILL


def _mirror_size(state: Path) -> int:
    import sqlite3

    path = state / "mirror.sqlite"
    if not path.exists():
        return 0
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


def test_monitor_sigkilled_mid_round_resumes_and_agrees(tmp_path: Path) -> None:
    glog = build_generic(rounds=1700, checkpoint_every=850)  # 5,100 entries
    assert len(glog.log) == 5100
    trust = tmp_path / "trust.json"
    glog.trust.save(trust)
    served = tmp_path / "tiles"
    export_tiles(glog.log, served)
    state = tmp_path / "state"
    server = TilesServer(tmp_path / "server", served, "slow")
    url = server.start()
    kills = []
    try:
        for _ in range(2):
            before = _mirror_size(state)
            proc = monitor_cli(url, trust, state, "--no-election")
            try:
                wait_for(
                    lambda b=before: (
                        (state / "pending.checkpoint").exists() and _mirror_size(state) > b
                    ),
                    "the monitor to mirror a batch",
                )
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
            kills.append(_mirror_size(state))
        assert 0 < kills[0] < kills[1] < 5100, kills
        assert (state / "pending.checkpoint").exists()  # killed mid-round
        server.requests()
        final = run_cli("monitor", url, "--trust", str(trust), "--state", str(state),
                        "--no-election", "--format", "json")  # fmt: skip
        fetched = server.requests()
    finally:
        server.stop()
    assert final.returncode == 0, final.stderr
    status = json.loads(final.stdout)
    assert status["size"] == 5100 and status["new_entries"] == 5100 - kills[1]
    assert status["audit_verdict"] == "clean" and status["audit_checkpoint_size"] == 5100
    assert not (state / "pending.checkpoint").exists()
    assert not (state / "evidence").exists()
    # the resumed round read only the bundles from where the mirror stopped
    bundles = [p for p in fetched if p.startswith("tile/entries/")]
    assert entries_path(kills[1] >> 8) in bundles
    assert all(p >= entries_path(kills[1] >> 8) for p in bundles), bundles
    mirror = open_store(str(state / "mirror.sqlite"), read_only=True, create=False)
    try:
        assert list(mirror.entries()) == glog.entries
        assert [c.note for c in mirror.checkpoints()] == [glog.notes[-1]]
        assert mirror.find_damage(full=True) == ()
    finally:
        mirror.close()


# --------------------------------------------------------------------------- in process


@pytest.fixture
def glog() -> GenericLog:
    return build_generic(rounds=200, checkpoint_every=100)  # checkpoints at 300 and 600


@pytest.fixture
def server(tmp_path: Path) -> Any:
    srv = TilesServer(tmp_path / "server", tmp_path / "nothing-yet")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _serve(server: TilesServer, source: Log | Any, directory: Path, note: str) -> None:
    export_tiles(source, directory, checkpoint_note=note)
    server.serve(directory)


def test_rollback_is_an_alarm(glog: GenericLog, server: TilesServer, tmp_path: Path) -> None:
    _serve(server, glog.log, tmp_path / "t600", glog.notes[1])
    with Monitor(server.url, glog.trust, tmp_path / "state", election=False) as monitor:
        assert monitor.round().size == 600
        _serve(server, glog.log, tmp_path / "t300", glog.notes[0])
        with pytest.raises(MonitorAlarm) as caught:
            monitor.round()
    assert caught.value.kind == "rollback"
    body = check_evidence(caught.value.evidence, glog.trust)
    assert (body["old_size"], body["new_size"]) == (600, 300)
    assert body["consistent"] is True  # a stale checkpoint of this log, not another history
    proof = [bytes.fromhex(h) for h in body["consistency_proof_from_new_to_old"]]
    merkle.verify_consistency(300, 600, proof, glog.log.root(300), glog.log.root(600))


def test_same_size_fork(glog: GenericLog, server: TilesServer, tmp_path: Path) -> None:
    _serve(server, glog.log, tmp_path / "t300", glog.notes[0])
    with Monitor(server.url, glog.trust, tmp_path / "state", election=False) as monitor:
        monitor.round()
        fork = fork_of(glog, 300)
        _serve(server, fork, tmp_path / "fork", fork.latest_checkpoint().note)
        with pytest.raises(MonitorAlarm, match="two checkpoints of size 300") as caught:
            monitor.round()
        seen = monitor.last_seen()
        assert seen is not None and seen.size == 300
    assert caught.value.kind == "fork"
    body = check_evidence(caught.value.evidence, glog.trust)
    assert body["old_root"] != body["new_root"]


def test_unverified_checkpoint(glog: GenericLog, server: TilesServer, tmp_path: Path) -> None:
    from electlog import NoteSigner

    other = Trust.create(
        origin=glog.origin,
        authority_key=glog.authority.public,
        log_key=NoteSigner.generate(glog.origin).vkey,
        witnesses=[w.vkey for w in glog.witnesses],
        quorum=2,
    )
    _serve(server, glog.log, tmp_path / "t300", glog.notes[0])
    with Monitor(server.url, other, tmp_path / "state", election=False) as monitor:
        with pytest.raises(MonitorAlarm, match="does not verify with the trust file") as caught:
            monitor.round()
        assert monitor.mirror.store.size() == 0
    assert caught.value.kind == "unverified-checkpoint"
    assert (caught.value.evidence / "new.checkpoint").read_text() == glog.notes[0]
    # a quorum the served note does not meet is refused the same way
    strict = Trust.create(
        origin=glog.origin,
        authority_key=glog.authority.public,
        log_key=glog.log_signer.vkey,
        witnesses=[w.vkey for w in glog.witnesses],
        quorum=2,
    )
    one = glog.signed_note(300, glog.log.root(300), cosigners=1)
    _serve(server, glog.log, tmp_path / "t300one", one)
    monitor = Monitor(server.url, strict, tmp_path / "state2", election=False)
    with monitor, pytest.raises(MonitorAlarm, match="quorum"):
        monitor.round()


def test_tampered_tile_is_an_alarm(glog: GenericLog, server: TilesServer, tmp_path: Path) -> None:
    _serve(server, glog.log, tmp_path / "t600", glog.notes[1])
    bundle = tmp_path / "t600" / entries_path(1)
    bundle.write_bytes(flip(bundle.read_bytes(), 40))
    with Monitor(server.url, glog.trust, tmp_path / "state", election=False) as monitor:
        with pytest.raises(MonitorAlarm, match="does not match its leaf hash") as caught:
            monitor.round()
        assert monitor.mirror.store.checkpoints() == []  # nothing of that tree accepted
    assert caught.value.kind == "tiles-mismatch"
    body = json.loads((caught.value.evidence / "evidence.json").read_text())
    assert entries_path(1) in body["message"] and body["new_size"] == 600


def test_invalid_entry_in_a_witnessed_log(
    glog: GenericLog, server: TilesServer, tmp_path: Path
) -> None:
    entries = glog.entries[:300]
    entries[123] = flip(entries[123], 80)  # in the signature
    store = MemoryStore(glog.origin)
    leaves = [merkle.leaf_hash(e) for e in entries]
    with store.transaction() as tx:
        for i, (e, h) in enumerate(zip(entries, leaves, strict=True)):
            tx.append(e, h, b"\x01" * 32, i + 1)
        tx.put_nodes(x for x in merkle.new_nodes_batch(tx.node, 0, leaves) if x[0])
    note = glog.signed_note(300, merkle.root_at(store.node, 300))
    store.add_checkpoint(300, note)
    _serve(server, store, tmp_path / "bad", note)
    monitor = Monitor(server.url, glog.trust, tmp_path / "state", election=False)
    with monitor, pytest.raises(MonitorAlarm, match="entry 123") as caught:
        monitor.round()
    body = json.loads((caught.value.evidence / "evidence.json").read_text())
    assert body["kind"] == "invalid-entry" and body["index"] == 123
    proof = [bytes.fromhex(h) for h in body["inclusion_proof"]]
    cp = verify_checkpoint_detailed(note, glog.trust.log_key, list(glog.trust.witnesses), 2)
    leaf = merkle.leaf_hash(bytes.fromhex(body["entry"]))
    merkle.verify_inclusion(leaf, 123, 300, proof, cp.checkpoint.root)


def test_unreachable_server_leaves_the_state(
    glog: GenericLog, server: TilesServer, tmp_path: Path
) -> None:
    _serve(server, glog.log, tmp_path / "t300", glog.notes[0])
    trust = tmp_path / "trust.json"
    glog.trust.save(trust)
    state = tmp_path / "state"
    ok = run_cli("monitor", server.url, "--trust", str(trust), "--state", str(state),
                 "--no-election")  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "verified: size 300" in ok.stdout
    server.stop()
    down = run_cli("monitor", server.url, "--trust", str(trust), "--state", str(state),
                   "--no-election", "--timeout", "2")  # fmt: skip
    assert down.returncode == 2
    assert "round failed" in down.stderr and server.url in down.stderr
    assert "Traceback" not in down.stderr
    assert "verified: size 300" in down.stdout  # how far it had verified, unchanged
    assert status_of(state)["size"] == 300


def test_one_monitor_per_state_dir(glog: GenericLog, server: TilesServer, tmp_path: Path) -> None:
    first = Monitor(server.url, glog.trust, tmp_path / "state", election=False)
    with first, pytest.raises(UsageError, match="another monitor"):
        Monitor(server.url, glog.trust, tmp_path / "state", election=False)
    with Monitor(server.url, glog.trust, tmp_path / "state", election=False):
        pass
    with pytest.raises(UsageError):
        Monitor("ftp://example.org/", glog.trust, tmp_path / "state2")


def test_audit_rerun_after_a_kill_before_the_status(
    glog: GenericLog, server: TilesServer, tmp_path: Path
) -> None:
    _serve(server, glog.log, tmp_path / "t600", glog.notes[1])
    with Monitor(server.url, glog.trust, tmp_path / "state", election=False) as monitor:
        first = monitor.round()
        assert first.audit_verdict == "clean" and first.audit_seconds is not None
        again = monitor.round()  # nothing new: no second audit, the verdict is kept
        assert again.new_entries == 0 and again.audit_verdict == "clean"
    (tmp_path / "state" / "status.json").unlink()  # as if killed before the status was written
    with Monitor(server.url, glog.trust, tmp_path / "state", election=False) as monitor:
        status = monitor.round()
    assert status.new_entries == 0 and status.audit_verdict == "clean"
    assert status.audit_checkpoint_size == 600


def test_follow_stops_on_sigterm(glog: GenericLog, server: TilesServer, tmp_path: Path) -> None:
    _serve(server, glog.log, tmp_path / "t300", glog.notes[0])
    trust = tmp_path / "trust.json"
    glog.trust.save(trust)
    state = tmp_path / "state"
    proc = monitor_cli(server.url, trust, state, "--follow", "--interval", "30", "--no-election")
    try:
        wait_for(lambda: status_of(state).get("size") == 300, "the first round")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=WAIT)
        out, err = monitor_output(state)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert proc.returncode == 0, err
    assert out.count("verified: size 300") == 1 and "Traceback" not in err
    bounded = run_cli(
        "monitor", server.url, "--trust", str(trust), "--state", str(state), "--no-election",
        "--follow", "--interval", "0.05", "--max-rounds", "3",
    )  # fmt: skip
    assert bounded.returncode == 0 and bounded.stdout.count("verified: size 300") == 3


def test_pinned_checkpoint_is_the_first_one_seen(
    glog: GenericLog, server: TilesServer, tmp_path: Path
) -> None:
    """A trust file's pinned checkpoint counts as seen: a fresh monitor checks the served log
    extends it before mirroring anything."""
    pinned = Trust.create(
        origin=glog.origin,
        authority_key=glog.authority.public,
        log_key=glog.log_signer.vkey,
        witnesses=[w.vkey for w in glog.witnesses],
        quorum=2,
        pinned_checkpoint=glog.notes[0],
    )
    fork = fork_of(glog, 600)
    _serve(server, fork, tmp_path / "fork", fork.latest_checkpoint().note)
    monitor = Monitor(server.url, pinned, tmp_path / "state", election=False)
    with monitor, pytest.raises(MonitorAlarm, match="does not extend") as caught:
        monitor.round()
    body = check_evidence(caught.value.evidence, pinned)
    assert body["old_size"] == 300 and body["recomputed_old_root"] == fork.root(300).hex()
    _serve(server, glog.log, tmp_path / "t600", glog.notes[1])
    with Monitor(server.url, pinned, tmp_path / "state", election=False) as monitor:
        assert monitor.round().size == 600


def test_each_round_audits_only_the_new_entries(
    glog: GenericLog, server: TilesServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The monitor's audit resumes from its audit state: the second round reads (and replays)
    only the entries mirrored since the first, counted through the audit's source, and its
    verdict is the one a full audit of the mirror gives."""
    from electlog.audit import audit
    from electlog.audit._sources import RawSQLiteSource

    read: list[int] = []
    original = RawSQLiteSource.chunks

    def counting(self: RawSQLiteSource, size: int, start: int = 0) -> Any:
        for chunk in original(self, size, start):
            read.append(len(chunk))
            yield chunk

    monkeypatch.setattr(RawSQLiteSource, "chunks", counting)
    _serve(server, glog.log, tmp_path / "t300", glog.notes[0])
    with Monitor(server.url, glog.trust, tmp_path / "state", election=False) as monitor:
        first = monitor.round()
        assert first.size == 300 and sum(read) == 300 and first.audit_verdict == "clean"
        read.clear()
        _serve(server, glog.log, tmp_path / "t600", glog.notes[1])
        second = monitor.round()
    assert second.size == 600 and second.new_entries == 300
    assert sum(read) == 300, read  # only the new entries
    assert second.audit_mode.startswith("resumed from the audit state at size 300")
    assert second.audit_entries == 600 and second.audit_verdict == "clean"
    full = audit(tmp_path / "state" / "mirror.sqlite", glog.trust, election=False, in_progress=True)
    assert full.verdict == second.audit_verdict and full.counts.entries == 600
    # a damaged audit state is moved aside and the mirror audited in full again
    (tmp_path / "state" / "audit" / "audit-state.bin").write_bytes(b"rubbish")
    _serve(server, glog.log, tmp_path / "t600b", glog.notes[1])
    with Monitor(server.url, glog.trust, tmp_path / "state", election=False) as monitor:
        (tmp_path / "state" / "status.json").unlink()  # force an audit this round
        monitor._audited = None
        third = monitor.round()
    assert "moved aside" in third.audit_mode and third.audit_verdict == "clean"
    assert (tmp_path / "state" / "audit" / "audit-state.bin.unusable").exists()
