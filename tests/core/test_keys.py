"""Ed25519 keys and key ids (electlog.keys): RFC 8032 vectors, the strict verification rule under
every backend, the key text and PEM forms, key files, and that no private material ever shows."""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey

from electlog import events, keys
from electlog.errors import (
    ElectlogError,
    EntryError,
    KeyFormatError,
    SignatureError,
    StorageError,
    UsageError,
)
from electlog.events import Author, Entry, VerifiedEntry
from electlog.keys import SigningKey, VerifyKey, key_id, verify_many, write_secret_file

# RFC 8032 §7.1, TEST 1 (empty message) and TEST 2 (one byte 0x72)
RFC8032 = (
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
)
GROUP_ORDER = 2**252 + 27742317777372353535851937790883648493
SEED = bytes(range(32))


@pytest.fixture(params=keys.available_verify_backends())
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each backend available here in turn; the process's choice is restored afterwards."""
    before = keys.verify_backend()
    keys.set_verify_backend(request.param)
    try:
        yield request.param
    finally:
        keys.set_verify_backend(before)


# ------------------------------------------------------------------ key ids and vectors


@pytest.mark.parametrize(("seed", "public", "message", "signature"), RFC8032)
def test_rfc8032_vectors(
    backend: str, seed: str, public: str, message: str, signature: str
) -> None:
    key = SigningKey.from_seed(bytes.fromhex(seed))
    assert key.public.raw.hex() == public
    assert key.seed().hex() == seed
    assert key.sign(bytes.fromhex(message)).hex() == signature
    key.public.verify(bytes.fromhex(signature), bytes.fromhex(message))
    assert verify_many([(bytes.fromhex(public), bytes.fromhex(signature), bytes.fromhex(message))])


def test_key_id_is_sha256_of_the_raw_public_key() -> None:
    key = SigningKey.from_seed(SEED)
    want = hashlib.sha256(key.public.raw).digest()
    assert key_id(key.public.raw) == key.key_id == key.public.key_id == want
    for bad in (b"", bytes(31), bytes(33), bytearray(32), "00" * 32):
        with pytest.raises(UsageError, match="32 raw bytes"):
            key_id(bad)  # type: ignore[arg-type]


def test_seeds_and_raw_keys_have_exact_lengths() -> None:
    for bad in (b"", bytes(31), bytes(33), "x" * 32):
        with pytest.raises(KeyFormatError, match="seed is exactly 32 bytes"):
            SigningKey.from_seed(bad)  # type: ignore[arg-type]
        with pytest.raises(KeyFormatError, match="public key is exactly 32 raw bytes"):
            VerifyKey(bad)  # type: ignore[arg-type]
    assert SigningKey.from_seed(bytearray(SEED)).seed() == SEED
    with pytest.raises(UsageError, match="Ed25519PrivateKey"):
        SigningKey(object())  # type: ignore[arg-type]


def test_generated_keys_differ_and_sign_deterministically() -> None:
    a, b = SigningKey.generate(), SigningKey.generate()
    assert a.public != b.public
    assert a.sign(b"m") == a.sign(b"m") != b.sign(b"m")


# ------------------------------------------------------------------ verification


def test_verify_accepts_the_message_in_every_bytes_form(backend: str) -> None:
    key = SigningKey.from_seed(SEED)
    sig = key.sign(b"message")
    for form in (b"message", bytearray(b"message"), memoryview(b"message")):
        key.public.verify(sig, form)


def test_verify_refuses_with_signature_error(backend: str) -> None:
    key = SigningKey.from_seed(SEED)
    sig = key.sign(b"message")
    with pytest.raises(SignatureError, match="does not verify for key"):
        key.public.verify(sig, b"other message")
    flipped = bytes([sig[0] ^ 1]) + sig[1:]
    with pytest.raises(SignatureError):
        key.public.verify(flipped, b"message")
    with pytest.raises(SignatureError, match="exactly 64 bytes"):
        key.public.verify(sig[:63], b"message")
    with pytest.raises(SignatureError, match="exactly 64 bytes"):
        key.public.verify(bytearray(sig), b"message")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="must be bytes"):
        key.public.verify(sig, "message")  # type: ignore[arg-type]
    other = SigningKey.from_seed(bytes(32))
    with pytest.raises(SignatureError, match=other.key_id.hex()[:16]):
        other.public.verify(sig, b"message")


def test_the_strict_rule_refuses_a_non_canonical_s(backend: str) -> None:
    # S + L verifies under a lax implementation (the equation holds mod L); the strict rule
    # (format.md §2.3) requires S < L, whichever backend checks it
    key = SigningKey.from_seed(SEED)
    sig = key.sign(b"message")
    s = int.from_bytes(sig[32:], "little") + GROUP_ORDER
    assert s < 2**256
    malleated = sig[:32] + s.to_bytes(32, "little")
    with pytest.raises(SignatureError, match="is rejected"):
        key.public.verify(malleated, b"message")
    assert verify_many([(key.public.raw, malleated, b"message")]) == [False]


