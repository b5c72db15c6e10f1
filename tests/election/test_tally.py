"""Tests of electlog.election.tally: hand-worked rule examples and hypothesis properties."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from electlog.election.tally import (
    VOID_RETURNED_EXCEEDS_ISSUED,
    VOID_TURNOUT,
    BallotClass,
    Discrepancy,
    PostMarks,
    PostResult,
    PostSpec,
    RoundResult,
    RoundTally,
    TallyRules,
    compare_declared,
    supplementary_candidates,
    tally_round,
)
from electlog.errors import UsageError

M = PostMarks
Ballot = dict[str, PostMarks]

DIRECTOR = PostSpec(post="c03/director", seats=1, candidates=("a", "b"), rank=0)
MEMBERS = PostSpec(post="c03/member", seats=2, candidates=("c", "d", "e"), rank=2)


def for_(*names: str) -> PostMarks:
    return PostMarks(in_favour=tuple(sorted(names)))


def repeat(n: int, ballot: Ballot) -> list[Ballot]:
    return [ballot] * n


def one_post(seats: int, candidates: Sequence[str], ballots: list[Ballot], **kw: Any) -> PostResult:
    spec = PostSpec(post="p", seats=seats, candidates=tuple(candidates))
    kw.setdefault("registered", len(ballots))
    kw.setdefault("issued", len(ballots))
    return tally_round([spec], ballots, **kw).posts["p"]


def votes_ballots(**counts: int) -> list[Ballot]:
    """Single-mark ballots for post "p": name=count."""
    out: list[Ballot] = []
    for name, n in counts.items():
        out += repeat(n, {"p": for_(name)})
    return out


# --------------------------------------------------------------------------- ballot classes


def test_overvote_voids_one_post_ballot_partly_valid() -> None:
    tally = RoundTally([DIRECTOR, MEMBERS], TallyRules())
    cls = tally.add({"c03/director": for_("a", "b"), "c03/member": for_("c")})
    assert cls is BallotClass.PARTLY_VALID
    r = tally.result(registered=1, issued=1)
    assert (r.valid, r.partly_valid, r.void, r.blank, r.returned) == (0, 1, 0, 0, 1)
    director = r.posts["c03/director"]
    assert director.votes == {"a": 0, "b": 0}
    assert (director.valid_ballots, director.void_ballots, director.overvote_ballots) == (0, 1, 1)
    member = r.posts["c03/member"]
    assert member.votes == {"c": 1, "d": 0, "e": 0}
    assert (member.valid_ballots, member.void_ballots, member.blank_ballots) == (1, 0, 0)


def test_write_in_counts_towards_overvote() -> None:
    tally = RoundTally([DIRECTOR], TallyRules())
    # one "for" plus one write-in on a one-seat post: 2 > 1, void
    assert tally.add({"c03/director": M(in_favour=("a",), write_ins=("w",))}) is BallotClass.VOID
    # exactly the seats: valid
    tally2 = RoundTally([MEMBERS], TallyRules())
    assert tally2.add({"c03/member": M(in_favour=("c",), write_ins=("w",))}) is BallotClass.VALID
    assert tally2.result(registered=1, issued=1).posts["c03/member"].votes["w"] == 1


def test_all_posts_overvoted_ballot_is_void_and_counts_nothing() -> None:
    tally = RoundTally([DIRECTOR, MEMBERS], TallyRules())
    ballot = {"c03/director": for_("a", "b"), "c03/member": for_("c", "d", "e")}
    assert tally.add(ballot) is BallotClass.VOID
    r = tally.result(registered=1, issued=1)
    assert (r.valid, r.partly_valid, r.void, r.blank, r.returned) == (0, 0, 1, 0, 1)
    for pr in r.posts.values():
        assert set(pr.votes.values()) == {0}
        assert pr.void_ballots == 1
        assert pr.valid_ballots == 0


def test_blank_ballots() -> None:
    tally = RoundTally([DIRECTOR, MEMBERS], TallyRules())
    assert tally.add({}) is BallotClass.BLANK
    assert tally.add({"c03/director": M(), "c03/member": M()}) is BallotClass.BLANK
    # a post left blank on an otherwise valid ballot keeps the ballot valid
    assert tally.add({"c03/director": for_("a")}) is BallotClass.VALID
    r = tally.result(registered=3, issued=3)
    assert (r.valid, r.blank, r.returned) == (1, 2, 3)
    assert r.posts["c03/member"].blank_ballots == 3
    assert r.posts["c03/director"].blank_ballots == 2


def test_against_only_is_a_valid_mark() -> None:
    tally = RoundTally([DIRECTOR], TallyRules())
    assert tally.add({"c03/director": M(against=("a", "b"))}) is BallotClass.VALID
    pr = tally.result(registered=1, issued=1).posts["c03/director"]
    assert pr.against == {"a": 1, "b": 1}
    assert pr.votes == {"a": 0, "b": 0}


@pytest.mark.parametrize(
    "marks",
    [
        M(in_favour=("zz",)),  # not on the list
        M(against=("zz",)),  # not on the list
        M(in_favour=("c",), against=("c",)),  # both for and against
        M(write_ins=("c",)),  # write-in of a listed candidate
        M(in_favour=("c", "c")),  # repeated
        M(write_ins=("w", "w")),  # repeated
    ],
)
def test_malformed_marks_void_the_post_without_raising(marks: PostMarks) -> None:
    tally = RoundTally([DIRECTOR, MEMBERS], TallyRules())
    cls = tally.add({"c03/director": for_("a"), "c03/member": marks})
    assert cls is BallotClass.PARTLY_VALID
    r = tally.result(registered=1, issued=1)
    member = r.posts["c03/member"]
    assert (member.invalid_ballots, member.overvote_ballots, member.void_ballots) == (1, 0, 1)
    assert set(member.votes.values()) == {0}
    assert set(member.against.values()) == {0}
    assert r.posts["c03/director"].votes["a"] == 1


def test_unknown_post_is_void_for_that_post() -> None:
    tally = RoundTally([DIRECTOR], TallyRules())
    assert tally.add({"c99/director": for_("x")}) is BallotClass.VOID
    assert tally.add({"c99/director": for_("x"), "c03/director": for_("a")}) is (
        BallotClass.PARTLY_VALID
    )
    assert tally.add({"c99/director": M()}) is BallotClass.BLANK  # no mark: nothing void
    r = tally.result(registered=3, issued=3)
    assert r.unknown_post_ballots == 2
    assert (r.void, r.partly_valid, r.blank) == (1, 1, 1)
    assert r.posts["c03/director"].votes == {"a": 1, "b": 0}


# --------------------------------------------------------------------------- round validity


def test_returned_exceeds_issued_voids_round() -> None:
    spec = PostSpec(post="p", seats=1, candidates=("a", "b"))
    ballots = votes_ballots(a=9, b=1)
    r = tally_round([spec], ballots, registered=10, issued=9)
    assert r.round_void
    assert r.void_reason == VOID_RETURNED_EXCEEDS_ISSUED
    pr = r.posts["p"]
    assert pr.elected == () and pr.tied == ()
    assert pr.unfilled == 1
    assert pr.votes == {"a": 9, "b": 1}  # the counts are still reported
    assert "round void" in pr.reasons["a"] and "10 ballots returned > 9 issued" in pr.reasons["a"]
    assert "round must be held again" in pr.seat_reasons[0]
    # returned == issued is fine
    r = tally_round([spec], ballots, registered=10, issued=10)
    assert not r.round_void and r.posts["p"].elected == ("a",)


def test_returned_exceeds_issued_checked_before_turnout() -> None:
    spec = PostSpec(post="p", seats=1, candidates=("a",))
    r = tally_round([spec], votes_ballots(a=3), registered=100, issued=2)
    assert r.void_reason == VOID_RETURNED_EXCEEDS_ISSUED


def test_turnout_exactly_half_void_one_more_valid() -> None:
    spec = PostSpec(post="p", seats=1, candidates=("a", "b"))
    five = votes_ballots(a=5)
    r = tally_round([spec], five, registered=10, issued=10)
    assert r.round_void and r.void_reason == VOID_TURNOUT
    assert r.posts["p"].elected == ()
    assert r.posts["p"].unfilled == 1
    six = votes_ballots(a=6)
    r = tally_round([spec], six, registered=10, issued=10)
    assert not r.round_void and r.void_reason is None
    assert r.posts["p"].elected == ("a",)
    # odd register: 11 registered, 5 cast is not > 5.5, 6 is
    assert tally_round([spec], five, registered=11, issued=11).round_void
    assert not tally_round([spec], six, registered=11, issued=11).round_void


def test_turnout_share_is_a_parameter() -> None:
    spec = PostSpec(post="p", seats=1, candidates=("a",))
    rules = TallyRules(turnout_min=Fraction(2, 3))
    assert tally_round([spec], votes_ballots(a=6), registered=9, issued=9, rules=rules).round_void
    assert not tally_round(
        [spec], votes_ballots(a=7), registered=9, issued=9, rules=rules
    ).round_void


# --------------------------------------------------------------------------- winners


def test_exactly_half_of_cast_not_elected_half_plus_one_elected() -> None:
    # 10 ballots cast; a has exactly 5 = 1/2 of cast: not elected. Blanks count as cast.
    ballots = votes_ballots(a=5, b=1) + repeat(4, {})
    r = tally_round(
        [PostSpec(post="p", seats=1, candidates=("a", "b"))], ballots, registered=10, issued=10
    )
    assert r.min_votes == 6
    pr = r.posts["p"]
    assert pr.elected == ()
    assert pr.unfilled == 1
    assert pr.reasons["a"] == "not elected: 5 votes not > 1/2 of 10 ballots cast (6 needed)"
    assert "supplementary round" in pr.seat_reasons[0]
    ballots = votes_ballots(a=6) + repeat(4, {})
    pr = one_post(1, ("a", "b"), ballots)
    assert pr.elected == ("a",)
    assert pr.reasons["a"] == "elected: 6 votes > 1/2 of 10 ballots cast"
    assert pr.seat_reasons == ("seat 1: a (6 votes)",)


def test_majority_of_cast_not_of_valid_votes() -> None:
    # a has 5 of the 6 valid votes for the post, but 10 ballots were cast (4 void on this post):
    # 5 is not more than 1/2 of 10
    ballots = votes_ballots(a=5, b=1) + repeat(4, {"p": for_("a", "b")})
    pr = one_post(1, ("a", "b"), ballots)
    assert pr.valid_ballots == 6 and pr.void_ballots == 4
    assert pr.elected == ()


def test_odd_number_of_ballots() -> None:
    pr = one_post(1, ("a", "b"), votes_ballots(a=5, b=4))
    assert pr.elected == ("a",)  # 5 > 4.5


def test_more_above_threshold_than_seats_takes_the_top() -> None:
    # 10 cast, need 6: a 7, b 7, c 6 all pass; two seats: a and b, c ranked out
    ballots = (
        [{"p": for_("a", "b")}] * 4 + [{"p": for_("a", "c")}] * 3 + [{"p": for_("b", "c")}] * 3
    )
    pr = one_post(2, ("a", "b", "c"), ballots)
    assert pr.votes == {"a": 7, "b": 7, "c": 6}
    assert pr.elected == ("a", "b")
    assert pr.tied == () and pr.unfilled == 0
    assert pr.reasons["c"] == (
        "not elected: 6 votes > 1/2 of 10 ballots cast "
        "but 2 person(s) have more votes for 2 seat(s)"
    )
    # 10 cast: a 9, b 8, c 7, d 6 all pass; three seats, elected in vote order
    ballots = (
        [{"p": for_("a", "b", "c")}] * 4
        + [{"p": for_("a", "b", "d")}] * 3
        + [{"p": for_("a", "c", "d")}] * 2
        + [{"p": for_("b", "c", "d")}] * 1
    )
    pr = one_post(3, ("d", "c", "b", "a"), ballots)
    assert pr.votes == {"a": 9, "b": 8, "c": 7, "d": 6}
    assert pr.elected == ("a", "b", "c")
    assert pr.seat_reasons == ("seat 1: a (9 votes)", "seat 2: b (8 votes)", "seat 3: c (7 votes)")


def test_tie_at_cut_off_leaves_seat_open_for_revote() -> None:
    # 12 cast, need 7: a 10, b 7, c 7 for 2 seats: a elected, b and c tied for the last seat
    ballots = (
        [{"p": for_("a", "b")}] * 5 + [{"p": for_("a", "c")}] * 5 + [{"p": for_("b", "c")}] * 2
    )
    pr = one_post(2, ("a", "b", "c"), ballots)
    assert pr.votes == {"a": 10, "b": 7, "c": 7}
    assert pr.elected == ("a",)
    assert pr.tied == ("b", "c")
    assert pr.revote_seats == 1 and pr.unfilled == 0
    assert pr.reasons["b"] == (
        "tied at cut-off: 7 votes, equal with c for the last 1 seat(s): re-vote among the tied"
    )
    assert pr.seat_reasons == (
        "seat 1: a (10 votes)",
        "seat 2: open, tie at cut-off among b, c (7 votes): re-vote",
    )


def test_tie_examples_exact() -> None:
    # 1 seat, a 6, b 6 of 12 cast: 6 is not > 6, nobody qualifies: unfilled, no tie
    pr = one_post(1, ("a", "b"), votes_ballots(a=6, b=6))
    assert pr.elected == () and pr.tied == () and pr.unfilled == 1
    # 2 seats, a 8, b 8, c 8 of 12 cast: all three tied for both seats, none elected
    ballots = (
        [{"p": for_("a", "b")}] * 4 + [{"p": for_("b", "c")}] * 4 + [{"p": for_("a", "c")}] * 4
    )
    pr = one_post(2, ("a", "b", "c"), ballots)
    assert pr.votes == {"a": 8, "b": 8, "c": 8}
    assert pr.elected == () and pr.tied == ("a", "b", "c")
    assert pr.revote_seats == 2 and pr.unfilled == 0
    assert len(pr.seat_reasons) == 2 and all("re-vote" in s for s in pr.seat_reasons)
    # equal counts that fit inside the seats are no tie
    pr = one_post(2, ("a", "b", "c"), [{"p": for_("a", "b")}] * 7 + [{"p": for_("c")}] * 3)
    assert pr.elected == ("a", "b") and pr.tied == ()


def test_seat_accounting_identity() -> None:
    for pr in (
        one_post(2, ("a", "b", "c"), [{"p": for_("a", "b")}] * 5 + [{"p": for_("a", "c")}] * 5),
        one_post(3, ("a", "b", "c"), [{"p": for_("a")}] * 5),
    ):
        assert len(pr.elected) + pr.revote_seats + pr.unfilled == pr.seats


# --------------------------------------------------------------------------- supplementary


def test_supplementary_round_exactly_one_third_elected() -> None:
    spec = PostSpec(post="p", seats=1, candidates=("a", "b"))
    ballots = votes_ballots(a=3, b=2) + repeat(4, {})
    r = tally_round([spec], ballots, registered=9, issued=9, supplementary=True)
    assert r.supplementary and r.min_votes == 3
    pr = r.posts["p"]
    assert pr.elected == ("a",)
    assert pr.reasons["a"] == "elected: 3 votes >= 1/3 of 9 ballots cast"
    assert pr.reasons["b"] == "not elected: 2 votes < 1/3 of 9 ballots cast (3 needed)"
    ballots = votes_ballots(a=2, b=2) + repeat(5, {})
    pr = tally_round([spec], ballots, registered=9, issued=9, supplementary=True).posts["p"]
    assert pr.elected == () and pr.unfilled == 1
    assert "not filled" in pr.seat_reasons[0]
    # the same 3-of-9 is far from a first-round majority
    assert (
        tally_round([spec], votes_ballots(a=3, b=2) + repeat(4, {}), registered=9, issued=9)
        .posts["p"]
        .elected
        == ()
    )


def test_supplementary_highest_first_and_ties() -> None:
    spec = PostSpec(post="p", seats=1, candidates=("a", "b", "c"))
    r = tally_round(
        [spec], votes_ballots(a=4, b=3, c=2), registered=9, issued=9, supplementary=True
    )
    assert r.posts["p"].elected == ("a",)
    r = tally_round(
        [spec], votes_ballots(a=4, b=4, c=1), registered=9, issued=9, supplementary=True
    )
    assert r.posts["p"].elected == () and r.posts["p"].tied == ("a", "b")


def test_supplementary_candidates_in_vote_order_with_end_ties() -> None:
    spec = PostSpec(post="p", seats=2, candidates=("a", "b", "c", "d", "e"))
    ballots = (
        [{"p": for_("a", "b")}] * 6
        + [{"p": for_("a", "c")}] * 1
        + [{"p": for_("c", "d")}] * 2
        + [{"p": M(in_favour=("e",), write_ins=("w",))}] * 1
    )
    # 10 cast: a 7, b 6, c 3, d 2, e 1, w 1 -> a, b elected
    first = tally_round([spec], ballots, registered=10, issued=10).posts["p"]
    assert first.elected == ("a", "b")
    assert supplementary_candidates(first, 1) == ("c",)
    assert supplementary_candidates(first, 2) == ("c", "d")
    assert supplementary_candidates(first, 3) == ("c", "d", "e", "w")  # e and w tie at the end
    assert supplementary_candidates(first, 10) == ("c", "d", "e", "w")
    assert supplementary_candidates(first, 0) == ()
    with pytest.raises(UsageError):
        supplementary_candidates(first, -1)


def test_supplementary_candidates_skip_tied() -> None:
    ballots = (
        [{"p": for_("a", "b")}] * 5 + [{"p": for_("a", "c")}] * 5 + [{"p": for_("b", "c")}] * 2
    )
    first = one_post(2, ("a", "b", "c", "d"), ballots)
    assert first.tied == ("b", "c")
    assert supplementary_candidates(first, 1) == ("d",)


def test_supplementary_round_end_to_end() -> None:
    # first round: members, 3 seats, 10 cast, need 6: a 8, b 6 elected, one seat unfilled
    spec = PostSpec(post="m", seats=3, candidates=("a", "b", "c", "d", "e"))
    first_ballots = (
        [{"m": for_("a", "b", "c")}] * 4
        + [{"m": for_("a", "d", "e")}] * 3
        + [{"m": for_("b", "d")}] * 2
        + [{"m": for_("a")}] * 1
    )
    first = tally_round([spec], first_ballots, registered=12, issued=12)
    pr = first.posts["m"]
    assert pr.votes == {"a": 8, "b": 6, "c": 4, "d": 5, "e": 3}
    assert pr.elected == ("a", "b") and pr.unfilled == 1
    assert "supplementary round" in pr.seat_reasons[2]
    cands = supplementary_candidates(pr, pr.unfilled + 1)
    assert cands == ("d", "c")
    # supplementary round: 10 cast, need ceil(10/3) = 4, highest first
    supp = PostSpec(post="m", seats=pr.unfilled, candidates=cands)
    ballots2 = [{"m": for_("d")}] * 4 + [{"m": for_("c")}] * 3 + [{}] * 3
    second = tally_round([supp], ballots2, registered=12, issued=12, supplementary=True)
    assert second.min_votes == 4
    assert second.posts["m"].elected == ("d",)


# --------------------------------------------------------------------------- combined ballot


def _combined_ballots() -> list[Ballot]:
    director = "c03/director"
    member = "c03/member"
    return (
        [{director: for_("a"), member: for_("c")}] * 5
        + [{director: for_("a")}] * 1
        + [{director: for_("b"), member: M(write_ins=("b",))}] * 3
        + [{director: for_("b"), member: for_("d")}] * 1
    )


def test_combined_ballot_sums_higher_post_votes() -> None:
    director = PostSpec(post="c03/director", seats=1, candidates=("a", "b"), rank=0)
    member = PostSpec(post="c03/member", seats=1, candidates=("c", "d"), rank=2)
    ballots = _combined_ballots()
    # 10 cast, need 6. director: a 6, b 4. member raw: c 5, d 1, b 3 (write-in).
    plain = tally_round([director, member], ballots, registered=10, issued=10)
    assert plain.posts["c03/director"].elected == ("a",)
    m = plain.posts["c03/member"]
    assert m.votes == {"c": 5, "d": 1, "b": 3}
    assert m.counts == m.votes
    assert m.elected == () and m.unfilled == 1
    rules = TallyRules(combined_ballot=True)
    comb = tally_round([director, member], ballots, registered=10, issued=10, rules=rules)
    m = comb.posts["c03/member"]
    assert m.votes == {"c": 5, "d": 1, "b": 3}  # raw votes unchanged
    assert m.counts == {"c": 5, "d": 1, "b": 7, "a": 6}
    assert m.excluded == ("a",)  # elected director: one person, one post
    assert m.elected == ("b",)
    assert m.reasons["b"] == (
        "elected: 7 votes (3 for this post + 4 for higher posts) > 1/2 of 10 ballots cast"
    )
    assert "elected to higher post c03/director" in m.reasons["a"]
    # the director post itself is unchanged by combined counting
    assert comb.posts["c03/director"] == plain.posts["c03/director"]


def test_combined_ballot_ranks_exact() -> None:
    posts = [
        PostSpec(post="d", seats=1, candidates=("x", "y"), rank=0),
        PostSpec(post="v", seats=1, candidates=("z", "u"), rank=1),
        PostSpec(post="m", seats=1, candidates=("q",), rank=2),
    ]
    ballots = (
        [{"d": for_("x"), "v": for_("z"), "m": for_("q")}] * 6
        + [{"d": for_("y"), "v": M(write_ins=("y",)), "m": M(write_ins=("y",))}] * 3
        + [{"d": for_("y"), "v": for_("u"), "m": M(write_ins=("y",))}] * 1
    )
    rules = TallyRules(combined_ballot=True)
    r = tally_round(posts, ballots, registered=10, issued=10, rules=rules)
    d, v, m = r.posts["d"], r.posts["v"], r.posts["m"]
    assert d.counts == {"x": 6, "y": 4} and d.elected == ("x",)
    # deputy: z 6, u 1, y 3 + 4 = 7; x 6 (excluded, elected director)
    assert v.counts == {"z": 6, "u": 1, "y": 7, "x": 6}
    assert v.excluded == ("x",)
    assert v.elected == ("y",)
    # member: q 6, y 4 + 4 + 3 = 11 (excluded), x 6 (excluded), z 6, u 1
    assert m.counts == {"q": 6, "y": 11, "u": 1, "x": 6, "z": 6}
    assert m.excluded == ("x", "y")
    assert m.tied == ("q", "z") and m.elected == ()


def test_combined_ballot_does_not_sum_posts_of_the_same_rank() -> None:
    # two posts of rank 0 (e.g. two directors' lists on one paper) do not feed each other
    first = PostSpec(post="x", seats=1, candidates=("a",), rank=0)
    second = PostSpec(post="y", seats=1, candidates=("b",), rank=0)
    lower = PostSpec(post="z", seats=1, candidates=("c",), rank=1)
    ballots = [{"x": for_("a"), "y": M(write_ins=("a",)), "z": M(write_ins=("b",))}] * 4
    ballots += [{"y": for_("b")}] * 2
    r = tally_round(
        [first, second, lower],
        ballots,
        registered=6,
        issued=6,
        rules=TallyRules(combined_ballot=True),
    )
    assert r.posts["y"].counts == {"b": 2, "a": 4}  # no director votes added at the same rank
    assert r.posts["y"].excluded == ()  # same rank: not a higher post
    assert r.posts["x"].elected == ("a",)
    # the lower post sums both rank-0 posts: b 2 + 4 write-ins = 6; a excluded (elected above)
    assert r.posts["z"].counts == {"c": 0, "b": 6, "a": 8}
    assert r.posts["z"].excluded == ("a",)
    assert r.posts["z"].elected == ("b",)


def test_excluded_person_applies_without_combined_ballot() -> None:
    # a write-in for the elected director on the member post does not give them a second post
    director = PostSpec(post="d", seats=1, candidates=("a", "b"), rank=0)
    member = PostSpec(post="m", seats=1, candidates=("c",), rank=1)
    ballots = [{"d": for_("a"), "m": M(write_ins=("a",))}] * 7 + [{"d": for_("b"), "m": for_("c")}]
    r = tally_round([director, member], ballots, registered=8, issued=8)
    assert r.posts["d"].elected == ("a",)
    assert r.posts["m"].excluded == ("a",)
    assert r.posts["m"].elected == ()
    assert r.posts["m"].unfilled == 1


# --------------------------------------------------------------------------- write-ins


def test_write_in_person_can_win() -> None:
    ballots = [{"p": M(write_ins=("w",))}] * 6 + votes_ballots(a=3, b=1)
    pr = one_post(1, ("a", "b"), ballots)
    assert pr.votes == {"a": 3, "b": 1, "w": 6}
    assert pr.elected == ("w",)
    assert pr.reasons["w"] == "elected: 6 votes > 1/2 of 10 ballots cast"


# --------------------------------------------------------------------------- usage errors


def test_usage_errors() -> None:
    with pytest.raises(UsageError):
        PostSpec(post="p", seats=-1, candidates=("a",))
    with pytest.raises(UsageError):
        PostSpec(post="p", seats=True, candidates=("a",))
    with pytest.raises(UsageError):
        PostSpec(post="p", seats=1, candidates=("a", "a"))
    with pytest.raises(UsageError):
        PostSpec(post="p", seats=1, candidates="ab")
    with pytest.raises(UsageError):
        PostSpec(post="", seats=1, candidates=("a",))
    with pytest.raises(UsageError):
        TallyRules(majority=0.5)
    with pytest.raises(UsageError):
        TallyRules(turnout_min=Fraction(3, 2))
    with pytest.raises(UsageError):
        TallyRules(combined_ballot=1)  # type: ignore[arg-type]
    spec = PostSpec(post="p", seats=1, candidates=("a",))
    with pytest.raises(UsageError):
        RoundTally([spec, spec], TallyRules())
    with pytest.raises(UsageError):
        RoundTally([spec], None)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        RoundTally(3, TallyRules())  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        tally_round([spec], 3, registered=1, issued=1)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        supplementary_candidates(None, 1)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        compare_declared({}, None)  # type: ignore[arg-type]
    tally = RoundTally([spec], TallyRules())
    with pytest.raises(UsageError):
        tally.result(registered=-1, issued=0)
    with pytest.raises(UsageError):
        tally.result(registered=1, issued=-1)
    with pytest.raises(UsageError):
        tally.result(registered=1.0, issued=1)  # type: ignore[arg-type]


def test_malformed_ballot_object_raises_usage_error_and_changes_nothing() -> None:
    spec = PostSpec(post="p", seats=1, candidates=("a",))
    tally = RoundTally([spec], TallyRules())
    tally.add({"p": for_("a")})
    before = tally.result(registered=1, issued=1)
    for bad in (["p"], {"p": ("a",)}, {"p": None}, {"p": PostMarks(in_favour=(["x"],))}):  # type: ignore[arg-type]
        with pytest.raises(UsageError):
            tally.add(bad)  # type: ignore[arg-type]
    # a valid post followed by a broken one: nothing of the ballot is counted
    with pytest.raises(UsageError):
        tally.add({"p": for_("a"), "q": "junk"})  # type: ignore[dict-item]
    assert tally.result(registered=1, issued=1) == before


def test_zero_seat_post() -> None:
    pr = one_post(0, ("a",), votes_ballots(a=3))
    assert pr.votes == {"a": 0}  # any "for" mark overvotes a zero-seat post
    assert pr.void_ballots == 3
    assert pr.elected == () and pr.unfilled == 0 and pr.seat_reasons == ()


# --------------------------------------------------------------------------- declared results


def _sample_result() -> RoundResult:
    ballots = _combined_ballots()
    posts = [
        PostSpec(post="c03/director", seats=1, candidates=("a", "b"), rank=0),
        PostSpec(post="c03/member", seats=1, candidates=("c", "d"), rank=2),
    ]
    return tally_round(
        posts, ballots, registered=10, issued=10, rules=TallyRules(combined_ballot=True)
    )


def _walk(obj: object) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert type(k) is str
            _walk(v)
    elif isinstance(obj, list):
        for v in obj:
            _walk(v)
    else:
        assert type(obj) in (int, str, bool), type(obj)


def test_to_dict_is_plain() -> None:
    d = _sample_result().to_dict()
    _walk(d)
    assert d["void_reason"] == ""
    assert d["rules"] == {
        "majority": "1/2",
        "supplementary_min": "1/3",
        "turnout_min": "1/2",
        "combined_ballot": True,
    }
    posts = d["posts"]
    assert isinstance(posts, dict)
    assert posts["c03/member"]["elected"] == ["b"]


def test_to_dict_encodes_canonically() -> None:
    codec = pytest.importorskip("electlog.codec")
    data = codec.encode(_sample_result().to_dict())
    assert codec.decode(data) == _sample_result().to_dict()


def test_compare_declared_hand() -> None:
    r = _sample_result()
    assert compare_declared(r.to_dict(), r) == []
    d = r.to_dict()
    d["posts"]["c03/member"]["votes"]["c"] = 6  # type: ignore[index]
    assert compare_declared(d, r) == [
        Discrepancy(post="c03/member", field="votes", candidate="c", declared=6, recomputed=5)
    ]
    d = r.to_dict()
    d["posts"]["c03/member"]["elected"] = ["c"]  # type: ignore[index]
    (disc,) = compare_declared(d, r)
    assert (disc.post, disc.field, disc.declared, disc.recomputed) == (
        "c03/member",
        "elected",
        ["c"],
        ["b"],
    )
    assert str(disc) == "c03/member.elected: declared ['c'], recomputed ['b']"
    # a person declared with votes who has none recomputed
    d = r.to_dict()
    d["posts"]["c03/director"]["votes"]["zz"] = 1  # type: ignore[index]
    assert compare_declared(d, r) == [
        Discrepancy(post="c03/director", field="votes", candidate="zz", declared=1, recomputed=None)
    ]
    # True is not 1
    d = r.to_dict()
    assert d["unknown_post_ballots"] == 0
    d["unknown_post_ballots"] = False
    assert [x.field for x in compare_declared(d, r)] == ["unknown_post_ballots"]
    # missing / extra posts
    d = r.to_dict()
    posts = d["posts"]
    assert isinstance(posts, dict)
    posts["c04/director"] = posts.pop("c03/director")
    out = compare_declared(d, r)
    assert [(x.post, x.field, x.declared, x.recomputed) for x in out] == [
        ("c03/director", "post", "missing", "present"),
        ("c04/director", "post", "present", "missing"),
    ]
    # rules
    d = r.to_dict()
    d["rules"] = {**d["rules"], "majority": "2/3"}  # type: ignore[dict-item]
    assert [(x.field, x.declared) for x in compare_declared(d, r)] == [("rules.majority", "2/3")]
    # explanations are not compared
    d = r.to_dict()
    d["posts"]["c03/member"]["reasons"] = {}  # type: ignore[index]
    assert compare_declared(d, r) == []
    # garbage never raises: every field is reported
    for junk in ({}, {"posts": 3, "rules": 4}, {"posts": {"c03/member": {"votes": 7}}}):
        out = compare_declared(junk, r)
        assert len(out) >= 10


def test_discrepancy_to_dict() -> None:
    d = Discrepancy(post=None, field="returned", candidate=None, declared=None, recomputed=3)
    assert d.to_dict() == {"field": "returned", "recomputed": 3}


# --------------------------------------------------------------------------- properties

POOL = ("v0", "v1", "v2", "v3", "v4", "v5")
WRITE_POOL = ("w0", "w1", "v0", "v5")


@st.composite
def rounds(draw: st.DrawFn) -> tuple[list[PostSpec], list[Ballot]]:
    n_posts = draw(st.integers(1, 3))
    posts = []
    for i in range(n_posts):
        cands = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=4, unique=True))
        posts.append(
            PostSpec(
                post=f"p{i}",
                seats=draw(st.integers(1, 3)),
                candidates=tuple(cands),
                rank=draw(st.integers(0, 2)),
            )
        )

    def marks_for(spec: PostSpec) -> st.SearchStrategy[PostMarks]:
        cands = list(spec.candidates)
        names = st.lists(st.sampled_from(cands), max_size=spec.seats + 1, unique=True)
        writes = st.lists(st.sampled_from(WRITE_POOL), max_size=2, unique=True)
        return st.builds(
            lambda f, a, w: PostMarks(
                in_favour=tuple(sorted(f)), against=tuple(sorted(a)), write_ins=tuple(sorted(w))
            ),
            names,
            st.lists(st.sampled_from(cands), max_size=2, unique=True),
            writes,
        )

    ballot_st = st.fixed_dictionaries(
        {},
        optional={
            **{spec.post: marks_for(spec) for spec in posts},
            "zz": st.just(PostMarks(in_favour=("v0",))),
        },
    )
    ballots = draw(st.lists(ballot_st, max_size=30))
    return posts, ballots


rules_st = st.builds(
    TallyRules,
    majority=st.sampled_from([Fraction(1, 2), Fraction(2, 3), Fraction(1, 3)]),
    combined_ballot=st.booleans(),
)

PROPS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _winners(r: RoundResult) -> set[str]:
    return {p for pr in r.posts.values() for p in pr.elected}


@PROPS
@given(rounds(), rules_st, st.booleans(), st.randoms(use_true_random=False))
def test_ballot_order_never_changes_the_result(
    rnd: tuple[list[PostSpec], list[Ballot]], rules: TallyRules, supp: bool, random: Any
) -> None:
    posts, ballots = rnd
    n = len(ballots)
    r1 = tally_round(posts, ballots, registered=n, issued=n, rules=rules, supplementary=supp)
    shuffled = list(ballots)
    random.shuffle(shuffled)
    r2 = tally_round(posts, shuffled, registered=n, issued=n, rules=rules, supplementary=supp)
    assert r1 == r2
    assert r1.to_dict() == r2.to_dict()


def _void_ballot(posts: Sequence[PostSpec]) -> Ballot:
    ballot = {}
    for spec in posts:
        marks = list(spec.candidates)[: spec.seats + 1]
        extra = [f"x{i}" for i in range(spec.seats + 1 - len(marks))]
        ballot[spec.post] = PostMarks(in_favour=tuple(sorted(marks)), write_ins=tuple(extra))
    return ballot


@PROPS
@given(rounds(), rules_st, st.booleans(), st.data())
def test_adding_a_void_ballot_never_adds_a_winner(
    rnd: tuple[list[PostSpec], list[Ballot]], rules: TallyRules, supp: bool, data: st.DataObject
) -> None:
    posts, ballots = rnd
    n = len(ballots)
    # keep the round's validity fixed: turnout already above half, enough ballots issued
    registered = data.draw(st.integers(0, max(0, 2 * n - 1)))
    issued = n + data.draw(st.integers(1, 3))
    tally = RoundTally(posts, rules, supplementary=supp)
    for b in ballots:
        tally.add(b)
    before = tally.result(registered=registered, issued=issued)
    assert tally.add(_void_ballot(posts)) is BallotClass.VOID
    after = tally.result(registered=registered, issued=issued)
    assert after.returned == before.returned + 1
    assert after.void == before.void + 1
    assert _winners(after) <= _winners(before)
    if len({spec.rank for spec in posts}) == 1:  # no one-person-one-post interplay: per post
        for pid, pr in after.posts.items():
            assert set(pr.elected) <= set(before.posts[pid].elected)
    for pid, pr in after.posts.items():  # counts untouched
        assert pr.counts == before.posts[pid].counts


def test_void_ballot_can_lift_turnout() -> None:
    # the one way a void ballot changes winners: it is a ballot cast, so it counts for turnout
    spec = PostSpec(post="p", seats=1, candidates=("a", "b"))
    tally = RoundTally([spec], TallyRules())
    for b in votes_ballots(a=5):
        tally.add(b)
    assert tally.result(registered=11, issued=11).round_void
    tally.add({"p": for_("a", "b")})
    assert tally.result(registered=11, issued=11).posts["p"].elected == ("a",)


@PROPS
@given(rounds(), rules_st, st.booleans(), st.integers(0, 40), st.integers(0, 40))
def test_every_winner_meets_the_threshold(
    rnd: tuple[list[PostSpec], list[Ballot]],
    rules: TallyRules,
    supp: bool,
    registered: int,
    issued_extra: int,
) -> None:
    posts, ballots = rnd
    cast = len(ballots)
    issued = max(0, cast - 2) + issued_extra
    r = tally_round(
        posts, ballots, registered=registered, issued=issued, rules=rules, supplementary=supp
    )
    share = rules.supplementary_min if supp else rules.majority
    t = rules.turnout_min
    expect_void = cast > issued or cast * t.denominator <= registered * t.numerator
    assert r.round_void == expect_void
    assert r.valid + r.partly_valid + r.void + r.blank == r.returned == cast
    for pr in r.posts.values():
        assert len(pr.elected) + pr.revote_seats + pr.unfilled == pr.seats
        assert len(pr.elected) <= pr.seats
        assert not (pr.tied and pr.unfilled)
        assert pr.valid_ballots + pr.void_ballots + pr.blank_ballots == cast
        assert set(pr.reasons) == set(pr.counts)
        if r.round_void:
            assert pr.elected == () and pr.tied == () and pr.unfilled == pr.seats
        for person in pr.elected:
            n = pr.counts[person]
            if supp:
                assert n * share.denominator >= cast * share.numerator and n >= 1
            else:
                assert n * share.denominator > cast * share.numerator
            assert person not in pr.excluded
        for person in pr.tied:
            assert pr.counts[person] * share.denominator >= cast * share.numerator
        if pr.elected and pr.tied:
            assert min(pr.counts[p] for p in pr.elected) > pr.counts[pr.tied[0]]
    # one person, one post across ranks
    seen: dict[str, str] = {}
    for pid, pr in r.posts.items():
        for person in pr.elected:
            other = seen.setdefault(person, pid)
            if other != pid:
                assert r.posts[other].rank == pr.rank


def _oracle(
    posts: Sequence[PostSpec], ballots: Sequence[Ballot]
) -> tuple[list[str], dict[str, dict[str, int]]]:
    """Naive classification and raw for-vote counts, written from the rules' wording."""
    classes = []
    votes: dict[str, dict[str, int]] = {s.post: dict.fromkeys(s.candidates, 0) for s in posts}
    specs = {s.post: s for s in posts}
    for ballot in ballots:
        valid_posts = void_posts = 0
        for pid, m in ballot.items():
            if not (m.in_favour or m.against or m.write_ins):
                continue
            spec = specs.get(pid)
            ok = (
                spec is not None
                and len(m.in_favour) + len(m.write_ins) <= spec.seats
                and all(c in spec.candidates for c in m.in_favour + m.against)
                and not set(m.in_favour) & set(m.against)
                and not set(m.write_ins) & set(spec.candidates)
            )
            if ok:
                assert spec is not None
                valid_posts += 1
                for c in m.in_favour + m.write_ins:
                    votes[pid][c] = votes[pid].get(c, 0) + 1
            else:
                void_posts += 1
        if valid_posts == 0 and void_posts == 0:
            classes.append("blank")
        elif void_posts == 0:
            classes.append("valid")
        elif valid_posts == 0:
            classes.append("void")
        else:
            classes.append("partly_valid")
    return classes, votes


