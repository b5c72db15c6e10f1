"""The replay sharded by community.

docs/design.md ("The state's partition") splits the election state into a district part and one
part per community. Here each worker process owns some communities: it decodes, verifies and
replays the events of its communities and every district event (the genesis and key events,
which every worker applies and worker 0 reports), each with its own :class:`ElectionState` and
the very same :meth:`Replay._election` the serial replay runs. The parent does only what is
log-wide: it reads the source, routes each entry by a cheap decode of its statement (the body's
``community``, or the community of the unit or box it names), and, once the workers have said
which entries verified, checks the author chains, builds the Merkle tree, checks checkpoints and
witness times, and merges the workers' findings in the order the serial replay gives them (every
finding carries a sort key: entry index, then its place at that entry; the end-of-election
findings their documented order). The tree's lowest levels are hashed per group of 16 leaves:
each worker hashes the groups of a chunk it holds all 16 entries of (entries of one community
mostly come in runs), the parent the few others (:func:`_own_groups`, :func:`_chunk_groups`).

The five checks the partition names as looking across communities are decided by the parent
from what it sees anyway: ids of units, boxes, objections and nominations used in two
communities, a box transferred or merged into another community's unit or box, voter ids, unit
representative ids and dedup tags active in another community (an exact replay of
registrations and removals, restricted to the ids seen in two communities), and a signer
signing in several communities whose claimed time went back. A log where any of these
happened — or whose genesis is not the first entry, or signed by another key than the trust
file's authority — is replayed again by the serial reference path (:class:`Fallback`): such a
log has findings the partition cannot decide alone, and the serial replay is the definition.

The eligibility sample's events are district events: every worker checks what it can alone
(the event order, the signer, the pinned checkpoint's range) and, for a draw, keeps what its
communities add to the whole roll's checks (:class:`~electlog.election.state.eligibility.DrawPart`:
its last roll change, its active voters, its k smallest sampler tickets); the parent merges the
parts and decides the draw with the serial replay's very function
(:func:`~electlog.election.state.eligibility.draw_violation`), and merges the sampled voters'
registration entries for the report's section and findings.
"""

from __future__ import annotations

import functools
import gc
import mmap
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from heapq import nsmallest
from itertools import chain, compress
from typing import IO, Any, Final, NamedTuple, NoReturn, Protocol

from electlog._workers import Aside, Handler
from electlog.election.state.eligibility import DrawPart, EligibilityState, draw_violation
from electlog.errors import AuditError, UsageError
from electlog.events import ZERO_HASH, chain_break
from electlog.keys import set_verify_backend, verify_backend

from . import findings as F
from ._decoding import (
    _KEY_HEAD,
    _SIG_HEAD,
    _STMT_KEY,
    _decode,
    _statement,
    route_statement,
    unpack_statement,
    where_of,
)
from ._pipeline import (
    CHUNK_SIZE,
    EntryResult,
    RejectedEntry,
    audit_workers,
    verify_batches,
)
from ._replay import (
    DEFAULT_TIME_TOLERANCE,
    EndItem,
    FindingSink,
    Replay,
    chain_finding,
    community_results,
    group_levels,
    secrecy_finding,
    wrong_log,
)
from ._sources import Source
from .results import CommunityResults
from .trust import Trust

__all__ = [
    "Fallback",
    "Router",
    "ShardPool",
    "ShardedReplay",
    "Shards",
    "audit_events_at_end",
]

DISTRICT_TYPES: Final = frozenset({"election.defined", "key.authorised", "key.revoked"})
AUDIT_PREFIX: Final = "audit."
"""The audit board's events (``audit.declared`` ...): a log that holds them replays serially."""
"""Event types of the district part (docs/design.md): every worker applies them."""
ELIGIBILITY_PREFIX: Final = "eligibility."
"""The eligibility sample's events: district events, whose draw the parent decides from every
shard's part (:meth:`ShardedReplay._decide_draw`)."""

# an entry's status in a worker's reply (never 0: a reply holds 0 where another shard reports)
REJECTED: Final = 1
WRONG_LOG: Final = 2
VERIFIED: Final = 3
APPLIED: Final = 4
ALL: Final = 255
"""The shard of a district event in a chunk's routing bytes: every shard applies it, shard 0
reports it."""

_NO_TIME: Final = -(1 << 63)
"""The claimed-time slot of an entry that did not verify (:class:`Replay`'s)."""
_IN_FLIGHT: Final = 4
_TAIL_MOST: Final = 128_000
"""The most entries :func:`audit_events_at_end` reads back from a log's end (about 40 MB)."""
_GC_THRESHOLD: Final = (50_000, 20, 20)
_BUCKETS: Final = 1 << 22
_MASK: Final = _BUCKETS - 1
_ID_TYPES: Final = frozenset(
    {"voter.registered", "voter.removed", "objection.filed", "objection.decided"}
    | {"nomination.filed", "unit_rep.registered"}
)
_PEOPLE: Final = {"voter.registered": 0, "voter.removed": 1, "unit_rep.registered": 2}


class _Head(NamedTuple):
    """An author's head as :func:`electlog.events.chain_break` reads it (``seq``, ``prev``),
    as a named tuple: the parent makes one per entry, and a tuple costs a fraction of
    :class:`~electlog.events.AuthorHead`'s frozen class."""

    seq: int
    prev: bytes


class Fallback(Exception):
    """Internal: this log needs the serial reference replay (``reason`` says why)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeyedSink(FindingSink):
    """A finding sink that keeps, with each finding, its sort key ``(0, index, slot, n)``:
    ``slot`` 0 for the entry's own finding (rejected, wrong log, chain), 1 for the secrecy
    lint, 2 for the election's; the first ``cap`` of each code are kept, all are counted."""

    def __init__(self, cap: int) -> None:
        super().__init__(cap)
        self.items: list[EndItem] = []
        self.index = 0
        self.slot = 0
        self.muted = False
        self._n = 0

    def add(
        self, code: str, index: int | None, message: str, evidence: dict[str, Any] | None = None
    ) -> None:
        if self.muted:
            return
        n = self._counts[code] + 1
        self._counts[code] = n
        if n > self._cap:
            return
        self._n += 1
        self.items.append(
            ((0, self.index, self.slot, self._n), code, index, message, evidence or {})
        )

    def counts(self) -> dict[str, int]:
        """Findings made per code (listed or not)."""
        return dict(self._counts)


