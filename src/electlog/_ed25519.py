"""Ed25519 verification backends and the strict acceptance rule they share.

Two C implementations can verify Ed25519 signatures here: OpenSSL (through ``cryptography``, a
hard dependency) and libsodium (through PyNaCl, the optional ``electlog[fast]`` extra, about 1.6×
faster on the reference machine). They disagree on edge cases that RFC 8032 leaves open:
libsodium rejects small-order and non-canonical points that OpenSSL accepts. So that a log
verifies identically whichever backend an auditor has installed, every signature is first held to
one *strict rule*, checked in Python before either library is called:

1. the signature is 64 bytes, the public key 32 bytes;
2. ``S`` (signature bytes 32..63, little-endian) is below the group order ``L`` (no malleability);
3. ``R`` (signature bytes 0..31) is a canonical encoding (its y coordinate below ``p``) and not
   one of the small-order points (identity, order 2, 4 and 8, either sign bit);
4. the public key ``A`` is a canonical encoding of a curve point that is not of small order and
   lies in the prime-order subgroup (``[L]A`` is the identity);
5. the cofactorless equation holds: the encoding of ``[S]B - [k]A`` equals ``R`` byte for byte,
   ``k = SHA-512(R || A || M) mod L``.

Steps 1–4 are checked here; step 5 is what both libraries compute. Given 1–4 the libraries
agree, because with a prime-order ``A`` and a canonical, non-small-order ``R`` the cofactored and
cofactorless equations accept the same signatures and no encoding ambiguity is left. This is the
rule of libsodium's default build (and ed25519-dalek's ``verify_strict``), made explicit.

The per-signature cost of steps 2–3 is a 32-byte set lookup and an integer comparison; step 4 is
checked once per key and remembered by the verification backend object
(:class:`electlog.keys.Ed25519Backend`) that asked: libsodium's
``crypto_core_ed25519_is_valid_point`` when PyNaCl is installed, otherwise OpenSSL's X25519
ladder on the equivalent Montgomery curve, see :func:`_strict_key_ladder`; both are tested to
agree with the pure-Python definition below. This module keeps no mutable state of its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any, Final

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

__all__ = [
    "BACKENDS",
    "GROUP_ORDER",
    "OPENSSL_KEY_MEMO_SIZE",
    "P",
    "available_backends",
    "base_point_mul",
    "decode_point",
    "encode_point",
    "is_strict_public_key",
    "nacl_verify_one",
    "openssl_key_of",
    "openssl_verify_one",
    "own_signature_checker",
    "point_add",
    "point_mul",
    "point_neg",
    "r_is_acceptable",
    "s_is_canonical",
    "secret_scalar",
    "small_order_encodings",
    "sodium_open_direct",
    "sodium_signer",
    "strict_key_check",
    "strict_precheck",
    "strict_violation",
    "verify_many_nacl",
    "verify_many_openssl",
]

# --------------------------------------------------------------------------- curve arithmetic
# Reference arithmetic for edwards25519 in extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z,
# x*y = T/Z. Used for the per-key subgroup check when libsodium is absent, and by the tests to
# build edge-case vectors. Not constant time: it only ever handles public values.

P: Final = 2**255 - 19
"""The field prime."""
GROUP_ORDER: Final = 2**252 + 27742317777372353535851937790883648493
"""``L``, the order of the prime-order subgroup."""
_D: Final = (-121665 * pow(121666, P - 2, P)) % P
_SQRT_M1: Final = pow(2, (P - 1) // 4, P)

Point = tuple[int, int, int, int]

_IDENTITY: Final[Point] = (0, 1, 1, 0)


def _recover_x(y: int, sign: int) -> int | None:
    """RFC 8032 §5.1.3 step 2-4: the x with the given sign bit for ``y``, or None."""
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * _SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


def decode_point(data: bytes) -> Point | None:
    """Strict RFC 8032 decoding of a 32-byte point: None if ``y >= p``, not on the curve, or
    ``x = 0`` with the sign bit set."""
    if len(data) != 32:
        return None
    n = int.from_bytes(data, "little")
    y = n & ((1 << 255) - 1)
    x = _recover_x(y, n >> 255)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


def encode_point(pt: Point) -> bytes:
    """The canonical 32-byte encoding of a point."""
    x, y, z, _ = pt
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def point_add(a: Point, b: Point) -> Point:
    """``a + b`` (RFC 8032 §5.1.4 addition formulas)."""
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % P
    bb = (y1 + x1) * (y2 + x2) % P
    c = 2 * t1 * t2 * _D % P
    dd = 2 * z1 * z2 % P
    e, f, g, h = bb - aa, dd - c, dd + c, bb + aa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _point_double(a: Point) -> Point:
    x1, y1, z1, _ = a
    aa = x1 * x1 % P
    bb = y1 * y1 % P
    c = 2 * z1 * z1 % P
    h = aa + bb
    e = h - (x1 + y1) * (x1 + y1)
    g = aa - bb
    f = c + g
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def point_neg(a: Point) -> Point:
    """``-a``."""
    x, y, z, t = a
    return ((-x) % P, y, z, (-t) % P)


def point_mul(scalar: int, pt: Point) -> Point:
    """``[scalar] pt`` (double and add; public inputs only)."""
    q = _IDENTITY
    while scalar > 0:
        if scalar & 1:
            q = point_add(q, pt)
        pt = _point_double(pt)
        scalar >>= 1
    return q


def _is_identity(pt: Point) -> bool:
    x, y, z, _ = pt
    return x % P == 0 and (y - z) % P == 0


def _base_point() -> Point:
    y = 4 * pow(5, P - 2, P) % P
    x = _recover_x(y, 0)
    assert x is not None
    return (x, y, 1, x * y % P)


_BASE: Final[Point] = _base_point()


def base_point_mul(scalar: int) -> Point:
    """``[scalar] B`` for the standard base point ``B``."""
    return point_mul(scalar, _BASE)


# --------------------------------------------------------------------------- the strict rule


def small_order_encodings() -> frozenset[bytes]:
    """Every 32-byte encoding (canonical or not, either sign bit) whose y coordinate is that of
    a point of order 1, 2, 4 or 8 — libsodium's blocklist, ignoring the sign bit."""
    # y coordinates of the small-order points: 1 (identity), p - 1 (order 2), 0 (order 4), and
    # the two y values of the order-8 points, computed from a point of order 8.
    t8 = _torsion_point()
    ys = {1, P - 1, 0}
    for k in range(1, 8):
        ys.add(_affine(point_mul(k, t8))[1])
    out: set[bytes] = set()
    for y in ys:
        for yy in (y, y + P):
            if yy < 1 << 255:
                out.add(yy.to_bytes(32, "little"))
                out.add((yy | (1 << 255)).to_bytes(32, "little"))
    return frozenset(out)


