"""Arlo (VotingWorks' risk-limiting audit tool) files: the ballot manifest and batch tallies.

Column names are Arlo's own (server/api/ballot_manifest.py and server/api/batch_tallies.py in
votingworks/arlo): a manifest has ``Container``, ``Tabulator``, ``Batch Name`` and
``Number of Ballots``; a batch tallies file has ``Batch Name`` and one column per choice of the
contest. A counting batch of electlog (a box opened for counting, with the boxes merged into it)
is one Arlo batch; docs/exports.md says how to take them into an Arlo audit.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from electlog.audit import Report
from electlog.election.tally import PostSpec, RoundTally
from electlog.errors import UsageError
from electlog.rla.manifest import (
    BATCH_NAME,
    CONTAINER,
    MANIFEST_COLUMNS,
    NUMBER_OF_BALLOTS,
    TABULATOR,
    ManifestBatch,
    manifest_csv,
)

from ._ballots import BallotStream

__all__ = [
    "BATCH_NAME",
    "CONTAINER",
    "MANIFEST_COLUMNS",
    "NUMBER_OF_BALLOTS",
    "TABULATOR",
    "write_arlo_manifest",
    "write_arlo_tallies",
]


def _rows_writer(write: Callable[[str], Any]) -> Callable[[list[Any]], None]:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")

    def row(values: list[Any]) -> None:
        w.writerow(values)
        write(buf.getvalue())
        buf.seek(0)
        buf.truncate()

    return row


def _rounds(report: Report, community: str | None, round: int | None) -> list[tuple[str, int]]:
    if community is not None and community not in report.results:
        known = ", ".join(report.results) or "none"
        raise UsageError(f"no community {community!r} in the log (communities: {known})")
    out: list[tuple[str, int]] = []
    for cid, c in report.results.items():
        if community is not None and cid != community:
            continue
        if round is not None and community is not None and round not in c.rounds:
            known = ", ".join(str(n) for n in c.rounds) or "none"
            raise UsageError(f"community {cid!r} has no round {round} (rounds: {known})")
        out.extend((cid, n) for n in c.rounds if round is None or n == round)
    return out


def write_arlo_manifest(
    report: Report,
    write: Callable[[str], Any],
    *,
    community: str | None = None,
    round: int | None = None,
) -> int:
    """Write the ballot manifest: one row per counting batch of the chosen community rounds
    (default all); returns the total number of ballots in it. The rows are
    :func:`electlog.rla.manifest.manifest_csv`'s, whose hash an audit declaration carries."""
    rounds = [
        (
            cid,
            number,
            [
                ManifestBatch(box=box, units=tuple(batch.units), recorded=batch.recorded)
                for box, batch in report.results[cid].rounds[number].batches.items()
            ],
        )
        for cid, number in _rounds(report, community, round)
    ]
    write(manifest_csv(rounds))
    return sum(b.recorded for _, _, batches in rounds for b in batches)


def write_arlo_tallies(
    source: object,
    report: Report,
    write: Callable[[str], Any],
    *,
    community: str,
    post: str,
    round: int = 1,
) -> int:
    """Write the batch tallies of one contest (``community``'s ``post`` in round ``round``):
    one row per batch of the manifest, one column per person with votes on the post (listed
    candidates in list order, then written-in persons), each the batch's "for" votes counted
    with the tally's own rules (an overvoted or void post counts for nobody). Returns the
    number of batches."""
    pairs = _rounds(report, community, round)
    if not pairs:
        raise UsageError(f"community {community!r} has no round {round}")
    rr = report.results[community].rounds[round]
    if post not in rr.posts:
        known = ", ".join(rr.posts) or "none"
        raise UsageError(f"round {round} of {community!r} has no post {post!r} (posts: {known})")
    res = rr.result
    specs = [
        PostSpec(post=p, seats=pr.seats, candidates=tuple(pr.against), rank=pr.rank)
        for p, pr in res.posts.items()
    ]
    persons = list(rr.posts[post].votes)
    tallies: dict[str, RoundTally] = {
        box: RoundTally(specs, res.rules, supplementary=res.supplementary, revote=res.revote)
        for box in rr.batches
    }
    for ballot in BallotStream(source, report):
        if ballot.community == community and ballot.round == round:
            tally = tallies.get(ballot.box)
            if tally is None:
                tally = tallies[ballot.box] = RoundTally(
                    specs, res.rules, supplementary=res.supplementary, revote=res.revote
                )
            tally.add(ballot.marks)
    row = _rows_writer(write)
    row([BATCH_NAME, *persons])
    for box, tally in tallies.items():
        votes = tally.result(registered=0, issued=0).posts[post].votes
        row([box, *(votes.get(p, 0) for p in persons)])
    return len(tallies)
