"""Voter registration receipts: salted commitments, dedup tags and offline-verifiable proofs.

The public log names a voter only by a pseudonymous id. Personal data enter it as
:func:`commitment` (SHA-256 over a domain tag and the canonical encoding of salt and data), and
the person behind a registration as :func:`dedup_tag` (an HMAC under the registrars' secret, so
that one person registered in two communities is caught without publishing an ID number).

A registration receipt is a C2SP ``tlog-proof@v1`` text (https://c2sp.org/tlog-proof): the
``extra`` line carries the registration entry's exact bytes and the voter's salt, then the
entry index, the inclusion proof and the cosigned checkpoint. The voter (or anyone they show it
to, with their personal data) verifies it offline with :func:`verify_registration_receipt`
against the log's key and a witness policy; the receipt alone reveals only what the public log
already shows, plus the salt.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from electlog.checkpoint import Checkpoint, WitnessVerifier, verify_checkpoint_detailed
from electlog.codec import decode_map, encode
from electlog.errors import (
    CheckpointError,
    DecodeError,
    ElectlogError,
    EntryError,
    NoteError,
    ReceiptError,
    SignatureError,
    UsageError,
)
from electlog.events import Entry
from electlog.log import Log
from electlog.merkle import verify_inclusion
from electlog.note import NoteVerifier

from .events import AnyVoterRegistered, VoterRegistered, VoterRegisteredV2, decode_event

__all__ = [
    "COMMITMENT_CONTEXT",
    "DEDUP_CONTEXT",
    "PROOF_HEADER",
    "RECEIPT_EXTRA_VERSION",
    "VerifiedReceipt",
    "attestation_commitment",
    "basis_commitment",
    "birth_commitment",
    "commitment",
    "dedup_tag",
    "detail_salt",
    "election_dedup_key",
    "field_salt",
    "grounds_commitment",
    "household_tag",
    "make_registration_receipt",
    "minimal_registration",
    "reason_commitment",
    "rel_commitment",
    "verify_registration_receipt",
]

COMMITMENT_CONTEXT: Final = b"electlog/v1/voter-commitment\x00"
DEDUP_CONTEXT: Final = b"electlog/v1/voter-dedup\x00"
ELECTION_DEDUP_INFO: Final = b"electlog/v2/election-dedup-key\x00"
HOUSEHOLD_TAG_INFO: Final = b"electlog/v2/household-tag-key\x00"
HOUSEHOLD_TAG_CONTEXT: Final = b"electlog/v2/household-tag\x00"
FIELD_SALT_CONTEXT: Final = b"electlog/v2/field-salt\x00"
DETAIL_SALT_INFO: Final = b"electlog/v2/detail-salt-key\x00"
DETAIL_SALT_CONTEXT: Final = b"electlog/v2/detail-salt\x00"
PROOF_HEADER: Final = "c2sp.org/tlog-proof@v1"
RECEIPT_EXTRA_VERSION: Final = "electlog/registration-receipt/v1"
MIN_SALT: Final = 16
MAX_RECEIPT: Final = 256 * 1024


def _check_personal(personal: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(personal, Mapping) or not personal:
        raise UsageError("personal data must be a non-empty mapping of str to str")
    out: dict[str, str] = {}
    for k, v in personal.items():
        if not isinstance(k, str) or not isinstance(v, str) or not k:
            raise UsageError("personal data must map non-empty str keys to str values")
        out[k] = v
    return out


def _check_salt(salt: bytes) -> bytes:
    if not isinstance(salt, bytes) or len(salt) < MIN_SALT:
        raise UsageError(f"a salt is at least {MIN_SALT} random bytes")
    return salt


def commitment(salt: bytes, personal: Mapping[str, str]) -> bytes:
    """SHA-256(``COMMITMENT_CONTEXT`` || canonical encoding of
    ``{"personal": {field: value, ...}, "salt": salt}``).

    ``salt``: at least 16 random bytes chosen by the registrar and given to the voter.
    ``personal``: the personal data as str fields (e.g. name, ID number, address); keys sort
    canonically, so the order of the mapping does not matter.
    """
    body = {"personal": _check_personal(personal), "salt": _check_salt(salt)}
    return hashlib.sha256(COMMITMENT_CONTEXT + encode(body)).digest()


def dedup_tag(secret: bytes, person: str) -> bytes:
    """HMAC-SHA-256 under the registrars' ``secret`` of ``DEDUP_CONTEXT`` || UTF-8 ``person``
    (a normalised ID number): equal for one person everywhere, useless without the secret."""
    if not isinstance(secret, bytes) or len(secret) < 16:
        raise UsageError("the dedup secret is at least 16 bytes")
    if not isinstance(person, str) or not person:
        raise UsageError("person must be a non-empty str")
    return hmac.new(secret, DEDUP_CONTEXT + person.encode("utf-8"), hashlib.sha256).digest()


def _hkdf(secret: bytes, info: bytes, election_id: str) -> bytes:
    if not isinstance(secret, bytes) or len(secret) < 16:
        raise UsageError("the registrars' secret is at least 16 bytes")
    if not isinstance(election_id, str) or not election_id:
        raise UsageError("election_id must be a non-empty str")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info + election_id.encode())
    return hkdf.derive(secret)


def election_dedup_key(secret: bytes, election_id: str) -> bytes:
    """The per-election dedup key of the ``minimal`` profile: HKDF-SHA-256 (RFC 5869, no salt)
    of the registrars' long-term ``secret`` with info ``ELECTION_DEDUP_INFO`` || UTF-8
    ``election_id``, 32 bytes. Pass it to :func:`dedup_tag` as the secret: one person's tags
    are equal inside an election and unlinkable between two."""
    return _hkdf(secret, ELECTION_DEDUP_INFO, election_id)


def household_tag(secret: bytes, election_id: str, household: str) -> str:
    """The per-election household tag of the ``minimal`` profile: ``"h"`` and 32 hex digits of
    HMAC-SHA-256, under HKDF(``secret``, ``HOUSEHOLD_TAG_INFO`` || ``election_id``), of
    ``HOUSEHOLD_TAG_CONTEXT`` || UTF-8 ``household`` (the registrars' stable household id).
    Equal for the household's voters in this election, random-looking and unlinkable to the
    household's id or its tag in another election without the secret."""
    if not isinstance(household, str) or not household:
        raise UsageError("household must be a non-empty str")
    key = _hkdf(secret, HOUSEHOLD_TAG_INFO, election_id)
    mac = hmac.new(key, HOUSEHOLD_TAG_CONTEXT + household.encode("utf-8"), hashlib.sha256)
    return "h" + mac.hexdigest()[:32]


def field_salt(salt: bytes, field: str) -> bytes:
    """The salt of one committed field (``"birth"``, ``"basis"``), derived from a voter's
    registration ``salt``: the first 16 bytes of HMAC-SHA-256(salt, ``FIELD_SALT_CONTEXT`` ||
    field). Showing one field's salt opens that field alone: it reveals neither the registration
    salt nor another field's salt."""
    if not isinstance(field, str) or not field:
        raise UsageError("field must be a non-empty str")
    key = _check_salt(salt)
    return hmac.new(key, FIELD_SALT_CONTEXT + field.encode("utf-8"), hashlib.sha256).digest()[:16]


def birth_commitment(salt: bytes, birth_date: _dt.date) -> bytes:
    """``c_birth`` of ``voter.registered`` v2: :func:`commitment` of ``salt`` (the birth
    field's own salt) over ``{"birth_date": "YYYY-MM-DD"}``."""
    if not isinstance(birth_date, _dt.date):
        raise UsageError("birth_date must be a datetime.date")
    return commitment(salt, {"birth_date": birth_date.isoformat()})


def basis_commitment(
    salt: bytes, basis: str, years_resident: int | None, approval_ref: str | None
) -> bytes:
    """``c_basis`` of ``voter.registered`` v2: :func:`commitment` of ``salt`` (the basis
    field's own salt) over ``{"approval_ref", "basis", "years_resident"}``, an absent value as
    the empty string and the years in decimal."""
    if years_resident is not None and (
        not isinstance(years_resident, int) or isinstance(years_resident, bool)
    ):
        raise UsageError("years_resident must be an int or None")
    return commitment(
        salt,
        {
            "approval_ref": approval_ref or "",
            "basis": basis,
            "years_resident": "" if years_resident is None else str(years_resident),
        },
    )


def detail_salt(secret: bytes, election_id: str, event_type: str, ref: str, field: str) -> bytes:
    """The salt of one committed detail of a ``minimal``-profile event (``c_reason``,
    ``c_grounds``, ``c_rel``, ``c_attestation``), derived by the event's writer from a secret it
    holds and the entry's identity: the first 16 bytes of HMAC-SHA-256, under
    HKDF(``secret``, ``DETAIL_SALT_INFO`` || UTF-8 ``election_id``), of ``DETAIL_SALT_CONTEXT``
    || the canonical encoding of ``[event_type, ref, field]``. ``ref`` is the entry's own id
    (the removed voter, the objection, the candidate and post, the member, the key id in hex,
    the principal): the writer re-derives every salt for an openings bundle, and one salt opens
    one field of one entry."""
    for name, value in (("event_type", event_type), ("ref", ref), ("field", field)):
        if not isinstance(value, str) or not value:
            raise UsageError(f"{name} must be a non-empty str")
    key = _hkdf(secret, DETAIL_SALT_INFO, election_id)
    message = DETAIL_SALT_CONTEXT + encode([event_type, ref, field])
    return hmac.new(key, message, hashlib.sha256).digest()[:16]


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise UsageError(f"{what} must be a str")
    return value


def reason_commitment(salt: bytes, reason: str, criteria_ref: str | None = None) -> bytes:
    """``c_reason`` of a ``minimal``-profile event (``voter.removed``, ``objection.decided``,
    ``committee.member_withdrawn``, ``nomination.withdrawn``, ``key.revoked`` v2):
    :func:`commitment` of ``salt`` over ``{"reason": reason}``; a ``vetting.decided`` v2 adds
    its criterion reference, ``{"criteria_ref": ..., "reason": ...}``."""
    opened = {"reason": _text(reason, "reason")}
    if criteria_ref is not None:
        opened["criteria_ref"] = _text(criteria_ref, "criteria_ref")
    return commitment(salt, opened)


def grounds_commitment(salt: bytes, grounds: str) -> bytes:
    """``c_grounds`` of ``objection.filed`` v2: :func:`commitment` of ``salt`` over
    ``{"grounds": grounds}``."""
    return commitment(salt, {"grounds": _text(grounds, "grounds")})


def rel_commitment(salt: bytes, relationship: str) -> bytes:
    """``c_rel`` of ``proxy.authorised`` v2: :func:`commitment` of ``salt`` over
    ``{"relationship": relationship}`` (one of ``RuleSet.proxy_relationships``)."""
    return commitment(salt, {"relationship": _text(relationship, "relationship")})


def attestation_commitment(salt: bytes, attestation: bytes) -> bytes:
    """``c_attestation`` of ``proxy.authorised`` v2: :func:`commitment` of ``salt`` over
    ``{"attestation": lowercase hex of the 32-byte SHA-256 of the signed written
    authorisation}`` (v1 publishes that hash bare: unguessable, but the same in every copy)."""
    if not isinstance(attestation, bytes) or len(attestation) != 32:
        raise UsageError("attestation must be the 32-byte SHA-256 of the written authorisation")
    return commitment(salt, {"attestation": attestation.hex()})


def minimal_registration(
    secret: bytes,
    election_id: str,
    salt: bytes,
    name: str,
    id_number: str,
    fields: Mapping[str, Any],
) -> VoterRegisteredV2:
    """The ``voter.registered`` v2 of a person, from the fields a v1 registration takes
    (``household``, ``birth_date``, ``basis``, ``years_resident``, ``approval_ref`` among
    them): the dedup tag under :func:`election_dedup_key`, the :func:`household_tag`,
    ``c_birth`` and ``c_basis`` under their :func:`field_salt` of ``salt``, and the v1
    ``commitment`` to name and ID number. ``secret`` is the registrars' long-term secret."""
    rest = dict(fields)
    try:
        household = rest.pop("household")
        birth = rest.pop("birth_date")
        basis = rest["basis"]
    except KeyError as exc:
        raise UsageError(f"a registration needs {exc.args[0]!r}") from None
    years, approval = rest.pop("years_resident", None), rest.pop("approval_ref", None)
    body: dict[str, Any] = {
        "dedup": dedup_tag(election_dedup_key(secret, election_id), id_number),
        "household_tag": household_tag(secret, election_id, household),
        "c_birth": birth_commitment(field_salt(salt, "birth"), birth),
        "c_basis": basis_commitment(field_salt(salt, "basis"), basis, years, approval),
        "commitment": commitment(salt, {"name": name, "id_number": id_number}),
    }
    body.update(rest)
    return VoterRegisteredV2(**body)


@attrs.frozen(kw_only=True)
class VerifiedReceipt:
    """What a verified registration receipt proves: ``voter`` (pseudonymous id) of
    ``community`` is registered at entry ``index`` (leaf hash ``leaf_hash``, claimed ``time``)
    of log ``origin``, committed to by the checkpoint of ``size`` entries and ``root``, which
    the listed ``witnesses`` (name, timestamp) cosigned."""

    origin: str
    index: int
    leaf_hash: bytes
    voter: str
    community: str
    time: int
    size: int
    root: bytes
    witnesses: tuple[tuple[str, int], ...]
    registration: AnyVoterRegistered


def _note_text(note: str) -> str:
    if not isinstance(note, str) or "\n\n" not in note:
        raise UsageError("a cosigned checkpoint is a signed note (text, blank line, signatures)")
    return note[: note.index("\n\n") + 1]


def make_registration_receipt(
    log: Log,
    index: int,
    cosigned_checkpoint_note: str,
    salt: bytes,
    personal: Mapping[str, str],
) -> str:
    """The ``tlog-proof@v1`` receipt of the registration at entry ``index``.

    ``cosigned_checkpoint_note`` is a checkpoint of this log (any size above ``index``) with
    the witnesses' cosignatures. The entry must be a ``voter.registered`` event whose commitment
    matches ``salt`` and ``personal`` (checked here, so a desk never hands out a wrong receipt).
    ``personal`` is not put in the receipt.
    """
    try:
        cp = Checkpoint.from_text(_note_text(cosigned_checkpoint_note))
    except (NoteError, CheckpointError) as exc:
        raise UsageError(f"not a checkpoint note: {exc}") from exc
    if cp.origin != log.origin:
        raise UsageError(f"checkpoint is for log {cp.origin!r}, not {log.origin!r}")
    if cp.size > len(log) or log.root(cp.size) != cp.root:
        raise UsageError(f"checkpoint of size {cp.size} does not commit to this log")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < cp.size:
        raise UsageError(f"entry index {index!r} is not inside the checkpoint (size {cp.size})")
    data = log.get_bytes(index)
    entry = Entry.from_bytes(data, verify=False)
    event = _registration(entry, index)
    if event.commitment != commitment(salt, personal):
        raise UsageError(f"entry {index}: the salt and personal data do not match its commitment")
    proof = log.inclusion_proof(index, cp.size)
    extra = encode({"entry": data, "salt": salt, "v": RECEIPT_EXTRA_VERSION})
    lines = [
        PROOF_HEADER,
        "extra " + base64.b64encode(extra).decode("ascii"),
        f"index {index}",
        *(base64.b64encode(h).decode("ascii") for h in proof),
    ]
    return "\n".join(lines) + "\n\n" + cosigned_checkpoint_note


def _registration(entry: Entry, index: int) -> AnyVoterRegistered:
    if entry.statement.type != VoterRegistered.TYPE:
        raise ReceiptError(f"entry {index} is a {entry.statement.type}, not a voter registration")
    try:
        event = decode_event(entry.statement)
    except EntryError as exc:
        raise ReceiptError(f"entry {index}: {exc}") from exc
    assert isinstance(event, AnyVoterRegistered)
    return event


def _b64(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ReceiptError(f"receipt {what} is not base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise ReceiptError(f"receipt {what} is not canonical base64")
    return raw


def _parse(receipt: str) -> tuple[bytes, int, list[bytes], str]:
    if not isinstance(receipt, str):
        raise UsageError("a receipt is a str")
    if len(receipt) > MAX_RECEIPT:
        raise ReceiptError(f"receipt is longer than {MAX_RECEIPT} characters")
    head, sep, note = receipt.partition("\n\n")
    if not sep:
        raise ReceiptError("receipt has no blank line before the checkpoint")
    lines = head.split("\n")
    if lines[0] != PROOF_HEADER:
        raise ReceiptError(f"receipt does not start with {PROOF_HEADER!r}")
    pos = 1
    extra = b""
    if pos < len(lines) and lines[pos].startswith("extra "):
        extra = _b64(lines[pos][6:], "extra data")
        pos += 1
    if pos >= len(lines) or not lines[pos].startswith("index "):
        raise ReceiptError("receipt has no 'index' line")
    digits = lines[pos][6:]
    if not digits.isdigit() or not digits.isascii() or (digits != "0" and digits[0] == "0"):
        raise ReceiptError(f"receipt index {digits!r} is not a decimal without leading zeros")
    index = int(digits)
    proof = []
    for i, line in enumerate(lines[pos + 1 :]):
        h = _b64(line, f"proof line {i}")
        if len(h) != 32:
            raise ReceiptError(f"receipt proof line {i} is not a 32-byte hash")
        proof.append(h)
    if not extra:
        raise ReceiptError("receipt has no extra data (the registration entry and salt)")
    return extra, index, proof, note


def verify_registration_receipt(
    receipt: str,
    *,
    log_verifier: NoteVerifier,
    witnesses: Sequence[WitnessVerifier] = (),
    quorum: int = 0,
    personal: Mapping[str, str],
) -> VerifiedReceipt:
    """Verify a registration receipt offline.

    Checks, in order: the format; the checkpoint's log signature and ``quorum`` of the
    ``witnesses`` (:class:`CheckpointError`); the inclusion proof of the entry bytes at the index
    in the checkpoint's tree (:class:`InclusionProofError`); the entry's canonical form,
    signature and log origin; that it is a ``voter.registered`` event whose commitment equals
    :func:`commitment` of the receipt's salt and ``personal`` (:class:`ReceiptError`).
    """
    personal = _check_personal(personal)
    extra, index, proof, note = _parse(receipt)
    verified = verify_checkpoint_detailed(note, log_verifier, witnesses, quorum)
    cp = verified.checkpoint
    try:
        fields = decode_map(extra)
    except DecodeError as exc:
        raise ReceiptError(f"receipt extra data is not canonical: {exc}") from exc
    if set(fields) != {"entry", "salt", "v"} or fields["v"] != RECEIPT_EXTRA_VERSION:
        raise ReceiptError(f"receipt extra data is not a {RECEIPT_EXTRA_VERSION} map")
    data, salt = fields["entry"], fields["salt"]
    if not isinstance(data, bytes) or not isinstance(salt, bytes) or len(salt) < MIN_SALT:
        raise ReceiptError("receipt extra data needs entry bytes and a salt of >= 16 bytes")
    entry_leaf = hashlib.sha256(b"\x00" + data).digest()
    verify_inclusion(entry_leaf, index, cp.size, proof, cp.root)
    try:
        entry = Entry.from_bytes(data, verify=True)
    except (EntryError, SignatureError) as exc:
        raise ReceiptError(f"receipt entry: {exc}") from exc
    except ElectlogError as exc:  # pragma: no cover - from_bytes raises only the above
        raise ReceiptError(f"receipt entry: {exc}") from exc
    if entry.statement.log != cp.origin:
        raise ReceiptError(
            f"receipt entry is for log {entry.statement.log!r}, checkpoint for {cp.origin!r}"
        )
    event = _registration(entry, index)
    if event.commitment != commitment(salt, personal):
        raise ReceiptError(
            f"the personal data and salt do not match the commitment of voter {event.voter}"
        )
    return VerifiedReceipt(
        origin=cp.origin,
        index=index,
        leaf_hash=entry_leaf,
        voter=event.voter,
        community=event.community,
        time=entry.statement.time,
        size=cp.size,
        root=cp.root,
        witnesses=verified.witnesses,
        registration=event,
    )
