"""The authorised tier: openings bundles encrypted to listed auditors, and their audit.

An openings bundle is the plaintext :class:`~electlog.election.openings.OpeningsDocument`
encrypted with age (https://age-encryption.org/v1) to one or more auditors' X25519 recipients
(``age1...``), through ``pyrage`` (the optional ``openings`` extra: ``pip install
'electlog[openings]'``). Any auditor named decrypts it with their identity file
(``AGE-SECRET-KEY-1...``), with electlog or with the ``age`` command (``age -d -i key.txt``).

:func:`seal_openings` checks a document against the log it names (origin, election id,
checkpoint root) and encrypts it; :func:`read_openings` decrypts one;
:func:`authorised_tier` adds the openings' audit to a public :class:`~electlog.audit.Report`
(``audit(..., openings=doc)`` calls it).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any, Final

import attrs

from electlog._files import NotASmallFileError, read_small_file
from electlog.election.events import ElectionDefined, ElectionEvent, decode_event
from electlog.election.openings import (
    COMMITTED_FIELDS,
    OpeningsDocument,
    ProblemKind,
    check_openings,
)
from electlog.errors import AuditError, DecodeError, EntryError, OpeningsError, UsageError
from electlog.events import Entry, entry_leaf_hash

from . import findings as F
from ._pipeline import CHUNK_SIZE
from ._replay import CompactMerkleTree, FindingSink
from ._sources import SourceUnreadable, open_source
from .report import Report, severity_counts, verdict_of

__all__ = [
    "MAX_OPENINGS_FILE",
    "authorised_tier",
    "generate_identity",
    "read_identities",
    "read_openings",
    "render_html",
    "render_text",
    "seal_openings",
]

MAX_OPENINGS_FILE: Final = 1 << 30
"""Largest openings bundle read (a district of 129,600 voters needs about 70 MB)."""
_MAX_IDENTITY_FILE: Final = 1 << 16
_IDENTITY_PREFIX: Final = "AGE-SECRET-KEY-1"
_KEYED: Final = {(t, s) for t, s, _ in COMMITTED_FIELDS}


def _pyrage() -> Any:
    try:
        import pyrage
    except ImportError:
        raise UsageError(
            "openings bundles need the openings extra (age encryption through pyrage): "
            "pip install 'electlog[openings]'"
        ) from None
    return pyrage


# --------------------------------------------------------------------------- keys


def generate_identity() -> tuple[str, str]:
    """A new auditor key pair from the OS CSPRNG: ``(identity file text, recipient)``. The
    text is an age identity file (``# public key: age1...`` then ``AGE-SECRET-KEY-1...``);
    the recipient (``age1...``) is what a registrar encrypts to."""
    identity = _pyrage().x25519.Identity.generate()
    recipient = str(identity.to_public())
    return f"# public key: {recipient}\n{identity}\n", recipient


def read_identities(path: str | os.PathLike[str]) -> list[Any]:
    """The age X25519 identities of the identity file ``path`` (one ``AGE-SECRET-KEY-1...`` a
    line; ``#`` comments and blank lines skipped). :class:`OpeningsError` naming the file and
    line (never the key) for anything else, or a file with no identity."""
    age = _pyrage()
    try:
        text = read_small_file(path, _MAX_IDENTITY_FILE).decode("utf-8")
    except OSError as exc:
        raise OpeningsError(f"cannot read the identity file {path}: {exc.strerror}") from None
    except (NotASmallFileError, UnicodeDecodeError) as exc:
        raise OpeningsError(f"the identity file {path} is not a small text file: {exc}") from None
    identities = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith(_IDENTITY_PREFIX):
            raise OpeningsError(f"{path} line {number} is not an age X25519 identity")
        try:
            identities.append(age.x25519.Identity.from_str(line))
        except age.IdentityError:
            raise OpeningsError(f"{path} line {number} is a malformed age identity") from None
    if not identities:
        raise OpeningsError(f"{path} holds no age identity (AGE-SECRET-KEY-1...)")
    return identities


def _recipients(recipients: Sequence[str]) -> list[Any]:
    age = _pyrage()
    if isinstance(recipients, str) or not recipients:
        raise UsageError("openings are encrypted to a list of one or more age recipients")
    out = []
    for r in recipients:
        if not isinstance(r, str) or not r.startswith("age1"):
            raise UsageError(f"recipient {r!r} is not an age X25519 recipient (age1...)")
        try:
            out.append(age.x25519.Recipient.from_str(r))
        except age.RecipientError:
            raise UsageError(f"recipient {r!r} is not a valid age X25519 recipient") from None
    return out


# --------------------------------------------------------------------------- the log side


@attrs.define
class _Scan:
    """What the authorised tier needs from a log copy: its Merkle tree, genesis and the
    entries with committed fields."""

    tree: CompactMerkleTree
    origin: str | None = None
    definition: ElectionDefined | None = None
    events: list[tuple[int, ElectionEvent]] = attrs.field(factory=list)


def _scan(source: object) -> _Scan:
    src = open_source(source)
    scan = _Scan(CompactMerkleTree(), origin=src.origin)
    index = 0
    try:
        for chunk in src.chunks(CHUNK_SIZE):
            scan.tree.extend([entry_leaf_hash(data) for data in chunk])
            for data in chunk:
                _take(scan, index, data)
                index += 1
    except SourceUnreadable as exc:
        scan.tree.close()
        raise AuditError(f"the source is unreadable: {exc.message}") from exc
    finally:
        src.close()
    return scan


def _take(scan: _Scan, index: int, data: bytes) -> None:
    try:
        statement = Entry.from_bytes(data, verify=False).statement
        if index == 0 and scan.origin is None:
            scan.origin = statement.log
        if index == 0 and statement.type == ElectionDefined.TYPE:
            event = decode_event(statement)
            assert isinstance(event, ElectionDefined)
            scan.definition = event
        elif (statement.type, statement.schema) in _KEYED:
            scan.events.append((index, decode_event(statement)))
    except (EntryError, DecodeError):
        return  # the public tier reports a malformed entry


def _binding(scan: _Scan, doc: OpeningsDocument, origin: str) -> str | None:
    """Why ``doc`` is not for this log (or ``None`` when it is)."""
    if doc.origin != origin:
        return f"the openings are for log {doc.origin!r}, not {origin!r}"
    if scan.definition is None:
        return "the log has no election.defined genesis to bind the openings to"
    if doc.election != scan.definition.election_id:
        return (
            f"the openings are for election {doc.election!r}, the log's is "
            f"{scan.definition.election_id!r}"
        )
    if doc.size > len(scan.tree):
        return f"the openings cover a checkpoint of size {doc.size}; the log has {len(scan.tree)}"
    if scan.tree.root(doc.size) != doc.root:
        return f"the openings' checkpoint root at size {doc.size} is not this log's"
    return None


def seal_openings(source: object, doc: OpeningsDocument, recipients: Sequence[str]) -> bytes:
    """``doc`` encrypted with age to every one of ``recipients`` (``age1...`` strings), after
    checking that it is for the log copy ``source`` (any source :func:`electlog.audit.audit`
    reads): same origin, the genesis's election id, and the log's root at the document's
    size. :class:`OpeningsError` when it is not."""
    if not isinstance(doc, OpeningsDocument):
        raise UsageError("seal_openings needs an OpeningsDocument")
    keys = _recipients(recipients)
    scan = _scan(source)
    try:
        problem = _binding(scan, doc, scan.origin or "(no origin)")
    finally:
        scan.tree.close()
    if problem is not None:
        raise OpeningsError(problem)
    age = _pyrage()
    try:
        return bytes(age.encrypt(doc.to_bytes(), keys))
    except age.EncryptError as exc:  # pragma: no cover - X25519 recipients always encrypt
        raise OpeningsError(f"age could not encrypt the openings: {exc}") from None


def read_openings(
    data: bytes | str | os.PathLike[str], identity: str | os.PathLike[str]
) -> OpeningsDocument:
    """Decrypt an openings bundle (its bytes, or the path of its file) with the age identity
    file ``identity`` and parse the document. :class:`OpeningsError` for a file that is not an
    age file, is encrypted to none of the identities, or holds no canonical document."""
    age = _pyrage()
    identities = read_identities(identity)
    if not isinstance(data, bytes):
        if not isinstance(data, str | os.PathLike):
            raise UsageError("read_openings needs the bundle's bytes or its path")
        where = os.fspath(data)
        try:
            data = read_small_file(where, MAX_OPENINGS_FILE)
        except OSError as exc:
            raise OpeningsError(f"cannot read the openings {where!s}: {exc.strerror}") from None
        except NotASmallFileError as exc:
            raise OpeningsError(f"the openings {where!s} {exc}") from None
    try:
        plaintext = age.decrypt(data, identities)
    except age.DecryptError as exc:
        raise OpeningsError(
            f"cannot decrypt the openings with {identity} ({exc}): the bundle is not an age "
            "file encrypted to this identity"
        ) from None
    return OpeningsDocument.from_bytes(bytes(plaintext))


# --------------------------------------------------------------------------- the audit


def authorised_tier(report: Report, source: object, doc: OpeningsDocument) -> Report:
    """``report`` (the public audit of ``source``) with the authorised tier added: every
    opening checked against its commitment (``openings.mismatch``, ``openings.missing``,
    ``openings.unknown``), the rules of the committed fields replayed on the opened values
    (``rule.voter.underage`` ...), and ``openings.checked`` in place of
    ``profile.public_unverified``. A document for another log or checkpoint is the one
    finding ``openings.log_mismatch`` and nothing else is checked."""
    if not isinstance(doc, OpeningsDocument):
        raise UsageError("openings must be an OpeningsDocument (read_openings reads one)")
    scan = _scan(source)
    sink = FindingSink()
    checked: dict[str, int] = {}
    try:
        problem = _binding(scan, doc, report.origin)
        if report.checkpoint is not None and problem is None:
            size = int(report.checkpoint["size"])
            if size > len(scan.tree) or scan.tree.root(size).hex() != report.checkpoint["root"]:
                problem = "the source changed since the public audit read it"
    finally:
        scan.tree.close()
    if problem is not None:
        sink.add(
            F.OPENINGS_LOG_MISMATCH,
            None,
            problem,
            {"origin": doc.origin, "election": doc.election, "size": doc.size},
        )
    else:
        assert scan.definition is not None
        checked = _check(sink, doc, scan.definition, scan.events)
    rules = sorted({r for f in COMMITTED_FIELDS.values() for r in f.rules})
    total = sum(checked.values())
    if problem is None:
        sink.add(
            F.OPENINGS_CHECKED,
            None,
            f"authorised tier: {total} opening(s) of {len(doc.openings)} matched their "
            f"commitments and the rules {', '.join(rules)} were replayed on them",
            {"checked": dict(sorted(checked.items())), "openings": len(doc.openings)},
        )
    public = [f for f in report.findings if f.code != F.PROFILE_PUBLIC_UNVERIFIED]
    findings = (*public, *sink.result())
    section = {
        "tier": "authorised",
        "election": doc.election,
        "checkpoint": {"size": doc.size, "root": doc.root.hex()},
        "openings": len(doc.openings),
        "checked": dict(sorted(checked.items())),
        "rules": rules,
    }
    in_progress = report.progress is not None
    return attrs.evolve(
        report,
        findings=findings,
        verdict=verdict_of(findings, in_progress=in_progress),
        counts=attrs.evolve(report.counts, findings=severity_counts(findings)),
        authorised=section,
    )


def _check(
    sink: FindingSink,
    doc: OpeningsDocument,
    definition: ElectionDefined,
    events: Iterable[tuple[int, ElectionEvent]],
) -> dict[str, int]:
    problems, violations, checked = check_openings(doc, definition, events)
    codes = {
        ProblemKind.MISMATCH: F.OPENINGS_MISMATCH,
        ProblemKind.MISSING: F.OPENINGS_MISSING,
        ProblemKind.UNKNOWN: F.OPENINGS_UNKNOWN,
    }
    for p in problems:
        sink.add(codes[p.kind], p.index, p.message, {"field": p.field})
    for v in violations:
        assert v.rule is not None
        sink.add(
            F.rule_finding_code(v.rule.code),
            v.index,
            f"authorised tier: {v.message}",
            {"field": v.field, "ids": list(v.rule.ids), "tier": "authorised"},
        )
    return checked


# --------------------------------------------------------------------------- report sections


def render_text(section: dict[str, Any]) -> list[str]:
    """The ``authorised`` section as lines of the text report."""
    checked = ", ".join(f"{n} {field}" for field, n in section["checked"].items()) or "none"
    cp = section["checkpoint"]
    return [
        f"tier         authorised: {section['openings']} opening(s) of election "
        f"{section['election']} at checkpoint size {cp['size']}",
        f"  matched    {checked}; rules replayed: {', '.join(section['rules'])}",
    ]


def render_html(section: dict[str, Any], escape: Any) -> str:
    """The ``authorised`` section as an HTML ``<section id="authorised">``."""
    e = escape
    rows = "".join(
        f'<tr><td>{e(field)}</td><td class="num">{e(n)}</td></tr>'
        for field, n in section["checked"].items()
    )
    cp = section["checkpoint"]
    return (
        '<section id="authorised"><h2>Authorised tier</h2>'
        f"<p>{e(section['openings'])} opening(s) of election <code>{e(section['election'])}"
        f"</code>, bound to checkpoint size {e(cp['size'])}, root <code>{e(cp['root'])}</code>; "
        f"rules replayed on the opened values: {e(', '.join(section['rules']))}.</p>"
        '<table><thead><tr><th>field</th><th class="num">openings matched</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></section>"
    )