def _affine(pt: Point) -> tuple[int, int]:
    x, y, z, _ = pt
    zi = pow(z, P - 2, P)
    return x * zi % P, y * zi % P


def _torsion_point() -> Point:
    """A point of order exactly 8 (found deterministically: [L] times a curve point whose
    8-torsion component has order 8)."""
    y = 2
    while True:
        for sign in (0, 1):
            x = _recover_x(y, sign)
            if x is None:
                continue
            t = point_mul(GROUP_ORDER, (x, y, 1, x * y % P))
            if not _is_identity(point_mul(4, t)):
                return t
        y += 1


def _non_canonical_encodings() -> frozenset[bytes]:
    """Every encoding whose y field is ``>= p`` (19 values, two sign bits each)."""
    out: set[bytes] = set()
    for y in range(P, 1 << 255):
        out.add(y.to_bytes(32, "little"))
        out.add((y | (1 << 255)).to_bytes(32, "little"))
    return frozenset(out)


_REJECTED_R: Final = small_order_encodings() | _non_canonical_encodings()


def s_is_canonical(sig: bytes) -> bool:
    """Rule 2: ``S < L``."""
    return int.from_bytes(sig[32:64], "little") < GROUP_ORDER


def r_is_acceptable(sig: bytes) -> bool:
    """Rule 3: ``R`` is canonical and not a small-order point."""
    return sig[:32] not in _REJECTED_R


