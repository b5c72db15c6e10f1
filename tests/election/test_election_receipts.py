"""Voter registration receipts (C2SP tlog-proof@v1), commitments and dedup tags."""

from __future__ import annotations

import base64

import pytest

from electlog.checkpoint import NoteSigner, WitnessSigner, cosign
from electlog.codec import decode_map, encode
from electlog.election.receipts import (
    PROOF_HEADER,
    commitment,
    dedup_tag,
    make_registration_receipt,
    verify_registration_receipt,
)
from electlog.election.scenario import Scenario
from electlog.errors import CheckpointError, InclusionProofError, ReceiptError, UsageError


@pytest.fixture(scope="module")
def world() -> dict[str, object]:
    s = Scenario(9).run_until("vote")
    log_key = NoteSigner.generate(s.log.origin, rng_seed=b"\x01" * 32)
    w1 = WitnessSigner.generate("witness1.example", rng_seed=b"\x02" * 32)
    w2 = WitnessSigner.generate("witness2.example", rng_seed=b"\x03" * 32)
    note = s.log.checkpoint(log_key)
    note = cosign(note, w1, 1_780_000_000)
    note = cosign(note, w2, 1_780_000_001)
    return {"s": s, "log_key": log_key, "witnesses": [w1.verifier(), w2.verifier()], "note": note}


def _receipt(world: dict[str, object], voter: str = "c2-v05") -> str:
    s = world["s"]
    assert isinstance(s, Scenario)
    note = world["note"]
    assert isinstance(note, str)
    return make_registration_receipt(
        s.log, s.registration_index[voter], note, s.salts[voter], s.personal[voter]
    )


def _verify(world: dict[str, object], receipt: str, voter: str = "c2-v05", **kw: object) -> object:
    s = world["s"]
    assert isinstance(s, Scenario)
    log_key = world["log_key"]
    assert isinstance(log_key, NoteSigner)
    args: dict[str, object] = {
        "log_verifier": log_key.verifier(),
        "witnesses": world["witnesses"],
        "quorum": 2,
        "personal": s.personal[voter],
    }
    args.update(kw)
    return verify_registration_receipt(receipt, **args)  # type: ignore[arg-type]


def test_receipt_round_trip(world: dict[str, object]) -> None:
    s = world["s"]
    assert isinstance(s, Scenario)
    receipt = _receipt(world)
    lines = receipt.split("\n")
    assert lines[0] == PROOF_HEADER
    assert lines[1].startswith("extra ")
    assert lines[2] == f"index {s.registration_index['c2-v05']}"
    head, _, note = receipt.partition("\n\n")
    assert note == world["note"]  # the checkpoint is included verbatim
    proof_lines = head.split("\n")[3:]
    assert proof_lines and all(len(base64.b64decode(x)) == 32 for x in proof_lines)
    v = _verify(world, receipt)
    assert v.voter == "c2-v05" and v.community == "c2"  # type: ignore[attr-defined]
    assert v.index == s.registration_index["c2-v05"]  # type: ignore[attr-defined]
    assert v.size == len(s.log) and v.origin == s.log.origin  # type: ignore[attr-defined]
    assert [name for name, _ in v.witnesses] == [  # type: ignore[attr-defined]
        "witness1.example",
        "witness2.example",
    ]
    assert v.registration == s.e.state.voters["c2-v05"]  # type: ignore[attr-defined]
    # the receipt carries no personal data: only the entry and the salt
    extra = decode_map(base64.b64decode(lines[1][6:]))
    assert set(extra) == {"entry", "salt", "v"} and extra["salt"] == s.salts["c2-v05"]
    assert b"Resident" not in receipt.encode()


def test_wrong_personal_data_is_refused(world: dict[str, object]) -> None:
    s = world["s"]
    assert isinstance(s, Scenario)
    receipt = _receipt(world)
    wrong = {**s.personal["c2-v05"], "name": "Someone Else"}
    with pytest.raises(ReceiptError, match="do not match the commitment"):
        _verify(world, receipt, personal=wrong)
    # another voter's receipt does not prove this voter's data
    with pytest.raises(ReceiptError):
        _verify(world, _receipt(world, "c1-v30"), personal=s.personal["c2-v05"])
    assert _verify(world, _receipt(world, "c1-v30"), voter="c1-v30")


