"""The audit's final pass run beside the community tasks, by the process that routes the log.

The local task engine (:mod:`._tasks`) routes the log once, in a process of its own, before its
tasks read their entries by that plan. That read decodes every statement, which is most of what
the audit's final pass does again once the tasks are done: the author chains, the Merkle tree,
the claimed times and the claims across communities (:class:`~._shards.ShardedReplay`). Only
two of its inputs come from the tasks: each entry's status (rejected, verified, applied) and,
through the leaf hashes' digest, that the tasks read the same bytes. So the routing process
runs the pass too (:func:`presumed_plan`), presuming that every entry is applied, and leaves its
state in files the auditing process made before forking it (:class:`Presumption`). Once the
tasks are done the auditing process adopts that state if their results say what was presumed:
every status applied, each task's count and digest those of the pass's read
(:meth:`~._tasks.TaskEngine.presumed`). Otherwise (an entry a task rejected or did not apply,
a source that changed between the reads, an entry the pass could not decode) it reads the log
and runs the pass itself, as it does without this.

Two things follow from presuming before any task has verified an entry. The pass reads fields
no one has checked: a crafted statement's time may be a string, its voter id a list; a check
that fails on one ends the pass (it runs in the auditing process, with the statuses), never
the audit. And it may take the leaf hashes a SQLite file stores beside its entries rather than
hash every entry: a stored hash that is not its entry's cannot be adopted, since the task that
verifies the entry digests the hash of the bytes it verified.
"""

from __future__ import annotations

import hashlib
import pickle
import tempfile
from collections.abc import Callable
from itertools import compress
from typing import IO, TYPE_CHECKING, Any, Final, NoReturn

from electlog.errors import AuditError, UsageError
from electlog.events import _LEAF_HASH

from ._pipeline import CHUNK_SIZE
from ._replay import CompactMerkleTree, FindingSink
from ._shards import ALL, APPLIED, Fallback, ShardedReplay, _marks
from ._sources import SourceUnreadable, open_entries
from .trust import Trust

if TYPE_CHECKING:
    from ._tasks import PlanStream

__all__ = ["Presumption", "presumed_plan", "routed_read"]


class Presumption:
    """Where the routing process leaves the audit's final pass, which it runs as it routes,
    presuming that every entry verifies and applies (:func:`presumed_plan`): two temporary
    files the auditing process makes before the routing is forked, so both have them, one for
    the tree's leaf hashes and one for the replay's state."""

    def __init__(self, trust: str) -> None:
        # unlinked at once (TemporaryFile): only this process and those it forks reach them,
        # through the descriptors they hold
        self.trust = trust
        """The trust file's JSON."""
        prefix = "electlog-audit-"
        self.leaves: IO[bytes] | None = tempfile.TemporaryFile(prefix=prefix)  # noqa: SIM115
        self.state = tempfile.TemporaryFile(prefix=prefix)  # noqa: SIM115

    def take_leaves(self) -> IO[bytes]:
        """The leaf file, for the auditing process's tree to adopt (and close)."""
        leaves, self.leaves = self.leaves, None
        return leaves or _gone()

    def close(self) -> None:
        """Delete the files (the leaf file unless a tree adopted it)."""
        self.state.close()
        if self.leaves is not None:
            self.leaves.close()


def _leaf_hashes(datas: list[bytes]) -> list[bytes]:
    """The leaf hash of each entry (:func:`~electlog.events.entry_leaf_hash`, inline)."""
    leaf = _LEAF_HASH.copy
    leaves = []
    for data in datas:
        h = leaf()
        h.update(data)
        leaves.append(h.digest())
    return leaves


class _Presumed:
    """What the routing process's final pass hands the tasks' side: each chunk's routing is the
    plan's next part (written to the plan stream too), and each shard's entries are counted and
    their leaf hashes digested, as each task does with its own (:class:`TaskResults` compares
    them with the tasks' results). A :class:`~._shards.ShardPool` that nothing is sent to: the
    entries are presumed applied here (:class:`_PresumingReplay`)."""

    in_flight = 1
    election = True

    def __init__(self, jobs: int, stream: PlanStream | None) -> None:
        self.jobs = jobs
        self.plan = bytearray()
        self.counts = [0] * jobs
        self._stream = stream
        self._digests = [hashlib.sha256() for _ in range(jobs)]
        self.stored: list[bytes] | None = None
        """The stored leaf hashes of the chunk routed next, if the source has them."""

    def take(self, routing: bytes, chunk: list[bytes]) -> bytes:
        """Record a chunk routed as ``routing`` (its entries' shards, :data:`~._shards.ALL` for
        a district event); the leaf hashes of its entries, joined in order: those the source
        stores (:attr:`stored`) where it gave one for each entry, else hashes of the bytes.
        A stored hash that is not the entry's cannot be adopted: the task that verifies the
        entry digests the hash of its bytes, so its digest differs from this one."""
        self.plan += routing
        if self._stream is not None:
            self._stream.plan.put(routing)
        leaves = self.stored
        self.stored = None
        if leaves is None or len(leaves) != len(chunk):
            leaves = _leaf_hashes(chunk)
        district = routing.count(ALL)
        for shard, digest in enumerate(self._digests):  # a task's entries: its own, every ALL
            mine = _marks(routing, shard, ALL)
            digest.update(b"".join(compress(leaves, mine)))
            self.counts[shard] += routing.count(shard) + district
        return b"".join(leaves)

    def send(self, shard: int, msg: tuple[Any, ...]) -> None:
        raise AuditError(f"the routing process's final pass sent task {shard} a {msg[0]}")

    def receive(self, kind: str, shard: int, tag: int) -> Any:
        raise AuditError(f"the routing process's final pass asked task {shard} for {kind}")

    def digests(self) -> list[bytes]:
        """Each shard's digest of its entries' leaf hashes (a task's ``digest``)."""
        return [d.digest() for d in self._digests]


