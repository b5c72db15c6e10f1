"""The order-preserving parallel verification pipeline.

Signature verification dominates an audit, and every entry can be checked on its own: canonical
decoding (:func:`electlog.audit._decoding.parse_entry`: the writers' rule, each part decoded
once) and the Ed25519 signature. Workers (``jobs`` processes) do exactly that for chunks of about
:data:`CHUNK_SIZE` entries, sent as lists of bytes; the parent gets the results back *in order*
and runs the checks that need order (author chains, Merkle tree, election rules) as a stream.
At most ``jobs + 2`` chunks are in flight, so memory does not grow with the log.

Each entry's result is an :data:`EntryResult`: a :class:`VerifiedEntry` for an entry that
decodes and verifies (its statement's fields, and ``secrecy``: ``None`` or the sorted names of
the voter-identifying and marks fields that appear together at the top level of the body), or a
:class:`RejectedEntry` for one that does not (the finding's code, message and evidence). Both
are named tuples: they cost what a plain tuple costs to build, pickle and unpack, which matters
on this path (one per entry, sent back from every worker).

The leaf hash is always computed, over the exact bytes, so the replayed Merkle tree covers bad
entries too.

Signatures are checked in bulk with :func:`electlog.keys.verify_many`, the writers' own strict
Ed25519 rule, on whichever backend :func:`electlog.keys.verify_backend` chose (libsodium through
PyNaCl when installed, about 1.5x faster than OpenSSL here; both give identical results).
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, NamedTuple, TypeAlias, TypeVar

from electlog._procs import worker_signals, workers_starting
from electlog._workers import Aside, Handler, Workers
from electlog.errors import AuditError, ElectlogError, UsageError
from electlog.events import _LEAF_HASH, SIGNATURE_CONTEXT
from electlog.keys import set_verify_backend, verify_backend, verify_many

from . import _decoding
from . import findings as F
from ._decoding import ParsedEntry, parse_entry

__all__ = [
    "BATCH",
    "CHUNK_SIZE",
    "Aside",
    "EntryResult",
    "RejectedEntry",
    "VerifiedEntry",
    "Verifier",
    "signature_backend",
    "verify_batches",
    "verify_chunk",
    "worker_signals",
    "workers_starting",
]

CHUNK_SIZE: Final = 2000
"""Entries per chunk sent to a worker."""
BATCH: Final = 250
"""Entries decoded and verified at a time where their replay follows in the same process (one
job; a shard worker): a chunk's 2,000 entries decoded at once no longer sit in the core's caches
when the replay reads them, 250 still do (the one-job audit of the 129,600-voter district took
2.5-4 % less time with 250 than with 2,000, and the same with 100; docs/benchmarks.md)."""


class VerifiedEntry(NamedTuple):
    """An entry that decodes canonically and whose signature verifies: its statement's fields."""

    leaf_hash: bytes
    log: str
    type: str
    schema: int
    author: bytes
    seq: int
    prev: bytes
    time: int
    body: dict[str, Any]
    secrecy: tuple[str, ...] | None
    """``None``, or the sorted names of the voter-identifying and marks fields that appear
    together at the top level of ``body`` (the secrecy lint's finding)."""


class RejectedEntry(NamedTuple):
    """An entry that does not decode or whose signature does not verify: the finding to add."""

    leaf_hash: bytes
    code: str
    """The finding code (:data:`~electlog.audit.findings.ENTRY_MALFORMED` or
    :data:`~electlog.audit.findings.ENTRY_SIGNATURE_INVALID`)."""
    message: str
    evidence: dict[str, Any]


EntryResult: TypeAlias = VerifiedEntry | RejectedEntry
"""One entry's verification result."""


def _field_names_from_schema() -> tuple[frozenset[str], frozenset[str]]:
    """Voter-identifying field names and marks field names of every election event schema."""
    from electlog.election.events import EVENT_SCHEMAS, identifying_fields

    identifying: set[str] = set()
    marks: set[str] = set()
    for cls in EVENT_SCHEMAS.values():
        identifying.update(identifying_fields(cls))
        marks.update(name for name, kind in cls._FIELDS if kind.marks)
    return frozenset(identifying), frozenset(marks)


