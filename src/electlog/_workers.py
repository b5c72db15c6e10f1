"""Worker processes, each with a pipe of its own for its replies: :class:`Workers`.

Every place electlog hands work to other processes and waits for their answers runs on it: the
audit's verification (``audit._pipeline.Verifier``: chunks decoded and verified in the workers,
replayed in the auditing process), the sharded replay (``audit._shards.Shards``: each worker
replays its communities) and the signing helper of :class:`~electlog.signer.ChainSigner`. A
worker is told what to do through a queue of its own and answers on a pipe of its own, in
order; optionally one more process runs one job beside the workers (:meth:`Workers.aside`: the
audit's store check) and exits when it is done.

Why a pipe per worker, and not one queue all the workers answer on (or a process pool, whose
workers share one result pipe too): a worker that dies in the middle of a reply (the kernel's
out-of-memory killer strikes a worker at its largest, which is while it sends a chunk's results
or its end of the replay) leaves half a message in the pipe. On a shared pipe the auditing
process waits for the rest for ever, and no other worker can answer past it (the dead one held
the pipe's lock). Here every forked process closes the reply ends that are not its own, so a
worker's pipe ends with that worker, even mid-message, and the wait fails at once with the
caller's :class:`~electlog.errors.ElectlogError` subclass naming it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import pickle
import queue
import sys
import threading
import traceback
from collections import deque
from collections.abc import Callable
from multiprocessing.reduction import ForkingPickler
from typing import Any, Final, Generic, NoReturn, TypeVar

from electlog._procs import worker_signals, workers_starting
from electlog.errors import ElectlogError, UsageError

__all__ = ["Aside", "Handler", "Workers"]

R = TypeVar("R")

Handler = Callable[[tuple[Any, ...]], Any]
"""What a worker does with each message it is sent: its reply."""

_JOIN_TIMEOUT: Final[float] = 5.0
"""How long :meth:`Workers.close` waits for a worker told to stop before it terminates it."""
_POLL: Final = 0.5
"""How often :meth:`Workers.receive`, waiting for a reply, looks whether a worker has died."""
_EXIT_WAIT: Final = 1.0
"""How long :meth:`Workers.receive` waits for the exit code of a worker whose pipe ended."""
_STOP: Final = ("stop",)


class Aside(Generic[R]):
    """The result of the job beside the replay (the store's full check): calling it waits for
    the value (once; later calls return it again), :meth:`ready` says without waiting whether
    it is in, so the audit can act on it early (refuse a damaged file)."""

    def __init__(self, wait: Callable[[], R], ready: Callable[[], bool]) -> None:
        self._wait = wait
        self._ready = ready
        self._done = False
        self._value: R | None = None

    def ready(self) -> bool:
        """Whether calling would not wait."""
        return self._done or self._ready()

    def __call__(self) -> R:
        if not self._done:
            self._value = self._wait()
            self._done = True
        return self._value  # type: ignore[return-value]  # set just above


class _Sender:
    """One end of a one-way pipe: :meth:`put` queues a message and a thread sends it, so the
    sender goes on (a worker with its next chunk while its answers wait to be read; the waiting
    process with its next message while the worker is busy), as a ``multiprocessing`` queue's
    feeder thread does, on a pipe of its own."""

    def __init__(self, conn: multiprocessing.connection.Connection) -> None:
        self._conn = conn
        self._queue: queue.SimpleQueue[memoryview | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._send_all, daemon=True)
        self._thread.start()

    def _send_all(self) -> None:
        conn = self._conn
        while (buf := self._queue.get()) is not None:
            try:
                conn.send_bytes(buf)
            except OSError:  # the other end is closed (its process gone): nobody reads
                return

    def put(self, msg: tuple[Any, ...]) -> None:
        """Queue ``msg``, pickled here: a message that does not pickle raises in the caller
        (a worker then reports it), instead of being lost in the thread."""
        self._queue.put(ForkingPickler.dumps(msg))

    def close(self, timeout: float | None = None) -> None:
        """Send what is queued, then close the pipe; with ``timeout``, give up waiting for a
        reader that does not read (the pipe is then left to the thread, a daemon, which ends
        when the reader's process does)."""
        self._queue.put(None)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._conn.close()


def _worker_main(
    w: int,
    serve: Callable[[int], Handler],
    inbox: multiprocessing.connection.Connection,
    reply: multiprocessing.connection.Connection,
    foreign: list[multiprocessing.connection.Connection],
) -> None:
    """A worker: ``serve(w)`` makes its handler; each message's reply goes back in order. It
    ends when told to, or when its inbox ends: the waiting process is gone (killed, out of
    memory), so nobody would send it work or read its answers."""
    worker_signals()  # not the parent's handlers: close() may have to terminate it
    for conn in foreign:  # the pipes' ends this fork inherited: the others' own
        conn.close()
    out = _Sender(reply)
    try:
        handle = serve(w)
        while True:
            try:
                msg = inbox.recv()
            except (EOFError, OSError):  # the waiting process is gone, even mid-message
                return
            if msg == _STOP:
                return
            out.put(("ok", handle(msg)))
    except ElectlogError as exc:  # raised again as it is in the parent, if it pickles
        out.put(_raised(exc))
    except BaseException:  # reported to the parent, which raises its error class
        out.put(("error", traceback.format_exc()))
    finally:
        out.close()  # sends what is queued (the waiting process reads it, or is gone)


def _raised(exc: ElectlogError) -> tuple[str, Any]:
    try:
        pickle.dumps(exc)
    except Exception:
        return ("error", traceback.format_exc())
    return ("raise", exc)


def _aside_main(
    conn: multiprocessing.connection.Connection,
    foreign: list[multiprocessing.connection.Connection],
) -> None:
    """The one job beside the replay: receive ``(fn, arg)``, send back ``fn(arg)``, exit (so
    its memory is given back as soon as it is done, long before the replay's peak)."""
    worker_signals()
    for other in foreign:  # the workers' pipes' ends this fork inherited
        other.close()
    try:
        job = conn.recv()
    except (EOFError, OSError):  # no job: the audit ended without one
        return
    if job is None:  # no job: the audit's source has no check to run beside the replay
        conn.close()
        return
    try:
        fn, arg = job
        conn.send(("ok", fn(arg)))
    except BaseException:  # reported to the parent, which raises its error class
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


class Workers:
    """``jobs`` worker processes, ``serve(w)`` making worker ``w``'s handler (it must pickle
    where processes are spawned, not forked), and, with ``beside``, one more process for one
    job beside them (:meth:`aside`). Use as a context manager; enter it before opening
    database connections, so the forked workers inherit nothing they could disturb.

    ``error`` is the :class:`~electlog.errors.ElectlogError` subclass a lost or failed worker
    raises; ``name`` names worker ``{w}`` in its message (``"audit worker {w}"``) and
    ``beside`` the process beside them; ``method`` is the start method (default: ``fork`` on
    Linux, else ``spawn``). An ``error`` a handler raises is raised again as it is."""

    def __init__(
        self,
        jobs: int,
        serve: Callable[[int], Handler],
        *,
        error: type[ElectlogError],
        name: str,
        beside: str | None = None,
        method: str | None = None,
    ) -> None:
        self.jobs = jobs
        self._serve = serve
        self._error = error
        self._name = name
        self._beside = beside
        self._method = method
        self._procs: list[multiprocessing.process.BaseProcess] = []
        self._inboxes: list[_Sender] = []
        self._replies: list[multiprocessing.connection.Connection] = []
        self._got: list[deque[Any]] = []
        self._aside: multiprocessing.process.BaseProcess | None = None
        self._aside_conn: multiprocessing.connection.Connection | None = None
        self._aside_used = False
        self._failed: ElectlogError | None = None

    def __enter__(self) -> Workers:
        method = self._method
        if method is None:
            methods = multiprocessing.get_all_start_methods()
            method = "fork" if sys.platform.startswith("linux") and "fork" in methods else "spawn"
        ctx = multiprocessing.get_context(method)
        writers: list[multiprocessing.connection.Connection] = []
        readers: list[multiprocessing.connection.Connection] = []
        ends: list[multiprocessing.connection.Connection] = []
        try:
            with workers_starting():  # the workers reset the handlers they inherit
                pipes = [ctx.Pipe(duplex=False) for _ in range(self.jobs)]
                self._replies = [reader for reader, _ in pipes]
                self._got = [deque() for _ in pipes]
                writers = [writer for _, writer in pipes]
                inboxes = [ctx.Pipe(duplex=False) for _ in range(self.jobs)]
                readers = [reader for reader, _ in inboxes]
                ends = [writer for _, writer in inboxes]  # this process's ends
                # a forked process inherits every end: each closes those not its own, so a
                # worker's reply pipe ends when that worker does, and its inbox when this
                # process does (spawned processes get only theirs)
                forked = method == "fork"
                for w in range(self.jobs):
                    mine = (readers[w], writers[w])
                    foreign = [
                        c for c in (*self._replies, *writers, *readers, *ends) if c not in mine
                    ]
                    proc = ctx.Process(  # type: ignore[attr-defined]
                        target=_worker_main,
                        args=(w, self._serve, *mine, foreign if forked else []),
                        daemon=True,
                    )
                    proc.start()
                    self._procs.append(proc)
                if self._beside is not None:
                    # forked now, before the caller opens anything; it exits once its job is done
                    self._aside_conn, child = ctx.Pipe()
                    self._aside = ctx.Process(  # type: ignore[attr-defined]
                        target=_aside_main,
                        args=(child, [*self._replies, *writers, *readers, *ends] if forked else []),
                        daemon=True,
                    )
                    self._aside.start()
                    child.close()
            self._inboxes = [_Sender(end) for end in ends]
        except (OSError, ValueError) as exc:
            for end in ends:
                end.close()
            self.close(abandon=True)
            raise self._error(f"cannot start {self.jobs} worker process(es): {exc}") from exc
        finally:
            for conn in (*writers, *readers):  # the workers' ends
                conn.close()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close(abandon=exc_info[0] is not None)

    def close(self, abandon: bool = False) -> None:
        """Stop the workers (idempotent): once their work is done, or at once with ``abandon``
        (the audit failed, was interrupted or goes to the serial replay: the work in flight is
        of no use)."""
        procs = [*self._procs, *([self._aside] if self._aside is not None else [])]
        if abandon:
            for proc in procs:
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    proc.terminate()
        for reply in self._replies:  # a worker still sending meets a closed pipe and stops
            reply.close()
        for inbox in self._inboxes:
            if not abandon:
                inbox.put(_STOP)
            inbox.close(_JOIN_TIMEOUT)  # a terminated worker's inbox ends: no wait
        for proc in self._procs:
            proc.join(timeout=_JOIN_TIMEOUT)
            if proc.is_alive():
                proc.terminate()
                proc.join()
        self._procs, self._inboxes, self._replies, self._got = [], [], [], []
        self._failed = None  # its traceback holds this object: no cycle left to the collector
        conn, self._aside_conn = self._aside_conn, None
        if conn is not None:
            if not self._aside_used and not abandon:
                # the aside process waits for a job: tell it there is none (closing this end
                # is no end-of-file for it, since it holds a copy of this end, forked with it)
                with contextlib.suppress(OSError, ValueError):
                    conn.send(None)
            conn.close()
        aside, self._aside = self._aside, None
        if aside is not None:
            aside.join(timeout=_JOIN_TIMEOUT)
            if aside.is_alive():
                aside.terminate()
                aside.join()

    @property
    def processes(self) -> list[multiprocessing.process.BaseProcess]:
        """The worker processes, in worker order (not the one beside them)."""
        return list(self._procs)

    @property
    def beside(self) -> multiprocessing.process.BaseProcess | None:
        """The process for the job beside the workers (None once closed)."""
        return self._aside

    def send(self, w: int, msg: tuple[Any, ...]) -> None:
        """Send worker ``w`` a message (its handler's reply comes back in order)."""
        if not self._inboxes:
            raise UsageError("the worker processes are not running")
        self._inboxes[w].put(msg)

    def receive(self, w: int) -> Any:
        """Worker ``w``'s reply to the oldest message it has not answered yet.

        Every pipe is read as soon as anything is in it (so no worker waits on a full pipe).
        A worker that dies (killed: out of memory) never answers: its pipe ends, at once, even
        in the middle of a message, and the wait fails with the ``error`` class naming it,
        after what it sent before (its own error, if it reported one, wins)."""
        got = self._got
        if not got:
            raise UsageError("the worker processes are not running")
        while not got[w]:
            if not self._pump(_POLL):  # nothing came: a worker gone while another holds its pipe?
                for k, proc in enumerate(self._procs):
                    if proc.exitcode is not None:
                        self._lost(k)
        return got[w].popleft()

    def available(self, w: int) -> int:
        """How many of worker ``w``'s replies are in, without waiting (reading what is ready);
        a worker that failed or was lost counts as every reply in (the next :meth:`receive`
        raises why)."""
        got = self._got
        if not got:
            return 0
        try:
            self._pump(0)
        except ElectlogError:
            return sys.maxsize
        return len(got[w])

    def _pump(self, timeout: float) -> bool:
        """Read every pipe that is ready within ``timeout``; whether one was."""
        failed = self._failed
        if failed is not None:
            raise failed
        ready = multiprocessing.connection.wait(self._replies, timeout=timeout)
        for conn in ready:
            assert isinstance(conn, multiprocessing.connection.Connection)
            k = self._replies.index(conn)
            try:
                kind, value = conn.recv()
            except (EOFError, OSError):
                self._lost(k)
            if kind == "raise" and isinstance(value, self._error):
                self._fail(value)
            if kind != "ok":
                last = value if kind == "raise" else value.strip().splitlines()[-1]
                self._fail(self._error(f"{self._name.format(w=k)} failed: {last}"))
            self._got[k].append(value)
        return bool(ready)

    def _fail(self, exc: ElectlogError) -> NoReturn:
        self._failed = exc  # every later wait raises it too: the workers' order is broken
        raise exc

    def _lost(self, w: int) -> NoReturn:
        self._fail(self._ended(self._name.format(w=w), "before its work was done", self._procs[w]))

    def _ended(
        self, who: str, when: str, process: multiprocessing.process.BaseProcess | None
    ) -> ElectlogError:
        """The error for ``who``, whose pipe ended ``when``: with its exit code, which is due
        (it ended with its process)."""
        code = None
        if process is not None:
            process.join(_EXIT_WAIT)
            code = process.exitcode
        return self._error(
            f"{who} ended {when} (exit code {code}: killed, or stopped by a signal; out of memory?)"
        )

    def aside(self, fn: Callable[[Any], Any], arg: Any) -> Aside[Any]:
        """Start ``fn(arg)`` beside the workers, in its own process (once: the process exits
        when it is done)."""
        conn = self._aside_conn
        if conn is None or self._aside_used:
            raise UsageError(
                "no process beside the workers (not started, closed, or its one job was used)"
            )
        self._aside_used = True
        process = self._aside
        try:
            conn.send((fn, arg))
        except OSError:  # it ended before its job was sent (killed)
            raise self._ended(str(self._beside), "before its job was sent", process) from None

        def result() -> Any:
            try:
                kind, value = conn.recv()
            except (EOFError, OSError):
                raise self._ended(str(self._beside), "without an answer", process) from None
            finally:
                conn.close()
            if kind == "error":
                raise self._error(f"{self._beside} failed: {value.strip().splitlines()[-1]}")
            return value

        def ready() -> bool:
            try:
                return conn.closed or conn.poll(0)  # an answer, or the process gone
            except (EOFError, OSError):
                return True

        return Aside(result, ready)
