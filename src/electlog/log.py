"""The append-only log: checked appends, the Merkle tree over a store, checkpoints and proofs.

Every append re-checks the entry (canonical form, signature, log id) and the author's chain
(sequence number ``head.seq + 1`` and ``prev`` = leaf hash of the author's previous entry) inside
the store's exclusive transaction. A refused append raises a named error and leaves the log
exactly as it was; a batch is all or nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import count, repeat
from typing import NoReturn, Protocol, runtime_checkable

import attrs

from . import merkle
from .checkpoint import Checkpoint, WitnessVerifier
from .errors import (
    AppendError,
    AuthorChainError,
    CheckpointError,
    ElectlogError,
    LogIdMismatchError,
    NoteError,
    QuorumNotMetError,
    UsageError,
    WitnessError,
)
from .events import AuthorHead, Entry, VerifiedEntry, chain_break
from .note import NoteSigner, open_note, sign_note
from .signer import SignedEntries
from .store._integrity import checkpoint_text
from .store.base import Store, StoredCheckpoint
from .store.memory import MemoryStore

__all__ = ["Cosigner", "Log", "Receipt"]


@runtime_checkable
class Cosigner(Protocol):
    """A witness as :meth:`Log.publish_checkpoint` sees it (``electlog.net.WitnessClient``
    is one): its public key, and a call that submits a signed checkpoint note and returns the
    witness's cosignature line, raising an :class:`~electlog.errors.ElectlogError` (typically
    :class:`~electlog.errors.WitnessError`) when it refuses. ``prove(size1, size2)`` gives the
    consistency proof from the size the witness holds."""

    @property
    def verifier(self) -> WitnessVerifier:
        """The witness's cosignature/v1 public key."""
        ...

    def add_checkpoint(self, note: str, prove: Callable[[int, int], Sequence[bytes]]) -> str:
        """Submit ``note``; the witness's cosignature line ``— <name> <base64>\\n``."""
        ...


@attrs.frozen
class Receipt:
    """Acknowledgement of a durable append: the entry's index and leaf hash."""

    index: int
    leaf_hash: bytes


def _as_entry(item: Entry | bytes, position: int) -> VerifiedEntry:
    """``item`` as a checked entry: a :class:`VerifiedEntry` as it is, anything else (bytes, or
    a plain :class:`Entry`, whatever its attributes claim) parsed from its bytes and verified."""
    if type(item) is VerifiedEntry:
        return item
    if isinstance(item, Entry):
        data = item.data
    elif isinstance(item, bytes | bytearray | memoryview):
        data = bytes(item)
    else:
        raise UsageError(f"batch item {position}: expected an Entry or entry bytes")
    try:
        return Entry.from_bytes(data, verify=True)
    except ElectlogError as exc:
        raise type(exc)(f"batch item {position}: {exc}") from exc


def _verified_batch(entries: Iterable[Entry | bytes]) -> list[VerifiedEntry]:
    """Every item of a batch as a :class:`VerifiedEntry` (see :func:`_as_entry`); a refusal
    names the batch item. What :meth:`Log.append_many` appends, and what a caller that checks
    more than the log does (the election's rules) must check, so both judge the same bytes."""
    return [_as_entry(item, i) for i, item in enumerate(entries)]


def _chain_refused(position: int, author: bytes, seq: int, expected_seq: int) -> NoReturn:
    """Raise the :class:`AuthorChainError` of batch item ``position``, whose ``seq`` does not
    continue the author's chain (``expected_seq`` is the sequence number that would)."""
    if seq != expected_seq:
        raise AuthorChainError(
            f"batch item {position}: author {author.hex()[:16]}… sequence number {seq}, "
            f"expected {expected_seq}"
        )
    raise AuthorChainError(
        f"batch item {position}: author {author.hex()[:16]}… seq {seq} does not link to the "
        "author's previous entry"
    )


