"""Fuzz every decoder: whatever bytes or text it is given, it returns or raises an ElectlogError.

Each target feeds one decoder inputs made from *valid* seeds (canonical values, signed entries,
signed and cosigned checkpoints, trust files, election event bodies) plus mutations (bit flips,
interesting bytes and length fields, insertions, deletions, truncations, duplicated ranges,
structured field replacements that are re-encoded and re-signed so they reach deep checks), and
some plain random input. Per example it checks that:

* nothing but an :class:`~electlog.errors.ElectlogError` escapes;
* it finishes (a hard ``SIGALRM`` timer, ``ELECTLOG_FUZZ_TIMEOUT`` seconds, default 10);
* Python allocations traced by :mod:`tracemalloc` peak below ``4 MiB + 50 x input size``
  (the cyclic garbage collector is paused while the decoder runs: a collection of
  hypothesis's own heap is not the decoder's time).

After each target the test asserts that the inputs reached both acceptance and several distinct
rejections (a fuzzer that only ever hits the first length check proves little).

CI runs a modest number of examples per target. The long run is::

    ELECTLOG_FUZZ_EXAMPLES=100000 ELECTLOG_FUZZ_REPORT=fuzz-report.json \\
        taskset -c 1 python -m pytest tests/core/test_fuzz.py -q -k "not regression"

(``ELECTLOG_FUZZ_EXAMPLES`` selects the ``electlog-fuzz-long`` hypothesis settings profile;
docs/testing.md has the figures of the last long run.)
"""

from __future__ import annotations

import base64
import collections
import contextlib
import functools
import gc
import hashlib
import io
import json
import os
import re
import shutil
import signal
import tempfile
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from electlog import codec, merkle
from electlog.audit.trust import Trust, load_trust
from electlog.checkpoint import (
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    WitnessSigner,
    WitnessVerifier,
    cosign,
    open_note,
    parse_vkey,
    sign_note,
    verify_checkpoint,
    verify_checkpoint_detailed,
)
from electlog.election import EVENT_TYPES
from electlog.election.events import decode_event
from electlog.errors import ElectlogError, EntryError, TrustFileError
from electlog.events import ZERO_HASH, Author, Entry, Statement
from electlog.keys import SigningKey, VerifyKey
from electlog.log import Log
from electlog.publish.bundle import BundleReader, export_bundle, import_bundle
from electlog.publish.tiles import TilesReader, export_tiles
from electlog.store import MemoryStore
from electlog.testing import strategies as est

# --------------------------------------------------------------------------- settings

EXAMPLES = int(os.environ.get("ELECTLOG_FUZZ_EXAMPLES", "0") or 0)
TIMEOUT = float(os.environ.get("ELECTLOG_FUZZ_TIMEOUT", "10"))
REPORT = os.environ.get("ELECTLOG_FUZZ_REPORT")
_SUPPRESS = [
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.filter_too_much,
    HealthCheck.large_base_example,
]
settings.register_profile(
    "electlog-fuzz-ci",
    max_examples=120,
    deadline=None,
    # the same 120 inputs on every run: check_reach's "several distinct rejections" is then a
    # fact about the code, not a draw (a random draw missed one of four reasons now and then)
    derandomize=True,
    database=None,
    suppress_health_check=_SUPPRESS,
)
settings.register_profile(
    "electlog-fuzz-long",
    max_examples=max(EXAMPLES, 1),
    deadline=None,
    database=None,
    suppress_health_check=_SUPPRESS,
)
FUZZ = settings.get_profile("electlog-fuzz-long" if EXAMPLES else "electlog-fuzz-ci")
MEMORY_BASE = 4 << 20  # one-time allocations: caches, lazily built tables, first imports
MEMORY_PER_BYTE = 50


# --------------------------------------------------------------------------- the guard


class Hang(BaseException):
    """Raised by the SIGALRM handler: a decoder ran longer than TIMEOUT. A BaseException so
    that no ``except Exception`` inside a decoder can swallow it."""


class _Stats:
    def __init__(self) -> None:
        self.count = 0
        self.accepted = 0
        self.errors: collections.Counter[str] = collections.Counter()
        self.reasons: set[str] = set()
        self.max_seconds = 0.0
        self.max_peak = 0
        self.max_input = 0
        self.started = time.perf_counter()
        self.finished = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "inputs": self.count,
            "accepted": self.accepted,
            "rejected": sum(self.errors.values()),
            "error_classes": dict(sorted(self.errors.items())),
            "distinct_rejection_reasons": len(self.reasons),
            "max_seconds_per_input": round(self.max_seconds, 4),
            "max_traced_peak_bytes": self.max_peak,
            "largest_input_bytes": self.max_input,
            "wall_seconds": round((self.finished or time.perf_counter()) - self.started, 1),
        }


