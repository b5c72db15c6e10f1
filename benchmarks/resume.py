"""(r) The resumable audit: an audit resumed from a saved state after N new entries, against a
full audit of the same copy, in the same run. Registered in :data:`benchmarks.cases.BENCHMARKS`
as ``resume``.

The district (the growth series' middle size: 22,000 voters, about 77,000 entries, in a full run)
is copied into a new SQLite store up to one of its checkpoints and audited with a state (the
saving run, not timed); the copy then gets the rest of the log and its checkpoints. Timed, the
two taking turns, best of the repetitions, both with one job in this process: ``audit(copy,
trust)`` (the baseline: a full audit) and ``audit(copy, trust, state=...)`` from a fresh copy of
the saved state (the copy is part of the time). The two reports must be the same JSON (all but
``run``), else the row says so. r1 resumes from the checkpoint before the last (a few new
entries, as a monitor's round or a daily audit has); r2, for context, from one about three
quarters in.
"""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING, Any

from electlog import Author, Log
from electlog.audit import Report, audit, load_trust
from electlog.store.sqlite import SQLiteStore

from ._harness import INFO, NOT_MET, Row, interleaved, judge

if TYPE_CHECKING:
    from .cases import Context

TARGET = 3.0
"""r1: a resumed audit after about 1.5% new entries at least 3 times as fast as a full one."""


def _same(a: Report, b: Report) -> bool:
    one, two = json.loads(a.to_json()), json.loads(b.to_json())
    one.pop("run")
    two.pop("run")
    return bool(one == two)


def _resume_row(ctx: Context, ds: Any, key: str, at: int, sizes: list[int]) -> Row:
    trust = load_trust(ds.trust)
    work = ctx.workdir / f"resume-{key}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    copy = work / "copy.sqlite"
    saved, state = work / "saved-state", work / "state"
    with SQLiteStore(ds.source, create=False, read_only=True) as src:
        notes = list(src.checkpoints())
        total = src.size()
        with SQLiteStore(copy, origin=src.origin) as dst:
            log = Log(dst)
            log.append_many(src.entries(0, at))
            for c in notes:
                if c.size <= at:
                    log.add_checkpoint(c.note)
        first = audit(copy, trust, election=ds.election, in_progress=True, state=saved)
        if (first.run["state"]["saved_at"] or {}).get("size") != at:
            raise RuntimeError(f"the saving run did not save at {at}: {first.run['state']}")
        with SQLiteStore(copy, create=False) as dst:
            log = Log(dst)
            log.append_many(src.entries(at, total))
            for c in notes:
                if c.size > at:
                    log.add_checkpoint(c.note)
    reports: dict[str, Report] = {}

    def full() -> None:
        reports["full"] = audit(copy, trust, election=ds.election)

    def resumed() -> None:
        shutil.rmtree(state, ignore_errors=True)
        shutil.copytree(saved, state)
        reports["resumed"] = audit(copy, trust, election=ds.election, state=state)

    times = interleaved({"full": full, "resumed": resumed}, ctx.repeat)
    run: dict[str, Any] = reports["resumed"].run["state"]
    same = _same(reports["full"], reports["resumed"])
    ratio = times["full"] / times["resumed"]
    new = total - at
    judged = key == "r1" and not ctx.quick and ds.election
    status = NOT_MET if not same else (judge(ratio, at_least=TARGET) if judged else INFO)
    size = (saved / "audit-state.bin").stat().st_size
    return Row(
        key=key,
        bench="resume",
        what=f"audit resumed at checkpoint {at:,} after {new:,} new entries ({new / total:.1%} "
        f"of {total:,}, {ds.label}), jobs=1, best of {ctx.repeat}",
        measured=f"{times['resumed']:.2f} s",
        baseline=f"{times['full']:.2f} s (full audit)",
        ratio=ratio,
        target=f"≥ {TARGET:g}×" if judged or not same else "—",
        status=status,
        note=f"Same report as the full audit: {same}; entries read by the resumed audit: "
        f"{run.get('entries_read')}; state file {size / 1e6:.1f} MB; checkpoints at "
        f"{', '.join(f'{s:,}' for s in sizes)}. The resumed time includes copying the saved "
        "state into place, restoring the replay, the SQLite file's full integrity check (both "
        "sides run it) and saving the new state.",
    )


def _small(ctx: Context, n: int) -> Any:
    """A generic log of ``n`` entries with a checkpoint every quarter (for a quick run, whose
    simulated district has one checkpoint only)."""
    from electlog.audit import Trust
    from electlog.checkpoint import NoteSigner

    from .cases import ORIGIN, T0, Dataset, _body, _fresh, _key

    out = _fresh(ctx, f"resume-generic-{n}")
    signer = NoteSigner.generate(ORIGIN, rng_seed=bytes(range(32)))
    authors = [Author(_key(k + 2), ORIGIN) for k in range(20)]
    path = out / "log.sqlite"
    with SQLiteStore(path, origin=ORIGIN) as store:
        log = Log(store)
        for start in range(0, n, n // 4):
            log.append_many(
                authors[i % 20].sign("ballot.recorded", _body(i), time=T0 + i)
                for i in range(start, min(n, start + n // 4))
            )
            log.checkpoint(signer)
    trust_path = out / "trust.json"
    Trust.create(origin=ORIGIN, authority_key=_key(250).public, log_key=signer.vkey).save(
        trust_path
    )
    return Dataset(
        label=f"generic {n:,}",
        source=path,
        trust=trust_path,
        entries=n,
        election=False,
        build_seconds=0.0,
    )


def _checkpoint_sizes(ds: Any) -> list[int]:
    with SQLiteStore(ds.source, create=False, read_only=True) as src:
        return sorted({c.size for c in src.checkpoints() if c.size > 0})


def bench_resume(ctx: Context) -> list[Row]:
    """(r) a resumed audit against a full audit of the same copy."""
    from .cases import _generic, _simulate_available, _simulated

    if _simulate_available() is None:
        ds = _simulated(ctx, ctx.sizes.audit_voters[1])
    else:
        ds = _generic(ctx, ctx.sizes.generic_sizes[1])
    sizes = _checkpoint_sizes(ds)
    if len(sizes) < 2:  # a quick run's small district: one checkpoint
        ds = _small(ctx, ctx.sizes.generic_sizes[1])
        sizes = _checkpoint_sizes(ds)
    rows = [_resume_row(ctx, ds, "r1", sizes[-2], sizes)]
    quarter = min(sizes[:-1], key=lambda s: abs(s - 0.75 * sizes[-1]))
    if quarter != sizes[-2]:
        rows.append(_resume_row(ctx, ds, "r2", quarter, sizes))
    return rows
