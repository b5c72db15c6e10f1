"""Hypothesis strategies for the audit board's event types (the risk-limiting audit and the
eligibility sample): instances valid against their schemas, with small readable ids.
:func:`electlog.testing.strategies.events` serves them with every other event type (its table
takes :data:`AUDIT_EVENT_STRATEGIES`)."""

from __future__ import annotations

from typing import Any, Final

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from electlog.election.events import (
    AUDIT_OUTCOMES,
    AUDIT_TESTS,
    AssertionRisk,
    AuditBallotInterpreted,
    AuditBoxCounted,
    AuditConcluded,
    AuditDeclared,
    AuditedRound,
    AuditRoundClosed,
    AuditSampleDrawn,
    AuditSeedDrawn,
    ElectionEvent,
    EligibilitySampleChecked,
    EligibilitySampleDrawn,
)
from electlog.election.tally import PostMarks

__all__ = ["AUDIT_EVENT_STRATEGIES"]


def _ids(prefix: str, high: int = 9) -> SearchStrategy[str]:
    return st.integers(1, high).map(lambda n: f"{prefix}{n}")


_COMMUNITY: Final = _ids("c", 5)
_ROUND: Final = st.integers(1, 3)
_BOX: Final = _ids("b")
_BALLOT: Final = st.builds(lambda b, n: f"{b}#{n}", _BOX, st.integers(1, 500))
_DECIMAL: Final = st.builds(lambda n: f"0.{n:020d}", st.integers(0, 10**20 - 1))
_HASH: Final = st.binary(min_size=32, max_size=32)
_MARKS: Final = st.dictionaries(
    st.sampled_from(("director", "deputy", "member")),
    st.builds(
        PostMarks,
        in_favour=st.lists(_ids("v", 30), max_size=2, unique=True).map(lambda x: tuple(sorted(x))),
    ),
    max_size=3,
)

AUDIT_EVENT_STRATEGIES: Final[dict[type[ElectionEvent], SearchStrategy[Any]]] = {
    AuditDeclared: st.builds(
        AuditDeclared,
        rounds=st.lists(
            st.builds(AuditedRound, community=_COMMUNITY, round=_ROUND),
            min_size=1,
            max_size=3,
            unique=True,
        ).map(tuple),
        method=st.just("comparison"),
        risk_limit=st.sampled_from(("0.05", "0.1", "0.01")),
        test=st.sampled_from(AUDIT_TESTS),
        replacement=st.booleans(),
        checkpoint_size=st.integers(1, 10**6),
        checkpoint_root=_HASH,
        manifest_hash=_HASH,
    ),
    AuditBoxCounted: st.builds(
        AuditBoxCounted, community=_COMMUNITY, round=_ROUND, box=_BOX, sheets=st.integers(0, 999)
    ),
    AuditSeedDrawn: st.builds(AuditSeedDrawn, seed=st.from_regex(r"[0-9]{20}", fullmatch=True)),
    AuditSampleDrawn: st.builds(
        AuditSampleDrawn,
        community=_COMMUNITY,
        round=_ROUND,
        audit_round=st.integers(1, 4),
        drop=st.integers(0, 200),
        ballots=st.lists(_BALLOT, min_size=1, max_size=20).map(tuple),
    ),
    AuditBallotInterpreted: st.one_of(
        st.builds(
            AuditBallotInterpreted,
            community=_COMMUNITY,
            round=_ROUND,
            ballot=_BALLOT,
            not_found=st.just(False),
            marks=_MARKS,
            members=st.lists(_ids("m"), min_size=2, max_size=3, unique=True).map(tuple),
        ),
        st.builds(
            AuditBallotInterpreted,
            community=_COMMUNITY,
            round=_ROUND,
            ballot=_BALLOT,
            not_found=st.just(True),
            marks=st.just({}),
            members=st.lists(_ids("m"), min_size=2, max_size=3, unique=True).map(tuple),
        ),
    ),
    AuditRoundClosed: st.builds(
        AuditRoundClosed,
        community=_COMMUNITY,
        round=_ROUND,
        audit_round=st.integers(1, 4),
        sampled=st.integers(0, 500),
        risks=st.lists(
            st.builds(
                AssertionRisk,
                assertion=st.builds(
                    lambda p, v: f"{p}:elected:{v}", st.just("director"), _ids("v")
                ),
                p_value=_DECIMAL,
                o1=st.integers(0, 3),
                o2=st.integers(0, 3),
                u1=st.integers(0, 3),
                u2=st.integers(0, 3),
            ),
            max_size=4,
        ).map(tuple),
        confirmed=st.booleans(),
    ),
    AuditConcluded: st.builds(
        AuditConcluded, community=_COMMUNITY, round=_ROUND, outcome=st.sampled_from(AUDIT_OUTCOMES)
    ),
    EligibilitySampleDrawn: st.builds(
        EligibilitySampleDrawn,
        checkpoint_size=st.integers(1, 10**6),
        checkpoint_root=_HASH,
        roll_size=st.integers(0, 10**6),
        seed=st.from_regex(r"[0-9]{20}", fullmatch=True),
        voters=st.lists(_ids("v", 60), min_size=1, max_size=20, unique=True).map(tuple),
    ),
    EligibilitySampleChecked: st.builds(
        EligibilitySampleChecked,
        seed=st.from_regex(r"[0-9]{20}", fullmatch=True),
        checked=st.integers(0, 100),
        failures=st.lists(_ids("v", 60), max_size=3, unique=True).map(tuple),
        members=st.lists(_ids("m"), min_size=2, max_size=3, unique=True).map(tuple),
    ),
}
