"""The log service without HTTP: admit signed entries, serve tiles, publish through witnesses.

:class:`LogService` wraps a :class:`~electlog.Log` over a store (and, when the log's first entry
is an ``election.defined``, the :class:`~electlog.election.Election` replayed from it). Its
methods are what the HTTP app (``_logserver``) calls:

* :meth:`LogService.submit`: admit a batch of signed entries, all or nothing, through the checks
  of :meth:`Log.append_many` (and the election's rules); a refusal is a :class:`Refused` carrying
  a :class:`Problem` (RFC 9457) that names the error code, the batch position and the field.
* :meth:`LogService.published_note` and :meth:`LogService.tile`: the C2SP tlog-tiles read API,
  computed from the store, never beyond the latest published (quorum-cosigned) checkpoint.
* :meth:`LogService.publish`: one publication attempt; :meth:`LogService.start` runs the
  publishing loop (every N new entries or S seconds, backoff after a failure) in a thread.

One lock serialises admissions (one writer); reads and the publisher share the store, whose
backends lock internally.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import attrs

from ..checkpoint import WitnessVerifier, verify_checkpoint_detailed
from ..election import Election, ElectionState, decode_event
from ..errors import (
    AuthorChainError,
    CheckpointError,
    DecodeError,
    ElectlogError,
    EntryError,
    NoteError,
    QuorumNotMetError,
    RuleViolation,
    SignatureError,
    StorageError,
    UsageError,
    WitnessError,
)
from ..events import AuthorHead, Entry, chain_break
from ..log import Cosigner, Log, Receipt
from ..note import NoteSigner
from ..publish.tiles import TILE_HEIGHT, TILE_WIDTH, bundle_bytes, parse_tile_path, tile_bytes
from ..store.base import Store

__all__ = ["MAX_ENTRIES_PER_REQUEST", "LogService", "Problem", "Refused", "decode_submission"]

_log = logging.getLogger("electlog.serve")

MAX_ENTRIES_PER_REQUEST: Final = 1000
"""Default cap on the entries of one submission (more: 413)."""

PROBLEM_TYPE: Final = "urn:electlog:problem:"
"""Prefix of a problem document's ``type``; the electlog error code follows."""

_GENESIS_TYPE: Final = "election.defined"
_TILE_CACHE_BYTES: Final = 64 << 20  # full tiles and bundles kept in memory (never change)


@attrs.frozen(kw_only=True)
class Problem:
    """An RFC 9457 problem document: why a request was refused.

    ``code`` is the electlog error code (an auditor finding code such as
    ``entry.signature_invalid`` or ``chain.seq_gap``, an election rule code such as
    ``voter.duplicate``, or a ``request.*`` code); ``entry`` the position of the refused entry
    in the request (0-based) and ``field`` the member or statement field at fault, when known."""

    status: int
    code: str
    title: str
    detail: str
    entry: int | None = None
    field: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The document as a JSON object (``application/problem+json``)."""
        doc: dict[str, Any] = {
            "type": PROBLEM_TYPE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if self.entry is not None:
            doc["entry"] = self.entry
        if self.field is not None:
            doc["field"] = self.field
        return doc


class Refused(ElectlogError):
    """A submission was refused; nothing of it was appended. ``problem`` says why."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(f"{problem.code}: {problem.detail}")


def _refuse(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    entry: int | None = None,
    field: str | None = None,
) -> Refused:
    return Refused(
        Problem(status=status, code=code, title=title, detail=detail, entry=entry, field=field)
    )


def _too_many(count: int, limit: int) -> Refused:
    return _refuse(
        413,
        "request.too_many_entries",
        "Too many entries",
        f"{count} entries in one request; at most {limit}",
        field="entries",
    )


def _strip_item(message: str) -> str:
    """A batch error's message without the ``batch item N:`` prefix the log adds."""
    head, sep, rest = message.partition(": ")
    return rest if sep and head.startswith("batch item ") else message


