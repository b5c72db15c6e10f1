"""State hashing: one canonical data function per projection, in an explicit registry.

:data:`PROJECTIONS` names the projections in the order of the combined hash; each has
exactly one data function registered with :func:`projection` (checked at import), and
:func:`projection_data` raises :class:`~electlog.errors.UsageError` for a name that is not
one of them instead of falling through to another projection. The hash of a projection is
SHA-256 over the canonical encoding of ``["electlog/state/<name>/v1", data]``
(docs/election.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from electlog.errors import UsageError

from ._base import _h
from ._model import CommunityState
from .audit_board import audit_data
from .eligibility import eligibility_data
from .polling import _proxy_data
from .roll import _roll_data

if TYPE_CHECKING:
    from ._state import ElectionState

__all__ = ["PROJECTIONS", "projection", "projection_data", "state_hash", "state_hashes"]

PROJECTIONS: Final = (
    "keys",
    "roll",
    "objections",
    "groups",
    "committee",
    "candidates",
    "proxies",
    "units",
    "tally",
    "results",
    "audit",
    "times",
)
"""The projections of :meth:`ElectionState.state_hashes`, in the order of the combined hash."""

_DataFn = Callable[["ElectionState"], Any]
_DATA: Final[dict[str, _DataFn]] = {}


def projection(name: str) -> Callable[[_DataFn], _DataFn]:
    """Register the decorated ``fn(state)`` as the canonical data of projection ``name``."""

    def deco(fn: _DataFn) -> _DataFn:
        if name not in PROJECTIONS or name in _DATA:
            raise UsageError(f"projection {name!r} is not in PROJECTIONS or registered twice")
        _DATA[name] = fn
        return fn

    return deco


def projection_data(st: ElectionState, name: str) -> Any:
    """The canonical data of projection ``name`` (:class:`UsageError` for an unknown name)."""
    fn = _DATA.get(name) if isinstance(name, str) else None
    if fn is None:
        raise UsageError(f"unknown projection {name!r}; one of {PROJECTIONS}")
    return fn(st)


def state_hashes(st: ElectionState) -> dict[str, bytes]:
    """SHA-256 over the canonical encoding of each projection (see :data:`PROJECTIONS`)."""
    return {name: _h(f"electlog/state/{name}/v1", _DATA[name](st)) for name in PROJECTIONS}


def state_hash(st: ElectionState, name: str | None = None) -> bytes:
    """The hash of one projection, or (``None``) of all of them together."""
    if name is None:
        hashes = state_hashes(st)
        return _h("electlog/state/v1", [[k, hashes[k]] for k in PROJECTIONS])
    return _h(f"electlog/state/{name}/v1", projection_data(st, name))


def _communities(st: ElectionState) -> list[CommunityState]:
    return [st.communities[c] for c in sorted(st.communities)]


# --------------------------------------------------------------------------- the projections


@projection("audit")
def _audit(st: ElectionState) -> Any:
    # the eligibility sample joins the audit projection only once drawn: the hash of a log
    # without one is unchanged
    data = audit_data(st)
    if st.eligibility.drawn is None:
        return data
    return [*data, eligibility_data(st)]


@projection("keys")
def _keys(st: ElectionState) -> Any:
    return [
        st.definition.to_body() if st.definition else None,
        [
            [
                k,
                sorted([str(r), None if s is None else sorted(s)] for r, s in st.grants[k].items()),
            ]
            for k in sorted(st.grants)
        ],
        sorted(st.revoked),
    ]


@projection("roll")
def _roll(st: ElectionState) -> Any:
    cs_list = _communities(st)
    return [
        [
            c.community,
            _roll_data(c),
            c.roll_day,
            [[d, h] for d, h in c.roll_publications],
            sorted([r.rep, r.organisation] for r in c.reps.values()),
            c.frozen_at,
        ]
        for c in cs_list
    ]


@projection("objections")
def _objections(st: ElectionState) -> Any:
    return [[o.event.to_body(), o.day, o.upheld] for _, o in sorted(st.objections.items())]


@projection("groups")
def _groups(st: ElectionState) -> Any:
    cs_list = _communities(st)
    return [
        [
            c.community,
            sorted([g, h, sorted(v)] for (g, h), v in c.households.items()),
            sorted([g, n] for g, n in c.group_households.items()),
            [
                [
                    g,
                    ge.issued,
                    sorted([h, n] for h, n in ge.households.items()),
                    sorted(ge.serials),
                    ge.void_writeins,
                    ge.closed,
                    st.group_result(c.community, g).to_dict(),
                ]
                for g, ge in sorted(c.group_elections.items())
            ],
            sorted(c.entitled),
        ]
        for c in cs_list
    ]


@projection("committee")
def _committee(st: ElectionState) -> Any:
    cs_list = _communities(st)
    return [
        [c.community, sorted(c.committee), sorted(c.vacancies), sorted(c.former)] for c in cs_list
    ]


@projection("candidates")
def _candidates(st: ElectionState) -> Any:
    cs_list = _communities(st)
    return [
        [
            c.community,
            sorted(
                [p, sorted([cand, sorted(ids)] for cand, ids in m.items())]
                for p, m in c.nominees.items()
            ),
            sorted([p, n, sorted(s)] for (p, n), s in c.named.items()),
            sorted([k, v] for k, v in c.vetting.items()),
            None if c.candidate_list is None else [pl.to_body() for pl in c.candidate_list],
            sorted(c.candidates),
        ]
        for c in cs_list
    ] + [sorted([k, v.to_body()] for k, v in st.nominations.items())]


@projection("proxies")
def _proxies(st: ElectionState) -> Any:
    cs_list = _communities(st)
    return [[c.community, _proxy_data(c), c.proxy_list_published] for c in cs_list]


@projection("units")
def _units(st: ElectionState) -> Any:
    cs_list = _communities(st)
    return [
        [u.to_data() for _, u in sorted(st.units.items())],
        [b.to_data() for _, b in sorted(st.boxes.items())],
        [
            [
                c.community,
                sorted([o, org] for o, org in c.observers.items()),
                sorted([o, u] for o, u in c.observing.items()),
            ]
            for c in cs_list
        ],
    ]


@projection("tally")
def _tally(st: ElectionState) -> Any:
    cs_list = _communities(st)
    return [
        [
            c.community,
            [
                [
                    n,
                    rs.kind,
                    rs.source_round,
                    [[p.post, p.seats, list(p.candidates), p.rank] for p in rs.posts],
                    rs.issued,
                    sorted(rs.issued_voters),
                    sorted([g, h, k] for (g, h), k in rs.issued_households.items()),
                    sorted(rs.serials),
                    rs.void_writeins,
                    rs.registered,
                    rs.counting_at,
                    sorted(rs.units),
                    st.result(c.community, n).to_dict(),
                ]
                for n, rs in sorted(c.rounds.items())
            ],
            sorted(c.voted),
            sorted([r, p] for r, p in c.followed),
        ]
        for c in cs_list
    ]


@projection("times")
def _times(st: ElectionState) -> Any:
    return sorted([k, t] for k, t in st.last_time.items())


@projection("results")
def _results(st: ElectionState) -> Any:
    cs_list = _communities(st)
    return [
        [
            c.community,
            [[n, rs.declared] for n, rs in sorted(c.rounds.items())],
            [[g, ge.declared] for g, ge in sorted(c.group_elections.items())],
        ]
        for c in cs_list
    ]


if set(_DATA) != set(PROJECTIONS):  # pragma: no cover - a bug, caught at import
    raise UsageError(f"projections without a data function: {set(PROJECTIONS) - set(_DATA)}")
