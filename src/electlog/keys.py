"""Ed25519 keys and key ids.

A key id is SHA-256 of the raw 32-byte public key. Private keys are saved as PKCS#8 PEM files
with mode 0600; public keys have a one-line text form ``ed25519-pub:<base64 of 32 raw bytes>``.
No repr, str or error message ever contains private key material.

Verification backends: signatures are verified by libsodium (PyNaCl, the optional
``electlog[fast]`` extra) or by OpenSSL (``cryptography``). Both apply the same *strict rule*
(canonical ``S < L``; ``R`` canonical and not of small order; the public key a canonical point of
the prime-order subgroup; cofactorless equation), so a signature verifies under one backend
exactly when it verifies under the other. A backend is an object, :class:`Ed25519Backend`
(:func:`backend` makes one by name), that owns its caches; the verifying calls
(:func:`verify_many`, :meth:`VerifyKey.verify`, :meth:`electlog.events.Entry.from_bytes`,
:meth:`electlog.events.Entry.verify`) take it as ``backend=``. Given none, they use the process
default: libsodium when PyNaCl is installed, else OpenSSL, unless ``ELECTLOG_ED25519_BACKEND`` =
``nacl`` | ``cryptography`` | ``auto`` (read when the default is first needed) or
:func:`set_verify_backend` say otherwise; :func:`verify_backend` names it. :func:`verify_many` is
the bulk path (one call per batch, no exceptions per item). Signing uses libsodium when PyNaCl is
installed, else ``cryptography``: Ed25519 signatures are deterministic, so the bytes are the same
either way (tested).
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
    "Ed25519Backend",
    "SigningKey",
    "VerifyKey",
    "available_verify_backends",
    "backend",
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
KEY_MEMO_SIZE: Final = 1 << 16
"""How many public keys' strictness answers a backend object remembers before starting again."""


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


class _StrictKeys:
    """Rule 4 of the strict rule (the public key is a canonical point of the prime-order
    subgroup) with a bounded memo of its answers, owned by one backend object: the fastest
    check available when it is made (:func:`electlog._ed25519.strict_key_check`), its answer
    per key remembered up to :data:`KEY_MEMO_SIZE` keys, then all forgotten at once. The answer
    is a pure function of the key: the memo changes how fast it comes, never what it is."""

    __slots__ = ("_check", "_known")

    def __init__(self) -> None:
        self._check = _ed25519.strict_key_check()
        self._known: dict[bytes, bool] = {}

    def __call__(self, raw: bytes) -> bool:
        known = self._known
        found = known.get(raw)
        if found is not None:
            return found
        ok = self._check(raw)
        if len(known) >= KEY_MEMO_SIZE:
            known.clear()
        known[raw] = ok
        return ok

    def __len__(self) -> int:
        return len(self._known)


