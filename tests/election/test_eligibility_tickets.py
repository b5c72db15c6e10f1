"""The eligibility draw's inline tickets against the consistent sampler they stand for."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from electlog.election.state.eligibility import smallest_tickets
from electlog.errors import UsageError
from electlog.rla.sampling import first_fraction, sample

_IDS = st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=60, unique=True)


@settings(max_examples=200, deadline=None)
@given(ids=_IDS, seed=st.text(max_size=20), k=st.integers(0, 70))
def test_smallest_tickets_are_the_samplers_first_draws(ids: list[str], seed: str, k: int) -> None:
    try:
        want = [t.id for t in sample(sorted(ids), seed, k)]
    except UsageError:  # a lone surrogate: both refuse
        with pytest.raises(UsageError):
            smallest_tickets(ids, seed, k)
        return
    got = smallest_tickets(ids, seed, k)
    assert [v for _, v in got] == want
    assert got == sorted((first_fraction(v, seed), v) for v in ids)[:k]


def test_an_id_that_cannot_be_encoded_raises_the_samplers_error() -> None:
    with pytest.raises(UsageError, match="not valid Unicode"):
        smallest_tickets(["ok", "bad\ud800"], "seed", 1)