def test_tampering_is_detected(world: dict[str, object]) -> None:
    s = world["s"]
    assert isinstance(s, Scenario)
    receipt = _receipt(world)
    lines = receipt.split("\n")
    # another entry's bytes with the same index: not included there
    other = s.log.get_bytes(s.registration_index["c2-v06"])
    extra = decode_map(base64.b64decode(lines[1][6:]))
    swapped = encode({**extra, "entry": other})
    bad = "\n".join([lines[0], "extra " + base64.b64encode(swapped).decode(), *lines[2:]])
    with pytest.raises(InclusionProofError):
        _verify(world, bad)
    # a proof hash flipped
    h = bytearray(base64.b64decode(lines[3]))
    h[0] ^= 1
    bad = "\n".join([*lines[:3], base64.b64encode(bytes(h)).decode(), *lines[4:]])
    with pytest.raises(InclusionProofError):
        _verify(world, bad)
    # a different index
    bad = "\n".join([lines[0], lines[1], f"index {int(lines[2][6:]) + 1}", *lines[3:]])
    with pytest.raises(InclusionProofError):
        _verify(world, bad)


def test_checkpoint_policy_is_enforced(world: dict[str, object]) -> None:
    receipt = _receipt(world)
    with pytest.raises(CheckpointError, match="quorum"):
        _verify(
            world,
            receipt,
            witnesses=[
                *world["witnesses"],
                WitnessSigner.generate("w3", rng_seed=b"\x04" * 32).verifier(),
            ],  # type: ignore[misc]
            quorum=3,
        )
    stranger = NoteSigner.generate(
        world["s"].log.origin,  # type: ignore[attr-defined]
        rng_seed=b"\x09" * 32,
    )
    with pytest.raises(CheckpointError):
        _verify(world, receipt, log_verifier=stranger.verifier())
    assert _verify(world, receipt, quorum=1)


@pytest.mark.parametrize(
    ("mangle", "match"),
    [
        (lambda r: r.replace(PROOF_HEADER, "c2sp.org/tlog-proof@v2", 1), "does not start"),
        (lambda r: "\n".join(x for x in r.split("\n") if not x.startswith("extra ")), "extra"),
        (lambda r: r.replace("\nindex ", "\nindex 0", 1), "leading zeros"),
        (lambda r: r.replace("\nindex ", "\nidx ", 1), "no 'index' line"),
        (lambda r: r.replace("\n\n", "\n", 1), "blank line|not base64|32-byte"),
        (lambda r: r.replace("\nextra ", "\nextra =", 1), "base64"),
    ],
)
def test_malformed_receipts(world: dict[str, object], mangle: object, match: str) -> None:
    bad = mangle(_receipt(world))  # type: ignore[operator]
    with pytest.raises(ReceiptError, match=match):
        _verify(world, bad)


def test_make_refuses_wrong_inputs(world: dict[str, object]) -> None:
    s = world["s"]
    assert isinstance(s, Scenario)
    note = world["note"]
    assert isinstance(note, str)
    idx = s.registration_index["c1-v01"]
    with pytest.raises(UsageError, match="do not match"):
        make_registration_receipt(s.log, idx, note, b"\x00" * 16, s.personal["c1-v01"])
    with pytest.raises(ReceiptError, match="not a voter registration"):
        make_registration_receipt(s.log, 0, note, s.salts["c1-v01"], s.personal["c1-v01"])
    with pytest.raises(UsageError, match="inside the checkpoint"):
        make_registration_receipt(s.log, 10**6, note, s.salts["c1-v01"], s.personal["c1-v01"])
    with pytest.raises(UsageError):
        make_registration_receipt(s.log, idx, "garbage", s.salts["c1-v01"], s.personal["c1-v01"])


def test_commitment_and_dedup_tag() -> None:
    salt = bytes(range(16))
    a = commitment(salt, {"name": "A", "id": "1"})
    assert a == commitment(salt, {"id": "1", "name": "A"})  # field order does not matter
    assert a != commitment(bytes(range(1, 17)), {"name": "A", "id": "1"})
    assert a != commitment(salt, {"name": "A", "id": "2"})
    with pytest.raises(UsageError):
        commitment(b"short", {"name": "A"})
    with pytest.raises(UsageError):
        commitment(salt, {})
    k1, k2 = b"k" * 16, b"j" * 16
    assert dedup_tag(k1, "110101199001011234") == dedup_tag(k1, "110101199001011234")
    assert dedup_tag(k1, "110101199001011234") != dedup_tag(k2, "110101199001011234")
    assert len(dedup_tag(k1, "x")) == 32
    with pytest.raises(UsageError):
        dedup_tag(b"short", "x")
