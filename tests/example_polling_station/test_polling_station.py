"""Property tests of the polling-station app, written with electlog's strategies."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from electlog.election import BallotIssued, Election, EventContext
from electlog.errors import RuleViolation
from electlog.testing import strategies as est

from .polling_station import PollingStation, Refused, turnout

EXAMPLES = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@EXAMPLES
@given(builder=est.election_builders(until="vote"), data=st.data())
def test_station_refuses_exactly_what_the_rules_refuse(
    builder: est.ElectionBuilder, data: st.DataObject
) -> None:
    election = builder.e
    community = builder.definition.communities[0].community
    station = PollingStation(
        election,
        builder.keys.polling,
        community=community,
        unit="u-app",
        clock=lambda: builder.at(0),
    )
    station.open(observers=tuple(f"obs-{i}" for i in range(builder.rules.min_observers + 1)))
    cs = election.state.community(community)
    person = st.sampled_from([*sorted(cs.roll), "stranger"])
    proxies = [(auth.proxy, principal) for principal, auth in sorted(cs.proxies.items())]
    arrival = st.tuples(person, st.none()) | st.tuples(person, person)
    if proxies:
        arrival |= st.sampled_from(proxies)
    for voter, proxy_for in data.draw(st.lists(arrival, max_size=12)):
        try:
            station.issue(voter, proxy_for)  # a RuleViolation escaping here fails the test
        except Refused:
            # the app is not stricter than the law: electlog's rules refuse it as well
            ctx = EventContext(
                index=len(election.log), time=builder.at(0), signer=builder.keys.polling.key_id
            )
            event = BallotIssued(unit="u-app", voter=voter, proxy_for=proxy_for)
            with pytest.raises(RuleViolation):
                election.state.check(ctx, event)
    station.close()
    assert election.state.units["u-app"].issued == station.issued


@EXAMPLES
@given(election=est.signed_event_streams())
def test_turnout_counts_every_ballot_issued(election: est.SignedElection) -> None:
    state = election.state()
    assert turnout(Election(election.log(), state)) == {
        unit: u.issued for unit, u in state.units.items() if u.issued
    }


def test_docs_show_this_app() -> None:
    """docs/testing.md shows the app's code verbatim (its python blocks run as a test)."""
    here = Path(__file__).resolve().parent
    docs = (here.parent.parent / "docs" / "testing.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```python[^\n]*\n(.*?)^```", docs, re.DOTALL | re.MULTILINE)
    source = (here / "polling_station.py").read_text(encoding="utf-8")
    body = source[source.index("class Refused") :]
    assert any(body.strip() in block for block in blocks)