STATS: dict[str, _Stats] = {}


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    if REPORT:
        Path(REPORT).write_text(
            json.dumps({name: s.as_dict() for name, s in STATS.items()}, indent=2) + "\n",
            encoding="utf-8",
        )


def _on_alarm(signum: int, frame: object) -> None:
    raise Hang(f"decoder still running after {TIMEOUT} s")


@contextlib.contextmanager
def _bounded(target: str, data: object) -> Iterator[None]:
    size = len(data) if isinstance(data, bytes | str) else 0
    stats = STATS.setdefault(target, _Stats())
    old = signal.signal(signal.SIGALRM, _on_alarm)
    own = not tracemalloc.is_tracing()  # trace only the decoder, not hypothesis
    if own:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a full collection of hypothesis's heap is not the decoder's time
    t0 = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, TIMEOUT)
    try:
        yield
    except Hang as exc:
        raise AssertionError(f"{target}: {exc}; input {data!r:.300}") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if gc_was_enabled:
            gc.enable()
        peak = tracemalloc.get_traced_memory()[1] - base
        if own:
            tracemalloc.stop()
    elapsed = time.perf_counter() - t0
    stats.count += 1
    stats.max_seconds = max(stats.max_seconds, elapsed)
    stats.max_peak = max(stats.max_peak, peak)
    stats.max_input = max(stats.max_input, size)
    stats.finished = time.perf_counter()
    bound = MEMORY_BASE + MEMORY_PER_BYTE * size
    assert peak <= bound, f"{target}: traced peak {peak} bytes > bound {bound}; input {data!r:.300}"


def run(target: str, data: object, fn: Callable[[], object]) -> None:
    """Run one decoder call under the guard; only ElectlogError may escape ``fn``."""
    with _bounded(target, data):
        try:
            fn()
        except ElectlogError as exc:
            STATS[target].errors[type(exc).__name__] += 1
            STATS[target].reasons.add(_reason(exc))
            assert str(exc), f"{target}: {type(exc).__name__} with an empty message"
            return
    STATS[target].accepted += 1


def _reason(exc: ElectlogError) -> str:
    """The kind of a rejection: error class and message shape (numbers, hex, quotes elided)."""
    text = re.sub(r"(/[^\s:'\"]+)+", "<path>", str(exc))
    text = re.sub(r"[0-9a-f]{8,}|\d+|'[^']*'|\"[^\"]*\"", "#", text)
    return f"{type(exc).__name__}: {text[:48]}"


def check_reach(target: str, *, reasons: int = 4, accepted: bool = True) -> None:
    """The inputs reached acceptance (if ``accepted``) and several distinct rejections."""
    stats = STATS[target]
    assert stats.count > 0
    if accepted:
        assert stats.accepted > 0, f"{target}: no input was accepted: {stats.as_dict()}"
    assert len(stats.reasons) >= reasons, f"{target}: {stats.as_dict()} {sorted(stats.reasons)}"


# --------------------------------------------------------------------------- mutations

INTERESTING_BYTES = (
    0x00, 0x01, 0x0A, 0x20, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xC3,
    0xC4, 0xC5, 0xC6, 0xC7, 0xCA, 0xCB, 0xCC, 0xCD, 0xCE, 0xCF, 0xD0, 0xD3, 0xD4, 0xD9, 0xDA,
    0xDB, 0xDC, 0xDD, 0xDE, 0xDF, 0xE0, 0xFF,
)  # fmt: skip
INTERESTING_RUNS = (
    b"\xff\xff\xff\xff",
    b"\x7f\xff\xff\xff",
    b"\x00\x00\x00\x00",
    b"\xdd\xff\xff\xff\xff",
    b"\xdf\x7f\xff\xff\xff",
    b"\xc6\x7f\xff\xff\xff",
    b"\xdb\xff\xff\xff\xff",
    b"\xcf\xff\xff\xff\xff\xff\xff\xff\xff",
    b"\xd3\x80\x00\x00\x00\x00\x00\x00\x00",
    b"\x9f" * 8,
    b"\x91" * 40,
    b"\x81\xa0" * 8,
    b"\xed\xa0\x80",  # an encoded surrogate (invalid UTF-8)
    b"\xe2\x80\x94 ",  # "— "
    b"\n\n",
)
INTERESTING_TEXT = (
    "\n", "\n\n", "— ", "—", " ", "+", "=", "/", "\x00", "\t", "\r", "\x7f", "\u2028",
    "\ud800", "\ufeff", "0", "-1", "00", "18446744073709551616", "9" * 25, "1" * 5000, "A" * 90,
    '"', "{", "}", "[", "]", "[" * 3000, "{\"a\":" * 2000, ",", ":", "null", "1e999", "true",
    "\\u0000", "\\ud800", "PRIVATE+KEY+", "ed25519-pub:", "cosignature/v1",
)  # fmt: skip
_BYTE_OPS = 7
_TEXT_OPS = 6


