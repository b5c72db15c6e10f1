"""Community tasks: the replay sharded by community, each shard a task that reads the log itself.

:mod:`electlog.audit._shards` has one parent read the source and ship every entry's bytes to
worker processes through pipes. Here each shard is a :class:`CommunityTask` instead: a source
descriptor (a path, an ``http(s)://`` tiles URL or a ``postgresql://`` DSN, which any machine
can open), the trust file, the number of shards and its own shard number. A task (:func:`run_task`)
opens the source and either reads only the entries of its shard, by the plan the auditing
process routed once (:func:`route_plan`, local tasks; from a store, which reads by index: a
SQLite file, PostgreSQL, tiles), or reads every entry and takes its shard's, by the plan (a
bundle) or routing each entry with the parent's own :class:`~._shards.Router` (a Dask task).
It hands its communities' entries and every district event to a :class:`~._shards.ShardWorker`,
which decodes, verifies and replays them exactly as a shard worker process does. It returns a
:class:`TaskResult`: the status of each of its entries (one byte each), a SHA-256 digest of
their leaf hashes, its findings with their sort keys and its communities' results.

Where the tasks are forked, on two processes or more, from a store read by index, the routing
process runs the audit's final pass too, presuming that every entry applies (:mod:`._presumed`),
and the audit's own process adopts it once the tasks' results confirm it. Otherwise the audit's own
process reads the source once more and runs :class:`~._shards.ShardedReplay` unchanged, with
:class:`TaskResults` as its shards: routing, author chains, the Merkle tree, checkpoints, witness
times, the checks across communities and the merge of the findings, in the serial replay's order.
:class:`TaskResults` answers each chunk from the tasks' statuses, computes the leaf hashes from the
bytes this process read, and checks at the end that every task read the same entries (count and
digest): a source that changed between the reads is an :class:`~electlog.errors.AuditError`, never
a mixed report. A log that needs the serial replay (:class:`~._shards.Fallback`) gets it, as with
the processes. Forked local tasks also write their statuses as they go to a :class:`StatusStream`
shared with the audit's process, and start largest first when the routing's final pass stands, else
largest last: the final pass then starts once one task is left and follows it (:class:`Following`),
checking at its end that its result has the statuses it shared. The first forked task starts while
the log is still being routed, reading its entries as the routing process writes the plan to a
:class:`PlanStream`.

Two engines run the tasks: ``"tasks"``, at most ``jobs`` local processes at a time, a fresh one
per task (:class:`~._oneshots.OneShots`: so a process holds one community's state and the
district's at a time); and ``"dask"``, a Dask ``distributed`` cluster (the optional
``electlog[distributed]`` extra, imported only here, when asked for), one task per community.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import mmap
import os
import pickle
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from itertools import compress
from typing import IO, Any, Final, NamedTuple, TypeAlias

from electlog.errors import AuditError, ElectlogError, UsageError
from electlog.keys import set_verify_backend, verify_backend
from electlog.log import Log
from electlog.store import Store, is_postgres_dsn

from ._oneshots import OneShots, balanced_order
from ._pipeline import CHUNK_SIZE, Aside
from ._presumed import Presumption, _applied, _leaf_hashes, presumed_plan, routed_read
from ._shards import ALL, Fallback, Router, ShardWorker, _marks, _take, peek
from ._sources import Source, SourceUnreadable, open_entries
from .trust import Trust

__all__ = [
    "ENGINES",
    "CommunityTask",
    "TaskEngine",
    "TaskResult",
    "TaskResults",
    "route_plan",
    "run_task",
    "task_source",
]

ENGINES: Final = ("auto", "processes", "tasks", "dask")
"""How an audit runs: ``auto`` (the default: ``tasks`` or ``processes`` by the source, its size
and the memory available, :mod:`._auto`), ``processes`` (worker processes fed by this one),
``tasks`` (local community tasks, each reading the source) and ``dask`` (community tasks on a
Dask cluster)."""

_GC_THRESHOLD: Final = (50_000, 20, 20)


class CommunityTask(NamedTuple):
    """One shard of the audit, as a task any machine that can open ``source`` can run."""

    source: str
    """A path, an ``http(s)://`` tiles URL or a ``postgresql://`` DSN."""
    trust: str
    """The trust file's JSON (:meth:`Trust.to_json`: its keys do not pickle)."""
    election: bool
    shards: int
    """How many shards the communities are dealt to (the genesis's order, round robin)."""
    shard: int
    backend: str | None
    """The Ed25519 backend to verify with (None: the worker's own choice; results are identical)."""
    plan: bytes | None = None
    """Each entry's shard as the auditing process routed the log (:func:`route_plan`; ``ALL``:
    a district event), so the task only reads and takes its entries; None: the task routes
    every entry itself (a Dask task, which would otherwise carry a byte per entry)."""
    owned: frozenset[str] = frozenset()
    """With a ``plan``: the communities this shard replays."""
    stream: StatusStream | None = None
    """A forked local task's statuses as it replays them, shared with the auditing process
    (:class:`StatusStream`), so that the audit's final pass can follow the last task instead
    of waiting for its result."""
    plan_stream: PlanStream | None = None
    """Instead of a ``plan``: the routing plan as the routing process writes it
    (:class:`PlanStream`), for the task forked before the routing has ended, which reads its
    entries as they are routed."""


