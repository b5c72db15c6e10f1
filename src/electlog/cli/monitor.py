"""``electlog monitor URL --trust FILE --state DIR [--follow]``: watch a published log.

Each round fetches the served checkpoint, checks the log signature and the witness quorum with
the trust file and consistency with the checkpoint seen last, mirrors only the new entries into
``DIR/mirror.sqlite`` and audits the mirror (docs/publishing.md, "Monitoring a published log").
Exit status: 0 verified (the audit clean or clean so far), 1 an inconsistency (fork evidence
written to ``DIR/evidence/``) or audit findings, 2 could not run (usage, an unreadable trust file,
or, without ``--follow``, a round that could not fetch the log).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from types import FrameType

from ..errors import UsageError
from . import EXIT_COULD_NOT_RUN, EXIT_FINDINGS, EXIT_OK

__all__ = ["register"]


def _emit(status: object, fmt: str) -> None:
    from ..net import MonitorStatus

    assert isinstance(status, MonitorStatus)
    if fmt == "json":
        sys.stdout.write(json.dumps(status.to_dict(), ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(status.to_text())
    sys.stdout.flush()


def _run(args: argparse.Namespace) -> int:
    from ..net import Monitor, MonitorAlarm

    if args.interval <= 0:
        raise UsageError(f"--interval must be positive, got {args.interval}")
    if args.max_rounds is not None and args.max_rounds < 1:
        raise UsageError(f"--max-rounds must be at least 1, got {args.max_rounds}")
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    if args.follow:
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    rounds = 0
    failed = False
    with Monitor(
        args.url,
        args.trust,
        args.state,
        election=not args.no_election,
        jobs=args.jobs if args.jobs is not None else (os.cpu_count() or 1),
        timeout=args.timeout,
    ) as monitor:
        while True:
            try:
                status = monitor.round(stop=stopping.is_set)
            except MonitorAlarm as exc:
                print(f"electlog monitor: {exc}", file=sys.stderr)
                return EXIT_FINDINGS
            rounds += 1
            _emit(status, args.format)
            if status.error is not None:
                print(f"electlog monitor: round failed: {status.error}", file=sys.stderr)
            failed = not status.ok
            if not args.follow:
                if status.error is not None:
                    return EXIT_COULD_NOT_RUN
                break
            if stopping.is_set():
                break
            if args.max_rounds is not None and rounds >= args.max_rounds:
                break
            if stopping.wait(args.interval):
                break
    return EXIT_FINDINGS if failed else EXIT_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``monitor``."""
    p = sub.add_parser(
        "monitor",
        help="follow a published log: check each checkpoint, mirror and audit new entries",
        description="Watch a log served as C2SP tlog-tiles. Exit status: 0 verified, 1 fork "
        "evidence written or audit findings, 2 could not run.",
    )
    p.add_argument("url", help="the log's tlog-tiles URL (http:// or https://)")
    p.add_argument("--trust", required=True, help="the auditor's trust file (JSON)")
    p.add_argument("--state", required=True, help="state directory (created if missing)")
    p.add_argument("--follow", action="store_true", help="keep polling until SIGTERM/SIGINT")
    p.add_argument(
        "--interval", type=float, default=60.0, help="seconds between rounds (default 60)"
    )
    p.add_argument("--max-rounds", type=int, help="with --follow: stop after N rounds")
    p.add_argument(
        "--timeout", type=float, default=10.0, help="HTTP connect/read timeout in seconds"
    )
    p.add_argument("--jobs", type=int, default=None, help="audit processes (default: every core)")
    p.add_argument(
        "--no-election",
        action="store_true",
        help="a generic (non-election) log: skip the election replay in the audit",
    )
    p.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="each round's report as text or as one JSON object a line (default text)",
    )
    p.set_defaults(func=_run)
