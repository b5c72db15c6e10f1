"""Bulk signing of one author's chain in a helper process.

An author's statements form a chain: each names the leaf hash of the author's previous entry
(``prev``), which depends on that entry's signature, so one author's statements are signed one
after another. Everything else about a statement is known in advance. :class:`ChainSigner`
splits the work accordingly:

* in the calling process, :meth:`ChainSigner.submit` checks and canonically encodes a batch of
  drafts into the bytes before and after ``prev`` (as :meth:`Statement.split_bytes` does);
* a helper process, which holds the signing key, runs the sequential part: insert ``prev``, sign
  (libsodium when PyNaCl is installed, else OpenSSL: the same bytes), hash the entry into the
  next ``prev``; its answer is one bytes object, signature and leaf hash per statement;
* :meth:`SignedBatch.result` builds every entry's bytes from this process's own chain and hashes
  each to check it against the helper's leaf hash (so the helper continued the chain the caller
  expected), and returns them as :class:`SignedEntries`: a sequence of
  :class:`~electlog.events.VerifiedEntry` whose objects are made on first use, and which
  :meth:`Log.append_many <electlog.log.Log.append_many>` appends from its columns of bytes.

Every signature is checked before it is handed out, with :meth:`SigningKey.verify
<electlog.keys.SigningKey.verify>` (the strict rule, at about the cost of signing): the helper
checks the first signatures of each batch once it has signed it, the calling process the
others as it builds the entries. How many the helper checks follows the two processes'
measured CPU time (each batch reports both): the process with time to spare checks more, so
both cores stay about equally busy whatever else the caller does between batches.

Batches are signed in the order they were submitted, so a caller can submit the next batch,
then append the previous one (``Log.append_many``) while the helper signs: encoding, appending
and signing overlap on two cores. ``processes=0`` signs in the calling process instead (same
results, no overlap). The entries are identical to those of :meth:`Author.sign`.

A helper that dies (killed, out of memory), even in the middle of an answer, fails the batch
waited for with :class:`~electlog.errors.SignerError` naming its exit code, at once: it answers
on a pipe of its own (:mod:`electlog._workers`), which ends with it.
"""

from __future__ import annotations

import functools
import hashlib
import multiprocessing
import sys
import time as _time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any, Final, NoReturn, SupportsIndex, TypeAlias, overload

import msgpack

from ._workers import Handler, Workers
from .codec import fast_encode
from .errors import ElectlogError, EntryError, SignatureError, SignerError, UsageError
from .events import (
    _ENTRY_KEY,
    _ENTRY_SIG,
    _UINT63,
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
    _split_parts,
    _stmt_header,
    _verified_entry,
)
from .keys import SigningKey

__all__ = ["ChainSigner", "Draft", "SignedBatch", "SignedEntries"]

Draft: TypeAlias = "tuple[str, dict[str, Any], int] | tuple[str, dict[str, Any], int, int]"
"""One statement to sign: ``(type, body, time)`` or ``(type, body, time, schema)``."""

MAX_BATCH: Final = 100_000
"""Most drafts one :meth:`ChainSigner.submit` takes."""

# Bytes of an entry before the "stmt" key: the map header, the public key and the signature.
_ENTRY_FIXED: Final = len(_ENTRY_KEY) + 32 + len(_ENTRY_SIG) + 64
_PREV_KEY: Final = b"\xa4prev\xc4\x20"  # "prev", bin8 of 32: the end of every statement head
_SIGNED: Final = 96  # a helper's answer per statement: the signature (64) and the leaf hash (32)

# --------------------------------------------------------------------------- the helper side

_worker: dict[str, Any] = {}


def _helper_serve(seed: bytes, w: int) -> Handler:
    """The helper's handler (in its process, whose signal handlers are already reset: not the
    parent's SIGTERM handler or Ctrl-C's KeyboardInterrupt): each batch's :func:`_sign_remote`."""
    key = SigningKey.from_seed(seed)
    _worker["sign"] = key.sign
    _worker["verify"] = key.verify
    _worker["public"] = key.public.raw
    return _sign_message