class TaskResult(NamedTuple):
    """What a task hands back: everything :class:`TaskResults` and the merge need."""

    shard: int
    statuses: bytes
    """One status per entry the task replayed (``_shards.REJECTED`` ... ``APPLIED``), in order."""
    read: int
    """Entries read from the source."""
    digest: bytes
    """SHA-256 over the leaf hashes of the entries the task replayed, in order."""
    owned: frozenset[str]
    """The communities the task replayed."""
    end: dict[str, Any] | None
    """:meth:`ShardWorker.end`'s findings and results (None when ``fallback`` is set)."""
    fallback: str | None
    """Why the log needs the serial replay, if the routing found out."""


class StatusStream:
    """One local task's statuses, written by the task as it replays its entries into memory
    shared with the auditing process (an anonymous shared map and a counter with its lock,
    both made before the task's process is forked): the auditing process reads the statuses
    written so far. The task's result still carries every status; the audit checks that the
    two agree."""

    def __init__(self, size: int, counter: Any) -> None:
        self.size = size
        """How many statuses the task is to write (its entries in the routing plan)."""
        self._map = mmap.mmap(-1, max(1, size))
        self._counter = counter
        self._at = 0

    def put(self, statuses: bytes) -> None:
        """In the task: the statuses of its next entries (beyond :attr:`size`, none is shared:
        the task then read other entries than routed, which its result shows)."""
        at = self._at
        end = min(self.size, at + len(statuses))
        if end > at:
            self._map[at:end] = statuses[: end - at]
            with self._counter.get_lock():  # the statuses are in place before the count says so
                self._counter.value = end
        self._at = at + len(statuses)

    def written(self) -> int:
        """How many statuses the task has written so far."""
        with self._counter.get_lock():
            return int(self._counter.value)

    def read(self, at: int, count: int) -> bytes:
        """Statuses ``at .. at + count - 1`` (all written: see :meth:`written`)."""
        return self._map[at : at + count]


PLAN_FAILED: Final = -2
"""A :class:`PlanStream`'s end when the routing found that the log needs the serial replay."""


class PlanStream:
    """The routing plan (:func:`route_plan`) as the routing process writes it, chunk by chunk,
    into memory shared with a task forked before the routing ends (a :class:`StatusStream` of
    plan bytes, sized by the source's entries when the audit began, and a second counter: the
    plan's final length once it is done, :data:`PLAN_FAILED` if the log needs the serial
    replay, -1 until then). The task reads its entries as they are routed, on the core the
    routing leaves free, instead of waiting for the whole plan."""

    def __init__(self, size: int, written: Any, end: Any) -> None:
        self.plan = StatusStream(size, written)
        self._end = end
        with end.get_lock():
            end.value = -1

    @property
    def size(self) -> int:
        """How many plan bytes it holds at most (the source's entries when the audit began)."""
        return self.plan.size

    def finish(self, length: int) -> None:
        """In the routing process: the plan is done, ``length`` entries long."""
        with self._end.get_lock():
            self._end.value = length

    def fail(self) -> None:
        """In the routing process: the log needs the serial replay; no plan follows."""
        with self._end.get_lock():
            self._end.value = PLAN_FAILED

    def end(self) -> int:
        """The plan's final length, :data:`PLAN_FAILED`, or -1 while the routing runs."""
        with self._end.get_lock():
            return int(self._end.value)


def task_source(source: object) -> str:
    """The source as a descriptor every worker can open: a path (made absolute), an
    ``http(s)://`` URL or a ``postgresql://`` DSN; :class:`UsageError` for a log or store object
    (it lives in this process only)."""
    if isinstance(source, Log | Store | Source):
        raise UsageError(
            f"community tasks read the log themselves, so the source must be a path, an "
            f"http(s):// URL or a postgresql:// DSN that every worker can open, not a "
            f"{type(source).__name__} held in this process (audit it with engine='processes')"
        )
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if not isinstance(source, str) or not source:
        raise UsageError(
            f"a community task's source is a path, an http(s):// URL or a postgresql:// DSN, "
            f"not {source!r}"
        )
    if source.startswith(("http://", "https://")) or is_postgres_dsn(source):
        return source
    return os.path.abspath(source)


def route_plan(
    source: str, shards: int, stream: PlanStream | None = None
) -> tuple[bytes, list[frozenset[str]]]:
    """Route every entry of ``source`` once, as each task would (:class:`Router`): the shard of
    each entry (``ALL`` for a district event) and the communities of each shard. Raises
    :class:`Fallback` when the log needs the serial replay; stops quietly where the source
    becomes unreadable (the audit's own read reports it). With a ``stream``, each chunk's plan
    is written to it as it is routed, and its end said there too."""
    router = Router(shards)
    route = router._route
    cshard = router._cshard
    plan = bytearray()

    def feed(chunk: list[bytes], leaves: list[bytes] | None) -> None:
        read = len(plan)
        for k, data in enumerate(chunk):
            dest = route(read + k, peek(data))
            plan.append(ALL if dest is None else cshard.get(dest, 0))
        if stream is not None:
            stream.plan.put(bytes(plan[read:]))

    routed_read(source, shards, stream, feed)
    if stream is not None:
        stream.finish(len(plan))
    return bytes(plan), router.owned()


