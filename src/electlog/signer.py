"""Bulk signing of one author's chain in a helper process.

An author's statements form a chain: each names the leaf hash of the author's previous entry
(``prev``), which depends on that entry's signature, so one author's statements are signed one
after another. Everything else about a statement is known in advance. :class:`ChainSigner`
splits the work accordingly:

* in the calling process, :meth:`ChainSigner.submit` checks and canonically encodes a batch of
  drafts into the bytes before and after ``prev`` (:meth:`Statement.split_bytes`);
* a helper process, which holds the signing key, runs the sequential part: insert ``prev``, sign
  (libsodium when PyNaCl is installed, else OpenSSL: the same bytes), build the entry, hash it
  into the next ``prev``;
* :meth:`SignedBatch.result` turns the answer back into
  :class:`~electlog.events.VerifiedEntry` objects, hashing every entry it builds to check that
  it holds exactly the statement the helper signed (so the helper continued the chain the
  caller expected).

Every signature is checked before it becomes a :class:`~electlog.events.VerifiedEntry`, with
:meth:`SigningKey.verify <electlog.keys.SigningKey.verify>` (the strict rule, at about the cost
of signing): the helper checks the signatures at even positions of each batch as it makes them,
the calling process those at odd positions as it builds the entries. Signing and checking are
the two big costs; shared so, they keep both cores about equally busy.

Batches are signed in the order they were submitted, so a caller can submit the next batch,
then append the previous one (``Log.append_many``) while the helper signs: encoding, appending
and signing overlap on two cores. ``processes=0`` signs in the calling process instead (same
results, no overlap). The entries are identical to those of :meth:`Author.sign`.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Any, Final, TypeAlias

from .errors import ElectlogError, EntryError, SignatureError, SignerError, UsageError
from .events import (
    _ENTRY_KEY,
    _ENTRY_SIG,
    MAX_ENTRY_SIZE,
    MAX_ORIGIN_LEN,
    MAX_TYPE_LEN,
    SIGNATURE_CONTEXT,
    ZERO_HASH,
    AuthorHead,
    Statement,
    VerifiedEntry,
    _check_text,
    _check_uint,
    _entry_bytes,
    _split_parts,
    _stmt_header,
    _verified_entry,
)
from .keys import SigningKey

__all__ = ["ChainSigner", "Draft", "SignedBatch"]

Draft: TypeAlias = "tuple[str, dict[str, Any], int] | tuple[str, dict[str, Any], int, int]"
"""One statement to sign: ``(type, body, time)`` or ``(type, body, time, schema)``."""

MAX_BATCH: Final = 100_000
"""Most drafts one :meth:`ChainSigner.submit` takes."""

# Bytes of an entry before the "stmt" key: the map header, the public key and the signature.
_ENTRY_FIXED: Final = len(_ENTRY_KEY) + 32 + len(_ENTRY_SIG) + 64

# --------------------------------------------------------------------------- the helper side

_worker: dict[str, Any] = {}


def _init_worker(seed: bytes) -> None:
    key = SigningKey.from_seed(seed)
    _worker["sign"] = key.sign
    _worker["verify"] = key.verify
    _worker["public"] = key.public.raw


def _sign_chain(
    sign: Callable[[bytes], bytes],
    verify: Callable[[bytes, bytes], None],
    public: bytes,
    prev: bytes,
    parts: Sequence[tuple[bytes, bytes]],
    *,
    stride: int = 1,
) -> list[tuple[bytes, bytes]]:
    """Sign ``parts`` (statement bytes around ``prev``) as one chain starting after ``prev``,
    checking with ``verify`` the signatures at positions ``0, stride, 2 * stride, ...`` (raises
    :class:`SignerError` for one that does not verify): returns ``(signature, leaf hash)`` per
    statement. The leaf hash is that of ``_entry_bytes(public, signature, statement)``, hashed
    piecewise (the entry itself is assembled by the caller)."""
    context = SIGNATURE_CONTEXT
    # SHA-256(0x00 || entry) with entry = {"key": public, "sig": sig, "stmt": stmt}
    start = hashlib.sha256(b"\x00" + _ENTRY_KEY + public + _ENTRY_SIG)
    out: list[tuple[bytes, bytes]] = []
    append = out.append
    for position, (head, tail) in enumerate(parts):
        stmt = head + prev + tail
        message = context + stmt
        sig = sign(message)
        try:
            if not position % stride:
                verify(sig, message)
        except SignatureError as exc:
            raise SignerError(
                f"batch item {position}: the signature made does not verify ({exc})"
            ) from None
        h = start.copy()
        h.update(sig)
        h.update(_stmt_header(len(stmt)))
        h.update(stmt)
        prev = h.digest()
        append((sig, prev))
    return out


_HELPER_STRIDE: Final = 2
"""The helper checks the signatures at even positions of a batch; the caller the others."""


def _sign_remote(
    prev: bytes | None, parts: Sequence[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """The helper's task: sign ``parts`` after ``prev``, or after the helper's own last leaf
    when ``prev`` is None (the caller had batches in flight)."""
    start = _worker.get("prev") if prev is None else prev
    if start is None:
        raise RuntimeError("no chain to continue")
    out = _sign_chain(
        _worker["sign"], _worker["verify"], _worker["public"], start, parts, stride=_HELPER_STRIDE
    )
    _worker["prev"] = out[-1][1] if out else start
    return out


# --------------------------------------------------------------------------- the caller side


class SignedBatch:
    """A submitted batch; :meth:`result` waits for its entries."""

    def __init__(
        self,
        signer: ChainSigner,
        statements: list[tuple[str, str, int, int, int, dict[str, Any]]],
        parts: list[tuple[bytes, bytes]],
        future: Future[list[tuple[bytes, bytes]]] | None,
    ) -> None:
        self._signer = signer
        self._statements = statements
        self._parts = parts
        self._future = future
        self._entries: list[VerifiedEntry] | None = None
        self._error: ElectlogError | None = None

    def __len__(self) -> int:
        return len(self._parts)

    def done(self) -> bool:
        """Whether :meth:`result` would return without waiting."""
        return (
            self._entries is not None
            or self._error is not None
            or (self._future is not None and self._future.done())
        )

    def result(self) -> list[VerifiedEntry]:
        """The batch's entries in order (waits for the helper; batches submitted earlier are
        completed first). Raises :class:`~electlog.errors.SignerError` if the helper failed."""
        if self._entries is None and self._error is None:
            self._signer._complete_through(self)
        if self._error is not None:
            raise self._error
        assert self._entries is not None
        return self._entries

    # called by ChainSigner, in submission order
    def _complete(self, prev: bytes, key: SigningKey) -> bytes:
        try:
            if self._future is None:
                signed = _sign_chain(key.sign, key.verify, key.public.raw, prev, self._parts)
            else:
                signed = self._future.result()
        except BrokenProcessPool:
            raise SignerError("the signing helper process died") from None
        except ElectlogError:
            raise
        except Exception as exc:  # anything else from the helper
            raise SignerError(f"the signing helper failed: {exc!r}") from None
        if len(signed) != len(self._parts):
            raise SignerError("the signing helper returned a batch of the wrong length")
        public = key.public.raw
        key_id = key.key_id
        entries: list[VerifiedEntry] = []
        append = entries.append
        sha256 = hashlib.sha256
        verify = key.verify
        context = SIGNATURE_CONTEXT
        # the positions whose signatures the helper checked (in this process: all of them)
        helper_checked = 1 if self._future is None else _HELPER_STRIDE
        # Each statement is rebuilt here from this process's own chain (prev = the leaf hash of
        # the entry before) and every entry is hashed: equal to the helper's leaf hash, the
        # entry holds exactly the statement the helper signed (and, at the helper's positions,
        # checked: SHA-256 collision resistance); different, the helper signed another chain.
        # The other signatures are checked here.
        for position, (
            (log, type, schema, seq, time, body),
            (head, tail),
            (sig, leaf),
        ) in enumerate(zip(self._statements, self._parts, signed, strict=True)):
            stmt = head + prev + tail
            data = _entry_bytes(public, sig, stmt)
            if sha256(b"\x00" + data).digest() != leaf:
                raise SignerError(
                    f"the signing helper signed statement seq {seq} over a different chain "
                    "than expected"
                )
            if position % helper_checked:
                try:
                    verify(sig, context + stmt)
                except SignatureError:
                    raise SignerError(
                        f"the signing helper returned a signature that does not verify "
                        f"(statement seq {seq}, batch item {position})"
                    ) from None
            statement = Statement(
                log=log, type=type, schema=schema, author=key_id, seq=seq, prev=prev,
                time=time, body=body,
            )  # fmt: skip
            append(_verified_entry(data, statement, public, sig, stmt, leaf))
            prev = leaf
        self._entries = entries
        return prev


class ChainSigner:
    """Signs one author's statements in batches, in a helper process (see the module doc).

    ``ChainSigner(key, log_id)`` starts a new author chain; resume an existing author with
    ``seq=head.seq, prev=head.prev`` (``log.author_head(key.key_id)``). ``processes`` is 1 (a
    helper process holding the key, started with ``start_method``: by default ``fork`` on Linux,
    else ``spawn``) or 0 (sign in this process). Use it as a context manager, or call
    :meth:`close`.
    """

    def __init__(
        self,
        key: SigningKey,
        log_id: str,
        *,
        seq: int = 0,
        prev: bytes = ZERO_HASH,
        processes: int = 1,
        start_method: str | None = None,
    ) -> None:
        if not isinstance(key, SigningKey):
            raise UsageError("ChainSigner needs a SigningKey")
        try:
            _check_text(log_id, "log", MAX_ORIGIN_LEN)
        except EntryError as exc:
            raise UsageError(f"log id: {exc}") from None
        if (
            type(seq) is not int
            or seq < 0
            or not isinstance(prev, bytes)
            or len(prev) != 32
            or (seq == 0 and prev != ZERO_HASH)
        ):
            raise UsageError("an author head is seq >= 0 with a 32-byte prev (zero for seq 0)")
        if processes not in (0, 1) or type(processes) is not int:
            raise UsageError("processes must be 0 (sign here) or 1 (a helper process)")
        methods = multiprocessing.get_all_start_methods()
        if start_method is None:
            start_method = "fork" if sys.platform.startswith("linux") else "spawn"
        elif start_method not in methods:
            raise UsageError(f"start_method must be one of {methods}, not {start_method!r}")
        self._key = key
        self._log_id = log_id
        self._seq = seq  # last sequence number submitted
        self._prev = prev  # leaf hash of the last entry completed
        self._pending: deque[SignedBatch] = deque()
        self._broken: SignerError | None = None
        self._closed = False
        self._pool: ProcessPoolExecutor | None = None
        if processes:
            try:
                self._pool = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=multiprocessing.get_context(start_method),
                    initializer=_init_worker,
                    initargs=(key.seed(),),
                )
            except (OSError, ValueError) as exc:
                raise SignerError(f"cannot start the signing helper: {exc}") from exc

    @property
    def key_id(self) -> bytes:
        """The author's key id."""
        return self._key.key_id

    def head(self) -> AuthorHead:
        """The author's head after every submitted batch (waits for pending batches). Raises
        the :class:`~electlog.errors.SignerError` of a failed batch: the chain is then unknown
        here; continue with a new ChainSigner from the log's author head."""
        if self._pending:
            self._complete_through(self._pending[-1])
        if self._broken is not None:
            raise self._broken
        return AuthorHead(self._seq, self._prev)

    def submit(self, drafts: Iterable[Draft], *, schema: int = 1) -> SignedBatch:
        """Check and encode ``drafts`` (``(type, body, time)`` or ``(type, body, time,
        schema)``) as the next statements of the chain and queue them for signing.

        A bad draft raises :class:`~electlog.errors.EntryError` naming its position, and nothing
        of the batch is queued. ``schema`` is the default schema version."""
        self._check_open()
        if isinstance(drafts, str | bytes | dict):
            raise UsageError("submit() takes an iterable of (type, body, time[, schema]) drafts")
        key_id = self._key.key_id
        log = self._log_id
        seq = self._seq
        statements: list[tuple[str, str, int, int, int, dict[str, Any]]] = []
        parts: list[tuple[bytes, bytes]] = []
        for position, draft in enumerate(drafts):
            if position >= MAX_BATCH:
                raise UsageError(f"a batch holds at most {MAX_BATCH:,} drafts")
            if not isinstance(draft, tuple) or len(draft) not in (3, 4):
                raise UsageError(
                    f"draft {position}: expected (type, body, time) or (type, body, time, schema)"
                )
            type_, body, time = draft[0], draft[1], draft[2]
            sv = draft[3] if len(draft) == 4 else schema
            seq += 1
            try:
                # log id and author were checked when this signer was made; seq is ours
                _check_text(type_, "type", MAX_TYPE_LEN)
                _check_uint(sv, "schema", 1)
                _check_uint(time, "time", 0)
                _check_uint(seq, "seq", 1)
                head, tail = _split_parts(key_id, body, log, sv, seq, time, type_)
            except EntryError as exc:
                raise EntryError(f"draft {position}: {exc}") from None
            n = len(head) + 32 + len(tail)
            size = _ENTRY_FIXED + len(_stmt_header(n)) + n
            if size > MAX_ENTRY_SIZE:
                raise EntryError(
                    f"draft {position}: entry would be {size} bytes, more than {MAX_ENTRY_SIZE}"
                )
            statements.append((log, type_, sv, seq, time, body))
            parts.append((head, tail))
        future = None
        if self._pool is not None and parts:
            prev = None if self._pending else self._prev
            try:
                future = self._pool.submit(_sign_remote, prev, parts)
            except (BrokenProcessPool, RuntimeError) as exc:
                self._broken = SignerError(f"the signing helper is not running: {exc}")
                raise self._broken from None
        batch = SignedBatch(self, statements, parts, future)
        self._seq = seq
        self._pending.append(batch)
        return batch

    def sign_many(self, drafts: Iterable[Draft], *, schema: int = 1) -> list[VerifiedEntry]:
        """Submit ``drafts`` and wait for their entries."""
        return self.submit(drafts, schema=schema).result()

    def sign_batches(
        self, batches: Iterable[Iterable[Draft]], *, ahead: int = 2, schema: int = 1
    ) -> Iterator[list[VerifiedEntry]]:
        """Yield the entries of each batch in order, keeping ``ahead`` batches submitted to the
        helper beyond the one being handed out: while the caller appends one batch
        (``log.append_many(entries)``), the helper signs the next ones."""
        if type(ahead) is not int or ahead < 1:
            raise UsageError("ahead must be a positive integer")
        queue: deque[SignedBatch] = deque()
        source = iter(batches)
        for drafts in source:
            queue.append(self.submit(drafts, schema=schema))
            if len(queue) > ahead:
                yield queue.popleft().result()
        while queue:
            yield queue.popleft().result()

    def _complete_through(self, batch: SignedBatch) -> None:
        while self._pending:
            first = self._pending[0]
            if self._broken is not None:
                first._error = self._broken
            else:
                try:
                    self._prev = first._complete(self._prev, self._key)
                except SignerError as exc:
                    # the chain state in the helper is unknown now: refuse further work
                    self._broken = exc
                    first._error = exc
            self._pending.popleft()
            if first is batch:
                return

    def _check_open(self) -> None:
        if self._closed:
            raise UsageError("this ChainSigner is closed")
        if self._broken is not None:
            raise self._broken

    def close(self) -> None:
        """Stop the helper. Batches not yet completed fail with SignerError."""
        if self._closed:
            return
        self._closed = True
        closed = SignerError("the ChainSigner was closed before this batch completed")
        for pending in self._pending:
            pending._error = closed
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ChainSigner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ChainSigner(key_id={self._key.key_id.hex()[:16]}…, log={self._log_id!r})"
