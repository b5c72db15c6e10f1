"""The compiled event loaders (one generated function per event class) against the generic
loader they replace: for any body, the same event or the same error message."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from electlog.election import events as E
from electlog.election.rules import RuleSet
from electlog.errors import EntryError

_CLASSES = sorted(E.EVENT_SCHEMAS.values(), key=lambda c: (c.TYPE, c.SCHEMA))


def _valid(kind: Any) -> Any:
    """A value the kind accepts."""
    inner = kind.inner if isinstance(kind, E._Opt) else kind
    if isinstance(inner, E._Id):
        return "id-1"
    if isinstance(inner, E._Text):
        return "some text"
    if isinstance(inner, E._Int):
        return inner.minimum
    if isinstance(inner, E._Bool):
        return True
    if isinstance(inner, E._Bytes):
        return bytes(range(inner.size))
    if isinstance(inner, E._Date):
        return "2026-05-01"
    if isinstance(inner, E._Enum):
        return sorted(inner.values)[0]
    if isinstance(inner, E._List):
        n = max(inner.min_items, 1)
        if isinstance(inner.inner, E._Id):
            return [f"id-{k}" for k in range(n)]
        return [_valid(inner.inner) for _ in range(n)]
    if isinstance(inner, E._Struct):
        return _body(inner.cls)
    if isinstance(inner, E._RuleSetKind):
        return RuleSet().to_body()
    if isinstance(inner, E._AnyMap):
        return {"k": 1}
    if isinstance(inner, E._BallotRef):
        return "box-1#1"
    if isinstance(inner, E._Decimal):
        return "0.05"
    if isinstance(inner, E._Marks):
        return {"p1": {"against": ["b"], "for": ["a"], "write_ins": []}}
    raise AssertionError(f"no valid value for {kind!r}")


def _body(cls: type[E._Record]) -> dict[str, Any]:
    return {name: _valid(kind) for name, kind in cls._FIELDS}


_ENUM_VALUES = {
    v
    for c in _CLASSES
    for _, k in c._FIELDS
    for v in getattr(k.inner if isinstance(k, E._Opt) else k, "values", ())
}
_IDS = st.sampled_from(
    ["a", "id-1", "x" * 64, "x" * 65, "", " a", "a b", "a\tb", "a\x00", "é", "漢字"]
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([-1, 0, 1, 2, 999, 1000, 1001, 10_000, 10_001, 2**63 - 1, 2**63]),
    st.integers(),
    st.floats(allow_nan=False),
    _IDS,
    st.text(max_size=80),
    st.sampled_from(["2026-05-01", "2026-02-30", "2026-5-01", "20260501xx", "x" * 1025]),
    st.sampled_from([*sorted(_ENUM_VALUES), "nope", "b#1", "b#01", "0.5", "1."]),
    st.binary(min_size=15, max_size=33),
)
_MARK_COLUMNS = st.one_of(
    st.lists(_IDS, max_size=3),
    st.lists(_IDS, max_size=3).map(sorted),
    st.lists(_IDS, max_size=3).map(tuple),
    _SCALARS,
)
_POST = st.one_of(
    st.fixed_dictionaries(
        {"against": _MARK_COLUMNS, "for": _MARK_COLUMNS, "write_ins": _MARK_COLUMNS}
    ),
    st.fixed_dictionaries(
        {"void": st.one_of(_SCALARS, st.sampled_from(["writein_not_registered"]))}
    ),
    st.dictionaries(st.sampled_from(["for", "against", "void", "x"]), _SCALARS, max_size=3),
    _SCALARS,
)
_VALUES = st.one_of(
    _SCALARS,
    st.lists(st.one_of(_IDS, _SCALARS), max_size=4),
    st.dictionaries(st.one_of(_IDS, st.integers()), _POST, max_size=3),
)


def _outcome(load: Any, body: Any, where: str) -> tuple[str, Any]:
    try:
        return "ok", load(body, where)
    except EntryError as exc:
        return "error", str(exc)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cls=st.sampled_from(_CLASSES),
    changes=st.lists(st.tuples(st.integers(0, 40), _VALUES), max_size=3),
    drop=st.booleans(),
    extra=st.booleans(),
)
def test_compiled_loader_matches_generic(
    cls: type[E.ElectionEvent], changes: list[tuple[int, Any]], drop: bool, extra: bool
) -> None:
    body = _body(cls)
    names = [name for name, _ in cls._FIELDS]
    for k, value in changes:
        body[names[k % len(names)]] = value
    if drop:
        del body[names[-1]]
    if extra:
        body["extra"] = 1
    fast = _outcome(cls._load, dict(body), cls.TYPE)
    generic = _outcome(cls._load_generic, dict(body), cls.TYPE)
    assert fast == generic


@pytest.mark.parametrize("cls", _CLASSES, ids=lambda c: f"{c.TYPE}/v{c.SCHEMA}")
def test_every_class_has_a_compiled_loader_that_accepts_a_valid_body(
    cls: type[E.ElectionEvent],
) -> None:
    body = _body(cls)
    event = E.decode_body(cls.TYPE, cls.SCHEMA, body)
    assert type(event) is cls
    assert event == cls._load_generic(body, cls.TYPE)
    assert cls._load.__name__ == "_load" and cls._load is not E._Record._load


def test_loader_interns_top_level_strings() -> None:
    body = _body(E.BallotIssued)
    voter = "".join(["vo", "ter-9"])  # built at run time: not interned yet
    body["voter"] = voter
    event = E.BallotIssued.from_body(body)
    assert event.voter == voter
    assert event.voter is E._intern("voter-9")


def test_decode_body_refuses_unknown_type_and_schema() -> None:
    with pytest.raises(EntryError, match=r"unknown election event type 'no\.such'"):
        E.decode_body("no.such", 1, {})
    with pytest.raises(EntryError, match=r"voter\.registered: unsupported schema version 7"):
        E.decode_body("voter.registered", 7, {})


def test_marks_share_one_postmarks_per_pattern_and_stay_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    post = {"against": [], "for": ["a", "b"], "write_ins": []}
    first = E._Marks().load({"p1": post, "p2": dict(post)}, "marks")
    again = E._Marks().load({"p1": {k: list(v) for k, v in post.items()}}, "marks")
    assert first["p1"] is first["p2"] is again["p1"]
    assert first["p1"] == E.PostMarks(in_favour=("a", "b"))
    monkeypatch.setattr(E, "_POST_MARKS_MAX", 2)
    E._POST_MARKS.clear()
    for n in range(5):
        E._Marks().load({"p": {"against": [], "for": [f"c{n}"], "write_ins": []}}, "marks")
        assert len(E._POST_MARKS) <= 2
    with pytest.raises(EntryError, match=r"marks\.p\.for must be a sorted array"):
        E._Marks().load({"p": {"against": [], "for": ["b", "a"], "write_ins": []}}, "marks")
