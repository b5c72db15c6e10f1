"""A small one-community election built directly with the Election facade (no scenario
builder), for the issue 11 rule tests: every event is submitted in time order per signer."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from electlog.checkpoint import Checkpoint, NoteSigner, WitnessSigner, cosign, sign_note
from electlog.election.events import (
    BallotIssued,
    BallotRecorded,
    BoxOpened,
    BoxSealed,
    CandidatesPublished,
    CommunityDef,
    ElectionDefined,
    ElectionEvent,
    KeyAuthorised,
    NominationFiled,
    ObserverAccredited,
    PostDef,
    PostList,
    ProxyListPublished,
    RollPublished,
    UnitClosed,
    UnitOpened,
    VettingDecided,
    VoterRegistered,
)
from electlog.election.facade import Election
from electlog.election.receipts import commitment, dedup_tag
from electlog.election.rules import RuleSet
from electlog.election.state import EventContext
from electlog.election.tally import PostMarks
from electlog.keys import SigningKey
from electlog.log import Log

DAY = dt.date(2026, 5, 17)
OBSERVERS = ("o1", "o2", "o3", "o4", "o5", "o6")


def key(name: str) -> SigningKey:
    return SigningKey.from_seed(hashlib.sha256(f"issue11/{name}".encode()).digest())


def at(days: int, hour: int = 10) -> int:
    """µs UTC of local ``hour`` (UTC+8) on election day + ``days``."""
    local = dt.datetime(DAY.year, DAY.month, DAY.day, hour) + dt.timedelta(days=days)
    return int((local - dt.timedelta(hours=8)).replace(tzinfo=dt.UTC).timestamp()) * 1_000_000


class Mini:
    """Community ``c1`` (all voters, group ``g1``, post ``director`` with one seat), voters
    ``v00``…, candidates ``v00`` and ``v01``, observers ``o1``… accredited (``accredit``)."""

    def __init__(self, voters: int = 30, rules: RuleSet | None = None, accredit: bool = True):
        self.rules = rules or RuleSet(committee_min=0, min_observers=1, public_profile="full")
        self.k = {
            n: key(n)
            for n in ("authority", "committee", "registrar", "vetting", "polling", "counting")
        }
        self.now = at(-40)
        definition = ElectionDefined(
            election_id="issue11",
            name="issue 11",
            election_day=DAY,
            communities=(
                CommunityDef(
                    community="c1",
                    name="Community One",
                    mode="all_voters",
                    groups=("g1",),
                    posts=(PostDef(post="director", seats=1, rank=0),),
                ),
            ),
            rules=self.rules,
            rules_hash=self.rules.hash(),
        )
        self.log = Log("example.org/issue11")
        self.e = Election.create(self.log, self.k["authority"], definition, time=self.now)
        roles = {
            "committee": "election_committee",
            "registrar": "registrar",
            "vetting": "vetting_committee",
            "polling": "polling_station",
            "counting": "counting_unit",
        }
        for name, role in roles.items():
            self.sub(
                "authority",
                KeyAuthorised(key_id=self.k[name].key_id, role=role, scope=("c1",), label=name),
            )
        self.voters = [f"v{i:02d}" for i in range(voters)]
        for v in self.voters:
            self.sub("registrar", self.registration(v), day=-30)

    def registration(self, v: str, **kw: Any) -> VoterRegistered:
        fields: dict[str, Any] = {
            "voter": v,
            "community": "c1",
            "group": "g1",
            "household": f"h{v}",
            "birth_date": dt.date(1970, 1, 1),
            "basis": "local_resident",
            "dedup": dedup_tag(b"k" * 32, f"id-{v}"),
            "commitment": commitment(b"s" * 16, {"id": v}),
        }
        fields.update(kw)
        return VoterRegistered(**fields)

    def tick(self, day: int | None = None, hour: int = 10) -> int:
        if day is not None:
            self.now = max(self.now, at(day, hour))
        self.now += 1_000_000
        return self.now

    def sub(self, who: str, event: ElectionEvent, day: int | None = None, hour: int = 10) -> None:
        self.e.submit(self.e.author(self.k[who]), event, time=self.tick(day, hour))

    def force(self, who: str, event: ElectionEvent, day: int | None = None) -> None:
        """Append ``event`` without the writer's check (what a hostile insider's log holds)."""
        author = self.e.author(self.k[who])
        time = self.tick(day)
        entry = author.sign(event.TYPE, event.to_body(), time=time, schema=event.SCHEMA)
        ctx = EventContext(
            index=len(self.log), time=time, signer=author.key_id, leaf_hash=entry.leaf_hash
        )
        self.log.append(entry)
        self.e.state.apply(ctx, event)

    # ------------------------------------------------------------------ phases

    def publish_roll(self, day: int = -25) -> None:
        st = self.e.state
        self.sub(
            "registrar",
            RollPublished(community="c1", size=st.roll_size("c1"), roll_hash=st.roll_hash("c1")),
            day=day,
        )

    def candidates(self) -> None:
        for i, c in enumerate(("v00", "v01")):
            self.sub(
                "committee",
                NominationFiled(
                    nomination=f"n{i}",
                    community="c1",
                    post="director",
                    candidate=c,
                    nominators=(f"v1{i}",),
                ),
                day=-24,
            )
            self.sub(
                "vetting",
                VettingDecided(
                    community="c1", candidate=c, approved=True, criteria_ref="art. 1", reason="ok"
                ),
            )
        self.sub(
            "committee",
            CandidatesPublished(
                community="c1",
                posts=(PostList(post="director", seats=1, candidates=("v00", "v01")),),
            ),
            day=-10,
        )
        self.sub(
            "committee",
            ProxyListPublished(community="c1", count=0, list_hash=self.e.state.proxy_hash("c1")),
        )

    def accredit(self, observers: tuple[str, ...] = OBSERVERS) -> None:
        for o in observers:
            self.sub(
                "committee",
                ObserverAccredited(community="c1", observer=o, organisation="university"),
                day=-8,
            )

    def until_vote(self) -> Mini:
        self.publish_roll()
        self.candidates()
        self.accredit()
        return self

    def unit(self, unit: str, observers: tuple[str, ...], kind: str = "main") -> None:
        self.sub(
            "polling",
            UnitOpened(unit=unit, community="c1", round=1, kind=kind, observers=observers),
            day=0,
            hour=8,
        )
        self.sub("polling", BoxSealed(unit=unit, box=f"{unit}-box"))

    def issue(self, unit: str, voters: list[str]) -> None:
        for v in voters:
            self.sub("polling", BallotIssued(unit=unit, voter=v))

    def close(self, unit: str) -> None:
        self.sub("polling", UnitClosed(unit=unit))

    def open_box(self, box: str, observers: tuple[str, ...] = ("o5",)) -> None:
        self.sub("counting", BoxOpened(box=box, observers=observers))

    def record(self, box: str, n: int, start: int = 0, for_: str = "v00") -> None:
        for i in range(start, start + n):
            marks = {"director": PostMarks(in_favour=(for_,))}
            self.sub("counting", BallotRecorded(box=box, serial=i.to_bytes(16, "big"), marks=marks))


def checkpointed(m: Mini) -> tuple[Any, Any]:
    """(source, trust) for auditing ``m``'s log: one witnessed checkpoint over every entry."""
    from electlog.audit import BytesSource, Trust

    signer = NoteSigner.generate(m.log.origin, rng_seed=b"\x07" * 32)
    witnesses = [
        WitnessSigner.generate(f"w{i}.example", rng_seed=bytes([9 + i]) * 32) for i in range(2)
    ]
    trust = Trust.create(
        origin=m.log.origin,
        authority_key=m.k["authority"].public,
        log_key=signer.vkey,
        witnesses=[w.vkey for w in witnesses],
        quorum=2,
    )
    size = len(m.log)
    note = sign_note(
        Checkpoint(origin=m.log.origin, size=size, root=m.log.root(size)).to_text(), [signer]
    )
    for w in witnesses:
        note = cosign(note, w, m.now // 1_000_000 + 60)
    entries = [m.log.get_bytes(i) for i in range(size)]
    return BytesSource(entries, [note], origin=m.log.origin), trust
