"""The ``electlog`` command.

Subcommands live in submodules, each with ``register(subparsers)`` adding its parsers and setting
``func`` (``(args) -> int`` exit code). Exit codes: 0 success / verified clean, 1 findings,
2 could not run (usage, unreadable input, bad trust file).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import cast

from .. import __version__
from ..errors import ElectlogError

__all__ = ["EXIT_COULD_NOT_RUN", "EXIT_FINDINGS", "EXIT_OK", "main"]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_COULD_NOT_RUN = 2

# submodules that contribute subcommands, in help order
_COMMAND_MODULES = (
    "demo",
    "operator",
    "verify",
    "export_results",
    "rla",
    "eligibility",
    "monitor",
    "witness",
    "serve",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_COULD_NOT_RUN, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (all subcommands)."""
    parser = _Parser(
        prog="electlog",
        description="Auditable elections: signed, Merkle-committed event logs and their audit.",
    )
    parser.add_argument(
        "--version", action="version", version=f"electlog {__version__}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``electlog`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = cast(Callable[[argparse.Namespace], int], args.func)
    try:
        return func(args)
    except ElectlogError as exc:
        print(f"electlog {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
