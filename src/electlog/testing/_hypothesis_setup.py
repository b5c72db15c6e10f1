"""Hypothesis entry point: registers electlog's strategies for its types.

Hypothesis calls :func:`_hypothesis_setup_hook` when it is imported (entry point group
``hypothesis``), so that ``st.from_type(VoterRegistered)`` draws schema-valid events
(:func:`electlog.testing.strategies.events`), ``st.from_type(RuleSet)`` draws rule sets and
``st.from_type(SigningKey)`` draws keys. Nothing is imported until hypothesis runs the hook.
"""

from __future__ import annotations

__all__: list[str] = []


def _hypothesis_setup_hook() -> None:
    """Register a strategy for every election event class, RuleSet, TallyRules, PostMarks and
    SigningKey (called by hypothesis through its ``hypothesis`` entry point)."""
    from hypothesis import strategies as st

    from electlog.election import EVENT_TYPES, RuleSet
    from electlog.election.tally import PostMarks, TallyRules
    from electlog.keys import SigningKey

    from . import strategies as est

    for cls in EVENT_TYPES.values():
        st.register_type_strategy(cls, est.events(cls))
    st.register_type_strategy(RuleSet, est.rulesets())
    st.register_type_strategy(TallyRules, est.tally_rules())
    st.register_type_strategy(PostMarks, est.post_marks(("v1", "v2", "v3"), write_ins=("v4",)))
    st.register_type_strategy(SigningKey, est.signing_keys())
