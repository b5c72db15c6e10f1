"""Run one audit in this (child) process and print its timing and memory as one JSON line.

``python -m benchmarks._child SOURCE TRUST JOBS ELECTION [ENGINE]``: ``ELECTION`` is 1 to
replay the election, 0 for a generic log; ``ENGINE`` is ``audit()``'s engine (default
``auto``, as ``audit()``'s; ``processes``; ``tasks``: community tasks in local processes).
Peak memory is sampled every 20 ms as the sum of the resident set sizes of this process and
all its descendants (the audit's worker processes), by a sampler process of its own
(:class:`_Sampler`: not a thread here, whose reads of ``/proc`` would take this process's GIL
and the audit's cores), and is also read from ``getrusage`` (this process; largest child) at
the end. The CPU time of this (the auditing, parent) process during the ``audit()`` call is
read from ``getrusage`` (``RUSAGE_SELF``, user + system): with workers, the part of the audit
that does not scale.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from typing import Final

_SAMPLER_CODE: Final = r"""
import os, select, sys
root, me, every, rescan = int(sys.argv[1]), os.getpid(), float(sys.argv[2]), int(sys.argv[3])
page = os.sysconf("SC_PAGE_SIZE")

def rss(pid):
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * page
    except (OSError, IndexError, ValueError):
        return 0

def tree():
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as fh:
                    stat = fh.read()
            except OSError:
                continue
            parents.setdefault(int(stat[stat.rindex(b")") + 2 :].split()[1]), []).append(int(name))
    found, todo = [], [root]
    while todo:
        for child in parents.get(todo.pop(), ()):
            if child != me:
                found.append(child)
                todo.append(child)
    return found

peak = peak_self = 0
pids, n = [], 0
sys.stdout.write("ready\n")
sys.stdout.flush()
while True:
    if n % rescan == 0:
        pids = tree()
    n += 1
    own = rss(root)
    peak_self = max(peak_self, own)
    peak = max(peak, own + sum(map(rss, pids)))
    if select.select([sys.stdin], [], [], every)[0]:
        break
times = os.times()
sys.stdout.write(f"{peak} {peak_self} {times.user + times.system}\n")
"""
"""The sampler process's program (a bare interpreter: ``-S``, no imports beyond ``os``,
``select`` and ``sys``): every ``every`` seconds the resident set of the audited process
(``/proc/PID/statm``, as psutil reads it) and of each of its descendants but the sampler itself,
found again every ``rescan`` samples from the parent field of every ``/proc/N/stat``; on a line
(or end of file) on its standard input, the two peaks and its own CPU time on its standard
output."""


class _Sampler:
    """Samples the summed RSS of this process tree until stopped; keeps the peak.

    The sampling runs in a process of its own, not in a thread of the audited process: a
    thread's reads of ``/proc`` (psutil's ``children(recursive=True)`` reads every process's
    ``stat`` each time) held the audited process's GIL and took CPU from the audit's cores, so
    the audit's measured time included them. The sampler process is left out of the sum, and
    its CPU time is reported (:attr:`cpu`), not counted in this process's."""

    def __init__(self, interval: float = 0.02, rescan: int = 10) -> None:
        self.interval = interval
        self.rescan = rescan
        self.peak = 0
        self.peak_self = 0
        self.available = os.path.isdir(f"/proc/{os.getpid()}")
        self.cpu = 0.0  # the sampler process's CPU time
        self._proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        """Start sampling; returns once the first sample is about to be taken."""
        if not self.available:
            return
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-S",
                "-c",
                _SAMPLER_CODE,
                str(os.getpid()),
                str(self.interval),
                str(self.rescan),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        if self._proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the memory sampler did not start")

    def stop(self) -> None:
        """Stop sampling and read the peaks (read ``RUSAGE_CHILDREN`` before: the sampler is a
        child too once it is waited for)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        out, _ = proc.communicate("stop\n", timeout=30)
        peak, peak_self, cpu = out.split()
        self.peak, self.peak_self, self.cpu = int(peak), int(peak_self), float(cpu)


def main(argv: list[str]) -> int:
    source, trust, jobs, election = argv[0], argv[1], int(argv[2]), argv[3] == "1"
    engine = argv[4] if len(argv) > 4 else "auto"
    from electlog.audit import audit

    sampler = _Sampler()
    sampler.start()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    report = audit(source, trust, jobs=jobs, election=election, engine=engine)
    seconds = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    child_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # not the sampler's
    sampler.stop()
    parent_cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
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
                "sampler_cpu_seconds": sampler.cpu,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
