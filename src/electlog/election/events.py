"""Election event types: one attrs class per act of the election, with a strict body schema.

Every event class has ``TYPE`` (the statement's event type, a stable dotted name), ``SCHEMA`` (the
body schema version), :meth:`ElectionEvent.to_body` (the canonical-encodable body) and
:meth:`ElectionEvent.from_body` (strict: a missing, extra or wrongly typed field raises
:class:`~electlog.errors.EntryError` naming the event type and the field). :data:`EVENT_TYPES`
maps types to classes and :func:`decode_event` turns a signed :class:`~electlog.events.Statement`
into its event.

Body conventions: str keys; ids are non-empty strings without whitespace (at most 64 bytes);
texts are strings (at most 1024 bytes); dates are ISO ``YYYY-MM-DD`` strings; key ids, hashes
and commitments are 32-byte ``bin``; ballot serials 16-byte ``bin``; optional fields are present
with value ``nil``. Field semantics and signer roles: docs/election.md.

Secrecy by schema: no event type has both a field naming a voter (marked ``identifies=True``)
and ballot marks; :func:`identifying_fields` / :func:`has_marks` let a test and the auditor's
secrecy lint check that.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MemberDescriptorType
from typing import Any, ClassVar, Final, Self

import attrs

from electlog.codec import encode
from electlog.errors import EntryError
from electlog.events import Statement

from .rules import ELIGIBILITY_BASES, ElectionMode, Role, RuleSet
from .tally import VOID_POST_REASONS, PostMarks

__all__ = [
    "EVENT_SCHEMAS",
    "EVENT_TYPES",
    "MINIMAL_SCHEMAS",
    "AssertionRisk",
    "AuditBallotInterpreted",
    "AuditBoxCounted",
    "AuditConcluded",
    "AuditDeclared",
    "AuditRoundClosed",
    "AuditSampleDrawn",
    "AuditSeedDrawn",
    "AuditedRound",
    "BallotIssued",
    "BallotRecorded",
    "BoxMerged",
    "BoxOpened",
    "BoxSealed",
    "BoxTransferred",
    "CandidatesPublished",
    "CommitteeMemberAppointed",
    "CommitteeMemberWithdrawn",
    "CommitteeMemberWithdrawnV2",
    "CommitteeVacancyFilled",
    "CommunityDef",
    "ElectionDefined",
    "ElectionEvent",
    "EligibilitySampleChecked",
    "EligibilitySampleDrawn",
    "GroupResultDeclared",
    "GroupVotingClosed",
    "HouseholdBallotCast",
    "HouseholdBallotIssued",
    "KeyAuthorised",
    "KeyRevoked",
    "KeyRevokedV2",
    "NominationFiled",
    "NominationWithdrawn",
    "NominationWithdrawnV2",
    "ObjectionDecided",
    "ObjectionDecidedV2",
    "ObjectionFiled",
    "ObjectionFiledV2",
    "ObserverAccredited",
    "PostDef",
    "PostList",
    "ProxyAuthorised",
    "ProxyAuthorisedV2",
    "ProxyListPublished",
    "ResultDeclared",
    "RollPublished",
    "RoundCalled",
    "UnitClosed",
    "UnitOpened",
    "UnitRepRegistered",
    "VettingDecided",
    "VettingDecidedV2",
    "VoterRegistered",
    "VoterRegisteredV2",
    "VoterRemoved",
    "VoterRemovedV2",
    "decode_body",
    "decode_event",
    "free_text_fields",
    "has_marks",
    "identifying_fields",
    "proxy_list_hash",
]

_intern: Final = sys.intern
MAX_ID: Final = 64
MAX_TEXT: Final = 1024
MAX_LIST: Final = 100_000
UNIT_KINDS: Final = ("main", "station", "mobile")
OBJECTION_KINDS: Final = ("omission", "wrongful_inclusion", "data_error")
ROUND_KINDS: Final = ("revote", "supplementary", "rerun")
ROLES: Final = tuple(r.value for r in Role)
MODES: Final = tuple(m.value for m in ElectionMode)


# --------------------------------------------------------------------------- field kinds


class _Kind:
    """How one field is checked (``load``) and written (``dump``)."""

    identifies = False
    marks = False

    def load(self, value: Any, where: str) -> Any:
        raise NotImplementedError

    def dump(self, value: Any) -> Any:
        return value


def _is_id(value: object) -> bool:
    """The id rule (docs/election.md "Body conventions"): 1-64 characters, each of Unicode
    category L, M, N, P or S (``str.isprintable`` without the space)."""
    return (
        type(value) is str and 0 < len(value) <= MAX_ID and value.isprintable() and " " not in value
    )


class _Id(_Kind):
    def __init__(self, *, identifies: bool = False) -> None:
        self.identifies = identifies

    def load(self, value: Any, where: str) -> Any:
        if type(value) is not str or not value or len(value) > MAX_ID:
            raise EntryError(f"{where} must be an id (a non-empty str of at most {MAX_ID} chars)")
        if not _is_id(value):
            raise EntryError(f"{where} must not contain whitespace or control characters")
        return value


class _Text(_Kind):
    def __init__(self, *, empty: bool = False) -> None:
        self.empty = empty

    def load(self, value: Any, where: str) -> Any:
        if type(value) is not str or len(value) > MAX_TEXT or (not value and not self.empty):
            what = "a str" if self.empty else "a non-empty str"
            raise EntryError(f"{where} must be {what} of at most {MAX_TEXT} chars")
        return value


class _Int(_Kind):
    def __init__(self, minimum: int = 0, maximum: int = 2**63 - 1) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def load(self, value: Any, where: str) -> Any:
        if type(value) is not int or not self.minimum <= value <= self.maximum:
            raise EntryError(f"{where} must be an integer in [{self.minimum}, {self.maximum}]")
        return value


class _Bool(_Kind):
    def load(self, value: Any, where: str) -> Any:
        if type(value) is not bool:
            raise EntryError(f"{where} must be a boolean")
        return value


class _Bytes(_Kind):
    def __init__(self, size: int) -> None:
        self.size = size

    def load(self, value: Any, where: str) -> Any:
        if type(value) is not bytes or len(value) != self.size:
            raise EntryError(f"{where} must be {self.size} bytes")
        return value


class _Date(_Kind):
    def load(self, value: Any, where: str) -> Any:
        if type(value) is not str or len(value) != 10 or value[4] != "-" or value[7] != "-":
            raise EntryError(f"{where} must be an ISO date YYYY-MM-DD")
        try:
            d = _dt.date.fromisoformat(value)
        except ValueError:
            raise EntryError(f"{where} is not a valid date: {value!r}") from None
        if d.isoformat() != value:
            raise EntryError(f"{where} must be an ISO date YYYY-MM-DD")
        return d

    def dump(self, value: Any) -> Any:
        return value.isoformat() if isinstance(value, _dt.date) else value


class _Enum(_Kind):
    def __init__(self, values: tuple[str, ...]) -> None:
        self.values = frozenset(values)
        self.listed = ", ".join(values)

    def load(self, value: Any, where: str) -> Any:
        if type(value) is not str or value not in self.values:
            raise EntryError(f"{where} must be one of {self.listed}")
        return value

    def dump(self, value: Any) -> Any:
        return str(value) if isinstance(value, str) else value


class _Opt(_Kind):
    def __init__(self, inner: _Kind) -> None:
        self.inner = inner
        self.identifies = inner.identifies

    def load(self, value: Any, where: str) -> Any:
        return None if value is None else self.inner.load(value, where)

    def dump(self, value: Any) -> Any:
        return None if value is None else self.inner.dump(value)


class _List(_Kind):
    def __init__(self, inner: _Kind, *, min_items: int = 0, unique: bool = False) -> None:
        self.inner = inner
        self.min_items = min_items
        self.unique = unique
        self.identifies = inner.identifies

    def load(self, value: Any, where: str) -> Any:
        if type(value) is not list and type(value) is not tuple:
            raise EntryError(f"{where} must be an array")
        if not self.min_items <= len(value) <= MAX_LIST:
            raise EntryError(f"{where} must have between {self.min_items} and {MAX_LIST} items")
        load = self.inner.load
        out = tuple(load(item, f"{where}[{i}]") for i, item in enumerate(value))
        if self.unique and len(set(out)) != len(out):
            raise EntryError(f"{where} must not repeat an item")
        return out

    def dump(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [self.inner.dump(item) for item in value]
        return value


class _Struct(_Kind):
    def __init__(self, cls: type[_Record]) -> None:
        self.cls = cls

    def load(self, value: Any, where: str) -> Any:
        return self.cls._load(value, where)

    def dump(self, value: Any) -> Any:
        return value.to_body() if isinstance(value, _Record) else value


class _RuleSetKind(_Kind):
    def load(self, value: Any, where: str) -> Any:
        return RuleSet.from_body(value, where=where) if isinstance(value, dict) else _bad_map(where)

    def dump(self, value: Any) -> Any:
        return value.to_body() if isinstance(value, RuleSet) else value


class _AnyMap(_Kind):
    """A map with str keys whose content is checked by the rules (a declared result)."""

    def load(self, value: Any, where: str) -> Any:
        if type(value) is not dict or not all(type(k) is str for k in value):
            raise EntryError(f"{where} must be a map with str keys")
        return value


def _bad_map(where: str) -> Any:
    raise EntryError(f"{where} must be a map")


_IDS: Final[dict[str, str]] = {}
"""Ids of the non-identifying id fields (community, group, unit, box, ...) that passed the id
rule, each to its interned self: the loaders look an id up here instead of checking and
interning it again (few distinct values, each in many events). Emptied when it holds
:data:`_IDS_MAX`."""
_IDS_MAX: Final = 4096


def _remember_id(value: str) -> str:
    """``value`` (a valid id) interned, and kept in :data:`_IDS`."""
    value = _intern(value)
    if len(_IDS) >= _IDS_MAX:
        _IDS.clear()
    _IDS[value] = value
    return value


_MARK_KEYS: Final = frozenset({"for", "against", "write_ins"})
_VOID_KEYS: Final = frozenset({"void"})
_VOID_REASONS: Final = frozenset(VOID_POST_REASONS)
_VOID_MARKS: Final = {reason: PostMarks(void=reason) for reason in VOID_POST_REASONS}


def _ids_ok(ids: Any) -> bool:
    """A marks column: a list (or tuple) of at most 256 ids (the id rule), strictly increasing
    in code point order."""
    if type(ids) is not list and type(ids) is not tuple:
        return False
    n = len(ids)
    if n == 0:
        return True
    if n > 256:
        return False
    prev = ""
    for x in ids:  # the id rule inline (prev < x: x is not empty)
        if type(x) is not str or not prev < x or len(x) > MAX_ID:
            return False
        if not x.isprintable() or " " in x:
            return False
        prev = x
    return True


_POST_MARKS: Final[dict[tuple[tuple[str, ...], ...], PostMarks]] = {}
"""The :class:`PostMarks` of each validated ``(for, against, write_ins)`` seen: ballots repeat
few patterns, so a shared frozen object saves its construction and memory (bounded by
:data:`_POST_MARKS_MAX`, emptied when full)."""
_POST_MARKS_MAX: Final = 4096
_ONLY_STR: Final = frozenset({str})


class _Marks(_Kind):
    """Marks per post: ``{post: {"against": [ids], "for": [ids], "write_ins": [ids]}}``, or
    ``{post: {"void": reason}}`` for a post recorded void with only a reason (one of
    :data:`~electlog.election.tally.VOID_POST_REASONS`)."""

    marks = True

    def load(self, value: Any, where: str) -> Any:
        if type(value) is not dict or len(value) > 64:
            raise EntryError(f"{where} must be a map of at most 64 posts")
        out: dict[str, PostMarks] = {}
        ids = _IDS
        shared = _POST_MARKS
        only_str = _ONLY_STR
        for post, pm in value.items():
            # the common case inline: a post id already checked (in _IDS), the three columns
            # lists of exactly str ids equal to a pattern already validated; anything else is
            # decided (accepted or refused with its message) by _post
            if type(post) is str and type(pm) is dict and len(pm) == 3:
                key = ids.get(post)
                f = pm.get("for")
                a = pm.get("against")
                w = pm.get("write_ins")
                if (
                    key is not None
                    and type(f) is list
                    and type(a) is list
                    and type(w) is list
                    and (not f or only_str.issuperset(map(type, f)))
                    and (not a or only_str.issuperset(map(type, a)))
                    and (not w or only_str.issuperset(map(type, w)))
                ):  # exactly str ids: equal to a validated pattern, they are valid
                    marks = shared.get((tuple(f), tuple(a), tuple(w)))
                    if marks is not None:
                        out[key] = marks
                        continue
            key, marks = self._post(post, pm, where)
            out[key] = marks
        return out

    @staticmethod
    def _post(post: Any, pm: Any, where: str) -> tuple[str, PostMarks]:
        """One post of a ballot: its id and marks, or :class:`EntryError` naming the problem."""
        if (
            type(post) is not str
            or not 0 < len(post) <= MAX_ID
            or not post.isprintable()
            or " " in post
        ):
            raise EntryError(f"{where} has a bad post id {str(post)[:80]!r}")
        post = _IDS.get(post) or _remember_id(post)
        if type(pm) is not dict or pm.keys() != _MARK_KEYS:
            if type(pm) is dict and pm.keys() == _VOID_KEYS:
                reason = pm["void"]
                if type(reason) is not str or reason not in _VOID_REASONS:
                    raise EntryError(
                        f"{where}.{post}.void must be one of {', '.join(VOID_POST_REASONS)}"
                    )
                return post, _VOID_MARKS[reason]
            raise EntryError(
                f"{where}.{post} must be a map with exactly 'against', 'for', 'write_ins' "
                f"(or only 'void')"
            )
        f, a, w = pm["for"], pm["against"], pm["write_ins"]
        ids_ok = _ids_ok
        if not (  # an empty list is a valid column: no call for it
            ((type(f) is list and not f) or ids_ok(f))
            and ((type(a) is list and not a) or ids_ok(a))
            and ((type(w) is list and not w) or ids_ok(w))
        ):
            for col, ids in (("for", f), ("against", a), ("write_ins", w)):
                if type(ids) in (list, tuple) and len(ids) > 256:
                    raise EntryError(f"{where}.{post}.{col} has more than 256 marks")
                if not ids_ok(ids):
                    raise EntryError(
                        f"{where}.{post}.{col} must be a sorted array of at most 256 "
                        f"distinct ids (1-{MAX_ID} characters, no white space or control "
                        "characters)"
                    )
        pattern = (tuple(f), tuple(a), tuple(w))
        marks = _POST_MARKS.get(pattern)
        if marks is None:
            marks = PostMarks(in_favour=pattern[0], against=pattern[1], write_ins=pattern[2])
            if len(_POST_MARKS) >= _POST_MARKS_MAX:
                _POST_MARKS.clear()
            _POST_MARKS[pattern] = marks
        return post, marks

    def dump(self, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        return {post: _dump_post(pm) for post, pm in value.items()}


def _dump_post(pm: Any) -> Any:
    if not isinstance(pm, PostMarks):
        return pm
    if pm.void is not None:
        if pm.in_favour or pm.against or pm.write_ins:
            raise EntryError("a post recorded void carries no marks (for, against, write_ins)")
        if pm.void not in _VOID_REASONS:
            raise EntryError(f"void post reason must be one of {', '.join(VOID_POST_REASONS)}")
        return {"void": pm.void}
    return {
        "against": sorted(pm.against),
        "for": sorted(pm.in_favour),
        "write_ins": sorted(pm.write_ins),
    }


ID: Final = _Id()
PERSON: Final = _Id(identifies=True)
TEXT: Final = _Text()
COUNT: Final = _Int()
HASH32: Final = _Bytes(32)
SERIAL: Final = _Bytes(16)
DATE: Final = _Date()


def _k(kind: _Kind) -> dict[str, _Kind]:
    """attrs field metadata carrying the field's body kind."""
    return {"kind": kind}


