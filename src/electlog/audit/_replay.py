"""The in-order replay: author chains, the Merkle tree, checkpoints, ``--since`` and the election.

:class:`Replay` consumes the per-entry results of the verification pipeline
(:mod:`electlog.audit._pipeline`) in log order and keeps only what the checks need: each author's
head (sequence number and leaf hash of its last entry, kept by the auditor itself, never taken
from the store), a compact Merkle tree of leaf hashes (32 bytes per node, about 64 bytes per
entry in all), per-type counts and the election projections. It never keeps entries.

The checks reuse the writers' code: :mod:`electlog.merkle` for roots and proofs,
:func:`electlog.checkpoint.verify_checkpoint_detailed` for checkpoints, and the election's own
:meth:`ElectionState.check` / :meth:`ElectionState.apply` (one implementation of every rule).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import tempfile
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any, Final

import attrs

from electlog import merkle
from electlog.checkpoint import Checkpoint, verify_checkpoint, verify_checkpoint_detailed
from electlog.election import codes as C
from electlog.election.codes import RESULT_MISMATCH, UNIT_RETURNED_EXCEEDS_ISSUED
from electlog.election.events import (
    MINIMAL_SCHEMAS,
    ElectionEvent,
    GroupResultDeclared,
    ProxyAuthorisedV2,
    ResultDeclared,
    VoterRegisteredV2,
    decode_body,
)
from electlog.election.progress import CommunityProgress, election_progress
from electlog.election.rules import PublicProfile, RuleSet
from electlog.election.state import CountingBatch, ElectionState
from electlog.election.state._base import event_context
from electlog.election.state.eligibility import EligibilityState
from electlog.election.tally import compare_declared
from electlog.errors import (
    AuditError,
    CheckpointError,
    ConsistencyProofError,
    ElectlogError,
    MalformedCheckpointError,
    RuleViolation,
    UsageError,
)
from electlog.events import ZERO_HASH, AuthorHead, chain_break

from . import findings as F
from ._pipeline import EntryResult, RejectedEntry
from .findings import Finding, Severity, finding_info, rule_finding_code
from .results import (
    BatchSummary,
    CommunityResults,
    GroupResults,
    RoundResults,
    UnitSummary,
    jsonable,
)
from .trust import Trust

__all__ = ["MAX_FINDINGS_PER_CODE", "CompactMerkleTree", "FindingSink", "Replay"]

MAX_FINDINGS_PER_CODE: Final = 1000
"""At most this many findings of one code are listed; the rest are counted
(:data:`~electlog.audit.findings.AUDIT_FINDINGS_CAPPED`)."""

_HASH: Final = 32
_MEM_LEVEL: Final = 4
_GROUP: Final = 1 << _MEM_LEVEL
_NODE_PREFIX: Final = hashlib.sha256(b"\x01")  # RFC 6962's interior node prefix, hashed
DEFAULT_TIME_TOLERANCE: Final = 900
"""Seconds of tolerance between claimed times and witness time for a generic log (an election
log takes the genesis RuleSet's ``time_tolerance_seconds``)."""
_NO_TIME: Final = -(1 << 63)  # the claimed-time slot of an entry that did not verify
# AuthorHead(seq, leaf) built and moved on with its slots' setters (once per entry)
_new_head = AuthorHead.__new__
_set_head_seq = AuthorHead.__dict__["seq"].__set__
_set_head_prev = AuthorHead.__dict__["prev"].__set__


# --------------------------------------------------------------------------- findings


_ROGUE_CODES: Final = frozenset({C.GENESIS_NOT_AUTHORITY, C.SIGNER_UNAUTHORISED})
"""Rule codes a genesis signed by a key other than the trust file's authority cascades into."""


class FindingSink:
    """Collects findings in order, listing at most ``cap`` per code and counting the rest."""

    def __init__(self, cap: int = MAX_FINDINGS_PER_CODE) -> None:
        self._cap = cap
        self._items: list[Finding] = []
        self._counts: Counter[str] = Counter()
        self._severity: dict[str, Severity] = {}

    def add(
        self, code: str, index: int | None, message: str, evidence: dict[str, Any] | None = None
    ) -> None:
        """Record one finding (``evidence`` values must be JSON-able)."""
        n = self._counts[code] + 1
        self._counts[code] = n
        if n > self._cap:
            return
        severity = self._severity.get(code)
        if severity is None:
            severity = self._severity[code] = finding_info(code).severity
        self._items.append(
            Finding(
                code=code, severity=severity, index=index, message=message, evidence=evidence or {}
            )
        )

    @property
    def cap(self) -> int:
        """At most this many findings are listed per code."""
        return self._cap

    def count_unlisted(self, code: str, n: int) -> None:
        """Count ``n`` more findings of ``code`` that are not listed (made past the cap)."""
        if n > 0:
            self._counts[code] += n

    def count(self, code: str) -> int:
        """How many findings of ``code`` were made (listed or not)."""
        return self._counts[code]

    def __len__(self) -> int:
        return sum(self._counts.values())

    def result(self) -> tuple[Finding, ...]:
        """Every listed finding, plus one :data:`~F.AUDIT_FINDINGS_CAPPED` per capped code."""
        out = list(self._items)
        for code, n in sorted(self._counts.items()):
            if n > self._cap:
                out.append(
                    Finding(
                        code=F.AUDIT_FINDINGS_CAPPED,
                        severity=finding_info(F.AUDIT_FINDINGS_CAPPED).severity,
                        index=None,
                        message=f"{n} findings of {code}; only the first {self._cap} are listed",
                        evidence={"code": code, "total": n, "listed": self._cap},
                    )
                )
        return tuple(out)


# --------------------------------------------------------------------------- Merkle tree


class CompactMerkleTree:
    """An append-only RFC 6962 tree with a small memory footprint.

    The leaf hashes go to an anonymous temporary file (32 bytes each; deleted on :meth:`close`
    or when the process ends); every complete subtree hash of level 4 and above (one per 16
    leaves, 32 bytes each, in one ``bytearray`` per level) stays in memory, about 2.5 MB for
    600,000 leaves. A node below level 4 is recomputed from at most 8 leaves read back from the
    file when a root or a proof needs it. Roots and proofs at any size come from
    :mod:`electlog.merkle`'s node-reader functions, the same code the stores use.
    """

    __slots__ = ("_digests", "_file", "_settled", "_size", "_tail", "_upper")

    def __init__(self, file: IO[bytes] | None = None) -> None:
        """``file``: an empty temporary file for the leaves (one the caller shares with
        another process, see :meth:`adopt`); by default one of the tree's own."""
        if file is None:
            file = tempfile.TemporaryFile(prefix="electlog-audit-leaves-")  # noqa: SIM115
        self._file = file
        self._size = 0
        self._tail = b""  # leaves after the last complete group of 16, joined
        self._upper: list[bytearray] = [bytearray()]  # levels 4, 5, 6, ...
        self._digests: list[Any] | None = None  # levels 0-3 hashed as they go (keep_digests)
        self._settled: tuple[bytes, ...] | None = None  # level_digests() of an adopted tree

    def __len__(self) -> int:
        return self._size

    def close(self) -> None:
        """Delete the temporary leaf file (the tree is unusable afterwards)."""
        self._file.close()

    def _read_leaves(self, start: int, count: int) -> bytes:
        fh = self._file
        fh.seek(start * _HASH)
        data = fh.read(count * _HASH)
        if len(data) != count * _HASH:
            raise UsageError(f"leaves {start}..{start + count - 1} are not in the tree")
        return data

    def _upper_node(self, level: int, index: int) -> bytes:
        start = index * _HASH
        data = self._upper[level][start : start + _HASH]
        if len(data) != _HASH:
            raise UsageError(f"no complete node at level {level + _MEM_LEVEL} index {index}")
        return bytes(data)

    def node(self, level: int, index: int) -> bytes:
        """The complete subtree hash at ``(level, index)`` (a :data:`merkle.NodeReader`)."""
        if level >= _MEM_LEVEL:
            return self._upper_node(level - _MEM_LEVEL, index)
        if level < 0 or index < 0 or (index + 1) << level > self._size:
            raise UsageError(f"no complete node at level {level} index {index}")
        data = self._read_leaves(index << level, 1 << level)
        hashes = [data[i : i + _HASH] for i in range(0, len(data), _HASH)]
        while len(hashes) > 1:
            hashes = [
                merkle.node_hash(a, b) for a, b in zip(hashes[0::2], hashes[1::2], strict=True)
            ]
        return hashes[0]

    def extend(self, leaf_hashes: Sequence[bytes]) -> None:
        """Append leaves (32-byte hashes) in order."""
        self.extend_joined(b"".join(leaf_hashes))

    def extend_joined(self, hashes: bytes, groups: Sequence[bytes] | None = None) -> None:
        """Append leaves given as their 32-byte hashes joined in one bytes, in order.

        ``groups``, when the tree holds a whole number of groups of 16 leaves: the nodes of
        levels 1 to 4 of the whole groups these leaves make, computed elsewhere
        (:func:`group_levels` of them; the audit's shard workers compute most of them), used
        instead of hashing them here. Anything else in ``groups`` (or a tree with leaves after
        its last whole group) is not used: the nodes are then computed here."""
        if len(hashes) % _HASH:
            raise UsageError(f"{len(hashes)} bytes are not a whole number of leaf hashes")
        if not hashes:
            return
        self._settled = None  # an adopted tree's digests are of the leaves it came with
        fh = self._file
        fh.seek(0, os.SEEK_END)
        fh.write(hashes)
        fh.flush()
        digests = self._digests
        if digests is not None:
            digests[0].update(hashes)
        aligned = not self._tail
        self._size += len(hashes) // _HASH
        pending = self._tail + hashes
        full = len(pending) - len(pending) % (_GROUP * _HASH)
        self._tail = pending[full:]
        if not full:
            return
        if (
            groups is None
            or not aligned
            or len(groups) != _MEM_LEVEL
            or any(len(nodes) != full >> lv for lv, nodes in enumerate(groups, 1))
        ):
            groups = group_levels(pending[:full])
        if digests is not None:
            for lv in range(1, _MEM_LEVEL):
                digests[lv].update(groups[lv - 1])
        data = groups[-1]
        level = [data[j : j + _HASH] for j in range(0, len(data), _HASH)]
        upper = self._upper
        first = len(upper[0]) // _HASH
        for lv, _, h in merkle.new_nodes_batch(self._upper_node, first, level):
            if lv == len(upper):
                upper.append(bytearray())
            upper[lv] += h

    def handed(self) -> tuple[int, bytes, list[bytes], tuple[bytes, ...] | None]:
        """What another process's tree needs to :meth:`adopt` this one, whose leaves are in a
        file both share: the size, the leaves after the last whole group, the levels kept in
        memory and (with :meth:`keep_digests`) the :meth:`level_digests`."""
        digests = None if self._digests is None else self.level_digests()
        return self._size, self._tail, [bytes(level) for level in self._upper], digests

    def adopt(
        self,
        file: IO[bytes],
        handed: tuple[int, bytes, list[bytes], tuple[bytes, ...] | None],
    ) -> None:
        """Become the tree another process built (:meth:`handed`) into ``file``, which holds
        its leaves (this tree's own leaf file is closed). Its level digests stay those it
        handed over until a leaf is added."""
        size, tail, upper, digests = handed
        if len(upper) < 1 or len(tail) % _HASH or (size - len(tail) // _HASH) % _GROUP:
            raise AuditError(f"the tree handed over does not hold {size} leaves")
        self._file.close()
        self._file = file
        self._size = size
        self._tail = tail
        self._upper = [bytearray(level) for level in upper]
        self._digests = None
        self._settled = digests

    def keep_digests(self) -> None:
        """Hash every level of the tree as it is built, for :meth:`level_digests` (call on an
        empty tree; it costs a SHA-256 pass over 60 bytes per leaf, in bulk)."""
        if self._size:
            raise UsageError("a tree's level digests are kept from its first leaf")
        self._digests = [hashlib.sha256() for _ in range(_MEM_LEVEL)]

    def level_digests(self) -> tuple[bytes, ...]:
        """For each level from 0 (the leaves) up to the tree's height, the SHA-256 of its
        complete nodes concatenated in index order (:meth:`keep_digests` was called first):
        what :class:`~electlog.store._integrity.StoredTree` says of a stored tree."""
        if self._settled is not None:
            return self._settled
        if self._digests is None:
            raise UsageError("this tree keeps no level digests")
        size = self._size
        digests = [d.copy() for d in self._digests]
        tail = self._tail  # the leaves after the last group of 16: their complete nodes
        level = [tail[j : j + _HASH] for j in range(0, len(tail), _HASH)]
        for lv in range(1, _MEM_LEVEL):
            level = [merkle.node_hash(a, b) for a, b in zip(level[0::2], level[1::2], strict=False)]
            digests[lv].update(b"".join(level))
        out = [d.digest() for d in digests]
        for lv, nodes in enumerate(self._upper, _MEM_LEVEL):
            if len(nodes) != _HASH * (size >> lv):
                raise UsageError(f"the tree holds {len(nodes) // _HASH} nodes of level {lv}")
            out.append(hashlib.sha256(nodes).digest())
        height = size.bit_length()  # the levels that have a complete node: 0 .. height - 1
        return tuple(out[: max(1, height)])

    def root(self, size: int) -> bytes:
        """The root of the first ``size`` leaves."""
        return merkle.root_at(self.node, size)

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """RFC 6962 consistency proof between two sizes ``1 <= size1 <= size2 <= len``."""
        return merkle.consistency_proof_at(self.node, size1, size2)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 6962 inclusion proof of leaf ``index`` in the tree of ``size`` leaves."""
        return merkle.inclusion_proof_at(self.node, index, size)


def group_levels(leaves: bytes) -> list[bytes]:
    """The nodes of levels 1 to 4 (joined, 32 bytes each, in index order) of groups of 16 leaf
    hashes joined in ``leaves`` (a whole number of groups): what :class:`CompactMerkleTree`
    hashes per group of 16 leaves, and a shard worker for the groups of a chunk it holds whole
    (``_shards._own_groups``)."""
    # merkle.node_hash's own arithmetic without its argument checks (every hash here is a
    # 32-byte digest: a leaf hash or a node this function computed): a copy of the hash state
    # of the node prefix 0x01, fed each pair as one slice of the level's bytes
    node = _NODE_PREFIX.copy
    out: list[bytes] = []
    data = leaves
    for _ in range(_MEM_LEVEL):
        nodes: list[bytes] = []
        add = nodes.append
        for j in range(0, len(data), 2 * _HASH):
            pair = node()
            pair.update(data[j : j + 2 * _HASH])
            add(pair.digest())
        data = b"".join(nodes)
        out.append(data)
    return out


# --------------------------------------------------------------------------- checkpoints


@attrs.frozen(kw_only=True)
class _SignedCheckpoint:
    """A checkpoint note that carries a valid log signature."""

    position: int
    note: str
    checkpoint: Checkpoint
    witnessed: bool
    witnesses: tuple[tuple[str, int], ...]


def _note_text(note: str) -> str | None:
    cut = note.rfind("\n\n")
    return None if cut < 0 else note[: cut + 1]


def _hexes(proof: Sequence[bytes]) -> list[str]:
    return [h.hex() for h in proof]


_Add = Callable[[str, int | None, str, dict[str, Any] | None], None]


def wrong_log(add: _Add, i: int, log: str, origin: str, author: bytes, seq: int) -> None:
    """The finding of entry ``i``, signed for another log than ``origin``."""
    add(
        F.ENTRY_WRONG_LOG,
        i,
        f"entry was signed for log {log!r}, not {origin!r}",
        {"log": log, "origin": origin, "author": author.hex(), "seq": seq},
    )


def chain_finding(
    add: _Add, i: int, author: bytes, seq: int, prev: bytes, expected: tuple[int, bytes]
) -> None:
    """The finding of entry ``i``, which does not continue its author's chain
    (``expected``: the ``(seq, prev)`` :func:`~electlog.events.chain_break` wanted)."""
    if seq != expected[0]:
        add(
            F.CHAIN_SEQ_GAP,
            i,
            f"author {author.hex()[:16]}… has sequence number {seq}, expected {expected[0]}",
            {"author": author.hex(), "seq": seq, "expected_seq": expected[0]},
        )
    else:
        add(
            F.CHAIN_PREV_MISMATCH,
            i,
            f"author {author.hex()[:16]}… seq {seq} does not link to the author's previous entry",
            {
                "author": author.hex(),
                "seq": seq,
                "prev": prev.hex(),
                "expected_prev": expected[1].hex(),
            },
        )


def secrecy_finding(add: _Add, i: int, etype: str, secrecy: tuple[str, ...]) -> None:
    """The secrecy lint's finding of entry ``i`` (``secrecy``: the fields found together)."""
    add(
        F.SECRECY_VOTER_LINKED_TO_MARKS,
        i,
        f"{etype} body carries both a voter-identifying field and ballot marks: "
        f"{', '.join(secrecy)}",
        {"type": etype, "fields": list(secrecy)},
    )


EndItem = tuple[tuple[Any, ...], str, int | None, str, dict[str, Any]]
"""A finding of the election's end with its sort key: the findings of every community are
listed in the order of their keys, whichever process replayed the community."""


# --------------------------------------------------------------------------- the replay


class Replay:
    """Consumes verification results in log order and runs every ordered check.

    Call :meth:`feed` for each chunk, then :meth:`finish` with the source's checkpoint notes.
    ``election=False`` skips the election replay (for generic, non-election logs).
    """

    def __init__(self, trust: Trust, sink: FindingSink, *, election: bool = True) -> None:
        self.trust = trust
        self.sink = sink
        self.origin = trust.origin
        self.size = 0
        self.tree = CompactMerkleTree()
        self.heads: dict[bytes, AuthorHead] = {}
        self.events: Counter[str] = Counter()
        self.state: ElectionState | None = (
            ElectionState(trust.authority_key.key_id) if election else None
        )
        self.complete = True  # False once the source turned out unreadable
        self.signed: list[_SignedCheckpoint] = []
        self.checkpoint_notes = 0
        self.latest: _SignedCheckpoint | None = None
        self.since_info: dict[str, Any] | None = None
        self.pin_info: dict[str, Any] | None = None
        self.times: array[int] = array("q")  # claimed time (µs) per entry, 8 bytes each
        self.progress: dict[str, CommunityProgress] = {}
        # A genesis signed by another key than the trust file's authority: the rule findings
        # against that key are held back (at most the sink's cap per code, and counted) until
        # the end shows whether the trust file's key signed anything (see _authority_end).
        self._rogue: bytes | None = None
        self._held: list[tuple[str, int, str, dict[str, Any]]] = []
        self._held_counts: Counter[str] = Counter()

    # ------------------------------------------------------------------ entries

    def feed(self, results: Sequence[EntryResult]) -> None:
        """Check one chunk of per-entry results (in log order)."""
        add = self.sink.add
        origin = self.origin
        heads = self.heads
        events = self.events
        state = self.state
        index = self.size
        leaves: list[bytes] = []
        times = self.times
        election = self._election
        for r in results:
            i = index
            index += 1
            if isinstance(r, RejectedEntry):
                leaves.append(r.leaf_hash)
                times.append(_NO_TIME)
                add(r.code, i, r.message, r.evidence)
                continue
            # a VerifiedEntry, unpacked in its field order (one step instead of ten lookups)
            leaf, log, etype, schema, author, seq, prev, time, body, secrecy = r
            leaves.append(leaf)
            times.append(time)
            if log != origin:
                wrong_log(add, i, log, origin, author, seq)
                continue
            head = heads.get(author)
            # the author-chain rule (chain_break's), inline for the entries that keep it
            if head is None:
                if not (seq == 1 and prev == ZERO_HASH):
                    expected = chain_break(None, seq, prev)
                    if expected is not None:
                        chain_finding(add, i, author, seq, prev, expected)
                heads[author] = head = _new_head(AuthorHead)
            elif not (seq == head.seq + 1 and prev == head.prev):
                expected = chain_break(head, seq, prev)
                if expected is not None:
                    chain_finding(add, i, author, seq, prev, expected)
            # the author's head moves on in place: nothing keeps an earlier one (a resumable
            # audit's snapshot encodes the heads when it is taken)
            _set_head_seq(head, seq)
            _set_head_prev(head, leaf)
            events[etype] += 1
            if secrecy is not None:
                secrecy_finding(add, i, etype, secrecy)
            if state is not None:
                election(i, state, log, etype, schema, author, seq, prev, time, body, leaf)
        self.size = index
        self.tree.extend(leaves)

    def _election(
        self,
        index: int,
        state: ElectionState,
        log: str,
        etype: str,
        schema: int,
        author: bytes,
        seq: int,
        prev: bytes,
        time: int,
        body: dict[str, Any],
        leaf: bytes,
    ) -> bool:
        """Check and apply one election event; True if it was applied (its projection's
        apply ran), False if it was not (malformed, before the genesis, unknown community)."""
        # The event's loader interns the body's top-level strings: the projections keep many
        # equal ids (community, group, household, unit, voter) for every voter; shared strings
        # keep the audit's memory bounded by the number of distinct ids, not of entries.
        try:
            event = decode_body(etype, schema, body)
        except ElectlogError as exc:
            self.sink.add(F.EVENT_MALFORMED, index, str(exc), {"type": etype, "schema": schema})
            return False
        ctx = event_context(index, time, author, leaf)
        try:
            state.check(ctx, event)
        except RuleViolation as exc:
            code = rule_finding_code(exc.code)
            evidence = self._rule_evidence(state, event, exc, author)
            if exc.code == C.GENESIS_NOT_AUTHORITY and self._rogue is None and index == 0:
                self._rogue = author
            if author == self._rogue and exc.code in _ROGUE_CODES:
                n = self._held_counts[code] = self._held_counts[code] + 1
                if n <= self.sink.cap:
                    self._held.append((code, index, exc.detail, evidence))
            else:  # the message leaves out the rule code: the finding's code names it
                self.sink.add(code, index, exc.detail, evidence)
        except Exception as exc:  # a crafted entry must not stop the audit
            self.sink.add(
                F.ELECTION_REPLAY_ERROR,
                index,
                f"checking {etype} failed: {type(exc).__name__}: {exc}",
                {"type": etype},
            )
        applied = state.events
        try:
            state.apply(ctx, event)
        except Exception as exc:  # apply never raises by contract; report if it does
            self.sink.add(
                F.ELECTION_REPLAY_ERROR,
                index,
                f"applying {etype} failed: {type(exc).__name__}: {exc}",
                {"type": etype},
            )
        return state.events != applied

    @staticmethod
    def _rule_evidence(
        state: ElectionState, event: ElectionEvent, exc: RuleViolation, author: bytes
    ) -> dict[str, Any]:
        evidence: dict[str, Any] = {
            "rule": exc.code,
            "type": event.TYPE,
            "ids": list(exc.ids),
            "signer": author.hex(),
        }
        if exc.code == RESULT_MISMATCH and isinstance(event, ResultDeclared | GroupResultDeclared):
            evidence["community"] = event.community
            try:
                if isinstance(event, ResultDeclared):
                    evidence["round"] = event.round
                    recomputed = state.result(event.community, event.round)
                else:
                    evidence["group"] = event.group
                    recomputed = state.group_result(event.community, event.group)
                diffs = compare_declared(event.result, recomputed)
            except ElectlogError:
                diffs = []
            evidence["discrepancies"] = [jsonable(d.to_dict()) for d in diffs]
        return evidence

    # ------------------------------------------------------------------ the end

    def source_unreadable(self, message: str, offset: int | None, last_good: int) -> None:
        """Record that the source could not be read beyond entry ``last_good``."""
        self.complete = False
        evidence: dict[str, Any] = {"last_good_index": last_good, "entries_read": self.size}
        if offset is not None:
            evidence["offset"] = offset
        where = f"byte offset {offset}" if offset is not None else f"entry {last_good + 1}"
        self.sink.add(
            F.SOURCE_UNREADABLE,
            last_good + 1 if last_good + 1 >= 0 else None,
            f"the source is unreadable from {where} on: {message}; "
            + (
                f"the {self.size} entries before were checked"
                if self.size
                else "no entry could be checked"
            ),
            evidence,
        )

    def finish(
        self, notes: Sequence[str], since: str | None = None, pinned: str | None = None
    ) -> None:
        """Run the end-of-log checks: checkpoints, witness time, ``since`` and the trust file's
        ``pinned`` checkpoint, the election's loose ends and every community's progress."""
        if self.size == 0 and self.complete:
            self.sink.add(F.LOG_EMPTY, None, "the log has no entries", {})
        self._checkpoints(notes)
        self._witness_time()
        if since is not None:
            self.since_info = self._prior(since, "the --since checkpoint")
        if pinned is not None:
            self.pin_info = self._prior(pinned, "the trust file's pinned checkpoint")
        if self.state is not None:
            self._authority_end()
            self._election_end(self.state)

    def _authority_end(self) -> None:
        """A genesis signed by a key other than the trust file's authority key: when the
        trust file's key signed nothing in the log, the trust file is for another election and
        one ``trust.authority_unused`` finding replaces the cascade of rule findings against
        the genesis signer; otherwise those findings are reported one by one."""
        if self._rogue is None:
            return
        held, counts = self._held, dict(sorted(self._held_counts.items()))
        self._held, self._held_counts = [], Counter()
        authority = self.trust.authority_key.key_id
        if authority in self.heads:
            for code, index, message, evidence in held:
                self.sink.add(code, index, message, evidence)
            for code, n in counts.items():
                self.sink.count_unlisted(code, n - min(n, self.sink.cap))
            return
        total = sum(counts.values())
        self.sink.add(
            F.TRUST_AUTHORITY_UNUSED,
            0,
            f"this trust file's authority key {authority.hex()[:16]} signed nothing in this "
            f"log; the genesis is signed by {self._rogue.hex()[:16]}: the trust file is "
            f"probably for another election ({total} rule finding(s) against that key's "
            "events are summarised here, not listed)",
            {
                "authority_key": authority.hex(),
                "genesis_signer": self._rogue.hex(),
                "summarised": counts,
                "first_indexes": [index for _, index, _, _ in held[:10]],
            },
        )

    def _checkpoints(self, notes: Sequence[str]) -> None:
        trust = self.trust
        add = self.sink.add
        self.checkpoint_notes = len(notes)
        seen: set[str] = set()  # a copy of a note already checked adds nothing but cost
        for position, note in enumerate(notes):
            if note in seen:
                continue
            seen.add(note)
            where = {"checkpoint": position, "note": note}
            text = _note_text(note)
            malformed: str | None = None
            if text is None:
                malformed = "no blank line separates the text from the signatures"
            else:
                try:
                    Checkpoint.from_text(text)
                except (CheckpointError, UsageError) as exc:
                    malformed = str(exc)
            if malformed is not None:
                add(F.CHECKPOINT_MALFORMED, None, f"checkpoint {position}: {malformed}", where)
                continue
            try:
                cp = verify_checkpoint(note, trust.log_key)
            except (CheckpointError, UsageError) as exc:
                code = (
                    F.CHECKPOINT_MALFORMED
                    if isinstance(exc, MalformedCheckpointError)
                    else F.CHECKPOINT_SIGNATURE_INVALID
                )
                add(code, None, f"checkpoint {position}: {exc}", where)
                continue
            witnessed = False
            witnesses: tuple[tuple[str, int], ...] = ()
            try:
                detailed = verify_checkpoint_detailed(note, trust.log_key, list(trust.witnesses))
            except (CheckpointError, UsageError) as exc:
                add(
                    F.CHECKPOINT_COSIGNATURE_INVALID,
                    None,
                    f"checkpoint {position} (size {cp.size}): {exc}",
                    where,
                )
            else:
                witnesses = detailed.witnesses
                witnessed = len(witnesses) >= trust.quorum
            self.signed.append(
                _SignedCheckpoint(
                    position=position,
                    note=note,
                    checkpoint=cp,
                    witnessed=witnessed,
                    witnesses=witnesses,
                )
            )
        # A tree (size, root) is witnessed when any of its log-signed notes meets the quorum:
        # a log may keep its bare signed note next to the cosigned one of the same tree.
        trees: dict[tuple[int, bytes], list[_SignedCheckpoint]] = {}
        for sc in self.signed:
            trees.setdefault((sc.checkpoint.size, sc.checkpoint.root), []).append(sc)
        for (size, _), group in trees.items():
            if any(sc.witnessed for sc in group):
                continue
            best = max(group, key=lambda sc: len(sc.witnesses))
            add(
                F.CHECKPOINT_WITNESS_QUORUM,
                None,
                f"checkpoint {best.position} (size {size}) is cosigned by {len(best.witnesses)} "
                f"trusted witness(es), the quorum is {trust.quorum}",
                {
                    "checkpoint": best.position,
                    "note": best.note,
                    "cosigned_by": [name for name, _ in best.witnesses],
                    "quorum": trust.quorum,
                },
            )
        self._checkpoint_trees()

    def _checkpoint_trees(self) -> None:
        add = self.sink.add
        n = self.size
        matching: list[_SignedCheckpoint] = []
        mismatching: list[_SignedCheckpoint] = []
        by_size: dict[int, list[_SignedCheckpoint]] = {}
        for sc in self.signed:
            cp = sc.checkpoint
            by_size.setdefault(cp.size, []).append(sc)
            if cp.size > n:
                if self.complete:
                    add(
                        F.LOG_TRUNCATED,
                        None,
                        f"checkpoint {sc.position} commits to {cp.size} entries but the copy "
                        f"holds {n}: entries were removed from the end",
                        {
                            "checkpoint": sc.position,
                            "checkpoint_size": cp.size,
                            "entries": n,
                            "note": sc.note,
                        },
                    )
                continue
            replayed = self.tree.root(cp.size)
            if replayed == cp.root:
                matching.append(sc)
                continue
            mismatching.append(sc)
            add(
                F.CHECKPOINT_ROOT_MISMATCH,
                None,
                f"checkpoint {sc.position} (size {cp.size}) has root {cp.root.hex()[:16]}…, "
                f"the replayed entries give {replayed.hex()[:16]}…",
                {
                    "checkpoint": sc.position,
                    "size": cp.size,
                    "root": cp.root.hex(),
                    "replayed_root": replayed.hex(),
                    "note": sc.note,
                },
            )
        reported: set[tuple[int, int]] = set()
        for size, group in sorted(by_size.items()):
            roots = {sc.checkpoint.root for sc in group}
            if len(roots) > 1:
                first = group[0]
                for other in group[1:]:
                    if other.checkpoint.root != first.checkpoint.root:
                        reported.add((first.position, other.position))
                        add(
                            F.CHECKPOINT_SPLIT_VIEW,
                            None,
                            f"the log key signed two different trees of size {size} "
                            f"(checkpoints {first.position} and {other.position})",
                            {
                                "size": size,
                                "note1": first.note,
                                "note2": other.note,
                                "root1": first.checkpoint.root.hex(),
                                "root2": other.checkpoint.root.hex(),
                            },
                        )
        for bad in mismatching:
            witness = next(
                (
                    good
                    for good in sorted(matching, key=lambda s: s.checkpoint.size)
                    if good.checkpoint.size > bad.checkpoint.size
                ),
                None,
            )
            if witness is None:
                continue
            s1, s2 = bad.checkpoint.size, witness.checkpoint.size
            proof = self.tree.consistency_proof(s1, s2) if s1 >= 1 else []
            try:
                merkle.verify_consistency(
                    s1, s2, proof, bad.checkpoint.root, witness.checkpoint.root
                )
                error = "consistency proof unexpectedly verified"
            except ConsistencyProofError as exc:
                error = str(exc)
            add(
                F.CHECKPOINT_SPLIT_VIEW,
                None,
                f"the log key signed checkpoint {bad.position} (size {s1}), which is not a "
                f"prefix of the tree of its checkpoint {witness.position} (size {s2})",
                {
                    "size1": s1,
                    "size2": s2,
                    "note1": bad.note,
                    "note2": witness.note,
                    "proof": _hexes(proof),
                    "error": error,
                },
            )
        good = [sc for sc in matching if sc.witnessed]
        if good:
            self.latest = max(good, key=lambda s: (s.checkpoint.size, -s.position))
        if n and self.latest is None:
            self.sink.add(
                F.CHECKPOINT_NONE,
                None,
                "no checkpoint in the copy verifies against the trust file and the replayed "
                "entries: nothing signed commits to them",
                {"checkpoints": len(self.signed)},
            )
        elif self.latest is not None and self.latest.checkpoint.size < n:
            size = self.latest.checkpoint.size
            self.sink.add(
                F.LOG_UNWITNESSED_TAIL,
                size,
                f"entries {size}..{n - 1} ({n - size}) come after the last checkpoint with the "
                f"witness quorum (checkpoint {self.latest.position}, size {size}): checked, "
                "but no witness vouches for them",
                {
                    "checkpoint": self.latest.position,
                    "checkpoint_size": size,
                    "entries": n,
                    "unwitnessed": n - size,
                },
            )

    # ------------------------------------------------------------------ witness time

    def time_tolerance(self) -> int:
        """Seconds of tolerance for :meth:`_witness_time`: the genesis RuleSet's
        ``time_tolerance_seconds`` (900 for a generic log)."""
        state = self.state
        if state is None or state.definition is None:
            return DEFAULT_TIME_TOLERANCE
        return state.rules.time_tolerance_seconds

    def _too_early(self, i: int, t: int, lower: int, previous: tuple[int, int, int]) -> None:
        """Report entry ``i`` claiming ``t``, earlier than ``lower``: the latest cosignature of
        ``previous`` (size, latest stamp, position), a checkpoint not covering it, minus the
        tolerance."""
        size, stamp, position = previous
        self.sink.add(
            F.RULE_TIME_INCONSISTENT,
            i,
            f"entry {i} claims {_iso_us(t)}, earlier than the latest cosignature "
            f"({_iso(stamp)}) of checkpoint {position} (size {size}) that does not cover it, "
            f"minus the tolerance of {self.time_tolerance()} s",
            {
                "claimed_time": t,
                "bound": lower,
                "bound_kind": "not_before",
                "checkpoint": position,
                "checkpoint_size": size,
                "cosignature_timestamp": stamp,
                "tolerance_seconds": self.time_tolerance(),
            },
        )

    def _witness_time(self) -> None:
        """Bind every entry's claimed time to the witnesses' cosignature times (auditing.md 10):
        not later than the earliest cosignature of the first quorum checkpoint covering the
        entry + tolerance, not earlier than the latest cosignature of the quorum checkpoint
        before it - tolerance."""
        n = self.size
        # per witnessed tree size: the earliest and the latest trusted cosignature timestamp,
        # over every note of that tree that meets the quorum
        spans: dict[int, tuple[int, int, int]] = {}
        for sc in self.signed:
            size = sc.checkpoint.size
            if not sc.witnessed or not sc.witnesses or size > n or size == 0:
                continue
            if self.tree.root(size) != sc.checkpoint.root:
                continue
            stamps = [ts for _, ts in sc.witnesses]
            lo, hi = min(stamps), max(stamps)
            old = spans.get(size)
            if old is None:
                spans[size] = (lo, hi, sc.position)
            else:
                spans[size] = (min(old[0], lo), max(old[1], hi), old[2])
        if not spans:
            return
        tol_us = self.time_tolerance() * 1_000_000
        sizes = sorted(spans)
        times = self.times
        add = self.sink.add
        start = 0
        previous: tuple[int, int, int] | None = None  # (size, latest stamp, position)
        for size in sizes:
            lo, hi, position = spans[size]
            upper = lo * 1_000_000 + tol_us
            lower = None if previous is None else previous[1] * 1_000_000 - tol_us
            for i in range(start, size):
                t = times[i]
                if t == _NO_TIME:
                    continue
                if t > upper:
                    add(
                        F.RULE_TIME_INCONSISTENT,
                        i,
                        f"entry {i} claims {_iso_us(t)}, later than the earliest cosignature "
                        f"({_iso(lo)}) of checkpoint {position} (size {size}) that first covers "
                        f"it, plus the tolerance of {self.time_tolerance()} s",
                        {
                            "claimed_time": t,
                            "bound": upper,
                            "bound_kind": "not_after",
                            "checkpoint": position,
                            "checkpoint_size": size,
                            "cosignature_timestamp": lo,
                            "tolerance_seconds": self.time_tolerance(),
                        },
                    )
                elif lower is not None and t < lower and previous is not None:
                    self._too_early(i, t, lower, previous)
            start = size
            previous = (size, hi, position)
        if previous is not None:  # the unwitnessed tail: only the lower bound applies
            lower = previous[1] * 1_000_000 - tol_us
            for i in range(start, n):
                t = times[i]
                if t != _NO_TIME and t < lower:
                    self._too_early(i, t, lower, previous)

    def _prior(self, since: str, what: str) -> dict[str, Any]:
        """Check a checkpoint seen before (``--since`` or the trust file's pin, named by
        ``what`` in the messages): it must verify with the trust file and the copy must extend
        it consistently. Returns the report's ``since`` / ``pinned`` object."""
        trust = self.trust
        add = self.sink.add
        try:
            verified = verify_checkpoint_detailed(
                since, trust.log_key, list(trust.witnesses), trust.quorum
            )
        except (CheckpointError, UsageError) as exc:
            add(
                F.SINCE_UNVERIFIED,
                None,
                f"{what} does not verify with the trust file: {exc}",
                {"since_note": since, "what": what},
            )
            return {"verified": False}
        cp = verified.checkpoint
        info: dict[str, Any] = {
            "verified": True,
            "size": cp.size,
            "root": cp.root.hex(),
            "consistent": False,
        }
        n = self.size
        if cp.size > n:
            if self.complete:
                add(
                    F.SINCE_BEYOND_LOG,
                    None,
                    f"{what} commits to {cp.size} entries, the copy holds only "
                    f"{n}: the log was rolled back or truncated",
                    {"since_note": since, "since_size": cp.size, "entries": n, "what": what},
                )
            return info
        ref = self.latest
        if ref is not None and ref.checkpoint.size >= cp.size:
            size2, root2, note2 = ref.checkpoint.size, ref.checkpoint.root, ref.note
        else:
            size2, root2, note2 = n, self.tree.root(n), None
        if cp.size == 0:
            ok = cp.root == merkle.EMPTY_ROOT
            proof: list[bytes] = []
            error = "" if ok else "a tree of size 0 must have the empty root"
        else:
            proof = self.tree.consistency_proof(cp.size, size2)
            try:
                merkle.verify_consistency(cp.size, size2, proof, cp.root, root2)
                ok, error = True, ""
            except ConsistencyProofError as exc:
                ok, error = False, str(exc)
        if ok:
            info["consistent"] = True
            return info
        add(
            F.FORK_INCONSISTENT,
            None,
            f"fork evidence: {what} (size {cp.size}) is not consistent with "
            f"this log (size {size2}): {error}",
            {
                "what": what,
                "since_note": since,
                "log_note": note2,
                "size1": cp.size,
                "size2": size2,
                "root1": cp.root.hex(),
                "root2": root2.hex(),
                "proof": _hexes(proof),
                "error": error,
            },
        )
        return info

    # ------------------------------------------------------------------ election end

    def public_tier_items(self, rules: RuleSet | None) -> list[EndItem]:
        """Under the ``minimal`` public profile, the finding that names what this (public) audit
        did not check, first among the end findings; none under ``full``. The registrations are
        counted log-wide (the parent's count when the replay is sharded)."""
        if rules is None or rules.public_profile != PublicProfile.MINIMAL:
            return []
        registrations = self.events.get(VoterRegisteredV2.TYPE, 0)
        proxies = self.events.get(ProxyAuthorisedV2.TYPE, 0)
        details = {
            t: self.events[t]
            for t in sorted(MINIMAL_SCHEMAS)
            if t != VoterRegisteredV2.TYPE and self.events.get(t)
        }
        message = (
            f"public profile minimal: the age (min_age {rules.min_age}) and the non-local "
            f"basis evidence (years_resident, approval_ref) of {registrations} registration(s) "
            f"are committed (c_birth, c_basis), and so is the exact relationship of {proxies} "
            "proxy(ies) (c_rel; the public check is close_relative), so this public audit did "
            "not check rules voter.underage, voter.basis_invalid's evidence and "
            "proxy.not_close_relative's relationship; the details behind the removal codes, "
            "objections, vetting decisions, withdrawals and revocations "
            f"({sum(details.values())} entries) are committed too (c_reason, c_grounds); an "
            "authorised audit with the openings checks them"
        )
        evidence = {
            "profile": rules.public_profile,
            "unverified_rules": [
                C.VOTER_UNDERAGE,
                C.VOTER_BASIS_INVALID,
                C.PROXY_NOT_CLOSE_RELATIVE,
            ],
            "registrations": registrations,
            "proxies": proxies,
            "committed_details": details,
        }
        return [((0,), F.PROFILE_PUBLIC_UNVERIFIED, None, message, evidence)]

    def _election_end(self, state: ElectionState) -> None:
        if self.size and state.definition is None:
            return  # every entry already reported rule.genesis.missing
        self.add_end_items([*self.public_tier_items(state.rules), *self.election_end_items(state)])

    def eligibility(self) -> EligibilityState | None:
        """The eligibility sample of the replayed log (None without the election replay)."""
        return None if self.state is None else self.state.eligibility

    def add_end_items(self, items: Iterable[EndItem]) -> None:
        """Add end findings to the sink in the order of their keys."""
        for _, code, index, message, evidence in sorted(items, key=lambda item: item[0]):
            self.sink.add(code, index, message, evidence)

    def election_end_items(
        self, state: ElectionState, owned: Callable[[str], bool] | None = None
    ) -> list[EndItem]:
        """The election's loose ends (incomplete communities, unclosed units, unopened boxes,
        undeclared results, small and over-returned counting batches) of the communities
        ``owned`` says (all by default), each with its sort key; sets :attr:`progress`."""
        items: list[EndItem] = []
        n = 0

        def add(key: tuple[Any, ...], code: str, index: int | None, message: str, ev: Any) -> None:
            nonlocal n
            n += 1
            items.append(((*key, n), code, index, message, ev))

        mine = owned or _everything
        self.progress = {cid: cp for cid, cp in election_progress(state).items() if mine(cid)}
        for cid, cp in self.progress.items():
            if cp.complete:
                continue
            where = f", round {cp.round}" if cp.round is not None else ""
            add(
                (1, cid),
                F.ELECTION_INCOMPLETE,
                None,
                f"community {cid} is not complete: it reached phase {cp.phase}{where}; "
                f"pending: {'; '.join(cp.pending) or 'final results'}",
                {
                    "community": cid,
                    "phase": cp.phase,
                    "round": cp.round,
                    "pending": list(cp.pending),
                    "what": "community",
                },
            )
        _batches_end(state, mine, add)
        for unit in sorted(state.units.values(), key=lambda u: u.index):
            if not unit.closed and mine(unit.community):
                add(
                    (3, unit.index),
                    F.ELECTION_INCOMPLETE,
                    unit.index,
                    f"unit {unit.unit} ({unit.community}, round {unit.round}) was never closed",
                    {"unit": unit.unit, "community": unit.community, "what": "unit_open"},
                )
        for box in sorted(state.boxes.values(), key=lambda b: b.box):
            if not box.opened and box.merged_into is None and mine(state.units[box.unit].community):
                add(
                    (4, box.box),
                    F.ELECTION_INCOMPLETE,
                    None,
                    f"box {box.box} (unit {box.unit}) was sealed but never opened",
                    {"box": box.box, "unit": box.unit, "what": "box_unopened"},
                )
        for cid, cs in sorted(state.communities.items()):
            if not mine(cid):
                continue
            for gid, ge in sorted(cs.group_elections.items()):
                if ge.declared is None and (ge.issued or ge.serials):
                    add(
                        (5, cid),
                        F.ELECTION_INCOMPLETE,
                        None,
                        f"{cid} group {gid}: {ge.issued} household ballots issued, "
                        f"{len(ge.serials)} cast, but no group result declared",
                        {
                            "community": cid,
                            "group": gid,
                            "issued": ge.issued,
                            "recorded": len(ge.serials),
                            "what": "no_group_result",
                        },
                    )
            for number, rs in sorted(cs.rounds.items()):
                if rs.declared is None and (rs.issued or rs.serials):
                    add(
                        (5, cid),
                        F.ELECTION_INCOMPLETE,
                        None,
                        f"{cid} round {number}: {rs.issued} ballots issued, "
                        f"{len(rs.serials)} recorded, but no result declared",
                        {
                            "community": cid,
                            "round": number,
                            "issued": rs.issued,
                            "recorded": len(rs.serials),
                            "what": "no_result",
                        },
                    )
        return items

    def close(self) -> None:
        """Release the temporary leaf file of the replayed tree."""
        self.tree.close()

    # ------------------------------------------------------------------ summaries

    def tallies(self) -> dict[str, Any]:
        """:meth:`results` as JSON (the report's ``tallies``)."""
        return {cid: c.to_dict() for cid, c in self.results().items()}

    def results(self) -> dict[str, CommunityResults]:
        """Per community: roll size, electorate, units and every round's recomputed result."""
        state = self.state
        if state is None or state.definition is None:
            return {}
        return community_results(state)

    def checkpoint_summary(self) -> dict[str, Any] | None:
        """The latest verified checkpoint that matches the replay, as JSON."""
        sc = self.latest
        if sc is None:
            return None
        return {
            "size": sc.checkpoint.size,
            "root": sc.checkpoint.root.hex(),
            "witnesses": [
                {"name": name, "timestamp": ts, "time": _iso(ts)} for name, ts in sc.witnesses
            ],
            "note": sc.note,
            "position": sc.position,
        }

    def communities(self) -> dict[str, Any]:
        """Per community id: ``phase``, ``round``, ``complete``, ``pending`` (JSON)."""
        return {cid: cp.to_dict() for cid, cp in self.progress.items()}


def _iso(seconds: int) -> str:
    """ISO 8601 UTC of a POSIX time in seconds (``"out of range"`` if it has none)."""
    try:
        return _dt.datetime.fromtimestamp(seconds, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return "out of range"


def _iso_us(micros: int) -> str:
    """ISO 8601 UTC of a claimed time in µs."""
    try:
        t = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(microseconds=micros)
    except OverflowError:
        return f"{micros} µs"
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _batches_end(
    state: ElectionState,
    mine: Callable[[str], bool],
    add: Callable[[tuple[Any, ...], str, int | None, str, Any], None],
) -> None:
    """Per round: counting batches below ``min_count_batch`` (``secrecy.small_batch``) and
    batches with more ballots recorded than issued (a warning; whether the round is void is
    the round's own test, in its recomputed result)."""
    minimum = state.rules.min_count_batch
    for cid, cs in sorted(state.communities.items()):
        if not mine(cid):
            continue
        for number in sorted(cs.rounds):
            batches = state.counting_batches(cid, number)
            for cb in batches:
                if cb.recorded and cb.issued < minimum:
                    add(
                        (2, cid),
                        F.SECRECY_SMALL_BATCH,
                        None,
                        f"{cid} round {number}: {cb.recorded} ballot(s) counted from box "
                        f"{cb.box}, into whose batch only {cb.issued} were issued (minimum "
                        f"{minimum})",
                        {
                            "community": cid,
                            "round": number,
                            "box": cb.box,
                            "units": list(cb.units),
                            "issued": cb.issued,
                            "recorded": cb.recorded,
                            "min_count_batch": minimum,
                        },
                    )
            for units, issued, recorded in _over_returned(state, batches):
                add(
                    (2, cid),
                    rule_finding_code(UNIT_RETURNED_EXCEEDS_ISSUED),
                    min(state.units[u].index for u in units),
                    f"{cid} round {number}: {recorded} ballots recorded from the batch of "
                    f"unit(s) {', '.join(units)}, {issued} issued into it (the round's own "
                    "returned and issued totals decide whether it is void)",
                    {
                        "community": cid,
                        "round": number,
                        "units": list(units),
                        "issued": issued,
                        "recorded": recorded,
                    },
                )


def _over_returned(
    state: ElectionState, batches: Sequence[CountingBatch]
) -> list[tuple[tuple[str, ...], int, int]]:
    """Groups of counting batches that share a unit (usually one batch each) with more ballots
    recorded than issued: ``(units, issued, recorded)`` per group."""
    parent: dict[str, str] = {}

    def find(u: str) -> str:
        while parent.setdefault(u, u) != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u

    for cb in batches:
        first = find(cb.units[0]) if cb.units else None
        for u in cb.units[1:]:
            root = find(u)
            if first is not None and root != first:
                parent[root] = first
    recorded: dict[str, int] = {}
    for cb in batches:
        if cb.units:
            root = find(cb.units[0])
            recorded[root] = recorded.get(root, 0) + cb.recorded
    members: dict[str, list[str]] = {}
    for u in list(parent):
        members.setdefault(find(u), []).append(u)
    out = []
    for root, units in sorted(members.items()):
        issued = sum(state.units[u].issued for u in units if u in state.units)
        got = recorded.get(root, 0)
        if got > issued:
            out.append((tuple(sorted(units)), issued, got))
    return out


def _everything(cid: str) -> bool:
    return True


def community_results(
    state: ElectionState, owned: Callable[[str], bool] = _everything
) -> dict[str, CommunityResults]:
    """Per community ``owned`` says (all by default): roll size, electorate, units and every
    round's recomputed result (:meth:`Replay.results`)."""
    out: dict[str, CommunityResults] = {}
    for cid, cs in sorted(state.communities.items()):
        if not owned(cid):
            continue
        rounds: dict[int, RoundResults] = {}
        for number, rs in sorted(cs.rounds.items()):
            try:
                result = state.result(cid, number)
            except ElectlogError:
                continue
            declared = rs.declared
            matches: bool | None = None
            if declared is not None:
                try:
                    matches = not compare_declared(declared, result)
                except ElectlogError:
                    matches = False
            batches = state.counting_batches(cid, number)
            counted = [cb.issued for cb in batches if cb.recorded]
            rounds[number] = RoundResults(
                kind=rs.kind,
                declared=declared is not None,
                matches_declared=matches,
                result=result,
                batches={
                    cb.box: BatchSummary(
                        units=tuple(cb.units), issued=cb.issued, recorded=cb.recorded
                    )
                    for cb in batches
                },
                smallest_anonymity_set=min(counted) if counted else None,
            )
        units = {
            u.unit: UnitSummary(round=u.round, kind=u.kind, issued=u.issued, recorded=u.recorded)
            for u in sorted(state.units.values(), key=lambda u: u.index)
            if u.community == cid
        }
        groups: dict[str, GroupResults] = {}
        for gid, ge in sorted(cs.group_elections.items()):
            try:
                gresult = state.group_result(cid, gid)
            except ElectlogError:
                continue
            gmatches: bool | None = None
            if ge.declared is not None:
                try:
                    gmatches = not compare_declared(ge.declared, gresult)
                except ElectlogError:
                    gmatches = False
            groups[gid] = GroupResults(
                declared=ge.declared is not None, matches_declared=gmatches, result=gresult
            )
        out[cid] = CommunityResults(
            community=cid,
            name=cs.definition.name,
            mode=str(cs.mode),
            roll=len(cs.roll),
            electorate=state.electorate(cid),
            units=units,
            rounds=rounds,
            groups=groups,
        )
    return out