# --------------------------------------------------------------------------- the worker


def peek(data: bytes) -> dict[str, Any] | None:
    """The statement map of entry bytes in the canonical envelope layout, decoded without the
    strict checks (for routing and the log-wide checks; the worker decodes strictly, and only an
    entry it accepts is used), or None: :func:`~._decoding.unpack_statement`, the statement
    codec's decode (:data:`~._decoding.STATEMENT_CODEC`)."""
    stmt = _statement(data)
    if stmt is None:
        return None
    m = unpack_statement(stmt)
    return m if type(m) is dict else None


def _marks(ws: bytes, *values: int) -> bytes:
    """``ws`` with each byte that is one of ``values`` made 1 and every other byte 0."""
    table = bytearray(256)
    for v in values:
        table[v] = 1
    return ws.translate(table)


def _take(ws: bytes, shard: int, base: int) -> tuple[bytes, list[int], bytes]:
    """What ``shard`` takes of a chunk whose entry ``base + k`` has shard ``ws[k]``: a mark
    per entry (1: its own or a district event's), the indexes it takes, and for each whether
    it reports it (its own; a district event's, shard 0 only)."""
    mine = _marks(ws, shard, ALL)
    indexes = list(compress(range(base, base + len(ws)), mine))
    reports = bytes([1]) * len(indexes) if shard == 0 else bytes(compress(_marks(ws, shard), mine))
    return mine, indexes, reports


def _spread(
    shard: int, ws: bytes, datas: int, statuses: bytes, leaves: bytes
) -> tuple[bytes, bytes]:
    """A shard's reply to a chunk routed as ``ws`` (the shard of each entry, :data:`ALL` for a
    district event): the statuses and leaf hashes it has for its ``datas`` entries (in order)
    put at their places in the chunk, for the entries it reports; zeros elsewhere, so the
    parent merges the shards' replies with a bitwise or (:func:`_merge`).

    Done with C loops (``translate``, ``compress``, ``map``), not one Python step per entry:
    each worker pays this for every entry of every chunk."""
    n = len(ws)
    mine_marks = _marks(ws, shard, ALL)
    mine = list(compress(range(n), mine_marks))
    if len(mine) != datas or len(statuses) != datas or len(leaves) != 32 * datas:
        raise AuditError(f"audit shard {shard}: a reply that does not match its chunk")
    size = 32 * datas
    pieces: Iterable[bytes] = map(
        leaves.__getitem__, map(slice, range(0, size, 32), range(32, size + 32, 32))
    )
    places: list[int] = mine
    values: Iterable[int] = statuses
    if shard != 0:  # shard 0 reports the district events (ALL), the others only their own
        own = bytes(compress(_marks(ws, shard), mine_marks))
        places = list(compress(mine, own))
        values = compress(statuses, own)
        pieces = compress(pieces, own)
    out = bytearray(n)
    deque(map(out.__setitem__, places, values), maxlen=0)
    hashes = [_NO_LEAF] * n
    deque(map(hashes.__setitem__, places, pieces), maxlen=0)
    return bytes(out), b"".join(hashes)


_NO_LEAF: Final = bytes(32)


def _merge(parts: list[bytes]) -> bytes:
    """The bitwise or of equal-length replies (see :func:`_spread`)."""
    if len(parts) == 1:
        return parts[0]
    acc = 0
    for part in parts:
        acc |= int.from_bytes(part, "little")
    return acc.to_bytes(len(parts[0]), "little")


_GROUP: Final = 16
"""Leaves per group: the tree's nodes of levels 1 to 4 (:func:`group_levels`) are computed per
group of 16, by a shard worker for each group of a chunk whose 16 entries it holds."""


def _own_groups(shard: int, ws: bytes, leaves: bytes) -> tuple[bytes, bytes]:
    """A shard's part of a chunk's Merkle groups, from the leaf hashes of the entries it holds
    (``leaves``, in order: its own and the district entries, :data:`ALL`): for each whole group
    of 16 entries that it holds every one of, a flag byte 1 and the group's 15 nodes of levels
    1 to 4; a flag 0 and zero bytes for the others. The nodes are laid out as the tree reads them
    (level 1 of the whole chunk, then level 2, 3 and 4: :func:`_placed`), so the parent
    merges the shards' parts with a bitwise or (:func:`_merge`: a group every shard holds, all
    district entries, has the same nodes in each) and hashes only the groups no shard held
    whole (:func:`_chunk_groups`)."""
    count = len(ws) // _GROUP
    held = bytes((shard, ALL))
    flags = bytearray(count)
    parts: list[bytes] = []
    whole: list[int] = []
    at = 0  # this shard's entries before the group
    for g in range(count):
        others = len(ws[g * _GROUP : (g + 1) * _GROUP].translate(None, held))
        if not others:
            flags[g] = 1
            whole.append(g)
            parts.append(leaves[at * 32 : (at + _GROUP) * 32])
        at += _GROUP - others
    if not whole:
        return bytes(flags), bytes(480 * count)
    return bytes(flags), b"".join(_placed(count, whole, group_levels(b"".join(parts))))


def _placed(
    count: int, groups: list[int], levels: list[bytes], under: list[bytes] | None = None
) -> list[bytes]:
    """The nodes ``levels`` (:func:`group_levels` of the groups ``groups``, in order) put at
    their places among ``count`` groups, level by level (1 to 4), over the levels ``under``
    (zeros if None)."""
    out: list[bytes] = []
    for lv, nodes in enumerate(levels, 1):
        size = (_GROUP >> lv) * 32  # one group's nodes of this level
        full = bytearray(count * size) if under is None else bytearray(under[lv - 1])
        k = 0
        for g in groups:
            full[g * size : (g + 1) * size] = nodes[k : k + size]
            k += size
        out.append(bytes(full))
    return out


