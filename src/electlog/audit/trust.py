"""The auditor's trust anchors: the trust file.

A trust file is a small JSON object the auditor obtains out of band (from the election authority's
public notice, the observers' mailing list, a witness operator) and keeps. It names the log and the
four things an audit trusts instead of the people who ran the election:

* ``origin``: the log id (C2SP origin) of the log copy to audit;
* ``authority_key``: the election authority's Ed25519 public key (``ed25519-pub:<base64>``, as
  written by :meth:`electlog.keys.VerifyKey.to_text`); it signs the genesis event, and every other
  signer's role is derived from it through ``key.authorised`` / ``key.revoked`` events;
* ``log_key``: the log's C2SP note verifier key (``<origin>+<hex8>+<base64(0x01 || key)>``) that
  signs checkpoints; its name must equal ``origin``;
* ``witnesses`` and ``quorum``: the witnesses, each a C2SP cosignature/v1 verifier key (type
  ``0x04``) or an object ``{"vkey": ..., "url": ...}`` that also gives the URL the witness is
  reached at (its C2SP tlog-witness submission prefix), and how many of them must have cosigned
  every checkpoint;
* optionally ``pinned_checkpoint``: the text of a checkpoint note the auditor has seen (signed by
  the log key, cosigned by the quorum); every audit with this trust file checks that the copy
  extends it consistently, as ``--since`` does.

The file is parsed strictly: unknown fields, missing fields and malformed keys are a
:class:`~electlog.errors.TrustFileError` naming the field. docs/auditing.md documents the format.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs

from electlog import _json
from electlog._files import NotASmallFileError, read_small_file
from electlog._urls import http_url_problem
from electlog.checkpoint import WitnessVerifier, verify_checkpoint_detailed
from electlog.errors import ElectlogError, TrustFileError, UsageError
from electlog.keys import VerifyKey
from electlog.note import NoteVerifier

if TYPE_CHECKING:
    from electlog.net import WitnessClient

__all__ = ["TRUST_FORMAT", "Trust", "load_trust"]

TRUST_FORMAT: Final = "electlog-trust/1"
"""The value of the ``format`` field of every trust file this version reads and writes."""

_FIELDS: Final = ("format", "origin", "authority_key", "log_key", "witnesses", "quorum")
_OPTIONAL: Final = ("pinned_checkpoint",)
_MAX_TRUST_FILE: Final = 1 << 20
_WITNESS_FIELDS: Final = ("vkey", "url")


def _no_urls(trust: Trust) -> tuple[str | None, ...]:
    return (None,) * len(trust.witnesses)


def _require_str(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise TrustFileError(f"trust file field {field!r} must be a non-empty string")
    return value


@attrs.frozen(kw_only=True)
class Trust:
    """The trust anchors of one audit. Build one with :meth:`create`, :meth:`from_json` or
    :func:`load_trust`; every constructor validates every field."""

    origin: str
    authority_key: VerifyKey
    log_key: NoteVerifier
    witnesses: tuple[WitnessVerifier, ...] = ()
    quorum: int = 0
    pinned_checkpoint: str | None = None
    witness_urls: tuple[str | None, ...] = attrs.field(
        default=attrs.Factory(_no_urls, takes_self=True)
    )
    """Per witness (same order as ``witnesses``), the URL it is reached at, or ``None`` when
    the trust file does not say."""

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.origin, str) or not self.origin:
            raise TrustFileError("trust field 'origin' must be a non-empty string")
        if not isinstance(self.authority_key, VerifyKey):
            raise TrustFileError("trust field 'authority_key' must be a VerifyKey")
        if not isinstance(self.log_key, NoteVerifier):
            raise TrustFileError("trust field 'log_key' must be a NoteVerifier")
        if self.log_key.name != self.origin:
            raise TrustFileError(
                f"trust field 'log_key': the key is named {self.log_key.name!r}, but a log's "
                f"checkpoint key is named after its origin {self.origin!r}"
            )
        if not isinstance(self.witnesses, tuple) or not all(
            isinstance(w, WitnessVerifier) for w in self.witnesses
        ):
            raise TrustFileError("trust field 'witnesses' must be a tuple of WitnessVerifier")
        names = [(w.name, w.key_id) for w in self.witnesses]
        if len(set(names)) != len(names):
            raise TrustFileError("trust field 'witnesses' lists a witness key twice")
        publics = [w.public_key for w in self.witnesses]
        if len(set(publics)) != len(publics):
            raise TrustFileError("trust field 'witnesses' lists one public key under two names")
        if self.log_key.public_key in publics:
            raise TrustFileError("trust field 'witnesses' contains the log's own key")
        if (
            isinstance(self.quorum, bool)
            or not isinstance(self.quorum, int)
            or not 0 <= self.quorum <= len(self.witnesses)
        ):
            raise TrustFileError(
                f"trust field 'quorum' must be an integer between 0 and the number of witnesses "
                f"({len(self.witnesses)}), got {self.quorum!r}"
            )
        if not isinstance(self.witness_urls, tuple) or len(self.witness_urls) != len(
            self.witnesses
        ):
            raise TrustFileError(
                "trust field 'witness_urls' must be a tuple with one URL (or None) per witness"
            )
        for i, url in enumerate(self.witness_urls):
            problem = None if url is None else http_url_problem(url)
            if problem is not None:
                raise TrustFileError(f"trust field 'witnesses[{i}].url' {problem}")
        if self.pinned_checkpoint is not None:
            self._check_pinned(self.pinned_checkpoint)

    def _check_pinned(self, pinned: object) -> None:
        """The pinned checkpoint must be a note that verifies with the log key and the quorum."""
        if not isinstance(pinned, str) or not pinned:
            raise TrustFileError(
                "trust field 'pinned_checkpoint' must be the text of a checkpoint note"
            )
        try:
            verify_checkpoint_detailed(pinned, self.log_key, list(self.witnesses), self.quorum)
        except ElectlogError as exc:
            raise TrustFileError(
                f"trust field 'pinned_checkpoint' does not verify with this trust file's "
                f"log key and witness quorum: {exc}"
            ) from None

    # ------------------------------------------------------------------ constructors

    @classmethod
    def create(
        cls,
        *,
        origin: str,
        authority_key: VerifyKey | str,
        log_key: NoteVerifier | str,
        witnesses: Sequence[WitnessVerifier | str] = (),
        quorum: int = 0,
        pinned_checkpoint: str | None = None,
        witness_urls: Sequence[str | None] | None = None,
    ) -> Trust:
        """A trust from keys or their text forms (``ed25519-pub:...`` and C2SP vkeys);
        ``pinned_checkpoint`` is the text of a checkpoint note the auditor has seen;
        ``witness_urls`` gives, per witness (same order), the URL it is reached at or ``None``
        (default: none known)."""
        if isinstance(witnesses, str) or not isinstance(witnesses, Sequence):
            raise TrustFileError("trust field 'witnesses' must be a sequence of verifier keys")
        vkeys = [w.vkey if isinstance(w, WitnessVerifier) else w for w in witnesses]
        if witness_urls is not None:
            if isinstance(witness_urls, str) or not isinstance(witness_urls, Sequence):
                raise TrustFileError("trust field 'witness_urls' must be a sequence of URLs")
            if len(witness_urls) != len(vkeys):
                raise TrustFileError(
                    f"trust field 'witness_urls' has {len(witness_urls)} URL(s) for "
                    f"{len(vkeys)} witness(es)"
                )
            listed: list[Any] = [
                v if u is None else {"vkey": v, "url": u}
                for v, u in zip(vkeys, witness_urls, strict=True)
            ]
        else:
            listed = list(vkeys)
        data: dict[str, Any] = {
            "format": TRUST_FORMAT,
            "origin": origin,
            "authority_key": (
                authority_key.to_text() if isinstance(authority_key, VerifyKey) else authority_key
            ),
            "log_key": log_key.vkey if isinstance(log_key, NoteVerifier) else log_key,
            "witnesses": listed,
            "quorum": quorum,
        }
        if pinned_checkpoint is not None:
            data["pinned_checkpoint"] = pinned_checkpoint
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: object) -> Trust:
        """Parse the decoded JSON object of a trust file (strict: every required field, the
        optional ``pinned_checkpoint``, no other)."""
        if not isinstance(data, dict):
            raise TrustFileError("a trust file is a JSON object")
        unknown = sorted(set(data) - set(_FIELDS) - set(_OPTIONAL))
        if unknown:
            raise TrustFileError(f"trust file has unknown field(s) {unknown}")
        missing = [f for f in _FIELDS if f not in data]
        if missing:
            raise TrustFileError(f"trust file is missing field(s) {missing}")
        if data["format"] != TRUST_FORMAT:
            raise TrustFileError(
                f"trust file field 'format' must be {TRUST_FORMAT!r}, got {data['format']!r}"
            )
        origin = _require_str(data["origin"], "origin")
        try:
            authority = VerifyKey.from_text(_require_str(data["authority_key"], "authority_key"))
        except ElectlogError as exc:
            raise TrustFileError(f"trust file field 'authority_key': {exc}") from exc
        try:
            log_key = NoteVerifier.from_vkey(_require_str(data["log_key"], "log_key"))
        except ElectlogError as exc:
            raise TrustFileError(f"trust file field 'log_key': {exc}") from exc
        raw_witnesses = data["witnesses"]
        if not isinstance(raw_witnesses, list):
            raise TrustFileError("trust file field 'witnesses' must be a list of verifier keys")
        witnesses: list[WitnessVerifier] = []
        urls: list[str | None] = []
        for i, item in enumerate(raw_witnesses):
            vkey, url = _witness_item(item, f"witnesses[{i}]")
            witnesses.append(vkey)
            urls.append(url)
        quorum = data["quorum"]
        if isinstance(quorum, bool) or not isinstance(quorum, int):
            raise TrustFileError("trust file field 'quorum' must be an integer")
        pinned = data.get("pinned_checkpoint")
        if "pinned_checkpoint" in data and (not isinstance(pinned, str) or not pinned):
            raise TrustFileError(
                "trust file field 'pinned_checkpoint' must be the text of a checkpoint note "
                "(a non-empty string)"
            )
        return cls(
            origin=origin,
            authority_key=authority,
            log_key=log_key,
            witnesses=tuple(witnesses),
            quorum=quorum,
            pinned_checkpoint=pinned,
            witness_urls=tuple(urls),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Trust:
        """Parse the text of a trust file."""
        try:
            data = _json.loads(text)
        except (ValueError, TypeError, RecursionError) as exc:  # JSON, duplicate key, nesting
            raise TrustFileError(f"trust file is not valid JSON: {exc}") from None
        return cls.from_dict(data)

    # ------------------------------------------------------------------ witnesses

    def witness_clients(self, *, timeout: float = 10.0) -> list[WitnessClient]:
        """A :class:`~electlog.net.WitnessClient` for every witness the trust file gives a URL
        for (in the file's order), to publish checkpoints through with
        :meth:`electlog.Log.publish_checkpoint` and :attr:`quorum`. Needs the ``server`` extra
        (httpx), imported only here. Raises :class:`~electlog.errors.TrustFileError` when fewer
        witnesses than the quorum have a URL (no checkpoint could ever be published with
        them)."""
        known = [(w, u) for w, u in zip(self.witnesses, self.witness_urls, strict=True) if u]
        if len(known) < self.quorum:
            raise TrustFileError(
                f"the trust file gives URLs for {len(known)} witness(es), fewer than its "
                f'quorum {self.quorum}: add each witness as {{"vkey": ..., "url": ...}}'
            )
        try:
            from electlog.net import WitnessClient
        except ModuleNotFoundError as exc:
            raise UsageError(str(exc)) from None
        return [WitnessClient(url, w, timeout=timeout) for w, url in known]

    # ------------------------------------------------------------------ output

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the trust file (``pinned_checkpoint`` only when set)."""
        out: dict[str, Any] = {
            "format": TRUST_FORMAT,
            "origin": self.origin,
            "authority_key": self.authority_key.to_text(),
            "log_key": self.log_key.vkey,
            "witnesses": [
                w.vkey if url is None else {"vkey": w.vkey, "url": url}
                for w, url in zip(self.witnesses, self.witness_urls, strict=True)
            ],
            "quorum": self.quorum,
        }
        if self.pinned_checkpoint is not None:
            out["pinned_checkpoint"] = self.pinned_checkpoint
        return out

    def to_json(self) -> str:
        """The trust file text (pretty-printed JSON, trailing newline)."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_json` to ``path``."""
        try:
            Path(path).write_text(self.to_json(), encoding="utf-8")
        except OSError as exc:
            raise TrustFileError(f"cannot write trust file {path}: {exc.strerror}") from exc


def _witness_item(item: object, field: str) -> tuple[WitnessVerifier, str | None]:
    """One entry of ``witnesses``: a verifier key string, or ``{"vkey": ..., "url": ...}``."""
    url: str | None = None
    if isinstance(item, dict):
        unknown = sorted(set(item) - set(_WITNESS_FIELDS))
        if unknown:
            raise TrustFileError(f"trust file field {field!r} has unknown field(s) {unknown}")
        missing = [f for f in _WITNESS_FIELDS if f not in item]
        if missing:
            raise TrustFileError(
                f"trust file field {field!r} is missing {missing} (a witness is its verifier "
                f"key string, or an object with 'vkey' and 'url')"
            )
        problem = http_url_problem(item["url"])
        if problem is not None:
            raise TrustFileError(f"trust file field '{field}.url' {problem}")
        url = item["url"]
        item = item["vkey"]
        field = f"{field}.vkey"
    try:
        return WitnessVerifier.from_vkey(_require_str(item, field)), url
    except TrustFileError:
        raise
    except ElectlogError as exc:
        raise TrustFileError(f"trust file field {field!r}: {exc}") from exc


def load_trust(path: str | os.PathLike[str]) -> Trust:
    """Read and strictly parse a trust file; :class:`~electlog.errors.TrustFileError` names the
    file and the field at fault."""
    p = Path(path)
    try:
        data = read_small_file(p, _MAX_TRUST_FILE)
    except OSError as exc:
        raise TrustFileError(f"cannot read trust file {p}: {exc.strerror}") from exc
    except NotASmallFileError as exc:  # a FIFO, a device, too large
        raise TrustFileError(f"trust file {p} {exc}") from exc
    try:
        return Trust.from_json(data)
    except TrustFileError as exc:
        raise TrustFileError(f"{p}: {exc}") from None
