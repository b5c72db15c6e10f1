"""The in-memory log: checked appends, all-or-nothing batches, proofs and checkpoints."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from electlog import codec, merkle
from electlog.checkpoint import (
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    WitnessSigner,
    WitnessVerifier,
    cosign,
    verify_checkpoint,
)
from electlog.errors import (
    AppendError,
    AuthorChainError,
    EntryError,
    LogIdMismatchError,
    SignatureError,
    UsageError,
)
from electlog.events import Author, Entry, VerifiedEntry
from electlog.keys import SigningKey
from electlog.log import Log

ORIGIN = "example.org/log-test"


def keys(n: int) -> list[SigningKey]:
    return [SigningKey.from_seed(bytes([i + 1]) * 32) for i in range(n)]


def test_append_returns_receipts_and_reads_back() -> None:
    log = Log(ORIGIN)
    a = Author(keys(1)[0], ORIGIN)
    entries = [a.sign("t", {"i": i}, time=i) for i in range(5)]
    receipts = log.append_many(entries)
    assert [r.index for r in receipts] == [0, 1, 2, 3, 4]
    assert [r.leaf_hash for r in receipts] == [e.leaf_hash for e in entries]
    assert len(log) == 5
    assert [e.data for e in log] == [e.data for e in entries]
    assert log.get(3) == entries[3] and log.get_bytes(3) == entries[3].data
    assert log.root() == merkle.root([e.leaf_hash for e in entries])
    assert log.author_head(a.key_id) == a.head()


def test_rejected_appends_leave_the_log_unchanged() -> None:
    log = Log(ORIGIN)
    k1, k2 = keys(2)
    a, b = Author(k1, ORIGIN), Author(k2, ORIGIN)
    log.append(a.sign("t", {}, time=0))
    root = log.root()

    skipped = Author(k1, ORIGIN, seq=a.seq + 1, prev=a.prev)  # skips seq 2
    with pytest.raises(AuthorChainError, match="sequence number 3, expected 2"):
        log.append(skipped.sign("t", {}, time=1))
    relinked = Author(k1, ORIGIN, seq=1, prev=b"\x07" * 32)
    with pytest.raises(AuthorChainError, match="does not link"):
        log.append(relinked.sign("t", {}, time=1))
    other = Author(k2, "example.org/other-log")
    with pytest.raises(LogIdMismatchError):
        log.append(other.sign("t", {}, time=1))
    # a good entry followed by a bad one in a batch: nothing of the batch lands
    good = b.sign("t", {}, time=2)
    bad = Author(k2, ORIGIN, seq=5, prev=b"\x01" * 32).sign("t", {}, time=3)
    with pytest.raises(AuthorChainError, match="batch item 1"):
        log.append_many([good, bad])
    # a forged signature in raw bytes
    forged = codec.decode_map(b.sign("t", {}, time=4).data)
    forged["sig"] = bytes(64)
    with pytest.raises(SignatureError, match="batch item 0"):
        log.append(codec.encode(forged))
    with pytest.raises(EntryError):
        log.append(b"\x80")
    with pytest.raises(UsageError):
        log.append_many([42])  # type: ignore[list-item]
    assert len(log) == 1 and log.root() == root
    assert log.author_head(k2.key_id) is None


def test_raw_bytes_and_unverified_entries_are_verified() -> None:
    log = Log(ORIGIN)
    a = Author(keys(1)[0], ORIGIN)
    e = a.sign("t", {}, time=0)
    unverified = Entry.from_bytes(e.data, verify=False)
    assert log.append(unverified).index == 0
    e2 = a.sign("t", {}, time=1)
    assert log.append(e2.data).index == 1


def _flipped(entry: Entry) -> bytes:
    """``entry``'s bytes with one bit of its signature flipped (still canonical)."""
    at = entry.data.index(entry.signature) + 10
    return entry.data[:at] + bytes([entry.data[at] ^ 0x01]) + entry.data[at + 1 :]


class _Dressed(Entry):
    """An Entry subclass with a ``__dict__``: the old way of claiming "verified" (setting
    ``_verified`` with ``object.__setattr__``) works on it, and must make no difference."""


