"""Openings of committed fields: the authorised tier's plaintext (docs/format.md, "Openings").

Under the ``minimal`` public profile some fields of an event are on the public log only as a
salted commitment (``c_birth`` and ``c_basis`` of ``voter.registered`` v2; the committed
details ``c_reason``, ``c_grounds``, ``c_rel`` and ``c_attestation`` of the other schema-2
events). The *opening* of one such field of one entry is ``(entry index, field, field salt,
value)``, where ``value`` is the str-to-str mapping the commitment was made over
(:func:`~electlog.election.receipts.commitment`). An authorised auditor given the openings
rebuilds every commitment and replays the rules the public could not check.

:data:`COMMITTED_FIELDS` is the registry of committed fields: for each ``(event type, schema,
field)`` the event attribute holding the commitment, how to parse the opened value and rebuild
the commitment from it, and the rule function to replay on it. Adding a committed field is one
:class:`CommittedField` line in :data:`COMMITTED_FIELDS` plus its rule function (which raises
:class:`~electlog.errors.RuleViolation`, like every admission rule); the value forms and rule
functions are in :mod:`electlog.election._opening_rules`.

:class:`OpeningsDocument` is the plaintext: a header naming the log origin, the election id and
the checkpoint ``(size, root)`` it covers, then every opening, sorted. It is never part of the
public bundle: the registrar keeps it privately and hands it, encrypted to the listed auditors
(:mod:`electlog.audit.openings`), to those allowed to see it.
"""

from __future__ import annotations

import datetime as _dt
import enum
import itertools
import struct
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import attrs

from electlog.codec import decode_map, encode
from electlog.errors import DecodeError, OpeningsError, RuleViolation, UsageError

from . import _opening_rules as R
from . import codes as C
from ._committed import natural_ref
from ._opening_rules import OpeningCheck
from .events import (
    CommitteeMemberWithdrawnV2,
    ElectionDefined,
    ElectionEvent,
    KeyRevokedV2,
    NominationWithdrawnV2,
    ObjectionDecidedV2,
    ObjectionFiledV2,
    ProxyAuthorisedV2,
    VettingDecidedV2,
    VoterRegisteredV2,
    VoterRemovedV2,
)
from .receipts import (
    MIN_SALT,
    attestation_commitment,
    birth_commitment,
    detail_salt,
    field_salt,
    grounds_commitment,
    reason_commitment,
    rel_commitment,
)

__all__ = [
    "COMMITTED_FIELDS",
    "OPENINGS_MAGIC",
    "OPENINGS_VERSION",
    "CommittedField",
    "Opening",
    "OpeningCheck",
    "OpeningProblem",
    "OpeningsDocument",
    "ProblemKind",
    "check_openings",
    "committed_fields_of",
    "detail_openings",
    "registration_openings",
]

OPENINGS_VERSION: Final = "electlog/openings/v1"
OPENINGS_MAGIC: Final = b"electlog/openings/v1\n"
"""The first bytes of an openings document's plaintext."""
MAX_RECORD: Final = 64 * 1024
"""Largest encoded header or opening record (a record is a few hundred bytes)."""
MAX_OPENINGS: Final = 16_000_000
"""Most openings one document may hold (a district has about two per voter)."""


# --------------------------------------------------------------------------- the registry


@attrs.frozen(kw_only=True)
class CommittedField:
    """One committed field of one event type and schema.

    ``attribute``: the event attribute holding the 32-byte commitment. ``parse``: the opened
    str-to-str mapping to typed values (raise ``ValueError`` for a malformed one). ``rebuild``:
    the commitment of the field's salt over the parsed value (the same function the writer
    used). ``check``: the rule function replayed on the parsed value (raises
    :class:`~electlog.errors.RuleViolation`). ``rules``: the rule codes it can name."""

    event_type: str
    schema: int
    field: str
    attribute: str
    parse: Callable[[Mapping[str, str]], Any]
    rebuild: Callable[[bytes, Any], bytes]
    check: Callable[[OpeningCheck], None]
    rules: tuple[str, ...]


