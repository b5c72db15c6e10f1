"""The store conformance kit: one abstract pytest test case every store backend must pass.

Subclass :class:`StoreConformance` in a test module (the subclass name must start with ``Test``
so pytest collects it) and implement two hooks::

    class TestMyStore(StoreConformance):
        def make_store(self, origin):        # a new, empty store for this origin
            return MyStore(self.tmp_path / "log", origin=origin)

        def reopen_store(self, store):       # a new handle on the same data
            return MyStore(store.path)

``self.tmp_path`` is a fresh temporary directory per test. A backend whose stores can be opened
by several processes at once sets the class attribute ``supports_multiprocess = True``; the kit
then runs its concurrent-writer test with two real processes (``fork``), otherwise with two
threads sharing one store. Every store the kit obtains from the hooks is closed after the test.

What is checked: empty, one and many appends; rejected appends (bad signature, other log,
broken author chain, a bad entry mid-batch, an exception inside a raw transaction, badly staged
Merkle nodes) leave nothing behind; roots and inclusion/consistency proofs at every past size
equal those of an in-memory :class:`~electlog.merkle.MerkleTree` over the same leaves;
checkpoints are stored and listed in order; the integrity check (``find_damage``) finds nothing
in a sound store and, for a backend that implements the optional :meth:`~StoreConformance.damage`
hook, finds a flipped bit in a stored leaf hash, Merkle node or author head (and the damaged store
refuses writes); reopening preserves everything; and two concurrent writers never interleave
within a batch or fork the log.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue as queue_module
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from .. import codec, merkle
from ..errors import (
    AuthorChainError,
    ElectlogError,
    LogIdMismatchError,
    SignatureError,
    StoreCorruptedError,
    UsageError,
)
from ..events import ZERO_HASH, Author, AuthorHead, Entry
from ..keys import SigningKey
from ..log import Log
from ..note import NoteSigner
from ..store.base import DamageKind, Store, StoredCheckpoint

__all__ = ["StoreConformance"]

_T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z in microseconds
_PAST_SIZES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 70)


def _key(n: int) -> SigningKey:
    return SigningKey.from_seed(bytes([n % 256]) * 31 + bytes([n // 256]))


class StoreConformance:
    """Abstract conformance tests for a :class:`~electlog.store.Store` backend.

    Implement :meth:`make_store` and :meth:`reopen_store`; set ``supports_multiprocess`` on the
    store class (or this subclass) when several processes may write to one store.
    """

    origin: ClassVar[str] = "example.org/conformance"
    """The origin (log id) of the stores the tests create."""

    tmp_path: Path
    """A fresh temporary directory for the current test."""

    # ------------------------------------------------------------------ hooks

    def make_store(self, origin: str) -> Store:
        """Return a new, empty store for ``origin``."""
        raise NotImplementedError("subclasses implement make_store(origin)")

    def reopen_store(self, store: Store) -> Store:
        """Return a new handle on the data of ``store`` (as a new process would open it).
        Called while ``store`` is still open; the kit closes the old handle afterwards. A
        backend without persistence may return ``store`` itself."""
        raise NotImplementedError("subclasses implement reopen_store(store)")

    # ------------------------------------------------------------------ plumbing

    @pytest.fixture(autouse=True)
    def _conformance_setup(self, tmp_path: Path) -> Iterator[None]:
        self.tmp_path = tmp_path
        self._opened: list[Store] = []
        yield
        for store in reversed(self._opened):
            with contextlib.suppress(ElectlogError):
                store.close()

    def new_store(self) -> Store:
        """A new empty store from :meth:`make_store`, closed after the test."""
        store = self.make_store(self.origin)
        self._opened.append(store)
        return store

    def reopen(self, store: Store) -> Store:
        """Reopen ``store`` through :meth:`reopen_store` and close the old handle."""
        new = self.reopen_store(store)
        if new is not store:
            self._opened.append(new)
            store.close()
        return new

    def _multiprocess(self, store: Store) -> bool:
        flag = getattr(self, "supports_multiprocess", None)
        if flag is None:
            flag = getattr(store, "supports_multiprocess", False)
        return bool(flag)

    def author(self, n: int, origin: str | None = None) -> Author:
        """A deterministic author (key derived from ``n``) for this kit's log."""
        return Author(_key(n), origin or self.origin)

    def sign_many(self, authors: Sequence[Author], count: int, tag: str = "x") -> list[Entry]:
        """``count`` entries signed round-robin by ``authors``."""
        out: list[Entry] = []
        for i in range(count):
            a = authors[i % len(authors)]
            out.append(a.sign("conformance.test", {"i": i, "tag": tag}, time=_T0 + i))
        return out

    def assert_matches(self, store: Store, entries: Sequence[Entry]) -> None:
        """The store holds exactly ``entries``: bytes, leaves, every node, heads and root."""
        n = len(entries)
        assert store.size() == n
        assert list(store.entries()) == [e.data for e in entries]
        leaves = [e.leaf_hash for e in entries]
        assert list(store.leaf_hashes(0, n)) == leaves
        tree = merkle.MerkleTree(leaves)
        level = 0
        while n >> level:
            for i in range(n >> level):
                assert store.node(level, i) == tree.node(level, i), (level, i)
            level += 1
        heads: dict[bytes, AuthorHead] = {}
        for e in entries:
            heads[e.author] = AuthorHead(e.statement.seq, e.leaf_hash)
        for author, head in heads.items():
            assert store.author_head(author) == head
        assert merkle.root_at(store.node, n) == tree.root()

    # ------------------------------------------------------------------ basic

    def test_empty_store(self) -> None:
        store = self.new_store()
        assert store.origin == self.origin
        assert store.size() == 0
        assert list(store.entries()) == []
        assert store.checkpoints() == []
        assert store.latest_checkpoint() is None
        assert store.author_head(_key(1).key_id) is None
        with pytest.raises(UsageError):
            store.entry(0)
        with pytest.raises(UsageError):
            store.node(0, 0)
        assert Log(store).root() == merkle.EMPTY_ROOT

    def test_one_append(self) -> None:
        store = self.new_store()
        a = self.author(1)
        e = a.sign("conformance.test", {"n": 1}, time=_T0)
        receipt = Log(store).append(e)
        assert (receipt.index, receipt.leaf_hash) == (0, e.leaf_hash)
        assert store.size() == 1
        assert store.entry(0) == e.data
        assert store.node(0, 0) == e.leaf_hash == store.leaf_hash(0)
        assert store.author_head(a.key_id) == AuthorHead(1, e.leaf_hash)
        assert Log(store).root() == e.leaf_hash
        with pytest.raises(UsageError):
            store.entry(1)
        with pytest.raises(UsageError):
            store.node(1, 0)

    def test_many_appends_in_batches(self) -> None:
        store = self.new_store()
        log = Log(store)
        authors = [self.author(k) for k in range(1, 6)]
        entries = self.sign_many(authors, 777)
        receipts = log.append_many(entries[:500])
        assert [r.index for r in receipts] == list(range(500))
        for lo, hi in ((500, 501), (501, 640), (640, 777)):
            got = log.append_many(entries[lo:hi])
            assert [r.index for r in got] == list(range(lo, hi))
            assert [r.leaf_hash for r in got] == [e.leaf_hash for e in entries[lo:hi]]
        assert log.append_many([]) == []
        self.assert_matches(store, entries)
        assert list(store.entries(100, 103)) == [e.data for e in entries[100:103]]
        assert list(store.entries(777, 777)) == []
        with pytest.raises(UsageError):
            list(store.entries(0, 778))
        with pytest.raises(UsageError):
            list(store.entries(5, 4))

    # ------------------------------------------------------------------ rejections

    def _prefilled(self) -> tuple[Store, Log, list[Author], list[Entry]]:
        store = self.new_store()
        log = Log(store)
        authors = [self.author(k) for k in range(1, 4)]
        entries = self.sign_many(authors, 20)
        log.append_many(entries)
        return store, log, authors, entries

    def _assert_unchanged(self, store: Store, entries: Sequence[Entry]) -> None:
        self.assert_matches(store, entries)

    def test_rejects_bad_signature(self) -> None:
        store, log, authors, entries = self._prefilled()
        good = authors[0].sign("conformance.test", {"n": "forged"}, time=_T0)
        m = codec.decode(good.data)
        assert isinstance(m, dict)
        m["sig"] = bytes([m["sig"][0] ^ 1]) + m["sig"][1:]
        with pytest.raises(SignatureError):
            log.append(codec.encode(m))
        self._assert_unchanged(store, entries)

    def test_rejects_other_log(self) -> None:
        store, log, _, entries = self._prefilled()
        stranger = Author(_key(9), "example.org/another-log")
        with pytest.raises(LogIdMismatchError):
            log.append(stranger.sign("conformance.test", {}, time=_T0))
        self._assert_unchanged(store, entries)

    def test_rejects_broken_author_chain(self) -> None:
        store, log, authors, entries = self._prefilled()
        a = authors[1]
        head = a.head()
        a.sign("conformance.test", {"skipped": True}, time=_T0)  # never appended: a gap
        gap = a.sign("conformance.test", {"after": "gap"}, time=_T0)
        with pytest.raises(AuthorChainError):
            log.append(gap)
        with pytest.raises(AuthorChainError):  # a replay of an appended entry
            log.append(entries[1])
        forged = Author(a.key, self.origin, seq=head.seq, prev=b"\x07" * 32)
        with pytest.raises(AuthorChainError):  # right seq, wrong prev
            log.append(forged.sign("conformance.test", {}, time=_T0))
        newcomer = Author(_key(50), self.origin, seq=1, prev=b"\x01" * 32)
        with pytest.raises(AuthorChainError):  # a new author must start at seq 1
            log.append(newcomer.sign("conformance.test", {}, time=_T0))
        self._assert_unchanged(store, entries)

    def test_mid_batch_failure_leaves_nothing(self) -> None:
        store, log, authors, entries = self._prefilled()
        batch = self.sign_many(authors, 9, tag="batch")
        bad = Author(_key(9), "example.org/another-log").sign("conformance.test", {}, time=_T0)
        with pytest.raises(LogIdMismatchError):
            log.append_many([*batch[:4], bad, *batch[4:]])
        self._assert_unchanged(store, entries)
        # the same batch with an author-chain break in the middle
        with pytest.raises(AuthorChainError):
            log.append_many([*batch[:5], batch[3], *batch[5:]])
        self._assert_unchanged(store, entries)
        # the log still accepts the batch itself afterwards
        receipts = log.append_many(batch)
        assert [r.index for r in receipts] == list(range(20, 29))
        self.assert_matches(store, [*entries, *batch])

    def test_transaction_rolls_back_on_exception(self) -> None:
        store, _, authors, entries = self._prefilled()
        e = authors[0].sign("conformance.test", {"n": "rolled back"}, time=_T0)

        class Boom(Exception):
            pass

        with pytest.raises(Boom), store.transaction() as tx:
            assert tx.size == 20
            assert tx.append(e.data, e.leaf_hash, e.author, e.statement.seq) == 20
            assert tx.size == 21
            assert tx.node(0, 20) == e.leaf_hash
            assert tx.author_head(e.author) == AuthorHead(e.statement.seq, e.leaf_hash)
            tx.put_nodes([])
            raise Boom
        self._assert_unchanged(store, entries)
        # a fresh transaction sees the committed state only
        with store.transaction() as tx:
            assert tx.size == 20
            assert tx.author_head(e.author) == AuthorHead(7, entries[18].leaf_hash)

    def test_rejects_badly_staged_nodes(self) -> None:
        store, _, authors, entries = self._prefilled()
        e = authors[2].sign("conformance.test", {"n": 21}, time=_T0)
        # growing 20 -> 21 completes no node; restaging an existing node must be refused
        with pytest.raises(UsageError), store.transaction() as tx:
            tx.append(e.data, e.leaf_hash, e.author, e.statement.seq)
            tx.put_nodes([(1, 0, b"\x05" * 32)])
        self._assert_unchanged(store, entries)

    # ------------------------------------------------------------------ past sizes

    def test_reads_at_past_sizes(self) -> None:
        store = self.new_store()
        log = Log(store)
        entries = self.sign_many([self.author(1), self.author(2)], 70)
        for lo, hi in ((0, 1), (1, 16), (16, 33), (33, 70)):
            log.append_many(entries[lo:hi])
        tree = merkle.MerkleTree(e.leaf_hash for e in entries)
        for size in _PAST_SIZES:
            root = tree.root(size)
            assert merkle.root_at(store.node, size) == root
            assert log.root(size) == root
            for index in range(size):
                proof = log.inclusion_proof(index, size)
                assert proof == tree.inclusion_proof(index, size)
                merkle.verify_inclusion(entries[index].leaf_hash, index, size, proof, root)
        for i, size1 in enumerate(_PAST_SIZES):
            for size2 in _PAST_SIZES[i:]:
                proof = log.consistency_proof(size1, size2)
                assert proof == tree.consistency_proof(size1, size2)
                merkle.verify_consistency(size1, size2, proof, tree.root(size1), tree.root(size2))

    def test_proofs_while_the_log_grows(self) -> None:
        # Past 256 entries proofs reuse memoised upper paths; a path memoised at one size must
        # never be served for another, and proofs at an old size stay the same after growth.
        store = self.new_store()
        log = Log(store)
        entries = self.sign_many([self.author(1)], 600)
        tree = merkle.MerkleTree(e.leaf_hash for e in entries)
        sizes = (256, 257, 300, 512, 513, 600)
        probes = (0, 1, 255, 256, 299, 511, 512, 599)
        before: dict[tuple[int, int], list[bytes]] = {}
        done = 0
        for size in sizes:
            log.append_many(entries[done:size])
            done = size
            for s in sizes:
                for index in probes:
                    if index < s <= size:
                        proof = log.inclusion_proof(index, s)
                        assert proof == tree.inclusion_proof(index, s)
                        assert before.setdefault((index, s), proof) == proof
            latest = [log.inclusion_proof(index) for index in probes if index < size]
            assert latest == [tree.inclusion_proof(i, size) for i in probes if i < size]

    # ------------------------------------------------------------------ checkpoints

    def test_checkpoints_stored_and_listed(self) -> None:
        store = self.new_store()
        log = Log(store)
        signer = NoteSigner.generate(self.origin, rng_seed=b"\x11" * 32)
        entries = self.sign_many([self.author(1)], 12)
        notes = [log.checkpoint(signer)]
        log.append_many(entries[:5])
        notes.append(log.checkpoint(signer))
        log.append_many(entries[5:])
        notes.append(log.checkpoint(signer))
        notes.append(log.checkpoint(signer, size=3))
        want = [StoredCheckpoint(s, n) for s, n in zip((0, 5, 12, 3), notes, strict=True)]
        assert store.checkpoints() == want
        assert store.latest_checkpoint() == want[-1]
        with pytest.raises(UsageError):
            store.add_checkpoint(13, notes[-1])
        assert store.checkpoints() == want

    # ------------------------------------------------------------------ damage (optional hook)

    def damage(self, store: Store, what: str, key: int | bytes) -> None:
        """Optional hook for the corruption tests: flip one bit of one stored value behind the
        store's back, through the backend's own storage (not the :class:`Store` API).

        ``what`` is ``"leaf"`` (the stored leaf hash of entry ``key``), ``"node"`` (the stored
        level-1 Merkle node with index ``key``) or ``"head"`` (the stored head hash of the
        author whose key id is ``key``). A backend whose data cannot be changed from outside
        (an in-memory store) leaves this unimplemented and the corruption tests skip."""
        raise NotImplementedError

    def _damaged(self, what: str) -> tuple[Store, list[Entry]]:
        store = self.new_store()
        entries = self.sign_many([self.author(k) for k in range(3)], 40)
        Log(store).append_many(entries)
        key: int | bytes = entries[0].statement.author if what == "head" else 5
        try:
            self.damage(store, what, key)
        except NotImplementedError:
            pytest.skip(f"{type(self).__name__} does not implement the damage() hook")
        return store, entries

    def _assert_damage_found(self, store: Store, kind: DamageKind, index: int | None) -> None:
        found = store.find_damage(full=True)
        assert [(d.kind, d.index) for d in found] == [(kind, index)], found
        # a store with damage refuses writes, and appends nothing
        size = store.size()
        with pytest.raises(StoreCorruptedError):
            Log(store).append(self.author(9).sign("conformance.test", {"late": 1}, time=_T0))
        assert store.size() == size

    def test_damaged_leaf_hash_is_found(self) -> None:
        """A flipped bit in a stored leaf hash is LEAF damage at that entry's index, found by
        the full check (the quick check at open looks only at the newest entries)."""
        store, _ = self._damaged("leaf")
        self._assert_damage_found(store, DamageKind.LEAF, 5)

    def test_damaged_merkle_node_is_found(self) -> None:
        """A flipped bit in a stored Merkle node is NODE damage."""
        store, _ = self._damaged("node")
        self._assert_damage_found(store, DamageKind.NODE, None)

    def test_damaged_author_head_is_found(self) -> None:
        """A flipped bit in a stored author head is HEAD damage, found at reopen too."""
        store, _ = self._damaged("head")
        self._assert_damage_found(store, DamageKind.HEAD, None)
        with pytest.raises(StoreCorruptedError):
            self.reopen(store)

    def test_sound_store_has_no_damage(self) -> None:
        """The integrity checks never accuse a sound store: after batches by several authors,
        checkpoints (one at size 0, one older than the one before) and a reopen, the full and
        the quick check find nothing and the store still accepts appends."""
        store = self.new_store()
        log = Log(store)
        signer = NoteSigner.generate(self.origin, rng_seed=b"\x12" * 32)
        entries = self.sign_many([self.author(k) for k in range(3)], 70)
        log.checkpoint(signer)
        log.append_many(entries[:33])
        log.checkpoint(signer)
        log.append_many(entries[33:69])
        log.checkpoint(signer)
        log.checkpoint(signer, size=20)
        assert store.find_damage(full=True) == ()
        store = self.reopen(store)
        assert store.find_damage(full=False) == ()
        assert store.find_damage(full=True) == ()
        Log(store).append_many(entries[69:])
        assert store.find_damage(full=True) == ()
        self.assert_matches(store, entries)

    # ------------------------------------------------------------------ reopen

    def test_reopen_preserves_everything(self) -> None:
        store = self.new_store()
        log = Log(store)
        signer = NoteSigner.generate(self.origin, rng_seed=b"\x12" * 32)
        authors = [self.author(k) for k in range(1, 4)]
        entries = self.sign_many(authors, 300)
        log.append_many(entries[:257])
        log.checkpoint(signer)
        log.append_many(entries[257:])
        note = log.checkpoint(signer)
        cps = store.checkpoints()
        store2 = self.reopen(store)
        assert store2.origin == self.origin
        self.assert_matches(store2, entries)
        assert store2.checkpoints() == cps
        assert store2.latest_checkpoint() == StoredCheckpoint(300, note)
        # and it keeps accepting appends that continue every chain
        more = self.sign_many(authors, 10, tag="more")
        Log(store2).append_many(more)
        store3 = self.reopen(store2)
        self.assert_matches(store3, [*entries, *more])

    # ------------------------------------------------------------------ concurrency

    def test_concurrent_writers(self) -> None:
        store = self.new_store()
        workers, batches, per_batch = 2, 12, 8
        if self._multiprocess(store):
            ctx = multiprocessing.get_context("fork")
            barrier: Any = ctx.Barrier(workers)
            results: Any = ctx.Queue()
            procs = [
                ctx.Process(
                    target=self._writer,
                    args=(store, w, batches, per_batch, barrier, results, True),
                )
                for w in range(workers)
            ]
            for p in procs:
                p.start()
            outcome = {}
            try:
                for _ in range(workers):
                    w, err = results.get(timeout=180)
                    outcome[w] = err
            except queue_module.Empty:
                pytest.fail("a writer process did not finish within 180 s")
            finally:
                for p in procs:
                    p.join(timeout=30)
                    if p.is_alive():
                        p.kill()
            assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
        else:
            tbarrier = threading.Barrier(workers)
            tresults: queue_module.Queue[tuple[int, str | None]] = queue_module.Queue()
            threads = [
                threading.Thread(
                    target=self._writer,
                    args=(store, w, batches, per_batch, tbarrier, tresults, False),
                )
                for w in range(workers)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=180)
            outcome = dict(tresults.get_nowait() for _ in range(workers))
        assert outcome == dict.fromkeys(range(workers)), outcome
        self._check_concurrent_result(store, workers, batches, per_batch)

    def _writer(
        self,
        store: Store,
        worker: int,
        batches: int,
        per_batch: int,
        barrier: Any,
        results: Any,
        reopen: bool,
    ) -> None:
        try:
            own = self.reopen_store(store) if reopen else store
            log = Log(own)
            authors = [self.author(100 + 2 * worker + k) for k in range(2)]
            signed = [
                [
                    authors[i % 2].sign(
                        "conformance.test", {"b": b, "i": i, "w": worker}, time=_T0 + i
                    )
                    for i in range(per_batch)
                ]
                for b in range(batches)
            ]
            barrier.wait(60)
            for batch in signed:
                log.append_many(batch)
            if reopen and own is not store:
                own.close()
            results.put((worker, None))
        except BaseException as exc:
            results.put((worker, f"{type(exc).__name__}: {exc}"))

    def _check_concurrent_result(
        self, store: Store, workers: int, batches: int, per_batch: int
    ) -> None:
        n = workers * batches * per_batch
        assert store.size() == n
        entries: list[Entry] = [Entry.from_bytes(d) for d in store.entries()]
        positions: dict[tuple[int, int], list[tuple[int, int]]] = {}
        chains: dict[bytes, list[Entry]] = {}
        for index, e in enumerate(entries):
            body = e.statement.body
            positions.setdefault((body["w"], body["b"]), []).append((index, body["i"]))
            chains.setdefault(e.author, []).append(e)
        assert len(positions) == workers * batches  # both writers' batches are all present
        for key, where in positions.items():
            first = where[0][0]
            assert where == [(first + i, i) for i in range(per_batch)], f"batch {key} interleaved"
        for author, chain in chains.items():
            prev = ZERO_HASH
            for seq, e in enumerate(chain, start=1):
                assert (e.statement.seq, e.statement.prev) == (seq, prev)
                prev = e.leaf_hash
            assert store.author_head(author) == AuthorHead(len(chain), prev)
        tree = merkle.MerkleTree(e.leaf_hash for e in entries)
        for size in range(1, n + 1, 7):
            assert merkle.root_at(store.node, size) == tree.root(size)
        self.assert_matches(store, entries)

    def test_concurrent_threads_share_one_store(self) -> None:
        store = self.new_store()
        workers, batches, per_batch = 3, 6, 5
        tbarrier = threading.Barrier(workers)
        tresults: queue_module.Queue[tuple[int, str | None]] = queue_module.Queue()
        threads = [
            threading.Thread(
                target=self._writer,
                args=(store, w, batches, per_batch, tbarrier, tresults, False),
            )
            for w in range(workers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)
        outcome = dict(tresults.get_nowait() for _ in range(workers))
        assert outcome == dict.fromkeys(range(workers)), outcome
        self._check_concurrent_result(store, workers, batches, per_batch)
