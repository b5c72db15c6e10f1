"""``electlog eligibility``: the audit board's eligibility sample on a store (docs/election.md,
"The eligibility sample").

``draw`` pins the store's latest checkpoint (it must hold the roll: no registration or removal
after it), records the sample of k registrations under the public seed and prints the list to
check against the paper records; ``record`` signs the result (the failed voters, the members who
agree); ``status`` shows the report's section with the bound. The writing commands sign with
the audit board's ``--key`` (a key authorised with role ``audit_board``).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

from ..election.state import ElectionState
from ..election.state.eligibility import sample_checked, sample_drawn
from ..errors import StorageError, UsageError
from ..rla.eligibility import eligibility_section, render_text
from .rla import _election, _key, _time, board_steps, show_section

__all__ = ["DEFAULT_SIZE", "register"]

DEFAULT_SIZE = 59
"""Registrations checked by default: with none failed, the failure rate is below 5% at 95%."""

LIST_COLUMNS = ("draw", "voter", "community", "group", "registered_at")


def _list_csv(st: ElectionState) -> str:
    el = st.eligibility
    drawn = el.drawn
    assert drawn is not None
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(LIST_COLUMNS)
    for n, voter in enumerate(drawn.voters, start=1):
        reg = st.voters.get(voter)
        w.writerow(
            [
                n,
                voter,
                "" if reg is None else reg.community,
                "" if reg is None else reg.group,
                el.sample_entries.get(voter, ""),
            ]
        )
    return buf.getvalue()


def _draw(args: argparse.Namespace) -> int:
    if args.size < 1:
        raise UsageError(f"--size must be at least 1, got {args.size}")
    with _election(args.store) as e:
        latest = e.log.latest_checkpoint()
        if latest is None:
            raise UsageError("the store has no checkpoint: publish a witnessed checkpoint first")
        size = latest.size
        event = sample_drawn(e.state, args.seed, args.size, size, e.log.root(size))
        e.submit(e.author(_key(args)), event, time=_time(args))
        listing = _list_csv(e.state)
    if args.csv:
        try:
            Path(args.csv).write_text(listing, encoding="utf-8", newline="")
        except OSError as exc:
            raise StorageError(f"cannot write {args.csv}: {exc.strerror}") from exc
    sys.stdout.write(
        f"eligibility sample: {len(event.voters)} of {event.roll_size} registrations under seed "
        f"{event.seed}, pinned checkpoint size {size}\n"
    )
    sys.stdout.write(listing.replace("\r\n", "\n"))
    return 0


def _record(args: argparse.Namespace) -> int:
    with _election(args.store) as e:
        event = sample_checked(e.state, args.failed or [], args.member or [])
        e.submit(e.author(_key(args)), event, time=_time(args))
        section = eligibility_section(e.state)
    assert section is not None
    print(
        f"{section['checked']} checked, {len(section['failures'])} failed: failure rate "
        f"{section['statement']}"
    )
    return 0


def _status(args: argparse.Namespace) -> int:
    with _election(args.store) as e:
        section = eligibility_section(e.state)
    return show_section(section, args.json, render_text, "no eligibility sample drawn")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``electlog eligibility`` and its subcommands."""
    p = sub.add_parser(
        "eligibility",
        help="the audit board's eligibility sample on a store",
        description="Check a public-seed sample of registrations against the paper records "
        '(docs/election.md, "The eligibility sample"). Each writing command signs one event '
        "with the audit board's key (a key authorised with role audit_board).",
    )
    step = board_steps(p.add_subparsers(dest="eligibility_command", metavar="STEP", required=True))

    q = step(
        "draw",
        "draw the sample under the public seed, pinning the latest checkpoint, and print it",
        _draw,
    )
    q.add_argument("seed", help="the seed of the public ceremony (e.g. 20 ten-sided dice)")
    q.add_argument(
        "--size",
        type=int,
        default=DEFAULT_SIZE,
        help=f"registrations to check (default {DEFAULT_SIZE}: < 5%% at 95%% with none failed)",
    )
    q.add_argument("--csv", help="write the list to check as CSV here")
    q = step("record", "record the result of the check against the paper records", _record)
    q.add_argument(
        "--failed", action="append", help="a sampled voter whose registration failed (repeat)"
    )
    q.add_argument(
        "--member", action="append", help="an audit board member who agrees (at least two)"
    )
    q = step("status", "show the sample, its result and the bound", _status, writes=False)
    q.add_argument("--json", action="store_true", help="the report's JSON section")