# --------------------------------------------------------------------------- records


class _Record:
    """Generic strict body codec over the ``kind`` metadata of attrs fields."""

    _FIELDS: ClassVar[tuple[tuple[str, _Kind], ...]] = ()
    _KEYS: ClassVar[frozenset[str]] = frozenset()
    _NAME: ClassVar[str] = ""

    @classmethod
    def _init_fields(cls) -> None:
        fields = tuple((a.name, a.metadata["kind"]) for a in attrs.fields(cls))  # type: ignore[arg-type]
        cls._FIELDS = fields
        cls._KEYS = frozenset(name for name, _ in fields)
        setattr(cls, "_load", staticmethod(_compiled_loader(cls)))  # noqa: B010 - generated

    def to_body(self) -> dict[str, Any]:
        """The canonical-encodable body (keys are the field names)."""
        return {name: kind.dump(getattr(self, name)) for name, kind in self._FIELDS}

    @classmethod
    def _load(cls, body: Any, where: str) -> Self:
        """Strictly parse ``body`` (``where`` names it in messages). Replaced per class by
        :func:`_compiled_loader`'s loader, which falls back to this one for any value it does
        not accept (so this one writes every error message)."""
        return cls._load_generic(body, where)

    @classmethod
    def _load_generic(cls, body: Any, where: str) -> Self:
        if type(body) is not dict:
            raise EntryError(f"{where} must be a map")
        if body.keys() != cls._KEYS:
            keys = set(body)
            missing = sorted(cls._KEYS - keys)
            extra = sorted(str(k) for k in keys - cls._KEYS)
            raise EntryError(f"{where}: fields wrong: missing {missing}, unexpected {extra}")
        fields = cls._FIELDS
        try:  # fast path: no per-field path strings
            values = {name: kind.load(body[name], "") for name, kind in fields}
        except EntryError:
            # again with full paths, for a message that names the event type and field
            for name, kind in fields:
                kind.load(body[name], f"{where}.{name}")
            raise  # pragma: no cover - the loop above raises the same error
        return cls(**values)


