"""``electlog serve``: the log service (tlog-tiles read API, signed-entry submissions, publishing
through witnesses)."""

from __future__ import annotations

import argparse
import logging

from ..checkpoint import WitnessVerifier
from ..errors import ElectlogError, UsageError
from ..note import NoteSigner
from ..store import open_store
from .operator import _read_text

__all__ = ["register"]


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number of seconds")
    return value


def _run(args: argparse.Namespace) -> int:
    try:
        from ..net import LogService, WitnessClient, serve_log
    except ModuleNotFoundError as exc:
        raise UsageError(str(exc)) from None

    log_key = NoteSigner.from_skey(_read_text(args.log_key, "log key file"))
    witnesses: list[tuple[str, WitnessVerifier]] = []
    for url, vkey in args.witness:
        try:
            verifier = WitnessVerifier.from_vkey(vkey)
        except ElectlogError as exc:
            raise UsageError(f"--witness {url}: bad verifier key: {exc}") from None
        witnesses.append((url, verifier))
    if not 1 <= args.quorum <= len(witnesses):
        raise UsageError(
            f"--quorum {args.quorum} must be between 1 and the {len(witnesses)} witnesses given"
        )
    store = open_store(args.store, create=False)
    level = logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    clients = [WitnessClient(url, v, timeout=args.witness_timeout) for url, v in witnesses]
    try:
        service = LogService(
            store,
            log_key,
            clients,
            args.quorum,
            checkpoint_every=args.checkpoint_every,
            checkpoint_interval=args.checkpoint_interval,
            max_entries=args.max_entries,
            retry_max=args.retry_max,
        )
        kind = "election log" if service.is_election else "log"
        print(
            f"electlog serve: {kind} {service.origin}, {len(service.log)} entries, "
            f"published size {service.published_size}",
            flush=True,
        )
        serve_log(
            service,
            args.listen,
            ready_file=args.ready_file,
            max_request_bytes=args.max_request_bytes,
        )
    finally:
        for client in clients:
            client.close()
        store.close()
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="serve a log: tlog-tiles reads, signed-entry submissions, witnessed checkpoints",
        description=(
            "Serve the log in STORE over HTTP: C2SP tlog-tiles (GET /checkpoint, /tile/...) up "
            "to the latest checkpoint cosigned by --quorum of the --witness services, POST "
            "/entries for signed entries (admitted all or nothing through the log's checks and, "
            "for an election log, the election's rules), and GET /openapi.json. Publishes a "
            "checkpoint every --checkpoint-every new entries or --checkpoint-interval seconds. "
            "Stops on SIGINT or SIGTERM after the requests in progress. Needs the server "
            "extra: pip install 'electlog[server]'."
        ),
    )
    p.add_argument("store", metavar="STORE", help="the log's store: a SQLite file or a DSN")
    p.add_argument(
        "--listen",
        required=True,
        help="HOST:PORT to listen on; port 0 picks a free port (see --ready-file)",
    )
    p.add_argument(
        "--log-key",
        required=True,
        help="the log's checkpoint signer key file (electlog keygen log)",
    )
    p.add_argument(
        "--witness",
        nargs=2,
        action="append",
        required=True,
        metavar=("URL", "VKEY"),
        help="a witness: its URL (add-checkpoint prefix) and verifier key (repeatable)",
    )
    p.add_argument(
        "--quorum",
        type=_positive_int,
        required=True,
        help="how many witnesses must cosign a checkpoint for it to be published",
    )
    p.add_argument(
        "--checkpoint-every",
        type=_positive_int,
        default=1000,
        help="publish once this many entries are new (default 1000)",
    )
    p.add_argument(
        "--checkpoint-interval",
        type=_positive_seconds,
        default=10.0,
        help="publish this many seconds after the last attempt if the log grew (default 10)",
    )
    p.add_argument(
        "--retry-max",
        type=_positive_seconds,
        default=60.0,
        help="longest wait before retrying a failed publication or witness (default 60 s; the "
        "wait starts at 1 s and doubles)",
    )
    p.add_argument(
        "--witness-timeout",
        type=_positive_seconds,
        default=10.0,
        help="seconds to wait for a witness's answer (default 10)",
    )
    p.add_argument(
        "--ready-file",
        help="once listening, write the server's URL (with the actual port) to this file",
    )
    p.add_argument(
        "--max-request-bytes",
        type=_positive_int,
        default=8 << 20,
        help="larger submissions get 413 (default 8388608)",
    )
    p.add_argument(
        "--max-entries",
        type=_positive_int,
        default=1000,
        help="submissions with more entries get 413 (default 1000)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log every publication")
    p.set_defaults(func=_run)