@st.composite
def mutated_bytes(draw: st.DrawFn, seeds: st.SearchStrategy[bytes]) -> bytes:
    """A seed with 0-4 byte-level mutations (0 mutations keeps a valid input)."""
    data = bytearray(draw(seeds))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.integers(0, _BYTE_OPS - 1))
        pos = draw(st.integers(0, len(data)))
        if op == 0 and pos < len(data):
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == 1 and pos < len(data):
            data[pos] = INTERESTING_BYTES[draw(st.integers(0, len(INTERESTING_BYTES) - 1))]
        elif op == 2:
            if draw(st.booleans()):
                data[pos:pos] = INTERESTING_RUNS[draw(st.integers(0, len(INTERESTING_RUNS) - 1))]
            else:
                data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == 3:
            end = draw(st.integers(pos, min(len(data), pos + 16)))
            del data[pos:end]
        elif op == 4:
            del data[pos:]
        elif op == 5 and data:
            a = draw(st.integers(0, len(data) - 1))
            b = draw(st.integers(a, min(len(data), a + 64)))
            data[pos:pos] = data[a:b] * draw(st.integers(1, 4))
        else:
            run_ = INTERESTING_RUNS[draw(st.integers(0, len(INTERESTING_RUNS) - 1))]
            data[pos : pos + len(run_)] = run_
    return bytes(data)


@st.composite
def mutated_text(draw: st.DrawFn, seeds: st.SearchStrategy[str]) -> str:
    """A text seed with 0-4 mutations (interesting tokens, deletions, duplications, wrapping)."""
    text = draw(seeds)
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.integers(0, _TEXT_OPS - 1))
        pos = draw(st.integers(0, len(text)))
        token = INTERESTING_TEXT[draw(st.integers(0, len(INTERESTING_TEXT) - 1))]
        if op == 0:
            text = text[:pos] + token + text[pos:]
        elif op == 1:
            end = draw(st.integers(pos, min(len(text), pos + 12)))
            text = text[:pos] + text[end:]
        elif op == 2:
            text = text[:pos]
        elif op == 3 and text:
            a = draw(st.integers(0, len(text) - 1))
            b = draw(st.integers(a, min(len(text), a + 80)))
            text = text[:pos] + text[a:b] * draw(st.integers(1, 3)) + text[pos:]
        elif op == 4:
            depth = draw(st.integers(1, 3000))
            text = "[" * depth + text + "]" * draw(st.integers(0, depth))
        elif pos < len(text):
            text = text[:pos] + token + text[pos + 1 :]
    return text


_SMALL_VALUES = est.canonical_values(max_leaves=4)
_EDGE_INTS = (0, -1, 1, 2**63 - 1, 2**63, 2**64 - 1, -(2**63), 127, 128, -32, -33)


def _mutate_tree(draw: st.DrawFn, value: object, depth: int = 0) -> object:
    """A structurally mutated copy of a decoded canonical value: one field or item replaced,
    removed or added somewhere in the tree, or a scalar pushed to an edge."""
    choice = draw(st.integers(0, 4))
    if depth < 6 and choice <= 1:
        if isinstance(value, dict) and value:
            keys = sorted(value)
            key = keys[draw(st.integers(0, len(keys) - 1))]
            out = dict(value)
            out[key] = _mutate_tree(draw, value[key], depth + 1)
            return out
        if isinstance(value, list) and value:
            i = draw(st.integers(0, len(value) - 1))
            items = list(value)
            items[i] = _mutate_tree(draw, value[i], depth + 1)
            return items
    if choice == 2:
        if isinstance(value, dict):
            out = dict(value)
            if value and draw(st.booleans()):
                keys = sorted(value)
                del out[keys[draw(st.integers(0, len(keys) - 1))]]
            else:
                out[draw(st.text(max_size=10))] = draw(_SMALL_VALUES)
            return out
        if isinstance(value, list):
            items = list(value)
            if items and draw(st.booleans()):
                del items[draw(st.integers(0, len(items) - 1))]
            else:
                items.append(items[0] if items else draw(_SMALL_VALUES))
            return items
    if choice == 3:
        if isinstance(value, bool):
            return not value
        if isinstance(value, int):
            return _EDGE_INTS[draw(st.integers(0, len(_EDGE_INTS) - 1))]
        if isinstance(value, str):
            return draw(mutated_text(st.just(value)))
        if isinstance(value, bytes):
            return draw(mutated_bytes(st.just(value)))
    return draw(_SMALL_VALUES)