def _sign_message(msg: tuple[Any, ...]) -> tuple[bytes, float]:
    return _sign_remote(*msg)


def _sign_chain(
    sign: Callable[[bytes], bytes],
    verify: Callable[[bytes, bytes], None],
    public: bytes,
    prev: bytes,
    heads: Sequence[bytes],
    tails: Sequence[bytes],
    checked: int,
) -> bytes:
    """Sign the statements ``heads[i] + prev + tails[i]`` as one chain starting after ``prev``,
    checking with ``verify`` the first ``checked`` signatures (raises :class:`SignerError` for
    one that does not verify): returns the signature (64 bytes) and the leaf hash (32 bytes) of
    every statement, concatenated. The leaf hash is that of ``_entry_bytes(public, signature,
    statement)``, the entry the caller assembles."""
    context = SIGNATURE_CONTEXT
    lead = b"\x00" + _ENTRY_KEY + public + _ENTRY_SIG  # SHA-256(0x00 || entry)
    sha256 = hashlib.sha256
    header = _stmt_header
    out: list[bytes] = []
    append = out.append
    messages: list[bytes] = []  # the first ``checked``, checked after the chain is signed
    for position, (head, tail) in enumerate(zip(heads, tails, strict=True)):
        stmt = b"".join((head, prev, tail))
        message = context + stmt
        sig = sign(message)
        if position < checked:
            messages.append(message)
        prev = sha256(b"".join((lead, sig, header(len(stmt)), stmt))).digest()
        append(sig)
        append(prev)
    # the checks in a loop of their own (each stage's code stays in the core's caches: 0.4-0.7
    # µs an entry less than a check between two signings); nothing is returned before them
    for position, message in enumerate(messages):
        try:
            verify(out[2 * position], message)
        except SignatureError as exc:
            raise SignerError(
                f"batch item {position}: the signature made does not verify ({exc})"
            ) from None
    return b"".join(out)


def _sign_remote(
    prev: bytes | None, heads: Sequence[bytes], tails: Sequence[bytes], checked: int
) -> tuple[bytes, float]:
    """The helper's task: sign after ``prev``, or after the helper's own last leaf when
    ``prev`` is None (the caller had batches in flight), checking the first ``checked``
    signatures; returns :func:`_sign_chain`'s answer and the CPU seconds this took."""
    cpu = _time.process_time()
    start = _worker.get("prev") if prev is None else prev
    if start is None:
        raise RuntimeError("no chain to continue")
    out = _sign_chain(
        _worker["sign"], _worker["verify"], _worker["public"], start, heads, tails, checked
    )
    _worker["prev"] = out[-32:] if out else start
    return out, _time.process_time() - cpu


# --------------------------------------------------------------------------- the caller side


