"""Issue 19 step 2: the generic linear-assertion constructor reproduces SHANGRLA's assorters, and
the electlog assertion set of a round reproduces the c03 margins of docs/election.md."""

from __future__ import annotations

from fractions import Fraction

import pytest

from electlog.election.tally import PostMarks, PostSpec, TallyRules, tally_round
from electlog.errors import UsageError
from electlog.rla.assertions import (
    UNREPORTED,
    LinearAssertion,
    ballot_contributions,
    overstatement_assorter,
    round_assertions,
)

F = Fraction


def test_super_majority_assorter_f_two_thirds() -> None:
    """SHANGRLA test_supermajority_assorter: winner's votes > f x valid votes, f = 2/3."""
    f = F(2, 3)
    lin = LinearAssertion(coefficients={"Alice": 1 - f, "other": -f})
    a = lin.assorter()
    assert a.value({"Alice": 1}) == F(3, 4)  # a vote for the winner
    assert a.value({"other": 1}) == 0  # a valid vote for a loser
    assert a.value({}) == F(1, 2)  # no valid vote
    assert a.upper == F(3, 4)


def test_pairwise_assorter_and_overstatement_values() -> None:
    """SHANGRLA test_overstatement_assorter: (1 - ω/u)/(2 - v/u)."""
    a = LinearAssertion(coefficients={"Alice": F(1), "Bob": F(-1)}).assorter()
    alice, bob, candy = a.value({"Alice": 1}), a.value({"Bob": 1}), a.value({})
    assert (alice, bob, candy, a.upper) == (1, 0, F(1, 2), 1)
    # mvr Alice, cvr Alice, margin 0.2
    assert overstatement_assorter(alice - alice, F(2, 10), a.upper) == 1 / F(18, 10)
    # mvr Bob, cvr Alice: a two-vote overstatement
    assert overstatement_assorter(alice - bob, F(2, 10), a.upper) == 0
    # mvr Alice, cvr Bob, margin 0.3
    assert overstatement_assorter(bob - alice, F(3, 10), a.upper) == 2 / F(17, 10)
    # mvr Candy, cvr Alice, margin 0.1
    assert overstatement_assorter(alice - candy, F(1, 10), a.upper) == F(1, 2) / F(19, 10)


def test_assorter_margin_is_two_mean_minus_one() -> None:
    lin = LinearAssertion(coefficients={"w": F(1), "l": F(-1)})
    a = lin.assorter()
    ballots = [{"w": 1}] * 6 + [{"l": 1}] * 3 + [{}]
    mean = sum(a.value(b) for b in ballots) / len(ballots)
    assert a.margin({"w": 6, "l": 3}, len(ballots)) == 2 * mean - 1 == F(3, 10)


def test_an_assertion_no_ballot_can_break_is_refused() -> None:
    with pytest.raises(UsageError, match="nothing to audit"):
        LinearAssertion(coefficients={"w": F(1)}).assorter()
    with pytest.raises(UsageError, match="bound"):
        LinearAssertion(coefficients={"w": F(1)}, bounds={"w": 0})


# --- docs/election.md, worked example c03 ------------------------------------------------------

D, V, M = "c03/director", "c03/deputy", "c03/member"
POSTS = [
    PostSpec(post=D, seats=1, candidates=("amy", "bo"), rank=0),
    PostSpec(post=V, seats=1, candidates=("chen", "dai"), rank=1),
    PostSpec(post=M, seats=2, candidates=("fang", "gu", "hu"), rank=2),
]


def _marks(for_: tuple[str, ...] = (), against: tuple[str, ...] = (), write_ins=()) -> PostMarks:  # type: ignore[no-untyped-def]
    return PostMarks(in_favour=for_, against=against, write_ins=write_ins)


C03 = (
    [{D: _marks(("amy",)), V: _marks(("chen",)), M: _marks(("fang", "gu"))}] * 5
    + [{D: _marks(("amy",)), V: _marks(("chen",)), M: _marks(("fang",))}] * 4
    + [{D: _marks(("bo",)), V: _marks(("dai",)), M: _marks(("fang", "hu"))}] * 3
    + [{D: _marks(("bo",)), V: _marks(write_ins=("ivy",)), M: _marks(("hu",), ("gu",))}] * 2
    + [{D: _marks(("amy", "bo")), V: _marks(("chen",)), M: _marks(("fang",))}]
    + [{D: _marks(("amy", "bo")), V: _marks(("chen", "dai"))}]
    + [{}]
)


def test_c03_first_round_margins() -> None:
    result = tally_round(POSTS, C03, registered=20, issued=17)
    ra = round_assertions(result)
    assert ra.full_count is None
    by_id = {a.id: a for a in ra.assertions}
    # director: amy 9 of 17 > 17/2; a single-seat majority post needs only this one
    assert by_id[f"{D}:elected:amy"].margin == F(1, 17)
    assert [a.id for a in ra.assertions if a.post == D] == [f"{D}:elected:amy"]
    # member: one seat unfilled, so gu and hu (5 votes) must be below the threshold (9)
    assert by_id[f"{M}:below_threshold:gu"].margin == F(1, 2)
    assert by_id[f"{M}:below_threshold:hu"].margin == F(1, 2)
    assert f"{M}:unreported" in by_id
    assert ra.smallest_margin == F(1, 17)
    # the margin is 2 mean(A) - 1 over the actual ballots
    for a in ra.assertions:
        values = [a.value(ballot_contributions(result, b)) for b in C03]
        assert 2 * sum(values) / len(values) - 1 == a.margin, a.id