_Take: TypeAlias = Callable[[int, list[bytes]], tuple[list[int], list[bytes], bytes]]
"""What a task takes of the chunk read at an index: the indexes, bytes and report flags."""
_Piece: TypeAlias = tuple[list[int], list[bytes], bytes, int]
"""Entries a task replays (indexes, bytes, report flags) and how many the source has given."""


_Parts: TypeAlias = dict[int, tuple[bytes, list[bytes]]]
"""A chunk's part of each shard: its statuses and leaf hashes, by shard."""


def _whole(no: int, routing: bytes, parts: _Parts, jobs: int) -> tuple[bytes, bytes]:
    """The statuses and leaf hashes of chunk ``no`` in its order, from each shard's part
    (:func:`~._shards._spread` merged): each entry's from its own shard, a district event's
    (every shard's) from shard 0."""
    if len(parts) != jobs:
        raise AuditError(f"chunk {no} was not sent to every community task")
    statuses = [iter(parts[w][0]) for w in range(jobs)]
    leaves = [iter(parts[w][1]) for w in range(jobs)]
    out = bytearray(len(routing))
    hashes: list[bytes] = []
    add = hashes.append
    try:
        for k, shard in enumerate(routing):
            w = shard
            if w == ALL:  # every task has it; task 0 reports it
                for others in range(1, jobs):
                    next(statuses[others])
                    next(leaves[others])
                w = 0
            out[k] = next(statuses[w])
            add(next(leaves[w]))
    except StopIteration:
        raise AuditError(f"chunk {no}: a task's part does not match its routing") from None
    if any(next(it, None) is not None for it in statuses):
        raise AuditError(f"chunk {no}: a task's part does not match its routing")
    return bytes(out), b"".join(hashes)


def _planned(plan: bytes, shard: int) -> _Take:
    """Take by the auditing process's routing plan (:func:`route_plan`)."""

    def take(read: int, chunk: list[bytes]) -> tuple[list[int], list[bytes], bytes]:
        ws = plan[read : read + len(chunk)]
        if len(ws) != len(chunk):
            raise _changed(shard, f"read more than the {len(plan)} entries routed")
        mine, indexes, reports = _take(ws, shard, read)
        return indexes, list(compress(chunk, mine)), reports

    return take


def _routed(router: Router, n: int, shard: int, election: bool) -> _Take:
    """Take by routing each entry here (a Dask task), or by an even split (a generic log)."""
    route = router._route
    cshard = router._cshard

    def take(read: int, chunk: list[bytes]) -> tuple[list[int], list[bytes], bytes]:
        indexes: list[int] = []
        datas: list[bytes] = []
        reports = bytearray()
        for k, data in enumerate(chunk):
            if not election:  # no state to shard: the parent's even split of the chunk
                if k * n // len(chunk) == shard:
                    indexes.append(read + k)
                    datas.append(data)
                    reports.append(1)
                continue
            dest = route(read + k, peek(data))
            if dest is None:  # a district event: every shard applies it, shard 0 reports
                indexes.append(read + k)
                datas.append(data)
                reports.append(shard == 0)
            elif cshard.get(dest, 0) == shard:
                indexes.append(read + k)
                datas.append(data)
                reports.append(1)
        return indexes, datas, bytes(reports)

    return take


def _runs(plan: bytes, shard: int) -> list[tuple[int, int]]:
    """The index ranges ``[start, stop)`` of ``shard``'s entries and the district events in the
    routing plan: the only entries a planned task reads (found with C loops: ``find``)."""
    marks = _marks(plan, shard, ALL)
    runs: list[tuple[int, int]] = []
    start = marks.find(1)
    while start >= 0:
        stop = marks.find(0, start)
        if stop < 0:
            stop = len(marks)
        runs.append((start, stop))
        start = marks.find(1, stop)
    return runs


def _read_runs(src: Source, plan: bytes, shard: int) -> Iterator[_Piece]:
    """A planned task's read of a source that reads by index (:meth:`Source.runs`): its runs
    of the plan (:func:`_runs`) and nothing else, each chunk taken as :func:`_planned` takes
    it from a whole read. The plan covers ``len(plan)`` entries, so the task says it read as
    many, once the source shows it still ends there: its last entry is there and a read of
    every entry would stop after it (as the routing's did). Every other change of the source
    makes the task's entries (count, leaf hashes) differ from those the audit's own read gives
    it, and :class:`TaskResults` refuses them."""
    try:
        for first, datas in src.runs(_runs(plan, shard), CHUNK_SIZE):
            _, indexes, reports = _take(plan[first : first + len(datas)], shard, first)
            yield indexes, datas, reports, first + len(datas)
    except SourceUnreadable as exc:
        raise _changed(shard, f"cannot read entries it was routed: {exc.message}") from exc
    yield _routed_end(src, len(plan), shard)


def _routed_end(src: Source, size: int, shard: int) -> _Piece:
    """The last piece of a task that read by a plan of ``size`` entries, once the source shows
    it still ends there: its last entry is there, and a read of every entry would stop after it
    (as the routing's did)."""
    try:
        if size:
            for _ in src.runs([(size - 1, size)], 1):
                pass
    except SourceUnreadable as exc:
        raise _changed(shard, f"cannot read entries it was routed: {exc.message}") from exc
    try:
        grew = next(src.runs([(size, None)], CHUNK_SIZE), None) is not None
    except SourceUnreadable:
        grew = False  # the routing's read stopped here too
    if grew:
        raise _changed(shard, f"read more than the {size} entries routed")
    return [], [], b"", size


