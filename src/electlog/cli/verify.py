"""Subcommands for auditors: ``verify``, ``prove inclusion|consistency`` and ``tally``.

``electlog verify SOURCE --trust FILE`` exits 0 when the verdict is clean (or, with
``--in-progress``, clean so far), 1 when it is incomplete or there are findings and 2 when the
audit could not run (usage, unreadable input, bad trust file, an openings bundle that does not
decrypt). ``--openings FILE --identity KEYFILE`` adds the authorised tier.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..audit import Report, audit, read_since
from ..audit._pipeline import CHUNK_SIZE
from ..audit._replay import CompactMerkleTree
from ..audit._report_text import render_tallies
from ..audit._sources import SourceUnreadable, open_source
from ..audit._tasks import ENGINES
from ..audit.openings import read_openings
from ..audit.progress import stderr_is_terminal
from ..election.openings import OpeningsDocument
from ..errors import AuditError, StorageError, UsageError
from ..events import entry_leaf_hash

__all__ = ["register"]

_EXIT_CLEAN = 0
_EXIT_FINDINGS = 1


def _write(text: str, output: str | None) -> None:
    if output is None or output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise StorageError(f"cannot write {output}: {exc.strerror}") from exc


def _progress(args: argparse.Namespace) -> bool:
    return stderr_is_terminal() if args.progress is None else bool(args.progress)


class _NoElectionTally(argparse.Action):
    """``tally --no-election`` was removed: a usage error that says why."""

    def __call__(self, parser: argparse.ArgumentParser, *_args: object, **_kw: object) -> None:
        parser.error(
            "--no-election was removed from tally: a log without an election has no tally "
            "(audit such a log with: electlog verify SOURCE --trust FILE --no-election)"
        )


def _openings(args: argparse.Namespace) -> OpeningsDocument | None:
    """``--openings FILE --identity KEYFILE``: the decrypted openings (both or neither)."""
    path, identity = getattr(args, "openings", None), getattr(args, "identity", None)
    if path is None and identity is None:
        return None
    if path is None or identity is None:
        raise UsageError("--openings and --identity go together (the bundle and your age key)")
    return read_openings(path, identity)


def _run_audit(args: argparse.Namespace) -> Report:
    since = read_since(args.since) if getattr(args, "since", None) else None
    openings = _openings(args)
    return audit(
        args.source,
        args.trust,
        since=since,
        jobs=args.jobs if args.jobs is not None else (os.cpu_count() or 1),
        progress=_progress(args),
        election=not getattr(args, "no_election", False),
        in_progress=bool(getattr(args, "in_progress", False)),
        openings=openings,
        engine=args.engine,
        scheduler=args.scheduler,
        tasks=args.tasks,
        state=getattr(args, "state", None),
    )


def _verify(args: argparse.Namespace) -> int:
    report = _run_audit(args)
    if args.format == "json":
        text = report.to_json()
    elif args.format == "html":
        text = report.to_html()
    else:
        text = report.to_text()
    _write(text, args.output)
    if args.output not in (None, "-"):
        print(f"verdict: {report.verdict_line()}; report written to {args.output}", file=sys.stderr)
    return _EXIT_CLEAN if report.exit_status == 0 else _EXIT_FINDINGS


def _tally(args: argparse.Namespace) -> int:
    report = _run_audit(args)
    tallies = report.tallies
    if args.community is not None:
        if args.community not in tallies:
            raise UsageError(
                f"no community {args.community!r} in the log (communities: "
                f"{', '.join(tallies) or 'none'})"
            )
        tallies = {args.community: tallies[args.community]}
    if args.format == "json":
        _write(json.dumps(tallies, indent=2, ensure_ascii=False) + "\n", None)
    else:
        _write(render_tallies(tallies) + "\n", None)
    if not report.clean:
        f = report.counts.findings
        print(
            f"warning: the audit's verdict is {report.verdict_line()} ({f['error']} error(s), "
            f"{f['warning']} warning(s)); run electlog verify for the report",
            file=sys.stderr,
        )
        return _EXIT_FINDINGS
    return _EXIT_CLEAN


def _tree(source: str) -> CompactMerkleTree:
    """The Merkle tree recomputed from the source's own entry bytes."""
    src = open_source(source)
    tree = CompactMerkleTree()
    try:
        for chunk in src.chunks(CHUNK_SIZE):
            tree.extend([entry_leaf_hash(data) for data in chunk])
    except SourceUnreadable as exc:
        raise AuditError(f"the source is unreadable: {exc.message}") from exc
    finally:
        src.close()
    return tree


def _size(value: int | None, n: int, name: str) -> int:
    size = n if value is None else value
    if not 0 <= size <= n:
        raise UsageError(f"{name} {size} is out of range: the log has {n} entries")
    return size


def _prove_inclusion(args: argparse.Namespace) -> int:
    tree = _tree(args.source)
    size = _size(args.size, len(tree), "--size")
    if not 0 <= args.index < size:
        raise UsageError(f"--index {args.index} is not in a tree of size {size}")
    try:
        proof = tree.inclusion_proof(args.index, size)
        out: dict[str, Any] = {
            "index": args.index,
            "size": size,
            "leaf_hash": tree.node(0, args.index).hex(),
            "root": tree.root(size).hex(),
            "proof": [h.hex() for h in proof],
        }
    finally:
        tree.close()
    _emit_proof(out, args.format)
    return 0