def test_c03_supplementary_round_margin() -> None:
    again = [PostSpec(post=M, seats=1, candidates=("gu", "hu"), rank=2)]
    ballots = [{M: _marks(("gu",))}] * 7 + [{M: _marks(("hu",))}] * 6 + [{}] * 3
    second = tally_round(again, ballots, registered=20, issued=16, supplementary=True)
    by_id = {a.id: a for a in round_assertions(second).assertions}
    # hu (6 votes) is not below the threshold of 6: gu must beat hu
    assert by_id[f"{M}:beaten:gu>hu"].margin == F(1, 16)
    assert f"{M}:below_threshold:hu" not in by_id
    # gu: count > ceil(16/3) - 1 = 5
    assert by_id[f"{M}:elected:gu"].margin == F(2, 5)


def test_ties_and_void_rounds_need_a_full_hand_count() -> None:
    two = [{D: _marks(("amy",))}, {D: _marks(("bo",))}] * 2
    tied = tally_round(POSTS[:1], two, registered=4, issued=4, supplementary=True)
    assert tied.posts[D].tied == ("amy", "bo")
    assert round_assertions(tied).full_count == "tie"
    void = tally_round(POSTS[:1], [{D: _marks(("amy",))}], registered=10, issued=1)
    assert round_assertions(void).full_count == "void_round"
    assert round_assertions(void).assertions == ()
    # two ballots, neither person elected: "nobody named on both ballots" cannot be sampled
    tiny = tally_round(
        POSTS[:1], [{D: _marks(("amy",))}, {D: _marks(("bo",))}], registered=2, issued=2
    )
    assert round_assertions(tiny).full_count == "margin"


def test_unelected_with_filled_seats_takes_the_larger_margin() -> None:
    posts = [PostSpec(post=M, seats=2, candidates=("a", "b", "c"), rank=0)]
    ballots = [{M: _marks(("a", "b"))}] * 6 + [{M: _marks(("c",))}] * 4
    result = tally_round(posts, ballots, registered=10, issued=10)
    ids = [a.id for a in round_assertions(result).assertions]
    # c has 4 < 6 = min_votes (margin 2/4 over c = 4/10) vs beaten by a and b (margin 2/10):
    assert f"{M}:below_threshold:c" in ids
    ballots = [{M: _marks(("a", "b"))}] * 9 + [{M: _marks(("c",))}] * 1 + [{M: _marks(("a",))}] * 1
    result = tally_round(posts, ballots, registered=11, issued=11)
    ids = [a.id for a in round_assertions(result).assertions]
    assert f"{M}:below_threshold:c" in ids


def test_combined_ballot_uses_the_upper_bound_k() -> None:
    small = [
        PostSpec(post=D, seats=1, candidates=("amy", "bo"), rank=0),
        PostSpec(post=V, seats=1, candidates=("chen", "dai"), rank=1),
    ]
    votes = (
        [{D: _marks(("amy",)), V: _marks(("chen",))}] * 4
        + [{D: _marks(("amy",)), V: _marks(write_ins=("bo",))}] * 3
        + [{D: _marks(("bo",)), V: _marks(("dai",))}] * 3
    )
    combined = tally_round(
        small, votes, registered=12, issued=10, rules=TallyRules(combined_ballot=True)
    )
    by_id = {a.id: a for a in round_assertions(combined).assertions}
    bo = by_id[f"{V}:elected:bo"]
    # bo's deputy count can get 2 from one ballot (director + deputy): K = 2
    assert bo.linear.bounds == {f"{V}\x00bo": 2}
    assert bo.assorter.upper == 2  # (K - 1/2 + 1/2) / (2 * 1/2)
    contributions = ballot_contributions(combined, votes[4])
    assert contributions[f"{V}\x00bo"] == 1 and contributions[f"{D}\x00amy"] == 1
    for a in by_id.values():
        values = [a.value(ballot_contributions(combined, b)) for b in votes]
        assert 2 * sum(values) / len(values) - 1 == a.margin, a.id


def test_unreported_persons_count_together() -> None:
    result = tally_round(POSTS, C03, registered=20, issued=17)
    # a paper ballot naming two persons the result does not name on the member post counts once
    paper = {M: _marks(write_ins=("yan", "zed"))}
    assert ballot_contributions(result, paper) == {f"{M}\x00{UNREPORTED}": 1}
    unreported = next(a for a in round_assertions(result).assertions if a.kind == "unreported")
    # g = 9/17 - [names someone unreported]: margin 9 / (17 - 9)
    assert unreported.margin == F(9, 8)
    assert unreported.value(ballot_contributions(result, paper)) == 0
    assert unreported.value({}) == unreported.assorter.upper == F(17, 16)
    assert ballot_contributions(result, None) == {}
