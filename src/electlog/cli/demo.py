"""``electlog demo``: build a whole simulated district election, audit it, show the result.

The README's first command. It builds the election into the embedded SQLite store under
``--dir``, publishing every checkpoint through two witnesses that run as separate ``electlog
witness`` processes on 127.0.0.1 (``witnesses/``; see :mod:`electlog.cli._demo_witnesses`),
exports the portable bundle and the auditor's trust file, writes every private key and secret to
``keys/`` (directory 0700, files 0600; the witnesses' keys in ``keys/witnesses/``, read only by
the witness processes), audits the bundle with every core, prints the verdict and a
per-community results table, writes the HTML report and says what an auditor would run next.
Exit status: 0 when the audit is clean, 1 when it has findings, 2 when the demo could not run.

``--seed`` decides only the public shape of the district. The keys and secrets are fresh from
the OS CSPRNG on every run, so two runs never share a trust file; ``--keys DIR`` reuses a saved
key set (a previous run's ``keys/``), and then the same seed gives the same log byte for byte.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import os
import resource
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, Protocol

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from .._files import write_atomic
from ..audit import Report, Trust, audit
from ..election.rules import DEFAULT_PUBLIC_PROFILE, PUBLIC_PROFILES
from ..errors import StorageError, UsageError
from ..log import Log
from ..publish.bundle import export_bundle
from ..simulate import (
    FULL_VOTERS,
    DistrictConfig,
    SimulationKeys,
    SimulationResult,
    simulate_district,
    simulation_openings,
)
from ..simulate._keys import MANIFEST_NAME, WITNESS_DIR, witness_key_files
from ..store.sqlite import SQLiteStore
from ._demo_witnesses import CLOCK_NAME, STATE_FILES, DemoWitnesses

__all__ = ["DEMO_FILES", "register", "run_demo"]

STORE_NAME: Final = "election.sqlite"
BUNDLE_NAME: Final = "election.bundle"
TRUST_NAME: Final = "trust.json"
REPORT_NAME: Final = "report.html"
KEYS_DIR: Final = "keys"
OPENINGS_NAME: Final = "openings.plaintext"
"""Under a ``minimal`` profile, the registrar's plaintext openings, kept in the key directory
(mode 0600) and never next to the public bundle: ``electlog export --openings`` encrypts them to
the authorised auditors."""
WITNESSES_DIR: Final = "witnesses"
DEMO_FILES: Final = (
    STORE_NAME,
    f"{STORE_NAME}-wal",
    f"{STORE_NAME}-shm",
    f"{STORE_NAME}-journal",
    f"{STORE_NAME}-checkpoint",
    BUNDLE_NAME,
    TRUST_NAME,
    REPORT_NAME,
)
"""Files the demo writes directly under its directory (plus the ``keys/`` and ``witnesses/``
directories)."""


# --------------------------------------------------------------------------- helpers


def _demo_key_files(keys: Path) -> list[Path]:
    """The key files a previous demo run wrote under ``keys`` (nothing else)."""
    names = (
        "authority.pem",
        "audit-board.pem",
        "log.skey",
        "dedup.secret",
        "salt.secret",
        MANIFEST_NAME,
        OPENINGS_NAME,
    )
    found = [keys / n for n in names if (keys / n).is_file()]
    found += sorted(keys.glob("witness-?.skey"))  # a key set saved by an older version
    for part, pattern in ((WITNESS_DIR, "witness-?.skey"), ("roles", "c*-*.pem")):
        if (keys / part).is_dir():
            found += sorted((keys / part).glob(pattern))
    return found


def _demo_witness_files(witnesses: Path) -> list[Path]:
    """The files the demo's witness processes left under ``witnesses`` (nothing else)."""
    found = [witnesses / CLOCK_NAME] if (witnesses / CLOCK_NAME).is_file() else []
    for d in sorted(witnesses.glob("witness-*")):
        found += [d / n for n in STATE_FILES if (d / n).is_file()]
    return found


