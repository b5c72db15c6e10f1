"""The auditor decodes each entry once (``electlog.audit._decoding``).

``parse_entry`` reads the fixed envelope by position and the statement with one strict decode;
whatever it does not accept goes to ``Entry.from_bytes``. The property: for any bytes (valid
entries, entries with bytes flipped, inserted or cut, envelopes written in other msgpack forms,
statements with other fields), ``parse_entry`` and ``Entry.from_bytes(verify=False)`` accept the
same inputs with the same fields, and refuse the same inputs with the same error class and
message.

Every test here runs twice: with the statement codec the fast path uses where msgspec is
installed (``electlog[fast]``) and with msgpack's, the one it uses otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from electlog.audit import _decoding as decoding
from electlog.audit._decoding import parse_entry
from electlog.codec import encode
from electlog.errors import ElectlogError
from electlog.events import SIGNATURE_CONTEXT, Author, Entry
from electlog.keys import SigningKey

KEY = SigningKey.from_seed(bytes(range(32)))
LOG = "audit.decoding.example/log"

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.text(max_size=20),
    st.binary(max_size=40),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.dictionaries(st.text(max_size=12), values, max_size=6)


@pytest.fixture(scope="module", autouse=True, params=["installed", "msgpack"])
def statement_codec(request: pytest.FixtureRequest) -> Iterator[str]:
    """The fast path's statement codec: the one installed (msgspec with ``electlog[fast]``), and
    msgpack's (the fallback without msgspec). Module-scoped: the codec is module state, not
    per-example state, and hypothesis refuses function-scoped fixtures."""
    if request.param == "installed":
        yield decoding.STATEMENT_CODEC
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(decoding, "_decode", decoding._decode_msgpack)  # the module's own fallback
        mp.setattr(decoding, "_encode", decoding._repack)
        mp.setattr(decoding, "fast_path", decoding._fast)
        yield "msgpack"


def test_the_fast_extra_brings_msgspec_as_the_statement_codec(statement_codec: str) -> None:
    """CI installs the test extras, which include msgspec: the installed codec is msgspec's
    there (so the properties below run on both codecs)."""
    import importlib.util

    if importlib.util.find_spec("msgspec") is None:
        pytest.skip("msgspec is not installed (the electlog[fast] extra)")
    import msgspec

    assert decoding.STATEMENT_CODEC == "msgspec"
    if statement_codec == "msgspec":
        assert isinstance(decoding._decode.__self__, msgspec.msgpack.Decoder)
        assert isinstance(decoding._encode.__self__, msgspec.msgpack.Encoder)


@settings(max_examples=400, deadline=None)
@given(values)
def test_the_statement_codec_reencodes_a_canonical_tree_to_the_same_bytes(value: Any) -> None:
    """What the fast path relies on: the canonical encoding of any tree of the canonical
    types, decoded and re-encoded by the codec in use, is the same bytes (shortest ints, str,
    bin, array and map headers; each map's order kept), and decodes to the tree itself."""
    data = encode(value)
    decoded = decoding._decode(data)
    assert decoding._encode(decoded) == data
    assert decoded == msgpack.unpackb(data, raw=False)


def general(data: bytes) -> tuple[str, Any]:
    try:
        e = Entry.from_bytes(data, verify=False)
    except ElectlogError as exc:
        return "error", (type(exc), str(exc))
    s = e.statement
    fields = (e.public_key, e.signature, e.statement_bytes)
    return "ok", (*fields, s.log, s.type, s.schema, s.author, s.seq, s.prev, s.time, s.body)


def fast(data: bytes) -> tuple[str, Any]:
    try:
        p = parse_entry(data)
    except ElectlogError as exc:
        return "error", (type(exc), str(exc))
    return "ok", tuple(p)


def _entry(body: dict[str, Any], seq: int, time: int, etype: str) -> bytes:
    author = Author(KEY, LOG)
    entry = None
    for _ in range(seq):
        entry = author.sign(etype, body, time=time)
    assert entry is not None
    return entry.data


valid_entries = st.builds(
    _entry,
    bodies,
    st.integers(min_value=1, max_value=3),
    st.integers(min_value=0, max_value=2**63 - 1),
    st.sampled_from(["ballot.recorded", "voter.registered", "x"]),
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(valid_entries))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "cut", "append"]))
        at = draw(st.integers(min_value=0, max_value=max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(min_value=1, max_value=255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=3))
        elif kind == "delete" and data:
            del data[at]
        elif kind == "cut":
            del data[at:]
        else:
            data += draw(st.binary(min_size=1, max_size=3))
    return bytes(data)


@st.composite
def rewrapped(draw: st.DrawFn) -> bytes:
    """A signed statement in envelopes of other msgpack forms (key order, bin widths, extra
    keys) and statements with changed or extra fields, re-encoded canonically or not."""
    m: dict[str, Any] = msgpack.unpackb(draw(valid_entries))
    stmt: dict[str, Any] = msgpack.unpackb(m["stmt"], raw=False)
    change = draw(st.sampled_from(["none", "field", "extra", "drop", "order", "body"]))
    if change == "field":
        stmt[draw(st.sampled_from(sorted(stmt)))] = draw(values)
    elif change == "extra":
        stmt[draw(st.text(max_size=6))] = draw(values)
    elif change == "drop":
        del stmt[draw(st.sampled_from(sorted(stmt)))]
    if change == "body" and isinstance(stmt["body"], dict):
        # the body's keys in reverse order, the statement's own in order: unsorted inside
        stmt["body"] = dict(reversed(list(stmt["body"].items())))
        stmt_bytes = msgpack.packb(stmt, use_bin_type=True)
    elif change == "order":
        stmt_bytes = msgpack.packb(dict(reversed(list(stmt.items()))), use_bin_type=True)
    else:
        try:
            stmt_bytes = encode(stmt)
        except ElectlogError:
            stmt_bytes = msgpack.packb(stmt, use_bin_type=True)
    env = {"key": m["key"], "sig": m["sig"], "stmt": stmt_bytes}
    form = draw(st.sampled_from(["canonical", "reversed", "bin16", "bin32", "extra"]))
    if form == "canonical":
        return encode(env)
    if form == "reversed":
        return msgpack.packb(dict(reversed(list(env.items()))), use_bin_type=True)
    if form == "extra":
        return encode({**env, "zzz": 1})
    head = b"\x83\xa3key\xc4\x20" + m["key"] + b"\xa3sig\xc4\x40" + m["sig"] + b"\xa4stmt"
    n = len(stmt_bytes)
    size = b"\xc5" + n.to_bytes(2, "big") if form == "bin16" else b"\xc6" + n.to_bytes(4, "big")
    return head + size + stmt_bytes


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(valid_entries, mutated(), rewrapped(), st.binary(max_size=300)))
@example(b"")
@example(b"\x83\xa3key\xc4\x20" + bytes(32) + b"\xa3sig\xc4\x40" + bytes(64) + b"\xa4stmt\xc4\x00")
def test_parse_entry_accepts_and_refuses_exactly_as_the_general_decoder(data: bytes) -> None:
    assert fast(data) == general(data)


