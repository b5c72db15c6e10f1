"""The public surface, pinned: what ``electlog``, ``electlog.election``, ``electlog.audit`` and
``electlog.publish`` offer changes only on purpose (edit the lists here in the same commit).

``electlog`` offers the log core; election names import from ``electlog.election`` only (there
is no lazy re-export of them any more), and the report writers are private modules reached
through :class:`~electlog.audit.Report`'s methods.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import electlog
import electlog.audit
import electlog.election
import electlog.publish

SRC = Path(__file__).resolve().parent.parent / "src" / "electlog"

CORE = (
    "Author",
    "AuthorHead",
    "Checkpoint",
    "ElectlogError",
    "Entry",
    "Log",
    "NoteSigner",
    "NoteVerifier",
    "ProofError",
    "Receipt",
    "RuleViolation",
    "SigningKey",
    "Statement",
    "StorageError",
    "VerificationError",
    "VerifyKey",
    "WitnessSigner",
    "WitnessVerifier",
    "__version__",
    "cosign",
    "key_id",
    "open_note",
    "open_store",
    "sign_note",
    "verify_checkpoint",
)

ELECTION = (
    "AssertionRisk",
    "AuditBallotInterpreted",
    "AuditBoxCounted",
    "AuditConcluded",
    "AuditDeclared",
    "AuditRoundClosed",
    "AuditSampleDrawn",
    "AuditSeedDrawn",
    "AuditedRound",
    "BallotClass",
    "BallotIssued",
    "BallotRecorded",
    "BoxMerged",
    "BoxOpened",
    "BoxSealed",
    "BoxTransferred",
    "CandidatesPublished",
    "CommitteeMemberAppointed",
    "CommitteeMemberWithdrawn",
    "CommitteeMemberWithdrawnV2",
    "CommitteeVacancyFilled",
    "CommunityDef",
    "CountingBatch",
    "Discrepancy",
    "EVENT_SCHEMAS",
    "MINIMAL_SCHEMAS",
    "EVENT_TYPES",
    "Election",
    "ElectionDefined",
    "ElectionEvent",
    "ElectionMode",
    "ElectionState",
    "EligibilitySampleChecked",
    "EligibilitySampleDrawn",
    "EligibilityBasis",
    "EventContext",
    "GroupResultDeclared",
    "GroupVotingClosed",
    "HouseholdBallotCast",
    "HouseholdBallotIssued",
    "KeyAuthorised",
    "KeyRevoked",
    "KeyRevokedV2",
    "NominationFiled",
    "NominationWithdrawn",
    "NominationWithdrawnV2",
    "ObjectionDecided",
    "ObjectionDecidedV2",
    "ObjectionFiled",
    "ObjectionFiledV2",
    "ObserverAccredited",
    "Opening",
    "OpeningsDocument",
    "PostDef",
    "PostList",
    "PostMarks",
    "PostResult",
    "PostSpec",
    "PublicProfile",
    "ProxyAuthorised",
    "ProxyAuthorisedV2",
    "ProxyListPublished",
    "RULES",
    "ResultDeclared",
    "Role",
    "RollPublished",
    "RoundCalled",
    "RoundResult",
    "RoundTally",
    "RuleInfo",
    "RuleSet",
    "SIGNER_ROLES",
    "Scenario",
    "ScenarioKeys",
    "TallyRules",
    "UnitClosed",
    "UnitOpened",
    "UnitRepRegistered",
    "VerifiedReceipt",
    "VettingDecided",
    "VettingDecidedV2",
    "VoterRegistered",
    "VoterRegisteredV2",
    "VoterRemoved",
    "VoterRemovedV2",
    "basis_commitment",
    "birth_commitment",
    "build_small_election",
    "commitment",
    "compare_declared",
    "decode_event",
    "free_text_fields",
    "dedup_tag",
    "election_dedup_key",
    "field_salt",
    "rel_commitment",
    "reason_commitment",
    "grounds_commitment",
    "detail_salt",
    "attestation_commitment",
    "has_marks",
    "household_tag",
    "identifying_fields",
    "log_events",
    "make_registration_receipt",
    "proxy_list_hash",
    "registration_openings",
    "supplementary_candidates",
    "tally_round",
    "verify_registration_receipt",
)

AUDIT = (
    "BatchSummary",
    "BytesSource",
    "CommunityResults",
    "Counts",
    "FINDINGS",
    "Finding",
    "FindingInfo",
    "GroupResults",
    "REPORT_SCHEMA",
    "Report",
    "RoundResults",
    "Severity",
    "TRUST_FORMAT",
    "Trust",
    "UnitSummary",
    "VERDICTS",
    "VERDICT_CLEAN",
    "VERDICT_CLEAN_IN_PROGRESS",
    "VERDICT_FINDINGS",
    "VERDICT_INCOMPLETE",
    "all_codes",
    "audit",
    "finding_info",
    "load_trust",
    "read_openings",
    "read_since",
    "seal_openings",
    "validate_report_dict",
)

PUBLISH = (
    "BundleImport",
    "BundleInfo",
    "BundleReader",
    "TilesInfo",
    "TilesReader",
    "export_bundle",
    "export_tiles",
    "import_bundle",
)

SURFACES = {
    "electlog": CORE,
    "electlog.election": ELECTION,
    "electlog.audit": AUDIT,
    "electlog.publish": PUBLISH,
}


@pytest.mark.parametrize("module_name", sorted(SURFACES))
def test_the_public_names_are_pinned(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(SURFACES[module_name])
    assert len(set(module.__all__)) == len(module.__all__), "a name listed twice"


@pytest.mark.parametrize("module_name", sorted(SURFACES))
def test_every_public_name_resolves_to_a_public_home(module_name: str) -> None:
    module = importlib.import_module(module_name)
    for name in module.__all__:
        value = getattr(module, name)
        home = getattr(value, "__module__", None)
        if isinstance(home, str):
            assert home.startswith("electlog"), (name, home)


def test_the_top_level_has_no_lazy_attribute_hook() -> None:
    # the old __getattr__ re-exported 68 election names and imported any submodule on access
    assert "__getattr__" not in vars(electlog)
    assert not hasattr(electlog, "VoterRegistered")
    assert not hasattr(electlog, "Election")
    with pytest.raises(ImportError):
        exec("from electlog import RuleSet", {})


def test_no_election_name_is_offered_by_the_core() -> None:
    assert not set(CORE) & set(ELECTION)


def test_importing_electlog_imports_neither_the_election_nor_publish_nor_the_audit() -> None:
    code = (
        "import sys, electlog\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('electlog'))\n"
        "print(' '.join(loaded))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.split()
    for layer in ("electlog.election", "electlog.audit", "electlog.publish", "electlog.net"):
        assert layer not in out, f"import electlog pulled in {layer}"


def test_report_writers_are_private_and_reached_through_report() -> None:
    audit_dir = SRC / "audit"
    for name in ("report_text", "report_html", "report_json"):
        assert not (audit_dir / f"{name}.py").exists(), f"audit/{name}.py is public again"
        assert (audit_dir / f"_{name}.py").exists()
    for method in ("to_text", "to_json", "to_html", "to_dict", "to_frames"):
        assert callable(getattr(electlog.audit.Report, method))


def test_report_methods_write_what_the_private_writers_write() -> None:
    from audit_support import build_election
    from electlog.audit import audit, validate_report_dict
    from electlog.audit._report_html import render_html
    from electlog.audit._report_text import render_text

    built = build_election()
    report = audit(built.source(), built.trust)
    assert report.to_text() == render_text(report)
    assert report.to_html() == render_html(report)
    assert report.to_html().startswith("<!DOCTYPE html>")
    validate_report_dict(json.loads(report.to_json()))
    with pytest.raises(electlog.ElectlogError, match="top-level fields"):
        validate_report_dict({"schema": "x"})
    with pytest.raises(ValueError):  # a UsageError is a ValueError, as before
        validate_report_dict([])
