"""The witness itself (C2SP tlog-witness v1.0.0 ``add-checkpoint``), without HTTP.

:class:`Witness` turns a request body into a :class:`WitnessResponse` (status, content type,
body); the ASGI app in :mod:`electlog.net._server` only moves bytes. Its state, one row per log
origin holding the latest checkpoint it cosigned, lives in SQLite (WAL, ``synchronous=FULL``):
the check of the old size, the consistency check against the stored root and the update are one
``BEGIN IMMEDIATE`` transaction (a compare-and-swap on the stored size and root), committed and
fsynced before the cosignature leaves, so no two requests (threads or processes) both move from
the same state and no restart or crash forgets a cosigned checkpoint. The witness therefore never
cosigns two different roots for one size of a log.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import attrs

from ..checkpoint import Checkpoint, WitnessSigner, WitnessVerifier
from ..errors import (
    CheckpointError,
    ConsistencyProofError,
    NoteError,
    StorageError,
    UsageError,
    WitnessError,
)
from ..merkle import MAX_TREE_SIZE, verify_consistency
from ..note import NoteSignature, NoteVerifier, _b64decode_canonical, _parse_note, open_note
from ..store._integrity import checkpoint_text

__all__ = [
    "CONTENT_TYPE_SIZE",
    "MAX_PROOF_LINES",
    "MAX_REQUEST_BYTES",
    "Witness",
    "WitnessResponse",
    "system_clock",
]

_log = logging.getLogger("electlog.witness")

CONTENT_TYPE_SIZE = "text/x.tlog.size"
"""Content type of a 409 answer whose body is the size the witness holds (c2sp.org/tlog-witness)."""

MAX_PROOF_LINES = 63
"""At most this many consistency proof lines in a request (c2sp.org/tlog-witness)."""

MAX_REQUEST_BYTES = 64 * 1024
"""Default cap on a request body: 63 proof lines and a checkpoint with 100 signature lines take
well under 20 KiB."""

_MAX_TIMESTAMP = 2**63 - 1  # c2sp.org/tlog-cosignature: a timestamp MUST NOT exceed 2^63 - 1
_EMPTY_ROOT = hashlib.sha256(b"").digest()
_OLD_RE = re.compile("old (0|[1-9][0-9]{0,18})")
_EVIDENCE_PER_ORIGIN = 1000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS latest (
    origin TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    note_text TEXT NOT NULL,
    cosignature TEXT NOT NULL,
    timestamp INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS evidence (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL,
    received INTEGER NOT NULL,
    status INTEGER NOT NULL,
    reason TEXT NOT NULL,
    body BLOB NOT NULL
);
"""


def system_clock() -> int:
    """Seconds since the UNIX epoch from the system clock: a witness's default clock."""
    return int(time.time())


@attrs.frozen(kw_only=True)
class WitnessResponse:
    """The answer to one ``add-checkpoint`` request: HTTP status, content type and body."""

    status: int
    content_type: str
    body: bytes

    @classmethod
    def text(cls, status: int, message: str) -> WitnessResponse:
        return cls(status=status, content_type="text/plain; charset=utf-8", body=message.encode())


@attrs.frozen(kw_only=True)
class _Request:
    old_size: int
    proof: tuple[bytes, ...]
    note: str
    text: str
    checkpoint: Checkpoint


class _Malformed(Exception):
    """Internal: the request body is not a well-formed add-checkpoint request (400)."""


@attrs.frozen(kw_only=True)
class _Held:
    size: int
    root: bytes
    timestamp: int


def _parse_request(body: bytes) -> _Request:
    try:
        data = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Malformed(f"body is not UTF-8 (byte offset {exc.start})") from None
    first, sep, rest = data.partition("\n")
    if not sep:
        raise _Malformed("no old size line")
    match = _OLD_RE.fullmatch(first)
    if match is None or int(match.group(1)) > MAX_TREE_SIZE:
        raise _Malformed("the first line is not 'old <size>' in decimal without leading zeros")
    old_size = int(match.group(1))
    proof: list[bytes] = []
    while True:
        line, sep, rest = rest.partition("\n")
        if not sep:
            raise _Malformed("no empty line before the checkpoint")
        if line == "":
            break
        if len(proof) == MAX_PROOF_LINES:
            raise _Malformed(f"more than {MAX_PROOF_LINES} consistency proof lines")
        raw = _b64decode_canonical(line)
        if raw is None or len(raw) != 32:
            raise _Malformed(f"proof line {len(proof) + 1} is not the base64 of a 32-byte hash")
        proof.append(raw)
    try:
        text, _ = _parse_note(rest)
        checkpoint = Checkpoint.from_text(text)
    except (NoteError, CheckpointError) as exc:
        raise _Malformed(str(exc)) from None
    return _Request(
        old_size=old_size, proof=tuple(proof), note=rest, text=text, checkpoint=checkpoint
    )


