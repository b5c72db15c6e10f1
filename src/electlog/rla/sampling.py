"""Public-seed consistent sampling (Rivest's consistent sampler, SHA-256 decimal tickets).

Every object (a ballot ``"<box>#<position>"``, a registration ...) gets a pseudo-random *ticket
number* in (0, 1) computed from a public seed and the object's id alone; the sample is the
objects in increasing ticket order. Anyone holding the seed and the list of ids recomputes the
same sample, a subset of the ids gives the same relative order (consistency), and sampling with
replacement gives a drawn object a new, larger ticket (its next *generation*).

The algorithm is R. L. Rivest's ``consistent_sampler`` (2018-2019), byte for byte, so samples
agree with the published reference values and with Arlo's draws:

* ``sha256_uniform(x)``: the SHA-256 of ``x`` (UTF-8) as a decimal integer padded to 64 digits,
  digits reversed (the low-order, unbiased digits first), prefixed by ``"0."``;
* generation 1: ``first_fraction(id, seed) = sha256_uniform(sha256_hex(seed) + id)``;
* generation g + 1: ``next_fraction(x)`` keeps the leading 9s of ``x`` and replaces the rest by
  ``sha256_uniform(x + ":" + i)`` for i = 1, 2, ... until the result exceeds ``x``;
* tickets are compared as decimal strings (ties, which need a SHA-256 collision, fall back to
  the id and generation);
* a ticket is shown trimmed to ``digits`` significant digits after its leading 9s (truncated,
  not rounded).

Ids are strings here (``ballot_id(box, position)``); Rivest's code hashes ``str(id)``, so a tuple
id of Arlo such as ``("pct 2", 3)`` is the string ``"('pct 2', 3)"``.

This module depends on the standard library and :mod:`electlog.errors` only, so every layer
(the election layer's eligibility sample, the risk-limiting audit) can import it.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections.abc import Iterable, Iterator
from typing import Final

import attrs

from electlog.errors import UsageError

__all__ = [
    "DEFAULT_DIGITS",
    "Ticket",
    "ballot_id",
    "first_fraction",
    "next_fraction",
    "parse_ballot_id",
    "sample",
    "sampler",
    "sha256_hex",
    "sha256_uniform",
    "trim",
]

DEFAULT_DIGITS: Final = 9
"""Significant digits after the leading 9s shown by :func:`sampler` (Rivest's default; Arlo
shows 18)."""


@attrs.frozen(kw_only=True, order=False)
class Ticket:
    """One draw: the ``ticket_number`` (a decimal string ``"0.ddd"``, full precision inside the
    sampler, trimmed in what :func:`sampler` yields), the object ``id`` and its ``generation``
    (1 for the first draw of an object, 2 for its second draw with replacement ...)."""

    ticket_number: str
    id: str
    generation: int

    def as_tuple(self) -> tuple[str, str, int]:
        """``(ticket_number, id, generation)``, the reference implementation's tuple output."""
        return (self.ticket_number, self.id, self.generation)


def sha256_hex(text: str) -> str:
    """The 64-digit lower-case hex SHA-256 of ``text`` (UTF-8)."""
    try:
        raw = _check_str("text", text).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UsageError(f"sampler: text is not valid Unicode (a lone surrogate?): {exc}") from exc
    return hashlib.sha256(raw).hexdigest()


def sha256_uniform(text: str) -> str:
    """SHA-256 of ``text`` as a decimal fraction ``"0.ddd..."``: the hash as a decimal integer
    padded to 64 digits, digits reversed (so the first digits are the unbiased low-order ones)."""
    digits = f"{int(sha256_hex(text), 16):064d}"
    return "0." + digits[::-1]


