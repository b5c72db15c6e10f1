"""Canonical msgpack encoding and strict decoding.

electlog uses exactly one msgpack profile (normative description: ``docs/format.md`` §1):

* ``nil``, ``false``/``true``, integers in ``[-2**63, 2**64-1]`` in their shortest form (a
  non-negative value always uses positive fixint or the ``uint`` family), ``bin`` for bytes,
  ``str`` (valid UTF-8) for text, arrays, and maps whose keys are ``str`` sorted by their UTF-8
  bytes with no duplicates;
* every length and count header in its shortest form;
* no floats, no ext types (the timestamp type included), never the reserved byte ``0xc1``.

Every value therefore has exactly one encoding. :func:`decode` is strict: it accepts a byte string
only if re-encoding the decoded value gives back the very same bytes, and otherwise raises the
specific :class:`~electlog.errors.DecodeError` subclass with the byte offset of the problem.

Decoding runs a fast path first (msgpack's C unpacker with size limits, a structural check of the
result and a byte-for-byte comparison with its re-encoding); only when that fails does a strict
hand-written parser walk the input to classify the error and find its offset. The strict parser
alone defines what is accepted; the fast path can only accept what it accepts.
"""

from __future__ import annotations

from typing import Any, Final, cast

import msgpack

from electlog.errors import (
    EncodeError,
    LengthLimitError,
    UnexpectedTypeError,
    UsageError,
)

# the strict parser lives in its own module; _Strict and _strict_decode are imported by tests
from ._codec_strict import MAX_TOTAL_ITEMS, _Strict, _strict_decode  # noqa: F401

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_ITEMS",
    "DEFAULT_MAX_SIZE",
    "FAST_PATH_MAX_SIZE",
    "MAX_DEPTH_CAP",
    "MAX_TOTAL_ITEMS",
    "decode",
    "decode_map",
    "encode",
]

DEFAULT_MAX_SIZE: Final[int] = 1 << 20
"""Largest input :func:`decode` accepts by default, in bytes (1 MiB)."""

DEFAULT_MAX_DEPTH: Final[int] = 32
"""Deepest nesting of arrays/maps accepted by default (a top-level array or map is depth 1)."""

DEFAULT_MAX_ITEMS: Final[int] = 100_000
"""Largest element count of one array, or entry count of one map, accepted by default."""

FAST_PATH_MAX_SIZE: Final[int] = 1 << 16
"""Inputs up to this size are decoded by msgpack and re-encoded for comparison; larger inputs go
through the strict parser, which enforces :data:`MAX_TOTAL_ITEMS` as it reads (a 64 KiB input
cannot exceed it)."""

MAX_DEPTH_CAP: Final[int] = 256
"""Largest ``max_depth`` a caller may ask for (keeps the recursive walkers far from Python's
recursion limit)."""

_INT_MIN: Final[int] = -(1 << 63)
_INT_MAX: Final[int] = (1 << 64) - 1


_unpackb: Any = msgpack.unpackb
_Packer: Any = msgpack.Packer

_PACKERS: Final[list[Any]] = []
"""Idle msgpack packers of :func:`_pack`. ``msgpack.packb`` makes (and frees) a ``Packer``
with a 256 KiB buffer per call, about a third of the cost of packing a statement; :func:`_pack`
takes one from this list and puts it back, so no two calls share one (threads, or a call made
by a finalizer that runs while another packs). At most :data:`_PACKERS_MAX` are kept."""
_PACKERS_MAX: Final = 8
_PACKER_KEPT_SIZE: Final = 1 << 18
"""A packer that wrote more than this many bytes is dropped, not kept: its buffer grew to
that size, and a packer never shrinks it."""


def _pack(obj: object) -> bytes:
    """``msgpack.packb(obj, use_bin_type=True)`` (the same bytes, the same exceptions)
    without making a packer per call."""
    packers = _PACKERS
    try:
        packer = packers.pop()
    except IndexError:
        packer = _Packer(use_bin_type=True)
    out: bytes = packer.pack(obj)  # a packer that raised is dropped (not put back)
    if len(out) <= _PACKER_KEPT_SIZE and len(packers) < _PACKERS_MAX:
        packers.append(packer)
    return out


_SCALAR_TYPES: Final[frozenset[type]] = frozenset({str, bytes, int, bool, type(None)})
_ONLY_STR: Final[frozenset[type]] = frozenset({str})


