"""A tiny deterministic election, phase by phase, for tests, tamper tests and examples.

:func:`build_small_election` runs every phase of a two-community election (a few dozen voters)
through the :class:`~electlog.election.facade.Election` facade on an in-memory log and returns
``(log, keys, election)``. :class:`Scenario` exposes the phases one by one, so a test can stop
before a phase and submit an event that breaks a rule. Everything derives from ``seed``: keys,
salts, the order of ballots; the counts (and so the outcome, including one supplementary round
in community ``c1``) are fixed by construction. Keys, the dedup secret and the salts are derived
from the public seed so that tests and examples reproduce: they are fixtures, never for a real
election (a real one takes every key and secret from the operating system's CSPRNG, as
``electlog demo`` does).

Layout: election day 2026-05-17 (UTC+8). Community ``c1`` (mode ``all_voters``): 30 voters in 15
households in groups ``c1-g1`` / ``c1-g2``; posts director (1 seat), deputy (1), member (2).
Community ``c2`` (mode ``household_rep``): 24 voters in 12 households; posts director (1),
member (2). Each community: a 7-member election committee, one omission objection upheld (a
late registration), group elections in its first group (household voting closed before the
ballots are cast), nominations, vetting, a candidate list, two proxies, observers accredited by
the committee, a main unit and a station with three observers each (no observer at two units),
one box per unit. ``c2``'s station issues fewer than ``min_count_batch`` (10) ballots, so its box
is merged into the main box before counting. In ``c1`` only one member reaches the majority, so a
supplementary round (round 2) fills the last seat.

The log is in claimed-time order (so each signer's times never go backwards and a checkpoint
cosigned at the time of its last entry is consistent with every entry's claimed time).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Iterable

import attrs

from electlog.errors import UsageError
from electlog.events import Author
from electlog.keys import SigningKey
from electlog.log import Log

from .build import PhaseBuilder, RoleKeys, follow_up_round
from .choosers import FixedChooser
from .events import (
    AnyVoterRegistered,
    ElectionDefined,
    ElectionEvent,
)
from .facade import Election
from .rules import PublicProfile, RuleSet
from .state import GROUP_LEADER, GROUP_REP
from .tally import VOID_POST_WRITEIN_NOT_REGISTERED, PostMarks

__all__ = [
    "ELECTION_DAY",
    "OBSERVERS",
    "UNIT_OBSERVERS",
    "Scenario",
    "ScenarioKeys",
    "build_small_election",
]

ELECTION_DAY = _dt.date(2026, 5, 17)
OBSERVERS = ("obs-1", "obs-2", "obs-3")
"""Observers accredited in both communities (at the end of phase ``authorise_proxies``), free on
election day once the units they watched closed: the main unit of ``c1`` (both rounds)."""
UNIT_OBSERVERS = {
    "c1-r1-main": OBSERVERS,
    "c1-r1-station": ("obs-4", "obs-5", "obs-6"),
    "c2-r1-main": ("obs-7", "obs-8", "obs-9"),
    "c2-r1-station": ("obs-10", "obs-11", "obs-12"),
    "c1-r2-main": OBSERVERS,
}
"""The observers of each unit of the scenario (never one observer at two open units)."""


@attrs.frozen(kw_only=True)
class ScenarioKeys(RoleKeys):
    """The scenario's keys (all with whole-election scope)."""

    @classmethod
    def from_seed(cls, seed: int) -> ScenarioKeys:
        """Deterministic keys for ``seed``."""
        return cls.derive(
            lambda name: hashlib.sha256(f"electlog-scenario/{seed}/{name}".encode()).digest()
        )