IDENTIFYING_FIELDS, MARKS_FIELDS = _field_names_from_schema()
"""Body field names that identify a voter, and names that carry ballot marks. The secrecy lint
reports a body whose top level has names from both sets, whatever its event type."""

_GC_THRESHOLD: Final = (50_000, 20, 20)
_new_verified: Any = tuple.__new__
A = TypeVar("A")
R = TypeVar("R")


def signature_backend() -> str:
    """The Ed25519 verification backend in use (:func:`electlog.keys.verify_backend`)."""
    return verify_backend()


# --------------------------------------------------------------------------- the worker


def _secrecy(body: dict[str, Any]) -> tuple[str, ...] | None:
    keys = body.keys()
    if IDENTIFYING_FIELDS.isdisjoint(keys) or MARKS_FIELDS.isdisjoint(keys):
        return None
    return tuple(sorted((IDENTIFYING_FIELDS | MARKS_FIELDS).intersection(keys)))


def verify_chunk(chunk: list[bytes]) -> list[EntryResult]:
    """Decode and verify a chunk of entries (runs in a worker, or inline with one job)."""
    parsed: list[ParsedEntry | RejectedEntry] = []
    triples: list[tuple[bytes, bytes, bytes]] = []
    # Each stage in a loop of its own (the leaf hashes, the decode, the signatures, the
    # results): run stage by stage, each one's code stays in the core's caches for the whole
    # batch (the leaf hashes apart from the decode: 0.5 µs an entry less, docs/benchmarks.md).
    leaves: list[bytes] = []
    add_leaf = leaves.append
    leaf_hash = _LEAF_HASH.copy
    for data in chunk:
        h = leaf_hash()  # entry_leaf_hash(data), inline
        h.update(data)
        add_leaf(h.digest())
    fast = _decoding.fast_path
    context = SIGNATURE_CONTEXT
    for data in chunk:
        # parse_entry(data): its fast path first, without the call that dispatches to it
        entry = fast(data) if type(data) is bytes else None
        if entry is None:
            try:
                entry = parse_entry(data)
            except ElectlogError as exc:
                parsed.append(
                    RejectedEntry(
                        leaves[len(parsed)], F.ENTRY_MALFORMED, str(exc), {"size": len(data)}
                    )
                )
                continue
        parsed.append(entry)
        triples.append((entry[0], entry[1], context + entry[2]))
    verdicts = iter(verify_many(triples))
    out: list[EntryResult] = []
    append = out.append
    identifying = IDENTIFYING_FIELDS
    for leaf, item in zip(leaves, parsed, strict=True):
        if isinstance(item, RejectedEntry):
            append(item)
            continue
        pub, sig, _, log, etype, schema, author, seq, prev, time, body = item
        if not next(verdicts):
            append(
                RejectedEntry(
                    leaf,
                    F.ENTRY_SIGNATURE_INVALID,
                    f"signature of {etype!r} by author {author.hex()[:16]}… seq {seq} "
                    "does not verify",
                    {
                        "author": author.hex(),
                        "seq": seq,
                        "type": etype,
                        "public_key": pub.hex(),
                        "signature": sig.hex(),
                    },
                )
            )
            continue
        append(  # tuple.__new__: a NamedTuple's own __new__ is Python
            _new_verified(
                VerifiedEntry,
                (
                    leaf,
                    log,
                    etype,
                    schema,
                    author,
                    seq,
                    prev,
                    time,
                    body,
                    None if identifying.isdisjoint(body) else _secrecy(body),
                ),
            )
        )
    return out


def verify_batches(chunk: list[bytes]) -> Iterator[list[EntryResult]]:
    """:func:`verify_chunk` over ``chunk``, :data:`BATCH` entries at a time, where the replay of
    each batch follows in the same process (while its entries are in the core's caches)."""
    if len(chunk) <= BATCH:
        yield verify_chunk(chunk)
        return
    for start in range(0, len(chunk), BATCH):
        yield verify_chunk(chunk[start : start + BATCH])


