"""Configuration and results of a simulated district election."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Final

import attrs

from electlog.errors import UsageError
from electlog.keys import VerifyKey

from ._keys import SimulationKeys

__all__ = [
    "FULL_GROUPS",
    "FULL_UNIT_REPS",
    "FULL_VOTERS",
    "MIN_VOTERS_PER_COMMUNITY",
    "CommunityOutcome",
    "DistrictConfig",
    "SimulationKeys",
    "SimulationResult",
]

FULL_VOTERS: Final = 129_600
"""Registered voters of the motivating district."""
FULL_GROUPS: Final = 989
"""Resident groups of the motivating district."""
FULL_UNIT_REPS: Final = 32
"""Unit representatives (non-voting participants) of the motivating district."""
MIN_VOTERS_PER_COMMUNITY: Final = 60
"""Smallest community that still has every feature (committee, nominators, observers, proxies,
a mobile box, a resident group with a contested election)."""


def _positive(_inst: object, attribute: attrs.Attribute[int], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UsageError(f"DistrictConfig.{attribute.name} must be a positive int, got {value!r}")


def _check_day(_inst: object, _attribute: attrs.Attribute[_dt.date], value: object) -> None:
    if not isinstance(value, _dt.date) or isinstance(value, _dt.datetime):
        raise UsageError(f"DistrictConfig.election_day must be a datetime.date, got {value!r}")


def _check_origin(_inst: object, _attribute: attrs.Attribute[str], value: object) -> None:
    if (
        not isinstance(value, str)
        or not value
        or any(c.isspace() or c == "+" for c in value)
        or len(value) > 200
    ):
        raise UsageError(
            f"DistrictConfig.origin must be a log origin without spaces or '+', got {value!r}"
        )


@attrs.frozen(kw_only=True)
class DistrictConfig:
    """The shape of a simulated district.

    The defaults are the motivating district: 19 communities, 129,600 registered
    voters, 989 resident groups, 32 unit representatives, 131 seats (one director and three
    deputies per community, 55 members in all). :meth:`scaled` makes a smaller district with the
    same features: households and groups scale with the voters, the communities and seats do
    not.
    """

    voters: int = attrs.field(default=FULL_VOTERS, validator=_positive)
    """Registered voters on the final roll (after removals, moves and upheld objections)."""
    communities: int = attrs.field(default=19, validator=_positive)
    """Communities of the district (each elects its residents' committee)."""
    groups: int = attrs.field(default=FULL_GROUPS, validator=_positive)
    """Resident groups, spread over the communities (at least one per community)."""
    unit_reps: int = attrs.field(default=FULL_UNIT_REPS, validator=_positive)
    """Unit representatives: registered participants who do not vote."""
    deputies: int = attrs.field(default=3, validator=_positive)
    """Deputy director seats per community."""
    members: int = attrs.field(default=55, validator=_positive)
    """Member seats of the whole district (the largest communities get one more)."""
    election_day: _dt.date = attrs.field(default=_dt.date(2026, 6, 13), validator=_check_day)
    """Election day (local calendar day, UTC+8)."""
    origin: str = attrs.field(
        default="district.example/2026-residents-committees", validator=_check_origin
    )
    """The log origin used when ``simulate_district`` is given a bare origin-less target."""
    checkpoint_every: int = attrs.field(default=10_000, validator=_positive)
    """A checkpoint (log signature and two witness cosignatures) after at least this many new
    entries, at the next boundary of the builder's time-ordered submission buckets (about twice
    this many entries each), cosigned at that simulated time."""
    batch_size: int = attrs.field(default=4_096, validator=_positive)
    """Events per ``Election.submit_many`` call (one durable commit each)."""

    def __attrs_post_init__(self) -> None:
        need = MIN_VOTERS_PER_COMMUNITY * self.communities
        if self.voters < need:
            raise UsageError(
                f"a district of {self.communities} communities needs at least {need} voters "
                f"({MIN_VOTERS_PER_COMMUNITY} per community) to have every feature; got "
                f"{self.voters}"
            )
        if self.communities > 99:
            raise UsageError("at most 99 communities")
        if self.communities < 2:
            raise UsageError(
                "a district needs at least 2 communities (a voter moves from one to another, "
                "and the committee and withdrawal cases are not in the supplementary round's "
                "community)"
            )
        if self.groups < self.communities:
            raise UsageError("every community needs at least one resident group")
        if self.members < self.communities:
            raise UsageError("every community needs at least one member seat")
        if self.members > 4 * self.communities or self.deputies > 4:
            raise UsageError("at most 4 deputies per community and 4 member seats per community")

    @property
    def community_ids(self) -> tuple[str, ...]:
        """The communities' ids, ``c01``, ``c02``, ... (what a key set needs role keys for)."""
        return tuple(f"c{i:02d}" for i in range(1, self.communities + 1))

    @classmethod
    def scaled(cls, voters: int = FULL_VOTERS, **overrides: object) -> DistrictConfig:
        """The motivating district scaled to ``voters``: resident groups and unit
        representatives in proportion (groups at least one per community), the same
        communities and seats."""
        if not isinstance(voters, int) or isinstance(voters, bool) or voters < 1:
            raise UsageError(f"voters must be a positive int, got {voters!r}")
        communities = overrides.get("communities", 19)
        if not isinstance(communities, int) or isinstance(communities, bool) or communities < 1:
            raise UsageError(f"communities must be a positive int, got {communities!r}")
        groups = max(communities, round(FULL_GROUPS * voters / FULL_VOTERS))
        reps = max(3, round(FULL_UNIT_REPS * voters / FULL_VOTERS))
        kwargs: dict[str, object] = {"voters": voters, "groups": groups, "unit_reps": reps}
        kwargs.update(overrides)
        try:
            return cls(**kwargs)  # type: ignore[arg-type]
        except TypeError as exc:
            raise UsageError(f"DistrictConfig: {exc}") from None


@attrs.frozen(kw_only=True)
class CommunityOutcome:
    """One community's figures and declared winners.

    ``registered``: the final roll; ``issued`` / ``cast``: ballots issued and returned in
    round 1; ``seats``: seats of the community; ``elected``: post id -> persons elected, over
    every round; ``rounds``: how many rounds were held (2 with a supplementary round).
    """

    community: str
    name: str
    registered: int
    households: int
    groups: int
    issued: int
    cast: int
    seats: int
    elected: Mapping[str, tuple[str, ...]]
    rounds: int

    @property
    def turnout_percent(self) -> float:
        """Ballots cast in round 1 as a percentage of registered voters (display only)."""
        return 100.0 * self.cast / self.registered if self.registered else 0.0

    @property
    def elected_count(self) -> int:
        """Seats filled, over every round."""
        return sum(len(v) for v in self.elected.values())


@attrs.frozen(kw_only=True)
class SimulationResult:
    """What :func:`simulate_district` built.

    ``size`` / ``root``: the log's final tree size and RFC 6962 root (a final cosigned checkpoint
    commits to them). ``keys``: the key set it was built with (:class:`SimulationKeys`; without
    the witnesses' private keys when those stayed with the witness processes, as in ``electlog
    demo``); ``authority_key``, ``log_vkey``, ``witness_vkeys`` and ``quorum`` are the trust
    anchors an auditor needs (build an ``electlog.audit.Trust`` from them with
    :meth:`trust_fields`). ``counts``: how many of each kind of act the log holds (entries,
    voters, removals, objections, proxies, ballots ...). ``declared``: every declared result as
    carried in the log, keyed by ``(community, round)``. ``features``: for each feature of the
    district (a removal, an upheld objection, a vetting rejection, a proxy holding three
    principals, a mobile box, a supplementary round ...), the ids that exhibit it.
    ``details``: the plaintext of every committed detail (``minimal`` profile).
    """

    origin: str
    election_id: str
    seed: int
    config: DistrictConfig
    size: int
    root: bytes
    checkpoints: int
    keys: SimulationKeys
    authority_key: VerifyKey
    log_vkey: str
    witness_vkeys: tuple[str, ...]
    quorum: int
    counts: Mapping[str, int]
    communities: tuple[CommunityOutcome, ...]
    declared: Mapping[tuple[str, int], Mapping[str, object]]
    features: Mapping[str, tuple[str, ...]]
    details: Mapping[tuple[str, str, str], Mapping[str, str]] = attrs.field(factory=dict)
    """Under ``minimal``: what each committed detail said, by ``(event type, entry ref,
    field)`` (the writer's records; the salts re-derive from ``keys.salt_secret``, see
    :func:`~electlog.simulate.simulation_openings`). Private, like the keys."""

    def trust_fields(self) -> dict[str, object]:
        """Keyword arguments for ``electlog.audit.Trust.create``."""
        return {
            "origin": self.origin,
            "authority_key": self.authority_key,
            "log_key": self.log_vkey,
            "witnesses": list(self.witness_vkeys),
            "quorum": self.quorum,
        }

    @property
    def seats(self) -> int:
        """Seats of the whole district."""
        return sum(c.seats for c in self.communities)

    @property
    def elected(self) -> int:
        """Seats filled in the whole district."""
        return sum(c.elected_count for c in self.communities)