class Log:
    """An append-only, Merkle-committed log of signed entries over a :class:`Store`.

    ``Log("example.org/election-2026")`` is an in-memory log; ``Log(store)`` uses a durable store.
    """

    def __init__(self, store: Store | str) -> None:
        if isinstance(store, str):
            store = MemoryStore(store)
        if not isinstance(store, Store):
            raise UsageError("Log needs a Store or an origin string")
        self._store = store
        self._known_size = 0
        self._prove = merkle.InclusionProver(store.node, store.lower_path)

    @property
    def store(self) -> Store:
        """The underlying store."""
        return self._store

    @property
    def origin(self) -> str:
        """The log id (C2SP origin)."""
        return self._store.origin

    def __len__(self) -> int:
        return self._store.size()

    # ------------------------------------------------------------------ appends

    def append(self, entry: Entry | bytes) -> Receipt:
        """Check and durably append one entry."""
        return self.append_many([entry])[0]

    def append_many(self, entries: Iterable[Entry | bytes]) -> list[Receipt]:
        """Check and durably append a batch: all entries or none. One commit for the batch.

        Every entry's signature is verified here unless it is a
        :class:`~electlog.events.VerifiedEntry` (checked when it was made); an entry given as a
        plain :class:`~electlog.events.Entry` is re-parsed from its bytes. A refusal names the
        batch item.

        A :class:`~electlog.signer.SignedEntries` (a :class:`~electlog.signer.ChainSigner`'s
        batch, every signature checked, one author's consecutive entries each naming the leaf
        hash of the one before) is appended from its bytes and leaf hashes, without entry
        objects: its log id and the chain link of its first entry are checked here."""
        if type(entries) is SignedEntries:
            return self._append_signed(entries)
        batch = _verified_batch(entries)
        if not batch:
            return []
        origin = self.origin
        for i, e in enumerate(batch):
            if e.statement.log != origin:
                raise LogIdMismatchError(
                    f"batch item {i}: entry is for log {e.statement.log!r}, this log is {origin!r}"
                )
        receipts: list[Receipt] = []
        with self._store.transaction() as tx:
            start = tx.size
            heads: dict[bytes, AuthorHead | None] = {}
            for i, e in enumerate(batch):
                st = e.statement
                author = st.author
                head = heads[author] if author in heads else tx.author_head(author)
                expected = chain_break(head, st.seq, st.prev)
                if expected is not None:
                    _chain_refused(i, author, st.seq, expected[0])
                heads[author] = AuthorHead(st.seq, e.leaf_hash)
                index = tx.append(e.data, e.leaf_hash, author, st.seq)
                receipts.append(Receipt(index, e.leaf_hash))
            leaves = [e.leaf_hash for e in batch]
            nodes = merkle.new_nodes_batch(tx.node, start, leaves)
            tx.put_nodes(n for n in nodes if n[0] >= 1)
        return receipts

    def _append_signed(self, batch: SignedEntries) -> list[Receipt]:
        """:meth:`append_many` of a ChainSigner's batch: the same checks and writes."""
        n = len(batch)
        if not n:
            return []
        if batch._log != self.origin:
            raise LogIdMismatchError(
                f"batch item 0: entry is for log {batch._log!r}, this log is {self.origin!r}"
            )
        author, seq, leaves = batch._author, batch._first_seq, batch._leaves
        with self._store.transaction() as tx:
            expected = chain_break(tx.author_head(author), seq, batch._prev)
            if expected is not None:
                _chain_refused(0, author, seq, expected[0])
            start = tx.append_run(batch._datas, leaves, author, seq)
            for level, (first, hashes) in enumerate(merkle._new_levels(tx.node, start, leaves)):
                if level:
                    tx.put_nodes(zip(repeat(level), count(first), hashes, strict=False))
        return list(map(Receipt, range(start, start + n), leaves))

    # ------------------------------------------------------------------ reads

    def get(self, index: int) -> Entry:
        """Entry ``index``, parsed (the stored bytes are re-checked; signature not re-verified)."""
        return Entry.from_bytes(self._store.entry(index), verify=False)

    def get_bytes(self, index: int) -> bytes:
        """The exact stored bytes of entry ``index``."""
        return self._store.entry(index)

    def __iter__(self) -> Iterator[Entry]:
        for data in self._store.entries():
            yield Entry.from_bytes(data, verify=False)

    def author_head(self, key_id: bytes) -> AuthorHead | None:
        """The author's head (sequence number, leaf hash of the last entry) or None."""
        return self._store.author_head(key_id)

    def _size(self, size: int | None) -> int:
        # A log only grows: a size seen once stays valid, so only larger sizes ask the store.
        if size is None:
            n = self._store.size()
            self._known_size = max(self._known_size, n)
            return n
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise UsageError(f"tree size {size!r} must be a non-negative integer")
        if size <= self._known_size:
            return size
        n = self._store.size()
        self._known_size = max(self._known_size, n)
        if size > n:
            raise UsageError(f"tree size {size!r} out of range [0, {n}]")
        return size

    def root(self, size: int | None = None) -> bytes:
        """The RFC 6962 root of the first ``size`` entries (default: all)."""
        return merkle.root_at(self._store.node, self._size(size))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 6962 inclusion proof of entry ``index`` in the tree of ``size`` entries."""
        n = self._size(size)
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < n:
            raise UsageError(f"index {index!r} out of range for tree size {n}")
        return self._prove(index, n)

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """RFC 6962 consistency proof from tree size ``size1`` to ``size2`` (default: all)."""
        n = self._size(size2)
        if not isinstance(size1, int) or isinstance(size1, bool) or not 1 <= size1 <= n:
            raise UsageError(f"size1 {size1!r} out of range [1, {n}]")
        return merkle.consistency_proof_at(self._store.node, size1, n)

    # ------------------------------------------------------------------ checkpoints

    def checkpoint(
        self, signer: NoteSigner, *, size: int | None = None, extensions: Sequence[str] = ()
    ) -> str:
        """Sign and store a C2SP checkpoint of the first ``size`` entries; returns the note.

        The signer's key name must be the log's origin (the C2SP convention)."""
        n, note = self._sign_checkpoint(signer, size, extensions)
        self._store.add_checkpoint(n, note)
        return note

    def _sign_checkpoint(
        self, signer: NoteSigner, size: int | None, extensions: Sequence[str]
    ) -> tuple[int, str]:
        if not isinstance(signer, NoteSigner):
            raise UsageError("checkpoint() needs a NoteSigner (the log's checkpoint key)")
        if signer.name != self.origin:
            raise UsageError(
                f"checkpoint signer name {signer.name!r} must equal the log origin {self.origin!r}"
            )
        n = self._size(size)
        cp = Checkpoint(origin=self.origin, size=n, root=self.root(n), extensions=tuple(extensions))
        return n, sign_note(cp.to_text(), [signer])

    def publish_checkpoint(
        self,
        signer: NoteSigner,
        witnesses: Sequence[Cosigner],
        quorum: int,
        *,
        size: int | None = None,
        extensions: Sequence[str] = (),
    ) -> str:
        """Sign a checkpoint of the first ``size`` entries (default: all), collect cosignatures
        from ``witnesses`` (each sent the consistency proof from the size it holds), and store
        and return the cosigned note only when at least ``quorum`` of them cosigned.

        Every witness is asked, one after the other, even once the quorum is met (more
        cosignatures make the checkpoint stronger and keep every witness up to date). A
        witness's answer counts only if its cosignature verifies under its key. Fewer than
        ``quorum`` cosignatures raise :class:`~electlog.errors.QuorumNotMetError` naming each
        witness that did not cosign and why; nothing is stored then."""
        if isinstance(witnesses, str | bytes) or not isinstance(witnesses, Sequence):
            raise UsageError("witnesses must be a sequence of Cosigner (e.g. WitnessClient)")
        keys: set[tuple[str, int]] = set()
        for w in witnesses:
            if not isinstance(w, Cosigner) or not isinstance(w.verifier, WitnessVerifier):
                raise UsageError(f"{w!r} is not a Cosigner (needs verifier and add_checkpoint)")
            k = (w.verifier.name, w.verifier.key_id)
            if k in keys:
                raise UsageError(f"witness {w.verifier.name!r} is listed twice")
            keys.add(k)
        if isinstance(quorum, bool) or not isinstance(quorum, int):
            raise UsageError(f"quorum must be an int, not {type(quorum).__name__}")
        if not 0 <= quorum <= len(witnesses):
            raise UsageError(f"quorum {quorum} is outside 0..{len(witnesses)} witnesses")
        n, note = self._sign_checkpoint(signer, size, extensions)
        text = checkpoint_text(note)
        lines: list[str] = []
        cosigners: list[str] = []
        refusals: list[tuple[str, str]] = []
        for w in witnesses:
            name = w.verifier.name
            try:
                line = w.add_checkpoint(note, self.consistency_proof)
                open_note(text + "\n" + line, [w.verifier])
            except WitnessError as exc:
                shown = f"HTTP {exc.status}: " if exc.status is not None else ""
                refusals.append((name, shown + exc.reason))
                continue
            except ElectlogError as exc:
                refusals.append((name, str(exc)))
                continue
            lines.append(line)
            cosigners.append(name)
        if len(lines) < quorum:
            raise QuorumNotMetError(quorum, tuple(cosigners), tuple(refusals))
        cosigned = note + "".join(lines)
        self._store.add_checkpoint(n, cosigned)
        return cosigned

    def add_checkpoint(self, note: str) -> Checkpoint:
        """Store a checkpoint note received back from witnesses (e.g. with cosignatures added)
        after checking that it is for this log and commits to this log's tree."""
        if not isinstance(note, str):
            raise UsageError("add_checkpoint() takes the signed note as text")
        try:
            cp = Checkpoint.from_text(checkpoint_text(note))
        except (NoteError, CheckpointError) as exc:
            raise AppendError(f"not a checkpoint note: {exc}") from exc
        if cp.origin != self.origin:
            raise AppendError(f"checkpoint is for log {cp.origin!r}, this log is {self.origin!r}")
        if cp.size > len(self) or self.root(cp.size) != cp.root:
            raise AppendError(f"checkpoint of size {cp.size} does not commit to this log's tree")
        self._store.add_checkpoint(cp.size, note)
        return cp

    def checkpoints(self) -> list[StoredCheckpoint]:
        """Every stored checkpoint note, oldest first."""
        return self._store.checkpoints()

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The most recent stored checkpoint."""
        return self._store.latest_checkpoint()
