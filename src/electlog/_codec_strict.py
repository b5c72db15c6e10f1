"""The normative strict msgpack parser of :mod:`electlog.codec`: it accepts exactly the
canonical encodings (docs/format.md §1) within the limits and otherwise raises the specific
:class:`~electlog.errors.DecodeError` subclass for the first problem in input order, with its
byte offset. :func:`electlog.codec.decode` runs it when its fast path fails, and for every input
over :data:`~electlog.codec.FAST_PATH_MAX_SIZE`."""

from __future__ import annotations

from typing import Final, cast

from electlog.errors import (
    DuplicateKeyError,
    ExtTypeError,
    FloatNotAllowedError,
    InvalidUTF8Error,
    LengthLimitError,
    NestingTooDeepError,
    NonMinimalIntError,
    TrailingBytesError,
    TruncatedError,
    UnexpectedTypeError,
    UnsortedKeysError,
)

MAX_TOTAL_ITEMS: Final[int] = 262_144
"""Largest number of container elements (array elements plus map entries, all containers
together) one input may hold. Bounds the memory a decode can allocate whatever the input's shape
(Python objects cost tens of bytes each, an encoded empty array one byte)."""

_UINT_MIN: Final[dict[int, int]] = {1: 0x80, 2: 0x100, 4: 0x1_0000, 8: 0x1_0000_0000}
"""Smallest value a uintN may carry (anything smaller has a shorter form)."""

_INT_MAX_NEG: Final[dict[int, int]] = {1: -33, 2: -129, 4: -0x8001, 8: -0x8000_0001}
"""Largest value an intN may carry (anything larger has a shorter form)."""

_STR_MIN: Final[dict[int, int]] = {1: 32, 2: 0x100, 4: 0x1_0000}
_BIN_MIN: Final[dict[int, int]] = {1: 0, 2: 0x100, 4: 0x1_0000}
_CONTAINER_MIN: Final[dict[int, int]] = {2: 16, 4: 0x1_0000}

_WIDTH: Final[dict[int, int]] = {
    0xC4: 1, 0xC5: 2, 0xC6: 4,  # bin8/16/32
    0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8,  # uint8..64
    0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8,  # int8..64
    0xD9: 1, 0xDA: 2, 0xDB: 4,  # str8/16/32
    0xDC: 2, 0xDD: 4,  # array16/32
    0xDE: 2, 0xDF: 4,  # map16/32
}  # fmt: skip

_NAME: Final[dict[int, str]] = {
    0xC4: "bin8", 0xC5: "bin16", 0xC6: "bin32",
    0xCC: "uint8", 0xCD: "uint16", 0xCE: "uint32", 0xCF: "uint64",
    0xD0: "int8", 0xD1: "int16", 0xD2: "int32", 0xD3: "int64",
    0xD9: "str8", 0xDA: "str16", 0xDB: "str32",
    0xDC: "array16", 0xDD: "array32", 0xDE: "map16", 0xDF: "map32",
}  # fmt: skip

_EXT: Final[frozenset[int]] = frozenset({0xC7, 0xC8, 0xC9, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8})


