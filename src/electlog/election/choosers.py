"""Where an election builder's choices come from: the :class:`Chooser` interface and two of
its implementations (the third, a hypothesis draw, is
``electlog.testing.strategies.DrawChooser``: the election layer never imports hypothesis).

:class:`~electlog.election.build.PhaseBuilder` walks the phases of an election; every choice a
phase makes (who, how many, which, in what order, when) is asked of a chooser:

- :class:`FixedChooser`: every choice of the story fixed (the first option, the lowest number,
  never a chance); only the secrecy draws (the order ballots are recorded in, their serials)
  come from a generator seeded by the public seed. What :class:`~electlog.election.Scenario`
  uses.
- :class:`RandomChooser`: a seeded :class:`random.Random`, each call consuming exactly the draws
  of the :class:`random.Random` method it names (so a fixed seed gives the same log byte for
  byte). What the simulator uses.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from electlog.errors import UsageError

__all__ = ["Chooser", "FixedChooser", "RandomChooser"]

T = TypeVar("T")


class Chooser(Protocol):
    """Where an election builder's choices come from (who, how many, which, in what order)."""

    def integer(self, low: int, high: int) -> int:
        """An int in ``[low, high]`` (both included)."""

    def chance(self, p: float) -> bool:
        """True with probability ``p`` (a hypothesis draw: either, whatever ``p``)."""

    def boolean(self) -> bool:
        """True or False, evenly."""

    def choice(self, options: Sequence[T]) -> T:
        """One of ``options`` (not empty)."""

    def sample(self, options: Sequence[T], k: int) -> list[T]:
        """``k`` distinct positions of ``options``, in the order chosen."""

    def shuffle(self, items: list[Any]) -> None:
        """Reorder ``items`` in place."""

    def uniform(self, low: float, high: float) -> float:
        """A number between ``low`` and ``high``."""

    def serial(self) -> bytes:
        """A 16-byte ballot serial."""

    def times(self, n: int, start: int, end: int) -> list[int]:
        """``n`` sorted times (µs) in ``[start, end)``."""


class RandomChooser:
    """Choices from a seeded :class:`random.Random` (``rng``): each method consumes exactly
    the draws of the :class:`random.Random` call it names, so a builder that replaces those
    calls with this chooser keeps its output byte for byte."""

    __slots__ = ("rng",)

    def __init__(self, rng: random.Random) -> None:
        if not isinstance(rng, random.Random):
            raise UsageError("RandomChooser needs a random.Random")
        self.rng = rng

    def integer(self, low: int, high: int) -> int:
        """``rng.randint(low, high)``."""
        return self.rng.randint(low, high)

    def chance(self, p: float) -> bool:
        """``rng.random() < p``."""
        return self.rng.random() < p

    def boolean(self) -> bool:
        """``rng.random() < 0.5``."""
        return self.rng.random() < 0.5

    def choice(self, options: Sequence[T]) -> T:
        """``rng.choice(options)``."""
        return self.rng.choice(options)

    def sample(self, options: Sequence[T], k: int) -> list[T]:
        """``rng.sample(options, k)``."""
        return self.rng.sample(options, k)

    def shuffle(self, items: list[Any]) -> None:
        """``rng.shuffle(items)``."""
        self.rng.shuffle(items)

    def uniform(self, low: float, high: float) -> float:
        """``rng.uniform(low, high)``."""
        return self.rng.uniform(low, high)

    def serial(self) -> bytes:
        """``rng.randbytes(16)``."""
        return self.rng.randbytes(16)

    def times(self, n: int, start: int, end: int) -> list[int]:
        """``n`` times ``rng.randrange(start, end)``, sorted."""
        return sorted(self.rng.randrange(start, end) for _ in range(n))


class FixedChooser:
    """Every choice of the story fixed: the lowest number, no chance ever taken, the first
    option(s), evenly spread times. Only the secrecy draws, the order ballots are recorded in
    (:meth:`shuffle`) and their serials (:meth:`serial`), come from ``random.Random(seed)``:
    reproducible from the public seed, as a fixture must be."""

    __slots__ = ("rng",)

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)

    def integer(self, low: int, high: int) -> int:
        """``low``."""
        if high < low:
            raise UsageError(f"empty range [{low}, {high}]")
        return low

    def chance(self, p: float) -> bool:
        """False."""
        return False

    def boolean(self) -> bool:
        """False."""
        return False

    def choice(self, options: Sequence[T]) -> T:
        """The first option."""
        if not options:
            raise UsageError("nothing to choose from")
        return options[0]

    def sample(self, options: Sequence[T], k: int) -> list[T]:
        """The first ``k`` options."""
        if not 0 <= k <= len(options):
            raise UsageError(f"cannot take {k} of {len(options)} options")
        return list(options[:k])

    def shuffle(self, items: list[Any]) -> None:
        """Shuffled by the seeded generator (the recording order of secret ballots)."""
        self.rng.shuffle(items)

    def uniform(self, low: float, high: float) -> float:
        """``low``."""
        return low

    def serial(self) -> bytes:
        """16 bytes of the seeded generator."""
        return self.rng.randbytes(16)

    def times(self, n: int, start: int, end: int) -> list[int]:
        """``n`` times evenly spaced from ``start`` (whole steps of the span)."""
        if n and end <= start:
            raise UsageError(f"empty time span [{start}, {end})")
        step = (end - start) // max(n, 1)
        return [start + i * step for i in range(n)]
