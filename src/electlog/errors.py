"""The electlog error hierarchy.

Every error raised by a public electlog call is an :class:`ElectlogError`. No foreign exception
(msgpack, cryptography, sqlite3, psycopg, OSError) escapes a public call: it is wrapped in the
matching subclass here, with the original chained as ``__cause__``.

Verification failures (a signature, a proof, a checkpoint, a chain link that does not hold) are
:class:`VerificationError` subclasses; malformed bytes are :class:`DecodeError` subclasses and
carry the byte ``offset`` where the problem was found.
"""

from __future__ import annotations

import enum

__all__ = [
    "AppendError",
    "AuditError",
    "AuditStateError",
    "AuthorChainError",
    "BundleError",
    "BundleErrorReason",
    "CheckpointError",
    "CommitOutcomeUnknownError",
    "ConsistencyProofError",
    "DecodeError",
    "DiskFullError",
    "DuplicateKeyError",
    "ElectlogError",
    "EncodeError",
    "EntryError",
    "ExtTypeError",
    "FloatNotAllowedError",
    "InclusionProofError",
    "InvalidUTF8Error",
    "KeyFormatError",
    "KeySetError",
    "LengthLimitError",
    "LogIdMismatchError",
    "MalformedCheckpointError",
    "MalformedNoteError",
    "NestingTooDeepError",
    "NonMinimalIntError",
    "NoteError",
    "OpeningsError",
    "ProofError",
    "QuorumNotMetError",
    "ReadOnlyStoreError",
    "ReceiptError",
    "RuleViolation",
    "SignatureError",
    "SignerError",
    "StorageError",
    "StoreCorruptedError",
    "StoreUnavailableError",
    "TilesError",
    "TilesUnavailableError",
    "TrailingBytesError",
    "TruncatedError",
    "TrustFileError",
    "UnexpectedTypeError",
    "UnsortedKeysError",
    "UsageError",
    "VerificationError",
    "WitnessError",
]


class ElectlogError(Exception):
    """Root of every error electlog raises."""


class UsageError(ElectlogError, ValueError):
    """A public call was given an argument it cannot accept (wrong type, out of range)."""


# --------------------------------------------------------------------------- codec


class EncodeError(ElectlogError, ValueError):
    """A value cannot be encoded in the canonical profile (float, unsorted keys, bad type...)."""


class DecodeError(ElectlogError, ValueError):
    """Bytes are not a canonical encoding. ``offset`` is the byte offset of the problem."""

    def __init__(self, message: str, *, offset: int | None = None) -> None:
        self.offset = offset
        if offset is not None:
            message = f"{message} (at byte offset {offset})"
        super().__init__(message)


class TruncatedError(DecodeError):
    """The input ends before the value it declares is complete."""


class TrailingBytesError(DecodeError):
    """Bytes follow a complete top-level value."""


class UnsortedKeysError(DecodeError):
    """Map keys are not in ascending UTF-8 byte order."""


class DuplicateKeyError(DecodeError):
    """A map key appears twice."""


class NonMinimalIntError(DecodeError):
    """An integer, length or count is not in its shortest form."""


class FloatNotAllowedError(DecodeError):
    """A float32/float64 appears; the profile has no floats."""


class ExtTypeError(DecodeError):
    """An ext / timestamp type appears; the profile has none."""


class InvalidUTF8Error(DecodeError):
    """A str value or key is not valid UTF-8."""


class NestingTooDeepError(DecodeError):
    """Arrays/maps are nested deeper than the limit."""


class LengthLimitError(DecodeError):
    """A declared length or count exceeds the input or a configured limit."""


class UnexpectedTypeError(DecodeError):
    """A value has a type the profile or the schema does not allow here (e.g. a non-str map key,
    a reserved byte 0xc1, a field of the wrong type)."""


# --------------------------------------------------------------------------- keys


class KeyFormatError(ElectlogError, ValueError):
    """A key file or key string is malformed. Never contains private material."""


class KeySetError(ElectlogError):
    """A saved key set (``electlog.simulate.SimulationKeys``) is missing, corrupt or incomplete,
    does not fit the election it is used for, or already exists where a new one would be saved.
    The message names the directory or file, never key material."""


