"""``audit(source, trust)``: replay a log copy, run every check, return a :class:`Report`."""

from __future__ import annotations

import functools
import gc
import os
import time
from collections.abc import Callable
from typing import Any, ParamSpec

from electlog._files import read_small_file
from electlog.checkpoint import Checkpoint
from electlog.election.openings import OpeningsDocument
from electlog.election.progress import PHASES
from electlog.errors import AuditError, CheckpointError, NoteError, UsageError
from electlog.note import _parse_note
from electlog.rla.eligibility import eligibility_findings, eligibility_section
from electlog.rla.status import audit_findings, audit_section

from . import findings as F
from ._auto import resolve
from ._pipeline import CHUNK_SIZE, Aside, Verifier, signature_backend
from ._replay import FindingSink, Replay
from ._resume import CopyDiffers, ResumePlan
from ._shards import Fallback, ShardedReplay, Shards, audit_events_at_end
from ._sources import Source, SourceUnreadable, open_source, refuse_file_damage
from ._store_check import settle_tree_check
from ._tasks import ENGINES, TaskEngine, task_source
from .progress import ProgressReporter
from .report import Counts, Report, severity_counts, verdict_of
from .trust import Trust, load_trust

__all__ = ["audit"]

_PARENT_GC_THRESHOLD = (100_000, 50, 1000)


def audit(
    source: object,
    trust: Trust | str | os.PathLike[str],
    *,
    since: str | None = None,
    jobs: int = 1,
    progress: bool | Callable[[int, int | None], None] = False,
    election: bool = True,
    in_progress: bool = False,
    serial: bool = False,
    openings: OpeningsDocument | None = None,
    engine: str = "auto",
    scheduler: str | None = None,
    tasks: int | None = None,
    state: str | os.PathLike[str] | None = None,
) -> Report:
    """Audit a log copy against the auditor's trust anchors.

    ``source``: a bundle file, a SQLite store file, a tiles directory (paths as ``str`` or
    ``PathLike``), the ``http://`` or ``https://`` URL of a log served as tlog-tiles (read with
    the tiles directory's checks; needs the ``server`` extra), a ``postgresql://`` DSN, or a
    :class:`~electlog.log.Log` / :class:`~electlog.store.Store`. ``trust``: a :class:`Trust`
    or the path of a trust file.
    ``since``: the text of a checkpoint note seen earlier; the log must be consistent with it
    (else a fork-evidence finding). ``jobs``: worker processes (1 = inline; 2 or more replay
    by community).
    ``progress``: ``True`` for a progress bar on stderr, or a callback ``(done, total)``.
    ``election=False`` audits a generic (non-election) log: no election replay.
    ``in_progress=True`` asks for a mid-election audit: a log whose only problems are that the
    election is not finished and entries after the last witnessed checkpoint gets the verdict
    ``clean_in_progress`` ("clean so far, up to <phase> at checkpoint N") instead of
    ``incomplete``. A pinned checkpoint in the trust file is checked like ``since``.
    ``serial=True`` runs the reference replay: every community in one process (the workers
    only decode and verify), as ``jobs=1`` does; with more jobs each worker replays some
    communities (:mod:`electlog.audit._shards`), with the same report.
    ``engine``: ``"processes"`` (this process reads the source and feeds the ``jobs`` worker
    processes, which hold every community's state), ``"tasks"`` (one task per community, each
    reading the source itself, at most ``jobs`` at a time, each in a fresh process: a process
    holds one community's state), ``"dask"`` (the same tasks on the Dask cluster whose
    scheduler is at ``scheduler``, e.g. ``"tcp://10.0.0.5:8786"``; the ``distributed`` extra)
    or ``"auto"`` (the default): ``"tasks"`` for a local log read by entry index (a SQLite
    file, a PostgreSQL DSN, a tiles directory) of 200,000 entries or more, else
    ``"processes"`` unless its projected memory is more than half of what the machine has
    available, then ``"tasks"`` (docs/auditing.md, "Which engine";
    ``run.replay`` says which ran and why; ``scheduler`` and ``tasks`` still need their engine
    named).
    With ``"tasks"`` and ``"dask"`` the source must be a path, URL or DSN every worker can open
    (:class:`~electlog.errors.UsageError` for a log or store object); the report is the same.
    ``tasks``: with those engines, at most this many tasks, each replaying every ``tasks``-th
    community (default: one per community; every task reads the whole log, so fewer tasks
    read it fewer times and each holds more communities' state).
    ``state``: a directory where the audit keeps its state (docs/auditing.md, "Resuming an
    audit"): a run resumes from the checkpoint the last run saved there (reading only the entries
    after it, with the report a full audit gives) and saves the latest checkpoint with the
    witness quorum; a copy that does not extend the saved checkpoint is audited in full and the
    saved checkpoint is reported as fork or rollback evidence. With a state, the replay is the
    serial one (the workers decode and verify), and ``engine`` must be ``"processes"`` or
    ``"auto"``.

    Returns the :class:`Report`; every problem is a finding, the audit never stops at the first.
    Raises :class:`~electlog.errors.AuditError` only when it cannot run at all (the source
    cannot be opened) and :class:`~electlog.errors.TrustFileError` for a bad trust file;
    :class:`~electlog.errors.AuditStateError` for a state it cannot use (damaged, for another
    trust file or log, or from another electlog version).
    """
    if not isinstance(trust, Trust):
        if isinstance(trust, str | os.PathLike):
            trust = load_trust(trust)
        else:
            raise UsageError("trust must be a Trust or the path of a trust file")
    if since is not None and not isinstance(since, str):
        raise UsageError("since must be the text of a checkpoint note")
    if not isinstance(in_progress, bool):
        raise UsageError("in_progress must be a bool")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise UsageError(f"jobs must be a positive integer, got {jobs!r}")
    if not isinstance(serial, bool):
        raise UsageError("serial must be a bool")
    if openings is not None and not isinstance(openings, OpeningsDocument):
        raise UsageError("openings must be an OpeningsDocument (read_openings decrypts one)")
    args = (source, trust, since, jobs, progress, election, in_progress)
    pool = None
    why = None
    if engine == "auto":
        engine, why = resolve(source, election, jobs, scheduler, tasks, state is not None or serial)
    if engine != "processes" or scheduler is not None or tasks is not None:
        if state is not None:
            raise UsageError(
                "state= resumes with the processes engine: drop engine/scheduler/tasks"
            )
        pool = _task_engine(engine, scheduler, tasks, source, trust, election, jobs, serial)
        pool.why = why
    if state is not None:
        report = _resumed(args, state, trust, election)
    elif pool is not None or (not serial and jobs > 1):  # one job: the serial replay
        try:
            report = _audit(*args, sharded=True, tasks=pool)
        except Fallback as exc:
            report = _audit(*args, sharded=False, fallback=exc.reason)
    else:
        report = _audit(*args, sharded=False)
    if openings is not None:
        from .openings import authorised_tier

        report = authorised_tier(report, source, openings)
    return report


