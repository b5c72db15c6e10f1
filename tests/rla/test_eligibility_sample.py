"""The eligibility sample: the audit board checks a public-seed sample of k registrations
against the paper records (``eligibility.sample_drawn`` then ``eligibility.sample_checked``).

The sample is the consistent sampler's (the one the risk-limiting audit draws ballots with), a
forged one is refused by the writer and named by the auditor, the bound is exact (k = 59 with no
failures is "< 5% at 95%"), failures are findings naming the voters' registration entries, and
a sharded audit gives the serial replay's report."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import attrs
import pytest

from audit_support import rechain, resign
from electlog.audit import Report, Trust, audit, validate_report_dict
from electlog.election import (
    ElectionState,
    EligibilitySampleChecked,
    EligibilitySampleDrawn,
    KeyAuthorised,
    RuleSet,
    Scenario,
    log_events,
)
from electlog.election import codes as C
from electlog.election.state.eligibility import EligibilityState
from electlog.errors import KeySetError, RuleViolation, UsageError
from electlog.events import Entry
from electlog.keys import SigningKey
from electlog.log import Log
from electlog.rla.eligibility import failure_bound, format_percent, tail_probability
from electlog.rla.sampling import first_fraction, sample
from electlog.simulate import DistrictConfig, SimulationKeys, simulate_district
from electlog.store.memory import MemoryStore
from rla_support import Publisher, index_of

SEED = "27182818284590452353"
MEMBERS = ("audit-ann", "audit-bo")

COVERED: set[str] = set()
"""The ``eligibility.*`` rule codes these tests provoke (test_election_rules checks every code
has one)."""


def covers(*codes: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def deco(fn: Callable[..., None]) -> Callable[..., None]:
        COVERED.update(codes)
        return fn

    return deco


# --------------------------------------------------------------------------- the bound


def _float_tail(k: int, f: int, p: float) -> float:
    return sum(math.comb(k, i) * p**i * (1 - p) ** (k - i) for i in range(f + 1))


@pytest.mark.parametrize(
    ("k", "failures", "bound", "percent"),
    [
        # by hand: 1 - 0.05 ** (1 / k) = 0.04951 (59), 0.02951 (100), 0.09503 (30), 0.25887 (10),
        # 0.13911 (20), 0.00299 (1000), rounded up to two significant digits
        (59, 0, Fraction(5, 100), "5"),
        (100, 0, Fraction(3, 100), "3"),
        (30, 0, Fraction(96, 1000), "9.6"),
        (10, 0, Fraction(26, 100), "26"),
        (20, 0, Fraction(14, 100), "14"),
        (1000, 0, Fraction(3, 1000), "0.3"),
        (1, 0, Fraction(95, 100), "95"),
        # one failure in 59: the binomial tail P(X <= 1) falls to 0.05 at p = 0.0776...
        (59, 1, Fraction(78, 1000), "7.8"),
    ],
)
def test_the_bound_is_the_smallest_two_digit_decimal_above_the_exact_one(
    k: int, failures: int, bound: Fraction, percent: str
) -> None:
    got = failure_bound(k, failures)
    assert got == bound and format_percent(got) == percent
    # independently, in floating point: the tail at the bound is <= 5%, one step below it is not
    step = Fraction(1, 10 ** (len(str(bound.denominator)) - 1))
    assert _float_tail(k, failures, float(bound)) <= 0.05 + 1e-12
    assert _float_tail(k, failures, float(bound - step)) > 0.05
    if failures == 0:
        exact = 1 - 0.05 ** (1 / k)
        assert float(bound - step) < exact <= float(bound)


def test_the_bound_is_exact_arithmetic() -> None:
    # (1 - 1/20) ** 59 = 0.0486... <= 0.05 and (1 - 49/1000) ** 59 = 0.0514... > 0.05, exactly
    assert tail_probability(59, 0, Fraction(1, 20)) == Fraction(19, 20) ** 59
    assert tail_probability(59, 0, Fraction(1, 20)) <= Fraction(1, 20)
    assert tail_probability(59, 0, Fraction(49, 1000)) > Fraction(1, 20)
    assert failure_bound(5, 5) == 1


@pytest.mark.parametrize(
    ("args", "what"),
    [
        ((0, 0), "checked"),
        ((True, 0), "checked"),
        ((10, 11), "failures"),
        ((10, -1), "failures"),
        ((10, 0, 0.95), "confidence"),
        ((10, 0, Fraction(1)), "confidence"),
    ],
)
def test_bad_bound_arguments_are_usage_errors(args: tuple[object, ...], what: str) -> None:
    with pytest.raises(UsageError, match=what):
        failure_bound(*args)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- a sampled election


@attrs.define
class Sampled:
    s: Scenario
    board: SigningKey
    pinned: int
    clock: Iterator[int]

    def time(self) -> int:
        return next(self.clock)

    def submit(self, event: object) -> None:
        self.s.e.submit(self.s.e.author(self.board), event, time=self.time())  # type: ignore[arg-type]

    @property
    def entries(self) -> list[bytes]:
        return [self.s.log.get_bytes(i) for i in range(len(self.s.log))]

    def audit(self, entries: list[bytes], path: Path) -> Report:
        return Publisher(origin=self.s.log.origin, authority=self.s.keys.authority).audit(
            entries, path, self.pinned
        )


def start(profile: str = "minimal") -> Sampled:
    """The small election (55 voters) with an audit board key, pinned after its last entry."""
    s = Scenario(0, rules=RuleSet(public_profile=profile)).run_all()
    st = s.e.state
    clock = itertools.count(max(st.last_time.values()) + 3_600_000_000, 1_000_000)
    board = SigningKey.from_seed(bytes([7]) * 32)
    s.e.submit(
        s.e.author(s.keys.authority),
        KeyAuthorised(key_id=board.key_id, role="audit_board", scope=(), label="audit board"),
        time=next(clock),
    )
    return Sampled(s=s, board=board, pinned=len(s.log), clock=clock)


def checked(k: int = 20, failures: Iterable[str] = (), profile: str = "minimal") -> Sampled:
    sp = start(profile)
    sp.submit(sp.s.eligibility_sample(SEED, k, sp.pinned, sp.s.log.root(sp.pinned)))
    drawn = sp.s.e.state.eligibility.drawn
    assert drawn is not None
    sp.submit(sp.s.eligibility_result(failures, MEMBERS))
    return sp


def test_the_sample_is_the_consistent_samplers_reference_order() -> None:
    sp = checked(k=20)
    st = sp.s.e.state
    drawn = st.eligibility.drawn
    assert drawn is not None and drawn.roll_size == len(st.voters) == 55
    assert list(drawn.voters) == [t.id for t in sample(list(st.voters), SEED, 20)]
    # the sampler's order, derived here from the tickets alone: ascending first_fraction
    by_ticket = sorted(st.voters, key=lambda v: first_fraction(v, SEED))
    assert list(drawn.voters) == by_ticket[:20]
    # and the order does not depend on the roll's order
    assert list(drawn.voters) == [t.id for t in sample(sorted(st.voters, reverse=True), SEED, 20)]


def test_a_sample_of_the_whole_roll_takes_every_voter_once() -> None:
    sp = checked(k=55)
    drawn = sp.s.e.state.eligibility.drawn
    assert drawn is not None and sorted(drawn.voters) == sorted(sp.s.e.state.voters)


@covers(C.ELIGIBILITY_SAMPLE_MISMATCH, C.ELIGIBILITY_EVENT_ORDER, C.ELIGIBILITY_CHECKPOINT_MISMATCH)
def test_the_writer_refuses_a_forged_or_misplaced_sample() -> None:
    sp = start()
    st = sp.s.e.state
    good = sp.s.eligibility_sample(SEED, 10, sp.pinned, sp.s.log.root(sp.pinned))
    other = next(v for v in sorted(st.voters) if v not in good.voters)

    def refused(event: object) -> RuleViolation:
        with pytest.raises(RuleViolation) as exc:
            sp.submit(event)
        return exc.value

    exc = refused(attrs.evolve(good, voters=(*good.voters[:3], other, *good.voters[4:])))
    assert exc.code == C.ELIGIBILITY_SAMPLE_MISMATCH and exc.ids == (other,)
    assert "draw 4 of 10" in str(exc)
    exc = refused(attrs.evolve(good, roll_size=good.roll_size + 1))
    assert exc.code == C.ELIGIBILITY_SAMPLE_MISMATCH
    last_registration = max(st.eligibility.registered_at.values())
    exc = refused(attrs.evolve(good, checkpoint_size=last_registration))
    assert exc.code == C.ELIGIBILITY_CHECKPOINT_MISMATCH and "roll changed" in str(exc)
    exc = refused(attrs.evolve(good, checkpoint_size=len(sp.s.log) + 1))
    assert exc.code == C.ELIGIBILITY_CHECKPOINT_MISMATCH
    result = EligibilitySampleChecked(seed=SEED, checked=10, failures=(), members=MEMBERS)
    assert refused(result).code == C.ELIGIBILITY_EVENT_ORDER  # before the sample
    sp.submit(good)
    assert refused(good).code == C.ELIGIBILITY_EVENT_ORDER  # a second sample
    assert refused(attrs.evolve(result, seed="1")).code == C.ELIGIBILITY_SAMPLE_MISMATCH
    assert refused(attrs.evolve(result, checked=9)).code == C.ELIGIBILITY_SAMPLE_MISMATCH
    exc = refused(attrs.evolve(result, failures=(other,)))
    assert exc.code == C.ELIGIBILITY_SAMPLE_MISMATCH and exc.ids == (other,)
    backwards = (good.voters[5], good.voters[2])
    assert refused(attrs.evolve(result, failures=backwards)).code == C.ELIGIBILITY_SAMPLE_MISMATCH
    with pytest.raises(UsageError, match="not in the eligibility sample"):
        sp.s.eligibility_result([other], MEMBERS)
    sp.submit(result)
    assert refused(result).code == C.ELIGIBILITY_EVENT_ORDER  # a second result


def test_only_the_audit_board_signs_the_sample() -> None:
    sp = start()
    event = sp.s.eligibility_sample(SEED, 5, sp.pinned, sp.s.log.root(sp.pinned))
    with pytest.raises(RuleViolation) as exc:
        sp.s.e.submit(sp.s.e.author(sp.s.keys.registrar), event, time=sp.time())
    assert exc.value.code == C.SIGNER_ROLE


# --------------------------------------------------------------------------- the audit


def _section(report: Report) -> dict[str, object]:
    assert report.eligibility is not None
    return report.eligibility


def test_a_clean_sample_is_reported_with_its_bound(tmp_path: Path) -> None:
    sp = checked(k=20)
    report = sp.audit(sp.entries, tmp_path / "e.bundle")  # also: jobs=2 gives the same report
    assert report.verdict == "clean", report.to_text()
    section = _section(report)
    assert section["k"] == 20 and section["roll_size"] == 55 and section["seed"] == SEED
    assert section["checked"] == 20 and section["failures"] == []
    assert section["bound"] == "0.14" and section["statement"] == "< 14% at 95%"
    assert section["sample"] == list(sp.s.e.state.eligibility.drawn.voters)  # type: ignore[union-attr]
    data = json.loads(report.to_json())
    validate_report_dict(data)
    assert list(data)[-1] == "eligibility"
    text = report.to_text()
    assert "eligibility sample: k = 20 of 55 registrations" in text
    assert "20 checked, 0 failed: failure rate < 14% at 95%" in text
    html = report.to_html()
    assert '<section id="eligibility">' in html and "&lt; 14% at 95%" in html


@covers(C.ELIGIBILITY_SAMPLE_FAILURE)
def test_failures_are_findings_naming_the_voters_entries(tmp_path: Path) -> None:
    probe = checked(k=20)
    drawn = probe.s.e.state.eligibility.drawn
    assert drawn is not None
    failed = [drawn.voters[7], drawn.voters[2]]
    sp = checked(k=20, failures=failed)
    report = sp.audit(sp.entries, tmp_path / "f.bundle")
    assert report.verdict == "findings"
    found = report.by_code("rule.eligibility.sample_failure")
    registered_at = sp.s.e.state.eligibility.registered_at
    assert [f.evidence["voter"] for f in found] == [drawn.voters[2], drawn.voters[7]]
    for f in found:
        voter = f.evidence["voter"]
        assert f.index == registered_at[voter] == f.evidence["registered_at"]
        entry = Entry.from_bytes(sp.entries[f.index], verify=False).statement
        assert entry.type == "voter.registered" and entry.body["voter"] == voter
        assert f.severity.value == "warning"
    section = _section(report)
    assert section["failures"] == [
        {"voter": v, "entry": registered_at[v]} for v in (drawn.voters[2], drawn.voters[7])
    ]
    assert section["statement"] == f"< {format_percent(failure_bound(20, 2))}% at 95%"
    assert "failed: " + drawn.voters[2] in report.to_text()


@covers(C.ELIGIBILITY_SAMPLE_MISMATCH)
def test_a_forged_sample_is_named_by_the_auditor(tmp_path: Path) -> None:
    sp = checked(k=20)
    entries = sp.entries
    i = index_of(entries, "eligibility.sample_drawn")
    body = dict(Entry.from_bytes(entries[i], verify=False).statement.body)
    st = sp.s.e.state
    other = next(v for v in sorted(st.voters) if v not in body["voters"])
    body["voters"] = [other, *body["voters"][1:]]
    entries[i] = resign(entries[i], sp.board, body=body)
    entries = rechain(entries, i, {sp.board.key_id: sp.board})
    report = sp.audit(entries, tmp_path / "t.bundle")
    found = report.by_code("rule.eligibility.sample_mismatch")
    assert found and found[0].index == i and report.verdict == "findings"


@covers(C.ELIGIBILITY_CHECKPOINT_MISMATCH)
def test_a_sample_pinning_another_root_is_named(tmp_path: Path) -> None:
    sp = start()
    sp.submit(sp.s.eligibility_sample(SEED, 5, sp.pinned, bytes(32)))
    report = sp.audit(sp.entries, tmp_path / "r.bundle")
    found = report.by_code("rule.eligibility.checkpoint_mismatch")
    assert found and "root is not the replayed tree's" in found[0].message
    assert _section(report)["checked"] is None
    assert "not checked yet" in report.to_text()


def test_the_full_profile_can_be_sampled_too() -> None:
    sp = checked(k=10, profile="full")
    assert sp.s.e.state.eligibility.checked is not None
    assert isinstance(sp.s.e.state.eligibility.drawn, EligibilitySampleDrawn)


# --------------------------------------------------------------------------- the simulator


def test_the_minimal_simulation_reports_59_checked_none_failed_as_under_5_percent() -> None:
    log = Log(MemoryStore("district.example/eligibility"))
    result = simulate_district(log, voters=1140, seed=3, profile="minimal")
    trust = Trust.create(
        origin=result.origin,
        authority_key=result.authority_key,
        log_key=result.log_vkey,
        witnesses=list(result.witness_vkeys),
        quorum=result.quorum,
    )
    report = audit(log, trust)
    assert report.clean, report.to_text()
    section = _section(report)
    assert section["k"] == section["checked"] == 59 and section["failures"] == []
    assert section["bound"] == "0.05" and section["statement"] == "< 5% at 95%"
    st = ElectionState.rebuild(result.authority_key.key_id, log_events(log))
    assert section["roll_size"] == len(st.voters)
    assert section["sample"] == [t.id for t in sample(list(st.voters), section["seed"], 59)]
    # the pinned checkpoint is a witnessed one that holds the whole roll
    assert section["checkpoint"]["size"] > max(st.eligibility.registered_at.values())
    assert result.counts["eligibility.sampled"] == 59


def test_the_full_simulation_draws_no_sample_unless_asked() -> None:
    log = Log(MemoryStore("district.example/eligibility-full"))
    result = simulate_district(log, voters=1140, seed=3, eligibility_sample=0, profile="minimal")
    assert "eligibility.sampled" not in result.counts
    with pytest.raises(UsageError, match="eligibility_sample"):
        simulate_district(Log(MemoryStore("x.example/y")), voters=1140, eligibility_sample=-1)


def test_the_key_set_keeps_the_audit_board_key(tmp_path: Path) -> None:
    keys = SimulationKeys.generate("district.example/k", DistrictConfig.scaled(1140).community_ids)
    assert keys.audit_board is not None
    loaded = SimulationKeys.load(keys.save(tmp_path / "keys"))
    assert loaded.audit_board is not None
    assert loaded.audit_board.public == keys.audit_board.public
    # a set saved before the audit board's key loads without one, and the minimal profile's
    # sample then asks for a new set before building anything
    manifest = tmp_path / "keys" / "manifest.json"
    data = json.loads(manifest.read_text())
    del data["audit_board"]
    manifest.write_text(json.dumps(data))
    old = SimulationKeys.load(tmp_path / "keys", witness_keys=True)
    assert old.audit_board is None
    empty = Log(MemoryStore("district.example/k"))
    with pytest.raises(KeySetError, match="no audit board key"):
        simulate_district(empty, voters=1140, keys=old, profile="minimal")
    assert len(empty) == 0


# --------------------------------------------------------------------------- sharded == serial
# Publisher.audit compares every report with jobs=2, jobs=4 and engine="tasks" (sharded by
# community, no serial fallback): the tamperings below reach each of the draw's checks, those a
# shard makes alone and those the parent decides from every shard's part.


def _tampered(sp: Sampled, i: int, **changes: object) -> list[bytes]:
    """The entries with the eligibility event at ``i`` re-signed with ``changes`` to its body."""
    entries = sp.entries
    body = dict(Entry.from_bytes(entries[i], verify=False).statement.body)
    body.update(changes)
    entries[i] = resign(entries[i], sp.board, body=body)
    return rechain(entries, i, {sp.board.key_id: sp.board})


def _rules(report: Report) -> list[tuple[str, int | None, str]]:
    return [(f.code, f.index, f.message) for f in report.findings if "eligibility" in f.code]


def test_a_sharded_audit_of_a_drawn_but_unchecked_sample(tmp_path: Path) -> None:
    sp = start()
    sp.submit(sp.s.eligibility_sample(SEED, 30, sp.pinned, sp.s.log.root(sp.pinned)))
    report = sp.audit(sp.entries, tmp_path / "u.bundle")
    assert report.verdict == "clean" and _section(report)["checked"] is None


def test_a_roll_changed_after_the_pinned_checkpoint_is_named_sharded(tmp_path: Path) -> None:
    sp = checked(k=20)
    i = index_of(sp.entries, "eligibility.sample_drawn")
    last = max(sp.s.e.state.eligibility.registered_at.values())
    entries = _tampered(sp, i, checkpoint_size=last, checkpoint_root=sp.s.log.root(last))
    report = sp.audit(entries, tmp_path / "c.bundle")
    # the draw's check, then (no witness cosigned that size) the whole log's
    assert [(c, at) for c, at, _ in _rules(report)] == [
        ("rule.eligibility.checkpoint_mismatch", i),
        ("rule.eligibility.checkpoint_mismatch", i),
    ]
    assert f"roll changed at entry {last}, after the pinned checkpoint" in _rules(report)[0][2]


def test_a_wrong_roll_size_is_named_sharded(tmp_path: Path) -> None:
    sp = checked(k=20)
    i = index_of(sp.entries, "eligibility.sample_drawn")
    report = sp.audit(_tampered(sp, i, roll_size=54), tmp_path / "n.bundle")
    [(code, at, message)] = _rules(report)
    assert code == "rule.eligibility.sample_mismatch" and at == i
    assert message == "roll_size is 54, but 55 registrations are active"


def test_a_sample_drawn_in_the_wrong_order_or_too_short_is_named_sharded(tmp_path: Path) -> None:
    sp = checked(k=20)
    i = index_of(sp.entries, "eligibility.sample_drawn")
    voters = list(Entry.from_bytes(sp.entries[i], verify=False).statement.body["voters"])
    swapped = [voters[1], voters[0], *voters[2:]]
    report = sp.audit(_tampered(sp, i, voters=swapped), tmp_path / "o.bundle")
    found = report.by_code("rule.eligibility.sample_mismatch")
    assert found[0].index == i and found[0].message.startswith("draw 1 of 20 is not")
    assert found[0].evidence["ids"] == [voters[1]]
    # one voter fewer than drawn: the draw itself holds, the result's count does not
    report = sp.audit(_tampered(sp, i, voters=voters[:19]), tmp_path / "s.bundle")
    assert [f.index for f in report.by_code("rule.eligibility.sample_mismatch")] == [i + 1]


def test_eligibility_event_order_violations_are_named_sharded(tmp_path: Path) -> None:
    sp = checked(k=20)
    entries = sp.entries
    i = index_of(entries, "eligibility.sample_drawn")
    j = index_of(entries, "eligibility.sample_checked")
    keys = {sp.board.key_id: sp.board}
    # a second draw and a second result, appended (at the result's time: no time goes back)
    t_draw = Entry.from_bytes(entries[i], verify=False).statement.time
    t_result = Entry.from_bytes(entries[j], verify=False).statement.time
    again = resign(entries[i], sp.board, time=t_result)
    twice = rechain([*entries, again, entries[j]], len(entries), keys)
    report = sp.audit(twice, tmp_path / "twice.bundle")
    assert [(c, at) for c, at, _ in _rules(report)] == [
        ("rule.eligibility.event_order", len(entries)),
        ("rule.eligibility.event_order", len(entries) + 1),
    ]
    # the result before the draw (their times exchanged)
    early = [*entries[:i], resign(entries[j], sp.board, time=t_draw)]
    early.append(resign(entries[i], sp.board, time=t_result))
    early = rechain([*early, *entries[j + 1 :]], i, keys)
    report = sp.audit(early, tmp_path / "early.bundle")
    assert _rules(report)[0][:2] == ("rule.eligibility.event_order", i)
    assert _section(report)["checked"] is None


def _minimal_bundle(tmp_path: Path) -> tuple[Path, Trust]:
    """The minimal simulation (1,140 voters, a sample of 59 drawn and checked) as a bundle."""
    from audit_support import write_bundle

    log = Log(MemoryStore("district.example/eligibility-sharded"))
    result = simulate_district(log, voters=1140, seed=5, profile="minimal")
    trust = Trust.create(
        origin=result.origin,
        authority_key=result.authority_key,
        log_key=result.log_vkey,
        witnesses=list(result.witness_vkeys),
        quorum=result.quorum,
    )
    path = tmp_path / "m.bundle"
    write_bundle(path, log.origin, [log.get_bytes(i) for i in range(len(log))], [])
    return path, trust


def test_a_shard_sends_its_draw_parts_not_every_voters_registration(tmp_path: Path) -> None:
    # a shard's end holds its draw parts, the result and its sampled voters' entries; each active
    # voter's registration entry (one item per voter) stays in the shard, whose own draws alone
    # read it: the auditing process would otherwise hold every voter's entry once more
    from electlog.audit._tasks import CommunityTask, run_task

    path, trust = _minimal_bundle(tmp_path)
    sent = []
    for shard in range(2):
        end = run_task(CommunityTask(str(path), trust.to_json(), True, 2, shard, None)).end
        assert end is not None
        sent.append(end["eligibility"])
    for el in sent:
        assert el.registered_at == {} and el.drawn is not None and el.checked is not None
        assert el.deferred is not None and len(el.deferred) == 1
        assert el.deferred[0].active > 0 and el.roll_changed_at >= 0
    assert sum(len(el.sample_entries) for el in sent) == 59
    assert sum(el.deferred[0].active for el in sent if el.deferred) == 1140
    # the copy leaves the state it was made from whole
    state = EligibilityState()
    state.registered_at = {"v1": 3}
    state.sample_entries = {"v1": 3}
    copy = state.without_registrations()
    assert copy.registered_at == {} and state.registered_at == {"v1": 3}
    assert copy.sample_entries == {"v1": 3}


def test_the_minimal_simulation_audits_sharded_without_fallback(tmp_path: Path) -> None:
    path, trust = _minimal_bundle(tmp_path)
    reference = audit(path, trust, serial=True, jobs=2)
    assert reference.eligibility is not None and reference.eligibility["k"] == 59
    expected = json.loads(reference.to_json())
    expected.pop("run")
    for kwargs in ({"jobs": 2}, {"jobs": 4}, {"engine": "tasks", "jobs": 2}):
        report = audit(path, trust, **kwargs)  # type: ignore[arg-type]
        assert report.run["replay"].startswith("sharded by community"), report.run["replay"]
        got = json.loads(report.to_json())
        got.pop("run")
        assert got == expected, kwargs
