"""Issue 15 item 12: the Python API without ceremony (rules_hash computed, local-time helpers,
typed audited results, a witnessed checkpoint in one call, every event class from one place,
PostMarks.in_favour, an empty proxy list)."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from pathlib import Path

import pytest

import electlog
import electlog.election as election_pkg
from audit_support import ElectionLog, build_election
from electlog import Author, Log, NoteSigner, SigningKey, WitnessSigner
from electlog.audit import Report, Trust, audit
from electlog.election import (
    EVENT_TYPES,
    CommunityDef,
    Election,
    ElectionDefined,
    PostDef,
    PostMarks,
    ProxyAuthorised,
    ProxyListPublished,
    RuleSet,
    Scenario,
)
from electlog.errors import QuorumNotMetError, RuleViolation, UsageError
from electlog.net import Witness

DAY = dt.date(2026, 5, 17)


def _definition(**changes: object) -> ElectionDefined:
    fields: dict[str, object] = {
        "election_id": "e1",
        "name": "Election",
        "election_day": DAY,
        "communities": (
            CommunityDef(
                community="c1",
                name="One",
                mode="all_voters",
                groups=("c1-g1",),
                posts=(PostDef(post="director", seats=1, rank=0),),
            ),
        ),
        "rules": RuleSet(tz_offset_minutes=120),
    }
    fields.update(changes)
    return ElectionDefined(**fields)  # type: ignore[arg-type]


# ------------------------------------------------------------------ rules_hash


def test_election_defined_computes_rules_hash() -> None:
    d = _definition()
    assert d.rules_hash == d.rules.hash()
    authority = SigningKey.from_seed(b"\x01" * 32)
    e = Election.create(Log("example.org/e1"), authority, d, time=dt.datetime(2026, 4, 1, 9))
    assert e.state.definition is not None and e.state.definition.rules_hash == d.rules.hash()
    # a body read from a log still must carry it, and a wrong one is still refused
    body = d.to_body()
    del body["rules_hash"]
    with pytest.raises(electlog.errors.EntryError, match="rules_hash"):
        ElectionDefined.from_body(body)
    with pytest.raises(RuleViolation) as exc:
        Election.create(
            Log("example.org/e1"), authority, _definition(rules_hash=b"\0" * 32), time=1
        )
    assert exc.value.code == "genesis.rules_hash"


# ------------------------------------------------------------------ local time


def test_rules_timestamp_converts_local_times_exactly() -> None:
    rules = RuleSet(tz_offset_minutes=480)
    local = dt.datetime(2026, 5, 17, 8, 30, 0, 7)
    utc = dt.datetime(2026, 5, 17, 0, 30, 0, 7, tzinfo=dt.UTC)
    want = int((utc - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) / dt.timedelta(microseconds=1))
    assert rules.timestamp(local) == want
    assert rules.timestamp(utc) == want  # an aware datetime is converted
    assert rules.timestamp(DAY) == rules.timestamp(dt.datetime(2026, 5, 17))
    assert rules.local_datetime(want) == local
    west = RuleSet(tz_offset_minutes=-300)
    assert west.timestamp(local) - rules.timestamp(local) == 13 * 3600 * 1_000_000
    before_1970 = dt.datetime(1969, 12, 31, 23, 0)
    assert RuleSet(tz_offset_minutes=0).timestamp(before_1970) == -3600 * 1_000_000
    for bad in ("2026-05-17", 1_779_000_000, None):
        with pytest.raises(UsageError, match="datetime or a date"):
            rules.timestamp(bad)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        rules.local_datetime(10**30)


def test_election_takes_local_times() -> None:
    authority = SigningKey.from_seed(b"\x01" * 32)
    registrar = SigningKey.from_seed(b"\x02" * 32)
    d = _definition()
    e = Election.create(Log("example.org/e1"), authority, d, time=dt.date(2026, 4, 1))
    assert e.log.get(0).statement.time == d.rules.timestamp(dt.date(2026, 4, 1))
    when = dt.datetime(2026, 4, 1, 11, 15)
    from electlog.election import KeyAuthorised

    e.submit(
        e.author(authority),
        KeyAuthorised(key_id=registrar.key_id, role="registrar", scope=(), label="desk"),
        time=when,
    )
    assert e.log.get(1).statement.time == e.timestamp(when) == d.rules.timestamp(when)


def test_election_timestamp_needs_a_genesis() -> None:
    from electlog.election import ElectionState

    e = Election(Log("example.org/e1"), ElectionState(b"\x01" * 32))
    with pytest.raises(UsageError, match="genesis"):
        e.timestamp(DAY)


# ------------------------------------------------------------------ typed results


@pytest.fixture(scope="module")
def el() -> ElectionLog:
    return build_election(0)


@pytest.fixture(scope="module")
def report(el: ElectionLog) -> Report:
    return audit(el.source(), el.trust)


def test_report_results_are_typed_and_give_todays_json(report: Report) -> None:
    assert report.results and set(report.results) == set(report.tallies)
    for cid, c in report.results.items():
        assert c.to_dict() == report.tallies[cid]  # the JSON is unchanged, key for key
        assert json.dumps(c.to_dict()) == json.dumps(report.tallies[cid])
        for number, rnd in c.rounds.items():
            want = report.tallies[cid]["rounds"][str(number)]["result"]["posts"]
            for post, pr in rnd.posts.items():
                assert list(pr.elected) == want[post]["elected"]
                assert pr is report.result(cid, number).posts[post]
        for gid, g in c.groups.items():
            assert g.to_dict() == report.tallies[cid]["groups"][gid]
    some = next(iter(report.results))
    assert report.result(some) is report.results[some].rounds[1].result


def test_report_result_names_what_exists(report: Report) -> None:
    with pytest.raises(UsageError, match="communities: c1"):
        report.result("nowhere")
    with pytest.raises(UsageError, match=r"has no round 99 \(rounds: 1"):
        report.result("c1", 99)


# ------------------------------------------------------------------ witnessed checkpoint


def _log_with(n: int, log: Log | None = None, author: Author | None = None) -> tuple[Log, Author]:
    origin = "example.org/ergo"
    log = log if log is not None else Log(origin)
    author = author if author is not None else Author(SigningKey.from_seed(b"\x05" * 32), origin)
    start = len(log)
    log.append_many(
        author.sign("demo.note", {"n": i}, time=1_790_000_000_000_000 + i)
        for i in range(start, start + n)
    )
    return log, author


def test_witnessed_checkpoint_in_one_call(tmp_path: Path) -> None:
    log, author = _log_with(5)
    log_key = NoteSigner.generate(log.origin)
    signers = [WitnessSigner.generate(f"w{i}") for i in range(2)]
    witnesses = [
        Witness(
            s,
            tmp_path / f"{s.name}.db",
            {log.origin: [log_key.verifier()]},
            clock=lambda: 1_790_000_060,
        )
        for s in signers
    ]
    first = log.publish_checkpoint(log_key, witnesses, 2)
    _log_with(4, log, author)
    note = log.publish_checkpoint(log_key, witnesses, 2)  # with a consistency proof from 5
    assert note.count("\n— ") == 3 and log.checkpoints()[-1].note == note
    assert witnesses[0].latest(log.origin) == (9, log.root(9))
    trust = Trust.create(
        origin=log.origin,
        log_key=log_key.vkey,
        witnesses=[s.vkey for s in signers],
        quorum=2,
        authority_key=author.key.public,
    )
    report = audit(log, trust, election=False)
    assert report.clean and report.checkpoint is not None and report.checkpoint["size"] == 9
    # an in-process witness refuses like the service: a rolled-back log is not cosigned
    rolled, _ = _log_with(3)
    with pytest.raises(QuorumNotMetError, match="HTTP 400: old size is larger"):
        rolled.publish_checkpoint(log_key, witnesses[:1], 1)
    assert first in log.checkpoints()[0].note
    for w in witnesses:
        w.close()


# ------------------------------------------------------------------ one import place


def test_every_event_class_imports_from_one_place() -> None:
    assert len(EVENT_TYPES) >= 30
    for type_name, cls in EVENT_TYPES.items():
        assert type_name == cls.TYPE
        assert cls.__name__ in election_pkg.__all__
        assert getattr(election_pkg, cls.__name__) is cls
        # the top level offers the log core only: election names import from electlog.election
        assert not hasattr(electlog, cls.__name__)


# ------------------------------------------------------------------ PostMarks


def test_post_marks_in_favour_and_the_deprecated_for_() -> None:
    pm = PostMarks(in_favour=("a",), against=("b",))
    assert pm.in_favour == ("a",) and pm.against == ("b",)
    with pytest.warns(
        DeprecationWarning,
        match=r"PostMarks\(for_=\.\.\.\) is deprecated: use PostMarks\(in_favour",
    ):
        old = PostMarks(for_=("a",), against=("b",))
    assert old == pm
    with pytest.warns(DeprecationWarning, match=r"PostMarks\.for_ is deprecated"):
        assert pm.for_ == ("a",)
    with pytest.raises(UsageError, match="not both"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        PostMarks(in_favour=("a",), for_=("b",))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PostMarks(in_favour=("a",))  # the new name warns about nothing


# ------------------------------------------------------------------ empty proxy list


def test_an_empty_proxy_list_needs_no_ceremony() -> None:
    s = Scenario(0).run_until("authorise_proxies")
    committee = s.keys.committee
    s.submit(committee, ProxyListPublished(community="c2"), s.at(-6, 12))
    assert s.e.state.community("c2").proxy_list_published
    s.submit(
        committee,
        ProxyAuthorised(
            community="c1",
            principal="c1-v09",
            proxy="c1-v08",
            relationship="spouse",
            attestation=b"\x07" * 32,
        ),
        s.at(-6, 12),
    )
    with pytest.raises(RuleViolation) as exc:  # the empty list is not this community's list
        s.submit(committee, ProxyListPublished(community="c1"), s.at(-6, 12))
    assert exc.value.code == "proxy.list_mismatch"
    event = s.e.state.proxy_list("c1")
    assert event.count == 1 and event.list_hash == s.e.state.proxy_hash("c1")
    s.submit(committee, event, s.at(-6, 12))