class SignerError(ElectlogError):
    """A signing helper process failed, was closed, or returned something other than what was
    asked; the entries of the affected batches were not handed out."""


# --------------------------------------------------------------------------- verification


class VerificationError(ElectlogError):
    """Something that should verify does not."""


class SignatureError(VerificationError):
    """An Ed25519 signature does not verify."""


class EntryError(VerificationError):
    """A log entry is malformed or inconsistent (schema, key id, version)."""


class LogIdMismatchError(EntryError):
    """An entry was signed for another log (origin)."""


class AuthorChainError(EntryError):
    """An author's sequence number or previous-entry hash does not continue its chain."""


class ProofError(VerificationError):
    """A Merkle proof does not verify."""


class InclusionProofError(ProofError):
    """An inclusion proof does not verify."""


class ConsistencyProofError(ProofError):
    """A consistency proof does not verify."""


class NoteError(VerificationError):
    """A C2SP signed note is malformed or its signatures do not verify."""


class MalformedNoteError(NoteError):
    """A signed note that does not parse (bad UTF-8, a control character, no blank line, a
    signature line of the wrong form): its signatures were never looked at."""


class CheckpointError(VerificationError):
    """A checkpoint is malformed, or its signatures / witness quorum do not verify."""


class MalformedCheckpointError(CheckpointError):
    """A checkpoint that does not parse: its text breaks the checkpoint grammar, or its note
    is a :class:`MalformedNoteError` (as opposed to a signature or quorum that does not
    verify)."""


# --------------------------------------------------------------------------- log and storage


class AppendError(ElectlogError):
    """An append was refused; the log is unchanged."""


class StorageError(ElectlogError):
    """The storage backend failed (I/O, database). Nothing acknowledged is lost."""


class StoreCorruptedError(StorageError):
    """The stored data does not match its own checkpoints or is unreadable; the store refuses
    writes."""


class DiskFullError(StorageError):
    """The disk (or database) is full; the append was not acknowledged."""


class ReadOnlyStoreError(StorageError):
    """The store (file, directory or database) cannot be written."""


class StoreUnavailableError(StorageError):
    """The database server cannot be reached, or the connection to it was lost during the call.
    Nothing of the call that raised it was written (a write whose commit was interrupted was
    read back and found absent), so it is safe to retry; the store reconnects on its next call."""


class CommitOutcomeUnknownError(StorageError):
    """The connection was lost while a write was committing, and the store could not read back
    whether the write was committed (the server stayed unreachable). The write may or may not be
    in the log: do not resend it blindly; once the server is back, compare the log's size and the
    leaf hashes at the indexes the batch would have taken (or ``Log.author_head``), as the
    message says. Resending an entry that is already in the log is refused by the author-chain
    check, so nothing can be appended twice."""


class BundleErrorReason(enum.Enum):
    """Why a bundle was refused (:attr:`BundleError.reason`)."""

    DAMAGED = "damaged"
    """The file's bytes: unreadable, truncated, a bad record, CRC-32, marker or trailer, a
    header that does not decode, a count over its limit."""
    CHECKPOINT_UNPARSABLE = "checkpoint-unparsable"
    """An intact checkpoint record whose note does not parse as a checkpoint."""
    CHECKPOINT_WRONG_ORIGIN = "checkpoint-wrong-origin"
    """An intact checkpoint record for another log than the bundle's."""
    CHECKPOINT_BEYOND_ENTRIES = "checkpoint-beyond-entries"
    """An intact checkpoint record that commits to more entries than the bundle holds."""

    @property
    def is_checkpoint_content(self) -> bool:
        """True when the records are intact and a checkpoint's contents were refused: an
        auditor judges such a checkpoint itself (a truncated log, a replayed checkpoint)."""
        return self is not BundleErrorReason.DAMAGED


