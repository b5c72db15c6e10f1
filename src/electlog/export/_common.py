"""What every export shares: the audit it is made from, the second streaming read of the
source, and the output file.

An export is two passes over the source. The first is :func:`electlog.audit.audit` itself (the
verdict, the typed results); the second (:class:`EntryStream`) reads the same source again entry
by entry, never holding the log: chunks of :data:`~electlog.audit._pipeline.CHUNK_SIZE` entries,
decoded and dropped (the statement fields with a plain msgpack decode: the audit checked these
very bytes with the strict parser and every signature; an event body the export needs goes
through the writers' own validation, :meth:`Read.statement` and ``decode_event``). The second
read recomputes the RFC 6962 root with an O(log n) stack and compares it with the root of the
audited, witnessed checkpoint, so what is exported is byte for byte what was audited (a source
changed between the two reads is an :class:`ExportError`, never a silent mix).
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
import msgpack

from electlog._files import fsync_dir
from electlog.audit import Report, Trust, audit
from electlog.audit._pipeline import CHUNK_SIZE
from electlog.audit._sources import SourceUnreadable, open_source
from electlog.errors import ElectlogError
from electlog.events import MAX_ENTRY_SIZE, Statement, entry_leaf_hash
from electlog.merkle import node_hash

_unpackb: Any = msgpack.unpackb

__all__ = [
    "EntryStream",
    "ExportError",
    "ExportRefusedError",
    "ExportSecrecyError",
    "Read",
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


@attrs.frozen(slots=True)
class Read:
    """One entry as the export's second read sees it: the fields of its statement, decoded
    without the strict parser's canonical re-encoding (the audit applied it to these very
    bytes, which the root check binds to it). :meth:`statement` builds the validated
    :class:`~electlog.events.Statement` when an event's body is needed."""

    leaf_hash: bytes
    author: bytes
    type: str
    seq: int
    time: int
    fields: dict[str, Any]

    def statement(self) -> Statement:
        """The validated statement (:class:`~electlog.errors.EntryError` if it is not one)."""
        return Statement.from_map(self.fields)


_MAX: Final = MAX_ENTRY_SIZE


def _read(data: bytes) -> Read | None:
    """The statement fields of entry bytes, or ``None`` when they are not an entry (the audit
    reported such an entry as ``entry.malformed``)."""
    try:
        m = _unpackb(data, raw=False, strict_map_key=True, max_bin_len=_MAX, max_str_len=_MAX)
        st = _unpackb(m["stmt"], raw=False, strict_map_key=True, max_bin_len=_MAX, max_str_len=_MAX)
        read = Read(
            leaf_hash=entry_leaf_hash(data),
            author=st["author"],
            type=st["type"],
            seq=st["seq"],
            time=st["time"],
            fields=st,
        )
    except Exception:  # any complaint from msgpack, a missing field: not an entry
        return None
    if not (
        isinstance(read.author, bytes)
        and isinstance(read.type, str)
        and isinstance(read.seq, int)
        and isinstance(read.time, int)
    ):
        return None
    return read


@attrs.define
class EntryStream:
    """The second read of an audited source: ``(index, read)`` in log order, at most the
    audited number of entries (``read`` is ``None`` for bytes that are no entry). Signatures and
    the canonical form were checked by the audit; the RFC 6962 root recomputed here must equal
    the audited checkpoint's, so the bytes are the audited ones. Iterate once."""

    source: object
    report: Report

    def __iter__(self) -> Iterator[tuple[int, Read | None]]:
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
                    read = _read(data)
                    stack.add(entry_leaf_hash(data) if read is None else read.leaf_hash)
                    if want_size is not None and stack.size == want_size:
                        self._check_root(stack.root(), want_root)
                    yield index, read
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