class Scenario(PhaseBuilder):
    """The small election, one phase per method (call them in order, or :meth:`run_all`):
    a :class:`~electlog.election.build.PhaseBuilder` whose plans are fixed here and whose
    only draws (the recording order of ballots, their serials) come from a
    :class:`~electlog.election.choosers.FixedChooser` seeded with ``seed``.

    ``at(day, hour)`` is the time in µs UTC of local ``hour`` on election day + ``day``.

    ``rules`` defaults to ``RuleSet(public_profile="full")``, not ``RuleSet()``: the scenario
    is the worked reference election whose schema-1 events docs/election.md and the tamper
    tests spell out. ``rules=RuleSet()`` runs it under ``minimal``, the default of new
    elections.
    """

    PHASES = (
        "define",
        "appoint_committees",
        "register_voters",
        "publish_rolls",
        "objections",
        "group_elections",
        "nominate",
        "vet",
        "publish_candidates",
        "authorise_proxies",
        "vote",
        "supplementary_round",
    )

    def __init__(
        self,
        seed: int = 0,
        *,
        rules: RuleSet | None = None,
        origin: str = "",
        log: Log | None = None,
    ) -> None:
        self.seed = seed
        self.keys = ScenarioKeys.from_seed(seed)
        if log is not None and len(log):
            raise UsageError("the scenario needs an empty log")
        chooser = FixedChooser(seed)
        super().__init__(
            log if log is not None else Log(origin or f"example.org/electlog-scenario-{seed}"),
            rules or RuleSet(public_profile=PublicProfile.FULL.value),
            chooser,
            dedup_secret=hashlib.sha256(f"dedup/{seed}".encode()).digest(),
            election_day=ELECTION_DAY,
        )
        self.rng = chooser.rng
        """The seeded generator behind the secrecy draws (ballot order, serials)."""
        self.salts: dict[str, bytes] = {}
        self.personal: dict[str, dict[str, str]] = {}
        self.registration_index: dict[str, int] = {}
        self.voters: dict[str, list[str]] = {"c1": [], "c2": []}
        self.households: dict[str, str] = {}
        self.groups: dict[str, str] = {}
        self.committee: dict[str, list[str]] = {}
        self.candidates: dict[str, dict[str, tuple[str, ...]]] = {}
        self.proxies: dict[str, list[tuple[str, str]]] = {}

    # ------------------------------------------------------------------ helpers

    def at(self, day: int, hour: int = 10, minute: int = 0) -> int:
        """µs UTC of local time ``hour:minute`` on election day + ``day`` (UTC+tz)."""
        return self.local_time(day, hour, minute)

    def author(self, key: SigningKey) -> Author:
        """An author for ``key`` resumed at its head now (a test may sign as the scenario's
        keys between phases)."""
        return self.e.author(key)

    def submit(self, key: SigningKey, event: ElectionEvent, time: int) -> int:
        """Submit one event signed by ``key``; returns its log index."""
        return self.e.submit(self.author(key), event, time=time).index

    def submit_many(self, key: SigningKey, items: Iterable[tuple[ElectionEvent, int]]) -> None:
        """Submit a batch signed by ``key``."""
        self.send(key, items)

    def definition(self) -> ElectionDefined:
        """The genesis event of the scenario."""
        c1 = self.community(
            "c1",
            "Community One",
            "all_voters",
            ("c1-g1", "c1-g2"),
            [("director", 1), ("deputy", 1), ("member", 2)],
        )
        c2 = self.community(
            "c2",
            "Community Two",
            "household_rep",
            ("c2-g1", "c2-g2"),
            [("director", 1), ("member", 2)],
        )
        return self.election_definition(
            f"scenario-{self.seed}", "Small residents' committee election", (c1, c2)
        )

    def registration(
        self, voter: str, community: str, group: str, household: str, **kw: object
    ) -> AnyVoterRegistered:
        """A registration of ``voter`` with deterministic salt, personal data and dedup tag
        (override any field with ``kw``)."""
        salt = hashlib.sha256(f"salt/{self.seed}/{voter}".encode()).digest()[:16]
        personal = {"name": f"Resident {voter}", "id_number": f"ID-{self.seed}-{voter}"}
        self.salts[voter] = salt
        self.personal[voter] = personal
        fields: dict[str, object] = {
            "voter": voter,
            "community": community,
            "group": group,
            "household": household,
            "birth_date": _dt.date(1960 + (sum(map(ord, voter)) % 40), 3, 1),
            "basis": "local_resident",
        }
        fields.update(kw)
        return self.voter_registration(
            salt=salt, name=personal["name"], id_number=personal["id_number"], **fields
        )

    # ------------------------------------------------------------------ phases

    def define(self) -> None:
        """Genesis and key authorisations (day -40)."""
        self.create(self.keys.authority, self.definition(), self.at(-40))
        grants = self.key_grants((key, role, (), str(role)) for key, role in self.keys.roles())
        self.send(self.keys.authority, [(ev, self.at(-40, 11)) for ev in grants])

    def appoint_committees(self) -> None:
        """Seven committee members per community (day -39); members are voters' ids."""
        items = []
        for c, n in (("c1", 30), ("c2", 24)):
            members = [f"{c}-v{i:02d}" for i in range(n - 7, n)]
            self.committee[c] = members
            items += [(ev, self.at(-39)) for ev in self.appointments(c, members, "street office")]
        self.send(self.keys.authority, items)

    def register_voters(self) -> None:
        """Registrations (day -30): c1 30 voters (15 households), c2 24 (12 households);
        one c1 resident (``c1-v30``) is missing from the first roll."""
        items: list[tuple[ElectionEvent, int]] = []
        for c, n in (("c1", 30), ("c2", 24)):
            for i in range(n):
                v = f"{c}-v{i:02d}"
                hh = f"{c}-h{i // 2:02d}"
                g = f"{c}-g{1 + (i // 2) % 2}"
                self.households[v] = hh
                self.groups[v] = g
                self.voters[c].append(v)
                items.append((self.registration(v, c, g, hh), self.at(-30, 9, len(items))))
        base = len(self.log)
        self.submit_many(self.keys.registrar, items)
        for i, (ev, _) in enumerate(items):
            assert isinstance(ev, AnyVoterRegistered)
            self.registration_index[ev.voter] = base + i
        self.submit(
            self.keys.registrar,
            self.unit_rep("c1-rep1", "c1", "Property company"),
            self.at(-30, 12),
        )

    def publish_rolls(self) -> None:
        """Rolls published (day -25)."""
        for c in ("c1", "c2"):
            self.submit(self.keys.registrar, self.roll_publication(c), self.at(-25))

    def objections(self) -> None:
        """An omission objection in c1 (day -23), upheld (day -22); the voter is registered
        citing it and the roll is republished."""
        filed, decided = self.objection(
            "obj-1",
            "c1",
            "c1-v30",
            "omission",
            "resident since 2019, missing from the roll",
            upheld=True,
            reason="verified",
        )
        self.submit(self.keys.committee, filed, self.at(-23))
        self.submit(self.keys.committee, decided, self.at(-22))
        ev = self.registration("c1-v30", "c1", "c1-g1", "c1-h14", objection="obj-1")
        self.registration_index["c1-v30"] = self.submit(self.keys.registrar, ev, self.at(-22, 11))
        self.voters["c1"].append("c1-v30")
        self.households["c1-v30"] = "c1-h14"
        self.groups["c1-v30"] = "c1-g1"
        self.submit(self.keys.registrar, self.roll_publication("c1"), self.at(-22, 12))

    def group_elections(self) -> None:
        """Household ballots in the first group of each community (day -20): issued (9:00),
        the group's voting closed (16:00), ballots cast (17:00), results declared (18:00)."""
        st = self.e.state
        issued: list[tuple[ElectionEvent, int]] = []
        closed: list[tuple[ElectionEvent, int]] = []
        casts: list[tuple[ElectionEvent, int]] = []
        winners: list[tuple[str, str]] = []
        for n, c in enumerate(("c1", "c2")):
            group = f"{c}-g1"
            households = sorted({h for (g, h) in st.community(c).households if g == group})
            members = sorted(v for v in self.voters[c] if self.groups[v] == group)
            leader, reps = members[0], members[1:3]
            ballots = [
                {
                    GROUP_LEADER: PostMarks(write_ins=(leader,)),
                    GROUP_REP: PostMarks(write_ins=tuple(sorted(reps)) if k % 4 else (reps[0],)),
                }
                for k in range(len(households))
            ]
            serials = [self.choose.serial() for _ in ballots]
            handed, shut, cast = self.household_vote(c, group, households, ballots, serials)
            issued += [(ev, self.at(-20, 9, n)) for ev in handed]
            closed.append((shut, self.at(-20, 16, n)))
            casts += [(ev, self.at(-20, 17, n)) for ev in cast]
            winners.append((c, group))
        self.send(self.keys.polling, issued + closed)
        self.send(self.keys.counting, casts)
        self.send(
            self.keys.committee,
            [(self.group_result(c, group), self.at(-20, 18)) for c, group in winners],
        )

    def nominate(self) -> None:
        """Nominations (day -15). A c1 committee member is nominated and withdraws; the
        vacancy is filled."""
        plan = {
            "c1": {
                "director": ["c1-v00", "c1-v01"],
                "deputy": ["c1-v02", "c1-v03"],
                "member": ["c1-v04", "c1-v05", "c1-v06", self.committee["c1"][0]],
            },
            "c2": {"director": ["c2-v00", "c2-v01"], "member": ["c2-v02", "c2-v03", "c2-v04"]},
        }
        items = []
        n = 0
        for c, posts in plan.items():
            for post, cands in posts.items():
                for cand in cands:
                    n += 1
                    nominators = (f"{c}-v{10 + n % 5:02d}", f"{c}-v{15 + n % 3:02d}")
                    items.append(
                        (
                            self.nomination(f"nom-{n}", c, post, cand, nominators),
                            self.at(-15),
                        )
                    )
            self.candidates[c] = {p: tuple(v) for p, v in posts.items()}
        self.submit_many(self.keys.committee, items)
        withdrawn, filled = self.committee_change(
            "c1", self.committee["c1"][0], "c1-v20", "nominated as candidate", "street office"
        )
        self.submit(self.keys.authority, withdrawn, self.at(-14))
        self.submit(self.keys.authority, filled, self.at(-14, 11))

    def vet(self) -> None:
        """Every nominee approved (day -12)."""
        criteria = ("regulation art. 12", "meets every criterion")
        items = [
            (self.vetting(c, cand, criteria, approved=True), self.at(-12))
            for c, posts in self.candidates.items()
            for cand in sorted({x for v in posts.values() for x in v})
        ]
        self.send(self.keys.vetting, items)

    def publish_candidates(self) -> None:
        """Candidate lists (day -8)."""
        defs = {c.community: c for c in self.definition().communities}
        for c, posts in self.candidates.items():
            seats = {p.post: p.seats for p in defs[c].posts}
            lists = [(p, seats[p], cands) for p, cands in posts.items()]
            self.submit(self.keys.committee, self.candidate_list(c, lists), self.at(-8))

    def authorise_proxies(self) -> None:
        """c1: ``c1-v08`` holds proxies of ``c1-v09`` and ``c1-v07`` (day -6); lists published;
        the observers accredited."""
        self.proxies = {"c1": [("c1-v09", "c1-v08"), ("c1-v07", "c1-v08")], "c2": []}
        for c, pairs in self.proxies.items():
            for principal, proxy in pairs:
                relationship = "spouse" if principal.endswith("9") else "parent"
                letter = hashlib.sha256(f"letter/{principal}".encode()).digest()
                self.submit(
                    self.keys.committee,
                    self.proxy(c, principal, proxy, relationship, letter),
                    self.at(-6),
                )
            self.submit(self.keys.committee, self.proxy_list(c), self.at(-6, 12))
        self.accredit_observers()

    def _ballots_c1_round1(self, n: int) -> list[dict[str, PostMarks]]:
        ballots = []
        for i in range(n):
            m: dict[str, PostMarks] = {}
            m["director"] = PostMarks(in_favour=("c1-v00",) if i % 5 else ("c1-v01",))
            m["deputy"] = PostMarks(in_favour=("c1-v02",) if i % 4 else (), against=("c1-v03",))
            # member (2 seats): v04 gets ~80%, v05 ~40%, v06 ~35%: one seat unfilled
            fors = []
            if i % 5:
                fors.append("c1-v04")
            if i % 5 in (0, 1):
                fors.append("c1-v05")
            elif i % 20 in (2, 7, 12) or i % 20 == 17:
                fors.append("c1-v06")
            if i == 3:  # a write-in of a registered voter
                m["member"] = PostMarks(in_favour=("c1-v04",), write_ins=("c1-v11",))
            elif i == 6:  # the write-in names no voter: void, only the reason recorded
                m["member"] = PostMarks(void=VOID_POST_WRITEIN_NOT_REGISTERED)
            elif i == 9:  # overvote: void for this post
                m["member"] = PostMarks(in_favour=("c1-v04", "c1-v05", "c1-v06"))
            else:
                m["member"] = PostMarks(in_favour=tuple(sorted(fors)))
            if i == n - 1:
                m = {}  # a blank ballot
            ballots.append(m)
        return ballots

    def _ballots_c2_round1(self, n: int) -> list[dict[str, PostMarks]]:
        ballots = []
        for i in range(n):
            ballots.append(
                {
                    "director": PostMarks(in_favour=("c2-v00",) if i % 3 else ("c2-v01",)),
                    "member": PostMarks(
                        in_favour=("c2-v02", "c2-v03") if i % 4 else ("c2-v03", "c2-v04")
                    ),
                }
            )
        return ballots

    def accredit_observers(self) -> None:
        """The committee accredits every observer of the scenario's units (day -6, 13:00), and
        :data:`OBSERVERS` in both communities (the end of :meth:`authorise_proxies`)."""
        items: list[tuple[ElectionEvent, int]] = []
        for c in ("c1", "c2"):
            names = set(OBSERVERS)
            for unit, observers in UNIT_OBSERVERS.items():
                if unit.startswith(f"{c}-"):
                    names.update(observers)
            panel = sorted(names, key=lambda o: int(o.split("-")[1]))
            accredited = self.accreditations(c, [(o, "residents' observer panel") for o in panel])
            items += [(ev, self.at(-6, 13)) for ev in accredited]
        self.send(self.keys.committee, items)

    def vote(self) -> None:
        """Election day: units opened and boxes sealed (7:30), ballots issued (c1 from 8:00,
        c2 from 9:00), units closed (18:00), c2's small station box merged into its main box
        (18:20), boxes opened (18:30), ballots recorded in shuffled order (c1 from 19:00, c2
        from 20:00), results declared (21:00)."""
        k = self.keys
        polling: list[tuple[ElectionEvent, int]] = []
        for n, c in enumerate(("c1", "c2")):
            main, station = f"{c}-r1-main", f"{c}-r1-station"
            for j, (unit, kind) in enumerate(((main, "main"), (station, "station"))):
                unit_opened = self.unit_opened(c, 1, unit, kind, UNIT_OBSERVERS[unit])
                polling.append((unit_opened, self.at(0, 7, 30 + 2 * n + j)))
                polling.append(
                    (self.box_sealed(unit, f"{unit}-box1"), self.at(0, 7, 45 + 2 * n + j))
                )
        per_unit = self._issue_ballots(polling)
        polling += [(self.unit_closed(u), self.at(0, 18)) for u in per_unit]
        counting = self._count(per_unit)
        self.send(k.polling, sorted(polling, key=lambda item: item[1]))
        self.send(k.counting, sorted(counting, key=lambda item: item[1]))
        self.send(k.committee, [(self.declaration(c, 1)[0], self.at(0, 21)) for c in ("c1", "c2")])

    def _issue_ballots(self, polling: list[tuple[ElectionEvent, int]]) -> dict[str, int]:
        """Round 1's ballots issued (into ``polling``); returns the ballots issued per unit."""
        per_unit: dict[str, int] = {}
        for n, c in enumerate(("c1", "c2")):
            main, station = f"{c}-r1-main", f"{c}-r1-station"
            cs = self.e.state.community(c)
            voters = [v for v in self.voters[c] if v not in cs.proxies and v != "c1-v05"]
            seen_households: set[str] = set()
            per_unit[main] = per_unit[station] = 0
            for i, v in enumerate(voters):
                if cs.mode == "household_rep":
                    if self.households[v] in seen_households:
                        continue
                    seen_households.add(self.households[v])
                unit = main if i % 3 else station
                when = self.at(0, 8 + n, i)
                polling.append((self.issuance(unit, v), when))
                per_unit[unit] += 1
                for principal, proxy in self.proxies.get(c, []):
                    if proxy == v:
                        polling.append((self.issuance(unit, v, principal), when))
                        per_unit[unit] += 1
        return per_unit

    def _count(self, per_unit: dict[str, int]) -> list[tuple[ElectionEvent, int]]:
        """Round 1's count: a box whose unit issued fewer than ``min_count_batch`` ballots is
        merged into its main box, the others opened, the ballots recorded in shuffled order."""
        counting: list[tuple[ElectionEvent, int]] = []
        counted_in: dict[str, str] = {}
        for c in ("c1", "c2"):
            main, station = f"{c}-r1-main", f"{c}-r1-station"
            issued = {u: per_unit[u] for u in (main, station)}
            counted_in.update(self.counting_batches(issued, main, self.rules.min_count_batch))
        for u, into in counted_in.items():
            if into != u:
                merged = self.box_merged(f"{u}-box1", f"{into}-box1")
                counting.append((merged, self.at(0, 18, 20)))
        opened = [u for u in per_unit if counted_in[u] == u]
        for minute, u in enumerate(opened, start=30):
            box_opened = self.box_opened(f"{u}-box1", UNIT_OBSERVERS[u])
            counting.append((box_opened, self.at(0, 18, minute)))
        for n, c in enumerate(("c1", "c2")):
            main, station = f"{c}-r1-main", f"{c}-r1-station"
            total = per_unit[main] + per_unit[station]
            ballots = (
                self._ballots_c1_round1(total) if c == "c1" else self._ballots_c2_round1(total)
            )
            self.choose.shuffle(ballots)
            pos = 0
            for unit in (main, station):
                box_ballots = ballots[pos : pos + per_unit[unit]]
                serials = [self.choose.serial() for _ in box_ballots]
                for ev in self.recorded(f"{counted_in[unit]}-box1", box_ballots, serials):
                    counting.append((ev, self.at(0, 19 + n, pos)))
                    pos += 1
        return counting

    def supplementary_round(self) -> None:
        """c1 round 2 (day +7): one member seat, candidates from round 1 in vote order."""
        k = self.keys
        seats = {p.post: p.seats for p in self.definition().communities[0].posts}
        listed = {p: (seats[p], cands) for p, cands in self.candidates["c1"].items()}
        kind, posts = follow_up_round(self.e.tally("c1", 1), listed, self.rules)
        self.submit(k.committee, self.round_called("c1", 2, kind, posts), self.at(1))
        cands = posts[0].candidates
        unit, box = "c1-r2-main", "c1-r2-main-box1"
        observers = UNIT_OBSERVERS[unit]
        self.send(
            k.polling,
            [
                (self.unit_opened("c1", 2, unit, "main", observers), self.at(7, 7, 30)),
                (self.box_sealed(unit, box), self.at(7, 7, 45)),
            ],
        )
        cs = self.e.state.community("c1")
        voters = [v for v in self.voters["c1"] if v not in cs.proxies][:24]
        self.send(
            k.polling,
            [(self.issuance(unit, v), self.at(7, 9, i % 60)) for i, v in enumerate(voters)],
        )
        self.submit(k.polling, self.unit_closed(unit), self.at(7, 18))
        self.submit(k.counting, self.box_opened(box, observers), self.at(7, 18, 30))
        ballots = [
            {"member": PostMarks(in_favour=(cands[0],) if i % 3 else (cands[-1],))}
            for i in range(len(voters))
        ]
        self.choose.shuffle(ballots)
        serials = [self.choose.serial() for _ in ballots]
        self.send(k.counting, [(ev, self.at(7, 19)) for ev in self.recorded(box, ballots, serials)])
        self.submit(k.committee, self.declaration("c1", 2)[0], self.at(7, 21))

    def run_until(self, phase: str) -> Scenario:
        """Run every phase before ``phase`` (not ``phase`` itself)."""
        self.run_phases(phase)
        return self

    def run_all(self) -> Scenario:
        """Run every phase."""
        self.run_phases()
        return self


def build_small_election(
    seed: int = 0, *, rules: RuleSet | None = None, origin: str = "", log: Log | None = None
) -> tuple[Log, ScenarioKeys, Election]:
    """Run the whole small election on ``log`` (default: a new in-memory log named ``origin``);
    returns ``(log, keys, election)``."""
    s = Scenario(seed, rules=rules, origin=origin, log=log).run_all()
    return s.log, s.keys, s.e
