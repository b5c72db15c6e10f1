"""The people of a simulated district: communities, resident groups, households and voters.

Everything is drawn from one seeded :class:`random.Random`; nothing reads the clock or the
operating system's randomness. Only voters (18+ on election day) are modelled individually:
minors of a household never enter the log. Ids are pseudonymous (``c07-v01234``); names and ID
numbers exist only to make the salted commitments and the registrars' dedup tags realistic and
never enter the log.
"""

from __future__ import annotations

import datetime as _dt
import random
from collections.abc import Sequence
from typing import Final

from ._config import MIN_VOTERS_PER_COMMUNITY, DistrictConfig

__all__ = ["COMMUNITY_NAMES", "Community", "Household", "Population", "Voter", "build_population"]

COMMUNITY_NAMES: Final = (
    "Anhe",
    "Baiyun",
    "Chengnan",
    "Dongfang",
    "Fengqiao",
    "Guanghua",
    "Heping",
    "Jinxiu",
    "Lianhua",
    "Minzhu",
    "Nanyuan",
    "Qingshan",
    "Ruijing",
    "Shuguang",
    "Taoyuan",
    "Wenhua",
    "Xinhe",
    "Yangguang",
    "Zhongxin",
)

_SURNAMES: Final = tuple(
    [
        "Wang",
        "Li",
        "Zhang",
        "Liu",
        "Chen",
        "Yang",
        "Huang",
        "Zhao",
        "Wu",
        "Zhou",
        "Xu",
        "Sun",
        "Ma",
        "Zhu",
        "Hu",
        "Guo",
        "He",
        "Gao",
        "Lin",
        "Luo",
        "Zheng",
        "Liang",
        "Xie",
        "Song",
        "Tang",
        "Han",
        "Feng",
        "Deng",
        "Cao",
        "Peng",
        "Zeng",
        "Xiao",
        "Tian",
        "Dong",
        "Pan",
        "Yuan",
        "Cai",
        "Jiang",
    ]
)
_GIVEN: Final = tuple(
    [
        "wei",
        "fang",
        "na",
        "min",
        "jing",
        "li",
        "qiang",
        "lei",
        "jun",
        "yang",
        "yong",
        "yan",
        "jie",
        "tao",
        "ming",
        "chao",
        "xiu",
        "hua",
        "ping",
        "gang",
        "gui",
        "ying",
        "hui",
        "bo",
        "lan",
        "mei",
        "dan",
        "hong",
        "xia",
        "rong",
        "juan",
        "fei",
        "ning",
        "yu",
        "xin",
        "hao",
        "yun",
    ]
)

# adults (voters) per household, 1..6, and their weights (a household of 1–6 voters)
_ADULTS: Final = (1, 2, 3, 4, 5, 6)
_ADULT_WEIGHTS: Final = (16, 38, 25, 13, 6, 2)
# age bands of adults and their weights
_AGE_BANDS: Final = ((18, 29), (30, 44), (45, 59), (60, 74), (75, 96))
_AGE_WEIGHTS: Final = (17, 25, 27, 21, 10)
# eligibility bases
LOCAL: Final = "local_resident"
ELSEWHERE: Final = "registered_living_elsewhere_opted_in"
NON_LOCAL: Final = "non_local_approved"
_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK: Final = "10X98765432"


class Voter:
    """One registration of a person (a mover has two: one per community)."""

    __slots__ = (
        "age",
        "approval",
        "basis",
        "birth",
        "community",
        "group",
        "household",
        "idn",
        "name",
        "vid",
        "years",
    )

    def __init__(
        self,
        *,
        vid: str,
        community: str,
        group: str,
        household: str,
        birth: _dt.date,
        age: int,
        basis: str,
        idn: str,
        name: str,
        years: int | None = None,
        approval: str | None = None,
    ) -> None:
        self.vid = vid
        self.community = community
        self.group = group
        self.household = household
        self.birth = birth
        self.age = age
        self.basis = basis
        self.idn = idn
        self.name = name
        self.years = years
        self.approval = approval


class Household:
    """A household: its id, resident group and the voters on the final roll."""

    __slots__ = ("group", "hid", "voters")

    def __init__(self, hid: str, group: str) -> None:
        self.hid = hid
        self.group = group
        self.voters: list[Voter] = []


class Community:
    """A community: its groups, households, final voters and seats."""

    __slots__ = (
        "cid",
        "groups",
        "households",
        "index",
        "member_seats",
        "name",
        "next_voter",
        "voters",
    )

    def __init__(self, index: int, cid: str, name: str) -> None:
        self.index = index
        self.cid = cid
        self.name = name
        self.groups: list[str] = []
        self.households: list[Household] = []
        self.voters: list[Voter] = []  # the final roll, in registration order
        self.member_seats = 0
        self.next_voter = 1

    def new_vid(self) -> str:
        """The next pseudonymous voter id of this community."""
        vid = f"{self.cid}-v{self.next_voter:05d}"
        self.next_voter += 1
        return vid


