"""One election builder, phase by phase, driven by a chooser.

Three callers build whole elections through the :class:`~electlog.election.facade.Election`
facade: the small fixed :class:`~electlog.election.scenario.Scenario` (tests, tamper tests,
examples), the district simulator (:func:`electlog.simulate.simulate_district`, ``electlog
demo``) and the hypothesis strategies (:class:`electlog.testing.strategies.ElectionBuilder`).
Each is a :class:`PhaseBuilder`: it runs its phases in order (:attr:`PhaseBuilder.PHASES`),
keeps the election, its authors and the submission path, reads the calendar
(:meth:`PhaseBuilder.local_time`) and makes its events here: the genesis and key grants,
registrations with their dedup tags and commitments, committee changes, objections and their
decisions, roll and proxy-list publications, group and round results (from the live state),
household ballots, vetting decisions, candidate lists, proxies, observers, polling units, boxes,
issued ballots, counting batches, follow-up rounds and cosigned checkpoints.

What stays in each caller is its story (a fixed two-community election, a seeded district, a
drawn one), its time plan and how it batches submissions; every choice in that story is asked
of a :class:`~electlog.election.choosers.Chooser`: a ``FixedChooser`` for the scenario, a
``RandomChooser`` for the simulator (each call consumes exactly the draws of the
:class:`random.Random` call it names, so a seed still gives the same log byte for byte), a
``DrawChooser`` (hypothesis) for the strategies.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Final, Self

import attrs

from electlog.checkpoint import Checkpoint, WitnessSigner, cosign
from electlog.errors import UsageError
from electlog.events import Author
from electlog.keys import SigningKey
from electlog.log import Log
from electlog.note import NoteSigner, sign_note

from ._committed import CommittedDetails, Details
from .choosers import Chooser
from .events import (
    AnyVoterRegistered,
    BallotIssued,
    BallotRecorded,
    BoxMerged,
    BoxOpened,
    BoxSealed,
    BoxTransferred,
    CandidatesPublished,
    CommitteeMemberAppointed,
    CommitteeMemberWithdrawn,
    CommitteeVacancyFilled,
    CommunityDef,
    ElectionDefined,
    ElectionEvent,
    EligibilitySampleChecked,
    EligibilitySampleDrawn,
    GroupResultDeclared,
    GroupVotingClosed,
    HouseholdBallotCast,
    HouseholdBallotIssued,
    KeyAuthorised,
    KeyRevoked,
    KeyRevokedV2,
    NominationFiled,
    NominationWithdrawn,
    NominationWithdrawnV2,
    ObjectionDecided,
    ObjectionDecidedV2,
    ObjectionFiled,
    ObjectionFiledV2,
    ObserverAccredited,
    PostDef,
    PostList,
    ProxyAuthorised,
    ProxyAuthorisedV2,
    ProxyListPublished,
    ResultDeclared,
    RollPublished,
    RoundCalled,
    UnitClosed,
    UnitOpened,
    UnitRepRegistered,
    VettingDecided,
    VettingDecidedV2,
    VoterRegistered,
    VoterRemoved,
    VoterRemovedV2,
)
from .facade import Election
from .receipts import (
    commitment,
    dedup_tag,
    household_tag,
    minimal_registration,
)
from .rules import PublicProfile, Role, RuleSet
from .state.eligibility import sample_checked, sample_drawn
from .tally import PostMarks, RoundResult, supplementary_candidates

__all__ = [
    "ROLE_KEY_NAMES",
    "PhaseBuilder",
    "RoleKeys",
    "checkpoint_note",
    "cosigned_checkpoint",
    "follow_up_round",
]

_EPOCH_ORDINAL: Final = _dt.date(1970, 1, 1).toordinal()


def cosigned_checkpoint(
    checkpoint: Checkpoint,
    signer: NoteSigner,
    witnesses: Iterable[WitnessSigner],
    timestamp: int,
) -> str:
    """``checkpoint`` signed by ``signer`` and cosigned by every witness at ``timestamp``
    (POSIX seconds). In-process witnesses refuse nothing: for tests, property tests and the
    simulator without a publish hook, never a model of witnessing."""
    note = sign_note(checkpoint.to_text(), [signer])
    for witness in witnesses:
        note = cosign(note, witness, timestamp)
    return note


def checkpoint_note(
    log: Log, signer: NoteSigner, witnesses: Iterable[WitnessSigner], timestamp: int
) -> str:
    """A :func:`cosigned_checkpoint` of the whole ``log``, stored in the log; returns the
    note."""
    size = len(log)
    checkpoint = Checkpoint(origin=log.origin, size=size, root=log.root(size))
    note = cosigned_checkpoint(checkpoint, signer, witnesses, timestamp)
    log.add_checkpoint(note)
    return note


ROLE_KEY_NAMES: Final = {
    "registrar": Role.REGISTRAR,
    "committee": Role.ELECTION_COMMITTEE,
    "vetting": Role.VETTING_COMMITTEE,
    "polling": Role.POLLING_STATION,
    "counting": Role.COUNTING_UNIT,
}
"""The role of each field of :class:`RoleKeys` but the authority, in the order they are
authorised."""


@attrs.frozen(kw_only=True)
class RoleKeys:
    """The keys of a small election: the authority (genesis, keys, committees) and one
    whole-election key per role (the scenario's and the strategies' key sets)."""

    authority: SigningKey
    registrar: SigningKey
    committee: SigningKey
    vetting: SigningKey
    polling: SigningKey
    counting: SigningKey

    @classmethod
    def derive(cls, derive: Callable[[str], bytes]) -> Self:
        """Every key from the 32-byte seed ``derive(name)`` (``"authority"``, then each name of
        :data:`ROLE_KEY_NAMES`)."""
        return cls(
            **{name: SigningKey.from_seed(derive(name)) for name in ("authority", *ROLE_KEY_NAMES)}
        )

    def roles(self) -> list[tuple[SigningKey, Role]]:
        """Every non-authority key with its role."""
        return [(getattr(self, name), role) for name, role in ROLE_KEY_NAMES.items()]

    def by_key_id(self) -> dict[bytes, SigningKey]:
        """Every key by its key id."""
        keys = [self.authority, *(key for key, _ in self.roles())]
        return {k.key_id: k for k in keys}


def follow_up_round(
    first: RoundResult, listed: Mapping[str, tuple[int, Sequence[str]]], rules: RuleSet
) -> tuple[str, list[PostList]]:
    """The round a community's first round ``first`` calls for: ``("rerun", every post)`` when
    the round is void, ``("revote", the tied posts)`` after a tie at the cut-off, otherwise
    ``("supplementary", the posts with unfilled seats)`` (另行选举: candidates from round 1 in
    vote order, ``candidate_excess_for`` more than the seats). ``listed``: post -> (seats,
    candidates) of round 1. The posts are empty when nothing is left to elect."""
    if first.round_void:
        return "rerun", [
            PostList(post=p, seats=seats, candidates=tuple(cands))
            for p, (seats, cands) in listed.items()
        ]
    if any(pr.tied for pr in first.posts.values()):
        return "revote", [
            PostList(post=pr.post, seats=pr.revote_seats, candidates=tuple(sorted(pr.tied)))
            for pr in first.posts.values()
            if pr.tied
        ]
    posts = []
    for pr in first.posts.values():
        if pr.unfilled:
            cands = supplementary_candidates(pr, pr.unfilled + rules.candidate_excess_for(pr.post))
            if cands:
                posts.append(PostList(post=pr.post, seats=pr.unfilled, candidates=cands))
    return "supplementary", posts


class PhaseBuilder:
    """The phases of an election, run in order (:attr:`PHASES`, one method each), and every
    event they submit, made in one place.

    A subclass names its phases and decides its plans with :attr:`choose` (a
    :class:`~electlog.election.choosers.Chooser`); the events come from the methods below,
    which read the live state where an event must match it (roll hash, proxy list, group and
    round results). :meth:`send` submits a batch as one author now (the simulator queues its
    batches and submits them in time order through :meth:`author` itself).
    """

    PHASES: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        log: Log,
        rules: RuleSet,
        choose: Chooser,
        *,
        dedup_secret: bytes,
        election_day: _dt.date,
        detail_secret: bytes | None = None,
    ) -> None:
        self.log = log
        self.election_day = election_day
        self.rules = rules
        self.choose = choose
        self.dedup_secret = dedup_secret
        self.detail_secret = dedup_secret if detail_secret is None else detail_secret
        """The writers' secret the ``minimal`` profile's detail salts derive from
        (:func:`~electlog.election.receipts.detail_salt`; the registrars' secret when not
        given: one operator writes every event of a built election)."""
        self.details: Details = {}
        """Every detail committed under ``minimal``: (event type, entry ref, field) -> (salt,
        the committed map), what an openings bundle exports."""
        self._committed: CommittedDetails | None = None
        self.election: Election | None = None
        self.authors: dict[bytes, Author] = {}
        self.done: list[str] = []

    # ------------------------------------------------------------------ running

    @property
    def e(self) -> Election:
        """The election (after the genesis, :meth:`create`)."""
        if self.election is None:
            raise UsageError("the election is not defined yet: run the define phase first")
        return self.election

    def next_phase(self) -> str | None:
        """Run the next phase; returns its name (``None`` when every phase has run)."""
        if len(self.done) == len(self.PHASES):
            return None
        name = self.PHASES[len(self.done)]
        getattr(self, name)()
        self.done.append(name)
        return name

    def run_phases(self, until: str | None = None) -> None:
        """Run the phases not yet run, stopping before ``until`` (``None``: every phase)."""
        if until is not None and until not in self.PHASES:
            raise UsageError(f"unknown phase {until!r}; one of {self.PHASES}")
        while len(self.done) < len(self.PHASES) and self.PHASES[len(self.done)] != until:
            self.next_phase()

    def local_time(self, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
        """µs UTC of local ``hour:minute:second`` (in the rules' time zone) on election day +
        ``day`` (``minute`` may run past 59)."""
        days = self.election_day.toordinal() - _EPOCH_ORDINAL + day
        local = days * 86_400 + (hour * 60 + minute) * 60 + second
        return (local - self.rules.tz_offset_minutes * 60) * 1_000_000

    def author(self, key: SigningKey) -> Author:
        """The author signing as ``key`` (one per key, resumed at its head in the log)."""
        author = self.authors.get(key.key_id)
        if author is None:
            author = self.authors[key.key_id] = self.e.author(key)
        return author

    def send(self, key: SigningKey, items: Iterable[tuple[ElectionEvent, int]]) -> None:
        """Check, sign, append and apply ``items`` as ``key``'s next entries (one batch)."""
        batch = list(items)
        if batch:
            self.e.submit_many(self.author(key), batch)

    # ------------------------------------------------------------------ define

    def create(self, authority: SigningKey, definition: ElectionDefined, time: int) -> Election:
        """Sign the genesis (``definition``) into the empty log at ``time``."""
        self.election = Election.create(self.log, authority, definition, time=time)
        return self.election

    @staticmethod
    def community(
        cid: str, name: str, mode: str, groups: Sequence[str], posts: Sequence[tuple[str, int]]
    ) -> CommunityDef:
        """A community's definition: ``posts`` as ``(post, seats)`` ranked in this order."""
        return CommunityDef(
            community=cid,
            name=name,
            mode=mode,
            groups=tuple(groups),
            posts=tuple(
                PostDef(post=post, seats=seats, rank=rank)
                for rank, (post, seats) in enumerate(posts)
            ),
        )

    def election_definition(
        self, election_id: str, name: str, communities: Iterable[CommunityDef]
    ) -> ElectionDefined:
        """The genesis event: this builder's election day and rules."""
        return ElectionDefined(
            election_id=election_id,
            name=name,
            election_day=self.election_day,
            communities=tuple(communities),
            rules=self.rules,
            rules_hash=self.rules.hash(),
        )

    @staticmethod
    def key_grants(
        grants: Iterable[tuple[SigningKey, str, tuple[str, ...], str]],
    ) -> list[ElectionEvent]:
        """``key.authorised`` for each ``(key, role, scope, label)``."""
        return [
            KeyAuthorised(key_id=key.key_id, role=role, scope=scope, label=label)
            for key, role, scope, label in grants
        ]

    @staticmethod
    def appointments(community: str, members: Iterable[str], by: str) -> list[ElectionEvent]:
        """A committee member appointed by ``by`` for each of ``members``."""
        return [
            CommitteeMemberAppointed(community=community, member=m, appointed_by=by)
            for m in members
        ]

    def committee_change(
        self, community: str, member: str, replacement: str, reason: str, by: str
    ) -> tuple[ElectionEvent, ElectionEvent]:
        """``member`` withdraws from the committee (``reason``; committed under ``minimal``)
        and ``replacement`` fills the vacancy (appointed by ``by``)."""
        m = self._minimal()
        withdrawn: ElectionEvent = (
            CommitteeMemberWithdrawn(community=community, member=member, reason=reason)
            if m is None
            else m.committee_withdrawal(community, member, reason)
        )
        return (
            withdrawn,
            CommitteeVacancyFilled(
                community=community, member=replacement, replaces=member, appointed_by=by
            ),
        )

    def key_revocation(self, key_id: bytes, reason: str) -> KeyRevoked | KeyRevokedV2:
        """Every role of ``key_id`` ends (``reason``; committed under ``minimal``)."""
        m = self._minimal()
        return (
            KeyRevoked(key_id=key_id, reason=reason)
            if m is None
            else m.key_revocation(key_id, reason)
        )

    def _minimal(self) -> CommittedDetails | None:
        """The maker of the ``minimal`` profile's events (``None`` under ``full``)."""
        if self.rules.public_profile != PublicProfile.MINIMAL:
            return None
        if self._committed is None:
            definition = self.e.state.definition
            if definition is None:
                raise UsageError("the election is not defined yet: run the define phase first")
            self._committed = CommittedDetails(
                self.detail_secret, definition.election_id, self.rules, self.details
            )
        return self._committed

    # ------------------------------------------------------------------ the roll

    def _election_id(self) -> str | None:
        """The election id under the ``minimal`` profile (per-election keys), else ``None``."""
        if self.rules.public_profile != PublicProfile.MINIMAL:
            return None
        definition = self.e.state.definition
        return None if definition is None else definition.election_id

    def household_ref(self, household: str) -> str:
        """How the public log names the registrars' ``household``: the id itself under the
        ``full`` profile, its per-election :func:`household_tag` under ``minimal``."""
        eid = self._election_id()
        return household if eid is None else household_tag(self.dedup_secret, eid, household)

    def voter_registration(
        self, *, salt: bytes, name: str, id_number: str, **fields: Any
    ) -> AnyVoterRegistered:
        """A registration whose dedup tag (of ``id_number``, under :attr:`dedup_secret`) and
        commitment (``salt`` over ``name`` and ``id_number``) the builder makes; ``fields``
        are the event's other fields (a ``dedup`` or ``commitment`` among them wins). Under
        the ``minimal`` public profile, the v2 event of the same fields
        (:func:`~electlog.election.receipts.minimal_registration`)."""
        eid = self._election_id()
        if eid is not None:
            return minimal_registration(self.dedup_secret, eid, salt, name, id_number, fields)
        body: dict[str, Any] = {
            "dedup": dedup_tag(self.dedup_secret, id_number),
            "commitment": commitment(salt, {"name": name, "id_number": id_number}),
        }
        body.update(fields)
        return VoterRegistered(**body)

    def removal(
        self,
        voter: str,
        community: str,
        reason: str,
        objection: str | None = None,
        *,
        detail: str | None = None,
    ) -> VoterRemoved | VoterRemovedV2:
        """``voter`` removed from ``community``'s roll for ``reason`` (citing the upheld
        ``objection``, if any). Under ``minimal``, ``reason``'s code
        (:data:`~electlog.election.rules.REMOVAL_CODE_OF`, or ``reason`` itself when it is
        not a ``full`` reason) with ``c_reason`` committing to ``detail`` (default:
        ``reason``)."""
        m = self._minimal()
        if m is not None:
            return m.removal(voter, community, reason, objection, detail)
        return VoterRemoved(voter=voter, community=community, reason=reason, objection=objection)

    @staticmethod
    def unit_rep(rep: str, community: str, organisation: str) -> UnitRepRegistered:
        """A unit representative of ``organisation`` (takes part, does not vote)."""
        return UnitRepRegistered(rep=rep, community=community, organisation=organisation)

    def roll_publication(self, community: str) -> RollPublished:
        """The ``roll.published`` that matches ``community``'s roll now."""
        state = self.e.state
        return RollPublished(
            community=community,
            size=state.roll_size(community),
            roll_hash=state.roll_hash(community),
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
    ) -> tuple[ObjectionFiled | ObjectionFiledV2, ObjectionDecided | ObjectionDecidedV2]:
        """An objection about ``voter`` and its decision (grounds and reason committed under
        ``minimal``)."""
        m = self._minimal()
        if m is not None:
            return m.objection(
                objection, community, voter, kind, grounds, upheld=upheld, reason=reason
            )
        return (
            ObjectionFiled(
                objection=objection, community=community, voter=voter, kind=kind, grounds=grounds
            ),
            ObjectionDecided(
                objection=objection, community=community, upheld=upheld, reason=reason
            ),
        )

    # ------------------------------------------------------------------ resident groups

    @staticmethod
    def household_vote(
        community: str,
        group: str,
        households: Iterable[str],
        ballots: Iterable[dict[str, PostMarks]],
        serials: Iterable[bytes],
    ) -> tuple[list[ElectionEvent], ElectionEvent, list[ElectionEvent]]:
        """A resident group's household-ballot election: a ballot issued to each of
        ``households`` (the polling station's), the group's voting closed (before any household
        ballot is recorded), and each of ``ballots`` cast with the next of ``serials`` (the
        counting unit's, in the order given)."""
        issued: list[ElectionEvent] = [
            HouseholdBallotIssued(community=community, group=group, household=h) for h in households
        ]
        cast: list[ElectionEvent] = [
            HouseholdBallotCast(community=community, group=group, serial=serial, marks=marks)
            for marks, serial in zip(ballots, serials, strict=True)
        ]
        return issued, GroupVotingClosed(community=community, group=group), cast

    def group_result(self, community: str, group: str) -> GroupResultDeclared:
        """The declaration of ``group``'s result as recomputed from the state now."""
        result = self.e.state.group_result(community, group)
        return GroupResultDeclared(community=community, group=group, result=result.to_dict())

    # ------------------------------------------------------------------ candidates

    @staticmethod
    def nomination(
        nomination: str, community: str, post: str, candidate: str, nominators: Sequence[str]
    ) -> NominationFiled:
        """``candidate`` nominated for ``post`` by ``nominators``."""
        return NominationFiled(
            nomination=nomination,
            community=community,
            post=post,
            candidate=candidate,
            nominators=tuple(nominators),
        )

    def nomination_withdrawn(
        self, community: str, post: str, candidate: str, reason: str
    ) -> NominationWithdrawn | NominationWithdrawnV2:
        """``candidate``'s nomination for ``post`` withdrawn (before the candidate list;
        ``reason`` committed under ``minimal``)."""
        m = self._minimal()
        if m is not None:
            return m.nomination_withdrawal(community, post, candidate, reason)
        return NominationWithdrawn(
            community=community, post=post, candidate=candidate, reason=reason
        )

    def vetting(
        self,
        community: str,
        candidate: str,
        criteria: tuple[str, str],
        *,
        approved: bool,
        code: str | None = None,
    ) -> VettingDecided | VettingDecidedV2:
        """The vetting decision on ``candidate``: ``criteria`` is ``(reference, reason)``.
        Under ``minimal``: ``approved``, the public ``code`` (one of
        ``RuleSet.vetting_codes``, or none) and ``c_reason`` committing to both texts."""
        m = self._minimal()
        if m is not None:
            return m.vetting(community, candidate, criteria, approved=approved, code=code)
        ref, reason = criteria
        return VettingDecided(
            community=community,
            candidate=candidate,
            approved=approved,
            criteria_ref=ref,
            reason=reason,
        )

    @staticmethod
    def candidate_list(
        community: str, posts: Iterable[tuple[str, int, Sequence[str]]]
    ) -> CandidatesPublished:
        """``community``'s candidate list: ``posts`` as ``(post, seats, candidates)``."""
        return CandidatesPublished(
            community=community,
            posts=tuple(
                PostList(post=p, seats=seats, candidates=tuple(cands)) for p, seats, cands in posts
            ),
        )

    def proxy(
        self, community: str, principal: str, proxy: str, relationship: str, attestation: bytes
    ) -> ProxyAuthorised | ProxyAuthorisedV2:
        """A written proxy of ``principal`` to ``proxy``. Under ``minimal``:
        ``close_relative`` (whether ``relationship`` is one of ``RuleSet.proxy_relationships``)
        with ``relationship`` and ``attestation`` committed (``c_rel``, ``c_attestation``)."""
        m = self._minimal()
        if m is not None:
            return m.proxy(community, principal, proxy, relationship, attestation)
        return ProxyAuthorised(
            community=community,
            principal=principal,
            proxy=proxy,
            relationship=relationship,
            attestation=attestation,
        )

    def proxy_list(self, community: str) -> ProxyListPublished:
        """The ``proxy.list_published`` that matches ``community``'s proxies now."""
        return self.e.state.proxy_list(community)

    @staticmethod
    def accreditations(community: str, observers: Iterable[tuple[str, str]]) -> list[ElectionEvent]:
        """The committee accredits each ``(observer, organisation)``."""
        return [
            ObserverAccredited(community=community, observer=o, organisation=org)
            for o, org in observers
        ]

    # ------------------------------------------------------------------ a round

    @staticmethod
    def unit_opened(
        community: str, number: int, unit: str, kind: str, observers: Sequence[str]
    ) -> UnitOpened:
        """Polling unit ``unit`` of round ``number`` opens before ``observers``."""
        return UnitOpened(
            unit=unit, community=community, round=number, kind=kind, observers=tuple(observers)
        )

    @staticmethod
    def box_sealed(unit: str, box: str) -> BoxSealed:
        """``box`` sealed at ``unit``."""
        return BoxSealed(unit=unit, box=box)

    @staticmethod
    def issuance(unit: str, voter: str, proxy_for: str | None = None) -> BallotIssued:
        """A ballot issued at ``unit`` to ``voter`` (for ``proxy_for`` when a proxy votes)."""
        return BallotIssued(unit=unit, voter=voter, proxy_for=proxy_for)

    @staticmethod
    def unit_closed(unit: str) -> UnitClosed:
        """``unit`` closes."""
        return UnitClosed(unit=unit)

    @staticmethod
    def counting_batches(
        issued: Mapping[str, int],
        target: str,
        minimum: int,
        merge: Callable[[str], bool] = lambda box: False,
    ) -> dict[str, str]:
        """Which box each box is counted in: a box other than ``target`` into which fewer than
        ``minimum`` ballots were issued (``issued``: box -> ballots, in box order), or for which
        ``merge(box)`` says so, is merged into ``target`` (one counting batch)."""
        return {
            box: target if box != target and (n < minimum or merge(box)) else box
            for box, n in issued.items()
        }

    @staticmethod
    def box_transferred(box: str, to_unit: str) -> BoxTransferred:
        """A (mobile) ``box`` carried to ``to_unit`` after its unit closed."""
        return BoxTransferred(box=box, to_unit=to_unit)

    @staticmethod
    def box_merged(box: str, into: str) -> BoxMerged:
        """``box`` emptied into ``into`` before counting."""
        return BoxMerged(box=box, into=into)

    @staticmethod
    def box_opened(box: str, observers: Sequence[str]) -> BoxOpened:
        """``box`` opened before ``observers``."""
        return BoxOpened(box=box, observers=tuple(observers))

    @staticmethod
    def recorded(
        box: str, ballots: Iterable[dict[str, PostMarks]], serials: Iterable[bytes]
    ) -> list[ElectionEvent]:
        """Each of ``ballots`` recorded from ``box`` (once opened) with the next of
        ``serials``."""
        return [
            BallotRecorded(box=box, serial=serial, marks=marks)
            for marks, serial in zip(ballots, serials, strict=True)
        ]

    def declaration(self, community: str, number: int) -> tuple[ResultDeclared, RoundResult]:
        """The declaration of round ``number``'s result as tallied from the state now, and
        that result."""
        result = self.e.tally(community, number)
        return (
            ResultDeclared(community=community, round=number, result=result.to_dict()),
            result,
        )

    @staticmethod
    def round_called(
        community: str, number: int, kind: str, posts: Sequence[PostList]
    ) -> RoundCalled:
        """Round ``number`` of ``community`` called after round 1 (``kind``: rerun, revote,
        supplementary) for ``posts``."""
        return RoundCalled(
            community=community, round=number, source_round=1, kind=kind, posts=tuple(posts)
        )

    def eligibility_sample(
        self, seed: str, k: int, checkpoint_size: int, checkpoint_root: bytes
    ) -> EligibilitySampleDrawn:
        """The eligibility sample of ``k`` registrations now (:func:`.sample_drawn`)."""
        return sample_drawn(self.e.state, seed, k, checkpoint_size, checkpoint_root)

    def eligibility_result(
        self, failures: Iterable[str], members: Sequence[str]
    ) -> EligibilitySampleChecked:
        """The drawn sample's result (:func:`.sample_checked`)."""
        return sample_checked(self.e.state, failures, members)