class SignedEntries(Sequence[VerifiedEntry]):
    """The entries of one signed batch, in order: a read-only sequence of
    :class:`~electlog.events.VerifiedEntry` (every signature was checked before it was made).

    It holds the entries' bytes and leaf hashes; the entry objects are made the first time one
    is asked for. :meth:`Log.append_many <electlog.log.Log.append_many>` appends it from those
    columns without making them. Only :class:`ChainSigner` makes one (calling the class raises
    :class:`~electlog.errors.UsageError`); it compares equal to a list of the same entries,
    ``+`` gives a list, and it pickles as a list."""

    __slots__ = (
        "_author",
        "_datas",
        "_entries",
        "_first_seq",
        "_leaves",
        "_log",
        "_prev",
        "_public",
        "_statements",
        "_stmt_starts",
    )

    _log: str
    _author: bytes
    _public: bytes
    _first_seq: int
    _prev: bytes
    _statements: list[tuple[str, int, int, dict[str, Any]]]
    _datas: list[bytes]
    _leaves: list[bytes]
    _stmt_starts: list[int]
    _entries: list[VerifiedEntry] | None

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise UsageError("SignedEntries are made by a ChainSigner")

    @property
    def data(self) -> Sequence[bytes]:
        """Every entry's exact bytes."""
        return tuple(self._datas)

    @property
    def leaf_hashes(self) -> Sequence[bytes]:
        """Every entry's Merkle leaf hash."""
        return tuple(self._leaves)

    @property
    def author(self) -> bytes:
        """The author's key id."""
        return self._author

    @property
    def first_seq(self) -> int:
        """The first entry's sequence number (the others follow one by one)."""
        return self._first_seq

    @property
    def prev(self) -> bytes:
        """The first entry's ``prev``: the leaf hash of the author's entry before the batch."""
        return self._prev

    def _all(self) -> list[VerifiedEntry]:
        entries = self._entries
        if entries is None:
            entries = self._entries = self._make()
        return entries

    def _make(self) -> list[VerifiedEntry]:
        log, author, public = self._log, self._author, self._public
        seq, prev = self._first_seq, self._prev
        out: list[VerifiedEntry] = []
        for (type_, schema, time, body), data, leaf, at in zip(
            self._statements, self._datas, self._leaves, self._stmt_starts, strict=True
        ):
            statement = Statement(
                log=log, type=type_, schema=schema, author=author, seq=seq, prev=prev,
                time=time, body=body,
            )  # fmt: skip
            sig = data[_ENTRY_FIXED - 64 : _ENTRY_FIXED]
            out.append(_verified_entry(data, statement, public, sig, data[at:], leaf))
            seq += 1
            prev = leaf
        return out

    def __len__(self) -> int:
        return len(self._datas)

    @overload
    def __getitem__(self, index: SupportsIndex) -> VerifiedEntry: ...

    @overload
    def __getitem__(self, index: slice) -> list[VerifiedEntry]: ...

    def __getitem__(self, index: SupportsIndex | slice) -> VerifiedEntry | list[VerifiedEntry]:
        return self._all()[index]

    def __iter__(self) -> Iterator[VerifiedEntry]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SignedEntries):
            return self._datas == other._datas
        if isinstance(other, list | tuple):
            return self._all() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __add__(self, other: Iterable[VerifiedEntry]) -> list[VerifiedEntry]:
        return [*self._all(), *other]

    def __radd__(self, other: Iterable[VerifiedEntry]) -> list[VerifiedEntry]:
        return [*other, *self._all()]

    def __reduce__(self) -> tuple[type[list[VerifiedEntry]], tuple[list[VerifiedEntry]]]:
        return list, (self._all(),)

    def __repr__(self) -> str:
        return (
            f"<SignedEntries: {len(self)} entries, seq {self._first_seq}.."
            f"{self._first_seq + len(self) - 1} of {self._author.hex()[:16]}…>"
        )


def _signed_entries(
    log: str,
    author: bytes,
    public: bytes,
    first_seq: int,
    prev: bytes,
    statements: list[tuple[str, int, int, dict[str, Any]]],
    datas: list[bytes],
    leaves: list[bytes],
    stmt_starts: list[int],
) -> SignedEntries:
    """A :class:`SignedEntries` of entries whose bytes the caller built from its own chain,
    hashed and whose signatures were all checked (only :class:`SignedBatch` calls this)."""
    made = object.__new__(SignedEntries)
    made._log, made._author, made._public = log, author, public
    made._first_seq, made._prev = first_seq, prev
    made._statements, made._datas, made._leaves = statements, datas, leaves
    made._stmt_starts, made._entries = stmt_starts, None
    return made


