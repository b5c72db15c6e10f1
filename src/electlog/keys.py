"""Ed25519 keys and key ids.

A key id is SHA-256 of the raw 32-byte public key. Private keys are saved as PKCS#8 PEM files
with mode 0600; public keys have a one-line text form ``ed25519-pub:<base64 of 32 raw bytes>``.
No repr, str or error message ever contains private key material.

Verification backends: signatures are verified by libsodium (PyNaCl, the optional
``electlog[fast]`` extra) when it is installed, else by OpenSSL (``cryptography``). Both apply the
same *strict rule* (canonical ``S < L``; ``R`` canonical and not of small order; the public key a
canonical point of the prime-order subgroup; cofactorless equation), so a signature verifies
under one backend exactly when it verifies under the other. ``ELECTLOG_ED25519_BACKEND`` =
``nacl`` | ``cryptography`` | ``auto`` (read when the backend is first needed) or
:func:`set_verify_backend` choose explicitly; :func:`verify_backend` says which one is in use.
:func:`verify_many` is the bulk path (one call per batch, no exceptions per item). Signing uses
libsodium when PyNaCl is installed, else ``cryptography``: Ed25519 signatures are deterministic,
so the bytes are the same either way (tested).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from . import _ed25519
from .errors import KeyFormatError, SignatureError, StorageError, UsageError

__all__ = [
    "BACKEND_ENV",
    "PUBLIC_TEXT_PREFIX",
    "SigningKey",
    "VerifyKey",
    "available_verify_backends",
    "key_id",
    "set_verify_backend",
    "verify_backend",
    "verify_many",
    "write_secret_file",
]

PUBLIC_TEXT_PREFIX: Final = "ed25519-pub:"
BACKEND_ENV: Final = "ELECTLOG_ED25519_BACKEND"
"""Environment variable choosing the verification backend: ``nacl``, ``cryptography`` or
``auto`` (the default: ``nacl`` when PyNaCl is installed)."""

_AUTO: Final = "auto"

BulkVerifier = Callable[[Sequence[tuple[bytes, bytes, bytes]]], list[bool]]


class _Backend:
    """The resolved backend: its name and bulk verifier (None until first needed)."""

    name: str | None = None
    bulk: BulkVerifier | None = None


def available_verify_backends() -> tuple[str, ...]:
    """Backends usable here, fastest first: ``("nacl", "cryptography")`` with PyNaCl installed,
    ``("cryptography",)`` without."""
    return _ed25519.available_backends()


def _resolve(name: str, source: str) -> str:
    choice = name.strip().lower()
    if choice in ("", _AUTO):
        return available_verify_backends()[0]
    if choice not in _ed25519.BACKENDS:
        raise UsageError(
            f"{source}: unknown Ed25519 backend {name!r}; choose one of "
            f"{', '.join((*_ed25519.BACKENDS, _AUTO))}"
        )
    if choice not in available_verify_backends():
        raise UsageError(
            f"{source}: the {choice!r} Ed25519 backend needs PyNaCl (pip install 'electlog[fast]')"
        )
    return choice


def set_verify_backend(name: str | None) -> str:
    """Choose the verification backend for this process: ``"nacl"``, ``"cryptography"``, or
    ``"auto"`` / ``None`` (the environment variable :data:`BACKEND_ENV` if set, else the fastest
    available). Returns the name now in use. Raises :class:`UsageError` for an unknown name or
    ``"nacl"`` without PyNaCl.

    Worker processes started with ``spawn`` choose again on their own; pass the name on (or set
    :data:`BACKEND_ENV`) to keep them on the same backend. Results are identical either way.
    """
    if name is not None and not isinstance(name, str):
        raise UsageError("the backend name must be a str or None")
    if name is None or name.strip().lower() == _AUTO:
        chosen = _resolve(os.environ.get(BACKEND_ENV, _AUTO), BACKEND_ENV)
    else:
        chosen = _resolve(name, "set_verify_backend")
    _Backend.bulk = _ed25519.verifier(chosen)
    _Backend.name = chosen
    return chosen


def verify_backend() -> str:
    """The name of the verification backend in use (``"nacl"`` or ``"cryptography"``)."""
    return _Backend.name if _Backend.name is not None else set_verify_backend(None)


def verify_many(items: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
    """Verify a batch of ``(public_key, signature, message)`` byte triples; element ``i`` of the
    result says whether triple ``i`` verifies under the strict rule (see the module docstring).

    The bulk path for auditors: no exception or object per item, key checks cached. A malformed
    key or signature (wrong length, off the curve, small order) is simply ``False``. Items of
    the wrong type raise :class:`UsageError`.
    """
    bulk = _Backend.bulk
    if bulk is None:
        set_verify_backend(None)
        bulk = _Backend.bulk
        assert bulk is not None
    try:
        return bulk(items)
    except (TypeError, ValueError, AttributeError) as exc:
        raise UsageError(
            f"verify_many takes a sequence of (public key, signature, message) bytes: {exc}"
        ) from exc


def key_id(public_raw: bytes) -> bytes:
    """The key id of a raw 32-byte Ed25519 public key: SHA-256 of those 32 bytes."""
    if not isinstance(public_raw, bytes) or len(public_raw) != 32:
        raise UsageError("an Ed25519 public key is exactly 32 raw bytes")
    return hashlib.sha256(public_raw).digest()


def write_secret_file(path: str | os.PathLike[str], data: bytes) -> None:
    """Create ``path`` with mode 0600 and write ``data`` durably (fsync). Refuses to overwrite
    an existing file; errors are :class:`StorageError` and never echo ``data``."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise StorageError(f"refusing to overwrite existing key file {p}") from None
    except OSError as exc:
        raise StorageError(f"cannot create key file {p}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise StorageError(f"cannot write key file {p}: {exc.strerror}") from exc


class VerifyKey:
    """An Ed25519 public key."""

    __slots__ = ("_key", "_key_id", "_raw")

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes | bytearray) or len(raw) != 32:
            raise KeyFormatError("an Ed25519 public key is exactly 32 raw bytes")
        self._raw = bytes(raw)
        self._key: Ed25519PublicKey | None = None  # made when the OpenSSL backend first needs it
        self._key_id = hashlib.sha256(self._raw).digest()

    @property
    def raw(self) -> bytes:
        """The 32 raw public key bytes."""
        return self._raw

    @property
    def key_id(self) -> bytes:
        """SHA-256 of the raw public key."""
        return self._key_id

    def verify(self, signature: bytes, message: bytes | bytearray | memoryview) -> None:
        """Raise :class:`SignatureError` unless ``signature`` is valid for ``message`` under the
        strict rule (see the module docstring), whichever backend is in use."""
        if not isinstance(signature, bytes) or len(signature) != 64:
            raise SignatureError("an Ed25519 signature is exactly 64 bytes")
        if not isinstance(message, bytes):
            if not isinstance(message, bytearray | memoryview):
                raise UsageError("the signed message must be bytes")
            message = bytes(message)
        raw = self._raw
        if _ed25519.strict_precheck(raw, signature):
            name = _Backend.name if _Backend.name is not None else verify_backend()
            if name == "nacl":
                if _ed25519.nacl_verify_one(raw, signature, message):
                    return
            else:
                key = self._key
                if key is None:
                    key = self._key = _ed25519.openssl_key(raw)
                if _ed25519.openssl_verify_one(key, signature, message):
                    return
            reason = "does not verify"
        else:
            reason = f"is rejected: {_ed25519.strict_violation(raw, signature)}"
        raise SignatureError(f"Ed25519 signature {reason} for key {self._key_id.hex()[:16]}…")

    def to_text(self) -> str:
        """``ed25519-pub:<base64>``: the documented one-line text form."""
        return PUBLIC_TEXT_PREFIX + base64.b64encode(self._raw).decode("ascii")

    @classmethod
    def from_text(cls, text: str) -> VerifyKey:
        """Parse the form written by :meth:`to_text`."""
        if not isinstance(text, str) or not text.strip().startswith(PUBLIC_TEXT_PREFIX):
            raise KeyFormatError(f"a public key text starts with {PUBLIC_TEXT_PREFIX!r}")
        body = text.strip()[len(PUBLIC_TEXT_PREFIX) :]
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise KeyFormatError(f"public key is not valid base64: {exc}") from exc
        return cls(raw)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VerifyKey) and other._raw == self._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"VerifyKey({self.to_text()!r})"