class Population:
    """The district's people. ``extras`` are registrations that leave the roll before it is
    final, keyed by why: ``died``, ``moved_away`` (out of the district), ``deprived``,
    ``moved_within`` (the old registration of a person who re-registers elsewhere in the
    district; ``movers`` pairs it with the new one), ``wrongful`` (removed after an upheld
    objection). ``late`` voters are on the final roll but registered only after an upheld
    omission objection."""

    def __init__(self, communities: list[Community], election_day: _dt.date) -> None:
        self.communities = communities
        self.election_day = election_day
        self.extras: dict[str, list[Voter]] = {
            "died": [],
            "moved_away": [],
            "deprived": [],
            "moved_within": [],
            "wrongful": [],
        }
        self.movers: list[tuple[Voter, Voter]] = []  # (old registration, new registration)
        self.late: list[Voter] = []
        self.coming_of_age: Voter | None = None

    @property
    def voters(self) -> int:
        """Voters on the final roll."""
        return sum(len(c.voters) for c in self.communities)


def _largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    s = sum(weights)
    raw = [total * w / s for w in weights]
    out = [int(x) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: (out[i] - raw[i], i))
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


class _People:
    """Names, ID numbers (GB 11643 format, fictitious area codes) and birth dates."""

    def __init__(self, rng: random.Random, election_day: _dt.date) -> None:
        self.rng = rng
        self.day = election_day
        self.serials: dict[tuple[str, _dt.date], int] = {}

    def birth(self, age: int) -> _dt.date:
        anniversary = _replace_year(self.day, self.day.year - age)
        return anniversary - _dt.timedelta(days=self.rng.randrange(365))

    def age(self) -> int:
        lo, hi = self.rng.choices(_AGE_BANDS, _AGE_WEIGHTS)[0]
        return self.rng.randint(lo, hi)

    def name(self) -> str:
        r = self.rng
        given = r.choice(_GIVEN) + (r.choice(_GIVEN) if r.random() < 0.6 else "")
        return f"{r.choice(_SURNAMES)} {given.capitalize()}"

    def idn(self, community_index: int, birth: _dt.date) -> str:
        area = f"99{community_index:02d}01"
        n = self.serials.get((area, birth), 0) + 1
        self.serials[(area, birth)] = n
        body = f"{area}{birth:%Y%m%d}{n:03d}"
        check = _ID_CHECK[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]
        return body + check


def _replace_year(day: _dt.date, year: int) -> _dt.date:
    if day.month == 2 and day.day == 29:
        return _dt.date(year, 3, 1)
    return day.replace(year=year)


def _extra_counts(voters: int) -> dict[str, int]:
    """Removals at the scale of the district (the full district: 156 died, 78 moved away,
    26 moved within the district, 3 deprived of rights), at least one of each."""

    def scaled(per_full: int) -> int:
        return max(1, round(per_full * voters / 129_600))

    return {
        "died": scaled(156),
        "moved_away": scaled(78),
        "moved_within": scaled(26),
        "deprived": scaled(3),
        "wrongful": 1,
        "late": 2,
    }


def build_population(config: DistrictConfig, rng: random.Random) -> Population:
    """Draw the district's communities, groups, households and voters."""
    day = config.election_day
    people = _People(rng, day)
    n_comm = config.communities
    names = [
        f"{COMMUNITY_NAMES[i % len(COMMUNITY_NAMES)]}"
        + (f" {i // len(COMMUNITY_NAMES) + 1}" if i >= len(COMMUNITY_NAMES) else "")
        + " Community"
        for i in range(n_comm)
    ]
    communities = [Community(i, f"c{i + 1:02d}", names[i]) for i in range(n_comm)]

    # community sizes: a floor each, the rest by weight
    weights = [rng.uniform(0.6, 1.4) for _ in range(n_comm)]
    floor = MIN_VOTERS_PER_COMMUNITY
    sizes = [floor + x for x in _largest_remainder(config.voters - floor * n_comm, weights)]
    groups = [1 + x for x in _largest_remainder(config.groups - n_comm, sizes)]
    base, extra = divmod(config.members, n_comm)
    by_size = sorted(range(n_comm), key=lambda i: (-sizes[i], i))
    for rank, i in enumerate(by_size):
        communities[i].member_seats = base + (1 if rank < extra else 0)

    for c, size, n_groups in zip(communities, sizes, groups, strict=True):
        _fill_community(c, size, n_groups, people)

    pop = Population(communities, day)
    _plan_extras(pop, config, people)
    return pop


