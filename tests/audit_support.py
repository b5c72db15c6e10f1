"""Helpers for the auditor's tests: deterministic generic logs with checkpoints and witnesses,
and re-signing tools for tamper tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from electlog import Author, Log, NoteSigner, SigningKey, WitnessSigner, cosign
from electlog.audit import BytesSource, Trust
from electlog.checkpoint import Checkpoint, sign_note
from electlog.codec import decode_map, encode
from electlog.events import SIGNATURE_CONTEXT, Entry, Statement

T0 = 1_790_000_000_000_000


def seed(n: int) -> bytes:
    return bytes([n]) * 32


def witness_time(entries: list[bytes], size: int, delay: int = 30) -> int:
    """An honest witness timestamp (seconds) for a checkpoint of the first ``size`` of
    ``entries``: ``delay`` seconds after the latest claimed time among them, but no later than
    the earliest claimed time after them plus 870 s (the auditor binds claimed times to the
    witnesses' timestamps with a tolerance of 900 s)."""
    times = [Entry.from_bytes(d, verify=False).statement.time // 1_000_000 for d in entries]
    stamp = max(times[:size], default=0) + delay
    if times[size:]:
        stamp = min(stamp, min(times[size:]) + 870)
    return stamp


@attrs.define
class GenericLog:
    """A generic (non-election) log: ``authors`` sign ``demo.note`` entries round-robin."""

    origin: str
    log: Log
    authority: SigningKey
    authors: list[Author]
    log_signer: NoteSigner
    witnesses: list[WitnessSigner]
    trust: Trust
    notes: list[str]

    @property
    def entries(self) -> list[bytes]:
        return [self.log.get_bytes(i) for i in range(len(self.log))]

    def source(
        self, entries: list[bytes] | None = None, notes: list[str] | None = None
    ) -> BytesSource:
        return BytesSource(
            self.entries if entries is None else entries,
            self.notes if notes is None else notes,
            origin=self.origin,
        )

    def signed_note(self, size: int, root: bytes, *, cosigners: int | None = None) -> str:
        """A checkpoint note for (size, root) signed by the log key and cosigned."""
        text = Checkpoint(origin=self.origin, size=size, root=root).to_text()
        note = sign_note(text, [self.log_signer])
        for w in self.witnesses[: len(self.witnesses) if cosigners is None else cosigners]:
            note = cosign(note, w, 1_790_000_000)
        return note


def build_generic(
    *,
    origin: str = "example.org/audit-generic",
    n_authors: int = 3,
    rounds: int = 20,
    checkpoint_every: int = 10,
    n_witnesses: int = 2,
    quorum: int = 2,
) -> GenericLog:
    log = Log(origin)
    authority = SigningKey.from_seed(seed(1))
    authors = [Author(SigningKey.from_seed(seed(10 + i)), origin) for i in range(n_authors)]
    log_signer = NoteSigner.generate(origin, rng_seed=seed(2))
    witnesses = [
        WitnessSigner.generate(f"witness{i}.example", rng_seed=seed(3 + i))
        for i in range(n_witnesses)
    ]
    notes: list[str] = []
    t = T0
    for r in range(rounds):
        batch = []
        for a in authors:
            t += 1
            batch.append(a.sign("demo.note", {"round": r, "text": f"note {r}"}, time=t))
        log.append_many(batch)
        if (r + 1) % checkpoint_every == 0:
            text = Checkpoint(origin=origin, size=len(log), root=log.root()).to_text()
            note = sign_note(text, [log_signer])
            for w in witnesses:
                note = cosign(note, w, 1_790_000_000 + r)
            log.add_checkpoint(note)
            notes.append(note)
    trust = Trust.create(
        origin=origin,
        authority_key=authority.public,
        log_key=log_signer.vkey,
        witnesses=[w.vkey for w in witnesses],
        quorum=quorum,
    )
    return GenericLog(
        origin=origin,
        log=log,
        authority=authority,
        authors=authors,
        log_signer=log_signer,
        witnesses=witnesses,
        trust=trust,
        notes=notes,
    )


def resign(data: bytes, key: SigningKey, **changes: Any) -> bytes:
    """Entry ``data`` with statement fields changed (``body=...``, ``log=...``, ``prev=...``)
    and signed by ``key`` (whose key id becomes the author unless ``author`` is given)."""
    entry = Entry.from_bytes(data, verify=False)
    st = entry.statement
    fields = {
        "log": st.log,
        "type": st.type,
        "schema": st.schema,
        "author": key.key_id,
        "seq": st.seq,
        "prev": st.prev,
        "time": st.time,
        "body": st.body,
    }
    fields.update(changes)
    return Entry.create(Statement(**fields), key).data


def rechain(entries: list[bytes], start: int, keys: dict[bytes, SigningKey]) -> list[bytes]:
    """Re-sign every entry from ``start`` on whose author has a key in ``keys`` so that its
    author chain (seq, prev) is continuous again over ``entries``."""
    out = list(entries)
    heads: dict[bytes, tuple[int, bytes]] = {}
    for i, original in enumerate(out):
        e = Entry.from_bytes(original, verify=False)
        author = e.statement.author
        want_seq, want_prev = heads.get(author, (0, bytes(32)))
        want_seq += 1
        if (
            i >= start
            and author in keys
            and (e.statement.seq != want_seq or e.statement.prev != want_prev)
        ):
            out[i] = resign(original, keys[author], seq=want_seq, prev=want_prev)
            e = Entry.from_bytes(out[i], verify=False)
        heads[author] = (e.statement.seq, e.leaf_hash)
    return out


def body_of(data: bytes) -> dict[str, Any]:
    return Entry.from_bytes(data, verify=False).statement.body


def flip(data: bytes, offset: int, mask: int = 0x01) -> bytes:
    b = bytearray(data)
    b[offset] ^= mask
    return bytes(b)


__all__ = [
    "SIGNATURE_CONTEXT",
    "T0",
    "ElectionLog",
    "GenericLog",
    "body_of",
    "build_election",
    "build_generic",
    "decode_map",
    "encode",
    "flip",
    "rechain",
    "resign",
    "seed",
    "witness_time",
    "write_bundle",
]


@attrs.define
class ElectionLog:
    """The small scenario election with checkpoints (log key, two witnesses, quorum 2)."""

    origin: str
    log: Log
    keys: Any  # electlog.election.scenario.ScenarioKeys
    log_signer: NoteSigner
    witnesses: list[WitnessSigner]
    trust: Trust
    notes: list[str]
    entries: list[bytes]

    def note(
        self,
        size: int,
        root: bytes | None = None,
        *,
        cosigners: int | None = None,
        cut: bool = False,
    ) -> str:
        """A checkpoint note of the first ``size`` entries (or of ``root``), log-signed and
        cosigned by the first ``cosigners`` witnesses (default: all). ``cut``: the note of a
        copy cut at ``size`` (its witness time ignores the entries after it)."""
        text = Checkpoint(
            origin=self.origin, size=size, root=self.log.root(size) if root is None else root
        ).to_text()
        note = sign_note(text, [self.log_signer])
        stamp = witness_time(self.entries[:size] if cut else self.entries, size)
        for w in self.witnesses[: len(self.witnesses) if cosigners is None else cosigners]:
            note = cosign(note, w, stamp)
        return note

    def source(
        self, entries: list[bytes] | None = None, notes: list[str] | None = None
    ) -> BytesSource:
        return BytesSource(
            self.entries if entries is None else entries,
            self.notes if notes is None else notes,
            origin=self.origin,
        )

    def key_map(self) -> dict[bytes, SigningKey]:
        names = ("authority", "registrar", "committee", "vetting", "polling", "counting")
        return {getattr(self.keys, n).key_id: getattr(self.keys, n) for n in names}

    def index_of(self, etype: str, nth: int = 0, **body: Any) -> int:
        """Index of the ``nth`` entry of type ``etype`` whose body has the given values."""
        found = 0
        for i, data in enumerate(self.entries):
            st = Entry.from_bytes(data, verify=False).statement
            if st.type == etype and all(st.body.get(k) == v for k, v in body.items()):
                if found == nth:
                    return i
                found += 1
        raise LookupError(f"no entry {etype} {body} #{nth}")


def build_election(seed_value: int = 0, *, origin: str = "") -> ElectionLog:
    from electlog.election.scenario import build_small_election

    log, keys, _ = build_small_election(seed_value, origin=origin)
    log_signer = NoteSigner.generate(log.origin, rng_seed=seed(40 + seed_value))
    witnesses = [
        WitnessSigner.generate(f"witness{i}.example", rng_seed=seed(50 + i)) for i in range(2)
    ]
    trust = Trust.create(
        origin=log.origin,
        authority_key=keys.authority.public,
        log_key=log_signer.vkey,
        witnesses=[w.vkey for w in witnesses],
        quorum=2,
    )
    el = ElectionLog(
        origin=log.origin,
        log=log,
        keys=keys,
        log_signer=log_signer,
        witnesses=witnesses,
        trust=trust,
        notes=[],
        entries=[log.get_bytes(i) for i in range(len(log))],
    )
    # three checkpoints, each cosigned at an honest witness time (see witness_time)
    el.notes = [el.note(size) for size in (80, 140, len(log))]
    return el


def write_bundle(
    path: Any,
    origin: str,
    entries: list[bytes],
    notes: list[str],
    *,
    header_entries: int | None = None,
    header_checkpoints: int | None = None,
) -> bytes:
    """Write a bundle exactly as docs/format.md §5 lays it out (an independent writer, so tamper
    tests can make an attacker's bundle: consistent CRCs and trailer, any content). Returns the
    file's bytes."""
    import hashlib
    import struct
    import zlib

    def record(payload: bytes) -> bytes:
        head = struct.pack(">I", len(payload))
        return head + payload + struct.pack(">I", zlib.crc32(head + payload))

    header = encode(
        {
            "checkpoints": len(notes) if header_checkpoints is None else header_checkpoints,
            "entries": len(entries) if header_entries is None else header_entries,
            "origin": origin,
            "v": 1,
        }
    )
    body = bytearray(b"ELECTLOG-BUNDLE\n")
    body += record(header)
    for data in entries:
        body += record(data)
    body += b"\x00\x00\x00\x00"
    for note in notes:
        body += record(note.encode("utf-8"))
    body += b"\x00\x00\x00\x00"
    body += hashlib.sha256(body).digest()
    from pathlib import Path

    Path(path).write_bytes(bytes(body))
    return bytes(body)


def write_sqlite_store(path: Path, glog: GenericLog | ElectionLog) -> Path:
    """A SQLite store at ``path`` holding ``glog``'s entries and checkpoints (closed)."""
    from electlog.store import SQLiteStore

    with SQLiteStore(path, origin=glog.origin) as store:
        log = Log(store)
        log.append_many(glog.entries)
        for note in glog.notes:
            log.add_checkpoint(note)
    return path


def copy_sqlite_store(source: Path, path: Path) -> Path:
    """A copy of a closed SQLite store at ``path`` (database file and checkpoint sidecar)."""
    import shutil

    from electlog.store.sqlite import SIDECAR_SUFFIX

    shutil.copy(source, path)
    shutil.copy(str(source) + SIDECAR_SUFFIX, str(path) + SIDECAR_SUFFIX)
    return path
