"""Signed events: the statement, the entry envelope, and an author's chain.

A *statement* says who (author key id) claims what (event type, schema version, body) in which
log (log id = origin), at which position of the author's own chain (sequence number and the leaf
hash of the author's previous entry), at which claimed time (integer microseconds UTC).

An *entry* is the canonical map ``{"key": <32-byte public key>, "sig": <64-byte signature>,
"stmt": <exact statement bytes>}``. The signature is Ed25519 over ``SIGNATURE_CONTEXT`` followed by
the statement bytes. The Merkle leaf is ``SHA-256(0x00 || entry bytes)``. docs/format.md §2 is the
normative description.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Final, Literal, TypeVar, overload

import attrs

from .codec import _pack, decode_map, encode
from .errors import (
    DecodeError,
    EncodeError,
    EntryError,
    SignatureError,
    UsageError,
)
from .keys import Ed25519Backend, SigningKey
from .keys import _chosen as _chosen_backend

__all__ = [
    "FORMAT_VERSION",
    "MAX_ENTRY_SIZE",
    "SIGNATURE_CONTEXT",
    "ZERO_HASH",
    "Author",
    "AuthorHead",
    "Entry",
    "Statement",
    "VerifiedEntry",
    "chain_break",
    "entry_leaf_hash",
]

FORMAT_VERSION: Final = 1  # written as the literal b"\xa1v\x01" in _split_parts
SIGNATURE_CONTEXT: Final = b"electlog/v1/event\x00"
ZERO_HASH: Final = b"\x00" * 32
MAX_ENTRY_SIZE: Final = 65535  # fits the 2-byte length of tlog-tiles entry bundles
MAX_ORIGIN_LEN: Final = 255
MAX_TYPE_LEN: Final = 64
_UINT63: Final = 2**63 - 1

_STATEMENT_KEYS: Final = frozenset(
    {"author", "body", "log", "prev", "schema", "seq", "time", "type", "v"}
)
_ENTRY_KEYS: Final = frozenset({"key", "sig", "stmt"})
_LEAF_PREFIX: Final = b"\x00"
_LEAF_HASH: Final = hashlib.sha256(_LEAF_PREFIX)
"""SHA-256 after the leaf prefix (never updated: each leaf hash updates a copy)."""
_packb = _pack  # for str and int, msgpack writes the shortest form (codec tests)
_K = TypeVar("_K")
_V = TypeVar("_V")


_ENTRY_KEY: Final = b"\x83\xa3key\xc4\x20"  # map of 3, "key", bin8 of 32 (the public key)
_ENTRY_SIG: Final = b"\xa3sig\xc4\x40"  # "sig", bin8 of 64 (the signature)


def _stmt_header(n: int) -> bytes:
    """The ``"stmt"`` key and the bin header of an ``n``-byte statement (shortest form)."""
    if n < 0x100:
        return b"\xa4stmt\xc4" + n.to_bytes(1, "big")
    if n < 0x10000:
        return b"\xa4stmt\xc5" + n.to_bytes(2, "big")
    return b"\xa4stmt\xc6" + n.to_bytes(4, "big")


def _entry_bytes(public_key: bytes, signature: bytes, statement: bytes) -> bytes:
    """``codec.encode({"key": public_key, "sig": signature, "stmt": statement})``, assembled
    directly: the keys and the two fixed-size bins never vary."""
    return b"".join(
        (_ENTRY_KEY, public_key, _ENTRY_SIG, signature, _stmt_header(len(statement)), statement)
    )


def entry_leaf_hash(entry_bytes: bytes) -> bytes:
    """The Merkle leaf hash of an entry: SHA-256(0x00 || entry bytes)."""
    h = _LEAF_HASH.copy()  # cheaper than a new hash of a copy of the bytes with the prefix
    h.update(entry_bytes)
    return h.digest()


class _Memo(dict[_K, _V]):
    """A bounded memo: the values of the first :attr:`limit` distinct keys it is given, then no
    more (it holds values of pure functions, so what it does not hold costs only time)."""

    __slots__ = ("limit",)

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def remember(self, key: _K, value: _V) -> None:
        if len(self) < self.limit:
            self[key] = value


# docs/format.md §2.2 "Forbidden characters": C0 controls and space, DEL and the C1 controls, and
# the other Unicode white space; spelled out so that it does not depend on a Unicode database
_BAD_CHAR = re.compile("[\x00-\x20\x7f-\x9f\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")


class _TextRule:
    """The rule for a statement's text fields (log id, event type): non-empty, at most
    ``max_len`` UTF-8 bytes, no white space or control characters. Log ids and event types
    repeat, so each distinct text that passed is remembered (:attr:`passed`, the first 4,096)
    and checked once."""

    __slots__ = ("passed",)

    def __init__(self) -> None:
        self.passed: _Memo[tuple[str, str, int], None] = _Memo(4096)

    def __call__(self, value: object, field: str, max_len: int) -> str:
        if type(value) is str and (value, field, max_len) in self.passed:
            return value
        if not isinstance(value, str) or not value:
            raise EntryError(f"statement field {field!r} must be a non-empty string")
        if len(value.encode("utf-8", "surrogatepass")) > max_len:
            raise EntryError(f"statement field {field!r} is longer than {max_len} bytes")
        bad = _BAD_CHAR.search(value)
        if bad is not None:
            raise EntryError(
                f"statement field {field!r} must not contain white space or control characters "
                f"(U+{ord(bad.group()):04X} at character {bad.start()})"
            )
        self.passed.remember((value, field, max_len), None)
        return value


_check_text: Final = _TextRule()


def _check_uint(value: object, field: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= _UINT63:
        raise EntryError(f"statement field {field!r} must be an integer in [{minimum}, 2**63-1]")
    return value


def _check_hash(value: object, field: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != 32:
        raise EntryError(f"statement field {field!r} must be 32 bytes")
    return value


def _check_fields(
    version: object,
    log: object,
    type: object,
    schema: object,
    author: object,
    seq: object,
    time: object,
) -> None:
    """The statement checks that do not involve ``prev`` or ``body`` (see Statement.validate)."""
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise EntryError(f"unsupported format version {version!r}")
    _check_text(log, "log", MAX_ORIGIN_LEN)
    _check_text(type, "type", MAX_TYPE_LEN)
    _check_uint(schema, "schema", 1)
    _check_hash(author, "author")
    _check_uint(seq, "seq", 1)
    _check_uint(time, "time", 0)


class _TextPacker:
    """msgpack str of a log id or event type; there are few distinct values, so the first 4,096
    are remembered (:attr:`packed`)."""

    __slots__ = ("packed",)

    def __init__(self) -> None:
        self.packed: _Memo[str, bytes] = _Memo(4096)

    def __call__(self, value: str) -> bytes:
        found = self.packed.get(value)
        if found is not None:
            return found
        packed: bytes = _packb(value)
        if type(value) is str:
            self.packed.remember(value, packed)
        return packed


_packed_text: Final = _TextPacker()


def _split_parts(
    author: bytes, body: object, log: str, schema: int, seq: int, time: int, type: str
) -> tuple[bytes, bytes]:
    """Canonical statement bytes before and after ``prev`` (fields already checked)."""
    if not isinstance(body, dict):
        raise EntryError("statement field 'body' must be a map")
    try:
        body_bytes = encode(body)
    except EncodeError as exc:
        raise EntryError(f"statement body is not canonically encodable: {exc}") from exc
    try:
        pack = _packb
        known = _packed_text.packed
        log_b = known.get(log)
        if log_b is None:
            log_b = _packed_text(log)
        type_b = known.get(type)
        if type_b is None:
            type_b = _packed_text(type)
        head = b"".join(
            (b"\x89\xa6author\xc4\x20", author, b"\xa4body", body_bytes, b"\xa3log", log_b)
        )
        tail = b"".join(
            (
                b"\xa6schema",
                pack(schema),
                b"\xa3seq",
                pack(seq),
                b"\xa4time",
                pack(time),
                b"\xa4type",
                type_b,
                b"\xa1v\x01",  # FORMAT_VERSION (checked equal to 1)
            )
        )
    except (UnicodeEncodeError, ValueError, OverflowError) as exc:
        raise EntryError(f"statement is not canonically encodable: {exc}") from exc
    return head + b"\xa4prev\xc4\x20", tail


@attrs.frozen(kw_only=True)
class Statement:
    """What an author signs. See docs/format.md §2."""

    log: str
    type: str
    schema: int
    author: bytes
    seq: int
    prev: bytes
    time: int
    body: dict[str, Any]
    version: int = FORMAT_VERSION

    def validate(self) -> None:
        """Raise :class:`EntryError` naming the first field that is out of range."""
        _check_fields(
            self.version, self.log, self.type, self.schema, self.author, self.seq, self.time
        )
        _check_hash(self.prev, "prev")
        if not isinstance(self.body, dict):
            raise EntryError("statement field 'body' must be a map")
        if self.seq == 1 and self.prev != ZERO_HASH:
            raise EntryError("an author's first statement (seq 1) must have prev = 32 zero bytes")

    def to_map(self) -> dict[str, Any]:
        """The statement as the canonical map that is signed."""
        return {
            "author": self.author,
            "body": self.body,
            "log": self.log,
            "prev": self.prev,
            "schema": self.schema,
            "seq": self.seq,
            "time": self.time,
            "type": self.type,
            "v": self.version,
        }

    def to_bytes(self) -> bytes:
        """The canonical statement bytes (what is signed, after the context prefix).

        Equal to ``codec.encode(self.to_map())``; assembled directly because the top-level keys
        and their types are fixed (and validated), so only the body needs the general encoder.
        """
        head, tail = self.split_bytes()
        return head + self.prev + tail

    def split_bytes(self) -> tuple[bytes, bytes]:
        """The canonical statement bytes around ``prev``: ``to_bytes() == head + prev + tail``.

        Everything but ``prev`` is known before the author's previous entry is signed, so a
        chain can be encoded ahead and signed later (:mod:`electlog.signer`). Validates first."""
        self.validate()
        return _split_parts(
            self.author, self.body, self.log, self.schema, self.seq, self.time, self.type
        )

    @classmethod
    def from_map(cls, m: dict[str, Any]) -> Statement:
        """Build and validate a statement from its decoded canonical map."""
        keys = set(m)
        if keys != _STATEMENT_KEYS:
            missing = sorted(_STATEMENT_KEYS - keys)
            extra = sorted(keys - _STATEMENT_KEYS)
            raise EntryError(f"statement fields wrong: missing {missing}, unexpected {extra}")
        st = cls(
            log=m["log"],
            type=m["type"],
            schema=m["schema"],
            author=m["author"],
            seq=m["seq"],
            prev=m["prev"],
            time=m["time"],
            body=m["body"],
            version=m["v"],
        )
        st.validate()
        return st

    @classmethod
    def from_bytes(cls, data: bytes) -> Statement:
        """Strictly decode statement bytes."""
        try:
            m = decode_map(data, max_size=MAX_ENTRY_SIZE)
        except DecodeError as exc:
            raise EntryError(f"statement is not canonical: {exc}") from exc
        return cls.from_map(m)


@attrs.frozen(eq=False)
class Entry:
    """A signed entry: the exact bytes stored in the log, with their parsed parts.

    A plain :class:`Entry` makes no claim about its signature: anyone can build one from any
    parts. :meth:`verify` checks it and returns a :class:`VerifiedEntry`, the only type
    :meth:`electlog.log.Log.append_many` accepts without checking the signature again."""

    data: bytes
    statement: Statement
    public_key: bytes
    signature: bytes
    statement_bytes: bytes
    leaf_hash: bytes

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Entry) and other.data == self.data

    def __hash__(self) -> int:
        return hash(self.data)

    @property
    def author(self) -> bytes:
        """The author's key id."""
        return self.statement.author

    @property
    def type(self) -> str:
        """The event type."""
        return self.statement.type

    def verify(self, *, backend: Ed25519Backend | None = None) -> VerifiedEntry:
        """Check this entry's bytes (canonical form, fields, key id) and its signature with
        ``backend`` (default: the process default, :func:`electlog.keys.set_verify_backend`),
        and return it as a :class:`VerifiedEntry`, parsed from :attr:`data` alone (the other
        attributes are not trusted). A :class:`VerifiedEntry` is returned as it is (its
        signature was checked; every backend gives the same answer). Raises
        :class:`EntryError` or :class:`SignatureError`."""
        if type(self) is VerifiedEntry:
            if backend is not None:
                _chosen_backend(backend)  # a wrong value is refused all the same
            return self
        return Entry.from_bytes(self.data, verify=True, backend=backend)

    @classmethod
    def create(cls, statement: Statement, key: SigningKey) -> VerifiedEntry:
        """Sign ``statement`` with ``key`` and check the signature (see :class:`VerifiedEntry`).
        The statement's author must be the key's id."""
        if not isinstance(key, SigningKey):
            raise UsageError("Entry.create needs a SigningKey")
        if statement.author != key.key_id:
            raise EntryError("statement author is not the signing key's id")
        stmt = statement.to_bytes()
        message = SIGNATURE_CONTEXT + stmt
        sig = key.sign(message)
        data = _entry_bytes(key.public.raw, sig, stmt)
        if len(data) > MAX_ENTRY_SIZE:
            raise EntryError(f"entry is {len(data)} bytes, more than {MAX_ENTRY_SIZE}")
        try:
            key.verify(sig, message)
        except SignatureError as exc:
            raise SignatureError(
                f"signing {statement.type} seq {statement.seq} made a signature that does not "
                f"verify: {exc}"
            ) from None
        return _verified_entry(data, statement, key.public.raw, sig, stmt, entry_leaf_hash(data))

    @overload
    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        *,
        verify: Literal[True] = ...,
        backend: Ed25519Backend | None = ...,
    ) -> VerifiedEntry: ...

    @overload
    @classmethod
    def from_bytes(
        cls, data: bytes, *, verify: bool, backend: Ed25519Backend | None = ...
    ) -> Entry: ...

    @classmethod
    def from_bytes(
        cls, data: bytes, *, verify: bool = True, backend: Ed25519Backend | None = None
    ) -> Entry:
        """Parse entry bytes: canonical form, fields, key id, and (unless ``verify=False``) the
        signature, checked by ``backend`` (default: the process default,
        :func:`electlog.keys.set_verify_backend`), giving a :class:`VerifiedEntry`. Raises
        :class:`EntryError` or :class:`SignatureError` (:class:`UsageError` for a ``backend``
        that is not an :class:`electlog.keys.Ed25519Backend`)."""
        checker = _chosen_backend(backend)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise UsageError("entry data must be bytes")
        data = bytes(data)
        if len(data) > MAX_ENTRY_SIZE:
            raise EntryError(f"entry is {len(data)} bytes, more than {MAX_ENTRY_SIZE}")
        try:
            m = decode_map(data, max_size=MAX_ENTRY_SIZE)
        except DecodeError as exc:
            raise EntryError(f"entry is not canonical: {exc}") from exc
        if set(m) != _ENTRY_KEYS:
            raise EntryError(f"entry fields must be exactly {sorted(_ENTRY_KEYS)}, got {sorted(m)}")
        pub, sig, stmt = m["key"], m["sig"], m["stmt"]
        if not isinstance(pub, bytes) or len(pub) != 32:
            raise EntryError("entry field 'key' must be 32 bytes")
        if not isinstance(sig, bytes) or len(sig) != 64:
            raise EntryError("entry field 'sig' must be 64 bytes")
        if not isinstance(stmt, bytes):
            raise EntryError("entry field 'stmt' must be bytes")
        statement = Statement.from_bytes(stmt)
        if hashlib.sha256(pub).digest() != statement.author:
            raise EntryError("statement author is not SHA-256 of the entry's public key")
        leaf = entry_leaf_hash(data)
        if not verify:
            return cls(
                data=data,
                statement=statement,
                public_key=pub,
                signature=sig,
                statement_bytes=stmt,
                leaf_hash=leaf,
            )
        if not checker.verify(pub, sig, SIGNATURE_CONTEXT + stmt):
            raise SignatureError(
                f"signature of {statement.type} by {statement.author.hex()[:16]}… "
                f"seq {statement.seq} does not verify"
            )
        return _verified_entry(data, statement, pub, sig, stmt, leaf)


