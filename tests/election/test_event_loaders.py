"""The compiled event loaders (one generated function per event class) against the generic
loader they replace: for any body, the same event or the same error message."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
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


class _Sub(str):
    """A str subclass: the id rule takes exactly str, whatever the caches hold."""


class _NoIds(dict):  # type: ignore[type-arg]
    """An id cache that never holds anything: every id is checked (the reference)."""

    def get(self, key: Any, default: Any = None) -> Any:
        return default

    def __setitem__(self, key: Any, value: Any) -> None:
        return None


_EMPTY_POST: dict[str, list[Any]] = {"against": [], "for": [], "write_ins": []}
_A_POST: dict[str, list[Any]] = {"against": [], "for": ["a"], "write_ins": []}
_VALID_COLUMN = st.sampled_from([[], ["a"], ["a", "id-1"], ["id-1", "é", "漢字"], ["x" * 64]])
_VALID_POST = st.fixed_dictionaries(
    {"against": _VALID_COLUMN, "for": _VALID_COLUMN, "write_ins": _VALID_COLUMN}
)
_ANY_POST = st.one_of(
    _VALID_POST,
    _POST,
    # a valid pattern with one id that is not exactly a valid str id
    _VALID_POST.flatmap(
        lambda p: st.sampled_from(["for", "against", "write_ins"]).flatmap(
            lambda col: st.sampled_from([_Sub("a"), "a b", "", b"a", 1, ["a"]]).map(
                lambda bad: {**p, col: [*p[col], bad]}
            )
        )
    ),
    _VALID_POST.map(lambda p: {k: tuple(v) for k, v in p.items()}),
)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    warm=st.lists(st.dictionaries(_IDS, _VALID_POST, max_size=3), max_size=3),
    marks=st.one_of(
        st.dictionaries(st.one_of(_IDS, st.sampled_from([_Sub("a"), 7])), _ANY_POST, max_size=4),
        _SCALARS,
    ),
)
@example(warm=[{"p": _EMPTY_POST}], marks={" a": _EMPTY_POST})
@example(warm=[{"p": _EMPTY_POST}], marks={_Sub("p"): _EMPTY_POST})
@example(warm=[{"p": _A_POST}], marks={"p": {**_A_POST, "for": [_Sub("a")]}})
@example(warm=[{"p": _A_POST}], marks={"p": {**_A_POST, "for": ("a",)}})
@example(warm=[{"p": _A_POST}], marks={"p": {**_A_POST, "for": "a"}})
@example(warm=[{"p": _A_POST}], marks={"p": {**_A_POST, "x": []}})
def test_marks_from_known_patterns_equal_a_full_check(warm: list[Any], marks: Any) -> None:
    # _Marks.load takes a post whose id and columns were validated before (the id cache, the
    # shared patterns) without checking them again: with those caches warmed by other ballots
    # it must accept and refuse exactly what a check of every id accepts and refuses
    kind = E._Marks()
    for ballot in [*warm, marks]:
        _outcome(kind.load, ballot, "marks")  # warms the caches (and may refuse)
    warm_result = _outcome(kind.load, marks, "marks")
    with pytest.MonkeyPatch.context() as m:
        m.setattr(E, "_IDS", _NoIds())
        m.setattr(E, "_POST_MARKS", {})
        cold_result = _outcome(kind.load, marks, "marks")
    assert warm_result == cold_result


def test_known_ids_and_patterns_do_not_admit_a_str_subclass() -> None:
    post = {"against": [], "for": ["a", "b"], "write_ins": []}
    kind = E._Marks()
    kind.load({"p1": post}, "marks")  # "p1" and the pattern are known now
    with pytest.raises(EntryError, match=r"marks\.p1\.for must be a sorted array"):
        kind.load({"p1": {**post, "for": ["a", _Sub("b")]}}, "marks")
    with pytest.raises(EntryError, match=r"bad post id"):
        kind.load({_Sub("p1"): post}, "marks")
    body = _body(E.BallotIssued)
    E.BallotIssued.from_body(body)  # its unit id is known now
    with pytest.raises(EntryError, match=r"ballot\.issued\.unit must be an id"):
        E.BallotIssued.from_body({**body, "unit": _Sub(body["unit"])})


def test_id_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    ids: dict[str, str] = {}
    monkeypatch.setattr(E, "_IDS", ids)
    monkeypatch.setattr(E, "_IDS_MAX", 3)
    for n in range(10):
        E._remember_id(f"id-{n}")
        assert len(ids) <= 3
    assert ids["id-9"] is E._intern("id-9")


def test_loaders_set_slots_only_where_init_does_nothing_more() -> None:
    import attrs

    @attrs.frozen(kw_only=True)
    class Plain:
        a: int

    @attrs.frozen(kw_only=True)
    class Validated:
        a: int = attrs.field(validator=attrs.validators.instance_of(int))

    @attrs.frozen(kw_only=True)
    class PostInit:
        a: int

        def __attrs_post_init__(self) -> None:
            pass

    assert E._slot_setters(Plain) is not None  # type: ignore[arg-type]
    assert E._slot_setters(Validated) is None  # type: ignore[arg-type]
    assert E._slot_setters(PostInit) is None  # type: ignore[arg-type]
    for cls in _CLASSES:  # every event class today is built by its slots
        assert E._slot_setters(cls) is not None, cls
