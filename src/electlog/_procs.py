"""Signals in helper processes: what a forked process resets first, and how its parent holds
the signals while starting it. The audit's workers and the :class:`~electlog.signer.ChainSigner`
helper use both."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Final

__all__ = ["worker_signals", "workers_starting"]

_HELD_SIGNALS: Final = frozenset({signal.SIGTERM, signal.SIGINT})


@contextlib.contextmanager
def workers_starting() -> Iterator[None]:
    """Hold SIGTERM and SIGINT in this thread while worker processes are started in it; each
    worker calls :func:`worker_signals` first.

    A forked worker inherits the parent's Python signal handlers: under a program that handles
    SIGTERM (``electlog monitor --follow``, a service, the demo with witnesses), a worker merely
    records (or turns into ``KeyboardInterrupt``) the ``Pool.terminate()`` that should end it. A
    worker still waiting for the task queue's lock, which ``terminate()`` holds, then waits
    forever, and so does the parent joining it (a follow-mode monitor's round hung so on a busy
    machine). Held here, a signal that comes before the worker has reset its handlers stays
    pending until it has; the pool's own threads, started here too, hold them as well, so the
    workers they start again are covered (the parent's main thread handles them)."""
    if not hasattr(signal, "pthread_sigmask"):  # no fork there: spawned workers start clean
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def worker_signals() -> None:
    """In a worker process, first: SIGTERM ends it (the default action, which
    ``Pool.terminate()`` relies on), SIGINT is ignored (Ctrl-C reaches the whole process group;
    the parent decides and stops its workers), then the signals :func:`workers_starting` held
    are delivered."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD_SIGNALS)