def _oracle_winners(counts: Mapping[str, int], seats: int, need: int) -> tuple[set[str], set[str]]:
    ranked = sorted((n for n in counts.values() if n >= need), reverse=True)
    if len(ranked) <= seats:
        return {p for p, n in counts.items() if n >= need}, set()
    cut = ranked[seats - 1]
    if ranked[seats] == cut:
        return {p for p, n in counts.items() if n > cut}, {p for p, n in counts.items() if n == cut}
    return {p for p, n in counts.items() if n >= cut}, set()


@PROPS
@given(rounds(), st.booleans(), st.data())
def test_streaming_equals_tally_round_and_naive_oracle(
    rnd: tuple[list[PostSpec], list[Ballot]], supp: bool, data: st.DataObject
) -> None:
    posts, ballots = rnd
    posts = [PostSpec(post=s.post, seats=s.seats, candidates=s.candidates) for s in posts]
    n = len(ballots)
    rules = TallyRules()
    tally = RoundTally(posts, rules, supplementary=supp)
    split = data.draw(st.integers(0, n))
    classes = [tally.add(b) for b in ballots[:split]]
    tally.result(registered=n, issued=n)  # a result in the middle consumes nothing
    classes += [tally.add(b) for b in ballots[split:]]
    streamed = tally.result(registered=n, issued=n)
    whole = tally_round(posts, ballots, registered=n, issued=n, rules=rules, supplementary=supp)
    assert streamed == whole
    want_classes, want_votes = _oracle(posts, ballots)
    assert [str(c) for c in classes] == want_classes
    assert streamed.valid == want_classes.count("valid")
    assert streamed.partly_valid == want_classes.count("partly_valid")
    assert streamed.void == want_classes.count("void")
    assert streamed.blank == want_classes.count("blank")
    if streamed.round_void:
        return
    need = streamed.min_votes
    for spec in posts:
        pr = streamed.posts[spec.post]
        assert pr.votes == want_votes[spec.post]
        elected, tied = _oracle_winners(pr.votes, spec.seats, need)
        assert set(pr.elected) == elected
        assert set(pr.tied) == tied
        assert [pr.votes[p] for p in pr.elected] == sorted(
            (pr.votes[p] for p in pr.elected), reverse=True
        )


