"""Drive a simulated district election through the :class:`~electlog.election.Election` facade.

Every act is an election event checked by the same admission rules the auditor replays, signed
by the key holding the right role for that community, appended in batches (one durable commit
per ``submit_many``) and, every ``checkpoint_every`` entries, committed to by a checkpoint signed
with the log key and cosigned by two witnesses: through the caller's ``publish`` hook (``electlog
demo`` publishes through two ``electlog witness`` processes with
:meth:`~electlog.Log.publish_checkpoint`), or, without one, in-process with the key set's witness
private keys (for tests and property tests only: a witness in the operator's process can refuse
nothing).

Time is honest: the phases queue ``(author, event, time)`` and a flush submits the queue in
global time order, so each signer's claimed times never go backwards and the witnesses, which run
on the simulated clock, cosign each checkpoint at a time no earlier than any entry it covers and
no later than any entry after it (docs/election.md, "Claimed times").
"""

from __future__ import annotations

import gc
import hashlib
import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from electlog.checkpoint import Checkpoint, cosign
from electlog.election.build import PhaseBuilder, follow_up_round
from electlog.election.choosers import RandomChooser
from electlog.election.events import (
    AnyObjectionFiled,
    AnyVoterRegistered,
    CandidatesPublished,
    ElectionEvent,
    KeyAuthorised,
    ObjectionDecided,
    ObjectionDecidedV2,
)
from electlog.election.rules import (
    DEFAULT_PUBLIC_PROFILE,
    PUBLIC_PROFILES,
    ElectionMode,
    PublicProfile,
    RuleSet,
)
from electlog.election.state import GROUP_LEADER, GROUP_REP
from electlog.election.tally import (
    PostSpec,
    RoundResult,
    TallyRules,
    tally_round,
)
from electlog.errors import ElectlogError, KeySetError, UsageError
from electlog.keys import SigningKey
from electlog.log import Log
from electlog.note import NoteSigner, sign_note
from electlog.store.base import Store

from ._ballots import GroupPlan, PostPlan, group_ballots, round_ballots
from ._config import (
    FULL_VOTERS,
    CommunityOutcome,
    DistrictConfig,
    SimulationKeys,
    SimulationResult,
)
from ._keys import ROLES
from ._population import ELSEWHERE, NON_LOCAL, Community, Population, Voter, build_population

__all__ = ["CheckpointPublisher", "ProgressCallback", "simulate_district"]

ProgressCallback = Callable[[str, int, int], None]
CheckpointPublisher = Callable[[Log, NoteSigner, int], object]
"""``publish(log, log_key, timestamp)``: store a checkpoint of the whole ``log``, signed with
``log_key`` and cosigned by the key set's witnesses at ``timestamp`` (POSIX seconds on the
simulated clock), e.g. by setting the witnesses' clock and calling
:meth:`~electlog.Log.publish_checkpoint`."""
"""``progress(phase, entries_done, entries_expected)``; the last call has done == expected."""

TZ_MINUTES: Final = 480
_MAX_ATTEMPTS: Final = 200
SLOT_US: Final = 600_000_000
"""Submission buckets are whole slots of 10 simulated minutes."""
_ORGANISATIONS: Final = (
    "district primary school",
    "community health centre",
    "street office",
    "property management company",
    "neighbourhood police station",
    "elderly care centre",
    "kindergarten",
    "post office",
    "supermarket cooperative",
    "sub-district library",
)
_REJECTIONS: Final = (
    ("Measures art. 12(2)", "deprived of political rights by a court judgment still in force"),
    ("Measures art. 12(4)", "under criminal investigation at the time of vetting"),
    ("Measures art. 12(3)", "household registration moved out of the community during vetting"),
)
_REJECTION_CODES: Final = {  # the public criteria code of each rejection (minimal profile)
    "Measures art. 12(2)": "qualification",
    "Measures art. 12(4)": "qualification",
    "Measures art. 12(3)": "eligibility",
}
_APPROVAL: Final = ("Measures art. 12", "meets every qualification criterion")
_OBJECTIONS: Final = {  # case -> kind, grounds, upheld, reason
    "late": (
        "omission",
        "an adult of a registered household is missing from the roll",
        True,
        "household register and residence confirmed: to be added to the roll",
    ),
    "wrongful": (
        "wrongful_inclusion",
        "does not live in the community and holds no registration here",
        True,
        "neighbours and the property office confirm: not a resident",
    ),
    "data_error": (
        "data_error",
        "the birth date on the published roll is said to be wrong",
        False,
        "the registration matches the household register; no correction needed",
    ),
    "too_young": (
        "omission",
        "a resident asks to be added to the roll",
        False,
        "aged 17 on election day: not eligible",
    ),
}


ELIGIBILITY_SAMPLE: Final = 59
"""Registrations the audit board checks under ``minimal``: with none failed, the failure rate
is below 5% at 95% confidence."""


def _seed_bytes(seed: int, label: str) -> bytes:
    return hashlib.sha256(f"electlog-simulate/v1\x00{seed}\x00{label}".encode()).digest()


def _rng(seed: int, label: str) -> random.Random:
    return random.Random(int.from_bytes(_seed_bytes(seed, label)[:16], "big"))


