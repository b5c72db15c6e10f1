"""The election layer: event types, RuleSet, admission rules, projections, tally, facade.

See docs/election.md. The auditor (``electlog.audit``) replays a log with the very same
:meth:`ElectionState.check` / :meth:`ElectionState.apply` the writers use.
"""

from __future__ import annotations

from .codes import RULES, RuleInfo
from .events import EVENT_TYPES, ElectionEvent, decode_event
from .rules import ElectionMode, EligibilityBasis, Role, RuleSet
from .tally import (
    BallotClass,
    Discrepancy,
    PostMarks,
    PostResult,
    PostSpec,
    RoundResult,
    RoundTally,
    TallyRules,
    compare_declared,
    supplementary_candidates,
    tally_round,
)

__all__ = [
    "EVENT_TYPES",
    "RULES",
    "BallotClass",
    "Discrepancy",
    "ElectionEvent",
    "ElectionMode",
    "EligibilityBasis",
    "PostMarks",
    "PostResult",
    "PostSpec",
    "Role",
    "RoundResult",
    "RoundTally",
    "RuleInfo",
    "RuleSet",
    "TallyRules",
    "compare_declared",
    "decode_event",
    "supplementary_candidates",
    "tally_round",
]