class _WatchedWitness:
    """A :class:`~electlog.Cosigner` that logs every refusal (origin, witness, reason: never a
    key) and, after a failure, is not asked again before a backoff has passed (doubling from
    ``initial`` up to ``maximum`` seconds, reset by a cosignature)."""

    def __init__(
        self, inner: Cosigner, origin: str, initial: float, maximum: float, clock: Clock
    ) -> None:
        self._inner = inner
        self._origin = origin
        self._initial = initial
        self._maximum = maximum
        self._clock = clock
        self._failures = 0
        self._not_before = 0.0

    @property
    def verifier(self) -> WitnessVerifier:
        return self._inner.verifier

    def add_checkpoint(self, note: str, prove: Callable[[int, int], Sequence[bytes]]) -> str:
        name = self._inner.verifier.name
        now = self._clock()
        if now < self._not_before:
            raise WitnessError(
                name, f"not asked: retrying in {self._not_before - now:.1f} s (backoff)"
            )
        try:
            line = self._inner.add_checkpoint(note, prove)
        except ElectlogError as exc:
            self._failures += 1
            delay = min(self._maximum, self._initial * 2 ** min(self._failures - 1, 30))
            self._not_before = self._clock() + delay
            reason = str(exc)
            _log.warning(
                "origin %s: witness %s did not cosign (%s); retrying in %.1f s",
                self._origin,
                name,
                reason,
                delay,
            )
            raise
        if self._failures:
            _log.warning("origin %s: witness %s cosigns again", self._origin, name)
        self._failures = 0
        self._not_before = 0.0
        return line


Clock = Callable[[], float]