def _resumed(args: tuple[Any, ...], state: object, trust: Trust, election: bool) -> Report:
    """The audit with a state directory (``audit(..., state=)``): resumed from the saved
    checkpoint, or in full when the copy does not extend it."""
    if not isinstance(state, str | os.PathLike):
        raise UsageError("state must be the path of a directory")
    plan = ResumePlan(state, trust, election)
    try:
        return _audit(*args, sharded=False, plan=plan)
    except CopyDiffers as exc:
        plan.fall_back(exc.reason)
        return _audit(*args, sharded=False, plan=plan)


_P = ParamSpec("_P")


def _audit_thresholds(fn: Callable[_P, Report]) -> Callable[_P, Report]:
    """``fn`` with the audit's garbage-collector thresholds (a replay makes millions of
    long-lived objects), set back only once it has returned, when its replay's state has been
    freed. Set back before the report was built, the default thresholds started a collection
    of the young generations and then one of all (0.11 and 0.14 s on the 129,600-voter
    district), each walking that state: the one-job audit's work after its last entry took
    0.48 s with them and takes 0.19 s without."""

    @functools.wraps(fn)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> Report:
        old_threshold = gc.get_threshold()
        gc.set_threshold(*_PARENT_GC_THRESHOLD)
        try:
            return fn(*args, **kwargs)
        finally:
            gc.set_threshold(*old_threshold)

    return run


