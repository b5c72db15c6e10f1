"""C2SP signed notes (c2sp.org/signed-note) and their key text forms.

A signed note is a text ending in a newline, a blank line, and one or more signature lines
``— <name> <base64(key id || signature)>``. Keys are Ed25519 (signature type ``0x01``) and are
exchanged as Go-compatible key strings: the verifier key
``<name>+<hex8>+<base64(0x01 || public key)>`` and the signer key
``PRIVATE+KEY+<name>+<hex8>+<base64(0x01 || seed)>``, where ``hex8`` is the key id
``SHA-256(name || 0x0A || 0x01 || public key)[:4]`` in lower-case hex (:func:`note_key_id`).

This module knows nothing of what a note's text means: checkpoints and witness cosignatures
(signature type ``0x04``), which are notes with a particular text and signature, live in
:mod:`electlog.checkpoint`, as Go keeps ``golang.org/x/mod/sumdb/note`` apart from its
checkpoint code. The key string parser accepts both signature types, since a witness key is
written in the same text form.

Signing and verification never read the clock or a random source: only
:meth:`NoteSigner.generate` draws randomness (from ``os.urandom``) when no seed is given.

The normative description, with golden vectors, is section 4 of ``docs/format.md``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Sequence
from typing import ClassVar, Protocol, Self, runtime_checkable

import attrs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from electlog.errors import KeyFormatError, MalformedNoteError, NoteError, UsageError

__all__ = [
    "ALG_COSIGNATURE_V1",
    "ALG_ED25519",
    "MAX_NOTE_SIGNATURES",
    "Note",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "Verifier",
    "key_id",
    "note_key_id",
    "open_note",
    "parse_vkey",
    "sign_note",
]

ALG_ED25519 = 0x01
"""Signature type byte of plain Ed25519 note signatures (c2sp.org/signed-note)."""

ALG_COSIGNATURE_V1 = 0x04
"""Signature type byte of timestamped Ed25519 witness cosignatures (c2sp.org/tlog-cosignature)."""

MAX_NOTE_SIGNATURES = 100
"""A note with more signature lines than this is rejected as malformed (as Go's note.Open)."""

_SEED_SIZE = 32
_PUBLIC_KEY_SIZE = 32
_ED25519_SIG_SIZE = 64
_SIG_PREFIX = "— "  # em dash U+2014, space
_PRIVATE_PREFIX = "PRIVATE+KEY+"

# Go's unicode.IsSpace (White_Space property plus the Latin-1 spaces), which the C2SP/Go name
# rule forbids in key names.
_SPACES = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
# ASCII control characters other than newline (forbidden anywhere in a signed note).
_CONTROL_RE = re.compile("[\x00-\x09\x0b-\x1f]")
_HEX8_RE = re.compile("[0-9a-f]{8}")

# --------------------------------------------------------------------------- helpers


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode_canonical(text: str) -> bytes | None:
    """Decode standard padded base64; ``None`` unless ``text`` is the canonical encoding."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        return None
    if _b64encode(raw) != text:
        return None
    return raw


def _name_problem(name: object) -> str | None:
    """Why ``name`` is not a valid C2SP key name, or ``None`` if it is."""
    if not isinstance(name, str):
        return f"key name must be str, not {type(name).__name__}"
    if name == "":
        return "key name is empty"
    if "+" in name:
        return "key name contains '+'"
    for ch in name:
        if ch in _SPACES:
            return f"key name contains a space character U+{ord(ch):04X}"
        if ord(ch) < 0x20:
            return f"key name contains control character U+{ord(ch):04X}"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "key name is not valid UTF-8 (lone surrogate)"
    return None


def note_key_id(name: str, alg: int, public_key: bytes) -> int:
    """The C2SP key id: the first four bytes, big-endian, of
    ``SHA-256(name || 0x0A || alg || public_key)``, as an unsigned 32-bit integer."""
    digest = hashlib.sha256(
        name.encode("utf-8") + b"\n" + bytes((alg,)) + bytes(public_key)
    ).digest()
    return int.from_bytes(digest[:4], "big")


key_id = note_key_id
"""The former name of :func:`note_key_id`, kept so existing code keeps working (it collides
with :func:`electlog.keys.key_id`, the entry-author key id, which is another thing)."""


def _private_key_from_seed(seed: bytes) -> tuple[Ed25519PrivateKey, bytes]:
    private = Ed25519PrivateKey.from_private_bytes(seed)
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return private, public


def _load_public_key(public_key: bytes, what: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(public_key)
    except (ValueError, TypeError) as exc:
        raise KeyFormatError(f"{what}: not a valid Ed25519 public key") from exc


def _ed25519_verify(key: Ed25519PublicKey, message: bytes, signature: bytes) -> bool:
    if len(signature) != _ED25519_SIG_SIZE:
        return False
    try:
        key.verify(signature, message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _seed_for_generate(rng_seed: bytes | None) -> bytes:
    if rng_seed is None:
        return os.urandom(_SEED_SIZE)
    if not isinstance(rng_seed, bytes | bytearray) or len(rng_seed) != _SEED_SIZE:
        raise UsageError(f"rng_seed must be {_SEED_SIZE} bytes")
    return bytes(rng_seed)


def _check_name_arg(name: object) -> str:
    problem = _name_problem(name)
    if problem is not None:
        raise UsageError(f"invalid key name {name!r}: {problem}")
    assert isinstance(name, str)
    return name


def _split_key_string(
    text: str, what: str, form: str, algs: tuple[int, ...], material: str
) -> tuple[str, int, int, bytes]:
    """Parse ``<name>+<hex8>+<base64(alg || key)>`` (a ``what`` key: ``"verifier"`` or
    ``"signer"``; ``form`` is the expected form named in messages) into ``(name, key id, alg,
    key)``, checking the name, the key id's spelling, canonical base64, that ``alg`` is one of
    ``algs`` and that the key (``material``: public key or seed) is 32 bytes. The caller checks
    the key id against the key. A signer key's id is not echoed in messages."""
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise KeyFormatError(f"malformed {what} key: expected {form}")
    name, hex8, key64 = parts
    problem = _name_problem(name)
    if problem is not None:
        raise KeyFormatError(f"malformed {what} key: {problem}")
    if _HEX8_RE.fullmatch(hex8) is None:
        shown = f" {hex8!r}" if what == "verifier" else ""
        raise KeyFormatError(
            f"malformed {what} key {name!r}: key id{shown} is not 8 lower-case hex digits"
        )
    raw = _b64decode_canonical(key64)
    if raw is None or len(raw) == 0:
        raise KeyFormatError(f"malformed {what} key {name!r}: key is not canonical base64")
    alg, key = raw[0], raw[1:]
    if alg not in algs:
        raise KeyFormatError(f"{what} key {name!r}: unsupported signature type 0x{alg:02x}")
    if len(key) != _PUBLIC_KEY_SIZE:  # Ed25519 seeds and public keys are both 32 bytes
        raise KeyFormatError(f"{what} key {name!r}: {material} is {len(key)} bytes, expected 32")
    return name, int(hex8, 16), alg, key


def parse_vkey(vkey: str) -> tuple[str, int, int, bytes]:
    """Parse a verifier key string ``<name>+<hex8>+<base64(alg || public key)>``.

    Returns ``(name, key_id, alg, public_key)``. Accepted algorithms are Ed25519 note keys
    (``0x01``) and cosignature/v1 witness keys (``0x04``), both with a 32-byte public key.
    ``hex8`` must be eight lower-case hex digits equal to :func:`note_key_id` of the name, the
    algorithm byte and the public key; the base64 must be canonical standard base64.

    Raises :class:`~electlog.errors.KeyFormatError` on any deviation.
    """
    if not isinstance(vkey, str):
        raise KeyFormatError(f"verifier key must be str, not {type(vkey).__name__}")
    name, kid, alg, public_key = _split_key_string(
        vkey,
        "verifier",
        "<name>+<hex8>+<base64 key>",
        (ALG_ED25519, ALG_COSIGNATURE_V1),
        "public key",
    )
    expected = note_key_id(name, alg, public_key)
    if kid != expected:
        raise KeyFormatError(
            f"verifier key {name!r}: key id {kid:08x} does not match the key "
            f"(computed {expected:08x})"
        )
    return name, kid, alg, public_key


def _parse_skey(skey: str, allowed_algs: tuple[int, ...]) -> tuple[str, int, int, bytes]:
    """Parse ``PRIVATE+KEY+<name>+<hex8>+<base64(alg || seed)>`` into (name, hex id, alg, seed).

    The key id is checked against the public key derived from the seed. Error messages never
    contain key material."""
    if not isinstance(skey, str):
        raise KeyFormatError(f"signer key must be str, not {type(skey).__name__}")
    if not skey.startswith(_PRIVATE_PREFIX):
        raise KeyFormatError("malformed signer key: it must start with 'PRIVATE+KEY+'")
    name, kid, alg, seed = _split_key_string(
        skey[len(_PRIVATE_PREFIX) :],
        "signer",
        "PRIVATE+KEY+<name>+<hex8>+<base64 key>",
        allowed_algs,
        "seed",
    )
    _, public = _private_key_from_seed(seed)
    if kid != note_key_id(name, alg, public):
        raise KeyFormatError(f"signer key {name!r}: key id {kid:08x} does not match the key")
    return name, kid, alg, seed


# --------------------------------------------------------------------------- keys


@runtime_checkable
class Verifier(Protocol):
    """What :func:`open_note` needs from a verifier: a key name, a key id, and a check of a
    signature (the bytes after the 4-byte key id in a signature line) over the note text."""

    @property
    def name(self) -> str:
        """The key name, as it appears in signature lines."""
        ...

    @property
    def key_id(self) -> int:
        """The 32-bit key id, as it appears (big-endian) at the start of the signature."""
        ...

    def verify(self, msg: bytes, sig: bytes) -> bool:
        """Whether ``sig`` is a valid signature of the note text ``msg``."""
        ...


def _key_string(prefix: str, name: str, kid: int, alg: int, key: bytes) -> str:
    """``<prefix><name>+<hex8>+<base64(alg || key)>``: a verifier key (no prefix, the public
    key) or a signer key (``PRIVATE+KEY+``, the seed)."""
    return f"{prefix}{name}+{kid:08x}+{_b64encode(bytes((alg,)) + key)}"


class _Key:
    """What the note and witness keys share: a key name, a signature type :attr:`_ALG`, the
    Ed25519 public key and the C2SP key id computed from all three."""

    __slots__ = ("_key_id", "_name", "_public_key")

    _ALG: ClassVar[int]

    _name: str
    _public_key: bytes
    _key_id: int

    @property
    def name(self) -> str:
        """The key name."""
        return self._name

    @property
    def key_id(self) -> int:
        """The key id ``SHA-256(name || 0x0A || alg || public key)[:4]`` as an integer, where
        ``alg`` is the signature type: ``0x01`` for note keys, ``0x04`` for witness keys."""
        return self._key_id

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key."""
        return self._public_key

    @property
    def vkey(self) -> str:
        """The verifier key string ``<name>+<hex8>+<base64(alg || public key)>``."""
        return _key_string("", self._name, self._key_id, self._ALG, self._public_key)


class _VerifierKey(_Key):
    """A verifier key: name and 32-byte Ed25519 public key; :attr:`_KIND` names it in
    messages. Equal when of the same signature type, name and public key."""

    __slots__ = ("_key",)

    _KIND: ClassVar[str]

    def __init__(self, name: str, public_key: bytes) -> None:
        self._name = _check_name_arg(name)
        if not isinstance(public_key, bytes | bytearray) or len(public_key) != _PUBLIC_KEY_SIZE:
            raise UsageError("public_key must be 32 bytes")
        self._public_key = bytes(public_key)
        self._key = _load_public_key(self._public_key, f"{self._KIND} key {name!r}")
        self._key_id = note_key_id(name, self._ALG, self._public_key)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _VerifierKey) or other._ALG != self._ALG:
            return NotImplemented
        return self._name == other._name and self._public_key == other._public_key

    def __hash__(self) -> int:
        return hash((_VerifierKey, self._ALG, self._name, self._public_key))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.vkey!r})"


class _SignerKey(_Key):
    """A signer key: name and 32-byte Ed25519 seed; parsed from signer key strings of the
    types :attr:`_SKEY_ALGS`. ``repr`` never shows the seed."""

    __slots__ = ("_key", "_seed")

    _SKEY_ALGS: ClassVar[tuple[int, ...]]

    def __init__(self, name: str, seed: bytes) -> None:
        self._name = _check_name_arg(name)
        if not isinstance(seed, bytes | bytearray) or len(seed) != _SEED_SIZE:
            raise UsageError("seed must be 32 bytes")
        self._seed = bytes(seed)
        self._key, self._public_key = _private_key_from_seed(self._seed)
        self._key_id = note_key_id(name, self._ALG, self._public_key)

    @classmethod
    def generate(cls, name: str, *, rng_seed: bytes | None = None) -> Self:
        """A new key named ``name``. ``rng_seed`` (32 bytes) is used as the Ed25519 seed when
        given (deterministic keys for tests and vectors); otherwise ``os.urandom`` is used."""
        return cls(name, _seed_for_generate(rng_seed))

    @classmethod
    def from_skey(cls, skey: str) -> Self:
        """Parse a signer key string in Go's form
        ``PRIVATE+KEY+<name>+<hex8>+<base64(alg || 32-byte seed)>``.

        A note signer key has type ``0x01``. The C2SP specs define no private key string for
        witnesses; electlog uses Go's form with type byte ``0x04`` and the ``0x04`` key id
        (what :attr:`skey` returns), and accepts a plain ``0x01`` note signer key (hex8 =
        ``0x01`` key id) for a witness too, as transparency-dev's
        ``NewSignerForCosignatureV1`` does.

        Raises :class:`~electlog.errors.KeyFormatError` (never echoing key material)."""
        name, _, _, seed = _parse_skey(skey, cls._SKEY_ALGS)
        return cls(name, seed)

    @property
    def skey(self) -> str:
        """The secret signer key string ``PRIVATE+KEY+<name>+<hex8>+<base64(alg || seed)>``."""
        return _key_string(_PRIVATE_PREFIX, self._name, self._key_id, self._ALG, self._seed)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r}, key_id={self._key_id:08x})"


class NoteVerifier(_VerifierKey):
    """An Ed25519 (type ``0x01``) signed-note verifier key.

    Construct it with :meth:`from_vkey` or ``NoteVerifier(name, public_key)``.
    """

    __slots__ = ()

    _ALG = ALG_ED25519
    _KIND = "note"

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        """Parse a ``<name>+<hex8>+<base64(0x01 || public key)>`` verifier key.

        Raises :class:`~electlog.errors.KeyFormatError` if it is malformed, of another type
        or if its key id does not match."""
        name, _, alg, public_key = parse_vkey(vkey)
        if alg != ALG_ED25519:
            raise KeyFormatError(
                f"verifier key {name!r} has signature type 0x{alg:02x}, a note key needs 0x01"
            )
        return cls(name, public_key)

    def verify(self, msg: bytes, sig: bytes) -> bool:
        """Whether ``sig`` (64 bytes) is this key's Ed25519 signature of ``msg``."""
        return _ed25519_verify(self._key, msg, sig)


class NoteSigner(_SignerKey):
    """An Ed25519 (type ``0x01``) signed-note signer key. ``repr`` never shows the seed."""

    __slots__ = ()

    _ALG = ALG_ED25519
    _SKEY_ALGS = (ALG_ED25519,)

    def verifier(self) -> NoteVerifier:
        """The matching :class:`NoteVerifier`."""
        return NoteVerifier(self._name, self._public_key)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message`` (for a note: its text)."""
        return self._key.sign(bytes(message))


# --------------------------------------------------------------------------- notes


@attrs.frozen(kw_only=True)
class NoteSignature:
    """One signature line of a note: key name, 32-bit key id and the signature bytes that
    follow the key id (64 bytes for Ed25519, 72 for a cosignature)."""

    name: str
    key_id: int
    signature_bytes: bytes

    def to_line(self) -> str:
        """The signature line ``— <name> <base64(key id || signature)>\\n``."""
        encoded = _b64encode(self.key_id.to_bytes(4, "big") + self.signature_bytes)
        return f"{_SIG_PREFIX}{self.name} {encoded}\n"


@attrs.frozen(kw_only=True)
class Note:
    """An opened note: its text, the signatures verified by known keys (one per key, in order
    of appearance) and the signatures of unknown keys (identical lines listed once)."""

    text: str
    sigs: tuple[NoteSignature, ...]
    unverified_sigs: tuple[NoteSignature, ...]


@attrs.frozen
class _ParsedLine:
    line: str
    sig: NoteSignature


def _parse_note(note: object) -> tuple[str, list[_ParsedLine]]:
    """Split a signed note into its text and its syntactically valid signature lines.

    Raises NoteError naming the problem and its character offset."""
    if isinstance(note, bytes | bytearray | memoryview):
        try:
            note = bytes(note).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedNoteError(
                f"malformed note: invalid UTF-8 at byte offset {exc.start}"
            ) from exc
    if not isinstance(note, str):
        raise UsageError(f"a note must be str or bytes, not {type(note).__name__}")
    try:
        note.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedNoteError(
            f"malformed note: lone surrogate (not valid UTF-8) at character offset {exc.start}"
        ) from exc
    bad = _CONTROL_RE.search(note)
    if bad is not None:
        raise MalformedNoteError(
            f"malformed note: control character U+{ord(bad.group()):04X} "
            f"at character offset {bad.start()}"
        )
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("malformed note: no blank line separates the text from signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if block == "":
        raise MalformedNoteError("malformed note: no signature lines after the blank line")
    if not block.endswith("\n"):
        raise MalformedNoteError(
            "malformed note: the last signature line does not end with a newline"
        )
    raw_lines = block[:-1].split("\n")
    if len(raw_lines) > MAX_NOTE_SIGNATURES:
        raise MalformedNoteError(
            f"malformed note: {len(raw_lines)} signature lines, more than {MAX_NOTE_SIGNATURES}"
        )
    parsed: list[_ParsedLine] = []
    offset = split + 2
    for number, line in enumerate(raw_lines, start=1):
        where = f"signature line {number} (character offset {offset})"
        offset += len(line) + 1
        if not line.startswith(_SIG_PREFIX):
            raise MalformedNoteError(f"malformed note: {where} does not start with '— '")
        name, _, encoded = line[len(_SIG_PREFIX) :].partition(" ")
        problem = _name_problem(name)
        if problem is not None:
            raise MalformedNoteError(f"malformed note: {where}: {problem}")
        raw = _b64decode_canonical(encoded) if encoded else None
        if raw is None:
            raise MalformedNoteError(f"malformed note: {where}: signature is not canonical base64")
        if len(raw) < 5:
            raise MalformedNoteError(f"malformed note: {where}: signature shorter than 5 bytes")
        sig = NoteSignature(
            name=name, key_id=int.from_bytes(raw[:4], "big"), signature_bytes=raw[4:]
        )
        parsed.append(_ParsedLine(line=line, sig=sig))
    return text, parsed


def _verifier_map(verifiers: Sequence[Verifier]) -> dict[tuple[str, int], Verifier]:
    if isinstance(verifiers, str | bytes) or not isinstance(verifiers, Sequence):
        raise UsageError("verifiers must be a sequence of verifiers")
    known: dict[tuple[str, int], Verifier] = {}
    for v in verifiers:
        if not isinstance(v, Verifier):
            raise UsageError(f"{v!r} is not a Verifier (needs name, key_id and verify)")
        k = (v.name, v.key_id)
        if k in known:
            raise NoteError(f"ambiguous key {v.name}+{v.key_id:08x}: listed twice in verifiers")
        known[k] = v
    return known


def open_note(note: str | bytes, verifiers: Sequence[Verifier]) -> Note:
    """Parse a signed note and verify its signatures by the known ``verifiers``.

    Rules (c2sp.org/signed-note, Go's ``note.Open``): the note must be valid UTF-8 without ASCII
    control characters other than newline; the last blank line separates the text (which keeps
    its final newline) from at least one signature line ``— <name> <base64>``; at most
    :data:`MAX_NOTE_SIGNATURES` lines; key names non-empty without spaces or ``+``; signatures
    canonical base64 of at least 5 bytes. Signatures whose (name, key id) no verifier has are
    ignored (listed in ``unverified_sigs``). Every signature line by a known key must verify,
    otherwise the whole note is rejected. At least one signature must verify.

    Raises :class:`~electlog.errors.NoteError`: ``"malformed note: ..."``,
    ``"ambiguous key ..."`` (two verifiers with the same name and key id),
    ``"invalid signature for key <name>+<hex8>"`` or ``"note has no verifiable signature"``.
    """
    known = _verifier_map(verifiers)
    text, lines = _parse_note(note)
    message = text.encode("utf-8")
    sigs: list[NoteSignature] = []
    seen_verified: set[tuple[str, int]] = set()
    unverified: list[NoteSignature] = []
    seen_unverified: set[str] = set()
    for item in lines:
        sig = item.sig
        k = (sig.name, sig.key_id)
        verifier = known.get(k)
        if verifier is None:
            if item.line not in seen_unverified:
                seen_unverified.add(item.line)
                unverified.append(sig)
            continue
        if not verifier.verify(message, sig.signature_bytes):
            raise NoteError(f"invalid signature for key {sig.name}+{sig.key_id:08x}")
        if k not in seen_verified:
            seen_verified.add(k)
            sigs.append(sig)
    if not sigs:
        names = ", ".join(f"{s.name}+{s.key_id:08x}" for s in unverified)
        raise NoteError(
            f"note has no verifiable signature (signatures by unknown keys: {names or 'none'})"
        )
    return Note(text=text, sigs=tuple(sigs), unverified_sigs=tuple(unverified))


def _check_note_text(text: object) -> str:
    if not isinstance(text, str):
        raise UsageError(f"note text must be str, not {type(text).__name__}")
    if text == "":
        raise UsageError("note text is empty")
    if not text.endswith("\n"):
        raise UsageError("note text must end with a newline")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UsageError(f"note text has a lone surrogate at offset {exc.start}") from exc
    bad = _CONTROL_RE.search(text)
    if bad is not None:
        raise UsageError(
            f"note text has control character U+{ord(bad.group()):04X} at offset {bad.start()}"
        )
    return text


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    """Sign ``text`` with each signer: ``text + "\\n" + one line per signer``, each line
    ``— <name> <base64(4-byte big-endian key id || Ed25519 signature of text)>\\n``.

    ``text`` must be non-empty, end with a newline and contain no ASCII control character
    other than newline (else :class:`~electlog.errors.UsageError`); at least one signer."""
    text = _check_note_text(text)
    if isinstance(signers, NoteSigner) or not isinstance(signers, Sequence):
        raise UsageError("signers must be a sequence of NoteSigner")
    if not signers:
        raise UsageError("sign_note needs at least one signer")
    if len(signers) > MAX_NOTE_SIGNATURES:
        raise UsageError(f"at most {MAX_NOTE_SIGNATURES} signers")
    message = text.encode("utf-8")
    parts = [text, "\n"]
    for signer in signers:
        if not isinstance(signer, NoteSigner):
            raise UsageError(f"{signer!r} is not a NoteSigner")
        parts.append(
            NoteSignature(
                name=signer.name, key_id=signer.key_id, signature_bytes=signer.sign(message)
            ).to_line()
        )
    return "".join(parts)
