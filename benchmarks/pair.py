"""One audit and the raw verify loop over the same entries, in one process:
``python -m benchmarks.pair STORE TRUST JOBS``.

The quick A/B tool behind docs/benchmarks.md's alternating comparisons: run it from two
checkouts in turn (``PYTHONPATH=CHECKOUT/src``). It audits ``STORE`` once with ``JOBS`` (wall
time; CPU time of this process and of its workers, from ``getrusage``, the workers joined when
``audit()`` returns), then times the one-core raw loop of the active Ed25519 backend over the
same entries (CPU time, best of ``--repeat``; with libsodium also the loop through PyNaCl's
wrapper, for comparison), and prints one JSON line: per entry, the wall time, the two CPU
times, the raw loops, and the wall ratio that rows b1 and b2 judge (raw loop ÷ audit). Both are
measured seconds apart in one process, so a change in the machine's speed between them is
smaller than between the rows of a full run; it is still one sample: compare several, taking
turns.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time


def _cpu(before: resource.struct_rusage, after: resource.struct_rusage) -> float:
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pair")
    parser.add_argument("store", help="a log's SQLite store or bundle")
    parser.add_argument("trust", help="its trust file")
    parser.add_argument("jobs", type=int, help="the audit's jobs")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each raw loop")
    args = parser.parse_args(argv)

    from electlog.audit import audit
    from electlog.audit._decoding import parse_entry
    from electlog.audit._sources import open_source
    from electlog.events import SIGNATURE_CONTEXT
    from electlog.keys import verify_backend

    from ._harness import best_cpu
    from .cases import _raw_loop

    self0 = resource.getrusage(resource.RUSAGE_SELF)
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    report = audit(args.store, args.trust, jobs=args.jobs)
    wall = time.perf_counter() - t0
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    n = report.counts.entries
    if not n:
        print("the audit read no entry", file=sys.stderr)
        return 1

    source = open_source(args.store)
    triples = []
    try:
        for chunk in source.chunks(2000):
            for data in chunk:
                p = parse_entry(data)
                triples.append((p.public_key, p.signature, SIGNATURE_CONTEXT + p.statement_bytes))
    finally:
        source.close()
    backend = verify_backend()
    loops = {"raw": _raw_loop(backend, triples)}
    if backend == "nacl":
        from nacl.bindings import crypto_sign_open

        def wrapper() -> None:
            for pub, sig, msg in triples:
                crypto_sign_open(sig + msg, pub)

        loops["raw_wrapper"] = wrapper
    raw = {k: best_cpu(fn, args.repeat) / len(triples) * 1e6 for k, fn in loops.items()}
    per_entry = wall / n * 1e6
    out = {
        "jobs": args.jobs,
        "verdict": report.verdict,
        "entries": n,
        "backend": backend,
        "wall_us": round(per_entry, 2),
        "parent_cpu_us": round(_cpu(self0, self1) / n * 1e6, 2),
        "children_cpu_us": round(_cpu(children0, children1) / n * 1e6, 2),
        **{f"{k}_cpu_us": round(v, 2) for k, v in raw.items()},
        "ratio": round(raw["raw"] / per_entry, 3),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