def test_valid_entries_take_the_fast_path() -> None:
    """A canonical entry is read by the fast path (not by the general decoder's fallback),
    for a statement under 256 bytes (bin8 header) and one above (bin16)."""
    for body in ({"a": 1}, {"long": "x" * 400}):
        data = _entry(body, 1, 5, "t.e")
        parsed = decoding.fast_path(data)
        assert parsed is not None
        assert tuple(parsed) == general(data)[1]
        assert KEY.public.raw == parsed.public_key
        KEY.public.verify(parsed.signature, SIGNATURE_CONTEXT + parsed.statement_bytes)


@pytest.mark.parametrize(
    "data",
    [
        # the statement's bin header in a longer form than needed
        b"\x83\xa3key\xc4\x20"
        + bytes(32)
        + b"\xa3sig\xc4\x40"
        + bytes(64)
        + b"\xa4stmt\xc5\x00\x01\x80",
        b"\x83\xa3key\xc4\x20" + bytes(32) + b"\xa3sig\xc4\x40" + bytes(64) + b"\xa4stmt",
    ],
)
def test_non_canonical_envelopes_are_refused_with_the_general_error(data: bytes) -> None:
    kind, detail = fast(data)
    assert kind == "error"
    assert (kind, detail) == general(data)


BOUNDARIES = [
    ("v", 0),
    ("v", 2),
    ("v", True),
    ("v", 1.0),
    ("schema", 0),
    ("schema", True),
    ("schema", 2**63),
    ("seq", 0),
    ("seq", 2**63 - 1),
    ("seq", 2**63),
    ("seq", False),
    ("time", -1),
    ("time", 0),
    ("time", 2**63 - 1),
    ("time", 2**63),
    ("time", True),
    ("author", bytes(31)),
    ("author", bytes(33)),
    ("author", "x" * 32),
    ("log", LOG + " "),
    ("log", ""),
    ("type", "t\u00a0e"),
    ("type", "t" * 65),
    ("type", ["t.e"]),
]