def test_the_strict_rule_refuses_a_small_order_public_key(backend: str) -> None:
    identity = (1).to_bytes(32, "little")  # the neutral point: every signature would "verify"
    sig = bytes(64)  # R encodes y = 0, a point of order 4; S = 0
    with pytest.raises(SignatureError, match="is rejected"):
        VerifyKey(identity).verify(identity + bytes(32), b"anything")
    assert verify_many([(identity, identity + bytes(32), b"anything"), (identity, sig, b"")]) == [
        False,
        False,
    ]


def test_verify_many_answers_per_item_and_refuses_wrong_types(backend: str) -> None:
    a, b = SigningKey.from_seed(SEED), SigningKey.from_seed(bytes(32))
    items = [
        (a.public.raw, a.sign(b"1"), b"1"),
        (a.public.raw, a.sign(b"1"), b"2"),
        (b.public.raw, b.sign(b""), b""),
        (b.public.raw[:31], b.sign(b""), b""),  # malformed key: False, no exception
        (a.public.raw, a.sign(b"1")[:63], b"1"),  # malformed signature: False
    ]
    assert verify_many(items) == [True, False, True, False, False]
    assert verify_many([]) == []
    for bad in ([(a.public.raw, a.sign(b"1"), "1")], [1], [(a.public.raw, b"")], None):
        with pytest.raises(UsageError, match="verify_many takes"):
            verify_many(bad)  # type: ignore[arg-type]


def test_both_backends_give_the_same_answers() -> None:
    key = SigningKey.from_seed(SEED)
    sig = key.sign(b"m")
    s = int.from_bytes(sig[32:], "little") + GROUP_ORDER
    items = [
        (key.public.raw, sig, b"m"),
        (key.public.raw, sig, b"n"),
        (key.public.raw, sig[:32] + s.to_bytes(32, "little"), b"m"),
        ((1).to_bytes(32, "little"), (1).to_bytes(32, "little") + bytes(32), b"m"),
    ]
    before = keys.verify_backend()
    try:
        answers = {}
        for name in keys.available_verify_backends():
            assert keys.set_verify_backend(name) == name == keys.verify_backend()
            answers[name] = verify_many(items)
    finally:
        keys.set_verify_backend(before)
    assert len(set(map(tuple, answers.values()))) == 1, answers
    assert next(iter(answers.values())) == [True, False, False, False]


# ------------------------------------------------------------------ choosing the backend


def test_backend_names_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    before = keys.verify_backend()
    try:
        with pytest.raises(UsageError, match=r"unknown Ed25519 backend 'rot13'; choose one of"):
            keys.set_verify_backend("rot13")
        with pytest.raises(UsageError, match="must be a str or None"):
            keys.set_verify_backend(1)  # type: ignore[arg-type]
        monkeypatch.setenv(keys.BACKEND_ENV, "cryptography")
        assert keys.set_verify_backend(None) == "cryptography"
        assert keys.set_verify_backend("auto") == "cryptography"
        monkeypatch.setenv(keys.BACKEND_ENV, "bogus")
        with pytest.raises(UsageError, match=keys.BACKEND_ENV):
            keys.set_verify_backend(None)
        monkeypatch.delenv(keys.BACKEND_ENV)
        assert keys.set_verify_backend(None) == keys.available_verify_backends()[0]
        assert keys.set_verify_backend(" Cryptography ") == "cryptography"
    finally:
        keys.set_verify_backend(before)
    assert keys.available_verify_backends()[-1] == "cryptography"


# ------------------------------------------------------------------ backend objects


