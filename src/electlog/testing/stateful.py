"""Hypothesis state machines: a store against an in-memory model, an election phase by phase.

:class:`StoreMachine` drives any :class:`~electlog.store.Store` through a
:class:`~electlog.log.Log` with random appends (valid batches, and invalid entries that must be
refused without a trace), reads, inclusion and consistency proofs, checkpoints and reopening,
and checks after every step that the store agrees with a model kept in plain Python lists and an
in-memory :class:`~electlog.merkle.MerkleTree`. Subclass it with your backend::

    class SQLiteMachine(StoreMachine):
        def make_store(self, origin):
            return SQLiteStore(self.workdir / "log.sqlite", origin=origin)

        def reopen_store(self, store):
            store.close()
            return SQLiteStore(self.workdir / "log.sqlite")

    TestSQLiteMachine = SQLiteMachine.TestCase

:class:`ElectionMachine` runs a drawn election (:class:`~electlog.testing.strategies.
ElectionBuilder`) one phase per step, interleaved with events that break a rule and must be
refused; after every step it checks that the incremental projections equal a rebuild from the
log and that the auditor, given a fresh cosigned checkpoint, reports nothing.

Hypothesis is an optional dependency: ``pip install 'electlog[test]'``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Any, ClassVar, Final

try:
    from hypothesis import strategies as st
    from hypothesis.stateful import (
        RuleBasedStateMachine,
        initialize,
        invariant,
        precondition,
        rule,
    )
except ImportError as _exc:  # pragma: no cover - exercised by a subprocess test
    raise ImportError(
        "electlog.testing.stateful needs hypothesis: pip install 'electlog[test]'"
    ) from _exc

from electlog import merkle
from electlog.audit import BytesSource, audit
from electlog.checkpoint import Checkpoint, verify_checkpoint
from electlog.codec import encode
from electlog.election import (
    ElectionState,
    NominationFiled,
    RollPublished,
    VoterRegistered,
    log_events,
)
from electlog.election.build import cosigned_checkpoint
from electlog.election.codes import (
    REF_UNKNOWN,
    ROLL_HASH_MISMATCH,
    SIGNER_ROLE,
    SIGNER_UNAUTHORISED,
    VOTER_DUPLICATE,
    VOTER_UNDERAGE,
)
from electlog.election.events import ElectionEvent
from electlog.errors import (
    AuthorChainError,
    ElectlogError,
    EntryError,
    LogIdMismatchError,
    RuleViolation,
    SignatureError,
)
from electlog.events import ZERO_HASH, Author, AuthorHead, Entry
from electlog.keys import SigningKey
from electlog.log import Log
from electlog.note import NoteSigner
from electlog.store import MemoryStore, Store

from .strategies import ElectionBuilder, canonical_values

__all__ = ["ElectionMachine", "StoreMachine"]

_T0: Final = 1_790_000_000_000_000
_AUTHORS: Final = 3


def _key(n: int) -> SigningKey:
    return SigningKey.from_seed(hashlib.sha256(b"electlog-store-machine/%d" % n).digest())


_BODIES: Final = st.dictionaries(
    st.sampled_from(("n", "text", "data", "list")), canonical_values(max_leaves=4), max_size=3
)
INVALID_APPENDS: Final = (
    "bad_signature",
    "wrong_log",
    "replayed_seq",
    "skipped_seq",
    "wrong_prev",
    "not_canonical",
    "bad_entry_mid_batch",
)


class StoreMachine(RuleBasedStateMachine):
    """A store driven through a :class:`~electlog.log.Log` against an in-memory model.

    Override :meth:`make_store` (and :meth:`reopen_store` for a persistent backend). The model
    holds the entries in order, an independent Merkle tree over their leaf hashes, every
    author's head and every checkpoint; after each step the store must agree with it.
    ``self.workdir`` is a fresh directory per run, removed at the end.
    """

    origin: ClassVar[str] = "example.org/store-machine"

    def __init__(self) -> None:
        super().__init__()
        self.workdir = Path(tempfile.mkdtemp(prefix="electlog-machine-"))
        self.store = self.make_store(self.origin)
        self.log = Log(self.store)
        self.signer = NoteSigner(self.origin, hashlib.sha256(b"machine-log-key").digest())
        self.authors = [Author(_key(i), self.origin) for i in range(_AUTHORS)]
        self.entries: list[Entry] = []
        self.tree = merkle.MerkleTree()
        self.heads: dict[bytes, AuthorHead] = {}
        self.notes: list[tuple[int, str]] = []
        self.clock = _T0

    # ------------------------------------------------------------------ hooks

    def make_store(self, origin: str) -> Store:
        """A new, empty store for ``origin`` (default: a :class:`MemoryStore`)."""
        return MemoryStore(origin)

    def reopen_store(self, store: Store) -> Store:
        """A new handle on ``store``'s data, as another process would open it (close the old
        handle if the backend needs that). The default returns ``store`` (no persistence)."""
        return store

    def teardown(self) -> None:
        try:
            self.store.close()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ------------------------------------------------------------------ helpers

    def _sign(self, author: Author, body: dict[str, Any]) -> Entry:
        self.clock += 1
        return author.sign("machine.event", body, time=self.clock)

    def _record(self, batch: list[Entry]) -> None:
        for e in batch:
            self.entries.append(e)
            self.tree.append(e.leaf_hash)
            self.heads[e.author] = AuthorHead(e.statement.seq, e.leaf_hash)

    def _refused(self, fn: Any, expected: type[ElectlogError]) -> None:
        size, root = self.store.size(), self.log.root()
        heads = {k: self.store.author_head(k) for k in self.heads}
        try:
            fn()
        except expected:
            pass
        else:
            raise AssertionError(f"the store accepted an append that must raise {expected}")
        assert self.store.size() == size, "a refused append left entries behind"
        assert self.log.root() == root
        assert {k: self.store.author_head(k) for k in self.heads} == heads

    # ------------------------------------------------------------------ rules

    @rule(author=st.integers(0, _AUTHORS - 1), bodies=st.lists(_BODIES, min_size=1, max_size=4))
    def append_valid(self, author: int, bodies: list[dict[str, Any]]) -> None:
        """A batch of valid entries by one author: all appended, in order."""
        a = self.authors[author]
        batch = [self._sign(a, body) for body in bodies]
        start = len(self.entries)
        receipts = self.log.append_many(batch)
        assert [r.index for r in receipts] == list(range(start, start + len(batch)))
        assert [r.leaf_hash for r in receipts] == [e.leaf_hash for e in batch]
        self._record(batch)

    @rule(author=st.integers(0, _AUTHORS - 1), kind=st.sampled_from(INVALID_APPENDS))
    def append_invalid(self, author: int, kind: str) -> None:
        """An entry that must be refused, leaving store, tree and heads exactly as they were."""
        a = self.authors[author]
        head = a.head()
        if kind == "bad_signature":
            e = self._sign(a, {"n": 1})
            sig = bytes([e.signature[0] ^ 1]) + e.signature[1:]
            data = encode({"key": e.public_key, "sig": sig, "stmt": e.statement_bytes})
            self._refused(lambda: self.log.append(data), SignatureError)
        elif kind == "wrong_log":
            other = Author(a.key, "example.org/another-log", seq=a.seq, prev=a.prev)
            e = other.sign("machine.event", {}, time=self.clock)
            self._refused(lambda: self.log.append(e), LogIdMismatchError)
        elif kind == "replayed_seq":
            if not head.seq:
                return
            stale = Author(a.key, self.origin, seq=0)
            e = stale.sign("machine.event", {"again": True}, time=self.clock)
            self._refused(lambda: self.log.append(e), AuthorChainError)
        elif kind == "skipped_seq":
            self._sign(a, {"lost": True})  # signed, never appended
            e = self._sign(a, {"n": 2})
            self._refused(lambda: self.log.append(e), AuthorChainError)
        elif kind == "wrong_prev":
            if not head.seq:
                return
            forged = Author(a.key, self.origin, seq=head.seq, prev=hashlib.sha256(b"x").digest())
            e = forged.sign("machine.event", {}, time=self.clock)
            self._refused(lambda: self.log.append(e), AuthorChainError)
        elif kind == "not_canonical":
            e = self._sign(a, {"n": 3})
            self._refused(lambda: self.log.append(e.data + b"\x00"), EntryError)
        else:  # bad_entry_mid_batch: the good entries before it must not land either
            good = self._sign(a, {"n": 4})
            bad = self._sign(a, {"n": 5})
            sig = bytes(64)
            data = encode({"key": bad.public_key, "sig": sig, "stmt": bad.statement_bytes})
            self._refused(lambda: self.log.append_many([good, data]), SignatureError)
        a.rewind(head)

    @precondition(lambda self: self.entries)
    @rule(data=st.data())
    def read(self, data: st.DataObject) -> None:
        """Single reads and a streamed range give back the exact bytes appended."""
        n = len(self.entries)
        i = data.draw(st.integers(0, n - 1), label="index")
        assert self.store.entry(i) == self.entries[i].data
        assert self.log.get(i) == self.entries[i]
        start = data.draw(st.integers(0, n), label="start")
        stop = data.draw(st.integers(start, n), label="stop")
        got = list(self.store.entries(start, stop))
        assert got == [e.data for e in self.entries[start:stop]]

    @precondition(lambda self: self.entries)
    @rule(data=st.data())
    def inclusion(self, data: st.DataObject) -> None:
        """An inclusion proof at a past size equals the model's and verifies."""
        n = len(self.entries)
        size = data.draw(st.integers(1, n), label="size")
        i = data.draw(st.integers(0, size - 1), label="index")
        proof = self.log.inclusion_proof(i, size)
        assert proof == self.tree.inclusion_proof(i, size)
        merkle.verify_inclusion(self.entries[i].leaf_hash, i, size, proof, self.tree.root(size))

    @precondition(lambda self: self.entries)
    @rule(data=st.data())
    def consistency(self, data: st.DataObject) -> None:
        """A consistency proof between two past sizes equals the model's and verifies."""
        n = len(self.entries)
        size2 = data.draw(st.integers(1, n), label="size2")
        size1 = data.draw(st.integers(1, size2), label="size1")
        proof = self.log.consistency_proof(size1, size2)
        assert proof == self.tree.consistency_proof(size1, size2)
        merkle.verify_consistency(size1, size2, proof, self.tree.root(size1), self.tree.root(size2))

    @rule(data=st.data())
    def checkpoint(self, data: st.DataObject) -> None:
        """A signed checkpoint at a past size commits to the model's root and is stored."""
        size = data.draw(st.integers(0, len(self.entries)), label="size")
        note = self.log.checkpoint(self.signer, size=size)
        cp = verify_checkpoint(note, self.signer.verifier())
        assert (cp.size, cp.root) == (size, self.tree.root(size))
        self.notes.append((size, note))

    @rule()
    def reopen(self) -> None:
        """A new handle on the same data (a restart) holds everything committed."""
        self.store = self.reopen_store(self.store)
        self.log = Log(self.store)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def agrees_with_model(self) -> None:
        """Size, root, every author head and every checkpoint equal the model's."""
        n = len(self.entries)
        assert self.store.size() == n == len(self.log)
        assert (
            self.log.root() == self.tree.root() == merkle.root([e.leaf_hash for e in self.entries])
        )
        for key_id, head in self.heads.items():
            assert self.store.author_head(key_id) == head
        assert [(c.size, c.note) for c in self.store.checkpoints()] == self.notes


