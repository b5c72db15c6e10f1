"""The one JSON reader of electlog: strict, so that a file means one thing to every reader.

Python's :func:`json.loads` keeps the *last* of two equal keys of an object and accepts the
non-standard constants ``NaN``, ``Infinity`` and ``-Infinity``. A trust file with a second
``"quorum": 0`` after the real value would then weaken the audit while a reviewer reading the
file (or another JSON parser, which may keep the first) sees the strong value. :func:`loads`
refuses both: a repeated key is a :class:`~electlog.errors.DuplicateKeyError` naming the key,
a non-standard constant an :class:`~electlog.errors.UnexpectedTypeError`. Both are
``ValueError`` subclasses, so callers map them to their own error as they map malformed JSON.
Every JSON input electlog reads (trust files, key set manifests, ``electlog append --body``)
goes through :func:`loads`.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from .errors import DuplicateKeyError, UnexpectedTypeError

__all__ = ["loads"]


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(f"JSON object has the key {key!r} twice")
        out[key] = value
    return out


def _constant(name: str) -> NoReturn:
    raise UnexpectedTypeError(f"JSON has the non-standard constant {name}")


def loads(text: str | bytes) -> Any:
    """Parse JSON text strictly (see the module docstring). Raises ``ValueError`` (a
    ``json.JSONDecodeError``, :class:`~electlog.errors.DuplicateKeyError` or
    :class:`~electlog.errors.UnexpectedTypeError`), ``TypeError`` or ``RecursionError``."""
    return json.loads(text, object_pairs_hook=_object, parse_constant=_constant)
