"""Findings: what the auditor reports, each under a stable code.

A :class:`Finding` is one problem the replay found: a stable ``code`` (the constants below; never
re-used for another meaning), a :class:`Severity`, the index of the log entry it concerns (or
``None`` for the log as a whole), a human message and ``evidence``, a JSON-able dict with the
bytes and numbers that prove it (hex for bytes).

Election rule violations found in replay are reported as ``rule.<rule code>``, where the rule code
is the :class:`~electlog.errors.RuleViolation` code of :mod:`electlog.election.codes` (for example
``rule.voter.duplicate``); :func:`rule_finding_code` makes the mapping and :data:`FINDINGS`
documents every fixed code. docs/auditing.md lists them all (a test keeps it in step).
"""

from __future__ import annotations

import enum
from typing import Any, Final

import attrs

from electlog.election.codes import RULES, TIME_INCONSISTENT

__all__ = [
    "AUDIT_FINDINGS_CAPPED",
    "CHAIN_PREV_MISMATCH",
    "CHAIN_SEQ_GAP",
    "CHECKPOINT_COSIGNATURE_INVALID",
    "CHECKPOINT_MALFORMED",
    "CHECKPOINT_NONE",
    "CHECKPOINT_ROOT_MISMATCH",
    "CHECKPOINT_SIGNATURE_INVALID",
    "CHECKPOINT_SPLIT_VIEW",
    "CHECKPOINT_WITNESS_QUORUM",
    "ELECTION_INCOMPLETE",
    "ELECTION_REPLAY_ERROR",
    "ENTRY_MALFORMED",
    "ENTRY_SIGNATURE_INVALID",
    "ENTRY_WRONG_LOG",
    "EVENT_MALFORMED",
    "FINDINGS",
    "FORK_INCONSISTENT",
    "LOG_EMPTY",
    "LOG_TRUNCATED",
    "LOG_UNWITNESSED_TAIL",
    "OPENINGS_CHECKED",
    "OPENINGS_LOG_MISMATCH",
    "OPENINGS_MISMATCH",
    "OPENINGS_MISSING",
    "OPENINGS_UNKNOWN",
    "PROFILE_PUBLIC_UNVERIFIED",
    "RULE_PREFIX",
    "RULE_TIME_INCONSISTENT",
    "SECRECY_SMALL_BATCH",
    "SECRECY_VOTER_LINKED_TO_MARKS",
    "SINCE_BEYOND_LOG",
    "SINCE_UNVERIFIED",
    "SOURCE_DAMAGED",
    "SOURCE_ORIGIN_MISMATCH",
    "SOURCE_UNREADABLE",
    "TRUST_AUTHORITY_UNUSED",
    "Finding",
    "FindingInfo",
    "Severity",
    "all_codes",
    "finding_info",
    "rule_finding_code",
]


class Severity(enum.StrEnum):
    """How bad a finding is. ``error`` and ``warning`` findings make the verdict ``findings``;
    ``info`` findings are reported but leave a clean verdict clean."""

    ERROR = "error"
    """The log, a checkpoint or an election rule does not hold: the copy or the election is not
    what it claims to be."""
    WARNING = "warning"
    """Nothing is proved wrong, but something an audit relies on is missing (no checkpoint,
    entries no witness vouches for)."""
    INFO = "info"
    """Worth knowing, not a fault: the finding of a rule of kind ``void`` (a post counted void,
    as the law says), or what the public tier of a ``minimal``-profile election does not
    verify (``profile.public_unverified``)."""


@attrs.frozen(kw_only=True)
class FindingInfo:
    """The documentation of one finding code: severity and a one-line meaning."""

    code: str
    severity: Severity
    meaning: str


