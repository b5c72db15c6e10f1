"""electlog: auditable elections on an append-only, Ed25519-signed, Merkle-committed event log.

The log core (:mod:`electlog.codec`, :mod:`electlog.keys`, :mod:`electlog.events`,
:mod:`electlog.merkle`, :mod:`electlog.note`, :mod:`electlog.checkpoint`, :mod:`electlog.log`,
:mod:`electlog.store`) is a general signed event log; :mod:`electlog.election` builds the
election on it and :mod:`electlog.audit` replays a copy of a log into a verdict.

``electlog`` itself offers the log core's names (:data:`__all__`); the election's names import
from :mod:`electlog.election` and the auditor's from :mod:`electlog.audit`. Importing
``electlog`` never imports the election layer.
"""

from __future__ import annotations

from .checkpoint import Checkpoint, WitnessSigner, WitnessVerifier, cosign, verify_checkpoint
from .errors import (
    ElectlogError,
    ProofError,
    RuleViolation,
    StorageError,
    VerificationError,
)
from .events import Author, AuthorHead, Entry, Statement
from .keys import SigningKey, VerifyKey, key_id
from .log import Log, Receipt
from .note import NoteSigner, NoteVerifier, open_note, sign_note
from .store import open_store

__version__ = "0.1.0"

__all__ = [
    "Author",
    "AuthorHead",
    "Checkpoint",
    "ElectlogError",
    "Entry",
    "Log",
    "NoteSigner",
    "NoteVerifier",
    "ProofError",
    "Receipt",
    "RuleViolation",
    "SigningKey",
    "Statement",
    "StorageError",
    "VerificationError",
    "VerifyKey",
    "WitnessSigner",
    "WitnessVerifier",
    "__version__",
    "cosign",
    "key_id",
    "open_note",
    "open_store",
    "sign_note",
    "verify_checkpoint",
]