@pytest.mark.parametrize(("field", "value"), BOUNDARIES)
def test_remembered_fields_are_checked_as_the_general_decoder_does(field: str, value: Any) -> None:
    """The fast path checks a statement whose log id and type passed before by the writers'
    own conditions inline: at each field's boundaries it accepts and refuses as they do (with a
    log id and type it has seen, and then after seeing the changed ones)."""
    data = _entry({"a": 1}, 2, 5, "t.e")
    assert fast(data) == general(data)  # remembers (LOG, "t.e") and the key
    m: dict[str, Any] = msgpack.unpackb(data)
    stmt: dict[str, Any] = msgpack.unpackb(m["stmt"], raw=False)
    stmt[field] = value
    changed = encode({**m, "stmt": msgpack.packb(stmt, use_bin_type=True)})
    assert changed[:114] == data[:114]  # the canonical envelope: the fast path reads it
    for _ in range(2):
        assert fast(changed) == general(changed)


def _applies(obj: Any, quirk: str) -> bool:
    t = type(obj)
    if quirk == "signed":
        return t is int and 0 <= obj < 2**63
    if quirk in ("float", "ext"):
        return t is int
    if quirk == "wide":
        return t in (str, bytes, list, dict) and not (t is str and len(obj.encode()) >= 256)
    if quirk == "dup":
        return t is dict and len(obj) > 0
    return quirk == "unsorted" and t is dict and len(obj) > 1


def _write(obj: Any, quirk: str, at: int, seen: list[int]) -> bytes:
    """msgpack of ``obj``, canonical but for one ``quirk`` at the ``at``-th value it applies
    to (:func:`_applies`, in writing order; ``seen[0]`` counts them): forms a weaker check
    than decode-and-compare would take for the canonical one, some of them exactly as long."""
    here = False
    if _applies(obj, quirk):
        here = seen[0] == at
        seen[0] += 1
    t = type(obj)
    if t is int:
        if here and quirk == "signed":
            # the signed family for a non-negative value: int16/int32/int64 are exactly as
            # long as uint16/uint32/uint64 from 2**15, 2**31, 2**63 down
            for tag, width in ((0xD0, 1), (0xD1, 2), (0xD2, 4), (0xD3, 8)):
                if obj < 2 ** (8 * width - 1):
                    return bytes([tag]) + obj.to_bytes(width, "big")
        if here and quirk == "float":
            return msgpack.packb(float(obj))
        if here and quirk == "ext":
            return msgpack.packb(msgpack.ExtType(1, obj.to_bytes(9, "big", signed=True)))
        return msgpack.packb(obj)
    if t is str or t is bytes:
        raw = obj.encode() if t is str else obj
        if here:  # the next wider length header
            if t is bytes:
                return b"\xc5" + len(raw).to_bytes(2, "big") + raw
            if len(raw) < 32:
                return b"\xd9" + bytes([len(raw)]) + raw
            return b"\xda" + len(raw).to_bytes(2, "big") + raw
        return msgpack.packb(obj, use_bin_type=True)
    if t is list:
        head = b"\xdc" + len(obj).to_bytes(2, "big") if here else _header(0x90, 0xDC, len(obj))
        return head + b"".join(_write(v, quirk, at, seen) for v in obj)
    if t is dict:
        items = list(obj.items())
        if here and quirk == "dup":
            items.append(items[0])
        if here and quirk == "unsorted":
            items[0], items[1] = items[1], items[0]
        inner = b"".join(_write(k, quirk, at, seen) + _write(v, quirk, at, seen) for k, v in items)
        if here and quirk == "wide":
            return b"\xde" + len(items).to_bytes(2, "big") + inner
        return _header(0x80, 0xDE, len(items)) + inner
    return msgpack.packb(obj)


def _header(fix: int, wide: int, n: int) -> bytes:
    return bytes([fix | n]) if n < 16 else bytes([wide]) + n.to_bytes(2, "big")


nested_bodies = st.dictionaries(
    st.text(max_size=6),
    st.one_of(
        st.integers(min_value=0, max_value=2**64 - 1),
        st.dictionaries(
            st.text(max_size=6),
            st.one_of(st.integers(-(2**40), 2**40), st.lists(st.text(max_size=4), max_size=3)),
            max_size=4,
        ),
        values,
    ),
    max_size=5,
)


