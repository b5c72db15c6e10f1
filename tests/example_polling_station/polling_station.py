"""A tiny polling-station app built on electlog (the worked example of docs/testing.md).

The station opens a polling unit for one community's round and seals its box, hands out
ballots to the voters who come (turning away, with a reason, those who may not vote, before
anything is signed), and closes. Everything it records goes through electlog's ``Election``
facade, so the log stays auditable; the app's own checks only make refusals friendly.
"""

from __future__ import annotations

from collections.abc import Callable

from electlog.election import (
    BallotIssued,
    BoxSealed,
    Election,
    ElectionEvent,
    UnitClosed,
    UnitOpened,
)
from electlog.keys import SigningKey


class Refused(Exception):
    """The station turns a voter away; ``reason`` says why."""

    def __init__(self, voter: str, reason: str) -> None:
        super().__init__(f"{voter}: {reason}")
        self.voter = voter
        self.reason = reason


class PollingStation:
    """One polling unit of a community's round, run by the holder of a polling-station key.

    ``clock()`` gives the time of each act in microseconds UTC (injected, so tests control it).
    """

    def __init__(
        self,
        election: Election,
        key: SigningKey,
        *,
        community: str,
        unit: str,
        clock: Callable[[], int],
        round: int = 1,
    ) -> None:
        self.election = election
        self.author = election.author(key)
        self.community = community
        self.unit = unit
        self.round = round
        self.clock = clock
        self.issued = 0

    def _submit(self, event: ElectionEvent) -> None:
        self.election.submit(self.author, event, time=self.clock())

    def open(self, observers: tuple[str, ...]) -> None:
        """Open the unit with its observers and seal its (empty) box."""
        self._submit(
            UnitOpened(
                unit=self.unit,
                community=self.community,
                round=self.round,
                kind="station",
                observers=observers,
            )
        )
        self._submit(BoxSealed(unit=self.unit, box=f"{self.unit}-box"))

    def check(self, voter: str, proxy_for: str | None = None) -> None:
        """Raise :class:`Refused` unless ``voter`` (for themself, or as the written proxy of
        ``proxy_for``) may be given a ballot now."""
        state = self.election.state
        cs = state.community(self.community)
        principal = proxy_for or voter
        if voter not in cs.roll:
            raise Refused(voter, "not on this community's roll")
        if proxy_for is not None:
            auth = cs.proxies.get(proxy_for)
            if auth is None or auth.proxy != voter:
                raise Refused(voter, f"holds no written proxy of {proxy_for}")
            if proxy_for not in cs.roll:
                raise Refused(voter, f"{proxy_for} is not on this community's roll")
        elif voter in cs.proxies:
            raise Refused(voter, "gave a written proxy and cannot vote in person")
        rs = state.round(self.community, self.round)
        if principal in rs.issued_voters:
            raise Refused(voter, f"{principal} already has a ballot")
        if cs.mode == "group_rep" and principal not in cs.entitled:
            raise Refused(voter, f"{principal} is not an elected group representative")
        if cs.mode == "household_rep":
            reg = cs.roll[principal]
            given = rs.issued_households.get((reg.group, reg.household), 0)
            if given >= state.rules.household_ballots:
                raise Refused(voter, f"household {reg.household} already has its ballot")

    def issue(self, voter: str, proxy_for: str | None = None) -> None:
        """Give ``voter`` a ballot (as the proxy of ``proxy_for`` if given), or raise
        :class:`Refused` with the reason; the issuance is signed and logged."""
        self.check(voter, proxy_for)
        self._submit(BallotIssued(unit=self.unit, voter=voter, proxy_for=proxy_for))
        self.issued += 1

    def close(self) -> None:
        """Close the unit: no more ballots."""
        self._submit(UnitClosed(unit=self.unit))


def turnout(election: Election) -> dict[str, int]:
    """Ballots issued per polling unit, counted from the log's ``ballot.issued`` entries."""
    counts: dict[str, int] = {}
    for entry in election.log:
        if entry.type == BallotIssued.TYPE:
            unit = entry.statement.body["unit"]
            counts[unit] = counts.get(unit, 0) + 1
    return counts
