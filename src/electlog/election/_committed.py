"""The ``minimal`` public profile's events with committed details, made for one writer.

:class:`CommittedDetails` turns the arguments of a ``full``-profile event (a removal reason, an
objection's grounds, a vetting text, a proxy's relationship and attestation ...) into the
schema-2 event of the ``minimal`` profile: RuleSet codes where a rule needs one, and a
commitment under a per-entry detail salt (:func:`~electlog.election.receipts.detail_salt`) for
each text. It remembers every (salt, committed map) it made, so the writer can export the
openings (docs/election.md, "Codes and committed details").
"""

from __future__ import annotations

from electlog.errors import UsageError

from .events import (
    CommitteeMemberWithdrawn,
    CommitteeMemberWithdrawnV2,
    KeyRevoked,
    KeyRevokedV2,
    NominationWithdrawn,
    NominationWithdrawnV2,
    ObjectionDecided,
    ObjectionDecidedV2,
    ObjectionFiled,
    ObjectionFiledV2,
    ProxyAuthorised,
    ProxyAuthorisedV2,
    VettingDecided,
    VettingDecidedV2,
    VoterRemoved,
    VoterRemovedV2,
)
from .receipts import commitment, detail_salt
from .rules import REMOVAL_CODE_OF, RuleSet

__all__ = ["CommittedDetails", "Details", "natural_ref"]

Details = dict[tuple[str, str, str], tuple[bytes, dict[str, str]]]
"""(event type, entry ref, field) -> (salt, the committed map)."""


def natural_ref(event: object) -> str | None:
    """The natural id :class:`CommittedDetails` gives a schema-2 event with committed details
    (the first part of its entry ref; ``#n`` follows from the second occurrence on), or
    ``None`` for an event without committed details. A writer re-deriving its detail salts
    for an openings bundle starts from it."""
    match event:
        case KeyRevokedV2():
            return event.key_id.hex()
        case CommitteeMemberWithdrawnV2():
            return f"{event.community}/{event.member}"
        case VoterRemovedV2():
            return event.voter
        case ObjectionFiledV2() | ObjectionDecidedV2():
            return event.objection
        case NominationWithdrawnV2():
            return f"{event.community}/{event.post}/{event.candidate}"
        case VettingDecidedV2():
            return f"{event.community}/{event.candidate}"
        case ProxyAuthorisedV2():
            return f"{event.community}/{event.principal}"
    return None