class SignedBatch:
    """A submitted batch; :meth:`result` waits for its entries."""

    def __init__(
        self,
        signer: ChainSigner,
        first_seq: int,
        statements: list[tuple[str, int, int, dict[str, Any]]],
        heads: list[bytes],
        tails: list[bytes],
        headers: list[bytes],
        checked: int,
        ticket: int | None,
    ) -> None:
        self._signer = signer
        self._first_seq = first_seq
        self._statements = statements
        self._heads = heads
        self._tails = tails
        self._headers = headers
        self._checked = checked  # the helper checks the first ``checked`` signatures
        self._ticket = ticket  # the helper's answers are in order: this batch's number
        self._entries: SignedEntries | None = None
        self._error: ElectlogError | None = None

    def __len__(self) -> int:
        return len(self._heads)

    def done(self) -> bool:
        """Whether :meth:`result` would return without waiting."""
        return (
            self._entries is not None
            or self._error is not None
            or (self._ticket is not None and self._signer._answered(self._ticket))
        )

    def result(self) -> SignedEntries:
        """The batch's entries in order (waits for the helper; batches submitted earlier are
        completed first). Raises :class:`~electlog.errors.SignerError` if the helper failed."""
        if self._entries is None and self._error is None:
            self._signer._complete_through(self)
        if self._error is not None:
            raise self._error
        assert self._entries is not None
        return self._entries

    def _signed(
        self, prev: bytes, key: SigningKey, answer: object = None
    ) -> tuple[bytes, float | None]:
        """The helper's answer (signatures and leaf hashes) and its CPU seconds (None when
        signed in this process); ``answer``: that answer, given (the benchmarks time this
        process's side of a batch alone)."""
        if self._ticket is None and answer is None:
            out = _sign_chain(
                key.sign, key.verify, key.public.raw, prev, self._heads, self._tails,
                len(self._heads),
            )  # fmt: skip
            return out, None
        if answer is None:
            answer = self._signer._answer()  # a lost helper: SignerError naming its exit code
        if not (isinstance(answer, tuple) and len(answer) == 2):
            raise SignerError("the signing helper returned something else than a batch")
        signed, cpu = answer
        if type(signed) is not bytes or len(signed) != _SIGNED * len(self._heads):
            raise SignerError("the signing helper returned a batch of the wrong length")
        if type(cpu) is not float:
            raise SignerError("the signing helper returned no CPU time with its batch")
        return signed, cpu

    # called by ChainSigner, in submission order
    def _complete(
        self, prev: bytes, key: SigningKey, answer: object = None
    ) -> tuple[bytes, float | None, float]:
        """Build and check the entries; returns the chain's new ``prev``, the helper's CPU
        seconds and this process's CPU seconds per signature it checked."""
        signed, helper_cpu = self._signed(prev, key, answer)
        public = key.public.raw
        lead = _ENTRY_KEY + public + _ENTRY_SIG
        sha256 = hashlib.sha256
        first = prev
        n = len(self._heads)
        sigs = [signed[i : i + 64] for i in range(0, _SIGNED * n, _SIGNED)]
        leaves = [signed[i + 64 : i + _SIGNED] for i in range(0, _SIGNED * n, _SIGNED)]
        datas: list[bytes] = []
        append = datas.append
        starts: list[int] = []
        # Each entry is built here from this process's own chain (prev = the leaf hash of the
        # entry before) and hashed: equal to the helper's leaf hash, the entry holds exactly
        # the statement the helper signed (and, at the helper's positions, checked: SHA-256
        # collision resistance); different, the helper signed another chain.
        for position, (head, tail, header, sig, leaf) in enumerate(
            zip(self._heads, self._tails, self._headers, sigs, leaves, strict=True)
        ):
            data = b"".join((lead, sig, header, head, prev, tail))
            if sha256(b"\x00" + data).digest() != leaf:
                self._chain_error(position)
            append(data)
            starts.append(_ENTRY_FIXED + len(header))
            prev = leaf
        # The signatures the helper did not check are checked here.
        checked = n if helper_cpu is None else self._checked
        cpu = _time.process_time()
        verify = key.verify
        context = SIGNATURE_CONTEXT
        for position in range(checked, n):
            data = datas[position]
            try:
                verify(sigs[position], context + data[starts[position] :])
            except SignatureError:
                seq = self._first_seq + position
                raise SignerError(
                    f"the signing helper returned a signature that does not verify "
                    f"(statement seq {seq}, batch item {position})"
                ) from None
        per_check = (_time.process_time() - cpu) / (n - checked) if n > checked else 0.0
        self._entries = _signed_entries(
            self._signer._log_id, key.key_id, public, self._first_seq, first,
            self._statements, datas, leaves, starts,
        )  # fmt: skip
        return prev, helper_cpu, per_check

    def _chain_error(self, position: int) -> NoReturn:
        raise SignerError(
            f"the signing helper signed statement seq {self._first_seq + position} over a "
            "different chain than expected"
        )