def _reason_field(event_type: str) -> CommittedField:
    """``c_reason`` of a schema-2 event whose reason is free text (matched, not judged)."""
    return CommittedField(
        event_type=event_type,
        schema=2,
        field="reason",
        attribute="c_reason",
        parse=R.parse_reason,
        rebuild=reason_commitment,
        check=R.opened_only,
        rules=(),
    )


_REGISTERED: Final = VoterRegisteredV2.TYPE
COMMITTED_FIELDS: Final[dict[tuple[str, int, str], CommittedField]] = {
    (f.event_type, f.schema, f.field): f
    for f in (
        CommittedField(
            event_type=_REGISTERED,
            schema=2,
            field="birth",
            attribute="c_birth",
            parse=R.parse_birth,
            rebuild=birth_commitment,
            check=R.check_birth,
            rules=(C.VOTER_UNDERAGE,),
        ),
        CommittedField(
            event_type=_REGISTERED,
            schema=2,
            field="basis",
            attribute="c_basis",
            parse=R.parse_basis,
            rebuild=R.rebuild_basis,
            check=R.check_basis,
            rules=(C.VOTER_BASIS_INVALID,),
        ),
        CommittedField(
            event_type=VoterRemovedV2.TYPE,
            schema=2,
            field="reason",
            attribute="c_reason",
            parse=R.parse_reason,
            rebuild=reason_commitment,
            check=R.check_removal,
            rules=(C.VOTER_REMOVAL_CODE_MISMATCH,),
        ),
        CommittedField(
            event_type=VettingDecidedV2.TYPE,
            schema=2,
            field="reason",
            attribute="c_reason",
            parse=R.parse_criteria,
            rebuild=R.rebuild_criteria,
            check=R.opened_only,
            rules=(),
        ),
        CommittedField(
            event_type=ObjectionFiledV2.TYPE,
            schema=2,
            field="grounds",
            attribute="c_grounds",
            parse=R.parse_grounds,
            rebuild=grounds_commitment,
            check=R.opened_only,
            rules=(),
        ),
        _reason_field(ObjectionDecidedV2.TYPE),
        _reason_field(CommitteeMemberWithdrawnV2.TYPE),
        _reason_field(NominationWithdrawnV2.TYPE),
        _reason_field(KeyRevokedV2.TYPE),
        CommittedField(
            event_type=ProxyAuthorisedV2.TYPE,
            schema=2,
            field="rel",
            attribute="c_rel",
            parse=R.parse_rel,
            rebuild=rel_commitment,
            check=R.check_relationship,
            rules=(C.PROXY_NOT_CLOSE_RELATIVE,),
        ),
        CommittedField(
            event_type=ProxyAuthorisedV2.TYPE,
            schema=2,
            field="attestation",
            attribute="c_attestation",
            parse=R.parse_attestation,
            rebuild=attestation_commitment,
            check=R.opened_only,
            rules=(),
        ),
    )
}
"""Every committed field, by ``(event type, schema, field)``. The field name is also the
context of the field's salt: :func:`~electlog.election.receipts.field_salt` of the voter's
salt for ``voter.registered`` (``birth``, ``basis``),
:func:`~electlog.election.receipts.detail_salt` of the writer's secret for the committed
details (``reason``, ``grounds``, ``rel``, ``attestation``)."""


def committed_fields_of(event_type: str, schema: int) -> tuple[CommittedField, ...]:
    """The committed fields of events of ``event_type`` and ``schema``, in field order."""
    return tuple(
        f
        for key, f in sorted(COMMITTED_FIELDS.items())
        if key[0] == event_type and key[1] == schema
    )


# --------------------------------------------------------------------------- the document


def _text_map(value: object, where: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and k and isinstance(v, str) for k, v in value.items()
    ):
        raise UsageError(f"{where}: an opening's value maps non-empty str keys to str values")
    return dict(value)