class Witness:
    """A C2SP tlog-witness over a SQLite state file.

    ``logs`` maps each log origin the witness follows to the note verifier key(s) it trusts for
    that origin; checkpoints of other origins are refused (404). ``clock`` returns the current
    time in seconds since the UNIX epoch for cosignature timestamps (injectable for tests and
    simulations; the system clock by default). A witness never hands out a timestamp older than
    one it already used for the same log.

    The state file is bound to the witness key: opening it with another key raises
    :class:`~electlog.errors.UsageError` (another key's history says nothing about what this
    key cosigned). Safe to call from several threads; each thread gets its own connection.
    """

    def __init__(
        self,
        signer: WitnessSigner,
        state: str | Path,
        logs: Mapping[str, Sequence[NoteVerifier]],
        *,
        clock: Callable[[], int] = system_clock,
    ) -> None:
        if not isinstance(signer, WitnessSigner):
            raise UsageError("Witness needs a WitnessSigner (the witness's own key)")
        if not callable(clock):
            raise UsageError("clock must be a callable returning seconds since the epoch")
        self._signer = signer
        self._clock = clock
        self._logs: dict[str, tuple[NoteVerifier, ...]] = {}
        for origin, given in logs.items():
            checked = (given,) if isinstance(given, NoteVerifier) else tuple(given)
            if not checked or not all(isinstance(v, NoteVerifier) for v in checked):
                raise UsageError(f"log {origin!r}: give one or more NoteVerifier keys")
            if len({(v.name, v.key_id) for v in checked}) != len(checked):
                raise UsageError(f"log {origin!r}: a verifier key is listed twice")
            self._logs[origin] = checked
        if not self._logs:
            raise UsageError("a witness needs at least one log to follow")
        self._path = Path(state)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._setup()

    def __repr__(self) -> str:
        return f"Witness({self._signer.vkey!r}, state={str(self._path)!r}, logs={len(self._logs)})"

    @property
    def verifier(self) -> WitnessVerifier:
        """The witness's public key (cosignature/v1)."""
        return self._signer.verifier()

    @property
    def origins(self) -> tuple[str, ...]:
        """The origins of the logs this witness follows."""
        return tuple(self._logs)

    # ------------------------------------------------------------------ storage

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self._closed:
            raise UsageError("the witness is closed")
        try:
            conn = sqlite3.connect(self._path, isolation_level=None, timeout=30.0)
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open witness state {self._path}: {exc}") from None
        self._local.conn = conn
        with self._lock:
            self._connections.append(conn)
        return conn

    def _setup(self) -> None:
        conn = self._connect()
        vkey = self._signer.vkey
        try:
            conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            row = conn.execute("SELECT value FROM meta WHERE key = 'witness_vkey'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta (key, value) VALUES ('witness_vkey', ?)", (vkey,))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StorageError(f"cannot set up witness state {self._path}: {exc}") from None
        if row is not None and row[0] != vkey:
            raise UsageError(
                f"witness state {self._path} belongs to witness key {row[0]!r}, not {vkey!r}"
            )

    def close(self) -> None:
        """Close every connection (the state is durable after each answer anyway)."""
        with self._lock:
            self._closed = True
            for conn in self._connections:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._connections.clear()
        self._local = threading.local()

    def __enter__(self) -> Witness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def latest(self, origin: str) -> tuple[int, bytes] | None:
        """The size and root of the latest checkpoint cosigned for ``origin``, or None."""
        try:
            row = (
                self._connect()
                .execute("SELECT size, root FROM latest WHERE origin = ?", (origin,))
                .fetchone()
            )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot read witness state: {exc}") from None
        return None if row is None else (int(row[0]), bytes(row[1]))

    def latest_note(self, origin: str) -> str | None:
        """The latest checkpoint cosigned for ``origin`` with this witness's cosignature (the
        log's signature lines are not kept), or None."""
        try:
            row = (
                self._connect()
                .execute("SELECT note_text, cosignature FROM latest WHERE origin = ?", (origin,))
                .fetchone()
            )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot read witness state: {exc}") from None
        return None if row is None else f"{row[0]}\n{row[1]}"

    def evidence(self, origin: str) -> list[tuple[int, str, bytes]]:
        """Requests for ``origin`` with a valid log signature that the witness refused because
        they conflict with what it cosigned (possible proof of a fork): ``(status, reason,
        request body)``, oldest first, at most the last 1000."""
        try:
            rows = (
                self._connect()
                .execute(
                    "SELECT status, reason, body FROM evidence WHERE origin = ? ORDER BY id",
                    (origin,),
                )
                .fetchall()
            )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot read witness state: {exc}") from None
        return [(int(r[0]), str(r[1]), bytes(r[2])) for r in rows]

    def _keep_evidence(self, origin: str, status: int, reason: str, body: bytes) -> None:
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO evidence (origin, received, status, reason, body) "
                "VALUES (?, ?, ?, ?, ?)",
                (origin, self._now(), status, reason, body),
            )
            conn.execute(
                "DELETE FROM evidence WHERE origin = ? AND id NOT IN "
                "(SELECT id FROM evidence WHERE origin = ? ORDER BY id DESC LIMIT ?)",
                (origin, origin, _EVIDENCE_PER_ORIGIN),
            )
            conn.execute("COMMIT")
        except (sqlite3.Error, UsageError):
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            _log.exception("could not keep evidence for %r", origin)

    # ------------------------------------------------------------------ add-checkpoint

    def handle_add_checkpoint(self, body: bytes) -> WitnessResponse:
        """Handle one ``add-checkpoint`` request body and answer as c2sp.org/tlog-witness says:

        * 400 when the body is malformed or the old size exceeds the checkpoint's size;
        * 404 when the checkpoint's origin is not a log this witness follows;
        * 403 when no signature by a trusted key for that origin verifies (or one by a trusted
          key is invalid);
        * 409, content type ``text/x.tlog.size``, body ``<size>\\n``, when the old size is not
          the size of the latest checkpoint it cosigned for the origin (0 if none);
        * 409 (plain text) when the old size equals the checkpoint's size but the root differs
          from the one it cosigned at that size;
        * 422 when the consistency proof from its latest checkpoint does not verify;
        * 200 with its cosignature line after the new state is committed and fsynced.

        A storage failure raises :class:`~electlog.errors.StorageError` (nothing is cosigned).
        """
        if not isinstance(body, bytes | bytearray | memoryview):
            raise UsageError("handle_add_checkpoint() takes the request body as bytes")
        body = bytes(body)
        try:
            req = _parse_request(body)
        except _Malformed as exc:
            _log.info("add-checkpoint malformed (%d bytes) -> 400", len(body))
            return WitnessResponse.text(400, f"malformed add-checkpoint request: {exc}\n")
        response = self._decide(req, body)
        _log.info(
            "add-checkpoint origin=%r old=%d size=%d -> %d",
            req.checkpoint.origin[:200],
            req.old_size,
            req.checkpoint.size,
            response.status,
        )
        return response

    def add_checkpoint(self, note: str, prove: Callable[[int, int], Sequence[bytes]]) -> str:
        """Cosign ``note`` in this process, exactly as an ``add-checkpoint`` request from the
        size this witness holds would (same checks, same state): the witness's cosignature line
        (``— <name> <base64>\\n``). ``prove(size1, size2)`` gives the consistency proof (pass
        :meth:`electlog.Log.consistency_proof`). This makes a :class:`Witness` a
        :class:`electlog.log.Cosigner`, so tests, fixtures and simulations publish a witnessed
        checkpoint with one :meth:`electlog.Log.publish_checkpoint` call and no HTTP. A refusal
        raises :class:`~electlog.errors.WitnessError` with the status the HTTP answer would
        have."""
        if not isinstance(note, str):
            raise UsageError("add_checkpoint() takes the signed checkpoint note as text")
        try:
            cp = Checkpoint.from_text(checkpoint_text(note))
        except (NoteError, CheckpointError) as exc:
            raise UsageError(f"not a signed checkpoint note: {exc}") from None
        held = self.latest(cp.origin)
        old = 0 if held is None else held[0]
        proof = [] if old in (0, cp.size) or old > cp.size else list(prove(old, cp.size))
        lines = b"".join(base64.b64encode(h) + b"\n" for h in proof)
        body = f"old {old}\n".encode() + lines + b"\n" + note.encode("utf-8")
        response = self.handle_add_checkpoint(body)
        if response.status != 200:
            reason = response.body.decode("utf-8", "replace").strip()
            raise WitnessError(self._signer.name, reason, status=response.status)
        return response.body.decode("utf-8")

    def _decide(self, req: _Request, body: bytes) -> WitnessResponse:
        cp = req.checkpoint
        verifiers = self._logs.get(cp.origin)
        if verifiers is None:
            return WitnessResponse.text(404, "unknown log origin\n")
        try:
            open_note(req.note, list(verifiers))
        except NoteError:
            return WitnessResponse.text(403, "no valid signature by a key trusted for this log\n")
        if req.old_size > cp.size:
            return WitnessResponse.text(400, "old size is larger than the checkpoint size\n")
        response, evidence = self._cas(req)
        if evidence is not None:
            self._keep_evidence(cp.origin, response.status, evidence, body)
        return response

    def _cas(self, req: _Request) -> tuple[WitnessResponse, str | None]:
        """The compare-and-swap: one immediate transaction; returns the answer and, for a
        refusal that may show a fork, the reason to keep the request as evidence."""
        cp = req.checkpoint
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    "SELECT size, root, timestamp FROM latest WHERE origin = ?", (cp.origin,)
                ).fetchone()
                held = (
                    None
                    if row is None
                    else _Held(size=int(row[0]), root=bytes(row[1]), timestamp=int(row[2]))
                )
                refusal = _check(req, held)
                if refusal is not None:
                    conn.execute("ROLLBACK")
                    return refusal
                timestamp = max(self._now(), held.timestamp if held is not None else 0)
                sig = NoteSignature(
                    name=self._signer.name,
                    key_id=self._signer.key_id,
                    signature_bytes=self._signer.sign(req.text.encode(), timestamp=timestamp),
                )
                line = sig.to_line()
                values = (cp.size, cp.root, req.text, line, timestamp, cp.origin)
                if held is None:
                    cur = conn.execute(
                        "INSERT INTO latest (size, root, note_text, cosignature, timestamp, origin)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        values,
                    )
                else:
                    cur = conn.execute(
                        "UPDATE latest SET size = ?, root = ?, note_text = ?, cosignature = ?, "
                        "timestamp = ? WHERE origin = ? AND size = ? AND root = ?",
                        (*values, held.size, held.root),
                    )
                if cur.rowcount != 1:  # pragma: no cover - the immediate lock prevents it
                    conn.execute("ROLLBACK")
                    return WitnessResponse.text(503, "state changed concurrently; retry\n"), None
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StorageError(f"witness state update failed: {exc}") from None
        return WitnessResponse(
            status=200, content_type="text/plain; charset=utf-8", body=line.encode()
        ), None

    def _now(self) -> int:
        now = self._clock()
        if isinstance(now, bool) or not isinstance(now, int) or not 0 <= now <= _MAX_TIMESTAMP:
            raise UsageError(f"the witness clock returned {now!r}, not seconds in 0..2**63-1")
        return now