class _Refused(Exception):
    """A compiled loader's inline check refused a value: the generic loader decides (and
    writes the message)."""


_REFUSED: Final = _Refused()


def _inline_check(kind: _Kind, v: str, consts: dict[str, Any]) -> list[str] | None:
    """Python lines that raise :class:`_Refused` unless ``v`` passes ``kind``'s check with
    ``kind.load(v) == v``, and leave ``v`` interned if it is a str (``None``: no inline form
    for this kind). Each line is indented relative to the check's own block."""
    if type(kind) is _Id:
        check = f"if not 0 < len({v}) <= {MAX_ID} or not {v}.isprintable() or ' ' in {v}: raise _R"
        if kind.identifies:  # voters and households: mostly distinct values
            return [f"if type({v}) is not str: raise _R", check, f"{v} = _intern({v})"]
        return [
            f"if type({v}) is not str: raise _R",
            f"w = _IDS.get({v})",
            "if w is None:",
            f"    {check}",
            f"    {v} = _remember_id({v})",
            "else:",
            f"    {v} = w",
        ]
    if type(kind) is _Text:
        empty = "" if kind.empty else f" or not {v}"
        return [
            f"if type({v}) is not str or len({v}) > {MAX_TEXT}{empty}: raise _R",
            f"{v} = _intern({v})",
        ]
    if type(kind) is _Int:
        return [f"if type({v}) is not int or not {kind.minimum} <= {v} <= {kind.maximum}: raise _R"]
    if type(kind) is _Bool:
        return [f"if type({v}) is not bool: raise _R"]
    if type(kind) is _Bytes:
        return [f"if type({v}) is not bytes or len({v}) != {kind.size}: raise _R"]
    if type(kind) is _Enum:
        name = f"_E{len(consts)}"
        consts[name] = {_intern(value): _intern(value) for value in kind.values}
        return [
            f"if type({v}) is not str: raise _R",
            f"{v} = {name}.get({v})",
            f"if {v} is None: raise _R",
        ]
    if type(kind) is _Opt:
        inner = _inline_check(kind.inner, v, consts)
        return None if inner is None else [f"if {v} is not None:", *("    " + x for x in inner)]
    return None


_NOT_STR_KINDS: Final = (_Marks, _List, _Struct, _RuleSetKind, _AnyMap, _Date)
"""Kinds whose loaded value is never a str (nothing to intern)."""


def _slot_setters(cls: type[_Record]) -> list[Any] | None:
    """The slots' setters of ``cls``'s fields, in field order, if ``cls.__init__`` does no
    more than set each field (no validator, converter, pre- or post-init); else ``None``."""
    if hasattr(cls, "__attrs_post_init__") or hasattr(cls, "__attrs_pre_init__"):
        return None
    setters = []
    for a in attrs.fields(cls):  # type: ignore[arg-type]
        slot = cls.__dict__.get(a.name)
        if (
            a.validator is not None
            or a.converter is not None
            or not a.init
            or type(slot) is not MemberDescriptorType
        ):
            return None
        setters.append(slot.__set__)
    return setters


def _compiled_loader(cls: type[_Record]) -> Any:
    """The class's strict loader, generated from its fields: each field's check inline (no
    per-field call, no intermediate dict, no keyword ``__init__``: the slots are set
    directly), top-level strings interned (the projections keep many equal ids: shared
    strings keep memory bounded by the distinct ids; an id of a non-identifying field is
    checked once, :data:`_IDS`). Any value an inline check refuses, and any error of a kind
    without an inline form, goes to the generic loader, which accepts exactly what the inline
    checks accept and writes every message."""
    consts: dict[str, Any] = {
        "_R": _REFUSED,
        "_Refused": _Refused,
        "EntryError": EntryError,
        "_cls": cls,
        "_new": cls.__new__,
        "_generic": cls._load_generic,
        "_intern": _intern,
        "_IDS": _IDS,
        "_remember_id": _remember_id,
    }
    lines = [
        "def _load(body, where):",
        # len(body) keys, and each of the fields' is found below: exactly the fields' keys
        f"    if type(body) is not dict or len(body) != {len(cls._FIELDS)}:",
        "        return _generic(body, where)",
        "    try:",
    ]
    args = []
    for k, (name, kind) in enumerate(cls._FIELDS):
        v = f"v{k}"
        lines.append(f"        {v} = body[{name!r}]")
        check = _inline_check(kind, v, consts)
        if check is None:
            consts[f"_K{k}"] = kind
            lines.append(f"        {v} = _K{k}.load({v}, '')")
            if not isinstance(kind, _NOT_STR_KINDS):
                lines.append(f"        if type({v}) is str: {v} = _intern({v})")
        else:
            lines += ["        " + x for x in check]
        args.append(f"{name}={v}")
    lines += [
        "    except (_Refused, EntryError, KeyError):",
        "        return _generic(body, where)",
    ]
    setters = _slot_setters(cls)
    if setters is None:
        lines.append(f"    return _cls({', '.join(args)})")
    else:
        lines.append("    event = _new(_cls)")
        for k, setter in enumerate(setters):
            consts[f"_S{k}"] = setter
            lines.append(f"    _S{k}(event, v{k})")
        lines.append("    return event")
    namespace = dict(consts)
    exec("\n".join(lines), namespace)  # the source is built above from the field kinds
    return namespace["_load"]


def proxy_list_hash(community: str, rows: Iterable[Sequence[Any]]) -> bytes:
    """The ``list_hash`` of a community's proxy list: SHA-256 of the canonical encoding of
    ``["electlog/proxies/v1", [community, rows]]``, ``rows`` being ``[principal, proxy,
    relationship, attestation]`` (``[principal, proxy, c_rel, c_attestation]`` under the
    ``minimal`` profile) sorted by principal (docs/election.md, "Projections and
    published hashes")."""
    return hashlib.sha256(encode(["electlog/proxies/v1", [community, list(rows)]])).digest()


def _record(cls: type[_Record]) -> Any:
    cls._init_fields()
    return cls


@_record
@attrs.frozen(kw_only=True)
class PostDef(_Record):
    """A post of a community: id, seats, rank (0 = highest, e.g. director)."""

    post: str = attrs.field(metadata=_k(ID))
    seats: int = attrs.field(metadata=_k(_Int(1, 10_000)))
    rank: int = attrs.field(metadata=_k(_Int(0, 1000)))


