"""Tests for electlog.checkpoint: C2SP signed notes, tlog-checkpoints, cosignature/v1.

Known-answer vectors come from Go's golang.org/x/mod/sumdb/note (note_test.go, BSD licence) and
the C2SP specifications; the golden vectors of docs/format.md section 4 are re-created here.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from electlog.checkpoint import (
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    MAX_TREE_SIZE,
    Checkpoint,
    Note,
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    VerifiedCheckpoint,
    Verifier,
    WitnessSigner,
    WitnessVerifier,
    cosign,
    cosignature_message,
    key_id,
    open_note,
    parse_vkey,
    sign_note,
    verify_checkpoint,
    verify_checkpoint_detailed,
)
from electlog.errors import CheckpointError, KeyFormatError, NoteError, UsageError

# --------------------------------------------------------------------------- Go vectors

PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_B64 = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)
ENOCH_B64 = (
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ="
)
PETER_SIG = f"— PeterNeumann {PETER_B64}\n"
ENOCH_SIG = f"— EnochRoot {ENOCH_B64}\n"
GO_SIGNED = GO_TEXT + "\n" + PETER_SIG


def _sig(name: str, kid: int, b64: str) -> NoteSignature:
    return NoteSignature(name=name, key_id=kid, signature_bytes=base64.b64decode(b64)[4:])


PETER = _sig("PeterNeumann", 0xC74F20A3, PETER_B64)
ENOCH = _sig("EnochRoot", 0xAF0CFE78, ENOCH_B64)


@pytest.fixture(scope="module")
def peter() -> NoteVerifier:
    return NoteVerifier.from_vkey(PETER_VKEY)


@pytest.fixture(scope="module")
def enoch() -> NoteVerifier:
    return NoteVerifier.from_vkey(ENOCH_VKEY)


def test_go_signer_key_matches_published_verifier_key() -> None:
    signer = NoteSigner.from_skey(PETER_SKEY)
    assert signer.name == "PeterNeumann"
    assert signer.key_id == 0xC74F20A3
    assert signer.vkey == PETER_VKEY
    assert signer.skey == PETER_SKEY
    assert signer.verifier() == NoteVerifier.from_vkey(PETER_VKEY)


def test_go_sign_reproduces_published_note_byte_for_byte() -> None:
    assert sign_note(GO_TEXT, [NoteSigner.from_skey(PETER_SKEY)]) == GO_SIGNED


def test_go_verifier_keys(peter: NoteVerifier, enoch: NoteVerifier) -> None:
    assert (peter.name, peter.key_id, peter.vkey) == ("PeterNeumann", 0xC74F20A3, PETER_VKEY)
    assert (enoch.name, enoch.key_id, enoch.vkey) == ("EnochRoot", 0xAF0CFE78, ENOCH_VKEY)
    name, kid, alg, pub = parse_vkey(PETER_VKEY)
    assert (name, kid, alg) == ("PeterNeumann", 0xC74F20A3, ALG_ED25519)
    assert pub == base64.b64decode("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")[1:]
    assert kid == key_id(name, ALG_ED25519, pub)
    digest = hashlib.sha256(b"PeterNeumann\n\x01" + pub).digest()
    assert kid == int.from_bytes(digest[:4], "big")


def test_go_open_one_verified_one_unknown(peter: NoteVerifier) -> None:
    note = open_note(GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG, [peter])
    assert note == Note(text=GO_TEXT, sigs=(PETER,), unverified_sigs=(ENOCH,))


def test_go_open_both_verified(peter: NoteVerifier, enoch: NoteVerifier) -> None:
    note = open_note(GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG, [peter, enoch])
    assert note.sigs == (PETER, ENOCH)
    assert note.unverified_sigs == ()


def test_go_open_no_known_key_rejected() -> None:
    with pytest.raises(NoteError, match="no verifiable signature") as info:
        open_note(GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG, [])
    assert "PeterNeumann+c74f20a3" in str(info.value)


def test_go_open_duplicated_verifier_is_ambiguous(peter: NoteVerifier, enoch: NoteVerifier) -> None:
    with pytest.raises(NoteError, match=r"ambiguous key EnochRoot\+af0cfe78"):
        open_note(GO_TEXT + "\n" + ENOCH_SIG, [enoch, peter, enoch])


def test_go_open_too_many_signatures(peter: NoteVerifier) -> None:
    with pytest.raises(NoteError, match="more than 100"):
        open_note(GO_TEXT + "\n" + PETER_SIG * 101, [peter])
    with pytest.raises(NoteError, match="more than 100"):
        open_note(GO_TEXT + "\n" + PETER_SIG * 101, [])
    # exactly 100 is fine; identical lines collapse to one verified signature
    assert open_note(GO_TEXT + "\n" + PETER_SIG * 100, [peter]).sigs == (PETER,)


def test_go_open_invalid_signature(peter: NoteVerifier) -> None:
    bad = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(NoteError, match=r"invalid signature for key PeterNeumann\+c74f20a3"):
        open_note(GO_TEXT + "\n" + bad, [peter])


def test_go_open_duplicated_verified_and_unverified(peter: NoteVerifier) -> None:
    enoch_abcd = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    msg = GO_TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + enoch_abcd
    note = open_note(msg, [peter])
    assert note.sigs == (PETER,)
    enoch_b64_abcd = enoch_abcd[len("— EnochRoot ") : -1]
    assert note.unverified_sigs == (ENOCH, _sig("EnochRoot", 0xAF0CFE78, enoch_b64_abcd))


@pytest.mark.parametrize(
    ("msg", "fragment"),
    [
        (GO_TEXT, "no blank line"),
        (GO_TEXT + "\n", "no signature lines"),
        (GO_TEXT + "\n" + PETER_SIG[:-1], "the last signature line does not end with a newline"),
        ("\x01" + GO_TEXT + "\n" + PETER_SIG, "control character U\\+0001 at character offset 0"),
        (
            GO_TEXT + "\n" + "— Bad Name " + PETER_B64 + "\n",
            "signature line 1 .*not canonical base64",
        ),
        (GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n", "signature line 2 .*'— '"),
    ],
)
def test_go_malformed_notes(peter: NoteVerifier, msg: str, fragment: str) -> None:
    with pytest.raises(NoteError, match="malformed note: " + fragment):
        open_note(msg, [peter])


def test_go_malformed_invalid_utf8(peter: NoteVerifier) -> None:
    raw = b"\xff" + (GO_TEXT + "\n" + PETER_SIG).encode()
    with pytest.raises(NoteError, match="invalid UTF-8 at byte offset 0"):
        open_note(raw, [peter])


def test_go_open_accepts_bytes(peter: NoteVerifier) -> None:
    assert open_note(GO_SIGNED.encode(), [peter]).text == GO_TEXT


def _manglings(key: str) -> list[str]:
    b = key.encode()
    out = {
        b[i:j].decode("utf-8", "replace")
        for i in range(len(b) + 1)
        for j in range(i + 1, len(b) + 1)
    }
    for i in range(len(b)):
        m = bytearray(b)
        m[i] = (m[i] + 1) % 256
        out.add(bytes(m).decode("utf-8", "replace"))
    out.discard(key)
    return sorted(out)


def test_go_vkey_manglings_rejected() -> None:
    for mangled in _manglings(PETER_VKEY):
        with pytest.raises(KeyFormatError):
            NoteVerifier.from_vkey(mangled)
    # wrong length key / unknown algorithm, each with an adjusted key hash (from note_test.go)
    with pytest.raises(KeyFormatError, match=r"not canonical base64|expected 32"):
        NoteVerifier.from_vkey(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        )
    with pytest.raises(KeyFormatError, match="unsupported signature type"):
        NoteVerifier.from_vkey("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


def test_go_skey_manglings_rejected() -> None:
    for mangled in _manglings(PETER_SKEY):
        with pytest.raises(KeyFormatError) as info:
            NoteSigner.from_skey(mangled)
        assert "AYEKFALVFGyNhPJEMzD1QIDr" not in str(info.value)


# --------------------------------------------------------------------------- keys


SEED_A = bytes(range(32))
SEED_B = bytes(range(32, 64))


def test_generate_with_seed_is_deterministic_and_seed_is_the_ed25519_seed() -> None:
    a1 = NoteSigner.generate("example.com/log", rng_seed=SEED_A)
    a2 = NoteSigner.generate("example.com/log", rng_seed=SEED_A)
    assert a1.skey == a2.skey and a1.vkey == a2.vkey
    assert a1.skey.endswith("+" + base64.b64encode(b"\x01" + SEED_A).decode())
    assert NoteSigner.from_skey(a1.skey).vkey == a1.vkey
    assert NoteSigner.generate("example.com/log").vkey != a1.vkey
    with pytest.raises(UsageError, match="32 bytes"):
        NoteSigner.generate("x", rng_seed=b"short")


def test_key_id_depends_on_name_and_type() -> None:
    log = NoteSigner.generate("a", rng_seed=SEED_A)
    other = NoteSigner.generate("b", rng_seed=SEED_A)
    wit = WitnessSigner.generate("a", rng_seed=SEED_A)
    assert log.public_key == other.public_key == wit.public_key
    assert len({log.key_id, other.key_id, wit.key_id}) == 3
    assert wit.key_id == int.from_bytes(
        hashlib.sha256(b"a\n\x04" + wit.public_key).digest()[:4], "big"
    )


def test_repr_hides_seed() -> None:
    for signer in (
        NoteSigner.generate("n", rng_seed=SEED_A),
        WitnessSigner.generate("n", rng_seed=SEED_A),
    ):
        secret = base64.b64encode(bytes((1,)) + SEED_A).decode()[2:20]
        assert secret not in repr(signer)
        assert SEED_A.hex() not in repr(signer)


@pytest.mark.parametrize(
    ("vkey", "fragment"),
    [
        ("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key name is empty"),
        ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "space"),
        ("Peter\nNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "space"),
        ("Peter\u3000N+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "U\\+3000"),
        ("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "lower-case hex"),
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
        ("PeterNeumann+c74f20a3", "expected <name>"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq_LDE4izWy10TW", "canonical"),
    ],
)
def test_vkey_rejections(vkey: str, fragment: str) -> None:
    with pytest.raises(KeyFormatError, match=fragment):
        NoteVerifier.from_vkey(vkey)


def test_vkey_name_with_plus_cannot_be_expressed() -> None:
    # a '+' in the name shifts the fields: the id field is then not hex
    with pytest.raises(KeyFormatError, match="hex"):
        parse_vkey("a+b+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    with pytest.raises(UsageError, match=r"'\+'"):
        NoteSigner.generate("a+b", rng_seed=SEED_A)
    with pytest.raises(UsageError, match="empty"):
        NoteSigner.generate("", rng_seed=SEED_A)


def test_note_verifier_rejects_witness_vkey_and_skey_types() -> None:
    wvkey = WitnessSigner.generate("w", rng_seed=SEED_A).vkey
    with pytest.raises(KeyFormatError, match="0x04"):
        NoteVerifier.from_vkey(wvkey)
    wskey = WitnessSigner.generate("w", rng_seed=SEED_A).skey
    with pytest.raises(KeyFormatError, match="unsupported signature type 0x04"):
        NoteSigner.from_skey(wskey)


def test_witness_keys() -> None:
    w = WitnessSigner.generate("witness.example/w1", rng_seed=SEED_B)
    name, kid, alg, pub = parse_vkey(w.vkey)
    assert (name, kid, alg, pub) == (
        "witness.example/w1",
        w.key_id,
        ALG_COSIGNATURE_V1,
        w.public_key,
    )
    assert w.vkey.split("+")[2].startswith("B")  # base64 of a leading 0x04 byte
    assert WitnessSigner.from_skey(w.skey).vkey == w.vkey
    assert WitnessVerifier.from_vkey(w.vkey) == w.verifier()
    assert w.skey.split("+")[4] == base64.b64encode(b"\x04" + SEED_B).decode()


def test_witness_from_plain_ed25519_keys_for_interop() -> None:
    # transparency-dev style: a 0x01 note key used as a cosignature/v1 witness key
    w = WitnessSigner.from_skey(PETER_SKEY)
    v = WitnessVerifier.from_vkey(PETER_VKEY)
    assert w.public_key == v.public_key == NoteVerifier.from_vkey(PETER_VKEY).public_key
    assert w.key_id == v.key_id == key_id("PeterNeumann", ALG_COSIGNATURE_V1, v.public_key)
    assert w.key_id != 0xC74F20A3
    assert v.vkey.split("+")[2].startswith("B")


def test_skey_id_mismatch_and_prefix() -> None:
    bad = PETER_SKEY.replace("c74f20a3", "c74f20a4")
    with pytest.raises(KeyFormatError, match="does not match"):
        NoteSigner.from_skey(bad)
    with pytest.raises(KeyFormatError, match="PRIVATE"):
        NoteSigner.from_skey(PETER_VKEY)


def test_verifier_protocol() -> None:
    assert isinstance(NoteVerifier.from_vkey(PETER_VKEY), Verifier)
    assert isinstance(WitnessVerifier.from_vkey(PETER_VKEY), Verifier)


# --------------------------------------------------------------------------- sign / open


def test_sign_note_rejects_bad_text() -> None:
    s = NoteSigner.generate("n", rng_seed=SEED_A)
    with pytest.raises(UsageError, match="empty"):
        sign_note("", [s])
    with pytest.raises(UsageError, match="end with a newline"):
        sign_note("abc", [s])
    with pytest.raises(UsageError, match="control character U\\+0009"):
        sign_note("a\tb\n", [s])
    with pytest.raises(UsageError, match="at least one signer"):
        sign_note("abc\n", [])


def test_sign_note_multiple_signers_in_order() -> None:
    a = NoteSigner.generate("a", rng_seed=SEED_A)
    b = NoteSigner.generate("b", rng_seed=SEED_B)
    signed = sign_note("hello\n", [a, b])
    lines = signed.split("\n")
    assert lines[:2] == ["hello", ""]
    assert lines[2].startswith("— a ") and lines[3].startswith("— b ") and lines[4] == ""
    raw = base64.b64decode(lines[2][len("— a ") :])
    assert raw[:4] == a.key_id.to_bytes(4, "big")
    Ed25519PublicKey.from_public_bytes(a.public_key).verify(raw[4:], b"hello\n")
    note = open_note(signed, [b.verifier(), a.verifier()])
    assert [s.name for s in note.sigs] == ["a", "b"]


def test_last_blank_line_separates_text() -> None:
    s = NoteSigner.generate("n", rng_seed=SEED_A)
    text = "para one\n\npara two\n\n"
    signed = sign_note(text, [s])
    assert open_note(signed, [s.verifier()]).text == text


def test_unknown_key_same_name_other_id_is_ignored() -> None:
    s = NoteSigner.generate("n", rng_seed=SEED_A)
    impostor = NoteSigner.generate("n", rng_seed=SEED_B)  # same name, other key id
    signed = sign_note("x\n", [s, impostor])
    note = open_note(signed, [s.verifier()])
    assert [x.key_id for x in note.sigs] == [s.key_id]
    assert [x.key_id for x in note.unverified_sigs] == [impostor.key_id]


def test_known_key_failing_rejects_even_after_a_valid_one() -> None:
    s = NoteSigner.generate("n", rng_seed=SEED_A)
    signed = sign_note("x\n", [s])
    line = signed.split("\n")[2]
    forged = NoteSignature(name="n", key_id=s.key_id, signature_bytes=bytes(64)).to_line()
    with pytest.raises(NoteError, match="invalid signature for key n\\+"):
        open_note(f"x\n\n{line}\n{forged}", [s.verifier()])


@pytest.mark.parametrize(
    ("sigline", "fragment"),
    [
        ("- n AAAAAAA=", "does not start with '— '"),
        ("— a+b AAAAAAA=", r"contains '\+'"),
        ("— n\u00a0x AAAAAAA=", "space character U\\+00A0"),
        ("— n ", "not canonical base64"),
        ("— n AAAA", "shorter than 5 bytes"),
        ("— n AAAAAAA", "not canonical base64"),
        ("— n AAAAAAA= ", "not canonical base64"),
        ("— n AAAAAAB=", "not canonical base64"),
        ("— n AA-_AAA=", "not canonical base64"),
        ("—  AAAAAAA=", "key name is empty"),
    ],
)
def test_malformed_signature_lines(sigline: str, fragment: str) -> None:
    s = NoteSigner.generate("n", rng_seed=SEED_A)
    with pytest.raises(NoteError, match="malformed note: signature line 1 .*" + fragment):
        open_note("x\n\n" + sigline + "\n", [s.verifier()])


def test_noncanonical_base64_signature_rejected(peter: NoteVerifier) -> None:
    # 'M' -> 'N' only changes padding bits (Go would accept); electlog requires canonical base64
    tweaked = PETER_SIG.replace("nAM=", "nAN=")
    assert base64.b64decode(tweaked[15:-1]) == base64.b64decode(PETER_B64)
    with pytest.raises(NoteError, match="canonical"):
        open_note(GO_TEXT + "\n" + tweaked, [peter])


def test_control_characters_and_surrogates_rejected(peter: NoteVerifier) -> None:
    with pytest.raises(NoteError, match="control character U\\+000D"):
        open_note(GO_TEXT.replace("\n", "\r\n", 1) + "\n" + PETER_SIG, [peter])
    with pytest.raises(NoteError, match="lone surrogate"):
        open_note("\udc80" + GO_SIGNED, [peter])
    # DEL and U+FFFD are neither control characters nor invalid UTF-8 (Go accepts them)
    s = NoteSigner.generate("n", rng_seed=SEED_A)
    text = "a\x7fb\ufffd\n"
    assert open_note(sign_note(text, [s]), [s.verifier()]).text == text


def test_open_note_rejects_non_sequence_verifiers() -> None:
    with pytest.raises(UsageError):
        open_note(GO_SIGNED, NoteVerifier.from_vkey(PETER_VKEY))  # type: ignore[arg-type]


LINE = st.text(
    alphabet=st.characters(min_codepoint=0x20, codec="utf-8"),  # no control chars, no surrogates
    max_size=30,
)
TEXTS = st.lists(LINE, min_size=1, max_size=6).map(lambda ls: "\n".join(ls) + "\n")
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(text=TEXTS)
def test_property_sign_open_round_trip(text: str) -> None:
    s = NoteSigner.generate("example.com/p", rng_seed=SEED_A)
    note = open_note(sign_note(text, [s]), [s.verifier()])
    assert note.text == text
    assert [x.name for x in note.sigs] == ["example.com/p"]


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_property_single_byte_mutation_never_accepts_other_text(data: st.DataObject) -> None:
    s = NoteSigner.generate("example.com/m", rng_seed=SEED_A)
    other = NoteSigner.generate("other", rng_seed=SEED_B)
    text = data.draw(TEXTS, label="text")
    raw = bytearray(sign_note(text, [other, s]).encode())
    i = data.draw(st.integers(0, len(raw) - 1), label="index")
    new = data.draw(st.integers(0, 255).filter(lambda b: b != raw[i]), label="byte")
    raw[i] = new
    try:
        note = open_note(bytes(raw), [s.verifier()])
    except NoteError:
        return
    assert note.text == text


# --------------------------------------------------------------------------- checkpoints

SPEC_CHECKPOINT = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)
ROOT = hashlib.sha256(b"\x00").digest()


def test_checkpoint_spec_example_round_trip() -> None:
    cp = Checkpoint.from_text(SPEC_CHECKPOINT)
    assert cp.origin == "example.com/behind-the-sofa"
    assert cp.size == 20852163
    assert cp.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert cp.extensions == ()
    assert cp.to_text() == SPEC_CHECKPOINT


def test_checkpoint_to_text_exact() -> None:
    cp = Checkpoint(origin="o", size=0, root=ROOT, extensions=("ext one", "x"))
    expected = "o\n0\n" + base64.b64encode(ROOT).decode() + "\next one\nx\n"
    assert cp.to_text() == expected
    assert Checkpoint.from_text(expected) == cp
    big = Checkpoint(origin="o", size=MAX_TREE_SIZE, root=ROOT)
    assert Checkpoint.from_text(big.to_text()).size == 2**63 - 1


ROOT64 = base64.b64encode(ROOT).decode()
URLSAFE64 = base64.urlsafe_b64encode(bytes([0xFB]) * 32).decode()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (f"o\n1\n{ROOT64}", "does not end with a newline"),
        ("o\n1\n", "2 line"),
        (f"\n1\n{ROOT64}\n", "line 1 \\(origin\\) is empty"),
        (f"o\n01\n{ROOT64}\n", "leading zeros"),
        (f"o\n00\n{ROOT64}\n", "leading zeros"),
        (f"o\n+1\n{ROOT64}\n", "without sign"),
        (f"o\n-1\n{ROOT64}\n", "without sign"),
        (f"o\n 1\n{ROOT64}\n", "not a decimal"),
        (f"o\n1_0\n{ROOT64}\n", "not a decimal"),
        (f"o\n0x10\n{ROOT64}\n", "not a decimal"),
        (f"o\n\u0661\n{ROOT64}\n", "not a decimal"),
        (f"o\n{2**63}\n{ROOT64}\n", "exceeds 2\\*\\*63-1"),
        (f"o\n{10**19}\n{ROOT64}\n", "exceeds"),
        (f"o\n{'9' * 5000}\n{ROOT64}\n", "exceeds"),
        (f"o\n\n{ROOT64}\n", "line 2 \\(size\\) is empty"),
        ("o\n1\n\n", "line 3 \\(root\\) is empty"),
        (f"o\n1\n{base64.b64encode(ROOT[:31]).decode()}\n", "32 bytes"),
        (f"o\n1\n{ROOT64.rstrip('=')}\n", "32 bytes"),
        (f"o\n1\n{URLSAFE64}\n", "32 bytes"),
        (f"o\n1\n{ROOT64[:-2]}D=\n", "32 bytes"),
        (f"o\n1\n{ROOT64}\n\n", "line 4 \\(extension\\) is empty"),
        (f"o\n1\n{ROOT64}\na\n\nb\n", "line 5 \\(extension\\) is empty"),
        (f"o\r\n1\n{ROOT64}\n", "control character U\\+000D"),
    ],
)
def test_checkpoint_from_text_rejections(text: str, fragment: str) -> None:
    with pytest.raises(CheckpointError, match=fragment):
        Checkpoint.from_text(text)


def test_checkpoint_root_noncanonical_rejected() -> None:
    # flip padding bits of the last base64 digit: same bytes under a lax decoder
    last = ROOT64[-2]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    tweaked = ROOT64[:-2] + alphabet[alphabet.index(last) | 1] + "="
    assert tweaked != ROOT64 and base64.b64decode(tweaked) == ROOT
    with pytest.raises(CheckpointError, match="32 bytes"):
        Checkpoint.from_text(f"o\n1\n{tweaked}\n")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"origin": "", "size": 1, "root": ROOT}, "origin is empty"),
        ({"origin": "a\nb", "size": 1, "root": ROOT}, "newline"),
        ({"origin": "o", "size": -1, "root": ROOT}, "outside"),
        ({"origin": "o", "size": 2**63, "root": ROOT}, "outside"),
        ({"origin": "o", "size": True, "root": ROOT}, "int"),
        ({"origin": "o", "size": 1, "root": ROOT[:31]}, "32 bytes"),
        ({"origin": "o", "size": 1, "root": ROOT, "extensions": ("",)}, "empty"),
        ({"origin": "o", "size": 1, "root": ROOT, "extensions": ["x"]}, "tuple"),
    ],
)
def test_checkpoint_constructor_validates(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(UsageError, match=fragment):
        Checkpoint(**kwargs)  # type: ignore[arg-type]


@FAST
@given(
    origin=LINE.filter(bool),
    size=st.integers(0, MAX_TREE_SIZE),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(LINE.filter(bool), max_size=3).map(tuple),
)
def test_property_checkpoint_round_trip(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    cp = Checkpoint(origin=origin, size=size, root=root, extensions=extensions)
    assert Checkpoint.from_text(cp.to_text()) == cp


# --------------------------------------------------------------------------- cosignatures

LOG = NoteSigner.generate("log.example/district-7", rng_seed=SEED_A)
W1 = WitnessSigner.generate("witness.example/w1", rng_seed=SEED_B)
W2 = WitnessSigner.generate("witness.example/w2", rng_seed=bytes(range(64, 96)))
W3 = WitnessSigner.generate("witness.example/w3", rng_seed=bytes(range(96, 128)))
CP = Checkpoint(origin=LOG.name, size=1, root=ROOT)
SIGNED = sign_note(CP.to_text(), [LOG])


def test_cosignature_line_layout_and_message() -> None:
    cosigned = cosign(SIGNED, W1, 1700000000)
    assert cosigned.startswith(SIGNED)
    line = cosigned[len(SIGNED) :]
    assert line.startswith("— witness.example/w1 ") and line.endswith("\n")
    raw = base64.b64decode(line[len("— witness.example/w1 ") : -1], validate=True)
    assert len(raw) == 4 + 8 + 64
    assert raw[:4] == W1.key_id.to_bytes(4, "big")
    assert raw[4:12] == (1700000000).to_bytes(8, "big")
    message = b"cosignature/v1\ntime 1700000000\n" + CP.to_text().encode()
    assert cosignature_message(CP.to_text().encode(), 1700000000) == message
    Ed25519PublicKey.from_public_bytes(W1.public_key).verify(raw[12:], message)


def test_cosigned_note_opens_with_witness_verifier_alone() -> None:
    note = open_note(cosign(SIGNED, W1, 5), [W1.verifier()])
    assert [s.name for s in note.sigs] == [W1.name]
    assert WitnessVerifier.timestamp_of(note.sigs[0].signature_bytes) == 5
    assert [s.name for s in note.unverified_sigs] == [LOG.name]


def test_verify_checkpoint_log_only() -> None:
    assert verify_checkpoint(SIGNED, LOG.verifier()) == CP
    detailed = verify_checkpoint_detailed(SIGNED, LOG.verifier())
    assert detailed == VerifiedCheckpoint(checkpoint=CP, witnesses=())


def test_verify_checkpoint_quorum_counts_distinct_witnesses() -> None:
    note = cosign(cosign(SIGNED, W1, 100), W2, 200)
    ws = [W1.verifier(), W2.verifier(), W3.verifier()]
    result = verify_checkpoint_detailed(note, LOG.verifier(), ws, quorum=2)
    assert result.checkpoint == CP
    assert result.witnesses == ((W1.name, 100), (W2.name, 200))
    with pytest.raises(CheckpointError, match=r"quorum not met: 2 of 3 .*witness.example/w1"):
        verify_checkpoint(note, LOG.verifier(), ws, quorum=3)


def test_duplicate_cosignatures_of_one_witness_count_once() -> None:
    once = cosign(SIGNED, W1, 100)
    line = once[len(SIGNED) :]
    # a second, different but valid cosignature by W1 (other timestamp) plus an exact duplicate
    other_ts = cosign(SIGNED, W1, 101)[len(SIGNED) :]
    note = once + line + other_ts
    ws = [W1.verifier(), W2.verifier()]
    result = verify_checkpoint_detailed(note, LOG.verifier(), ws, quorum=1)
    assert result.witnesses == ((W1.name, 100),)
    with pytest.raises(CheckpointError, match="quorum not met: 1 of 2"):
        verify_checkpoint(note, LOG.verifier(), ws, quorum=2)


def test_duplicate_witness_in_policy_counts_once() -> None:
    note = cosign(SIGNED, W1, 100)
    w1 = W1.verifier()
    with pytest.raises(UsageError, match="quorum 2 exceeds the 1 distinct"):
        verify_checkpoint(note, LOG.verifier(), [w1, WitnessVerifier.from_vkey(w1.vkey)], quorum=2)
    assert verify_checkpoint(note, LOG.verifier(), [w1, w1], quorum=1) == CP


def test_same_public_key_under_two_names_is_refused() -> None:
    alias = WitnessVerifier("witness.example/alias", W1.public_key)
    with pytest.raises(UsageError, match="same public key"):
        verify_checkpoint(SIGNED, LOG.verifier(), [W1.verifier(), alias], quorum=1)


def test_unknown_witness_ignored() -> None:
    note = cosign(cosign(SIGNED, W3, 7), W1, 8)
    result = verify_checkpoint_detailed(note, LOG.verifier(), [W1.verifier()], quorum=1)
    assert result.witnesses == ((W1.name, 8),)
    with pytest.raises(CheckpointError, match=r"quorum not met: 0 of 1 .*none"):
        verify_checkpoint(cosign(SIGNED, W3, 7), LOG.verifier(), [W1.verifier()], quorum=1)


def _retimestamp(note: str, witness: WitnessSigner, timestamp: int) -> str:
    prefix = f"— {witness.name} "
    lines = note.split("\n")
    for i, line in enumerate(lines):
        if line.startswith(prefix):
            raw = bytearray(base64.b64decode(line[len(prefix) :]))
            raw[4:12] = timestamp.to_bytes(8, "big")
            lines[i] = prefix + base64.b64encode(bytes(raw)).decode()
    return "\n".join(lines)


def test_mutated_timestamp_rejects_naming_witness() -> None:
    note = _retimestamp(cosign(cosign(SIGNED, W1, 100), W2, 100), W2, 101)
    ws = [W1.verifier(), W2.verifier()]
    with pytest.raises(CheckpointError, match=r"invalid signature for key witness.example/w2\+"):
        verify_checkpoint(note, LOG.verifier(), ws, quorum=1)
    # the same line from a witness we do not know is ignored
    assert verify_checkpoint(note, LOG.verifier(), [W1.verifier()], quorum=1) == CP


def test_verify_checkpoint_requires_log_signature() -> None:
    stranger = NoteSigner.generate(LOG.name, rng_seed=SEED_B)  # same name, other key
    note = cosign(sign_note(CP.to_text(), [stranger]), W1, 1)
    with pytest.raises(CheckpointError, match="not signed by the log key"):
        verify_checkpoint(note, LOG.verifier(), [W1.verifier()])
    with pytest.raises(CheckpointError, match="no verifiable signature"):
        verify_checkpoint(sign_note(CP.to_text(), [stranger]), LOG.verifier())


def test_verify_checkpoint_bad_log_signature() -> None:
    forged = (
        SIGNED[: len(CP.to_text()) + 1]
        + NoteSignature(name=LOG.name, key_id=LOG.key_id, signature_bytes=bytes(64)).to_line()
    )
    with pytest.raises(CheckpointError, match=r"invalid signature for key log.example"):
        verify_checkpoint(forged, LOG.verifier())


def test_verify_checkpoint_origin_must_match_log_name() -> None:
    note = sign_note(Checkpoint(origin="elsewhere", size=1, root=ROOT).to_text(), [LOG])
    with pytest.raises(CheckpointError, match="origin 'elsewhere' does not match"):
        verify_checkpoint(note, LOG.verifier())


def test_verify_checkpoint_text_must_be_checkpoint() -> None:
    note = sign_note(f"{LOG.name}\n01\n{ROOT64}\n", [LOG])
    with pytest.raises(CheckpointError, match="leading zeros"):
        verify_checkpoint(note, LOG.verifier())


def test_verify_checkpoint_malformed_note_is_checkpoint_error() -> None:
    with pytest.raises(CheckpointError, match="malformed note") as info:
        verify_checkpoint(SIGNED[:-1], LOG.verifier())
    assert isinstance(info.value.__cause__, NoteError)


def test_verify_checkpoint_policy_errors() -> None:
    with pytest.raises(UsageError, match="quorum"):
        verify_checkpoint(SIGNED, LOG.verifier(), [], quorum=-1)
    with pytest.raises(UsageError, match="exceeds"):
        verify_checkpoint(SIGNED, LOG.verifier(), [W1.verifier()], quorum=2)
    with pytest.raises(UsageError, match="NoteVerifier"):
        verify_checkpoint(SIGNED, W1.verifier())  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="WitnessVerifier"):
        verify_checkpoint(SIGNED, LOG.verifier(), [LOG.verifier()])  # type: ignore[list-item]


def test_cosign_validates_note_and_timestamp() -> None:
    with pytest.raises(NoteError, match="malformed note"):
        cosign(CP.to_text(), W1, 1)
    with pytest.raises(CheckpointError, match="malformed checkpoint"):
        cosign(sign_note("not\na checkpoint\n", [LOG]), W1, 1)
    for bad in (-1, 2**64, True):
        with pytest.raises(UsageError, match="timestamp"):
            cosign(SIGNED, W1, bad)
    top = cosign(SIGNED, W1, 2**64 - 1)
    result = verify_checkpoint_detailed(top, LOG.verifier(), [W1.verifier()], quorum=1)
    assert result.witnesses == ((W1.name, 2**64 - 1),)


def test_cosign_checks_log_signature_when_given() -> None:
    stranger = NoteSigner.generate(LOG.name, rng_seed=SEED_B)
    note = sign_note(CP.to_text(), [stranger])
    with pytest.raises(CheckpointError, match="no verifiable signature"):
        cosign(note, W1, 1, log_verifier=LOG.verifier())
    assert cosign(SIGNED, W1, 1, log_verifier=LOG.verifier()) == cosign(SIGNED, W1, 1)


def test_cosign_replaces_own_earlier_cosignature() -> None:
    twice = cosign(cosign(cosign(SIGNED, W1, 1), W2, 2), W1, 3)
    lines = twice[len(SIGNED) :].splitlines()
    assert [line.split(" ")[1] for line in lines] == [W2.name, W1.name]
    result = verify_checkpoint_detailed(twice, LOG.verifier(), [W1.verifier(), W2.verifier()])
    assert result.witnesses == ((W2.name, 2), (W1.name, 3))


def test_cosign_covers_extension_lines() -> None:
    cp = Checkpoint(origin=LOG.name, size=1, root=ROOT, extensions=("Extendo",))
    note = cosign(sign_note(cp.to_text(), [LOG]), W1, 9)
    ext_sig = open_note(note, [W1.verifier()]).sigs[0].signature_bytes
    assert not W1.verifier().verify(CP.to_text().encode(), ext_sig)
    assert W1.verifier().verify(cp.to_text().encode(), ext_sig)


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_property_cosigned_mutation_never_accepts_other_checkpoint(data: st.DataObject) -> None:
    raw = bytearray(cosign(cosign(SIGNED, W1, 100), W2, 200).encode())
    i = data.draw(st.integers(0, len(raw) - 1), label="index")
    raw[i] = data.draw(st.integers(0, 255).filter(lambda b: b != raw[i]), label="byte")
    ws = [W1.verifier(), W2.verifier()]
    try:
        result = verify_checkpoint_detailed(bytes(raw), LOG.verifier(), ws, quorum=2)
    except CheckpointError:
        return
    assert result.checkpoint == CP
    assert result.witnesses == ((W1.name, 100), (W2.name, 200))


# --------------------------------------------------------------------------- docs vectors

FORMAT_MD = Path(__file__).resolve().parents[2] / "docs" / "format.md"
VECTOR_RE = re.compile(r"^Vector `([a-z0-9_.-]+)`:\n\n```text\n(.*?)^```$", re.M | re.S)


def _doc_vectors() -> dict[str, str]:
    text = FORMAT_MD.read_text(encoding="utf-8")
    start = text.index("<!-- section:checkpoint")
    end = text.index("<!-- /section:checkpoint -->")
    found = VECTOR_RE.findall(text[start:end])
    vectors = dict(found)
    assert len(vectors) == len(found), "duplicate vector label"
    return vectors


def _one_line(block: str) -> str:
    assert block.endswith("\n") and block.count("\n") == 1, block
    return block[:-1]


def test_docs_golden_vectors_recreated_from_seeds() -> None:
    v = _doc_vectors()
    expected_labels = {
        "checkpoint.log-name",
        "checkpoint.log-seed",
        "checkpoint.log-skey",
        "checkpoint.log-vkey",
        "checkpoint.witness-name",
        "checkpoint.witness-seed",
        "checkpoint.witness-skey",
        "checkpoint.witness-vkey",
        "checkpoint.timestamp",
        "checkpoint.body",
        "checkpoint.signed-note",
        "checkpoint.cosignature-message",
        "checkpoint.cosigned-note",
    }
    assert set(v) == expected_labels
    log = NoteSigner.generate(
        _one_line(v["checkpoint.log-name"]),
        rng_seed=bytes.fromhex(_one_line(v["checkpoint.log-seed"])),
    )
    witness = WitnessSigner.generate(
        _one_line(v["checkpoint.witness-name"]),
        rng_seed=bytes.fromhex(_one_line(v["checkpoint.witness-seed"])),
    )
    timestamp = int(_one_line(v["checkpoint.timestamp"]))
    assert log.skey == _one_line(v["checkpoint.log-skey"])
    assert log.vkey == _one_line(v["checkpoint.log-vkey"])
    assert witness.skey == _one_line(v["checkpoint.witness-skey"])
    assert witness.vkey == _one_line(v["checkpoint.witness-vkey"])

    body = Checkpoint(origin=log.name, size=1, root=hashlib.sha256(b"\x00").digest()).to_text()
    assert body == v["checkpoint.body"]
    signed = sign_note(body, [log])
    assert signed == v["checkpoint.signed-note"]
    assert (
        cosignature_message(body.encode(), timestamp).decode()
        == (v["checkpoint.cosignature-message"])
    )
    cosigned = cosign(signed, witness, timestamp)
    assert cosigned == v["checkpoint.cosigned-note"]
    result = verify_checkpoint_detailed(
        cosigned,
        NoteVerifier.from_vkey(log.vkey),
        [WitnessVerifier.from_vkey(witness.vkey)],
        quorum=1,
    )
    assert result.witnesses == ((witness.name, timestamp),)


def test_malformed_and_unverified_are_told_apart_by_type() -> None:
    """A note or checkpoint that does not parse raises the Malformed* subclass; one that parses
    but does not verify raises the plain class (the auditor's checkpoint.malformed vs
    checkpoint.signature_invalid is decided by this type, not by the message's words)."""
    import pickle

    from electlog.errors import MalformedCheckpointError, MalformedNoteError

    signer = NoteSigner.generate("example.org/log")
    good = sign_note("example.org/log\n5\n" + "A" * 43 + "=\n", [signer])
    with pytest.raises(MalformedNoteError):
        open_note(b"\xff" + good.encode(), [signer.verifier()])
    with pytest.raises(MalformedNoteError):
        open_note(good.replace("\n\n", "\n"), [signer.verifier()])
    with pytest.raises(NoteError) as unverified:
        open_note(good, [NoteSigner.generate("example.org/log").verifier()])
    assert not isinstance(unverified.value, MalformedNoteError)
    with pytest.raises(MalformedCheckpointError):
        Checkpoint.from_text("example.org/log\n05\n" + "A" * 43 + "=\n")
    with pytest.raises(MalformedCheckpointError):
        verify_checkpoint(good.replace("\n\n", "\n"), signer.verifier())
    with pytest.raises(CheckpointError) as wrong_key:
        verify_checkpoint(good, NoteSigner.generate("example.org/log").verifier())
    assert not isinstance(wrong_key.value, MalformedCheckpointError)
    # the audit's worker processes send errors through pickle: the subclass survives it
    for exc in (MalformedNoteError("malformed note: x"), MalformedCheckpointError("x")):
        again = pickle.loads(pickle.dumps(exc))
        assert type(again) is type(exc) and str(again) == str(exc)
