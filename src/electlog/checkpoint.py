"""C2SP tlog-checkpoints and witness cosignatures.

This module implements two C2SP specifications byte for byte, on top of the signed notes of
:mod:`electlog.note`:

* `tlog-checkpoint <https://c2sp.org/tlog-checkpoint>`_: the note text ``origin``, decimal tree
  size, base64 root hash and optional extension lines (:class:`Checkpoint`).
* `tlog-cosignature <https://c2sp.org/tlog-cosignature>`_ (``cosignature/v1``): timestamped
  Ed25519 witness cosignatures, signature type ``0x04`` (:class:`WitnessSigner`,
  :class:`WitnessVerifier`, :func:`cosign`, :func:`verify_checkpoint`).

Signing and verification never read the clock or a random source: the witness timestamp is an
argument of :func:`cosign`, and only :meth:`WitnessSigner.generate` draws randomness (from
``os.urandom``) when no seed is given.

Every signed-note name (:class:`~electlog.note.NoteSigner`, :func:`~electlog.note.sign_note`,
:func:`~electlog.note.open_note`, ...) is importable from here too, as it was before the note
layer had a module of its own.

The normative description, with golden vectors, is section 4 of ``docs/format.md``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs

from electlog.errors import (
    CheckpointError,
    MalformedCheckpointError,
    MalformedNoteError,
    NoteError,
    UsageError,
)
from electlog.merkle import MAX_TREE_SIZE
from electlog.note import (
    _CONTROL_RE,
    _ED25519_SIG_SIZE,
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    MAX_NOTE_SIGNATURES,
    Note,
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    Verifier,
    _b64decode_canonical,
    _b64encode,
    _ed25519_verify,
    _parse_note,
    _SignerKey,
    _VerifierKey,
    key_id,
    note_key_id,
    open_note,
    parse_vkey,
    sign_note,
)

__all__ = [
    "ALG_COSIGNATURE_V1",
    "ALG_ED25519",
    "MAX_NOTE_SIGNATURES",
    "MAX_TREE_SIZE",
    "Checkpoint",
    "Note",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "VerifiedCheckpoint",
    "Verifier",
    "WitnessSigner",
    "WitnessVerifier",
    "cosign",
    "cosignature_message",
    "key_id",
    "note_key_id",
    "open_note",
    "parse_vkey",
    "sign_note",
    "verify_checkpoint",
    "verify_checkpoint_detailed",
]

_MAX_TIMESTAMP = 2**64 - 1
_COSIG_SIZE = 8 + _ED25519_SIG_SIZE
_DECIMAL_RE = re.compile("0|[1-9][0-9]*")


# --------------------------------------------------------------------------- cosignature keys


def cosignature_message(text: bytes, timestamp: int) -> bytes:
    """The message a cosignature/v1 signs: ``b"cosignature/v1\\ntime <timestamp>\\n" + text``,
    where ``text`` is the whole checkpoint note text and ``timestamp`` is in decimal."""
    return b"cosignature/v1\ntime %d\n" % timestamp + text


def _check_timestamp(timestamp: object) -> int:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise UsageError(f"timestamp must be an int, not {type(timestamp).__name__}")
    if not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise UsageError(f"timestamp {timestamp} is outside 0..2**64-1")
    return timestamp


class WitnessVerifier(_VerifierKey):
    """A cosignature/v1 (type ``0x04``) witness verifier key.

    Its ``verify(msg, sig)`` takes ``sig`` = 8-byte big-endian timestamp || 64-byte Ed25519
    signature of :func:`cosignature_message` ``(msg, timestamp)``.
    """

    __slots__ = ()

    _ALG = ALG_COSIGNATURE_V1
    _KIND = "witness"

    @classmethod
    def from_vkey(cls, vkey: str) -> WitnessVerifier:
        """Parse a witness verifier key.

        The canonical form is ``<name>+<hex8>+<base64(0x04 || public key)>``. For
        compatibility with witnesses configured by their plain Ed25519 note key (as
        transparency-dev's ``NewVerifierForCosignatureV1``), a ``0x01`` vkey is accepted too: its
        hex8 is checked as a ``0x01`` key id, and the witness key id is then computed with
        ``0x04``. :attr:`vkey` always returns the ``0x04`` form."""
        name, _, _, public_key = parse_vkey(vkey)
        return cls(name, public_key)

    def verify(self, msg: bytes, sig: bytes) -> bool:
        """Whether ``sig`` (72 bytes: timestamp || signature) is this witness's cosignature of
        the checkpoint text ``msg``."""
        if len(sig) != _COSIG_SIZE:
            return False
        timestamp = int.from_bytes(sig[:8], "big")
        return _ed25519_verify(self._key, cosignature_message(msg, timestamp), sig[8:])

    @staticmethod
    def timestamp_of(sig: bytes) -> int:
        """The timestamp carried by a 72-byte cosignature (the bytes after the key id)."""
        if len(sig) != _COSIG_SIZE:
            raise UsageError(f"a cosignature is {_COSIG_SIZE} bytes, not {len(sig)}")
        return int.from_bytes(sig[:8], "big")


class WitnessSigner(_SignerKey):
    """A cosignature/v1 (type ``0x04``) witness signer key. ``repr`` never shows the seed."""

    __slots__ = ()

    _ALG = ALG_COSIGNATURE_V1
    _SKEY_ALGS = (ALG_COSIGNATURE_V1, ALG_ED25519)

    def verifier(self) -> WitnessVerifier:
        """The matching :class:`WitnessVerifier`."""
        return WitnessVerifier(self._name, self._public_key)

    def sign(self, message: bytes, *, timestamp: int) -> bytes:
        """The 72-byte timestamped cosignature of the checkpoint text ``message``:
        8-byte big-endian ``timestamp`` || Ed25519 signature of
        :func:`cosignature_message` ``(message, timestamp)``."""
        timestamp = _check_timestamp(timestamp)
        signature = self._key.sign(cosignature_message(bytes(message), timestamp))
        return timestamp.to_bytes(8, "big") + signature


# --------------------------------------------------------------------------- checkpoints


def _line_problem(value: object, what: str) -> str | None:
    if not isinstance(value, str):
        return f"{what} must be str, not {type(value).__name__}"
    if value == "":
        return f"{what} is empty"
    if "\n" in value:
        return f"{what} contains a newline"
    bad = _CONTROL_RE.search(value)
    if bad is not None:
        return f"{what} contains control character U+{ord(bad.group()):04X}"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return f"{what} contains a lone surrogate"
    return None


def _validate_checkpoint(cp: Checkpoint) -> None:
    problem = _line_problem(cp.origin, "origin")
    if problem is not None:
        raise UsageError(f"checkpoint {problem}")
    if isinstance(cp.size, bool) or not isinstance(cp.size, int):
        raise UsageError(f"checkpoint size must be an int, not {type(cp.size).__name__}")
    if not 0 <= cp.size <= MAX_TREE_SIZE:
        raise UsageError(f"checkpoint size {cp.size} is outside 0..2**63-1")
    if not isinstance(cp.root, bytes) or len(cp.root) != 32:
        raise UsageError("checkpoint root must be 32 bytes")
    if not isinstance(cp.extensions, tuple):
        raise UsageError("checkpoint extensions must be a tuple of str")
    for i, ext in enumerate(cp.extensions):
        problem = _line_problem(ext, f"extension line {i}")
        if problem is not None:
            raise UsageError(f"checkpoint {problem}")


@attrs.frozen(kw_only=True)
class Checkpoint:
    """A C2SP tlog-checkpoint note text: origin, tree size, RFC 6962 root hash and optional
    extension lines. Constructing one with invalid fields raises
    :class:`~electlog.errors.UsageError`."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        _validate_checkpoint(self)

    def to_text(self) -> str:
        """``origin\\nsize\\nbase64(root)\\n`` followed by ``extension\\n`` for each extension."""
        head = f"{self.origin}\n{self.size}\n{_b64encode(self.root)}\n"
        return head + "".join(f"{ext}\n" for ext in self.extensions)

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Parse a checkpoint note text strictly.

        Raises :class:`~electlog.errors.CheckpointError` on: a missing final newline, fewer
        than three lines, an empty line (origin, size, root or extension), a size that is not
        ASCII decimal without leading zeros or exceeds :data:`MAX_TREE_SIZE`, a root that is not
        the canonical padded standard base64 of 32 bytes, or a control character."""
        if not isinstance(text, str):
            raise UsageError(f"checkpoint text must be str, not {type(text).__name__}")
        if not text.endswith("\n"):
            raise MalformedCheckpointError("malformed checkpoint: text does not end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedCheckpointError(
                f"malformed checkpoint: {len(lines)} line(s), need origin, size and root"
            )
        labels = ["line 1 (origin)", "line 2 (size)", "line 3 (root)"]
        for i, line in enumerate(lines):
            label = labels[i] if i < 3 else f"line {i + 1} (extension)"
            problem = _line_problem(line, label)
            if problem is not None:
                raise MalformedCheckpointError(f"malformed checkpoint: {problem}")
        origin, size_text, root_text = lines[0], lines[1], lines[2]
        if _DECIMAL_RE.fullmatch(size_text) is None:
            raise MalformedCheckpointError(
                f"malformed checkpoint: line 2 (size) {size_text[:40]!r} is not a decimal "
                "number without sign or leading zeros"
            )
        # the length test keeps int() away from huge digit strings
        if len(size_text) > 19 or int(size_text) > MAX_TREE_SIZE:
            raise MalformedCheckpointError(
                f"malformed checkpoint: line 2 (size) {size_text[:40]} exceeds 2**63-1"
            )
        size = int(size_text)
        root = _b64decode_canonical(root_text)
        if root is None or len(root) != 32:
            raise MalformedCheckpointError(
                "malformed checkpoint: line 3 (root) is not the padded standard base64 of 32 bytes"
            )
        return cls(origin=origin, size=size, root=root, extensions=tuple(lines[3:]))


@attrs.frozen(kw_only=True)
class VerifiedCheckpoint:
    """The result of :func:`verify_checkpoint_detailed`: the checkpoint and the witnesses whose
    cosignatures verified, as ``(name, timestamp)`` pairs in order of appearance (one per
    witness)."""

    checkpoint: Checkpoint
    witnesses: tuple[tuple[str, int], ...]


def cosign(
    note: str,
    witness: WitnessSigner,
    timestamp: int,
    *,
    log_verifier: NoteVerifier | None = None,
) -> str:
    """Add ``witness``'s cosignature/v1 line, made at ``timestamp`` (seconds since the UNIX
    epoch, injected by the caller), to the signed checkpoint ``note``.

    The note must be well-formed (:class:`~electlog.errors.NoteError` otherwise) and its text a
    valid checkpoint (:class:`~electlog.errors.CheckpointError`). If ``log_verifier`` is given,
    the log signature is verified first with :func:`verify_checkpoint`. An earlier cosignature
    line by the same witness key is dropped; the new line is appended last.
    """
    if not isinstance(witness, WitnessSigner):
        raise UsageError(f"{witness!r} is not a WitnessSigner")
    timestamp = _check_timestamp(timestamp)
    if log_verifier is not None:
        verify_checkpoint(note, log_verifier)
    text, lines = _parse_note(note)
    Checkpoint.from_text(text)
    kept = [
        item.line + "\n"
        for item in lines
        if (item.sig.name, item.sig.key_id) != (witness.name, witness.key_id)
    ]
    if len(kept) >= MAX_NOTE_SIGNATURES:
        raise NoteError(f"note already has {len(kept)} signature lines; cannot add another")
    new = NoteSignature(
        name=witness.name,
        key_id=witness.key_id,
        signature_bytes=witness.sign(text.encode("utf-8"), timestamp=timestamp),
    )
    return text + "\n" + "".join(kept) + new.to_line()


def verify_checkpoint_detailed(
    note: str | bytes,
    log_verifier: NoteVerifier,
    witnesses: Sequence[WitnessVerifier] = (),
    quorum: int = 0,
) -> VerifiedCheckpoint:
    """Verify a signed, possibly cosigned, checkpoint note under a witness policy.

    Accepts the note only if: it opens (:func:`open_note`) with ``log_verifier`` and the
    ``witnesses`` as known keys (so every signature line by any of them verifies); it carries a
    valid signature by ``log_verifier``; its text is a valid :class:`Checkpoint` whose origin
    equals ``log_verifier.name`` (the C2SP convention: the log's key name is its origin); and
    at least ``quorum`` distinct witnesses of ``witnesses`` cosigned it. Cosignatures by
    unknown witnesses are ignored; several cosignatures by one witness count once. Timestamps
    are reported, not judged: freshness is the caller's policy.

    Identical entries in ``witnesses`` are merged. Raises :class:`~electlog.errors.UsageError`
    for an unusable policy (quorum negative or above the number of distinct witnesses, two
    witnesses with the same name and key id or the same public key) and
    :class:`~electlog.errors.CheckpointError` for every verification failure.
    """
    if not isinstance(log_verifier, NoteVerifier):
        raise UsageError(f"log_verifier must be a NoteVerifier, not {type(log_verifier).__name__}")
    if isinstance(quorum, bool) or not isinstance(quorum, int) or quorum < 0:
        raise UsageError(f"quorum must be a non-negative int, not {quorum!r}")
    if isinstance(witnesses, str | bytes) or not isinstance(witnesses, Sequence):
        raise UsageError("witnesses must be a sequence of WitnessVerifier")
    unique: dict[tuple[str, int], WitnessVerifier] = {}
    by_public: dict[bytes, WitnessVerifier] = {}
    for w in witnesses:
        if not isinstance(w, WitnessVerifier):
            raise UsageError(f"{w!r} is not a WitnessVerifier")
        k = (w.name, w.key_id)
        if k in unique:
            if unique[k] != w:
                raise UsageError(f"ambiguous witness key {w.name}+{w.key_id:08x}")
            continue
        other = by_public.get(w.public_key)
        if other is not None:
            raise UsageError(f"witnesses {other.name!r} and {w.name!r} have the same public key")
        unique[k] = w
        by_public[w.public_key] = w
    if quorum > len(unique):
        raise UsageError(f"quorum {quorum} exceeds the {len(unique)} distinct witnesses given")
    log_key = (log_verifier.name, log_verifier.key_id)
    if log_key in unique:
        raise UsageError(
            f"witness key {log_verifier.name}+{log_verifier.key_id:08x} is the log key"
        )
    try:
        opened = open_note(note, [log_verifier, *unique.values()])
    except NoteError as exc:
        kind = MalformedCheckpointError if isinstance(exc, MalformedNoteError) else CheckpointError
        raise kind(f"checkpoint note rejected: {exc}") from exc
    if not any((s.name, s.key_id) == log_key for s in opened.sigs):
        raise CheckpointError(
            f"checkpoint is not signed by the log key {log_verifier.name}+{log_verifier.key_id:08x}"
        )
    checkpoint = Checkpoint.from_text(opened.text)
    if checkpoint.origin != log_verifier.name:
        raise CheckpointError(
            f"checkpoint origin {checkpoint.origin!r} does not match the log key name "
            f"{log_verifier.name!r}"
        )
    cosigned = tuple(
        (s.name, WitnessVerifier.timestamp_of(s.signature_bytes))
        for s in opened.sigs
        if (s.name, s.key_id) in unique
    )
    if len(cosigned) < quorum:
        names = ", ".join(name for name, _ in cosigned) or "none"
        raise CheckpointError(
            f"witness quorum not met: {len(cosigned)} of {quorum} required cosignatures "
            f"verified (cosigned by: {names})"
        )
    return VerifiedCheckpoint(checkpoint=checkpoint, witnesses=cosigned)


def verify_checkpoint(
    note: str | bytes,
    log_verifier: NoteVerifier,
    witnesses: Sequence[WitnessVerifier] = (),
    quorum: int = 0,
) -> Checkpoint:
    """Like :func:`verify_checkpoint_detailed`, returning only the :class:`Checkpoint`."""
    return verify_checkpoint_detailed(note, log_verifier, witnesses, quorum).checkpoint