@_record
@attrs.frozen(kw_only=True)
class CommunityDef(_Record):
    """A community of the election: its resident groups, posts and election mode."""

    community: str = attrs.field(metadata=_k(ID))
    name: str = attrs.field(metadata=_k(TEXT))
    mode: str = attrs.field(metadata=_k(_Enum(MODES)))
    groups: tuple[str, ...] = attrs.field(metadata=_k(_List(ID, unique=True)))
    posts: tuple[PostDef, ...] = attrs.field(metadata=_k(_List(_Struct(PostDef), min_items=1)))


@_record
@attrs.frozen(kw_only=True)
class PostList(_Record):
    """Candidates of one post in a candidate list or a called round (ballot order)."""

    post: str = attrs.field(metadata=_k(ID))
    seats: int = attrs.field(metadata=_k(_Int(1, 10_000)))
    candidates: tuple[str, ...] = attrs.field(metadata=_k(_List(ID, unique=True)))


# --------------------------------------------------------------------------- events


class ElectionEvent(_Record):
    """Base class of every election event."""

    TYPE: ClassVar[str] = ""
    SCHEMA: ClassVar[int] = 1

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        """Strictly parse a body; raises :class:`EntryError` naming the type and field."""
        return cls._load(body if type(body) is dict else dict(body), cls.TYPE)


EVENT_TYPES: dict[str, type[ElectionEvent]] = {}
"""Event type name -> event class (of the type's first schema version)."""
EVENT_SCHEMAS: dict[tuple[str, int], type[ElectionEvent]] = {}
"""(event type name, schema version) -> event class: every version this library reads
(``voter.registered`` has two, docs/election.md "Public profiles")."""
_LOADERS: Final[dict[int, dict[str, Callable[[dict[str, Any], str], ElectionEvent]]]] = {}
"""Schema version -> event type name -> the class's compiled loader (what :func:`decode_body`
calls: two lookups of an int and of a str whose hash is cached, no key tuple per entry)."""


def _event(cls: type[ElectionEvent]) -> Any:
    if (cls.TYPE, cls.SCHEMA) in EVENT_SCHEMAS:  # pragma: no cover - programming error
        raise RuntimeError(f"event type {cls.TYPE} v{cls.SCHEMA} defined twice")
    cls._init_fields()
    EVENT_TYPES.setdefault(cls.TYPE, cls)
    EVENT_SCHEMAS[(cls.TYPE, cls.SCHEMA)] = cls
    _LOADERS.setdefault(cls.SCHEMA, {})[cls.TYPE] = cls._load
    return cls


MINIMAL_SCHEMAS: Final = {
    "voter.registered": 2,
    "voter.removed": 2,
    "objection.filed": 2,
    "objection.decided": 2,
    "committee.member_withdrawn": 2,
    "nomination.withdrawn": 2,
    "vetting.decided": 2,
    "proxy.authorised": 2,
    "key.revoked": 2,
}
"""The event types whose body differs by public profile, with the schema the ``minimal``
profile writes (the ``full`` profile writes schema 1 of each): docs/election.md "Public
profiles"."""


@_event
@attrs.frozen(kw_only=True)
class ElectionDefined(ElectionEvent):
    """Genesis: the election, its day, communities, posts, modes and RuleSet (authority)."""

    TYPE: ClassVar[str] = "election.defined"
    election_id: str = attrs.field(metadata=_k(ID))
    name: str = attrs.field(metadata=_k(TEXT))
    election_day: _dt.date = attrs.field(metadata=_k(DATE))
    communities: tuple[CommunityDef, ...] = attrs.field(
        metadata=_k(_List(_Struct(CommunityDef), min_items=1))
    )
    rules: RuleSet = attrs.field(metadata=_k(_RuleSetKind()))
    rules_hash: bytes = attrs.field(
        default=attrs.Factory(lambda self: self.rules.hash(), takes_self=True),
        metadata=_k(HASH32),
    )
    """SHA-256 of the recorded RuleSet; computed from ``rules`` when not given (a body read
    from a log always carries it, and the rule ``genesis.rules_hash`` checks it)."""


@_event
@attrs.frozen(kw_only=True)
class KeyAuthorised(ElectionEvent):
    """A key receives a role, for the whole election (``scope=()``) or listed communities."""

    TYPE: ClassVar[str] = "key.authorised"
    key_id: bytes = attrs.field(metadata=_k(HASH32))
    role: str = attrs.field(metadata=_k(_Enum(ROLES)))
    scope: tuple[str, ...] = attrs.field(metadata=_k(_List(ID, unique=True)))
    label: str = attrs.field(metadata=_k(TEXT))


@_event
@attrs.frozen(kw_only=True)
class KeyRevoked(ElectionEvent):
    """Every role of a key ends, effective from this entry."""

    TYPE: ClassVar[str] = "key.revoked"
    key_id: bytes = attrs.field(metadata=_k(HASH32))
    reason: str = attrs.field(metadata=_k(TEXT))


@_event
@attrs.frozen(kw_only=True)
class KeyRevokedV2(ElectionEvent):
    """``key.revoked`` schema 2 (``minimal`` profile): the revocation's reason is committed
    (``c_reason``, :func:`~electlog.election.receipts.reason_commitment`), not published."""

    TYPE: ClassVar[str] = "key.revoked"
    SCHEMA: ClassVar[int] = 2
    key_id: bytes = attrs.field(metadata=_k(HASH32))
    c_reason: bytes = attrs.field(metadata=_k(HASH32))


@_event
@attrs.frozen(kw_only=True)
class CommitteeMemberAppointed(ElectionEvent):
    """A member of a community's election committee is appointed (by ``appointed_by``)."""

    TYPE: ClassVar[str] = "committee.member_appointed"
    community: str = attrs.field(metadata=_k(ID))
    member: str = attrs.field(metadata=_k(PERSON))
    appointed_by: str = attrs.field(metadata=_k(TEXT))


@_event
@attrs.frozen(kw_only=True)
class CommitteeMemberWithdrawn(ElectionEvent):
    """A committee member withdraws (``reason``; e.g. nominated as a candidate)."""

    TYPE: ClassVar[str] = "committee.member_withdrawn"
    community: str = attrs.field(metadata=_k(ID))
    member: str = attrs.field(metadata=_k(PERSON))
    reason: str = attrs.field(metadata=_k(TEXT))


@_event
@attrs.frozen(kw_only=True)
class CommitteeMemberWithdrawnV2(ElectionEvent):
    """``committee.member_withdrawn`` schema 2 (``minimal`` profile): the reason is committed
    (``c_reason``); the rule that binds a withdrawal (a listed candidate is no member) reads the
    committee and the candidate list, not the reason."""

    TYPE: ClassVar[str] = "committee.member_withdrawn"
    SCHEMA: ClassVar[int] = 2
    community: str = attrs.field(metadata=_k(ID))
    member: str = attrs.field(metadata=_k(PERSON))
    c_reason: bytes = attrs.field(metadata=_k(HASH32))


@_event
@attrs.frozen(kw_only=True)
class CommitteeVacancyFilled(ElectionEvent):
    """A new member fills the seat of a withdrawn member (``replaces``)."""

    TYPE: ClassVar[str] = "committee.vacancy_filled"
    community: str = attrs.field(metadata=_k(ID))
    member: str = attrs.field(metadata=_k(PERSON))
    replaces: str = attrs.field(metadata=_k(PERSON))
    appointed_by: str = attrs.field(metadata=_k(TEXT))