def _read_streamed(src: Source, stream: PlanStream, shard: int, router: Router) -> Iterator[_Piece]:
    """:func:`_read_runs` by a plan still being routed: the runs of each part of the plan as
    the routing process writes it to ``stream``, waiting when it has
    caught up with the routing, until the routing has ended. ``router`` routes the genesis
    (entry 0, which every task takes), so that it deals the communities to the shards as the
    routing did. A log the routing finds needs the serial replay is a :class:`Fallback`; the
    auditing process gone, an :class:`AuditError`."""
    parent = os.getppid()
    plan = bytearray()
    done = 0
    while True:
        end = stream.end()  # before the count: at its end, every part is written
        written = stream.plan.written()
        if written > done:
            part = stream.plan.read(done, written - done)
            plan += part
            runs = [(done + a, done + b) for a, b in _runs(part, shard)]
            try:
                for first, datas in src.runs(runs, CHUNK_SIZE):
                    if first == 0:
                        router._route(0, peek(datas[0]))
                    ws = bytes(plan[first : first + len(datas)])
                    _, indexes, reports = _take(ws, shard, first)
                    yield indexes, datas, reports, first + len(datas)
            except SourceUnreadable as exc:
                raise _changed(shard, f"cannot read entries it was routed: {exc.message}") from exc
            done = written
        elif end == PLAN_FAILED:
            raise Fallback("the routing found that the log needs the serial replay")
        elif end >= 0:
            break
        elif os.getppid() != parent:
            raise AuditError(f"community task {shard}: the auditing process is gone")
        else:
            time.sleep(_FOLLOW_POLL)
    if end != stream.size:  # the engine starts this task again by the whole plan
        raise _changed(shard, f"was routed {end} entries, not the {stream.size} indexed")
    yield _routed_end(src, done, shard)


def _read_all(src: Source, take: _Take) -> Iterator[_Piece]:
    """A task's read of every entry, ``take`` taking its shard's (to where the source can be
    read: the audit's own read meets the same end and reports it)."""
    read = 0
    try:
        for chunk in src.chunks(CHUNK_SIZE):
            indexes, datas, reports = take(read, chunk)
            read += len(chunk)
            yield indexes, datas, reports, read
    except SourceUnreadable:
        pass


def run_task(task: CommunityTask) -> TaskResult:
    """Run one community task: read the source, replay this shard's entries (see the module
    docstring), taking them by the task's ``plan`` or routing each entry itself. Module-level
    and picklable both ways, for a task process or a Dask worker."""
    gc.set_threshold(*_GC_THRESHOLD)
    if task.backend is not None:
        set_verify_backend(task.backend)
    n, shard, election = task.shards, task.shard, task.election
    router = Router(n)
    plan = task.plan if election else None
    take = _planned(plan, shard) if plan is not None else _routed(router, n, shard, election)
    worker = ShardWorker(Trust.from_json(task.trust), election)
    try:  # the replay's temporary leaf file is closed whatever happens
        return _replay_shard(task, worker, take, router, plan)
    finally:
        worker.replay.close()


def _replay_shard(
    task: CommunityTask, worker: ShardWorker, take: _Take, router: Router, plan: bytes | None
) -> TaskResult:
    """:func:`run_task`'s read of the source (by the ``plan``'s runs where the source reads by
    index, else all of it) and replay of what ``take`` takes of it."""
    shard = task.shard
    statuses = bytearray()
    digest = hashlib.sha256()
    read = 0
    src = open_entries(task.source)  # the audit's own open checks the store
    try:
        if task.plan_stream is not None:
            pieces = _read_streamed(src, task.plan_stream, shard, router)
        elif plan is not None and src.indexed(len(plan)):
            pieces = _read_runs(src, plan, shard)
        else:
            pieces = _read_all(src, take)
        for piece in pieces:
            indexes, datas, reports, read = piece
            if datas:
                got, leaves = worker.work(indexes, datas, reports)
                statuses += got
                digest.update(leaves)
                if task.stream is not None:
                    task.stream.put(got)
    except Fallback as exc:
        return TaskResult(shard, b"", read, b"", frozenset(), None, exc.reason)
    finally:
        src.close()
    if plan is not None and read != len(plan):  # the routing read more (it read fewer: _planned)
        raise _changed(shard, f"read {read} of the {len(plan)} entries routed")
    owned = task.owned if plan is not None else router.owned()[shard]
    end = worker.end(owned, read)
    return TaskResult(shard, bytes(statuses), read, digest.digest(), owned, end, None)


def _genesis(source: str, shards: int) -> tuple[Router, Any] | None:
    """Entry 0 of ``source`` routed for ``shards`` shards, and its statement's body; None when
    it cannot be read or is no genesis the routing takes (the audit's own open and replay then
    say why)."""
    try:
        src = open_entries(source)  # entry 0 only: the audit's own open checks the store
    except AuditError:
        return None
    try:
        first = next(iter(src.chunks(1)), None)
    except SourceUnreadable:
        first = None
    finally:
        src.close()
    if not first:
        return None
    m = peek(first[0])
    router = Router(shards)
    try:
        router._route(0, m)
    except Fallback:
        return None
    return router, None if m is None else m.get("body")