class BundleError(DecodeError):
    """A bundle file is truncated or corrupted, or one of its checkpoints does not fit it.
    ``offset`` is the byte offset of the problem, ``last_good_index`` the index of the last entry
    read intact (-1 if none) and ``reason`` a :class:`BundleErrorReason`."""

    def __init__(
        self,
        message: str,
        *,
        offset: int | None = None,
        last_good_index: int = -1,
        reason: BundleErrorReason = BundleErrorReason.DAMAGED,
    ) -> None:
        self.last_good_index = last_good_index
        self.reason = reason
        read = (
            "no entry was read"
            if last_good_index < 0
            else f"entries 0 to {last_good_index} were read intact"
        )
        super().__init__(f"{message}; {read}", offset=offset)


class TilesError(ElectlogError):
    """A tlog-tiles directory or served log is incomplete or inconsistent."""


class TilesUnavailableError(TilesError):
    """A tile, entry bundle or checkpoint could not be fetched at all: a missing or unreadable
    file, a transport failure, an HTTP error status, a redirect refused, a file over its size cap
    or a stalled answer. Unlike its parent (contents that do not check), it says nothing about
    the log's contents. ``missing`` is true when the file does not exist (a 404)."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


# --------------------------------------------------------------------------- witnesses


class WitnessError(ElectlogError):
    """A witness refused a checkpoint, could not be reached or answered something that does not
    verify. ``witness`` is the witness's key name; ``status`` the HTTP status of its answer
    (``None`` when there was no answer); ``reason`` says why, without the witness's own text
    beyond a short, sanitised excerpt."""

    def __init__(self, witness: str, reason: str, *, status: int | None = None) -> None:
        self.witness = witness
        self.status = status
        self.reason = reason
        shown = f"HTTP {status}: " if status is not None else ""
        super().__init__(f"witness {witness!r}: {shown}{reason}")


class QuorumNotMetError(ElectlogError):
    """Fewer witnesses than the quorum cosigned a checkpoint, so it was not published (nothing
    was stored). ``cosigners`` names the witnesses that cosigned; ``refusals`` pairs each other
    witness's name with why it did not."""

    def __init__(
        self,
        quorum: int,
        cosigners: tuple[str, ...],
        refusals: tuple[tuple[str, str], ...],
    ) -> None:
        self.quorum = quorum
        self.cosigners = cosigners
        self.refusals = refusals
        why = "; ".join(f"{name}: {reason}" for name, reason in refusals) or "none refused"
        super().__init__(
            f"witness quorum not met: {len(cosigners)} of {quorum} required cosignatures "
            f"(cosigned by: {', '.join(cosigners) or 'none'}; refused: {why})"
        )


# --------------------------------------------------------------------------- election and audit


class RuleViolation(ElectlogError):
    """An election event breaks a rule. ``code`` is a stable rule code such as
    ``voter.duplicate``; ``ids`` names the offending ids; ``message`` is the explanation alone
    and ``detail`` the explanation with the ids (``str(exc)`` is ``"<code>: <detail>"``);
    ``item`` is the event's position in the batch that was refused (``None`` outside a batch)."""

    def __init__(
        self, code: str, message: str, *, ids: tuple[str, ...] = (), item: int | None = None
    ) -> None:
        self.code = code
        self.ids = ids
        self.item = item
        self.message = message
        self.detail = f"{message} [{', '.join(ids)}]" if ids else message
        super().__init__(f"{code}: {self.detail}")


class ReceiptError(VerificationError):
    """A voter's registration receipt is malformed, or its entry is not a registration whose
    commitment matches the voter's salt and personal data."""


class OpeningsError(VerificationError):
    """An openings bundle cannot be used: not an age file, encrypted to none of the given
    identities, an identity file that holds no age identity, or a plaintext that is not a
    canonical openings document (docs/format.md, "Openings")."""


class TrustFileError(ElectlogError):
    """An auditor's trust file is missing, malformed or incomplete."""


class AuditError(ElectlogError):
    """The auditor could not run at all (as opposed to producing findings)."""


class AuditStateError(AuditError):
    """A resumable audit's state directory (``audit(..., state=...)``, ``electlog verify
    --state``) cannot be used: damaged, written for another trust file or log, or by another
    electlog version. The message names what is wrong; the audit does not run on it."""
