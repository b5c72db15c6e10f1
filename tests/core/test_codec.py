"""Tests of the canonical msgpack profile (electlog.codec, docs/format.md §1)."""

from __future__ import annotations

import ast
import enum
import re
import tracemalloc
from pathlib import Path

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from electlog import codec, errors
from electlog.codec import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_ITEMS,
    DEFAULT_MAX_SIZE,
    decode,
    decode_map,
    encode,
)

FORMAT_MD = Path(__file__).resolve().parents[2] / "docs" / "format.md"


# --------------------------------------------------------------------------- helpers


def same(a: object, b: object) -> bool:
    """Equality that also distinguishes bool from int and list from tuple, recursively."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        assert isinstance(b, list)
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def ref_encode(v: object) -> bytes:
    """An independent, deliberately naive encoder of the profile, written from docs/format.md."""

    def head(n: int, fix_base: int | None, fix_max: int, tags: list[tuple[int, int]]) -> bytes:
        if fix_base is not None and n <= fix_max:
            return bytes([fix_base | n])
        for tag, width in tags:
            if n < 1 << (8 * width):
                return bytes([tag]) + n.to_bytes(width, "big")
        raise AssertionError(n)

    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if v >= 0:
            if v <= 0x7F:
                return bytes([v])
            for tag, width in ((0xCC, 1), (0xCD, 2), (0xCE, 4), (0xCF, 8)):
                if v < 1 << (8 * width):
                    return bytes([tag]) + v.to_bytes(width, "big")
        if v >= -32:
            return bytes([v + 256])
        for tag, width in ((0xD0, 1), (0xD1, 2), (0xD2, 4), (0xD3, 8)):
            if v >= -(1 << (8 * width - 1)):
                return bytes([tag]) + v.to_bytes(width, "big", signed=True)
        raise AssertionError(v)
    if isinstance(v, str):
        raw = v.encode("utf-8")
        return head(len(raw), 0xA0, 31, [(0xD9, 1), (0xDA, 2), (0xDB, 4)]) + raw
    if isinstance(v, bytes):
        return head(len(v), None, -1, [(0xC4, 1), (0xC5, 2), (0xC6, 4)]) + v
    if isinstance(v, list):
        return head(len(v), 0x90, 15, [(0xDC, 2), (0xDD, 4)]) + b"".join(map(ref_encode, v))
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: k.encode("utf-8"))
        body = b"".join(ref_encode(k) + ref_encode(v[k]) for k in keys)
        return head(len(v), 0x80, 15, [(0xDE, 2), (0xDF, 4)]) + body
    raise AssertionError(type(v))


def raises_at(data: bytes, cls: type[errors.DecodeError], offset: int, **limits: int) -> None:
    with pytest.raises(cls) as info:
        decode(data, **limits)
    assert type(info.value) is cls, f"{type(info.value).__name__}: {info.value}"
    assert info.value.offset == offset, str(info.value)
    assert f"offset {offset}" in str(info.value)


def outcome(fn: object, data: bytes) -> tuple[str, object]:
    try:
        value = fn(data)  # type: ignore[operator]
    except errors.DecodeError as exc:
        return type(exc).__name__, exc.offset
    return "ok", value


def strict(data: bytes) -> object:
    return codec._strict_decode(data, DEFAULT_MAX_DEPTH, DEFAULT_MAX_ITEMS)


# --------------------------------------------------------------------------- constants


def test_default_limits() -> None:
    assert DEFAULT_MAX_SIZE == 1024 * 1024
    assert DEFAULT_MAX_DEPTH == 32
    assert DEFAULT_MAX_ITEMS == 100_000
    assert set(codec.__all__) >= {
        "encode",
        "decode",
        "decode_map",
        "DEFAULT_MAX_SIZE",
        "DEFAULT_MAX_DEPTH",
        "DEFAULT_MAX_ITEMS",
    }


# --------------------------------------------------------------------------- integers

# (value, canonical hex, a non-minimal encoding of the same value or None)
INT_CASES = [
    (0, "00", "cc00"),
    (1, "01", "d001"),
    (127, "7f", "cc7f"),
    (128, "cc80", "cd0080"),
    (255, "ccff", "cd00ff"),
    (256, "cd0100", "ce00000100"),
    (65535, "cdffff", "ce0000ffff"),
    (65536, "ce00010000", "cf0000000000010000"),
    (2**32 - 1, "ceffffffff", "cf00000000ffffffff"),
    (2**32, "cf0000000100000000", None),
    (2**64 - 1, "cfffffffffffffffff", None),
    (-1, "ff", "d0ff"),
    (-32, "e0", "d0e0"),
    (-33, "d0df", "d1ffdf"),
    (-128, "d080", "d1ff80"),
    (-129, "d1ff7f", "d2ffffff7f"),
    (-32768, "d18000", "d2ffff8000"),
    (-32769, "d2ffff7fff", "d3ffffffffffff7fff"),
    (-(2**31), "d280000000", "d3ffffffff80000000"),
    (-(2**31) - 1, "d3ffffffff7fffffff", None),
    (-(2**63), "d38000000000000000", None),
]


@pytest.mark.parametrize(("value", "hexed", "longer"), INT_CASES)
def test_int_shortest_form(value: int, hexed: str, longer: str | None) -> None:
    data = bytes.fromhex(hexed)
    assert encode(value) == data
    assert ref_encode(value) == data
    back = decode(data)
    assert type(back) is int
    assert back == value
    if longer is not None:
        raises_at(bytes.fromhex(longer), errors.NonMinimalIntError, 0)
        raises_at(bytes.fromhex("91" + longer), errors.NonMinimalIntError, 1)


@pytest.mark.parametrize(
    "hexed",
    [
        "d000",  # 0 as int8
        "d07f",  # 127 as int8: shortest signed form, but non-negative must be uint/fixint
        "d1007f",
        "d10080",  # 128 as int16
        "d200000080",
        "d30000000000000001",
        "d37fffffffffffffff",  # 2**63-1 as int64
    ],
)
def test_non_negative_signed_int_rejected(hexed: str) -> None:
    raises_at(bytes.fromhex(hexed), errors.NonMinimalIntError, 0)


def test_int_range_limits_on_encode() -> None:
    for bad in (2**64, -(2**63) - 1, 10**30, -(10**30)):
        with pytest.raises(errors.EncodeError, match="outside"):
            encode(bad)
        with pytest.raises(errors.EncodeError, match=r"x\[1\]"):
            encode({"x": [0, bad]})


def test_bool_is_not_int() -> None:
    assert encode(True) == b"\xc3"
    assert encode(False) == b"\xc2"
    assert encode(1) == b"\x01"
    assert encode(0) == b"\x00"
    assert encode([True, 1, False, 0]).hex() == "94c301c200"
    assert decode(b"\xc3") is True
    assert decode(b"\xc2") is False
    assert type(decode(b"\x01")) is int
    assert same(decode(bytes.fromhex("94c301c200")), [True, 1, False, 0])
    # {"a": True} == {"a": 1} in Python, but they are different values here
    assert encode({"a": True}) != encode({"a": 1})


# --------------------------------------------------------------------------- lengths and counts


@pytest.mark.parametrize(
    ("n", "tag_len"),
    [(0, 1), (31, 1), (32, 2), (255, 2), (256, 3), (65535, 3), (65536, 5)],
)
def test_str_length_boundaries(n: int, tag_len: int) -> None:
    value = "x" * n
    data = encode(value)
    assert data == ref_encode(value)
    assert len(data) == tag_len + n
    assert decode(data) == value


@pytest.mark.parametrize(("n", "tag_len"), [(0, 2), (255, 2), (256, 3), (65535, 3), (65536, 5)])
def test_bin_length_boundaries(n: int, tag_len: int) -> None:
    value = b"\x07" * n
    data = encode(value)
    assert data == ref_encode(value)
    assert len(data) == tag_len + n
    assert decode(data) == value


@pytest.mark.parametrize(("n", "tag_len"), [(0, 1), (15, 1), (16, 3), (65535, 3), (65536, 5)])
def test_array_and_map_count_boundaries(n: int, tag_len: int) -> None:
    arr = [0] * n
    data = encode(arr)
    assert data == ref_encode(arr)
    assert len(data) == tag_len + n
    assert decode(data) == arr
    mapping = {f"{i:06d}": 0 for i in range(n)}
    data = encode(mapping)
    assert data == ref_encode(mapping)
    assert len(data) == tag_len + n * 8
    assert decode(data) == mapping


def _non_minimal_cases() -> list[tuple[str, bytes]]:
    """Well-formed but over-long headers, each with a complete payload, so the *only* fault is
    the header length."""
    s31, s255, s65535 = b"x" * 31, b"x" * 255, b"x" * 65535
    return [
        ("str8 for 0", b"\xd9\x00"),
        ("str8 for 31", b"\xd9\x1f" + s31),
        ("str16 for 31", b"\xda\x00\x1f" + s31),
        ("str16 for 255", b"\xda\x00\xff" + s255),
        ("str32 for 255", b"\xdb\x00\x00\x00\xff" + s255),
        ("str32 for 65535", b"\xdb\x00\x00\xff\xff" + s65535),
        ("bin16 for 0", b"\xc5\x00\x00"),
        ("bin16 for 255", b"\xc5\x00\xff" + s255),
        ("bin32 for 65535", b"\xc6\x00\x00\xff\xff" + s65535),
        ("array16 for 0", b"\xdc\x00\x00"),
        ("array16 for 15", b"\xdc\x00\x0f" + b"\x00" * 15),
        ("array32 for 15", b"\xdd\x00\x00\x00\x0f" + b"\x00" * 15),
        ("array32 for 65535", b"\xdd\x00\x00\xff\xff" + b"\x00" * 65535),
        ("map16 for 0", b"\xde\x00\x00"),
        (
            "map16 for 15",
            b"\xde\x00\x0f" + b"".join(encode(f"k{i:02d}") + b"\x00" for i in range(15)),
        ),
        (
            "map32 for 65535",
            b"\xdf\x00\x00\xff\xff" + b"".join(encode(f"{i:05d}") + b"\x00" for i in range(65535)),
        ),
    ]


@pytest.mark.parametrize(
    ("name", "data"), _non_minimal_cases(), ids=lambda x: x if isinstance(x, str) else ""
)
def test_non_minimal_headers_rejected(name: str, data: bytes) -> None:
    raises_at(data, errors.NonMinimalIntError, 0)
    # the same bytes nested as a map value: offset moves with them
    raises_at(b"\x81\xa1k" + data, errors.NonMinimalIntError, 3)


# --------------------------------------------------------------------------- key order


def test_keys_sorted_by_utf8_bytes() -> None:
    value = {"\U00010000": 1, "\uffff": 2, "é": 3, "z": 4, "": 5, "aa": 6, "a": 7, "B": 8}
    data = encode(value)
    keys = list(decode_map(data))
    assert keys == ["", "B", "a", "aa", "z", "é", "\uffff", "\U00010000"]
    assert keys == sorted(value, key=lambda k: k.encode("utf-8"))
    # UTF-16 code-unit order would put U+10000 (d800 dc00) before U+FFFF; UTF-8 does not.
    assert "\U00010000".encode("utf-16-be") < "\uffff".encode("utf-16-be")
    assert data == ref_encode(value)
    assert data.index("\uffff".encode()) < data.index("\U00010000".encode())


def test_prefix_key_sorts_first() -> None:
    assert encode({"ab": 0, "a": 0}).hex() == "82a16100a2616200"
    raises_at(bytes.fromhex("82a2616200a16100"), errors.UnsortedKeysError, 5)


def test_unsorted_non_ascii_keys_rejected() -> None:
    good = encode({"\uffff": 0, "\U00010000": 0})
    assert good.hex() == "82a3efbfbf00a4f090808000"
    raises_at(bytes.fromhex("82a4f090808000a3efbfbf00"), errors.UnsortedKeysError, 7)


def test_encode_sorts_keys_of_any_insertion_order() -> None:
    a = encode({"b": [1, {"y": 0, "x": 1}], "a": None})
    b = encode({"a": None, "b": [1, {"x": 1, "y": 0}]})
    assert a == b
    assert a.hex() == "82a161c0a1629201" + "82a17801a17900"


# --------------------------------------------------------------------------- decode errors


def test_truncated() -> None:
    raises_at(b"", errors.TruncatedError, 0)
    raises_at(b"\xcd\x01", errors.TruncatedError, 0)  # uint16 missing a byte
    raises_at(b"\xcf" + b"\x00" * 7, errors.TruncatedError, 0)
    raises_at(b"\xd9", errors.TruncatedError, 0)  # str8 without its length byte
    raises_at(b"\x92\xa1a", errors.TruncatedError, 3)  # second element missing
    raises_at(b"\x92\x01\xd1\x80", errors.TruncatedError, 2)  # nested int16 cut
    raises_at(b"\x82\xa1a\x01\xa1b", errors.TruncatedError, 6)  # last map value missing


def test_trailing_bytes() -> None:
    raises_at(b"\x00\x00", errors.TrailingBytesError, 1)
    raises_at(encode({"a": [1, 2]}) + b"\xc0", errors.TrailingBytesError, 6)
    raises_at(b"\x90\xc1", errors.TrailingBytesError, 1)  # trailing garbage is not parsed


def test_unsorted_and_duplicate_keys() -> None:
    raises_at(bytes.fromhex("82a16201a16102"), errors.UnsortedKeysError, 4)
    raises_at(bytes.fromhex("82a16101a16102"), errors.DuplicateKeyError, 4)
    nested = b"\x91\x83" + b"\xa1a\x00" + b"\xa1b\x00" + b"\xa1b\x00"
    raises_at(nested, errors.DuplicateKeyError, 8)
    # a duplicate is reported even when the two values are identical
    raises_at(b"\x82\xa1a\x00\xa1a\x00", errors.DuplicateKeyError, 4)


def test_float_rejected() -> None:
    raises_at(bytes.fromhex("cb3ff0000000000000"), errors.FloatNotAllowedError, 0)
    raises_at(bytes.fromhex("ca3f800000"), errors.FloatNotAllowedError, 0)
    raises_at(bytes.fromhex("9201ca3f800000"), errors.FloatNotAllowedError, 2)
    raises_at(b"\x81\xa1f\xcb" + b"\x7f\xf8" + b"\x00" * 6, errors.FloatNotAllowedError, 3)  # NaN


@pytest.mark.parametrize(
    "hexed",
    [
        "d4010a",  # fixext1
        "d5010a0b",
        "d6ff00000000",  # timestamp32
        "d7ff0000000000000000",  # timestamp64
        "d801" + "00" * 16,
        "c70101" + "0a",  # ext8
        "c8000101" + "0a",
        "c900000001010a",
        "c7" + "0cff" + "00" * 12,  # timestamp96
    ],
)
def test_ext_rejected(hexed: str) -> None:
    raises_at(bytes.fromhex(hexed), errors.ExtTypeError, 0)
    raises_at(bytes.fromhex("9200" + hexed), errors.ExtTypeError, 2)


def test_invalid_utf8() -> None:
    raises_at(bytes.fromhex("a2c328"), errors.InvalidUTF8Error, 1)
    raises_at(bytes.fromhex("a3eda080"), errors.InvalidUTF8Error, 1)  # encoded surrogate
    raises_at(bytes.fromhex("a2c0af"), errors.InvalidUTF8Error, 1)  # overlong '/'
    raises_at(bytes.fromhex("a46162ff63"), errors.InvalidUTF8Error, 3)
    raises_at(bytes.fromhex("81a2c328c0"), errors.InvalidUTF8Error, 2)  # in a key


def test_nesting_too_deep() -> None:
    ok = b"\x91" * 32 + b"\xc0"
    assert decode(ok) == encode_nested(32)
    raises_at(b"\x91" * 33 + b"\xc0", errors.NestingTooDeepError, 32)
    raises_at(b"\x81\xa1a" * 33 + b"\xc0", errors.NestingTooDeepError, 96)
    raises_at(b"\x91\x91\x90", errors.NestingTooDeepError, 2, max_depth=2)
    assert decode(b"\x91\x90", max_depth=2) == [[]]
    raises_at(b"\x90", errors.NestingTooDeepError, 0, max_depth=0)
    assert decode(b"\x05", max_depth=0) == 5
    # far deeper than msgpack's own stack: still our error, not a foreign one
    raises_at(b"\x91" * 5000 + b"\xc0", errors.NestingTooDeepError, 32)


def test_depth_cap_is_safe_from_recursion_limits() -> None:
    cap = codec.MAX_DEPTH_CAP
    deep = b"\x91" * cap + b"\xc0"
    assert encode(encode_nested(cap), max_depth=cap) == deep
    assert decode(deep, max_depth=cap) == encode_nested(cap)
    assert codec._Strict(deep, cap, DEFAULT_MAX_ITEMS).run() == encode_nested(cap)
    raises_at(
        b"\x81\xa1a" * (cap + 1) + b"\x00", errors.NestingTooDeepError, 3 * cap, max_depth=cap
    )
    with pytest.raises(errors.UsageError):
        decode(deep, max_depth=cap + 1)


def encode_nested(depth: int) -> object:
    value: object = None
    for _ in range(depth):
        value = [value]
    return value


def test_length_limits() -> None:
    raises_at(bytes.fromhex("a56162"), errors.LengthLimitError, 0)  # str beyond input
    raises_at(bytes.fromhex("c40a00"), errors.LengthLimitError, 0)  # bin beyond input
    raises_at(bytes.fromhex("930102"), errors.LengthLimitError, 0)  # 3 items, 2 bytes left
    raises_at(bytes.fromhex("8201a1"), errors.LengthLimitError, 0)  # 2 pairs need >= 4 bytes
    raises_at(bytes.fromhex("dd7fffffff00"), errors.LengthLimitError, 0)
    raises_at(bytes.fromhex("9200dfffffffff"), errors.LengthLimitError, 2)  # nested map32
    # max_items, for arrays and maps, at the boundary
    assert decode(encode([0] * 5), max_items=5) == [0] * 5
    raises_at(encode([0] * 6), errors.LengthLimitError, 0, max_items=5)
    raises_at(encode([[0] * 6]), errors.LengthLimitError, 1, max_items=5)
    m = {str(i): 0 for i in range(6)}
    raises_at(encode(m), errors.LengthLimitError, 0, max_items=5)
    assert decode(encode(m), max_items=6) == m
    # max_size
    data = encode("y" * 100)
    assert decode(data, max_size=len(data)) == "y" * 100
    raises_at(data, errors.LengthLimitError, len(data) - 1, max_size=len(data) - 1)
    raises_at(b"\x00" * (DEFAULT_MAX_SIZE + 1), errors.LengthLimitError, DEFAULT_MAX_SIZE)


def test_declared_lengths_do_not_drive_allocation() -> None:
    attacks = [
        b"\xdd\xff\xff\xff\xff" + b"\x00" * 8,  # array32 of 4 billion
        b"\xdf\xff\xff\xff\xff" + b"\x00" * 8,  # map32 of 4 billion
        b"\xc6\xff\xff\xff\xff" + b"\x00" * 8,  # bin32 of 4 GiB
        b"\xdb\xff\xff\xff\xff" + b"\x00" * 8,  # str32 of 4 GiB
    ]
    tracemalloc.start()
    try:
        for data in attacks:
            with pytest.raises(errors.LengthLimitError) as info:
                decode(data, max_items=2**40)
            assert info.value.offset == 0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_unexpected_type() -> None:
    raises_at(b"\xc1", errors.UnexpectedTypeError, 0)
    raises_at(b"\x92\x00\xc1", errors.UnexpectedTypeError, 2)
    raises_at(bytes.fromhex("810102"), errors.UnexpectedTypeError, 1)  # int key
    raises_at(bytes.fromhex("81c40161" + "00"), errors.UnexpectedTypeError, 1)  # bin key
    raises_at(bytes.fromhex("81c000"), errors.UnexpectedTypeError, 1)  # nil key
    raises_at(bytes.fromhex("8190" + "00"), errors.UnexpectedTypeError, 1)  # array key


def test_errors_are_decode_errors_with_offset() -> None:
    for cls in (
        errors.TruncatedError,
        errors.TrailingBytesError,
        errors.UnsortedKeysError,
        errors.DuplicateKeyError,
        errors.NonMinimalIntError,
        errors.FloatNotAllowedError,
        errors.ExtTypeError,
        errors.InvalidUTF8Error,
        errors.NestingTooDeepError,
        errors.LengthLimitError,
        errors.UnexpectedTypeError,
    ):
        assert issubclass(cls, errors.DecodeError)


# --------------------------------------------------------------------------- decode API


def test_decode_types() -> None:
    data = encode({"a": (1, 2), "b": bytearray(b"\x01"), "c": memoryview(b"\x02\x03")})
    assert data.hex() == "83a1619201" + "02a162c40101a163c4020203"
    value = decode(data)
    assert same(value, {"a": [1, 2], "b": b"\x01", "c": b"\x02\x03"})
    assert same(decode(bytearray(data)), value)
    assert same(decode(memoryview(data)), value)


def test_decode_map() -> None:
    assert decode_map(b"\x81\xa1a\x01") == {"a": 1}
    assert decode_map(b"\x80") == {}
    for data in (b"\x90", b"\x01", b"\xc0", b"\xa1a", b"\xc4\x00"):
        with pytest.raises(errors.UnexpectedTypeError) as info:
            decode_map(data)
        assert info.value.offset == 0
    with pytest.raises(errors.TrailingBytesError):
        decode_map(b"\x80\x80")
    with pytest.raises(errors.LengthLimitError):
        decode_map(encode({"a": [0] * 3}), max_items=2)


def test_bad_arguments_raise_usage_error() -> None:
    with pytest.raises(errors.UsageError):
        decode("c0")  # type: ignore[arg-type]
    with pytest.raises(errors.UsageError):
        decode(None)  # type: ignore[arg-type]
    for kwargs in ({"max_size": -1}, {"max_depth": -1}, {"max_items": 1.5}, {"max_depth": 10_000}):
        with pytest.raises(errors.UsageError):
            decode(b"\xc0", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(errors.UsageError):
        encode(None, max_depth=True)


# --------------------------------------------------------------------------- encode API


class Colour(enum.IntEnum):
    RED = 200


class Tag(str):
    pass


def test_encode_accepted_types() -> None:
    assert encode(None) == b"\xc0"
    assert encode((1, "a", b"b")) == bytes.fromhex("9301a161c40162")
    assert encode(bytearray(b"ab")) == encode(b"ab") == bytes.fromhex("c4026162")
    assert encode(memoryview(b"ab")) == bytes.fromhex("c4026162")
    assert encode(Colour.RED) == encode(200) == b"\xcc\xc8"
    assert encode({Tag("b"): 1, "a": Tag("x")}) == encode({"a": "x", "b": 1})


@pytest.mark.parametrize(
    ("value", "path", "what"),
    [
        (1.5, "top level", "float"),
        ({"body": {"marks": [1, 2, 3, 0.0]}}, "body.marks[3]", "float"),
        ({"a b": [float("nan")]}, "['a b'][0]", "float"),
        ({1: 2}, "top level", "str keys"),
        ({"x": {"a": 1, None: 2}}, "x", "str keys"),
        ({"x": [{"y": {b"k": 0}}]}, "x[0].y", "str keys"),
        ([0, 2**64], "[1]", "outside"),
        ({"t": [object()]}, "t[0]", "type object"),
        ({"s": {1, 2}}, "s", "type set"),
        ([complex(1, 2)], "[0]", "type complex"),
        ({"s": ["ok", "bad\ud800"]}, "s[1]", "surrogate"),
        ({"k": {"\udfff": 1}}, "k", "surrogate"),
    ],
)
def test_encode_refusals_name_the_path(value: object, path: str, what: str) -> None:
    with pytest.raises(errors.EncodeError) as info:
        encode(value)
    message = str(info.value)
    assert message.endswith(f"at {path}"), message
    assert what in message


def test_encode_depth_limit() -> None:
    assert encode(encode_nested(32)) == b"\x91" * 32 + b"\xc0"
    with pytest.raises(errors.EncodeError, match="max_depth"):
        encode(encode_nested(33))
    assert encode([[1]], max_depth=2) == b"\x91\x91\x01"
    with pytest.raises(errors.EncodeError, match=r"at \[0\]"):
        encode([[[1]]], max_depth=2)
    cyclic: list[object] = []
    cyclic.append(cyclic)
    with pytest.raises(errors.EncodeError, match="max_depth"):
        encode(cyclic)


def test_encode_does_not_mutate_input() -> None:
    value = {"b": [1, {"d": 0, "c": 1}], "a": 2}
    encode(value)
    assert list(value) == ["b", "a"]
    assert list(value["b"][1]) == ["d", "c"]  # type: ignore[index]


# --------------------------------------------------------------------------- properties

BOUNDARY_INTS = [b for v, _, _ in INT_CASES for b in (v, v + 1, v - 1) if -(2**63) <= b < 2**64]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.sampled_from(BOUNDARY_INTS)
    | st.text(max_size=40)
    | st.binary(max_size=40)
)
canonical_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=20)
        | st.dictionaries(st.text(max_size=6), children, max_size=20)
    ),
    max_leaves=40,
)
PROP = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROP
@given(canonical_values)
def test_roundtrip_property(value: object) -> None:
    data = encode(value)
    assert data == ref_encode(value)  # msgpack's output is the profile's shortest form
    back = decode(data)
    assert same(back, _sorted_copy(value))
    assert encode(back) == data
    assert same(strict(data), back)


def _sorted_copy(value: object) -> object:
    if isinstance(value, dict):
        return {k: _sorted_copy(value[k]) for k in sorted(value, key=lambda k: k.encode())}
    if isinstance(value, list):
        return [_sorted_copy(v) for v in value]
    return value


@PROP
@given(st.binary(max_size=64))
def test_random_bytes_raise_only_decode_errors(data: bytes) -> None:
    try:
        value = decode(data)
    except errors.DecodeError as exc:
        assert exc.offset is not None
        assert 0 <= exc.offset <= len(data)
    else:
        assert encode(value) == data
    assert outcome(decode, data) == outcome(strict, data)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(encode(draw(canonical_values)))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "insert", "delete"]))
        pos = draw(st.integers(0, len(data)))
        if op == "insert":
            data.insert(pos, draw(st.integers(0, 255)))
        elif data and pos < len(data):
            if op == "flip":
                data[pos] = draw(st.integers(0, 255))
            else:
                del data[pos]
    return bytes(data)


@PROP
@given(mutated())
def test_fast_path_agrees_with_strict_parser(data: bytes) -> None:
    fast = outcome(decode, data)
    assert fast == outcome(strict, data)
    if fast[0] == "ok":
        assert encode(fast[1]) == data


# --------------------------------------------------------------------------- docs vectors


def _codec_section() -> str:
    text = FORMAT_MD.read_text(encoding="utf-8")
    start = text.index("<!-- section:codec (owner: codec) -->")
    end = text.index("<!-- /section:codec -->")
    return text[start:end]


GOLDEN_ROW = re.compile(r"^\| `(.+)` \| `([0-9a-f]+)` \|$", re.MULTILINE)
REJECTED_ROW = re.compile(r"^\| `([0-9a-f]+)` \| `(\w+)` \| (\d+) \|$", re.MULTILINE)


def test_docs_golden_vectors() -> None:
    rows = GOLDEN_ROW.findall(_codec_section())
    assert len(rows) >= 30, "golden vector table not found or shrunk"
    for literal, hexed in rows:
        value = ast.literal_eval(literal)
        assert encode(value).hex() == hexed, literal
        assert same(decode(bytes.fromhex(hexed)), _sorted_copy(value)), literal


def test_docs_rejected_vectors() -> None:
    rows = REJECTED_ROW.findall(_codec_section())
    assert len(rows) >= 20, "rejected vector table not found or shrunk"
    seen = set()
    for hexed, name, offset in rows:
        cls = getattr(errors, name)
        seen.add(cls)
        raises_at(bytes.fromhex(hexed), cls, int(offset))
    assert len(seen) == 11  # every decode error class has a documented vector


class _Tag(str):
    pass


odd_scalars = (
    scalars
    | st.floats(allow_nan=False)
    | st.integers(min_value=2**64, max_value=2**70)
    | st.binary(max_size=8).map(bytearray)
    | st.text(max_size=4).map(_Tag)
    | st.just(HealthCheck.too_slow)  # an Enum: not encodable
)
odd_values = st.recursive(
    odd_scalars,
    lambda children: (
        st.lists(children, max_size=6)
        | st.lists(children, max_size=6).map(tuple)
        | st.dictionaries(st.text(max_size=4) | st.text(max_size=4).map(_Tag), children, max_size=6)
        | st.dictionaries(st.integers(0, 3), children, min_size=1, max_size=2)
    ),
    max_leaves=20,
)


@PROP
@given(canonical_values | odd_values)
def test_fast_encoder_path_equals_the_general_one(value: object) -> None:
    # encode() tries a lean path for plain dict/list trees first; whatever it decides must be
    # exactly what the general normaliser decides: the same bytes or the same refusal.
    try:
        want: bytes | str = msgpack.packb(
            codec._norm(value, 0, codec.DEFAULT_MAX_DEPTH), use_bin_type=True
        )
    except codec._Refused as exc:
        want = exc.reason
    except UnicodeEncodeError:
        want = "surrogate"
    try:
        got: bytes | str = encode(value)
    except errors.EncodeError as exc:
        got = str(exc)
    if isinstance(want, bytes):
        assert got == want
    else:
        assert isinstance(got, str) and (want in got or want == "surrogate"), (want, got)


def _packb_outcome(pack: object, value: object) -> tuple[str, object]:
    try:
        return "bytes", pack(value)  # type: ignore[operator]
    except Exception as exc:  # the same exception class and message as msgpack.packb's
        return type(exc).__name__, str(exc)


@PROP
@given(canonical_values | odd_values)
def test_kept_packer_packs_as_msgpack_packb(value: object) -> None:
    # codec._pack keeps its msgpack packers between calls: the bytes, or the refusal, must be
    # those of msgpack.packb, and a packer that refused must not leave bytes behind for the next
    assert _packb_outcome(codec._pack, value) == _packb_outcome(
        lambda v: msgpack.packb(v, use_bin_type=True), value
    )
    assert codec._pack({"a": [1, b"x"]}) == msgpack.packb({"a": [1, b"x"]}, use_bin_type=True)


def test_kept_packers_are_not_shared_and_stay_few(monkeypatch: pytest.MonkeyPatch) -> None:
    pool: list[object] = []
    monkeypatch.setattr(codec, "_PACKERS", pool)
    assert codec._pack([1, "a"]) == msgpack.packb([1, "a"])
    assert len(pool) == 1
    kept = pool[0]
    with pytest.raises(OverflowError):
        codec._pack([2**64])
    assert pool == []  # a packer that raised is dropped, not kept
    assert codec._pack(b"x" * (codec._PACKER_KEPT_SIZE + 1))[:3] == b"\xc6\x00\x04"
    assert pool == []  # a packer whose buffer grew past the bound is dropped
    assert codec._pack("ok") == b"\xa2ok" and len(pool) == 1 and pool[0] is not kept
    pool.extend(msgpack.Packer() for _ in range(codec._PACKERS_MAX))
    codec._pack(1)
    assert len(pool) == codec._PACKERS_MAX  # at most that many kept


def test_kept_packer_reentered_while_packing() -> None:
    # Python code can run in the middle of a pack (here a dict subclass's items(); in real
    # life a finalizer, or another thread after it): a call made then must get a packer of
    # its own, or the outer call's bytes would be overwritten
    inner: list[bytes] = []

    class Reentrant(dict):  # type: ignore[type-arg]
        def items(self):  # type: ignore[no-untyped-def,override]
            inner.append(codec._pack(["inner", 1]))
            return super().items()

    value = ["outer", Reentrant(a=1, b=[2, 3]), "end"]
    assert codec._pack(value) == msgpack.packb(["outer", {"a": 1, "b": [2, 3]}, "end"])
    assert inner == [msgpack.packb(["inner", 1])]


@PROP
@given(canonical_values)
def test_fast_encode_is_encode_with_and_without_msgspec(value: object) -> None:
    # the general path alone (the reference the two fast paths must equal)
    general = codec._pack(codec._norm(value, 0, codec.DEFAULT_MAX_DEPTH))
    assert general == ref_encode(value)
    fast = codec.fast_encode(value)
    plain = type(value) in (dict, list)
    assert fast == (general if plain else None)
    saved = codec._encode_sorted
    codec._encode_sorted = None  # msgpack's packer over _fast's sorted copy
    try:
        assert codec.fast_encode(value) == (general if plain else None)
    finally:
        codec._encode_sorted = saved


@pytest.mark.parametrize("msgspec_on", [True, False])
@pytest.mark.parametrize(
    "value",
    [
        {"a": 1.5},
        {"a": [1, 2.0]},
        {1: "x"},
        {"a": (1, 2)},
        {"a": 2**64},
        [-(2**63) - 1],
        {"a": "\ud800"},
        {"\udfff": 1},
        {"a": bytearray(b"x")},
        {"a": {"b": {"c": []}}},  # 4 deep with max_depth 3
    ],
)
def test_fast_encode_leaves_the_rest_to_encode(value: object, msgspec_on: bool) -> None:
    saved = codec._encode_sorted
    if not msgspec_on:
        codec._encode_sorted = None
    try:
        assert codec.fast_encode(value, max_depth=3) is None
    finally:
        codec._encode_sorted = saved


def test_fast_encode_uses_msgspec_when_installed() -> None:
    pytest.importorskip("msgspec")
    assert codec._encode_sorted is not None
    assert codec.fast_encode(
        {"é": 1, "z": [b"\x00"], "a": {"c": None, "b": True}}
    ) == bytes.fromhex("83a16182a162c3a163c0a17a91c40100a2c3a901")
