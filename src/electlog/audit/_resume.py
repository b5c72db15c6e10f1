"""The resumable audit: ``audit(..., state=DIR)`` and ``electlog verify --state DIR``.

A run saves, at the last checkpoint with the witness quorum that matches the replayed entries,
everything the next run needs to give the report a full audit would give: the checkpoint (note,
size, root), every leaf hash and claimed time up to it (the end checks look at every checkpoint
and every entry's time again), and a snapshot of the replay (author heads, event counts, the
election projections including the risk-limiting audit, the findings so far with the ones held
back) taken when the replay had read exactly the checkpoint's entries. The next run checks that
the copy still holds that checkpoint's entries (the Merkle root of its first entries equals the
saved root, or, for a source read as a stream, every leaf hash equals the saved one), restores
the replay, reads, verifies and replays only the entries after it, and runs the end checks.

A copy that holds fewer entries than the saved checkpoint, or other ones, is not resumed: the
audit runs in full and reports, besides what the copy shows, the saved checkpoint as fork or
rollback evidence (``fork.inconsistent`` / ``since.beyond_log``, as for ``--since``); the
state is left as it was (it is the evidence).

The state file (:data:`STATE_FILE` in the directory) is the auditor's private file:
``MAGIC``, a msgpack map (:data:`FORMAT`, the electlog version, the SHA-256 of the trust file's
canonical JSON, the origin, the election flag, the checkpoint, the leaves, the times, the
snapshot of :mod:`electlog.audit._snapshot`), and the SHA-256 of everything before it. The hash
catches accidents (a truncated copy, a flipped bit), not someone who can write the auditor's
files: the state is as trustworthy as the auditor's own machine. A state that is damaged, for
another trust file, origin or election flag, or from another electlog version is refused
(:class:`~electlog.errors.AuditStateError`); nothing is guessed.
"""

from __future__ import annotations

import hashlib
import json
import os
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import attrs
import msgpack

from electlog import merkle
from electlog._files import NotASmallFileError, read_small_file, write_atomic
from electlog.checkpoint import Checkpoint, verify_checkpoint_detailed
from electlog.errors import AuditStateError, ElectlogError
from electlog.events import entry_leaf_hash

from ._replay import FindingSink, Replay
from ._snapshot import decode_graph, encode_graph
from ._sources import BytesSource, RawSQLiteSource, Source, SourceUnreadable, StoreSource
from .trust import Trust

__all__ = ["FORMAT", "STATE_FILE", "CopyDiffers", "ResumePlan", "SavedState", "trust_digest"]

STATE_FILE: Final = "audit-state.bin"
FORMAT: Final = "electlog-audit-state/1"
MAGIC: Final = b"electlog audit state\n"
MAX_STATE_FILE: Final = 1 << 34
"""The largest state file read (16 GiB: about 40 bytes per entry plus the projections)."""
_HASH: Final = 32
_WHAT: Final = "the checkpoint audited before (--state)"


def _version() -> str:
    from electlog import __version__

    return __version__


