"""Issue 15, items 9 and 11: docs/election.md's event index, RuleSet table, body conventions and
tally details agree with the code; the complete election of the page uses every event type; a
refused submission changes nothing."""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import attrs
import pytest

from electlog.election import events as events_module
from electlog.election.events import (
    EVENT_TYPES,
    BallotRecorded,
    NominationFiled,
    PostList,
    VoterRegistered,
)
from electlog.election.facade import log_events
from electlog.election.rules import RuleSet
from electlog.election.scenario import Scenario, build_small_election
from electlog.election.state import SIGNER_ROLES, ElectionState
from electlog.election.tally import (
    VOID_RETURNED_EXCEEDS_ISSUED,
    VOID_TURNOUT,
    PostMarks,
    PostSpec,
    TallyRules,
    tally_round,
)
from electlog.errors import EntryError, RuleViolation
from electlog.log import Log

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "election.md").read_text(encoding="utf-8")


def _table(header: str) -> list[list[str]]:
    """The rows of the table whose header line starts with ``header``, as stripped cells."""
    lines = DOC.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def _tick(cell: str) -> str:
    m = re.fullmatch(r"`([^`]+)`.*", cell)
    assert m, cell
    return m.group(1)


# --------------------------------------------------------------------------- the worked election


@pytest.fixture(scope="module")
def worked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the page's complete election (its python blocks of section "worked")."""
    section = DOC[DOC.index("<!-- section:worked") : DOC.index("<!-- /section:worked -->")]
    blocks = re.findall(r"^```python\n(.*?)^```", section, re.DOTALL | re.MULTILINE)
    assert len(blocks) >= 10
    namespace: dict[str, Any] = {"__name__": "docs_election_worked"}
    old = Path.cwd()
    os.chdir(tmp_path_factory.mktemp("worked"))
    try:
        for code in blocks:
            exec(compile(code, "election.md:worked", "exec"), namespace)
    finally:
        os.chdir(old)
    return namespace


def _observed_changes(log: Log, authority: bytes, into: dict[str, set[str]]) -> None:
    state = ElectionState(authority)
    for ctx, event in log_events(log):
        before = state.state_hashes()
        state.apply(ctx, event)
        after = state.state_hashes()
        into[event.TYPE] |= {k for k in before if before[k] != after[k]} - {"times"}


def test_worked_election_uses_every_event_type_and_audits_clean(worked: dict[str, Any]) -> None:
    log = worked["log"]
    used = {event.TYPE for _, event in log_events(log)}
    assert used == set(EVENT_TYPES)
    assert len({c for _, e in log_events(log) if (c := getattr(e, "community", None))}) == 2
    registered = [e for _, e in log_events(log) if isinstance(e, VoterRegistered)]
    removed = {e.voter for _, e in log_events(log) if e.TYPE == "voter.removed"}
    refused = {"c2-v9"}
    assert len({e.voter for e in registered} - removed - refused) == 10
    report = worked["report"]
    assert report.verdict == "clean" and report.checkpoint["witnesses"]


def test_event_index_matches_the_code(worked: dict[str, Any]) -> None:
    rows = _table("| type | class | signer role | phase | may change |")
    assert {_tick(r[0]) for r in rows} == set(EVENT_TYPES) and len(rows) == len(EVENT_TYPES)

    # the phase table lists every event type in exactly one phase
    phases: dict[str, str] = {}
    for line in DOC.splitlines():
        m = re.match(r"^\| (\d+)\. ([a-z ]+) \| (.*?) \|", line)
        if m:
            for t in re.findall(r"`([a-z_.]+)`", m.group(3)):
                assert t not in phases, t
                phases[t] = f"{m.group(1)}. {m.group(2)}"
    assert set(phases) == set(EVENT_TYPES)

    observed: dict[str, set[str]] = defaultdict(set)
    log, keys, _ = build_small_election(0)
    _observed_changes(log, keys.authority.key_id, observed)
    _observed_changes(worked["log"], worked["authority"].key_id, observed)
    assert set(observed) == set(EVENT_TYPES)

    for etype, cls_cell, role, phase, changes in rows:
        t = _tick(etype)
        cls = EVENT_TYPES[t]
        assert _tick(cls_cell) == cls.__name__ and getattr(events_module, cls.__name__) is cls
        assert role == ", ".join(str(r) for r in SIGNER_ROLES[cls]), t
        assert phase == phases[t], t
        documented = {c.strip() for c in changes.split(",")}
        assert documented <= set(ElectionState.PROJECTIONS), t
        assert documented == observed[t], (t, sorted(observed[t]))


