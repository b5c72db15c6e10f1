"""Election.append_entries judges exactly the bytes it appends: each entry is verified (parsed
from its bytes) before the election's rules see it, so a plain Entry whose attributes claim
another statement than its bytes cannot slip an unchecked event into the log."""

from __future__ import annotations

import attrs
import pytest

from electlog.election import KeyAuthorised
from electlog.errors import RuleViolation, SignatureError, UsageError
from electlog.events import Author, Entry
from electlog.keys import SigningKey
from issue11_support import Mini, key

STRANGER = key("stranger")


def _authorise(author: Author, who: SigningKey, time: int) -> Entry:
    event = KeyAuthorised(key_id=who.key_id, role="registrar", scope=(), label="desk")
    return author.sign(event.TYPE, event.to_body(), time=time, schema=event.SCHEMA)


def test_a_plain_entry_claiming_another_statement_is_judged_by_its_bytes() -> None:
    mini = Mini(voters=0)
    size = len(mini.log)
    time = mini.tick()
    # what the authority may do (the next entry of its chain) ...
    allowed = _authorise(mini.e.author(mini.k["authority"]), STRANGER, time)
    # ... and what a stranger, authorised by no one, signs
    unauthorised = _authorise(Author(STRANGER, mini.log.origin), STRANGER, time)
    lying = attrs.evolve(
        Entry.from_bytes(unauthorised.data, verify=False),
        statement=allowed.statement,
        leaf_hash=allowed.leaf_hash,
    )
    with pytest.raises(RuleViolation) as caught:
        mini.e.append_entries([lying])
    assert caught.value.code == "signer.unauthorised" and caught.value.item == 0
    assert len(mini.log) == size  # nothing appended
    flipped = bytearray(allowed.data)
    flipped[60] ^= 1  # a bit of the signature
    with pytest.raises(SignatureError, match=r"batch item 1: signature of key\.authorised"):
        mini.e.append_entries([allowed, Entry.from_bytes(bytes(flipped), verify=False)])
    with pytest.raises(UsageError, match="batch item 0: expected an Entry"):
        mini.e.append_entries([allowed.data])  # type: ignore[list-item]
    assert len(mini.log) == size
    assert [r.index for r in mini.e.append_entries([allowed])] == [size]