def _strict_key_pure(raw: bytes) -> bool:
    """Rule 4 by the definition: ``[L]A`` is the identity (about 2 ms in Python: the reference
    the faster checks are tested against)."""
    if raw in _REJECTED_R:
        return False
    pt = decode_point(raw)
    if pt is None:
        return False
    return _is_identity(point_mul(GROUP_ORDER, pt))


def _ladder_scalar() -> int:
    """The X25519 scalar ``k`` with ``k = 0 (mod 8)`` and ``k = ±1 (mod L)`` that X25519's
    clamping leaves unchanged (bits 0-2 and 255 clear, bit 254 set)."""
    inverse8 = pow(8, -1, GROUP_ORDER)
    for j in (inverse8, GROUP_ORDER - inverse8):
        k = 8 * j
        if 1 << 254 <= k < 1 << 255:
            return k
    raise AssertionError("no clamped scalar is 0 mod 8 and ±1 mod L")  # pragma: no cover


_LADDER_KEY: X25519PrivateKey | None
try:
    _LADDER_KEY = X25519PrivateKey.from_private_bytes(_ladder_scalar().to_bytes(32, "little"))
except UnsupportedAlgorithm:  # pragma: no cover - an OpenSSL built without X25519
    _LADDER_KEY = None
_HALF_P: Final = (P - 1) // 2


def _strict_key_ladder(raw: bytes) -> bool:
    """Rule 4 with OpenSSL's X25519 ladder doing the group arithmetic (about 0.16 ms, 13x less
    than :func:`_strict_key_pure`; tested to agree with it and with libsodium).

    ``A`` is a canonical, non-small-order curve point ``A = Q + T`` with ``Q`` in the
    prime-order subgroup and ``T`` of order dividing 8. On the birationally equivalent
    Montgomery curve (``u = (1 + y) / (1 - y)``, a group isomorphism that forgets the sign of
    ``x``), X25519 computes ``u([k]A)``; with ``k = 0 (mod 8)`` and ``k = ±1 (mod L)``,
    ``[k]A = ±Q``. So ``u([k]A) = u(A)`` exactly when ``A = ±Q``, that is when ``T`` is the
    identity (``A = -Q`` would make ``T = -2Q`` of both orders, so ``Q`` the identity and ``A``
    of small order, which is excluded first)."""
    if _LADDER_KEY is None:  # pragma: no cover - an OpenSSL built without X25519
        return _strict_key_pure(raw)
    if raw in _REJECTED_R:  # every non-canonical y and every small-order point
        return False
    y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
    yy = y * y % P
    # on the curve: x^2 = (y^2 - 1) / (d y^2 + 1) is a square (x = 0 only for small order)
    if pow((yy - 1) * (_D * yy + 1) % P, _HALF_P, P) != 1:
        return False
    u = (1 + y) * pow(1 - y, -1, P) % P
    encoded = u.to_bytes(32, "little")
    try:
        out = _LADDER_KEY.exchange(X25519PublicKey.from_public_bytes(encoded))
    except (ValueError, UnsupportedAlgorithm):  # an all-zero result: small order
        return False
    return out == encoded


_valid_point: Callable[[bytes], bool] | None
try:  # libsodium's check: canonical, on the curve, not small order, in the main subgroup
    from nacl.bindings import crypto_core_ed25519_is_valid_point as _nacl_valid_point

    def _strict_key_nacl(raw: bytes) -> bool:
        return raw not in _REJECTED_R and bool(_nacl_valid_point(raw))

    _valid_point = _strict_key_nacl
except ImportError:  # pragma: no cover - depends on the optional extra
    _valid_point = None


def strict_key_check() -> Callable[[bytes], bool]:
    """Rule 4, the fastest check available now: libsodium's with PyNaCl, else OpenSSL's X25519
    ladder (:func:`_strict_key_ladder`). Not cached: a verification backend object
    (:class:`electlog.keys.Ed25519Backend`) remembers its answers per key."""
    return _valid_point if _valid_point is not None else _strict_key_ladder


