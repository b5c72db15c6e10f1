"""The election end to end through the facade, replay, incremental-equals-rebuild properties,
batches, and the documented hashes."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from electlog.codec import encode
from electlog.election import codes as C
from electlog.election.events import BallotIssued, ElectionEvent, VoterRegistered
from electlog.election.facade import Election, log_events
from electlog.election.scenario import Scenario, build_small_election
from electlog.election.state import ElectionState, EventContext
from electlog.errors import EntryError, RuleViolation, UsageError
from electlog.keys import SigningKey
from electlog.log import Log
from electlog.store import open_store


@pytest.fixture(scope="module")
def small() -> tuple[Log, Scenario]:
    s = Scenario(11).run_all()
    return s.log, s


def test_small_election_end_to_end(small: tuple[Log, Scenario]) -> None:
    _, s = small
    e = s.e
    r1 = e.tally("c1", 1)
    assert r1.elected == {"director": ("c1-v00",), "deputy": ("c1-v02",), "member": ("c1-v04",)}
    assert r1.posts["member"].unfilled == 1
    assert (r1.registered, r1.issued, r1.returned, r1.blank) == (31, 30, 30, 1)
    assert r1.posts["member"].overvote_ballots == 1 and r1.posts["member"].invalid_ballots == 1
    r2 = e.tally("c1", 2)
    assert r2.supplementary and r2.elected == {"member": ("c1-v05",)}
    c2 = e.tally("c2", 1)
    assert c2.registered == 12 and c2.issued == 12  # one ballot per household
    assert c2.elected == {"director": ("c2-v00",), "member": ("c2-v03", "c2-v02")}
    st_ = e.state
    # every round's declared result equals the recomputation
    for c, n in (("c1", 1), ("c1", 2), ("c2", 1)):
        assert st_.round(c, n).declared == e.tally(c, n).to_dict()
    # committee: the nominated member withdrew and was replaced
    cs1 = st_.community("c1")
    assert "c1-v23" not in cs1.committee and "c1-v20" in cs1.committee and len(cs1.committee) == 7
    # group elections elected the leader and representatives
    assert st_.group_result("c1", "c1-g1").elected == {
        "group_leader": ("c1-v00",),
        "group_rep": ("c1-v01", "c1-v04"),
    }
    # participation per unit; c2's station issued fewer than min_count_batch ballots, so its
    # box was merged into the main box: every ballot was counted from a batch of at least
    # min_count_batch, and each counting batch returned exactly the ballots issued into it
    assert sum(u.issued for u in st_.units.values()) == 30 + 12 + 24
    assert sum(u.recorded for u in st_.units.values()) == 30 + 12 + 24
    station = st_.boxes["c2-r1-station-box1"]
    assert station.merged_into == "c2-r1-main-box1" and not station.opened
    assert st_.units["c2-r1-station"].issued < s.rules.min_count_batch
    batches = [b for c, n in (("c1", 1), ("c1", 2), ("c2", 1)) for b in st_.counting_batches(c, n)]
    assert {b.box: b.units for b in batches}["c2-r1-main-box1"] == (
        "c2-r1-main",
        "c2-r1-station",
    )
    assert "c2-r1-station-box1" not in {b.box for b in batches}
    assert all(b.issued == b.recorded >= s.rules.min_count_batch for b in batches), batches
    assert {k: (b.opened, b.recorded) for k, b in st_.boxes.items()}["c1-r2-main-box1"] == (
        True,
        24,
    )
    # the roll: 31 + 24 voters, c1-v30 registered late through the upheld objection
    assert st_.roll_size("c1") == 31 and st_.roll_size("c2") == 24
    assert st_.voters["c1-v30"].objection == "obj-1"


def test_open_reproduces_identical_state_hashes(small: tuple[Log, Scenario]) -> None:
    log, s = small
    live = s.e.state.state_hashes()
    for verify in (False, True):
        again = Election.open(log, s.keys.authority.key_id, verify=verify)
        assert again.state.state_hashes() == live
        assert again.state.state_hash() == s.e.state.state_hash()
    assert set(live) == set(ElectionState.PROJECTIONS)
    assert len(set(live.values())) == len(live)


def test_durable_log_replays_to_the_same_state(tmp_path: Path) -> None:
    store = open_store(tmp_path / "e.sqlite", origin="example.org/durable")
    _, keys, e = build_small_election(2, log=Log(store))
    want = e.state.state_hashes()
    store.close()
    reopened = Log(open_store(tmp_path / "e.sqlite"))
    assert Election.open(reopened, keys.authority.key_id).state.state_hashes() == want


def test_scenario_is_deterministic_and_fast() -> None:
    t0 = time.perf_counter()
    a = build_small_election(7)
    elapsed = time.perf_counter() - t0
    b = build_small_election(7)
    assert [x.data for x in a[0]] == [x.data for x in b[0]]
    c = build_small_election(8)
    assert a[2].state.state_hash() != c[2].state.state_hash()
    assert elapsed < 5  # generous bound for loaded CI machines; typically ~0.1 s


def test_rebuild_equals_incremental_at_every_phase() -> None:
    s = Scenario(4)
    for phase in Scenario.PHASES:
        getattr(s, phase)()
        rebuilt = ElectionState.rebuild(s.keys.authority.key_id, log_events(s.log))
        assert rebuilt.state_hashes() == s.e.state.state_hashes(), phase


def test_projection_hashes_move_independently() -> None:
    s = Scenario(0).run_until("publish_rolls")
    before = s.e.state.state_hashes()
    s.submit(s.keys.registrar, s.registration("c1-v99", "c1", "c1-g2", "c1-h99"), s.at(-29))
    after = s.e.state.state_hashes()
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"roll", "groups", "times"}


def test_documented_roll_and_proxy_hashes() -> None:
    s = Scenario(0).run_until("vote")
    st_ = s.e.state
    entries = [
        [
            v.voter,
            v.group,
            v.household,
            v.birth_date.isoformat(),
            v.basis,
            v.years_resident,
            v.approval_ref,
            v.dedup,
            v.commitment,
        ]
        for v in sorted(st_.community("c2").roll.values(), key=lambda v: v.voter)
    ]
    want = hashlib.sha256(encode(["electlog/roll/v1", ["c2", entries]])).digest()
    assert st_.roll_hash("c2") == want
    proxies = [
        [p.principal, p.proxy, p.relationship, p.attestation]
        for p in sorted(st_.community("c1").proxies.values(), key=lambda p: p.principal)
    ]
    assert [p[0] for p in proxies] == ["c1-v07", "c1-v09"]
    want = hashlib.sha256(encode(["electlog/proxies/v1", ["c1", proxies]])).digest()
    assert st_.proxy_hash("c1") == want


# --------------------------------------------------------------------------- batches


def test_submit_many_is_all_or_nothing() -> None:
    s = Scenario(0).run_until("publish_rolls")
    e = s.e
    size, before = len(s.log), e.state.state_hashes()
    author = e.author(s.keys.registrar)
    head = author.head()
    batch: list[tuple[ElectionEvent, int]] = [
        (s.registration("c1-v91", "c1", "c1-g1", "c1-h91"), s.at(-29)),
        (s.registration("c1-v92", "c1", "c1-g1", "c1-h92"), s.at(-29)),
        (s.registration("c1-v91", "c1", "c1-g1", "c1-h91"), s.at(-29)),  # duplicate of item 0
        (s.registration("c1-v93", "c1", "c1-g1", "c1-h93"), s.at(-29)),
    ]
    with pytest.raises(RuleViolation) as info:
        e.submit_many(author, batch)
    assert info.value.code == C.VOTER_DUPLICATE and "batch item 2" in str(info.value)
    assert info.value.ids == ("c1-v91",)
    assert len(s.log) == size
    assert author.head() == head
    assert e.state.state_hashes() == before
    assert "c1-v91" not in e.state.voters
    # the same author continues; the good items go through
    receipts = e.submit_many(author, [batch[0], batch[1], batch[3]])
    assert [r.index for r in receipts] == [size, size + 1, size + 2]
    assert {"c1-v91", "c1-v92", "c1-v93"} <= set(e.state.voters)
    assert e.submit_many(author, []) == []
    # a malformed item is named too, and nothing is appended
    size = len(s.log)
    bad = attrs.evolve(batch[3][0], voter="has space")
    with pytest.raises(EntryError, match=r"batch item 1: voter\.registered\.voter"):
        e.submit_many(
            author,
            [(s.registration("c1-v96", "c1", "c1-g1", "h"), s.at(-29)), (bad, s.at(-29))],
        )
    assert len(s.log) == size and "c1-v96" not in e.state.voters


def test_submit_rewinds_the_author_on_violation() -> None:
    s = Scenario(0).run_until("publish_rolls")
    e = s.e
    author = e.author(s.keys.registrar)
    head = author.head()
    with pytest.raises(RuleViolation):
        e.submit(author, s.registration("c1-v00", "c1", "c1-g1", "c1-h00"), time=s.at(-29))
    assert author.head() == head
    e.submit(author, s.registration("c1-v95", "c1", "c1-g1", "c1-h95"), time=s.at(-29))
    assert author.head().seq == head.seq + 1


def test_facade_usage_errors() -> None:
    s = Scenario(0).run_until("register_voters")
    with pytest.raises(UsageError):
        Election.create(s.log, s.keys.authority, s.definition(), time=0)
    with pytest.raises(UsageError):
        s.e.submit(s.e.author(s.keys.registrar), "not an event", time=0)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        s.e.tally("c9", 1)
    with pytest.raises(UsageError):
        s.e.tally("c1", 1)  # no candidate list yet
    with pytest.raises(UsageError):
        ElectionState(b"short")
    with pytest.raises(UsageError):
        s.e.state.state_hash("nonsense")


def test_open_rejects_a_foreign_entry() -> None:
    s = Scenario(0).run_until("register_voters")
    author = s.e.author(s.keys.registrar)
    s.log.append(author.sign("chat.message", {"text": "hi"}, time=s.at(-30)))
    with pytest.raises(EntryError, match=r"entry \d+: unknown election event type"):
        Election.open(s.log, s.keys.authority.key_id)


# --------------------------------------------------------------------------- properties


def _scenario_events() -> tuple[Scenario, list[tuple[EventContext, ElectionEvent]]]:
    s = Scenario(21).run_all()
    return s, list(log_events(s.log))


SCEN, EVENTS = _scenario_events()
KEYS: dict[bytes, SigningKey] = {
    k.key_id: k
    for k in (
        SCEN.keys.authority,
        SCEN.keys.registrar,
        SCEN.keys.committee,
        SCEN.keys.vetting,
        SCEN.keys.polling,
        SCEN.keys.counting,
    )
}

mutation = st.one_of(
    st.tuples(st.just("drop"), st.integers(1, len(EVENTS) - 1)),
    st.tuples(st.just("dup"), st.integers(0, len(EVENTS) - 1), st.integers(1, len(EVENTS))),
    st.tuples(st.just("swap"), st.integers(1, len(EVENTS) - 2)),
    st.tuples(st.just("signer"), st.integers(1, len(EVENTS) - 1), st.sampled_from(sorted(KEYS))),
)


def _mutate(ops: list[tuple[object, ...]]) -> list[tuple[EventContext, ElectionEvent]]:
    items = list(EVENTS)
    for op in ops:
        kind = op[0]
        if kind == "drop":
            i = int(op[1]) % len(items)  # type: ignore[call-overload]
            if i:
                del items[i]
        elif kind == "dup":
            i = int(op[1]) % len(items)  # type: ignore[call-overload]
            j = max(1, int(op[2]) % (len(items) + 1))  # type: ignore[call-overload]
            items.insert(j, items[i])
        elif kind == "swap":
            i = max(1, int(op[1]) % (len(items) - 1))  # type: ignore[call-overload]
            items[i], items[i + 1] = items[i + 1], items[i]
        else:
            i = int(op[1]) % len(items)  # type: ignore[call-overload]
            if i:
                ctx, ev = items[i]
                items[i] = (attrs.evolve(ctx, signer=op[2]), ev)
    return [(attrs.evolve(ctx, index=n), ev) for n, (ctx, ev) in enumerate(items)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutation, min_size=1, max_size=6))
def test_auditor_fold_equals_rebuild_and_check_is_pure(ops: list[tuple[object, ...]]) -> None:
    """Replaying a tampered sequence the way the auditor does (check, record, apply anyway)
    gives the same state as the apply-only rebuild; a failed check changes nothing."""
    items = _mutate(ops)
    state = ElectionState(SCEN.keys.authority.key_id)
    violations = 0
    for ctx, ev in items:
        try:
            state.check(ctx, ev)
        except RuleViolation:
            if violations < 3:
                before = state.state_hashes()
                with pytest.raises(RuleViolation):
                    state.check(ctx, ev)
                assert state.state_hashes() == before
            violations += 1
        state.apply(ctx, ev)
    rebuilt = ElectionState.rebuild(SCEN.keys.authority.key_id, items)
    assert rebuilt.state_hashes() == state.state_hashes()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutation, min_size=1, max_size=4))
def test_facade_with_rejections_equals_replay(ops: list[tuple[object, ...]]) -> None:
    """Submitting a tampered sequence through the facade (violations refused) leaves a log
    whose replay, checked or not, equals the live state."""
    items = _mutate(ops)
    log = Log("example.org/prop")
    e = Election(log, ElectionState(SCEN.keys.authority.key_id))
    refused = 0
    for ctx, ev in items:
        key = KEYS[ctx.signer]
        try:
            e.submit(e.author(key), ev, time=ctx.time)
        except RuleViolation:
            refused += 1
    assert len(log) + refused == len(items)
    live = e.state.state_hashes()
    assert Election.open(log, SCEN.keys.authority.key_id).state.state_hashes() == live
    assert Election.open(log, SCEN.keys.authority.key_id, verify=True).state.state_hashes() == live


def test_mutations_do_break_rules() -> None:
    first_issue = next(i for i, (_, ev) in enumerate(EVENTS) if isinstance(ev, BallotIssued))
    items = _mutate([("dup", first_issue, first_issue + 1), ("drop", 1)])
    state = ElectionState(SCEN.keys.authority.key_id)
    codes = []
    for ctx, ev in items:
        try:
            state.check(ctx, ev)
        except RuleViolation as exc:
            codes.append(exc.code)
        state.apply(ctx, ev)
    # entry 1 authorised the registrar: every registration is now unauthorised
    assert codes.count(C.SIGNER_UNAUTHORISED) > 50
    assert C.BALLOT_DUPLICATE_ISSUE in codes


def test_unmutated_sequence_has_no_violation() -> None:
    state = ElectionState(SCEN.keys.authority.key_id)
    for ctx, ev in EVENTS:
        state.admit(ctx, ev)
    assert state.state_hashes() == SCEN.e.state.state_hashes()


def test_apply_tolerates_events_of_unknown_things() -> None:
    s = Scenario(0).run_until("vote")
    st_ = s.e.state
    before = st_.state_hashes()
    ctx = EventContext(index=len(s.log), time=s.at(0, 9), signer=s.keys.polling.key_id)
    for ev in (
        BallotIssued(unit="nowhere", voter="c1-v00"),
        s.registration("x1", "c9", "g", "h"),
    ):
        with pytest.raises(RuleViolation) as info:
            st_.check(ctx, ev)
        assert info.value.code in (C.REF_UNKNOWN, C.SIGNER_ROLE)
        st_.apply(ctx, ev)
    after = st_.state_hashes()
    # the signer's claimed time is a fact of the log even when the event names nothing known
    assert {k: v for k, v in after.items() if k != "times"} == {
        k: v for k, v in before.items() if k != "times"
    }
    assert isinstance(s.registration("x", "c1", "c1-g1", "h"), VoterRegistered)
