"""Issue 15, items 1–8: the rules and the format specification agree with the code at the edges
a third-party verifier has to get right."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from electlog.election.events import (
    BallotIssued,
    BallotRecorded,
    BoxOpened,
    BoxSealed,
    PostList,
    ResultDeclared,
    RoundCalled,
    UnitClosed,
    UnitOpened,
)
from electlog.election.progress import community_progress
from electlog.election.rules import REVOTE_RULES, RuleSet
from electlog.election.scenario import UNIT_OBSERVERS, Scenario
from electlog.election.tally import PostMarks, PostSpec, RoundResult, tally_round
from electlog.errors import EntryError, UsageError

# --------------------------------------------------------------------------- item 2: re-votes


def _hold_round(
    s: Scenario, number: int, day: int, ballots: Sequence[dict[str, PostMarks]]
) -> None:
    """Round ``number`` of c1 on election day + ``day``: one unit, one box, a ballot issued to
    each of the first voters (principals of proxies excluded) and recorded with ``ballots``."""
    k = s.keys
    unit, box = f"c1-r{number}-t", f"c1-r{number}-t-box"
    observers = UNIT_OBSERVERS["c1-r1-main"]
    cs = s.e.state.community("c1")
    voters = [v for v in s.voters["c1"] if v not in cs.proxies][: len(ballots)]
    assert len(voters) == len(ballots)
    s.submit_many(
        k.polling,
        [
            (
                UnitOpened(
                    unit=unit, community="c1", round=number, kind="main", observers=observers
                ),
                s.at(day, 7, 30),
            ),
            (BoxSealed(unit=unit, box=box), s.at(day, 7, 45)),
            *((BallotIssued(unit=unit, voter=v), s.at(day, 9, i)) for i, v in enumerate(voters)),
            (UnitClosed(unit=unit), s.at(day, 18)),
        ],
    )
    s.submit(k.counting, BoxOpened(box=box, observers=observers), s.at(day, 18, 30))
    s.submit_many(
        k.counting,
        [
            (BallotRecorded(box=box, serial=bytes([number, i]) * 8, marks=m), s.at(day, 19, i))
            for i, m in enumerate(ballots)
        ],
    )
    result = s.e.tally("c1", number).to_dict()
    s.submit(
        k.committee, ResultDeclared(community="c1", round=number, result=result), s.at(day, 21)
    )


def _call(
    s: Scenario, number: int, source: int, kind: str, candidates: tuple[str, ...], day: int
) -> None:
    s.submit(
        s.keys.committee,
        RoundCalled(
            community="c1",
            round=number,
            source_round=source,
            kind=kind,
            posts=(PostList(post="member", seats=1, candidates=candidates),),
        ),
        s.at(day, 22),
    )


def _member(*fors: str) -> dict[str, PostMarks]:
    return {
        "director": PostMarks(for_=("c1-v00",)),
        "deputy": PostMarks(for_=("c1-v02",)),
        "member": PostMarks(for_=tuple(sorted(fors))),
    }


def _only(*fors: str) -> dict[str, PostMarks]:
    return {"member": PostMarks(for_=fors)} if fors else {}


def _first_round_tie(rule: str) -> Scenario:
    """Round 1 of c1: 20 ballots; member (2 seats) v04 16, v05 12, v06 12: v04 elected, v05 and
    v06 tied at the cut-off, both above the majority (11 needed)."""
    s = Scenario(0, rules=RuleSet(revote_rule=rule)).run_until("vote")
    ballots = (
        [_member("c1-v05", "c1-v06")] * 4
        + [_member("c1-v04", "c1-v05")] * 8
        + [_member("c1-v04", "c1-v06")] * 8
    )
    _hold_round(s, 1, 0, ballots)
    member = s.e.tally("c1", 1).posts["member"]
    assert member.elected == ("c1-v04",) and member.tied == ("c1-v05", "c1-v06")
    assert member.revote_seats == 1 and s.e.tally("c1", 1).min_votes == 11
    return s


@pytest.mark.parametrize("rule", REVOTE_RULES)
def test_revote_after_a_first_round_tie(rule: str) -> None:
    s = _first_round_tie(rule)
    _call(s, 2, 1, "revote", ("c1-v05", "c1-v06"), 0)
    # 9 of 20 ballots: the most votes, not more than half of the ballots cast
    _hold_round(s, 2, 7, [_only("c1-v05")] * 9 + [_only("c1-v06")] * 8 + [_only()] * 3)
    result = s.e.tally("c1", 2)
    member = result.posts["member"]
    if rule == "most_votes":  # the ruling: among the tied, the most votes win
        assert result.revote and result.min_votes == 1
        assert member.elected == ("c1-v05",) and member.unfilled == 0
        assert member.reasons["c1-v05"].startswith("elected: 9 votes (re-vote among the tied")
    else:  # the first round's threshold again: more than 1/2 of 20 ballots cast
        assert not result.revote and result.min_votes == 11
        assert member.elected == () and member.unfilled == 1


def _supplementary_tie(rule: str) -> Scenario:
    """Round 1 leaves a member seat unfilled (v04 16 elected; v05 6, v06 6, v23 4); the
    supplementary round 2 (v05, v06; 7 of 20 needed) ties 8 to 8."""
    s = Scenario(0, rules=RuleSet(revote_rule=rule)).run_until("vote")
    ballots = (
        [_member("c1-v04", "c1-v05")] * 6
        + [_member("c1-v04", "c1-v06")] * 6
        + [_member("c1-v04", "c1-v23")] * 4
        + [_member()] * 4
    )
    _hold_round(s, 1, 0, ballots)
    assert s.e.tally("c1", 1).posts["member"].unfilled == 1
    _call(s, 2, 1, "supplementary", ("c1-v05", "c1-v06"), 0)
    _hold_round(s, 2, 7, [_only("c1-v05")] * 8 + [_only("c1-v06")] * 8 + [_only()] * 4)
    second = s.e.tally("c1", 2)
    assert second.supplementary and second.min_votes == 7
    assert second.posts["member"].tied == ("c1-v05", "c1-v06")
    _call(s, 3, 2, "revote", ("c1-v05", "c1-v06"), 7)
    return s


@pytest.mark.parametrize("rule", REVOTE_RULES)
def test_revote_after_a_supplementary_round_tie(rule: str) -> None:
    s = _supplementary_tie(rule)
    # 5 of 20: the most votes, below 1/3 of the ballots cast (7) and far below 1/2 (11)
    _hold_round(s, 3, 14, [_only("c1-v05")] * 5 + [_only("c1-v06")] * 4 + [_only()] * 11)
    member = s.e.tally("c1", 3).posts["member"]
    if rule == "most_votes":
        assert member.elected == ("c1-v05",)
    else:  # the supplementary round's threshold: at least 1/3 (7 votes); the seat stays vacant
        assert s.e.tally("c1", 3).min_votes == 7 and s.e.tally("c1", 3).supplementary
        assert member.elected == () and member.unfilled == 1
    # either way nothing is owed for c1's member seat: no loop of 另行选举
    pending = community_progress(s.e.state, "c1").pending
    assert not any("member" in p for p in pending), pending


def test_a_tie_in_a_revote_calls_another_revote() -> None:
    s = _supplementary_tie("most_votes")
    _hold_round(s, 3, 14, [_only("c1-v05")] * 6 + [_only("c1-v06")] * 6 + [_only()] * 8)
    member = s.e.tally("c1", 3).posts["member"]
    assert member.tied == ("c1-v05", "c1-v06") and member.revote_seats == 1
    _call(s, 4, 3, "revote", ("c1-v05", "c1-v06"), 14)  # admitted: the tie warrants it
    _hold_round(s, 4, 21, [_only("c1-v06")] * 3 + [_only()] * 17)
    assert s.e.tally("c1", 4).posts["member"].elected == ("c1-v06",)


def test_revote_tally_is_plurality_with_at_least_one_vote() -> None:
    posts = [PostSpec(post="m", seats=1, candidates=("a", "b"), rank=0)]
    ballots = [{"m": PostMarks(for_=("a",))}] * 2 + [{"m": PostMarks(for_=("b",))}] + [{}] * 7
    result: RoundResult = tally_round(posts, ballots, registered=12, issued=10, revote=True)
    assert result.min_votes == 1 and result.posts["m"].elected == ("a",)
    nobody = tally_round(posts, [{}] * 10, registered=12, issued=10, revote=True)
    assert nobody.posts["m"].elected == () and nobody.posts["m"].unfilled == 1
    with pytest.raises(UsageError, match="not both"):
        tally_round(posts, [], registered=1, issued=0, revote=True, supplementary=True)


def test_revote_rule_keeps_old_rule_bodies_and_hashes() -> None:
    default = RuleSet()
    assert "revote_rule" not in default.to_body()  # a body written before the field existed
    assert RuleSet.from_body(default.to_body()) == default
    other = RuleSet(revote_rule="source_threshold")
    assert other.to_body()["revote_rule"] == "source_threshold"
    assert RuleSet.from_body(other.to_body()) == other and other.hash() != default.hash()
    with pytest.raises(EntryError, match="default and is written by omission"):
        RuleSet.from_body({**default.to_body(), "revote_rule": "most_votes"})
    with pytest.raises(EntryError, match="revote_rule must be one of"):
        RuleSet.from_body({**default.to_body(), "revote_rule": "coin"})
    with pytest.raises(UsageError, match="revote_rule"):
        RuleSet(revote_rule="coin")