_INITIAL_SHARE: Final = 0.5
"""The part of each batch's signatures the helper checks until both processes' CPU times are
known (then it follows them: :meth:`ChainSigner._rebalance`)."""


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
        # the statement head up to the body, and the msgpack packer of the encoding fast path
        self._author_key = b"\xa6author\xc4\x20" + key.key_id + b"\xa4body"
        self._log_packed = b"\xa3log" + msgpack.packb(log_id)
        self._pack = msgpack.Packer(use_bin_type=True, autoreset=True).pack
        self._share = _INITIAL_SHARE  # the part of a batch's checks the helper makes
        self._cpu_mark: float | None = None  # this process's CPU time at the last completion
        self._per_check = 0.0  # the last measured CPU seconds of one check here
        # the helper process, started at the first batch; its answers come in order
        self._helper: Workers | None = None
        self._started = False
        self._sent = self._answers = 0
        if processes:
            self._helper = Workers(
                1,
                functools.partial(_helper_serve, key.seed()),
                error=SignerError,
                name="the signing helper",
                method=start_method,
            )

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

    def _parts(
        self, type_: str, body: object, schema: int, seq: int, time: int
    ) -> tuple[bytes, bytes]:
        """The statement bytes before and after ``prev`` (as :func:`_split_parts`; fields
        checked). The common case, a plain ``dict`` body that :func:`codec.fast_encode
        <electlog.codec.fast_encode>` takes, is encoded by it, the fields after ``prev`` by one
        msgpack call; anything else (and any value msgpack refuses) goes through
        :func:`_split_parts`, which encodes it or raises the :class:`EntryError` naming the
        problem."""
        if type(body) is dict:
            packed_body = fast_encode(body)
            if packed_body is not None:
                try:
                    tail = self._pack(
                        {"schema": schema, "seq": seq, "time": time, "type": type_, "v": 1}
                    )
                except (OverflowError, UnicodeEncodeError, TypeError, ValueError):
                    pass  # _split_parts names the problem
                else:
                    head = b"".join(
                        (b"\x89", self._author_key, packed_body, self._log_packed, _PREV_KEY)
                    )
                    return head, tail[1:]  # without the map header
        return _split_parts(self._key.key_id, body, self._log_id, schema, seq, time, type_)

    def submit(self, drafts: Iterable[Draft], *, schema: int = 1) -> SignedBatch:
        """Check and encode ``drafts`` (``(type, body, time)`` or ``(type, body, time,
        schema)``) as the next statements of the chain and queue them for signing.

        A bad draft raises :class:`~electlog.errors.EntryError` naming its position, and nothing
        of the batch is queued. ``schema`` is the default schema version."""
        self._check_open()
        if isinstance(drafts, str | bytes | dict):
            raise UsageError("submit() takes an iterable of (type, body, time[, schema]) drafts")
        first_seq = self._seq + 1
        seq = self._seq
        statements: list[tuple[str, int, int, dict[str, Any]]] = []
        heads: list[bytes] = []
        tails: list[bytes] = []
        headers: list[bytes] = []
        parts = self._parts
        header = _stmt_header
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
                if type(sv) is not int or not 1 <= sv <= _UINT63:
                    _check_uint(sv, "schema", 1)
                if type(time) is not int or not 0 <= time <= _UINT63:
                    _check_uint(time, "time", 0)
                if seq > _UINT63:
                    _check_uint(seq, "seq", 1)
                head, tail = parts(type_, body, sv, seq, time)
            except EntryError as exc:
                raise EntryError(f"draft {position}: {exc}") from None
            n = len(head) + 32 + len(tail)
            stmt_header = header(n)
            size = _ENTRY_FIXED + len(stmt_header) + n
            if size > MAX_ENTRY_SIZE:
                raise EntryError(
                    f"draft {position}: entry would be {size} bytes, more than {MAX_ENTRY_SIZE}"
                )
            statements.append((type_, sv, time, body))
            heads.append(head)
            tails.append(tail)
            headers.append(stmt_header)
        checked = round(self._share * len(heads))
        ticket = None
        if self._helper is not None and heads:
            prev = None if self._pending else self._prev
            try:
                if not self._started:  # the first batch forks the helper
                    self._helper.__enter__()
                    self._started = True
                self._helper.send(0, (prev, heads, tails, checked))
            except (SignerError, UsageError, OSError, ValueError) as exc:
                self._broken = SignerError(f"the signing helper is not running: {exc}")
                raise self._broken from None
            ticket = self._sent
            self._sent += 1
        batch = SignedBatch(self, first_seq, statements, heads, tails, headers, checked, ticket)
        self._seq = seq
        self._pending.append(batch)
        return batch

    def sign_many(self, drafts: Iterable[Draft], *, schema: int = 1) -> SignedEntries:
        """Submit ``drafts`` and wait for their entries."""
        return self.submit(drafts, schema=schema).result()

    def sign_batches(
        self, batches: Iterable[Iterable[Draft]], *, ahead: int = 2, schema: int = 1
    ) -> Iterator[SignedEntries]:
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

    def _answer(self) -> Any:
        """The helper's answer to the oldest batch not answered yet (waits for it)."""
        assert self._helper is not None
        answer = self._helper.receive(0)
        self._answers += 1
        return answer

    def _answered(self, ticket: int) -> bool:
        """Whether the helper's answer to batch number ``ticket`` is in (or it failed)."""
        helper = self._helper
        return helper is not None and ticket < self._answers + helper.available(0)

    def _complete_through(self, batch: SignedBatch) -> None:
        while self._pending:
            first = self._pending[0]
            if self._broken is not None:
                first._error = self._broken
            else:
                try:
                    self._prev, helper_cpu, per_check = first._complete(self._prev, self._key)
                except SignerError as exc:
                    # the chain state in the helper is unknown now: refuse further work
                    self._broken = exc
                    first._error = exc
                else:
                    self._rebalance(len(first), helper_cpu, per_check)
            self._pending.popleft()
            if first is batch:
                return

    def _rebalance(self, n: int, helper_cpu: float | None, per_check: float) -> None:
        """Move checks between the processes so that both spend the same CPU time per batch:
        this process's time since the previous completion (everything it did in between:
        encoding, appending, checking) against the helper's time for the batch just
        completed. One check moved costs ``per_check`` (measured here) on one side and saves
        it on the other; half of the indicated move is made each time (the times are noisy)."""
        now = _time.process_time()
        mark, self._cpu_mark = self._cpu_mark, now
        if per_check > 0.0:
            self._per_check = per_check
        else:  # no check made here (the helper checked the whole batch): the last known cost
            per_check = self._per_check
        if helper_cpu is None or mark is None or n == 0 or per_check <= 0.0:
            return
        move = (helper_cpu - (now - mark)) / (2 * per_check * n)  # + : the helper is busier
        self._share = min(1.0, max(0.0, self._share - move / 2))

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
        if self._helper is not None:
            # batches still queued for the helper are of no use: stop it without them
            self._helper.close(abandon=self._sent > self._answers)

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