class VerifiedEntry(Entry):
    """An :class:`Entry` whose signature was checked, in this process or by a helper process
    that checked every signature it returned, under the strict Ed25519 rule
    (:mod:`electlog.keys`), and whose attributes were all derived from its :attr:`data`.

    Only verification makes one: :meth:`Entry.from_bytes` (with ``verify=True``, the default),
    :meth:`Entry.verify`, :meth:`Entry.create` / :meth:`Author.sign` (which check the signature
    they make) and :class:`electlog.signer.ChainSigner`. Calling the class directly raises
    :class:`UsageError`, and so does ``attrs.evolve`` of one (a changed entry is no longer the
    one that was checked). :meth:`electlog.log.Log.append_many` trusts exactly this type and
    checks every other entry's signature itself. Equal to the plain :class:`Entry` of the same
    bytes."""

    __slots__ = ()

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise UsageError(
            "a VerifiedEntry is made by verification: Entry.verify(), Entry.from_bytes(data), "
            "Entry.create(statement, key) or Author.sign(...)"
        )


_init_entry = Entry.__init__


def _verified_entry(
    data: bytes,
    statement: Statement,
    public_key: bytes,
    signature: bytes,
    statement_bytes: bytes,
    leaf_hash: bytes,
) -> VerifiedEntry:
    """A :class:`VerifiedEntry` of parts the caller derived from ``data`` and whose signature
    the caller checked (the only way to make one: callers are the verification paths)."""
    entry = object.__new__(VerifiedEntry)
    _init_entry(entry, data, statement, public_key, signature, statement_bytes, leaf_hash)
    return entry