@_audit_thresholds
def _audit(
    source: object,
    trust: Trust,
    since: str | None,
    jobs: int,
    progress: bool | Callable[[int, int | None], None],
    election: bool,
    in_progress: bool,
    *,
    sharded: bool,
    fallback: str | None = None,
    tasks: TaskEngine | None = None,
    plan: ResumePlan | None = None,
) -> Report:
    started = time.perf_counter()
    workers: Shards | Verifier | TaskEngine
    if tasks is not None:
        workers = tasks
    else:
        workers = Shards(jobs, trust, election) if sharded else Verifier(jobs)
    with workers:  # before any connection is opened: workers fork clean
        # a SQLite file's check at open walks its tables in this process: the full check
        # below, beside the replay, refuses the same damage (_damage_findings)
        src = open_source(source, quick_check=False)
        closing: list[Callable[[], None]] = []  # the replay's leaf file, if it fails
        try:
            sink = FindingSink()
            replay = (
                ShardedReplay(trust, sink, workers)
                if not isinstance(workers, Verifier)
                else Replay(trust, sink, election=election)
            )
            closing.append(replay.close)
            if src.origin is not None and src.origin != trust.origin:
                sink.add(
                    F.SOURCE_ORIGIN_MISMATCH,
                    None,
                    f"{src.description} declares log {src.origin!r}, the trust file is for "
                    f"{trust.origin!r}",
                    {"declared": src.origin, "origin": trust.origin},
                )
            if plan is not None:  # a resumed audit restores the replay here
                plan.begin(src, replay)
            if isinstance(workers, Shards | TaskEngine) and election:
                # a log that ends with a risk-limiting audit gets the serial replay: go
                # there now rather than after a sharded replay of the whole election
                reason = audit_events_at_end(src)
                if reason is not None:
                    raise Fallback(reason)
            # a store's full integrity check runs beside the replay (in a worker when
            # there are some: the parent's replay is the audit's bottleneck); when the
            # replay reads every entry, the check leaves the entries' part to it
            tree_check = src.tree_check if plan is None else None
            if tree_check is not None:
                replay.tree.keep_digests()
            check = tree_check or src.full_check
            full_check = workers.aside(*check) if check is not None else None
            unreadable = _feed(src, replay, workers, progress, plan, full_check)
            if unreadable is not None:
                replay.source_unreadable(
                    unreadable.message, unreadable.offset, unreadable.last_good_index
                )
            _damage_findings(src, full_check, sink, replay if tree_check else None)
            notes = src.checkpoint_notes()
            if src.notes_problem is not None:
                message, offset = src.notes_problem
                sink.add(
                    F.SOURCE_UNREADABLE,
                    None,
                    f"{src.description}: the checkpoint section is damaged: {message}; "
                    f"the {len(notes)} checkpoint(s) before it were checked",
                    {"offset": offset, "entries_read": replay.size},
                )
            replay.finish(notes, since, trust.pinned_checkpoint)
            if plan is not None:
                plan.finished(replay)
            _rla_findings(replay, sink)
            description = src.description
        except BaseException:  # a Fallback (the serial replay runs next) or an error
            for close in closing:
                close()
            raise
        finally:
            src.close()
    elapsed = time.perf_counter() - started
    findings = sink.result()
    by_severity = severity_counts(findings)  # capped findings count in full
    run: dict[str, Any] = {
        "jobs": jobs,
        "signature_backend": signature_backend(),
        "elapsed_seconds": round(elapsed, 3),
        "entries_per_second": round(replay.size / elapsed) if elapsed > 0 else None,
        "election_replay": election,
        "replay": tasks.describe()
        if tasks is not None
        else "sharded by community"
        if sharded
        else ("serial" if fallback is None else f"serial: {fallback}"),
    }
    if plan is not None:
        run["state"] = dict(plan.info)
    verdict = verdict_of(findings, in_progress=in_progress)
    communities = replay.communities()
    progress_info: dict[str, Any] | None = None
    if in_progress:
        phases = [c["phase"] for c in communities.values()]
        latest = replay.latest
        progress_info = {
            "phase": min(phases, key=PHASES.index) if phases else None,
            "checkpoint": None if latest is None else latest.position,
            "checkpoint_size": None if latest is None else latest.checkpoint.size,
            "entries": replay.size,
            "incomplete_communities": sorted(
                cid for cid, c in communities.items() if not c["complete"]
            ),
        }
    audited = replay.results()
    report = Report(
        verdict=verdict,
        origin=trust.origin,
        source=description,
        counts=Counts(
            entries=replay.size,
            authors=len(replay.heads),
            checkpoints=replay.checkpoint_notes,
            checkpoints_verified=sum(1 for s in replay.signed if s.witnessed),
            findings=by_severity,
            events=dict(replay.events),
        ),
        tallies={cid: c.to_dict() for cid, c in audited.items()},
        results=audited,
        findings=findings,
        checkpoint=replay.checkpoint_summary(),
        since=replay.since_info,
        pinned=replay.pin_info,
        communities=communities,
        progress=progress_info,
        run=run,
        rla=None if replay.state is None else audit_section(replay.state),
        eligibility=None
        if (sample := replay.eligibility()) is None
        else eligibility_section(sample),
    )
    replay.close()
    return report


