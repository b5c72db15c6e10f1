"""Issue 18, items 2 and 3, under the ``minimal`` public profile: reason fields become RuleSet
codes plus commitments to the detail, and ``proxy.authorised`` v2 (``close_relative``,
``c_rel``, ``c_attestation``).

Every free-text field of a ``minimal`` body is either a public, non-personal name (the election
and community names, a key label, an appointing body, an organisation, an audit assertion) or
gone, replaced by a commitment under a per-entry detail salt. The public rules that need no
detail are still checked publicly: the removal code is one of ``RuleSet.removal_codes``, the
proxy cap and the no-chain rule, the dedup tag, the schema of the profile. The ``full`` profile
is unchanged (tests/cli/test_demo_pin.py).
"""

from __future__ import annotations

import collections
import hashlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from electlog.audit import Report, Trust, audit
from electlog.checkpoint import NoteSigner, WitnessSigner
from electlog.election import (
    EVENT_SCHEMAS,
    MINIMAL_SCHEMAS,
    CommitteeMemberWithdrawnV2,
    ElectionEvent,
    KeyRevoked,
    KeyRevokedV2,
    NominationWithdrawnV2,
    ObjectionDecidedV2,
    ObjectionFiledV2,
    ProxyAuthorisedV2,
    RuleSet,
    Scenario,
    VettingDecidedV2,
    VoterRegistered,
    VoterRegisteredV2,
    VoterRemoved,
    VoterRemovedV2,
    attestation_commitment,
    commitment,
    decode_event,
    detail_salt,
    free_text_fields,
    grounds_commitment,
    log_events,
    reason_commitment,
    rel_commitment,
)
from electlog.election import codes as C
from electlog.election.rules import DEFAULT_REMOVAL_CODES, DEFAULT_VETTING_CODES
from electlog.errors import EntryError, UsageError
from electlog.events import Statement
from electlog.log import Log
from electlog.simulate import SimulationResult, simulate_district
from electlog.store.memory import MemoryStore

COVERED: set[str] = set()
"""Rule codes this module tests (tests/election/test_election_rules.py checks every code)."""

ORIGIN = "district.example/test-privacy-codes"
VOTERS = 2000
SEED = 11
MINIMAL = RuleSet(public_profile="minimal")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

PUBLIC_TEXT: frozenset[tuple[str, str]] = frozenset(
    {
        ("election.defined", "name"),
        ("election.defined", "communities[].name"),
        ("key.authorised", "label"),
        ("committee.member_appointed", "appointed_by"),
        ("committee.vacancy_filled", "appointed_by"),
        ("unit_rep.registered", "organisation"),
        ("observer.accredited", "organisation"),
        ("audit.round_closed", "risks[].assertion"),
    }
)
"""The free-text fields a ``minimal`` body keeps (docs/election.md "Text fields"): names of the
election, its communities, keys, appointing bodies and organisations, and audit assertions
(built from candidate ids). None names a natural person or gives a reason."""