def _verify_serve(backend: str, w: int) -> Handler:
    """A verification worker's handler (in its process): a chunk's results."""
    gc.set_threshold(*_GC_THRESHOLD)
    set_verify_backend(backend)
    return _verify_message


def _verify_message(msg: tuple[Any, ...]) -> list[EntryResult]:
    return verify_chunk(msg[0])


def audit_workers(jobs: int, serve: Callable[[int], Handler]) -> Workers:
    """The audit's :class:`~electlog._workers.Workers`: a lost or failed worker is an
    :class:`AuditError` naming it, and one process runs the store's check beside them."""
    return Workers(
        jobs,
        serve,
        error=AuditError,
        name="audit worker {w}",
        beside="the audit's process beside the replay",
    )


# --------------------------------------------------------------------------- the pipeline


class Verifier:
    """Runs :func:`verify_chunk` over a stream of chunks with ``jobs`` processes, yielding the
    results in input order with a bounded number of chunks in flight. ``jobs=1`` runs inline.

    Use as a context manager; create it *before* opening database connections or threads so the
    forked workers inherit nothing they could disturb.

    The workers are :class:`~electlog._workers.Workers`, the chunks dealt to them in turn: a worker
    that ends while the audit waits for it (killed, even in the middle of a reply, or a service
    manager's SIGTERM to the whole process group, which ends the workers since they reset the
    handlers they inherit) makes the audit fail with :class:`~electlog.errors.AuditError`
    instead of waiting for its chunk forever.
    """

    def __init__(self, jobs: int = 1) -> None:
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            raise UsageError(f"jobs must be a positive integer, got {jobs!r}")
        self.jobs = jobs
        self.workers: Workers | None = None

    def __enter__(self) -> Verifier:
        if self.jobs > 1:
            workers = audit_workers(self.jobs, functools.partial(_verify_serve, verify_backend()))
            self.workers = workers.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close(abandon=exc_info[0] is not None)

    def close(self, abandon: bool = False) -> None:
        """Stop the workers (idempotent): once their work is done, or at once with ``abandon``
        (the audit failed: chunks still in flight are of no use)."""
        workers, self.workers = self.workers, None
        if workers is not None:
            workers.close(abandon)

    def aside(self, fn: Callable[[A], R], arg: A) -> Aside[R]:
        """Start ``fn(arg)`` beside the verification: in a process of its own when there are
        workers (once; ``fn``, ``arg`` and the result must pickle), else here, now (its result
        is then in before the first entry is verified)."""
        workers = self.workers
        if workers is None:
            value = fn(arg)
            return Aside(lambda: value, lambda: True)
        return workers.aside(fn, arg)

    def map(self, chunks: Iterable[list[bytes]]) -> Iterator[list[EntryResult]]:
        """Verify every chunk; yields the results in order: one list per chunk from the
        workers, one per :data:`BATCH` entries of it inline (one job).

        If iterating ``chunks`` raises (an unreadable source), the chunks read before are still
        verified and yielded, then the exception propagates.
        """
        workers = self.workers
        if workers is None:  # the results go to the replay here: BATCH at a time
            for chunk in chunks:
                yield from verify_batches(chunk)
            return
        jobs = self.jobs
        limit = jobs + 2  # chunks in flight
        sent = received = 0  # chunk k goes to worker k % jobs, which answers in order
        iterator = iter(chunks)
        while True:
            try:
                chunk = next(iterator)
            except StopIteration:
                break
            except BaseException:
                while received < sent:
                    received += 1
                    yield workers.receive((received - 1) % jobs)
                raise
            workers.send(sent % jobs, (chunk,))
            sent += 1
            if sent - received >= limit:
                received += 1
                yield workers.receive((received - 1) % jobs)
        while received < sent:
            received += 1
            yield workers.receive((received - 1) % jobs)
