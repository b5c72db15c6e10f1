"""The audit's worker processes under a program that handles SIGTERM (issue 16's stall).

``electlog monitor --follow`` handles SIGTERM and SIGINT; a worker forked for a round's audit
inherited that handler, so ``Pool.terminate()`` (which sends SIGTERM while holding the task
queue's lock) could not end a worker still waiting for that lock, and the round hung joining it.
The workers now reset both signals first (SIGTERM: the default action; SIGINT: ignored) and the
parent holds them while it forks, so a SIGTERM sent before the reset is not lost.

Each check runs in a child Python (bounded) that installs a SIGTERM handler as the monitor does.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tiles_http_support import child_env

TESTS = Path(__file__).resolve().parent.parent

_PRELUDE = """
import json, multiprocessing, os, signal, sys, time
caught = []
signal.signal(signal.SIGTERM, lambda signum, frame: caught.append(signum))
signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))

def wait_ended(proc, seconds=20.0):  # the pool's own thread may reap it first: poll
    deadline = time.monotonic() + seconds
    while proc.exitcode is None and time.monotonic() < deadline:
        proc.join(0.05)
    return proc.exitcode

def busy(path):  # a job that writes its pid to path (atomically), then works for a minute
    with open(path + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace(path + ".tmp", path)
    time.sleep(60)

def kill_when_busy(path, seconds=30.0):  # SIGTERM to busy's process once it wrote its pid
    deadline = time.monotonic() + seconds
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(int(open(path).read()), signal.SIGTERM)
"""


def _run(body: str) -> dict[str, Any]:
    code = _PRELUDE + textwrap.dedent(body)
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert isinstance(result, dict)
    return result


def test_verifier_workers_end_on_sigterm_under_a_handler() -> None:
    result = _run(
        """
        from electlog.audit import _pipeline

        def dispositions(_):
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
            return (
                signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,
                signal.getsignal(signal.SIGINT) == signal.SIG_IGN,
                signal.SIGTERM in blocked or signal.SIGINT in blocked,
            )

        _pipeline._verify_message = lambda msg: [os.getpid(), dispositions(None)]  # forked
        before = sorted(signal.pthread_sigmask(signal.SIG_BLOCK, []))
        with _pipeline.Verifier(2) as verifier:
            after = sorted(signal.pthread_sigmask(signal.SIG_BLOCK, []))
            seen = [reply[1] for reply in verifier.map([[b"x"], [b"y"]])]
            aside = verifier.aside(dispositions, None)()
            workers = verifier.workers.processes
            pids = sorted(p.pid for p in workers)
            os.kill(workers[0].pid, signal.SIGTERM)  # what close() sends a worker that lingers
            ended = wait_ended(workers[0])
        print(json.dumps({
            "pids": pids, "seen": seen, "aside": aside, "ended": ended, "caught": caught,
            "mask_before": before, "mask_after": after,
        }))
        """
    )
    assert len(set(result["pids"])) == 2
    # in both workers and beside them: SIGTERM default, SIGINT ignored, none held
    assert result["seen"] == [[True, True, False]] * 2
    assert result["aside"] == [True, True, False]
    assert result["ended"] == -15  # ended by the SIGTERM, not merely recorded by a handler
    assert result["caught"] == []  # the parent's handler did not see it either
    assert result["mask_after"] == result["mask_before"] == []  # the parent holds nothing


def test_a_sigterm_before_the_worker_resets_is_not_lost() -> None:
    """Sent after the fork but before the worker's first step, a SIGTERM is held, then ends the
    worker once it has reset its handlers (not recorded by the inherited handler and lost)."""
    result = _run(
        """
        from electlog.audit._pipeline import worker_signals, workers_starting

        def late_reset(ready):
            ready.wait(20)  # the SIGTERM is already sent: hold it until the reset
            worker_signals()
            time.sleep(30)
            os._exit(3)

        ctx = multiprocessing.get_context("fork")
        ready = ctx.Event()
        with workers_starting():
            proc = ctx.Process(target=late_reset, args=(ready,))
            proc.start()
        os.kill(proc.pid, signal.SIGTERM)
        time.sleep(0.5)
        ready.set()
        ended = wait_ended(proc)
        if ended is None:
            proc.kill()
            proc.join(10)
        print(json.dumps({"ended": ended, "caught": caught}))
        """
    )
    assert result == {"ended": -15, "caught": []}


def test_task_engine_workers_reset_their_signals(tmp_path: Path) -> None:
    """The task engine's processes (a fresh one per task) start the same way, each forked from
    the audit's own thread, never from a helper thread."""
    result = _run(
        f"""
        import threading
        sys.path.insert(0, {str(TESTS)!r})
        from audit_support import build_generic, write_bundle
        from electlog.audit._tasks import TaskEngine, task_source

        glog = build_generic()
        bundle = {str(tmp_path / "log.bundle")!r}
        write_bundle(bundle, glog.origin, glog.entries, glog.notes)

        def dispositions(_):
            return (
                os.getpid(),
                signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,
                threading.current_thread().name,
            )

        engine = TaskEngine("tasks", task_source(bundle), glog.trust, False, 2, None, None)
        with engine:
            # three jobs on two slots: the third starts when one of the first two is done
            jobs = [engine._forks.submit(dispositions, None) for _ in range(3)]
            seen = [engine._forks.result(job) for job in jobs]
        main = threading.current_thread().name
        print(json.dumps({{"seen": seen, "caught": caught, "main": main}}))
        """
    )
    pids = {pid for pid, _, _ in result["seen"]}
    assert len(pids) == 3  # one process per job
    assert all(reset for _, reset, _ in result["seen"])
    # a child forked by a pool's handler thread carries that thread's name
    assert {name for _, _, name in result["seen"]} == {result["main"]}
    assert result["caught"] == []


def test_a_task_process_that_dies_fails_its_job_at_once(tmp_path: Path) -> None:
    """A task process killed mid-task (a service manager's SIGTERM, the OOM killer) fails that
    job with AuditError at once; the others still answer, and an error a task raises comes
    back as itself."""
    result = _run(
        f"""
        PIDFILE = {str(tmp_path / "busy.pid")!r}
        from electlog.audit._oneshots import OneShots
        from electlog.errors import AuditError, KeySetError

        def square(x):
            return x * x

        def refuse(_):
            raise KeySetError("no such key")

        def unpicklable(_):
            return lambda: None

        started = time.monotonic()
        forks = OneShots(2)
        try:
            dead = forks.submit(busy, PIDFILE)
            kill_when_busy(PIDFILE)
            jobs = [forks.submit(fn, 7) for fn in (square, refuse, unpicklable)]
            out = []
            for job in [dead, *jobs]:
                try:
                    out.append(["ok", forks.result(job)])
                except Exception as exc:
                    out.append([type(exc).__name__, str(exc)])
        finally:
            forks.close()
        print(json.dumps({{"out": out, "seconds": time.monotonic() - started, "caught": caught}}))
        """
    )
    dead, square, refused, unpicklable = result["out"]
    assert dead[0] == "AuditError" and "ended before its work was done" in dead[1]
    assert "exit code -15" in dead[1]
    assert square == ["ok", 49]
    assert refused == ["KeySetError", "no such key"]
    assert unpicklable[0] == "AuditError" and "failed:" in unpicklable[1]
    assert result["seconds"] < 30  # nothing waited for the busy task's 60 s
    assert result["caught"] == []


def test_shard_workers_reset_their_signals() -> None:
    """The sharded replay's workers and the process beside them start the same way, so
    ``Shards.close()`` can terminate a worker that does not stop when asked."""
    result = _run(
        f"""
        sys.path.insert(0, {str(TESTS)!r})
        from audit_support import build_generic
        from electlog.audit._shards import Shards

        def dispositions(_):
            return (
                signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,
                signal.getsignal(signal.SIGINT) == signal.SIG_IGN,
            )

        def status(pid):  # the signals a process catches and ignores, from /proc
            fields = dict(
                line.split(":", 1) for line in open(f"/proc/{{pid}}/status").read().splitlines()
            )
            return int(fields["SigCgt"], 16), int(fields["SigIgn"], 16)

        TERM, INT = 1 << (signal.SIGTERM - 1), 1 << (signal.SIGINT - 1)
        glog = build_generic()
        with Shards(2, glog.trust, False) as shards:
            time.sleep(0.5)  # the workers' first step
            workers = [status(p.pid) for p in shards.workers.processes]
            aside = shards.aside(dispositions, None)()
            victim = shards.workers.processes[0]
            os.kill(victim.pid, signal.SIGTERM)
            ended = wait_ended(victim)
        print(json.dumps({{
            "workers": [[bool(c & TERM), bool(i & INT)] for c, i in workers],
            "aside": aside, "ended": ended, "caught": caught,
        }}))
        """
    )
    # SIGTERM not caught (the default action), SIGINT ignored, in both workers
    assert result["workers"] == [[False, True], [False, True]]
    assert result["aside"] == [True, True]
    assert result["ended"] == -15
    assert result["caught"] == []


def test_a_worker_ended_mid_audit_fails_the_audit_instead_of_hanging(tmp_path: Path) -> None:
    """A service manager's SIGTERM to the whole process group ends the workers (they reset the
    handler they inherit): the audit waiting for one of them fails with AuditError, at once,
    rather than waiting for its lost work forever; so does the next chunk, and so does a wait
    for the job beside the workers when its process is ended too."""
    result = _run(
        f"""
        import threading
        PIDFILE = {str(tmp_path / "busy.pid")!r}
        BESIDE = {str(tmp_path / "beside.pid")!r}
        from electlog.audit import _pipeline
        from electlog.errors import AuditError

        _pipeline._verify_message = lambda msg: busy(PIDFILE)  # forked: no pickling
        errors = []
        started = time.monotonic()
        with _pipeline.Verifier(2) as verifier:
            threading.Thread(target=kill_when_busy, args=(PIDFILE,)).start()
            wait = verifier.aside(busy, BESIDE)
            for step in (
                lambda: list(verifier.map([[b"x"]])),  # its worker ended while at work
                lambda: list(verifier.map([[b"y"]])),  # the same worker's turn again
                lambda: (kill_when_busy(BESIDE), wait()),
            ):
                try:
                    step()
                except AuditError as exc:
                    errors.append(str(exc))
        print(json.dumps({{
            "errors": errors, "seconds": time.monotonic() - started, "caught": caught,
        }}))
        """
    )
    ended = (
        "audit worker 0 ended before its work was done (exit code -15: killed, or stopped by a "
        "signal; out of memory?)"
    )
    assert result["errors"] == [
        ended,
        ended,
        "the audit's process beside the replay ended without an answer (exit code -15: killed, "
        "or stopped by a signal; out of memory?)",
    ]
    assert result["seconds"] < 30  # not the busy task's 60 s: nothing waited for it
    assert result["caught"] == []


def test_a_shard_worker_killed_mid_audit_fails_the_audit_instead_of_hanging() -> None:
    """A shard worker that dies without a word (SIGKILL: the kernel's out-of-memory killer)
    never sends the reply the auditing process waits for: the wait looks every while whether a
    worker has died, and fails the audit with AuditError naming it, rather than waiting forever
    (``electlog verify --jobs 2`` hung with its first worker killed)."""
    result = _run(
        f"""
        sys.path.insert(0, {str(TESTS)!r})
        from audit_support import build_generic
        from electlog.audit._shards import Shards
        from electlog.errors import AuditError

        glog = build_generic()
        chunk = glog.entries
        errors = []
        with Shards(2, glog.trust, False) as shards:
            os.kill(shards.workers.processes[0].pid, signal.SIGKILL)
            started = time.monotonic()
            shards.send(0, ("chunk", 0, 0, bytes(len(chunk)), chunk))
            shards.send(1, ("chunk", 0, 0, bytes(len(chunk)), []))
            try:
                shards.receive("chunk", 0, 0)
            except AuditError as exc:
                errors.append(str(exc))
            seconds = time.monotonic() - started
        print(json.dumps({{"errors": errors, "seconds": seconds, "caught": caught}}))
        """
    )
    assert result["errors"] == [
        "audit worker 0 ended before its work was done (exit code -9: killed, or stopped by a "
        "signal; out of memory?)"
    ]
    assert result["seconds"] < 30
    assert result["caught"] == []


_HALF_WRITE = """
import multiprocessing.connection
from electlog.audit import _pipeline, _shards
from electlog.errors import AuditError

MARK = b"half-written-reply"
parent = os.getpid()
send = multiprocessing.connection.Connection._send

def half_then_killed(self, buf, *args):  # in a worker: half of the marked reply, then SIGKILL
    if os.getpid() != parent and MARK in bytes(buf):
        os.write(self.fileno(), bytes(buf)[: len(buf) // 2])
        os.kill(os.getpid(), signal.SIGKILL)
    return send(self, buf, *args)

multiprocessing.connection.Connection._send = half_then_killed

def outcome(step):
    started = time.monotonic()
    try:
        step()
        error = None
    except AuditError as exc:
        error = str(exc)
    return {"error": error, "seconds": time.monotonic() - started, "caught": caught}
"""


@pytest.mark.parametrize("pool", ["shards", "verifier"])
def test_a_worker_killed_while_it_writes_a_reply_fails_the_audit(pool: str) -> None:
    """The out-of-memory killer strikes a worker at its largest, which is while it sends its
    end of the replay (every result of its communities, megabytes) or a chunk's decoded
    entries: half a reply is in the pipe when it dies. The auditing process reads each
    worker's replies from a pipe of that worker's own, so it meets the pipe's end and fails the
    audit with AuditError, instead of waiting forever for the rest of a message no process will
    write (the workers shared one queue, or a process pool's one result pipe, whose other
    writers could not write either: the dead worker held its lock)."""
    if pool == "shards":
        body = f"""
        sys.path.insert(0, {str(TESTS)!r})
        from audit_support import build_generic

        _shards.ShardWorker.end = lambda self, owned, size: {{"big": MARK + bytes(300_000)}}
        with _shards.Shards(2, build_generic().trust, False) as shards:
            shards.send(0, ("end", frozenset(), 0))
            print(json.dumps(outcome(lambda: shards.receive("end", 0, 0))))
        """
    else:
        body = """
        _pipeline._verify_message = lambda msg: [MARK + bytes(300_000)]
        with _pipeline.Verifier(2) as verifier:
            print(json.dumps(outcome(lambda: list(verifier.map([[b"x"]])))))
        """
    result = _run(_HALF_WRITE + textwrap.dedent(body))
    assert result["error"] == (
        "audit worker 0 ended before its work was done (exit code -9: killed, or stopped by a "
        "signal; out of memory?)"
    )
    assert result["seconds"] < 30
    assert result["caught"] == []
