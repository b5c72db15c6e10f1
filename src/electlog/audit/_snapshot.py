"""A strict, whitelisted object-graph codec for the resumable audit's replay snapshot.

The replay's state (the election projections, the findings so far, the author heads) is a graph
of plain containers and electlog's own record classes. It is written as msgpack arrays, one per
node, tagged with what the node is; shared objects are written once and referenced after (the
projections share their event records), so the graph comes back with the same shape. This is
not pickle: nothing in the data names a function to call. A node can only be a container, a
number, text, bytes, an enum member, a date, a fraction, or an instance of a class whose module
is one of :data:`_MODULES` (created without calling its ``__init__``, its attributes set from
the data). Each class the snapshot uses is listed once with its attribute names; a snapshot
whose classes do not have exactly those attributes today (another electlog version) is refused.

Bad data is a :class:`~electlog.errors.AuditStateError` naming what is wrong; the state file's
hash (:mod:`electlog.audit._resume`) catches accidental damage before this decoder runs.
"""

from __future__ import annotations

import datetime as _dt
import enum
import fractions
import sys
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, Final

import msgpack

from electlog.errors import AuditStateError

__all__ = ["decode_graph", "encode_graph"]

_MODULES: Final = ("electlog.election.", "electlog.audit.", "electlog.events", "electlog.rla.")
"""The modules whose classes a snapshot may hold."""

_LIST, _TUPLE, _DICT, _SET, _FROZENSET, _OBJECT, _ENUM, _REF, _CLASS = range(9)
_UNSET, _NAMEDTUPLE, _DATE, _FRACTION, _COUNTER, _ARRAY = range(9, 15)
_MAX_DEPTH: Final = 200
_PLAIN: Final = frozenset({type(None), bool, int, str, bytes, float})
"""Types written as themselves (every other value is a tagged array)."""


def _allowed(module: str) -> bool:
    return module.startswith(_MODULES) or module in {m.rstrip(".") for m in _MODULES}


def _layout(cls: type) -> tuple[list[str], bool]:
    """The attribute names of ``cls``'s instances: its slots, base first, and whether instances
    also have a ``__dict__``."""
    slots: list[str] = []
    for c in reversed(cls.__mro__):
        declared = c.__dict__.get("__slots__", ())
        for name in (declared,) if isinstance(declared, str) else declared:
            if name not in ("__weakref__", "__dict__") and name not in slots:
                slots.append(name)
    return slots, cls.__dictoffset__ != 0


class _Encoder:
    def __init__(self) -> None:
        self.classes: list[list[Any]] = []
        self._class_ids: dict[type, int] = {}
        self._memo: dict[int, int] = {}
        self._keep: list[object] = []  # memoised objects stay alive while ids are compared

    def class_id(self, cls: type) -> int:
        cid = self._class_ids.get(cls)
        if cid is None:
            if not _allowed(cls.__module__):
                raise AuditStateError(
                    f"cannot snapshot an instance of {cls.__module__}.{cls.__qualname__}"
                )
            slots, has_dict = _layout(cls)
            cid = self._class_ids[cls] = len(self.classes)
            self.classes.append([cls.__module__, cls.__qualname__, slots, has_dict])
        return cid

    def _memoised(self, obj: object) -> list[Any] | None:
        ref = self._memo.get(id(obj))
        if ref is not None:
            return [_REF, ref]
        self._memo[id(obj)] = len(self._memo)
        self._keep.append(obj)
        return None

    def items(self, tag: int, values: Any, d: int) -> list[Any]:
        """``[tag, *values]``, each value encoded (plain values without a call: most are)."""
        enc = self.encode
        plain = _PLAIN
        out = [tag]
        out.extend(x if type(x) in plain else enc(x, d) for x in values)
        return out

    def encode(self, obj: object, depth: int = 0) -> Any:
        t = type(obj)
        if t in _PLAIN:
            return obj
        if depth > _MAX_DEPTH:
            raise AuditStateError("the replay state is nested too deeply to snapshot")
        d = depth + 1
        enc = self.encode
        if t is tuple or t is frozenset:
            return self.items(_TUPLE if t is tuple else _FROZENSET, obj, d)
        if t is _dt.date:
            return [_DATE, obj.toordinal()]  # type: ignore[attr-defined]
        if t is fractions.Fraction:
            return [_FRACTION, obj.numerator, obj.denominator]  # type: ignore[attr-defined]
        if isinstance(obj, enum.Enum):
            return [_ENUM, self.class_id(t), enc(obj.value, d)]
        if isinstance(obj, type):
            return [_CLASS, self.class_id(obj)]
        if isinstance(obj, tuple) and hasattr(t, "_fields"):
            return [_NAMEDTUPLE, self.class_id(t), *self.items(_TUPLE, obj, d)[1:]]
        ref = self._memoised(obj)
        if ref is not None:
            return ref
        return self._mutable(obj, t, d)

    def _mutable(self, obj: Any, t: type, d: int) -> list[Any]:
        """A container or an object, written the first time it is met."""
        enc = self.encode
        if t is list or t is set:
            return self.items(_LIST if t is list else _SET, obj, d)
        if t is dict or t is Counter:
            return self.items(_DICT if t is dict else _COUNTER, _flat(obj), d)
        if t is array:
            return [_ARRAY, obj.typecode, obj.tobytes()]
        if isinstance(obj, list | dict | set | tuple | frozenset | array):
            raise AuditStateError(f"cannot snapshot a {t.__qualname__} (a container subclass)")
        cid = self.class_id(t)
        slots, has_dict = self.classes[cid][2], self.classes[cid][3]
        node: list[Any] = [_OBJECT, cid]
        plain = _PLAIN
        for name in slots:
            try:
                value = getattr(obj, name)
            except AttributeError:
                node.append([_UNSET])
                continue
            node.append(value if type(value) in plain else enc(value, d))
        if has_dict:
            node.append(enc(dict(vars(obj)), d))
        return node


