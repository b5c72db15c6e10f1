"""Decode an entry once: the fixed envelope by position, the statement by one strict decode.

:meth:`electlog.events.Entry.from_bytes` (the writers' parser) decodes the entry map strictly
(msgpack, then a re-encode compared byte for byte), then the statement the same way, then builds
and validates a ``Statement`` and an ``Entry``. The auditor runs it for every entry of a log, so
:func:`parse_entry` does the same work once:

* The entry is a map of exactly ``key`` (bin 32), ``sig`` (bin 64) and ``stmt`` (bin), in that
  order (docs/format.md §2.3). Canonical msgpack has one encoding of it, so its canonical form is
  a fixed layout: ``83 a3 "key" c4 20 <32> a3 "sig" c4 40 <64> a4 "stmt"``, then the shortest bin
  header of the statement's length (``c4 n`` below 256 bytes, ``c5 nn`` from 256) and the
  statement itself, with nothing after it. Bytes in that layout decode to exactly that map under
  the strict rule; the envelope is read by slicing, without a general decode and repack.
* The statement is decoded by the codec's own fast path (msgpack's unpacker with the codec's
  limits, the structural check of :func:`electlog.codec._canonical_shape`, a re-encode compared
  byte for byte; with msgspec installed, the ``electlog[fast]`` extra, its MessagePack decoder
  and encoder do the decode and the re-encode, about 1.5 µs less an entry: see
  :data:`STATEMENT_CODEC`; its decoder also takes the statement into a typed struct, which
  checks the fields' types, lengths and ranges in C: :func:`_fast_struct`, 0.7 µs less again)
  and checked field by field with the writers' own checks
  (:func:`electlog.events._check_fields`). The structural check of the body takes the common
  case first (:func:`_shape`): a body with the keys of the last body of its type that passed
  has only its values checked, and a map of maps of lists (a ballot's marks) by one loop
  instead of a call per map and list; what that does not prove gets the general check.

Anything that does not pass every one of these checks goes to ``Entry.from_bytes`` itself, so
what is accepted and the error of what is refused (its class and message) are the writers'
(tests/audit/test_audit_decoding.py holds the two equal with a hypothesis property). The fast
path can only accept what the general decoder accepts, with the same fields.
"""

from __future__ import annotations

import functools
import hashlib
import types
from itertools import pairwise
from typing import Annotated, Any, Final, NamedTuple

import msgpack

from electlog.codec import (
    _SCALAR_TYPES,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_ITEMS,
    _canonical_shape,
)
from electlog.errors import ElectlogError
from electlog.events import FORMAT_VERSION, MAX_ENTRY_SIZE, ZERO_HASH, Entry, _check_fields

__all__ = ["ParsedEntry", "parse_entry"]

