"""What every export shares: the audit it is made from, the second streaming read of the
source, and the output file.

An export is two passes over the source. The first is :func:`electlog.audit.audit` itself (the
verdict, the typed results); the second (:class:`EntryStream`) reads the same source again entry
by entry, never holding the log: chunks of :data:`~electlog.audit.pipeline.CHUNK_SIZE` entries,
decoded with the writers' parser and dropped. The second read recomputes the RFC 6962 root with
an O(log n) stack and compares it with the root of the audited, witnessed checkpoint, so what is
exported is byte for byte what was audited (a source changed between the two reads is an
:class:`ExportError`, never a silent mix).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Final

import attrs

from electlog._files import fsync_dir
from electlog.audit import Report, Trust, audit
from electlog.audit.pipeline import CHUNK_SIZE
from electlog.audit.sources import SourceUnreadable, open_source
from electlog.errors import ElectlogError
from electlog.events import Entry, entry_leaf_hash
from electlog.merkle import node_hash

__all__ = [
    "EntryStream",
    "ExportError",
    "ExportRefusedError",
    "ExportSecrecyError",
    "audited",
    "generated_time",
    "open_output",
    "verdict_note",
]


class ExportError(ElectlogError):
    """An export could not be made (the source changed or is unreadable, bad options, the
    output cannot be written)."""


class ExportRefusedError(ExportError):
    """The audit's verdict is not clean and ``force`` was not given."""


class ExportSecrecyError(ExportError):
    """The secrecy lint found something that could identify a voter in a cast vote record."""


def audited(
    source: object,
    trust: Trust | str | os.PathLike[str],
    *,
    force: bool,
    jobs: int = 1,
    in_progress: bool = False,
) -> Report:
    """Audit ``source`` and return the report; :class:`ExportRefusedError` when the verdict is
    not clean (or, with ``in_progress``, clean so far) and ``force`` is false."""
    report = audit(source, trust, jobs=jobs, in_progress=in_progress)
    if not report.clean_so_far and not force:
        f = report.counts.findings
        raise ExportRefusedError(
            f"the audit's verdict is {report.verdict_line()} ({f['error']} error(s), "
            f"{f['warning']} warning(s)): an export of a log that is not clean needs --force "
            "(force=True), and then says so; run electlog verify for the findings"
        )
    return report


def verdict_note(report: Report) -> str:
    """One line for an export's notes: the verdict, the log and the checkpoint it rests on."""
    cp = report.checkpoint
    at = (
        "no witnessed checkpoint"
        if cp is None
        else f"witnessed checkpoint size {cp['size']} root {cp['root']}"
    )
    forced = "" if report.clean_so_far else " -- EXPORTED WITH --force: THE LOG IS NOT CLEAN"
    return (
        f"electlog audit verdict: {report.verdict_line()}{forced}; log {report.origin}; "
        f"{report.counts.entries} entries; {at}"
    )


def generated_time(now: _dt.datetime | None) -> str:
    """``now`` (default: the current UTC time) as ``YYYY-MM-DDTHH:MM:SSZ``."""
    if now is None:
        now = _dt.datetime.now(_dt.UTC)
    if now.tzinfo is None:
        raise ExportError("generated time must be timezone-aware")
    return now.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_time(time_us: int) -> str:
    """A claimed time (integer microseconds UTC) as ISO 8601 with a ``Z``."""
    t = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(microseconds=time_us)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _RootStack:
    """RFC 6962 root of a stream of leaf hashes in O(log n) memory: the perfect subtrees of the
    leaves so far, largest first."""

    __slots__ = ("_hashes", "_sizes", "size")

    def __init__(self) -> None:
        self._sizes: list[int] = []
        self._hashes: list[bytes] = []
        self.size = 0

    def add(self, leaf: bytes) -> None:
        sizes, hashes = self._sizes, self._hashes
        size, h = 1, leaf
        while sizes and sizes[-1] == size:
            size += sizes.pop()
            h = node_hash(hashes.pop(), h)
        sizes.append(size)
        hashes.append(h)
        self.size += 1

    def root(self) -> bytes:
        hashes = self._hashes
        if not hashes:
            return bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        h = hashes[-1]
        for left in reversed(hashes[:-1]):
            h = node_hash(left, h)
        return h


@attrs.define
class EntryStream:
    """The second read of an audited source: ``(index, entry)`` in log order, at most the
    audited number of entries, each decoded with :meth:`Entry.from_bytes` (signatures were
    verified by the audit; the root check binds the bytes to it). Iterate once."""

    source: object
    report: Report

    def __iter__(self) -> Iterator[tuple[int, Entry | None]]:
        report = self.report
        total = report.counts.entries
        cp = report.checkpoint
        want_size = None if cp is None else int(cp["size"])
        want_root = None if cp is None else bytes.fromhex(str(cp["root"]))
        stack = _RootStack()
        src = open_source(self.source)
        index = 0
        try:
            for chunk in src.chunks(CHUNK_SIZE):
                for data in chunk:
                    if index >= total:
                        break
                    entry: Entry | None
                    try:
                        entry = Entry.from_bytes(data, verify=False)
                        leaf = entry.leaf_hash
                    except ElectlogError:
                        entry = None  # the audit reported it (entry.malformed)
                        leaf = entry_leaf_hash(data)
                    stack.add(leaf)
                    if want_size is not None and stack.size == want_size:
                        self._check_root(stack.root(), want_root)
                    yield index, entry
                    index += 1
                if index >= total:
                    break
        except SourceUnreadable as exc:
            if report.clean_so_far:
                raise ExportError(
                    f"the source became unreadable on the export's read: {exc.message}"
                ) from None
        finally:
            src.close()
        if index < total and report.clean_so_far:
            raise ExportError(
                f"the source changed between the audit and the export: {index} entries read, "
                f"{total} audited"
            )
        if want_size is not None and stack.size < want_size:
            raise ExportError(
                f"the source changed between the audit and the export: it holds {stack.size} "
                f"entries, the audited checkpoint {want_size}"
            )

    @staticmethod
    def _check_root(root: bytes, want: bytes | None) -> None:
        if want is not None and root != want:
            raise ExportError(
                "the source changed between the audit and the export: the entries read again "
                f"have root {root.hex()}, the audited checkpoint {want.hex()}"
            )


_CHUNK: Final = 1 << 16


@contextlib.contextmanager
def open_output(output: str | os.PathLike[str] | IO[str] | None) -> Iterator[Callable[[str], Any]]:
    """A ``write(text)`` function for ``output``: a path (written to a temporary file in the same
    directory and renamed into place only when the export succeeded: never a half-written
    export under the final name), an open text stream, or ``None``/``"-"`` for standard
    output."""
    if output is None or output == "-":
        import sys

        yield sys.stdout.write
        sys.stdout.flush()
        return
    if not isinstance(output, str | os.PathLike):
        yield output.write
        return
    path = Path(output)
    directory = path.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise ExportError(f"cannot write {str(path)!r}: {exc.strerror}") from exc
    done = False
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="", buffering=_CHUNK) as fh:
            yield fh.write
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        fsync_dir(directory)
        done = True
    except OSError as exc:
        raise ExportError(f"cannot write {str(path)!r}: {exc.strerror}") from exc
    finally:
        if not done:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