def _batches(datas: list[bytes], hashes: list[bytes]) -> Iterator[tuple[int, EntryResult]]:
    """Each entry of ``datas`` decoded and verified (:func:`verify_batches`), with its position;
    each batch's leaf hashes are added to ``hashes`` as it is verified."""
    start = 0
    for results in verify_batches(datas):
        hashes += [r.leaf_hash for r in results]
        yield from enumerate(results, start)
        start += len(results)


class ShardWorker:
    """One shard's replay: an :class:`ElectionState` fed the district events and the events of
    the shard's communities, in log order."""

    def __init__(self, trust: Trust, election: bool) -> None:
        self.sink = KeyedSink(FindingSink().cap)
        self.replay = Replay(trust, self.sink, election=election)
        self.replay.tree.close()  # the parent keeps the tree
        self.origin = trust.origin
        if self.replay.state is not None:  # the parent decides a draw over the whole roll
            self.replay.state.eligibility.deferred = []

    def work(
        self, indexes: Sequence[int], datas: list[bytes], reports: bytes
    ) -> tuple[bytes, bytes]:
        """Decode, verify and replay entries (``reports[k]``: whether findings of entry
        ``indexes[k]`` are this shard's to report); the status of each and their leaf hashes
        (32 bytes each, in order)."""
        sink = self.sink
        add = sink.add
        replay = self.replay
        state = replay.state
        origin = self.origin
        statuses = bytearray([REJECTED]) * len(datas)
        hashes: list[bytes] = []
        election = replay._election
        # the slot is the election's (2) but for the entry's own findings (0) and the secrecy
        # lint's (1), set back after them: no store per entry
        sink.slot = 2
        for k, r in _batches(datas, hashes):
            i = indexes[k]
            sink.index = i
            sink.muted = not reports[k]
            if isinstance(r, RejectedEntry):
                sink.slot = 0
                add(r.code, i, r.message, r.evidence)
                sink.slot = 2
                continue  # REJECTED
            leaf, log, etype, schema, author, seq, prev, time, body, secrecy = r
            if log != origin:
                sink.slot = 0
                wrong_log(add, i, log, origin, author, seq)
                sink.slot = 2
                statuses[k] = WRONG_LOG
                continue
            if secrecy is not None:
                sink.slot = 1
                secrecy_finding(add, i, etype, secrecy)
                sink.slot = 2
            if state is not None and election(
                i, state, log, etype, schema, author, seq, prev, time, body, leaf
            ):
                statuses[k] = APPLIED
            else:
                statuses[k] = VERIFIED
        return bytes(statuses), b"".join(hashes)

    def work_chunk(
        self, shard: int, base: int, ws: bytes, datas: list[bytes]
    ) -> tuple[bytes, bytes, bytes, bytes]:
        """A chunk as :class:`ShardedReplay` sends it: ``ws[k]`` the shard of entry ``base + k``
        (:data:`ALL`: every shard's, shard 0 reports it), ``datas`` this shard's entries in
        order; the reply of :func:`_spread`, then the shard's part of the chunk's Merkle groups
        (:func:`_own_groups`)."""
        _, indexes, reports = _take(ws, shard, base)
        statuses, leaves = self.work(indexes, datas, reports)
        return (*_spread(shard, ws, len(datas), statuses, leaves), *_own_groups(shard, ws, leaves))

    def end(self, owned: frozenset[str], size: int) -> dict[str, Any]:
        """The shard's findings, end-of-election findings and results of ``owned``."""
        replay = self.replay
        state = replay.state
        end: list[EndItem] = []
        results: dict[str, CommunityResults] = {}
        progress: dict[str, Any] = {}
        if state is not None and not (size and state.definition is None):
            end = replay.election_end_items(state, owned.__contains__)
            progress = replay.communities()
        if state is not None and state.definition is not None:
            results = community_results(state, owned.__contains__)
        return {
            "feed": self.sink.items,
            "counts": self.sink.counts(),
            "end": end,
            "results": results,
            "progress": progress,
            "tolerance": replay.time_tolerance(),
            "rogue": replay._rogue is not None,
            "rules": state.rules if state is not None and state.definition is not None else None,
            "eligibility": None if state is None else state.eligibility.without_registrations(),
        }


def _shard_serve(trust: Trust, election: bool, backend: str, shard: int) -> Handler:
    """Worker ``shard``'s handler (in its process): a chunk's reply, or its end."""
    gc.set_threshold(*_GC_THRESHOLD)
    set_verify_backend(backend)
    worker = ShardWorker(trust, election)

    def handle(msg: tuple[Any, ...]) -> tuple[str, int, Any]:
        if msg[0] == "chunk":
            return ("chunk", msg[1], worker.work_chunk(shard, *msg[2:]))
        return ("end", 0, worker.end(msg[1], msg[2]))

    return handle


# --------------------------------------------------------------------------- the processes


class Shards:
    """``jobs`` (at least 2) shard worker processes (:class:`~electlog._workers.Workers`: each
    answers on a pipe of its own), and one more process for work beside the replay
    (:meth:`aside`). Create it before opening database connections so the forked workers
    inherit nothing they could disturb."""

    in_flight = _IN_FLIGHT

    def __init__(self, jobs: int, trust: Trust, election: bool) -> None:
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 2:
            raise UsageError(f"a sharded replay needs at least 2 jobs, got {jobs!r}")
        self.jobs = jobs
        self.trust = trust
        self.election = election
        self.workers = audit_workers(
            jobs, functools.partial(_shard_serve, trust, election, verify_backend())
        )

    def __enter__(self) -> Shards:
        self.workers.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close(abandon=exc_info[0] is not None)

    def close(self, abandon: bool = False) -> None:
        """Stop the workers (idempotent): once their work is done, or at once with ``abandon``
        (the audit failed, was interrupted or goes to the serial replay: the chunks in flight
        are of no use, and a worker whose replies nobody reads any more cannot exit by itself,
        its sending thread blocked on a full pipe)."""
        self.workers.close(abandon)

    def aside(self, fn: Callable[[Any], Any], arg: Any) -> Aside[Any]:
        """Start ``fn(arg)`` beside the replay, in its own process (once per audit: the process
        exits when it is done)."""
        return self.workers.aside(fn, arg)

    def send(self, shard: int, msg: tuple[Any, ...]) -> None:
        """Send a message to a worker process."""
        self.workers.send(shard, msg)

    def receive(self, kind: str, shard: int, tag: int) -> Any:
        """Wait for the reply ``(kind, shard, tag)``: each worker answers in the order it was
        sent its messages, and the replay asks for them in that order."""
        got_kind, got_tag, value = self.workers.receive(shard)
        if (got_kind, got_tag) != (kind, tag):
            raise AuditError(
                f"audit worker {shard} answered {got_kind} {got_tag} where {kind} {tag} was due"
            )
        return value