@attrs.frozen(kw_only=True)
class Finding:
    """One problem found by the audit.

    ``index`` is the 0-based index of the log entry concerned, or ``None`` when the finding is
    about the log, a checkpoint or the election as a whole. ``evidence`` maps names to JSON-able
    values (bytes are given as lower-case hex strings).
    """

    code: str
    severity: Severity
    index: int | None
    message: str
    evidence: dict[str, Any] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used in reports (see docs/auditing.md, "JSON report")."""
        return {
            "code": self.code,
            "severity": self.severity.value,
            "index": self.index,
            "message": self.message,
            "evidence": dict(self.evidence),
        }


RULE_PREFIX: Final = "rule."
"""Prefix of the finding codes of election rules: ``rule.<RuleViolation code>``."""

# --------------------------------------------------------------------------- fixed codes

SOURCE_UNREADABLE: Final = "source.unreadable"
SOURCE_ORIGIN_MISMATCH: Final = "source.origin_mismatch"
SOURCE_DAMAGED: Final = "source.damaged"
LOG_EMPTY: Final = "log.empty"
LOG_TRUNCATED: Final = "log.truncated"
ENTRY_MALFORMED: Final = "entry.malformed"
ENTRY_SIGNATURE_INVALID: Final = "entry.signature_invalid"
ENTRY_WRONG_LOG: Final = "entry.wrong_log"
CHAIN_SEQ_GAP: Final = "chain.seq_gap"
CHAIN_PREV_MISMATCH: Final = "chain.prev_mismatch"
CHECKPOINT_MALFORMED: Final = "checkpoint.malformed"
CHECKPOINT_SIGNATURE_INVALID: Final = "checkpoint.signature_invalid"
CHECKPOINT_COSIGNATURE_INVALID: Final = "checkpoint.cosignature_invalid"
CHECKPOINT_WITNESS_QUORUM: Final = "checkpoint.witness_quorum"
CHECKPOINT_ROOT_MISMATCH: Final = "checkpoint.root_mismatch"
CHECKPOINT_SPLIT_VIEW: Final = "checkpoint.split_view"
CHECKPOINT_NONE: Final = "checkpoint.none"
LOG_UNWITNESSED_TAIL: Final = "log.unwitnessed_tail"
TRUST_AUTHORITY_UNUSED: Final = "trust.authority_unused"
SINCE_UNVERIFIED: Final = "since.unverified"
SINCE_BEYOND_LOG: Final = "since.beyond_log"
FORK_INCONSISTENT: Final = "fork.inconsistent"
EVENT_MALFORMED: Final = "event.malformed"
ELECTION_REPLAY_ERROR: Final = "election.replay_error"
ELECTION_INCOMPLETE: Final = "election.incomplete"
SECRECY_VOTER_LINKED_TO_MARKS: Final = "secrecy.voter_linked_to_marks"
RULE_TIME_INCONSISTENT: Final = RULE_PREFIX + TIME_INCONSISTENT
"""The finding code of the election rule ``time.inconsistent`` (per-author claimed times, checked
by the writers' rules), which the auditor also reports when a claimed time is not bound to the
witnesses' cosignature times (docs/auditing.md, "Witness time")."""
SECRECY_SMALL_BATCH: Final = "secrecy.small_batch"
PROFILE_PUBLIC_UNVERIFIED: Final = "profile.public_unverified"
"""The public tier of a ``minimal``-profile election cannot check some rules (the voters' age,
the non-local basis evidence, the exact proxy relationship) nor the committed details behind
codes: one info finding names them, so that a clean verdict never reads as if they were
checked."""
AUDIT_FINDINGS_CAPPED: Final = "audit.findings_capped"
OPENINGS_MISMATCH: Final = "openings.mismatch"
OPENINGS_MISSING: Final = "openings.missing"
OPENINGS_UNKNOWN: Final = "openings.unknown"
OPENINGS_LOG_MISMATCH: Final = "openings.log_mismatch"
OPENINGS_CHECKED: Final = "openings.checked"
"""The authorised tier's statement of what it checked; it replaces
:data:`PROFILE_PUBLIC_UNVERIFIED` in a report with openings (docs/auditing.md, "The authorised
tier")."""

_E, _W, _I = Severity.ERROR, Severity.WARNING, Severity.INFO


def _f(code: str, severity: Severity, meaning: str) -> FindingInfo:
    return FindingInfo(code=code, severity=severity, meaning=meaning)


FINDINGS: Final[dict[str, FindingInfo]] = {
    info.code: info
    for info in (
        _f(
            SOURCE_UNREADABLE,
            _E,
            "the source cannot be read from a byte offset / entry on "
            "(corrupt or truncated bundle, broken tiles); everything before it was checked",
        ),
        _f(
            SOURCE_ORIGIN_MISMATCH,
            _E,
            "the source says it holds another log than the trust file's origin",
        ),
        _f(
            SOURCE_DAMAGED,
            _E,
            "the store's own integrity check failed: a stored leaf hash, Merkle node, author "
            "head or checkpoint does not match the entries, or signed entries were lost "
            "(docs/storage.md); the entries themselves were still checked",
        ),
        _f(
            TRUST_AUTHORITY_UNUSED,
            _E,
            "the trust file's authority key signed nothing in this log and another key signed "
            "the genesis: the trust file is probably for another election; this one finding "
            "replaces the rule findings against that key's events (evidence: authority_key, "
            "genesis_signer, summarised per code, first_indexes)",
        ),
        _f(LOG_EMPTY, _W, "the log has no entries"),
        _f(
            LOG_TRUNCATED,
            _E,
            "a signed checkpoint commits to more entries than the copy holds: "
            "entries were removed from the end",
        ),
        _f(
            ENTRY_MALFORMED,
            _E,
            "an entry is not a canonical signed entry (decoding, fields, "
            "key id); its Merkle leaf still counts",
        ),
        _f(ENTRY_SIGNATURE_INVALID, _E, "an entry's Ed25519 signature does not verify"),
        _f(
            ENTRY_WRONG_LOG,
            _E,
            "an entry was signed for another log (its log id is not the "
            "origin): replayed from elsewhere",
        ),
        _f(
            CHAIN_SEQ_GAP,
            _E,
            "an author's sequence number is not the previous one plus 1 "
            "(an entry of that author is missing, repeated or moved)",
        ),
        _f(
            CHAIN_PREV_MISMATCH,
            _E,
            "an entry's prev is not the leaf hash of its author's previous entry",
        ),
        _f(
            CHECKPOINT_MALFORMED,
            _E,
            "a stored checkpoint is not a well-formed signed tlog-checkpoint note",
        ),
        _f(
            CHECKPOINT_SIGNATURE_INVALID,
            _E,
            "a checkpoint is not validly signed by the trusted log key (or is for another origin)",
        ),
        _f(
            CHECKPOINT_COSIGNATURE_INVALID,
            _E,
            "a checkpoint carries a cosignature line by a trusted witness that does not verify",
        ),
        _f(
            CHECKPOINT_WITNESS_QUORUM,
            _E,
            "fewer trusted witnesses cosigned a checkpoint than the trust file's quorum",
        ),
        _f(
            CHECKPOINT_ROOT_MISMATCH,
            _E,
            "a checkpoint's root is not the Merkle root of the replayed entries at its size",
        ),
        _f(
            CHECKPOINT_SPLIT_VIEW,
            _E,
            "the log key signed two trees that cannot both be "
            "true (same size, different roots, or one not a prefix of the other)",
        ),
        _f(
            CHECKPOINT_NONE,
            _W,
            "the copy carries no checkpoint that verifies: nothing signed commits to its entries",
        ),
        _f(
            LOG_UNWITNESSED_TAIL,
            _W,
            "entries after the last checkpoint with the witness quorum are checked but no "
            "witness vouches for them: the verdict cannot be clean",
        ),
        _f(
            SINCE_UNVERIFIED,
            _E,
            "the --since checkpoint does not verify with the trust file "
            "(signature, origin or witness quorum)",
        ),
        _f(
            SINCE_BEYOND_LOG,
            _E,
            "the --since checkpoint is larger than the copy: the log was "
            "rolled back or the copy truncated",
        ),
        _f(
            FORK_INCONSISTENT,
            _E,
            "fork evidence: the --since checkpoint is not consistent "
            "with this log (both signed notes and the failing proof are in the evidence)",
        ),
        _f(EVENT_MALFORMED, _E, "an entry's event type or body is not a valid election event"),
        _f(
            ELECTION_REPLAY_ERROR,
            _E,
            "the election replay could not process an entry (an "
            "internal error; the entry is reported and the replay continues)",
        ),
        _f(
            ELECTION_INCOMPLETE,
            _E,
            "the election is not finished in the log: a community short of its final results "
            "(its phase and what is pending in the evidence), counted ballots without a "
            "declared result, an open unit, an unopened box",
        ),
        _f(
            PROFILE_PUBLIC_UNVERIFIED,
            _I,
            "the election's public profile is minimal: the public audit did not check the rules "
            "that need committed data (voter.underage, the evidence of voter.basis_invalid, the "
            "exact relationship of proxy.not_close_relative) nor the committed details behind "
            "removal codes, objections, vetting decisions, withdrawals and revocations; an "
            "authorised audit with the openings checks them",
        ),
        _f(
            OPENINGS_MISMATCH,
            _E,
            "authorised tier: an opening's salt and value do not rebuild the commitment of its "
            "entry and field (a wrong salt, a wrong or malformed value)",
        ),
        _f(
            OPENINGS_MISSING,
            _E,
            "authorised tier: a committed field of an entry (c_birth, c_basis ...) has no "
            "opening in the bundle, so its rules were not checked",
        ),
        _f(
            OPENINGS_UNKNOWN,
            _E,
            "authorised tier: the bundle opens a field of an entry that commits to no such field "
            "in the log",
        ),
        _f(
            OPENINGS_LOG_MISMATCH,
            _E,
            "authorised tier: the openings bundle names another log, election or checkpoint "
            "(size, root) than the copy audited; none of its openings was checked",
        ),
        _f(
            OPENINGS_CHECKED,
            _I,
            "authorised tier: how many openings matched their commitments and which rules were "
            "replayed on them (replaces profile.public_unverified)",
        ),
        _f(
            SECRECY_VOTER_LINKED_TO_MARKS,
            _E,
            "an event body carries both a voter-identifying "
            "field and ballot marks: ballot secrecy is broken",
        ),
        _f(
            SECRECY_SMALL_BATCH,
            _E,
            "ballots were counted from a batch into which fewer than min_count_batch ballots "
            "were issued: their anonymity set is too small",
        ),
        _f(
            AUDIT_FINDINGS_CAPPED,
            _W,
            "one finding code occurred so often that only the first "
            "occurrences are listed; the evidence gives the total",
        ),
    )
}
"""Every fixed finding code with its severity and meaning (``rule.*`` codes are separate)."""

_VOID_KIND: Final = "void"
_FINDING_KIND: Final = "finding"


def rule_finding_code(rule_code: str) -> str:
    """The finding code of an election rule code: ``rule.`` + the code."""
    return RULE_PREFIX + rule_code


def finding_info(code: str) -> FindingInfo:
    """The documentation of ``code``: a fixed code of :data:`FINDINGS` or ``rule.<rule code>``
    (an unknown rule code is an error finding)."""
    info = FINDINGS.get(code)
    if info is not None:
        return info
    if code.startswith(RULE_PREFIX):
        rule = RULES.get(code[len(RULE_PREFIX) :])
        if rule is not None:
            severity = _I if rule.kind == _VOID_KIND else _W if rule.kind == _FINDING_KIND else _E
            return FindingInfo(code=code, severity=severity, meaning=rule.summary)
        return FindingInfo(code=code, severity=_E, meaning="an election rule does not hold")
    return FindingInfo(code=code, severity=_E, meaning="(undocumented finding)")


def all_codes() -> list[str]:
    """Every documented finding code: the fixed ones and ``rule.<code>`` for every rule."""
    return [*FINDINGS, *(rule_finding_code(code) for code in RULES)]