def _check_str(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise UsageError(f"sampler: {name} must be a str, got {type(value).__name__}")
    return value


def first_fraction(id: str, seed: str, seed_hash: str | None = None) -> str:
    """The generation-1 ticket number of ``id`` under ``seed`` (``seed_hash``, the
    :func:`sha256_hex` of the seed, may be passed to save recomputing it)."""
    _check_str("id", id)
    if seed_hash is None:
        seed_hash = sha256_hex(_check_str("seed", seed))
    return sha256_uniform(seed_hash + id)


def _first_non_nine(x: str) -> int:
    x0 = x + "0"
    for i in range(2, len(x0)):
        if x0[i] < "9":
            return i
    raise UsageError(f"ticket number {x!r} is not of the form '0.ddd'")  # pragma: no cover


def _check_fraction(x: object) -> str:
    if not isinstance(x, str) or not x.startswith("0.") or not x[2:].isdigit() or not x.isascii():
        raise UsageError(f"a ticket number must be a decimal string '0.ddd', got {x!r}")
    return x


def next_fraction(x: str) -> str:
    """The next ticket number after ``x``: pseudo-random in (``x``, 1), a function of ``x``."""
    _check_fraction(x)
    x0 = x + "0"  # in case the digits of x are all 9s
    keep = _first_non_nine(x)
    i = 0
    y = "0."
    while y <= x0:
        i += 1
        y = x0[:keep] + sha256_uniform(f"{x}:{i}")[2:]
    return y


def trim(x: str, digits: int = DEFAULT_DIGITS) -> str:
    """``x`` truncated to ``digits`` significant digits after its leading 9s."""
    _check_fraction(x)
    return x[: _first_non_nine(x) + digits]


def _check_count(name: str, value: object, *, allow_inf: bool = False) -> int | float:
    if allow_inf and value == math.inf:
        return math.inf
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise UsageError(f"sampler: {name} must be an int >= 0, got {value!r}")
    return value


def sampler(
    ids: Iterable[str],
    seed: str,
    *,
    with_replacement: bool = False,
    drop: int = 0,
    take: int | float = math.inf,
    digits: int = DEFAULT_DIGITS,
) -> Iterator[Ticket]:
    """The sample of ``ids`` under ``seed``, in draw order: skip the first ``drop`` draws, then
    yield at most ``take`` :class:`Ticket` (ticket numbers trimmed to ``digits``).

    Without replacement the sample ends after every id was drawn once; with replacement it is
    endless (give ``take``). ``drop=k, take=n`` continues a sample of ``k`` draws with the next
    ``n`` (Arlo's next round). Raises :class:`~electlog.errors.UsageError` for a repeated id, a
    non-str id or seed, or a bad count.
    """
    _check_str("seed", seed)
    if not isinstance(with_replacement, bool):
        raise UsageError("sampler: with_replacement must be a bool")
    drop_n = _check_count("drop", drop)
    take_n = _check_count("take", take, allow_inf=True)
    if not isinstance(digits, int) or isinstance(digits, bool) or digits < 1:
        raise UsageError(f"sampler: digits must be an int >= 1, got {digits!r}")
    try:
        id_list = list(ids)
    except TypeError as exc:
        raise UsageError(f"sampler: ids must be an iterable of str ({exc})") from exc
    seen: set[str] = set()
    for i in id_list:
        _check_str("every id", i)
        if i in seen:
            raise UsageError(f"sampler: id {i!r} appears twice")
        seen.add(i)
    return _draw(id_list, seed, with_replacement, drop_n, take_n, digits)


def _draw(
    ids: list[str],
    seed: str,
    with_replacement: bool,
    drop: int | float,
    take: int | float,
    digits: int,
) -> Iterator[Ticket]:
    seed_hash = sha256_hex(seed)
    heap: list[tuple[str, str, int]] = [(first_fraction(i, seed, seed_hash), i, 1) for i in ids]
    heapq.heapify(heap)
    count = 0
    while heap and count < drop + take:
        number, id_, generation = heapq.heappop(heap)
        if with_replacement:
            heapq.heappush(heap, (next_fraction(number), id_, generation + 1))
        count += 1
        if count > drop:
            yield Ticket(ticket_number=trim(number, digits), id=id_, generation=generation)


def sample(
    ids: Iterable[str],
    seed: str,
    size: int,
    *,
    with_replacement: bool = False,
    drop: int = 0,
    digits: int = DEFAULT_DIGITS,
) -> list[Ticket]:
    """The first ``size`` draws after ``drop`` as a list (:func:`sampler` with ``take=size``)."""
    _check_count("size", size)
    return list(
        sampler(ids, seed, with_replacement=with_replacement, drop=drop, take=size, digits=digits)
    )


def ballot_id(box: str, position: int) -> str:
    """The sampling id of the ``position``-th ballot (1-based recording order) of ``box``:
    ``"<box>#<position>"``."""
    _check_str("box", box)
    if not isinstance(position, int) or isinstance(position, bool) or position < 1:
        raise UsageError(f"a ballot position is an int >= 1, got {position!r}")
    return f"{box}#{position}"


def parse_ballot_id(text: str) -> tuple[str, int]:
    """``(box, position)`` of a :func:`ballot_id` string; the box may itself contain ``#``."""
    _check_str("ballot id", text)
    box, sep, pos = text.rpartition("#")
    if not sep or not box or not pos.isdigit() or not pos.isascii() or pos.startswith("0"):
        raise UsageError(f"{text!r} is not a ballot id '<box>#<position>'")
    return box, int(pos)