# --------------------------------------------------------------------------- the parent


class ShardPool(Protocol):
    """What :class:`ShardedReplay` needs of its shards: :class:`Shards` (worker processes fed
    through pipes) or the results of community tasks that read the source themselves
    (:class:`electlog.audit._tasks.TaskResults`)."""

    jobs: int
    election: bool
    in_flight: int
    """Chunks the parent routes ahead of the replies it checks."""

    def send(self, shard: int, msg: tuple[Any, ...]) -> None: ...

    def receive(self, kind: str, shard: int, tag: int) -> Any: ...


# what routing does with an event type (Router._route_event): below _DISTRICT, the body's
# community, unit or box decides; from _DISTRICT on, every shard applies it
_PLAIN, _UNIT_OPENED, _BOX_SEALED, _BOX_TRANSFERRED, _BOX_MERGED = range(5)
_DISTRICT, _GENESIS, _ELIGIBILITY, _AUDIT = range(5, 9)
_KINDS: Final = {
    "unit.opened": _UNIT_OPENED,
    "box.sealed": _BOX_SEALED,
    "box.transferred": _BOX_TRANSFERRED,
    "box.merged": _BOX_MERGED,
    "election.defined": _GENESIS,
}
_KINDS_KEPT: Final = 4096
"""Distinct event types whose routing kind a router remembers (a crafted log may hold any)."""


def _kind(etype: str) -> int:
    """The routing kind of an event type."""
    if etype.startswith(ELIGIBILITY_PREFIX):
        return _ELIGIBILITY
    if etype.startswith(AUDIT_PREFIX):
        return _AUDIT
    kind = _KINDS.get(etype, _PLAIN)
    if kind == _PLAIN and etype in DISTRICT_TYPES:
        return _DISTRICT
    return kind


def _audit_reason(i: int) -> str:
    """Why a log whose entry ``i`` is (the first) risk-limiting audit event gets the serial
    replay."""
    return (
        f"entry {i} is a risk-limiting audit event: its checks read every community's rounds "
        "and the whole log's tree, which only the serial replay holds"
    )


def audit_events_at_end(src: Source) -> str | None:
    """The serial replay's reason for a log that ends with risk-limiting audit events, found
    before the sharded replay starts, or None. An audit follows the election, so its events
    are the last entries: they are looked for among the last :data:`CHUNK_SIZE` entries
    (further back, four times as many each time, while the block of them starts before those
    read), where the source reads them directly (:meth:`Source.tail`; not a bundle). The router
    would meet the same first event and hand the log to the serial replay there, after a
    sharded replay of everything before it; a log that does not end with audit events (or one
    in a bundle) still does. The reason is the router's, with the index of the first audit
    event of that block (of the first :data:`_TAIL_MOST` entries read back from the end: the
    look holds what it reads, and a crafted log may be nothing but audit events)."""
    count = CHUNK_SIZE
    while True:
        tail = src.tail(count)
        first = next((i for i, data in tail if _is_audit_event(data)), None)
        if first is None:
            return None
        if first != tail[0][0] or len(tail) < count or count >= _TAIL_MOST:
            return _audit_reason(first)  # the block starts among those read (or far back)
        count *= 4


def _is_audit_event(data: bytes) -> bool:
    """Whether the router takes the entry for a risk-limiting audit event (its routing kind,
    :func:`_kind`, and a body that is a map, as :meth:`Router._route_event` asks)."""
    m = peek(data)
    if m is None:
        return False
    etype = m.get("type")
    return type(etype) is str and type(m.get("body")) is dict and _kind(etype) == _AUDIT


