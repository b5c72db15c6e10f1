"""Election projections and admission rules: one fold, two callers (writer and auditor).

:class:`ElectionState` holds the projections of an election log (keys and roles, voter roll,
households and resident groups, committees, nominations and candidates, proxies, polling units
and boxes, running tallies, declared results). :meth:`ElectionState.check` raises
:class:`~electlog.errors.RuleViolation` when an event breaks a rule of the :class:`RuleSet`
given the projections so far; :meth:`ElectionState.apply` folds the event into the projections.
:meth:`ElectionState.admit` is check then apply.

``apply`` never raises for an event that failed ``check``: the auditor keeps replaying after a
violation to report everything, so ``apply`` skips what cannot be applied (an unknown unit, a
second registration of an active voter id) and otherwise records what the log says happened (a
ballot issued twice still counts as issued). For a log whose every event passed ``check``,
incremental application equals :meth:`ElectionState.rebuild`.

The package has one module per projection, each writing an event type's check and apply side
by side, registered with :func:`~._base.checks` / :func:`~._base.applies`: :mod:`.keys` (keys
and signer roles, the genesis), :mod:`.committee`, :mod:`.roll` (roll and objections),
:mod:`.groups` (resident groups), :mod:`.candidacy`, :mod:`.polling` (proxies, observers,
units, boxes, ballots), :mod:`.rounds` (rounds and results) and :mod:`.hashing` (one
registered data function per projection). :class:`ElectionState` (:mod:`._state`) composes
them; the writer (:class:`~electlog.election.Election`) and the auditor
(:mod:`electlog.audit._replay`) share it.

Cost: ``check`` and ``apply`` of registrations and ballots are a handful of dict and set
operations; the roll and proxy hashes are computed only when a roll or proxy list is published
(or on request).
"""

from __future__ import annotations

from ._base import DAY_US, GROUP_LEADER, GROUP_REP, EventContext, local_day
from ._model import BoxState, CommunityState, CountingBatch, GroupElection, RoundState, UnitState
from ._state import ElectionState
from .keys import SIGNER_ROLES

__all__ = [
    "DAY_US",
    "GROUP_LEADER",
    "GROUP_REP",
    "SIGNER_ROLES",
    "BoxState",
    "CommunityState",
    "CountingBatch",
    "ElectionState",
    "EventContext",
    "GroupElection",
    "RoundState",
    "UnitState",
    "local_day",
]
