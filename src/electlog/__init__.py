"""electlog: auditable elections on an append-only, Ed25519-signed, Merkle-committed event log.

The log core (:mod:`electlog.codec`, :mod:`electlog.keys`, :mod:`electlog.events`,
:mod:`electlog.merkle`, :mod:`electlog.note`, :mod:`electlog.checkpoint`, :mod:`electlog.log`,
:mod:`electlog.store`) is a general signed event log; :mod:`electlog.election` builds the
election on it and :mod:`electlog.audit` replays a copy of a log into a verdict.
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

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """Election event classes (``electlog.VoterRegistered`` ...) and the election names re-exported
    lazily, so that importing the log core never imports the election layer. A submodule not yet
    imported (``from electlog import signer``) is imported here, without the election layer."""
    import importlib
    import importlib.util

    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")
    election = importlib.import_module(f"{__name__}.election")
    if name in election.__all__:
        value = getattr(election, name)
        globals()[name] = value  # later lookups find it without coming here
        return value
    raise AttributeError(f"module 'electlog' has no attribute {name!r}")


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
    "sign_note",
    "verify_checkpoint",
]