class Router:
    """Routes entries to ``nshards`` shards by community (the genesis's order, round robin), from
    their :func:`peek`: the parent of :class:`ShardedReplay` routes with it, and so does every
    community task that reads the source itself (:mod:`electlog.audit._tasks`)."""

    def __init__(self, nshards: int) -> None:
        self.nshards = nshards
        self._cshard: dict[str, int] = {}
        self._cindex: dict[str, int] = {}
        self._unit_owner: dict[str, str] = {}
        self._box_owner: dict[str, str] = {}
        self._kinds: dict[str, int] = {}

    def owned(self) -> list[frozenset[str]]:
        """The communities of each shard, as routed so far."""
        return [
            frozenset(c for c, w in self._cshard.items() if w == shard)
            for shard in range(self.nshards)
        ]

    def _route(self, i: int, m: dict[str, Any] | None) -> str | None:
        """The community an entry goes to (``""``: shard 0), None for a district event."""
        if m is None:
            return ""
        return self._route_event(i, m.get("type"), m.get("body"))

    def _route_event(self, i: int, etype: Any, body: Any) -> str | None:
        """:meth:`_route` of a statement's type and body (as decoded by :func:`peek`)."""
        if type(body) is not dict:
            return ""
        if type(etype) is str:
            kind = self._kinds.get(etype)
            if kind is None:
                kind = _kind(etype)
                if len(self._kinds) < _KINDS_KEPT:
                    self._kinds[etype] = kind
        else:  # not an event type: the worker rejects the entry
            kind = _PLAIN
        if kind >= _DISTRICT:
            self._district(i, kind, body)
            return None
        c = body.get("community")
        if c is not None:
            if type(c) is not str:
                return ""
            if kind == _UNIT_OPENED:
                self._owns(self._unit_owner, body.get("unit"), c, "unit")
            return c
        u = body.get("unit")
        if u is not None:
            dest = self._unit_owner.get(u, "") if type(u) is str else ""
            if kind == _BOX_SEALED:
                self._owns(self._box_owner, body.get("box"), dest, "box")
            return dest
        b = body.get("box")
        if b is not None:
            dest = self._box_owner.get(b, "") if type(b) is str else ""
            if kind == _BOX_TRANSFERRED:
                self._same(self._unit_owner, body.get("to_unit"), dest, "box.transferred")
            elif kind == _BOX_MERGED:
                self._same(self._box_owner, body.get("into"), dest, "box.merged")
            return dest
        return ""

    def _where_dest(self, where: Any) -> str:
        """:meth:`_route_event` of a plain event type's body whose ``community`` is not a str,
        from its :func:`where_of`."""
        if where.community is not None:
            return ""
        u = where.unit
        if u is not None:
            return self._unit_owner.get(u, "") if type(u) is str else ""
        b = where.box
        if b is not None:
            return self._box_owner.get(b, "") if type(b) is str else ""
        return ""

    def _district(self, i: int, kind: int, body: dict[str, Any]) -> None:
        """A district event (every shard applies it) of routing kind ``kind``."""
        if kind == _AUDIT:
            raise Fallback(_audit_reason(i))
        if kind == _GENESIS:
            self._genesis(i, body)

    def _genesis(self, i: int, body: dict[str, Any]) -> None:
        if i != 0 or self._cshard:
            raise Fallback(f"an election.defined at entry {i}")
        communities = body.get("communities")
        if type(communities) is not list:
            return
        for k, c in enumerate(communities):
            cid = c.get("community") if type(c) is dict else None
            if type(cid) is str and cid not in self._cshard:
                self._cshard[cid] = k % self.nshards
                self._cindex[cid] = k

    @staticmethod
    def _owns(table: dict[str, str], key: object, dest: str, what: str) -> None:
        if type(key) is str and table.setdefault(key, dest) != dest:
            raise Fallback(f"{what} {key} is used in two communities")

    @staticmethod
    def _same(table: dict[str, str], key: object, dest: str, what: str) -> None:
        if type(key) is str and table.get(key, dest) != dest:
            raise Fallback(f"{what} names {key} of another community")


