"""Run the benchmarks: ``python -m benchmarks.run [--quick] [--only NAME[,NAME...]]``.

Prints a table of electlog's figures with their ratios to baselines measured in the same run,
and writes a Markdown report (machine description, table, notes). A full run without ``--only``
writes benchmarks/RESULTS.md; ``--quick`` or ``--only`` runs write to a temporary directory
unless ``--output`` says where (so a partial run never replaces the committed full results).

Exit status: 0 when every benchmark ran (whether or not its target is met), 1 when a benchmark
failed to run (its row says why), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from ._harness import Row, load_average, machine, markdown, print_table, summary, unavailable
from .cases import BENCHMARKS, FULL, QUICK, Context

DEFAULT_RESULTS = Path(__file__).resolve().parent / "RESULTS.md"

METHODOLOGY = (
    "Each ratio is electlog ÷ baseline, both measured in this process on the same inputs; "
    "short measurements take the best of several repetitions (3 in a full run) on both sides.",
    "Raw baselines call the C libraries directly from a Python loop: "
    "`Ed25519PrivateKey.sign` / `Ed25519PublicKey.verify` (cryptography, OpenSSL) and "
    "libsodium's `crypto_sign_open` through PyNaCl's cffi library with no message copied out "
    "(the route electlog's verifier takes; `nacl.bindings.crypto_sign_open` costs ~1.4 µs "
    "more), with key objects made once.",
    "Audits run in a child process (`python -m benchmarks._child`) so their time and memory "
    "are not affected by the benchmark process; the time is that of the `audit()` call, the "
    "best of 3 runs (2 for the full district), jobs=1 and all jobs taking turns; the memory is "
    "the highest peak of those runs.",
    "The machine is shared: the load average at the start and the end of the run is recorded "
    "above; interleaving the two sides of each ratio keeps a change of load from favouring one.",
    "No figure is estimated: a row that could not be measured says `not available` and why.",
)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="electlog benchmarks: ratios against baselines measured in the same run.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes (a smoke run, under a minute)"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run only these benchmarks (repeat or comma-separate): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--output", type=Path, help="where to write the Markdown report (default: see above)"
    )
    parser.add_argument(
        "--workdir", type=Path, help="scratch directory for databases (default: a temp dir)"
    )
    parser.add_argument("--repeat", type=int, help="repetitions of short measurements")
    parser.add_argument(
        "--district",
        type=Path,
        help="an `electlog demo` directory (election.sqlite, trust.json): the exports "
        "benchmark measures it instead of building its own district",
    )
    parser.add_argument(
        "--large-district",
        type=Path,
        help="an `electlog demo --voters 518400` directory (election.sqlite, trust.json): the "
        "rss benchmark measures the peak memory of its audit (row e2)",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}")
    args.names = names or list(BENCHMARKS)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks; see the module docstring."""
    args = _parse(argv)
    quick = bool(args.quick)
    partial = quick or len(args.names) < len(BENCHMARKS)
    own_workdir = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="electlog-bench-")) if own_workdir else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    output = args.output or (workdir / "RESULTS.md" if partial else DEFAULT_RESULTS)

    def say(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    ctx = Context(
        quick=quick,
        workdir=workdir,
        sizes=QUICK if quick else FULL,
        repeat=args.repeat or (1 if quick else 3),
        say=say,
    )
    if args.district is not None:
        ctx.shared["district-dir"] = args.district
    if args.large_district is not None:
        ctx.shared["large-district-dir"] = args.large_district
    load_at_start = load_average()
    started = time.perf_counter()
    rows: list[Row] = []
    failed = False
    try:
        for name in args.names:
            try:
                rows.extend(BENCHMARKS[name](ctx))
            except Exception as exc:  # a failing benchmark is a row, never a silent gap
                failed = True
                traceback.print_exc()
                rows.append(
                    unavailable(
                        name,
                        name,
                        f"benchmark {name!r}",
                        "—",
                        f"benchmark failed: {type(exc).__name__}: {exc}",
                    )
                )
    finally:
        if own_workdir:
            for child in workdir.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
    elapsed = time.perf_counter() - started
    mode = "quick" if quick else "full"
    command = "python -m benchmarks.run" + (" --quick" if quick else "")
    if len(args.names) < len(BENCHMARKS):
        command += " --only " + ",".join(args.names)
    title = f"electlog benchmarks ({mode} run, {elapsed:.0f} s)"
    print_table(rows, title)
    report = markdown(
        rows,
        machine_info=machine(load_at_start),
        command=command,
        mode=mode,
        elapsed=elapsed,
        methodology=METHODOLOGY,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report, encoding="utf-8")
    counts = summary(rows)
    print(
        f"{counts['met']} met, {counts['not met']} not met, {counts['not available']} not "
        f"available, {counts['rows']} rows. Report written to {output}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