def _task_engine(
    engine: object,
    scheduler: object,
    tasks: object,
    source: object,
    trust: Trust,
    election: bool,
    jobs: int,
    serial: bool,
) -> TaskEngine:
    """The community-task engine asked for (``engine="tasks"`` or ``"dask"``)."""
    if engine not in ENGINES:
        raise UsageError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine != "dask" and scheduler is not None:
        raise UsageError("scheduler= is the Dask scheduler's address: it needs engine='dask'")
    if engine == "processes" and tasks is not None:
        raise UsageError(
            "tasks= is the number of community tasks: it needs engine='tasks' or 'dask'"
        )
    if tasks is not None and (isinstance(tasks, bool) or not isinstance(tasks, int) or tasks < 1):
        raise UsageError(f"tasks must be a positive integer, got {tasks!r}")
    if serial:
        raise UsageError("serial=True is the reference replay in this process: no engine")
    if scheduler is not None and not isinstance(scheduler, str):
        raise UsageError(
            f"scheduler must be an address such as 'tcp://host:8786', not {scheduler!r}"
        )
    assert isinstance(engine, str)
    return TaskEngine(engine, task_source(source), trust, election, jobs, scheduler, tasks)


def _feed(
    src: Source,
    replay: Replay,
    workers: Shards | Verifier | TaskEngine,
    progress: bool | Callable[[int, int | None], None],
    plan: ResumePlan | None = None,
    check: Aside[Any] | None = None,
) -> SourceUnreadable | None:
    """Read the source through the replay (sharded or serial) with the progress bar; the
    source's unreadable tail, if it has one, is returned for the caller to report. With a
    ``plan`` (a state directory) the entries come from it (those after the saved checkpoint)
    and it takes its snapshot between chunks. ``check``: the store's check beside the replay,
    looked at between chunks (:func:`_refuse_early`)."""
    unreadable: SourceUnreadable | None = None
    early = functools.partial(_refuse_early, check, src)
    early()  # with one job the check has run already
    # the total is for the bar or the callback only: counting a SQLite store's entries is a
    # scan of its index (about 0.16 us an entry, in the auditing process), not paid without one
    total = src.size_hint() if progress else None
    if plan is not None:
        assert isinstance(workers, Verifier) and not isinstance(replay, ShardedReplay)
        with ProgressReporter(progress, total) as bar:
            try:
                for results in workers.map(plan.chunks(src, CHUNK_SIZE)):
                    early()
                    replay.feed(results)
                    plan.after_chunk(replay)
                    bar.update(replay.size)
            except SourceUnreadable as exc:
                unreadable = exc
        plan.fed(replay, unreadable is not None)
        return unreadable
    with ProgressReporter(progress, total) as bar:
        if isinstance(workers, TaskEngine):  # the tasks run before the entries' count moves
            workers.between = early
            workers.on_task = functools.partial(bar.stage, "community tasks")
        try:
            # the community tasks' routing process may have run the final pass beside them
            handed = workers.presumed() if isinstance(workers, TaskEngine) else None
            if handed is not None:
                assert isinstance(replay, ShardedReplay)
                state, leaves = handed
                replay.adopt(state, leaves, state["stored_leaves"])
            elif isinstance(replay, ShardedReplay):
                for chunk in src.chunks(CHUNK_SIZE):
                    early()
                    replay.feed_entries(chunk)
                    bar.update(replay.size)
            else:
                assert isinstance(workers, Verifier)
                for results in workers.map(src.chunks(CHUNK_SIZE)):
                    early()
                    replay.feed(results)
                    bar.update(replay.size)
        except SourceUnreadable as exc:
            unreadable = exc
        if isinstance(replay, ShardedReplay):
            replay.entries_done()
            bar.update(replay.size)
    return unreadable