_APPLIED_BYTE: Final = bytes([APPLIED])


class _PresumingReplay(ShardedReplay):
    """The final pass as the routing process runs it: a check that depends on the tasks'
    statuses (a claim across communities, an entry it cannot decode) and fails under the
    presumption ends the pass (:attr:`why_not`), not the routing."""

    def __init__(self, trust: Trust, pool: _Presumed, leaves: IO[bytes]) -> None:
        super().__init__(trust, FindingSink(), pool)
        self._pool = pool
        self.tree.close()
        self.tree = CompactMerkleTree(leaves)
        self.tree.keep_digests()
        self.why_not: str | None = None
        """Why the pass does not stand, if it does not."""

    def _send_chunk(
        self,
        chunk: list[bytes],
        routing: bytes,
        outs: list[list[bytes]],
        metas: list[tuple[Any, ...] | None],
    ) -> None:
        """A routed chunk: the plan's next part, and its checks with every entry applied."""
        base = self._routed
        self._routed = base + len(chunk)
        self._chunk_no += 1
        hashes = self._pool.take(routing, chunk)
        self._checks(base, metas, _APPLIED_BYTE * len(chunk), hashes)

    def _checks(
        self,
        base: int,
        metas: list[tuple[Any, ...] | None],
        statuses: bytes,
        hashes: bytes,
        groups: list[bytes] | None = None,
    ) -> None:
        if self.why_not is not None:
            return
        try:
            super()._checks(base, metas, statuses, hashes, groups)
        except (Fallback, AuditError) as exc:
            self.why_not = str(exc)
        except Exception as exc:
            # the checks read the fields of entries that a task has verified: presumed
            # verified here, a crafted entry's fields may be of any type (a time that is a
            # string, a voter id that is a list). The task rejects that entry, so the pass
            # does not stand: the auditing process runs it with the statuses.
            self.why_not = (
                f"the chunk from entry {base} has an entry it cannot check before a task "
                f"verifies it ({type(exc).__name__}: {exc})"
            )


def presumed_plan(
    source: str, shards: int, stream: PlanStream | None, presume: Presumption
) -> tuple[bytes, list[frozenset[str]], str | None]:
    """:func:`route_plan`, and with it the audit's final pass over the same read
    (:class:`~._shards.ShardedReplay`: author chains, the Merkle tree, claimed times, the claims
    across communities), presuming that every entry verifies and applies. When the pass
    stands, its state goes to ``presume``'s files and the third value is None: the auditing
    process adopts it if every task's statuses say what was presumed (:meth:`TaskEngine.presumed`),
    instead of reading the log again after the tasks. Else the third value says why not (an
    entry the pass cannot decode, a claim it cannot place, an unreadable source) and the
    auditing process runs the pass itself. Raises :class:`Fallback` as :func:`route_plan`
    does."""
    pool = _Presumed(shards, stream)
    replay = _PresumingReplay(Trust.from_json(presume.trust), pool, presume.leaves or _gone())

    def feed(chunk: list[bytes], leaves: list[bytes] | None) -> None:
        pool.stored = leaves
        replay.feed_entries(chunk)

    unreadable, stored = routed_read(source, shards, stream, feed)
    if stream is not None:
        stream.finish(len(pool.plan))
    if unreadable is not None:  # the audit's own read reports it
        replay.why_not = f"the source is unreadable: {unreadable}"
    if replay.why_not is None:
        state = replay.handed()
        state.update(counts=pool.counts, digests=pool.digests(), stored_leaves=stored)
        try:
            pickle.dump(state, presume.state, protocol=pickle.HIGHEST_PROTOCOL)
            presume.state.flush()
        except OSError as exc:  # a full disk: the auditing process runs the pass itself
            replay.why_not = f"the pass's state could not be written: {exc}"
    return bytes(pool.plan), replay.owned(), replay.why_not


def routed_read(
    source: str,
    shards: int,
    stream: PlanStream | None,
    feed: Callable[[list[bytes], list[bytes] | None], None],
) -> tuple[SourceUnreadable | None, bytes | None]:
    """Read ``source`` for a routing into ``shards`` shards (:func:`~._tasks.route_plan`,
    :func:`presumed_plan`), each chunk in order to ``feed`` with its stored leaf hashes
    (:meth:`~._sources.Source.chunk_leaves`, None where the source has none): where the source
    became unreadable (None if it did not; the read stops there quietly), and the digest of the
    stored leaf hashes read (:meth:`~._sources.Source.stored_leaves`). An error (a
    :class:`Fallback`) fails the plan ``stream`` first, so that a task reading it stops too."""
    if not 0 < shards < ALL:
        raise UsageError(f"a routing plan is for 1 to {ALL - 1} shards, not {shards}")
    try:
        src = open_entries(source)  # the audit's own open checks the store
        try:
            unreadable = None
            try:
                leaves = src.chunk_leaves
                for chunk in src.chunks(CHUNK_SIZE):
                    feed(chunk, leaves())
            except SourceUnreadable as exc:
                unreadable = exc
            return unreadable, src.stored_leaves()
        finally:
            src.close()
    except BaseException:
        if stream is not None:
            stream.fail()
        raise


def _gone() -> NoReturn:
    raise AuditError("the final pass's leaf file was handed over already")


def _applied(statuses: bytes) -> bool:
    """Whether every status is :data:`~._shards.APPLIED` (one C loop)."""
    return statuses.count(APPLIED) == len(statuses)
