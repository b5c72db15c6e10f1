"""Progress display for long audits: a rich progress bar on stderr (entries verified, rate,
ETA; with community tasks, a row for the tasks finished before it), or a caller's callback
``(entries_done, entries_total_or_None) -> None``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeAlias

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

__all__ = ["ProgressCallback", "ProgressReporter", "stderr_is_terminal"]

ProgressCallback: TypeAlias = Callable[[int, "int | None"], None]
_ENTRIES_ROW: Final = "verifying"
"""The bar's row of the entries verified."""


def stderr_is_terminal() -> bool:
    """Whether stderr is an interactive terminal (the CLI's default for ``--progress``)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _rich_bar() -> Progress:
    """The rich progress bar (rich is imported only when a bar is shown: it costs memory in
    every verification worker otherwise)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        """Entries (or the row's own unit) per second, from rich's own speed estimate."""

        def render(self, task: Any) -> Text:
            speed = task.speed
            unit = task.fields.get("unit", "entries")
            if not speed:
                return Text(f"… {unit}/s", style="cyan")
            rate = f"{speed:,.0f}" if unit == "entries" else f"{speed:,.1f}"
            return Text(f"{rate} {unit}/s", style="cyan")

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        Rate(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )


class ProgressReporter:
    """Context manager: ``update(done)`` after each chunk. ``progress`` is ``False`` (nothing),
    ``True`` (a rich bar on stderr) or a callback."""

    def __init__(self, progress: bool | ProgressCallback, total: int | None) -> None:
        self._total = total
        self._callback: ProgressCallback | None = None
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._stage: TaskID | None = None
        if callable(progress):
            self._callback = progress
        elif progress:
            self._bar = _rich_bar()

    def __enter__(self) -> ProgressReporter:
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task(_ENTRIES_ROW, total=self._total)
        return self

    def update(self, done: int) -> None:
        """Report ``done`` entries verified so far."""
        if self._callback is not None:
            self._callback(done, self._total)
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=done)

    def stage(self, name: str, done: int, total: int) -> None:
        """Report a stage that runs before the entries are counted (the community tasks:
        ``done`` of ``total`` finished) on a row of its own of the bar. A callback is not
        called: its count is of entries."""
        if self._bar is None:
            return
        if self._stage is None:  # its row above the entries' (which has not moved yet)
            if self._task is not None:
                self._bar.remove_task(self._task)
            self._stage = self._bar.add_task(name, total=total, unit="tasks")
            self._task = self._bar.add_task(_ENTRIES_ROW, total=self._total)
        self._bar.update(self._stage, completed=done, total=total)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