class LogService:
    """A log served to polling-station software, auditors and monitors (see the module
    docstring).

    ``store`` holds the log; ``log_key`` signs its checkpoints (its name is the origin);
    ``witnesses`` (e.g. :class:`~electlog.net.WitnessClient`) cosign them and ``quorum`` of them
    must, for a checkpoint to be published. ``checkpoint_every`` / ``checkpoint_interval``: the
    publishing loop publishes once that many entries are new, or that many seconds after the
    last attempt when the log grew at all. After a failed attempt it waits ``retry_initial``
    seconds, doubling up to ``retry_max``; each witness that failed is likewise not asked again
    before its own backoff. ``max_entries`` caps a submission.
    """

    def __init__(
        self,
        store: Store,
        log_key: NoteSigner,
        witnesses: Sequence[Cosigner],
        quorum: int,
        *,
        checkpoint_every: int = 1000,
        checkpoint_interval: float = 10.0,
        max_entries: int = MAX_ENTRIES_PER_REQUEST,
        retry_initial: float = 1.0,
        retry_max: float = 60.0,
        clock: Clock = time.monotonic,
    ) -> None:
        if not isinstance(store, Store):
            raise UsageError("LogService needs a Store (see electlog.store.open_store)")
        if not isinstance(log_key, NoteSigner):
            raise UsageError("LogService needs the log's NoteSigner key")
        if log_key.name != store.origin:
            raise UsageError(
                f"the log key is named {log_key.name!r}; the store holds log {store.origin!r}"
            )
        for name, value in (("checkpoint_every", checkpoint_every), ("max_entries", max_entries)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(f"{name} must be a positive int, not {value!r}")
        for name, number in (
            ("checkpoint_interval", checkpoint_interval),
            ("retry_initial", retry_initial),
            ("retry_max", retry_max),
        ):
            if isinstance(number, bool) or not isinstance(number, int | float) or number <= 0:
                raise UsageError(f"{name} must be a positive number of seconds, not {number!r}")
        witnesses = list(witnesses)
        verifiers = [w.verifier for w in witnesses if isinstance(w, Cosigner)]
        if len(verifiers) != len(witnesses):
            raise UsageError("witnesses must be Cosigners (e.g. electlog.net.WitnessClient)")
        if isinstance(quorum, bool) or not isinstance(quorum, int):
            raise UsageError(f"quorum must be an int, not {quorum!r}")
        if not 1 <= quorum <= len(witnesses):
            raise UsageError(f"quorum {quorum} is outside 1..{len(witnesses)} witnesses")
        self._log = Log(store)
        self._key = log_key
        self._verifier = log_key.verifier()
        self._witness_keys = verifiers
        self._witnesses: list[Cosigner] = [
            _WatchedWitness(w, store.origin, retry_initial, retry_max, clock) for w in witnesses
        ]
        self._quorum = quorum
        self._every = checkpoint_every
        self._interval = float(checkpoint_interval)
        self._retry_initial = float(retry_initial)
        self._retry_max = float(retry_max)
        self._clock = clock
        self.max_entries = max_entries
        self._write = threading.Lock()  # one writer: admissions are serialised
        self._publish_lock = threading.Lock()  # one publication at a time
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cache: dict[str, bytes] = {}
        self._cached_bytes = 0
        self._cache_lock = threading.Lock()
        self._size = store.size()
        self._published_size, self._published_note = self._find_published()
        self._election = self._open_election()

    # ------------------------------------------------------------------ state

    @property
    def log(self) -> Log:
        """The served log."""
        return self._log

    @property
    def origin(self) -> str:
        """The log's origin."""
        return self._log.origin

    @property
    def is_election(self) -> bool:
        """Whether submissions go through the election's rules (entry 0 is ``election.defined``)."""
        return self._election is not None

    def published_note(self) -> str | None:
        """The latest published checkpoint note, with its cosignatures (None before the first)."""
        return self._published_note

    @property
    def published_size(self) -> int:
        """The size of the latest published checkpoint (0 before the first)."""
        return self._published_size

    def _find_published(self) -> tuple[int, str | None]:
        """The latest stored checkpoint that carries the log key's signature and the quorum of
        these witnesses' cosignatures, and commits to the stored tree (a note stored by other
        means, without that quorum, is not served)."""
        for stored in reversed(self._log.checkpoints()):
            try:
                checked = verify_checkpoint_detailed(
                    stored.note, self._verifier, self._witness_keys, quorum=self._quorum
                )
            except (CheckpointError, NoteError):
                continue
            cp = checked.checkpoint
            if cp.size <= self._size and self._log.root(cp.size) == cp.root:
                return cp.size, stored.note
        return 0, None

    def _open_election(self) -> Election | None:
        """The election replayed from the log, when its first entry is an election's genesis."""
        if self._size == 0:
            return None
        first = self._log.get(0)
        if first.statement.type != _GENESIS_TYPE:
            return None
        return Election.open(self._log, first.author)

    # ------------------------------------------------------------------ submissions

    def submit(self, entries: Sequence[bytes]) -> list[Receipt]:
        """Admit the signed entries ``entries`` (exact bytes, in order), all or nothing.

        Raises :class:`Refused` with the problem document when any entry is refused (nothing is
        appended then), :class:`~electlog.errors.StorageError` when the store fails."""
        if len(entries) > self.max_entries:
            raise _too_many(len(entries), self.max_entries)
        if not entries:
            return []
        parsed = [self._parse(i, data) for i, data in enumerate(entries)]
        with self._write:
            self._check_chains(parsed)
            if self._election is not None or (
                self._size == 0 and parsed[0].statement.type == _GENESIS_TYPE
            ):
                self._check_events(parsed)
            receipts = self._append(parsed)
            self._size = receipts[-1].index + 1
        with self._wake:
            self._wake.notify_all()
        return receipts

    def _parse(self, i: int, data: bytes) -> Entry:
        try:
            entry = Entry.from_bytes(data, verify=True)
        except SignatureError as exc:
            raise _refuse(
                422,
                "entry.signature_invalid",
                "Signature does not verify",
                str(exc),
                entry=i,
                field="signature",
            ) from exc
        except (DecodeError, EntryError, UsageError) as exc:
            raise _refuse(
                422, "entry.malformed", "Malformed entry", str(exc), entry=i, field=f"entries[{i}]"
            ) from exc
        if entry.statement.log != self.origin:
            raise _refuse(
                422,
                "entry.wrong_log",
                "Entry signed for another log",
                f"entry is for log {entry.statement.log!r}, this log is {self.origin!r}",
                entry=i,
                field="log",
            )
        return entry

    def _check_chains(self, batch: Sequence[Entry]) -> None:
        """The author-chain rule against the store's heads and the batch's earlier entries,
        naming the code (the append below checks it again inside its transaction)."""
        heads: dict[bytes, AuthorHead | None] = {}
        for i, e in enumerate(batch):
            st = e.statement
            head = heads[st.author] if st.author in heads else self._log.author_head(st.author)
            expected = chain_break(head, st.seq, st.prev)
            if expected is not None:
                who = f"author {st.author.hex()[:16]}…"
                if st.seq != expected[0]:
                    raise _refuse(
                        409,
                        "chain.seq_gap",
                        "Author sequence number does not continue the chain",
                        f"{who} sequence number {st.seq}, expected {expected[0]}",
                        entry=i,
                        field="seq",
                    )
                raise _refuse(
                    409,
                    "chain.prev_mismatch",
                    "Entry does not link to the author's previous entry",
                    f"{who} seq {st.seq}: prev is not the leaf hash of seq {st.seq - 1}",
                    entry=i,
                    field="prev",
                )
            heads[st.author] = AuthorHead(st.seq, e.leaf_hash)

    def _check_events(self, batch: Sequence[Entry]) -> None:
        """Every entry of an election log must be an election event (named by position; the
        election's rules are checked by :meth:`Election.append_entries`)."""
        for i, e in enumerate(batch):
            try:
                decode_event(e.statement)
            except ElectlogError as exc:
                raise _refuse(
                    422, "event.malformed", "Not an election event", str(exc), entry=i, field="body"
                ) from exc

    def _append(self, batch: list[Entry]) -> list[Receipt]:
        if self._election is None and self._size == 0 and batch[0].statement.type == _GENESIS_TYPE:
            self._election = Election(self._log, ElectionState(batch[0].author))
        try:
            if self._election is not None:
                return self._election.append_entries(batch)
            return self._log.append_many(batch)
        except RuleViolation as exc:
            raise _refuse(
                422,
                exc.code,
                "Election rule violated",
                _strip_item(exc.detail),
                entry=exc.item,
            ) from exc
        except StorageError:
            raise
        except AuthorChainError as exc:  # another writer moved a chain since the check
            raise _refuse(409, "chain.break", "Author chain broken", _strip_item(str(exc))) from exc
        except EntryError as exc:
            code = "event.malformed" if self._election is not None else "entry.malformed"
            raise _refuse(422, code, "Entry refused", _strip_item(str(exc))) from exc
        except ElectlogError as exc:
            raise _refuse(422, "entry.refused", "Entry refused", _strip_item(str(exc))) from exc
        finally:
            if self._election is not None and len(self._log) == 0:
                self._election = None  # a refused genesis leaves a generic, empty log

    # ------------------------------------------------------------------ tiles

    def tile(self, rel: str) -> tuple[bytes, bool] | None:
        """The tlog-tiles resource at ``rel`` (``tile/<L>/<N>[.p/<W>]`` or
        ``tile/entries/<N>[.p/<W>]``) as ``(bytes, full)``, computed from the store; None if
        ``rel`` is not a canonical tile path or the tile is not within the published tree."""
        parsed = parse_tile_path(rel)
        if parsed is None:
            return None
        level, n, width = parsed
        size = self._published_size
        count = size >> (TILE_HEIGHT * (level or 0))
        if n * TILE_WIDTH + width > count:
            return None
        full = width == TILE_WIDTH
        if full:
            cached = self._cache.get(rel)
            if cached is not None:
                return cached, True
        store = self._log.store
        first = n * TILE_WIDTH
        data = (
            bundle_bytes(store, first, width)
            if level is None
            else tile_bytes(store, level, first, width)
        )
        if full:
            with self._cache_lock:
                if self._cached_bytes + len(data) > _TILE_CACHE_BYTES:
                    self._cache.clear()
                    self._cached_bytes = 0
                if rel not in self._cache:
                    self._cache[rel] = data
                    self._cached_bytes += len(data)
        return data, full

    # ------------------------------------------------------------------ publishing

    def publish(self) -> str | None:
        """One publication: sign a checkpoint of the whole log, collect cosignatures and store
        and serve it when the quorum cosigned. Returns the note, or None when nothing is new.
        Raises :class:`~electlog.errors.QuorumNotMetError` (nothing published)."""
        with self._publish_lock:
            size = len(self._log)
            if size <= self._published_size:
                return None
            try:
                note = self._log.publish_checkpoint(
                    self._key, self._witnesses, self._quorum, size=size
                )
            except QuorumNotMetError as exc:
                why = "; ".join(f"{name}: {reason}" for name, reason in exc.refusals)
                _log.warning(
                    "origin %s: quorum not met for size %d (%d of %d cosignatures; %s)",
                    self.origin,
                    size,
                    len(exc.cosigners),
                    self._quorum,
                    why,
                )
                raise
            self._published_note = note
            self._published_size = size
            _log.info("origin %s: published checkpoint of size %d", self.origin, size)
            return note

    def start(self) -> None:
        """Start the publishing loop in a background thread."""
        if self._thread is not None:
            raise UsageError("the publishing loop is already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="electlog-publish", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the publishing loop, letting a publication in progress finish (waits at most
        ``timeout`` seconds)."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _due(self, last_attempt: float, retry_at: float) -> float | None:
        """When the next publication is due (monotonic seconds), or None: nothing new."""
        new = self._size - self._published_size
        if new <= 0:
            return None
        if new >= self._every:
            return retry_at
        return max(last_attempt + self._interval, retry_at)

    def _loop(self) -> None:
        last_attempt = self._clock()
        retry_at = 0.0
        delay = self._retry_initial
        while not self._stop.is_set():
            with self._wake:
                due = self._due(last_attempt, retry_at)
                now = self._clock()
                if due is None or due > now:
                    wait = None if due is None else due - now
                    self._wake.wait(timeout=wait if wait is None else min(wait, 1.0))
                    continue
            if self._stop.is_set():
                break
            last_attempt = self._clock()
            try:
                self.publish()
            except QuorumNotMetError:
                retry_at = self._clock() + delay
                delay = min(self._retry_max, delay * 2)
                continue
            except ElectlogError as exc:
                _log.error("origin %s: publishing failed: %s", self.origin, exc)
                retry_at = self._clock() + delay
                delay = min(self._retry_max, delay * 2)
                continue
            retry_at = 0.0
            delay = self._retry_initial


def decode_submission(body: object, max_entries: int) -> list[bytes]:
    """The entries of a submission body (parsed JSON ``{"entries": [base64, ...]}``), or
    :class:`Refused` naming what is wrong (400; 413 beyond ``max_entries`` entries)."""
    if not isinstance(body, dict) or set(body) != {"entries"}:
        raise _refuse(
            400,
            "request.malformed",
            "Malformed submission",
            'the body must be a JSON object with exactly one member, "entries"',
        )
    items = body["entries"]
    if not isinstance(items, list):
        raise _refuse(
            400,
            "request.malformed",
            "Malformed submission",
            '"entries" must be an array of base64 strings',
            field="entries",
        )
    if len(items) > max_entries:
        raise _too_many(len(items), max_entries)
    out: list[bytes] = []
    for i, item in enumerate(items):
        try:
            if not isinstance(item, str):
                raise ValueError("not a string")
            out.append(base64.b64decode(item.encode("ascii"), validate=True))
        except (ValueError, UnicodeEncodeError):
            raise _refuse(
                400,
                "request.malformed",
                "Malformed submission",
                f"entries[{i}] is not a base64 string",
                entry=i,
                field=f"entries[{i}]",
            ) from None
    return out