def _sorted_encoder() -> Any:
    """msgspec's MessagePack encoder with every map's keys sorted (its ``order="sorted"``,
    msgspec 0.18 or later), or None without it. Keys sorted as Python sorts ``str`` are sorted
    by their UTF-8 bytes, and msgspec packs ``str``, ``bytes``, ``int``, ``bool``, ``None``,
    maps and arrays in their shortest forms, as msgpack does: for a tree :func:`_plain`
    accepts, its bytes are :func:`encode`'s (a hypothesis property in tests/core holds the two
    equal)."""
    try:
        import msgspec

        return msgspec.msgpack.Encoder(order="sorted").encode
    except (ImportError, TypeError, AttributeError):
        return None


_encode_sorted: Any = _sorted_encoder()


# --------------------------------------------------------------------------- argument checks


def _check_limit(name: str, value: object, cap: int | None = None) -> int:
    if type(value) is not int or value < 0 or (cap is not None and value > cap):
        bound = f"0..{cap}" if cap is not None else "a non-negative int"
        raise UsageError(f"{name} must be {bound}, got {value!r}")
    return value


def _as_bytes(data: object) -> bytes:
    if type(data) is bytes:
        return data
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    if isinstance(data, memoryview):
        return data.tobytes()
    raise UsageError(f"decode needs bytes, bytearray or memoryview, got {type(data).__name__}")


# --------------------------------------------------------------------------- encoding


