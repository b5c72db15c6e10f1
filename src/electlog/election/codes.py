"""Stable rule codes: one constant per rule, and the :data:`RULES` table that documents them.

A :class:`~electlog.errors.RuleViolation` carries one of these codes. The codes are part of the
public contract (the auditor reports them as findings, users match on them): they never change
meaning; a new rule gets a new code. docs/election.md lists every code of :data:`RULES` with its
summary and RuleSet parameter (a test keeps the two in step).

``RuleInfo.kind`` says how the rule acts:

* ``"violation"``: :meth:`ElectionState.check` raises ``RuleViolation`` and the event is refused;
* ``"void"``: not refused (a ballot is a physical fact and is always recorded); the offending
  post of that ballot is counted as void, as the law says;
* ``"finding"``: not refused by the writer; the fact is exposed by the projections and reported
  by the auditor (e.g. more ballots returned than issued at a unit, which voids the round).
"""

from __future__ import annotations

from typing import Final

import attrs

__all__ = [
    "BALLOT_DUPLICATE_ISSUE",
    "BALLOT_DUPLICATE_SERIAL",
    "BALLOT_NOT_ENTITLED",
    "BALLOT_NOT_REGISTERED",
    "BOX_SEQUENCE",
    "BOX_SMALL_BATCH",
    "CANDIDATES_LIST_LATE",
    "CANDIDATES_LIST_MISMATCH",
    "CANDIDATES_NOT_MORE_THAN_SEATS",
    "COMMITTEE_MEMBER_NOT_WITHDRAWN",
    "COMMITTEE_SIZE",
    "ELIGIBILITY_CHECKPOINT_MISMATCH",
    "ELIGIBILITY_EVENT_ORDER",
    "ELIGIBILITY_SAMPLE_FAILURE",
    "ELIGIBILITY_SAMPLE_MISMATCH",
    "EVENT_PROFILE_MISMATCH",
    "GENESIS_DUPLICATE",
    "GENESIS_INVALID",
    "GENESIS_MISSING",
    "GENESIS_NOT_AUTHORITY",
    "GENESIS_RULES_HASH",
    "HOUSEHOLD_DUPLICATE_BALLOT",
    "NOMINATION_NOMINATOR_LIMIT",
    "NOMINATION_NOT_REGISTERED",
    "OBJECTION_DECISION_LATE",
    "OBJECTION_LATE",
    "OBSERVER_BUSY",
    "OBSERVER_NOT_ACCREDITED",
    "PHASE_OUT_OF_WINDOW",
    "PROXY_CAP_EXCEEDED",
    "PROXY_LIST_MISMATCH",
    "PROXY_NOT_AUTHORISED",
    "PROXY_NOT_CLOSE_RELATIVE",
    "PROXY_NOT_REGISTERED",
    "PROXY_PRINCIPAL_VOTED",
    "REF_DUPLICATE",
    "REF_UNKNOWN",
    "REGISTRATION_AFTER_ROLL_WITHOUT_OBJECTION",
    "RESULT_MISMATCH",
    "RESULT_PREMATURE",
    "RLA_CHECKPOINT_MISMATCH",
    "RLA_EVENT_ORDER",
    "RLA_INTERPRETATION_INVALID",
    "RLA_MANIFEST_HASH",
    "RLA_MANIFEST_MISMATCH",
    "RLA_PARAMETERS_INVALID",
    "RLA_RISK_MISMATCH",
    "RLA_ROUND_FROZEN",
    "RLA_SAMPLE_MISMATCH",
    "ROLL_FROZEN",
    "ROLL_HASH_MISMATCH",
    "ROLL_PUBLISHED_LATE",
    "ROUND_CANDIDATES_MISMATCH",
    "ROUND_NOT_WARRANTED",
    "RULES",
    "SIGNER_REVOKED",
    "SIGNER_ROLE",
    "SIGNER_SCOPE",
    "SIGNER_UNAUTHORISED",
    "TIME_INCONSISTENT",
    "UNIT_NOT_OPEN",
    "UNIT_OBSERVERS",
    "UNIT_OBSERVER_IS_CANDIDATE",
    "UNIT_RETURNED_EXCEEDS_ISSUED",
    "VETTING_CODE_UNKNOWN",
    "VETTING_MISSING",
    "VOTER_BASIS_INVALID",
    "VOTER_DUPLICATE",
    "VOTER_NOT_REGISTERED",
    "VOTER_PROFILE_MISMATCH",
    "VOTER_REMOVAL_AFTER_ROLL_WITHOUT_OBJECTION",
    "VOTER_REMOVAL_CODE_MISMATCH",
    "VOTER_REMOVAL_WITHOUT_REASON",
    "VOTER_UNDERAGE",
    "WRITEIN_NOT_REGISTERED",
    "RuleInfo",
]