def is_strict_public_key(raw: bytes, *, use_nacl: bool | None = None) -> bool:
    """Rule 4: ``raw`` is a canonical, non-small-order point of the prime-order subgroup.

    Not cached. ``use_nacl`` forces (True) or forbids (False) libsodium's check; by default it
    is :func:`strict_key_check`'s. All give the same answer (tested, also against the
    definition, :func:`_strict_key_pure`).
    """
    if use_nacl is None:
        return strict_key_check()(raw)
    if use_nacl:
        if _valid_point is None:
            raise ImportError("PyNaCl is not installed")
        return _valid_point(raw)
    return _strict_key_ladder(raw)


# --------------------------------------------------------------------------- backends

BACKENDS: Final = ("nacl", "cryptography")
"""Backend names, fastest first."""


def available_backends() -> tuple[str, ...]:
    """The backends that can be used in this environment, fastest first."""
    return tuple(name for name in BACKENDS if name != "nacl" or _nacl_open() is not None)


_nacl_sign_open: Callable[[bytes, bytes], bytes] | None
try:  # PyNaCl's public binding of libsodium's crypto_sign_open (the strict verify, rule 5)
    from nacl.bindings import crypto_sign_open as _nacl_sign_open
except ImportError:  # pragma: no cover - depends on the optional extra
    _nacl_sign_open = None


def _nacl_open() -> Callable[[bytes, bytes], bytes] | None:
    """libsodium's ``crypto_sign_open(signed_message, public_key)``, or None without PyNaCl."""
    return _nacl_sign_open


def sodium_open_direct() -> tuple[Any, Any] | None:
    """libsodium's ``crypto_sign_open`` in PyNaCl's cffi library and the NULL to pass it, or
    None without PyNaCl: ``open(NULL, NULL, sig + msg, len(sig + msg), pub)`` is 0 exactly when
    ``nacl.bindings.crypto_sign_open(sig + msg, pub)`` returns. Given NULL outputs, the C
    function only checks; the wrapper allocates a buffer and copies the message out (~1.4 µs)."""
    if _sodium_open is None or _nacl_sign_open is None:
        return None
    return _sodium_open, _ffi_null


def strict_precheck(
    pub: bytes, sig: bytes, key_ok: Callable[[bytes], bool] = is_strict_public_key
) -> bool:
    """Rules 1-4 of the module docstring for one signature; ``key_ok`` is rule 4 (a backend
    passes its memo of it)."""
    return (
        len(sig) == 64
        and len(pub) == 32
        and sig[:32] not in _REJECTED_R
        and int.from_bytes(sig[32:], "little") < GROUP_ORDER
        and key_ok(pub)
    )


def strict_violation(pub: bytes, sig: bytes) -> str | None:
    """Which of rules 1-4 ``(pub, sig)`` breaks, in words, or None (slow path for messages)."""
    if len(sig) != 64:
        return "an Ed25519 signature is exactly 64 bytes"
    if len(pub) != 32:
        return "an Ed25519 public key is exactly 32 bytes"
    if sig[:32] in _REJECTED_R:
        return "signature R is a non-canonical or small-order point"
    if int.from_bytes(sig[32:], "little") >= GROUP_ORDER:
        return "signature S is not below the group order (malleated signature)"
    if not is_strict_public_key(pub):
        return (
            "public key is not a canonical point of the prime-order subgroup "
            "(off the curve, small order, mixed order or non-canonical)"
        )
    return None


def nacl_verify_one(pub: bytes, sig: bytes, msg: bytes) -> bool:
    """Rule 5 by libsodium (call :func:`strict_precheck` first: rule 4 is not checked here)."""
    return verify_many_nacl([(pub, sig, msg)], bool)[0]  # bool(pub): any 32 bytes pass


def openssl_verify_one(key: Ed25519PublicKey, sig: bytes, msg: bytes) -> bool:
    """Rule 5 by OpenSSL (call :func:`strict_precheck` first)."""
    try:
        key.verify(sig, msg)
    except InvalidSignature:
        return False
    return True


OPENSSL_KEY_MEMO_SIZE: Final = 1 << 12
"""How many OpenSSL key objects :func:`openssl_key_of` keeps in a memo before starting again."""