@_event
@attrs.frozen(kw_only=True)
class VoterRegistered(ElectionEvent):
    """A voter enters the roll under a pseudonymous id (no names, no ID numbers).

    ``dedup`` is the registrars' keyed tag of the person (HMAC-SHA-256 under a registrars'
    secret, :func:`electlog.election.receipts.dedup_tag`): equal for one person in every
    community, meaningless without the secret. ``commitment`` is the salted commitment to the
    personal data (:func:`electlog.election.receipts.commitment`). ``years_resident`` and
    ``approval_ref`` are set for basis ``non_local_approved`` only; ``objection`` cites the upheld
    objection that allows a registration after the roll's first publication.
    """

    TYPE: ClassVar[str] = "voter.registered"
    voter: str = attrs.field(metadata=_k(PERSON))
    community: str = attrs.field(metadata=_k(ID))
    group: str = attrs.field(metadata=_k(ID))
    household: str = attrs.field(metadata=_k(PERSON))
    birth_date: _dt.date = attrs.field(metadata=_k(DATE))
    basis: str = attrs.field(metadata=_k(_Enum(ELIGIBILITY_BASES)))
    years_resident: int | None = attrs.field(metadata=_k(_Opt(COUNT)), default=None)
    approval_ref: str | None = attrs.field(metadata=_k(_Opt(TEXT)), default=None)
    objection: str | None = attrs.field(metadata=_k(_Opt(ID)), default=None)
    dedup: bytes = attrs.field(metadata=_k(HASH32))
    commitment: bytes = attrs.field(metadata=_k(HASH32))


@_event
@attrs.frozen(kw_only=True)
class VoterRegisteredV2(ElectionEvent):
    """``voter.registered`` schema 2, the registration of the ``minimal`` public profile: what
    the public need to check the roll, and commitments to the rest.

    No birth date: ``c_birth`` is :func:`~electlog.election.receipts.commitment` of a salt of
    its own over ``{"birth_date": "YYYY-MM-DD"}``; ``c_basis`` commits (with another salt) to
    the basis evidence ``{"approval_ref", "basis", "years_resident"}``; ``commitment`` is the
    v1 commitment to name and ID number. ``household_tag`` is a per-election random tag of the
    household (equal for its voters in this election, unlinkable across elections);
    ``dedup`` is keyed by the per-election dedup key
    (:func:`~electlog.election.receipts.election_dedup_key`). ``household`` and
    ``birth_date`` read as the v1 fields do (the tag, and ``None``).
    """

    TYPE: ClassVar[str] = "voter.registered"
    SCHEMA: ClassVar[int] = 2
    voter: str = attrs.field(metadata=_k(PERSON))
    community: str = attrs.field(metadata=_k(ID))
    group: str = attrs.field(metadata=_k(ID))
    household_tag: str = attrs.field(metadata=_k(PERSON))
    basis: str = attrs.field(metadata=_k(_Enum(ELIGIBILITY_BASES)))
    objection: str | None = attrs.field(metadata=_k(_Opt(ID)), default=None)
    dedup: bytes = attrs.field(metadata=_k(HASH32))
    c_birth: bytes = attrs.field(metadata=_k(HASH32))
    c_basis: bytes = attrs.field(metadata=_k(HASH32))
    commitment: bytes = attrs.field(metadata=_k(HASH32))

    @property
    def household(self) -> str:
        """The household as the roll keys it: the per-election tag."""
        return self.household_tag

    @property
    def birth_date(self) -> None:
        """Not on the public log (``c_birth`` commits to it)."""
        return None


AnyVoterRegistered = VoterRegistered | VoterRegisteredV2
"""A registration of either public profile (``voter.registered`` v1 or v2)."""


@_event
@attrs.frozen(kw_only=True)
class VoterRemoved(ElectionEvent):
    """A voter leaves the roll for ``reason`` (one of ``RuleSet.removal_reasons``)."""

    TYPE: ClassVar[str] = "voter.removed"
    voter: str = attrs.field(metadata=_k(PERSON))
    community: str = attrs.field(metadata=_k(ID))
    reason: str = attrs.field(metadata=_k(_Text(empty=True)))
    objection: str | None = attrs.field(metadata=_k(_Opt(ID)), default=None)


@_event
@attrs.frozen(kw_only=True)
class VoterRemovedV2(ElectionEvent):
    """``voter.removed`` schema 2 (``minimal`` profile): ``reason`` is a code of
    ``RuleSet.removal_codes`` (``eligibility_ended``, ``duplicate``, ``objection_upheld``), the
    detail (died, moved out, ...) is committed (``c_reason``)."""

    TYPE: ClassVar[str] = "voter.removed"
    SCHEMA: ClassVar[int] = 2
    voter: str = attrs.field(metadata=_k(PERSON))
    community: str = attrs.field(metadata=_k(ID))
    reason: str = attrs.field(metadata=_k(ID))
    objection: str | None = attrs.field(metadata=_k(_Opt(ID)), default=None)
    c_reason: bytes = attrs.field(metadata=_k(HASH32))


AnyVoterRemoved = VoterRemoved | VoterRemovedV2
"""A removal of either public profile (``voter.removed`` v1 or v2)."""


@_event
@attrs.frozen(kw_only=True)
class RollPublished(ElectionEvent):
    """The community's roll is published: its size and hash (``ElectionState.roll_hash``)."""

    TYPE: ClassVar[str] = "roll.published"
    community: str = attrs.field(metadata=_k(ID))
    size: int = attrs.field(metadata=_k(COUNT))
    roll_hash: bytes = attrs.field(metadata=_k(HASH32))


@_event
@attrs.frozen(kw_only=True)
class ObjectionFiled(ElectionEvent):
    """An objection to the roll about ``voter`` (omission, wrongful inclusion, data error)."""

    TYPE: ClassVar[str] = "objection.filed"
    objection: str = attrs.field(metadata=_k(ID))
    community: str = attrs.field(metadata=_k(ID))
    voter: str = attrs.field(metadata=_k(PERSON))
    kind: str = attrs.field(metadata=_k(_Enum(OBJECTION_KINDS)))
    grounds: str = attrs.field(metadata=_k(TEXT))


@_event
@attrs.frozen(kw_only=True)
class ObjectionFiledV2(ElectionEvent):
    """``objection.filed`` schema 2 (``minimal`` profile): the ``kind`` stays public (the
    roll's rules read it), the grounds are committed (``c_grounds``)."""

    TYPE: ClassVar[str] = "objection.filed"
    SCHEMA: ClassVar[int] = 2
    objection: str = attrs.field(metadata=_k(ID))
    community: str = attrs.field(metadata=_k(ID))
    voter: str = attrs.field(metadata=_k(PERSON))
    kind: str = attrs.field(metadata=_k(_Enum(OBJECTION_KINDS)))
    c_grounds: bytes = attrs.field(metadata=_k(HASH32))


AnyObjectionFiled = ObjectionFiled | ObjectionFiledV2
"""An objection of either public profile (``objection.filed`` v1 or v2)."""


@_event
@attrs.frozen(kw_only=True)
class ObjectionDecided(ElectionEvent):
    """The committee decides an objection (upheld or not) with a reason."""

    TYPE: ClassVar[str] = "objection.decided"
    objection: str = attrs.field(metadata=_k(ID))
    community: str = attrs.field(metadata=_k(ID))
    upheld: bool = attrs.field(metadata=_k(_Bool()))
    reason: str = attrs.field(metadata=_k(TEXT))


@_event
@attrs.frozen(kw_only=True)
class ObjectionDecidedV2(ElectionEvent):
    """``objection.decided`` schema 2 (``minimal`` profile): ``upheld`` public, the reason
    committed (``c_reason``)."""

    TYPE: ClassVar[str] = "objection.decided"
    SCHEMA: ClassVar[int] = 2
    objection: str = attrs.field(metadata=_k(ID))
    community: str = attrs.field(metadata=_k(ID))
    upheld: bool = attrs.field(metadata=_k(_Bool()))
    c_reason: bytes = attrs.field(metadata=_k(HASH32))


@_event
@attrs.frozen(kw_only=True)
class UnitRepRegistered(ElectionEvent):
    """A unit representative (a participant who does not vote)."""

    TYPE: ClassVar[str] = "unit_rep.registered"
    rep: str = attrs.field(metadata=_k(PERSON))
    community: str = attrs.field(metadata=_k(ID))
    organisation: str = attrs.field(metadata=_k(TEXT))