def count_shards(source: str, election: bool, jobs: int, tasks: int | None = None) -> int:
    """How many tasks to run: one per community of the genesis (entry 0), or ``tasks`` if
    fewer (each then replays every ``tasks``-th community); ``tasks`` or ``jobs`` for a generic
    log, 1 for a log whose first entry is no genesis (the audit then falls back anyway) or a
    source that cannot be opened (the audit's own open then says why, as with any engine)."""
    if not election:
        return tasks or jobs
    genesis = _genesis(source, 1)
    if genesis is None:
        return 1
    communities = len(genesis[0]._cindex)
    return max(1, min(communities, tasks or communities))


class Following(NamedTuple):
    """A task still running when the audit's final pass starts, which the pass follows through
    its :class:`StatusStream`."""

    ready: Callable[[], bool]
    """Whether its result is in (it finished, failed or its process was lost)."""
    get: Callable[[], TaskResult]
    """Its result (waits for it)."""
    stream: StatusStream | None


_FOLLOW_POLL: Final = 0.0005
"""Seconds between two looks at a followed task's statuses, when the final pass has caught up."""


def task_result(shard: int, get: Callable[[], TaskResult]) -> TaskResult:
    """Task ``shard``'s result from ``get``; a failed task (or a lost process, a cluster gone)
    is an :class:`AuditError` naming it."""
    try:
        return get()
    except ElectlogError as exc:
        raise AuditError(f"community task {shard} failed: {exc}") from exc
    except Exception as exc:  # a worker lost, a cluster gone: the audit cannot run
        raise AuditError(f"community task {shard} failed: {type(exc).__name__}: {exc}") from exc


class TaskResults:
    """The :class:`~._shards.ShardPool` the audit's own :class:`~._shards.ShardedReplay` reads:
    each chunk's statuses from the tasks' results, the leaf hashes from the bytes it sent,
    given for the whole chunk at once (:meth:`whole_reply`: one pass over the chunk, not a
    reply per task to be merged). A task in ``following`` (its result None in ``results``) is
    still running: its statuses come from its stream as it writes them, its result at its
    end message (then checked against what the stream gave)."""

    in_flight = 1

    def __init__(
        self,
        results: Sequence[TaskResult | None],
        election: bool,
        following: dict[int, Following] | None = None,
    ) -> None:
        self.jobs = len(results)
        self.election = election
        self._results = list(results)
        self._following = dict(following or {})
        self._taken = {shard: bytearray() for shard in self._following}
        self._at = [0] * len(results)
        self._digests = [hashlib.sha256() for _ in results]
        self._handed: list[bytes] | None = None  # the digests of the routing's final pass
        self._chunks: dict[int, tuple[bytes, _Parts]] = {}
        self._replies: dict[tuple[str, int, int], Any] = {}
        self.finished: Callable[[], None] = lambda: None
        """Called when a followed task's result comes in."""

    def _result(self, shard: int) -> TaskResult:
        r = self._results[shard]
        if r is None:  # a followed task: wait for its end
            r = task_result(shard, self._following.pop(shard).get)
            if r.fallback is not None:
                raise Fallback(r.fallback)
            if bytes(self._taken.pop(shard)) != r.statuses[: self._at[shard]]:
                raise AuditError(f"community task {shard} returned other statuses than it shared")
            self._results[shard] = r
            self.finished()
        return r

    def _statuses(self, shard: int, at: int, count: int) -> bytes:
        """Statuses ``at .. at + count - 1`` of task ``shard``: from its result, or as its
        stream gives them (waiting for them while the task runs)."""
        follow = self._following.get(shard) if self._results[shard] is None else None
        stream = None if follow is None else follow.stream
        if follow is None or stream is None:
            return self._result(shard).statuses[at : at + count]
        while stream.written() < at + count:
            if follow.ready():  # ended: its result has every status there is
                return self._result(shard).statuses[at : at + count]
            time.sleep(_FOLLOW_POLL)
        got = stream.read(at, count)
        self._taken[shard] += got
        return got

    def send(self, shard: int, msg: tuple[Any, ...]) -> None:
        if msg[0] == "chunk":
            _, no, _base, routing, datas = msg
            at = self._at[shard]
            statuses = self._statuses(shard, at, len(datas))
            if len(statuses) != len(datas):
                done = len(self._result(shard).statuses)
                raise _changed(shard, f"replayed {done} entries, this process more")
            self._at[shard] = at + len(datas)
            leaves = _leaf_hashes(datas)
            self._digests[shard].update(b"".join(leaves))
            self._chunks.setdefault(no, (routing, {}))[1][shard] = (statuses, leaves)
            return
        _, owned, size = msg
        r = self._result(shard)
        if r.read != size or self._at[shard] != len(r.statuses):
            raise _changed(shard, f"read {r.read} entries, this process {size}")
        digest = self._digests[shard].digest() if self._handed is None else self._handed[shard]
        if digest != r.digest or owned != r.owned:
            raise _changed(shard, "read other entry bytes than this process")
        self._replies[("end", shard, 0)] = r.end

    def whole_reply(self, no: int) -> tuple[bytes, bytes]:
        """The statuses and leaf hashes of chunk ``no`` in its order, as the shards' replies
        merged give them (:func:`~._shards._spread`): each entry's from its own task, a
        district event's (every task's) from task 0."""
        routing, parts = self._chunks.pop(no)
        return _whole(no, routing, parts, self.jobs)

    def adopt(self, counts: Sequence[int], digests: Sequence[bytes]) -> None:
        """The final pass ran in the routing process: each task's entry count and digest of
        their leaf hashes as that pass read them, for the end's comparison with each task's
        result (in place of this process's own read)."""
        if len(counts) != self.jobs or len(digests) != self.jobs:
            raise AuditError("the final pass handed over counts for another number of tasks")
        self._at = list(counts)
        self._handed = list(digests)

    def confirm(self, size: int, counts: Sequence[int], digests: Sequence[bytes]) -> bool:
        """Whether every task has returned, applied every entry it replayed and read what the
        routing process's final pass read: ``size`` entries, ``counts[shard]`` of them its
        own, their leaf hashes digested as ``digests[shard]``."""
        return len(counts) == len(digests) == self.jobs and all(
            r is not None
            and r.fallback is None
            and _applied(r.statuses)
            and (r.read, len(r.statuses), r.digest) == (size, counts[r.shard], digests[r.shard])
            for r in self._results
        )

    def receive(self, kind: str, shard: int, tag: int) -> Any:
        return self._replies.pop((kind, shard, tag))