def covers(*codes: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def deco(fn: Callable[..., None]) -> Callable[..., None]:
        COVERED.update(codes)
        return fn

    return deco


# --------------------------------------------------------------------------- schemas


def _statement(etype: str, schema: int, body: dict[str, Any]) -> Statement:
    return Statement(
        log=ORIGIN,
        type=etype,
        schema=schema,
        author=bytes(32),
        seq=0,
        prev=bytes(32),
        time=0,
        body=body,
    )


H = bytes([7]) * 32
V2_EXAMPLES: tuple[ElectionEvent, ...] = (
    KeyRevokedV2(key_id=H, c_reason=H),
    CommitteeMemberWithdrawnV2(community="c1", member="m1", c_reason=H),
    VoterRemovedV2(voter="v1", community="c1", reason="duplicate", c_reason=H),
    ObjectionFiledV2(objection="o1", community="c1", voter="v1", kind="omission", c_grounds=H),
    ObjectionDecidedV2(objection="o1", community="c1", upheld=False, c_reason=H),
    NominationWithdrawnV2(community="c1", post="member", candidate="v1", c_reason=H),
    VettingDecidedV2(
        community="c1", candidate="v1", approved=False, criteria_code="eligibility", c_reason=H
    ),
    ProxyAuthorisedV2(
        community="c1", principal="v1", proxy="v2", close_relative=True, c_rel=H, c_attestation=H
    ),
)


def test_every_profiled_type_has_its_minimal_schema_and_no_free_text_in_it() -> None:
    assert {ev.TYPE for ev in V2_EXAMPLES} | {"voter.registered"} == set(MINIMAL_SCHEMAS)
    for etype, schema in MINIMAL_SCHEMAS.items():
        v1, v2 = EVENT_SCHEMAS[(etype, 1)], EVENT_SCHEMAS[(etype, schema)]
        assert v2.SCHEMA == 2 and v1.SCHEMA == 1
        assert free_text_fields(v2) == ()
    # a type with free text in v1 and no minimal schema keeps public names only
    for (etype, _), cls in EVENT_SCHEMAS.items():
        if etype not in MINIMAL_SCHEMAS:
            assert {(etype, f) for f in free_text_fields(cls)} <= PUBLIC_TEXT, etype
    assert free_text_fields(VoterRemoved) == ("reason",)


@pytest.mark.parametrize("event", V2_EXAMPLES, ids=lambda ev: ev.TYPE)
def test_v2_bodies_decode_by_schema_and_v1_refuses_them(event: ElectionEvent) -> None:
    body = event.to_body()
    assert decode_event(_statement(event.TYPE, 2, body)) == event
    with pytest.raises(EntryError, match=r"fields wrong"):
        decode_event(_statement(event.TYPE, 1, body))
    with pytest.raises(EntryError, match=r"unexpected \['reason_text'\]"):
        decode_event(_statement(event.TYPE, 2, {**body, "reason_text": "x"}))


def test_a_removal_code_is_an_id_not_a_text() -> None:
    body = V2_EXAMPLES[2].to_body()
    with pytest.raises(EntryError, match=r"voter\.removed\.reason must not contain whitespace"):
        decode_event(_statement("voter.removed", 2, {**body, "reason": "moved to Shenzhen"}))


# --------------------------------------------------------------------------- RuleSet codes


def test_code_lists_are_recorded_only_when_not_the_default() -> None:
    assert MINIMAL.removal_codes == DEFAULT_REMOVAL_CODES
    assert DEFAULT_REMOVAL_CODES == ("eligibility_ended", "duplicate", "objection_upheld")
    assert MINIMAL.vetting_codes == DEFAULT_VETTING_CODES
    body = MINIMAL.to_body()
    assert "removal_codes" not in body and "vetting_codes" not in body
    assert "removal_codes" not in RuleSet().to_body()  # full bytes unchanged
    narrow = RuleSet(public_profile="minimal", vetting_codes=("eligibility",))
    assert narrow.to_body()["vetting_codes"] == ["eligibility"]
    assert RuleSet.from_body(narrow.to_body()) == narrow
    with pytest.raises(EntryError, match=r"rules\.removal_codes is the default"):
        RuleSet.from_body({**body, "removal_codes": list(DEFAULT_REMOVAL_CODES)})
    with pytest.raises(EntryError, match=r"rules\.vetting_codes must be an array"):
        RuleSet.from_body({**body, "vetting_codes": "eligibility"})
    with pytest.raises(UsageError):
        RuleSet(removal_codes="duplicate")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- commitments


def test_detail_commitments_and_salts() -> None:
    salt = bytes(range(16))
    assert reason_commitment(salt, "died") == commitment(salt, {"reason": "died"})
    assert reason_commitment(salt, "r", criteria_ref="art. 12") == commitment(
        salt, {"criteria_ref": "art. 12", "reason": "r"}
    )
    assert grounds_commitment(salt, "g") == commitment(salt, {"grounds": "g"})
    assert rel_commitment(salt, "spouse") == commitment(salt, {"relationship": "spouse"})
    assert attestation_commitment(salt, H) == commitment(salt, {"attestation": H.hex()})
    # the golden values of docs/election.md
    assert reason_commitment(salt, "died").hex() == (
        "499fe4b9ba3ecc7c43d9787a2db6d87088aca58456b1ec18be1499c8b892544b"
    )
    assert rel_commitment(salt, "spouse").hex() == (
        "230badd006ab5c184b5a60869041e478e4550e8ff9b658df0b95de5d4a03a7fa"
    )
    secret = bytes(range(32))
    s1 = detail_salt(secret, "e-2026", "voter.removed", "c1-v05", "reason")
    assert s1.hex() == "a857faf742bed3a699c5f4dd49b2fb06"
    others = {
        detail_salt(secret, "e-2031", "voter.removed", "c1-v05", "reason"),
        detail_salt(secret, "e-2026", "voter.removed", "c1-v06", "reason"),
        detail_salt(secret, "e-2026", "objection.decided", "c1-v05", "reason"),
        detail_salt(secret, "e-2026", "voter.removed", "c1-v05", "grounds"),
    }
    assert len(others | {s1}) == 5
    with pytest.raises(UsageError, match="attestation must be the 32-byte"):
        attestation_commitment(salt, b"short")
    with pytest.raises(UsageError, match="ref must be a non-empty str"):
        detail_salt(secret, "e-2026", "voter.removed", "", "reason")
    with pytest.raises(UsageError, match="reason must be a str"):
        reason_commitment(salt, None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- a simulated district


def _build(profile: str, keys: Any = None) -> tuple[Log, SimulationResult, Report]:
    log = Log(MemoryStore(ORIGIN))
    result = simulate_district(log, voters=VOTERS, seed=SEED, keys=keys, profile=profile)
    trust = Trust.create(
        origin=result.origin,
        authority_key=result.authority_key,
        log_key=result.log_vkey,
        witnesses=list(result.witness_vkeys),
        quorum=result.quorum,
    )
    return log, result, audit(log, trust)


@pytest.fixture(scope="module")
def both() -> dict[str, tuple[Log, SimulationResult, Report]]:
    full = _build("full")
    return {"full": full, "minimal": _build("minimal", keys=full[1].keys)}


def _at(body: Any, path: str) -> Iterator[Any]:
    """The values at a :func:`free_text_fields` path of a body."""
    head, _, rest = path.partition(".")
    if head.endswith("[]"):
        for item in body[head[:-2]]:
            yield from _at(item, rest)
    elif rest:
        yield from _at(body[head], rest)
    else:
        yield body[head]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def test_minimal_district_is_clean_with_every_detail_committed(both: Any) -> None:
    log, _, report = both["minimal"]
    assert report.clean, [str(f) for f in report.findings[:5]]
    (note,) = report.findings
    assert note.code == "profile.public_unverified"
    assert note.evidence["unverified_rules"] == [
        C.VOTER_UNDERAGE,
        C.VOTER_BASIS_INVALID,
        C.PROXY_NOT_CLOSE_RELATIVE,
    ]
    kinds = collections.Counter((e.statement.type, e.statement.schema) for e in log)
    for etype in ("voter.removed", "objection.filed", "objection.decided", "vetting.decided"):
        assert kinds[(etype, 2)] > 0 and kinds[(etype, 1)] == 0, etype
    for etype in ("proxy.authorised", "nomination.withdrawn", "committee.member_withdrawn"):
        assert kinds[(etype, 2)] > 0 and kinds[(etype, 1)] == 0, etype
    assert note.evidence["proxies"] == kinds[("proxy.authorised", 2)]
    details = note.evidence["committed_details"]
    assert details["voter.removed"] == kinds[("voter.removed", 2)]
    assert details["vetting.decided"] == kinds[("vetting.decided", 2)]
    assert "voter.registered" not in details


def test_no_minimal_body_has_a_free_text_reason(both: Any) -> None:
    """The scan: in every body of the minimal district, every free-text field (by schema,
    :func:`free_text_fields`) is one of :data:`PUBLIC_TEXT`; every code field holds a code of
    the RuleSet; every other string is an id, an enum value, a code or an ISO date that is an
    event day or the election day; the v1 reason texts appear nowhere."""
    log, _, _ = both["minimal"]
    rules = None
    event_days: set[str] = set()
    texts: set[str] = set()
    seen_paths: set[tuple[str, str]] = set()
    for ctx, ev in log_events(log):
        st = log.get(ctx.index).statement
        if rules is None:
            rules = ev.rules  # type: ignore[attr-defined]
            assert rules.public_profile == "minimal"
        event_days.add(rules.local_datetime(st.time).date().isoformat())
        for path in free_text_fields(type(ev)):
            assert (ev.TYPE, path) in PUBLIC_TEXT, (ev.TYPE, path)
            seen_paths.add((ev.TYPE, path))
            texts.update(_at(st.body, path))
        if isinstance(ev, VoterRemovedV2):
            assert ev.reason in rules.removal_codes
        elif isinstance(ev, VettingDecidedV2):
            assert ev.criteria_code is None or ev.criteria_code in rules.vetting_codes
        elif isinstance(ev, ProxyAuthorisedV2):
            assert ev.close_relative is True
    assert ("election.defined", "name") in seen_paths and len(seen_paths) >= 5
    every = [s for e in log for s in _strings(e.statement.body)]
    # the declared results' explanations ("elected: 15 votes > 1/2 of 28 ballots cast") are
    # the tally's own words, recomputed and compared by the auditor: no one writes them
    tallied = {
        s
        for e in log
        if e.statement.type in ("result.declared", "group.result_declared")
        for s in _strings(e.statement.body["result"])
    }
    spaced = {s for s in every if " " in s} - tallied
    assert spaced <= texts, sorted(spaced - texts)[:5]  # free text only in the public names
    dates = {d for s in every for d in ISO_DATE.findall(s)}
    assert dates <= event_days, sorted(dates - event_days)[:5]
    # every entry but the genesis, whose RuleSet lists the full profile's removal reasons
    blob = b"".join(log.get_bytes(i) for i in range(1, len(log)))
    for leaked in (
        b"under criminal investigation",
        b"deprived of political rights",
        b"withdrew for family reasons",
        b"nominated as a candidate",
        b"deprived_of_rights",
        b"moved_out",
        b"relationship",
        b"criteria_ref",
        b"birth_date",
    ):
        assert leaked not in blob, leaked
    # the full district has them all, so the scan could fail
    full_blob = b"".join(both["full"][0].get_bytes(i) for i in range(len(both["full"][0])))
    assert b"under criminal investigation" in full_blob or b"deprived of political" in full_blob
    assert b"\xacrelationship" in full_blob and b"moved_out" in full_blob


def test_tallies_equal_full_and_removal_codes_add_no_uniqueness(both: Any) -> None:
    """The same seed under both profiles: the same tallies and declarations. Uniqueness on
    (community, group, household size, basis, removal code/reason): the coarse codes make no
    voter more unique than the full reasons. 2.09% at this 2,000-voter district (1.79% without
    the removal column: every removed voter is alone in its class either way); the acceptance
    size, 20,000 voters, is 1.50% (tests/election/test_privacy_profile.py asserts <= 2%)."""
    full_log, full_result, full = both["full"]
    min_log, min_result, minimal = both["minimal"]
    assert full.tallies == minimal.tallies
    assert full_result.declared == min_result.declared
    share, reasons = _unique_share(min_log), _unique_share(full_log)
    print(f"unique on (community, group, household size, basis, removal): {share:.2%}")
    assert share <= reasons and share < 0.025, (share, reasons)


def _unique_share(log: Log) -> float:
    regs: dict[str, Any] = {}
    removed: dict[str, str] = {}
    for _, ev in log_events(log):
        if isinstance(ev, VoterRegistered | VoterRegisteredV2):
            regs[ev.voter] = ev
        elif isinstance(ev, VoterRemoved | VoterRemovedV2):
            removed[ev.voter] = ev.reason
    size = collections.Counter((r.community, r.group, r.household) for r in regs.values())
    keys = {
        v: (
            r.community,
            r.group,
            size[(r.community, r.group, r.household)],
            r.basis,
            removed.get(v),
        )
        for v, r in regs.items()
    }
    classes = collections.Counter(keys.values())
    return sum(1 for k in keys.values() if classes[k] == 1) / len(keys)


def test_the_builder_records_every_detail_it_committed(both: Any) -> None:
    """The writer re-derives each (salt, value): the simulator's details open the log's
    commitments (what an openings bundle exports)."""
    s = Scenario(4, rules=MINIMAL).run_all()
    log_types = collections.Counter(e.statement.type for e in s.log)
    assert s.details
    eid = s.definition().election_id
    for (etype, ref, field), (salt, _) in s.details.items():
        assert salt == detail_salt(s.detail_secret, eid, etype, ref, field)
        assert log_types[etype] > 0
    by_type = {ev.TYPE: ev for _, ev in log_events(s.log) if isinstance(ev, ProxyAuthorisedV2)}
    proxy = by_type["proxy.authorised"]
    assert isinstance(proxy, ProxyAuthorisedV2)
    salt, opened = s.details[("proxy.authorised", f"c1/{proxy.principal}", "rel")]
    assert rel_commitment(salt, opened["relationship"]) == proxy.c_rel
    assert opened["relationship"] in s.rules.proxy_relationships
    salt, opened = s.details[("proxy.authorised", f"c1/{proxy.principal}", "attestation")]
    letter = hashlib.sha256(f"letter/{proxy.principal}".encode()).digest()
    assert opened == {"attestation": letter.hex()}
    assert attestation_commitment(salt, letter) == proxy.c_attestation


# --------------------------------------------------------------------------- tamper tests


def _trust(s: Scenario) -> Trust:
    log_key = NoteSigner.generate(s.log.origin, rng_seed=b"\x01" * 32)
    witness = WitnessSigner.generate("witness1.example", rng_seed=b"\x02" * 32)
    return Trust.create(
        origin=s.log.origin,
        authority_key=s.keys.authority.public,
        log_key=log_key.vkey,
        witnesses=[witness.vkey],
        quorum=1,
    )


def _force(s: Scenario, key: Any, event: ElectionEvent, time: int) -> int:
    """Append ``event`` signed by ``key`` without the writer's check (a hostile insider)."""
    entry = s.author(key).sign(event.TYPE, event.to_body(), time=time, schema=event.SCHEMA)
    return s.log.append(entry).index


def _caught(s: Scenario, index: int, code: str) -> None:
    """The public audit of the log names ``rule.<code>`` at entry ``index``."""
    report = audit(s.log, _trust(s))
    rule = [f for f in report.findings if f.code == f"rule.{code}"]
    assert [f.index for f in rule] == [index], [str(f) for f in report.findings][:6]


def _proxy(s: Scenario, principal: str, proxy: str, **kw: Any) -> ProxyAuthorisedV2:
    ev = s.proxy("c1", principal, proxy, "sibling", hashlib.sha256(principal.encode()).digest())
    assert isinstance(ev, ProxyAuthorisedV2)
    return ProxyAuthorisedV2(**{**ev.to_body(), **kw}) if kw else ev


def test_tamper_a_fourth_proxy_principal_is_caught_publicly() -> None:
    s = Scenario(0, rules=MINIMAL).run_until("authorise_proxies")
    for p in ("c1-v10", "c1-v11", "c1-v12"):
        s.submit(s.keys.committee, _proxy(s, p, "c1-v13"), s.at(-6))
    index = _force(s, s.keys.committee, _proxy(s, "c1-v14", "c1-v13"), s.at(-6, 11))
    _caught(s, index, C.PROXY_CAP_EXCEEDED)


def test_tamper_a_proxy_chain_is_caught_publicly() -> None:
    s = Scenario(0, rules=MINIMAL).run_until("authorise_proxies")
    s.submit(s.keys.committee, _proxy(s, "c1-v10", "c1-v11"), s.at(-6))
    # the principal c1-v10 would hold a proxy for c1-v12: a chain
    index = _force(s, s.keys.committee, _proxy(s, "c1-v12", "c1-v10"), s.at(-6, 11))
    _caught(s, index, C.PROXY_NOT_REGISTERED)


@covers(C.PROXY_NOT_CLOSE_RELATIVE)
def test_tamper_a_proxy_the_committee_does_not_call_close_relative() -> None:
    s = Scenario(0, rules=MINIMAL).run_until("authorise_proxies")
    stranger = _proxy(s, "c1-v10", "c1-v11", close_relative=False)
    index = _force(s, s.keys.committee, stranger, s.at(-6, 11))
    _caught(s, index, C.PROXY_NOT_CLOSE_RELATIVE)


def test_tamper_a_duplicate_dedup_tag_is_caught_publicly() -> None:
    s = Scenario(0, rules=MINIMAL).run_until("publish_rolls")
    twin = s.voter_registration(
        salt=bytes(16),
        name="Someone else",
        id_number=s.personal["c1-v00"]["id_number"],  # the same person: the same dedup tag
        voter="c1-v99",
        community="c1",
        group="c1-g1",
        household="c1-h99",
        birth_date=s.definition().election_day.replace(year=1970),
        basis="local_resident",
    )
    index = _force(s, s.keys.registrar, twin, s.at(-29))
    _caught(s, index, C.VOTER_DUPLICATE)


def test_tamper_a_removal_code_not_in_the_ruleset_is_caught_publicly() -> None:
    s = Scenario(0, rules=MINIMAL).run_until("publish_rolls")
    good = s.removal("c1-v03", "c1", "died")
    assert isinstance(good, VoterRemovedV2) and good.reason == "eligibility_ended"
    bad = VoterRemovedV2(**{**good.to_body(), "reason": "died"})  # a full reason, not a code
    index = _force(s, s.keys.registrar, bad, s.at(-29))
    _caught(s, index, C.VOTER_REMOVAL_WITHOUT_REASON)


@covers(C.EVENT_PROFILE_MISMATCH)
def test_tamper_a_v1_removal_in_a_minimal_election_is_caught_publicly() -> None:
    s = Scenario(0, rules=MINIMAL).run_until("publish_rolls")
    v1 = VoterRemoved(voter="c1-v03", community="c1", reason="moved_out")
    index = _force(s, s.keys.registrar, v1, s.at(-29))
    _caught(s, index, C.EVENT_PROFILE_MISMATCH)


def test_a_v2_event_in_a_full_election_is_a_profile_mismatch() -> None:
    s = Scenario(0).run_until("publish_rolls")
    v2 = VoterRemovedV2(voter="c1-v03", community="c1", reason="eligibility_ended", c_reason=H)
    index = _force(s, s.keys.registrar, v2, s.at(-29))
    _caught(s, index, C.EVENT_PROFILE_MISMATCH)
    s2 = Scenario(0).run_until("publish_rolls")
    revoked = KeyRevokedV2(key_id=s2.keys.vetting.key_id, c_reason=H)
    index = _force(s2, s2.keys.authority, revoked, s2.at(-29))
    _caught(s2, index, C.EVENT_PROFILE_MISMATCH)


def test_the_writer_refuses_what_the_auditor_names() -> None:
    from electlog.errors import RuleViolation

    s = Scenario(0, rules=MINIMAL).run_until("publish_rolls")
    with pytest.raises(RuleViolation) as info:
        s.submit(
            s.keys.authority, KeyRevoked(key_id=s.keys.vetting.key_id, reason="lost"), s.at(-29)
        )
    assert info.value.code == C.EVENT_PROFILE_MISMATCH
    assert info.value.ids == (s.keys.vetting.key_id.hex()[:16],)
    revocation = s.key_revocation(s.keys.vetting.key_id, "laptop lost")
    assert isinstance(revocation, KeyRevokedV2)
    s.submit(s.keys.authority, revocation, s.at(-29))


@covers(C.VETTING_CODE_UNKNOWN)
def test_tamper_a_vetting_code_not_in_the_ruleset_is_caught_publicly() -> None:
    s = Scenario(0, rules=MINIMAL).run_until("vet")
    good = s.vetting("c1", "c1-v00", ("art. 12(4)", "under investigation"), approved=False)
    assert isinstance(good, VettingDecidedV2) and good.criteria_code is None
    bad = VettingDecidedV2(**{**good.to_body(), "criteria_code": "criminal_record"})
    index = _force(s, s.keys.vetting, bad, s.at(-12))
    _caught(s, index, C.VETTING_CODE_UNKNOWN)


# --------------------------------------------------------------------------- the docs table


def test_the_text_field_table_of_election_md_lists_every_free_text_field() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "election.md").read_text("utf-8")
    lines = doc.splitlines()
    start = lines.index("| type | field | `full` (schema 1) | `minimal` |")
    documented: set[tuple[str, str]] = set()
    kept: set[tuple[str, str]] = set()
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        etype, fields, _, minimal = (c.strip() for c in line.strip("|").split("|"))
        for field in re.findall(r"`([^`]+)`", fields):
            documented.add((etype.strip("`"), field))
            if minimal.startswith("kept"):
                kept.add((etype.strip("`"), field))
    in_code = {
        (etype, path) for (etype, _), cls in EVENT_SCHEMAS.items() for path in free_text_fields(cls)
    }
    assert documented == in_code
    assert kept == PUBLIC_TEXT
