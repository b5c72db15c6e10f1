"""Hypothesis entry point: registers electlog's strategies for its types.

Hypothesis calls :func:`_hypothesis_setup_hook` when it is imported (entry point group
``hypothesis``), so that ``st.from_type(VoterRegistered)`` draws schema-valid events
(:func:`electlog.testing.strategies.events`), ``st.from_type(RuleSet)`` draws rule sets and
``st.from_type(SigningKey)`` draws keys. The strategies module itself is imported only when one
of these strategies is first drawn, so ``import hypothesis`` stays fast.
"""

from __future__ import annotations

from typing import Any

__all__: list[str] = []


def _hypothesis_setup_hook() -> None:
    """Register a strategy for every election event class, RuleSet, TallyRules, PostMarks and
    SigningKey (called by hypothesis through its ``hypothesis`` entry point)."""
    from hypothesis import strategies as st

    from electlog.election import EVENT_TYPES, RuleSet
    from electlog.election.tally import PostMarks, TallyRules
    from electlog.keys import SigningKey

    def est() -> Any:
        from . import strategies

        return strategies

    def events_of(cls: type) -> st.SearchStrategy[Any]:
        return st.deferred(lambda: est().events(cls))

    for cls in EVENT_TYPES.values():
        st.register_type_strategy(cls, events_of(cls))
    st.register_type_strategy(RuleSet, st.deferred(lambda: est().rulesets()))
    st.register_type_strategy(TallyRules, st.deferred(lambda: est().tally_rules()))
    st.register_type_strategy(
        PostMarks, st.deferred(lambda: est().post_marks(("v1", "v2", "v3"), write_ins=("v4",)))
    )
    st.register_type_strategy(SigningKey, st.deferred(lambda: est().signing_keys()))
