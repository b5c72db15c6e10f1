"""Keys, statements, entries and author chains; the golden vectors of docs/format.md §2."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from electlog import codec
from electlog.errors import (
    ElectlogError,
    EntryError,
    KeyFormatError,
    SignatureError,
    StorageError,
    UsageError,
)
from electlog.events import (
    SIGNATURE_CONTEXT,
    ZERO_HASH,
    Author,
    Entry,
    Statement,
    entry_leaf_hash,
)
from electlog.keys import SigningKey, VerifyKey, key_id

FORMAT = Path(__file__).resolve().parents[2] / "docs" / "format.md"
ORIGIN = "example.org/electlog-test"
SEED = bytes(range(32))


def doc_vectors(name: str) -> dict[str, str]:
    text = FORMAT.read_text(encoding="utf-8")
    block = re.search(rf"<!-- vectors:{name} -->(.*?)<!-- /vectors:{name} -->", text, re.S)
    assert block, f"vectors:{name} missing from format.md"
    rows = re.findall(r"^\| (\w+) \| ([0-9a-f]+) \|$", block.group(1), re.M)
    return dict(rows)


def golden_entries() -> tuple[SigningKey, Entry, Entry]:
    key = SigningKey.from_seed(SEED)
    author = Author(key, ORIGIN)
    e1 = author.sign("demo.greeting", {"text": "hello", "n": 1}, time=1_790_000_000_000_000)
    e2 = author.sign("demo.greeting", {"text": "again", "n": 2}, time=1_790_000_000_000_001)
    return key, e1, e2


def test_golden_vectors_match_format_md() -> None:
    v = doc_vectors("events")
    key, e1, e2 = golden_entries()
    assert key.public.raw.hex() == v["public_key"]
    assert key.key_id.hex() == v["key_id"]
    assert e1.statement_bytes.hex() == v["statement_1"]
    assert e1.signature.hex() == v["signature_1"]
    assert e1.data.hex() == v["entry_1"]
    assert e1.leaf_hash.hex() == v["leaf_hash_1"]
    assert e2.data.hex() == v["entry_2"]
    assert e2.leaf_hash.hex() == v["leaf_hash_2"]
    assert e2.statement.prev == e1.leaf_hash
    # an independent check of the documented construction, without electlog.events
    stmt = bytes.fromhex(v["statement_1"])
    key.public.verify(bytes.fromhex(v["signature_1"]), SIGNATURE_CONTEXT + stmt)
    assert codec.decode(bytes.fromhex(v["entry_1"])) == {
        "key": key.public.raw,
        "sig": bytes.fromhex(v["signature_1"]),
        "stmt": stmt,
    }


def test_key_id_is_sha256_of_raw_public_key() -> None:
    import hashlib

    key = SigningKey.from_seed(SEED)
    assert key.key_id == hashlib.sha256(key.public.raw).digest() == key_id(key.public.raw)
    with pytest.raises(UsageError):
        key_id(b"short")


def test_keys_never_show_private_material(tmp_path: Path) -> None:
    key = SigningKey.from_seed(SEED)
    seed_hex = SEED.hex()
    assert seed_hex not in repr(key) and seed_hex not in str(key)
    path = tmp_path / "k.pem"
    key.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert SigningKey.load(path).key_id == key.key_id
    with pytest.raises(StorageError, match="refusing to overwrite"):
        key.save(path)
    bad = tmp_path / "bad.pem"
    bad.write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA" + SEED.hex().encode() + b"\n")
    with pytest.raises(KeyFormatError) as info:
        SigningKey.load(bad)
    assert seed_hex not in str(info.value)
    with pytest.raises(StorageError):
        SigningKey.load(tmp_path / "missing.pem")


def test_public_key_text_round_trip() -> None:
    pub = SigningKey.from_seed(SEED).public
    assert VerifyKey.from_text(pub.to_text()) == pub
    for bad in ["", "ed25519-pub:!!!", "ed25519-pub:AAAA", "rsa:" + pub.to_text()[12:]]:
        with pytest.raises(KeyFormatError):
            VerifyKey.from_text(bad)


def test_entry_round_trip_and_verify() -> None:
    _, e1, _ = golden_entries()
    again = Entry.from_bytes(e1.data)
    assert again == e1 and again.statement == e1.statement
    assert again.leaf_hash == entry_leaf_hash(e1.data)


def test_flipped_signature_is_rejected() -> None:
    _, e1, _ = golden_entries()
    m = codec.decode_map(e1.data)
    m["sig"] = bytes([m["sig"][0] ^ 1]) + m["sig"][1:]
    with pytest.raises(SignatureError):
        Entry.from_bytes(codec.encode(m))
    # without verification the parse succeeds (used after a worker verified the signature)
    assert Entry.from_bytes(codec.encode(m), verify=False).statement == e1.statement


def test_key_must_match_author() -> None:
    _, e1, _ = golden_entries()
    m = codec.decode_map(e1.data)
    m["key"] = SigningKey.from_seed(b"\x01" * 32).public.raw
    with pytest.raises(EntryError, match="author is not SHA-256"):
        Entry.from_bytes(codec.encode(m))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda m: m.pop("sig"), "entry fields"),
        (lambda m: m.update(extra=b""), "entry fields"),
        (lambda m: m.update(sig=b"x" * 63), "'sig' must be 64 bytes"),
        (lambda m: m.update(key=b"x" * 31), "'key' must be 32 bytes"),
        (lambda m: m.update(stmt="text"), "'stmt' must be bytes"),
        (lambda m: m.update(stmt=b"\xc1"), "statement is not canonical"),
    ],
)
def test_malformed_entries(mutate: object, message: str) -> None:
    _, e1, _ = golden_entries()
    m = codec.decode_map(e1.data)
    mutate(m)  # type: ignore[operator]
    with pytest.raises(EntryError, match=message):
        Entry.from_bytes(codec.encode(m))


def _statement(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "author": b"a" * 32,
        "body": {},
        "log": ORIGIN,
        "prev": ZERO_HASH,
        "schema": 1,
        "seq": 1,
        "time": 0,
        "type": "t",
        "v": 1,
    }
    base.update(changes)
    return base


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"v": 2}, "version"),
        ({"log": ""}, "'log'"),
        ({"log": "a b"}, "'log'"),
        ({"log": "x" * 256}, "'log'"),
        ({"type": ""}, "'type'"),
        ({"schema": 0}, "'schema'"),
        ({"author": b"a" * 31}, "'author'"),
        ({"seq": 0}, "'seq'"),
        ({"seq": True}, "'seq'"),
        ({"prev": b"\x01" * 32}, "seq 1"),
        ({"time": -1}, "'time'"),
        ({"body": []}, "'body'"),
    ],
)
def test_statement_field_rules(changes: dict[str, object], field: str) -> None:
    with pytest.raises(EntryError, match=field):
        Statement.from_bytes(codec.encode(_statement(**changes)))


def test_statement_key_set_is_exact() -> None:
    m = _statement()
    m["extra"] = 1
    with pytest.raises(EntryError, match="unexpected"):
        Statement.from_bytes(codec.encode(m))
    m = _statement()
    del m["time"]
    with pytest.raises(EntryError, match="missing"):
        Statement.from_bytes(codec.encode(m))


def test_author_chain_and_rewind() -> None:
    key = SigningKey.from_seed(SEED)
    author = Author(key, ORIGIN)
    e1 = author.sign("x", {}, time=1)
    e2 = author.sign("x", {}, time=2)
    assert (e1.statement.seq, e2.statement.seq) == (1, 2)
    assert e1.statement.prev == ZERO_HASH and e2.statement.prev == e1.leaf_hash
    author.rewind(attrs.evolve(author.head(), seq=1, prev=e1.leaf_hash))
    e2b = author.sign("y", {}, time=3)
    assert e2b.statement.seq == 2 and e2b.statement.prev == e1.leaf_hash
    with pytest.raises(UsageError):
        Author(key, ORIGIN, seq=0, prev=b"\x01" * 32)
    with pytest.raises(EntryError):
        author.sign("x", {"f": 1.5}, time=4)  # floats are outside the canonical profile
    assert author.seq == 2  # a refused signing does not advance the chain


@settings(max_examples=60, deadline=None)
@given(
    body=st.dictionaries(
        st.text(min_size=1, max_size=8),
        st.one_of(st.integers(-(2**63), 2**63 - 1), st.text(max_size=20), st.binary(max_size=20)),
        max_size=5,
    ),
    time=st.integers(0, 2**63 - 1),
    flip=st.integers(0, 10_000),
)
def test_any_byte_flip_is_rejected_or_changes_nothing_signed(
    body: dict[str, object], time: int, flip: int
) -> None:
    key = SigningKey.from_seed(SEED)
    entry = Author(key, ORIGIN).sign("prop", body, time=time)
    data = bytearray(entry.data)
    pos = flip % len(data)
    data[pos] ^= 1 << (flip % 8)
    try:
        parsed = Entry.from_bytes(bytes(data))
    except ElectlogError:
        return
    raise AssertionError(f"a flipped bit at {pos} was accepted: {parsed.statement}")


def test_the_core_import_leaves_the_election_layer_out() -> None:
    import subprocess
    import sys

    code = (
        "import sys, electlog\n"
        "assert 'electlog.election' not in sys.modules, 'core import pulled in the election'\n"
        "from electlog import signer, merkle\n"
        "assert signer.__name__ == 'electlog.signer' and merkle.__name__ == 'electlog.merkle'\n"
        "assert 'electlog.election' not in sys.modules, 'a core submodule pulled in the election'\n"
        "from hypothesis import strategies as st\n"
        "from electlog.election import VoterRegistered\n"
        "assert not hasattr(electlog, 'VoterRegistered'), 'election names: electlog.election'\n"
        "v = st.from_type(VoterRegistered).example()\n"
        "assert VoterRegistered.from_body(v.to_body()) == v\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(AttributeError):
        _ = electlog_missing_attribute()


def electlog_missing_attribute() -> object:
    import electlog

    return electlog.NoSuchThing  # type: ignore[attr-defined]