@attrs.frozen(kw_only=True)
class RuleInfo:
    """One rule: its stable ``code``, a one-line ``summary``, the :class:`RuleSet` parameter(s)
    it reads (``None`` if none) and its ``kind`` (``violation`` / ``void`` / ``finding``)."""

    code: str
    summary: str
    parameter: str | None = None
    kind: str = "violation"


# genesis and signers
GENESIS_MISSING: Final = "genesis.missing"
GENESIS_NOT_AUTHORITY: Final = "genesis.not_authority"
GENESIS_DUPLICATE: Final = "genesis.duplicate"
GENESIS_RULES_HASH: Final = "genesis.rules_hash"
GENESIS_INVALID: Final = "genesis.invalid"
SIGNER_UNAUTHORISED: Final = "signer.unauthorised"
SIGNER_ROLE: Final = "signer.role"
SIGNER_SCOPE: Final = "signer.scope"
SIGNER_REVOKED: Final = "signer.revoked"
REF_UNKNOWN: Final = "ref.unknown"
REF_DUPLICATE: Final = "ref.duplicate"
PHASE_OUT_OF_WINDOW: Final = "phase.out_of_window"
TIME_INCONSISTENT: Final = "time.inconsistent"
EVENT_PROFILE_MISMATCH: Final = "event.profile_mismatch"
# committee
COMMITTEE_SIZE: Final = "committee.size"
COMMITTEE_MEMBER_NOT_WITHDRAWN: Final = "committee.member_not_withdrawn"
# voters and roll
VOTER_DUPLICATE: Final = "voter.duplicate"
VOTER_UNDERAGE: Final = "voter.underage"
VOTER_BASIS_INVALID: Final = "voter.basis_invalid"
VOTER_PROFILE_MISMATCH: Final = "voter.profile_mismatch"
VOTER_REMOVAL_WITHOUT_REASON: Final = "voter.removal_without_reason"
VOTER_NOT_REGISTERED: Final = "voter.not_registered"
VOTER_REMOVAL_AFTER_ROLL_WITHOUT_OBJECTION: Final = "voter.removal_after_roll_without_objection"
VOTER_REMOVAL_CODE_MISMATCH: Final = "voter.removal_code_mismatch"
ROLL_FROZEN: Final = "roll.frozen"
REGISTRATION_AFTER_ROLL_WITHOUT_OBJECTION: Final = "registration.after_roll_without_objection"
ROLL_PUBLISHED_LATE: Final = "roll.published_late"
ROLL_HASH_MISMATCH: Final = "roll.hash_mismatch"
OBJECTION_LATE: Final = "objection.late"
OBJECTION_DECISION_LATE: Final = "objection.decision_late"
# households and groups
HOUSEHOLD_DUPLICATE_BALLOT: Final = "household.duplicate_ballot"
# nominations, vetting, candidate list
NOMINATION_NOMINATOR_LIMIT: Final = "nomination.nominator_limit"
NOMINATION_NOT_REGISTERED: Final = "nomination.not_registered"
VETTING_MISSING: Final = "vetting.missing"
VETTING_CODE_UNKNOWN: Final = "vetting.code_unknown"
CANDIDATES_NOT_MORE_THAN_SEATS: Final = "candidates.not_more_than_seats"
CANDIDATES_LIST_LATE: Final = "candidates.list_late"
CANDIDATES_LIST_MISMATCH: Final = "candidates.list_mismatch"
# proxies
PROXY_CAP_EXCEEDED: Final = "proxy.cap_exceeded"
PROXY_PRINCIPAL_VOTED: Final = "proxy.principal_voted"
PROXY_NOT_REGISTERED: Final = "proxy.not_registered"
PROXY_NOT_CLOSE_RELATIVE: Final = "proxy.not_close_relative"
PROXY_NOT_AUTHORISED: Final = "proxy.not_authorised"
PROXY_LIST_MISMATCH: Final = "proxy.list_mismatch"
# polling units, boxes, ballots
UNIT_OBSERVERS: Final = "unit.observers"
UNIT_OBSERVER_IS_CANDIDATE: Final = "unit.observer_is_candidate"
UNIT_NOT_OPEN: Final = "unit.not_open"
OBSERVER_NOT_ACCREDITED: Final = "observer.not_accredited"
OBSERVER_BUSY: Final = "observer.busy"
UNIT_RETURNED_EXCEEDS_ISSUED: Final = "unit.returned_exceeds_issued"
BOX_SEQUENCE: Final = "box.sequence"
BOX_SMALL_BATCH: Final = "box.small_batch"
BALLOT_DUPLICATE_ISSUE: Final = "ballot.duplicate_issue"
BALLOT_NOT_REGISTERED: Final = "ballot.not_registered"
BALLOT_NOT_ENTITLED: Final = "ballot.not_entitled"
BALLOT_DUPLICATE_SERIAL: Final = "ballot.duplicate_serial"
WRITEIN_NOT_REGISTERED: Final = "writein.not_registered"
# results and rounds
RESULT_MISMATCH: Final = "result.mismatch"
RESULT_PREMATURE: Final = "result.premature"
ROUND_NOT_WARRANTED: Final = "round.not_warranted"
ROUND_CANDIDATES_MISMATCH: Final = "round.candidates_mismatch"
# risk-limiting audit
RLA_EVENT_ORDER: Final = "rla.event_order"
RLA_ROUND_FROZEN: Final = "rla.round_frozen"
RLA_CHECKPOINT_MISMATCH: Final = "rla.checkpoint_mismatch"
RLA_MANIFEST_HASH: Final = "rla.manifest_hash"
RLA_MANIFEST_MISMATCH: Final = "rla.manifest_mismatch"
RLA_SAMPLE_MISMATCH: Final = "rla.sample_mismatch"
RLA_INTERPRETATION_INVALID: Final = "rla.interpretation_invalid"
RLA_RISK_MISMATCH: Final = "rla.risk_mismatch"
RLA_PARAMETERS_INVALID: Final = "rla.parameters_invalid"
# eligibility sample
ELIGIBILITY_EVENT_ORDER: Final = "eligibility.event_order"
ELIGIBILITY_CHECKPOINT_MISMATCH: Final = "eligibility.checkpoint_mismatch"
ELIGIBILITY_SAMPLE_MISMATCH: Final = "eligibility.sample_mismatch"
ELIGIBILITY_SAMPLE_FAILURE: Final = "eligibility.sample_failure"