def test_ruleset_table_matches_the_code() -> None:
    rows = _table("| field | body key | type | default | meaning |")
    want_fields = [f.name for f in attrs.fields(RuleSet) if f.name != "tally"] + [
        f"tally.{f.name}" for f in attrs.fields(TallyRules)
    ]
    assert sorted(_tick(r[0]) for r in rows) == sorted(want_fields)
    body = RuleSet().to_body()
    every_key = set(
        RuleSet(
            revote_rule="source_threshold",
            public_profile="minimal",
            removal_codes=("duplicate",),
            vetting_codes=("eligibility",),
        ).to_body()
    )
    assert {_tick(r[1]) for r in rows} == every_key
    for field, key, _type, default, meaning in rows:
        name, body_key = _tick(field), _tick(key)
        value = json.loads(_tick(default))
        if name == "public_profile":  # new rule sets: minimal, always written; absent: full
            assert body[body_key] == "minimal" and 'omitted when `"full"`' in key
            assert value == RuleSet().public_profile == "minimal"
            assert body_key not in RuleSet(public_profile="full").to_body()
        elif name in ("revote_rule", "removal_codes", "vetting_codes"):
            assert body_key not in body and "omitted at its default" in key
            want = getattr(RuleSet(), name)
            assert value == (list(want) if isinstance(want, tuple) else want), name
        else:
            assert value == body[body_key], name
        if name.startswith("tally."):
            assert getattr(TallyRules(), name[6:]) == RuleSet().tally.__getattribute__(name[6:])
        assert meaning, name
    assert "min_observers" in {_tick(r[0]) for r in rows}


# --------------------------------------------------------------------------- body conventions


def _recorded(marks: dict[str, Any]) -> None:
    BallotRecorded.from_body({"box": "b", "serial": bytes(16), "marks": marks})


def test_marks_columns_follow_the_id_rule() -> None:
    good = {"member": {"against": [], "for": ["a", "b"], "write_ins": ["z"]}}
    _recorded(good)
    for bad in (
        {"member": {"against": [], "for": [], "write_ins": ["a b"]}},  # white space
        {"member": {"against": [], "for": ["a\u200b"], "write_ins": []}},  # a format character
        {"member": {"against": [], "for": ["b", "a"], "write_ins": []}},  # not sorted
        {"member": {"against": [], "for": ["a", "a"], "write_ins": []}},  # repeated
        {"member": {"against": [], "for": ["x" * 65], "write_ins": []}},  # too long
        {"member": {"against": [], "for": [f"v{i:03d}" for i in range(257)], "write_ins": []}},
        {"a b": {"against": [], "for": [], "write_ins": []}},  # post id with a space
        {"member": {"void": "other_reason"}},
        {"member": {"for": [], "write_ins": []}},
    ):
        with pytest.raises(EntryError):
            _recorded(bad)
    _recorded({"member": {"void": "writein_not_registered"}})
    _recorded(
        {"member": {"against": [], "for": [f"v{i:03d}" for i in range(256)], "write_ins": []}}
    )


def test_voter_removed_reason_may_be_empty_other_text_may_not() -> None:
    removed = EVENT_TYPES["voter.removed"]
    removed.from_body({"voter": "v", "community": "c", "reason": "", "objection": None})
    with pytest.raises(EntryError):
        EVENT_TYPES["key.revoked"].from_body({"key_id": bytes(32), "reason": ""})
    published = EVENT_TYPES["candidates.published"]
    lists = [{"post": "p", "seats": 1, "candidates": ["a", "b"]}]
    assert published.from_body({"community": "c", "posts": lists}).posts == (
        PostList(post="p", seats=1, candidates=("a", "b")),
    )
    with pytest.raises(EntryError, match="repeat"):
        published.from_body(
            {"community": "c", "posts": [{"post": "p", "seats": 1, "candidates": ["a", "a"]}]}
        )


# --------------------------------------------------------------------------- tally details


POSTS = [
    PostSpec(post="d", seats=1, candidates=("amy", "bo"), rank=0),
    PostSpec(post="m", seats=1, candidates=("cy", "di", "ed"), rank=1),
]