class ShardedReplay(Replay, Router):
    """The parent's side: routes entries to :class:`Shards`, checks what is log-wide and merges
    the shards' findings and results. Use like :class:`Replay`, feeding entry bytes with
    :meth:`feed_entries` and calling :meth:`entries_done` after the last; raises
    :class:`Fallback` when the log needs the serial replay."""

    def __init__(self, trust: Trust, sink: FindingSink, shards: ShardPool) -> None:
        super().__init__(trust, sink, election=False)
        self.election = shards.election
        self.shards = shards
        self.nshards = shards.jobs
        self._own = KeyedSink(sink.cap)
        self._pending: deque[tuple[int, int, list[tuple[Any, ...] | None]]] = deque()
        self._chunk_no = 0
        self._routed = 0
        Router.__init__(self, shards.jobs)
        self._id_owner: dict[tuple[str, str], str] = {}
        # author -> [seq, prev (its last leaf), first community, mixed, last time, went back]:
        # the chain's head and the communities it signs in, one record per author (the heads
        # are the replay's once the entries are done)
        self._authors: dict[bytes, list[Any]] = {}
        # (entry index, kind, person hash, tag hash, community code) per claim, a column each:
        # 26 bytes a registration (kind and code fit one byte: 0-2 and 1-251)
        self._claims: tuple[array[int], ...] = tuple(array(t) for t in ("q", "B", "q", "q", "B"))
        # anonymous maps rather than bytearrays: zero pages are resident only once written,
        # so processes forked from this one before the feed (community tasks) do not count
        # 8 MB of zeros each
        self._person = mmap.mmap(-1, _BUCKETS)
        self._tags = mmap.mmap(-1, _BUCKETS)
        self._ends: list[dict[str, Any]] = []
        self._tolerance = DEFAULT_TIME_TOLERANCE
        self._results: dict[str, CommunityResults] = {}
        self._progress: dict[str, Any] = {}
        self._eligibility: EligibilityState | None = None
        self.adopted = False
        """Whether the entries were fed in another process (:meth:`adopt`)."""
        self.stored_leaves: bytes | None = None
        """With :attr:`adopted`: the stored leaf hashes' digest as that process read them."""

    # ------------------------------------------------------------------ entries

    def feed_entries(self, chunk: list[bytes]) -> None:  # noqa: C901 (the parent's hot path)
        """Route one chunk of entry bytes (in log order) to the shards."""
        if not self.election:  # no state to shard: an even split of the chunk
            self._send_chunk(chunk, *self._split_evenly(chunk))
            return
        n = self.nshards
        size = len(chunk)
        ws = bytearray(size)  # the shard of each entry (ALL: every shard's)
        # per entry only what the log-wide checks read, not the statement map (a chunk's maps
        # would be held until its replies come back): (author, seq, time, prev, type, the body
        # of an id-claiming type or None, community), or None if the statement does not decode
        metas: list[tuple[Any, ...] | None] = []
        append = metas.append
        outs: list[list[bytes]] = [[] for _ in range(n)]
        adds = [out.append for out in outs]
        i = self._routed
        cshard = self._cshard
        kinds = self._kinds
        route = self._route_event
        where_dest = self._where_dest
        unpack = _decode
        dest: str | None
        routed = route_statement
        id_types = _ID_TYPES
        k = -1
        for data in chunk:
            k += 1
            # peek(data) inline (a call each for it, _statement and unpack_statement would be
            # a tenth of the parent's time): the canonical envelope, then the statement codec's
            # decode (msgspec's with electlog[fast], else msgpack's)
            size_ = len(data)
            m: Any = None
            if (
                size_ >= 116
                and data[:7] == _KEY_HEAD
                and data[39:45] == _SIG_HEAD
                and data[109:114] == _STMT_KEY
            ):
                tag = data[114]
                stmt = None
                if tag == 0xC5:  # a statement of 256 bytes or more (most)
                    if size_ >= 117:
                        length = (data[115] << 8) | data[116]
                        if length >= 0x100 and length == size_ - 117:
                            stmt = data[117:]
                elif tag == 0xC4 and data[115] == size_ - 116:
                    stmt = data[116:]
                if stmt is not None and routed is not None:
                    # with msgspec, the common case first: a plain event type (one seen
                    # before) whose body is a map, decoded into only what routing reads
                    try:
                        r = routed(stmt)
                    except Exception:  # the general decode below decides
                        r = None
                    if r is not None:
                        etype = r.type
                        where = r.body
                        if where is not None and type(etype) is str and kinds.get(etype) == _PLAIN:
                            dest = where.community
                            if type(dest) is not str:
                                dest = where_dest(where)
                            w = ws[k] = cshard.get(dest, 0)
                            adds[w](data)
                            append(
                                (
                                    r.author,
                                    r.seq,
                                    r.time,
                                    r.prev,
                                    etype,
                                    where if etype in id_types else None,
                                    dest,
                                )
                            )
                            i += 1
                            continue
                if stmt is not None:
                    try:  # unpack_statement's call for a statement of at most 65,535 bytes
                        m = unpack(stmt)
                    except Exception:  # not routed here: the worker says why
                        m = None
            if type(m) is not dict:
                w = ws[k] = cshard.get("", 0)  # route(): ""
                append(None)
                adds[w](data)
                i += 1
                continue
            get = m.get
            body, etype = get("body"), get("type")
            # route(i, etype, body) inline for the common case: a plain event type whose body
            # names its community
            kind = kinds.get(etype) if type(etype) is str else None
            if kind == _PLAIN and type(body) is dict:
                dest = body.get("community")
                if type(dest) is not str:
                    dest = route(i, etype, body)
            else:
                dest = route(i, etype, body)
            if dest is None:
                ws[k] = ALL
                for add in adds:
                    add(data)
                dest = "*"
            else:
                w = ws[k] = cshard.get(dest, 0)
                adds[w](data)
            claim = None
            if type(etype) is str and etype in id_types and type(body) is dict:
                claim = where_of(body)
            append((get("author"), get("seq"), get("time"), get("prev"), etype, claim, dest))
            i += 1
        self._send_chunk(chunk, bytes(ws), outs, metas)

    def _split_evenly(
        self, chunk: list[bytes]
    ) -> tuple[bytes, list[list[bytes]], list[tuple[Any, ...] | None]]:
        """The routing of a chunk of a log without an election: an even split, every entry's
        fields for the log-wide checks as :func:`peek` reads them."""
        n = self.nshards
        size = len(chunk)
        ws = bytes(k * n // size for k in range(size))
        outs: list[list[bytes]] = [[] for _ in range(n)]
        metas: list[tuple[Any, ...] | None] = []
        for data, w in zip(chunk, ws, strict=True):
            outs[w].append(data)
            m = peek(data)
            if m is None:
                metas.append(None)
                continue
            get = m.get
            etype = get("type")
            claim = get("body") if type(etype) is str and etype in _ID_TYPES else None
            metas.append((get("author"), get("seq"), get("time"), get("prev"), etype, claim, ""))
        return ws, outs, metas

    def _send_chunk(
        self,
        chunk: list[bytes],
        routing: bytes,
        outs: list[list[bytes]],
        metas: list[tuple[Any, ...] | None],
    ) -> None:
        """Send each shard its entries of a routed chunk; check the chunks whose replies are due."""
        base = self._routed
        self._routed = base + len(chunk)
        no = self._chunk_no
        self._chunk_no += 1
        for w, datas in enumerate(outs):
            self.shards.send(w, ("chunk", no, base, routing, datas))
        self._pending.append((no, base, metas))
        while len(self._pending) >= self.shards.in_flight:
            self._collect()

    def _collect(self) -> None:
        no, base, metas = self._pending.popleft()
        whole = getattr(self.shards, "whole_reply", None)
        if whole is not None:  # community tasks' results: the chunk's reply made at once
            self._checks(base, metas, *whole(no))
            return
        replies = [self.shards.receive("chunk", w, no) for w in range(self.nshards)]
        hashes = _merge([r[1] for r in replies])
        # the replies of shard workers hold their parts of the chunk's Merkle groups (those of
        # community tasks, TaskResults, do not: the tree then hashes every group itself)
        groups = None
        if all(len(r) == 4 for r in replies):
            groups = _chunk_groups(
                hashes, _merge([r[2] for r in replies]), _merge([r[3] for r in replies])
            )
        self._checks(base, metas, _merge([r[0] for r in replies]), hashes, groups)

    def _checks(
        self,
        base: int,
        metas: list[tuple[Any, ...] | None],
        statuses: bytes,
        hashes: bytes,
        groups: list[bytes] | None = None,
    ) -> None:
        """The log-wide checks of a chunk whose statuses (and leaf hashes, 32 bytes each) are
        known, in the chunk's order; ``groups``: the nodes of its whole groups of 16 leaves, if
        the shards computed them (:func:`_chunk_groups`)."""
        authors = self._authors
        times = self.times
        election = self.election
        size = len(metas)
        if len(statuses) != size or len(hashes) != 32 * size:
            raise AuditError(f"the shards' replies do not match the chunk at entry {base}")
        leaves = [hashes[j : j + 32] for j in range(0, 32 * size, 32)]
        types: list[str] = []  # each counted entry's type, counted once the chunk is done
        add_time = times.append
        add_type = types.append
        i = base - 1
        for status, f, leaf in zip(statuses, metas, leaves):  # noqa: B905 (lengths checked)
            i += 1
            if status < VERIFIED or f is None:  # not counted, or not usable: rare
                if status == REJECTED:
                    add_time(_NO_TIME)
                    continue
                if f is None or not status:
                    _unusable(i, status)
                add_time(f[2])  # WRONG_LOG: its claimed time is bound, nothing else
                continue
            author, seq, time, prev, etype, claim, dest = f
            add_time(time)
            add_type(etype)
            a = authors.get(author)
            if a is None:  # a new author: its chain starts at seq 1 after the zero hash
                if seq != 1 or prev != ZERO_HASH:
                    self._chain(i, author, None, seq, prev)
                authors[author] = [seq, leaf, dest, False, time, False]
            else:  # [seq, prev]: its head; [dest, mixed, last time, back]: its communities
                if a[0] + 1 != seq or a[1] != prev:
                    self._chain(i, author, _Head(a[0], a[1]), seq, prev)
                a[0] = seq
                a[1] = leaf
                if a[2] != dest:
                    a[3] = True
                if time < a[4]:
                    a[5] = True
                else:
                    a[4] = time
            if claim is not None and status == APPLIED and election:
                self._claim(i, etype, claim, dest)
        events = self.events
        for counted, count in Counter(types).items():  # in the order of first appearance
            events[counted] += count
        self.tree.extend_joined(hashes, groups)
        self.size = base + size

    def _chain(self, i: int, author: bytes, head: Any, seq: int, prev: bytes) -> None:
        """The author-chain finding of entry ``i``, if its ``seq`` and ``prev`` do not continue
        ``head`` (:func:`~electlog.events.chain_break`)."""
        expected = chain_break(head, seq, prev)  # a _Head: chain_break reads seq and prev
        if expected is not None:
            own = self._own
            own.index = i
            chain_finding(own.add, i, author, seq, prev, expected)

    def _claim(self, i: int, etype: str, where: Any, c: str) -> None:
        """The ids entry ``i`` claims in community ``c``, from its body's :func:`where_of`."""
        for name, v in (("objection", where.objection), ("nomination", where.nomination)):
            if type(v) is str and self._id_owner.setdefault((name, v), c) != c:
                raise Fallback(f"{name} {v} is used in two communities")
        kind = _PEOPLE.get(etype)
        if kind is None:
            return
        person = hash(where.rep if kind == 2 else where.voter)
        code = self._cindex.get(c, 253) % 250 + 1
        at, kinds, persons, tags, codes = self._claims
        at.append(i)
        kinds.append(kind)
        persons.append(person)
        codes.append(code)
        # the person's bucket marked with the community's code (255: two communities) and,
        # for a registration, its tag's
        buckets = self._person
        j = person & _MASK
        seen = buckets[j]
        if seen != code:
            buckets[j] = code if seen == 0 else 255
        if kind == 0:
            tag = hash(where.dedup)
            tags.append(tag)
            buckets = self._tags
            j = tag & _MASK
            seen = buckets[j]
            if seen != code:
                buckets[j] = code if seen == 0 else 255
        else:
            tags.append(0)

    def _cross_community_ids(self) -> None:
        """Registrations and unit representatives of the ids seen in two communities (and of
        any sharing their hash bucket) and every removal, replayed in log order as the district
        state does: any registration or representative of an id active in another community, or of a
        person whose dedup tag is active in another community, needs the serial replay."""
        person_b, tags_b = self._person, self._tags
        mask = _BUCKETS - 1
        voters: dict[int, int] = {}
        tag_of: dict[int, int] = {}
        holder: dict[int, int] = {}
        for i, kind, person, tag, code in zip(*self._claims, strict=True):
            if (
                kind != 1  # removals are few: all of them, so a tag's holder is released
                and person_b[person & mask] != 255
                and not (kind == 0 and tags_b[tag & mask] == 255)
            ):
                continue
            active = voters.get(person)
            if kind == 1:
                if active == code:
                    del voters[person]
                    t = tag_of.pop(person)
                    if holder.get(t) == person:
                        del holder[t]
                continue
            if active is not None and active != code:
                raise Fallback(f"entry {i}: an id active in another community")
            if kind == 2:
                continue
            h = holder.get(tag)
            if h is not None and voters.get(h) != code:
                raise Fallback(f"entry {i}: a dedup tag active in another community")
            if active is None:
                voters[person] = code
                tag_of[person] = tag
                holder.setdefault(tag, person)

    # ------------------------------------------------------------------ handing over

    _FED: Final = (
        "size",
        "times",
        "events",
        "_own",
        "_chunk_no",
        "_routed",
        "_id_owner",
        "_authors",
        "_claims",
        "_cshard",
        "_cindex",
        "_unit_owner",
        "_box_owner",
        "_kinds",
    )
    """What feeding the entries changes, besides the tree and the buckets (:meth:`handed`)."""

    def handed(self) -> dict[str, Any]:
        """This replay's state once every entry is fed and its chunks collected (before
        :meth:`entries_done`), for another process's replay of the same log to :meth:`adopt`:
        the community tasks' routing process runs the final pass (:mod:`._presumed`). The
        tree's leaves stay in its file, which the two share."""
        if self._pending:
            raise AuditError("a replay is handed over with chunks whose replies are not in")
        state = {name: getattr(self, name) for name in self._FED}
        state["person"] = bytes(self._person)
        state["tags"] = bytes(self._tags)
        state["tree"] = self.tree.handed()
        return state

    def adopt(self, state: dict[str, Any], leaves: IO[bytes], stored: bytes | None) -> None:
        """Take the state of a replay that another process fed with this log (:meth:`handed`),
        its leaf hashes in ``leaves``, instead of feeding the entries here; ``stored``: what
        that process's read says of the stored leaf hashes
        (:meth:`~._sources.Source.stored_leaves`)."""
        if self.size or self._routed or self.adopted:
            raise AuditError("only a replay that has not been fed can adopt another's state")
        pairs = ((self._person, state["person"]), (self._tags, state["tags"]))
        if any(len(data) != len(buckets) for buckets, data in pairs):
            raise AuditError("the replay handed over has buckets of another size")
        self.tree.adopt(leaves, state["tree"])
        self.adopted = True
        self.stored_leaves = stored
        for name in self._FED:
            setattr(self, name, state[name])
        for buckets, data in pairs:
            buckets[:] = data

    # ------------------------------------------------------------------ the end

    def entries_done(self) -> None:
        """Collect every shard's results, decide what needs the serial replay, and add the
        entries' findings to the sink in the serial order."""
        while self._pending:
            self._collect()
        owned = self.owned()
        for w in range(self.nshards):
            self.shards.send(w, ("end", owned[w], self.size))
        self._ends = [self.shards.receive("end", w, 0) for w in range(self.nshards)]
        if any(e["rogue"] for e in self._ends):
            raise Fallback("the genesis is not signed by the trust file's authority key")
        heads: dict[bytes, Any] = self.heads  # _Head values (named tuples, as AuthorHead reads)
        heads.update((a, _Head(r[0], r[1])) for a, r in self._authors.items())
        for signer, (_, _, _, mixed, _, back) in self._authors.items():
            if self.election and mixed and back:
                raise Fallback(
                    f"signer {signer.hex()[:16]} signs in several communities and "
                    "its claimed time goes back"
                )
        if self.election:
            self._cross_community_ids()
            self._merge_eligibility()
        items = list(self._own.items)
        counts: Counter[str] = Counter(self._own.counts())
        for e in self._ends:
            items.extend(e["feed"])
            counts.update(e["counts"])
        listed: Counter[str] = Counter()
        for _, code, index, message, evidence in sorted(items, key=lambda item: item[0]):
            self.sink.add(code, index, message, evidence)
            listed[code] += 1
        for code, total in counts.items():
            self.sink.count_unlisted(code, total - listed[code])
        first = self._ends[0]
        self._tolerance = first["tolerance"]
        for e in self._ends:
            self._results.update(e["results"])
            self._progress.update(e["progress"])
        self._results = dict(sorted(self._results.items()))
        self._progress = dict(sorted(self._progress.items()))

    def _merge_eligibility(self) -> None:
        """The eligibility sample of the whole log from the shards' (each holds the same draw and
        result, and the registration entries of its own sampled voters); decides each draw."""
        shards: list[EligibilityState] = [e["eligibility"] for e in self._ends]
        first = shards[0]
        merged = EligibilityState()
        merged.drawn, merged.drawn_index = first.drawn, first.drawn_index
        merged.checked, merged.checked_index = first.checked, first.checked_index
        for el in shards:
            merged.sample_entries.update(el.sample_entries)
        parts = [el.deferred or [] for el in shards]
        if any(len(p) != len(parts[0]) for p in parts):
            raise Fallback("the shards disagree on the eligibility draws they checked")
        for draw in zip(*parts, strict=True):
            self._decide_draw(draw)
        self._eligibility = merged

    def _decide_draw(self, draw: tuple[DrawPart, ...]) -> None:
        """The finding of one ``eligibility.sample_drawn`` over the whole roll, from every shard's
        part, with the serial replay's code, text, evidence and place (the entry's election
        finding)."""
        at, signer, ev = draw[0].at, draw[0].signer, draw[0].event
        tickets = [p.tickets for p in draw]
        if any(t is None for t in tickets):
            raise Fallback(f"entry {at}: an eligibility draw whose seed or ids cannot be sampled")
        k = len(ev.voters)
        violation = draw_violation(
            ev,
            max(p.roll_changed_at for p in draw),
            sum(p.active for p in draw),
            lambda: [v for _, v in nsmallest(k, chain.from_iterable(t or [] for t in tickets))],
        )
        if violation is None:
            return
        own = self._own
        own.index, own.slot = at, 2
        evidence = {
            "rule": violation.code,
            "type": ev.TYPE,
            "ids": list(violation.ids),
            "signer": signer.hex(),
        }
        own.add(F.rule_finding_code(violation.code), at, violation.detail, evidence)

    def eligibility(self) -> EligibilityState | None:
        return self._eligibility

    def finish(
        self, notes: Sequence[str], since: str | None = None, pinned: str | None = None
    ) -> None:
        super().finish(notes, since, pinned)  # no election state here: log-wide checks only
        if self.election:
            ends = [item for e in self._ends for item in e["end"]]
            self.add_end_items([*self.public_tier_items(self._ends[0]["rules"]), *ends])

    def time_tolerance(self) -> int:
        return self._tolerance

    def results(self) -> dict[str, CommunityResults]:
        return self._results

    def communities(self) -> dict[str, Any]:
        return self._progress


def _chunk_groups(hashes: bytes, flags: bytes, nodes: bytes) -> list[bytes] | None:
    """The nodes of levels 1 to 4 of a chunk's whole groups of 16 leaves (``hashes``), from
    the shards' merged parts (:func:`_own_groups`): the groups no shard held whole are
    hashed here. None when the parts do not fit the chunk (the tree then hashes them all)."""
    count = len(hashes) // (32 * _GROUP)
    if len(flags) != count or len(nodes) != 480 * count:
        return None
    missing = [g for g, flag in enumerate(flags) if flag != 1]
    if not missing:
        return _split_levels(nodes, count)
    size = 32 * _GROUP
    computed = group_levels(b"".join([hashes[g * size : (g + 1) * size] for g in missing]))
    if len(missing) == count:
        return computed
    return _placed(count, missing, computed, _split_levels(nodes, count))


def _split_levels(nodes: bytes, count: int) -> list[bytes]:
    """The four levels of :func:`_own_groups`' layout for ``count`` groups."""
    out: list[bytes] = []
    at = 0
    for lv in range(1, 5):
        size = count * (_GROUP >> lv) * 32
        out.append(nodes[at : at + size])
        at += size
    return out


def _unusable(i: int, status: int) -> NoReturn:
    """Raise for entry ``i`` that no shard reported (status 0) or whose statement the parent
    could not decode though a shard accepted it."""
    if not status:
        raise AuditError(f"no audit shard reported entry {i}")
    raise Fallback(f"entry {i} verified but its statement did not decode here")