def _refuse_early(check: Aside[Any] | None, src: Source) -> None:
    """Refuse a database SQLite finds damaged as soon as the store's check beside the replay
    has said so, rather than after the replay (:func:`_damage_findings` refuses it too)."""
    if check is not None and check.ready():
        result = check()
        if result[-1] is None:  # the check ran: its damage first (a TreeCheck or a full check's)
            refuse_file_damage(result[0], src)


_ENTRY_PROBLEMS = (
    F.ENTRY_MALFORMED,
    F.ENTRY_SIGNATURE_INVALID,
    F.ENTRY_WRONG_LOG,
    F.CHAIN_SEQ_GAP,
    F.CHAIN_PREV_MISMATCH,
)
"""Findings of an entry that the replayed author heads leave out or break a chain with."""


def _damage_findings(
    src: Source,
    full_check: Callable[[], Any] | None,
    sink: FindingSink,
    replay: Replay | None = None,
) -> None:
    """The store's damage: what reading found, and the full integrity check's result (with
    ``replay``: the source's tree check, settled against the replayed tree and heads)."""
    damage = src.damage
    if full_check is not None:
        result = full_check()
        if replay is not None and src.tree_check is not None:
            result = settle_tree_check(
                result,
                src.tree_check[1],
                replay.size,
                replay.tree.level_digests(),
                {author: (head.seq, head.prev) for author, head in replay.heads.items()},
                not any(sink.count(code) for code in _ENTRY_PROBLEMS),
                replay.stored_leaves
                if isinstance(replay, ShardedReplay) and replay.adopted
                else src.stored_leaves(),
            )
        found, error = result
        if error is not None:
            raise AuditError(error)
        refuse_file_damage(found, src)
        damage += found
    for d in damage:
        sink.add(F.SOURCE_DAMAGED, d.index, d.message, {"kind": d.kind.value})


def _rla_findings(replay: Replay, sink: FindingSink) -> None:
    """The risk-limiting audit's findings only the whole log shows (docs/rla.md)."""
    sample = replay.eligibility()  # the sharded replay has no state, but merges the sample
    if replay.state is None and sample is None:
        return
    witnessed = {sc.checkpoint.size for sc in replay.signed if sc.witnessed}
    found = (
        [] if replay.state is None else audit_findings(replay.state, replay.tree.root, witnessed)
    )
    if sample is not None:
        found += eligibility_findings(sample, replay.tree.root, witnessed)
    for af in found:
        sink.add(F.rule_finding_code(af.code), af.index, af.message, af.evidence)


MAX_SINCE_FILE = 1 << 20
"""Largest ``--since`` file read (a checkpoint note is a few hundred bytes to a few KiB)."""


def read_since(path: str | os.PathLike[str]) -> str:
    """Read a ``--since`` checkpoint note file: a regular file of at most
    :data:`MAX_SINCE_FILE` bytes holding a signed checkpoint note (:class:`AuditError` if
    unreadable, a FIFO or device, larger, not UTF-8, or not a signed checkpoint note at all —
    a usage error, not a finding against the log; a well-formed note that does not verify with
    the trust file is the audit's finding ``since.unverified``)."""
    try:
        text = read_small_file(path, MAX_SINCE_FILE).decode("utf-8")
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise AuditError(f"cannot read the --since checkpoint {path}: {reason}") from exc
    try:
        body, _lines = _parse_note(text)
        Checkpoint.from_text(body)
    except (NoteError, CheckpointError) as exc:
        raise AuditError(
            f"the --since file {path} is not a signed checkpoint note (docs/format.md §4): {exc}"
        ) from None
    return text
