"""One-shot task processes (:class:`OneShots`): the local community tasks' runner."""

from __future__ import annotations

import heapq
import multiprocessing
import multiprocessing.connection
import pickle
import sys
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Final

from electlog._procs import worker_signals, workers_starting
from electlog.errors import AuditError, UsageError

__all__ = ["FORKS", "TAIL", "OneShots", "balanced_order", "makespan"]

FORKS: Final = (
    sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
)
"""Whether :class:`OneShots` forks its processes here (Linux), else spawns them."""


class OneShots:
    """Runs jobs (``fn(arg)``), each in a fresh process forked from the thread that calls
    :meth:`submit`, :meth:`ready` or :meth:`result`, at most ``processes`` at a time; a process
    exits when its job is done, so it holds one task's state and gives it back at once.

    No thread of its own ever forks: a process forked from a helper thread (as a process pool
    with ``maxtasksperchild`` does, from its handler thread) inherits every lock another thread
    held at that moment, and a task that needs one (``tempfile``'s, the logging module's) waits
    forever. Here the processes start only at the calls above, in the caller's thread, with
    SIGTERM and SIGINT held until each has reset its handlers (:func:`workers_starting`). A
    process that ends without an answer (killed, out of memory) fails its job with
    :class:`AuditError` at once."""

    def __init__(self, processes: int) -> None:
        self._ctx: Any = multiprocessing.get_context("fork" if FORKS else "spawn")
        self.forks = FORKS
        """Whether a job's process is forked (its ``arg`` is inherited, not pickled: shared
        memory made before :meth:`submit` reaches it)."""
        self._slots = max(1, processes)
        self._queued: deque[int] = deque()
        self._jobs: dict[int, tuple[Callable[[Any], Any], Any]] = {}
        self._running: dict[int, tuple[Any, multiprocessing.connection.Connection]] = {}
        self._outcomes: dict[int, tuple[str, Any]] = {}
        self._next = 0
        self.choose: Callable[[list[int], list[int]], int] | None = None
        """If set, which queued job starts when a process is free: ``choose(queued,
        running)`` (job numbers, the queued ones in their order) returns one of ``queued``;
        else the first queued."""

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> int:
        """Queue ``fn(arg)`` (started now if a process slot is free); its job number."""
        job = self._next
        self._next += 1
        self._jobs[job] = (fn, arg)
        self._queued.append(job)
        self._fill()
        return job

    def ready(self, job: int) -> bool:
        """Whether ``job`` has finished (collects whatever has, without waiting)."""
        self._pump(0)
        return job in self._outcomes

    def shared_counter(self) -> Any:
        """A ``multiprocessing.Value`` of one signed 64-bit integer with its lock, for the
        processes this object starts."""
        return self._ctx.Value("q", 0)

    def wait(self) -> None:
        """Wait until a running job finishes (at once if none is running)."""
        self._pump(None)

    def result(self, job: int) -> Any:
        """Wait for ``job`` and return its value; its exception is raised again here, and a
        process that ended without an answer is an :class:`AuditError`."""
        while job not in self._outcomes:
            if job not in self._running and job not in self._queued:
                raise UsageError(f"no job {job} (its result was taken, or it was never queued)")
            self._pump(None)
        kind, value = self._outcomes.pop(job)
        if kind == "ok":
            return value
        if kind == "raise":
            raise value
        raise AuditError(f"an audit task process {value}")

    def cancel(self, job: int) -> None:
        """Forget ``job``: unqueue it, or end its process, or drop its outcome."""
        if job in self._queued:
            self._queued.remove(job)
            self._jobs.pop(job, None)
        running = self._running.pop(job, None)
        if running is not None:
            _end(*running)
        self._outcomes.pop(job, None)
        self._fill()

    def close(self) -> None:
        """End every process still running and forget the queued jobs (idempotent)."""
        self._queued.clear()
        running, self._running = self._running, {}
        for proc, conn in running.values():
            _end(proc, conn)

    def _fill(self) -> None:
        while self._queued and len(self._running) < self._slots:
            choose = self.choose
            if choose is None or len(self._queued) == 1:
                job = self._queued.popleft()
            else:
                job = choose(list(self._queued), list(self._running))
                self._queued.remove(job)
            fn, arg = self._jobs.pop(job)
            reader, writer = self._ctx.Pipe(duplex=False)
            try:
                with workers_starting():  # it resets the handlers it inherits first
                    proc = self._ctx.Process(
                        target=_one_shot_main, args=(writer, fn, arg), daemon=True
                    )
                    proc.start()
            except OSError as exc:
                reader.close()
                raise UsageError(f"cannot start an audit task process: {exc}") from exc
            finally:
                writer.close()
            self._running[job] = (proc, reader)

    def _pump(self, timeout: float | None) -> None:
        """Wait up to ``timeout`` (None: until one finishes) and collect what finished."""
        self._fill()
        if not self._running:
            return
        waiting: dict[Any, int] = {}
        for job, (proc, conn) in self._running.items():
            waiting[conn] = job
            waiting[proc.sentinel] = job
        done = {waiting[w] for w in multiprocessing.connection.wait(list(waiting), timeout)}
        for job in sorted(done):
            proc, conn = self._running.pop(job)
            try:
                outcome: tuple[str, Any] = conn.recv()  # sent before it exits
            except (EOFError, OSError):
                proc.join()
                outcome = ("lost", f"ended before its work was done (exit code {proc.exitcode})")
            finally:
                conn.close()
            proc.join()
            self._outcomes[job] = outcome
        self._fill()


