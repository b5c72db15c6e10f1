"""electlog's own golden vectors as data: tests/vectors/electlog/*.json hold every byte-exact
example of docs/format.md (as pyca/cryptography and transparency-dev ship theirs), so another
implementation can load them without parsing Markdown. Three things are checked: the Markdown
tables and blocks say exactly what the JSON says, and the code reproduces the JSON (and so the
Markdown) from the documented inputs alone.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path
from typing import Any

import pytest

from electlog import errors, merkle
from electlog.checkpoint import (
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    WitnessSigner,
    WitnessVerifier,
    cosign,
    cosignature_message,
    sign_note,
    verify_checkpoint_detailed,
)
from electlog.codec import decode, encode
from electlog.events import SIGNATURE_CONTEXT, Author
from electlog.keys import SigningKey
from electlog.publish import export_bundle
from electlog.store import MemoryStore
from format_vectors import VECTORS, read_format_md, read_json

NAMES = ("codec", "events", "merkle", "checkpoint", "bundle")


def test_every_vector_file_is_known_and_well_formed() -> None:
    assert sorted(p.stem for p in VECTORS.glob("*.json")) == sorted(NAMES)
    for name in NAMES:
        data = read_json(name)
        assert data["format"] == "electlog-vectors/1"
        assert data["spec"].startswith("docs/format.md section ")
        assert data["description"]


@pytest.mark.parametrize("name", NAMES)
def test_the_markdown_says_what_the_json_says(name: str) -> None:
    from_md = read_format_md()[name]
    from_json = read_json(name)
    for key, value in from_md.items():
        assert from_json[key] == value, f"docs/format.md and {name}.json differ in {key!r}"
    data_keys = set(from_json) - {"format", "spec", "description", "inputs"}
    assert data_keys == set(from_md), "the JSON holds vectors the Markdown does not show"


# ------------------------------------------------------------------ the code against the JSON


def test_codec_vectors() -> None:
    v = read_json("codec")
    assert len(v["accepted"]) >= 30 and len(v["rejected"]) >= 20
    for row in v["accepted"]:
        value = ast.literal_eval(row["python"])
        assert encode(value).hex() == row["hex"], row
        assert decode(bytes.fromhex(row["hex"])) == value, row
    for row in v["rejected"]:
        error = getattr(errors, row["error"])
        assert issubclass(error, errors.DecodeError)
        with pytest.raises(error) as caught:
            decode(bytes.fromhex(row["hex"]))
        assert caught.value.offset == row["offset"], row


def test_event_vectors() -> None:
    v = read_json("events")
    inputs, out = v["inputs"], v["outputs"]
    key = SigningKey.from_seed(bytes.fromhex(inputs["author_seed"]))
    author = Author(key, inputs["log"])
    entries = [
        author.sign(inputs["type"], s["body"], time=s["time"], schema=inputs["schema"])
        for s in inputs["statements"]
    ]
    assert key.public.raw.hex() == out["public_key"]
    assert key.key_id.hex() == out["key_id"]
    assert entries[0].statement_bytes.hex() == out["statement_1"]
    assert entries[0].signature.hex() == out["signature_1"]
    for n, entry in enumerate(entries, start=1):
        assert entry.data.hex() == out[f"entry_{n}"]
        assert entry.leaf_hash.hex() == out[f"leaf_hash_{n}"]
    assert entries[0].statement.prev == bytes(32)
    assert entries[1].statement.prev.hex() == out["leaf_hash_1"]
    key.public.verify(
        bytes.fromhex(out["signature_1"]), SIGNATURE_CONTEXT + bytes.fromhex(out["statement_1"])
    )


def test_merkle_vectors() -> None:
    v = read_json("merkle")
    leaves = [bytes.fromhex(leaf["data"]) for leaf in v["leaves"]]
    hashes = [merkle.leaf_hash(d) for d in leaves]
    assert [h.hex() for h in hashes] == [leaf["hash"] for leaf in v["leaves"]]
    tree = merkle.MerkleTree()
    for h in hashes:
        tree.append(h)
    roots = {size: tree.root(size).hex() for size in range(len(hashes) + 1)}
    assert roots[len(hashes)] == merkle.root(hashes).hex()
    assert roots == {r["size"]: r["root"] for r in v["roots"]}
    for case in v["inclusion"]:
        proof = [h.hex() for h in tree.inclusion_proof(case["index"], case["size"])]
        assert proof == case["proof"], case
        merkle.verify_inclusion(
            hashes[case["index"]],
            case["index"],
            case["size"],
            [bytes.fromhex(h) for h in case["proof"]],
            bytes.fromhex(roots[case["size"]]),
        )
    for case in v["consistency"]:
        proof = [h.hex() for h in tree.consistency_proof(case["size1"], case["size2"])]
        assert proof == case["proof"], case
        merkle.verify_consistency(
            case["size1"],
            case["size2"],
            [bytes.fromhex(h) for h in case["proof"]],
            bytes.fromhex(roots[case["size1"]]),
            bytes.fromhex(roots[case["size2"]]),
        )


def _line(text: str) -> str:
    assert text.endswith("\n") and text.count("\n") == 1, text
    return text[:-1]


def test_checkpoint_vectors() -> None:
    v = read_json("checkpoint")
    inputs: dict[str, Any] = v["inputs"]
    out: dict[str, str] = v["outputs"]
    log = NoteSigner.generate(inputs["log_name"], rng_seed=bytes.fromhex(inputs["log_seed"]))
    witness = WitnessSigner.generate(
        inputs["witness_name"], rng_seed=bytes.fromhex(inputs["witness_seed"])
    )
    timestamp = inputs["timestamp"]
    assert _line(out["log-name"]) == log.name
    assert _line(out["log-seed"]) == inputs["log_seed"]
    assert _line(out["log-skey"]) == log.skey
    assert _line(out["log-vkey"]) == log.vkey
    assert _line(out["witness-name"]) == witness.name
    assert _line(out["witness-seed"]) == inputs["witness_seed"]
    assert _line(out["witness-skey"]) == witness.skey
    assert _line(out["witness-vkey"]) == witness.vkey
    assert int(_line(out["timestamp"])) == timestamp
    body = Checkpoint(
        origin=log.name, size=inputs["size"], root=hashlib.sha256(b"\x00").digest()
    ).to_text()
    assert body == out["body"]
    signed = sign_note(body, [log])
    assert signed == out["signed-note"]
    assert cosignature_message(body.encode(), timestamp).decode() == out["cosignature-message"]
    cosigned = cosign(signed, witness, timestamp)
    assert cosigned == out["cosigned-note"]
    result = verify_checkpoint_detailed(
        out["cosigned-note"],
        NoteVerifier.from_vkey(out["log-vkey"].strip()),
        [WitnessVerifier.from_vkey(out["witness-vkey"].strip())],
        quorum=1,
    )
    assert result.witnesses == ((witness.name, timestamp),)


def test_bundle_vector(tmp_path: Path) -> None:
    v = read_json("bundle")
    path = tmp_path / "empty.bundle"
    info = export_bundle(MemoryStore(v["inputs"]["origin"]), path)
    assert (info.entries, info.checkpoints) == (0, 0)
    assert path.read_bytes().hex() == "".join(v["empty"]["parts"])
    assert bytes.fromhex(v["empty"]["parts"][0]) == b"ELECTLOG-BUNDLE\n"