def _fill_community(c: Community, size: int, n_groups: int, people: _People) -> None:
    rng = people.rng
    c.groups = [f"{c.cid}-g{g + 1:03d}" for g in range(n_groups)]
    # households until the community's voters are reached
    counts: list[int] = []
    total = 0
    while total < size:
        a = rng.choices(_ADULTS, _ADULT_WEIGHTS)[0]
        a = min(a, size - total)
        counts.append(a)
        total += a
    # households to groups by random shares (at least one household per group)
    shares = _largest_remainder(len(counts) - n_groups, [rng.uniform(0.7, 1.3) for _ in c.groups])
    group_of: list[str] = []
    for g, share in zip(c.groups, shares, strict=True):
        group_of.extend([g] * (share + 1))
    for h, adults in enumerate(counts):
        hh = Household(f"{c.cid}-h{h + 1:05d}", group_of[h])
        c.households.append(hh)
        non_local = rng.random() < 0.03
        years = rng.randint(1, 15) if non_local else None
        head_age = max(people.age(), 22)
        for k in range(adults):
            if k == 0:
                age = head_age
            elif k == 1:
                age = max(18, min(96, head_age + rng.randint(-6, 6)))
            elif head_age >= 45 and rng.random() < 0.7:
                age = rng.randint(18, max(18, head_age - 20))  # adult child
            else:
                age = rng.randint(max(18, head_age + 20), 98) if head_age < 70 else people.age()
            age = min(age, 98)
            birth = people.birth(age)
            if non_local:
                basis = NON_LOCAL
            elif age < 40 and rng.random() < 0.08:
                basis = ELSEWHERE
            else:
                basis = LOCAL
            v = Voter(
                vid="",
                community=c.cid,
                group=hh.group,
                household=hh.hid,
                birth=birth,
                age=age,
                basis=basis,
                idn=people.idn(c.index, birth),
                name=people.name(),
                years=years,
                approval=(
                    f"residents' meeting of {c.name}, resolution {c.cid}/2026-{h % 7 + 1}"
                    if non_local
                    else None
                ),
            )
            hh.voters.append(v)
            c.voters.append(v)
    # pseudonymous ids in a random order (registration order is by household)
    order = list(range(len(c.voters)))
    rng.shuffle(order)
    for n, i in enumerate(order, start=1):
        c.voters[i].vid = f"{c.cid}-v{n:05d}"
    c.next_voter = len(c.voters) + 1


def _extra_voter(c: Community, hh: Household, age: int, people: _People) -> Voter:
    birth = people.birth(age)
    return Voter(
        vid=c.new_vid(),
        community=c.cid,
        group=hh.group,
        household=hh.hid,
        birth=birth,
        age=age,
        basis=LOCAL,
        idn=people.idn(c.index, birth),
        name=people.name(),
    )


def _plan_extras(pop: Population, config: DistrictConfig, people: _People) -> None:
    rng = people.rng
    comms = pop.communities
    counts = _extra_counts(config.voters)
    ages = {"died": (80, 98), "moved_away": (20, 45), "deprived": (30, 60), "wrongful": (25, 60)}
    for why in ("died", "moved_away", "deprived", "wrongful"):
        lo, hi = ages[why]
        for _ in range(counts[why]):
            c = rng.choice(comms)
            hh = rng.choice(c.households)
            pop.extras[why].append(_extra_voter(c, hh, rng.randint(lo, hi), people))
    # movers within the district: a final voter of B first registered in A (another community)
    used: set[str] = set()
    for _ in range(counts["moved_within"]):
        b = rng.choice(comms)
        new = rng.choice(b.voters)
        while new.vid in used or new.basis == NON_LOCAL:
            new = rng.choice(b.voters)
        used.add(new.vid)
        a = rng.choice([c for c in comms if c is not b])
        hh = rng.choice(a.households)
        old = Voter(
            vid=a.new_vid(),
            community=a.cid,
            group=hh.group,
            household=hh.hid,
            birth=new.birth,
            age=new.age,
            basis=LOCAL,
            idn=new.idn,
            name=new.name,
        )
        pop.extras["moved_within"].append(old)
        pop.movers.append((old, new))
    # voters omitted from the first roll, registered after an upheld objection: in households
    # with another voter (so the household is already known)
    for _ in range(counts["late"]):
        c = rng.choice(comms)
        hh = rng.choice([h for h in c.households if len(h.voters) >= 2])
        v = rng.choice(hh.voters)
        while v.vid in used:
            hh = rng.choice([h for h in c.households if len(h.voters) >= 2])
            v = rng.choice(hh.voters)
        used.add(v.vid)
        pop.late.append(v)
    # one voter turns 18 on election day itself (the youngest eligible age)
    c = comms[0]
    v = next(v for v in c.voters if v.vid not in used and v.basis == LOCAL)
    v.age = 18
    v.birth = _replace_year(pop.election_day, pop.election_day.year - 18)
    v.idn = people.idn(c.index, v.birth)
    pop.coming_of_age = v