class _Refused(Exception):
    """Internal: a value cannot be encoded. ``path`` is filled innermost-first while unwinding."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str | int] = []


def _format_path(path: list[str | int]) -> str:
    """``["marks", 3, "body"]`` (innermost first) -> ``body.marks[3]``."""
    if not path:
        return "top level"
    parts: list[str] = []
    for comp in reversed(path):
        if isinstance(comp, int):
            parts.append(f"[{comp}]")
        elif comp.isidentifier():
            parts.append(f".{comp}" if parts else comp)
        else:
            parts.append(f"[{comp!r}]")
    return "".join(parts)


def _str_keys(obj: dict[Any, Any]) -> dict[str, Any]:
    """Slow path for maps whose keys are not all exactly ``str``: accept ``str`` subclasses
    (converted to plain ``str``), refuse anything else."""
    out: dict[str, Any] = {}
    for k, v in obj.items():
        if not isinstance(k, str):
            raise _Refused(f"map key {k!r} is {type(k).__name__}, only str keys are allowed")
        plain = str(k)
        if plain in out:
            raise _Refused(f"map key {plain!r} appears twice")
        out[plain] = v
    return out


class _Slow(Exception):
    """Internal: :func:`_fast` met something only :func:`_norm` handles (or reports)."""


_KEY_ORDERS: Final[dict[tuple[object, ...], tuple[str, ...] | None]] = {}
"""Key tuples of maps :func:`_fast` has seen, all ``str``, with their sorted order (``None``
when already sorted): bulk data repeats a few map shapes, so each is checked and sorted once.
Bounded: at most :data:`_KEY_ORDERS_LIMIT` shapes of at most :data:`_KEY_ORDERS_WIDTH` keys."""
_KEY_ORDERS_LIMIT: Final = 4096
_KEY_ORDERS_WIDTH: Final = 32


def _key_order(keys: tuple[object, ...]) -> tuple[str, ...] | None:
    """The sorted order of a map's keys (``None``: already sorted); :class:`_Slow` if a key is
    not exactly ``str`` (then :func:`_norm` converts or refuses it)."""
    for k in keys:
        if type(k) is not str:
            raise _Slow
    ordered = tuple(sorted(cast("tuple[str, ...]", keys)))
    order = None if ordered == keys else ordered
    if len(keys) <= _KEY_ORDERS_WIDTH and len(_KEY_ORDERS) < _KEY_ORDERS_LIMIT:
        _KEY_ORDERS[keys] = order
    return order


_MISSING: Final = object()


def _fast(obj: Any, depth: int, max_depth: int) -> object:
    """:func:`_norm` for the common case, a plain ``dict``/``list`` tree of plain ``str`` keys
    and ``str``/``bytes``/``bool``/``None``/``int`` values: a tree msgpack packs canonically
    (maps rebuilt in key order; lists of scalars shared with ``obj``).
    Integers are not range-checked here: msgpack refuses one outside ``[-2**63, 2**64-1]``
    with ``OverflowError``. Raises :class:`_Slow` (or ``TypeError`` from sorting mixed keys)
    for anything else, and the caller re-runs :func:`_norm`, which accepts or names the
    problem."""
    if depth >= max_depth:
        raise _Slow
    inner = depth + 1
    if type(obj) is dict:
        keys = tuple(obj)
        order = _KEY_ORDERS.get(keys, _MISSING)
        if order is _MISSING:
            order = _key_order(keys)
        out: dict[str, object] = {}
        scalars = _SCALAR_TYPES
        flat = inner < max_depth  # a list value may hold scalars
        for k in cast("tuple[str, ...]", keys if order is None else order):
            v = obj[k]
            tv = type(v)
            if tv in scalars or (tv is list and flat and scalars.issuperset(map(type, v))):
                out[k] = v
            elif tv is dict or tv is list:
                out[k] = _fast(v, inner, max_depth)
            else:
                raise _Slow
        return out
    if _SCALAR_TYPES.issuperset(map(type, obj)):
        return obj  # only scalars: msgpack packs the list as it is
    items: list[object] = []
    append = items.append
    for v in obj:
        tv = type(v)
        if tv is dict or tv is list:
            append(_fast(v, inner, max_depth))
        elif tv in _SCALAR_TYPES:
            append(v)
        else:
            raise _Slow
    return items


def _plain(obj: Any, depth: int, max_depth: int) -> bool:
    """True if :func:`_fast` takes ``obj`` (a ``dict`` or ``list``) as it is: ``dict`` and
    ``list`` containers within ``max_depth``, map keys exactly ``str``, every other value
    exactly ``str``, ``bytes``, ``int``, ``bool`` or ``None``. Only checks (no copy); the
    common flat containers by C loops."""
    if depth >= max_depth:
        return False
    if type(obj) is dict:
        if not _ONLY_STR.issuperset(map(type, obj)):
            return False
        values: Any = obj.values()
    else:
        values = obj
    scalars = _SCALAR_TYPES
    if scalars.issuperset(map(type, values)):
        return True
    inner = depth + 1
    flat = inner < max_depth  # a list value may hold scalars
    for v in values:
        tv = type(v)
        if (
            tv in scalars
            or (tv is list and flat and scalars.issuperset(map(type, v)))
            or ((tv is dict or tv is list) and _plain(v, inner, max_depth))
        ):
            continue
        return False
    return True


def fast_encode(obj: object, max_depth: int = DEFAULT_MAX_DEPTH) -> bytes | None:
    """:func:`encode`'s bytes for the common case, a plain ``dict``/``list`` tree of exactly
    ``str`` keys and ``str``/``bytes``/``int``/``bool``/``None`` values (with
    ``electlog[fast]``: checked by :func:`_plain`, packed with the keys sorted by msgspec, in C;
    else :func:`_fast`'s tree packed by msgpack), or ``None`` for anything else, an integer out
    of range and a lone surrogate among them: :func:`encode` then accepts it or names the
    problem. Used by :func:`encode` and by the encoders that pack a body inside a larger
    canonical structure (:mod:`electlog.signer`)."""
    if type(obj) is not dict and type(obj) is not list:
        return None
    if _encode_sorted is not None:
        if not _plain(obj, 0, max_depth):
            return None
        try:
            return cast(bytes, _encode_sorted(obj))
        except Exception:  # out of range, a lone surrogate: encode() names it
            return None
    try:
        return _pack(_fast(obj, 0, max_depth))
    except (_Slow, TypeError, OverflowError, UnicodeEncodeError):
        return None


def _norm(obj: object, depth: int, max_depth: int) -> object:
    """Validate ``obj`` and return a copy msgpack packs canonically (maps rebuilt in key order,
    bytes-likes as ``bytes``, subclasses of ``int``/``str`` as the plain type)."""
    t = type(obj)
    if t is str or t is bytes or t is bool or obj is None:
        return obj
    if t is int:
        if _INT_MIN <= cast(int, obj) <= _INT_MAX:
            return obj
        raise _Refused(f"integer {obj} is outside [-2**63, 2**64-1]")
    if not (t is dict or t is list or t is tuple):
        return _norm_other(obj, depth, max_depth)
    if depth >= max_depth:
        raise _Refused(f"nesting deeper than max_depth {max_depth}")
    if isinstance(obj, dict):
        return _norm_map(obj, depth + 1, max_depth)
    items: list[object] = []
    append = items.append
    try:
        for v in cast("list[object]", obj):
            append(_norm(v, depth + 1, max_depth))
    except _Refused as exc:
        exc.path.append(len(items))  # the failing element is the one not yet appended
        raise
    return items


def _norm_other(obj: object, depth: int, max_depth: int) -> object:
    """:func:`_norm` of a value whose type is not exactly a plain one: a float (refused), a
    bytes-like, a subclass of ``int``/``str``/``bytes``/``dict``/``list``/``tuple``."""
    if type(obj) is float:
        raise _Refused("float values are not allowed")
    if isinstance(obj, bytearray | memoryview):
        return bytes(obj) if isinstance(obj, bytearray) else obj.tobytes()
    if isinstance(obj, int):  # int subclasses such as IntEnum (bool was handled above)
        return _norm(int(obj), depth, max_depth)
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, bytes):
        return bytes(obj)
    if isinstance(obj, dict):
        return _norm(dict(obj), depth, max_depth)
    if isinstance(obj, list | tuple):
        return _norm(list(obj), depth, max_depth)
    raise _Refused(f"type {type(obj).__name__} cannot be encoded")


def _norm_map(src: dict[Any, Any], inner: int, max_depth: int) -> dict[str, object]:
    """:func:`_norm` of a map's entries (depth already counted), keys in UTF-8 byte order."""
    try:
        keys = sorted(src)
    except TypeError:  # keys of mixed, incomparable types
        keys = list(src)
    for k in keys:
        if type(k) is not str:
            src = _str_keys(src)
            keys = sorted(src)
            break
    # Python orders str by code point, which is exactly the UTF-8 byte order.
    out: dict[str, object] = {}
    for k in keys:
        try:
            out[k] = _norm(src[k], inner, max_depth)
        except _Refused as exc:
            exc.path.append(k)
            raise
    return out


def _bad_text(obj: object, path: list[str | int]) -> tuple[list[str | int], str] | None:
    """Find the first str (value or key) that is not encodable as UTF-8 (a lone surrogate)."""
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError:
            return path, "str value"
        return None
    if isinstance(obj, dict):
        for k, v in obj.items():
            try:
                k.encode("utf-8")
            except UnicodeEncodeError:
                return path, f"map key {k!r}"
            found = _bad_text(v, [k, *path])
            if found is not None:
                return found
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            found = _bad_text(v, [i, *path])
            if found is not None:
                return found
    return None


def encode(obj: object, *, max_depth: int = DEFAULT_MAX_DEPTH) -> bytes:
    """Encode ``obj`` in the canonical msgpack profile.

    Accepts ``None``, ``bool``, ``int`` in ``[-2**63, 2**64-1]``, ``str`` (no lone surrogates),
    ``bytes``/``bytearray``/``memoryview`` (as ``bin``), ``list``/``tuple`` (as arrays) and
    ``dict`` with ``str`` keys (as maps; the keys are sorted here by their UTF-8 bytes).
    Arrays and maps may nest at most ``max_depth`` deep (a top-level container is depth 1).

    Raises :class:`~electlog.errors.EncodeError` naming the path of the offending value
    (for example ``body.marks[3]``) for a float, a non-``str`` key, an out-of-range integer, a
    lone surrogate, any other type, or nesting deeper than ``max_depth``.
    """
    _check_limit("max_depth", max_depth, MAX_DEPTH_CAP)
    fast = fast_encode(obj, max_depth)
    if fast is not None:
        return fast
    # the general path below accepts the value or names the problem
    try:
        norm = _norm(obj, 0, max_depth)
    except _Refused as exc:
        raise EncodeError(f"cannot encode: {exc.reason} at {_format_path(exc.path)}") from None
    try:
        return _pack(norm)
    except UnicodeEncodeError as exc:
        found = _bad_text(norm, [])
        where, what = found if found is not None else ([], "str")
        raise EncodeError(
            f"cannot encode: {what} is not valid Unicode text (lone surrogate) "
            f"at {_format_path(where)}"
        ) from exc
    except Exception as exc:  # pragma: no cover - _norm admits only values msgpack packs
        raise EncodeError(f"cannot encode: msgpack refused the value: {exc}") from exc


# --------------------------------------------------------------------------- decoding: fast


def _canonical_shape(obj: object, depth: int, max_depth: int) -> bool:
    """True if a value msgpack unpacked has only profile types, str keys in strictly increasing
    order (as they appeared in the input) and nesting within ``max_depth``."""
    t = type(obj)
    if t is dict:
        if depth >= max_depth:
            return False
        inner = depth + 1
        first = True
        prev = ""
        for k, v in cast("dict[object, object]", obj).items():
            if type(k) is not str:
                return False
            if not first and not prev < k:
                return False
            first = False
            prev = k
            if type(v) not in _SCALAR_TYPES and not _canonical_shape(v, inner, max_depth):
                return False
        return True
    if t is list:
        if depth >= max_depth:
            return False
        inner = depth + 1
        for v in cast("list[object]", obj):
            if type(v) not in _SCALAR_TYPES and not _canonical_shape(v, inner, max_depth):
                return False
        return True
    return t in _SCALAR_TYPES


def decode(
    data: bytes,
    *,
    max_size: int = DEFAULT_MAX_SIZE,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_items: int = DEFAULT_MAX_ITEMS,
) -> object:
    """Decode one canonical value from ``data`` (``bytes``, ``bytearray`` or ``memoryview``).

    Strict: ``data`` must be exactly one value in the canonical profile, so that
    ``encode(decode(data)) == data``. Arrays come back as ``list``, maps as ``dict`` (in key
    order), ``bin`` as ``bytes``, ``str`` as ``str``.

    Limits: ``len(data) <= max_size``; arrays/maps nested at most ``max_depth`` deep (a top-level
    container is depth 1, ``max_depth <= MAX_DEPTH_CAP``); each array or map declares at most
    ``max_items`` elements/entries. No declared length is trusted before it is checked against
    the bytes that remain.

    Raises the specific :class:`~electlog.errors.DecodeError` subclass (``TruncatedError``,
    ``TrailingBytesError``, ``UnsortedKeysError``, ``DuplicateKeyError``, ``NonMinimalIntError``,
    ``FloatNotAllowedError``, ``ExtTypeError``, ``InvalidUTF8Error``, ``NestingTooDeepError``,
    ``LengthLimitError``, ``UnexpectedTypeError``) carrying the byte ``offset`` of the first
    problem; :class:`~electlog.errors.UsageError` for a bad argument.
    """
    buf = _as_bytes(data)
    _check_limit("max_size", max_size)
    _check_limit("max_depth", max_depth, MAX_DEPTH_CAP)
    _check_limit("max_items", max_items)
    n = len(buf)
    if n > max_size:
        raise LengthLimitError(
            f"input is {n} bytes, more than max_size {max_size}", offset=max_size
        )
    if n > FAST_PATH_MAX_SIZE:
        # msgpack's limits are per container; only the strict parser bounds the total number
        # of values (and so the memory) of a large input.
        return _strict_decode(buf, max_depth, max_items)
    try:
        obj = _unpackb(
            buf,
            use_list=True,
            raw=False,
            strict_map_key=True,
            timestamp=0,
            max_str_len=n,
            max_bin_len=n,
            max_array_len=min(max_items, n),
            max_map_len=min(max_items, n // 2),
            max_ext_len=0,
        )
    except Exception:  # any complaint from msgpack: the strict parser classifies it
        return _strict_decode(buf, max_depth, max_items)
    if _canonical_shape(obj, 0, max_depth):
        try:
            again = _pack(obj)
        except Exception:  # pragma: no cover - a checked shape always packs
            again = None
        if again == buf:
            return cast(object, obj)
    return _strict_decode(buf, max_depth, max_items)


def decode_map(
    data: bytes,
    *,
    max_size: int = DEFAULT_MAX_SIZE,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_items: int = DEFAULT_MAX_ITEMS,
) -> dict[str, object]:
    """Like :func:`decode`, and the top-level value must be a map
    (:class:`~electlog.errors.UnexpectedTypeError` at offset 0 otherwise)."""
    obj = decode(data, max_size=max_size, max_depth=max_depth, max_items=max_items)
    if type(obj) is not dict:
        raise UnexpectedTypeError(f"top-level value is {_kind(obj)}, expected a map", offset=0)
    return cast("dict[str, object]", obj)


def _kind(obj: object) -> str:
    if obj is None:
        return "nil"
    if isinstance(obj, bool):
        return "a bool"
    if isinstance(obj, int):
        return "an integer"
    if isinstance(obj, str):
        return "a str"
    if isinstance(obj, bytes):
        return "a bin"
    return "an array"