class _Strict:
    """The normative strict parser: accepts exactly the canonical encodings within the limits,
    and otherwise raises the specific error for the first problem in input order."""

    __slots__ = ("budget", "data", "last_text_len", "max_depth", "max_items", "n")

    def __init__(self, data: bytes, max_depth: int, max_items: int) -> None:
        self.data = data
        self.n = len(data)
        self.max_depth = max_depth
        self.max_items = max_items
        self.last_text_len = 0  # payload length of the str most recently parsed
        self.budget = MAX_TOTAL_ITEMS  # elements of all containers together

    def run(self) -> object:
        value, end = self.value(0, 0)
        if end != self.n:
            raise TrailingBytesError(
                f"{self.n - end} byte(s) follow the complete top-level value", offset=end
            )
        return value

    def header(self, pos: int, tag: int) -> int:
        """Read the big-endian unsigned field that follows the type byte at ``pos``."""
        width = _WIDTH[tag]
        start = pos + 1
        if start + width > self.n:
            raise TruncatedError(
                f"{_NAME[tag]} header needs {width} byte(s) after the type byte, "
                f"only {self.n - start} remain",
                offset=pos,
            )
        return int.from_bytes(self.data[start : start + width], "big")

    def value(self, pos: int, depth: int) -> tuple[object, int]:
        if pos >= self.n:
            raise TruncatedError("input ends where a value was expected", offset=pos)
        b = self.data[pos]
        if b <= 0x7F:
            return b, pos + 1
        if b >= 0xE0:
            return b - 0x100, pos + 1
        if b <= 0x8F:
            return self.map(pos, b & 0x0F, pos + 1, depth)
        if b <= 0x9F:
            return self.array(pos, b & 0x0F, pos + 1, depth)
        if b <= 0xBF:
            return self.text(pos, b & 0x1F, pos + 1)
        if b == 0xC0:
            return None, pos + 1
        if b == 0xC2:
            return False, pos + 1
        if b == 0xC3:
            return True, pos + 1
        return self.sized(pos, b, depth)

    def sized(self, pos: int, b: int, depth: int) -> tuple[object, int]:
        """A value whose type byte is followed by a length or integer field (0xc1..0xdf)."""
        if b == 0xC1:
            raise UnexpectedTypeError("reserved type byte 0xc1", offset=pos)
        if b in (0xCA, 0xCB):
            raise FloatNotAllowedError(
                f"float{32 if b == 0xCA else 64} is not allowed (type byte 0x{b:02x})", offset=pos
            )
        if b in _EXT:
            raise ExtTypeError(f"ext type (type byte 0x{b:02x}) is not allowed", offset=pos)
        width = _WIDTH[b]
        field = self.header(pos, b)
        after = pos + 1 + width
        if 0xCC <= b <= 0xD3:
            return self.integer(pos, b, width, field), after
        if b <= 0xC6:
            if field < _BIN_MIN[width]:
                raise NonMinimalIntError(
                    f"bin length {field} encoded as {_NAME[b]} has a shorter form", offset=pos
                )
            end = self.payload_end(pos, after, field, _NAME[b])
            return self.data[after:end], end
        if b <= 0xDB:
            if field < _STR_MIN[width]:
                raise NonMinimalIntError(
                    f"str length {field} encoded as {_NAME[b]} has a shorter form", offset=pos
                )
            return self.text(pos, field, after)
        if field < _CONTAINER_MIN[width]:
            kind = "array" if b <= 0xDD else "map"
            raise NonMinimalIntError(
                f"{kind} count {field} encoded as {_NAME[b]} has a shorter form", offset=pos
            )
        if b <= 0xDD:
            return self.array(pos, field, after, depth)
        return self.map(pos, field, after, depth)

    def integer(self, pos: int, b: int, width: int, field: int) -> int:
        """The uint (0xcc..0xcf) or int (0xd0..0xd3) whose field was read, checked minimal."""
        if b <= 0xCF:
            if field < _UINT_MIN[width]:
                raise NonMinimalIntError(
                    f"integer {field} encoded as {_NAME[b]} has a shorter form", offset=pos
                )
            return field
        bits = 8 * width
        signed = field - (1 << bits) if field >> (bits - 1) else field
        if signed >= 0:
            raise NonMinimalIntError(
                f"non-negative integer {signed} encoded as {_NAME[b]}; "
                "it must use positive fixint or the uint family",
                offset=pos,
            )
        if signed > _INT_MAX_NEG[width]:
            raise NonMinimalIntError(
                f"integer {signed} encoded as {_NAME[b]} has a shorter form", offset=pos
            )
        return signed

    def payload_end(self, pos: int, start: int, length: int, name: str) -> int:
        remaining = self.n - start
        if length > remaining:
            raise LengthLimitError(
                f"{name} declares {length} byte(s) but only {remaining} remain", offset=pos
            )
        return start + length

    def text(self, pos: int, length: int, start: int) -> tuple[str, int]:
        end = self.payload_end(pos, start, length, "str")
        self.last_text_len = length
        try:
            return self.data[start:end].decode("utf-8"), end
        except UnicodeDecodeError as exc:
            raise InvalidUTF8Error(
                f"str is not valid UTF-8 ({exc.reason})", offset=start + exc.start
            ) from None

    def container(self, pos: int, count: int, start: int, depth: int, kind: str) -> None:
        if depth >= self.max_depth:
            raise NestingTooDeepError(
                f"{kind} nested deeper than max_depth {self.max_depth}", offset=pos
            )
        if count > self.max_items:
            raise LengthLimitError(
                f"{kind} declares {count} items, more than max_items {self.max_items}", offset=pos
            )
        self.budget -= count
        if self.budget < 0:
            raise LengthLimitError(
                f"{kind} brings the input to more than {MAX_TOTAL_ITEMS} container elements "
                "in total",
                offset=pos,
            )
        per_item = 2 if kind == "map" else 1
        remaining = self.n - start
        if count * per_item > remaining:
            raise LengthLimitError(
                f"{kind} declares {count} items but only {remaining} byte(s) remain", offset=pos
            )

    def array(self, pos: int, count: int, start: int, depth: int) -> tuple[list[object], int]:
        self.container(pos, count, start, depth, "array")
        out: list[object] = []
        at = start
        for _ in range(count):
            item, at = self.value(at, depth + 1)
            out.append(item)
        return out, at

    def map(self, pos: int, count: int, start: int, depth: int) -> tuple[dict[str, object], int]:
        self.container(pos, count, start, depth, "map")
        data = self.data
        out: dict[str, object] = {}
        at = start
        prev: bytes | None = None
        for _ in range(count):
            if at >= self.n:
                raise TruncatedError("input ends where a map key was expected", offset=at)
            b = data[at]
            if not (0xA0 <= b <= 0xBF or 0xD9 <= b <= 0xDB):
                raise UnexpectedTypeError(
                    f"map key has type byte 0x{b:02x}; keys must be str", offset=at
                )
            key_pos = at
            key_obj, at = self.value(at, depth + 1)
            key = cast(str, key_obj)  # the type byte check above admits only str
            raw = data[at - self.last_text_len : at]
            if prev is not None:
                if raw == prev:
                    raise DuplicateKeyError(f"map key {key!r} appears twice", offset=key_pos)
                if raw < prev:
                    raise UnsortedKeysError(
                        f"map key {key!r} sorts before the previous key {prev.decode('utf-8')!r}",
                        offset=key_pos,
                    )
            prev = raw
            out[key], at = self.value(at, depth + 1)
        return out, at


# --------------------------------------------------------------------------- public decoding


def _strict_decode(data: bytes, max_depth: int, max_items: int) -> object:
    return _Strict(data, max_depth, max_items).run()