def _count_paths(d: Mapping[str, Any]) -> list[tuple[str | None, str, str | None]]:
    paths: list[tuple[str | None, str, str | None]] = [
        (None, k, None) for k, v in d.items() if type(v) is int
    ]
    for pid, pd in d["posts"].items():
        paths += [(pid, k, None) for k, v in pd.items() if type(v) is int]
        for field in ("votes", "against", "counts"):
            paths += [(pid, field, c) for c in pd[field]]
    return paths


@PROPS
@given(rounds(), rules_st, st.booleans(), st.data())
def test_compare_declared_flags_exactly_the_changed_count(
    rnd: tuple[list[PostSpec], list[Ballot]],
    rules: TallyRules,
    supp: bool,
    data: st.DataObject,
) -> None:
    posts, ballots = rnd
    n = len(ballots)
    r = tally_round(posts, ballots, registered=n, issued=n, rules=rules, supplementary=supp)
    assert compare_declared(r.to_dict(), r) == []
    d: dict[str, Any] = r.to_dict()
    paths = _count_paths(d)
    post, field, cand = data.draw(st.sampled_from(paths))
    delta = data.draw(st.sampled_from([1, -1, 7]))
    target: Any = d if post is None else d["posts"][post]
    if cand is None:
        old = target[field]
        target[field] = old + delta
    else:
        old = target[field][cand]
        target[field][cand] = old + delta
    assert compare_declared(d, r) == [
        Discrepancy(post=post, field=field, candidate=cand, declared=old + delta, recomputed=old)
    ]
    # and a dropped count is flagged too
    if cand is not None:
        del target[field][cand]
        assert compare_declared(d, r) == [
            Discrepancy(post=post, field=field, candidate=cand, declared=None, recomputed=old)
        ]


