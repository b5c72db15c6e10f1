"""electlog.testing: strategies, the hypothesis registration hook and the state machines."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import rule

from electlog import codec
from electlog.audit import audit
from electlog.election import (
    EVENT_TYPES,
    BallotRecorded,
    CandidatesPublished,
    ElectionDefined,
    ElectionEvent,
    ElectionState,
    EventContext,
    PostList,
    PostMarks,
    PostSpec,
    RuleSet,
    VoterRegistered,
    VoterRemoved,
    log_events,
)
from electlog.errors import StoreCorruptedError, UsageError
from electlog.events import Entry
from electlog.keys import SigningKey
from electlog.store.sqlite import SQLiteStore
from electlog.testing import strategies as est
from electlog.testing._hypothesis_setup import _hypothesis_setup_hook
from electlog.testing.stateful import ElectionMachine, StoreMachine

SRC = Path(__file__).resolve().parents[2] / "src"
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EVENT_CLASSES = sorted(EVENT_TYPES.values(), key=lambda c: c.TYPE)


# --------------------------------------------------------------------------- optional dependency


@pytest.mark.parametrize("module", ["strategies", "stateful"])
def test_missing_hypothesis_says_how_to_install(module: str) -> None:
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "import electlog.testing\n"  # the package itself needs no hypothesis
        "try:\n"
        f"    import electlog.testing.{module}\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "pip install 'electlog[test]'" in out.stdout, out.stdout + out.stderr


# --------------------------------------------------------------------------- single events


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=[c.TYPE for c in EVENT_CLASSES])
def test_events_are_schema_valid(cls: type[ElectionEvent]) -> None:
    @settings(max_examples=15, deadline=None)
    @given(event=est.events(cls), body=est.event_bodies(cls))
    def check(event: ElectionEvent, body: dict[str, object]) -> None:
        assert type(event) is cls
        again = cls.from_body(codec.decode(codec.encode(event.to_body())))  # type: ignore[arg-type]
        assert again == event
        assert cls.from_body(body).to_body() == body

    check()


def test_events_refuses_non_event_types() -> None:
    with pytest.raises(TypeError, match="election event class"):
        est.events(int)  # type: ignore[arg-type]


def test_hook_registers_every_event_type_for_from_type() -> None:
    _hypothesis_setup_hook()

    @settings(max_examples=10, deadline=None)
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        for cls in EVENT_CLASSES:
            event = data.draw(st.from_type(cls))
            assert type(event) is cls
            assert cls.from_body(event.to_body()) == event
        assert isinstance(data.draw(st.from_type(RuleSet)), RuleSet)
        assert isinstance(data.draw(st.from_type(SigningKey)), SigningKey)
        assert isinstance(data.draw(st.from_type(ElectionEvent)), ElectionEvent)

    check()


_FROM_TYPE_SCRIPT = (
    "from hypothesis import strategies as st\n"
    "from hypothesis import given, settings\n"
    "from electlog.election import VoterRegistered\n"
    "@settings(max_examples=20, database=None)\n"
    "@given(st.from_type(VoterRegistered))\n"
    "def t(v): assert VoterRegistered.from_body(v.to_body()) == v\n"
    "t(); print('ok')\n"
)


def test_hook_works_through_hypothesis_entry_points(tmp_path: Path) -> None:
    """The hook as hypothesis calls it: a distribution declaring the entry point line that
    pyproject.toml adds, found on sys.path, makes ``st.from_type`` work in a fresh process."""
    dist = tmp_path / "electlog_hook_check-0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: electlog-hook-check\nVersion: 0\n", encoding="utf-8"
    )
    (dist / "entry_points.txt").write_text(
        "[hypothesis]\n_ = electlog.testing._hypothesis_setup:_hypothesis_setup_hook\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(SRC)])}
    out = subprocess.run(
        [sys.executable, "-c", _FROM_TYPE_SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert out.stdout.strip() == "ok", out.stderr
    # without the entry point hypothesis infers the fields from their types alone, and the
    # events it builds break the schema (ids, 32-byte hashes): the hook is what makes them valid
    env["PYTHONPATH"] = str(SRC)
    env["HYPOTHESIS_NO_PLUGINS"] = "1"
    out = subprocess.run(
        [sys.executable, "-c", _FROM_TYPE_SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert out.stdout.strip() != "ok"


def test_entry_point_registers_without_calling_the_hook() -> None:
    """Through the installed entry point, a plain ``import hypothesis`` registers everything
    (needs the ``[project.entry-points.hypothesis]`` table of pyproject.toml installed)."""
    eps = importlib.metadata.entry_points(group="hypothesis")
    if not any(ep.value.startswith("electlog.testing._hypothesis_setup") for ep in eps):
        pytest.skip("electlog's hypothesis entry point is not installed (pip install -e .)")
    out = subprocess.run(
        [sys.executable, "-c", _FROM_TYPE_SCRIPT],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.stdout.strip() == "ok", out.stderr


# --------------------------------------------------------------------------- rules and genesis


@FAST
@given(rules=est.rulesets())
def test_rulesets_round_trip_through_their_body(rules: RuleSet) -> None:
    assert RuleSet.from_body(codec.decode_map(codec.encode(rules.to_body()))) == rules


def test_rulesets_shrink_to_the_defaults() -> None:
    assert find(est.rulesets(), lambda r: True) == RuleSet(public_profile="full")


@FAST
@given(definition=est.election_definitions())
def test_election_definitions_pass_the_genesis_rules(definition: ElectionDefined) -> None:
    key = SigningKey.from_seed(bytes(32))
    state = ElectionState(key.key_id)
    state.admit(EventContext(index=0, time=0, signer=key.key_id), definition)
    assert state.definition == definition
    assert definition.rules_hash == definition.rules.hash()


# --------------------------------------------------------------------------- ballots

POSTS = [
    PostSpec(post="director", seats=1, candidates=("v1", "v2"), rank=0),
    PostSpec(post="member", seats=2, candidates=("v3", "v4", "v5"), rank=2),
]


@FAST
@given(ballot=est.ballots(POSTS, write_ins=("v9", "v1"), overvotes=False))
def test_ballots_without_overvotes_respect_the_seats(ballot: dict[str, PostMarks]) -> None:
    seats = {p.post: p for p in POSTS}
    for post, marks in ballot.items():
        spec = seats[post]
        assert len(marks.in_favour) + len(marks.write_ins) <= spec.seats
        assert set(marks.in_favour) <= set(spec.candidates)
        assert set(marks.against) <= set(spec.candidates)
        assert not set(marks.in_favour) & set(marks.against)
        assert set(marks.write_ins) <= {"v9", "v1"} - set(spec.candidates)
    # the shape a ballot.recorded event carries
    event = BallotRecorded(box="b1", serial=bytes(16), marks=ballot)
    assert BallotRecorded.from_body(event.to_body()) == event


def test_ballots_accept_a_candidate_list_and_shrink_to_blank() -> None:
    listed = CandidatesPublished(
        community="c1",
        posts=(PostList(post="director", seats=1, candidates=("v1", "v2")),),
    )
    assert find(est.ballots(listed), lambda b: True) == {}
    overvoted = find(
        est.ballots(listed), lambda b: "director" in b and len(b["director"].in_favour) > 1
    )
    assert overvoted == {"director": PostMarks(in_favour=("v1", "v2"))}
    with pytest.raises(TypeError):
        est.ballots([object()]).example()  # type: ignore[list-item]


# --------------------------------------------------------------------------- whole elections


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(election=est.signed_event_streams(communities=st.integers(1, 3)))
def test_signed_event_streams_are_valid_and_audit_clean(election: est.SignedElection) -> None:
    # every entry verifies and decodes as an election event
    for data in election.entry_bytes:
        assert Entry.from_bytes(data).data == data
    log = election.log()
    # the state the facade kept equals a rebuild; results match the recomputed tallies
    state = ElectionState.rebuild(election.keys.authority.key_id, log_events(log))
    assert state.state_hashes() == election.state().state_hashes()
    for (community, number), result in election.results.items():
        assert state.result(community, number) == result
        assert state.round(community, number).declared == result.to_dict()
    # A generated election may stop after round 1 although a follow-up round is owed (a void
    # round not re-run, a tie, unfilled seats): nothing is wrong with it, but it is not complete,
    # so it is audited in progress and only incompleteness may be reported.
    report = audit(log, election.trust(), in_progress=True)
    assert report.clean_so_far, [f.to_dict() for f in report.findings]
    assert {f.code for f in report.findings} <= {"election.incomplete"}
    assert report.verdict == ("clean_in_progress" if report.findings else "clean")
    assert report.counts.entries == len(election.entries)
    if not report.findings:  # a complete election: the final audit is CLEAN, exit status 0
        final = audit(log, election.trust())
        assert final.verdict == "clean" and final.exit_status == 0


def test_signed_event_streams_shrink_to_a_small_readable_election() -> None:
    smallest = find(
        est.signed_event_streams(),
        lambda e: True,
        settings=settings(database=None, suppress_health_check=list(HealthCheck)),
    )
    assert len(smallest.definition.communities) == 1
    assert len(smallest.entries) < 80
    text = repr(smallest)
    assert text.startswith("SignedElection('example.org/election'")
    assert "c1 " in text and len(text) < 300


def test_signed_event_streams_cover_every_phase() -> None:
    seen: set[str] = set()

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(est.signed_event_streams(communities=st.integers(1, 3)))
    def collect(election: est.SignedElection) -> None:
        seen.update(e.type for e in election.entries)

    collect()
    # the risk-limiting audit's and the eligibility sample's events come after an election
    # (electlog.rla.workflow, PhaseBuilder.eligibility_sample), not in a generated election stream
    audit = {t for t in EVENT_TYPES if t.startswith(("audit.", "eligibility."))}
    assert set(EVENT_TYPES) - seen <= {"key.revoked"} | audit, sorted(set(EVENT_TYPES) - seen)


def test_registration_strategy_votes_are_for_registered_voters() -> None:
    @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
    @given(est.signed_event_streams())
    def check(election: est.SignedElection) -> None:
        registered = {ev.voter for _, ev in election.events() if isinstance(ev, VoterRegistered)}
        for _, ev in election.events():
            if ev.TYPE == "ballot.issued":
                assert ev.voter in registered  # type: ignore[attr-defined]

    check()


# --------------------------------------------------------------------------- tamperings


@pytest.mark.parametrize("kind", est.TAMPERING_KINDS)
def test_every_tampering_is_reported(kind: str, tmp_path: Path) -> None:
    @settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
    @given(t=est.tamperings(kinds=[kind]))
    def check(t: est.Tampering) -> None:
        assert t.kind == kind
        if t.bundle is not None:
            source: object = str(t.write_bundle(tmp_path / "copy.bundle"))
        else:
            source = t.source()
        report = audit(source, t.trust())
        found = {(f.code, f.index) for f in report.findings}
        assert t.expected in {code for code, _ in found}, (t, sorted(found, key=str))
        if t.index is not None:
            assert (t.expected, t.index) in found, (t, sorted(found, key=str))
        # a rollback to a genuine checkpoint is INCOMPLETE; every other tampering is FINDINGS
        want = "incomplete" if t.expected == "election.incomplete" else "findings"
        assert report.verdict == want and not report.clean
        assert t.kind in repr(t) and t.expected in repr(t)

    check()


def test_tampered_copies_written_as_bundles_are_reported(tmp_path: Path) -> None:
    @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
    @given(t=est.tamperings(kinds=["signature", "drop", "result_rewritten", "split_view"]))
    def check(t: est.Tampering) -> None:
        path = t.write_bundle(tmp_path / "copy.bundle")
        report = audit(str(path), t.trust())
        assert t.expected in {f.code for f in report.findings}

    check()


def test_tamperings_refuse_unknown_kinds() -> None:
    with pytest.raises(UsageError, match="unknown tampering kinds"):
        find(est.tamperings(kinds=["nonsense"]), lambda t: True)


# --------------------------------------------------------------------------- state machines


class MemoryStoreMachine(StoreMachine):
    pass


class SQLiteStoreMachine(StoreMachine):
    def make_store(self, origin: str) -> SQLiteStore:
        return SQLiteStore(self.workdir / "log.sqlite", origin=origin)

    def reopen_store(self, store: object) -> SQLiteStore:
        assert isinstance(store, SQLiteStore)
        store.close()
        return SQLiteStore(self.workdir / "log.sqlite")


MACHINE = settings(
    max_examples=12,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
TestMemoryStoreMachine = MemoryStoreMachine.TestCase
TestMemoryStoreMachine.settings = MACHINE
TestSQLiteStoreMachine = SQLiteStoreMachine.TestCase
TestSQLiteStoreMachine.settings = MACHINE


class SmallElectionMachine(ElectionMachine):
    pass


TestElectionMachine = SmallElectionMachine.TestCase
TestElectionMachine.settings = settings(
    max_examples=5,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


class BrokenStore(StoreMachine):
    """A store whose reopen loses the last entry: the machine must notice."""

    def make_store(self, origin: str) -> SQLiteStore:
        return SQLiteStore(self.workdir / "log.sqlite", origin=origin)

    def reopen_store(self, store: object) -> SQLiteStore:
        assert isinstance(store, SQLiteStore)
        store.close()
        import sqlite3

        conn = sqlite3.connect(self.workdir / "log.sqlite")
        conn.execute("DELETE FROM entries WHERE idx = (SELECT MAX(idx) FROM entries)")
        conn.commit()
        conn.close()
        return SQLiteStore(self.workdir / "log.sqlite")


def test_store_machine_catches_a_store_that_loses_entries() -> None:
    from hypothesis.errors import HypothesisException
    from hypothesis.stateful import run_state_machine_as_test

    with pytest.raises(BaseException) as info:
        run_state_machine_as_test(
            BrokenStore,
            settings=settings(
                max_examples=30,
                stateful_step_count=10,
                deadline=None,
                database=None,
                # the same 30 programs every run: whether they reach the lost entry is then a
                # fact about the machine, not a draw (a random draw missed it now and then)
                derandomize=True,
                phases=[Phase.generate],
                report_multiple_bugs=False,
                suppress_health_check=list(HealthCheck),
            ),
        )
    # the store refuses to reopen, or the model catches the lost entry
    assert isinstance(info.value, StoreCorruptedError | AssertionError), repr(info.value)
    assert not isinstance(info.value, HypothesisException)


class SneakyElection(ElectionMachine):
    """Appends a removal straight to the log, behind the facade's back: the projections kept
    incrementally no longer equal a rebuild, and the machine must notice."""

    @rule()
    def sneak(self) -> None:
        b = self.builder
        if b is None or b.election is None:
            return
        voters = [v for c in b.communities for v in c.voters if v in b.e.state.voters]
        if not voters or b._today >= 0:
            return
        registration = b.e.state.voters[voters[0]]
        author = b.authors.get(b.keys.registrar.key_id) or b.e.author(b.keys.registrar)
        event = VoterRemoved(voter=voters[0], community=registration.community, reason="died")
        entry = author.sign(event.TYPE, event.to_body(), time=b.at(b._today))
        b.log.append(entry)


def test_election_machine_catches_state_drift() -> None:
    from hypothesis.errors import HypothesisException
    from hypothesis.stateful import run_state_machine_as_test

    with pytest.raises(BaseException) as info:
        run_state_machine_as_test(
            SneakyElection,
            settings=settings(
                max_examples=20,
                stateful_step_count=15,
                deadline=None,
                database=None,
                derandomize=True,  # the same programs every run, as above
                phases=[Phase.generate],
                report_multiple_bugs=False,
                suppress_health_check=list(HealthCheck),
            ),
        )
    assert isinstance(info.value, AssertionError), repr(info.value)
    assert not isinstance(info.value, HypothesisException)


def test_every_tampering_kind_is_documented() -> None:
    """docs/testing.md's table lists exactly the kinds of TAMPERING_KINDS."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "testing.md").read_text("utf-8")
    section = docs[docs.index("### Tamperings") : docs.index("## State machines")]
    rows = re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE)
    assert rows == list(est.TAMPERING_KINDS)