@_event
@attrs.frozen(kw_only=True)
class HouseholdBallotIssued(ElectionEvent):
    """A household receives its ballot for its resident group's election."""

    TYPE: ClassVar[str] = "group.household_ballot_issued"
    community: str = attrs.field(metadata=_k(ID))
    group: str = attrs.field(metadata=_k(ID))
    household: str = attrs.field(metadata=_k(PERSON))


@_event
@attrs.frozen(kw_only=True)
class HouseholdBallotCast(ElectionEvent):
    """A household ballot's content (no household id): write-ins for group posts."""

    TYPE: ClassVar[str] = "group.household_ballot_cast"
    community: str = attrs.field(metadata=_k(ID))
    group: str = attrs.field(metadata=_k(ID))
    serial: bytes = attrs.field(metadata=_k(SERIAL))
    marks: dict[str, PostMarks] = attrs.field(metadata=_k(_Marks()))


@_event
@attrs.frozen(kw_only=True)
class GroupResultDeclared(ElectionEvent):
    """The result of a resident group election (``RoundResult.to_dict()`` shape)."""

    TYPE: ClassVar[str] = "group.result_declared"
    community: str = attrs.field(metadata=_k(ID))
    group: str = attrs.field(metadata=_k(ID))
    result: dict[str, Any] = attrs.field(metadata=_k(_AnyMap()))


@_event
@attrs.frozen(kw_only=True)
class NominationFiled(ElectionEvent):
    """Nominators (voters) nominate ``candidate`` for ``post``."""

    TYPE: ClassVar[str] = "nomination.filed"
    nomination: str = attrs.field(metadata=_k(ID))
    community: str = attrs.field(metadata=_k(ID))
    post: str = attrs.field(metadata=_k(ID))
    candidate: str = attrs.field(metadata=_k(PERSON))
    nominators: tuple[str, ...] = attrs.field(metadata=_k(_List(PERSON, min_items=1, unique=True)))


@_event
@attrs.frozen(kw_only=True)
class NominationWithdrawn(ElectionEvent):
    """A candidate withdraws from a post before the candidate list is published."""

    TYPE: ClassVar[str] = "nomination.withdrawn"
    community: str = attrs.field(metadata=_k(ID))
    post: str = attrs.field(metadata=_k(ID))
    candidate: str = attrs.field(metadata=_k(PERSON))
    reason: str = attrs.field(metadata=_k(TEXT))


@_event
@attrs.frozen(kw_only=True)
class NominationWithdrawnV2(ElectionEvent):
    """``nomination.withdrawn`` schema 2 (``minimal`` profile): the reason is committed
    (``c_reason``)."""

    TYPE: ClassVar[str] = "nomination.withdrawn"
    SCHEMA: ClassVar[int] = 2
    community: str = attrs.field(metadata=_k(ID))
    post: str = attrs.field(metadata=_k(ID))
    candidate: str = attrs.field(metadata=_k(PERSON))
    c_reason: bytes = attrs.field(metadata=_k(HASH32))


@_event
@attrs.frozen(kw_only=True)
class VettingDecided(ElectionEvent):
    """The vetting committee's decision on a nominee's qualification (latest decision counts)."""

    TYPE: ClassVar[str] = "vetting.decided"
    community: str = attrs.field(metadata=_k(ID))
    candidate: str = attrs.field(metadata=_k(PERSON))
    approved: bool = attrs.field(metadata=_k(_Bool()))
    criteria_ref: str = attrs.field(metadata=_k(TEXT))
    reason: str = attrs.field(metadata=_k(TEXT))


@_event
@attrs.frozen(kw_only=True)
class VettingDecidedV2(ElectionEvent):
    """``vetting.decided`` schema 2 (``minimal`` profile): ``approved`` and an optional public
    ``criteria_code`` (one of ``RuleSet.vetting_codes``); the criterion reference and the
    reason are committed together (``c_reason``, :func:`~electlog.election.receipts.\
reason_commitment` with ``criteria_ref``)."""

    TYPE: ClassVar[str] = "vetting.decided"
    SCHEMA: ClassVar[int] = 2
    community: str = attrs.field(metadata=_k(ID))
    candidate: str = attrs.field(metadata=_k(PERSON))
    approved: bool = attrs.field(metadata=_k(_Bool()))
    criteria_code: str | None = attrs.field(metadata=_k(_Opt(ID)), default=None)
    c_reason: bytes = attrs.field(metadata=_k(HASH32))


@_event
@attrs.frozen(kw_only=True)
class CandidatesPublished(ElectionEvent):
    """The candidate list of round 1: every post with its seats and candidates (ballot order)."""

    TYPE: ClassVar[str] = "candidates.published"
    community: str = attrs.field(metadata=_k(ID))
    posts: tuple[PostList, ...] = attrs.field(metadata=_k(_List(_Struct(PostList), min_items=1)))


@_event
@attrs.frozen(kw_only=True)
class ProxyAuthorised(ElectionEvent):
    """A written proxy: ``principal`` authorises close relative ``proxy`` to vote for them.

    ``attestation`` is SHA-256 of the signed written authorisation (kept off the log)."""

    TYPE: ClassVar[str] = "proxy.authorised"
    community: str = attrs.field(metadata=_k(ID))
    principal: str = attrs.field(metadata=_k(PERSON))
    proxy: str = attrs.field(metadata=_k(PERSON))
    relationship: str = attrs.field(metadata=_k(ID))
    attestation: bytes = attrs.field(metadata=_k(HASH32))


@_event
@attrs.frozen(kw_only=True)
class ProxyAuthorisedV2(ElectionEvent):
    """``proxy.authorised`` schema 2 (``minimal`` profile): the pair stays public (the law
    publishes proxy pairs), the relationship is reduced to ``close_relative`` (the writer's
    statement that it is one of ``RuleSet.proxy_relationships``; ``False`` is refused) and
    committed exactly (``c_rel``), and the written authorisation's SHA-256 is committed under a
    salt (``c_attestation``) instead of published bare."""

    TYPE: ClassVar[str] = "proxy.authorised"
    SCHEMA: ClassVar[int] = 2
    community: str = attrs.field(metadata=_k(ID))
    principal: str = attrs.field(metadata=_k(PERSON))
    proxy: str = attrs.field(metadata=_k(PERSON))
    close_relative: bool = attrs.field(metadata=_k(_Bool()))
    c_rel: bytes = attrs.field(metadata=_k(HASH32))
    c_attestation: bytes = attrs.field(metadata=_k(HASH32))


AnyProxyAuthorised = ProxyAuthorised | ProxyAuthorisedV2
"""A proxy of either public profile (``proxy.authorised`` v1 or v2)."""


@_event
@attrs.frozen(kw_only=True)
class ProxyListPublished(ElectionEvent):
    """The community's proxy list is published (count and ``ElectionState.proxy_hash``).

    ``ProxyListPublished(community="c1")`` publishes an empty list: ``count`` defaults to 0 and
    ``list_hash`` to :func:`proxy_list_hash` of no proxies. For a list with proxies,
    :meth:`ElectionState.proxy_list` gives the event with the current count and hash."""

    TYPE: ClassVar[str] = "proxy.list_published"
    community: str = attrs.field(metadata=_k(ID))
    count: int = attrs.field(default=0, metadata=_k(COUNT))
    list_hash: bytes = attrs.field(
        default=attrs.Factory(lambda self: proxy_list_hash(self.community, ()), takes_self=True),
        metadata=_k(HASH32),
    )


@_event
@attrs.frozen(kw_only=True)
class UnitOpened(ElectionEvent):
    """A polling unit (main venue, station, mobile box) opens for a round, with observers."""

    TYPE: ClassVar[str] = "unit.opened"
    unit: str = attrs.field(metadata=_k(ID))
    community: str = attrs.field(metadata=_k(ID))
    round: int = attrs.field(metadata=_k(_Int(1, 1000)))
    kind: str = attrs.field(metadata=_k(_Enum(UNIT_KINDS)))
    observers: tuple[str, ...] = attrs.field(metadata=_k(_List(ID)))


@_event
@attrs.frozen(kw_only=True)
class UnitClosed(ElectionEvent):
    """A polling unit closes: no more ballots are issued there."""

    TYPE: ClassVar[str] = "unit.closed"
    unit: str = attrs.field(metadata=_k(ID))