class CommittedDetails:
    """The schema-2 events of one election's writer(s): ``secret`` is the writers' secret the
    detail salts derive from, ``election_id`` the election's id; :attr:`details` holds every
    detail committed so far."""

    def __init__(self, secret: bytes, election_id: str, rules: RuleSet, details: Details) -> None:
        self.secret = secret
        self.election_id = election_id
        self.rules = rules
        self.details = details
        self._occurrences: dict[tuple[str, str], int] = {}

    def ref(self, event_type: str, natural: str) -> str:
        """The entry ref of a detail salt: the entry's natural id, with ``#n`` from its
        second occurrence on."""
        n = self._occurrences.get((event_type, natural), 0) + 1
        self._occurrences[(event_type, natural)] = n
        return natural if n == 1 else f"{natural}#{n}"

    def commit(self, event_type: str, ref: str, field: str, opened: dict[str, str]) -> bytes:
        """The commitment to ``opened`` under the detail salt of (``event_type``, ``ref``,
        ``field``), remembered in :attr:`details`."""
        salt = detail_salt(self.secret, self.election_id, event_type, ref, field)
        self.details[(event_type, ref, field)] = (salt, dict(opened))
        return commitment(salt, opened)

    def _reason(self, event_type: str, natural: str, reason: str) -> bytes:
        return self.commit(event_type, self.ref(event_type, natural), "reason", {"reason": reason})

    def key_revocation(self, key_id: bytes, reason: str) -> KeyRevokedV2:
        """``key.revoked`` v2: ``reason`` committed."""
        return KeyRevokedV2(
            key_id=key_id, c_reason=self._reason(KeyRevoked.TYPE, key_id.hex(), reason)
        )

    def committee_withdrawal(
        self, community: str, member: str, reason: str
    ) -> CommitteeMemberWithdrawnV2:
        """``committee.member_withdrawn`` v2: ``reason`` committed."""
        c_reason = self._reason(CommitteeMemberWithdrawn.TYPE, f"{community}/{member}", reason)
        return CommitteeMemberWithdrawnV2(community=community, member=member, c_reason=c_reason)

    def removal(
        self, voter: str, community: str, reason: str, objection: str | None, detail: str | None
    ) -> VoterRemovedV2:
        """``voter.removed`` v2: ``reason``'s code (:data:`REMOVAL_CODE_OF`, or ``reason``
        itself) and ``detail`` (default ``reason``) committed."""
        c_reason = self._reason(VoterRemoved.TYPE, voter, reason if detail is None else detail)
        return VoterRemovedV2(
            voter=voter,
            community=community,
            reason=REMOVAL_CODE_OF.get(reason, reason),
            objection=objection,
            c_reason=c_reason,
        )

    def objection(
        self,
        objection: str,
        community: str,
        voter: str,
        kind: str,
        grounds: str,
        *,
        upheld: bool,
        reason: str,
    ) -> tuple[ObjectionFiledV2, ObjectionDecidedV2]:
        """``objection.filed`` v2 (grounds committed) and ``objection.decided`` v2 (reason
        committed)."""
        filed_ref = self.ref(ObjectionFiled.TYPE, objection)
        grounds_c = self.commit(ObjectionFiled.TYPE, filed_ref, "grounds", {"grounds": grounds})
        return (
            ObjectionFiledV2(
                objection=objection,
                community=community,
                voter=voter,
                kind=kind,
                c_grounds=grounds_c,
            ),
            ObjectionDecidedV2(
                objection=objection,
                community=community,
                upheld=upheld,
                c_reason=self._reason(ObjectionDecided.TYPE, objection, reason),
            ),
        )

    def nomination_withdrawal(
        self, community: str, post: str, candidate: str, reason: str
    ) -> NominationWithdrawnV2:
        """``nomination.withdrawn`` v2: ``reason`` committed."""
        natural = f"{community}/{post}/{candidate}"
        return NominationWithdrawnV2(
            community=community,
            post=post,
            candidate=candidate,
            c_reason=self._reason(NominationWithdrawn.TYPE, natural, reason),
        )

    def vetting(
        self,
        community: str,
        candidate: str,
        criteria: tuple[str, str],
        *,
        approved: bool,
        code: str | None,
    ) -> VettingDecidedV2:
        """``vetting.decided`` v2: ``approved``, the public ``code``, and the criterion
        reference and reason (``criteria``) committed together."""
        ref, reason = criteria
        entry = self.ref(VettingDecided.TYPE, f"{community}/{candidate}")
        opened = {"criteria_ref": ref, "reason": reason}
        return VettingDecidedV2(
            community=community,
            candidate=candidate,
            approved=approved,
            criteria_code=code,
            c_reason=self.commit(VettingDecided.TYPE, entry, "reason", opened),
        )

    def proxy(
        self, community: str, principal: str, proxy: str, relationship: str, attestation: bytes
    ) -> ProxyAuthorisedV2:
        """``proxy.authorised`` v2: ``close_relative`` (``relationship`` is one of
        ``proxy_relationships``), the relationship and the attestation committed."""
        if not isinstance(attestation, bytes) or len(attestation) != 32:
            raise UsageError("attestation must be the 32-byte SHA-256 of the written authorisation")
        kind = ProxyAuthorised.TYPE
        ref = self.ref(kind, f"{community}/{principal}")
        return ProxyAuthorisedV2(
            community=community,
            principal=principal,
            proxy=proxy,
            close_relative=relationship in self.rules.proxy_relationships,
            c_rel=self.commit(kind, ref, "rel", {"relationship": relationship}),
            c_attestation=self.commit(kind, ref, "attestation", {"attestation": attestation.hex()}),
        )
