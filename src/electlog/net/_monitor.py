"""A monitor of a published log: follow its tlog-tiles, check every checkpoint against the last
one seen, mirror the new entries, audit them, and keep evidence of any fork.

State, in one directory (docs/publishing.md, "Monitoring a published log"):

``mirror.sqlite``
    A SQLite store holding the log's entries as verified so far and every checkpoint note the
    monitor accepted (the latest is "the checkpoint it saw last").
``pending.checkpoint``
    Written (atomically) before the entries of a newer checkpoint are mirrored, removed once the
    checkpoint is stored: a round cut short (SIGKILL) resumes from it, and it counts as seen.
``status.json``
    The last round's report (atomically replaced).
``audit/``
    The resumable audit's state (docs/auditing.md, "Resuming an audit"): each round's audit
    resumes from the checkpoint the last one saved and reads only the entries mirrored since.
``evidence/<kind>-<hash>/``
    What a third party needs to check an inconsistency: ``old.checkpoint`` and
    ``new.checkpoint`` (the signed notes as served) and ``evidence.json`` (sizes, roots, the
    root the new tree gives at the old size, the consistency proof and why it fails).

Every state change is a SQLite transaction or an atomic file replacement, so a SIGKILL at any
moment leaves a state the next round resumes from.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, NoReturn

import attrs

from .. import merkle
from .._files import NotASmallFileError, read_small_file, write_atomic
from ..audit import Report, Trust, audit, load_trust
from ..audit._resume import STATE_FILE
from ..checkpoint import Checkpoint, VerifiedCheckpoint, verify_checkpoint_detailed
from ..errors import (
    AuditStateError,
    ConsistencyProofError,
    ElectlogError,
    StorageError,
    TilesError,
    TilesUnavailableError,
    UsageError,
)
from ..log import Log
from ..publish.tiles import TilesFetcher, TilesReader, http_fetcher
from ..store import SQLiteStore
from ..store._integrity import checkpoint_text
from ..store.base import StoredCheckpoint

__all__ = ["EVIDENCE_FORMAT", "Monitor", "MonitorAlarm", "MonitorStatus"]

EVIDENCE_FORMAT: Final = "electlog-monitor-evidence/1"
"""The ``format`` of every ``evidence.json`` the monitor writes."""

_MAX_NOTE: Final = 1 << 20
_BATCH: Final = 2048


class MonitorAlarm(ElectlogError):
    """The log is inconsistent with what the monitor saw (a fork, a rollback, a checkpoint that
    does not verify, tiles that do not match it, an entry the log's checks refuse): evidence was
    written to :attr:`evidence` (a directory)."""

    def __init__(self, kind: str, message: str, evidence: Path) -> None:
        super().__init__(f"{kind}: {message} (evidence in {evidence})")
        self.kind = kind
        self.evidence = evidence


@attrs.frozen(kw_only=True)
class MonitorStatus:
    """How far the monitor has verified the log, after a round (also ``status.json``)."""

    url: str
    origin: str
    round_ok: bool
    """False when the round could not fetch what it needed (the verified state is unchanged)."""
    size: int
    root: str
    checkpoint_note: str | None
    cosigners: tuple[tuple[str, int], ...]
    checkpoint_time: int | None
    """The latest cosignature timestamp of the verified checkpoint (seconds since the epoch)."""
    new_entries: int
    fetched_files: int
    fetched_bytes: int
    audit_verdict: str | None
    audit_verdict_line: str | None
    audit_findings: dict[str, int]
    audit_entries: int
    audit_checkpoint_size: int | None
    """The checkpoint size the mirror had when it was last audited."""
    audit_seconds: float | None
    audit_mode: str = "full in-progress replay of the mirror"
    alarm: str | None = None
    evidence: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """No alarm, and the audit (if any) is clean or clean so far."""
        return self.alarm is None and self.audit_verdict in (None, "clean", "clean_in_progress")

    def to_dict(self) -> dict[str, Any]:
        out = attrs.asdict(self)
        out["cosigners"] = [{"name": n, "timestamp": t} for n, t in self.cosigners]
        out["ok"] = self.ok
        return out

    def to_text(self) -> str:
        lines = [f"monitor of {self.origin!r} at {self.url}"]
        if self.error is not None:
            lines.append(f"round failed (state unchanged): {self.error}")
        if self.alarm is not None:
            lines.append(f"ALARM {self.alarm}: evidence in {self.evidence}")
        if self.checkpoint_note is None:
            lines.append("verified: nothing yet")
        else:
            stamp = (
                time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.checkpoint_time))
                if self.checkpoint_time is not None
                else "no cosignature"
            )
            names = ", ".join(n for n, _ in self.cosigners) or "no witness"
            lines.append(f"verified: size {self.size}, root {self.root}")
            lines.append(f"checkpoint: cosigned by {names}; latest cosignature {stamp}")
        lines.append(
            f"this round: {self.new_entries} new entries mirrored, {self.fetched_files} files "
            f"({self.fetched_bytes} bytes) fetched"
        )
        if self.audit_verdict_line is not None:
            f = self.audit_findings
            lines.append(
                f"audit ({self.audit_mode}, {self.audit_entries} entries, "
                f"{self.audit_seconds} s): {self.audit_verdict_line} ({f.get('error', 0)} "
                f"error(s), {f.get('warning', 0)} warning(s))"
            )
        return "\n".join(lines) + "\n"


def _parse(note: str) -> Checkpoint:
    return Checkpoint.from_text(checkpoint_text(note))


class Monitor:
    """Follows the log served at ``url`` with the trust anchors ``trust`` (a :class:`Trust` or
    a trust file) and its state in ``state_dir`` (created if missing; one monitor at a time).

    :meth:`round` does one round and returns a :class:`MonitorStatus`; it raises
    :class:`MonitorAlarm` when the log is inconsistent (after writing the evidence). A round
    that cannot fetch what it needs (the server down, a timeout, a missing file) leaves the
    state as it was and returns a status with ``round_ok=False``. ``election=False`` audits a
    generic log; ``jobs`` are the audit's worker processes. ``clock`` (seconds since the
    epoch) stamps the evidence; the other options
    are those of :meth:`~electlog.publish.tiles.TilesReader.from_url`."""

    def __init__(
        self,
        url: str,
        trust: Trust | str | os.PathLike[str],
        state_dir: str | os.PathLike[str],
        *,
        election: bool = True,
        jobs: int = 1,
        timeout: float = 10.0,
        max_total_bytes: int = 1 << 33,
        clock: Callable[[], float] = time.time,
        transport: object | None = None,
    ) -> None:
        self._trust = trust if isinstance(trust, Trust) else load_trust(trust)
        self._url = url
        self._fetch_options: dict[str, Any] = {
            "timeout": timeout,
            "max_total_bytes": max_total_bytes,
            "transport": transport,
        }
        http_fetcher(url, **self._fetch_options).close()  # the URL and options are valid
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            raise UsageError(f"jobs must be a positive integer, got {jobs!r}")
        self._election = election
        self._jobs = jobs
        self._clock = clock
        self._dir = Path(os.fspath(state_dir))
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            self._lock = os.open(self._dir / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StorageError(f"cannot use the state directory {self._dir}: {exc}") from exc
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self._lock)
            raise UsageError(f"another monitor is using the state directory {self._dir}") from exc
        try:
            self._log = Log(SQLiteStore(self._dir / "mirror.sqlite", origin=self._trust.origin))
        except BaseException:
            os.close(self._lock)
            raise
        self._audited = self._read_status_size()

    # ------------------------------------------------------------------ state

    @property
    def state_dir(self) -> Path:
        return self._dir

    @property
    def mirror(self) -> Log:
        """The local mirror (entries and accepted checkpoints)."""
        return self._log

    def close(self) -> None:
        self._log.store.close()
        with contextlib.suppress(OSError):
            os.close(self._lock)

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pending_path(self) -> Path:
        return self._dir / "pending.checkpoint"

    def _read_note(self, path: Path) -> str | None:
        try:
            return read_small_file(path, _MAX_NOTE).decode("utf-8")
        except FileNotFoundError:
            return None
        except (OSError, NotASmallFileError, UnicodeDecodeError) as exc:
            raise StorageError(f"cannot read {path}: {exc}") from exc

    def _write(self, path: Path, data: bytes) -> None:
        try:
            write_atomic(path, data)
        except OSError as exc:
            raise StorageError(f"cannot write {path}: {exc}") from exc

    def _read_status_size(self) -> int | None:
        try:
            data = json.loads(read_small_file(self._dir / "status.json", _MAX_NOTE))
            size = data.get("audit_checkpoint_size") if data.get("audit_verdict") else None
            return size if isinstance(size, int) else None
        except (OSError, NotASmallFileError, ValueError, AttributeError):
            return None

    def last_seen(self) -> StoredCheckpoint | None:
        """The checkpoint the monitor saw last: a pending one (a round cut short), else the
        latest one stored in the mirror, else the trust file's pinned checkpoint."""
        seen = self._last_seen()
        return None if seen is None else StoredCheckpoint(seen[1].size, seen[0])

    def _last_seen(self) -> tuple[str, Checkpoint] | None:
        pending = self._read_note(self._pending_path())
        if pending is None:
            stored = self._log.latest_checkpoint()
            if stored is None:
                pending = self._trust.pinned_checkpoint  # seen out of band, checked on load
                if pending is None:
                    return None
            else:
                pending = stored.note
        try:
            return pending, _parse(pending)
        except ElectlogError as exc:
            raise StorageError(f"the monitor's own checkpoint does not parse: {exc}") from exc

    # ------------------------------------------------------------------ a round

    def round(self, stop: Callable[[], bool] = lambda: False) -> MonitorStatus:
        """Fetch the served checkpoint, check it, mirror and audit what is new (see the module
        docstring). ``stop()`` is polled between batches: when it turns true, the round ends
        early and the next one resumes."""
        fetcher = http_fetcher(self._url, **self._fetch_options)
        new_entries = 0
        error: str | None = None
        try:
            try:
                new_entries = self._mirror_round(fetcher, stop)
            except TilesUnavailableError as exc:
                error = str(exc)
        finally:
            fetcher.close()
        files = len(getattr(fetcher, "fetched", ()))
        nbytes = int(getattr(fetcher, "bytes_fetched", 0))
        return self._finish(new_entries, files, nbytes, error, stop)

    def _mirror_round(self, fetcher: TilesFetcher, stop: Callable[[], bool]) -> int:
        raw = fetcher.fetch("checkpoint", _MAX_NOTE)
        seen = self._last_seen()
        try:
            note = raw.decode("utf-8")
            verified = verify_checkpoint_detailed(
                note, self._trust.log_key, list(self._trust.witnesses), self._trust.quorum
            )
        except (UnicodeDecodeError, ElectlogError) as exc:
            reason = exc.reason if isinstance(exc, UnicodeDecodeError) else str(exc)
            self._alarm(
                "unverified-checkpoint",
                f"the served checkpoint does not verify with the trust file: {reason}",
                seen,
                raw,
                {},
            )
        cp = verified.checkpoint
        if seen is not None:
            old = seen[1]
            if cp.size < old.size:
                self._rollback(seen, note, cp)
            if cp.size == old.size and cp.root != old.root:
                self._alarm(
                    "fork",
                    f"two checkpoints of size {cp.size} with different roots",
                    seen,
                    raw,
                    {"old_root": old.root.hex(), "new_root": cp.root.hex()},
                )
        reader = TilesReader(fetcher, checkpoint_note=note)
        try:
            root = reader.root()
            if root != cp.root:
                self._alarm(
                    "tiles-mismatch",
                    f"the served tiles give the root {root.hex()} at size {cp.size}, the "
                    f"checkpoint says {cp.root.hex()}",
                    seen,
                    raw,
                    {"recomputed_root": root.hex()},
                )
            if seen is not None and seen[1].size > 0 and seen[1].size < cp.size:
                self._check_extends(reader, seen, raw, cp)
            return self._append(reader, note, verified, stop)
        except TilesUnavailableError:
            raise
        except TilesError as exc:
            self._alarm(
                "tiles-mismatch",
                f"the served tiles do not check against the checkpoint: {exc}",
                seen,
                raw,
                {},
            )

    def _check_extends(
        self, reader: TilesReader, seen: tuple[str, Checkpoint], raw: bytes, cp: Checkpoint
    ) -> None:
        old = seen[1]
        recomputed = reader.root(old.size)
        proof = reader.consistency_proof(old.size, cp.size)
        try:
            merkle.verify_consistency(old.size, cp.size, proof, old.root, cp.root)
            problem = ""
        except ConsistencyProofError as exc:
            problem = str(exc)
        if recomputed != old.root or problem:
            # the same proof does verify from the root the new tree has at the old size: the
            # log signed a tree whose first old.size entries are not the ones it signed before
            try:
                merkle.verify_consistency(old.size, cp.size, proof, recomputed, cp.root)
                from_recomputed = True
            except ConsistencyProofError:
                from_recomputed = False
            self._alarm(
                "fork",
                f"the checkpoint of size {cp.size} does not extend the one of size {old.size} "
                f"seen before: its tree gives the root {recomputed.hex()} at size {old.size}, "
                f"not {old.root.hex()}",
                seen,
                raw,
                {
                    "old_root": old.root.hex(),
                    "new_root": cp.root.hex(),
                    "recomputed_old_root": recomputed.hex(),
                    "consistency_proof": [h.hex() for h in proof],
                    "proof_error": problem,
                    "proof_verifies_from_recomputed_old_root": from_recomputed,
                },
            )

    def _rollback(self, seen: tuple[str, Checkpoint], note: str, cp: Checkpoint) -> None:
        old = seen[1]
        extra: dict[str, Any] = {"old_root": old.root.hex(), "new_root": cp.root.hex()}
        if 0 < cp.size <= len(self._log) and old.size <= len(self._log):
            # the mirror holds the old tree: the root it has at the new size, and the proof from
            # there to the old root, show whether the new checkpoint is a prefix of it
            mine = self._log.root(cp.size)
            extra["mirror_root_at_new_size"] = mine.hex()
            extra["consistent"] = mine == cp.root
            extra["consistency_proof_from_new_to_old"] = [
                h.hex() for h in self._log.consistency_proof(cp.size, old.size)
            ]
        self._alarm(
            "rollback",
            f"the served checkpoint has size {cp.size}, smaller than the {old.size} seen before",
            seen,
            note.encode("utf-8"),
            extra,
        )

    def _append(
        self, reader: TilesReader, note: str, verified: VerifiedCheckpoint, stop: Callable[[], bool]
    ) -> int:
        cp = verified.checkpoint
        stored = self._log.latest_checkpoint()
        if stored is not None and stored.size == cp.size:
            self._pending_path().unlink(missing_ok=True)
            return 0
        self._write(self._pending_path(), note.encode("utf-8"))
        start = len(self._log)
        index = start
        batch: list[bytes] = []
        for data in reader.entries(start, cp.size):
            batch.append(data)
            if len(batch) >= _BATCH:
                self._append_batch(reader, note, index, batch)
                index += len(batch)
                batch = []
                if stop():
                    return index - start
        if batch:
            self._append_batch(reader, note, index, batch)
            index += len(batch)
        self._log.add_checkpoint(note)
        self._pending_path().unlink(missing_ok=True)
        return index - start

    def _append_batch(self, reader: TilesReader, note: str, index: int, batch: list[bytes]) -> None:
        try:
            self._log.append_many(batch)
            return
        except StorageError:
            raise
        except ElectlogError:
            pass
        for k, data in enumerate(batch):  # find the entry the log's checks refuse
            try:
                self._log.append(data)
            except StorageError:
                raise
            except ElectlogError as exc:
                i = index + k
                self._alarm(
                    "invalid-entry",
                    f"entry {i} of the witnessed log is refused by the log's checks: {exc}",
                    None,
                    note.encode("utf-8"),
                    {
                        "index": i,
                        "entry": data.hex(),
                        "reason": str(exc),
                        "inclusion_proof": [h.hex() for h in reader.inclusion_proof(i)],
                    },
                )

    # ------------------------------------------------------------------ evidence

    def _alarm(
        self,
        kind: str,
        message: str,
        seen: tuple[str, Checkpoint] | None,
        new: bytes,
        extra: dict[str, Any],
    ) -> NoReturn:
        old = seen[0].encode("utf-8") if seen is not None else b""
        digest = hashlib.sha256(old + b"\x00" + new).hexdigest()[:16]
        where = self._dir / "evidence" / f"{kind}-{digest}"
        try:
            where.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot write evidence to {where}: {exc}") from exc
        body: dict[str, Any] = {
            "format": EVIDENCE_FORMAT,
            "kind": kind,
            "message": message,
            "url": self._url,
            "origin": self._trust.origin,
            "detected_at": int(self._clock()),
        }
        if seen is not None:
            self._write(where / "old.checkpoint", old)
            body["old_size"] = seen[1].size
        self._write(where / "new.checkpoint", new)
        with contextlib.suppress(ElectlogError, UnicodeDecodeError):
            body["new_size"] = _parse(new.decode("utf-8")).size
        body.update(extra)
        self._write(where / "evidence.json", (json.dumps(body, indent=2) + "\n").encode())
        raise MonitorAlarm(kind, message, where)

    # ------------------------------------------------------------------ audit and report

    def _finish(
        self, new: int, files: int, nbytes: int, error: str | None, stop: Callable[[], bool]
    ) -> MonitorStatus:
        stored = self._log.latest_checkpoint()
        size = 0 if stored is None else stored.size
        verified: VerifiedCheckpoint | None = None
        if stored is not None:
            verified = verify_checkpoint_detailed(
                stored.note, self._trust.log_key, list(self._trust.witnesses), self._trust.quorum
            )
        previous = self._previous_status()
        report = None
        mode = "full in-progress replay of the mirror"
        if stored is not None and self._audited != size and not stop():
            report, mode = self._audit()
            self._audited = size
        verdict: str | None
        line: str | None
        if report is not None:
            verdict, line = report.verdict, report.verdict_line()
            findings = dict(report.counts.findings)
            seconds: float | None = report.run["elapsed_seconds"]
            audited = report.counts.entries
        else:
            verdict = previous.get("audit_verdict")
            line = previous.get("audit_verdict_line")
            findings = previous.get("audit_findings") or {}
            seconds = previous.get("audit_seconds")
            audited = previous.get("audit_entries") or 0
        audited_size = self._audited
        status = MonitorStatus(
            url=self._url,
            origin=self._trust.origin,
            round_ok=error is None,
            size=size,
            root=(self._log.root(size) if stored is not None else merkle.EMPTY_ROOT).hex(),
            checkpoint_note=None if stored is None else stored.note,
            cosigners=() if verified is None else verified.witnesses,
            checkpoint_time=(
                max((t for _, t in verified.witnesses), default=None) if verified else None
            ),
            new_entries=new,
            fetched_files=files,
            fetched_bytes=nbytes,
            audit_verdict=verdict,
            audit_verdict_line=line,
            audit_findings=findings,
            audit_entries=audited,
            audit_checkpoint_size=audited_size,
            audit_seconds=seconds,
            audit_mode=mode if report is not None else previous.get("audit_mode", mode),
            error=error,
        )
        if report is not None or error is None:
            self._write(
                self._dir / "status.json", (json.dumps(status.to_dict(), indent=2) + "\n").encode()
            )
        return status

    def _audit(self) -> tuple[Report, str]:
        """Audit the mirror, resuming from the audit state; a state the audit cannot use (a
        damaged file) is moved aside to ``audit/audit-state.bin.unusable`` and the mirror is
        audited in full, saving a new one. Returns the report and how it ran."""
        state = self._dir / "audit"

        def run() -> Report:
            mirror, trust, election = self._dir / "mirror.sqlite", self._trust, self._election
            return audit(
                mirror, trust, election=election, in_progress=True, jobs=self._jobs, state=state
            )

        note = ""
        try:
            report = run()
        except AuditStateError as exc:
            try:
                os.replace(state / STATE_FILE, state / (STATE_FILE + ".unusable"))
            except OSError as move:
                raise StorageError(f"cannot move the unusable audit state aside: {move}") from exc
            note = f" (the audit state was unusable and moved aside: {exc})"
            report = run()
        info, mode = report.run.get("state") or {}, "full in-progress replay of the mirror"
        if info.get("resumed_from"):
            mode = f"resumed from the audit state at size {info['resumed_from']['size']}, "
            mode += f"{info.get('entries_read')} new entries replayed"
        return report, mode + (f": {info['full_audit']}" if info.get("full_audit") else "") + note

    def _previous_status(self) -> dict[str, Any]:
        try:
            data = json.loads(read_small_file(self._dir / "status.json", _MAX_NOTE))
        except (OSError, NotASmallFileError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}