@attrs.frozen
class AuthorHead:
    """The last position of an author's chain: sequence number and leaf hash of that entry."""

    seq: int
    prev: bytes


def chain_break(head: AuthorHead | None, seq: int, prev: bytes) -> tuple[int, bytes] | None:
    """The author-chain rule (docs/format.md §2.4), shared by the log's appends and the auditor's
    replay: ``None`` if a statement with ``seq`` / ``prev`` continues the author whose last
    accepted entry is ``head`` (``None`` for a new author), else the expected ``(seq, prev)``."""
    want_seq, want_prev = (1, ZERO_HASH) if head is None else (head.seq + 1, head.prev)
    if seq == want_seq and prev == want_prev:
        return None
    return want_seq, want_prev


class Author:
    """Signs statements for one key in one log, keeping the author's chain (seq, prev).

    ``seq``/``prev`` start at the author's current head (0 / zero hash for a new author); resume
    an existing author with ``Author(key, log, seq=head.seq, prev=head.prev)``.
    """

    def __init__(
        self, key: SigningKey, log_id: str, *, seq: int = 0, prev: bytes = ZERO_HASH
    ) -> None:
        if not isinstance(key, SigningKey):
            raise UsageError("Author needs a SigningKey")
        _check_text(log_id, "log", MAX_ORIGIN_LEN)
        if seq < 0 or (seq == 0 and prev != ZERO_HASH) or len(prev) != 32:
            raise UsageError("an author head is seq >= 0 with a 32-byte prev (zero for seq 0)")
        self.key = key
        self.log_id = log_id
        self.seq = seq
        self.prev = prev

    @property
    def key_id(self) -> bytes:
        """The author's key id."""
        return self.key.key_id

    def head(self) -> AuthorHead:
        """The author's current head."""
        return AuthorHead(self.seq, self.prev)

    def sign(self, type: str, body: dict[str, Any], *, time: int, schema: int = 1) -> VerifiedEntry:
        """Sign the next statement of this author's chain and advance the chain."""
        statement = Statement(
            log=self.log_id,
            type=type,
            schema=schema,
            author=self.key.key_id,
            seq=self.seq + 1,
            prev=self.prev,
            time=time,
            body=body,
        )
        entry = Entry.create(statement, self.key)
        self.seq += 1
        self.prev = entry.leaf_hash
        return entry

    def rewind(self, head: AuthorHead) -> None:
        """Reset the chain to ``head`` (after an append of this author's entry was refused)."""
        self.seq, self.prev = head.seq, head.prev

    def __repr__(self) -> str:
        return f"Author(key_id={self.key_id.hex()[:16]}…, log={self.log_id!r}, seq={self.seq})"
