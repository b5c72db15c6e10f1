"""Run one ``electlog tally`` or ``electlog export-results`` in this (child) process and print
its time and memory as one JSON line.

``python -m benchmarks._export_child SOURCE TRUST JOBS OUTPUT tally|FORMAT [ARG ...]``: the
command runs through :func:`electlog.cli.main` exactly as typed on a shell (``tally``'s standard
output and every export go to files under OUTPUT, which the parent deletes). Memory is sampled
as in :mod:`benchmarks._child` (this process and its workers, every 20 ms).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import sys
import time

from ._child import _Sampler


def main(argv: list[str]) -> int:
    source, trust, jobs, output, kind, *extra = argv
    from electlog.cli import main as electlog

    common = (
        [source, "--trust", trust, "--jobs", jobs, "--no-progress"]
        if kind == "tally"
        else [source, "--trust", trust, "--jobs", jobs]
    )
    sampler = _Sampler()
    sampler.start()
    t0 = time.perf_counter()
    if kind == "tally":
        path = os.path.join(output, "tally.txt")
        with open(path, "w", encoding="utf-8") as fh, contextlib.redirect_stdout(fh):
            code = electlog(["tally", *common, *extra])
    else:
        target = os.path.join(output, f"export.{kind}")
        code = electlog(["export-results", *common, "--format", kind, "--output", target, *extra])
    seconds = time.perf_counter() - t0
    child_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # not the sampler's
    sampler.stop()
    size = 0
    for name in os.listdir(output):
        size = max(size, os.path.getsize(os.path.join(output, name)))
    print(
        json.dumps(
            {
                "exit": code,
                "seconds": seconds,
                "peak_tree_rss_mb": sampler.peak / 2**20 if sampler.available else None,
                "peak_self_rss_mb": sampler.peak_self / 2**20 if sampler.available else None,
                "largest_child_maxrss_mb": child_kib / 1024,
                "output_bytes": size,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
