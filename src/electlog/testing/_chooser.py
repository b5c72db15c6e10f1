"""The hypothesis chooser of the election builder (:class:`electlog.election.choosers.Chooser`).

Kept apart from :mod:`electlog.election.choosers` because the election layer never imports
hypothesis (an optional extra).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from electlog.errors import UsageError

__all__ = ["DrawChooser"]

T = TypeVar("T")


class DrawChooser:
    """Every choice drawn with ``draw`` (a hypothesis draw function, e.g. ``data.draw``), so
    that a failing election shrinks: numbers towards the low end, booleans towards False,
    choices towards the first option, samples and shuffles towards the given order."""

    __slots__ = ("draw",)

    def __init__(self, draw: Callable[[SearchStrategy[Any]], Any]) -> None:
        if not callable(draw):
            raise UsageError("DrawChooser needs a hypothesis draw function")
        self.draw = draw

    def integer(self, low: int, high: int) -> int:
        """``draw(st.integers(low, high))``."""
        value: int = self.draw(st.integers(low, high))
        return value

    def chance(self, p: float) -> bool:
        """``draw(st.booleans())``: either, whatever ``p`` (hypothesis explores both)."""
        return self.boolean()

    def boolean(self) -> bool:
        """``draw(st.booleans())``."""
        value: bool = self.draw(st.booleans())
        return value

    def choice(self, options: Sequence[T]) -> T:
        """``draw(st.sampled_from(options))``."""
        if not options:
            raise UsageError("nothing to choose from")
        value: T = self.draw(st.sampled_from(options))
        return value

    def sample(self, options: Sequence[T], k: int) -> list[T]:
        """``k`` distinct positions of ``options`` (shrinking to the first ``k``)."""
        if not 0 <= k <= len(options):
            raise UsageError(f"cannot take {k} of {len(options)} options")
        picks: list[int] = self.draw(
            st.lists(st.integers(0, len(options) - 1), min_size=k, max_size=k, unique=True)
        )
        return [options[i] for i in picks]

    def shuffle(self, items: list[Any]) -> None:
        """``items`` reordered by ``draw(st.permutations(items))``."""
        items[:] = self.draw(st.permutations(items))

    def uniform(self, low: float, high: float) -> float:
        """``draw(st.floats(low, high))``."""
        value: float = self.draw(st.floats(low, high, allow_nan=False))
        return value

    def serial(self) -> bytes:
        """16 drawn bytes."""
        value: bytes = self.draw(st.binary(min_size=16, max_size=16))
        return value

    def times(self, n: int, start: int, end: int) -> list[int]:
        """``n`` drawn times in ``[start, end)``, sorted."""
        if n and end <= start:
            raise UsageError(f"empty time span [{start}, {end})")
        drawn: list[int] = self.draw(st.lists(st.integers(start, end - 1), min_size=n, max_size=n))
        return sorted(drawn)
