"""The auditor's log-level checks on generic (non-election) logs: entries, signatures, log ids,
author chains, Merkle roots at checkpoints, checkpoint signatures and witnesses, split views,
``since`` consistency (fork evidence), and the sources."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_support import GenericLog, build_generic, flip, resign, seed
from electlog import Author, Log, SigningKey, merkle
from electlog.audit import Report, Severity, audit
from electlog.audit import findings as F
from electlog.audit._replay import CompactMerkleTree, FindingSink
from electlog.audit._sources import BytesSource
from electlog.checkpoint import NoteSigner, sign_note
from electlog.errors import AuditError, UsageError
from electlog.events import Entry
from electlog.merkle import MerkleTree
from electlog.store import SQLiteStore


@pytest.fixture(scope="module")
def glog() -> GenericLog:
    return build_generic()


def run(
    g: GenericLog, entries: list[bytes] | None = None, notes: list[str] | None = None, **kw: object
) -> Report:
    return audit(g.source(entries, notes), g.trust, election=False, **kw)  # type: ignore[arg-type]


def test_genuine_log_is_clean(glog: GenericLog) -> None:
    report = run(glog)
    assert report.findings == ()
    assert report.verdict == "clean" and report.clean
    assert report.counts.entries == 60
    assert report.counts.authors == 3
    assert report.counts.checkpoints == 2
    assert report.counts.checkpoints_verified == 2
    assert report.counts.events == {"demo.note": 60}
    assert report.counts.findings == {"error": 0, "warning": 0, "info": 0}
    assert report.checkpoint is not None
    assert report.checkpoint["size"] == 60
    assert report.checkpoint["root"] == glog.log.root().hex()
    assert [w["name"] for w in report.checkpoint["witnesses"]] == [
        "witness0.example",
        "witness1.example",
    ]


def test_two_jobs_give_the_same_report(glog: GenericLog) -> None:
    entries = glog.entries
    entries[7] = flip(entries[7], len(entries[7]) - 3)
    one = run(glog, entries)
    two = run(glog, entries, jobs=2)
    assert one.findings == two.findings
    assert one.counts == two.counts


def test_log_and_store_sources(glog: GenericLog) -> None:
    assert audit(glog.log, glog.trust, election=False).findings == ()
    assert audit(glog.log.store, glog.trust, election=False).findings == ()


def test_compact_tree_matches_merkle_tree() -> None:
    leaves = [merkle.leaf_hash(bytes([i % 256, i // 256])) for i in range(300)]
    compact = CompactMerkleTree()
    compact.extend(leaves[:1])
    compact.extend(leaves[1:77])
    compact.extend(leaves[77:])
    ref = MerkleTree(leaves)
    assert len(compact) == 300
    for size in (1, 2, 3, 64, 77, 128, 255, 300):
        assert compact.root(size) == ref.root(size)
        assert compact.consistency_proof(min(size, 50) or 1, size) == ref.consistency_proof(
            min(size, 50) or 1, size
        )
        assert compact.inclusion_proof(size - 1, size) == ref.inclusion_proof(size - 1, size)


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(0, 70), max_size=6))
def test_compact_tree_any_chunking(cuts: list[int]) -> None:
    leaves = [merkle.leaf_hash(i.to_bytes(2, "big")) for i in range(70)]
    bounds = [0, *sorted(cuts), 70]
    compact = CompactMerkleTree()
    try:
        for k, (a, b) in enumerate(itertools.pairwise(bounds)):
            if k % 2:  # the parent's call: the leaf hashes joined, as the shards reply them
                compact.extend_joined(b"".join(leaves[a:b]))
            else:
                compact.extend(leaves[a:b])
        ref = MerkleTree(leaves)
        for size in range(1, 71):
            assert compact.root(size) == ref.root(size)
        for size1 in (1, 5, 16, 17, 33):
            assert compact.consistency_proof(size1, 70) == ref.consistency_proof(size1, 70)
        assert compact.node(4, 3) == ref.node(4, 3)
        assert compact.node(2, 16) == ref.node(2, 16)
        with pytest.raises(UsageError):
            compact.node(3, 9)  # leaves 72..79 do not exist
        with pytest.raises(UsageError, match="not a whole number of leaf hashes"):
            compact.extend_joined(bytes(33))
        assert len(compact) == 70  # nothing of a refused call was appended
    finally:
        compact.close()


def test_flipped_signature_byte(glog: GenericLog) -> None:
    entries = glog.entries
    entries[5] = flip(entries[5], 50)  # inside the 64-byte signature (bytes 45..108)
    report = run(glog, entries)
    assert report.verdict == "findings"
    bad = report.by_code(F.ENTRY_SIGNATURE_INVALID)
    assert [f.index for f in bad] == [5]
    assert bad[0].severity is Severity.ERROR
    # the entry no longer hashes to the committed leaf: both checkpoints cover it
    assert len(report.by_code(F.CHECKPOINT_ROOT_MISMATCH)) == 2
    # the author's next entry does not follow an authentic entry
    assert report.by_code(F.CHAIN_SEQ_GAP)[0].index == 8


def test_flipped_structure_byte(glog: GenericLog) -> None:
    entries = glog.entries
    entries[3] = flip(entries[3], 0, 0xFF)
    report = run(glog, entries)
    assert [f.index for f in report.by_code(F.ENTRY_MALFORMED)] == [3]


def test_deleted_entry(glog: GenericLog) -> None:
    entries = glog.entries
    del entries[10]
    report = run(glog, entries)
    gap = report.by_code(F.CHAIN_SEQ_GAP)
    assert [f.index for f in gap] == [12]  # the same author's next entry, now at 12
    assert gap[0].evidence["expected_seq"] == 4 and gap[0].evidence["seq"] == 5
    assert report.by_code(F.LOG_TRUNCATED)  # the last checkpoint covers 60 entries, 59 remain
    assert report.by_code(F.CHECKPOINT_ROOT_MISMATCH)


def test_swapped_entries_of_different_authors(glog: GenericLog) -> None:
    entries = glog.entries
    entries[20], entries[21] = entries[21], entries[20]  # two authors: chains still hold
    report = run(glog, entries)
    assert not report.by_code(F.CHAIN_SEQ_GAP)
    mismatch = report.by_code(F.CHECKPOINT_ROOT_MISMATCH)
    assert [f.evidence["size"] for f in mismatch] == [30, 60]


def test_swapped_entries_of_one_author(glog: GenericLog) -> None:
    entries = glog.entries
    entries[0], entries[3] = entries[3], entries[0]
    report = run(glog, entries)
    assert {f.index for f in report.by_code(F.CHAIN_SEQ_GAP)} >= {0, 3}


def test_truncated_below_checkpoint(glog: GenericLog) -> None:
    report = run(glog, glog.entries[:50])
    truncated = report.by_code(F.LOG_TRUNCATED)
    assert len(truncated) == 1
    assert truncated[0].evidence["checkpoint_size"] == 60
    assert truncated[0].evidence["entries"] == 50
    assert not report.by_code(F.CHAIN_SEQ_GAP)


def test_entry_from_another_log(glog: GenericLog) -> None:
    other = Log("example.org/another-log")
    author = glog.authors[0]
    stranger = Author(author.key, "example.org/another-log")
    foreign = other.append(stranger.sign("demo.note", {"n": 1}, time=1))
    entries = glog.entries
    entries.append(other.get_bytes(foreign.index))
    report = run(glog, entries)
    wrong = report.by_code(F.ENTRY_WRONG_LOG)
    assert [f.index for f in wrong] == [60]
    assert wrong[0].evidence["log"] == "example.org/another-log"


def test_resigned_entry_changes_author_chain(glog: GenericLog) -> None:
    entries = glog.entries
    intruder = SigningKey.from_seed(seed(99))
    entries[4] = resign(entries[4], intruder, body={"round": 1, "text": "forged"})
    report = run(glog, entries)
    # a new author with seq 2: not a contiguous chain
    assert [f.index for f in report.by_code(F.CHAIN_SEQ_GAP)] == [4, 7]
    assert report.counts.authors == 4


def test_prev_link_mismatch(glog: GenericLog) -> None:
    entries = glog.entries
    key = glog.authors[1].key
    entries[4] = resign(entries[4], key, prev=bytes(32))
    report = run(glog, entries)
    assert [f.index for f in report.by_code(F.CHAIN_PREV_MISMATCH)] == [4, 7]


def test_split_view_same_size(glog: GenericLog) -> None:
    other_root = merkle.leaf_hash(b"another tree")
    forged = glog.signed_note(60, other_root)
    report = run(glog, notes=[*glog.notes, forged])
    split = report.by_code(F.CHECKPOINT_SPLIT_VIEW)
    assert len(split) == 1
    assert split[0].evidence["size"] == 60
    assert {split[0].evidence["note1"], split[0].evidence["note2"]} == {glog.notes[1], forged}
    assert report.by_code(F.CHECKPOINT_ROOT_MISMATCH)


def test_split_view_prefix(glog: GenericLog) -> None:
    forged = glog.signed_note(45, merkle.leaf_hash(b"not this log"))
    report = run(glog, notes=[*glog.notes, forged])
    split = report.by_code(F.CHECKPOINT_SPLIT_VIEW)
    assert len(split) == 1
    ev = split[0].evidence
    assert (ev["size1"], ev["size2"]) == (45, 60)
    assert ev["note1"] == forged and ev["note2"] == glog.notes[1]
    assert ev["proof"] == [h.hex() for h in glog.log.consistency_proof(45, 60)]
    assert "root1" in ev["error"]


def test_missing_cosignature(glog: GenericLog) -> None:
    under = glog.signed_note(60, glog.log.root(60), cosigners=1)
    report = run(glog, notes=[glog.notes[0], under])
    quorum = report.by_code(F.CHECKPOINT_WITNESS_QUORUM)
    assert len(quorum) == 1
    assert quorum[0].evidence["cosigned_by"] == ["witness0.example"]
    assert quorum[0].evidence["quorum"] == 2
    assert report.counts.checkpoints_verified == 1
    assert report.checkpoint is not None and report.checkpoint["size"] == 30
    assert report.by_code(F.LOG_UNWITNESSED_TAIL)


def test_bad_checkpoint_signatures(glog: GenericLog) -> None:
    impostor = NoteSigner.generate(glog.origin, rng_seed=seed(77))
    from electlog.checkpoint import Checkpoint

    text = Checkpoint(origin=glog.origin, size=60, root=glog.log.root()).to_text()
    by_impostor = sign_note(text, [impostor])
    garbage = "this is not a note"
    bad_cosig = glog.notes[1].replace(glog.notes[1].splitlines()[-1][-8:], "AAAAAAA=")
    report = run(glog, notes=[*glog.notes, by_impostor, garbage, bad_cosig])
    assert [f.evidence["checkpoint"] for f in report.by_code(F.CHECKPOINT_SIGNATURE_INVALID)] == [2]
    assert [f.evidence["checkpoint"] for f in report.by_code(F.CHECKPOINT_MALFORMED)] == [3]
    assert [f.evidence["checkpoint"] for f in report.by_code(F.CHECKPOINT_COSIGNATURE_INVALID)] == [
        4
    ]


def test_no_checkpoint_and_unwitnessed_tail(glog: GenericLog) -> None:
    report = run(glog, notes=[])
    assert report.codes() == {F.CHECKPOINT_NONE}
    assert report.verdict == "findings"
    report = run(glog, notes=[glog.notes[0]])
    assert report.codes() == {F.LOG_UNWITNESSED_TAIL}
    tail = report.by_code(F.LOG_UNWITNESSED_TAIL)[0]
    assert tail.severity is Severity.WARNING and tail.index == 30
    assert tail.evidence == {
        "checkpoint": 0,
        "checkpoint_size": 30,
        "entries": 60,
        "unwitnessed": 30,
    }
    assert report.verdict == "incomplete" and not report.clean and report.exit_status == 1


def test_since_consistent(glog: GenericLog) -> None:
    report = run(glog, since=glog.notes[0])
    assert report.findings == ()
    assert report.since == {
        "verified": True,
        "size": 30,
        "root": glog.log.root(30).hex(),
        "consistent": True,
    }


def test_since_fork_evidence(glog: GenericLog) -> None:
    # the same log key signed a checkpoint of a different history (a fork shown to us earlier)
    forked = build_generic(origin=glog.origin, rounds=10, n_authors=2)
    assert forked.log_signer.vkey == glog.log_signer.vkey
    old_note = forked.notes[0]
    report = run(glog, since=old_note)
    fork = report.by_code(F.FORK_INCONSISTENT)
    assert len(fork) == 1
    ev = fork[0].evidence
    assert ev["since_note"] == old_note
    assert ev["log_note"] == glog.notes[1]
    assert (ev["size1"], ev["size2"]) == (20, 60)
    assert ev["proof"] == [h.hex() for h in glog.log.consistency_proof(20, 60)]
    with pytest.raises(Exception, match="root1"):
        merkle.verify_consistency(
            20,
            60,
            [bytes.fromhex(h) for h in ev["proof"]],
            bytes.fromhex(ev["root1"]),
            bytes.fromhex(ev["root2"]),
        )
    assert report.since is not None and report.since["consistent"] is False


def test_since_beyond_and_unverified(glog: GenericLog) -> None:
    report = run(glog, glog.entries[:30], notes=[glog.notes[0]], since=glog.notes[1])
    assert report.codes() == {F.SINCE_BEYOND_LOG}
    other = build_generic(origin="example.org/other", rounds=10)
    report = run(glog, since=other.notes[0])
    assert report.codes() == {F.SINCE_UNVERIFIED}


def test_secrecy_lint(glog: GenericLog) -> None:
    author = Author(glog.authors[0].key, glog.origin)
    leak = author.sign("demo.leak", {"voter": "v-1", "marks": {"p": []}}, time=1).data
    fine = Author(glog.authors[1].key, glog.origin).sign("demo.ok", {"marks": {}}, time=2).data
    report = audit(BytesSource([leak, fine], origin=glog.origin), glog.trust, election=False)
    secrecy = report.by_code(F.SECRECY_VOTER_LINKED_TO_MARKS)
    assert [f.index for f in secrecy] == [0]
    assert secrecy[0].evidence["fields"] == ["marks", "voter"]


def test_empty_log_and_origin_mismatch(glog: GenericLog) -> None:
    report = audit(BytesSource([], origin=glog.origin), glog.trust, election=False)
    assert report.codes() == {F.LOG_EMPTY}
    report = audit(
        BytesSource(glog.entries, glog.notes, origin="x.example/y"), glog.trust, election=False
    )
    assert report.codes() == {F.SOURCE_ORIGIN_MISMATCH}


def test_findings_are_capped() -> None:
    sink = FindingSink(cap=3)
    for i in range(10):
        sink.add(F.ENTRY_MALFORMED, i, "bad")
    sink.add(F.LOG_EMPTY, None, "x")
    found = sink.result()
    assert [f.code for f in found] == [F.ENTRY_MALFORMED] * 3 + [
        F.LOG_EMPTY,
        F.AUDIT_FINDINGS_CAPPED,
    ]
    assert found[-1].evidence == {"code": F.ENTRY_MALFORMED, "total": 10, "listed": 3}
    assert len(sink) == 11


def test_capped_counts_in_report(glog: GenericLog) -> None:
    entries = [flip(e, 0, 0xFF) for e in glog.entries] * 20  # 1200 malformed entries
    report = run(glog, entries, notes=[])
    assert len(report.by_code(F.ENTRY_MALFORMED)) == 1000
    assert report.counts.findings["error"] == 1200
    assert report.by_code(F.AUDIT_FINDINGS_CAPPED)[0].evidence["total"] == 1200


def test_sqlite_source(glog: GenericLog, tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    store = SQLiteStore(path, origin=glog.origin)
    log = Log(store)
    log.append_many(glog.entries)
    for note in glog.notes:
        log.add_checkpoint(note)
    store.close()
    report = audit(str(path), glog.trust, election=False, jobs=2)
    assert report.findings == ()
    assert report.counts.entries == 60
    # tamper with an entry behind the store's back
    conn = sqlite3.connect(path)
    data = conn.execute("SELECT data FROM entries WHERE idx = 33").fetchone()[0]
    conn.execute("UPDATE entries SET data = ? WHERE idx = 33", (flip(bytes(data), 45),))
    conn.commit()
    conn.close()
    report = audit(path, glog.trust, election=False)
    assert [f.index for f in report.by_code(F.ENTRY_SIGNATURE_INVALID)] == [33]
    assert report.by_code(F.CHECKPOINT_ROOT_MISMATCH)


def test_unusable_sources(tmp_path: Path, glog: GenericLog) -> None:
    with pytest.raises(AuditError):
        audit(tmp_path / "absent.bundle", glog.trust)
    with pytest.raises(AuditError):
        audit(12, glog.trust)
    with pytest.raises(UsageError):
        audit(glog.log, glog.trust, jobs=0)


def test_progress_callback(glog: GenericLog) -> None:
    seen: list[tuple[int, int | None]] = []
    run(glog, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (60, 60)


def test_the_entries_are_counted_only_for_a_progress_report(
    glog: GenericLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # counting a store's entries is a scan of its index: an audit without a progress bar or
    # callback does not pay for it
    counted: list[int | None] = []
    size_hint = BytesSource.size_hint

    def counting(self: BytesSource) -> int | None:
        counted.append(size_hint(self))
        return counted[-1]

    monkeypatch.setattr(BytesSource, "size_hint", counting)
    run(glog)
    assert counted == []
    seen: list[tuple[int, int | None]] = []
    run(glog, progress=lambda done, total: seen.append((done, total)))
    assert counted == [60] and seen[-1] == (60, 60)


def test_entry_from_bytes_is_the_parser(glog: GenericLog) -> None:
    # the auditor accepts exactly what Entry.from_bytes accepts (same code path)
    for data in glog.entries[:5]:
        Entry.from_bytes(data)


def test_bare_note_next_to_its_cosigned_note(glog: GenericLog) -> None:
    # `electlog checkpoint --witness-key` keeps the log's bare note and adds the cosigned one
    bare = glog.signed_note(60, glog.log.root(60), cosigners=0)
    report = run(glog, notes=[glog.notes[0], bare, glog.notes[1]])
    assert report.findings == ()
    assert report.counts.checkpoints == 3 and report.counts.checkpoints_verified == 2
    report = run(glog, notes=[glog.notes[0], bare])
    assert report.codes() == {F.CHECKPOINT_WITNESS_QUORUM, F.LOG_UNWITNESSED_TAIL}


def test_verify_chunk_gives_named_results(glog: GenericLog) -> None:
    import pickle

    from electlog.audit._pipeline import RejectedEntry, VerifiedEntry, verify_chunk
    from electlog.events import entry_leaf_hash

    good, forged = glog.entries[0], flip(glog.entries[1], 80)  # a bit of the signature
    results = verify_chunk([good, forged, b"\x00not msgpack"])
    assert [type(r) for r in results] == [VerifiedEntry, RejectedEntry, RejectedEntry]
    ok, bad_sig, malformed = results
    entry = Entry.from_bytes(good)
    st = entry.statement
    assert ok.leaf_hash == entry_leaf_hash(good) and ok.log == glog.origin
    assert (ok.type, ok.schema, ok.author, ok.seq) == (st.type, st.schema, st.author, st.seq)
    assert (ok.prev, ok.time, ok.body, ok.secrecy) == (st.prev, st.time, st.body, None)
    assert bad_sig.code == F.ENTRY_SIGNATURE_INVALID and bad_sig.leaf_hash == entry_leaf_hash(
        forged
    )
    assert bad_sig.evidence["seq"] == Entry.from_bytes(forged, verify=False).statement.seq
    assert malformed.code == F.ENTRY_MALFORMED and malformed.evidence == {"size": 12}
    # the results cross the process boundary from the workers unchanged
    assert pickle.loads(pickle.dumps(results)) == results
    assert [type(r) for r in pickle.loads(pickle.dumps(results))] == [type(r) for r in results]


def test_audit_leaves_gc_thresholds_as_it_found_them(glog: GenericLog, tmp_path: Path) -> None:
    import gc

    from electlog.audit.core import _PARENT_GC_THRESHOLD

    before = gc.get_threshold()
    mine = (1234, 7, 9)
    assert mine != tuple(_PARENT_GC_THRESHOLD)  # else the test could not see a leak
    gc.set_threshold(*mine)
    try:
        for jobs in (1, 2):
            run(glog, jobs=jobs)
            assert gc.get_threshold() == mine
        bad = tmp_path / "bad.bundle"
        bad.write_bytes(b"not a bundle at all")
        with pytest.raises(AuditError):  # raised from inside the audit's gc-tuned section
            audit(bad, glog.trust, election=False)
        assert gc.get_threshold() == mine
        with pytest.raises(UsageError):  # raised before it
            run(glog, jobs=0)
        assert gc.get_threshold() == mine
    finally:
        gc.set_threshold(*before)