def _changed(shard: int, what: str) -> AuditError:
    return AuditError(
        f"community task {shard} {what}: the source changed while the audit read it (audit a "
        "fixed copy: a bundle, a SQLite file no writer has open, a tiles checkpoint)"
    )


class TaskEngine:
    """Runs the community tasks of one audit (``engine`` ``"tasks"`` or ``"dask"``) and serves
    their results as a :class:`~._shards.ShardPool`. Use as a context manager: entering starts
    the pool or connects to the cluster, the first chunk starts the tasks and waits for them
    all (for all but one, which it then follows, when the tasks share their statuses); the
    audit's own process then routes one chunk at a time (:attr:`in_flight`: the replies are
    at hand or on their way)."""

    in_flight = 1

    def __init__(
        self,
        engine: str,
        source: str,
        trust: Trust,
        election: bool,
        jobs: int,
        scheduler: str | None,
        tasks: int | None = None,
    ) -> None:
        self.engine = engine
        self.source = source
        self.trust = trust
        self.election = election
        self.scheduler = scheduler
        self.jobs = count_shards(source, election, jobs, tasks)
        self._processes = max(1, min(jobs, self.jobs))
        self._forks: OneShots | None = None
        self._routing: int | None = None
        self._plan_stream: PlanStream | None = None
        self._presume: Presumption | None = None
        self._presumed = False  # the routing's final pass stands, so far
        self._client: Any = None
        self._asides: list[Callable[[], bool]] = []
        self._results: TaskResults | None = None
        self.between: Callable[[], None] | None = None
        """Called before waiting for each task's result (the audit refuses a damaged file
        there as soon as the check beside the tasks has found it)."""
        self.why: str | None = None
        """Why ``engine="auto"`` chose this engine (for :meth:`describe`), if it did."""
        self.on_task: Callable[[int, int], None] | None = None
        """Called with the tasks finished and the tasks in all, at the start and as each
        task's result comes in (the progress bar's row of tasks)."""

    def describe(self) -> str:
        """What ran, for the report's ``run.replay``."""
        where = (
            f"on the Dask cluster at {self.scheduler}"
            if self.engine == "dask"
            else (f"in {self._processes} local process(es)")
        )
        why = "" if self.why is None else f" ({self.why})"
        return f"sharded by community: {self.jobs} community task(s) {where}{why}"

    def __enter__(self) -> TaskEngine:
        if self.engine == "dask":
            self._client = _dask_client(self.scheduler)
            return self
        forks = self._forks = OneShots(self._processes)
        if self.election and self.jobs < ALL:
            # local tasks take their entries by one routing of the log, made in a process of
            # its own from this one while it is still small: the tasks fork from this process
            # later, so its size is counted again in each of them, and the routing's memory
            # (the router's maps, freed but kept by the allocator) would be too
            size = _indexed_extent(self.source) if forks.forks and self._processes > 1 else None
            routing: Callable[[int], Any]
            if size is not None:
                # the first task will read its entries as they are routed; the routing runs
                # the final pass too, beside the tasks (presumed_plan): the auditing process
                # then reads the log only if a task did not apply an entry (a store, whose
                # checkpoints are read apart from the entries, unlike a bundle's)
                self._plan_stream = PlanStream(size, forks.shared_counter(), forks.shared_counter())
                self._presume = Presumption(self.trust.to_json())
                routing = functools.partial(
                    presumed_plan, self.source, stream=self._plan_stream, presume=self._presume
                )
            else:
                routing = functools.partial(route_plan, self.source)
            self._routing = forks.submit(routing, self.jobs)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
        presume, self._presume = self._presume, None
        if presume is not None:
            presume.close()

    def close(self) -> None:
        """Stop the task processes or disconnect from the cluster (idempotent)."""
        forks, self._forks = self._forks, None
        if forks is not None:
            forks.close()
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def aside(self, fn: Callable[[Any], Any], arg: Any) -> Aside[Any]:
        """Start ``fn(arg)`` beside the tasks (the store's full check): one more task, queued
        before the community tasks, so the processes are free once their results are in."""
        if self._client is not None:
            future = self._client.submit(fn, arg, pure=False)
            self._asides.append(future.done)
            return Aside(future.result, future.done)
        forks = self._forks
        if forks is not None:
            job = forks.submit(fn, arg)
            self._asides.append(lambda: forks.ready(job))
            return Aside(lambda: forks.result(job), lambda: forks.ready(job))
        raise UsageError("the community tasks are not running")

    def _start(self) -> list[Following]:
        """Submit every task; per shard, how to know it is done, its result and its stream
        (None's stream for a Dask task, or where processes are not forked)."""
        backend = verify_backend() if self.engine == "tasks" else None
        trust = self.trust.to_json()
        tasks = [
            CommunityTask(self.source, trust, self.election, self.jobs, shard, backend)
            for shard in range(self.jobs)
        ]
        order = list(range(self.jobs))
        forks = self._forks
        jobs: dict[int, int] = {}
        if self._routing is not None and forks is not None:
            streamed = None
            stream_size = 0
            if self._plan_stream is not None:
                stream_size = self._plan_stream.size
                # the first task starts while the log is routed, on the core the routing
                # leaves free once the store's check is done, reading its entries as they
                # are routed (the others start by size once the plan is whole): the one the
                # genesis suggests is the largest, which keeps that core busy the longest
                streamed = _largest_guess(self.source, self.jobs)
                first = tasks[streamed]._replace(
                    plan_stream=self._plan_stream,
                    stream=StatusStream(self._plan_stream.size, forks.shared_counter()),
                )
                tasks[streamed] = first
                jobs[streamed] = forks.submit(run_task, first)
            # local tasks: the log routed once (each task would route every entry); a forked
            # task shares the plan's memory, a Dask task would carry a byte per entry
            if self._presume is not None:
                plan, owned, why_not = forks.result(self._routing)
                self._presumed = why_not is None
            else:
                plan, owned = forks.result(self._routing)
            if streamed is not None and len(plan) != stream_size:
                # its entries read by index are not those read in order (a missing index, or
                # a source that grew): it starts again, as the others, by the whole plan
                forks.cancel(jobs.pop(streamed))
                tasks[streamed] = tasks[streamed]._replace(plan_stream=None, stream=None)
            tasks = [
                t if t.shard in jobs else t._replace(plan=plan, owned=owned[t.shard]) for t in tasks
            ]
            if forks.forks:
                # each task shares its statuses as it goes. With the final pass run by the
                # routing, the tasks go in the order that makes the processes end together
                # by their sizes (balanced_order: the largest first, then the best swaps),
                # the first task's entries still to replay counted as its process's start;
                # else the largest starts last: the final pass starts once one task is left
                # and follows it, on the core the others have freed (a task takes its
                # shard's entries and every district one)
                district = plan.count(ALL)
                sizes = [plan.count(shard) + district for shard in range(self.jobs)]
                tasks = [
                    t
                    if t.shard in jobs
                    else t._replace(stream=StatusStream(sizes[t.shard], forks.shared_counter()))
                    for t in tasks
                ]
                if self._presumed:
                    waiting = [s for s in order if s not in jobs]
                    order = _task_order(tasks, sizes, waiting, [*jobs], self._processes)
                    forks.choose = _next_task(tasks, sizes, jobs, self._processes)
                else:
                    order.sort(key=sizes.__getitem__)
        if self._client is not None:
            run_id = uuid.uuid4().hex
            futures = [
                self._client.submit(run_task, t, key=f"electlog-audit-{run_id}-{t.shard}")
                for t in tasks
            ]
            return [Following(f.done, f.result, None) for f in futures]
        if forks is None:
            raise UsageError("the community tasks are not running")
        jobs.update(
            {shard: forks.submit(run_task, tasks[shard]) for shard in order if shard not in jobs}
        )
        return [
            Following(
                functools.partial(forks.ready, jobs[t.shard]),
                functools.partial(forks.result, jobs[t.shard]),
                t.stream,
            )
            for t in tasks
        ]

    def _wait(self) -> TaskResults:
        """Start the tasks and wait for their results (the first chunk calls this): for every
        result, or, when the tasks share their statuses, until one task is left (which the
        final pass then follows)."""
        if self._results is None:
            between = self.between or (lambda: None)
            on_task = self.on_task or (lambda done, total: None)
            on_task(0, self.jobs)  # before the routing plan the tasks wait for
            started = self._start()
            results: list[TaskResult | None] = [None] * self.jobs
            left = list(range(self.jobs))
            streams = all(t.stream is not None for t in started)
            # while the routing's final pass stands, every result is awaited; else the pass
            # here follows the last task
            while len(left) > (1 if streams and not self._presumed else 0):
                between()
                done = [shard for shard in left if started[shard].ready()]
                if not done and streams:
                    assert self._forks is not None  # streams are only made for forked tasks
                    self._forks.wait()
                    continue
                for shard in done or left[:1]:  # in order, waiting, without streams
                    got = results[shard] = task_result(shard, started[shard].get)
                    left.remove(shard)
                    on_task(self.jobs - len(left), self.jobs)
                    if got.fallback is not None or not _applied(got.statuses):
                        self._presumed = False  # this process runs the final pass
            if not left and self._forks is not None and all(ready() for ready in self._asides):
                self.close()  # nothing left running beside the audit's final pass
            for r in results:
                if r is not None and r.fallback is not None:
                    raise Fallback(r.fallback)
            self._results = TaskResults(
                results, self.election, {shard: started[shard] for shard in left}
            )
            self._results.finished = lambda: on_task(self.jobs, self.jobs)
        return self._results

    def presumed(self) -> tuple[dict[str, Any], IO[bytes]] | None:
        """Once every task has returned: the final pass the routing process ran
        (:func:`presumed_plan`) and the file of its leaf hashes, for the audit's replay to
        adopt (:meth:`~._shards.ShardedReplay.adopt`), if it stands: every task applied every
        entry, as the pass presumed. None if it does not, or was not run: the audit's process
        then reads the log and runs the pass (:meth:`send`)."""
        if self._presume is None:
            return None
        results = self._wait()
        presume = self._presume
        if not self._presumed:
            return None
        try:
            presume.state.seek(0)
            state = pickle.load(presume.state)  # written by this audit's own routing process
            size, counts, digests = state["size"], state["counts"], state["digests"]
        except Exception:  # a file not whole (or damaged on the disk): the pass runs here
            return None
        if not results.confirm(size, counts, digests):
            # a task did not apply an entry (or the source changed after the routing read it:
            # the pass here reads it again, and compares the tasks with that read)
            return None
        results.adopt(counts, digests)
        return state, presume.take_leaves()

    def send(self, shard: int, msg: tuple[Any, ...]) -> None:
        self._wait().send(shard, msg)

    def receive(self, kind: str, shard: int, tag: int) -> Any:
        return self._wait().receive(kind, shard, tag)

    def whole_reply(self, no: int) -> tuple[bytes, bytes]:
        return self._wait().whole_reply(no)