def _r(code: str, summary: str, parameter: str | None = None, kind: str = "violation") -> RuleInfo:
    return RuleInfo(code=code, summary=summary, parameter=parameter, kind=kind)


RULES: Final[dict[str, RuleInfo]] = {
    info.code: info
    for info in (
        _r(GENESIS_MISSING, "the first event of the log is not election.defined"),
        _r(GENESIS_NOT_AUTHORITY, "election.defined is not signed by the election authority key"),
        _r(GENESIS_DUPLICATE, "a second election.defined after the genesis"),
        _r(GENESIS_RULES_HASH, "the genesis rules_hash is not SHA-256 of the recorded RuleSet"),
        _r(
            GENESIS_INVALID,
            "the election definition is inconsistent (a repeated community or post id, a "
            "reserved group post id used as a community post, a group_rep community without "
            "resident groups)",
        ),
        _r(SIGNER_UNAUTHORISED, "the signer key was never authorised in this election"),
        _r(SIGNER_ROLE, "the signer key holds no role allowed to sign this event type"),
        _r(SIGNER_SCOPE, "the signer's role is limited to other communities"),
        _r(SIGNER_REVOKED, "the signer key was revoked before this entry"),
        _r(
            REF_UNKNOWN,
            "the event names an id that does not exist (community, group, post, "
            "unit, box, objection, nomination, committee member, key), a household with no "
            "registered voter, or a transfer target that is no unit of the box's community "
            "and round",
        ),
        _r(
            REF_DUPLICATE,
            "the event reuses an id that must be unique, or repeats a one-time "
            "act (unit, box, objection decision, candidate list, proxy list, a principal's "
            "proxy, result, round), or a withdrawn committee member rejoins",
        ),
        _r(
            PHASE_OUT_OF_WINDOW,
            "the event is outside its phase (e.g. a nomination before the "
            "roll is published or after the candidate list, a unit opened before election day "
            "or before the proxy list, a ballot recorded after the round's result)",
        ),
        _r(
            TIME_INCONSISTENT,
            "a signer's claimed time is earlier than the claimed time of its previous event "
            "(writer and auditor); the auditor also binds claimed times to the witness "
            "cosignature times around the entry, within time_tolerance_seconds",
            "time_tolerance_seconds",
        ),
        _r(
            EVENT_PROFILE_MISMATCH,
            "an event written in a schema other than the public profile's (schema 1 under "
            "full, schema 2 under minimal) for a type whose body differs by profile "
            "(voter.removed, objection.filed, objection.decided, committee.member_withdrawn, "
            "nomination.withdrawn, vetting.decided, proxy.authorised, key.revoked; "
            "voter.registered has its own code, voter.profile_mismatch)",
            "public_profile",
        ),
        _r(
            COMMITTEE_SIZE,
            "the election committee has fewer than committee_min sitting members when the "
            "roll is published (first publication or republication), or an appointment "
            "would make its members and open vacancies more than committee_max",
            "committee_min, committee_max",
        ),
        _r(
            COMMITTEE_MEMBER_NOT_WITHDRAWN,
            "a listed candidate is still an election committee "
            "member when the candidate list is published, or joins the committee afterwards",
        ),
        _r(
            VOTER_DUPLICATE,
            "a person (voter id or dedup tag) already has an active registration, in any community",
        ),
        _r(VOTER_UNDERAGE, "the voter is younger than min_age on election day", "min_age"),
        _r(
            VOTER_BASIS_INVALID,
            "the eligibility basis is not accepted or its evidence is "
            "missing (non-local: years resident and meeting approval)",
            "eligible_bases, non_local_min_years",
        ),
        _r(
            VOTER_PROFILE_MISMATCH,
            "a voter.registered schema other than the public profile's (v1 under full, v2 "
            "under minimal)",
            "public_profile",
        ),
        _r(
            VOTER_REMOVAL_WITHOUT_REASON,
            "a removal without one of the accepted reasons (removal_reasons under full, the "
            "codes removal_codes under minimal), or 'objection_upheld' without an upheld "
            "wrongful_inclusion or data_error objection about that voter",
            "removal_reasons, removal_codes",
        ),
        _r(
            VOTER_REMOVAL_CODE_MISMATCH,
            "under minimal, the opened detail of a removal (c_reason) is a full removal reason "
            "or a removal code that maps to another code than the public one (REMOVAL_CODE_OF: "
            "'died' is eligibility_ended); checked from the openings",
            "removal_codes",
            kind="finding",
        ),
        _r(VOTER_NOT_REGISTERED, "a removal names a voter who is not on the roll"),
        _r(
            VOTER_REMOVAL_AFTER_ROLL_WITHOUT_OBJECTION,
            "after the roll's first publication, a removal with a reason other than "
            "'objection_upheld'",
        ),
        _r(
            ROLL_FROZEN,
            "a registration, removal or unit representative after the community's first "
            "ballot issuance (the roll is frozen for the vote)",
        ),
        _r(
            REGISTRATION_AFTER_ROLL_WITHOUT_OBJECTION,
            "a registration after the roll's first "
            "publication that does not cite an upheld omission or data_error objection about "
            "that voter, or a unit representative registered after it (no objection adds one)",
        ),
        _r(
            ROLL_PUBLISHED_LATE,
            "the roll is first published fewer than roll_days_before days before election day",
            "roll_days_before",
        ),
        _r(ROLL_HASH_MISMATCH, "roll.published size or hash differs from the replayed roll"),
        _r(
            OBJECTION_LATE,
            "an objection filed more than objection_days days after the roll's first publication",
            "objection_days",
        ),
        _r(
            OBJECTION_DECISION_LATE,
            "an objection decided more than objection_decision_days days after its filing",
            "objection_decision_days",
        ),
        _r(
            HOUSEHOLD_DUPLICATE_BALLOT,
            "a household received more than household_ballots "
            "ballots (group election, or a household_rep community)",
            "household_ballots",
        ),
        _r(
            NOMINATION_NOMINATOR_LIMIT,
            "a nominator named more candidates for a post than allowed (default: the post's seats)",
            "nominator_limit",
        ),
        _r(
            NOMINATION_NOT_REGISTERED,
            "a candidate or nominator is not a registered voter of the community when "
            "nominated, or a listed candidate is not one when the candidate list is published",
        ),
        _r(VETTING_MISSING, "a listed candidate has no approving vetting decision"),
        _r(
            VETTING_CODE_UNKNOWN,
            "a vetting.decided v2 (minimal profile) whose criteria_code is not one of "
            "vetting_codes",
            "vetting_codes",
        ),
        _r(
            CANDIDATES_NOT_MORE_THAN_SEATS,
            "差额: a post lists fewer than seats + its excess (min_candidate_excess, or the "
            "post's override) candidates",
            "min_candidate_excess, post_candidate_excess",
        ),
        _r(
            CANDIDATES_LIST_LATE,
            "the candidate list is published fewer than "
            "candidates_days_before days before election day",
            "candidates_days_before",
        ),
        _r(
            CANDIDATES_LIST_MISMATCH,
            "the published list omits an approved, not withdrawn "
            "nominee, or its posts and seats differ from the definition",
        ),
        _r(PROXY_CAP_EXCEEDED, "a proxy would hold more than proxy_cap principals", "proxy_cap"),
        _r(
            PROXY_PRINCIPAL_VOTED,
            "a principal who gave a proxy is issued a ballot in person, "
            "or gives a proxy after being issued one",
        ),
        _r(
            PROXY_NOT_REGISTERED,
            "principal or proxy is not a registered voter of the "
            "community, or they are the same person, or the proxy gave a proxy themselves, or "
            "the principal holds a proxy for others",
        ),
        _r(
            PROXY_NOT_CLOSE_RELATIVE,
            "the proxy's relationship is not an accepted close relative (under minimal: the "
            "writer does not state close_relative; the committed relationship, c_rel, is "
            "checked from the openings)",
            "proxy_relationships",
        ),
        _r(PROXY_NOT_AUTHORISED, "a proxy ballot for a principal without a matching authorisation"),
        _r(
            PROXY_LIST_MISMATCH,
            "proxy.list_published count or hash differs from the replayed proxies",
        ),
        _r(
            UNIT_OBSERVERS,
            "fewer than min_observers distinct observers when a unit or a box is opened",
            "min_observers",
        ),
        _r(UNIT_OBSERVER_IS_CANDIDATE, "an observer is a candidate of the community"),
        _r(
            OBSERVER_NOT_ACCREDITED,
            "a unit or box opening names an observer not accredited in the community by an "
            "earlier observer.accredited",
        ),
        _r(
            OBSERVER_BUSY,
            "a unit opening names an observer who is already observing another open unit",
        ),
        _r(UNIT_NOT_OPEN, "a ballot issued at, or an act on, a unit that is not open"),
        _r(
            UNIT_RETURNED_EXCEEDS_ISSUED,
            "more ballots recorded from a counting batch than issued into it (a warning "
            "reported by the auditor; the round is void only when the round's ballots returned "
            "exceed its ballots issued)",
            kind="finding",
        ),
        _r(
            BOX_SEQUENCE,
            "box acts out of order: sealed once, transferred or merged only while sealed and "
            "neither opened nor merged, opened once after its unit closed; ballots recorded "
            "only into an opened box",
        ),
        _r(
            BOX_SMALL_BATCH,
            "a box opened for counting although fewer than min_count_batch ballots were issued "
            "into its counting batch (merge it into another box first, box.merged)",
            "min_count_batch",
        ),
        _r(BALLOT_DUPLICATE_ISSUE, "a second ballot issued to one voter in one round"),
        _r(
            BALLOT_NOT_REGISTERED,
            "a ballot issued to someone not on the community's roll "
            "(unit representatives do not vote)",
        ),
        _r(
            BALLOT_NOT_ENTITLED,
            "in a group_rep community, a ballot issued to a voter who is "
            "not an elected group representative",
        ),
        _r(BALLOT_DUPLICATE_SERIAL, "a ballot serial recorded twice in one round"),
        _r(
            WRITEIN_NOT_REGISTERED,
            "a recorded ballot's write-in names someone not on the roll (of the group, in a "
            "group election): refused; the counting unit records that post as "
            '{"void": "writein_not_registered"}, only the reason, and the post is void on '
            "that ballot",
        ),
        _r(RESULT_MISMATCH, "a declared result differs from the recomputed tally"),
        _r(
            RESULT_PREMATURE,
            "a result declared while a unit of the round is open or a sealed box is unopened",
        ),
        _r(
            ROUND_NOT_WARRANTED,
            "a re-vote or supplementary round called for a post without a "
            "tie, unfilled seats or a void round",
        ),
        _r(
            ROUND_CANDIDATES_MISMATCH,
            "a called round's seats or candidates differ from the "
            "tied persons / the supplementary candidates of the source round",
            "min_candidate_excess, post_candidate_excess",
        ),
        _r(
            RLA_EVENT_ORDER,
            "an audit event out of its order (a second declaration or seed; a seed before the "
            "declaration; a sample before the seed or of a round not under audit; an "
            "interpretation before its sample; a round closed before every drawn ballot is "
            "interpreted; anything after the round's conclusion); the auditor also names a seed "
            "drawn before a witnessed checkpoint covered the declaration",
        ),
        _r(
            RLA_ROUND_FROZEN,
            "a ballot recorded for a community round after its audit was declared",
            kind="finding",
        ),
        _r(
            RLA_CHECKPOINT_MISMATCH,
            "the audit declaration pins a checkpoint the log does not have (a size beyond the "
            "declaration, a root other than the replayed tree's, or not witnessed)",
        ),
        _r(
            RLA_MANIFEST_HASH,
            "the audit declaration's manifest hash, or its rounds, do not match the rounds' "
            "recomputed Arlo ballot manifest (rounds without a declared result included)",
        ),
        _r(
            RLA_MANIFEST_MISMATCH,
            "the paper sheets the audit board counted in a box differ from the ballots "
            "recorded from it (missing paper counts as the worst case when sampled)",
            kind="finding",
        ),
        _r(
            RLA_SAMPLE_MISMATCH,
            "an audit sample is not the consistent sampler's draws for the public seed, or "
            "continues from the wrong draw, or is smaller than the round's required sample",
        ),
        _r(
            RLA_INTERPRETATION_INVALID,
            "an audit interpretation of a ballot not drawn (or already interpreted), with marks "
            "while not_found, or signed by a counting-unit key",
        ),
        _r(
            RLA_PARAMETERS_INVALID,
            "an audit declaration's risk limit is not strictly between 0 and 1, or it asks for "
            "the Kaplan–Markov test without replacement",
        ),
        _r(
            RLA_RISK_MISMATCH,
            "an audit round's p-values, discrepancy counts, sample count or confirmation differ "
            "from the recomputed risk, or an audit concludes 'confirmed' without a confirming "
            "round",
        ),
        _r(
            ELIGIBILITY_EVENT_ORDER,
            "an eligibility sample event out of its order (a second sample drawn; a result "
            "before the sample, or a second result)",
        ),
        _r(
            ELIGIBILITY_CHECKPOINT_MISMATCH,
            "the eligibility sample pins a checkpoint the roll changed after (a registration or "
            "removal since), one beyond the draw, or (the auditor) a checkpoint the log does not "
            "have or that was not witnessed",
        ),
        _r(
            ELIGIBILITY_SAMPLE_MISMATCH,
            "the eligibility sample is not the consistent sampler's first k draws under its "
            "seed over the active registrations, its roll size is not theirs, or its result "
            "names another seed, another count or a voter not sampled",
        ),
        _r(
            ELIGIBILITY_SAMPLE_FAILURE,
            "a sampled registration failed the audit board's check against the paper records "
            "(reported by the auditor, naming the voter's registration entry)",
            kind="finding",
        ),
    )
}
