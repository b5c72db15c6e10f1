"""A deterministic simulated district election, end to end, for demos, benchmarks and tests.

:func:`simulate_district` builds the motivating district election — 19 communities, 129,600
registered voters in households, 989 resident groups, 32 unit representatives, 131 seats — or a
scaled-down district with the same features, into any store, through the
:class:`~electlog.election.Election` facade (so every admission rule runs). The seed decides
what is public — people, plans, ballots and times (injected, never the wall clock). Every key
and secret comes from a :class:`SimulationKeys` set: fresh from the OS CSPRNG by default, or a
set saved with :meth:`SimulationKeys.save` and reused with :meth:`SimulationKeys.load`. The same
seed with the same key set gives the same log, byte for byte. Checkpoints are cosigned through
the caller's ``publish`` hook (the demo's witness processes) or, for tests, in-process.
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
from ._keys import ROLES, WITNESS_NAMES
from ._openings import simulation_openings
from ._run import CheckpointPublisher, ProgressCallback, simulate_district

__all__ = [
    "FULL_GROUPS",
    "FULL_UNIT_REPS",
    "FULL_VOTERS",
    "MIN_VOTERS_PER_COMMUNITY",
    "ROLES",
    "WITNESS_NAMES",
    "CheckpointPublisher",
    "CommunityOutcome",
    "DistrictConfig",
    "ProgressCallback",
    "SimulationKeys",
    "SimulationResult",
    "simulate_district",
    "simulation_openings",
]