def _clear_witnesses(witnesses: Path) -> None:
    """Remove the witnesses' state of a previous run (fresh state every run); refuse, before
    removing anything, a ``witnesses`` directory holding files the demo did not write."""
    if not witnesses.is_dir():
        return
    ours = set(_demo_witness_files(witnesses)) | set(witnesses.glob("witness-*"))
    foreign = [p for p in witnesses.rglob("*") if p not in ours]
    if foreign:
        raise UsageError(
            f"{witnesses} holds files the demo did not write (e.g. {foreign[0].name}); "
            f"move them or choose another --dir"
        )
    try:
        for path in _demo_witness_files(witnesses):
            path.unlink()
        for d in sorted(witnesses.glob("witness-*")):
            d.rmdir()
        witnesses.rmdir()
    except OSError as exc:
        raise StorageError(
            f"cannot clear the witnesses' files in {witnesses}: {exc.strerror or exc}"
        ) from exc


def _prepare_dir(directory: Path, force: bool, keep_keys: bool = False) -> None:
    """Create ``directory``, refusing a non-empty one unless ``force``. With ``force`` only the
    demo's own files are removed; anything else is left alone (and a ``keys`` directory holding
    other files stops the demo rather than being deleted). ``keep_keys``: the ``keys``
    directory is the key set this run reuses; it is not touched."""
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()):
        if not force:
            raise UsageError(
                f"{directory} exists and is not empty; pass --force to replace the demo files "
                f"in it, or choose another --dir"
            )
        keys = directory / KEYS_DIR
        if keys.is_dir() and not keep_keys:
            ours = set(_demo_key_files(keys)) | {keys / "roles", keys / WITNESS_DIR}
            foreign = [p for p in keys.rglob("*") if p not in ours]
            if foreign:
                raise UsageError(
                    f"{keys} holds files the demo did not write (e.g. {foreign[0].name}); "
                    f"move them or choose another --dir"
                )
        _clear_witnesses(directory / WITNESSES_DIR)  # checks before it removes anything
        try:
            for name in DEMO_FILES:
                (directory / name).unlink(missing_ok=True)
            if keys.is_dir() and not keep_keys:
                for path in _demo_key_files(keys):
                    path.unlink()
                for part in ("roles", WITNESS_DIR):
                    if (keys / part).is_dir():
                        (keys / part).rmdir()
                keys.rmdir()
        except OSError as exc:
            raise StorageError(
                f"cannot clear the demo files in {directory}: {exc.strerror or exc}"
            ) from exc
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create {directory}: {exc.strerror}") from exc


def _same_path(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc.strerror}") from exc