@st.composite
def requoted(draw: st.DrawFn) -> bytes:
    """A valid entry whose statement is written again with one non-canonical form inside it
    (anywhere: the statement's own fields or the body, nested maps and lists included):
    non-negative integers in the signed family (int16 vs uint16: the same length), wider
    str/bin/array/map headers, a float or ext for an integer, a duplicate key, two keys
    swapped; the envelope stays canonical, so only the statement's strict decode can refuse."""
    data = _entry(
        draw(nested_bodies),
        draw(st.integers(min_value=1, max_value=2)),
        draw(st.sampled_from([5, 300, 70_000, 2**31 + 5, 2**40])),
        draw(st.sampled_from(["ballot.recorded", "x"])),
    )
    m: dict[str, Any] = msgpack.unpackb(data)
    stmt: dict[str, Any] = msgpack.unpackb(m["stmt"], raw=False, strict_map_key=False)
    quirk = draw(st.sampled_from(["signed", "wide", "float", "ext", "dup", "unsorted"]))
    count = [0]
    _write(stmt, quirk, -1, count)
    at = draw(st.integers(min_value=0, max_value=count[0] - 1))
    stmt_bytes = _write(stmt, quirk, at, [0])
    n = len(stmt_bytes)
    size = b"\xc4" + bytes([n]) if n < 256 else b"\xc5" + n.to_bytes(2, "big")
    head = b"\x83\xa3key\xc4\x20" + m["key"] + b"\xa3sig\xc4\x40" + m["sig"] + b"\xa4stmt"
    return head + size + stmt_bytes


def test_the_quirk_writer_is_canonical_without_a_quirk() -> None:
    for body in ({}, {"a": [1, "x", b"y"], "b": {"c": 2**40, "d": -300}}, {"k" * 40: None}):
        data = _entry(body, 1, 2**31 + 5, "x")
        stmt = msgpack.unpackb(msgpack.unpackb(data)["stmt"], raw=False)
        assert _write(stmt, "none", -1, [0]) == msgpack.unpackb(data)["stmt"]
    # a same-length signed form really is the canonical form's length, and refused
    assert len(_write(300, "signed", 0, [0])) == len(msgpack.packb(300)) == 3
    assert len(_write(70_000, "signed", 0, [0])) == len(msgpack.packb(70_000)) == 5


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requoted())
def test_non_canonical_forms_inside_the_statement_are_refused_as_the_general_decoder_does(
    data: bytes,
) -> None:
    got = fast(data)
    assert got == general(data)


# ----------------------------------------------------------------- the body's shape, by layout

POST_KEYS = ("against", "for", "write_ins")
QUIRKS = (
    "none",
    "swap posts",
    "swap columns",
    "bytes post",
    "bytes column",
    "float",
    "float column",
    "too deep",
    "deep",
    "map column",
    "map in column",
    "scalar post",
    "void",
    "other columns",
    "unsorted columns",
    "empty post",
    "list marks",
    "bytes in column",
    "swap body",
    "bytes box",
)