def _prove_consistency(args: argparse.Namespace) -> int:
    tree = _tree(args.source)
    size2 = _size(args.size2, len(tree), "--size2")
    if not 1 <= args.size1 <= size2:
        raise UsageError(f"--size1 must be between 1 and {size2}, got {args.size1}")
    try:
        proof = tree.consistency_proof(args.size1, size2)
        out: dict[str, Any] = {
            "size1": args.size1,
            "size2": size2,
            "root1": tree.root(args.size1).hex(),
            "root2": tree.root(size2).hex(),
            "proof": [h.hex() for h in proof],
        }
    finally:
        tree.close()
    _emit_proof(out, args.format)
    return 0


def _emit_proof(out: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        _write(json.dumps(out, indent=2) + "\n", None)
        return
    for key, value in out.items():
        if key != "proof":
            print(f"# {key} {value}", file=sys.stderr)
    _write("".join(f"{h}\n" for h in out["proof"]), None)


_SOURCE_HELP = (
    "bundle file, SQLite file, tiles directory, http(s):// URL of a served log or postgresql:// DSN"
)
_PROOF_FORMAT_HELP = "text: the proof's hashes, one a line (the rest on stderr); json: all"


def _add_audit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help=_SOURCE_HELP)
    p.add_argument("--trust", required=True, help="the auditor's trust file (JSON)")
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="audit processes: 2 or more replay by community (default: every core)",
    )
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default="auto",
        help="auto (default): tasks for a local store (SQLite, PostgreSQL, a tiles directory) "
        "of 200,000 entries or more, else processes unless its memory would be more than half "
        "of what the machine has free, then tasks; processes: this process reads the log and "
        "feeds the --jobs workers (memory grows with the log); tasks: one task per community, "
        "each reading the log itself, --jobs at a time (memory: one community's state per "
        "process); dask: those tasks on a Dask cluster (--scheduler)",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --engine dask: the Dask scheduler's address, e.g. tcp://10.0.0.5:8786 (every "
        "worker must be able to open SOURCE: a shared path, a URL or a DSN)",
    )
    p.add_argument(
        "--tasks",
        type=int,
        metavar="N",
        help="with --engine tasks or dask: at most N tasks, each replaying every N-th community "
        "(default: one per community; each task reads the whole log)",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar on stderr (default: only when stderr is a terminal)",
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``verify``, ``prove`` and ``tally``."""
    p = sub.add_parser(
        "verify",
        help="audit a log copy: every signature, chain, checkpoint, rule and tally",
        description="Replay a log copy and report every finding. Exit status: 0 clean (with "
        "--in-progress: clean so far), 1 incomplete or findings, 2 could not run.",
    )
    _add_audit_options(p)
    p.add_argument(
        "--no-election",
        action="store_true",
        help="audit a generic (non-election) log: skip the election replay",
    )
    p.add_argument("--since", help="a checkpoint note file you saw earlier (fork check)")
    p.add_argument(
        "--state",
        metavar="DIR",
        help="keep the audit's state here: resume from the checkpoint the last run saved "
        "(only newer entries are read) and save the latest witnessed one (docs/auditing.md)",
    )
    p.add_argument(
        "--in-progress",
        action="store_true",
        help="a mid-election audit: an unfinished election or an unwitnessed tail is "
        "'clean so far, up to <phase> at checkpoint N' (exit 0) instead of INCOMPLETE",
    )
    p.add_argument(
        "--format",
        choices=["text", "json", "html"],
        default="text",
        help="report format: text (default), json (docs/auditing.md schema) or html (one page)",
    )
    p.add_argument("--output", "-o", help="write the report here instead of stdout")
    p.add_argument(
        "--openings",
        metavar="FILE",
        help="authorised tier: an openings bundle (age-encrypted, electlog export --openings); "
        "checks every opening and replays the age and basis rules (needs --identity)",
    )
    p.add_argument(
        "--identity",
        metavar="KEYFILE",
        help="your age identity file (AGE-SECRET-KEY-1..., electlog keygen auditor) that "
        "decrypts --openings",
    )
    p.set_defaults(func=_verify)

    p = sub.add_parser("prove", help="print an inclusion or consistency proof")
    prove = p.add_subparsers(dest="proof", metavar="KIND", parser_class=type(p))
    prove.required = True
    q = prove.add_parser("inclusion", help="proof that entry --index is in the tree of --size")
    q.add_argument("source", help=_SOURCE_HELP)
    q.add_argument("--index", type=int, required=True, help="0-based index of the entry")
    q.add_argument("--size", type=int, help="tree size (default: every entry)")
    q.add_argument("--format", choices=["text", "json"], default="text", help=_PROOF_FORMAT_HELP)
    q.set_defaults(func=_prove_inclusion)
    q = prove.add_parser("consistency", help="proof that the tree of --size2 extends --size1")
    q.add_argument("source", help=_SOURCE_HELP)
    q.add_argument("--size1", type=int, required=True, help="older tree size (at least 1)")
    q.add_argument("--size2", type=int, help="newer tree size (default: every entry)")
    q.add_argument("--format", choices=["text", "json"], default="text", help=_PROOF_FORMAT_HELP)
    q.set_defaults(func=_prove_consistency)

    p = sub.add_parser("tally", help="print the results recomputed from the recorded ballots")
    _add_audit_options(p)
    p.add_argument(  # gone: a log without an election has no tally; say so instead of "unknown"
        "--no-election", action=_NoElectionTally, nargs=0, help=argparse.SUPPRESS
    )
    p.add_argument("--community", help="only this community")
    p.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="text (default) or json (the report's tallies object)",
    )
    p.set_defaults(func=_tally)