@attrs.frozen(kw_only=True)
class Opening:
    """The opening of committed ``field`` of the entry at ``index``: the field's own ``salt``
    (:func:`~electlog.election.receipts.field_salt` of the registration salt, never the
    registration salt itself) and the ``value`` the commitment was made over."""

    index: int
    field: str
    salt: bytes
    value: Mapping[str, str]

    def __attrs_post_init__(self) -> None:
        if isinstance(self.index, bool) or not isinstance(self.index, int) or self.index < 0:
            raise UsageError(f"an opening's index must be an int >= 0, got {self.index!r}")
        if not isinstance(self.field, str) or not self.field:
            raise UsageError("an opening's field must be a non-empty str")
        if not isinstance(self.salt, bytes) or len(self.salt) < MIN_SALT:
            raise UsageError(f"opening {self.index}/{self.field}: a salt of >= {MIN_SALT} bytes")
        object.__setattr__(self, "value", _text_map(self.value, f"opening {self.index}"))

    def to_body(self) -> dict[str, Any]:
        """The record's canonical map (docs/format.md)."""
        return {"field": self.field, "index": self.index, "salt": self.salt, "value": self.value}


def registration_openings(
    index: int,
    salt: bytes,
    *,
    birth_date: _dt.date,
    basis: str,
    years_resident: int | None = None,
    approval_ref: str | None = None,
) -> list[Opening]:
    """The openings of a ``voter.registered`` v2 at entry ``index``, from the registrar's
    record: the voter's registration ``salt`` (the fields' salts derive from it) and the values
    :func:`~electlog.election.receipts.minimal_registration` committed to."""
    if not isinstance(birth_date, _dt.date):
        raise UsageError("birth_date must be a datetime.date")
    return [
        Opening(
            index=index,
            field="basis",
            salt=field_salt(salt, "basis"),
            value={
                "approval_ref": approval_ref or "",
                "basis": basis,
                "years_resident": "" if years_resident is None else str(years_resident),
            },
        ),
        Opening(
            index=index,
            field="birth",
            salt=field_salt(salt, "birth"),
            value={"birth_date": birth_date.isoformat()},
        ),
    ]


def detail_openings(
    index: int,
    event: ElectionEvent,
    *,
    secret: bytes,
    election_id: str,
    details: Mapping[tuple[str, str, str], Mapping[str, str]],
) -> list[Opening]:
    """The openings of the committed details (``c_reason``, ``c_grounds``, ``c_rel``,
    ``c_attestation``) of the schema-2 ``event`` at entry ``index``, from its writer's records:
    ``secret``, the writer's secret the detail salts derive from
    (:func:`~electlog.election.receipts.detail_salt`; ``PhaseBuilder.detail_secret``), and
    ``details``, what each detail said by ``(event type, entry ref, field)`` (the committed
    maps of ``PhaseBuilder.details``). The entry ref is the event's natural id, with ``#n``
    from its second occurrence on: the opening is the record of that id whose commitment is
    the entry's. :class:`~electlog.errors.UsageError` when no record opens a commitment."""
    fields = committed_fields_of(event.TYPE, event.SCHEMA)
    natural = natural_ref(event)
    if natural is None or not fields:
        raise UsageError(f"entry {index}: a {event.TYPE} v{event.SCHEMA} has no committed detail")
    out = []
    for cf in fields:
        committed = getattr(event, cf.attribute)
        n = 1
        while True:
            ref = natural if n == 1 else f"{natural}#{n}"
            value = details.get((event.TYPE, ref, cf.field))
            if value is None:
                raise UsageError(
                    f"entry {index}: no record of {event.TYPE} {natural!r} opens its "
                    f"{cf.attribute} (another writer's secret or records)"
                )
            salt = detail_salt(secret, election_id, event.TYPE, ref, cf.field)
            try:
                rebuilt = cf.rebuild(salt, cf.parse(value))
            except ValueError as exc:
                raise UsageError(
                    f"entry {index}: the record {ref!r} of {cf.attribute} is malformed: {exc}"
                ) from None
            if rebuilt == committed:
                out.append(Opening(index=index, field=cf.field, salt=salt, value=value))
                break
            n += 1
    return out


def _header_map(data: object) -> dict[str, Any]:
    if not isinstance(data, dict) or set(data) != {"count", "election", "origin", "root", "size"}:
        raise OpeningsError(
            "the openings header is not a {count, election, origin, root, size} map"
        )
    ok = (
        isinstance(data["count"], int)
        and 0 <= data["count"] <= MAX_OPENINGS
        and isinstance(data["election"], str)
        and data["election"] != ""
        and isinstance(data["origin"], str)
        and data["origin"] != ""
        and isinstance(data["root"], bytes)
        and len(data["root"]) == 32
        and isinstance(data["size"], int)
        and data["size"] >= 1
    )
    if not ok:
        raise OpeningsError("the openings header has a field of the wrong type or range")
    return data