class CountingBackend(keys.Ed25519Backend):
    """A backend that counts the signatures it was asked about (to see which one a call used)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.asked = 0

    def verify(self, public_key: bytes, signature: bytes, message: bytes) -> bool:
        self.asked += 1
        return super().verify(public_key, signature, message)

    def verify_many(self, items: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
        self.asked += len(items)
        return super().verify_many(items)


def _signed_entry_bytes() -> bytes:
    return Author(SigningKey.from_seed(SEED), "example.org/backend").sign("t", {}, time=1).data


@pytest.mark.parametrize("name", keys.available_verify_backends())
def test_an_explicit_backend_object_is_the_one_used(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    default, explicit = CountingBackend("cryptography"), CountingBackend(name)
    monkeypatch.setattr(keys._Default, "backend", default)
    key = SigningKey.from_seed(SEED)
    data = _signed_entry_bytes()
    plain = Entry.from_bytes(data, verify=False)
    assert keys.backend() is default and keys.verify_backend() == "cryptography"

    assert verify_many([(key.public.raw, key.sign(b"m"), b"m")], backend=explicit) == [True]
    key.public.verify(key.sign(b"m"), b"m", backend=explicit)
    with pytest.raises(SignatureError, match="does not verify"):
        key.public.verify(key.sign(b"m"), b"n", backend=explicit)
    assert type(Entry.from_bytes(data, backend=explicit)) is VerifiedEntry
    assert type(plain.verify(backend=explicit)) is VerifiedEntry
    assert (explicit.asked, default.asked) == (5, 0)

    # given none, every call uses the process default
    assert verify_many([(key.public.raw, key.sign(b"m"), b"m")]) == [True]
    key.public.verify(key.sign(b"m"), b"m")
    Entry.from_bytes(data)
    plain.verify()
    assert (explicit.asked, default.asked) == (5, 4)


def test_backend_objects_give_identical_answers_to_each_other_and_the_default() -> None:
    a, b = SigningKey.from_seed(SEED), SigningKey.from_seed(bytes(32))
    sig = a.sign(b"m")
    malleated = sig[:32] + (int.from_bytes(sig[32:], "little") + GROUP_ORDER).to_bytes(32, "little")
    small = (1).to_bytes(32, "little")
    items = [
        (a.public.raw, sig, b"m"),
        (a.public.raw, sig, b"n"),
        (b.public.raw, sig, b"m"),
        (a.public.raw, malleated, b"m"),
        (small, small + bytes(32), b"m"),
        (a.public.raw[:31], sig, b"m"),
    ]
    expected = [True, False, False, False, False, False]
    assert verify_many(items) == expected
    for name in keys.available_verify_backends():
        chosen = keys.backend(name)
        assert isinstance(chosen, keys.Ed25519Backend) and chosen.name == name
        assert chosen.verify_many(items) == expected
        assert verify_many(items, backend=chosen) == expected
        assert [chosen.verify(*item) for item in items] == expected
        data = _signed_entry_bytes()
        assert Entry.from_bytes(data, backend=chosen) == Entry.from_bytes(data)
        tampered = data[:-1] + bytes([data[-1] ^ 1])
        for via in (chosen, None):
            with pytest.raises(ElectlogError):
                Entry.from_bytes(tampered, backend=via)
    assert keys.backend("auto").name == keys.available_verify_backends()[0]
    assert keys.backend() is keys.backend(None)  # the process default, one object


def test_bad_backend_values_raise_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    key = SigningKey.from_seed(SEED)
    data = _signed_entry_bytes()
    verified = Entry.from_bytes(data)
    for bad in ("nacl", 3, object(), keys.Ed25519Backend):
        with pytest.raises(UsageError, match="backend= takes an Ed25519Backend"):
            verify_many([], backend=bad)  # type: ignore[arg-type]
        with pytest.raises(UsageError, match="backend= takes an Ed25519Backend"):
            key.public.verify(key.sign(b"m"), b"m", backend=bad)  # type: ignore[arg-type]
        with pytest.raises(UsageError, match="backend= takes an Ed25519Backend"):
            Entry.from_bytes(data, backend=bad)  # type: ignore[arg-type]
        with pytest.raises(UsageError, match="backend= takes an Ed25519Backend"):
            verified.verify(backend=bad)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=r"unknown Ed25519 backend 'rot13'; choose one of"):
        keys.backend("rot13")
    with pytest.raises(UsageError, match="unknown Ed25519 backend"):
        keys.Ed25519Backend("openssl")
    with pytest.raises(UsageError, match="is a str"):
        keys.backend(3)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="is a str"):
        keys.Ed25519Backend(None)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="takes a public key, a signature and a message"):
        keys.backend("cryptography").verify(key.public.raw, key.sign(b"m"), "m")  # type: ignore[arg-type]
    monkeypatch.setattr(keys._ed25519, "_nacl_sign_open", None)
    with pytest.raises(UsageError, match="needs PyNaCl"):
        keys.backend("nacl")


def test_a_backend_owns_its_bounded_key_memo_and_pickles_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signers = [SigningKey.from_seed(bytes([i]) * 32) for i in range(1, 4)]
    first, second = keys.backend("cryptography"), keys.backend("cryptography")
    assert first is not second
    signer = signers[0]
    assert first.verify(signer.public.raw, signer.sign(b"m"), b"m")
    assert (len(first._strict_keys), len(second._strict_keys)) == (1, 0)
    monkeypatch.setattr(keys, "KEY_MEMO_SIZE", 2)
    items = [(s.public.raw, s.sign(b"m"), b"m") for s in signers]
    for _ in range(3):
        assert second.verify_many(items) == [True, True, True]
        assert len(second._strict_keys) <= 2
    for made in keys.available_verify_backends():
        again = pickle.loads(pickle.dumps(keys.backend(made)))
        assert isinstance(again, keys.Ed25519Backend) and again.name == made
        assert len(again._strict_keys) == 0  # a new object: its own, empty memo
        assert repr(again) == f"Ed25519Backend({made!r})"


def test_statement_text_memos_are_bounded_and_owned_by_their_objects() -> None:
    rule = events._TextRule()
    rule.passed.limit = 2
    for text in ("a.example/log", "b.example/log", "c.example/log"):
        assert rule(text, "log", 255) == text
        assert rule(text, "log", 255) == text
    assert list(rule.passed) == [("a.example/log", "log", 255), ("b.example/log", "log", 255)]
    with pytest.raises(EntryError, match="white space"):
        rule("bad text", "log", 255)
    assert ("bad text", "log", 255) not in rule.passed
    assert events._check_text.passed is not rule.passed
    packer = events._TextPacker()
    packer.packed.limit = 1
    assert packer("voter.register") == b"\xaevoter.register"
    assert packer("ballot") == b"\xa6ballot"
    assert dict(packer.packed) == {"voter.register": b"\xaevoter.register"}


# ------------------------------------------------------------------ text, PEM and files


def test_public_key_text_round_trips_and_refuses_bad_forms() -> None:
    public = SigningKey.from_seed(SEED).public
    text = public.to_text()
    assert text.startswith(keys.PUBLIC_TEXT_PREFIX)
    assert VerifyKey.from_text(text) == public
    assert VerifyKey.from_text(f"  {text}\n") == public
    assert hash(VerifyKey.from_text(text)) == hash(public)
    assert repr(public) == f"VerifyKey({text!r})"
    for bad, why in (
        ("ed25519:AAAA", "starts with"),
        (text.replace(keys.PUBLIC_TEXT_PREFIX, ""), "starts with"),
        (keys.PUBLIC_TEXT_PREFIX + "not*base64", "not valid base64"),
        (keys.PUBLIC_TEXT_PREFIX + "AAAA", "exactly 32 raw bytes"),
    ):
        with pytest.raises(KeyFormatError, match=why):
            VerifyKey.from_text(bad)
    with pytest.raises(KeyFormatError):
        VerifyKey.from_text(None)  # type: ignore[arg-type]
    assert public != text and public != SigningKey.from_seed(bytes(32)).public


def test_pem_round_trip_and_refusals_that_never_echo_the_input() -> None:
    key = SigningKey.from_seed(SEED)
    pem = key.to_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert SigningKey.from_pem(pem).seed() == SEED
    secret_marker = b"SECRET-" + SEED.hex().encode()
    with pytest.raises(KeyFormatError) as caught:
        SigningKey.from_pem(b"-----BEGIN PRIVATE KEY-----\n" + secret_marker + b"\n")
    assert SEED.hex() not in str(caught.value)
    ed448 = Ed448PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(KeyFormatError, match="not an Ed25519 key"):
        SigningKey.from_pem(ed448)


def test_private_material_never_shows() -> None:
    key = SigningKey.from_seed(SEED)
    shown = [repr(key), str(key), f"{key}", repr([key])]
    for text in shown:
        assert SEED.hex() not in text and "PRIVATE" not in text
        assert key.key_id.hex()[:16] in text


def test_keys_pickle_for_worker_processes() -> None:
    import pickle

    key = SigningKey.from_seed(SEED)
    again = pickle.loads(pickle.dumps(key))
    assert again.seed() == SEED and again.public == key.public
    assert pickle.loads(pickle.dumps(key.public)) == key.public


def test_key_files_are_0600_never_overwritten_and_load_back(tmp_path: Path) -> None:
    key = SigningKey.from_seed(SEED)
    path = tmp_path / "author.pem"
    key.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert SigningKey.load(path).seed() == SEED
    with pytest.raises(StorageError, match="refusing to overwrite"):
        SigningKey.from_seed(bytes(32)).save(path)
    assert SigningKey.load(path).seed() == SEED  # the first key is still there
    with pytest.raises(StorageError, match="cannot read key file"):
        SigningKey.load(tmp_path / "missing.pem")
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"not a key")
    with pytest.raises(KeyFormatError, match=r"junk\.pem: not an unencrypted PKCS#8 PEM"):
        SigningKey.load(junk)


def test_write_secret_file_errors_never_echo_the_data(tmp_path: Path) -> None:
    secret = b"top-secret-" + SEED.hex().encode()
    target = tmp_path / "s"
    write_secret_file(target, secret)
    assert target.read_bytes() == secret
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    for path in (target, tmp_path / "no" / "such" / "dir" / "s"):
        with pytest.raises(StorageError) as caught:
            write_secret_file(path, secret)
        assert secret.decode() not in str(caught.value)
        assert isinstance(caught.value, ElectlogError)