def test_tally_details_documented_in_election_md() -> None:
    ballots = (
        [
            # overvoted and malformed at once (a mark on someone not listed): an overvote
            {"d": PostMarks(in_favour=("amy", "zed"))},
            # two unknown posts: counted once in unknown_post_ballots; the ballot is void
            {"x": PostMarks(in_favour=("a",)), "y": PostMarks(void="writein_not_registered")},
            # an unknown post with no mark is ignored: a blank ballot
            {"x": PostMarks()},
            # a post recorded void with only its reason: invalid, not overvote
            {"d": PostMarks(in_favour=("amy",)), "m": PostMarks(void="writein_not_registered")},
        ]
        + [{"d": PostMarks(in_favour=("amy",)), "m": PostMarks(in_favour=("ed",))}] * 3
        + [{"d": PostMarks(in_favour=("bo",)), "m": PostMarks(in_favour=("di",))}] * 3
        + [{"d": PostMarks(in_favour=("amy",))}] * 3
    )
    r = tally_round(POSTS, ballots, registered=14, issued=13)
    d, m = r.posts["d"], r.posts["m"]
    assert (d.overvote_ballots, d.invalid_ballots) == (1, 0)
    assert (m.overvote_ballots, m.invalid_ballots) == (0, 1)
    assert r.unknown_post_ballots == 1 and r.blank == 1 and r.void == 2
    assert r.void_reason is None and r.to_dict()["void_reason"] == ""
    assert d.elected == ("amy",)  # 7 of 13
    combined = tally_round(
        POSTS, ballots, registered=14, issued=13, rules=TallyRules(combined_ballot=True)
    )
    # every person in votes plus everyone with a vote for a higher post; amy is excluded
    assert set(combined.posts["m"].counts) == {"cy", "di", "ed", "amy", "bo"}
    assert combined.posts["m"].excluded == ("amy",)
    tie = tally_round(
        POSTS,
        [{"m": PostMarks(in_favour=(c,))} for c in ("ed", "ed", "cy", "cy", "di")] * 2,
        registered=10,
        issued=10,
        revote=True,
    )
    assert tie.posts["m"].tied == ("cy", "ed")  # one count, in id order
    assert VOID_RETURNED_EXCEEDS_ISSUED == "returned_exceeds_issued"
    assert VOID_TURNOUT == "turnout_not_above_half"
    assert tally_round(POSTS, [{}] * 3, registered=10, issued=3).void_reason == VOID_TURNOUT
    for text in ('"returned_exceeds_issued"', "`turnout_not_above_half`", "`invalid_ballots`"):
        assert text.strip('"') in DOC


# --------------------------------------------------------------------------- refused submissions


def test_a_refused_submission_changes_nothing() -> None:
    s = Scenario(0).run_until("publish_rolls")
    e = s.e
    author = e.author(s.keys.registrar)

    def snapshot() -> tuple[int, bytes, object]:
        return len(s.log), e.state.state_hash(), author.head()

    before = snapshot()
    with pytest.raises(RuleViolation):  # a rule: c1-v00 is registered already
        e.submit(author, s.registration("c1-v00", "c1", "c1-g1", "c1-h00"), time=s.at(-29))
    assert snapshot() == before
    with pytest.raises(EntryError):  # a body that does not fit its schema
        e.submit(author, s.registration("c1 v99", "c1", "c1-g1", "c1-h99"), time=s.at(-29))
    assert snapshot() == before
    # an entry larger than 65,535 bytes (docs/format.md §2.3): refused before any check
    huge = NominationFiled(
        nomination="n-huge",
        community="c1",
        post="member",
        candidate="c1-v01",
        nominators=tuple(f"c1-{i:04d}-" + "x" * 50 for i in range(1200)),
    )
    committee = e.author(s.keys.committee)
    committee_head = committee.head()
    with pytest.raises(EntryError, match="more than 65535"):
        e.submit(committee, huge, time=s.at(-20))
    assert snapshot() == before and committee.head() == committee_head
    batch = [
        (s.registration("c1-v98", "c1", "c1-g1", "c1-h98"), s.at(-29)),
        (s.registration("c1-v98", "c1", "c1-g1", "c1-h98"), s.at(-29)),
    ]
    with pytest.raises(RuleViolation, match="batch item 1"):  # all or nothing
        e.submit_many(author, batch)
    assert snapshot() == before
    e.submit(author, s.registration("c1-v97", "c1", "c1-g1", "c1-h97"), time=s.at(-29))
    assert len(s.log) == before[0] + 1
