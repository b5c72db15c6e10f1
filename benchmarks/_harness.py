"""Rows, timing helpers, the machine description, and the table renderers."""

from __future__ import annotations

import datetime as dt
import gc
import importlib.metadata
import os
import platform
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Final

import attrs

MET: Final = "met"
NOT_MET: Final = "not met"
INFO: Final = "info"
NOT_AVAILABLE: Final = "not available"


@attrs.frozen(kw_only=True)
class Row:
    """One line of the results table."""

    key: str  # e.g. "a", "d3"
    bench: str  # the benchmark (``--only`` name) that produced it
    what: str  # what electlog does, in a few words
    measured: str  # electlog's figure, formatted with its unit
    baseline: str  # the baseline's figure (or "—")
    ratio: float | None  # electlog / baseline (higher is better), when meaningful
    target: str  # e.g. "≥ 0.8×", "≤ 300 MB", "—"
    status: str  # MET, NOT_MET, INFO, or "not available: <reason>"
    note: str = ""

    @property
    def ratio_text(self) -> str:
        """The ratio as ``1.23×`` (or ``—``)."""
        return "—" if self.ratio is None else f"{self.ratio:.2f}×"


def unavailable(key: str, bench: str, what: str, target: str, reason: str) -> Row:
    """A row for a measurement that could not be made here, saying why."""
    return Row(
        key=key,
        bench=bench,
        what=what,
        measured="—",
        baseline="—",
        ratio=None,
        target=target,
        status=f"{NOT_AVAILABLE}: {reason}",
    )


def judge(value: float, *, at_least: float | None = None, at_most: float | None = None) -> str:
    """MET or NOT_MET against a lower or an upper bound."""
    if at_least is not None and value < at_least:
        return NOT_MET
    if at_most is not None and value > at_most:
        return NOT_MET
    return MET


def best_time(fn: Callable[[], object], repeat: int) -> float:
    """The smallest wall time (seconds) of ``repeat`` calls of ``fn``."""
    best = float("inf")
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def best_cpu(fn: Callable[[], object], repeat: int) -> float:
    """The smallest CPU time of this process (seconds, ``time.process_time``, after a garbage
    collection) of ``repeat`` calls of ``fn``."""
    best = float("inf")
    for _ in range(max(1, repeat)):
        gc.collect()
        c0 = time.process_time()
        fn()
        best = min(best, time.process_time() - c0)
    return best


def interleaved(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """The smallest wall time of each function over ``repeat`` rounds, the functions taking
    turns within each round, so that a change in the machine's load during the measurement
    affects every side alike."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(max(1, repeat)):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def rate(n: int, seconds: float) -> float:
    """Items per second (0 when nothing was timed)."""
    return n / seconds if seconds > 0 else 0.0


def fmt_rate(value: float, unit: str) -> str:
    """``12,345 unit/s``."""
    return f"{value:,.0f} {unit}/s"


def fmt_count(n: int) -> str:
    """``1,000,000`` as ``1M``, ``100,000`` as ``100k``; other numbers with separators."""
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return f"{n:,}"


# --------------------------------------------------------------------------- machine


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])
                return f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return "unknown"


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _openssl() -> str:
    try:
        from cryptography.hazmat.backends.openssl import backend

        return str(backend.openssl_version_text())
    except Exception:  # a description only: never fail the run over it
        return "unknown"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (other work on the machine skews timings)."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def _statement_codec() -> str:
    """Which library decodes and re-encodes statements on the audit's fast path, and its
    version (msgspec with electlog[fast], else msgpack)."""
    from electlog.audit._decoding import STATEMENT_CODEC

    return f"{STATEMENT_CODEC} {_version(STATEMENT_CODEC)}"


def machine(load_at_start: str | None = None) -> list[tuple[str, str]]:
    """The machine and software description written at the top of RESULTS.md."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    nacl = _version("pynacl")
    sodium = (
        f"libsodium bundled with PyNaCl {nacl} (PyNaCl does not expose its version string)"
        if nacl != "not installed"
        else "not installed (PyNaCl missing)"
    )
    from electlog.keys import verify_backend

    return [
        ("Date (UTC)", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")),
        ("CPU", _cpu_model()),
        ("Cores", f"{os.cpu_count()} logical, {usable} usable by this process"),
        ("RAM", _ram()),
        ("OS", platform.platform()),
        ("Python", f"{platform.python_implementation()} {sys.version.split()[0]}"),
        ("OpenSSL (cryptography)", f"{_openssl()} (cryptography {_version('cryptography')})"),
        ("libsodium", sodium),
        ("SQLite", sqlite3.sqlite_version),
        ("Ed25519 verify backend", verify_backend()),
        ("Statement codec of the audit's strict decode", _statement_codec()),
        (
            "Peers",
            f"pymerkle {_version('pymerkle')}, eventsourcing {_version('eventsourcing')}",
        ),
        ("electlog", _version("electlog")),
        (
            "Load average (1/5/15 min)",
            f"{load_at_start or 'unknown'} at the start, {load_average()} at the end",
        ),
    ]


# --------------------------------------------------------------------------- output

COLUMNS: Final = ("", "What", "electlog", "Baseline", "Ratio", "Target", "Status")


def _cells(row: Row) -> list[str]:
    return [
        row.key,
        row.what,
        row.measured,
        row.baseline,
        row.ratio_text,
        row.target,
        row.status,
    ]


def print_table(rows: Sequence[Row], title: str) -> None:
    """Print the rows as a rich table on stdout."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=True)
    widths = {"What": 56, "Status": 30, "Target": 18}
    for name in COLUMNS:
        table.add_column(name, overflow="fold", max_width=widths.get(name))
    for row in rows:
        style = {MET: "green", NOT_MET: "red", INFO: ""}.get(row.status, "yellow")
        table.add_row(*_cells(row), style=style)
    console = Console()
    if not console.is_terminal:
        console = Console(width=170)
    console.print(table)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(
    rows: Sequence[Row],
    *,
    machine_info: Iterable[tuple[str, str]],
    command: str,
    mode: str,
    elapsed: float,
    methodology: Sequence[str],
) -> str:
    """RESULTS.md: machine, the table, per-row notes, how it was measured."""
    out = [
        "# electlog benchmark results",
        "",
        f"Produced by `{command}` ({mode} run, {elapsed:.0f} s). Ratios are electlog ÷ baseline, "
        "both measured in the same process on the same data; higher is better unless the target "
        "says otherwise. docs/benchmarks.md explains every row.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
    ]
    out += [f"| {_md_escape(k)} | {_md_escape(v)} |" for k, v in machine_info]
    out += ["", "## Results", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(_md_escape(c) for c in _cells(r)) + " |" for r in rows]
    noted = [r for r in rows if r.note]
    if noted:
        out += ["", "## Notes", ""]
        out += [f"- **{r.key}** — {_md_escape(r.note)}" for r in noted]
    if methodology:
        out += ["", "## How it was measured", ""]
        out += [f"- {m}" for m in methodology]
    out.append("")
    return "\n".join(out)


def summary(rows: Sequence[Row]) -> dict[str, Any]:
    """Counts of rows per status (for the console footer)."""
    met = sum(r.status == MET for r in rows)
    not_met = sum(r.status == NOT_MET for r in rows)
    missing = sum(r.status.startswith(NOT_AVAILABLE) for r in rows)
    return {"met": met, "not met": not_met, "not available": missing, "rows": len(rows)}