_INVALID_EVENTS: Final = (
    "unauthorised_signer",
    "wrong_role",
    "duplicate_voter",
    "underage_voter",
    "unknown_post",
    "wrong_roll_hash",
)


class ElectionMachine(RuleBasedStateMachine):
    """An election run phase by phase (:class:`~electlog.testing.strategies.ElectionBuilder`,
    drawn afresh for every run), interleaved with events that break a rule.

    After every step: the projections kept incrementally by the
    :class:`~electlog.election.Election` facade equal :meth:`ElectionState.rebuild` from the
    log (every projection hash), and an audit of the log with a fresh cosigned checkpoint
    reports no finding at all. A refused event must raise :class:`RuleViolation` with the
    expected rule code and change neither the log nor the projections.

    Override :meth:`builder_options` to shape the elections (e.g. ``{"communities": 1}``) and
    :meth:`make_store` to run on another backend.
    """

    def __init__(self) -> None:
        super().__init__()
        self.workdir = Path(tempfile.mkdtemp(prefix="electlog-election-machine-"))
        self.builder: ElectionBuilder | None = None
        self.refused = 0

    def make_store(self, origin: str) -> Store:
        """The store of the election's log (default: a :class:`MemoryStore`)."""
        return MemoryStore(origin)

    def builder_options(self) -> dict[str, Any]:
        """Keyword arguments for :class:`ElectionBuilder` (default: small elections)."""
        return {"communities": st.integers(1, 2), "extra_voters": st.integers(0, 2)}

    def teardown(self) -> None:
        if self.builder is not None:
            self.builder.log.store.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def b(self) -> ElectionBuilder:
        assert self.builder is not None
        return self.builder

    @initialize(data=st.data())
    def start(self, data: st.DataObject) -> None:
        """Draw the election's parameters and run its first phase (the genesis)."""
        origin = "example.org/election-machine"
        self.builder = ElectionBuilder(
            data.draw, store=self.make_store(origin), origin=origin, **self.builder_options()
        )
        self.b.next_phase()

    @precondition(lambda self: self.builder is not None and len(self.b.done) < len(self.b.PHASES))
    @rule(data=st.data())
    def next_phase(self, data: st.DataObject) -> None:
        """Run the next phase of the election."""
        self.b.draw = data.draw
        self.b.next_phase()

    def _today(self) -> int:
        return self.b._today

    @precondition(lambda self: self.builder is not None and self.b.election is not None)
    @rule(kind=st.sampled_from(_INVALID_EVENTS))
    def refused_event(self, kind: str) -> None:
        """An event that breaks a rule is refused with its rule code; nothing changes."""
        b = self.b
        e = b.e
        state = e.state
        today = self._today()
        voters = [v for c in b.communities for v in c.voters if v in state.voters]
        key: SigningKey = b.keys.registrar
        event: ElectionEvent
        if kind == "unauthorised_signer":
            key = SigningKey.from_seed(hashlib.sha256(b"intruder").digest())
            event = RollPublished(community="c1", size=0, roll_hash=ZERO_HASH)
            code = SIGNER_UNAUTHORISED
        elif kind == "wrong_role":
            key = b.keys.polling
            event = RollPublished(community="c1", size=0, roll_hash=ZERO_HASH)
            code = SIGNER_ROLE
        elif kind == "duplicate_voter":
            if not voters or today >= 0:
                return
            event = state.voters[voters[0]]
            code = VOTER_DUPLICATE
        elif kind == "underage_voter":
            if not b.communities or today >= 0 or b.rules.min_age < 1:
                return
            c = b.communities[0]
            first = c.households[0][0]
            young = b.definition.election_day if b.definition else _dt.date(2026, 1, 1)
            event = VoterRegistered(
                voter=f"{c.cid}-young",
                community=c.cid,
                group=c.group_of[c.household_of[first]],
                household=c.household_of[first],
                birth_date=young,
                basis=b.rules.eligible_bases[0],
                dedup=hashlib.sha256(b"young").digest(),
                commitment=hashlib.sha256(b"young-commitment").digest(),
            )
            code = VOTER_UNDERAGE
        elif kind == "unknown_post":
            if not voters:
                return
            key = b.keys.committee
            event = NominationFiled(
                nomination="n-bad",
                community=state.voters[voters[0]].community,
                post="no-such-post",
                candidate=voters[0],
                nominators=(voters[0],),
            )
            code = REF_UNKNOWN
        else:  # wrong_roll_hash: a republication that does not match the replayed roll
            published = [c for c in b.communities if state.community(c.cid).roll_day is not None]
            if not published or today >= 0:
                return
            cid = published[0].cid
            event = RollPublished(
                community=cid, size=state.roll_size(cid), roll_hash=hashlib.sha256(b"x").digest()
            )
            code = ROLL_HASH_MISMATCH
        before = (len(b.log), state.state_hash())
        author = b.authors.get(key.key_id) or e.author(key)
        head = author.head()
        try:
            e.submit(author, event, time=b.at(max(today, b.roll - 3)))
        except RuleViolation as exc:
            assert exc.code == code, f"{kind}: expected {code}, got {exc.code}: {exc}"
        else:
            raise AssertionError(f"{kind}: {event!r} was accepted")
        assert author.head() == head, "a refused event advanced the author's chain"
        assert (len(b.log), e.state.state_hash()) == before, "a refused event changed something"
        self.refused += 1

    @invariant()
    def projections_equal_rebuild(self) -> None:
        """Incremental projections equal a rebuild from the log, projection by projection."""
        if self.builder is None or self.b.election is None:
            return
        e = self.b.e
        rebuilt = ElectionState.rebuild(e.state.authority_key_id, log_events(e.log))
        assert e.state.state_hashes() == rebuilt.state_hashes()

    @invariant()
    def auditor_finds_nothing(self) -> None:
        """The log so far, with a fresh checkpoint cosigned by the witnesses, audits clean so far
        (an in-progress audit: the election is usually not finished)."""
        if self.builder is None or self.b.election is None:
            return
        b = self.b
        log = b.log
        size = len(log)
        checkpoint = Checkpoint(origin=b.origin, size=size, root=log.root(size))
        # an honest witness cosigns after the latest claimed time it has seen (the auditor
        # binds claimed times to cosignature times)
        stamp = max((log.get(i).statement.time for i in range(size)), default=0) // 1_000_000
        note = cosigned_checkpoint(checkpoint, b.log_signer, b.witnesses, stamp + 30)
        entries = [log.get_bytes(i) for i in range(size)]
        notes = [*b.checkpoints, note]
        # mid-election: an in-progress audit, where only "not finished yet" may be reported
        report = audit(
            BytesSource(entries, notes, origin=b.origin), b.result().trust(), in_progress=True
        )
        problems = [
            f"{f.code} at {f.index}: {f.message}"
            for f in report.findings
            if f.code != "election.incomplete"
        ]
        assert not problems, problems
        assert report.clean_so_far