class SigningKey:
    """An Ed25519 private key. Its repr shows only the key id.

    Signs with libsodium when PyNaCl is installed, else with OpenSSL: Ed25519 signatures are
    deterministic, so both give the same bytes (tested); libsodium is faster."""

    __slots__ = ("_check", "_key", "_public", "_sign")

    def __init__(self, key: Ed25519PrivateKey) -> None:
        if not isinstance(key, Ed25519PrivateKey):
            raise UsageError("SigningKey wraps a cryptography Ed25519PrivateKey")
        self._key = key
        self._public = VerifyKey(key.public_key().public_bytes_raw())
        self._sign: Callable[[bytes], bytes] | None = None  # made when first needed
        self._check: Callable[[bytes, bytes], bool] | None = None

    @classmethod
    def generate(cls) -> SigningKey:
        """A new random key (the operating system's CSPRNG)."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        """The key with the given 32-byte seed (RFC 8032 private key)."""
        if not isinstance(seed, bytes | bytearray) or len(seed) != 32:
            raise KeyFormatError("an Ed25519 seed is exactly 32 bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(bytes(seed)))

    @property
    def public(self) -> VerifyKey:
        """The matching public key."""
        return self._public

    @property
    def key_id(self) -> bytes:
        """SHA-256 of the raw public key."""
        return self._public.key_id

    def seed(self) -> bytes:
        """The 32-byte private seed. Handle with care."""
        return self._key.private_bytes_raw()

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message`` (libsodium with PyNaCl, else OpenSSL:
        the same bytes either way)."""
        sign = self._sign
        if sign is None:
            sign = self._sign = _ed25519.sodium_signer(self.seed()) or self._key.sign
        return sign(message)

    def verify(self, signature: bytes, message: bytes) -> None:
        """Raise :class:`SignatureError` unless ``signature`` is valid for ``message`` under
        this key's public key by the strict rule: the same answer as ``self.public.verify``,
        computed with the private key at about the cost of signing when PyNaCl is installed
        (:func:`electlog._ed25519.own_signature_checker`), else by ``self.public.verify``."""
        check = self._check
        if check is None:
            check = _ed25519.own_signature_checker(self.seed(), self._public.raw)
            if check is None:
                self._public.verify(signature, message)
                return
            self._check = check
        if not isinstance(signature, bytes) or not isinstance(message, bytes):
            raise UsageError("the signature and the signed message must be bytes")
        if not check(signature, message):
            self._public.verify(signature, message)  # raises, with the public check's reason
            raise SignatureError(  # pragma: no cover - the two checks are tested to agree
                f"Ed25519 signature does not verify for key {self.key_id.hex()[:16]}…"
            )

    def to_pem(self) -> bytes:
        """PKCS#8 PEM, unencrypted."""
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @classmethod
    def from_pem(cls, data: bytes) -> SigningKey:
        """Load a PKCS#8 PEM Ed25519 private key."""
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            # never echo the input: it may be private material
            raise KeyFormatError("not an unencrypted PKCS#8 PEM Ed25519 private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFormatError("the PEM key is not an Ed25519 key")
        return cls(key)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the key as PEM to ``path`` with mode 0600 (refuses to overwrite)."""
        write_secret_file(path, self.to_pem())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SigningKey:
        """Load a key written by :meth:`save`."""
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise StorageError(f"cannot read key file {p}: {exc.strerror}") from exc
        try:
            return cls.from_pem(data)
        except KeyFormatError as exc:
            raise KeyFormatError(f"{p}: {exc}") from None

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self.key_id.hex()[:16]}…)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        # picklable (for worker processes) without exposing the seed in any repr
        return (SigningKey.from_seed, (self.seed(),))