def _slot_end(t: int) -> int:
    """The first slot boundary after ``t``."""
    return (t // SLOT_US + 1) * SLOT_US


class _CommunityPlan:
    """What the simulation decided for one community (committee, candidates, proxies ...)."""

    def __init__(self, c: Community) -> None:
        self.c = c
        self.committee: list[str] = []
        self.posts: list[PostPlan] = []
        self.listed: dict[str, list[str]] = {}
        self.nominees: list[tuple[str, str]] = []  # (post, candidate)
        self.rejected: list[str] = []
        self.withdrawn: tuple[str, str] | None = None
        self.proxies: list[tuple[Voter, Voter, str]] = []  # (principal, proxy, relationship)
        self.result1: RoundResult | None = None
        self.result2: RoundResult | None = None
        self.issued1 = 0
        self.cast1 = 0
        self.accredited: set[str] = set()
        self.void_writeins: dict[int, int] = {}  # round -> posts void by an unregistered write-in

    @property
    def excluded(self) -> set[str]:
        """Voters who are not observers: candidates, nominees, committee, proxies' principals."""
        out = set(self.committee)
        out.update(cand for _, cand in self.nominees)
        out.update(p.vid for p, _, _ in self.proxies)
        return out


class _Builder(PhaseBuilder):
    PHASES = (
        "define",
        "appoint_committees",
        "register",
        "remove_and_move",
        "publish_first_rolls",
        "objections",
        "group_elections",
        "nominate",
        "vet_and_list",
        "proxies",
        "vote",
        "supplementary",
        "sample_eligibility",
    )

    def __init__(
        self,
        log: Log,
        config: DistrictConfig,
        seed: int,
        progress: ProgressCallback | None,
        keys: SimulationKeys | None,
        publish: CheckpointPublisher | None = None,
        profile: str = PublicProfile.FULL.value,
        sample_size: int = 0,
    ) -> None:
        self.config = config
        self.seed = seed
        self.progress = progress
        self.origin = log.origin
        self.pop: Population = build_population(config, _rng(seed, "population"))
        self.plans = {c.cid: _CommunityPlan(c) for c in self.pop.communities}
        # Keys and secrets never come from the (public) seed: fresh from the OS CSPRNG, or
        # the caller's saved set (then the same seed rebuilds the same log byte for byte).
        cids = [c.cid for c in self.pop.communities]
        if keys is None:
            keys = SimulationKeys.generate(self.origin, cids)
        keys.check_fits(self.origin, cids)
        if sample_size and keys.audit_board is None:
            raise KeySetError(
                "the key set has no audit board key (saved by an older version): the "
                "eligibility sample needs one; generate a new key set, or pass "
                "eligibility_sample=0"
            )
        if publish is None and not keys.witnesses:
            raise UsageError(
                "the key set holds no witness private keys (loaded for the operator): pass "
                "publish= to publish checkpoints through the witnesses, or load the set with "
                "witness_keys=True to cosign in-process"
            )
        super().__init__(
            log,
            RuleSet(tz_offset_minutes=TZ_MINUTES, public_profile=profile),
            RandomChooser(_rng(seed, "plan")),
            dedup_secret=keys.dedup_secret,
            election_day=config.election_day,
            detail_secret=keys.salt_secret,
        )
        self.keys = keys
        self.publish = publish
        self.counts: dict[str, int] = {}
        self.features: dict[str, list[str]] = {}
        self.declared: dict[tuple[str, int], dict[str, Any]] = {}
        self.now = 0
        self.last_checkpoint = 0
        self.checkpoints = 0
        self.expected = self._estimate()
        self.phase = ""
        self.supplementary_community = ""
        self.committee_case = ("", "")
        self.pending: list[tuple[int, int, str, ElectionEvent]] = []  # (time, seq, who, event)
        self.last_time = 0
        self.sample_size = sample_size  # registrations the eligibility sample checks (0: none)

    # ------------------------------------------------------------------ plumbing

    def _estimate(self) -> int:
        voters = self.pop.voters
        extras = sum(len(v) for v in self.pop.extras.values())
        households = sum(len(c.households) for c in self.pop.communities)
        smallest = min(len(c.voters) for c in self.pop.communities)
        return int(
            voters * (1 + 2 * 0.85)
            + 2 * extras
            + households * 0.88 * 2
            + self.config.groups
            + 2 * 0.72 * smallest
            + 60 * self.config.communities
        )

    def _count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def _feature(self, name: str, *ids: str) -> None:
        self.features.setdefault(name, []).extend(ids)

    def _key(self, name: str) -> SigningKey:
        if name == "audit_board" and self.keys.audit_board is not None:
            return self.keys.audit_board
        return self.keys.authority if name == "authority" else self.keys.roles[name]

    def _submit(self, who: str, items: Iterable[tuple[ElectionEvent, int]]) -> None:
        """Queue ``items`` as ``who`` (``"authority"`` or ``"<community>/<role>"``); the next
        :meth:`_flush` submits them in time order."""
        pending = self.pending
        for event, t in items:
            pending.append((t, len(pending), who, event))

    def _flush(self) -> None:
        """Submit the queued items in global time order, in buckets of whole 10-minute slots.

        A bucket ends at the first slot boundary after it holds ``2 * checkpoint_every`` items
        (large buckets keep the batches large: one durable commit each); each author's items of
        a bucket form one ``submit_many`` batch (at most ``batch_size``), the authors in the
        order of their first item. So an event may follow another author's event of the same
        bucket only if that author's first item in the bucket is earlier than its own: an event
        that needs another author's later event is queued after a flush. A checkpoint is made
        only at a bucket boundary, cosigned at that simulated time: every entry before it claims
        an earlier time and every later entry a time no earlier, so the claimed times are
        consistent with the witnesses' clock. Steps that read the state flush first."""
        items = self.pending
        if not items:
            return
        self.pending = []
        items.sort(key=lambda item: (item[0], item[1]))
        if items[0][0] < self.last_time:
            raise UsageError(  # pragma: no cover - a builder bug, not a user error
                f"simulated time runs backwards: {items[0][3].TYPE} at {items[0][0]} after "
                f"an entry at {self.last_time}"
            )
        minimum = 2 * self.config.checkpoint_every
        n = len(items)
        i = 0
        while i < n:
            end = _slot_end(items[i][0])
            j = i
            while True:
                while j < n and items[j][0] < end:
                    j += 1
                if j == n or j - i >= minimum:
                    break
                end = _slot_end(items[j][0])
            by_author: dict[str, list[tuple[ElectionEvent, int]]] = {}
            for t, _, who, event in items[i:j]:
                by_author.setdefault(who, []).append((event, t))
            for who, batch in by_author.items():
                self._submit_now(who, batch)
            self.last_time = items[j - 1][0]
            self.now = end
            if len(self.log) - self.last_checkpoint >= self.config.checkpoint_every:
                self._checkpoint()
            i = j

    def _submit_now(self, who: str, items: Sequence[tuple[ElectionEvent, int]]) -> None:
        author = self.author(self._key(who))
        size = self.config.batch_size
        for i in range(0, len(items), size):
            self.e.submit_many(author, items[i : i + size])
            if self.progress is not None:
                n = len(self.log)
                self.progress(self.phase, n, max(self.expected, n + 1))

    def _checkpoint(self) -> None:
        """A checkpoint of the whole log, cosigned at ``self.now`` (a slot boundary no earlier
        than any entry's claimed time and no later than the next entry's)."""
        n = len(self.log)
        timestamp = self.now // 1_000_000
        if self.publish is not None:
            self.publish(self.log, self.keys.log, timestamp)
            latest = self.log.latest_checkpoint()
            if latest is None or latest.size != n:
                raise UsageError(
                    f"the publish hook stored no checkpoint of the whole log (size {n})"
                )
        else:  # in-process cosigning: tests and property tests only
            # (through this module's ``cosign``: tests/cli/test_demo.py replaces it to prove that
            # ``electlog demo``, which publishes through its witness processes, never cosigns)
            checkpoint = Checkpoint(origin=self.origin, size=n, root=self.log.root(n))
            note = sign_note(checkpoint.to_text(), [self.keys.log])
            for witness in self.keys.witnesses:
                note = cosign(note, witness, timestamp)
            self.log.add_checkpoint(note)
        self.last_checkpoint = n
        self.checkpoints += 1

    def _set_phase(self, phase: str) -> None:
        self._flush()
        self.phase = phase
        if self.progress is not None:
            n = len(self.log)
            self.progress(phase, n, max(self.expected, n + 1))

    # ------------------------------------------------------------------ phases

    def run(self) -> SimulationResult:
        self.run_phases()
        self._flush()
        if len(self.log) != self.last_checkpoint:
            self._checkpoint()
        if self.progress is not None:
            n = len(self.log)
            self.progress("done", n, n)
        return self._result()

    def define(self) -> None:
        self._set_phase("defining the election")
        cfg = self.config
        year = cfg.election_day.year
        defs = [
            self.community(
                c.cid,
                c.name,
                ElectionMode.ALL_VOTERS.value,
                c.groups,
                [
                    (f"{c.cid}-director", 1),
                    (f"{c.cid}-deputy", cfg.deputies),
                    (f"{c.cid}-member", c.member_seats),
                ],
            )
            for c in self.pop.communities
        ]
        definition = self.election_definition(
            f"district-{year}-residents-committees",
            f"Residents' committee elections {year}, {len(defs)} communities of the district",
            defs,
        )
        self.create(self.keys.authority, definition, self.local_time(-45, 9))
        self.now = self.local_time(-45, 9)
        grants = self.key_grants(
            (
                self.keys.roles[f"{c.cid}/{role.value}"],
                role.value,
                (c.cid,),
                f"{c.name} {role.value.replace('_', ' ')}",
            )
            for c in self.pop.communities
            for role in ROLES
        )
        start = self.local_time(-45, 9, 5)
        self._submit("authority", [(ev, start + i * 1_000_000) for i, ev in enumerate(grants)])
        self._count("keys", len(grants))

    def appoint_committees(self) -> None:
        self._set_phase("appointing election committees")
        items: list[tuple[ElectionEvent, int]] = []
        t = self.local_time(-44, 10)
        for c in self.pop.communities:
            plan = self.plans[c.cid]
            size = self.choose.integer(self.rules.committee_min, self.rules.committee_max)
            pool = [v for v in c.voters if 30 <= v.age <= 70 and v not in self.pop.late]
            plan.committee = [v.vid for v in self.choose.sample(pool, size)]
            meeting = f"residents' meeting of {c.name}, {self.config.election_day.year}-04-29"
            for event in self.appointments(c.cid, plan.committee, meeting):
                items.append((event, t))
                t += 60_000_000
            self._count("committee_members", size)
        self._submit("authority", items)

    def _registration(self, v: Voter, objection: str | None = None) -> AnyVoterRegistered:
        return self.voter_registration(
            salt=self.keys.salt_for(v.vid),
            name=v.name,
            id_number=v.idn,
            voter=v.vid,
            community=v.community,
            group=v.group,
            household=v.household,
            birth_date=v.birth,
            basis=v.basis,
            years_resident=v.years,
            approval_ref=v.approval,
            objection=objection,
        )

    def register(self) -> None:
        self._set_phase("registering voters")
        pop = self.pop
        later = {v.vid for v in pop.late} | {new.vid for _, new in pop.movers}
        extras: dict[str, list[Voter]] = {}
        for group in pop.extras.values():
            for v in group:
                extras.setdefault(v.community, []).append(v)
        start, end = self.local_time(-40, 8, 30), self.local_time(-26, 17, 30)
        for c in pop.communities:
            people = [v for v in c.voters if v.vid not in later] + extras.get(c.cid, [])
            people.sort(key=lambda v: (v.household, v.vid))
            times = self.choose.times(len(people), start, end)
            self._submit(
                f"{c.cid}/registrar",
                [(self._registration(v), t) for v, t in zip(people, times, strict=True)],
            )
            self._count("registrations", len(people))
        for basis in (NON_LOCAL, ELSEWHERE):
            sample = [v.vid for c in pop.communities for v in c.voters if v.basis == basis][:3]
            self._feature(f"basis.{basis}", *sample)
        if pop.coming_of_age is not None:
            self._feature("voter.aged_18_on_election_day", pop.coming_of_age.vid)
        # unit representatives: participants who do not vote
        reps: dict[str, list[tuple[ElectionEvent, int]]] = {}
        t = self.local_time(-27, 9)
        for n in range(self.config.unit_reps):
            c = pop.communities[n % len(pop.communities)]
            k = n // len(pop.communities) + 1
            rep = f"{c.cid}-r{k:02d}"
            org = f"{self.choose.choice(_ORGANISATIONS)} ({c.name})"
            reps.setdefault(c.cid, []).append((self.unit_rep(rep, c.cid, org), t + n * 1_000_000))
            self._feature("unit_rep", rep)
        for cid, items in reps.items():
            self._submit(f"{cid}/registrar", items)
        self._count("unit_reps", self.config.unit_reps)

    def remove_and_move(self) -> None:
        self._set_phase("removing and moving voters")
        pop = self.pop
        reasons = {
            "died": "died",
            "moved_away": "moved_out",
            "moved_within": "moved_out",
            "deprived": "deprived_of_rights",
        }
        by_comm: dict[str, list[tuple[ElectionEvent, int]]] = {}
        t = self.local_time(-25, 9)
        for why, reason in reasons.items():
            for v in pop.extras[why]:
                by_comm.setdefault(v.community, []).append(
                    (self.removal(v.vid, v.community, reason), t)
                )
                t += 1_000_000
                self._feature(f"removal.{reason}", v.vid)
                self._count("removals")
        for cid, items in sorted(by_comm.items()):
            self._submit(f"{cid}/registrar", items)
        self._flush()  # the movers' old registrations end before the new ones
        # the movers register in their new community (same person: same dedup tag)
        moved: dict[str, list[tuple[ElectionEvent, int]]] = {}
        t = self.local_time(-24, 10)
        for old, new in pop.movers:
            moved.setdefault(new.community, []).append((self._registration(new), t))
            t += 1_000_000
            self._feature("voter.moved_within_district", f"{old.vid}->{new.vid}")
            self._count("registrations")
        for cid, items in sorted(moved.items()):
            self._submit(f"{cid}/registrar", items)

    def publish_first_rolls(self) -> None:
        self.publish_rolls(day=-22, communities=[c.cid for c in self.pop.communities])

    def publish_rolls(self, *, day: int, communities: Iterable[str]) -> None:
        self._set_phase("publishing voter rolls")
        t = self.local_time(day, 10)
        for cid in communities:
            self._submit(f"{cid}/registrar", [(self.roll_publication(cid), t)])
            self._count("roll_publications")

    def objections(self) -> None:
        self._set_phase("objections to the rolls")
        pop = self.pop
        comms = {c.cid: c for c in pop.communities}
        filed: list[tuple[AnyObjectionFiled, ObjectionDecided | ObjectionDecidedV2]] = []

        def objection(cid: str, voter: str, case: str) -> None:
            kind, grounds, upheld, reason = _OBJECTIONS[case]
            oid = f"{cid}-obj{len(filed) + 1:02d}"
            filed.append(
                self.objection(oid, cid, voter, kind, grounds, upheld=upheld, reason=reason)
            )

        for v in pop.late:
            objection(v.community, v.vid, "late")
        for v in pop.extras["wrongful"]:
            objection(v.community, v.vid, "wrongful")
        c = self.choose.choice(pop.communities)
        objection(c.cid, self.choose.choice(c.voters).vid, "data_error")
        c = self.choose.choice(pop.communities)
        objection(c.cid, comms[c.cid].new_vid(), "too_young")
        by_comm: dict[str, list[tuple[ElectionEvent, int]]] = {}
        t = self.local_time(-20, 10)
        for ev, _ in filed:
            by_comm.setdefault(ev.community, []).append((ev, t))
            t += 60_000_000
        t = self.local_time(-18, 15)
        for ev, decided in filed:
            by_comm[ev.community].append((decided, t))
            t += 60_000_000
            feature = "objection.upheld" if decided.upheld else "objection.rejected"
            self._feature(feature, ev.objection)
            self._count("objections")
        for cid, items in sorted(by_comm.items()):
            self._submit(f"{cid}/election_committee", items)
        # act on the upheld ones
        acts: dict[str, list[tuple[ElectionEvent, int]]] = {}
        t = self.local_time(-17, 9)
        for ev, decided in filed:
            if not decided.upheld:
                continue
            if ev.kind == "omission":
                v = next(v for v in pop.late if v.vid == ev.voter)
                acts.setdefault(ev.community, []).append(
                    (self._registration(v, objection=ev.objection), t)
                )
                self._feature("registration.after_upheld_objection", v.vid)
                self._count("registrations")
            else:
                acts.setdefault(ev.community, []).append(
                    (self.removal(ev.voter, ev.community, "objection_upheld", ev.objection), t)
                )
                self._feature("removal.objection_upheld", ev.voter)
                self._count("removals")
            t += 60_000_000
        for cid, items in sorted(acts.items()):
            self._submit(f"{cid}/registrar", items)
        self.publish_rolls(day=-16, communities=sorted(acts))

    # ------------------------------------------------------------------ resident groups

    def _group_plan(self, c: Community, group: str, voters: list[Voter]) -> GroupPlan:
        rng = self.choose
        pool = [v.vid for v in voters if 28 <= v.age <= 70] or [v.vid for v in voters]
        if len(pool) < 5:
            pool = [v.vid for v in voters]
        picks = rng.sample(pool, 5)
        others = [v.vid for v in voters if v.vid not in picks]
        stranger = f"{group}-x1"
        for _ in range(20):
            v = rng.choice(c.voters)
            if v.group != group:
                stranger = v.vid
                break
        return GroupPlan(
            leader=picks[0],
            leader_alt=picks[1],
            reps=(picks[2], picks[3]),
            rep_alt=picks[4],
            others=tuple(rng.sample(others, min(8, len(others)))),
            stranger=stranger,
        )

    def group_elections(self) -> None:
        self._set_phase("resident group elections")
        rules = TallyRules()
        posts = (
            PostSpec(post=GROUP_LEADER, seats=self.rules.group_leader_seats, candidates=(), rank=0),
            PostSpec(post=GROUP_REP, seats=self.rules.group_rep_seats, candidates=(), rank=1),
        )
        for c in self.pop.communities:
            households: dict[str, list[str]] = {}
            voters_of: dict[str, list[Voter]] = {}
            for hh in c.households:
                households.setdefault(hh.group, []).append(hh.hid)
                voters_of.setdefault(hh.group, []).extend(hh.voters)
            issued: list[tuple[ElectionEvent, int]] = []
            cast: list[tuple[ElectionEvent, int]] = []
            t0, t1 = self.local_time(-15, 9), self.local_time(-15, 16)
            c0, c1 = self.local_time(-15, 16, 30), self.local_time(-15, 19)
            for group in c.groups:
                hids = households.get(group, [])
                if len(hids) < 2 or len(voters_of[group]) < 5:
                    continue
                plan = self._group_plan(c, group, voters_of[group])
                for attempt in range(_MAX_ATTEMPTS):
                    rng = RandomChooser(_rng(self.seed, f"group/{group}/{attempt}"))
                    came = [h for h in hids if rng.chance(0.88)]
                    recorded, tallied = group_ballots(rng.rng, plan, len(came))
                    result = tally_round(
                        posts, tallied, registered=len(hids), issued=len(came), rules=rules
                    )
                    leader, reps = result.posts[GROUP_LEADER], result.posts[GROUP_REP]
                    if (
                        not result.round_void
                        and leader.elected == (plan.leader,)
                        and set(reps.elected) == set(plan.reps)
                    ):
                        break
                else:  # pragma: no cover - the margins make this practically impossible
                    raise UsageError(f"cannot draw a decisive election for group {group}")
                times = rng.times(len(came), t0, t1)
                rng.shuffle(recorded)
                ctimes = rng.times(len(recorded), c0, c1)
                serials = [rng.serial() for _ in recorded]
                refs = [self.household_ref(h) for h in came]
                handed, shut, casts = self.household_vote(c.cid, group, refs, recorded, serials)
                issued.extend(zip(handed, times, strict=True))
                # voting closes before any household ballot is cast (recorded)
                issued.append((shut, t1))
                t1 += 1_000_000
                cast.extend(zip(casts, ctimes, strict=True))
                self._count("household_ballots_issued", len(came))
                self._count("households_eligible", len(hids))
            self._submit(f"{c.cid}/polling_station", issued)
            self._submit(f"{c.cid}/counting_unit", cast)
            self._count("household_ballots_cast", len(cast))
        self._flush()
        state = self.e.state
        for c in self.pop.communities:
            declared: list[tuple[ElectionEvent, int]] = []
            t = self.local_time(-15, 20)
            for group in c.groups:
                if group not in state.community(c.cid).group_elections:
                    continue
                declared.append((self.group_result(c.cid, group), t))
                t += 10_000_000
                self._count("group_elections")
            self._submit(f"{c.cid}/election_committee", declared)

    # ------------------------------------------------------------------ candidates

    def nominate(self) -> None:
        self._set_phase("nominations")
        rng = self.choose
        cfg = self.config
        comms = self.pop.communities
        supp = min(comms, key=lambda c: (len(c.voters), c.index))
        self.supplementary_community = supp.cid
        others = [c for c in comms if c is not supp]
        committee_case = rng.choice(others)
        rejecting = set(rng.sample(range(len(comms)), max(1, len(comms) // 3)))
        withdrawing = rng.choice(others)
        for c in comms:
            plan = self.plans[c.cid]
            seats = {"director": 1, "deputy": cfg.deputies, "member": c.member_seats}
            extra = {
                "director": 1 + rng.chance(0.3),
                "deputy": 1 + rng.chance(0.5),
                "member": 2 if c is supp else 1 + rng.chance(0.5),
            }
            committee = set(plan.committee)
            pool = [v.vid for v in c.voters if 25 <= v.age <= 65 and v.vid not in committee]
            need = sum(seats[p] + extra[p] for p in seats) + 2
            if len(pool) < need:  # a small community: any voter outside the committee
                pool = [v.vid for v in c.voters if v.vid not in committee]
            chosen = rng.sample(pool, need)
            if c is committee_case:
                # a committee member stands for member (and must leave the committee)
                start = sum(seats[p] + extra[p] for p in ("director", "deputy"))
                chosen[start] = plan.committee[0]
                self.committee_case = (c.cid, plan.committee[0])
            k = 0
            for post, n in seats.items():
                pid = f"{c.cid}-{post}"
                count = n + extra[post]
                cands = chosen[k : k + count]
                k += count
                plan.listed[pid] = list(cands)
                if c is supp and post == "member":
                    weights = tuple([6.0] * (n - 1) + [1.5] * (count - n + 1))
                else:
                    weights = tuple([6.0] * n + [1.0] * (count - n))
                plan.posts.append(
                    PostPlan(post=pid, seats=n, candidates=tuple(cands), weights=weights)
                )
                plan.nominees.extend((pid, cand) for cand in cands)
            spare = chosen[k:]
            if c.index in rejecting:
                post = rng.choice(list(plan.listed))
                plan.nominees.append((post, spare[0]))
                plan.rejected.append(spare[0])
            if c is withdrawing:
                post = f"{c.cid}-deputy"
                plan.nominees.append((post, spare[1]))
                plan.withdrawn = (post, spare[1])
        self._file_nominations()

    def _file_nominations(self) -> None:
        rng = self.choose
        t0 = self.local_time(-12, 9)
        for c in self.pop.communities:
            plan = self.plans[c.cid]
            excluded = set(plan.committee) | {cand for _, cand in plan.nominees}
            pool = [v.vid for v in c.voters if v.vid not in excluded]
            k_nominators = max(3, min(10, len(c.voters) // 12))
            seats = {p.post: p.seats for p in plan.posts}
            used: dict[str, set[str]] = {}
            named: Counter[tuple[str, str]] = Counter()  # (post, nominator) -> candidates named
            items: list[tuple[ElectionEvent, int]] = []
            for j, (post, cand) in enumerate(plan.nominees, start=1):
                taken = used.setdefault(post, set())
                free = [v for v in pool if v not in taken]
                if len(free) < k_nominators:
                    # a small community runs out of voters who have named nobody for this post:
                    # a nominator may name up to the rules' limit per post (the post's seats)
                    limit = self.rules.nominator_limit_for(seats[post])
                    free = [v for v in pool if named[post, v] < limit]
                nominators = rng.sample(free, k_nominators)
                taken.update(nominators)
                named.update((post, v) for v in nominators)
                items.append(
                    (
                        self.nomination(
                            f"{c.cid}-nom{j:02d}", c.cid, post, cand, sorted(nominators)
                        ),
                        t0 + j * 600_000_000,
                    )
                )
            self._submit(f"{c.cid}/election_committee", items)
            self._count("nominations", len(items))
        # the committee member who was nominated withdraws from the committee; a vacancy is filled
        cid, member = self.committee_case
        plan = self.plans[cid]
        c = next(c for c in self.pop.communities if c.cid == cid)
        excluded = set(plan.committee) | {cand for _, cand in plan.nominees}
        replacement = rng.choice([v.vid for v in c.voters if v.vid not in excluded and v.age >= 30])
        withdrawn, filled = self.committee_change(
            cid,
            member,
            replacement,
            "nominated as a candidate: withdraws from the election committee",
            f"residents' meeting of {c.name}, by-appointment",
        )
        self._submit(
            "authority", [(withdrawn, self.local_time(-11, 9)), (filled, self.local_time(-11, 14))]
        )
        plan.committee = [replacement if m == member else m for m in plan.committee]
        self._feature("committee.withdrawn_nominated", member)
        self._feature("committee.vacancy_filled", replacement)

    def vet_and_list(self) -> None:
        self._set_phase("vetting and candidate lists")
        rng = self.choose
        published: list[CandidatesPublished] = []
        for c in self.pop.communities:
            plan = self.plans[c.cid]
            if plan.withdrawn is not None:
                post, cand = plan.withdrawn
                self._submit(
                    f"{c.cid}/election_committee",
                    [
                        (
                            self.nomination_withdrawn(
                                c.cid, post, cand, "withdrew for family reasons"
                            ),
                            self.local_time(-11, 15),
                        )
                    ],
                )
                self._feature("nomination.withdrawn", cand)
            items: list[tuple[ElectionEvent, int]] = []
            t = self.local_time(-10, 9)
            for post, cand in plan.nominees:
                if plan.withdrawn == (post, cand):
                    continue
                approved = cand not in plan.rejected
                if not approved:
                    self._feature("vetting.rejected", cand)
                criteria = _APPROVAL if approved else rng.choice(_REJECTIONS)
                code = _REJECTION_CODES.get(criteria[0])
                decision = self.vetting(c.cid, cand, criteria, approved=approved, code=code)
                items.append((decision, t))
                t += 300_000_000
            self._submit(f"{c.cid}/vetting_committee", items)
            self._count("vetting_decisions", len(items))
            lists = []
            for p in plan.posts:
                order = list(p.candidates)
                rng.shuffle(order)  # ballot order (by surname strokes in real life)
                lists.append((p.post, p.seats, order))
                self._count("candidates", len(order))
            published.append(self.candidate_list(c.cid, lists))
        self._flush()  # the lists follow every vetting decision
        for event in published:
            self._submit(
                f"{event.community}/election_committee", [(event, self.local_time(-8, 10))]
            )

    # ------------------------------------------------------------------ proxies

    def proxies(self) -> None:
        self._set_phase("proxies")
        rng = self.choose
        pop = self.pop
        target = max(4, round(pop.voters * 0.008))
        households = [
            (c, hh) for c in pop.communities for hh in c.households if len(hh.voters) >= 2
        ]
        rng.shuffle(households)
        made = 0
        three = False  # one proxy holds the maximum of three principals
        for c, hh in households:
            if made >= target and three:
                break
            plan = self.plans[c.cid]
            busy = set(plan.committee) | {cand for _, cand in plan.nominees}
            members = sorted((v for v in hh.voters if v.vid not in busy), key=lambda v: v.age)
            proxy = next((v for v in members if v.age < 70), None)
            if proxy is None:
                continue
            others = [v for v in members if v is not proxy]
            if not three:
                if len(others) < 3:
                    continue
                principals = others[-3:]
                three = True
                self._feature("proxy.holds_three", proxy.vid)
            elif made < target:
                principals = [v for v in others if v.age >= 65 or v.basis == ELSEWHERE][-1:]
            else:
                continue
            for p in principals:
                plan.proxies.append((p, proxy, _relationship(p, proxy)))
                made += 1
        if not three:
            raise UsageError("the district has no household of four voters for a full proxy")
        for c in pop.communities:
            plan = self.plans[c.cid]
            items: list[tuple[ElectionEvent, int]] = []
            times = rng.times(len(plan.proxies), self.local_time(-7, 9), self.local_time(-3, 17))
            for (p, proxy, rel), t in zip(plan.proxies, times, strict=True):
                attestation = hashlib.sha256(
                    f"written proxy form|{c.cid}|{p.vid}|{proxy.vid}|{rel}".encode()
                ).digest()
                items.append((self.proxy(c.cid, p.vid, proxy.vid, rel, attestation), t))
            self._submit(f"{c.cid}/election_committee", items)
            self._count("proxies", len(plan.proxies))
        self._flush()
        for c in pop.communities:
            published = self.proxy_list(c.cid)
            self._submit(f"{c.cid}/election_committee", [(published, self.local_time(-2, 10))])

    # ------------------------------------------------------------------ voting

    def _observers(
        self, c: Community, plan: _CommunityPlan, n: int, used: set[str]
    ) -> tuple[str, ...]:
        excluded = plan.excluded | used
        pool = [v.vid for v in c.voters if v.vid not in excluded and 25 <= v.age <= 70]
        if len(pool) < n:
            # A small community (60 voters) can run out of 25-70-year-olds once its committee,
            # candidates and the round's other observers are set aside: any voter who is not
            # excluded may observe. (Only then: a shape that has enough keeps its draws.)
            pool = [v.vid for v in c.voters if v.vid not in excluded]
        picked = tuple(sorted(self.choose.sample(pool, n)))
        used.update(picked)
        return picked

    def vote(self) -> None:
        """Election day: every community's polling and counting, then the declarations."""
        self._set_phase("election day")
        posts = {c.cid: self._round(c, 1) for c in self.pop.communities}
        self._flush()
        for c in self.pop.communities:
            self._declare(c, 1, posts[c.cid])

    def _round(self, c: Community, number: int) -> list[PostPlan]:
        """Queue round ``number``'s polling and counting in ``c``; returns the round's posts."""
        rng = RandomChooser(_rng(self.seed, f"vote/{c.cid}/{number}"))
        plan = self.plans[c.cid]
        day = 0 if number == 1 else 7
        principals = {p.vid: proxy for p, proxy, _ in plan.proxies}
        in_person, mobile_voters = self._attendance(c, number, rng, principals)
        n_stations = max(1, len(c.voters) // 3000) if number == 1 else 1
        n_mobile = max(1, round(len(mobile_voters) / 250)) if number == 1 else 1
        prefix = f"{c.cid}-r{number}"
        units: list[tuple[str, str]] = [(f"{prefix}-main", "main")]
        units += [(f"{prefix}-s{i + 1}", "station") for i in range(n_stations)]
        units += [(f"{prefix}-m{i + 1}", "mobile") for i in range(n_mobile)]
        observers = self._accredit(c, plan, units, day)
        boxes: dict[str, list[str]] = {
            u: [f"{u}-b{j + 1}" for j in range(2 if kind == "main" else 1)] for u, kind in units
        }
        issue = self._issue(units, in_person, mobile_voters, principals, rng)
        issued_at: dict[str, int] = {}
        for unit, _, _ in issue:
            issued_at[unit] = issued_at.get(unit, 0) + 1
        # ballots returned per box (a ballot taken home now and then is never returned)
        returned: dict[str, int] = {}
        for unit, _ in units:
            n = issued_at.get(unit, 0)
            if unit.endswith("-main") and n > 20 and rng.chance(0.5):
                n -= 1
            bx = boxes[unit]
            for j, box in enumerate(bx):
                returned[box] = n // len(bx) + (1 if j < n % len(bx) else 0)
        total = sum(returned.values())
        posts = self._round_posts(plan, number)
        ballots = self._decisive_ballots(c, plan, number, posts, total, len(issue))
        self._count("ballots_issued", len(issue))
        self._count("ballots_recorded", total)
        self._count("units", len(units))
        self._count("boxes", sum(len(b) for b in boxes.values()))
        self._feature("unit.mobile", *(u for u, k in units if k == "mobile"))
        if number == 1:
            plan.issued1, plan.cast1 = len(issue), total
        self._polling_day(c.cid, number, day, units, boxes, observers, issue, rng)
        self._count_round(c.cid, day, units, boxes, observers, issued_at, returned, ballots, rng)
        return posts

    def _attendance(
        self, c: Community, number: int, rng: RandomChooser, principals: dict[str, Voter]
    ) -> tuple[list[Voter], list[Voter]]:
        """Who comes to vote in round ``number``: ``(in person, at home to a mobile box)``.
        Proxies always come; their principals never do."""
        proxies = {proxy.vid for proxy in principals.values()}
        turnout = rng.uniform(0.80, 0.90) if number == 1 else rng.uniform(0.68, 0.78)
        mobile_voters: list[Voter] = []
        in_person: list[Voter] = []
        for v in c.voters:
            if v.vid in principals:
                continue
            p = turnout * (0.7 if v.basis == ELSEWHERE else 1.0)
            if v.vid in proxies or rng.chance(p):
                if v.age >= 75 and v.vid not in proxies and rng.chance(0.55):
                    mobile_voters.append(v)
                else:
                    in_person.append(v)
        if not mobile_voters:  # the oldest voter who came is visited at home
            oldest = max(in_person, key=lambda v: (v.age, v.vid))
            in_person.remove(oldest)
            mobile_voters.append(oldest)
        return in_person, mobile_voters

    def _accredit(
        self, c: Community, plan: _CommunityPlan, units: list[tuple[str, str]], day: int
    ) -> dict[str, tuple[str, ...]]:
        """The units' observers (three, four at the main venue); the committee accredits those
        it has not accredited yet the day before."""
        used: set[str] = set()
        observers = {u: self._observers(c, plan, 3 + (k == "main"), used) for u, k in units}
        panel: list[tuple[str, str]] = []
        for unit, _ in units:
            for observer in observers[unit]:
                if observer in plan.accredited:
                    continue
                plan.accredited.add(observer)
                org = _ORGANISATIONS[len(plan.accredited) % len(_ORGANISATIONS)]
                panel.append((observer, f"{org} ({c.name})"))
        t = self.local_time(day - 1, 10)
        accredit = [
            (ev, t + i * 60_000_000) for i, ev in enumerate(self.accreditations(c.cid, panel))
        ]
        self._submit(f"{c.cid}/election_committee", accredit)
        self._count("observers_accredited", len(accredit))
        return observers

    @staticmethod
    def _issue(
        units: list[tuple[str, str]],
        in_person: list[Voter],
        mobile_voters: list[Voter],
        principals: dict[str, Voter],
        rng: RandomChooser,
    ) -> list[tuple[str, str, str | None]]:
        """Every ballot issued, as ``(unit, voter, proxy_for)`` in issuing order: in person at
        the main venue or a station (a proxy also for each principal), at home by the mobile
        boxes."""
        issue: list[tuple[str, str, str | None]] = []
        stations = [u for u, k in units if k != "mobile"]
        mobiles = [u for u, k in units if k == "mobile"]
        for v in in_person:
            unit = stations[0] if rng.chance(0.45) else rng.choice(stations)
            issue.append((unit, v.vid, None))
            issue.extend((unit, v.vid, p) for p, proxy in principals.items() if proxy is v)
        for i, v in enumerate(mobile_voters):
            issue.append((mobiles[i % len(mobiles)], v.vid, None))
        rng.shuffle(issue)
        return issue

    def _polling_day(
        self,
        cid: str,
        number: int,
        day: int,
        units: list[tuple[str, str]],
        boxes: dict[str, list[str]],
        observers: dict[str, tuple[str, ...]],
        issue: list[tuple[str, str, str | None]],
        rng: RandomChooser,
    ) -> None:
        """The polling station's day: units open and boxes sealed, ballots issued, units
        closed, the mobile boxes carried to the main venue."""
        at = self.local_time
        main = units[0][0]
        ps: list[tuple[ElectionEvent, int]] = []
        t = at(day, 7, 30)
        for unit, kind in units:
            ps.append((self.unit_opened(cid, number, unit, kind, observers[unit]), t))
            for box in boxes[unit]:
                ps.append((self.box_sealed(unit, box), t + 600_000_000))
        times = rng.times(len(issue), at(day, 8), at(day, 17))
        ps.extend(
            (self.issuance(unit, voter, proxy_for), when)
            for (unit, voter, proxy_for), when in zip(issue, times, strict=True)
        )
        for unit, _ in units:
            ps.append((self.unit_closed(unit), at(day, 17)))
        for unit, kind in units:
            if kind == "mobile":
                for box in boxes[unit]:
                    ps.append((self.box_transferred(box, main), at(day, 17, 20)))
                    self._feature("box.transferred", box)
        self._submit(f"{cid}/polling_station", ps)

    def _count_round(
        self,
        cid: str,
        day: int,
        units: list[tuple[str, str]],
        boxes: dict[str, list[str]],
        observers: dict[str, tuple[str, ...]],
        issued_at: dict[str, int],
        returned: dict[str, int],
        ballots: list[dict[str, Any]],
        rng: RandomChooser,
    ) -> None:
        """The count: the mobile boxes, and the boxes of any unit that issued fewer than
        ``min_count_batch`` ballots, are emptied into the main venue's first box; the others are
        opened before observers and their ballots recorded in the box's order."""
        at = self.local_time
        main = units[0][0]
        target = boxes[main][0]
        small = self.rules.min_count_batch
        merged = [
            box
            for unit, kind in units
            if unit != main and (kind == "mobile" or issued_at.get(unit, 0) < small)
            for box in boxes[unit]
        ]
        if issued_at.get(main, 0) < small:
            merged += boxes[main][1:]
        counted_in = {box: target if box in merged else box for bx in boxes.values() for box in bx}
        cu: list[tuple[ElectionEvent, int]] = []
        t = at(day, 17, 30)
        for box in merged:
            cu.append((self.box_merged(box, target), t))
            t += 1_000_000
            self._feature("box.merged", box)
        t = at(day, 17, 40)
        per_box: dict[str, int] = {}
        for box, n in returned.items():
            per_box[counted_in[box]] = per_box.get(counted_in[box], 0) + n
        k = 0
        for unit, _ in units:
            for box in boxes[unit]:
                if box in merged:
                    continue
                cu.append((self.box_opened(box, observers[unit]), t))
                n = per_box[box]
                chunk = ballots[k : k + n]
                k += n
                rtimes = rng.times(n, t + 60_000_000, at(day, 22))
                serials = [rng.serial() for _ in chunk]
                cu.extend(zip(self.recorded(box, chunk, serials), rtimes, strict=True))
        self._submit(f"{cid}/counting_unit", cu)
        self._count("boxes_merged", len(merged))

    def _declare(self, c: Community, number: int, posts: list[PostPlan]) -> None:
        """The committee declares the tally of round ``number`` (queued events flushed)."""
        self._flush()
        plan = self.plans[c.cid]
        day = 0 if number == 1 else 7
        at = self.local_time
        event, result = self.declaration(c.cid, number)
        self._submit(f"{c.cid}/election_committee", [(event, at(day, 23))])
        self.declared[(c.cid, number)] = event.result
        if number == 1:
            plan.result1 = result
        else:
            plan.result2 = result
        for name in ("valid", "partly_valid", "void", "blank"):
            self._count(f"ballots_{name}", int(getattr(result, name)))
        for pr in result.posts.values():
            listed = set(next(p.candidates for p in posts if p.post == pr.post))
            written = sum(n for person, n in pr.votes.items() if person not in listed)
            self._count("write_in_votes", written)
            self._count("against_marks", sum(pr.against.values()))
            if written:
                self._feature("ballot.write_in", f"{c.cid}#{number}/{pr.post}")
        voided = plan.void_writeins.get(number, 0)
        if voided:
            self._feature("ballot.unregistered_write_in", f"{c.cid}#{number}")
            self._count("posts_void_by_unregistered_write_in", voided)

    def _round_posts(self, plan: _CommunityPlan, number: int) -> list[PostPlan]:
        if number == 1:
            return plan.posts
        rs = self.e.state.round(plan.c.cid, number)
        out = []
        for spec in rs.posts:
            weights = tuple(3.0 if i == 0 else 1.0 for i in range(len(spec.candidates)))
            out.append(
                PostPlan(
                    post=spec.post, seats=spec.seats, candidates=spec.candidates, weights=weights
                )
            )
        return out

    def _decisive_ballots(
        self,
        c: Community,
        plan: _CommunityPlan,
        number: int,
        posts: list[PostPlan],
        count: int,
        issued: int,
    ) -> list[dict[str, Any]]:
        """Draw ballots until the round has the intended outcome: every seat filled by a clear
        winner, except the one member seat left unfilled in round 1 of the supplementary
        community. (Ties and near-misses are legal, but the district's story is fixed.)"""
        excluded = plan.excluded
        pool = [v.vid for v in c.voters if v.vid not in excluded]
        specs = [
            PostSpec(post=p.post, seats=p.seats, candidates=p.candidates, rank=r)
            for r, p in enumerate(posts)
        ]
        supp = number == 1 and c.cid == self.supplementary_community
        for attempt in range(_MAX_ATTEMPTS):
            rng = _rng(self.seed, f"ballots/{c.cid}/{number}/{attempt}")
            write_ins = rng.sample(pool, min(20, len(pool)))
            recorded, tallied = round_ballots(
                rng, posts, count, write_ins=write_ins, unregistered=f"{c.cid}-x{attempt + 1:04d}"
            )
            result = tally_round(
                specs,
                tallied,
                registered=len(c.voters),
                issued=issued,
                rules=self.rules.tally,
                supplementary=number > 1,
            )
            if result.round_void:
                continue
            ok = True
            for p in posts:
                pr = result.posts[p.post]
                want = p.seats - 1 if supp and p.post.endswith("-member") else p.seats
                if pr.tied or len(pr.elected) != want:
                    ok = False
                    break
            if ok:
                plan.void_writeins[number] = sum(
                    1 for ballot in recorded for pm in ballot.values() if pm.void is not None
                )
                return recorded
        raise UsageError(  # pragma: no cover - the margins make this practically impossible
            f"cannot draw a decisive round {number} for {c.cid}"
        )

    def supplementary(self) -> None:
        self._set_phase("supplementary round")
        cid = self.supplementary_community
        c = next(c for c in self.pop.communities if c.cid == cid)
        plan = self.plans[cid]
        assert plan.result1 is not None
        listed = {p.post: (p.seats, p.candidates) for p in plan.posts}
        kind, lists = follow_up_round(plan.result1, listed, self.rules)
        self._submit(
            f"{cid}/election_committee",
            [(self.round_called(cid, 2, kind, lists), self.local_time(0, 23, 30))],
        )
        self._feature("round.supplementary", cid)
        self._flush()
        posts = self._round(c, 2)
        self._declare(c, 2, posts)

    def sample_eligibility(self) -> None:
        """The audit board checks a public-seed sample of :attr:`sample_size` registrations
        after the election (the roll is frozen): a checkpoint holds the roll, the seed is
        drawn, the sample is recorded, then its result (the simulated registrations are
        honest: no failure). Nothing when the size is 0 (the default under ``full``)."""
        if not self.sample_size:
            return
        board = self.keys.audit_board
        assert board is not None  # checked when the builder was made
        self._set_phase("eligibility sample")
        start = self.now + 10 * 60_000_000
        grant = KeyAuthorised(
            key_id=board.key_id, role="audit_board", scope=(), label="district audit board"
        )
        self._submit("authority", [(grant, start)])
        self._flush()
        if len(self.log) != self.last_checkpoint:
            self._checkpoint()  # the witnessed checkpoint that holds the roll sampled
        pinned = self.last_checkpoint
        rng = _rng(self.seed, "eligibility-seed")  # the public ceremony's 20 die rolls
        seed = "".join(str(rng.randrange(10)) for _ in range(20))
        k = min(self.sample_size, len(self.e.state.voters))
        drawn = self.eligibility_sample(seed, k, pinned, self.log.root(pinned))
        t = self.now + 30 * 60_000_000
        self._submit("audit_board", [(drawn, t)])
        self._flush()
        checked = self.eligibility_result((), ("audit-board-1", "audit-board-2"))
        self._submit("audit_board", [(checked, t + 24 * 3_600_000_000)])
        self._count("eligibility.sampled", k)

    # ------------------------------------------------------------------ result

    def _result(self) -> SimulationResult:
        state = self.e.state
        outcomes = []
        for c in self.pop.communities:
            plan = self.plans[c.cid]
            assert plan.result1 is not None
            elected: dict[str, tuple[str, ...]] = {
                post: pr.elected for post, pr in plan.result1.posts.items()
            }
            if plan.result2 is not None:
                for post, pr in plan.result2.posts.items():
                    elected[post] = elected.get(post, ()) + pr.elected
            cs = state.community(c.cid)
            outcomes.append(
                CommunityOutcome(
                    community=c.cid,
                    name=c.name,
                    registered=len(cs.roll),
                    households=cs.households_count(),
                    groups=len(c.groups),
                    issued=plan.issued1,
                    cast=plan.cast1,
                    seats=sum(p.seats for p in plan.posts),
                    elected=elected,
                    rounds=len(cs.rounds),
                )
            )
        counts = dict(sorted(self.counts.items()))
        counts["entries"] = len(self.log)
        counts["checkpoints"] = self.checkpoints
        counts["voters"] = sum(o.registered for o in outcomes)
        counts["households"] = sum(o.households for o in outcomes)
        counts["groups"] = sum(o.groups for o in outcomes)
        counts["communities"] = len(outcomes)
        counts["seats"] = sum(o.seats for o in outcomes)
        counts["elected"] = sum(o.elected_count for o in outcomes)
        for name in ("ballot.void", "ballot.partly_valid", "ballot.blank"):
            kind = name.split(".")[1]
            self.features[name] = [f"{cid}#{n}" for (cid, n), d in self.declared.items() if d[kind]]
        keys = self.keys
        return SimulationResult(
            origin=self.origin,
            election_id=self.e.state.definition.election_id if self.e.state.definition else "",
            seed=self.seed,
            config=self.config,
            size=len(self.log),
            root=self.log.root(),
            checkpoints=self.checkpoints,
            keys=keys,
            authority_key=keys.authority.public,
            log_vkey=keys.log.vkey,
            witness_vkeys=tuple(w.vkey for w in keys.witness_verifiers),
            quorum=len(keys.witness_verifiers),
            counts=counts,
            communities=tuple(outcomes),
            declared=dict(self.declared),
            features={k: tuple(v) for k, v in sorted(self.features.items())},
            details={key: dict(opened) for key, (_salt, opened) in self.details.items()},
        )


def _relationship(principal: Voter, proxy: Voter) -> str:
    """What the proxy is to the principal, from their ages."""
    gap = principal.age - proxy.age
    if gap >= 40:
        return "grandchild"
    if gap >= 18:
        return "child"
    if gap <= -40:
        return "grandparent"
    if gap <= -18:
        return "parent"
    return "spouse" if abs(gap) <= 8 else "sibling"


def _sample_size(eligibility_sample: object, profile: str) -> int:
    """The eligibility sample's size: ``eligibility_sample``, or by default 59 under
    ``minimal`` and none under ``full``."""
    if eligibility_sample is None:
        return ELIGIBILITY_SAMPLE if profile == PublicProfile.MINIMAL.value else 0
    if (
        isinstance(eligibility_sample, bool)
        or not isinstance(eligibility_sample, int)
        or eligibility_sample < 0
    ):
        raise UsageError(f"eligibility_sample must be an int >= 0, got {eligibility_sample!r}")
    return eligibility_sample


def simulate_district(
    store_or_log: Store | Log,
    *,
    voters: int = FULL_VOTERS,
    seed: int = 0,
    config: DistrictConfig | None = None,
    progress: ProgressCallback | None = None,
    keys: SimulationKeys | None = None,
    publish: CheckpointPublisher | None = None,
    profile: str = DEFAULT_PUBLIC_PROFILE,
    eligibility_sample: int | None = None,
) -> SimulationResult:
    """Build a whole district election into an empty log: its shape from ``seed``, its keys
    from ``keys``.

    ``store_or_log``: an empty :class:`~electlog.store.Store` or :class:`~electlog.log.Log`;
    its origin becomes the log id. ``voters``: the size of the final roll (the district's
    shape scales with it, :meth:`DistrictConfig.scaled`); ``config`` overrides the whole shape
    (then ``voters`` must be left at its default or equal ``config.voters``). ``progress`` is
    called after every batch as ``progress(phase, entries_done, entries_expected)``.

    ``seed`` decides only what is public: the people, plans, ballots and times. Every key and
    secret (signing keys, the registrars' dedup secret, the salt secret behind the voters'
    commitments) comes from ``keys``; without it a fresh :class:`SimulationKeys` is generated
    from the OS CSPRNG (returned in ``result.keys``; keep it with
    :meth:`SimulationKeys.save`). The same seed with the same key set gives the same log byte
    for byte (same root); two calls without ``keys`` give logs no common trust file accepts.

    ``publish``: how each checkpoint gets its witnesses' cosignatures (a
    :data:`CheckpointPublisher`; ``electlog demo`` passes one that publishes through its
    ``electlog witness`` processes, on the simulated clock). Without it the simulator cosigns
    in-process with the key set's witness private keys: meant for tests and property tests, not
    as a model of witnessing. Either way the checkpoints are the same bytes.

    ``profile``: the election's ``RuleSet.public_profile``, ``"minimal"`` (the default, as
    for every new election: ``voter.registered`` v2, no birth dates, per-field commitments,
    household tags, a per-election dedup key) or ``"full"`` (every field in the clear, the
    profile of logs written before profiles existed). The same seed gives the same people,
    ballots and tallies under either profile.

    ``eligibility_sample``: how many registrations the audit board checks against the paper
    records after the election (``eligibility.sample_drawn`` and ``.sample_checked``, signed
    with the key set's audit board key); ``None``: :data:`ELIGIBILITY_SAMPLE` (59) under
    ``minimal``, none under ``full``; 0: none. A log with a sample is audited by the serial
    replay at any ``jobs``.

    Every event goes through :class:`~electlog.election.Election`, so every admission rule
    runs. Raises :class:`~electlog.errors.UsageError` for a non-empty log or an impossible
    shape, :class:`~electlog.errors.KeySetError` for a key set made for another origin or
    fewer communities.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UsageError(f"seed must be an int >= 0, got {seed!r}")
    if config is None:
        config = DistrictConfig.scaled(voters)
    elif not isinstance(config, DistrictConfig):
        raise UsageError("config must be a DistrictConfig")
    elif voters not in (FULL_VOTERS, config.voters):
        raise UsageError(f"voters={voters} contradicts config.voters={config.voters}")
    if isinstance(store_or_log, Log):
        log = store_or_log
    elif isinstance(store_or_log, Store):
        log = Log(store_or_log)
    else:
        raise UsageError("simulate_district needs a Store or a Log")
    if keys is not None and not isinstance(keys, SimulationKeys):
        raise UsageError("keys must be a SimulationKeys (or None for a fresh set)")
    if publish is not None and not callable(publish):
        raise UsageError("publish must be callable as publish(log, log_key, timestamp)")
    if len(log) != 0:
        raise UsageError(f"simulate_district needs an empty log; {log.origin} has {len(log)}")
    if profile not in PUBLIC_PROFILES:
        raise UsageError(f"profile must be one of {PUBLIC_PROFILES}, got {profile!r}")
    sample_size = _sample_size(eligibility_sample, profile)
    if any(c.isspace() or c == "+" for c in log.origin):
        raise UsageError(f"log origin {log.origin!r} cannot name a checkpoint key")
    # Millions of small, long-lived objects (the roll, the projections): collect the young
    # generation less often, as the auditor does (about a fifth of the build's CPU time).
    threshold = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        return _Builder(log, config, seed, progress, keys, publish, profile, sample_size).run()
    except (ValueError, IndexError, StopIteration) as exc:
        if isinstance(exc, ElectlogError):
            raise
        raise UsageError(
            f"cannot simulate this district shape ({config.communities} communities, "
            f"{config.voters} voters, {config.groups} groups): {exc!r}"
        ) from exc
    finally:
        gc.set_threshold(*threshold)