_LOOKALIKES: Any = st.one_of(
    st.integers(-3, 3),
    st.booleans(),  # True == 1, but not the same count
    st.floats(-3, 3, allow_nan=False),  # 1.0 == 1 too
    st.none(),
    st.text(max_size=2),
)


@PROPS
@given(
    # a recomputed count is always an int; a bool among them shows the check looks at both sides
    st.dictionaries(st.text(max_size=3), st.integers(0, 5) | st.booleans(), min_size=1, max_size=6),
    st.data(),
)
def test_a_count_map_compares_as_name_by_name(
    mine: dict[str, int | bool], data: st.DataObject
) -> None:
    """compare_declared's common case for a per-person map (equal maps, exactly str names and
    int counts, checked in C) finds exactly what the name-by-name comparison finds."""
    from electlog.election._declared import _compare_map, _compare_map_all

    theirs: Any = dict(mine)
    for _ in range(data.draw(st.integers(0, 2))):
        op = data.draw(st.sampled_from(["equal", "set", "drop", "odd key", "other type"]))
        if op == "equal":  # an equal count of another type: 1.0, True, False
            name = data.draw(st.sampled_from(list(mine)))
            like = [float(mine[name]), int(mine[name])] + (
                [bool(mine[name])] if mine[name] < 2 else []
            )
            theirs[name] = data.draw(st.sampled_from(like))
        elif op == "set":
            theirs[data.draw(st.text(max_size=3))] = data.draw(_LOOKALIKES)
        elif op == "drop" and theirs:
            del theirs[data.draw(st.sampled_from(list(theirs)))]
        elif op == "odd key":
            theirs[data.draw(st.sampled_from([1, b"a", (1,)]))] = data.draw(_LOOKALIKES)
        elif op == "other type":
            theirs = data.draw(st.sampled_from([list(theirs.items()), tuple(theirs), None, 3]))
            break
    want = _compare_map_all("p", "votes", mine, theirs)
    assert _compare_map("p", "votes", mine, theirs) == want
    if theirs == mine and type(theirs) is dict:  # equal, yet a True or 1.0 is a discrepancy
        assert bool(want) == any(type(v) is not type(mine[k]) for k, v in theirs.items())


