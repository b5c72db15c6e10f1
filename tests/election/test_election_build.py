"""The one election builder (electlog.election.build) and its choosers (issue 14 item 1).

The scenario, the simulator and the strategies are all a ``PhaseBuilder`` driven by a chooser.
What keeps the demo bundle byte-identical (tests/cli/test_demo_pin.py) is that a ``RandomChooser``
consumes exactly the draws of the ``random.Random`` call each method names: checked here call
by call, together with the fixed and the hypothesis choosers' contracts and the builder's shared
parts (calendar, counting batches, follow-up rounds, cosigned checkpoints, key sets).
"""

from __future__ import annotations

import datetime as _dt
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from electlog.checkpoint import WitnessSigner, verify_checkpoint
from electlog.election import PostMarks, PostSpec, Role, RuleSet, Scenario, ScenarioKeys
from electlog.election.build import (
    PhaseBuilder,
    RoleKeys,
    checkpoint_note,
    cosigned_checkpoint,
    follow_up_round,
)
from electlog.election.choosers import Chooser, FixedChooser, RandomChooser
from electlog.election.tally import RoundResult, tally_round
from electlog.errors import UsageError
from electlog.log import Log
from electlog.note import NoteSigner
from electlog.testing import strategies as est

# ---------------------------------------------------------------------------- choosers


def _calls(chooser: Chooser) -> list[object]:
    """One call of every chooser method, in a fixed order."""
    items = list(range(10))
    chooser.shuffle(items)
    return [
        chooser.integer(3, 9),
        chooser.chance(0.3),
        chooser.boolean(),
        chooser.choice("abcdef"),
        chooser.sample(list(range(20)), 5),
        items,
        chooser.uniform(0.8, 0.9),
        chooser.serial(),
        chooser.times(4, 1_000, 2_000),
    ]


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_random_chooser_consumes_exactly_the_draws_of_random_random(seed: int) -> None:
    """Each method is the random.Random call it names: same values, same generator state."""
    chooser = RandomChooser(random.Random(seed))
    rng = random.Random(seed)
    items = list(range(10))
    rng.shuffle(items)
    expected = [
        rng.randint(3, 9),
        rng.random() < 0.3,
        rng.random() < 0.5,
        rng.choice("abcdef"),
        rng.sample(list(range(20)), 5),
        items,
        rng.uniform(0.8, 0.9),
        rng.randbytes(16),
        sorted(rng.randrange(1_000, 2_000) for _ in range(4)),
    ]
    assert _calls(chooser) == expected
    assert chooser.rng.getstate() == rng.getstate()


def test_random_chooser_needs_a_random() -> None:
    with pytest.raises(UsageError, match=r"random\.Random"):
        RandomChooser(42)  # type: ignore[arg-type]


def test_fixed_chooser_takes_the_first_and_lowest_and_no_chance() -> None:
    chooser = FixedChooser(7)
    assert chooser.integer(3, 9) == 3
    assert chooser.chance(0.99) is False
    assert chooser.boolean() is False
    assert chooser.choice(["x", "y"]) == "x"
    assert chooser.sample("abcdef", 3) == ["a", "b", "c"]
    assert chooser.uniform(0.8, 0.9) == 0.8
    times = chooser.times(4, 1_000, 2_000)
    assert times == [1_000, 1_250, 1_500, 1_750]