@attrs.frozen(kw_only=True)
class OpeningsDocument:
    """The plaintext of an openings bundle: every opening of the log ``origin``'s election
    ``election``, covering the entries of the checkpoint of ``size`` entries and ``root``.
    :meth:`to_bytes` / :meth:`from_bytes` are the byte-exact form of docs/format.md."""

    origin: str
    election: str
    size: int
    root: bytes
    openings: tuple[Opening, ...]

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.origin, str) or not self.origin:
            raise UsageError("an openings document names its log origin")
        if not isinstance(self.election, str) or not self.election:
            raise UsageError("an openings document names its election id")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise UsageError("an openings document covers a checkpoint of size >= 1")
        if not isinstance(self.root, bytes) or len(self.root) != 32:
            raise UsageError("an openings document's root is 32 bytes")
        ops = tuple(self.openings)
        if not all(isinstance(o, Opening) for o in ops):
            raise UsageError("openings must be Opening objects")
        ops = tuple(sorted(ops, key=lambda o: (o.index, o.field.encode("utf-8"))))
        for a, b in itertools.pairwise(ops):
            if (a.index, a.field) == (b.index, b.field):
                raise UsageError(f"two openings of entry {a.index}, field {a.field!r}")
        object.__setattr__(self, "openings", ops)

    @classmethod
    def make(
        cls, *, origin: str, election: str, size: int, root: bytes, openings: Iterable[Opening]
    ) -> OpeningsDocument:
        """A document of ``openings`` (any order; sorted here)."""
        return cls(origin=origin, election=election, size=size, root=root, openings=tuple(openings))

    def to_bytes(self) -> bytes:
        """``OPENINGS_MAGIC``, then the header record, then one record per opening; each record
        is a 4-byte big-endian length and a canonical msgpack map."""
        header = {
            "count": len(self.openings),
            "election": self.election,
            "origin": self.origin,
            "root": self.root,
            "size": self.size,
        }
        parts = [OPENINGS_MAGIC, _record(header)]
        parts.extend(_record(o.to_body()) for o in self.openings)
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> OpeningsDocument:
        """Parse :meth:`to_bytes`'s form strictly (canonical records, sorted and distinct
        openings, nothing after the last); :class:`~electlog.errors.OpeningsError` naming the
        record otherwise."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise UsageError("an openings document is bytes")
        buf = memoryview(data)
        if bytes(buf[: len(OPENINGS_MAGIC)]) != OPENINGS_MAGIC:
            raise OpeningsError(f"not an openings document (it does not start {OPENINGS_VERSION})")
        pos = len(OPENINGS_MAGIC)
        body, pos = _read_record(buf, pos, "the header")
        header = _header_map(body)
        openings = []
        for i in range(header["count"]):
            body, pos = _read_record(buf, pos, f"opening {i}")
            openings.append(_opening(body, i))
        if pos != len(buf):
            raise OpeningsError(f"{len(buf) - pos} byte(s) after the last opening")
        doc = cls(
            origin=header["origin"],
            election=header["election"],
            size=header["size"],
            root=header["root"],
            openings=tuple(openings),
        )
        if doc.openings != tuple(openings):
            raise OpeningsError("the openings are not sorted by (index, field)")
        return doc


def _record(body: dict[str, Any]) -> bytes:
    data = encode(body)
    return struct.pack(">I", len(data)) + data


def _read_record(buf: memoryview, pos: int, what: str) -> tuple[object, int]:
    if len(buf) - pos < 4:
        raise OpeningsError(f"the openings document ends before {what}")
    (n,) = struct.unpack(">I", buf[pos : pos + 4])
    if n > MAX_RECORD or len(buf) - pos - 4 < n:
        raise OpeningsError(f"{what}: a record of {n} bytes (too long or truncated)")
    try:
        return decode_map(bytes(buf[pos + 4 : pos + 4 + n]), max_size=MAX_RECORD), pos + 4 + n
    except DecodeError as exc:
        raise OpeningsError(f"{what} is not a canonical msgpack map: {exc}") from None


def _opening(body: object, i: int) -> Opening:
    if not isinstance(body, dict) or set(body) != {"field", "index", "salt", "value"}:
        raise OpeningsError(f"opening {i} is not a {{field, index, salt, value}} map")
    try:
        return Opening(
            index=body["index"], field=body["field"], salt=body["salt"], value=body["value"]
        )
    except UsageError as exc:
        raise OpeningsError(f"opening {i}: {exc}") from None


# --------------------------------------------------------------------------- checking


class ProblemKind(enum.StrEnum):
    """The kinds of :class:`OpeningProblem`: the first three are the audit's finding codes
    ``openings.<kind>``; ``rule`` is a rule the opened value breaks (its own finding)."""

    MISMATCH = "mismatch"
    MISSING = "missing"
    UNKNOWN = "unknown"
    RULE = "rule"


@attrs.frozen(kw_only=True)
class OpeningProblem:
    """An opening that does not open its commitment (``mismatch``), a committed field without
    an opening (``missing``) or an opening of nothing committed in the log (``unknown``), at
    entry ``index``, ``field``; or, with ``rule`` set, a rule the opened value breaks."""

    kind: ProblemKind
    index: int
    field: str
    message: str
    rule: RuleViolation | None = None


def check_openings(
    doc: OpeningsDocument,
    definition: ElectionDefined,
    events: Iterable[tuple[int, ElectionEvent]],
) -> tuple[list[OpeningProblem], list[OpeningProblem], dict[str, int]]:
    """Check ``doc`` against the log's committed fields.

    ``events``: ``(entry index, decoded event)`` of every entry of the log whose type and
    schema have committed fields, in index order (a field of an entry after ``doc.size`` is
    not covered by the document: it is missing). Returns ``(problems, violations,
    checked)``: the mismatched, missing and unknown openings; the rule violations of the
    opened values (each a problem with ``rule`` set); and how many openings of each field
    were checked and matched."""
    by_key = {(o.index, o.field): o for o in doc.openings}
    problems: list[OpeningProblem] = []
    violations: list[OpeningProblem] = []
    checked: dict[str, int] = {}
    used: set[tuple[int, str]] = set()
    for index, event in events:
        for cf in committed_fields_of(event.TYPE, event.SCHEMA):
            key = (index, cf.field)
            opening = by_key.get(key)
            if opening is None:
                problems.append(
                    OpeningProblem(
                        kind=ProblemKind.MISSING,
                        index=index,
                        field=cf.field,
                        message=f"{cf.attribute} of entry {index} ({event.TYPE}) has no opening",
                    )
                )
                continue
            used.add(key)
            committed = getattr(event, cf.attribute)
            try:
                parsed = cf.parse(opening.value)
                rebuilt = cf.rebuild(opening.salt, parsed)
            except (ValueError, UsageError) as exc:
                problems.append(_mismatch(index, cf, f"its value is malformed: {exc}"))
                continue
            if rebuilt != committed:
                problems.append(
                    _mismatch(index, cf, "the salt and value do not rebuild the commitment")
                )
                continue
            checked[cf.field] = checked.get(cf.field, 0) + 1
            try:
                cf.check(
                    OpeningCheck(index=index, event=event, definition=definition, value=parsed)
                )
            except RuleViolation as exc:
                violations.append(
                    OpeningProblem(
                        kind=ProblemKind.RULE,
                        index=index,
                        field=cf.field,
                        message=exc.detail,
                        rule=exc,
                    )
                )
    for o in doc.openings:
        if (o.index, o.field) not in used:
            problems.append(
                OpeningProblem(
                    kind=ProblemKind.UNKNOWN,
                    index=o.index,
                    field=o.field,
                    message=f"an opening of field {o.field!r} of entry {o.index}, which commits "
                    "to no such field in the log",
                )
            )
    problems.sort(key=lambda p: (p.index, p.field))
    return problems, violations, checked


def _mismatch(index: int, cf: CommittedField, why: str) -> OpeningProblem:
    return OpeningProblem(
        kind=ProblemKind.MISMATCH,
        index=index,
        field=cf.field,
        message=f"the opening of {cf.attribute} of entry {index} does not match: {why}",
    )
