"""Election.append_entries judges exactly the bytes it appends: each entry is verified (parsed
from its bytes) before the election's rules see it, so a plain Entry whose attributes claim
another statement than its bytes cannot slip an unchecked event into the log (issue 14 item 5)."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from electlog.election import (
    CommunityDef,
    Election,
    ElectionDefined,
    KeyAuthorised,
    PostDef,
    RuleSet,
)
from electlog.errors import RuleViolation, SignatureError, UsageError
from electlog.events import Author, Entry
from electlog.keys import SigningKey
from electlog.log import Log

ORIGIN = "example.org/facade-verified"
AUTHORITY = SigningKey.from_seed(b"\x01" * 32)
STRANGER = SigningKey.from_seed(b"\x09" * 32)


def _election() -> Election:
    definition = ElectionDefined(
        election_id="e1",
        name="Election",
        election_day=dt.date(2026, 5, 17),
        communities=(
            CommunityDef(
                community="c1",
                name="One",
                mode="all_voters",
                groups=("c1-g1",),
                posts=(PostDef(post="director", seats=1, rank=0),),
            ),
        ),
        rules=RuleSet(),
    )
    return Election.create(Log(ORIGIN), AUTHORITY, definition, time=dt.date(2026, 4, 1))


def _authorise(author: Author, who: SigningKey, time: int) -> Entry:
    event = KeyAuthorised(key_id=who.key_id, role="registrar", scope=(), label="desk")
    return author.sign(event.TYPE, event.to_body(), time=time, schema=event.SCHEMA)


def test_a_plain_entry_claiming_another_statement_is_judged_by_its_bytes() -> None:
    election = _election()
    time = election.log.get(0).statement.time + 1
    head = election.log.author_head(AUTHORITY.key_id)
    assert head is not None
    # what the authority may do (seq 2 of its chain) ...
    allowed = _authorise(Author(AUTHORITY, ORIGIN, seq=head.seq, prev=head.prev), STRANGER, time)
    # ... and what a stranger, authorised by no one, signs
    unauthorised = _authorise(Author(STRANGER, ORIGIN), STRANGER, time)
    lying = attrs.evolve(
        Entry.from_bytes(unauthorised.data, verify=False),
        statement=allowed.statement,
        leaf_hash=allowed.leaf_hash,
    )
    with pytest.raises(RuleViolation) as caught:
        election.append_entries([lying])
    assert caught.value.code == "signer.unauthorised" and caught.value.item == 0
    assert len(election.log) == 1  # nothing appended
    flipped = bytearray(allowed.data)
    flipped[60] ^= 1  # a bit of the signature
    with pytest.raises(SignatureError, match=r"batch item 1: signature of key\.authorised"):
        election.append_entries([allowed, Entry.from_bytes(bytes(flipped), verify=False)])
    with pytest.raises(UsageError, match="batch item 0: expected an Entry"):
        election.append_entries([allowed.data])  # type: ignore[list-item]
    assert len(election.log) == 1
    assert [r.index for r in election.append_entries([allowed])] == [1]
