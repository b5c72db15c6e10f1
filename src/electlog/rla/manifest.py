"""The ballot manifest of audited rounds in Arlo's CSV form, and its hash.

One row per counting batch (a box opened for counting, with the boxes merged into it): Arlo's
columns ``Container`` (``"<community> round <n>"``), ``Tabulator`` (the batch's units joined by
``" + "``), ``Batch Name`` (the box) and ``Number of Ballots`` (the ballots recorded from it).
:func:`electlog.export.write_arlo_manifest` writes the same rows from an audit report; the
audit declaration carries :func:`manifest_hash` of the audited rounds, which the audit board
(``electlog rla declare``) and every auditor (the election state's fold) compute here.

The sampling frame of a round is :func:`ballot_ids`: ``"<box>#<position>"`` for every recorded
ballot, boxes in manifest order (by box id), positions 1 to the box's count (recording order).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Sequence
from typing import Final

import attrs

from .sampling import ballot_id

__all__ = [
    "BATCH_NAME",
    "CONTAINER",
    "MANIFEST_COLUMNS",
    "NUMBER_OF_BALLOTS",
    "TABULATOR",
    "ManifestBatch",
    "ballot_ids",
    "container",
    "manifest_csv",
    "manifest_hash",
]

CONTAINER: Final = "Container"
TABULATOR: Final = "Tabulator"
BATCH_NAME: Final = "Batch Name"
NUMBER_OF_BALLOTS: Final = "Number of Ballots"
MANIFEST_COLUMNS: Final = (CONTAINER, TABULATOR, BATCH_NAME, NUMBER_OF_BALLOTS)


@attrs.frozen(kw_only=True)
class ManifestBatch:
    """One counting batch: the ``box``, the ``units`` whose ballots it holds, and the number of
    ballots ``recorded`` from it."""

    box: str
    units: tuple[str, ...]
    recorded: int


def container(community: str, round: int) -> str:
    """The ``Container`` of a community round's batches."""
    return f"{community} round {round}"


def manifest_csv(rounds: Iterable[tuple[str, int, Sequence[ManifestBatch]]]) -> str:
    """The manifest (header, then one CRLF-terminated row per batch) of ``(community, round,
    batches)`` in the order given (batches as given)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(MANIFEST_COLUMNS)
    for community, number, batches in rounds:
        for b in batches:
            w.writerow([container(community, number), " + ".join(b.units), b.box, b.recorded])
    return buf.getvalue()


def manifest_hash(rounds: Iterable[tuple[str, int, Sequence[ManifestBatch]]]) -> bytes:
    """SHA-256 of :func:`manifest_csv` (UTF-8)."""
    return hashlib.sha256(manifest_csv(rounds).encode("utf-8")).digest()


def ballot_ids(batches: Sequence[ManifestBatch]) -> list[str]:
    """The sampling frame: ``"<box>#<position>"`` of every recorded ballot, in manifest order."""
    return [ballot_id(b.box, p) for b in batches for p in range(1, b.recorded + 1)]