def test_a_forged_entry_dressed_up_as_verified_is_refused_naming_the_batch_item() -> None:
    log = Log(ORIGIN)
    a = Author(keys(1)[0], ORIGIN)
    good = [a.sign("t", {"i": i}, time=i) for i in range(4)]
    bad = Entry.from_bytes(_flipped(good[2]), verify=False)  # parses; signature wrong
    # dressed up the old way: the private flag set on an entry that carries it
    parts = attrs.asdict(bad, recurse=False)
    dressed = _Dressed(**parts)
    object.__setattr__(dressed, "_verified", True)
    assert dressed._verified is True  # type: ignore[attr-defined]
    # or claiming a signature that is not the one in the bytes
    posing = attrs.evolve(bad, signature=good[2].signature)
    for forged in (bad, dressed, posing):
        with pytest.raises(SignatureError, match=r"batch item 2: signature of t .* not verify"):
            log.append_many([good[0], good[1], forged, good[3]])
        assert len(log) == 0  # all or nothing
    # the flag does not exist on entries any more, and the verified type cannot be made by hand
    with pytest.raises(AttributeError):
        object.__setattr__(bad, "_verified", True)
    with pytest.raises(UsageError, match="made by verification"):
        VerifiedEntry(**parts)
    with pytest.raises(UsageError, match="made by verification"):
        attrs.evolve(good[2], data=bad.data)  # type: ignore[call-arg]
    assert [r.index for r in log.append_many(good)] == [0, 1, 2, 3]


def test_only_verification_makes_a_verified_entry() -> None:
    a = Author(keys(1)[0], ORIGIN)
    e = a.sign("t", {}, time=0)
    assert type(e) is VerifiedEntry
    plain = Entry.from_bytes(e.data, verify=False)
    assert type(plain) is Entry and plain == e and hash(plain) == hash(e)
    assert type(Entry.from_bytes(e.data)) is VerifiedEntry
    checked = plain.verify()
    assert type(checked) is VerifiedEntry and checked == e and checked.verify() is checked
    with pytest.raises(SignatureError, match="does not verify"):
        Entry.from_bytes(_flipped(e), verify=False).verify()
    # a plain Entry whose attributes disagree with its bytes is checked from its bytes alone
    lying = attrs.evolve(plain, signature=b"\x00" * 64, leaf_hash=b"\x00" * 32)
    assert lying.verify().leaf_hash == e.leaf_hash


def test_proofs_and_checkpoints() -> None:
    log = Log(ORIGIN)
    a = Author(keys(1)[0], ORIGIN)
    log.append_many([a.sign("t", {"i": i}, time=i) for i in range(13)])
    signer = NoteSigner.generate(ORIGIN)
    witness = WitnessSigner.generate("witness.example")
    note = log.checkpoint(signer, size=7)
    cp = verify_checkpoint(note, NoteVerifier.from_vkey(signer.vkey))
    assert cp == Checkpoint(origin=ORIGIN, size=7, root=log.root(7))
    for i in range(7):
        merkle.verify_inclusion(log.get(i).leaf_hash, i, 7, log.inclusion_proof(i, 7), cp.root)
    merkle.verify_consistency(7, 13, log.consistency_proof(7), cp.root, log.root())
    cosigned = cosign(note, witness, 1_790_000_000)
    stored = log.add_checkpoint(cosigned)
    assert stored.size == 7
    verify_checkpoint(
        cosigned,
        NoteVerifier.from_vkey(signer.vkey),
        [WitnessVerifier.from_vkey(witness.vkey)],
        quorum=1,
    )
    assert [c.note for c in log.checkpoints()] == [note, cosigned]
    with pytest.raises(UsageError, match="must equal the log origin"):
        log.checkpoint(NoteSigner.generate("someone.else"))
    other = Log(ORIGIN)
    with pytest.raises(AppendError, match="does not commit"):
        other.add_checkpoint(note)
    with pytest.raises(UsageError, match="NoteSigner"):
        log.checkpoint("not a signer")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="as text"):
        log.add_checkpoint(note.encode())  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        log.inclusion_proof(13, 13)
    with pytest.raises(UsageError):
        log.root(14)


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(1, 40), min_size=1, max_size=5), authors=st.integers(1, 3))
def test_batches_build_the_same_tree_as_merkle_tree(sizes: list[int], authors: int) -> None:
    log = Log(ORIGIN)
    writers = [Author(k, ORIGIN) for k in keys(authors)]
    tree = merkle.MerkleTree()
    t = 0
    for n in sizes:
        batch = []
        for _ in range(n):
            batch.append(writers[t % authors].sign("t", {"t": t}, time=t))
            t += 1
        log.append_many(batch)
        for e in batch:
            tree.append(e.leaf_hash)
    total = len(tree)
    for size in {1, total // 2 or 1, total}:
        assert log.root(size) == tree.root(size)
        for i in range(0, size, max(1, size // 7)):
            assert log.inclusion_proof(i, size) == tree.inclusion_proof(i, size)
        assert log.consistency_proof(size, total) == tree.consistency_proof(size, total)
