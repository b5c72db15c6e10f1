"""A deterministic simulated district election, end to end, for demos, benchmarks and tests.

:func:`simulate_district` builds the motivating election (GUIDE §1) — 19 communities, 129,600
registered voters in households, 989 resident groups, 32 unit representatives, 131 seats — or a
scaled-down district with the same features, into any store, through the
:class:`~electlog.election.Election` facade (so every admission rule runs). Everything derives
from the seed: keys, people, ballots and times (injected, never the wall clock). The same seed
gives the same log, byte for byte.
"""

from __future__ import annotations

from ._config import (
    FULL_GROUPS,
    FULL_UNIT_REPS,
    FULL_VOTERS,
    MIN_VOTERS_PER_COMMUNITY,
    CommunityOutcome,
    DistrictConfig,
    SimulationKeys,
    SimulationResult,
)
from ._run import ProgressCallback, make_keys, simulate_district

__all__ = [
    "FULL_GROUPS",
    "FULL_UNIT_REPS",
    "FULL_VOTERS",
    "MIN_VOTERS_PER_COMMUNITY",
    "CommunityOutcome",
    "DistrictConfig",
    "ProgressCallback",
    "SimulationKeys",
    "SimulationResult",
    "make_keys",
    "simulate_district",
]
