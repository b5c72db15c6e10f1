"""The default engine (``engine="auto"``): the community tasks for a local log that can be read
by entry index, else the processes engine while its memory fits the machine.

The processes engine keeps every community's state for the whole audit (each worker holds its
communities', the parent its per-entry records), so its memory grows with the log: measured
with 2 jobs on the reference machine (``python -m benchmarks._child``, the sum of the resident
sets of all its processes), 178 MB at 76,945 entries, 324 MB at 447,641 and 882 MB at
1,781,696; 233 MB at 76,945 with 4 jobs. The community tasks hold one community's state per
process, a bound set by the largest community, not the log; since the audit's final pass
follows the last task instead of waiting for it they take about the time of the processes
engine from a store (one task reads only its community's entries, by index). So :func:`choose`
takes the tasks for a SQLite file, a PostgreSQL database or a tiles directory of at least
:data:`TASKS_FROM` entries where tasks are forked (Linux: :data:`FOLLOWS`). A bundle (every
task would read all of it) or a tiles URL (three reads of the log over the network instead of
one) gets the processes engine unless its projected peak (:data:`BASE_MB` + :data:`PROCESS_MB`
per job + :data:`ENTRY_BYTES` per entry, above every measurement) is more than half the memory
available to this process (:func:`available_memory`), then the tasks. A log held in this process
(a ``Log`` or ``Store``), a generic log, one job, a serial or resumed audit, or a source whose
size cannot be read keeps the processes engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, NamedTuple

from electlog.errors import AuditError, UsageError
from electlog.store import is_postgres_dsn

from ._oneshots import FORKS
from ._sources import open_entries
from ._tasks import task_source

__all__ = [
    "BASE_MB",
    "ENTRY_BYTES",
    "PROCESS_MB",
    "Choice",
    "available_memory",
    "choose",
    "resolve",
]

BASE_MB: Final = 100
"""The projection's fixed part: the auditing process and what it holds whatever the size."""
PROCESS_MB: Final = 30
"""Each worker process's own part (an interpreter with the audit's modules)."""
ENTRY_BYTES: Final = 420
"""The part that grows with the log, per entry (418 between the two larger measurements)."""
_NO_LIMIT: Final = 1 << 62
"""A cgroup v1 limit at or above this is none (the kernel writes ``LONG_MAX`` rounded down)."""


FOLLOWS: Final = FORKS
"""Whether local tasks are forked here, and so share their statuses for the final pass to
follow (:class:`~._oneshots.OneShots`): without it (spawned tasks, macOS, Windows) the tasks
take longer than the processes engine, which a store then keeps unless memory is short."""
TASKS_FROM: Final = 200_000
"""A local store gets the tasks from this many entries on. Below, the processes engine's memory
that grows with the log is under about 84 MB (:data:`ENTRY_BYTES` an entry) and it starts
faster: measured with two jobs, 2.9–3.2 s against 3.3 s for the tasks at 76,945 entries, and
0.39 against 0.60 s at 8,889 (the tasks' routing pass and a process per community)."""
BY_INDEX: Final = "engine 'auto': a local log read by entry index, one community per process"
"""Why ``auto`` took the tasks for a SQLite file, a PostgreSQL database or a tiles directory."""


class Choice(NamedTuple):
    """The engine ``auto`` took, and why when it is the tasks (for the report's ``run``)."""

    engine: str
    why: str | None = None


def projected_mb(entries: int, jobs: int) -> float:
    """The processes engine's projected peak (MB, all its processes) for ``entries`` entries."""
    return BASE_MB + PROCESS_MB * jobs + ENTRY_BYTES * entries / 1e6


def available_memory(proc: str = "/proc", cgroups: str = "/sys/fs/cgroup") -> int | None:
    """The bytes this process could still take: ``MemAvailable`` of ``/proc/meminfo``, or less
    if its memory cgroup has a nearer limit (v2: ``memory.max`` less ``memory.current``; v1:
    ``memory.limit_in_bytes`` less ``memory.usage_in_bytes``, in the group's directory or, in
    a container that shows its own group as the root, at the root); None where none of these
    can be read (not Linux). ``proc`` and ``cgroups``: where those are mounted."""
    found: list[int] = []
    try:
        with open(Path(proc) / "meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        pass
    try:
        groups = (Path(proc) / "self" / "cgroup").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        groups = []
    for line in groups:
        _, controllers, path = line.split(":", 2) if line.count(":") >= 2 else ("", "-", "")
        if controllers == "":  # v2
            dirs = [Path(cgroups) / path.lstrip("/")]
            files = ("memory.max", "memory.current")
        elif "memory" in controllers.split(","):  # v1
            root = Path(cgroups) / "memory"
            dirs = [root / path.lstrip("/"), root]
            files = ("memory.limit_in_bytes", "memory.usage_in_bytes")
        else:
            continue
        for where in dirs:
            try:
                limit = (where / files[0]).read_text(encoding="ascii").strip()
                used = int((where / files[1]).read_text(encoding="ascii"))
            except (OSError, ValueError, UnicodeDecodeError):
                continue
            if limit.isdigit() and int(limit) < _NO_LIMIT:  # "max" or a huge number: none
                found.append(max(0, int(limit) - used))
            break
    return min(found) if found else None


def choose(source: object, election: bool, jobs: int) -> Choice:
    """The engine for ``audit(..., engine="auto")`` with ``jobs`` jobs (see the module)."""
    if not election or jobs < 2:
        return Choice("processes")
    try:
        where = task_source(source)
    except UsageError:  # a log or store held in this process, or no source: processes
        return Choice("processes")
    try:
        src = open_entries(where)
    except AuditError:
        if where.startswith(("http://", "https://")) or is_postgres_dsn(where):
            raise  # as the audit's own open would say it, without a second wait on the network
        return Choice("processes")  # a file: the audit's own open names what is wrong with it
    try:
        entries, indexed = src.sized()
    finally:
        src.close()
    if entries is None:
        return Choice("processes")
    local = not where.startswith(("http://", "https://"))
    if indexed and FOLLOWS and local and entries >= TASKS_FROM:
        return Choice("tasks", BY_INDEX)
    free = available_memory()
    need = projected_mb(entries, jobs)
    if free is None or need * 2 <= free / 1e6:
        return Choice("processes")
    return Choice(
        "tasks",
        f"engine 'auto': the processes engine would need about {need:,.0f} MB for "
        f"{entries:,} entries, more than half of the {free / 1e6:,.0f} MB available",
    )


def resolve(
    source: object, election: bool, jobs: int, scheduler: object, tasks: object, resumed: bool
) -> Choice:
    """What ``audit(..., engine="auto")`` runs: the processes for a ``resumed`` (or serial)
    audit and with a ``scheduler`` or a ``tasks`` count (which ask for an engine by name:
    ``audit`` says so), else :func:`choose`."""
    if resumed or scheduler is not None or tasks is not None:
        return Choice("processes")
    return choose(source, election, jobs)