def trust_digest(trust: Trust) -> str:
    """SHA-256 (hex) of the trust file's canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(trust.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@attrs.frozen(kw_only=True)
class SavedState:
    """What a state file holds."""

    note: str
    size: int
    root: bytes
    trust_sha256: str
    origin: str
    election: bool
    leaves: bytes
    times: bytes
    replay: bytes

    def to_bytes(self) -> bytes:
        body = msgpack.packb(
            {
                "format": FORMAT,
                "electlog": _version(),
                "trust_sha256": self.trust_sha256,
                "origin": self.origin,
                "election": self.election,
                "checkpoint": {"note": self.note, "size": self.size, "root": self.root},
                "leaves": self.leaves,
                "times": self.times,
                "replay": self.replay,
            },
            use_bin_type=True,
        )
        data = MAGIC + bytes(body)
        return data + hashlib.sha256(data).digest()

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> SavedState:
        """Parse and check a state file's bytes (:class:`AuditStateError` naming ``where``)."""
        if not data.startswith(MAGIC) or len(data) < len(MAGIC) + _HASH:
            raise AuditStateError(f"{where} is not an electlog audit state file")
        if hashlib.sha256(data[:-_HASH]).digest() != data[-_HASH:]:
            raise AuditStateError(
                f"{where} is damaged: its SHA-256 does not match its contents (remove the "
                "directory to audit in full and start a new state)"
            )
        try:
            top = msgpack.unpackb(data[len(MAGIC) : -_HASH], raw=False, strict_map_key=True)
        except (ValueError, TypeError, msgpack.UnpackException) as exc:
            raise AuditStateError(f"{where} does not decode: {exc}") from None
        if not isinstance(top, dict) or top.get("format") != FORMAT:
            found = top.get("format") if isinstance(top, dict) else None
            raise AuditStateError(f"{where} has format {found!r}, not {FORMAT!r}")
        if top.get("electlog") != _version():
            raise AuditStateError(
                f"{where} was written by electlog {top.get('electlog')!r}, this is "
                f"{_version()!r}: a state is only read by the version that wrote it"
            )
        cp = top.get("checkpoint")
        fields: dict[str, Any] = {
            "note": cp.get("note") if isinstance(cp, dict) else None,
            "size": cp.get("size") if isinstance(cp, dict) else None,
            "root": cp.get("root") if isinstance(cp, dict) else None,
            **{k: top.get(k) for k in ("trust_sha256", "origin", "election")},
            **{k: top.get(k) for k in ("leaves", "times", "replay")},
        }
        types = {
            "note": str,
            "size": int,
            "root": bytes,
            "trust_sha256": str,
            "origin": str,
            "election": bool,
            "leaves": bytes,
            "times": bytes,
            "replay": bytes,
        }
        for name, kind in types.items():
            if type(fields[name]) is not kind:
                raise AuditStateError(f"{where}: {name} is missing or not {kind.__name__}")
        size = fields["size"]
        if size < 1 or len(fields["leaves"]) != size * _HASH or len(fields["times"]) != size * 8:
            raise AuditStateError(
                f"{where}: the checkpoint size {size} does not match the saved leaves and times"
            )
        if len(fields["root"]) != _HASH:
            raise AuditStateError(f"{where}: the checkpoint root is not 32 bytes")
        return cls(**fields)