def _end(proc: Any, conn: multiprocessing.connection.Connection) -> None:
    """End a job's process (terminated if it still runs) and close its pipe."""
    conn.close()
    if proc.is_alive():
        proc.terminate()
    proc.join()


def _one_shot_main(
    conn: multiprocessing.connection.Connection, fn: Callable[[Any], Any], arg: Any
) -> None:
    """A :class:`OneShots` process: ``fn(arg)``'s outcome to the parent, then exit."""
    worker_signals()
    try:
        outcome: tuple[str, Any] = ("ok", fn(arg))
    except BaseException as exc:  # raised again in the parent, or its traceback's last line
        outcome = ("raise", exc)
        try:
            pickle.dumps(exc)
        except Exception:
            outcome = ("lost", f"failed: {traceback.format_exc().strip().splitlines()[-1]}")
    try:
        conn.send(outcome)
    except Exception:  # the value does not pickle
        conn.send(("lost", f"failed: {traceback.format_exc().strip().splitlines()[-1]}"))
    finally:
        conn.close()


TAIL: Final = 16
"""How many of the last jobs :func:`balanced_order` reorders (the first ones stay largest
first): its search is quadratic in them, and the end is decided by the last few."""


def _finish_times(
    loads: Sequence[int], order: Sequence[int], busy: Sequence[int], processes: int
) -> list[int]:
    """When each process is free again once ``order``'s jobs (by index into ``loads``) have
    run, each started on the first process free (as :class:`OneShots` runs them), the
    processes busy for ``busy`` first (the jobs already running); a heap."""
    free = sorted([*busy[:processes], *[0] * max(0, processes - len(busy))])
    for job in order:
        heapq.heapreplace(free, free[0] + loads[job])
    return free


def makespan(
    loads: Sequence[int], order: Sequence[int], busy: Sequence[int], processes: int
) -> int:
    """When the last of ``order``'s jobs (by index into ``loads``) ends, if each starts on the
    first process free (as :class:`OneShots` runs them) and the processes are busy for
    ``busy`` first (the jobs already running), in the units of ``loads``."""
    return max(_finish_times(loads, order, busy, processes))


def balanced_order(loads: Sequence[int], busy: Sequence[int] = (), processes: int = 2) -> list[int]:
    """An order to submit jobs of ``loads`` in (indexes into it) so that ``processes`` running
    them one after another end as close together as they can: the largest first, then any two
    of the last :data:`TAIL` jobs swapped while that makes the last end sooner
    (:func:`makespan`). Largest first alone leaves the processes waiting for the last job up to
    its whole length; the jobs here are communities, whose sizes the routing plan gives."""
    order = sorted(range(len(loads)), key=lambda job: -loads[job])
    if processes < 2 or len(order) < 2:
        return order
    cut = max(0, len(order) - TAIL)
    head, tail = order[:cut], order[cut:]
    start = _finish_times(loads, head, busy, processes)  # the processes after the first jobs
    best = makespan(loads, tail, start, processes)
    for _ in range(len(tail)):  # bounded: each pass that changes the order shortens the end
        improved = False
        for i in range(len(tail) - 1):
            for j in range(i + 1, len(tail)):
                if loads[tail[i]] == loads[tail[j]]:
                    continue
                tail[i], tail[j] = tail[j], tail[i]
                span = makespan(loads, tail, start, processes)
                if span < best:
                    best, improved = span, True
                else:
                    tail[i], tail[j] = tail[j], tail[i]
        if not improved:
            break
    return head + tail
