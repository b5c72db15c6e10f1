"""``electlog witness``: run a C2SP tlog-witness for one or more logs."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from pathlib import Path

from ..checkpoint import WitnessSigner
from ..errors import UsageError
from ..note import NoteVerifier
from .operator import _read_text

__all__ = ["register"]


def _read_key(path: str) -> WitnessSigner:
    return WitnessSigner.from_skey(_read_text(path, "witness key"))


def _file_clock(path: str) -> Callable[[], int]:
    """A clock read from a file holding seconds since the epoch (simulations only)."""

    def now() -> int:
        try:
            text = Path(path).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--clock-file {path}: cannot read it ({exc})") from None
        if not text.isdigit() or len(text) > 19:
            raise UsageError(f"--clock-file {path}: not a number of seconds")
        return int(text)

    now()  # fail at start-up, not on the first request
    return now


def _run(args: argparse.Namespace) -> int:
    try:
        from ..net import Witness, serve_witness
    except ModuleNotFoundError as exc:
        raise UsageError(str(exc)) from None

    signer = _read_key(args.key)
    logs: dict[str, list[NoteVerifier]] = {}
    for origin, vkey in args.log:
        logs.setdefault(origin, []).append(NoteVerifier.from_vkey(vkey))
    level = logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    kwargs = {} if args.clock_file is None else {"clock": _file_clock(args.clock_file)}
    with Witness(signer, args.state, logs, **kwargs) as witness:
        print(f"electlog witness: {witness.verifier.vkey}", flush=True)
        serve_witness(
            witness,
            args.listen,
            ready_file=args.ready_file,
            max_request_bytes=args.max_request_bytes,
            rate_limit=args.rate_limit,
            burst=args.burst,
        )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "witness",
        help="run a C2SP tlog-witness (POST /add-checkpoint) for one or more logs",
        description=(
            "Serve a C2SP tlog-witness v1.0.0: POST /add-checkpoint cosigns a log's checkpoint "
            "only after a valid consistency proof from the latest checkpoint it cosigned for "
            "that log, and commits the new state to --state (SQLite, fsynced) before it "
            "answers. Needs the server extra: pip install 'electlog[server]'."
        ),
    )
    p.add_argument("--key", required=True, help="witness signer key file (electlog keygen witness)")
    p.add_argument("--state", required=True, help="SQLite state file (created if missing)")
    p.add_argument(
        "--listen",
        required=True,
        help="HOST:PORT to listen on; port 0 picks a free port (see --ready-file)",
    )
    p.add_argument(
        "--log",
        nargs=2,
        action="append",
        required=True,
        metavar=("ORIGIN", "VKEY"),
        help="a log to witness: its origin and its note verifier key (repeatable)",
    )
    p.add_argument(
        "--ready-file",
        help="once listening, write the server's URL (with the actual port) to this file",
    )
    p.add_argument(
        "--max-request-bytes",
        type=int,
        default=64 * 1024,
        help="larger request bodies get 413 (default 65536)",
    )
    p.add_argument(
        "--rate-limit",
        type=float,
        default=20.0,
        help="requests per second per client address, 0 for none (default 20; 429 beyond)",
    )
    p.add_argument("--burst", type=int, default=40, help="burst size of --rate-limit (default 40)")
    p.add_argument(
        "--clock-file",
        help=(
            "FOR SIMULATIONS ONLY: read cosignature timestamps (seconds since the epoch) from "
            "this file instead of the system clock"
        ),
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log every decision")
    p.set_defaults(func=_run)