@_event
@attrs.frozen(kw_only=True)
class BoxSealed(ElectionEvent):
    """A ballot box of an open unit is shown empty and sealed."""

    TYPE: ClassVar[str] = "box.sealed"
    unit: str = attrs.field(metadata=_k(ID))
    box: str = attrs.field(metadata=_k(ID))


@_event
@attrs.frozen(kw_only=True)
class BoxTransferred(ElectionEvent):
    """A sealed box changes custody to another unit of the round (e.g. mobile box returns)."""

    TYPE: ClassVar[str] = "box.transferred"
    box: str = attrs.field(metadata=_k(ID))
    to_unit: str = attrs.field(metadata=_k(ID))


@_event
@attrs.frozen(kw_only=True)
class BoxOpened(ElectionEvent):
    """A sealed box is opened for counting, after its unit closed, before observers."""

    TYPE: ClassVar[str] = "box.opened"
    box: str = attrs.field(metadata=_k(ID))
    observers: tuple[str, ...] = attrs.field(metadata=_k(_List(ID)))


@_event
@attrs.frozen(kw_only=True)
class BallotIssued(ElectionEvent):
    """A voter (or a proxy for ``proxy_for``) receives a ballot at a unit. No marks."""

    TYPE: ClassVar[str] = "ballot.issued"
    unit: str = attrs.field(metadata=_k(ID))
    voter: str = attrs.field(metadata=_k(PERSON))
    proxy_for: str | None = attrs.field(metadata=_k(_Opt(PERSON)), default=None)


@_event
@attrs.frozen(kw_only=True)
class BallotRecorded(ElectionEvent):
    """A ballot's content as read from an opened box: random serial, marks per post.
    No voter id."""

    TYPE: ClassVar[str] = "ballot.recorded"
    box: str = attrs.field(metadata=_k(ID))
    serial: bytes = attrs.field(metadata=_k(SERIAL))
    marks: dict[str, PostMarks] = attrs.field(metadata=_k(_Marks()))


@_event
@attrs.frozen(kw_only=True)
class ResultDeclared(ElectionEvent):
    """The declared result of a community's round (``RoundResult.to_dict()`` shape)."""

    TYPE: ClassVar[str] = "result.declared"
    community: str = attrs.field(metadata=_k(ID))
    round: int = attrs.field(metadata=_k(_Int(1, 1000)))
    result: dict[str, Any] = attrs.field(metadata=_k(_AnyMap()))


@_event
@attrs.frozen(kw_only=True)
class RoundCalled(ElectionEvent):
    """A further round after ``source_round``: ``revote`` among the tied, ``supplementary``
    (另行选举) for unfilled seats, or ``rerun`` of a void round."""

    TYPE: ClassVar[str] = "round.called"
    community: str = attrs.field(metadata=_k(ID))
    round: int = attrs.field(metadata=_k(_Int(2, 1000)))
    source_round: int = attrs.field(metadata=_k(_Int(1, 1000)))
    kind: str = attrs.field(metadata=_k(_Enum(ROUND_KINDS)))
    posts: tuple[PostList, ...] = attrs.field(metadata=_k(_List(_Struct(PostList), min_items=1)))


@_event
@attrs.frozen(kw_only=True)
class ObserverAccredited(ElectionEvent):
    """The community's election committee accredits ``observer`` (of ``organisation``): only
    accredited observers may be named when a unit or a box is opened."""

    TYPE: ClassVar[str] = "observer.accredited"
    community: str = attrs.field(metadata=_k(ID))
    observer: str = attrs.field(metadata=_k(ID))
    organisation: str = attrs.field(metadata=_k(TEXT))


@_event
@attrs.frozen(kw_only=True)
class GroupVotingClosed(ElectionEvent):
    """A resident group's household voting closes: no household ballot is issued after it, and
    household ballots are cast (recorded) and the result declared only after it."""

    TYPE: ClassVar[str] = "group.voting_closed"
    community: str = attrs.field(metadata=_k(ID))
    group: str = attrs.field(metadata=_k(ID))


@_event
@attrs.frozen(kw_only=True)
class BoxMerged(ElectionEvent):
    """Sealed, unopened ``box`` (its unit closed) is emptied into sealed, unopened ``into`` of
    the same community and round; ``box`` is never opened, its ballots are recorded from
    ``into`` (one counting batch)."""

    TYPE: ClassVar[str] = "box.merged"
    box: str = attrs.field(metadata=_k(ID))
    into: str = attrs.field(metadata=_k(ID))


# --------------------------------------------------------------------------- risk-limiting audit

AUDIT_METHODS: Final = ("comparison",)
AUDIT_TESTS: Final = ("kaplan_markov", "alpha")
AUDIT_OUTCOMES: Final = ("confirmed", "full_hand_count")
MAX_BALLOT_REF: Final = 200
"""Longest ballot reference ``"<box>#<position>"`` in an audit event."""


class _BallotRef(_Kind):
    """A sampled ballot: ``"<box>#<position>"`` (a box id, ``#``, a decimal position >= 1)."""

    def load(self, value: Any, where: str) -> Any:
        if type(value) is not str or len(value) > MAX_BALLOT_REF:
            raise EntryError(f"{where} must be a ballot reference '<box>#<position>'")
        box, sep, pos = value.rpartition("#")
        if not sep or not _is_id(box) or not pos.isascii() or not pos.isdigit() or pos[0] == "0":
            raise EntryError(f"{where} must be a ballot reference '<box>#<position>'")
        return value


class _Decimal(_Kind):
    """An exact number as a decimal string (``"0.05"``, ``"0.21438135077031611131"``)."""

    def load(self, value: Any, where: str) -> Any:
        if type(value) is not str or not 0 < len(value) <= 64:
            raise EntryError(f"{where} must be a decimal string such as '0.05'")
        whole, _, frac = value.partition(".")
        if not (whole.isascii() and whole.isdigit() and (not frac or frac.isdigit())):
            raise EntryError(f"{where} must be a decimal string such as '0.05'")
        if frac and not frac.isascii():
            raise EntryError(f"{where} must be a decimal string such as '0.05'")
        return value


BALLOT_REF: Final = _BallotRef()
DECIMAL: Final = _Decimal()


@_record
@attrs.frozen(kw_only=True)
class AuditedRound(_Record):
    """A community round under audit."""

    community: str = attrs.field(metadata=_k(ID))
    round: int = attrs.field(metadata=_k(_Int(1, 1000)))


@_record
@attrs.frozen(kw_only=True)
class AssertionRisk(_Record):
    """One assertion's measured risk after an audit round: the ``p_value`` (rounded up, 20
    decimals) and the discrepancies seen so far (``o1``, ``o2``, ``u1``, ``u2``)."""

    assertion: str = attrs.field(metadata=_k(TEXT))
    p_value: str = attrs.field(metadata=_k(DECIMAL))
    o1: int = attrs.field(metadata=_k(COUNT))
    o2: int = attrs.field(metadata=_k(COUNT))
    u1: int = attrs.field(metadata=_k(COUNT))
    u2: int = attrs.field(metadata=_k(COUNT))


@_event
@attrs.frozen(kw_only=True)
class AuditDeclared(ElectionEvent):
    """The audit board declares a risk-limiting audit of ``rounds`` (their results declared):
    ``method`` (ballot-level ``comparison``), ``risk_limit`` α, the ``test``
    (``kaplan_markov`` needs ``replacement``), the witnessed checkpoint it pins
    (``checkpoint_size``, ``checkpoint_root``) and the SHA-256 of the rounds' Arlo ballot
    manifest (``manifest_hash``). The audited rounds are frozen from here on."""

    TYPE: ClassVar[str] = "audit.declared"
    rounds: tuple[AuditedRound, ...] = attrs.field(
        metadata=_k(_List(_Struct(AuditedRound), min_items=1, unique=True))
    )
    method: str = attrs.field(metadata=_k(_Enum(AUDIT_METHODS)))
    risk_limit: str = attrs.field(metadata=_k(DECIMAL))
    test: str = attrs.field(metadata=_k(_Enum(AUDIT_TESTS)))
    replacement: bool = attrs.field(metadata=_k(_Bool()))
    checkpoint_size: int = attrs.field(metadata=_k(COUNT))
    checkpoint_root: bytes = attrs.field(metadata=_k(HASH32))
    manifest_hash: bytes = attrs.field(metadata=_k(HASH32))


