"""The audited results as typed objects: :attr:`Report.results <electlog.audit.Report.results>`.

``report.results["c1"].rounds[1].posts["director"].elected`` (or ``report.result("c1")``, a
:class:`~electlog.election.RoundResult`) instead of the report's JSON dicts. ``to_dict()`` of
each class gives exactly the JSON of the report's ``tallies`` (docs/auditing.md, "JSON report").
"""

from __future__ import annotations

from typing import Any

import attrs

from ..election.tally import PostResult, RoundResult

__all__ = ["BatchSummary", "CommunityResults", "GroupResults", "RoundResults", "UnitSummary"]


def jsonable(value: Any) -> Any:
    """``value`` with bytes as hex, tuples as lists and dict keys as str (for JSON)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


@attrs.frozen(kw_only=True)
class BatchSummary:
    """One counting batch (a box opened for counting): the ``units`` whose ballots it holds, the
    ballots ``issued`` into them (the anonymity set of each ballot counted from it) and the
    ballots ``recorded`` from it."""

    units: tuple[str, ...]
    issued: int
    recorded: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"units": list(self.units), "issued": self.issued, "recorded": self.recorded}


@attrs.frozen(kw_only=True)
class UnitSummary:
    """A polling unit: the ``round`` it served, its ``kind`` (main, station, mobile) and the
    ballots ``issued`` there and ``recorded`` from it."""

    round: int
    kind: str
    issued: int
    recorded: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "round": self.round,
            "kind": self.kind,
            "issued": self.issued,
            "recorded": self.recorded,
        }


@attrs.frozen(kw_only=True)
class RoundResults:
    """One round of a community as audited: its ``kind`` (``None`` for the first round, else
    ``revote`` / ``supplementary`` / ``rerun``), whether a result was ``declared`` and whether it
    ``matches_declared`` (``None`` when none was), the recomputed ``result``, the counting
    ``batches`` per box and the ``smallest_anonymity_set`` of a counted batch."""

    kind: str | None
    declared: bool
    matches_declared: bool | None
    result: RoundResult
    batches: dict[str, BatchSummary]
    smallest_anonymity_set: int | None

    @property
    def posts(self) -> dict[str, PostResult]:
        """The recomputed result per post id (``rounds[1].posts["director"].elected``)."""
        return self.result.posts

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the report's ``tallies.<community>.rounds.<n>``)."""
        return {
            "kind": self.kind,
            "declared": self.declared,
            "matches_declared": self.matches_declared,
            "result": self.result.to_dict(),  # JSON already: str keys, lists, scalars
            "batches": {box: b.to_dict() for box, b in self.batches.items()},
            "smallest_anonymity_set": self.smallest_anonymity_set,
        }


@attrs.frozen(kw_only=True)
class GroupResults:
    """A resident group election as audited: ``declared``, ``matches_declared`` and the
    recomputed ``result`` (posts ``group_leader`` and ``group_rep``)."""

    declared: bool
    matches_declared: bool | None
    result: RoundResult

    @property
    def posts(self) -> dict[str, PostResult]:
        """The recomputed result per post id."""
        return self.result.posts

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the report's ``tallies.<community>.groups.<group>``)."""
        return {
            "declared": self.declared,
            "matches_declared": self.matches_declared,
            "result": self.result.to_dict(),  # JSON already: str keys, lists, scalars
        }


@attrs.frozen(kw_only=True)
class CommunityResults:
    """A community as audited: ``name``, election ``mode``, ``roll`` (active voters),
    ``electorate`` (the turnout denominator), its polling ``units``, every ``rounds`` (by round
    number) and every resident ``groups`` election."""

    community: str
    name: str
    mode: str
    roll: int
    electorate: int
    units: dict[str, UnitSummary]
    rounds: dict[int, RoundResults]
    groups: dict[str, GroupResults]

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the report's ``tallies.<community>``; round numbers become str keys)."""
        return {
            "name": self.name,
            "mode": self.mode,
            "roll": self.roll,
            "electorate": self.electorate,
            "units": {u: s.to_dict() for u, s in self.units.items()},
            "rounds": {str(n): r.to_dict() for n, r in self.rounds.items()},
            "groups": {g: r.to_dict() for g, r in self.groups.items()},
        }