_KEY_HEAD: Final = b"\x83\xa3key\xc4\x20"  # map of 3, "key", bin8 of 32
_SIG_HEAD: Final = b"\xa3sig\xc4\x40"  # "sig", bin8 of 64
_STMT_KEY: Final = b"\xa4stmt"
_PUB: Final = slice(7, 39)
_SIG: Final = slice(45, 109)
_STATEMENT_KEYS: Final = ("author", "body", "log", "prev", "schema", "seq", "time", "type", "v")
_UINT63: Final = 2**63 - 1
_MEMO: Final = 4096
_passed: dict[tuple[str, str], None] = {}
"""(log id, event type) pairs of statements whose fields passed the writers' checks (the first
:data:`_MEMO`; there are few distinct ones)."""
_key_ids: dict[bytes, bytes] = {}
"""Public key -> its key id (SHA-256), for the first :data:`_MEMO` keys (a log has few)."""
_layouts: dict[str, tuple[str, ...]] = {}
"""Event type -> the keys (in order) of a body of that type that passed the general shape
check, for the first :data:`_MEMO` types: a body with exactly those keys needs only its values
checked (:func:`_shape`)."""
_post_keys: list[tuple[str, ...]] = [()]
"""The keys (in order) of the last map inside a map of maps that :func:`_maps_of_lists` took,
str in strictly increasing order (a ballot's post: against, for, write_ins)."""
_new_parsed: Any = tuple.__new__
_sha256 = hashlib.sha256
_unpackb: Any = msgpack.unpackb
_repack: Any = msgpack.Packer(use_bin_type=True).pack
"""The re-encode of :func:`_fast` without msgspec: ``msgpack.packb(m, use_bin_type=True)`` of a
statement map msgpack unpacked (exact dicts, lists, str, bytes, int, bool, None, float) by one
packer kept for it, without the codec's pool of packers (:func:`electlog.codec._pack`): packing
such a tree runs no Python code (no callback, no collection: the output is a bytes, not
tracked), so no other call can start on this packer before it returns; its buffer grows at most
to the largest statement (:data:`~electlog.events.MAX_ENTRY_SIZE`)."""
_decode_msgpack: Any = functools.partial(_unpackb, raw=False, max_ext_len=0)
_decode: Any = _decode_msgpack
_encode: Any = _repack
STATEMENT_CODEC = "msgpack"
"""Which library decodes and re-encodes a statement on the fast path: ``"msgspec"`` when it is
installed (the ``electlog[fast]`` extra), else ``"msgpack"``.

The two give the same answer. Both decode a statement of at most
:data:`~electlog.codec.DEFAULT_MAX_ITEMS` bytes to the same tree of dict, list, str, bytes, int,
bool and None (msgpack's length-derived limits cannot refuse well-formed bytes that short), and
both re-encode such a tree in its one shortest form, keeping each map's order; what either
decodes to anything else (msgspec's ``Ext`` and ``datetime``, a float, a map with other keys)
fails the structural check or the byte comparison, and goes to the general decoder, as do the
bytes either refuses. tests/audit/test_audit_decoding.py runs its properties on both."""
_decode_statement: Any = None
"""With msgspec: its decoder of a statement into a :class:`_Statement` (:func:`_fast_struct`)."""
WHERE_FIELDS: Final = (
    *("box", "community", "dedup", "nomination"),
    *("objection", "rep", "unit", "voter"),
)
"""What the routing of entries to community shards and its log-wide checks read of an event's
body (:func:`where_of`): the ids that place an event in a community, and those claimed
across communities."""
route_statement: Any = None
"""With msgspec: a decoder of a statement into what routing reads of it, a :class:`_Routed`
(``author``, ``seq``, ``time``, ``prev``, ``type`` as they are, ``body`` a :class:`_Where`: its
:data:`WHERE_FIELDS`, None where absent), every other field and key skipped undecoded; it
raises for a statement that is not a map, or whose body is not a map. It checks no type: only
an entry that a worker then verifies (and so decodes strictly) is used. None without
msgspec."""
_Where: Any = types.SimpleNamespace
try:  # the faster MessagePack library, if installed (electlog[fast])
    import msgspec
except ImportError:  # pragma: no cover - depends on the optional extra
    pass
else:
    _decode = msgspec.msgpack.Decoder().decode
    _encode = msgspec.msgpack.Encoder().encode
    STATEMENT_CODEC = "msgspec"

    _Hash = Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]

    class _Statement(msgspec.Struct, forbid_unknown_fields=True, gc=False):
        """A statement's fields as the writers' inline checks of :func:`_fast` take them (the
        fields in the canonical key order, so msgspec's encoder writes them in that order):
        msgspec's decoder checks each type, length and range in C, where :func:`_fast` checks
        them in Python after a decode into a dict. Stricter is safe, looser is not: whatever
        this refuses goes to the general decoder."""

        author: _Hash
        body: dict[str, Any]
        log: str
        prev: _Hash
        schema: Annotated[int, msgspec.Meta(ge=1, le=_UINT63)]
        seq: Annotated[int, msgspec.Meta(ge=1, le=_UINT63)]
        time: Annotated[int, msgspec.Meta(ge=0, le=_UINT63)]
        type: str
        v: int

    _decode_statement = msgspec.msgpack.Decoder(_Statement).decode

    class _Where(msgspec.Struct, gc=False):  # type: ignore[no-redef]
        """:data:`WHERE_FIELDS` of a body (any type each; None where absent)."""

        box: Any = None
        community: Any = None
        dedup: Any = None
        nomination: Any = None
        objection: Any = None
        rep: Any = None
        unit: Any = None
        voter: Any = None

    class _Routed(msgspec.Struct, gc=False):
        """What routing reads of a statement (:data:`route_statement`)."""

        author: Any = None
        body: _Where | None = None
        prev: Any = None
        seq: Any = None
        time: Any = None
        type: Any = None

    route_statement = msgspec.msgpack.Decoder(_Routed).decode


def where_of(body: dict[str, Any]) -> Any:
    """:data:`WHERE_FIELDS` of a decoded body as attributes (None where absent), as
    :data:`route_statement` gives them."""
    get = body.get
    return _Where(**{name: get(name) for name in WHERE_FIELDS})


class ParsedEntry(NamedTuple):
    """An entry that decodes canonically (its signature not yet checked): the envelope's parts
    and the statement's fields."""

    public_key: bytes
    signature: bytes
    statement_bytes: bytes
    log: str
    type: str
    schema: int
    author: bytes
    seq: int
    prev: bytes
    time: int
    body: dict[str, Any]


