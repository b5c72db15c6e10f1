"""The rule functions of the committed details (docs/format.md §7.1), without encryption.

Under ``minimal`` the authorised tier replays two rules on opened details: a proxy's opened
relationship must be one of ``proxy_relationships`` (``proxy.not_close_relative``), and a
removal's opened detail must agree with its public code (``voter.removal_code_mismatch``).
The other details are matched only. tests/audit/test_openings.py runs them through the audit.
"""

from __future__ import annotations

import pytest

from electlog.election import RuleSet, Scenario
from electlog.election.events import (
    ElectionDefined,
    ElectionEvent,
    ObjectionFiledV2,
    ProxyAuthorisedV2,
    VoterRegisteredV2,
    VoterRemovedV2,
)
from electlog.election.openings import COMMITTED_FIELDS, OpeningCheck, committed_fields_of
from electlog.errors import RuleViolation

COVERED: set[str] = {"voter.removal_code_mismatch"}
"""Rule codes this module provokes (tests/election/test_election_rules.py checks every code)."""


@pytest.fixture(scope="module")
def definition() -> ElectionDefined:
    s = Scenario(5, rules=RuleSet(public_profile="minimal")).run_until("appoint_committees")
    d = s.e.state.definition
    assert isinstance(d, ElectionDefined)
    return d


def _check(definition: ElectionDefined, event: ElectionEvent, field: str, value: object) -> None:
    (cf,) = [f for f in committed_fields_of(event.TYPE, event.SCHEMA) if f.field == field]
    cf.check(OpeningCheck(index=3, event=event, definition=definition, value=value))


def test_a_removal_detail_must_agree_with_its_code(definition: ElectionDefined) -> None:
    ended = VoterRemovedV2(
        voter="v", community="c1", reason="eligibility_ended", objection=None, c_reason=bytes(32)
    )
    for agreeing in ("died", "moved_out", "deprived_of_rights", "eligibility_ended", "see file"):
        _check(definition, ended, "reason", agreeing)
    for contradicting in ("duplicate", "objection_upheld"):
        with pytest.raises(RuleViolation) as info:
            _check(definition, ended, "reason", contradicting)
        assert info.value.code == "voter.removal_code_mismatch" and info.value.ids == ("v",)
    duplicate = VoterRemovedV2(
        voter="w", community="c1", reason="duplicate", objection=None, c_reason=bytes(32)
    )
    _check(definition, duplicate, "reason", "duplicate")
    with pytest.raises(RuleViolation, match="'died' is code eligibility_ended"):
        _check(definition, duplicate, "reason", "died")


def test_an_opened_relationship_must_be_a_close_relative(definition: ElectionDefined) -> None:
    proxy = ProxyAuthorisedV2(
        community="c1",
        principal="p",
        proxy="q",
        close_relative=True,
        c_rel=bytes(32),
        c_attestation=bytes(32),
    )
    for close in definition.rules.proxy_relationships:
        _check(definition, proxy, "rel", close)
    with pytest.raises(RuleViolation) as info:
        _check(definition, proxy, "rel", "neighbour")
    assert info.value.code == "proxy.not_close_relative" and info.value.ids == ("p", "q")


def test_every_committed_detail_is_registered_with_its_value_form() -> None:
    details = {
        (t, f): cf.attribute for (t, schema, f), cf in COMMITTED_FIELDS.items() if schema == 2
    }
    assert details == {
        ("voter.registered", "basis"): "c_basis",
        ("voter.registered", "birth"): "c_birth",
        ("voter.removed", "reason"): "c_reason",
        ("vetting.decided", "reason"): "c_reason",
        ("objection.filed", "grounds"): "c_grounds",
        ("objection.decided", "reason"): "c_reason",
        ("committee.member_withdrawn", "reason"): "c_reason",
        ("nomination.withdrawn", "reason"): "c_reason",
        ("key.revoked", "reason"): "c_reason",
        ("proxy.authorised", "rel"): "c_rel",
        ("proxy.authorised", "attestation"): "c_attestation",
    }
    # every v2 commitment attribute of the events is registered (nothing committed is unopenable)
    from electlog.election.events import EVENT_SCHEMAS

    for (t, schema), cls in EVENT_SCHEMAS.items():
        if schema != 2:
            continue
        attributes = {f for f, _ in cls._FIELDS if f.startswith("c_")}
        assert attributes == {cf.attribute for cf in committed_fields_of(t, 2)}, t
    # the value forms: exact keys, a malformed attestation refused
    (grounds,) = committed_fields_of(ObjectionFiledV2.TYPE, 2)
    with pytest.raises(ValueError):
        grounds.parse({"grounds": "x", "extra": ""})
    attestation = next(
        f for f in committed_fields_of(ProxyAuthorisedV2.TYPE, 2) if f.field == "attestation"
    )
    with pytest.raises(ValueError):
        attestation.parse({"attestation": "AB" * 32})
    assert attestation.parse({"attestation": "ab" * 32}) == bytes([0xAB]) * 32
    assert VoterRegisteredV2.TYPE in {t for t, _, _ in COMMITTED_FIELDS}