def openssl_key_of(pub: bytes, memo: dict[bytes, Ed25519PublicKey]) -> Ed25519PublicKey:
    """cryptography's key object for 32 raw bytes (the point is only decoded when verifying),
    remembered in the caller's ``memo`` (emptied when it holds :data:`OPENSSL_KEY_MEMO_SIZE`)."""
    key = memo.get(pub)
    if key is None:
        try:
            key = Ed25519PublicKey.from_public_bytes(pub)
        except (ValueError, UnsupportedAlgorithm) as exc:  # pragma: no cover - not for 32 bytes
            raise ValueError(f"not an Ed25519 public key: {exc}") from exc
        if len(memo) >= OPENSSL_KEY_MEMO_SIZE:
            memo.clear()
        memo[pub] = key
    return key


def verify_many_nacl(
    items: Sequence[tuple[bytes, bytes, bytes]], key_ok: Callable[[bytes], bool]
) -> list[bool]:
    """Rules 1-5 for each ``(public key, signature, message)``, rule 5 by libsodium; ``key_ok``
    is rule 4 (a backend's memo of it)."""
    direct = sodium_open_direct()
    if direct is None:
        raise ImportError("the 'nacl' Ed25519 backend needs PyNaCl (pip install electlog[fast])")
    sign_open, null = direct
    rejected = _REJECTED_R
    order = GROUP_ORDER
    from_bytes = int.from_bytes
    keys: dict[bytes, bool] = {}  # key_ok's answers in this batch (a log has few keys)
    out = [False] * len(items)
    passed: list[tuple[int, bytes, bytes]] = []  # (position, public key, sig + msg)
    for position, (pub, sig, msg) in enumerate(items):
        if (
            len(sig) != 64
            or len(pub) != 32
            or sig[:32] in rejected
            or (sig[63] >= 0x10 and from_bytes(sig[32:], "little") >= order)  # S < 2**252 < L
            or not (keys.get(pub) or keys.setdefault(pub, key_ok(pub)))
        ):
            continue
        passed.append((position, pub, sig + msg))
    # rule 5 in a loop of its own, libsodium's code kept in the caches: ~1 µs a signature less
    for position, pub, signed in passed:
        out[position] = sign_open(null, null, signed, len(signed), pub) == 0
    return out


def verify_many_openssl(
    items: Sequence[tuple[bytes, bytes, bytes]],
    key_ok: Callable[[bytes], bool],
    keys: dict[bytes, Ed25519PublicKey],
) -> list[bool]:
    """Rules 1-5 for each ``(public key, signature, message)``, rule 5 by OpenSSL; ``key_ok`` is
    rule 4 (a backend's memo of it), ``keys`` the caller's memo of OpenSSL key objects."""
    rejected = _REJECTED_R
    order = GROUP_ORDER
    from_bytes = int.from_bytes
    key_of = openssl_key_of
    out: list[bool] = []
    append = out.append
    for pub, sig, msg in items:
        if (
            len(sig) != 64
            or len(pub) != 32
            or sig[:32] in rejected
            or from_bytes(sig[32:], "little") >= order
            or not key_ok(pub)
        ):
            append(False)
            continue
        try:
            key_of(pub, keys).verify(sig, msg)
        except InvalidSignature:
            append(False)
        else:
            append(True)
    return out


# --------------------------------------------------------------------------- signing
# Ed25519 signatures are deterministic (RFC 8032 §5.1.6): every correct implementation gives the
# same 64 bytes for the same seed and message, so the signing library is a matter of speed only
# (libsodium's fixed-base tables make it about 1.7x faster than OpenSSL here; tested equal).

_nacl_sign: Callable[[bytes, bytes], bytes] | None
_nacl_seed_keypair: Callable[[bytes], tuple[bytes, bytes]] | None
_nacl_base_noclamp: Callable[[bytes], bytes] | None
_NaclRuntimeError: type[Exception]
try:  # PyNaCl's public bindings of libsodium
    from nacl._sodium import ffi as _nacl_ffi
    from nacl._sodium import lib as _nacl_lib
    from nacl.bindings import crypto_scalarmult_ed25519_base_noclamp as _nacl_base_noclamp
    from nacl.bindings import crypto_sign as _nacl_sign
    from nacl.bindings import crypto_sign_seed_keypair as _nacl_seed_keypair
    from nacl.exceptions import RuntimeError as _NaclRuntimeError

    _ffi_new, _ffi_buffer, _ffi_null = _nacl_ffi.new, _nacl_ffi.buffer, _nacl_ffi.NULL
