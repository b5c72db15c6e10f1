"""Ed25519 keys and key ids.

A key id is SHA-256 of the raw 32-byte public key. Private keys are saved as PKCS#8 PEM files
with mode 0600; public keys have a one-line text form ``ed25519-pub:<base64 of 32 raw bytes>``.
No repr, str or error message ever contains private key material.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import KeyFormatError, SignatureError, StorageError, UsageError

__all__ = [
    "PUBLIC_TEXT_PREFIX",
    "SigningKey",
    "VerifyKey",
    "key_id",
]

PUBLIC_TEXT_PREFIX: Final = "ed25519-pub:"


def key_id(public_raw: bytes) -> bytes:
    """The key id of a raw 32-byte Ed25519 public key: SHA-256 of those 32 bytes."""
    if not isinstance(public_raw, bytes) or len(public_raw) != 32:
        raise UsageError("an Ed25519 public key is exactly 32 raw bytes")
    return hashlib.sha256(public_raw).digest()


class VerifyKey:
    """An Ed25519 public key."""

    __slots__ = ("_key", "_key_id", "_raw")

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes | bytearray) or len(raw) != 32:
            raise KeyFormatError("an Ed25519 public key is exactly 32 raw bytes")
        self._raw = bytes(raw)
        try:
            self._key = Ed25519PublicKey.from_public_bytes(self._raw)
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise KeyFormatError(f"not a valid Ed25519 public key: {exc}") from exc
        self._key_id = hashlib.sha256(self._raw).digest()

    @property
    def raw(self) -> bytes:
        """The 32 raw public key bytes."""
        return self._raw

    @property
    def key_id(self) -> bytes:
        """SHA-256 of the raw public key."""
        return self._key_id

    def verify(self, signature: bytes, message: bytes) -> None:
        """Raise :class:`SignatureError` unless ``signature`` is valid for ``message``."""
        if not isinstance(signature, bytes) or len(signature) != 64:
            raise SignatureError("an Ed25519 signature is exactly 64 bytes")
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            raise SignatureError(
                f"Ed25519 signature does not verify for key {self._key_id.hex()[:16]}…"
            ) from None

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
    """An Ed25519 private key. Its repr shows only the key id."""

    __slots__ = ("_key", "_public")

    def __init__(self, key: Ed25519PrivateKey) -> None:
        if not isinstance(key, Ed25519PrivateKey):
            raise UsageError("SigningKey wraps a cryptography Ed25519PrivateKey")
        self._key = key
        self._public = VerifyKey(key.public_key().public_bytes_raw())

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
        """The 64-byte Ed25519 signature of ``message``."""
        return self._key.sign(message)

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
        p = Path(path)
        try:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise StorageError(f"refusing to overwrite existing key file {p}") from None
        except OSError as exc:
            raise StorageError(f"cannot create key file {p}: {exc.strerror}") from exc
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(self.to_pem())
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise StorageError(f"cannot write key file {p}: {exc.strerror}") from exc

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
