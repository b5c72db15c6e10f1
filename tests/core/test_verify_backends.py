"""Ed25519 verification backends (OpenSSL via cryptography, libsodium via PyNaCl) give identical
results: RFC 8032 §7.1 and Wycheproof-style vectors, every bit flip, wrong key and message,
S >= L malleability, and a generated corpus of small-order, mixed-order and non-canonical points
whose expected verdict comes from an algebraic reference of the strict rule written here."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from electlog import _ed25519 as ed
from electlog import codec
from electlog.errors import SignatureError, UsageError
from electlog.events import Author, Entry
from electlog.keys import (
    BACKEND_ENV,
    SigningKey,
    VerifyKey,
    available_verify_backends,
    set_verify_backend,
    verify_backend,
    verify_many,
)
from electlog.keys import backend as backend_object

L = ed.GROUP_ORDER
P = ed.P
HAVE_NACL = "nacl" in available_verify_backends()
ALL_BACKENDS = [
    "cryptography",
    pytest.param(
        "nacl",
        marks=pytest.mark.skipif(not HAVE_NACL, reason="PyNaCl not installed (electlog[fast])"),
    ),
]


@pytest.fixture(params=ALL_BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    before = verify_backend()
    set_verify_backend(request.param)
    try:
        yield request.param
    finally:
        set_verify_backend(before)


# --------------------------------------------------------------------------- reference


def _le(n: int) -> bytes:
    return n.to_bytes(32, "little")


def _k(r: bytes, a: bytes, m: bytes) -> int:
    return int.from_bytes(hashlib.sha512(r + a + m).digest(), "little") % L


def _is_identity(pt: ed.Point) -> bool:
    return ed.encode_point(pt) == _le(1)


def reference_verify(pub: bytes, sig: bytes, msg: bytes) -> bool:
    """The strict rule, algebraically: S < L; R decodes (canonically) to a point that is not of
    small order ([8]R != O); A decodes canonically, [8]A != O and [L]A = O; cofactorless
    equation compared as encodings."""
    if len(sig) != 64 or len(pub) != 32:
        return False
    s = int.from_bytes(sig[32:], "little")
    if s >= L:
        return False
    r_pt = ed.decode_point(sig[:32])
    if r_pt is None or _is_identity(ed.point_mul(8, r_pt)):
        return False
    a_pt = ed.decode_point(pub)
    if a_pt is None or _is_identity(ed.point_mul(8, a_pt)):
        return False
    if not _is_identity(ed.point_mul(L, a_pt)):
        return False
    k = _k(sig[:32], pub, msg)
    check = ed.point_add(ed.base_point_mul(s), ed.point_neg(ed.point_mul(k, a_pt)))
    return ed.encode_point(check) == sig[:32]


def _raw_openssl(pub: bytes, sig: bytes, msg: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(pub).verify(sig, msg)
    except InvalidSignature:
        return False
    return True


def _raw_nacl(pub: bytes, sig: bytes, msg: bytes) -> bool:
    import nacl.bindings
    import nacl.exceptions

    try:
        nacl.bindings.crypto_sign_open(sig + msg, pub)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
        return False
    return True


# --------------------------------------------------------------------------- known answers

# RFC 8032 §7.1: (secret seed, public key, message, signature). Signing from the seed must
# reproduce both the key and the signature, so a mistyped vector fails loudly.
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        b"",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        bytes.fromhex("72"),
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        bytes.fromhex("af82"),
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
        "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
    (  # TEST SHA(abc): the message is SHA-512("abc")
        "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        hashlib.sha512(b"abc").digest(),
        "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
        "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
    ),
]

# Wycheproof ed25519_test.json (Apache-2.0), group 1: valid signatures under one key.
WYCHEPROOF_PK = bytes.fromhex("7d4d0e7f6153a69b6242b522abbee685fda4420f8834b108c3bdae369ef549fa")
WYCHEPROOF_VALID = [
    (
        "",
        "d4fbdb52bfa726b44d1786a8c0d171c3e62ca83c9e5bbe63de0bb2483f8fd6cc"
        "1429ab72cafc41ab56af02ff8fcc43b99bfe4c7ae940f60f38ebaa9d311c4007",
    ),
    (
        "78",
        "d80737358ede548acb173ef7e0399f83392fe8125b2ce877de7975d8b726ef5b"
        "1e76632280ee38afad12125ea44b961bf92f1178c9fa819d020869975bcbe109",
    ),
    (
        "54657374",
        "7c38e026f29e14aabd059a0f2db8b0cd783040609a8be684db12f82a27774ab0"
        "7a9155711ecfaf7f99f277bad0c6ae7e39d4eef676573336a5c51eb6f946b30d",
    ),
    (
        "48656c6c6f",
        "1c1ad976cbaae3b31dee07971cf92c928ce2091a85f5899f5e11ecec90fc9f8e"
        "93df18c5037ec9b29c07195ad284e63d548cd0a6fe358cc775bd6c1608d2c905",
    ),
    (
        "313233343030",
        "657c1492402ab5ce03e2c3a7f0384d051b9cf3570f1207fc78c1bcc98c281c2b"
        "f0cf5b3a289976458a1be6277a5055545253b45b07dcc1abd96c8b989c00f301",
    ),
    (
        "000000000000000000000000",
        "d46543bfb892f84ec124dcdfc847034c19363bf3fc2fa89b1267833a14856e52"
        "e60736918783f950b6f1dd8d40dc343247cd43ce054c2d68ef974f7ed0f3c60f",
    ),
    (
        "ffffffffffffffffffffffffffffffff",
        "5dbd7360e55aa38e855d6ad48c34bd35b7871628508906861a7c4776765ed7d1"
        "e13d910faabd689ec8618b78295c8ab8f0e19c8b4b43eb8685778499e943ae04",
    ),
]

# Wycheproof group 2 ("special values for r and s", message 3f): every R in {0, 1, L, p} with
# every S in {0, 1, L - 1, L, p}; all invalid.
WYCHEPROOF_SPECIAL = [_le(r) + _le(s) for r in (0, 1, L, P) for s in (0, 1, L - 1, L, P)]

# C2SP CCTV ed25519vectors.json: low-order and mixed-order points. Vector 7 is accepted by
# OpenSSL and libsodium's cofactorless check (its mixed-order A and R cancel out) but not by the
# strict rule; the others involve low-order or non-canonical points.
MIXED_A = "10eb7c3acfb2bed3e0d6ab89bf5a3d6afddd1176ce4812e38d9fd485058fdb1f"
CCTV = [
    ("0" * 64, "0" * 128, b"ed25519vectors 3"),
    (
        MIXED_A,
        "0" * 64 + "9472a69cd9a701a50d130ed52189e2455b23767db52cacb8716fb896ffeeac09",
        b"ed25519vectors 3",
    ),
    (
        MIXED_A,
        "36684ea91032ba5b1dbab2d02f4debc74c3327f2b3802e2e4d371aa42b12b56b"
        "bbfd00bd9c259d8d222d15e67a3d8228585050dbb9b9585be20d8fadc721da03",
        b"ed25519vectors",
    ),
    (
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "36684ea91032ba5b1dbab2d02f4debc74c3327f2b3802e2e4d371aa42b12b56b"
        "05ba9a796274d80437afa36f1236563f2f3b0aa84cecddc3d20914615ba4fe02",
        b"ed25519vectors",
    ),
    (
        "0" * 64,
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f" + "0" * 64,
        b"ed25519vectors 10",
    ),
]


def test_rfc8032_vectors_sign_and_verify(backend: str) -> None:
    for seed, pub, msg, sig in RFC8032:
        key = SigningKey.from_seed(bytes.fromhex(seed))
        assert key.public.raw.hex() == pub
        assert key.sign(msg).hex() == sig
        assert ed.encode_point(ed.base_point_mul(_clamped(bytes.fromhex(seed)))).hex() == pub
        key.public.verify(bytes.fromhex(sig), msg)
        assert verify_many([(bytes.fromhex(pub), bytes.fromhex(sig), msg)]) == [True]
        assert reference_verify(bytes.fromhex(pub), bytes.fromhex(sig), msg)


def _clamped(seed: bytes) -> int:
    h = bytearray(hashlib.sha512(seed).digest()[:32])
    h[0] &= 248
    h[31] &= 127
    h[31] |= 64
    return int.from_bytes(h, "little")


def test_wycheproof_valid_and_special_values(backend: str) -> None:
    items = [(WYCHEPROOF_PK, bytes.fromhex(sig), bytes.fromhex(m)) for m, sig in WYCHEPROOF_VALID]
    assert verify_many(items) == [True] * len(items)
    special = [(WYCHEPROOF_PK, sig, b"\x3f") for sig in WYCHEPROOF_SPECIAL]
    assert len(special) == 20
    assert verify_many(special) == [False] * 20
    for _, sig, msg in special:
        with pytest.raises(SignatureError):
            VerifyKey(WYCHEPROOF_PK).verify(sig, msg)


def test_cctv_edge_vectors_rejected(backend: str) -> None:
    items = [(bytes.fromhex(k), bytes.fromhex(s), m) for k, s, m in CCTV]
    assert verify_many(items) == [False] * len(items)
    assert [reference_verify(*it) for it in items] == [False] * len(items)


def test_cctv_mixed_order_vector_is_what_the_strict_rule_adds() -> None:
    # The raw libraries accept it (cofactorless equation holds); the strict rule does not.
    pub, sig, msg = (bytes.fromhex(CCTV[2][0]), bytes.fromhex(CCTV[2][1]), CCTV[2][2])
    assert _raw_openssl(pub, sig, msg)
    if HAVE_NACL:
        assert _raw_nacl(pub, sig, msg)
    assert not ed.is_strict_public_key(pub)
    assert verify_many([(pub, sig, msg)]) == [False]


# --------------------------------------------------------------------------- mutations


KEY = SigningKey.from_seed(bytes(range(32)))
OTHER = SigningKey.from_seed(bytes(range(1, 33)))
MSG = b"electlog/v1/event\x00" + b"ballot box 7 opened" * 3


def test_a_batch_remembers_each_keys_rule_4_answer_per_key(backend: str) -> None:
    """One batch with the mixed-order key (which the raw libraries accept) and a valid key,
    each many times and interleaved: every item gets its own key's answer, whichever came
    first in the batch."""
    pub, sig, msg = (bytes.fromhex(CCTV[2][0]), bytes.fromhex(CCTV[2][1]), CCTV[2][2])
    good = (KEY.public.raw, KEY.sign(MSG), MSG)
    for first in ((pub, sig, msg), good):
        items = [first, good, (pub, sig, msg)] * 5
        assert verify_many(items) == [item is good for item in items]


def test_every_bit_flip_of_a_signature_is_rejected(backend: str) -> None:
    sig = KEY.sign(MSG)
    pub = KEY.public.raw
    flipped = []
    for bit in range(512):
        b = bytearray(sig)
        b[bit // 8] ^= 1 << (bit % 8)
        flipped.append((pub, bytes(b), MSG))
    assert verify_many(flipped) == [False] * 512
    for _, s, m in flipped[::37]:
        with pytest.raises(SignatureError):
            KEY.public.verify(s, m)
    KEY.public.verify(sig, MSG)


def test_wrong_key_wrong_message_wrong_lengths(backend: str) -> None:
    sig = KEY.sign(MSG)
    assert verify_many(
        [
            (KEY.public.raw, sig, MSG),
            (OTHER.public.raw, sig, MSG),
            (KEY.public.raw, sig, MSG + b"\x00"),
            (KEY.public.raw, sig, MSG[:-1]),
            (KEY.public.raw, sig[:63], MSG),
            (KEY.public.raw, sig + b"\x00", MSG),
            (KEY.public.raw[:31], sig, MSG),
            (b"", sig, MSG),
        ]
    ) == [True, False, False, False, False, False, False, False]
    with pytest.raises(SignatureError, match="does not verify"):
        OTHER.public.verify(sig, MSG)
    with pytest.raises(SignatureError, match="does not verify"):
        KEY.public.verify(sig, MSG + b"!")
    with pytest.raises(SignatureError, match="64 bytes"):
        KEY.public.verify(sig[:63], MSG)


def test_s_plus_l_malleability_rejected(backend: str) -> None:
    for i in range(16):
        msg = MSG + bytes([i])
        sig = KEY.sign(msg)
        s = int.from_bytes(sig[32:], "little")
        assert s < L
        malleated = sig[:32] + _le(s + L)  # s + L < 2**253 always fits
        assert verify_many([(KEY.public.raw, malleated, msg)]) == [False]
        with pytest.raises(SignatureError, match="group order"):
            KEY.public.verify(malleated, msg)
    # the raw libraries agree on this one; the explicit check keeps it so
    assert not _raw_openssl(KEY.public.raw, malleated, msg)


def test_verify_key_accepts_bytes_like_messages_and_rejects_other_types(backend: str) -> None:
    sig = KEY.sign(MSG)
    KEY.public.verify(sig, bytearray(MSG))
    KEY.public.verify(sig, memoryview(MSG))
    with pytest.raises(UsageError):
        KEY.public.verify(sig, "text")  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        verify_many([(KEY.public.raw, sig, "text")])  # type: ignore[list-item]


def test_entries_verify_under_each_backend(backend: str) -> None:
    author = Author(KEY, "example.org/backends")
    entry = author.sign("test.event", {"n": 1}, time=1_700_000_000_000_000)
    assert Entry.from_bytes(entry.data).leaf_hash == entry.leaf_hash
    bad_sig = bytearray(entry.signature)
    bad_sig[5] ^= 0x10
    forged = codec.encode(
        {"key": entry.public_key, "sig": bytes(bad_sig), "stmt": entry.statement_bytes}
    )
    with pytest.raises(SignatureError):
        Entry.from_bytes(forged)
    malleated = entry.signature[:32] + _le(int.from_bytes(entry.signature[32:], "little") + L)
    forged = codec.encode(
        {"key": entry.public_key, "sig": malleated, "stmt": entry.statement_bytes}
    )
    with pytest.raises(SignatureError):
        Entry.from_bytes(forged)


# --------------------------------------------------------------------------- generated corpus


def _torsion() -> list[ed.Point]:
    t8 = ed._torsion_point()
    return [ed.point_mul(i, t8) for i in range(8)]


def _corpus() -> list[tuple[bytes, bytes, bytes, str]]:
    """(pub, sig, msg, label): every combination of A in {prime, prime + each torsion point,
    each small-order point, non-canonical encodings} with R in {prime, prime + torsion, each
    small-order encoding, non-canonical} and S = r + k*a (and S + L), for several messages."""
    torsion = _torsion()
    out: list[tuple[bytes, bytes, bytes, str]] = []
    a = _clamped(b"corpus key".ljust(32, b"\x00")) % L
    prime_a = ed.base_point_mul(a)
    a_cases: list[tuple[str, bytes, int]] = [("prime A", ed.encode_point(prime_a), a)]
    for i in range(1, 8):
        a_cases.append((f"mixed A (+T{i})", ed.encode_point(ed.point_add(prime_a, torsion[i])), a))
    for enc in sorted(ed.small_order_encodings()):
        a_cases.append((f"small-order A {enc.hex()[:8]}", enc, 0))
    # non-canonical encodings (y >= p) of points that are on the curve but not of small order
    for y in range(2, 19):
        for sign in (0, 1):
            if ed._recover_x(y, sign) is not None:
                enc = _le((y + P) | (sign << 255))
                a_cases.append((f"non-canonical A y={y}+p", enc, a))
                break
    a_cases.append(("A off the curve", _le(2), a))
    for m in range(3):
        msg = b"corpus message %d" % m
        r = _clamped(msg.ljust(32, b"\x01")) % L
        prime_r = ed.base_point_mul(r)
        r_cases: list[tuple[str, bytes]] = [("prime R", ed.encode_point(prime_r))]
        for i in range(1, 8):
            r_cases.append((f"mixed R (+T{i})", ed.encode_point(ed.point_add(prime_r, torsion[i]))))
        for enc in sorted(ed.small_order_encodings()):
            r_cases.append((f"small-order R {enc.hex()[:8]}", enc))
        r_cases.append(("non-canonical R", _le(P + 3)))
        for a_label, a_enc, a_scalar in a_cases:
            for r_label, r_enc in r_cases:
                k = _k(r_enc, a_enc, msg)
                r_scalar = r if "prime" in r_label or "mixed" in r_label else 0
                s = (r_scalar + k * a_scalar) % L
                for s_val, s_label in ((s, "S"), (s + L, "S+L")):
                    if s_val < 1 << 256:
                        out.append(
                            (a_enc, r_enc + _le(s_val), msg, f"{a_label} / {r_label} / {s_label}")
                        )
    # cofactorless-valid signatures for mixed-order keys: h*T cancels when 8 | k
    for i in range(64):
        msg = b"mixed cancel %d" % i
        a_enc = ed.encode_point(ed.point_add(prime_a, torsion[1]))
        r = _clamped(msg.ljust(32, b"\x02")) % L
        r_enc = ed.encode_point(ed.base_point_mul(r))
        k = _k(r_enc, a_enc, msg)
        if k % 8 == 0:
            out.append((a_enc, r_enc + _le((r + k * a) % L), msg, "mixed A, torsion cancels"))
    return out


CORPUS = _corpus()


def test_corpus_covers_the_disagreements() -> None:
    """The corpus must contain what makes raw OpenSSL and raw libsodium disagree, and both
    valid and invalid strict verdicts; otherwise the agreement test below proves little."""
    expected = [reference_verify(p, s, m) for p, s, m, _ in CORPUS]
    assert sum(expected) >= 3
    assert len(expected) - sum(expected) > 1000
    raw_ossl = [_raw_openssl(p, s, m) for p, s, m, _ in CORPUS]
    # OpenSSL alone accepts signatures the strict rule rejects (small-order / mixed points)
    assert sum(o and not e for o, e in zip(raw_ossl, expected, strict=True)) > 10
    if HAVE_NACL:
        raw_sodium = [_raw_nacl(p, s, m) for p, s, m, _ in CORPUS]
        assert any(o != n for o, n in zip(raw_ossl, raw_sodium, strict=True))
        # and libsodium alone accepts some the strict rule rejects (mixed-order keys)
        assert any(n and not e for n, e in zip(raw_sodium, expected, strict=True))


@pytest.mark.skipif(not HAVE_NACL, reason="PyNaCl not installed")
def test_the_direct_sodium_call_agrees_with_pynacls_wrapper() -> None:
    """The audit's route to libsodium (the cffi function with NULL output pointers, no copy
    of the message) gives PyNaCl's wrapper's verdict for every corpus item, without the
    strict prechecks in front (so the raw edge cases reach the C call too), and leaves its
    inputs as they were."""
    direct = ed.sodium_open_direct()
    assert direct is not None
    sign_open, null = direct
    assert {(len(p), len(s)) for p, s, _, _ in CORPUS} == {(32, 64)}  # what the C call reads
    for p, s, m, label in CORPUS:
        signed = s + m
        before = bytes(signed)
        got = sign_open(null, null, signed, len(signed), p) == 0
        assert got == _raw_nacl(p, s, m), label
        assert signed == before
        assert ed.nacl_verify_one(p, s, m) == got, label


def test_corpus_both_backends_agree_with_the_reference(backend: str) -> None:
    items = [(p, s, m) for p, s, m, _ in CORPUS]
    got = verify_many(items)
    for (p, s, m, label), g in zip(CORPUS, got, strict=True):
        want = reference_verify(p, s, m)
        assert g == want, f"{backend}: {label}: got {g}, strict rule says {want}"
        if not want:
            continue
        VerifyKey(p).verify(s, m)
    # single-item path agrees with the bulk path
    for p, s, m, label in CORPUS[::23]:
        try:
            VerifyKey(p).verify(s, m)
            single = True
        except SignatureError:
            single = False
        assert single == reference_verify(p, s, m), label


def test_random_signatures_agree(backend: str) -> None:
    rng = [os.urandom(32) for _ in range(8)]
    signers = [SigningKey.from_seed(s) for s in rng]
    items = []
    for i, sk in enumerate(signers):
        msg = os.urandom(i * 50)
        sig = sk.sign(msg)
        items.append((sk.public.raw, sig, msg))
        items.append((signers[(i + 1) % 8].public.raw, sig, msg))
        items.append((os.urandom(32), sig, msg))
        items.append((sk.public.raw, os.urandom(64), msg))
    got = verify_many(items)
    assert got == [reference_verify(*it) for it in items]
    assert got[0::4] == [True] * 8


def test_strict_key_check_pure_python_equals_libsodium() -> None:
    if not HAVE_NACL:
        pytest.skip("PyNaCl not installed: only the pure-Python key check exists")
    torsion = _torsion()
    candidates = [p for p, _, _, _ in CORPUS[::7]] + [os.urandom(32) for _ in range(40)]
    candidates += [ed.encode_point(ed.point_add(ed.base_point_mul(7), t)) for t in torsion]
    candidates += list(ed.small_order_encodings())
    for raw in candidates:
        assert ed.is_strict_public_key(raw, use_nacl=False) == ed.is_strict_public_key(
            raw, use_nacl=True
        ), raw.hex()
    assert ed.is_strict_public_key(KEY.public.raw, use_nacl=False)


# --------------------------------------------------------------------------- selection


def test_backend_selection_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    before = verify_backend()
    try:
        assert set_verify_backend("cryptography") == "cryptography"
        assert verify_backend() == "cryptography"
        monkeypatch.setenv(BACKEND_ENV, "cryptography")
        assert set_verify_backend(None) == "cryptography"
        monkeypatch.setenv(BACKEND_ENV, "auto")
        assert set_verify_backend("auto") == available_verify_backends()[0]
        monkeypatch.setenv(BACKEND_ENV, "openssl3")
        with pytest.raises(UsageError, match=BACKEND_ENV):
            set_verify_backend(None)
        with pytest.raises(UsageError, match="unknown Ed25519 backend"):
            set_verify_backend("fastest")
        with pytest.raises(UsageError):
            set_verify_backend(3)  # type: ignore[arg-type]
        if HAVE_NACL:
            monkeypatch.setenv(BACKEND_ENV, "nacl")
            assert set_verify_backend(None) == "nacl"
            monkeypatch.delenv(BACKEND_ENV)
            assert set_verify_backend(None) == "nacl"  # auto prefers the faster backend
    finally:
        monkeypatch.delenv(BACKEND_ENV, raising=False)
        set_verify_backend(before)


def test_without_pynacl_falls_back_to_cryptography(monkeypatch: pytest.MonkeyPatch) -> None:
    before = verify_backend()
    monkeypatch.setattr(ed, "_nacl_sign_open", None)
    monkeypatch.setattr(ed, "_valid_point", None)
    try:
        assert available_verify_backends() == ("cryptography",)
        assert set_verify_backend(None) == "cryptography"
        # a new default backend object: its own, empty key memo over OpenSSL's X25519 ladder
        assert ed.strict_key_check() is ed._strict_key_ladder
        assert backend_object()._strict_keys._check is ed._strict_key_ladder
        with pytest.raises(UsageError, match="PyNaCl"):
            set_verify_backend("nacl")
        items = [(p, s, m) for p, s, m, _ in CORPUS[::5]]
        assert verify_many(items) == [reference_verify(*it) for it in items]
    finally:
        monkeypatch.undo()
        set_verify_backend(before)


def test_environment_variable_chooses_the_backend_in_a_new_process() -> None:
    code = (
        "from electlog.keys import verify_backend, SigningKey;"
        "k = SigningKey.from_seed(bytes(32)); k.public.verify(k.sign(b'x'), b'x');"
        "print(verify_backend())"
    )
    for name in ["cryptography", *(["nacl"] if HAVE_NACL else [])]:
        env = dict(os.environ, **{BACKEND_ENV: name})
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == name


def test_strict_key_check_without_pynacl_equals_the_definition() -> None:
    # The check used without PyNaCl (OpenSSL's X25519 ladder) against [L]A = O computed in
    # Python: prime-order keys, every torsion offset of several keys (mixed order), the small
    # order and non-canonical encodings, random bytes (half of them not on the curve).
    torsion = _torsion()
    candidates = [p for p, _, _, _ in CORPUS[::3]] + [os.urandom(32) for _ in range(60)]
    for seed in range(6):
        base = ed.base_point_mul(1000 + seed)
        candidates.append(ed.encode_point(base))
        candidates += [ed.encode_point(ed.point_add(base, t)) for t in torsion]
        # the same y with the other sign bit: the negated point
        neg = ed.encode_point(ed.point_neg(base))
        candidates += [neg, bytes([*neg[:31], neg[31] ^ 0x80])]
    candidates += list(ed.small_order_encodings())
    results = []
    for raw in candidates:
        expected = ed._strict_key_pure(raw)
        assert ed._strict_key_ladder(raw) == expected, raw.hex()
        assert ed.is_strict_public_key(raw, use_nacl=False) == expected, raw.hex()
        results.append(expected)
    assert True in results and False in results


# --------------------------------------------------------------------------- signing


def _openssl_sign(seed: bytes, message: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(seed).sign(message)


@pytest.mark.skipif(not HAVE_NACL, reason="PyNaCl not installed (electlog[fast])")
def test_libsodium_signatures_are_openssls_byte_for_byte_many_keys() -> None:
    """Ed25519 is deterministic: libsodium (what SigningKey.sign and the ChainSigner use with
    PyNaCl) and OpenSSL give the same 64 bytes, for 300 keys and messages of 0..1000 bytes."""
    import nacl.signing

    for i in range(300):
        seed = hashlib.sha256(b"sign seed %d" % i).digest()
        message = hashlib.shake_256(b"message %d" % i).digest(i * 37 % 1001)
        expected = _openssl_sign(seed, message)
        sodium = ed.sodium_signer(seed)
        assert sodium is not None
        assert sodium(message) == expected
        assert SigningKey.from_seed(seed).sign(message) == expected
        assert nacl.signing.SigningKey(seed).sign(message).signature == expected


@pytest.mark.skipif(not HAVE_NACL, reason="PyNaCl not installed (electlog[fast])")
@settings(max_examples=300, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), message=st.binary(max_size=2048))
def test_libsodium_and_openssl_sign_the_same_bytes(seed: bytes, message: bytes) -> None:
    sodium = ed.sodium_signer(seed)
    assert sodium is not None
    signature = sodium(message)
    assert signature == _openssl_sign(seed, message)
    key = SigningKey.from_seed(seed)
    key.verify(signature, message)
    key.public.verify(signature, message)


def test_without_pynacl_signing_uses_openssl_and_gives_the_same_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ed, "_nacl_sign", None)
    monkeypatch.setattr(ed, "_nacl_base_noclamp", None)
    seed = b"\x05" * 32
    assert ed.sodium_signer(seed) is None
    key = SigningKey.from_seed(seed)
    assert ed.own_signature_checker(seed, key.public.raw) is None
    signature = key.sign(b"abc")
    assert signature == _openssl_sign(seed, b"abc")
    key.verify(signature, b"abc")  # falls back to the public check
    with pytest.raises(SignatureError):
        key.verify(signature, b"abd")


def _own_key_corpus(key: SigningKey) -> list[tuple[bytes, bytes, str]]:
    """(sig, msg, label) under ``key``: its real signatures, and S = r + k*a for R in {prime,
    prime + each torsion point, each small-order encoding, non-canonical}, with S and S + L."""
    a = ed.secret_scalar(key.seed())
    pub = key.public.raw
    torsion = _torsion()
    out: list[tuple[bytes, bytes, str]] = []
    for m in range(3):
        msg = b"own key corpus %d" % m
        out.append((key.sign(msg), msg, "real signature"))
        r = _clamped(msg.ljust(32, b"\x03")) % L
        prime_r = ed.base_point_mul(r)
        r_cases: list[tuple[str, bytes, int]] = [("prime R", ed.encode_point(prime_r), r)]
        for i in range(1, 8):
            mixed = ed.encode_point(ed.point_add(prime_r, torsion[i]))
            r_cases.append((f"mixed R (+T{i})", mixed, r))
        for enc in sorted(ed.small_order_encodings()):
            r_cases.append((f"small-order R {enc.hex()[:8]}", enc, 0))
        r_cases.append(("non-canonical R", _le(P + 3), 0))
        r_cases.append(("identity R, S = k*a", _le(1), 0))
        for label, r_enc, r_scalar in r_cases:
            s = (r_scalar + _k(r_enc, pub, msg) * a) % L
            for s_val, s_label in ((s, "S"), (s + L, "S+L")):
                if s_val < 1 << 256:
                    out.append((r_enc + _le(s_val), msg, f"{label} / {s_label}"))
    return out


@pytest.mark.skipif(not HAVE_NACL, reason="PyNaCl not installed (electlog[fast])")
@pytest.mark.parametrize("direct", [True, False], ids=["cffi-direct", "nacl-bindings"])
def test_the_private_key_check_is_the_strict_rule(
    backend: str, direct: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SigningKey.verify (the check with the secret scalar) accepts exactly what the public
    verification and the algebraic reference accept: real signatures, and none of the mixed,
    small-order, non-canonical R or S + L variants, nor any bit flip; whether libsodium's
    fixed-base multiplication is called through PyNaCl's cffi library directly or through
    its ``nacl.bindings`` wrapper."""
    if not direct:
        monkeypatch.setattr(ed, "_direct_base_noclamp", None)
    key = SigningKey.from_seed(hashlib.sha256(b"own key").digest())
    corpus = _own_key_corpus(key)
    accepted = 0
    for sig, msg, label in corpus:
        expected = reference_verify(key.public.raw, sig, msg)
        check = ed.own_signature_checker(key.seed(), key.public.raw)
        assert check is not None
        assert check(sig, msg) == expected, label
        for verify in (key.verify, key.public.verify):
            if expected:
                verify(sig, msg)
            else:
                with pytest.raises(SignatureError):
                    verify(sig, msg)
        accepted += expected
    assert accepted == 6  # the real signature and "prime R / S" for each of the 3 messages
    sig = key.sign(b"flip me")
    for bit in range(512):
        flipped = bytearray(sig)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(SignatureError):
            key.verify(bytes(flipped), b"flip me")
    with pytest.raises(SignatureError):
        key.verify(sig, b"flip mE")
    with pytest.raises(SignatureError):
        key.verify(sig[:63], b"flip me")
    with pytest.raises(UsageError):
        key.verify(sig, "flip me")  # type: ignore[arg-type]


def test_entry_create_checks_the_signature_it_makes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A signing fault (here: a flipped bit in what the signing function returns) never becomes
    an entry: Entry.create / Author.sign check the signature they make."""
    key = SigningKey.from_seed(b"\x06" * 32)
    author = Author(key, "example.org/own-check")
    author.sign("t", {}, time=0)  # makes the key's signing function
    real = key._sign
    assert real is not None

    def faulty(message: bytes) -> bytes:
        sig = real(message)
        return sig[:3] + bytes([sig[3] ^ 0x80]) + sig[4:]

    monkeypatch.setattr(key, "_sign", faulty)
    with pytest.raises(SignatureError, match="made a signature that does not verify"):
        author.sign("t", {}, time=1)
    assert author.seq == 1  # the chain did not advance
