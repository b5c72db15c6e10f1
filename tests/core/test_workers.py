"""electlog._workers.Workers: worker processes answering in order on pipes of their own."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from electlog._workers import Handler, Workers
from electlog.errors import AuditError, SignerError


def _serve(offset: int, w: int) -> Handler:
    def handle(msg: tuple[Any, ...]) -> Any:
        kind, value = msg
        if kind == "raise":
            raise SignerError(f"worker {w} refuses {value}")
        if kind == "fail":
            raise KeyError(value)
        if kind == "sleep":
            time.sleep(value)
        if kind == "unpicklable":
            return lambda: value  # a local function: it does not pickle
        return (w, value + offset)

    return handle


def _workers(jobs: int = 2, beside: str | None = None) -> Workers:
    return Workers(
        jobs,
        functools.partial(_serve, 100),
        error=SignerError,
        name="helper {w}",
        beside=beside,
    )


def test_each_worker_answers_its_messages_in_order() -> None:
    with _workers() as workers:
        for k in range(6):
            workers.send(k % 2, ("echo", k))
        assert [workers.receive(k % 2) for k in range(6)] == [(k % 2, k + 100) for k in range(6)]


def test_available_counts_the_answers_in_without_waiting() -> None:
    with _workers() as workers:
        assert workers.available(1) == 0
        workers.send(1, ("sleep", 0.3))
        assert workers.available(1) == 0  # still asleep: nothing in yet
        workers.send(0, ("echo", 1))
        workers.send(0, ("echo", 2))
        deadline = time.monotonic() + 30
        while workers.available(0) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert workers.available(0) == 2
        assert workers.receive(1) == (1, 100.3)
        assert [workers.receive(0), workers.receive(0)] == [(0, 101), (0, 102)]
        assert workers.available(0) == 0


def test_the_callers_error_class_comes_back_as_it_is_anything_else_names_the_worker() -> None:
    with _workers() as workers:
        workers.send(1, ("raise", "this"))
        with pytest.raises(SignerError, match=r"^worker 1 refuses this$"):
            workers.receive(1)
    with _workers() as workers:
        workers.send(0, ("fail", "that"))
        with pytest.raises(SignerError, match=r"^helper 0 failed: KeyError: 'that'$"):
            workers.receive(0)
        with pytest.raises(SignerError, match="helper 0 failed"):  # and stays failed
            workers.receive(1)


def test_an_answer_that_does_not_pickle_is_a_failure_not_a_silence() -> None:
    """The worker pickles its answer before it queues it, so one that does not pickle is
    reported like any failure; pickled in the sending thread, it was lost there and the
    waiting process waited for ever."""
    with _workers() as workers:
        workers.send(0, ("unpicklable", 1))
        deadline = time.monotonic() + 30
        while workers.available(0) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert workers.available(0) > 0  # a failure answers at once (by raising)
        with pytest.raises(SignerError, match=r"^helper 0 failed: .*pickle"):
            workers.receive(0)


def test_a_worker_that_dies_is_named_with_its_exit_code() -> None:
    with _workers() as workers:
        victim = workers.processes[1]
        os.kill(victim.pid, signal.SIGKILL)
        workers.send(1, ("echo", 0))
        with pytest.raises(
            SignerError, match=r"^helper 1 ended before its work was done \(exit code -9"
        ):
            workers.receive(1)
        assert workers.available(0) > 1_000_000  # a failed set answers at once (by raising)


def test_the_job_beside_the_workers() -> None:
    with _workers(beside="the process beside") as workers:
        done = workers.aside(len, "abcd")
        assert done() == 4
        with pytest.raises(Exception, match="its one job was used"):
            workers.aside(len, "again")
    with _workers(beside="the process beside") as workers:
        process = workers.beside
        assert process is not None
        os.kill(process.pid, signal.SIGKILL)
        process.join(30)
        with pytest.raises(SignerError, match=r"^the process beside ended before its job was sent"):
            workers.aside(len, "abcd")
    with _workers() as workers:
        assert workers.beside is None


def test_a_worker_start_that_fails_is_the_callers_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import multiprocessing.context

    def refuse(self: Any) -> None:
        raise OSError("no more processes")

    monkeypatch.setattr(multiprocessing.context.ForkProcess, "start", refuse, raising=False)
    monkeypatch.setattr(multiprocessing.context.SpawnProcess, "start", refuse, raising=False)
    workers = Workers(2, functools.partial(_serve, 0), error=AuditError, name="w {w}")
    with pytest.raises(AuditError, match="cannot start 2 worker process"):
        workers.__enter__()


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (exited, not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] != b"Z"


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc")
def test_workers_end_when_the_process_that_started_them_is_killed() -> None:
    """The waiting process killed (the out-of-memory killer may pick it rather than a worker):
    its workers, idle or not, end instead of waiting for work for ever (each holds its share
    of the replay's state: about 100 MB at the seed district's size). Each worker's inbox is a
    pipe only that process writes to, so it ends with it."""
    code = f"""
import functools, json, sys, time
sys.path.insert(0, {os.path.dirname(__file__)!r})
from test_workers import _serve
from electlog._workers import Workers
from electlog.errors import AuditError

with Workers(2, functools.partial(_serve, 0), error=AuditError, name="w {{w}}") as workers:
    workers.send(0, ("sleep", 1.0))  # one busy, one idle
    print(json.dumps([p.pid for p in workers.processes]), flush=True)
    time.sleep(120)
"""
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        pids = json.loads(child.stdout.readline())
        assert len(pids) == 2 and all(_running(pid) for pid in pids)
        child.kill()
        child.wait(30)
        deadline = time.monotonic() + 30
        while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_running(pid) for pid in pids)
    finally:
        child.kill()
        child.wait(30)
        for pid in pids if "pids" in locals() else []:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not os.path.exists("/proc/self/fd"), reason="counts /proc/self/fd")
def test_starting_and_closing_workers_leaves_no_file_or_thread_behind() -> None:
    """A monitor audits round after round in one process: every start and close (a normal
    one, one left with work in flight, one whose worker died) gives back its pipes and its
    sending threads (the pipes of processes this test no longer holds)."""
    import gc
    import threading

    def count() -> tuple[int, int]:
        return len(os.listdir("/proc/self/fd")), threading.active_count()

    gc.collect()  # what earlier tests left to the collector
    before = count()
    for _ in range(5):
        with _workers(beside="beside") as workers:
            workers.send(0, ("echo", 1))
            assert workers.receive(0) == (0, 101)
            assert workers.aside(len, "ab")() == 2
        with pytest.raises(KeyError), _workers() as workers:
            workers.send(1, ("sleep", 5.0))
            raise KeyError("left with work in flight")
        with _workers() as workers:
            os.kill(workers.processes[0].pid, signal.SIGKILL)
            workers.send(0, ("echo", 1))
            with pytest.raises(SignerError):
                workers.receive(0)
    gc.collect()  # a failure's traceback holds its frames in a cycle until the collector runs
    assert count() == before
