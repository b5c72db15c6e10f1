"""Subcommands for operators of a log: keygen, append, checkpoint, export (with the openings
bundle of the authorised tier)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from .. import _json
from ..checkpoint import WitnessSigner, cosign
from ..errors import StorageError, UsageError
from ..events import Author
from ..keys import SigningKey, write_secret_file
from ..log import Log
from ..note import NoteSigner

__all__ = ["register"]


def _write_secret(path: Path, text: str) -> None:
    write_secret_file(path, (text + "\n").encode("utf-8"))


def _read_text(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise StorageError(f"cannot read {what} {path}: {exc.strerror}") from exc
    except UnicodeDecodeError:
        raise UsageError(f"{what} {path} is not UTF-8 text") from None


def _keygen(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.kind == "author":
        key = SigningKey.generate()
        key.save(out)
        print(key.public.to_text())
    elif args.kind == "log":
        if not args.name:
            raise UsageError("a log key needs --name (the log's origin)")
        signer = NoteSigner.generate(args.name)
        _write_secret(out, signer.skey)
        print(signer.vkey)
    elif args.kind == "auditor":
        from ..audit.openings import generate_identity

        text, recipient = generate_identity()
        write_secret_file(out, text.encode("ascii"))
        print(recipient)
    else:
        if not args.name:
            raise UsageError("a witness key needs --name")
        witness = WitnessSigner.generate(args.name)
        _write_secret(out, witness.skey)
        print(witness.vkey)
    print(f"private key written to {out} (mode 0600)", file=sys.stderr)
    return 0


def _json_to_canonical(value: Any, where: str) -> Any:
    """JSON has no bytes and has floats; map "hex:..." strings to bytes and refuse floats."""
    if isinstance(value, float):
        raise UsageError(f"{where}: floats are not allowed in event bodies")
    if isinstance(value, str) and value.startswith("hex:"):
        try:
            return bytes.fromhex(value[4:])
        except ValueError:
            raise UsageError(f"{where}: invalid hex after 'hex:'") from None
    if isinstance(value, list):
        return [_json_to_canonical(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _json_to_canonical(v, f"{where}.{k}") for k, v in value.items()}
    return value


def _open_log(target: str, origin: str | None) -> Log:
    from ..store import open_store

    return Log(open_store(target, origin=origin))


def _append(args: argparse.Namespace) -> int:
    try:
        body = _json.loads(args.body)
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"--body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise UsageError("--body must be a JSON object")
    body = _json_to_canonical(body, "body")
    key = SigningKey.load(args.key)
    log = _open_log(args.store, args.origin)
    head = log.author_head(key.key_id)
    author = (
        Author(key, log.origin)
        if head is None
        else Author(key, log.origin, seq=head.seq, prev=head.prev)
    )
    # the command line is the outer edge: it may read the clock when --time is not given
    claimed = args.time if args.time is not None else time.time_ns() // 1000
    entry = author.sign(args.type, body, time=claimed, schema=args.schema)
    receipt = log.append(entry)
    print(json.dumps({"index": receipt.index, "leaf_hash": receipt.leaf_hash.hex()}))
    return 0


def _checkpoint(args: argparse.Namespace) -> int:
    log = _open_log(args.store, None)
    signer = NoteSigner.from_skey(_read_text(args.log_key, "log key file"))
    note = log.checkpoint(signer)
    if args.witness_key:
        stamp = args.timestamp if args.timestamp is not None else int(time.time())
        for path in args.witness_key:
            note = cosign(
                note, WitnessSigner.from_skey(_read_text(path, "witness key file")), stamp
            )
        log.add_checkpoint(note)
    sys.stdout.write(note)
    return 0


def _export(args: argparse.Namespace) -> int:
    from ..publish.bundle import export_bundle
    from ..publish.tiles import export_tiles
    from ..store import open_store

    if args.openings is not None and (not args.recipient or args.plaintext is None):
        raise UsageError("--openings needs --plaintext FILE and at least one --recipient")
    if args.openings is None and (args.recipient or args.plaintext is not None):
        raise UsageError("--recipient and --plaintext go with --openings OUT")
    store = open_store(args.store, create=False)
    try:
        if args.bundle:
            export_bundle(store, args.bundle)
            print(f"bundle written to {args.bundle}")
        if args.tiles:
            export_tiles(store, args.tiles)
            print(f"tiles written to {args.tiles}")
        if args.openings is not None:
            _export_openings(store, args)
    finally:
        store.close()
    return 0


def _export_openings(store: Any, args: argparse.Namespace) -> None:
    """``--openings OUT``: the plaintext openings, checked against the store and encrypted to
    every ``--recipient``; written atomically (mode 0600)."""
    from .._files import NotASmallFileError, read_small_file, write_atomic
    from ..audit.openings import MAX_OPENINGS_FILE, seal_openings
    from ..election.openings import OpeningsDocument

    try:
        plaintext = read_small_file(args.plaintext, MAX_OPENINGS_FILE)
    except OSError as exc:
        raise StorageError(f"cannot read --plaintext {args.plaintext}: {exc.strerror}") from exc
    except NotASmallFileError as exc:
        raise UsageError(f"--plaintext {args.plaintext} {exc}") from None
    doc = OpeningsDocument.from_bytes(plaintext)
    sealed = seal_openings(store, doc, args.recipient)
    try:
        write_atomic(args.openings, sealed, mode=0o600)
    except OSError as exc:
        raise StorageError(f"cannot write {args.openings}: {exc.strerror}") from exc
    print(
        f"openings written to {args.openings}: {len(doc.openings)} opening(s) for checkpoint "
        f"size {doc.size}, encrypted to {len(args.recipient)} recipient(s)"
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add keygen, append, checkpoint and export."""
    p = sub.add_parser("keygen", help="generate an author, log (checkpoint) or witness key")
    p.add_argument(
        "kind",
        choices=["author", "log", "witness", "auditor"],
        help="author: an Ed25519 event-signing key (PEM); log: the log's checkpoint note key; "
        "witness: a witness's cosignature/v1 key; auditor: an age identity that openings "
        "bundles are encrypted to (prints its age1... recipient)",
    )
    p.add_argument("--name", help="key name (log: the log's origin; witness: its name)")
    p.add_argument("--out", required=True, help="private key file to create (mode 0600)")
    p.set_defaults(func=_keygen)

    p = sub.add_parser("append", help="sign and append one generic event to a store")
    p.add_argument("store", help="SQLite path or postgresql:// DSN")
    p.add_argument("--origin", help="log id, needed when the store is created")
    p.add_argument("--key", required=True, help="author private key (PEM)")
    p.add_argument("--type", required=True, help="event type, e.g. demo.note")
    p.add_argument("--schema", type=int, default=1, help="the body's schema version (default 1)")
    p.add_argument("--body", required=True, help='JSON object; "hex:.." strings become bytes')
    p.add_argument("--time", type=int, help="claimed time in µs UTC (default: now)")
    p.set_defaults(func=_append)

    p = sub.add_parser("checkpoint", help="sign (and cosign) a checkpoint of a store")
    p.add_argument("store", help="SQLite path or postgresql:// DSN of the log")
    p.add_argument("--log-key", required=True, help="file with the log's PRIVATE+KEY string")
    p.add_argument("--witness-key", action="append", help="witness PRIVATE+KEY file (repeat)")
    p.add_argument("--timestamp", type=int, help="cosignature time, seconds (default: now)")
    p.set_defaults(func=_checkpoint)

    p = sub.add_parser("export", help="export a store as a bundle file and/or tiles directory")
    p.add_argument("store", help="SQLite path or postgresql:// DSN of the log to export")
    p.add_argument("--bundle", help="bundle file to write")
    p.add_argument("--tiles", help="tlog-tiles directory to write")
    p.add_argument(
        "--openings",
        metavar="OUT",
        help="write the openings bundle (age-encrypted to every --recipient; never part of the "
        "public bundle)",
    )
    p.add_argument(
        "--recipient",
        action="append",
        default=[],
        metavar="AGE1...",
        help="an authorised auditor's age recipient (electlog keygen auditor); repeat",
    )
    p.add_argument(
        "--plaintext",
        metavar="FILE",
        help="the registrar's plaintext openings (electlog demo: keys/openings.plaintext)",
    )
    p.set_defaults(func=_export)
