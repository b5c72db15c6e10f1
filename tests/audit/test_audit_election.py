"""The auditor's election replay: the writers' own rules and tally, re-run entry by entry."""

from __future__ import annotations

import pytest

from audit_support import ElectionLog, body_of, build_election, rechain, resign
from electlog.audit import Severity, audit, finding_info
from electlog.audit import findings as F
from electlog.election.codes import RULES
from electlog.election.scenario import build_small_election
from electlog.events import Entry


@pytest.fixture(scope="module")
def el() -> ElectionLog:
    return build_election(0)


def test_genuine_election_is_clean(el: ElectionLog) -> None:
    report = audit(el.source(), el.trust)
    assert report.findings == ()
    assert report.verdict == "clean"
    assert report.counts.events["ballot.recorded"] == 66
    assert report.checkpoint is not None and report.checkpoint["size"] == len(el.entries)


def test_tallies_are_the_recomputed_results(el: ElectionLog) -> None:
    report = audit(el.source(), el.trust)
    _, _, election = build_small_election(0)
    state = election.state
    assert set(report.tallies) == {"c1", "c2"}
    c1 = report.tallies["c1"]
    assert c1["roll"] == 31 and c1["mode"] == "all_voters"
    assert set(c1["rounds"]) == {"1", "2"}
    for number in (1, 2):
        got = c1["rounds"][str(number)]
        assert got["declared"] is True and got["matches_declared"] is True
        want = state.result("c1", number)
        for post, pr in want.posts.items():
            assert got["result"]["posts"][post]["counts"] == pr.counts
            assert got["result"]["posts"][post]["elected"] == list(pr.elected)
    assert c1["units"]["c1-r1-main"] == {"round": 1, "kind": "main", "issued": 18, "recorded": 18}
    assert report.tallies["c2"]["groups"]["c2-g1"]["matches_declared"] is True


def test_rule_violation_becomes_a_rule_finding(el: ElectionLog) -> None:
    # the registrar registers a voter already on the roll (same voter id) after the roll
    entries = list(el.entries)
    first = el.index_of("voter.registered")
    pos = el.index_of("unit_rep.registered")
    when = Entry.from_bytes(entries[pos], verify=False).statement.time  # in time order
    dup = resign(entries[first], el.keys.registrar, time=when)
    entries.insert(pos, dup)
    entries = rechain(entries, pos, el.key_map())
    report = audit(el.source(entries, []), el.trust)
    codes = report.codes()
    assert "rule.voter.duplicate" in codes
    finding = report.by_code("rule.voter.duplicate")[0]
    assert finding.index == pos
    assert finding.severity is Severity.ERROR
    assert finding.evidence["rule"] == "voter.duplicate"
    assert finding.evidence["type"] == "voter.registered"
    assert finding.evidence["signer"] == el.keys.registrar.key_id.hex()
    assert body_of(entries[first])["voter"] in finding.evidence["ids"]


def test_result_mismatch_lists_each_discrepancy(el: ElectionLog) -> None:
    entries = list(el.entries)
    pos = el.index_of("result.declared", community="c2")
    body = body_of(entries[pos])
    body["result"]["posts"]["member"]["votes"]["c2-v02"] += 1
    body["result"]["valid"] += 1
    entries[pos] = resign(entries[pos], el.keys.committee, body=body)
    entries = rechain(entries, pos, el.key_map())
    report = audit(el.source(entries, []), el.trust)
    mismatch = report.by_code("rule.result.mismatch")
    assert len(mismatch) == 1
    ev = mismatch[0].evidence
    assert (ev["community"], ev["round"]) == ("c2", 1)
    assert {
        "field": "votes",
        "post": "member",
        "candidate": "c2-v02",
        "declared": 10,
        "recomputed": 9,
    } in ev["discrepancies"]
    assert {"field": "valid", "declared": 13, "recomputed": 12} in ev["discrepancies"]
    assert report.tallies["c2"]["rounds"]["1"]["matches_declared"] is False


def test_unknown_event_type_is_malformed(el: ElectionLog) -> None:
    entries = list(el.entries)
    pos = len(entries)
    entries.append(resign(entries[-1], el.keys.committee, type="result.rumoured"))
    entries = rechain(entries, pos, el.key_map())
    report = audit(el.source(entries, []), el.trust)
    malformed = report.by_code(F.EVENT_MALFORMED)
    assert [f.index for f in malformed] == [pos]
    assert "result.rumoured" in malformed[0].message


def test_incomplete_election(el: ElectionLog) -> None:
    cut = el.index_of("result.declared", community="c2")
    report = audit(el.source(el.entries[:cut], [el.note(cut)]), el.trust)
    incomplete = [
        f for f in report.by_code(F.ELECTION_INCOMPLETE) if f.evidence["community"] == "c2"
    ]
    assert [f.evidence["what"] for f in incomplete] == ["community", "no_result"]
    assert incomplete[0].evidence["phase"] == "counted"
    assert incomplete[0].evidence["pending"] == ["round 1 (first): result not declared"]
    assert "c2" in incomplete[0].message and "counted" in incomplete[0].message
    assert incomplete[0].severity is Severity.ERROR
    assert report.verdict == "incomplete" and report.exit_status == 1
    assert report.communities["c2"]["complete"] is False
    # c1's round 1 left a seat unfilled; its 另行选举 comes later in the log
    assert report.communities["c1"]["complete"] is False
    assert "另行选举" in report.communities["c1"]["pending"][0]
    whole = audit(el.source(), el.trust)
    assert whole.clean and all(c["complete"] for c in whole.communities.values())
    assert whole.communities["c1"]["round"] == 2


def test_generic_log_without_election_replay(el: ElectionLog) -> None:
    report = audit(el.source(), el.trust, election=False)
    assert report.findings == () and report.tallies == {}


def test_every_rule_code_has_a_finding_code() -> None:
    for code, rule in RULES.items():
        info = finding_info("rule." + code)
        assert info.meaning == rule.summary
        want = {"void": Severity.INFO, "finding": Severity.WARNING}.get(rule.kind, Severity.ERROR)
        assert info.severity is want, code
    # a batch over-returned is a warning (GUIDE §4: the round's own totals decide void)
    assert finding_info("rule.unit.returned_exceeds_issued").severity is Severity.WARNING


def test_group_election_without_result(el: ElectionLog) -> None:
    entries = list(el.entries)
    cut = el.index_of("group.result_declared", community="c2")
    del entries[cut]
    report = audit(el.source(entries, []), el.trust)
    whats = [f.evidence["what"] for f in report.by_code(F.ELECTION_INCOMPLETE)]
    assert "no_group_result" in whats