def _task_order(
    tasks: Sequence[CommunityTask],
    sizes: Sequence[int],
    waiting: Sequence[int],
    running: Sequence[int],
    processes: int,
) -> list[int]:
    """The ``waiting`` shards in the order that makes ``processes`` processes end together
    (:func:`balanced_order` of their sizes), each ``running`` shard's entries still to replay
    (its shared statuses say how far it is) counted as its process's start."""
    busy = []
    for shard in running:
        stream = tasks[shard].stream
        busy.append(sizes[shard] if stream is None else max(0, sizes[shard] - stream.written()))
    return [waiting[k] for k in balanced_order([sizes[s] for s in waiting], busy, processes)]


def _next_task(
    tasks: Sequence[CommunityTask], sizes: Sequence[int], jobs: dict[int, int], processes: int
) -> Callable[[list[int], list[int]], int]:
    """The :attr:`OneShots.choose` of local tasks whose final pass the routing ran: when a
    process is free, the queued task that starts :func:`_task_order` as it stands then, so
    the order follows how fast each task has actually gone (``jobs``: each shard's job)."""

    def choose(queued: list[int], running: list[int]) -> int:
        shard_of = {job: shard for shard, job in jobs.items()}
        if not all(job in shard_of for job in queued):
            return queued[0]  # not only this audit's tasks: as they were queued
        waiting = [shard_of[job] for job in queued]
        busy = [shard_of[job] for job in running if job in shard_of]
        return jobs[_task_order(tasks, sizes, waiting, busy, processes)[0]]

    return choose


