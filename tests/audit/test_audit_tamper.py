"""The tamper corpus (issue 5): a genuine election is written to a bundle and audits clean; each
tampering of an attacker who rewrites the bundle consistently (CRCs and trailer recomputed,
entries re-signed with the genuine role keys and author chains repaired where the attack needs
it) is caught under its specific finding code. A hypothesis property adds that no single-byte
change anywhere in the bundle ever gives a clean verdict."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_support import (
    ElectionLog,
    body_of,
    build_election,
    flip,
    rechain,
    resign,
    seed,
    write_bundle,
)
from electlog.audit import Report, audit
from electlog.codec import encode
from electlog.election.scenario import Scenario
from electlog.errors import AuditError
from electlog.events import ZERO_HASH, Entry
from electlog.keys import SigningKey


@pytest.fixture(scope="module")
def el() -> ElectionLog:
    return build_election(0)


@pytest.fixture(scope="module")
def genuine(el: ElectionLog, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("genuine") / "election.bundle"
    return write_bundle(path, el.origin, el.entries, el.notes)


def _audit(el: ElectionLog, tmp_path: Path, entries: list[bytes], notes: list[str]) -> Report:
    path = tmp_path / "tampered.bundle"
    write_bundle(path, el.origin, entries, notes)
    return audit(path, el.trust)


def _stmt(data: bytes) -> Entry:
    return Entry.from_bytes(data, verify=False)


def test_genuine_bundle_is_clean(el: ElectionLog, genuine: bytes, tmp_path: Path) -> None:
    path = tmp_path / "election.bundle"
    path.write_bytes(genuine)
    report = audit(path, el.trust)
    assert report.findings == ()
    assert report.verdict == "clean"
    assert report.counts.entries == len(el.entries) and report.counts.checkpoints_verified == 3


# --------------------------------------------------------------------------- the tamperings


def flipped_byte(el: ElectionLog) -> tuple[list[bytes], list[str]]:
    entries = list(el.entries)
    entries[150] = flip(entries[150], 60)  # a byte of the signature
    return entries, el.notes


def flipped_statement_byte(el: ElectionLog) -> tuple[list[bytes], list[str]]:
    entries = list(el.entries)
    i = next(i for i in range(160, len(entries)) if b"voter" in entries[i])
    data = entries[i]
    at = data.index(b"voter") + 8  # inside the signed voter id: the signature breaks
    entries[i] = flip(data, at, 0x02)
    return entries, el.notes


def entry_deleted(el: ElectionLog) -> tuple[list[bytes], list[str]]:
    entries = list(el.entries)
    del entries[el.index_of("ballot.issued", 3)]
    return entries, el.notes


def entries_swapped(el: ElectionLog) -> tuple[list[bytes], list[str]]:
    entries = list(el.entries)
    i = el.index_of("ballot.issued", 5)
    entries[i], entries[i + 1] = entries[i + 1], entries[i]
    return entries, el.notes


def truncated_below_checkpoint(el: ElectionLog) -> tuple[list[bytes], list[str]]:
    return list(el.entries[:250]), el.notes


def resigned_by_unauthorised_key(el: ElectionLog) -> tuple[list[bytes], list[str]]:
    entries = list(el.entries)
    i = el.index_of("ballot.issued", 7)
    intruder = SigningKey.from_seed(seed(123))
    entries[i] = resign(entries[i], intruder, seq=1, prev=ZERO_HASH)
    return rechain(entries, i, el.key_map()), el.notes


def revoked_key_used(el: ElectionLog) -> tuple[list[bytes], list[str]]:
    entries = list(el.entries)
    i = el.index_of("ballot.issued", 10)
    template = entries[el.index_of("key.authorised")]
    revoke = resign(
        template,
        el.keys.authority,
        type="key.revoked",
        body={"key_id": el.keys.polling.key_id, "reason": "device stolen"},
        time=_stmt(entries[i]).statement.time,
    )
    entries.insert(i, revoke)
    return rechain(entries, i, el.key_map()), el.notes


def replayed_from_another_log(el: ElectionLog) -> tuple[list[bytes], list[str]]:
    other = build_election(0, origin="example.org/another-election")
    entries = list(el.entries)
    i = el.index_of("ballot.issued", 12)
    entries.insert(i, other.entries[i])  # same keys, same event, another log
    return entries, el.notes


def second_ballot_to_one_voter(el: ElectionLog) -> tuple[list[bytes], list[str]]:
    entries = list(el.entries)
    i = el.index_of("ballot.issued", 4)
    entries.insert(i + 1, resign(entries[i], el.keys.polling))
    return rechain(entries, i + 1, el.key_map()), el.notes


def more_recorded_than_issued(el: ElectionLog) -> tuple[list[bytes], list[str]]:
    entries = list(el.entries)
    i = el.index_of("result.declared", community="c2")
    last_ballot = max(j for j in range(i) if _stmt(entries[j]).statement.type == "ballot.recorded")
    body = body_of(entries[last_ballot])
    body["serial"] = bytes(range(16))
    entries.insert(i, resign(entries[last_ballot], el.keys.counting, body=body))
    return rechain(entries, i, el.key_map()), el.notes


def changed_mark(el: ElectionLog) -> tuple[list[bytes], list[str]]:
    entries = list(el.entries)
    i = el.index_of("ballot.recorded", 5)  # a ballot of c1, round 1
    body = body_of(entries[i])
    assert body["box"].startswith("c1-r1-")
    marks = body["marks"]
    post = sorted(marks)[0]
    chosen = marks[post]["for"]
    declared = body_of(entries[el.index_of("result.declared", community="c1")])["result"]["posts"]
    candidates = sorted(declared.get(post, {}).get("votes", {}))
    other = next(c for c in candidates if c not in chosen)
    marks[post] = {"against": [], "for": [other], "write_ins": []}
    entries[i] = resign(entries[i], el.keys.counting, body=body)
    return rechain(entries, i, el.key_map()), el.notes


def registration_after_roll(el: ElectionLog) -> tuple[list[bytes], list[str]]:
    entries = list(el.entries)
    i = el.index_of("roll.published", community="c1") + 1
    event = Scenario(0).registration("c1-v77", "c1", "c1-g2", "c1-h03")
    template = entries[el.index_of("voter.registered")]
    late = resign(
        template,
        el.keys.registrar,
        body=event.to_body(),
        time=_stmt(entries[i - 1]).statement.time + 1,
    )
    entries.insert(i, late)
    return rechain(entries, i, el.key_map()), el.notes


def split_view(el: ElectionLog) -> tuple[list[bytes], list[str]]:
    other = build_election(1, origin=el.origin)
    forged = el.note(200, root=other.log.root(200))  # the log key signs another tree
    return list(el.entries), [*el.notes, forged]


def missing_cosignature(el: ElectionLog) -> tuple[list[bytes], list[str]]:
    notes = list(el.notes)
    notes[-1] = el.note(len(el.entries), cosigners=1)  # quorum is 2
    return list(el.entries), notes


def _first(el: ElectionLog, etype: str, box_prefix: str) -> int:
    return next(
        i
        for i, data in enumerate(el.entries)
        if _stmt(data).statement.type == etype
        and str(_stmt(data).statement.body.get("box", "")).startswith(box_prefix)
    )


def _late_unit(el: ElectionLog, *, backdated: bool) -> tuple[list[bytes], list[str]]:
    # issue 11 item 4: after c1's first box of round 1 was opened, the station key opens a new
    # unit for that round, to issue more ballots: claiming a time two hours before the close
    # (its own earlier entries claim later times), or a time after its previous entry
    entries = list(el.entries)
    i = _first(el, "box.opened", "c1-r1-") + 1
    close = _stmt(entries[el.index_of("unit.closed", unit="c1-r1-main")]).statement.time
    previous = max(
        _stmt(d).statement.time
        for d in entries[:i]
        if _stmt(d).statement.author == el.keys.polling.key_id
    )
    template = entries[el.index_of("unit.opened", unit="c1-r1-station")]
    body = body_of(template)
    body["unit"] = "c1-r1-late"
    time = close - 7_200_000_000 if backdated else previous + 1
    entries.insert(i, resign(template, el.keys.polling, body=body, time=time))
    return rechain(entries, i, el.key_map()), el.notes


def backdated_unit(el: ElectionLog) -> tuple[list[bytes], list[str]]:
    return _late_unit(el, backdated=True)


def unit_after_counting_began(el: ElectionLog) -> tuple[list[bytes], list[str]]:
    return _late_unit(el, backdated=False)


def ghost_observers(el: ElectionLog) -> tuple[list[bytes], list[str]]:
    # issue 11 item 4: a unit names observers nobody accredited
    entries = list(el.entries)
    i = el.index_of("unit.opened", unit="c1-r1-main")
    body = body_of(entries[i])
    body["observers"] = ["ghost-1", "ghost-2", "ghost-3"]
    entries[i] = resign(entries[i], el.keys.polling, body=body)
    return rechain(entries, i, el.key_map()), el.notes


def late_removal(el: ElectionLog) -> tuple[list[bytes], list[str]]:
    # issue 11 item 5: after the vote, a voter who stayed home is removed ("died") so that
    # turnout's denominator shrinks
    entries = list(el.entries)
    i = el.index_of("result.declared", community="c2")
    issued = {_stmt(d).statement.body.get("voter") for d in entries if b"ballot.issued" in d} | {
        _stmt(d).statement.body.get("proxy_for") for d in entries if b"ballot.issued" in d
    }
    stayed_home = next(
        _stmt(d).statement.body["voter"]
        for d in entries
        if _stmt(d).statement.type == "voter.registered"
        and _stmt(d).statement.body["community"] == "c2"
        and _stmt(d).statement.body["voter"] not in issued
    )
    template = entries[el.index_of("voter.registered", community="c2")]
    body = {"community": "c2", "objection": None, "reason": "died", "voter": stayed_home}
    removal = resign(
        template,
        el.keys.registrar,
        type="voter.removed",
        body=body,
        time=_stmt(entries[i - 1]).statement.time + 1,
    )
    entries.insert(i, removal)
    return rechain(entries, i, el.key_map()), el.notes


def small_batch_counted(el: ElectionLog) -> tuple[list[bytes], list[str]]:
    # issue 11 item 7: c2's station box (fewer than min_count_batch ballots issued) is opened
    # on its own instead of being merged into the main box
    entries = list(el.entries)
    i = _first(el, "box.merged", "c2-")
    box = _stmt(entries[i]).statement.body["box"]
    template = entries[_first(el, "box.opened", "c2-")]
    body = body_of(template)
    body["box"] = box
    entries[i] = resign(
        template, el.keys.counting, body=body, time=_stmt(entries[i]).statement.time
    )
    return rechain(entries, i, el.key_map()), el.notes


TAMPERINGS: dict[str, tuple[Callable[[ElectionLog], tuple[list[bytes], list[str]]], str]] = {
    "flipped byte (signature)": (flipped_byte, "entry.signature_invalid"),
    "flipped byte (statement)": (flipped_statement_byte, "entry.signature_invalid"),
    "entry deleted": (entry_deleted, "chain.seq_gap"),
    "two entries swapped": (entries_swapped, "chain.seq_gap"),
    "truncated below a checkpoint": (truncated_below_checkpoint, "log.truncated"),
    "re-signed by an unauthorised key": (resigned_by_unauthorised_key, "rule.signer.unauthorised"),
    "revoked key used after revocation": (revoked_key_used, "rule.signer.revoked"),
    "replayed from another log": (replayed_from_another_log, "entry.wrong_log"),
    "second ballot to one voter": (second_ballot_to_one_voter, "rule.ballot.duplicate_issue"),
    "more recorded than issued": (more_recorded_than_issued, "rule.unit.returned_exceeds_issued"),
    "changed mark on one ballot": (changed_mark, "rule.result.mismatch"),
    "registration after the roll without objection": (
        registration_after_roll,
        "rule.registration.after_roll_without_objection",
    ),
    "checkpoint of a different tree (split view)": (split_view, "checkpoint.split_view"),
    "missing witness cosignature": (missing_cosignature, "checkpoint.witness_quorum"),
    "unit opened after counting began": (unit_after_counting_began, "rule.phase.out_of_window"),
    "unit opened after counting began, backdated": (backdated_unit, "rule.time.inconsistent"),
    "ghost observers": (ghost_observers, "rule.observer.not_accredited"),
    "voter removed after the vote": (late_removal, "rule.roll.frozen"),
    "small box counted on its own": (small_batch_counted, "rule.box.small_batch"),
}


def test_rollback_to_a_genuine_checkpoint_is_incomplete(el: ElectionLog, tmp_path: Path) -> None:
    # issue 11 item 1: a copy cut back to its first genuine, witnessed checkpoint is no longer
    # CLEAN: the election is incomplete, and the report shows the checkpoint it stops at
    size = int(el.notes[0].split("\n")[1])
    report = _audit(el, tmp_path, list(el.entries[:size]), el.notes[:1])
    assert report.verdict == "incomplete" and not report.clean
    assert {f.evidence.get("community") for f in report.by_code("election.incomplete")} >= {
        "c1",
        "c2",
    }
    assert report.checkpoint is not None and report.checkpoint["size"] == size


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_tampering_is_caught(name: str, el: ElectionLog, tmp_path: Path) -> None:
    tamper, code = TAMPERINGS[name]
    entries, notes = tamper(el)
    report = _audit(el, tmp_path, entries, notes)
    assert report.verdict == "findings"
    assert code in report.codes(), (name, sorted(report.codes()))


def test_changed_mark_evidence(el: ElectionLog, tmp_path: Path) -> None:
    entries, notes = changed_mark(el)
    report = _audit(el, tmp_path, entries, notes)
    (finding,) = report.by_code("rule.result.mismatch")
    assert finding.evidence["community"] == "c1" and finding.evidence["round"] == 1
    fields = {(d["field"], d.get("post")) for d in finding.evidence["discrepancies"]}
    post = sorted(body_of(el.entries[el.index_of("ballot.recorded", 5)])["marks"])[0]
    assert ("votes", post) in fields
    # and the re-signed ballot no longer hashes to what the witnessed checkpoints commit to
    assert "checkpoint.root_mismatch" in report.codes()


def test_rewritten_history_with_fresh_checkpoints_is_a_split_view(
    el: ElectionLog, tmp_path: Path
) -> None:
    # the attacker holds the log key too, re-signs the checkpoints of the rewritten log, and
    # keeps the witnesses' notes of the original: the log key signed two histories
    entries, _ = second_ballot_to_one_voter(el)
    from electlog.merkle import MerkleTree, leaf_hash

    tree = MerkleTree(leaf_hash(e) for e in entries)
    fresh = el.note(len(entries), root=tree.root())
    report = _audit(el, tmp_path, entries, [*el.notes, fresh])
    assert {"checkpoint.split_view", "rule.ballot.duplicate_issue"} <= report.codes()


def test_unprotected_flip_is_located(el: ElectionLog, genuine: bytes, tmp_path: Path) -> None:
    # a careless change (CRC not recomputed): the damage is located, what came before is checked
    raw = bytearray(genuine)
    raw[len(raw) // 2] ^= 0x10
    path = tmp_path / "damaged.bundle"
    path.write_bytes(bytes(raw))
    report = audit(path, el.trust)
    (finding,) = report.by_code("source.unreadable")
    assert finding.evidence["offset"] <= len(raw) // 2
    assert report.counts.entries == finding.evidence["last_good_index"] + 1


# --------------------------------------------------------------------------- any single byte


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_single_byte_change_is_never_clean(
    el: ElectionLog, genuine: bytes, tmp_path: Path, data: st.DataObject
) -> None:
    position = data.draw(st.integers(0, len(genuine) - 1), label="position")
    value = data.draw(st.integers(0, 255).filter(lambda v: v != genuine[position]), label="value")
    raw = bytearray(genuine)
    raw[position] = value
    path = tmp_path / "changed.bundle"
    path.write_bytes(bytes(raw))
    try:
        report = audit(path, el.trust)
    except AuditError:
        return  # a read error: the change made the bundle unreadable from its header on
    assert report.verdict == "findings", (position, value)
    assert report.findings


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_consistent_single_byte_change_of_an_entry_is_never_clean(
    el: ElectionLog, tmp_path: Path, data: st.DataObject
) -> None:
    # the attacker changes one byte of one entry and rewrites the bundle consistently
    index = data.draw(st.integers(0, len(el.entries) - 1), label="entry")
    entry = el.entries[index]
    position = data.draw(st.integers(0, len(entry) - 1), label="position")
    value = data.draw(st.integers(0, 255).filter(lambda v: v != entry[position]), label="value")
    entries = list(el.entries)
    changed = bytearray(entry)
    changed[position] = value
    entries[index] = bytes(changed)
    report = _audit(el, tmp_path, entries, el.notes)
    assert report.verdict == "findings", (index, position, value)


def test_encode_is_canonical_for_resigned_bodies(el: ElectionLog) -> None:
    # the tamper helpers re-sign through Entry.create: the bodies stay canonical
    body = body_of(el.entries[0])
    assert encode(body) == encode(dict(sorted(body.items())))