except ImportError:  # pragma: no cover - depends on the optional extra
    _nacl_sign = _nacl_seed_keypair = _nacl_base_noclamp = _nacl_lib = _ffi_new = None
    _NaclRuntimeError, _ffi_buffer, _ffi_null = Exception, None, None
# the same functions through PyNaCl's cffi library itself: no wrapper checks, copies (about 1 µs)
_direct_base_noclamp: Any = getattr(_nacl_lib, "crypto_scalarmult_ed25519_base_noclamp", None)
_sodium_open: Any = getattr(_nacl_lib, "crypto_sign_open", None)  # see sodium_open_direct


def sodium_signer(seed: bytes) -> Callable[[bytes], bytes] | None:
    """libsodium's Ed25519 signing function for the 32-byte ``seed`` (message → 64-byte
    signature), or None without PyNaCl."""
    if _nacl_sign is None or _nacl_seed_keypair is None:
        return None
    sign = _nacl_sign
    _, secret = _nacl_seed_keypair(seed)

    def sign_sodium(message: bytes) -> bytes:
        return sign(message, secret)[:64]

    return sign_sodium


def secret_scalar(seed: bytes) -> int:
    """The secret scalar ``a`` of an RFC 8032 seed (SHA-512, clamped), reduced mod ``L``."""
    h = bytearray(hashlib.sha512(seed).digest()[:32])
    h[0] &= 248
    h[31] &= 127
    h[31] |= 64
    return int.from_bytes(h, "little") % GROUP_ORDER


def own_signature_checker(seed: bytes, public: bytes) -> Callable[[bytes, bytes], bool] | None:
    """A check of signatures under the key with ``seed`` and ``public`` key that uses the secret
    scalar ``a``: ``(signature, message)`` passes exactly when the strict rule accepts it, at
    about the cost of one signing instead of a verification (libsodium's fixed-base
    multiplication). None without PyNaCl, or if ``public`` is not ``[a]B`` (then verify).

    Why it is the strict rule: with ``A = [a]B`` (checked here once), the cofactorless equation
    ``[S]B = R + [k]A`` is ``[S - k a]B = R``, ``k = SHA-512(R || A || M) mod L``. The left side
    is computed and encoded canonically, so equality also means ``R`` is canonical and, being a
    multiple of ``B`` other than the identity (libsodium refuses to encode that), not of small
    order; ``S < L`` is checked; ``A``, a clamped multiple of ``B``, is a canonical point of the
    prime-order subgroup."""
    base = _nacl_base_noclamp
    if base is None:
        return None
    a = secret_scalar(seed)
    try:
        if base(a.to_bytes(32, "little")) != public or not is_strict_public_key(public):
            return None
    except _NaclRuntimeError:  # pragma: no cover - a = 0 mod L: not a usable key
        return None
    order = GROUP_ORDER
    sha512 = hashlib.sha512
    from_bytes = int.from_bytes
    failed = _NaclRuntimeError
    direct, new, buffer = _direct_base_noclamp, _ffi_new, _ffi_buffer

    def check(signature: bytes, message: bytes) -> bool:
        if len(signature) != 64:
            return False
        s = from_bytes(signature[32:], "little")
        if s >= order:
            return False
        r = signature[:32]
        k = from_bytes(sha512(r + public + message).digest(), "little")
        n = ((s - k * a) % order).to_bytes(32, "little")
        if direct is not None:
            q = new("unsigned char[32]")  # one per call: cffi releases the GIL in the call
            return bool(direct(q, n) == 0 and buffer(q, 32)[:] == r)  # nonzero: identity
        try:
            return base(n) == r
        except failed:  # [0]B, the identity: never a valid R
            return False

    return check
