"""The simulated district: determinism, every feature present in the log, a clean audit, and
declared results that an independent recount reproduces."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections import Counter, defaultdict
from typing import Any

import pytest

from electlog.audit import Trust, audit
from electlog.checkpoint import NoteVerifier, WitnessVerifier, verify_checkpoint_detailed
from electlog.election.events import (
    BallotIssued,
    BallotRecorded,
    BoxMerged,
    BoxOpened,
    BoxSealed,
    BoxTransferred,
    CandidatesPublished,
    CommitteeMemberAppointed,
    CommitteeMemberWithdrawn,
    CommitteeVacancyFilled,
    ElectionDefined,
    ElectionEvent,
    GroupResultDeclared,
    GroupVotingClosed,
    HouseholdBallotCast,
    HouseholdBallotIssued,
    KeyAuthorised,
    NominationWithdrawn,
    ObjectionDecided,
    ObjectionFiled,
    ObserverAccredited,
    ProxyAuthorised,
    ResultDeclared,
    RoundCalled,
    UnitOpened,
    UnitRepRegistered,
    VettingDecided,
    VoterRegistered,
    VoterRemoved,
    decode_event,
)
from electlog.election.rules import DEFAULT_PROXY_RELATIONSHIPS
from electlog.election.tally import PostMarks, PostSpec, compare_declared, tally_round
from electlog.errors import UsageError
from electlog.log import Log
from electlog.simulate import (
    DistrictConfig,
    SimulationKeys,
    SimulationResult,
    simulate_district,
)
from electlog.store.memory import MemoryStore

ORIGIN = "district.example/test-simulate"
VOTERS = 2000


def _events(log: Log) -> list[tuple[int, bytes, int, ElectionEvent]]:
    out = []
    for index, entry in enumerate(log):
        st = entry.statement
        out.append((index, st.author, st.time, decode_event(st)))
    return out


@pytest.fixture(scope="module")
def built() -> tuple[Log, SimulationResult, list[tuple[int, bytes, int, ElectionEvent]]]:
    log = Log(MemoryStore(ORIGIN))
    result = simulate_district(log, voters=VOTERS, seed=7, profile="full")
    return log, result, _events(log)


def _of(events: list[tuple[int, bytes, int, ElectionEvent]], cls: type[Any]) -> list[Any]:
    return [ev for _, _, _, ev in events if isinstance(ev, cls)]


# --------------------------------------------------------------------------- determinism


def test_same_seed_and_keys_same_log_other_seed_other_log(built: Any) -> None:
    log, result, _ = built
    again = Log(ORIGIN)
    second = simulate_district(again, voters=VOTERS, seed=7, keys=result.keys, profile="full")
    assert second.root == result.root == log.root()
    assert second.size == result.size == len(log)
    assert [again.get_bytes(i) for i in (0, 1000, len(log) - 1)] == [
        log.get_bytes(i) for i in (0, 1000, len(log) - 1)
    ]
    other = simulate_district(Log(ORIGIN), voters=VOTERS, seed=8, keys=result.keys, profile="full")
    assert other.root != result.root


def test_same_seed_without_keys_gives_new_keys_and_another_log(built: Any) -> None:
    """The seed is public: it must not decide any key or secret."""
    _, result, events = built
    fresh = Log(ORIGIN)
    second = simulate_district(fresh, voters=VOTERS, seed=7, profile="full")
    assert second.size == result.size  # the same district ...
    assert second.root != result.root  # ... signed by other keys
    assert second.authority_key != result.authority_key
    assert second.log_vkey != result.log_vkey
    assert set(second.witness_vkeys).isdisjoint(result.witness_vkeys)
    assert {k.public for k in second.keys.roles.values()}.isdisjoint(
        k.public for k in result.keys.roles.values()
    )
    assert second.keys.dedup_secret != result.keys.dedup_secret
    assert second.keys.salt_secret != result.keys.salt_secret
    # the same voters register with other dedup tags and other commitments
    regs = [ev for _, _, _, ev in events if isinstance(ev, VoterRegistered)]
    regs2 = [decode_event(e.statement) for e in fresh]
    regs2 = [ev for ev in regs2 if isinstance(ev, VoterRegistered)]
    assert [ev.voter for ev in regs2] == [ev.voter for ev in regs]
    assert {ev.dedup for ev in regs}.isdisjoint(ev.dedup for ev in regs2)
    assert {ev.commitment for ev in regs}.isdisjoint(ev.commitment for ev in regs2)


def test_same_root_in_other_processes(built: Any, tmp_path: Any) -> None:
    """No set or dict iteration order (hash randomisation) leaks into the log."""
    here = simulate_district(Log("district.example/p"), voters=1140, seed=5)
    here.keys.save(tmp_path / "keys")
    script = (
        "import sys; from electlog.log import Log; "
        "from electlog.simulate import SimulationKeys, simulate_district; "
        "keys = SimulationKeys.load(sys.argv[1], witness_keys=True); "
        "print(simulate_district(Log('district.example/p'), voters=1140, seed=5, "
        "keys=keys).root.hex())"
    )
    roots = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / "keys")],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        roots.add(done.stdout.strip())
    assert roots == {here.root.hex()}


def test_times_are_injected_and_follow_the_calendar(built: Any) -> None:
    _, result, events = built
    day = result.config.election_day
    tz = dt.timezone(dt.timedelta(hours=8))

    def local(t: int) -> dt.date:
        return dt.datetime.fromtimestamp(t / 1e6, tz).date()

    # everything before election day except the vote; nothing from the wall clock
    assert local(events[0][2]) == day - dt.timedelta(days=45)
    for _, _, t, ev in events:
        if isinstance(ev, VoterRegistered):
            assert local(t) < day - dt.timedelta(days=15)
        if isinstance(ev, BallotIssued | BallotRecorded):
            assert local(t) in (day, day + dt.timedelta(days=7))


# --------------------------------------------------------------------------- shape


def test_district_shape_and_seats(built: Any) -> None:
    _, result, events = built
    (genesis,) = _of(events, ElectionDefined)
    assert len(genesis.communities) == 19
    seats = Counter()
    for c in genesis.communities:
        assert c.mode == "all_voters" and c.groups
        for p in c.posts:
            seats[p.post.split("-")[1]] += p.seats
    assert seats == {"director": 19, "deputy": 57, "member": 55}
    assert result.seats == 131 and result.elected == 131
    assert sum(len(c.groups) for c in genesis.communities) == result.counts["groups"] >= 19
    assert result.counts["voters"] == VOTERS == sum(c.registered for c in result.communities)
    for outcome in result.communities:
        assert 0.75 <= outcome.cast / outcome.registered <= 0.95
        assert outcome.elected_count == outcome.seats


def test_households_ages_and_bases(built: Any) -> None:
    _, result, events = built
    day = result.config.election_day
    regs = _of(events, VoterRegistered)
    removed = {ev.voter for ev in _of(events, VoterRemoved)}
    households = Counter(ev.household for ev in regs if ev.voter not in removed)
    assert set(households.values()) <= set(range(1, 7))
    assert max(households.values()) >= 4
    for ev in regs:
        age = (
            day.year
            - ev.birth_date.year
            - ((day.month, day.day) < (ev.birth_date.month, ev.birth_date.day))
        )
        assert age >= 18
    assert any(
        (ev.birth_date.month, ev.birth_date.day) == (day.month, day.day)
        and day.year - ev.birth_date.year == 18
        for ev in regs
    )
    bases = Counter(ev.basis for ev in regs)
    assert bases["non_local_approved"] and bases["registered_living_elsewhere_opted_in"]
    for ev in regs:
        if ev.basis == "non_local_approved":
            assert ev.years_resident >= 1 and ev.approval_ref
    assert len({ev.dedup for ev in regs}) == len(regs) - len(
        result.features["voter.moved_within_district"]
    )


def test_signers_hold_per_community_roles(built: Any) -> None:
    _, _, events = built
    grants = {(ev.key_id, ev.role): ev.scope for ev in _of(events, KeyAuthorised)}
    roles = {role for _, role in grants}
    assert roles == {
        "election_committee",
        "registrar",
        "vetting_committee",
        "polling_station",
        "counting_unit",
    }
    assert all(len(scope) == 1 for scope in grants.values())
    registrar = {
        ev.key_id: ev.scope[0] for ev in _of(events, KeyAuthorised) if ev.role == "registrar"
    }
    for _, author, _, ev in events:
        if isinstance(ev, VoterRegistered):
            assert registrar[author] == ev.community


# --------------------------------------------------------------------------- features


def test_roll_removals_objections_and_late_registration(built: Any) -> None:
    _, _, events = built
    reasons = Counter(ev.reason for ev in _of(events, VoterRemoved))
    assert {"died", "moved_out", "deprived_of_rights", "objection_upheld"} <= set(reasons)
    decided = {ev.objection: ev.upheld for ev in _of(events, ObjectionDecided)}
    filed = {ev.objection: ev for ev in _of(events, ObjectionFiled)}
    assert set(decided) == set(filed) and True in decided.values() and False in decided.values()
    late = [ev for ev in _of(events, VoterRegistered) if ev.objection is not None]
    assert late and all(
        decided[ev.objection] and filed[ev.objection].voter == ev.voter for ev in late
    )
    # a person who moved within the district registered again under the same dedup tag
    dedups = Counter(ev.dedup for ev in _of(events, VoterRegistered))
    assert max(dedups.values()) == 2
    assert _of(events, UnitRepRegistered)


def test_committees_nominations_vetting_lists(built: Any) -> None:
    _, _, events = built
    committees = Counter(ev.community for ev in _of(events, CommitteeMemberAppointed))
    assert len(committees) == 19 and all(7 <= n <= 9 for n in committees.values())
    (withdrawn,) = _of(events, CommitteeMemberWithdrawn)
    (filled,) = _of(events, CommitteeVacancyFilled)
    assert filled.replaces == withdrawn.member
    lists = {ev.community: ev for ev in _of(events, CandidatesPublished)}
    listed = {c for ev in lists.values() for pl in ev.posts for c in pl.candidates}
    assert withdrawn.member in listed  # the nominated member withdrew, then was listed
    for ev in lists.values():
        for pl in ev.posts:
            assert len(pl.candidates) > pl.seats  # 差额
    rejected = [ev for ev in _of(events, VettingDecided) if not ev.approved]
    assert rejected and all(ev.reason and ev.criteria_ref for ev in rejected)
    assert not {ev.candidate for ev in rejected} & listed
    assert _of(events, NominationWithdrawn)


def test_proxies_within_the_cap_and_close_relatives(built: Any) -> None:
    _, _, events = built
    proxies = _of(events, ProxyAuthorised)
    held = Counter(ev.proxy for ev in proxies)
    assert max(held.values()) == 3
    assert all(ev.relationship in DEFAULT_PROXY_RELATIONSHIPS for ev in proxies)
    principals = {ev.principal for ev in proxies}
    issued = _of(events, BallotIssued)
    assert not principals & {ev.voter for ev in issued if ev.proxy_for is None}
    assert {ev.proxy_for for ev in issued if ev.proxy_for} == principals


def test_units_boxes_and_observers(built: Any) -> None:
    _, _, events = built
    units = {ev.unit: ev for ev in _of(events, UnitOpened)}
    assert {u.kind for u in units.values()} == {"main", "station", "mobile"}
    candidates = {
        c for ev in _of(events, CandidatesPublished) for pl in ev.posts for c in pl.candidates
    }
    for u in units.values():
        assert len(set(u.observers)) >= 3 and not set(u.observers) & candidates
    for ev in _of(events, BoxOpened):
        assert len(set(ev.observers)) >= 3 and not set(ev.observers) & candidates
    sealed = {ev.box: ev.unit for ev in _of(events, BoxSealed)}
    moved = _of(events, BoxTransferred)
    assert moved and all(units[sealed[ev.box]].kind == "mobile" for ev in moved)
    assert all(units[ev.to_unit].kind == "main" for ev in moved)
    # every observer accredited by the community's committee before a unit names them
    accredited: dict[tuple[str, str], int] = {}
    for index, _, _, ev in events:
        if isinstance(ev, ObserverAccredited):
            assert (ev.community, ev.observer) not in accredited
            accredited[ev.community, ev.observer] = index
        elif isinstance(ev, UnitOpened):
            for o in ev.observers:
                assert accredited[ev.community, o] < index
    assert not {o for _, o in accredited} & candidates


def test_small_boxes_are_merged_before_counting(built: Any) -> None:
    """Every mobile box (and any box of a unit that issued fewer than min_count_batch = 10
    ballots) is emptied into the main venue's first box; every opened box's counting batch
    had at least 10 ballots issued into it."""
    _, _, events = built
    (genesis,) = _of(events, ElectionDefined)
    assert genesis.rules.min_count_batch == 10
    units = {ev.unit: ev for ev in _of(events, UnitOpened)}
    unit_of = {ev.box: ev.unit for ev in _of(events, BoxSealed)}
    issued = Counter(ev.unit for ev in _of(events, BallotIssued))
    merged = {ev.box: ev.into for ev in _of(events, BoxMerged)}
    opened = {ev.box for ev in _of(events, BoxOpened)}
    mobile = {b for b, u in unit_of.items() if units[u].kind == "mobile"}
    assert mobile and mobile <= merged.keys()
    assert not merged.keys() & opened and set(merged.values()) <= opened
    for box, into in merged.items():
        assert units[unit_of[into]].kind == "main" and into.endswith("-b1")
        assert units[unit_of[box]].round == units[unit_of[into]].round
    for box in opened:
        batch = {unit_of[box]} | {unit_of[b] for b, into in merged.items() if into == box}
        assert sum(issued[u] for u in batch) >= 10
    recorded = {ev.box for ev in _of(events, BallotRecorded)}
    assert not recorded & merged.keys()


def test_group_elections_one_ballot_per_household(built: Any) -> None:
    _, result, events = built
    issued = _of(events, HouseholdBallotIssued)
    assert len({(ev.group, ev.household) for ev in issued}) == len(issued)
    cast = _of(events, HouseholdBallotCast)
    assert len(cast) == len(issued)
    declared = _of(events, GroupResultDeclared)
    assert len(declared) == result.counts["groups"]
    # each group's voting closes after its last household ballot and before its first cast
    closed = {ev.group: i for i, _, _, ev in events if isinstance(ev, GroupVotingClosed)}
    assert len(closed) == len(declared)
    for i, _, _, ev in events:
        if isinstance(ev, HouseholdBallotIssued):
            assert i < closed[ev.group]
        elif isinstance(ev, HouseholdBallotCast):
            assert i > closed[ev.group]
    for ev in declared:
        assert len(ev.result["posts"]["group_leader"]["elected"]) == 1
        assert len(ev.result["posts"]["group_rep"]["elected"]) == 2


def test_ballot_classes_and_supplementary_round(built: Any) -> None:
    _, result, events = built
    totals = Counter()
    for declared in result.declared.values():
        for kind in ("void", "partly_valid", "blank"):
            totals[kind] += declared[kind]
    assert totals["void"] and totals["partly_valid"] and totals["blank"]
    roll = {ev.voter for ev in _of(events, VoterRegistered)}
    write_ins = [
        w for ev in _of(events, BallotRecorded) for pm in ev.marks.values() for w in pm.write_ins
    ]
    assert all(w in roll for w in write_ins)  # write-ins of registered voters only ...
    void = [
        pm for ev in _of(events, BallotRecorded) for pm in ev.marks.values() if pm.void is not None
    ]
    # ... one naming someone not on the roll is recorded void, with only the reason
    assert void and all(pm == PostMarks(void="writein_not_registered") for pm in void)
    assert result.counts["posts_void_by_unregistered_write_in"] == len(void)
    assert any(pm.against for ev in _of(events, BallotRecorded) for pm in ev.marks.values())
    (called,) = _of(events, RoundCalled)
    assert called.kind == "supplementary" and called.round == 2
    first = result.declared[(called.community, 1)]
    (pl,) = called.posts
    assert first["posts"][pl.post]["unfilled"] == pl.seats == 1
    second = result.declared[(called.community, 2)]
    assert len(second["posts"][pl.post]["elected"]) == 1
    assert result.features["round.supplementary"] == (called.community,)


# --------------------------------------------------------------------------- verification


def test_audit_is_clean_and_checkpoints_are_cosigned(built: Any) -> None:
    log, result, _ = built
    trust = Trust.create(
        origin=result.origin,
        authority_key=result.authority_key,
        log_key=result.log_vkey,
        witnesses=list(result.witness_vkeys),
        quorum=result.quorum,
    )
    report = audit(log, trust)
    assert report.clean, [str(f) for f in report.findings[:5]]
    assert report.findings == ()
    assert report.counts.checkpoints == report.counts.checkpoints_verified == result.checkpoints
    latest = log.latest_checkpoint()
    assert latest is not None
    verified = verify_checkpoint_detailed(
        latest.note,
        NoteVerifier.from_vkey(result.log_vkey),
        [WitnessVerifier.from_vkey(v) for v in result.witness_vkeys],
        2,
    )
    assert verified.checkpoint.size == result.size and verified.checkpoint.root == result.root
    assert len(verified.witnesses) == 2


def test_claimed_times_per_author_and_bound_to_witness_time() -> None:
    """Each signer's claimed times never go backwards, and every entry's time lies between the
    previous checkpoint's cosignature time and the covering checkpoint's (GUIDE §4 "claimed
    times", tolerance 15 minutes; the simulator's witnesses run on the simulated clock)."""
    config = DistrictConfig.scaled(1140, checkpoint_every=200)
    log = Log(ORIGIN)
    result = simulate_district(log, seed=3, config=config, profile="full")
    assert result.checkpoints >= 8
    times: list[tuple[int, int]] = []  # (size, cosignature time) per checkpoint
    for stored in log.checkpoints():
        verified = verify_checkpoint_detailed(
            stored.note,
            NoteVerifier.from_vkey(result.log_vkey),
            [WitnessVerifier.from_vkey(v) for v in result.witness_vkeys],
            2,
        )
        (stamp,) = {t for _, t in verified.witnesses}
        times.append((verified.checkpoint.size, stamp))
    assert times[-1][0] == len(log)
    assert [t for _, t in times] == sorted(t for _, t in times)
    last: dict[bytes, int] = {}
    k = 0
    tolerance = 900
    for index, entry in enumerate(log):
        st = entry.statement
        assert st.time >= last.get(st.author, 0), index
        last[st.author] = st.time
        while times[k][0] <= index:
            k += 1
        seconds = st.time // 1_000_000
        assert seconds <= times[k][1] + tolerance, index
        if k:
            assert seconds >= times[k - 1][1] - tolerance, index


def test_declared_results_recompute_independently(built: Any) -> None:
    """Recount every round from the recorded ballots (not with the election state) and compare
    with what the log declares."""
    _, result, events = built
    roll: dict[str, set[str]] = defaultdict(set)
    for ev in _of(events, VoterRegistered):
        roll[ev.community].add(ev.voter)
    for ev in _of(events, VoterRemoved):
        roll[ev.community].discard(ev.voter)
    ranks = {p.post: p.rank for c in _of(events, ElectionDefined)[0].communities for p in c.posts}
    posts: dict[tuple[str, int], list[PostSpec]] = {}
    for ev in _of(events, CandidatesPublished):
        posts[(ev.community, 1)] = [
            PostSpec(post=pl.post, seats=pl.seats, candidates=pl.candidates, rank=ranks[pl.post])
            for pl in ev.posts
        ]
    for ev in _of(events, RoundCalled):
        posts[(ev.community, ev.round)] = [
            PostSpec(post=pl.post, seats=pl.seats, candidates=pl.candidates, rank=ranks[pl.post])
            for pl in ev.posts
        ]
    unit_of = {ev.unit: (ev.community, ev.round) for ev in _of(events, UnitOpened)}
    box_of = {ev.box: unit_of[ev.unit] for ev in _of(events, BoxSealed)}
    issued = Counter(unit_of[ev.unit] for ev in _of(events, BallotIssued))
    ballots: dict[tuple[str, int], list[dict[str, PostMarks]]] = defaultdict(list)
    for ev in _of(events, BallotRecorded):
        key = box_of[ev.box]
        members = roll[key[0]]
        marks = {
            post: (
                PostMarks(in_favour=("",)) if any(w not in members for w in pm.write_ins) else pm
            )
            for post, pm in ev.marks.items()
        }
        ballots[key].append(marks)
    declared = {(ev.community, ev.round): ev.result for ev in _of(events, ResultDeclared)}
    assert set(declared) == set(posts) == set(result.declared)
    for key, specs in posts.items():
        recount = tally_round(
            specs,
            ballots[key],
            registered=len(roll[key[0]]),
            issued=issued[key],
            supplementary=key[1] > 1,
        )
        assert compare_declared(declared[key], recount) == [], key
        assert declared[key] == result.declared[key]
    # a changed count would be caught
    key = next(iter(declared))
    tampered = {**declared[key], "returned": declared[key]["returned"] + 1}
    specs = posts[key]
    recount = tally_round(specs, ballots[key], registered=len(roll[key[0]]), issued=issued[key])
    assert compare_declared(tampered, recount)


# --------------------------------------------------------------------------- API edges


def test_config_scaling_and_refusals() -> None:
    full = DistrictConfig()
    assert (full.voters, full.communities, full.groups, full.unit_reps) == (129_600, 19, 989, 32)
    half = DistrictConfig.scaled(64_800)
    assert half.groups == 494 and half.unit_reps == 16 and half.members == 55
    small = DistrictConfig.scaled(2000)
    assert small.groups == 19 and small.unit_reps == 3
    with pytest.raises(UsageError, match="at least 1140 voters"):
        DistrictConfig.scaled(1000)
    with pytest.raises(UsageError, match="at least 2 communities"):
        DistrictConfig.scaled(60, communities=1, members=2)
    with pytest.raises(UsageError):
        DistrictConfig(voters=5000, groups=10)
    with pytest.raises(UsageError):
        simulate_district(Log(ORIGIN), voters=2000, seed=-1)
    with pytest.raises(UsageError):
        simulate_district("not a store", voters=2000)  # type: ignore[arg-type]
    log = Log(ORIGIN)
    simulate_district(log, voters=1140, seed=1, profile="full")
    with pytest.raises(UsageError, match="empty log"):
        simulate_district(log, voters=1140, seed=1, profile="full")


def test_smallest_district_builds_for_every_seed() -> None:
    """At 1,140 voters (60 per community, the smallest allowed) every community is so small that
    a draw of observers, candidates or nominators from its voters can run short: seeds 6, 7 and
    11 (among others) used to fail with "Sample larger than population"."""
    config = DistrictConfig.scaled(1140)
    keys = SimulationKeys.generate(ORIGIN, config.community_ids)
    results = {}
    for seed in range(12):
        log = Log(MemoryStore(ORIGIN))
        results[seed] = (
            log,
            simulate_district(log, seed=seed, config=config, keys=keys, profile="full"),
        )
    for log, result in results.values():
        assert result.config.voters == 1140 and all(c.registered == 60 for c in result.communities)
        assert result.size == len(log) and result.counts["observers_accredited"] >= 19 * 10
        core = {"proxy.holds_three", "round.supplementary", "unit.mobile", "vetting.rejected"}
        core |= {"committee.withdrawn_nominated", "nomination.withdrawn", "box.merged"}
        assert core <= {k for k, v in result.features.items() if v}
    log, result = results[6]
    report = audit(log, Trust.create(**result.trust_fields()))  # type: ignore[arg-type]
    assert report.clean and report.findings == (), [str(f) for f in report.findings[:5]]


def test_progress_reports_every_batch_and_finishes() -> None:
    calls: list[tuple[str, int, int]] = []
    result = simulate_district(
        Log(ORIGIN), voters=1140, seed=2, progress=lambda p, d, t: calls.append((p, d, t))
    )
    done = [d for _, d, _ in calls]
    assert done == sorted(done) and len(calls) > 50
    assert calls[-1] == ("done", result.size, result.size)
    assert all(d <= t for _, d, t in calls)
    assert {"registering voters", "election day", "supplementary round"} <= {p for p, _, _ in calls}
