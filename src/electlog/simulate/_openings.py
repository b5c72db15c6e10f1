"""The plaintext openings of a simulated ``minimal``-profile election (the registrar's records).

The simulator's registrar knows, for every registration, the voter's salt
(:meth:`SimulationKeys.salt_for`) and what ``c_birth`` and ``c_basis`` commit to (the person's
birth date and basis evidence, decided by the seed), and the writers know every committed detail
(a removal's detail, an objection's grounds, a vetting text, a proxy's relationship ...:
``SimulationResult.details``) and the secret its salt derives from.
:func:`simulation_openings` re-derives them from the key set and the seed — the people are
rebuilt exactly as the build made them — and pairs them with the entries in the log: the
document an authorised auditor is given (encrypted, ``electlog export --openings``). It is
private: ``electlog demo`` keeps it in the key directory (``keys/openings.plaintext``, mode
0600), never next to the public bundle.
"""

from __future__ import annotations

from electlog.election.events import VoterRegisteredV2, decode_event
from electlog.election.openings import (
    COMMITTED_FIELDS,
    Opening,
    OpeningsDocument,
    detail_openings,
    registration_openings,
)
from electlog.errors import EntryError, UsageError
from electlog.log import Log

from ._config import SimulationResult
from ._population import Voter, build_population
from ._run import _rng

__all__ = ["simulation_openings"]


def _people(result: SimulationResult) -> dict[str, Voter]:
    pop = build_population(result.config, _rng(result.seed, "population"))
    people: dict[str, Voter] = {}
    for c in pop.communities:
        people.update((v.vid, v) for v in c.voters)
    for group in pop.extras.values():
        people.update((v.vid, v) for v in group)
    for old, new in pop.movers:
        people[old.vid] = old
        people[new.vid] = new
    people.update((v.vid, v) for v in pop.late)
    return people


_COMMITTED = {(t, schema) for t, schema, _ in COMMITTED_FIELDS}


def simulation_openings(log: Log, result: SimulationResult) -> OpeningsDocument:
    """The openings of every committed field of ``log`` (``c_birth`` and ``c_basis`` of each
    ``voter.registered`` v2, and every committed detail: ``c_reason``, ``c_grounds``,
    ``c_rel``, ``c_attestation``), built by :func:`~electlog.simulate.simulate_district` as
    ``result``, covering the log's final checkpoint (``result.size``, ``result.root``).
    :class:`UsageError` for a log that is not the one ``result`` describes, a registration of
    nobody the seed made, or a detail no record of ``result.details`` opens."""
    if not isinstance(log, Log) or not isinstance(result, SimulationResult):
        raise UsageError("simulation_openings needs the Log and its SimulationResult")
    if log.origin != result.origin or len(log) < result.size:
        raise UsageError(f"the log {log.origin!r} is not the one the simulation built")
    if log.root(result.size) != result.root:
        raise UsageError("the log's root is not the simulation's: another log or another seed")
    people = _people(result)
    openings: list[Opening] = []
    for index, entry in enumerate(log):
        if index >= result.size:
            break
        statement = entry.statement
        if (statement.type, statement.schema) not in _COMMITTED:
            continue
        try:
            event = decode_event(statement)
        except EntryError as exc:  # pragma: no cover - the simulator writes valid events
            raise UsageError(f"entry {index}: {exc}") from exc
        if not isinstance(event, VoterRegisteredV2):
            openings += detail_openings(
                index,
                event,
                secret=result.keys.salt_secret,
                election_id=result.election_id,
                details=result.details,
            )
            continue
        person = people.get(event.voter)
        if person is None:
            raise UsageError(f"entry {index}: voter {event.voter} is nobody the seed made")
        openings += registration_openings(
            index,
            result.keys.salt_for(person.vid),
            birth_date=person.birth,
            basis=person.basis,
            years_resident=person.years,
            approval_ref=person.approval,
        )
    return OpeningsDocument.make(
        origin=result.origin,
        election=result.election_id,
        size=result.size,
        root=result.root,
        openings=openings,
    )