def _sorted(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return dict(sorted(pairs, key=lambda p: p[0].encode()))


def _deep(value: Any, n: int) -> Any:
    for _ in range(n):
        value = [value]
    return value


@st.composite
def ballot_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A ballot-like body (``box``, ``marks``: posts of three sorted columns of ids,
    ``serial``), canonical or with one quirk in its marks: keys swapped or not str, a float,
    lists nested within or beyond the depth limit, maps where lists or ids were, other keys."""
    ids = st.lists(st.text(max_size=5), max_size=3)
    posts = sorted(
        draw(st.lists(st.text(max_size=6), min_size=1, max_size=4, unique=True)),
        key=str.encode,
    )
    marks: dict[Any, Any] = {p: {c: draw(ids) for c in POST_KEYS} for p in posts}
    quirk = draw(st.sampled_from(QUIRKS))
    at = draw(st.sampled_from(posts))
    column = draw(st.sampled_from(POST_KEYS))
    pm = marks[at]
    if quirk == "swap posts" and len(posts) > 1:
        marks = dict(reversed(marks.items()))
    elif quirk == "swap columns":
        marks[at] = dict(reversed(pm.items()))
    elif quirk == "bytes post":
        marks = {(p.encode() if p == at else p): v for p, v in marks.items()}
    elif quirk == "bytes column":
        marks[at] = {(c.encode() if c == column else c): v for c, v in pm.items()}
    elif quirk == "float":
        pm[column] = [*pm[column], draw(st.floats(allow_nan=False))]
    elif quirk == "float column":
        pm[column] = draw(st.floats(allow_nan=False))
    elif quirk in ("too deep", "deep"):
        pm[column] = [_deep("v", draw(st.integers(28, 40) if quirk == "too deep" else st.just(1)))]
    elif quirk == "map column":  # in drawn order: sometimes sorted
        # integers msgpack can pack (the entries test packs the body as it is)
        ints = st.integers(-(2**63), 2**64 - 1)
        pm[column] = draw(st.dictionaries(st.text(max_size=2), ints | st.floats()))
    elif quirk == "map in column":
        pm[column] = [*pm[column], draw(st.dictionaries(st.text(max_size=3), st.integers(0, 3)))]
    elif quirk == "scalar post":
        marks[at] = draw(st.text(max_size=3) | st.floats(allow_nan=False) | st.none())
    elif quirk == "void":
        marks[at] = {"void": draw(st.text(max_size=5))}
    elif quirk == "other columns":
        marks[at] = _sorted([(c, draw(ids)) for c in draw(st.lists(st.text(max_size=4)))])
    elif quirk == "unsorted columns":
        marks[at] = {"for": [], "against": []}
    elif quirk == "empty post":
        marks[at] = {}
    elif quirk == "list marks":
        marks = draw(st.lists(st.text(max_size=3), max_size=2))  # type: ignore[assignment]
    elif quirk == "bytes in column":
        pm[column] = [*pm[column], draw(st.binary(max_size=3)), None, 7, True]
    body = {"box": draw(st.text(max_size=6)), "marks": marks, "serial": bytes(16)}
    if quirk == "swap body":
        return dict(reversed(body.items()))
    if quirk == "bytes box":
        return {b"box": body["box"], "marks": marks, "serial": bytes(16)}
    return body


GOOD_BALLOT = {
    "box": "b1",
    "marks": {
        "p1": {"against": [], "for": ["v1", "v2"], "write_ins": []},
        "p2": {"against": ["v3"], "for": [], "write_ins": ["v4"]},
    },
    "serial": bytes(16),
}


@settings(max_examples=500, deadline=None)
@given(ballot_bodies(), st.sampled_from(["ballot.recorded", "t.other"]))
def test_a_body_with_a_known_layout_has_the_general_shape_check(
    body: dict[str, Any], etype: str
) -> None:
    """A body whose keys are those of a body of its type that passed before (its layout) gets
    the values' checks only, the maps of maps (a ballot's marks) by a check of that shape first:
    the result is the general check's, for marks with keys unsorted, swapped or not str, values
    that are floats, nested too deep, maps where lists were, and lists of anything."""
    from electlog.codec import DEFAULT_MAX_DEPTH, _canonical_shape

    decoding._layouts.clear()
    assert decoding._shape(dict(GOOD_BALLOT), etype)  # learns the layout
    assert decoding._layouts[etype] == ("box", "marks", "serial")
    for _ in range(2):  # with the post keys of GOOD_BALLOT remembered, then of ``body``'s
        assert decoding._shape(body, etype) == _canonical_shape(body, 1, DEFAULT_MAX_DEPTH)


def _statement_entry(body: dict[str, Any], etype: str) -> bytes:
    """An entry (canonical envelope) whose statement is a real one with ``body`` put in and
    packed by msgpack as it is (keys in the map's order, floats as float64)."""
    data = _entry({"a": 1}, 2, 5, etype)
    m: dict[str, Any] = msgpack.unpackb(data)
    stmt: dict[str, Any] = msgpack.unpackb(m["stmt"], raw=False)
    stmt["body"] = body
    stmt_bytes = msgpack.packb(stmt, use_bin_type=True)
    n = len(stmt_bytes)
    size = b"\xc4" + bytes([n]) if n < 256 else b"\xc5" + n.to_bytes(2, "big")
    head = b"\x83\xa3key\xc4\x20" + m["key"] + b"\xa3sig\xc4\x40" + m["sig"] + b"\xa4stmt"
    return head + size + stmt_bytes


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ballot_bodies())
def test_entries_with_a_known_layout_are_read_as_the_general_decoder_does(
    body: dict[str, Any],
) -> None:
    decoding._layouts.clear()
    good = _statement_entry(GOOD_BALLOT, "ballot.recorded")
    assert fast(good) == general(good)
    assert decoding._layouts["ballot.recorded"] == ("box", "marks", "serial")
    data = _statement_entry(body, "ballot.recorded")
    assert fast(data) == general(data)