# --------------------------------------------------------------------------- performance


def test_add_is_cheap() -> None:
    """Not a timing test: 20,000 three-post ballots must stay far below a CI budget."""
    import time

    posts = [
        PostSpec(post="d", seats=1, candidates=("a", "b"), rank=0),
        PostSpec(post="v", seats=3, candidates=("c", "d", "e", "f"), rank=1),
        PostSpec(post="m", seats=3, candidates=("g", "h", "i", "j", "k"), rank=2),
    ]
    ballot = {
        "d": for_("a"),
        "v": for_("c", "d", "e"),
        "m": M(in_favour=("g", "h"), against=("k",)),
    }
    tally = RoundTally(posts, TallyRules())
    start = time.perf_counter()
    for _ in range(20_000):
        tally.add(ballot)
    elapsed = time.perf_counter() - start
    assert tally.result(registered=30_000, issued=20_000).posts["v"].votes["c"] == 20_000
    assert elapsed < 2.0  # ~0.03 s expected; generous for slow CI


# --------------------------------------------------------------------------- docs


def test_docs_tally_section_runs() -> None:
    page = Path(__file__).resolve().parents[2] / "docs" / "election.md"
    text = page.read_text(encoding="utf-8")
    section = re.search(r"<!-- section:tally[^>]*-->(.*?)<!-- /section:tally -->", text, re.DOTALL)
    assert section is not None
    blocks = re.findall(r"^```python[^\n]*\n(.*?)^```", section.group(1), re.DOTALL | re.MULTILINE)
    assert blocks, "the tally section needs a worked example"
    namespace: dict[str, object] = {"__name__": "docs_tally"}
    for code in blocks:
        exec(compile(code, "election.md:tally", "exec"), namespace)


def test_a_post_recorded_void_counts_as_void_on_that_ballot() -> None:
    posts = [PostSpec(post="director", seats=1, candidates=("a", "b"), rank=0)]
    t = RoundTally(posts, TallyRules())
    void = PostMarks(void="writein_not_registered")
    assert t.add({"director": void}) is BallotClass.VOID
    assert t.add({"director": PostMarks(in_favour=("a",))}) is BallotClass.VALID
    pr = t.result(registered=2, issued=2).posts["director"]
    assert (pr.void_ballots, pr.valid_ballots, pr.votes["a"]) == (1, 1, 1)
