"""Comparing a declared result with the recomputed one (:func:`compare_declared`); offered by
:mod:`electlog.election.tally`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import attrs

from electlog.errors import UsageError

from ._tally_types import RoundResult


@attrs.frozen(kw_only=True)
class Discrepancy:
    """One difference between a declared result and the recomputed one.

    ``post`` is ``None`` for round-level fields (``field`` such as ``"returned"`` or
    ``"rules.majority"``); ``candidate`` is set for per-person counts (``votes``, ``against``,
    ``counts``). ``declared`` / ``recomputed`` are the two values; ``None`` means absent.
    A post present on one side only is reported with ``field="post"`` and values
    ``"present"`` / ``"missing"``.
    """

    post: str | None
    field: str
    candidate: str | None
    declared: object
    recomputed: object

    def to_dict(self) -> dict[str, object]:
        """Plain form for a finding; absent values (``None``) are left out."""
        out: dict[str, object] = {"field": self.field}
        if self.post is not None:
            out["post"] = self.post
        if self.candidate is not None:
            out["candidate"] = self.candidate
        if self.declared is not None:
            out["declared"] = self.declared
        if self.recomputed is not None:
            out["recomputed"] = self.recomputed
        return out

    def __str__(self) -> str:
        where = self.field if self.post is None else f"{self.post}.{self.field}"
        if self.candidate is not None:
            where = f"{where}[{self.candidate}]"
        return f"{where}: declared {self.declared!r}, recomputed {self.recomputed!r}"


_ROUND_SCALARS: Final = (
    "registered",
    "issued",
    "returned",
    "valid",
    "partly_valid",
    "void",
    "blank",
    "unknown_post_ballots",
    "round_void",
    "void_reason",
    "supplementary",
    "min_votes",
)
_RULE_FIELDS: Final = ("majority", "supplementary_min", "turnout_min", "combined_ballot")
_POST_SCALARS: Final = (
    "seats",
    "rank",
    "valid_ballots",
    "void_ballots",
    "overvote_ballots",
    "invalid_ballots",
    "blank_ballots",
    "unfilled",
    "revote_seats",
)
_POST_MAPS: Final = ("votes", "against", "counts")
_POST_LISTS: Final = ("elected", "tied", "excluded")


def _same(a: object, b: object) -> bool:
    """Strict equality: same type (list and tuple alike), so True is not 1."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _get(mapping: object, key: str) -> object:
    if isinstance(mapping, Mapping):
        return mapping.get(key)
    return None


_ONLY_INT: Final = frozenset({int})
_ONLY_STR: Final = frozenset({str})


def _compare_map(pid: str, key: str, my_map: object, their_map: object) -> list[Discrepancy]:
    """The discrepancies of one per-person map (``votes``, ``against``, ``counts``) of a post."""
    assert isinstance(my_map, dict)
    if (  # the common case, in C: equal maps of exactly str keys and exactly int counts
        type(their_map) is dict
        and their_map == my_map
        and _ONLY_STR.issuperset(map(type, their_map))
        and _ONLY_INT.issuperset(map(type, their_map.values()))
        and _ONLY_INT.issuperset(map(type, my_map.values()))
    ):
        return []
    return _compare_map_all(pid, key, my_map, their_map)


def _compare_map_all(
    pid: str, key: str, my_map: Mapping[str, object], their_map: object
) -> list[Discrepancy]:
    """:func:`_compare_map` name by name (what its common case must agree with)."""
    if not isinstance(their_map, Mapping):
        return [
            Discrepancy(
                post=pid, field=key, candidate=None, declared=their_map, recomputed=dict(my_map)
            )
        ]
    out: list[Discrepancy] = []
    names = set(my_map) | {k for k in their_map if isinstance(k, str)}
    for name in sorted(names):
        got = their_map.get(name)
        want = my_map.get(name)
        if not _same(got, want):
            out.append(
                Discrepancy(post=pid, field=key, candidate=name, declared=got, recomputed=want)
            )
    out.extend(
        Discrepancy(
            post=pid, field=key, candidate=repr(odd), declared=their_map[odd], recomputed=None
        )
        for odd in their_map
        if not isinstance(odd, str)
    )
    return out


def compare_declared(declared: Mapping[str, object], recomputed: RoundResult) -> list[Discrepancy]:
    """Every difference between a declared result dict and a recomputed :class:`RoundResult`.

    ``declared`` has the shape of :meth:`RoundResult.to_dict` (as carried in a signed event).
    Compared: every round count and flag, the rules, and per post every count, every per-person
    vote / against / count, and the ``elected`` / ``tied`` / ``excluded`` lists. Not compared:
    the explanatory texts (``reasons``, ``seat_reasons``) and keys the recomputed form does not
    have. A missing or wrongly typed value is a discrepancy (``True`` is not ``1``). An empty
    list means the declared result matches. Never raises on a malformed ``declared``.
    """
    if not isinstance(recomputed, RoundResult):
        raise UsageError(f"recomputed must be a RoundResult, got {type(recomputed).__name__}")
    # the round's scalars as to_dict gives them (without its copy of every post's maps)
    mine = {key: getattr(recomputed, key) for key in _ROUND_SCALARS}
    mine["void_reason"] = recomputed.void_reason or ""
    out: list[Discrepancy] = []
    for key in _ROUND_SCALARS:
        got = _get(declared, key)
        if not _same(got, mine[key]):
            out.append(
                Discrepancy(
                    post=None, field=key, candidate=None, declared=got, recomputed=mine[key]
                )
            )
    my_rules = recomputed.rules.to_dict()
    their_rules = _get(declared, "rules")
    for key in _RULE_FIELDS:
        got = _get(their_rules, key)
        if not _same(got, my_rules[key]):
            out.append(
                Discrepancy(
                    post=None,
                    field=f"rules.{key}",
                    candidate=None,
                    declared=got,
                    recomputed=my_rules[key],
                )
            )
    their_posts = _get(declared, "posts")
    if not isinstance(their_posts, Mapping):
        their_posts = {}
    for pid, pr in recomputed.posts.items():
        theirs = their_posts.get(pid)
        if not isinstance(theirs, Mapping):
            out.append(
                Discrepancy(
                    post=pid, field="post", candidate=None, declared="missing", recomputed="present"
                )
            )
            continue
        for key in _POST_SCALARS + _POST_LISTS:  # as pr.to_dict() gives them
            got = theirs.get(key)
            want = getattr(pr, key)
            if not _same(got, want):
                out.append(
                    Discrepancy(
                        post=pid,
                        field=key,
                        candidate=None,
                        declared=got,
                        recomputed=list(want) if key in _POST_LISTS else want,
                    )
                )
        for key in _POST_MAPS:  # pr's own maps: _compare_map keeps no reference to them
            out.extend(_compare_map(pid, key, getattr(pr, key), theirs.get(key)))
    extra = sorted(
        repr(k) if not isinstance(k, str) else k for k in their_posts if k not in recomputed.posts
    )
    out.extend(
        Discrepancy(
            post=pid, field="post", candidate=None, declared="present", recomputed="missing"
        )
        for pid in extra
    )
    return out