def test_fixed_chooser_secrecy_draws_come_from_the_seed() -> None:
    """Shuffles and serials are reproducible from the seed (and differ between seeds)."""
    first, again, other = FixedChooser(3), FixedChooser(3), FixedChooser(4)
    assert _calls(first) == _calls(again)
    assert _calls(first) != _calls(other)
    rng = random.Random(3)
    items = list(range(10))
    rng.shuffle(items)
    assert _calls(FixedChooser(3))[5] == items


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.integer(5, 4), "empty range"),
        (lambda c: c.choice([]), "nothing to choose"),
        (lambda c: c.sample([1, 2], 3), "cannot take 3 of 2"),
        (lambda c: c.times(2, 10, 10), "empty time span"),
    ],
)
def test_fixed_chooser_refuses_impossible_choices(call: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        call(FixedChooser())  # type: ignore[operator]


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_draw_chooser_answers_within_the_asked_bounds(data: st.DataObject) -> None:
    chooser = est.DrawChooser(data.draw)
    assert 3 <= chooser.integer(3, 9) <= 9
    assert chooser.chance(0.1) in (True, False)
    assert chooser.choice("abc") in "abc"
    picked = chooser.sample(list(range(8)), 3)
    assert len(picked) == len(set(picked)) == 3
    assert set(picked) <= set(range(8))
    items = list(range(6))
    chooser.shuffle(items)
    assert sorted(items) == list(range(6))
    assert 0.8 <= chooser.uniform(0.8, 0.9) <= 0.9
    assert len(chooser.serial()) == 16
    times = chooser.times(5, 100, 200)
    assert times == sorted(times)
    assert all(100 <= t < 200 for t in times)


def test_draw_chooser_refuses_impossible_choices() -> None:
    def draw(strategy: st.SearchStrategy[object]) -> object:
        raise AssertionError(f"nothing may be drawn for an impossible choice: {strategy}")

    chooser = est.DrawChooser(draw)
    with pytest.raises(UsageError, match="nothing to choose"):
        chooser.choice([])
    with pytest.raises(UsageError, match="cannot take 3 of 2"):
        chooser.sample([1, 2], 3)
    with pytest.raises(UsageError, match="draw function"):
        est.DrawChooser(None)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- the builder


def test_the_three_builders_are_one_phase_builder_with_their_chooser() -> None:
    scenario = Scenario(0)
    assert isinstance(scenario, PhaseBuilder)
    assert isinstance(scenario.choose, FixedChooser)
    assert issubclass(est.ElectionBuilder, PhaseBuilder)
    from electlog.simulate._run import _Builder

    assert issubclass(_Builder, PhaseBuilder)


@settings(max_examples=5, deadline=None)
@given(st.data(), st.data())
def test_election_builder_draw_is_its_choosers_draw(
    first: st.DataObject, second: st.DataObject
) -> None:
    """The state machine hands each step's draw to the builder: the chooser follows."""
    builder = est.ElectionBuilder(first.draw, communities=1)
    assert isinstance(builder.choose, est.DrawChooser)
    assert builder.choose.draw == first.draw == builder.draw
    builder.draw = second.draw
    assert builder.choose.draw == second.draw == builder.draw


def test_phases_run_in_order_and_a_phase_must_exist() -> None:
    scenario = Scenario(0)
    with pytest.raises(UsageError, match="not defined yet"):
        _ = scenario.e
    with pytest.raises(UsageError, match="unknown phase 'count'"):
        scenario.run_until("count")
    scenario.run_until("group_elections")
    assert scenario.done == list(Scenario.PHASES[:5])
    assert scenario.next_phase() == "group_elections"
    scenario.run_all()
    assert scenario.done == list(Scenario.PHASES)
    assert scenario.next_phase() is None


@settings(max_examples=100, deadline=None)
@given(
    tz=st.integers(-12 * 60, 14 * 60),
    day=st.integers(-60, 10),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    election_day=st.dates(_dt.date(2000, 1, 1), _dt.date(2090, 12, 31)),
)
def test_local_time_is_the_rules_timestamp(
    tz: int, day: int, hour: int, minute: int, election_day: _dt.date
) -> None:
    rules = RuleSet(tz_offset_minutes=tz)
    builder = PhaseBuilder(
        Log("example.org/t"),
        rules,
        FixedChooser(),
        dedup_secret=b"d" * 32,
        election_day=election_day,
    )
    local = _dt.datetime.combine(election_day + _dt.timedelta(days=day), _dt.time(hour, minute))
    assert builder.local_time(day, hour, minute) == rules.timestamp(local)
    assert builder.local_time(day, hour, minute + 60) == builder.local_time(day, hour + 1, minute)


def test_counting_batches_merge_small_boxes_into_the_target() -> None:
    batches = PhaseBuilder.counting_batches
    issued = {"main": 30, "station": 4, "mobile": 12}
    assert batches(issued, "main", 10) == {"main": "main", "station": "main", "mobile": "mobile"}
    assert batches(issued, "main", 0) == {b: b for b in issued}
    merged = batches(issued, "main", 10, lambda box: box == "mobile")
    assert merged == {"main": "main", "station": "main", "mobile": "main"}
    # the target is never merged, however few ballots it holds
    assert batches({"main": 1}, "main", 10) == {"main": "main"}


def _result(
    ballots: list[dict[str, PostMarks]], *, registered: int, issued: int, seats: int = 1
) -> RoundResult:
    posts = [PostSpec(post="member", seats=seats, candidates=("a", "b", "c"))]
    return tally_round(posts, ballots, registered=registered, issued=issued)


def _votes(*names: str) -> dict[str, PostMarks]:
    return {"member": PostMarks(in_favour=names)}


def test_follow_up_round_after_a_void_round_a_tie_and_an_unfilled_seat() -> None:
    rules = RuleSet()
    listed = {"member": (1, ("a", "b", "c"))}
    void = _result([_votes("a")], registered=10, issued=1)  # turnout below one half
    kind, posts = follow_up_round(void, listed, rules)
    assert (kind, [(p.post, p.seats, p.candidates) for p in posts]) == (
        "rerun",
        [("member", 1, ("a", "b", "c"))],
    )
    # two seats, three candidates each above one half with 4 of 6 ballots: a tie at the cut-off
    pairs = [("a", "b"), ("a", "b"), ("a", "c"), ("a", "c"), ("b", "c"), ("b", "c")]
    tied = _result([_votes(*p) for p in pairs], registered=6, issued=6, seats=2)
    kind, posts = follow_up_round(tied, {"member": (2, ("a", "b", "c"))}, rules)
    assert (kind, [(p.seats, p.candidates) for p in posts]) == ("revote", [(2, ("a", "b", "c"))])
    # nobody above one half: the seat stays open, a supplementary round among the first three
    unfilled = _result([_votes("a"), _votes(), _votes(), _votes("b")], registered=4, issued=4)
    kind, posts = follow_up_round(unfilled, listed, rules)
    assert kind == "supplementary"
    assert [(p.post, p.seats) for p in posts] == [("member", 1)]
    assert set(posts[0].candidates) <= {"a", "b", "c"}
    assert len(posts[0].candidates) == 1 + rules.candidate_excess_for("member")
    decided = _result([_votes("a")] * 3 + [_votes("b")], registered=4, issued=4)
    assert follow_up_round(decided, listed, rules) == ("supplementary", [])


def test_cosigned_checkpoints_verify_with_every_witness() -> None:
    log = Scenario(2).run_all().log
    signer = NoteSigner.generate(log.origin, rng_seed=b"s" * 32)
    witnesses = [WitnessSigner.generate(f"w{i}", rng_seed=bytes([i]) * 32) for i in range(2)]
    note = checkpoint_note(log, signer, witnesses, 1_800_000_000)
    assert log.latest_checkpoint() is not None
    checkpoint = verify_checkpoint(note, signer.verifier(), [w.verifier() for w in witnesses], 2)
    assert (checkpoint.size, checkpoint.root) == (len(log), log.root())
    assert cosigned_checkpoint(checkpoint, signer, witnesses, 1_800_000_000) == note


def test_role_keys_are_derived_per_name_and_listed_with_their_roles() -> None:
    keys = ScenarioKeys.from_seed(5)
    assert isinstance(keys, RoleKeys)
    assert set(keys.by_key_id()) == set(ScenarioKeys.from_seed(5).by_key_id())
    assert not set(keys.by_key_id()) & set(ScenarioKeys.from_seed(6).by_key_id())
    assert [role for _, role in keys.roles()] == [
        Role.REGISTRAR,
        Role.ELECTION_COMMITTEE,
        Role.VETTING_COMMITTEE,
        Role.POLLING_STATION,
        Role.COUNTING_UNIT,
    ]
    assert keys.roles()[0][0] is keys.registrar
    assert len(keys.by_key_id()) == 6
    drawn = est.ElectionKeys.from_seed(b"12345678")
    assert isinstance(drawn, RoleKeys)
    assert drawn.by_key_id()[drawn.authority.key_id] is drawn.authority