def _flat(mapping: dict[Any, Any]) -> Iterator[Any]:
    """A mapping's keys and values, alternating."""
    for k, v in mapping.items():
        yield k
        yield v


def encode_graph(root: object) -> bytes:
    """The msgpack bytes of ``root``'s object graph (:class:`AuditStateError` if it holds
    something a snapshot may not)."""
    enc = _Encoder()
    body = enc.encode(root)
    return msgpack.packb([enc.classes, body], use_bin_type=True)  # type: ignore[no-any-return]


class _Decoder:
    def __init__(self, classes: object) -> None:
        if type(classes) is not list:
            raise AuditStateError("the snapshot's class table is not a list")
        self.classes: list[tuple[type, list[str], bool]] = [self._class(c) for c in classes]
        self.memo: list[object] = []

    @staticmethod
    def _class(entry: object) -> tuple[type, list[str], bool]:
        if (
            type(entry) is not list
            or len(entry) != 4
            or not all(type(x) is str for x in entry[:2])
            or type(entry[2]) is not list
            or not all(type(x) is str for x in entry[2])
            or type(entry[3]) is not bool
        ):
            raise AuditStateError(f"a class entry of the snapshot is malformed: {entry!r:.200}")
        module, qualname, slots, has_dict = entry
        if not _allowed(module):
            raise AuditStateError(f"the snapshot names a class outside electlog: {module}")
        obj: object = sys.modules.get(module)
        for part in qualname.split("."):
            obj = getattr(obj, part, None)
        if not isinstance(obj, type) or obj.__module__ != module or issubclass(obj, BaseException):
            raise AuditStateError(f"the snapshot names an unknown class {module}.{qualname}")
        if _layout(obj) != (slots, has_dict):
            raise AuditStateError(
                f"the snapshot's class {module}.{qualname} has other attributes than this "
                "electlog version's (the state was written by another version)"
            )
        return obj, slots, has_dict

    def cls(self, index: object) -> tuple[type, list[str], bool]:
        if type(index) is not int or not 0 <= index < len(self.classes):
            raise AuditStateError(f"the snapshot refers to class {index!r}, not in its table")
        return self.classes[index]

    def decode(self, node: object, depth: int = 0) -> Any:
        t = type(node)
        if node is None or t is bool or t is int or t is str or t is bytes or t is float:
            return node
        if t is not list or not node or type(node[0]) is not int:  # type: ignore[index]
            raise AuditStateError(f"a snapshot node is malformed: {node!r:.200}")
        if depth > _MAX_DEPTH:
            raise AuditStateError("the snapshot is nested too deeply")
        tag, args = node[0], node[1:]  # type: ignore[index]
        step = self._steps.get(tag)
        if step is None:
            raise AuditStateError(f"a snapshot node has the unknown tag {tag}")
        return step(self, args, depth + 1)

    def values(self, args: list[Any], d: int) -> list[Any]:
        """Each of ``args`` decoded (plain values without a call: most are)."""
        dec = self.decode
        return [dec(x, d) if type(x) is list else x for x in args]

    def _tuple(self, args: list[Any], d: int) -> Any:
        return tuple(self.values(args, d))

    def _frozenset(self, args: list[Any], d: int) -> Any:
        return frozenset(self._hashables(args, d))

    def _date(self, args: list[Any], d: int) -> Any:
        return _dt.date.fromordinal(self._int(args, 1)[0])

    def _fraction(self, args: list[Any], d: int) -> Any:
        num, den = self._int(args, 2)
        return fractions.Fraction(num, den)

    def _enum(self, args: list[Any], d: int) -> Any:
        cls = self.cls(args[0] if args else None)[0]
        if not issubclass(cls, enum.Enum) or len(args) != 2:
            raise AuditStateError(f"a snapshot enum node is malformed: {args!r:.200}")
        return cls(self.decode(args[1], d))

    def _class_ref(self, args: list[Any], d: int) -> Any:
        return self.cls(args[0] if len(args) == 1 else None)[0]

    def _namedtuple(self, args: list[Any], d: int) -> Any:
        cls = self.cls(args[0] if args else None)[0]
        fields = getattr(cls, "_fields", None)
        if not issubclass(cls, tuple) or fields is None or len(args) - 1 != len(fields):
            raise AuditStateError(f"a snapshot record node is malformed: {args!r:.200}")
        return cls._make(self.decode(x, d) for x in args[1:])  # type: ignore[attr-defined]

    def _ref(self, args: list[Any], d: int) -> Any:
        if len(args) != 1 or type(args[0]) is not int or not 0 <= args[0] < len(self.memo):
            raise AuditStateError(f"a snapshot reference is malformed: {args!r:.200}")
        return self.memo[args[0]]

    def _list(self, args: list[Any], d: int) -> Any:
        out: list[Any] = []
        self.memo.append(out)
        out.extend(self.values(args, d))
        return out

    def _set(self, args: list[Any], d: int) -> Any:
        out: set[Any] = set()
        self.memo.append(out)
        out.update(self._hashables(args, d))
        return out

    def _map(self, args: list[Any], d: int, mapping: dict[Any, Any]) -> Any:
        if len(args) % 2:
            raise AuditStateError("a snapshot map node has an odd number of items")
        self.memo.append(mapping)
        keys = self._hashables(args[0::2], d)
        dict.update(
            mapping, zip(keys, self.values(args[1::2], d), strict=True)
        )  # not Counter.update
        return mapping

    def _dict(self, args: list[Any], d: int) -> Any:
        return self._map(args, d, {})

    def _counter(self, args: list[Any], d: int) -> Any:
        return self._map(args, d, Counter())

    def _array(self, args: list[Any], d: int) -> Any:
        if len(args) != 2 or args[0] not in ("q", "d") or type(args[1]) is not bytes:
            raise AuditStateError(f"a snapshot array node is malformed: {args!r:.200}")
        arr = array(args[0])
        try:
            arr.frombytes(args[1])
        except ValueError as exc:
            raise AuditStateError(f"a snapshot array node is malformed: {exc}") from None
        self.memo.append(arr)
        return arr

    def _object(self, args: list[Any], d: int) -> Any:
        cls, slots, has_dict = self.cls(args[0] if args else None)
        if len(args) != 1 + len(slots) + has_dict or issubclass(
            cls, tuple | list | dict | set | frozenset | enum.Enum
        ):
            raise AuditStateError(f"a snapshot object of {cls.__qualname__} is malformed")
        obj = object.__new__(cls)
        self.memo.append(obj)
        setter: Callable[[object, str, Any], None] = object.__setattr__
        dec = self.decode
        for name, value in zip(slots, args[1 : 1 + len(slots)], strict=True):
            if type(value) is not list:
                setter(obj, name, value)
            elif value != [_UNSET]:
                setter(obj, name, dec(value, d))
        if has_dict:
            attributes = self.decode(args[-1], d)
            if type(attributes) is not dict or not all(type(k) is str for k in attributes):
                raise AuditStateError(f"a snapshot object of {cls.__qualname__} is malformed")
            for name, value in attributes.items():
                setter(obj, name, value)
        return obj

    _steps: Final[dict[int, Callable[[_Decoder, list[Any], int], Any]]] = {
        _TUPLE: _tuple,
        _FROZENSET: _frozenset,
        _DATE: _date,
        _FRACTION: _fraction,
        _ENUM: _enum,
        _CLASS: _class_ref,
        _NAMEDTUPLE: _namedtuple,
        _REF: _ref,
        _LIST: _list,
        _SET: _set,
        _DICT: _dict,
        _COUNTER: _counter,
        _ARRAY: _array,
        _OBJECT: _object,
    }

    def _hashables(self, items: list[Any], depth: int) -> list[Any]:
        """Set members or map keys (an unhashable one makes the insertion raise TypeError,
        which :func:`decode_graph` reports)."""
        return self.values(items, depth)

    @staticmethod
    def _int(args: list[Any], n: int) -> list[int]:
        if len(args) != n or not all(type(x) is int for x in args):
            raise AuditStateError(f"a snapshot number node is malformed: {args!r:.200}")
        return args


def decode_graph(data: bytes) -> Any:
    """The object graph :func:`encode_graph` wrote (:class:`AuditStateError` for anything
    malformed or not allowed)."""
    try:
        top = msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise AuditStateError(f"the replay snapshot does not decode: {exc}") from None
    if type(top) is not list or len(top) != 2:
        raise AuditStateError("the replay snapshot is not a class table and a graph")
    decoder = _Decoder(top[0])
    try:
        return decoder.decode(top[1])
    except AuditStateError:
        raise
    except (ValueError, TypeError, OverflowError, ZeroDivisionError, AttributeError) as exc:
        raise AuditStateError(
            f"the replay snapshot holds a bad value: {type(exc).__name__}: {exc}"
        ) from None
