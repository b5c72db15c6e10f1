"""Run one audit in this (child) process and print its timing and memory as one JSON line.

``python -m benchmarks._child SOURCE TRUST JOBS ELECTION [ENGINE]``: ``ELECTION`` is 1 to replay
the election, 0 for a generic log; ``ENGINE`` is ``audit()``'s engine (default ``processes``;
``tasks``: community tasks in local processes). Peak memory is sampled every 20 ms as the sum
of the resident set sizes of this process and all its descendants (the audit's worker
processes) with psutil, and is
also read from ``getrusage`` (this process; largest child) at the end. The CPU time of this
(the auditing, parent) process during the ``audit()`` call is read from ``getrusage``
(``RUSAGE_SELF``, user + system, less the sampling thread's own CPU time, which psutil's
reads of ``/proc`` make large): with workers, the part of the audit that does not scale.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import sys
import threading
import time


class _Sampler(threading.Thread):
    """Samples the summed RSS of this process tree until stopped; keeps the peak."""

    def __init__(self, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak = 0
        self.peak_self = 0
        self.available = True
        self.cpu = 0.0  # this thread's own CPU time (it runs in the auditing process)
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            import psutil
        except ImportError:
            self.available = False
            return
        me = psutil.Process(os.getpid())
        started = time.thread_time()
        while not self._stop_event.is_set():
            total = 0
            try:
                total = me.memory_info().rss
                self.peak_self = max(self.peak_self, total)
                for child in me.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        total += child.memory_info().rss
            except psutil.Error:
                pass
            self.peak = max(self.peak, total)
            self.cpu = time.thread_time() - started
            self._stop_event.wait(self.interval)
        self.cpu = time.thread_time() - started

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def main(argv: list[str]) -> int:
    source, trust, jobs, election = argv[0], argv[1], int(argv[2]), argv[3] == "1"
    engine = argv[4] if len(argv) > 4 else "processes"
    from electlog.audit import audit

    sampler = _Sampler()
    sampler.start()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    report = audit(source, trust, jobs=jobs, election=election, engine=engine)
    seconds = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    sampler.stop()
    # the sampler thread's own CPU time is this process's too: left out of the audit's
    parent_cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime) - sampler.cpu
    child_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    codes: dict[str, int] = {}
    for f in report.findings:
        codes[f.code] = codes.get(f.code, 0) + 1
    print(
        json.dumps(
            {
                "seconds": seconds,
                "parent_cpu_seconds": parent_cpu,
                "entries": report.counts.entries,
                "verdict": report.verdict,
                "findings": codes,
                "backend": report.run.get("signature_backend"),
                "replay": report.run.get("replay"),
                "peak_tree_rss_mb": sampler.peak / 2**20 if sampler.available else None,
                "peak_self_rss_mb": sampler.peak_self / 2**20 if sampler.available else None,
                "largest_child_maxrss_mb": child_kib / 1024,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