def _statement(data: bytes) -> bytes | None:
    """The statement bytes if ``data`` is in the canonical envelope layout, else None."""
    n = len(data)
    if (
        n < 116
        or not data.startswith(_KEY_HEAD)
        or not data.startswith(_SIG_HEAD, 39)
        or not data.startswith(_STMT_KEY, 109)
    ):
        return None
    tag = data[114]
    if tag == 0xC4:
        if data[115] == n - 116:
            return data[116:]
        return None
    if tag == 0xC5 and n >= 117:
        length = (data[115] << 8) | data[116]
        if length >= 0x100 and length == n - 117:
            return data[117:]
    return None


def unpack_statement(stmt: bytes) -> Any:
    """The statement codec's decode of statement bytes (:data:`STATEMENT_CODEC`; msgpack's with
    the codec's limits above :data:`~electlog.codec.DEFAULT_MAX_ITEMS` bytes), or None where it
    refuses them."""
    n = len(stmt)
    try:
        if n <= DEFAULT_MAX_ITEMS:
            # msgpack sets the limits from the length itself (strings, bins and arrays at most
            # n, maps n // 2): the same as the codec's below these sizes, without the keywords
            return _decode(stmt)
        return _unpackb(
            stmt,
            use_list=True,
            raw=False,
            strict_map_key=True,
            timestamp=0,
            max_str_len=n,
            max_bin_len=n,
            max_array_len=min(DEFAULT_MAX_ITEMS, n),
            max_map_len=min(DEFAULT_MAX_ITEMS, n // 2),
            max_ext_len=0,
        )
    except Exception:  # the general decoder names the problem
        return None


def _fast(data: bytes) -> ParsedEntry | None:
    """The fast path: a :class:`ParsedEntry`, or None for anything it does not accept."""
    if len(data) > MAX_ENTRY_SIZE:
        return None
    stmt = _statement(data)
    if stmt is None:
        return None
    if len(stmt) <= DEFAULT_MAX_ITEMS:  # unpack_statement's common case, without its call
        try:
            m = _decode(stmt)
        except Exception:  # the general decoder names the problem
            return None
    else:
        m = unpack_statement(stmt)
    if type(m) is not dict or tuple(m) != _STATEMENT_KEYS:
        return None
    author, body, log, prev, schema, seq, time, etype, version = m.values()
    if (
        type(body) is not dict
        or type(prev) is not bytes
        or len(prev) != 32
        or type(version) is not int
        or not _shape(body, etype)
    ):
        return None
    if not (
        type(schema) is int
        and type(seq) is int
        and type(time) is int
        and version == FORMAT_VERSION
        and 1 <= schema <= _UINT63
        and 1 <= seq <= _UINT63
        and 0 <= time <= _UINT63
        and type(author) is bytes
        and len(author) == 32
        and type(log) is str
        and type(etype) is str
        and (log, etype) in _passed
    ) and not _fields_pass(version, log, etype, schema, author, seq, time):
        return None
    return _parsed(data, stmt, m, log, etype, schema, author, seq, prev, time, body)


def _fast_struct(data: bytes) -> ParsedEntry | None:
    """:func:`_fast` with msgspec installed: the statement decoded into a :class:`_Statement`,
    whose decoder checks the fields' types, lengths and ranges (and that there are no others)
    in C, then re-encoded and compared byte for byte as :func:`_fast` does, which also proves
    the keys were in canonical order, each once. 4.35 µs an entry against 5.05 for
    :func:`_fast` over the 129,600-voter district's 447,641 entries (best of 3, the collector
    off). The answer is :func:`_fast`'s for every entry (tests/audit/test_audit_decoding.py
    runs its properties on both)."""
    # an entry is at most MAX_ENTRY_SIZE bytes, under the codec's DEFAULT_MAX_ITEMS, so the
    # codec's limits (unpack_statement's) cannot refuse its statement
    if len(data) > MAX_ENTRY_SIZE:
        return None
    stmt = _statement(data)
    if stmt is None:
        return None
    try:
        m = _decode_statement(stmt)
    except Exception:  # the general decoder names the problem
        return None
    body = m.body
    log = m.log
    etype = m.type
    author = m.author
    seq = m.seq
    prev = m.prev
    if not _shape(body, etype):
        return None
    if not (m.v == FORMAT_VERSION and (log, etype) in _passed) and not _fields_pass(
        m.v, log, etype, m.schema, author, seq, m.time
    ):
        return None
    return _parsed(data, stmt, m, log, etype, m.schema, author, seq, prev, m.time, body)


def _parsed(
    data: bytes,
    stmt: bytes,
    m: Any,
    log: str,
    etype: str,
    schema: int,
    author: bytes,
    seq: int,
    prev: bytes,
    time: int,
    body: dict[str, Any],
) -> ParsedEntry | None:
    """The end of both fast paths, for a statement ``m`` decoded from ``stmt`` whose fields
    passed: the first entry's ``prev``, the re-encode compared byte for byte, the author's key
    id; the :class:`ParsedEntry`, or None."""
    if seq == 1 and prev != ZERO_HASH:
        return None
    if _encode(m) != stmt:
        return None
    pub = data[_PUB]
    if (_key_ids.get(pub) or _key_id(pub)) != author:
        return None
    parsed: ParsedEntry = _new_parsed(  # tuple.__new__: a NamedTuple's own __new__ is Python
        ParsedEntry, (pub, data[_SIG], stmt, log, etype, schema, author, seq, prev, time, body)
    )
    return parsed


def _key_id(pub: bytes) -> bytes:
    """The key id (SHA-256) of a public key, remembered for the first :data:`_MEMO` keys."""
    key_id = _sha256(pub).digest()
    if len(_key_ids) < _MEMO:
        _key_ids[pub] = key_id
    return key_id


def _shape(body: dict[str, Any], etype: Any) -> bool:
    """:func:`electlog.codec._canonical_shape` of a statement's body (at depth 1), taking the
    common case first: a body with the keys of a body of the same type that passed (so str,
    strictly increasing) needs only its values checked, scalars by type, maps of maps (a
    ballot's marks) by :func:`_maps_of_lists` first. Whatever that does not prove goes to the
    general check, so the result is always the general check's."""
    keys = _layouts.get(etype) if type(etype) is str else None
    if keys is None or tuple(body) != keys:
        if not _canonical_shape(body, 1, DEFAULT_MAX_DEPTH):
            return False
        if type(etype) is str and (etype in _layouts or len(_layouts) < _MEMO):
            _layouts[etype] = tuple(body)  # the latest that passed
        return True
    values = body.values()
    if _SCALAR_TYPES.issuperset(map(type, values)):
        return True
    for v in values:
        if type(v) in _SCALAR_TYPES or (type(v) is dict and _maps_of_lists(v)):
            continue
        if not _canonical_shape(v, 2, DEFAULT_MAX_DEPTH):
            return False
    return True


def _maps_of_lists(value: dict[Any, Any]) -> bool:
    """True if ``value`` (a map at depth 2) is a map of str keys in strictly increasing order
    whose values are maps of the keys of :data:`_post_keys` (or of other str keys in strictly
    increasing order) whose values are scalars or lists of scalars: a shape
    :func:`electlog.codec._canonical_shape` accepts at that depth. False proves nothing (the
    caller runs the general check)."""
    scalars = _SCALAR_TYPES
    known = _post_keys[0]
    prev: object = None
    for k, inner in value.items():
        if type(k) is not str or type(inner) is not dict:
            return False
        if prev is not None and not prev < k:  # type: ignore[operator]
            return False
        prev = k
        keys = tuple(inner)
        if keys != known:
            if not _sorted_str(keys):
                return False
            _post_keys[0] = known = keys
        for v in inner.values():
            t = type(v)
            if t is list:
                if v and not scalars.issuperset(map(type, v)):
                    return False
            elif t not in scalars:
                return False
    return True


def _sorted_str(keys: tuple[Any, ...]) -> bool:
    """Whether ``keys`` are str in strictly increasing order (as the general check wants a
    map's keys)."""
    return all(type(k) is str for k in keys) and all(a < b for a, b in pairwise(keys))


def _fields_pass(
    version: object,
    log: object,
    etype: object,
    schema: object,
    author: object,
    seq: object,
    time: object,
) -> bool:
    """Whether the writers' checks of these statement fields
    (:func:`electlog.events._check_fields`) pass; the log id and type of a statement that
    passes are remembered (:data:`_passed`), so that the next with the same two is checked
    inline, by the very conditions those checks apply to the other fields."""
    try:
        _check_fields(version, log, etype, schema, author, seq, time)
    except ElectlogError:
        return False
    if type(log) is str and type(etype) is str and len(_passed) < _MEMO:
        _passed[(log, etype)] = None
    return True


fast_path: Any = _fast if _decode_statement is None else _fast_struct
"""The fast path :func:`parse_entry` and the audit's verification take: :func:`_fast_struct`
with msgspec, else :func:`_fast`."""


def parse_entry(data: bytes) -> ParsedEntry:
    """Decode entry bytes as :meth:`Entry.from_bytes(data, verify=False)
    <electlog.events.Entry.from_bytes>` does, with the same result and the same errors
    (:class:`~electlog.errors.EntryError` naming the problem), decoding each part once."""
    if type(data) is bytes:
        parsed: ParsedEntry | None = fast_path(data)
        if parsed is not None:
            return parsed
    entry = Entry.from_bytes(data, verify=False)
    st = entry.statement
    return ParsedEntry(
        entry.public_key,
        entry.signature,
        entry.statement_bytes,
        st.log,
        st.type,
        st.schema,
        st.author,
        st.seq,
        st.prev,
        st.time,
        st.body,
    )