class Ed25519Backend:
    """An Ed25519 verification backend: libsodium (``"nacl"``, with PyNaCl) or OpenSSL
    (``"cryptography"``), holding every signature to the strict rule (module docstring).

    Make one with :func:`backend` (or ``Ed25519Backend(name)``) and pass it as ``backend=`` to
    :func:`verify_many`, :meth:`VerifyKey.verify`, :meth:`electlog.events.Entry.from_bytes` and
    :meth:`electlog.events.Entry.verify`; those calls use the process default
    (:func:`set_verify_backend`) only when given none. The object owns its caches: the per-key
    strictness check (up to 65,536 keys) and, for OpenSSL, the parsed key objects (up to 4,096);
    they hold values of pure functions of the key, so they change speed, never an answer. Keep
    one object and reuse it: a new one starts with empty caches. Both backends give the same
    answer for every input (tested). Picklable (by name) for worker processes."""

    __slots__ = ("_name", "_openssl_keys", "_strict_keys")

    def __init__(self, name: str = _AUTO) -> None:
        if not isinstance(name, str):
            raise UsageError(f"an Ed25519 backend name is a str, not {type(name).__name__}")
        self._name = _resolve(name, "Ed25519Backend")
        self._strict_keys = _StrictKeys()
        self._openssl_keys: dict[bytes, Ed25519PublicKey] = {}

    @property
    def name(self) -> str:
        """``"nacl"`` (libsodium) or ``"cryptography"`` (OpenSSL)."""
        return self._name

    def verify(self, public_key: bytes, signature: bytes, message: bytes) -> bool:
        """Whether ``signature`` is valid for ``message`` under the raw 32-byte ``public_key`` by
        the strict rule. A malformed key or signature is ``False``; arguments that are not
        bytes raise :class:`UsageError`."""
        try:
            if not _ed25519.strict_precheck(public_key, signature, self._strict_keys):
                return False
            if self._name == "nacl":
                return _ed25519.nacl_verify_one(public_key, signature, message)
            key = _ed25519.openssl_key_of(public_key, self._openssl_keys)
            return _ed25519.openssl_verify_one(key, signature, message)
        except (TypeError, ValueError, AttributeError) as exc:
            raise UsageError(
                f"Ed25519Backend.verify takes a public key, a signature and a message as bytes: "
                f"{exc}"
            ) from exc

    def verify_many(self, items: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
        """Verify a batch of ``(public_key, signature, message)`` byte triples; element ``i``
        of the result says whether triple ``i`` verifies under the strict rule.

        The bulk path for auditors: no exception or object per item, key checks remembered by
        this object. A malformed key or signature (wrong length, off the curve, small order)
        is simply ``False``. Items of the wrong type raise :class:`UsageError`."""
        try:
            if self._name == "nacl":
                return _ed25519.verify_many_nacl(items, self._strict_keys)
            return _ed25519.verify_many_openssl(items, self._strict_keys, self._openssl_keys)
        except (TypeError, ValueError, AttributeError) as exc:
            raise UsageError(
                f"verify_many takes a sequence of (public key, signature, message) bytes: {exc}"
            ) from exc

    def __repr__(self) -> str:
        return f"Ed25519Backend({self._name!r})"

    def __reduce__(self) -> tuple[object, ...]:
        return (Ed25519Backend, (self._name,))


class _Default:
    """The process default backend (None until first needed): what a call given no
    ``backend=`` uses."""

    backend: Ed25519Backend | None = None


def backend(name: str | None = None) -> Ed25519Backend:
    """A verification backend object: ``backend("nacl")``, ``backend("cryptography")`` or
    ``backend("auto")`` make a new one (``"auto"``: the fastest available, whatever
    :data:`BACKEND_ENV` says); ``backend()`` / ``backend(None)`` is the process default
    (:func:`set_verify_backend`). Raises :class:`UsageError` for an unknown name or ``"nacl"``
    without PyNaCl."""
    if name is None:
        return _chosen(None)
    if not isinstance(name, str):
        raise UsageError(f"an Ed25519 backend name is a str or None, not {type(name).__name__}")
    return Ed25519Backend(name)


def _chosen(given: Ed25519Backend | None) -> Ed25519Backend:
    """``given``, or the process default for None (UsageError for anything else)."""
    if given is None:
        found = _Default.backend
        return found if found is not None else _set_default(None)
    if not isinstance(given, Ed25519Backend):
        raise UsageError(
            f"backend= takes an Ed25519Backend (electlog.keys.backend(name)) or None, "
            f"not {type(given).__name__}"
        )
    return given


def _set_default(name: str | None) -> Ed25519Backend:
    if name is not None and not isinstance(name, str):
        raise UsageError("the backend name must be a str or None")
    if name is None or name.strip().lower() == _AUTO:
        chosen = _resolve(os.environ.get(BACKEND_ENV, _AUTO), BACKEND_ENV)
    else:
        chosen = _resolve(name, "set_verify_backend")
    made = _Default.backend = Ed25519Backend(chosen)
    return made


def set_verify_backend(name: str | None) -> str:
    """Choose the process default backend, used by every verifying call given no ``backend=``:
    ``"nacl"``, ``"cryptography"``, or ``"auto"`` / ``None`` (the environment variable
    :data:`BACKEND_ENV` if set, else the fastest available). Returns the name now in use.
    Raises :class:`UsageError` for an unknown name or ``"nacl"`` without PyNaCl. Each call
    makes a new default object (with empty caches).

    To use a backend for some calls only, pass ``backend=`` (:func:`backend`) instead. Worker
    processes started with ``spawn`` choose again on their own; pass the name (or the object,
    which pickles by name) on, or set :data:`BACKEND_ENV`. Results are identical either way.
    """
    return _set_default(name).name


def verify_backend() -> str:
    """The name of the process default backend (``"nacl"`` or ``"cryptography"``)."""
    return _chosen(None).name


def verify_many(
    items: Sequence[tuple[bytes, bytes, bytes]], *, backend: Ed25519Backend | None = None
) -> list[bool]:
    """Verify a batch of ``(public_key, signature, message)`` byte triples with ``backend``
    (default: the process default); element ``i`` of the result says whether triple ``i``
    verifies under the strict rule (see the module docstring and
    :meth:`Ed25519Backend.verify_many`). Items of the wrong type raise :class:`UsageError`."""
    return _chosen(backend).verify_many(items)


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

    __slots__ = ("_key_id", "_raw")

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes | bytearray) or len(raw) != 32:
            raise KeyFormatError("an Ed25519 public key is exactly 32 raw bytes")
        self._raw = bytes(raw)
        self._key_id = hashlib.sha256(self._raw).digest()

    @property
    def raw(self) -> bytes:
        """The 32 raw public key bytes."""
        return self._raw

    @property
    def key_id(self) -> bytes:
        """SHA-256 of the raw public key."""
        return self._key_id

    def verify(
        self,
        signature: bytes,
        message: bytes | bytearray | memoryview,
        *,
        backend: Ed25519Backend | None = None,
    ) -> None:
        """Raise :class:`SignatureError` unless ``signature`` is valid for ``message`` under the
        strict rule (see the module docstring), checked by ``backend`` (default: the process
        default, :func:`set_verify_backend`); every backend gives the same answer."""
        checker = _chosen(backend)
        if not isinstance(signature, bytes) or len(signature) != 64:
            raise SignatureError("an Ed25519 signature is exactly 64 bytes")
        if not isinstance(message, bytes):
            if not isinstance(message, bytearray | memoryview):
                raise UsageError("the signed message must be bytes")
            message = bytes(message)
        raw = self._raw
        if checker.verify(raw, signature, message):
            return
        violation = _ed25519.strict_violation(raw, signature)
        reason = "does not verify" if violation is None else f"is rejected: {violation}"
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