class CopyDiffers(Exception):
    """The copy does not hold the saved checkpoint's entries (raised before any of the entries
    after them is replayed); the audit runs in full instead."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ResumePlan:
    """One audit's use of a state directory: load it, check the copy, restore the replay, take
    the snapshot, save. :mod:`electlog.audit.core` calls it at each step."""

    def __init__(self, directory: str | os.PathLike[str], trust: Trust, election: bool) -> None:
        self.directory = Path(os.fspath(directory))
        self.path = self.directory / STATE_FILE
        self.trust = trust
        self.election = election
        self.digest = trust_digest(trust)
        self.saved = self._load()
        self.start = 0
        self.full_reason: str | None = None  # why a saved state was not resumed from
        self.target: int | None = None
        self._snapshot: tuple[int, bytes, bytes, bytes] | None = None
        self._no_snapshot = False
        self.info: dict[str, Any] = {
            "directory": str(self.directory),
            "resumed_from": None,
            "saved_at": None,
        }

    def _load(self) -> SavedState | None:
        where = str(self.path)
        if self.directory.exists() and not self.directory.is_dir():
            raise AuditStateError(f"the audit state {self.directory} is not a directory")
        try:
            data = read_small_file(self.path, MAX_STATE_FILE)
        except FileNotFoundError:
            return None
        except (OSError, NotASmallFileError) as exc:
            raise AuditStateError(f"cannot read the audit state {where}: {exc}") from exc
        saved = SavedState.from_bytes(data, where)
        if saved.trust_sha256 != self.digest:
            raise AuditStateError(
                f"{where} was written with another trust file (SHA-256 {saved.trust_sha256[:16]}…"
                f", this one's is {self.digest[:16]}…): use a state directory per trust file"
            )
        if saved.origin != self.trust.origin:  # implied by the digest; said plainly
            raise AuditStateError(f"{where} is for log {saved.origin!r}, not {self.trust.origin!r}")
        if saved.election != self.election:
            raise AuditStateError(
                f"{where} was written by an audit with election={saved.election}, this one has "
                f"election={self.election}"
            )
        return saved

    # ------------------------------------------------------------------ the run

    def fall_back(self, reason: str) -> None:
        """The copy does not extend the saved checkpoint: the next attempt runs in full."""
        self.full_reason = reason
        self.start = 0
        self.target = None
        self.info["full_audit"] = reason
        self.info["resumed_from"] = None

    def begin(self, src: Source, replay: Replay) -> None:
        """Before the entries: refuse a source of another log, restore the replay (unless the
        audit runs in full), and choose the checkpoint to snapshot at."""
        saved = self.saved
        if saved is not None and src.origin is not None and src.origin != saved.origin:
            raise AuditStateError(
                f"{self.path} is for log {saved.origin!r}, {src.description} declares "
                f"{src.origin!r}"
            )
        if self.full_reason is not None:
            self._no_snapshot = True  # the saved state stays as it is
            return
        if saved is not None:
            self._check_copy(src, saved)
            self._restore(replay, saved)
            self.start = saved.size
            self.info["resumed_from"] = {"size": saved.size, "root": saved.root.hex()}
        self.target = self._early_target(src)

    def chunks(self, src: Source, size: int) -> Iterator[list[bytes]]:
        """The entries after the saved checkpoint, in chunks of at most ``size`` that end at
        the snapshot's checkpoint size."""
        if self.start == 0:
            it = src.chunks(size)
        elif isinstance(src, StoreSource | BytesSource | RawSQLiteSource):
            it = src.chunks(size, start=self.start)
        else:
            it = self._after_prefix(src, size)
        index = self.start
        target = self.target
        for whole in it:
            chunk = whole
            if target is not None and index < target < index + len(chunk):
                cut = target - index
                yield chunk[:cut]
                chunk = chunk[cut:]
                index += cut
            index += len(chunk)
            yield chunk

    def after_chunk(self, replay: Replay) -> None:
        """Take the snapshot when the replay has read exactly the target checkpoint's entries."""
        if self.target is not None and replay.size == self.target and self._snapshot is None:
            self._take(replay)

    def fed(self, replay: Replay, unreadable: bool) -> None:
        """Every entry was read: without an early target, snapshot here (the end)."""
        if unreadable:
            self._snapshot = None
            return
        if (
            self.target is None
            and not self._no_snapshot
            and self._snapshot is None
            and replay.size > self.start
        ):
            self._take(replay)

    def finished(self, replay: Replay) -> None:
        """After the end checks: in a full audit instead of a resumed one, check the saved
        checkpoint as ``--since`` is checked; else save the new state when the snapshot was
        taken at the latest matching quorum checkpoint."""
        saved = self.saved
        self.info["entries_read"] = replay.size - self.start
        if self.full_reason is not None and saved is not None:
            replay._prior(saved.note, _WHAT)
            self.info["not_saved"] = "the saved state is kept: it is the evidence"
            return
        snap = self._snapshot
        latest = replay.latest
        if snap is None or latest is None or not replay.complete:
            if replay.size > self.start:
                self.info["not_saved"] = "no checkpoint with the witness quorum after the saved one"
            return
        size = snap[0]
        if latest.checkpoint.size != size:
            self.info["not_saved"] = (
                f"the latest checkpoint with the witness quorum that matches the entries has "
                f"size {latest.checkpoint.size}, the snapshot was taken at {size}"
            )
            return
        state = SavedState(
            note=latest.note,
            size=size,
            root=latest.checkpoint.root,
            trust_sha256=self.digest,
            origin=self.trust.origin,
            election=self.election,
            leaves=snap[1],
            times=snap[2],
            replay=snap[3],
        )
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, state.to_bytes(), 0o600)
        except OSError as exc:
            raise AuditStateError(f"cannot write the audit state {self.path}: {exc}") from exc
        self.info["saved_at"] = {"size": size, "root": latest.checkpoint.root.hex()}

    # ------------------------------------------------------------------ the steps

    def _check_copy(self, src: Source, saved: SavedState) -> None:
        """Random-access sources: the copy holds at least the saved checkpoint's entries and
        their Merkle root is the saved root (stream sources are checked while read)."""
        S = saved.size
        if isinstance(src, BytesSource):
            entries = src._entries
            if len(entries) < S:
                raise CopyDiffers(f"the copy holds {len(entries)} entries, fewer than {S}")
            for i in range(S):
                if entry_leaf_hash(entries[i]) != saved.leaves[i * _HASH : (i + 1) * _HASH]:
                    raise CopyDiffers(f"entry {i} differs from the entry audited before")
            return
        if isinstance(src, StoreSource):
            store = src.store
            reader = store.node
        elif isinstance(src, RawSQLiteSource):
            from ._store_check import _sqlite_small_cache

            try:
                store = _sqlite_small_cache(src.path)
            except ElectlogError as exc:
                raise CopyDiffers(f"the store's tree cannot be read: {exc}") from None
            reader = store.node
        else:
            return
        try:
            have = store.size()
            if have < S:
                raise CopyDiffers(f"the copy holds {have} entries, fewer than {S}")
            root = merkle.root_at(reader, S)
        except ElectlogError as exc:
            raise CopyDiffers(f"the copy's tree at size {S} cannot be read: {exc}") from None
        finally:
            if isinstance(src, RawSQLiteSource):
                store.close()
        if root != saved.root:
            raise CopyDiffers(
                f"the copy's first {S} entries have the root {root.hex()[:16]}…, the checkpoint "
                f"audited before has {saved.root.hex()[:16]}…"
            )

    def _after_prefix(self, src: Source, size: int) -> Iterator[list[bytes]]:
        """A stream source: every entry before the saved size is hashed and compared with the
        saved leaf (read, not verified); the entries after it are yielded."""
        saved = self.saved
        assert saved is not None
        S = saved.size
        leaves = saved.leaves
        index = 0
        try:
            for chunk in src.chunks(size):
                if index >= S:
                    yield chunk
                    continue
                for k, data in enumerate(chunk[: S - index]):
                    i = index + k
                    if entry_leaf_hash(data) != leaves[i * _HASH : (i + 1) * _HASH]:
                        raise CopyDiffers(f"entry {i} differs from the entry audited before")
                rest = chunk[S - index :]
                index += len(chunk)
                if rest:
                    yield rest
        except SourceUnreadable as exc:
            if index < S:
                raise CopyDiffers(f"the copy is unreadable before entry {S}: {exc}") from None
            raise
        if index < S:
            raise CopyDiffers(f"the copy holds {index} entries, fewer than {S}")

    def _early_target(self, src: Source) -> int | None:
        """The size of the largest checkpoint with the witness quorum in a source whose notes
        can be read before its entries (a store, a tiles log, entries in memory); ``None``
        for a stream (the snapshot is then taken after the last entry)."""
        if not isinstance(src, StoreSource | BytesSource | RawSQLiteSource):
            return None
        try:
            notes = (
                StoreSource.checkpoint_notes(src)
                if isinstance(src, StoreSource)
                else src.checkpoint_notes()
            )
        except ElectlogError:
            return None
        sized: dict[str, int] = {}
        for note in notes:
            try:
                cut = note.rfind("\n\n")
                sized[note] = Checkpoint.from_text(note[: cut + 1]).size
            except (ElectlogError, ValueError):
                continue
        trust = self.trust
        for note, size in sorted(sized.items(), key=lambda kv: -kv[1]):
            if size <= self.start:
                break
            try:
                verify_checkpoint_detailed(note, trust.log_key, list(trust.witnesses), trust.quorum)
            except ElectlogError:
                continue
            return size
        self._no_snapshot = True  # no checkpoint with the quorum after the saved one
        return None

    def _take(self, replay: Replay) -> None:
        n = replay.size
        sink = replay.sink
        graph = {
            "heads": replay.heads,
            "events": replay.events,
            "state": replay.state,
            "sink": [sink._items, sink._counts, sink._severity],
            "rogue": replay._rogue,
            "held": replay._held,
            "held_counts": replay._held_counts,
        }
        self._snapshot = (
            n,
            replay.tree._read_leaves(0, n) if n else b"",
            replay.times[:n].tobytes(),
            encode_graph(graph),
        )

    def _restore(self, replay: Replay, saved: SavedState) -> None:
        graph = decode_graph(saved.replay)
        where = f"{self.path}: the replay snapshot"
        expected = {"heads", "events", "state", "sink", "rogue", "held", "held_counts"}
        if not isinstance(graph, dict) or set(graph) != expected:
            raise AuditStateError(f"{where} does not hold the replay's parts")
        sink_parts = graph["sink"]
        if not (isinstance(sink_parts, list) and len(sink_parts) == 3):
            raise AuditStateError(f"{where}: the findings are malformed")
        items, counts, severity = sink_parts
        checks = [
            ("heads", isinstance(graph["heads"], dict)),
            ("events", isinstance(graph["events"], dict)),
            ("held", isinstance(graph["held"], list)),
            ("held_counts", isinstance(graph["held_counts"], dict)),
            ("rogue", graph["rogue"] is None or isinstance(graph["rogue"], bytes)),
            ("findings", isinstance(items, list) and isinstance(counts, dict)),
            ("severities", isinstance(severity, dict)),
        ]
        from electlog.election.state import ElectionState

        state = graph["state"]
        ok_state = isinstance(state, ElectionState) if self.election else state is None
        checks.append(("election state", ok_state))
        for name, ok in checks:
            if not ok:
                raise AuditStateError(f"{where}: {name} is malformed")
        leaves = saved.leaves
        replay.tree.extend([leaves[i : i + _HASH] for i in range(0, len(leaves), _HASH)])
        times: array[int] = array("q")
        times.frombytes(saved.times)
        replay.times = times
        replay.size = saved.size
        replay.heads = graph["heads"]
        replay.events = graph["events"]
        replay.state = state
        replay._rogue = graph["rogue"]
        replay._held = graph["held"]
        replay._held_counts = graph["held_counts"]
        sink: FindingSink = replay.sink
        sink._items = items
        sink._counts = counts
        sink._severity = severity