def _largest_guess(source: str, shards: int) -> int:
    """The shard whose communities list the most groups in the genesis (entry 0): a guess at
    the largest task, for the one that starts beside the routing (0 if the genesis says
    nothing of its groups, or cannot be read)."""
    genesis = _genesis(source, shards)
    if genesis is None:
        return 0
    router, body = genesis
    communities = body.get("communities") if type(body) is dict else None
    weights = [0] * shards
    for c in communities if type(communities) is list else ():
        if type(c) is not dict:
            continue
        cid, groups = c.get("community"), c.get("groups")
        shard = router._cshard.get(cid) if type(cid) is str else None
        if shard is not None and type(groups) is list:
            weights[shard] += len(groups)
    return max(range(shards), key=weights.__getitem__)


def _indexed_extent(source: str) -> int | None:
    """How many entries a local ``source`` holds, if it says so cheaply and reads them by index
    from 0 (a SQLite file, a PostgreSQL database, a tiles directory): the size of a
    :class:`PlanStream`; None for any other source (a tiles URL: no second wait on the
    network)."""
    if source.startswith(("http://", "https://")):
        return None
    try:
        src = open_entries(source)
    except AuditError:
        return None  # the audit's own open says why
    try:
        entries, indexed = src.sized()
    finally:
        src.close()
    return entries if entries and indexed else None


def _dask_client(scheduler: str | None) -> Any:
    """A ``distributed.Client`` connected to ``scheduler`` (the optional extra)."""
    if not isinstance(scheduler, str) or not scheduler:
        raise UsageError(
            "engine='dask' needs the scheduler's address (scheduler='tcp://host:8786')"
        )
    try:
        import distributed
    except ImportError as exc:
        raise UsageError(
            "engine='dask' needs Dask distributed: pip install 'electlog[distributed]'"
        ) from exc
    try:
        # the connect timeout is Dask's setting distributed.comm.timeouts.connect (30 s)
        return distributed.Client(scheduler, set_as_default=False)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError, ValueError) as exc:
        raise AuditError(f"cannot connect to the Dask scheduler at {scheduler}: {exc}") from exc