def _cpu_seconds() -> tuple[float, float]:
    """CPU time (user + system) of this process and of its finished children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def _peak_rss_mb() -> tuple[float, float]:
    """Peak resident set size (MB) of this process and of its finished children."""
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return me / scale, kids / scale


class _Update(Protocol):
    def __call__(self, done: int, total: int | None, detail: str | None = None, /) -> None: ...


class _Steps:
    """Progress display: rich bars on a terminal, one plain line per step otherwise."""

    def __init__(self, console: Console, live: bool) -> None:
        self.console = console
        self.live = live

    @contextlib.contextmanager
    def bar(self, title: str, total: int | None) -> Iterator[_Update]:
        """A progress bar; yields ``update(done, total, detail=None)``."""
        if not self.live:
            self.console.print(f"{title} ...")
            yield lambda _done, _total, _detail=None: None
            return
        # fits 80 columns: the longest step ("building the election: appointing election
        # committees") leaves room for a 10-cell bar, the percentage and the time left
        columns: list[Any] = [
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=10),
            TaskProgressColumn(),
            TimeRemainingColumn(compact=True, elapsed_when_finished=True),
        ]
        with Progress(*columns, console=self.console, transient=False) as progress:
            task = progress.add_task(title, total=total)

            def update(done: int, new_total: int | None, detail: str | None = None) -> None:
                description = title if detail is None else f"{title}: {detail}"
                progress.update(task, completed=done, total=new_total, description=description)

            yield update
            progress.update(task, completed=progress.tasks[0].total or 0)


def _results_table(report: Report, result: SimulationResult) -> Table:
    """Community, registered, ballots cast, turnout, seats, elected, rounds (at most 80 columns
    wide) — from the auditor's own recomputation when it has the community, else from the
    simulation."""
    table = Table(title="Results recomputed by the auditor", box=box.SIMPLE_HEAD)
    table.add_column("community", no_wrap=True)
    for title in ("voters", "cast", "turnout", "seats", "elected", "rounds"):
        table.add_column(title, justify="right", no_wrap=True)
    totals = [0, 0, 0, 0]
    for outcome in result.communities:
        registered, cast, seats, elected, rounds = (
            outcome.registered,
            outcome.cast,
            outcome.seats,
            outcome.elected_count,
            outcome.rounds,
        )
        audited = report.results.get(outcome.community)
        if audited is not None and 1 in audited.rounds:
            first = audited.rounds[1].result
            registered = audited.roll
            cast = first.returned
            seats = sum(p.seats for p in first.posts.values())
            elected = sum(
                len(p.elected) for rnd in audited.rounds.values() for p in rnd.posts.values()
            )
            rounds = len(audited.rounds)
        turnout = 100.0 * cast / registered if registered else 0.0
        table.add_row(
            f"{outcome.community} {outcome.name.removesuffix(' Community')}",
            f"{registered:,}",
            f"{cast:,}",
            f"{turnout:.1f}%",
            str(seats),
            str(elected),
            str(rounds),
        )
        for i, value in enumerate((registered, cast, seats, elected)):
            totals[i] += value
    turnout = 100.0 * totals[1] / totals[0] if totals[0] else 0.0
    table.add_section()
    table.add_row(
        f"district ({len(result.communities)})",
        f"{totals[0]:,}",
        f"{totals[1]:,}",
        f"{turnout:.1f}%",
        str(totals[2]),
        str(totals[3]),
        "",
    )
    return table


def _listing(label: str, path: object, note: str, width: int = 80) -> list[str]:
    """``  label  path  (note)`` on one line when it fits ``width``, else the note wrapped on
    the lines below, indented under the path (paths stay whole for copying)."""
    head = f"  {label:<13} {path}"
    if not note:
        return [head]
    one = f"{head}  ({note})"
    if len(one) <= width:
        return [one]
    return [
        head,
        *textwrap.wrap(f"({note})", width, initial_indent=" " * 16, subsequent_indent=" " * 17),
    ]


# --------------------------------------------------------------------------- the command


def run_demo(
    directory: str | os.PathLike[str],
    *,
    voters: int = FULL_VOTERS,
    seed: int = 0,
    jobs: int | None = None,
    force: bool = False,
    keys: str | os.PathLike[str] | None = None,
    console: Console | None = None,
    progress: bool | None = None,
    profile: str = DEFAULT_PUBLIC_PROFILE,
) -> int:
    """Run the demo into ``directory``; returns the exit status (0 clean, 1 findings).

    ``keys``: a saved key set to reuse (:meth:`SimulationKeys.load`; e.g. a previous run's
    ``keys/``); the same ``seed`` with the same key set gives the same log byte for byte.
    Without it every key and secret is new (OS CSPRNG) and saved to ``directory/keys`` before
    the build. Either way this process loads only the operator's part of the set: the
    witnesses' key files (``keys/witnesses/``) are read by the two ``electlog witness``
    processes it runs under ``directory/witnesses/`` for the build and always stops.
    ``console`` receives the output (default: stdout); ``progress`` shows rich progress bars
    (default: when stderr is a terminal). ``profile``: the election's public profile,
    ``"minimal"`` (the default: no birth dates on the log, the registrar's openings in
    ``keys/openings.plaintext``) or ``"full"`` (every field in the clear, docs/election.md)."""
    if jobs is None:
        jobs = os.cpu_count() or 1
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise UsageError(f"--jobs must be a positive integer, got {jobs!r}")
    if profile not in PUBLIC_PROFILES:
        raise UsageError(f"--profile must be one of {', '.join(PUBLIC_PROFILES)}, got {profile!r}")
    config = DistrictConfig.scaled(voters)
    missing = [m for m in ("httpx", "starlette", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(
            f"electlog demo runs its witnesses as `electlog witness` processes, which need "
            f"{', '.join(missing)}: pip install 'electlog[server]'"
        )
    out = console if console is not None else Console(width=None if sys.stdout.isatty() else 80)
    err = Console(stderr=True) if console is None else console
    live = sys.stderr.isatty() if progress is None else progress
    steps = _Steps(err, live)
    target = Path(directory)
    key_set = None if keys is None else SimulationKeys.load(keys)
    if key_set is not None:  # refuse a set for another district before writing anything
        key_set.check_fits(config.origin, config.community_ids)
    reused_here = keys is not None and _same_path(Path(keys), target / KEYS_DIR)
    _prepare_dir(target, force, keep_keys=reused_here)
    if keys is None:
        # the key set of every simulated party; from here on this process holds only the
        # operator's part (the witnesses' files are for the witness processes)
        keys_dir = SimulationKeys.generate(config.origin, config.community_ids).save(
            target / KEYS_DIR
        )
        key_set = SimulationKeys.load(keys_dir)
        keys_note = (
            f"new, mode 0600; keep them off a public machine; --keys {keys_dir} rebuilds this log"
        )
    else:
        keys_dir = Path(keys)
        keys_note = "reused with --keys"
    assert key_set is not None
    witnesses = DemoWitnesses(
        target / WITNESSES_DIR, config.origin, key_set.log.vkey, witness_key_files(keys_dir)
    )
    store_path = target / STORE_NAME
    bundle_path = target / BUNDLE_NAME
    trust_path = target / TRUST_NAME
    report_path = target / REPORT_NAME
    out.print(
        f"[bold]electlog demo[/]: a district election of {config.communities} communities, "
        f"{config.voters:,} registered voters, {config.groups:,} resident groups "
        f"(seed {seed})"
    )
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}

    # 1. build
    started = time.perf_counter()
    cpu_start = _cpu_seconds()
    store = SQLiteStore(store_path, origin=config.origin)
    try:
        with witnesses, steps.bar("building the election", None) as update:

            def on_batch(phase: str, done: int, total: int) -> None:
                update(done, total, phase)

            result = simulate_district(
                store,
                seed=seed,
                config=config,
                progress=on_batch,
                keys=key_set,
                publish=witnesses.publish,
                profile=profile,
            )
        timings["build"] = time.perf_counter() - started
        cpu["build"] = _cpu_seconds()[0] - cpu_start[0]
        openings_path = None
        if profile == "minimal":  # the registrar's private records, re-derived from key set + seed
            openings_path = keys_dir / OPENINGS_NAME
            doc = simulation_openings(Log(store), result)
            try:
                write_atomic(openings_path, doc.to_bytes(), mode=0o600)
            except OSError as exc:
                raise StorageError(f"cannot write {openings_path}: {exc.strerror}") from exc

        # 2. export the bundle and the trust file
        started = time.perf_counter()
        with steps.bar("exporting the bundle", result.size) as update:
            info = export_bundle(store, bundle_path)
            update(info.entries, info.entries)
    finally:
        store.close()
    # No witness URLs in the trust file: the demo's witnesses listened on ephemeral ports and
    # are gone, and a rebuild must give the same trust file byte for byte.
    trust = Trust.create(
        origin=result.origin,
        authority_key=result.authority_key,
        log_key=result.log_vkey,
        witnesses=list(result.witness_vkeys),
        quorum=result.quorum,
    )
    _write_text(trust_path, trust.to_json())
    timings["export"] = time.perf_counter() - started
    build_rss, _ = _peak_rss_mb()

    # 3. audit the bundle, as an auditor would, with every core
    gc.collect()
    started = time.perf_counter()
    cpu_start = _cpu_seconds()
    with steps.bar(f"auditing with {jobs} job(s)", result.size) as update:
        report = audit(bundle_path, trust, jobs=jobs, progress=update)
    timings["audit"] = time.perf_counter() - started
    cpu_end = _cpu_seconds()
    cpu["audit"] = sum(cpu_end) - sum(cpu_start)
    _write_text(report_path, report.to_html())
    peak, children = _peak_rss_mb()

    # 4. say what happened
    out.print()
    out.print(_results_table(report, result))
    verdict = report.verdict_line()
    colour = "green" if report.clean else "red"
    f = report.counts.findings
    out.print(
        f"[bold {colour}]verdict: {verdict}[/] — {report.counts.entries:,} entries by "
        f"{report.counts.authors} keys, {report.counts.checkpoints_verified} of "
        f"{report.counts.checkpoints} checkpoints verified with {trust.quorum}-of-"
        f"{len(trust.witnesses)} witness cosignatures; "
        f"{f.get('error', 0)} error(s), {f.get('warning', 0)} warning(s)"
    )
    for finding in report.findings[:10]:
        out.print(f"  {finding.code} at entry {finding.index}: {finding.message}")
    if len(report.findings) > 10:
        out.print(f"  ... and {len(report.findings) - 10} more (see the HTML report)")
    el = report.eligibility
    if el is not None and el["statement"] is not None:  # the minimal profile's sample
        out.print(
            f"eligibility sample: {el['checked']} of {el['roll_size']:,} checked, "
            f"{len(el['failures'])} failed: failure rate {el['statement']}"
        )
    total = timings["build"] + timings["audit"]
    out.print(
        f"times: build {timings['build']:.1f} s (CPU {cpu['build']:.1f} s), export "
        f"{timings['export']:.1f} s, audit {timings['audit']:.1f} s (CPU {cpu['audit']:.1f} s in "
        f"{jobs} process(es)); build + audit {total:.1f} s. Peak memory: {build_rss:.0f} MB "
        f"after the build, {peak:.0f} MB in all, audit workers {children:.0f} MB"
    )
    width = min(out.width, 80)
    lines = [
        "",
        *_listing("log store", store_path, f"SQLite, {result.size:,} entries", width),
        *_listing("bundle", bundle_path, f"{info.size_bytes / 1e6:.1f} MB, portable copy", width),
        *_listing("trust file", trust_path, "authority key, log key, 2 witnesses, quorum 2", width),
        *_listing("private keys", f"{keys_dir}/", keys_note, width),
        *(
            []
            if openings_path is None
            else _listing(
                "openings",
                openings_path,
                "plaintext, private (mode 0600): electlog export --openings encrypts them "
                "to the authorised auditors",
                width,
            )
        ),
        *_listing(
            "witnesses",
            f"{target / WITNESSES_DIR}/",
            "their state: 2 electlog witness processes cosigned every checkpoint; stopped",
            width,
        ),
        *_listing("HTML report", report_path, "", width),
        "",
        "An auditor holding the bundle and the trust file runs:",
        f"  electlog verify {bundle_path} --trust {trust_path} \\",
        "      --format html --output report.html",
    ]
    for line in lines:
        out.print(line, soft_wrap=True, markup=False, highlight=False)
    return 0 if report.clean else 1


def _demo(args: argparse.Namespace) -> int:
    return run_demo(
        args.dir,
        voters=args.voters,
        seed=args.seed,
        jobs=args.jobs,
        force=args.force,
        keys=args.keys,
        profile=args.profile,
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``demo``."""
    p = sub.add_parser(
        "demo",
        help="build a whole simulated district election, audit it and show the results",
        description="Build a simulated district election (19 communities, "
        f"{FULL_VOTERS:,} voters by default) into a SQLite store, export the bundle, trust file "
        "and keys, audit it with every core and write the HTML report. The seed decides the "
        "district; the keys are new on every run unless --keys reuses a saved set. Exit "
        "status: 0 clean, 1 findings, 2 could not run.",
    )
    p.add_argument(
        "--dir", default="electlog-demo", help="where to write everything (default ./electlog-demo)"
    )
    p.add_argument(
        "--voters",
        type=int,
        default=FULL_VOTERS,
        help=f"registered voters (default {FULL_VOTERS:,}, the full district)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="simulation seed: the district's people, plans and ballots (default 0)",
    )
    p.add_argument(
        "--keys",
        metavar="DIR",
        default=None,
        help="reuse the key set saved in DIR (a previous run's keys/ directory); with the "
        "same --seed the log is the same byte for byte (default: new keys from the OS CSPRNG)",
    )
    p.add_argument(
        "--profile",
        choices=PUBLIC_PROFILES,
        default=DEFAULT_PUBLIC_PROFILE,
        help="the election's public profile: minimal (commitments and per-election tags "
        "instead of birth dates and household ids; the default) or full (birth dates and "
        "household ids on the log)",
    )
    p.add_argument("--jobs", type=int, default=None, help="audit processes (default: every core)")
    p.add_argument(
        "--force", action="store_true", help="replace the demo files in a non-empty --dir"
    )
    p.set_defaults(func=_demo)
