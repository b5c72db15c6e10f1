"""The value forms and rule functions of the committed fields (docs/format.md §7.1).

:data:`~electlog.election.openings.COMMITTED_FIELDS` names, for each committed field, how to
parse its opened value, rebuild its commitment and the rule replayed on it: the functions are
here. A rule function takes an :class:`OpeningCheck` and raises
:class:`~electlog.errors.RuleViolation`, like every admission rule; a committed free text (a
reason, grounds, an attestation hash) has none (:func:`opened_only`).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping
from typing import Any, Final

import attrs

from electlog.errors import RuleViolation

from . import codes as C
from .events import ElectionDefined, ElectionEvent
from .receipts import basis_commitment, reason_commitment
from .rules import REMOVAL_CODE_OF
from .state.roll import check_age, check_basis_evidence

__all__ = ["OpeningCheck"]

_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_DECIMAL: Final = re.compile(r"0|[1-9][0-9]{0,8}")
_HEX32: Final = re.compile(r"[0-9a-f]{64}")


@attrs.frozen(kw_only=True)
class OpeningCheck:
    """What a rule function of a committed field sees: the entry ``index``, its decoded
    ``event``, the election's genesis ``definition`` (RuleSet, election day) and the opened
    value as parsed by the field's ``parse`` (``value``)."""

    index: int
    event: ElectionEvent
    definition: ElectionDefined
    value: Any


def exact_keys(value: Mapping[str, str], keys: set[str]) -> None:
    if set(value) != keys:
        raise ValueError(f"the value's fields are {sorted(value)}, not {sorted(keys)}")


def parse_birth(value: Mapping[str, str]) -> _dt.date:
    exact_keys(value, {"birth_date"})
    text = value["birth_date"]
    if not _ISO_DATE.fullmatch(text):
        raise ValueError("birth_date is not YYYY-MM-DD")
    return _dt.date.fromisoformat(text)


def parse_basis(value: Mapping[str, str]) -> tuple[str, int | None, str | None]:
    exact_keys(value, {"approval_ref", "basis", "years_resident"})
    years = value["years_resident"]
    if years and not _DECIMAL.fullmatch(years):
        raise ValueError("years_resident is not a decimal without leading zeros")
    return value["basis"], (int(years) if years else None), (value["approval_ref"] or None)


def rebuild_basis(salt: bytes, parsed: tuple[str, int | None, str | None]) -> bytes:
    return basis_commitment(salt, *parsed)


def check_birth(c: OpeningCheck) -> None:
    check_age(c.definition.rules, c.definition.election_day, voter_of(c.event), c.value)


def check_basis(c: OpeningCheck) -> None:
    basis, years, approval = c.value
    voter = voter_of(c.event)
    public = getattr(c.event, "basis", None)
    if basis != public:
        raise RuleViolation(
            C.VOTER_BASIS_INVALID,
            f"the opened basis {basis} is not the registration's public basis {public}",
            ids=(voter,),
        )
    check_basis_evidence(c.definition.rules, voter, basis, years, approval)


def parse_reason(value: Mapping[str, str]) -> str:
    exact_keys(value, {"reason"})
    return value["reason"]


def parse_criteria(value: Mapping[str, str]) -> tuple[str, str]:
    exact_keys(value, {"criteria_ref", "reason"})
    return value["reason"], value["criteria_ref"]


def rebuild_criteria(salt: bytes, parsed: tuple[str, str]) -> bytes:
    return reason_commitment(salt, parsed[0], parsed[1])


def parse_grounds(value: Mapping[str, str]) -> str:
    exact_keys(value, {"grounds"})
    return value["grounds"]


def parse_rel(value: Mapping[str, str]) -> str:
    exact_keys(value, {"relationship"})
    return value["relationship"]


def parse_attestation(value: Mapping[str, str]) -> bytes:
    exact_keys(value, {"attestation"})
    text = value["attestation"]
    if not _HEX32.fullmatch(text):
        raise ValueError("attestation is not 64 lowercase hex digits")
    return bytes.fromhex(text)


def opened_only(_c: OpeningCheck) -> None:
    """The rule of a committed free text (a reason, grounds, an attestation hash): none. The
    tier checks that the opening rebuilds the commitment (what the writer committed to is
    what the authorised auditor reads); whether the text is true it cannot judge."""


def check_removal(c: OpeningCheck) -> None:
    """The opened detail of a ``voter.removed`` v2 agrees with its public code: a detail that
    is a ``full`` removal reason must map to the code (:data:`REMOVAL_CODE_OF`), one that is
    itself a removal code must be the code; free text is only matched."""
    detail = c.value
    code = getattr(c.event, "reason", None)
    expected = REMOVAL_CODE_OF.get(detail)
    if expected is None and detail in c.definition.rules.removal_codes:
        expected = detail
    if expected is not None and expected != code:
        raise RuleViolation(
            C.VOTER_REMOVAL_CODE_MISMATCH,
            f"the removal's opened detail {detail!r} is code {expected}, the public code is {code}",
            ids=(voter_of(c.event),),
        )


def check_relationship(c: OpeningCheck) -> None:
    """The opened relationship of a ``proxy.authorised`` v2 is one of
    ``RuleSet.proxy_relationships`` (the public tier sees only ``close_relative``)."""
    accepted = c.definition.rules.proxy_relationships
    if c.value not in accepted:
        principal = getattr(c.event, "principal", "?")
        proxy = getattr(c.event, "proxy", "?")
        raise RuleViolation(
            C.PROXY_NOT_CLOSE_RELATIVE,
            f"the opened relationship {c.value!r} of proxy {proxy} for {principal} is not one "
            f"of {', '.join(accepted)}",
            ids=(str(principal), str(proxy)),
        )


def voter_of(event: ElectionEvent) -> str:
    voter = getattr(event, "voter", None)
    return voter if isinstance(voter, str) else "?"