@_event
@attrs.frozen(kw_only=True)
class AuditBoxCounted(ElectionEvent):
    """The audit board counted the paper ``sheets`` in an audited round's ``box``."""

    TYPE: ClassVar[str] = "audit.box_counted"
    community: str = attrs.field(metadata=_k(ID))
    round: int = attrs.field(metadata=_k(_Int(1, 1000)))
    box: str = attrs.field(metadata=_k(ID))
    sheets: int = attrs.field(metadata=_k(COUNT))


@_event
@attrs.frozen(kw_only=True)
class AuditSeedDrawn(ElectionEvent):
    """The public random ``seed`` of the audit, drawn in a public ceremony (e.g. 20 rolls of
    a ten-sided die) after the declaration."""

    TYPE: ClassVar[str] = "audit.seed_drawn"
    seed: str = attrs.field(metadata=_k(ID))


@_event
@attrs.frozen(kw_only=True)
class AuditSampleDrawn(ElectionEvent):
    """Audit round ``audit_round`` of a community round: the consistent sampler's draws
    ``drop + 1`` to ``drop + len(ballots)`` over the round's ballots, in draw order."""

    TYPE: ClassVar[str] = "audit.sample_drawn"
    community: str = attrs.field(metadata=_k(ID))
    round: int = attrs.field(metadata=_k(_Int(1, 1000)))
    audit_round: int = attrs.field(metadata=_k(_Int(1, 1000)))
    drop: int = attrs.field(metadata=_k(COUNT))
    ballots: tuple[str, ...] = attrs.field(metadata=_k(_List(BALLOT_REF, min_items=1)))


@_event
@attrs.frozen(kw_only=True)
class AuditBallotInterpreted(ElectionEvent):
    """The audit board's reading of a sampled paper ballot (its ``marks``), or ``not_found``
    (then ``marks`` is empty), agreed by at least two ``members``. No voter id."""

    TYPE: ClassVar[str] = "audit.ballot_interpreted"
    community: str = attrs.field(metadata=_k(ID))
    round: int = attrs.field(metadata=_k(_Int(1, 1000)))
    ballot: str = attrs.field(metadata=_k(BALLOT_REF))
    not_found: bool = attrs.field(metadata=_k(_Bool()))
    marks: dict[str, PostMarks] = attrs.field(metadata=_k(_Marks()))
    members: tuple[str, ...] = attrs.field(metadata=_k(_List(ID, min_items=2, unique=True)))


@_event
@attrs.frozen(kw_only=True)
class AuditRoundClosed(ElectionEvent):
    """Audit round ``audit_round`` measured: every assertion's ``risks`` after ``sampled``
    draws, and whether every p-value is at most the risk limit (``confirmed``)."""

    TYPE: ClassVar[str] = "audit.round_closed"
    community: str = attrs.field(metadata=_k(ID))
    round: int = attrs.field(metadata=_k(_Int(1, 1000)))
    audit_round: int = attrs.field(metadata=_k(_Int(1, 1000)))
    sampled: int = attrs.field(metadata=_k(COUNT))
    risks: tuple[AssertionRisk, ...] = attrs.field(metadata=_k(_List(_Struct(AssertionRisk))))
    confirmed: bool = attrs.field(metadata=_k(_Bool()))


@_event
@attrs.frozen(kw_only=True)
class AuditConcluded(ElectionEvent):
    """The audit of a community round ends: ``confirmed`` (the last closed audit round
    confirmed it) or ``full_hand_count`` (escalated to counting every ballot)."""

    TYPE: ClassVar[str] = "audit.concluded"
    community: str = attrs.field(metadata=_k(ID))
    round: int = attrs.field(metadata=_k(_Int(1, 1000)))
    outcome: str = attrs.field(metadata=_k(_Enum(AUDIT_OUTCOMES)))


# --------------------------------------------------------------------------- eligibility sample


@_event
@attrs.frozen(kw_only=True)
class EligibilitySampleDrawn(ElectionEvent):
    """The audit board draws the eligibility sample: the consistent sampler's first
    ``len(voters)`` draws (k) under the public ``seed`` over the active registrations of the
    whole election (``roll_size`` voters), which the witnessed checkpoint
    (``checkpoint_size``, ``checkpoint_root``) already holds: no registration or removal since.
    ``voters`` are in draw order. The board checks them against the paper records next
    (``eligibility.sample_checked``)."""

    TYPE: ClassVar[str] = "eligibility.sample_drawn"
    checkpoint_size: int = attrs.field(metadata=_k(COUNT))
    checkpoint_root: bytes = attrs.field(metadata=_k(HASH32))
    roll_size: int = attrs.field(metadata=_k(COUNT))
    seed: str = attrs.field(metadata=_k(ID))
    voters: tuple[str, ...] = attrs.field(metadata=_k(_List(PERSON, min_items=1, unique=True)))


@_event
@attrs.frozen(kw_only=True)
class EligibilitySampleChecked(ElectionEvent):
    """The audit board's result for the sample drawn under ``seed``: ``checked`` registrations
    (all k drawn) compared with the registrar's paper records (age, basis evidence), the
    sampled voters whose registration failed (``failures``, in draw order), agreed by at least
    two ``members``."""

    TYPE: ClassVar[str] = "eligibility.sample_checked"
    seed: str = attrs.field(metadata=_k(ID))
    checked: int = attrs.field(metadata=_k(COUNT))
    failures: tuple[str, ...] = attrs.field(metadata=_k(_List(PERSON, unique=True)))
    members: tuple[str, ...] = attrs.field(metadata=_k(_List(ID, min_items=2, unique=True)))


# --------------------------------------------------------------------------- decoding


def decode_event(statement: Statement) -> ElectionEvent:
    """The election event of a signed statement; :class:`EntryError` for an unknown type or
    schema version, or a body that does not match the schema."""
    return decode_body(statement.type, statement.schema, statement.body)


def decode_body(etype: str, schema: int, body: Mapping[str, Any]) -> ElectionEvent:
    """The election event of type ``etype``, schema ``schema`` and ``body`` (what
    :func:`decode_event` reads of a statement, for a caller that has only these)."""
    by_type = _LOADERS.get(schema)
    load = by_type.get(etype) if by_type is not None else None
    if load is None:
        if etype not in EVENT_TYPES:
            raise EntryError(f"unknown election event type {etype!r}")
        versions = sorted(v for t, v in EVENT_SCHEMAS if t == etype)
        raise EntryError(
            f"{etype}: unsupported schema version {schema} "
            f"(this version reads {', '.join(map(str, versions))})"
        )
    return load(body if type(body) is dict else dict(body), etype)


def identifying_fields(cls: type[ElectionEvent]) -> tuple[str, ...]:
    """Fields of an event type that name a voter, household or committee member."""
    return tuple(name for name, kind in cls._FIELDS if kind.identifies)


def free_text_fields(cls: type[_Record]) -> tuple[str, ...]:
    """The paths of the free-text fields of an event type (or record): fields of the text
    kind (any string up to 1024 characters, not an id, code, date or enum), nested records'
    as ``field.name`` and a list of records' as ``field[].name``. docs/election.md "Text
    fields" decides each under the ``minimal`` profile."""
    out: list[str] = []
    for name, kind in cls._FIELDS:
        inner = kind.inner if isinstance(kind, _Opt) else kind
        if isinstance(inner, _Text):
            out.append(name)
        elif isinstance(inner, _Struct):
            out += [f"{name}.{sub}" for sub in free_text_fields(inner.cls)]
        elif isinstance(inner, _List) and isinstance(inner.inner, _Struct):
            out += [f"{name}[].{sub}" for sub in free_text_fields(inner.inner.cls)]
    return tuple(out)


def has_marks(cls: type[ElectionEvent]) -> bool:
    """Whether an event type carries ballot marks."""
    return any(kind.marks for _, kind in cls._FIELDS)
