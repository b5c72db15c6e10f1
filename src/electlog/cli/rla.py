"""``electlog rla``: the audit board's risk-limiting audit on a store (docs/rla.md).

``declare``, ``count``, ``seed``, ``draw`` (a retrieval list as CSV and a printable page),
``interpret``, ``close``, ``conclude`` and ``status``. Every command opens the store, replays the
election (the genesis signer is the authority) and, for the writing ones, checks, signs with the
audit board's ``--key`` and appends one event through :mod:`electlog.rla.workflow`.
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .. import _json
from ..election import Election
from ..election.events import AuditBallotInterpreted
from ..errors import EntryError, StorageError, UsageError
from ..keys import SigningKey
from ..log import Log
from ..rla import workflow as W
from ..rla.status import audit_section, render_text

__all__ = ["register"]

RETRIEVAL_COLUMNS = ("box", "position", "units", "ballot", "draws", "audit_round")


@contextmanager
def _election(store_path: str) -> Iterator[Election]:
    from ..store import open_store

    store = open_store(store_path, create=False)
    try:
        log = Log(store)
        if len(log) == 0:
            raise UsageError(f"{store_path} holds no election")
        yield Election.open(log, log.get(0).statement.author)
    finally:
        store.close()


def _round(text: str) -> tuple[str, int]:
    community, sep, number = text.rpartition("/")
    if not sep or not community or not number.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not COMMUNITY/ROUND (e.g. c01/1)")
    return community, int(number)


def _time(args: argparse.Namespace) -> int:
    # the command line is the outer edge: it may read the clock when --time is not given
    return int(args.time) if args.time is not None else time.time_ns() // 1000


def _key(args: argparse.Namespace) -> SigningKey:
    return SigningKey.load(args.key)


def _declare(args: argparse.Namespace) -> int:
    with _election(args.store) as e:
        latest = e.log.latest_checkpoint()
        if latest is None:
            raise UsageError("the store has no checkpoint: publish a witnessed checkpoint first")
        size = latest.size
        W.declare(
            e,
            e.author(_key(args)),
            rounds=args.round or [],
            risk_limit=args.risk_limit,
            test=args.test,
            replacement=not args.without_replacement,
            checkpoint_size=size,
            checkpoint_root=e.log.root(size),
            time=_time(args),
        )
        section = audit_section(e.state)
        assert section is not None
        print(
            f"audit declared: {len(section['rounds'])} round(s), risk limit {args.risk_limit}, "
            f"pinned checkpoint size {size}, manifest {section['manifest_hash']}"
        )
    return 0


def _count(args: argparse.Namespace) -> int:
    community, number = args.round
    with _election(args.store) as e:
        W.count_box(
            e, e.author(_key(args)), community, number, args.box, args.sheets, time=_time(args)
        )
    print(f"{args.box}: {args.sheets} sheet(s) recorded")
    return 0


def _seed(args: argparse.Namespace) -> int:
    with _election(args.store) as e:
        W.draw_seed(e, e.author(_key(args)), args.seed, time=_time(args))
    print(f"seed {args.seed} recorded")
    return 0


def _write(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc.strerror}") from exc


def _retrieval_csv(rows: list[W.RetrievalRow]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(RETRIEVAL_COLUMNS)
    for r in rows:
        d = r.to_dict()
        w.writerow([d[c] for c in RETRIEVAL_COLUMNS])
    return buf.getvalue()


def _retrieval_page(community: str, number: int, rows: list[W.RetrievalRow]) -> str:
    e = html.escape
    body = "".join(
        f"<tr><td>{e(r.box)}</td><td>{r.position}</td><td>{e(' + '.join(r.units))}</td>"
        f"<td>{e(r.ballot)}</td><td>{e(' '.join(str(d) for d in r.draws))}</td>"
        "<td></td><td></td></tr>"
        for r in rows
    )
    audit_round = rows[0].audit_round if rows else 0
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Ballot retrieval: {e(community)} round {number}</title>"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #000;padding:4px 8px}td:nth-child(n+6){min-width:8em}"
        "@media print{button{display:none}}</style></head><body>"
        f"<h1>Ballot retrieval list: {e(community)} round {number}, audit round {audit_round}</h1>"
        "<p>Open each box in the presence of the observers, count the sheets, take the ballot "
        "at each position (counting from the top of the stack in recording order), and record "
        "what two members read on it. A ballot that cannot be found is recorded as not found "
        "(it counts as the worst case).</p>"
        "<table><thead><tr><th>box</th><th>position</th><th>units</th><th>ballot</th>"
        "<th>draws</th><th>found (initials)</th><th>read by (initials)</th></tr></thead>"
        f"<tbody>{body}</tbody></table></body></html>\n"
    )


def _draw(args: argparse.Namespace) -> int:
    community, number = args.round
    with _election(args.store) as e:
        event = W.draw_sample(
            e, e.author(_key(args)), community, number, size=args.size, time=_time(args)
        )
        rows = W.retrieval_list(e.state, community, number)
    if args.csv:
        _write(args.csv, _retrieval_csv(rows))
    if args.page:
        _write(args.page, _retrieval_page(community, number, rows))
    sys.stdout.write(
        f"audit round {event.audit_round} of {community} round {number}: "
        f"{len(event.ballots)} draw(s), {len(rows)} ballot(s) to fetch\n"
    )
    sys.stdout.write(_retrieval_csv(rows).replace("\r\n", "\n"))
    return 0


def _interpret(args: argparse.Namespace) -> int:
    community, number = args.round
    if args.not_found == (args.marks is not None):
        raise UsageError("give --marks JSON or --not-found (one of them)")
    marks: Any = {}
    if args.marks is not None:
        try:
            marks = _json.loads(args.marks)
        except (ValueError, RecursionError) as exc:
            raise UsageError(f"--marks is not JSON: {exc}") from None
    try:
        event = AuditBallotInterpreted.from_body(
            {
                "community": community,
                "round": number,
                "ballot": args.ballot,
                "not_found": args.not_found,
                "marks": marks,
                "members": args.member or [],
            }
        )
    except EntryError as exc:
        raise UsageError(str(exc)) from None
    with _election(args.store) as e:
        W.interpret(
            e,
            e.author(_key(args)),
            community,
            number,
            event.ballot,
            None if event.not_found else event.marks,
            event.members,
            time=_time(args),
        )
    print(f"{args.ballot}: {'not found' if args.not_found else 'interpretation'} recorded")
    return 0


def _close(args: argparse.Namespace) -> int:
    community, number = args.round
    with _election(args.store) as e:
        event = W.close_round(e, e.author(_key(args)), community, number, time=_time(args))
        more = W.next_sample_size(e.state, community, number)
    worst = max((r.p_value for r in event.risks), default="-")
    verdict = "confirmed" if event.confirmed else f"not confirmed; next sample {more} draw(s)"
    print(
        f"audit round {event.audit_round}: {event.sampled} draws, largest p-value {worst}: "
        f"{verdict}"
    )
    return 0


def _conclude(args: argparse.Namespace) -> int:
    community, number = args.round
    outcome = "full_hand_count" if args.full_hand_count else "confirmed"
    with _election(args.store) as e:
        W.conclude(e, e.author(_key(args)), community, number, outcome=outcome, time=_time(args))
    print(f"{community} round {number}: {outcome}")
    return 0


def show_section(
    section: dict[str, Any] | None,
    as_json: bool,
    render: Callable[[dict[str, Any]], list[str]],
    none: str,
) -> int:
    """Print a report section (the RLA's or the eligibility sample's) as JSON or text, or
    ``none`` when the log has none; the ``status`` commands' output."""
    if section is None:
        print(none)
    elif as_json:
        sys.stdout.write(json.dumps(section, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write("\n".join(render(section)) + "\n")
    return 0


def _status(args: argparse.Namespace) -> int:
    with _election(args.store) as e:
        section = audit_section(e.state)
    return show_section(section, args.json, render_text, "no audit declared")


def board_steps(
    steps: argparse._SubParsersAction[argparse.ArgumentParser],
) -> Callable[..., argparse.ArgumentParser]:
    """The audit board's subcommand maker (``electlog rla`` and ``electlog eligibility``):
    ``step(name, help, func, writes=True)`` adds a command on a store that, when it writes,
    signs with ``--key`` at ``--time``."""

    def step(
        name: str, help_text: str, func: Any, *, writes: bool = True
    ) -> argparse.ArgumentParser:
        q = steps.add_parser(name, help=help_text, description=help_text)
        q.add_argument("store", help="the election's store (SQLite file or postgresql:// URL)")
        if writes:
            q.add_argument("--key", required=True, help="the audit board's private key file")
            q.add_argument(
                "--time", type=int, help="claimed time in µs UTC (default: the clock now)"
            )
        q.set_defaults(func=func)
        return q

    return step


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``electlog rla`` and its subcommands."""
    p = sub.add_parser(
        "rla",
        help="the audit board's risk-limiting audit on a store",
        description="Risk-limiting audit of the declared rounds against the paper ballots "
        "(docs/rla.md). Each writing command signs one audit event with the audit board's "
        "key (a key authorised with role audit_board).",
    )
    step = board_steps(p.add_subparsers(dest="rla_command", metavar="STEP", required=True))

    q = step("declare", "declare the audit, pinning the store's latest checkpoint", _declare)
    q.add_argument(
        "--round",
        type=_round,
        action="append",
        help="COMMUNITY/ROUND to audit (repeat; default every declared round)",
    )
    q.add_argument("--risk-limit", default="0.05", help="risk limit α (default 0.05)")
    q.add_argument(
        "--test", choices=("kaplan_markov", "alpha"), default="kaplan_markov", help="risk test"
    )
    q.add_argument(
        "--without-replacement", action="store_true", help="sample without replacement (alpha)"
    )
    q = step("count", "record the paper sheets found in a box", _count)
    q.add_argument("--round", type=_round, required=True, help="COMMUNITY/ROUND")
    q.add_argument("--box", required=True, help="the box")
    q.add_argument("--sheets", type=int, required=True, help="sheets counted in it")
    q = step("seed", "record the public seed of the seed ceremony", _seed)
    q.add_argument("seed", help="the seed (e.g. 20 digits from ten-sided dice)")
    q = step("draw", "draw the next audit round's sample and print the retrieval list", _draw)
    q.add_argument("--round", type=_round, required=True, help="COMMUNITY/ROUND")
    q.add_argument("--size", type=int, help="draws (default: the required number)")
    q.add_argument("--csv", help="write the retrieval list as CSV here")
    q.add_argument("--page", help="write a printable retrieval page (HTML) here")
    q = step("interpret", "record what the audit board reads on a drawn ballot", _interpret)
    q.add_argument("--round", type=_round, required=True, help="COMMUNITY/ROUND")
    q.add_argument("--ballot", required=True, help="BOX#POSITION from the retrieval list")
    q.add_argument(
        "--marks",
        help='the marks as JSON: {"post": {"for": [...], "against": [...], "write_ins": [...]}}',
    )
    q.add_argument("--not-found", action="store_true", help="the ballot is not in the box")
    q.add_argument(
        "--member", action="append", help="an audit board member who read it (at least two)"
    )
    q = step("close", "measure the risk of the audit round", _close)
    q.add_argument("--round", type=_round, required=True, help="COMMUNITY/ROUND")
    q = step("conclude", "end the audit of a round", _conclude)
    q.add_argument("--round", type=_round, required=True, help="COMMUNITY/ROUND")
    q.add_argument("--full-hand-count", action="store_true", help="escalated to a full hand count")
    q = step("status", "show every audited round's status and risk", _status, writes=False)
    q.add_argument("--json", action="store_true", help="the report's JSON section")
