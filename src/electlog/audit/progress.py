"""Progress display for long audits: a rich progress bar on stderr (entries verified, rate,
ETA), or a caller's callback ``(entries_done, entries_total_or_None) -> None``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

__all__ = ["ProgressCallback", "ProgressReporter", "stderr_is_terminal"]

ProgressCallback: TypeAlias = Callable[[int, "int | None"], None]


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
        """Entries per second, from rich's own speed estimate."""

        def render(self, task: Any) -> Text:
            speed = task.speed
            return Text(f"{speed:,.0f} entries/s" if speed else "… entries/s", style="cyan")

    return Progress(
        TextColumn("verifying"),
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
        if callable(progress):
            self._callback = progress
        elif progress:
            self._bar = _rich_bar()

    def __enter__(self) -> ProgressReporter:
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task("verify", total=self._total)
        return self

    def update(self, done: int) -> None:
        """Report ``done`` entries verified so far."""
        if self._callback is not None:
            self._callback(done, self._total)
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=done)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