def _check(req: _Request, held: _Held | None) -> tuple[WitnessResponse, str | None] | None:
    """Why the request may not move the witness from ``held`` (None: it may)."""
    cp = req.checkpoint
    held_size = 0 if held is None else held.size
    if req.old_size != held_size:
        body = f"{held_size}\n".encode()
        return WitnessResponse(status=409, content_type=CONTENT_TYPE_SIZE, body=body), None
    if held is None:
        # nothing cosigned yet: old size 0, and a proof from the empty tree is always empty
        if req.proof:
            return WitnessResponse.text(422, "a proof from size 0 must be empty\n"), None
        if cp.size == 0 and cp.root != _EMPTY_ROOT:
            reason = "a checkpoint of size 0 must have the empty tree's root"
            return WitnessResponse.text(422, reason + "\n"), None
        return None
    if cp.size == held.size:
        if cp.root != held.root:
            reason = "a different root was cosigned at this size"
            return WitnessResponse.text(409, reason + "\n"), reason
        if req.proof:
            return WitnessResponse.text(422, "a proof between equal sizes must be empty\n"), None
        return None
    try:
        verify_consistency(held.size, cp.size, list(req.proof), held.root, cp.root)
    except ConsistencyProofError:
        reason = f"consistency proof from size {held.size} does not verify"
        return WitnessResponse.text(422, reason + "\n"), reason
    return None