@st.composite
def mutated_tree(draw: st.DrawFn, seeds: st.SearchStrategy[Any]) -> Any:
    value = draw(seeds)
    for _ in range(draw(st.integers(0, 2))):
        value = _mutate_tree(draw, value)
    return value


# --------------------------------------------------------------------------- seed pools
#
# Valid inputs are generated once (deterministically, by hypothesis itself) and drawn from a
# pool: building a signed election event or a cosigned checkpoint per example would make the
# long run ten times slower without reaching any deeper.

ORIGIN = "example.org/fuzz"
T0 = 1_790_000_000_000_000
LOG_SIGNER = NoteSigner(ORIGIN, bytes([1]) * 32)
WITNESSES = [WitnessSigner(f"witness{i}", bytes([10 + i]) * 32) for i in range(1, 4)]
AUTHOR_KEY = SigningKey.from_seed(bytes([7]) * 32)
EVENT_CLASSES = sorted(EVENT_TYPES.values(), key=lambda c: c.TYPE)


def collect(strategy: st.SearchStrategy[Any], n: int) -> list[Any]:
    """``n`` examples of ``strategy``, the same on every run."""
    out: list[Any] = []

    @settings(
        max_examples=n,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def gather(value: Any) -> None:
        out.append(value)

    gather()
    return out


def _seed_entry(body: dict[str, Any], type_: str = "fuzz.event", seq: int = 1) -> bytes:
    author = Author(AUTHOR_KEY, ORIGIN)
    for _ in range(seq - 1):
        author.sign(type_, {}, time=T0)
    return author.sign(type_, body, time=T0 + seq).data


@st.composite
def _any_event_body(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    cls = EVENT_CLASSES[draw(st.integers(0, len(EVENT_CLASSES) - 1))]
    return cls.TYPE, draw(est.event_bodies(cls))


@functools.cache
def pool(name: str) -> tuple[Any, ...]:
    """The seed pool ``name`` (built on first use)."""
    if name == "values":
        return tuple(codec.encode(v) for v in collect(est.canonical_values(max_leaves=30), 300))
    if name == "bodies":  # (event type, valid body), every event type
        per_type = [collect(est.event_bodies(cls), 12) for cls in EVENT_CLASSES]
        return tuple(
            (cls.TYPE, body)
            for cls, bodies in zip(EVENT_CLASSES, per_type, strict=True)
            for body in bodies
        )
    if name == "entries":
        generic = collect(
            st.dictionaries(st.text(max_size=6), est.canonical_values(max_leaves=8), max_size=4),
            60,
        )
        out = [_seed_entry(body, t, 1 + i % 3) for i, (t, body) in enumerate(pool("bodies"))]
        return tuple(out + [_seed_entry(b) for b in generic])
    if name == "checkpoints":
        return tuple(collect(checkpoint_texts(), 100))
    if name == "notes":
        return tuple(collect(signed_notes(), 120))
    if name == "bundles":
        return tuple(collect(bundle_files(), 24))
    if name == "tiles":
        return tuple(_tiles_seed(n) for n in (1, 3, 17, 256, 300))
    raise KeyError(name)


def pooled(name: str) -> st.SearchStrategy[Any]:
    """Draw from a seed pool (built lazily, outside any running test)."""
    return st.integers(0, len(pool(name)) - 1).map(lambda i: pool(name)[i])


@st.composite
def checkpoint_texts(draw: st.DrawFn) -> str:
    size = draw(st.integers(0, 2**63 - 1) | st.integers(0, 100))
    root = draw(st.binary(min_size=32, max_size=32))
    ext = st.text(st.characters(codec="utf-8", min_codepoint=0x20), min_size=1, max_size=12)
    extensions = draw(st.lists(ext.filter(lambda s: "\n" not in s), max_size=2))
    return Checkpoint(origin=ORIGIN, size=size, root=root, extensions=tuple(extensions)).to_text()


@st.composite
def signed_notes(draw: st.DrawFn) -> str:
    """A signed checkpoint note, cosigned by 0-3 witnesses (and sometimes a stranger)."""
    note = sign_note(draw(checkpoint_texts()), [LOG_SIGNER])
    for w in draw(st.lists(st.sampled_from(WITNESSES), max_size=3, unique_by=lambda w: w.name)):
        note = cosign(note, w, draw(st.integers(0, 2**64 - 1)))
    if draw(st.integers(0, 4)) == 0:
        stranger = NoteSigner("stranger", bytes([99]) * 32)
        text, _, sigs = note.partition("\n\n")
        extra = sign_note(text + "\n", [stranger]).partition("\n\n")[2]
        note = text + "\n\n" + sigs + extra
    return note


@st.composite
def bundle_files(draw: st.DrawFn) -> bytes:
    """A bundle of 0-6 entries with 0-2 checkpoints, as bytes."""
    log = Log(ORIGIN)
    author = Author(AUTHOR_KEY, ORIGIN)
    for _ in range(draw(st.integers(0, 6))):
        body = draw(st.dictionaries(st.text(max_size=4), est.canonical_values(max_leaves=3)))
        log.append(author.sign("fuzz.event", body, time=T0))
    for _ in range(draw(st.integers(0, 2))):
        log.checkpoint(LOG_SIGNER, size=draw(st.integers(0, len(log))))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "b.bundle"
        export_bundle(log, path)
        return path.read_bytes()


def _tiles_seed(size: int) -> tuple[tuple[str, bytes], ...]:
    """The files of a tlog-tiles export of a log of ``size`` entries (with an earlier
    checkpoint, so partial tiles of two sizes exist)."""
    log = Log(ORIGIN)
    author = Author(AUTHOR_KEY, ORIGIN)
    log.append_many([author.sign("fuzz.event", {"n": i}, time=T0 + i) for i in range(size)])
    log.checkpoint(LOG_SIGNER, size=size // 2)
    log.checkpoint(LOG_SIGNER)
    with tempfile.TemporaryDirectory() as tmp:
        export_tiles(log, tmp)
        root = Path(tmp)
        return tuple(
            sorted(
                (str(f.relative_to(root)), f.read_bytes()) for f in root.rglob("*") if f.is_file()
            )
        )


@st.composite
def tiles_dirs(draw: st.DrawFn) -> dict[str, bytes]:
    """A tiles export with 0-3 changes: a file's bytes mutated, a file removed, the checkpoint
    text mutated (e.g. a larger size, so tiles go missing), or a stray tile added."""
    files = dict(draw(pooled("tiles")))
    names = sorted(files)
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.integers(0, 3))
        name = names[draw(st.integers(0, len(names) - 1))]
        if op == 0 and name in files:
            files[name] = draw(mutated_bytes(st.just(files[name])))
        elif op == 1:
            files.pop(name, None)
        elif op == 2 and "checkpoint" in files:
            text = files["checkpoint"].decode("utf-8", "replace")
            files["checkpoint"] = draw(mutated_text(st.just(text))).encode("utf-8", "surrogatepass")
        else:
            files[draw(st.sampled_from(("tile/0/000", "tile/1/000.p/3", "tile/entries/001")))] = (
                draw(st.binary(max_size=64))
            )
    return files


@st.composite
def structured_entries(draw: st.DrawFn) -> bytes:
    """A valid entry whose entry map or statement map is mutated as a tree, re-encoded and
    (usually) re-signed, so the input is canonical and reaches field validation."""
    data = draw(pooled("entries"))
    outer = codec.decode(data)
    assert isinstance(outer, dict)
    if draw(st.booleans()):
        stmt = _mutate_tree(draw, codec.decode(outer["stmt"]))
        try:
            outer["stmt"] = codec.encode(stmt)
        except ElectlogError:
            return data
        if draw(st.integers(0, 3)):
            outer["sig"] = AUTHOR_KEY.sign(b"electlog/v1/event\x00" + outer["stmt"])
    else:
        outer = _mutate_tree(draw, outer)
    try:
        return codec.encode(outer)
    except ElectlogError:
        return data


@st.composite
def cosignature_mutants(draw: st.DrawFn) -> str:
    """A cosigned note whose signature bytes (key id, timestamp, signature) are mutated and
    re-encoded in canonical base64: syntactically a note, semantically anything."""
    note = draw(pooled("notes"))
    text, _, block = note.partition("\n\n")
    lines = block.splitlines()
    i = draw(st.integers(0, len(lines) - 1))
    name, _, b64 = lines[i][2:].partition(" ")
    raw = draw(mutated_bytes(st.just(base64.b64decode(b64))))
    if len(raw) < 5:
        raw = raw + bytes(5 - len(raw))
    lines[i] = f"— {name} {base64.b64encode(raw).decode()}"
    return text + "\n\n" + "\n".join(lines) + "\n"


def _record(payload: bytes) -> bytes:
    head = len(payload).to_bytes(4, "big")
    return head + payload + zlib.crc32(payload, zlib.crc32(head)).to_bytes(4, "big")


def _bundle_records(data: bytes) -> list[bytes]:
    """The payloads of a valid bundle (header, entries, b"" end, notes, b"" end)."""
    out = []
    at = 16
    while at < len(data) - 32:
        n = int.from_bytes(data[at : at + 4], "big")
        out.append(data[at + 4 : at + 4 + n])
        at += 4 + n + (4 if n else 0)
    return out


@st.composite
def structured_bundles(draw: st.DrawFn) -> bytes:
    """A valid bundle with one record's payload mutated (header map, entry, note) and the
    record's CRC-32 and, usually, the SHA-256 trailer recomputed, so the mutation reaches the
    decoders behind the framing."""
    data = draw(pooled("bundles"))
    records = _bundle_records(data)
    i = draw(st.integers(0, len(records) - 1))
    if i == 0 and draw(st.booleans()):
        records[0] = codec.encode(_mutate_tree(draw, codec.decode(records[0])))
    elif records[i]:
        records[i] = draw(mutated_bytes(st.just(records[i])))
    body = data[:16] + b"".join(_record(r) if r else b"\x00" * 4 for r in records)
    trailer = hashlib.sha256(body).digest() if draw(st.integers(0, 4)) else data[-32:]
    return body + trailer


def _trust_dict(witnesses: int, quorum: int) -> dict[str, Any]:
    return Trust.create(
        origin=ORIGIN,
        authority_key=AUTHOR_KEY.public,
        log_key=LOG_SIGNER.verifier(),
        witnesses=[w.verifier() for w in WITNESSES[:witnesses]],
        quorum=quorum,
    ).to_dict()


TRUST_SEEDS = tuple(_trust_dict(n, q) for n in range(4) for q in range(n + 1))
trust_seeds = st.integers(0, len(TRUST_SEEDS) - 1).map(lambda i: TRUST_SEEDS[i])


@st.composite
def trust_texts(draw: st.DrawFn) -> str | bytes:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        data = draw(mutated_tree(trust_seeds))
        return json.dumps(data, ensure_ascii=draw(st.booleans()), default=lambda b: b.hex())
    if kind == 1:
        return draw(mutated_text(trust_seeds.map(json.dumps)))
    if kind == 2:
        return draw(mutated_bytes(trust_seeds.map(lambda d: json.dumps(d).encode())))
    return draw(st.text(max_size=64))


KEY_TEXTS = (
    AUTHOR_KEY.public.to_text(),
    LOG_SIGNER.vkey,
    LOG_SIGNER.skey,
    WITNESSES[0].vkey,
    WITNESSES[0].skey,
    AUTHOR_KEY.to_pem().decode(),
)


# --------------------------------------------------------------------------- targets


def test_fuzz_codec_decode() -> None:
    limits = st.tuples(st.integers(0, 40), st.integers(0, 300)) | st.just((32, 100_000))

    @FUZZ
    @given(
        data=st.one_of(mutated_bytes(pooled("values")), st.binary(max_size=64)),
        limits=limits,
        as_map=st.booleans(),
    )
    def fuzz(data: bytes, limits: tuple[int, int], as_map: bool) -> None:
        depth, items = limits
        fn = codec.decode_map if as_map else codec.decode

        def call() -> None:
            value = fn(data, max_depth=depth, max_items=items)
            assert codec.encode(value, max_depth=max(depth, 1)) == data

        run("codec.decode", data, call)

    fuzz()
    check_reach("codec.decode")


def test_fuzz_entries() -> None:
    @FUZZ
    @given(
        data=st.one_of(
            mutated_bytes(pooled("entries")), structured_entries(), st.binary(max_size=64)
        ),
        verify=st.booleans(),
    )
    def fuzz(data: bytes, verify: bool) -> None:
        def call() -> None:
            entry = Entry.from_bytes(data, verify=verify)
            assert entry.data == data

        run("Entry.from_bytes", data, call)

    fuzz()
    check_reach("Entry.from_bytes")


def test_fuzz_statements() -> None:
    stmts = pooled("entries").map(lambda d: codec.decode_map(d)["stmt"])

    @FUZZ
    @given(data=mutated_bytes(stmts))
    def fuzz(data: bytes) -> None:
        run("Statement.from_bytes", data, lambda: Statement.from_bytes(data))

    fuzz()
    check_reach("Statement.from_bytes")


def test_fuzz_open_note() -> None:
    verifiers = [LOG_SIGNER.verifier(), *(w.verifier() for w in WITNESSES)]

    @FUZZ
    @given(
        note=st.one_of(
            mutated_text(pooled("notes")),
            mutated_bytes(pooled("notes").map(str.encode)),
            cosignature_mutants(),
            st.text(max_size=40),
        ),
        known=st.integers(1, len(verifiers)),
    )
    def fuzz(note: str | bytes, known: int) -> None:
        run("open_note", note, lambda: open_note(note, verifiers[:known]))

    fuzz()
    check_reach("open_note")


def test_fuzz_checkpoint_text() -> None:
    @FUZZ
    @given(text=st.one_of(mutated_text(pooled("checkpoints")), st.text(max_size=40)))
    def fuzz(text: str) -> None:
        def call() -> None:
            cp = Checkpoint.from_text(text)
            assert cp.to_text() == text

        run("Checkpoint.from_text", text, call)

    fuzz()
    check_reach("Checkpoint.from_text")


def test_fuzz_verify_checkpoint() -> None:
    log_verifier = LOG_SIGNER.verifier()
    witnesses = [w.verifier() for w in WITNESSES]

    @FUZZ
    @given(
        note=st.one_of(mutated_text(pooled("notes")), cosignature_mutants()),
        quorum=st.integers(0, len(witnesses)),
        detailed=st.booleans(),
    )
    def fuzz(note: str, quorum: int, detailed: bool) -> None:
        fn = verify_checkpoint_detailed if detailed else verify_checkpoint
        run("verify_checkpoint", note, lambda: fn(note, log_verifier, witnesses, quorum))

    fuzz()
    check_reach("verify_checkpoint")


def test_fuzz_cosignatures() -> None:
    """Cosignature parsing and checking: cosign() on mutated notes, witness verification of
    mutated cosignature bytes, timestamps of any length."""
    verifier = WITNESSES[0].verifier()
    sigs = st.just(WITNESSES[0].sign(b"x\n", timestamp=5))

    @FUZZ
    @given(
        note=st.one_of(mutated_text(pooled("notes")), cosignature_mutants()),
        sig=mutated_bytes(sigs),
        timestamp=st.integers(0, 2**64 - 1),
    )
    def fuzz(note: str, sig: bytes, timestamp: int) -> None:
        def call() -> None:
            assert isinstance(verifier.verify(b"x\n", sig), bool)
            if len(sig) == 72:
                WitnessVerifier.timestamp_of(sig)
            out = cosign(note, WITNESSES[0], timestamp, log_verifier=LOG_SIGNER.verifier())
            verify_checkpoint(out, LOG_SIGNER.verifier(), [verifier], 1)

        run("cosign", note, call)

    fuzz()
    check_reach("cosign")


def test_fuzz_key_texts() -> None:
    parsers: list[Callable[[str], object]] = [
        VerifyKey.from_text,
        parse_vkey,
        NoteVerifier.from_vkey,
        WitnessVerifier.from_vkey,
        NoteSigner.from_skey,
        WitnessSigner.from_skey,
        lambda t: SigningKey.from_pem(t.encode("utf-8", "surrogatepass")),
    ]

    @FUZZ
    @given(text=mutated_text(st.sampled_from(KEY_TEXTS)), which=st.integers(0, len(parsers) - 1))
    def fuzz(text: str, which: int) -> None:
        run("key texts", text, lambda: parsers[which](text))

    fuzz()
    check_reach("key texts")


def test_fuzz_trust_files(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"

    @FUZZ
    @given(text=trust_texts(), from_file=st.integers(0, 7))
    def fuzz(text: str | bytes, from_file: int) -> None:
        if from_file == 0:
            raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
            path.write_bytes(raw)
            run("trust files", text, lambda: load_trust(path))
        else:
            run("trust files", text, lambda: Trust.from_json(text))

    fuzz()
    check_reach("trust files")


@st.composite
def event_statements(draw: st.DrawFn) -> Statement:
    """Statements whose type is an election event type (sometimes not) and whose body is a
    valid body of some event type, structurally mutated."""
    type_, seed = draw(pooled("bodies"))
    body = draw(mutated_tree(st.just(seed)))
    if not isinstance(body, dict):
        body = {"value": body}
    if draw(st.integers(0, 9)) == 0:
        type_ = EVENT_CLASSES[draw(st.integers(0, len(EVENT_CLASSES) - 1))].TYPE
    schema = 1 if draw(st.integers(0, 9)) else draw(st.integers(1, 2**63 - 1))
    return Statement(
        log=ORIGIN,
        type=type_,
        schema=schema,
        author=AUTHOR_KEY.key_id,
        seq=1,
        prev=ZERO_HASH,
        time=T0,
        body=body,
    )


def _encoded(body: object) -> bytes:
    """The canonical bytes of a body (for the memory bound), or b"" if it has none."""
    try:
        return codec.encode(body)
    except ElectlogError:
        return b""


def test_fuzz_decode_event() -> None:
    pool("bodies")  # build the seed pool before hypothesis runs (it is drawn from inside)

    @FUZZ
    @given(statement=event_statements(), via_entry=st.integers(0, 3))
    def fuzz(statement: Statement, via_entry: int) -> None:
        data = b""
        if via_entry == 0:
            try:
                data = Entry.create(statement, AUTHOR_KEY).data
            except ElectlogError:
                data = b""

        def call() -> None:
            st_ = Entry.from_bytes(data).statement if data else statement
            event = decode_event(st_)
            assert type(event).from_body(event.to_body()) == event

        run("decode_event", data or _encoded(statement.body), call)

    fuzz()
    check_reach("decode_event")


def test_fuzz_bundles() -> None:
    @FUZZ
    @given(
        data=st.one_of(mutated_bytes(pooled("bundles")), structured_bundles()),
        import_it=st.booleans(),
    )
    def fuzz(data: bytes, import_it: bool) -> None:
        def call() -> None:
            with BundleReader(io.BytesIO(data)) as reader:
                if import_it:
                    import_bundle(reader, MemoryStore(reader.origin))
                else:
                    for _ in reader:
                        pass
                    assert len(reader.sha256) == 32
                    reader.checkpoints  # noqa: B018 - reads and checks every note

        run("BundleReader", data, call)

    fuzz()
    check_reach("BundleReader")


def test_fuzz_tiles(tmp_path: Path) -> None:
    pool("tiles")
    counter = [0]

    @FUZZ
    @given(files=tiles_dirs(), index=st.integers(0, 400))
    def fuzz(files: dict[str, bytes], index: int) -> None:
        counter[0] += 1
        directory = tmp_path / f"t{counter[0]}"
        for rel, data in files.items():
            path = directory / rel
            if path.parent.is_file():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.is_dir():
                path.write_bytes(data)
        total = b"".join(files.values())

        def call() -> None:
            reader = TilesReader(directory)
            size = reader.size()
            if index & 1:
                reader.verify()
            if size:
                i = index % size
                proof = reader.inclusion_proof(i, size)
                merkle.verify_inclusion(reader.leaf_hash(i), i, size, proof, reader.root(size))
                for data in reader.entries(0, min(size, 3)):
                    Entry.from_bytes(data)
                reader.author_head(AUTHOR_KEY.key_id)

        try:
            run("TilesReader", total, call)
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    fuzz()
    check_reach("TilesReader")


# --------------------------------------------------------------------------- regressions
# Crashes the fuzzers found, each fixed in the decoder; the inputs stay here as tests.


def test_regression_trust_file_deep_json_nesting() -> None:
    """json.loads raised RecursionError (not an ElectlogError) on deeply nested arrays."""
    text = "[" * 3000 + json.dumps(TRUST_SEEDS[0])
    with pytest.raises(TrustFileError, match="not valid JSON"):
        Trust.from_json(text)
    with pytest.raises(TrustFileError, match="not valid JSON"):
        Trust.from_json(text.encode())


def test_regression_ruleset_fraction_with_too_many_digits() -> None:
    """int() raised ValueError for a share with more than 4300 digits in an election.defined
    body (sys.get_int_max_str_digits)."""
    from electlog.election import RuleSet
    from electlog.election.events import ElectionDefined

    body = RuleSet().to_body()
    body["majority"] = "1" * 5000 + "/2"
    with pytest.raises(EntryError, match="too many digits"):
        RuleSet.from_body(body)
    genesis = next(b for t, b in pool("bodies") if t == ElectionDefined.TYPE)
    mutated = {**genesis, "rules": body}
    statement = Statement(
        log=ORIGIN,
        type=ElectionDefined.TYPE,
        schema=1,
        author=AUTHOR_KEY.key_id,
        seq=1,
        prev=ZERO_HASH,
        time=T0,
        body=mutated,
    )
    with pytest.raises(EntryError, match=r"rules\.majority has too many digits"):
        decode_event(Entry.from_bytes(Entry.create(statement, AUTHOR_KEY).data).statement)
