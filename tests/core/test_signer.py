"""ChainSigner: bulk signing of one author's chain in a helper process."""

from __future__ import annotations

import hashlib
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from electlog import signer as signer_mod
from electlog.errors import (
    AuthorChainError,
    EntryError,
    LogIdMismatchError,
    SignerError,
    UsageError,
)
from electlog.events import (
    MAX_ENTRY_SIZE,
    ZERO_HASH,
    Author,
    AuthorHead,
    Entry,
    Statement,
    VerifiedEntry,
)
from electlog.keys import SigningKey
from electlog.log import Log
from electlog.signer import ChainSigner
from electlog.store import SQLiteStore

ORIGIN = "example.org/signer-test"
T0 = 1_780_000_000_000_000


def _key(n: int = 1) -> SigningKey:
    return SigningKey.from_seed(bytes([n]) * 32)


def _drafts(start: int, stop: int) -> list[tuple[str, dict[str, Any], int]]:
    out = []
    for i in range(start, stop):
        body = {"i": i, "tags": ["a", "b"][: i % 3], "z": {"y": b"\x01", "x": None}}
        out.append(("test.event", body, T0 + i))
    return out


def _parts(key: SigningKey, n: int) -> tuple[list[bytes], list[bytes]]:
    """Statement bytes before and after ``prev`` for the first ``n`` drafts of a new author."""
    parts = [
        Statement(
            log=ORIGIN, type=t, schema=1, author=key.key_id, seq=i + 1, prev=ZERO_HASH,
            time=time, body=body,
        ).split_bytes()
        for i, (t, body, time) in enumerate(_drafts(0, n))
    ]  # fmt: skip
    return [head for head, _ in parts], [tail for _, tail in parts]


def _expected(key: SigningKey, start: int, stop: int, author: Author | None = None) -> list[Entry]:
    author = author or Author(key, ORIGIN)
    return [author.sign(t, body, time=time) for t, body, time in _drafts(start, stop)]


@pytest.mark.parametrize("processes", [0, 1])
def test_entries_equal_author_sign_byte_for_byte(processes: int) -> None:
    key = _key()
    want = _expected(key, 0, 700)
    with ChainSigner(key, ORIGIN, processes=processes) as signer:
        first = signer.submit(_drafts(0, 300))
        second = signer.submit(_drafts(300, 301))
        third = signer.submit(_drafts(301, 700))
        assert [len(first), len(second), len(third)] == [300, 1, 399]
        got = third.result()  # completes the earlier batches first
        assert first.done() and second.done() and third.done()
        got = first.result() + second.result() + got
        assert signer.head() == AuthorHead(700, want[-1].leaf_hash)
    assert [e.data for e in got] == [e.data for e in want]
    for g, w in zip(got, want, strict=True):
        assert g.statement == w.statement
        assert g.statement_bytes == w.statement_bytes
        assert g.leaf_hash == w.leaf_hash
        assert Entry.from_bytes(g.data).leaf_hash == g.leaf_hash


def test_a_spawned_helper_signs_the_same_chain() -> None:
    key = _key(10)
    with ChainSigner(key, ORIGIN, start_method="spawn") as signer:
        batches = signer.sign_batches([_drafts(0, 40), _drafts(40, 90)])
        got = [e for entries in batches for e in entries]
    assert [e.data for e in got] == [e.data for e in _expected(key, 0, 90)]


def test_sign_batches_pipeline_appends_a_valid_log(tmp_path: Path) -> None:
    key = _key(2)
    with SQLiteStore(tmp_path / "log.sqlite", origin=ORIGIN) as store:
        log = Log(store)
        batches = [_drafts(s, s + 250) for s in range(0, 1000, 250)]
        with ChainSigner(key, ORIGIN) as signer:
            receipts = [
                r for entries in signer.sign_batches(batches) for r in log.append_many(entries)
            ]
        assert [r.index for r in receipts] == list(range(1000))
        assert [log.get_bytes(i) for i in range(1000)] == [e.data for e in _expected(key, 0, 1000)]
        assert log.author_head(key.key_id) == AuthorHead(1000, receipts[-1].leaf_hash)


def test_resumes_an_existing_author_and_takes_a_schema() -> None:
    key = _key(3)
    author = Author(key, ORIGIN)
    earlier = _expected(key, 0, 5, author)
    head = author.head()
    want = author.sign("test.other", {"k": 1}, time=T0 + 9, schema=4)
    with ChainSigner(key, ORIGIN, seq=head.seq, prev=head.prev, processes=0) as signer:
        (got,) = signer.sign_many([("test.other", {"k": 1}, T0 + 9, 4)])
    assert got.data == want.data and got.statement.prev == earlier[-1].leaf_hash
    with ChainSigner(key, ORIGIN, seq=head.seq, prev=head.prev, processes=0) as signer:
        (other,) = signer.sign_many([("test.other", {"k": 1}, T0 + 9)], schema=4)
    assert other.data == want.data


@pytest.mark.parametrize(
    ("draft", "message"),
    [
        (("test.event", {"f": 1.5}, T0), "draft 2: statement body is not canonically encodable"),
        (("test.event", [], T0), "draft 2: statement field 'body' must be a map"),
        (("bad type", {}, T0), "draft 2: statement field 'type'"),
        (("test.event", {}, -1), "draft 2: statement field 'time'"),
        (("test.event", {}, T0, 0), "draft 2: statement field 'schema'"),
        (("test.event", {"b": b"x" * (MAX_ENTRY_SIZE - 100)}, T0), "draft 2: entry would be"),
    ],
)
def test_a_bad_draft_is_named_and_nothing_is_queued(draft: tuple[Any, ...], message: str) -> None:
    key = _key(4)
    with ChainSigner(key, ORIGIN, processes=0) as signer:
        with pytest.raises(EntryError, match=message):
            signer.submit([*_drafts(0, 2), draft, *_drafts(3, 5)])
        assert signer.head() == AuthorHead(0, b"\x00" * 32)
        got = signer.sign_many(_drafts(0, 4))
    assert [e.data for e in got] == [e.data for e in _expected(key, 0, 4)]


def test_the_size_limit_is_exact() -> None:
    # the largest body that fits: the signer's size arithmetic must match the real entry size
    key = _key(5)
    author = Author(key, ORIGIN)
    n = MAX_ENTRY_SIZE - 400
    while True:
        try:
            author.sign("test.event", {"b": b"x" * (n + 1)}, time=T0)
        except EntryError:
            break
        author = Author(key, ORIGIN)
        n += 1
    with ChainSigner(key, ORIGIN, processes=0) as signer:
        (entry,) = signer.sign_many([("test.event", {"b": b"x" * n}, T0)])
        assert len(entry.data) == MAX_ENTRY_SIZE
        with pytest.raises(EntryError, match=f"{MAX_ENTRY_SIZE + 1} bytes"):
            signer.submit([("test.event", {"b": b"x" * (n + 1)}, T0)])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"seq": -1},
        {"seq": 0, "prev": b"\x01" * 32},
        {"seq": 3, "prev": b"\x01" * 31},
        {"processes": 2},
        {"processes": True},
        {"start_method": "teleport"},
    ],
)
def test_bad_settings_are_usage_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        ChainSigner(_key(), ORIGIN, **kwargs)


def test_bad_arguments_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        ChainSigner("not a key", ORIGIN)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="log id"):
        ChainSigner(_key(), "has space")
    with ChainSigner(_key(), ORIGIN, processes=0) as signer:
        for bad in ("drafts", {"a": 1}, [("t", {}, 1, 1, 1)], [["test.event", {}, T0]]):
            with pytest.raises(UsageError):
                signer.submit(bad)  # type: ignore[arg-type]
        with pytest.raises(UsageError):
            list(signer.sign_batches([], ahead=0))


def test_a_helper_that_signs_over_another_chain_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    real = signer_mod._sign_chain

    def wrong_start(sign: Any, verify: Any, public: bytes, prev: bytes, *parts: Any) -> Any:
        return real(sign, verify, public, b"\x07" * 32, *parts)

    monkeypatch.setattr(signer_mod, "_sign_chain", wrong_start)
    with ChainSigner(_key(6), ORIGIN, processes=0) as signer:
        batch = signer.submit(_drafts(0, 10))
        with pytest.raises(SignerError, match="seq 1 over a different chain"):
            batch.result()
        # the chain state is unknown now: everything after is refused
        with pytest.raises(SignerError):
            signer.submit(_drafts(10, 11))
        with pytest.raises(SignerError):
            signer.head()


def test_a_wrong_signature_from_the_helper_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    real = signer_mod._sign_chain
    other = _key(99)

    def other_key(sign: Any, verify: Any, public: bytes, prev: bytes, *parts: Any) -> Any:
        return real(other.sign, verify, public, prev, *parts)

    monkeypatch.setattr(signer_mod, "_sign_chain", other_key)
    with (
        ChainSigner(_key(7), ORIGIN, processes=0) as signer,
        pytest.raises(SignerError, match="batch item 0: the signature made does not verify"),
    ):
        signer.sign_many(_drafts(0, 3))


def test_every_signature_the_helper_makes_is_checked() -> None:
    """A fault in one signature in the middle of a batch (here: the helper's signing function
    flips a bit of the 5th signature) is caught by the helper's check of that signature."""
    calls = {"n": 0}
    key = _key(10)

    def faulty(message: bytes) -> bytes:
        calls["n"] += 1
        sig = key.sign(message)
        return sig if calls["n"] != 5 else sig[:40] + bytes([sig[40] ^ 1]) + sig[41:]

    with pytest.raises(SignerError, match="batch item 4: the signature made does not verify"):
        signer_mod._sign_chain(faulty, key.verify, key.public.raw, ZERO_HASH, *_parts(key, 8), 8)


def _sign_remote_flipping(prev: bytes | None, heads: Any, tails: Any, checked: int) -> Any:
    """A helper task whose signing function flips a bit of the signature at the batch position
    named by the environment variable ``FLIP_AT`` (inherited by the forked helper)."""
    worker = signer_mod._worker
    real_sign = worker["sign"]
    flip_at = int(os.environ["FLIP_AT"])
    calls = {"n": 0}

    def faulty(message: bytes) -> bytes:
        sig: bytes = real_sign(message)
        calls["n"] += 1
        return sig if calls["n"] != flip_at + 1 else sig[:50] + bytes([sig[50] ^ 4]) + sig[51:]

    start: bytes = worker["prev"] if prev is None else prev
    out = signer_mod._sign_chain(
        faulty, worker["verify"], worker["public"], start, heads, tails, checked
    )
    worker["prev"] = out[-32:]
    return out, 0.0


@pytest.mark.parametrize(
    ("flip_at", "message"),
    [
        (2, r"batch item 2: the signature made does not verify"),  # the helper's own check
        (3, r"does not verify \(statement seq 4, batch item 3\)"),  # the caller's check
    ],
)
def test_a_bad_signature_from_the_helper_process_is_refused(
    monkeypatch: pytest.MonkeyPatch, flip_at: int, message: str
) -> None:
    """The helper process checks the first signatures of a batch as it signs them (half of
    them in a signer's first batch), the caller the others: a bad signature at either kind of
    position never becomes an entry."""
    monkeypatch.setenv("FLIP_AT", str(flip_at))
    monkeypatch.setattr(signer_mod, "_sign_remote", _sign_remote_flipping)
    with (
        ChainSigner(_key(13), ORIGIN, processes=1, start_method="fork") as signer,
        pytest.raises(SignerError, match=message),
    ):
        signer.sign_many(_drafts(0, 6))


def test_every_leaf_the_helper_returns_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A helper answer whose leaf hash for an entry in the middle of the batch is not that of
    the entry the caller builds is refused: every entry is hashed, not only the first and last."""
    real = signer_mod._sign_chain

    def wrong_middle(sign: Any, verify: Any, public: bytes, prev: bytes, *parts: Any) -> Any:
        out: bytes = real(sign, verify, public, prev, *parts)
        at = 4 * 96 + 64  # the leaf hash of batch item 4
        return out[:at] + bytes([out[at] ^ 1]) + out[at + 1 :]

    monkeypatch.setattr(signer_mod, "_sign_chain", wrong_middle)
    with (
        ChainSigner(_key(11), ORIGIN, processes=0) as signer,
        pytest.raises(SignerError, match="seq 5 over a different chain"),
    ):
        signer.sign_many(_drafts(0, 8))


def test_signed_entries_are_verified_entries_the_log_takes_as_they_are() -> None:
    with ChainSigner(_key(12), ORIGIN, processes=0) as signer:
        entries = signer.sign_many(_drafts(0, 5))
    assert all(type(e) is VerifiedEntry for e in entries)
    log = Log(ORIGIN)
    assert [r.index for r in log.append_many(entries)] == list(range(5))


def test_done_says_whether_the_helpers_answer_is_in() -> None:
    """``done()`` is True once the helper has answered a batch (before ``result()`` reads it),
    False while it has not: here the helper is stopped (SIGSTOP) until the second look."""
    with ChainSigner(_key(22), ORIGIN) as signer:
        signer.sign_many(_drafts(0, 2))  # the helper is running
        assert signer._helper is not None
        [process] = signer._helper.processes
        os.kill(process.pid, signal.SIGSTOP)
        try:
            first = signer.submit(_drafts(2, 40))
            second = signer.submit(_drafts(40, 80))
            time.sleep(0.3)
            assert not first.done() and not second.done()
        finally:
            os.kill(process.pid, signal.SIGCONT)
        deadline = time.monotonic() + 60
        while not second.done() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert first.done() and second.done()  # both answers in, neither read yet
        assert first._entries is None and second._entries is None
        assert [e.statement.seq for e in first.result() + second.result()] == list(range(3, 81))


def test_a_killed_helper_is_a_signer_error_not_a_foreign_one() -> None:
    with ChainSigner(_key(8), ORIGIN) as signer:
        signer.sign_many(_drafts(0, 2))
        helper = signer._helper
        assert helper is not None
        [process] = helper.processes
        os.kill(process.pid, signal.SIGKILL)
        with pytest.raises(SignerError, match=r"the signing helper ended .*exit code -9"):
            signer.sign_many(_drafts(2, 3))
        with pytest.raises(SignerError):
            signer.submit(_drafts(3, 4))


def _handlers(pid: int) -> tuple[bool, bool]:
    """Whether process ``pid`` catches SIGTERM and ignores SIGINT (from /proc)."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    caught, ignored = int(fields["SigCgt"], 16), int(fields["SigIgn"], 16)
    return bool(caught & 1 << (signal.SIGTERM - 1)), bool(ignored & 1 << (signal.SIGINT - 1))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_the_helper_does_not_run_its_parents_signal_handlers() -> None:
    caught: list[int] = []
    old = signal.signal(signal.SIGTERM, lambda signum, frame: caught.append(signum))
    try:
        with ChainSigner(_key(13), ORIGIN) as signer:
            signer.sign_many(_drafts(0, 2))
            helper = signer._helper
            assert helper is not None
            [process] = helper.processes
            assert _handlers(process.pid) == (False, True)  # SIGTERM: default; SIGINT ignored
            os.kill(process.pid, signal.SIGTERM)  # ends it, as a terminate() expects
            process.join(timeout=60)
            assert process.exitcode == -signal.SIGTERM
            with pytest.raises(SignerError, match="exit code -15"):
                signer.sign_many(_drafts(2, 3))
        assert caught == []  # and the handler stayed this process's
    finally:
        signal.signal(signal.SIGTERM, old)


def test_a_helper_killed_while_it_answers_is_a_signer_error_not_a_hang() -> None:
    """The helper killed halfway through writing a batch's answer (the out-of-memory killer):
    the append fails with SignerError at once. Its answers came through a process pool's result
    pipe, which the caller then waited on for ever."""
    code = f"""
import multiprocessing.connection, os, signal, sys, time
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from test_signer import ORIGIN, _drafts, _key
from electlog.errors import SignerError
from electlog.signer import ChainSigner

parent = os.getpid()
send = multiprocessing.connection.Connection._send

def half_then_killed(self, buf, *args):  # in the helper: half of a batch's answer, then SIGKILL
    if os.getpid() != parent and len(buf) > 20_000:
        os.write(self.fileno(), bytes(buf)[: len(buf) // 2])
        os.kill(os.getpid(), signal.SIGKILL)
    return send(self, buf, *args)

multiprocessing.connection.Connection._send = half_then_killed
started = time.monotonic()
try:
    with ChainSigner(_key(21), ORIGIN, start_method="fork") as signer:
        signer.sign_many(_drafts(0, 1000))
    print("no error")
except SignerError as exc:
    print(exc)
print(time.monotonic() - started)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    message, seconds = done.stdout.splitlines()[-2:]
    assert message.startswith("the signing helper ended before its work was done (exit code -9")
    assert float(seconds) < 30


def test_close_fails_pending_batches_and_later_calls() -> None:
    signer = ChainSigner(_key(9), ORIGIN)
    batch = signer.submit(_drafts(0, 200))
    signer.close()
    with pytest.raises(SignerError, match="closed before this batch completed"):
        batch.result()
    with pytest.raises(UsageError, match="closed"):
        signer.submit(_drafts(0, 1))
    signer.close()  # idempotent
    assert "ChainSigner(key_id=" in repr(signer) and "seed" not in repr(signer)


# ------------------------------------------------------------------ issue 16: the lean path

PIN_ORIGIN = "example.org/pin"
PIN_DIGEST = "b91e92e229512080cc986498bddfdf994ac921d42ad841c9c4b05abf4b53de43"
"""SHA-256 of the 1,500 entries of ``_pin_drafts`` one after another, as ``Author.sign`` made
them before the ChainSigner's encoding, answers and appends were reworked (issue 16): Ed25519
is deterministic, so the same drafts and key must give these bytes for ever."""
PIN_LAST_LEAF = "9fc499350155e7210ce8e4ca5a9a595e6df502398b43b33ca109083aea905d04"


def _pin_body(i: int) -> dict[str, Any]:
    c = i % 19
    return {
        "box": f"c{c:02d}-b{i % 3}",
        "marks": {
            "dir": {"for": [f"d{i % 2}"], "write_in": []},
            "mem": {"against": [i % 3], "for": ["m"]},
        },
        "round": 1,
        "serial": i,
        "z": {"y": b"\x01" * (i % 5), "x": None, "neg": -i, "big": 2**64 - 1 - i, "t": True},
        "ünï": "ǅ",
    }


def _pin_drafts() -> list[tuple[str, dict[str, Any], int, int]]:
    return [
        ("test.pin" if i % 2 else "ballot.recorded", _pin_body(i), T0 + i * 1000, 1 + i % 3)
        for i in range(1500)
    ]


@pytest.mark.parametrize("processes", [0, 1])
def test_the_stored_bytes_are_those_pinned_before_the_rework(
    processes: int, tmp_path: Path
) -> None:
    key = SigningKey.from_seed(bytes([21]) * 32)
    drafts = _pin_drafts()
    author = Author(key, PIN_ORIGIN)
    made = [author.sign(t, body, time=at, schema=sv) for t, body, at, sv in drafts]
    assert hashlib.sha256(b"".join(e.data for e in made)).hexdigest() == PIN_DIGEST
    batches = [drafts[:1], drafts[1:400], drafts[400:1100], drafts[1100:]]
    with SQLiteStore(tmp_path / "pin.sqlite", origin=PIN_ORIGIN) as store:
        log = Log(store)
        with ChainSigner(key, PIN_ORIGIN, processes=processes) as signer:
            for entries in signer.sign_batches(batches, ahead=1):
                log.append_many(entries)
        stored = b"".join(store.entries())
        assert hashlib.sha256(stored).hexdigest() == PIN_DIGEST
        assert log.author_head(key.key_id) == AuthorHead(1500, bytes.fromhex(PIN_LAST_LEAF))
        memory = Log(PIN_ORIGIN)
        memory.append_many(made)
        assert log.root() == memory.root()


class _Key(str):
    pass


_body_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.integers(min_value=2**64, max_value=2**66)
    | st.floats(allow_nan=False, width=32)
    | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=4) | st.text(max_size=3).map(_Key), children, max_size=4)
    ),
    max_leaves=16,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.dictionaries(st.text(max_size=5), _body_values, max_size=5),
    seq=st.integers(min_value=1, max_value=2**63 - 1),
    time=st.integers(min_value=0, max_value=2**63 - 1),
    schema=st.integers(min_value=1, max_value=2**63 - 1),
)
def test_the_signers_statement_encoding_is_the_general_one(
    body: dict[str, Any], seq: int, time: int, schema: int
) -> None:
    """ChainSigner packs a statement with two msgpack calls around the body's canonical tree;
    for any body, the bytes (or the refusal) are exactly those of the general encoder."""
    key = _key(14)
    signer = ChainSigner(key, ORIGIN, processes=0)
    try:
        want: tuple[bytes, bytes] | str = signer_mod._split_parts(
            key.key_id, body, ORIGIN, schema, seq, time, "test.event"
        )
    except EntryError as exc:
        want = str(exc)
    try:
        got: tuple[bytes, bytes] | str = signer._parts("test.event", body, schema, seq, time)
    except EntryError as exc:
        got = str(exc)
    assert got == want
    if isinstance(got, tuple):
        prev = ZERO_HASH if seq == 1 else b"\x05" * 32
        statement = Statement(
            log=ORIGIN, type="test.event", schema=schema, author=key.key_id, seq=seq,
            prev=prev, time=time, body=body,
        )  # fmt: skip
        assert got[0] + prev + got[1] == statement.to_bytes()


def test_signed_entries_are_a_sequence_of_verified_entries() -> None:
    key = _key(15)
    want = _expected(key, 0, 12)
    with ChainSigner(key, ORIGIN, processes=0) as signer:
        got = signer.sign_many(_drafts(0, 12))
    assert isinstance(got, signer_mod.SignedEntries)
    assert len(got) == 12 and got == want and want == got
    assert got[3] == want[3] and got[-1].leaf_hash == want[-1].leaf_hash
    assert got[2:5] == want[2:5] and [e.data for e in got] == [e.data for e in want]
    assert all(type(e) is VerifiedEntry for e in got)
    assert [e.statement for e in got] == [e.statement for e in want]
    assert [e.statement_bytes for e in got] == [e.statement_bytes for e in want]
    assert [e.signature for e in got] == [e.signature for e in want]
    assert got + want[:1] == [*want, want[0]] and want[:1] + got == [want[0], *want]
    assert list(got.data) == [e.data for e in want]
    assert list(got.leaf_hashes) == [e.leaf_hash for e in want]
    assert (got.author, got.first_seq, got.prev) == (key.key_id, 1, ZERO_HASH)
    copy = pickle.loads(pickle.dumps(got))
    assert copy == want and all(type(e) is VerifiedEntry for e in copy)
    assert "12 entries, seq 1..12" in repr(got)
    with pytest.raises(UsageError, match="made by a ChainSigner"):
        signer_mod.SignedEntries()
    with pytest.raises(TypeError):
        hash(got)


def test_the_log_appends_signed_entries_with_the_same_checks(tmp_path: Path) -> None:
    key = _key(16)
    with ChainSigner(key, ORIGIN, processes=0) as signer:
        first = signer.sign_many(_drafts(0, 300))
        second = signer.sign_many(_drafts(300, 301))
    with ChainSigner(key, "example.org/another-log", processes=0) as other:
        foreign = other.sign_many(_drafts(0, 3))
    for store in (SQLiteStore(tmp_path / "a.sqlite", origin=ORIGIN), None):
        log = Log(store if store is not None else ORIGIN)
        assert log.append_many(first[:0]) == []
        with pytest.raises(AuthorChainError, match=r"batch item 0: .* number 301, expected 1"):
            log.append_many(second)
        with pytest.raises(LogIdMismatchError, match="batch item 0"):
            log.append_many(foreign)
        receipts = log.append_many(first)
        assert [r.index for r in receipts] == list(range(300))
        assert [r.leaf_hash for r in receipts] == list(first.leaf_hashes)
        with pytest.raises(AuthorChainError, match=r"batch item 0: .* number 1, expected 301"):
            log.append_many(first)  # already appended: refused, nothing changes
        assert len(log) == 300
        log.append_many(second)
        reference = Log(ORIGIN)
        reference.append_many(list(first) + list(second))  # the general path
        assert len(log) == 301 and log.root() == reference.root()
        assert [log.get_bytes(i) for i in range(301)] == [e.data for e in reference]
        assert log.author_head(key.key_id) == AuthorHead(301, second[0].leaf_hash)
        if store is not None:
            store.close()


def test_a_signed_batch_that_does_not_link_to_the_log_is_refused() -> None:
    key = _key(17)
    log = Log(ORIGIN)
    log.append_many(_expected(key, 0, 3))
    head = log.author_head(key.key_id)
    assert head is not None
    with ChainSigner(key, ORIGIN, seq=head.seq, prev=b"\x09" * 32, processes=0) as signer:
        stray = signer.sign_many(_drafts(3, 5))
    with pytest.raises(AuthorChainError, match=r"batch item 0: .* seq 4 does not link"):
        log.append_many(stray)
    assert len(log) == 3


@pytest.mark.parametrize(
    ("entries", "leaves"),
    [
        ([b"x"], []),
        ([b"x"], [b"\x00" * 31]),
        (["x"], [b"\x00" * 32]),
        ([b"x"], [bytearray(32)]),
    ],
)
def test_a_bulk_append_of_bad_rows_is_a_usage_error(
    tmp_path: Path, entries: list[Any], leaves: list[Any]
) -> None:
    with SQLiteStore(tmp_path / "bad.sqlite", origin=ORIGIN) as store:
        with pytest.raises(UsageError), store.transaction() as tx:
            tx.append_run(entries, leaves, b"\x01" * 32, 1)
        assert store.size() == 0


def test_the_checks_follow_the_processes_measured_cpu_time() -> None:
    with ChainSigner(_key(18), ORIGIN, processes=0) as signer:
        assert signer._share == 0.5
        assert signer.submit(_drafts(0, 8))._checked == 4
        signer._cpu_mark = time.process_time()  # a cycle of (almost) nothing here
        signer._rebalance(1000, 0.030, 20e-6)  # the helper spent 30 ms: it checks less
        assert 0.0 <= signer._share < 0.5
        busy = signer._share
        signer._cpu_mark = time.process_time() - 1.0  # this process spent a second: it checks less
        signer._rebalance(1000, 0.030, 20e-6)
        assert signer._share == 1.0 or signer._share > busy
        before = signer._share
        signer._rebalance(1000, None, 20e-6)  # signed here: nothing to balance
        signer._rebalance(0, 0.030, 20e-6)
        assert signer._share == before
        signer._share = 0.25
        assert signer.submit(_drafts(8, 16))._checked == 2
        # the helper checked a whole batch (none here): the last measured cost still moves them
        signer._share = 1.0
        signer._cpu_mark = time.process_time()
        signer._rebalance(1000, 0.030, 0.0)
        assert signer._share < 1.0


@pytest.mark.parametrize(
    ("share", "flip_at", "message"),
    [
        (0.0, 0, r"does not verify \(statement seq 1, batch item 0\)"),  # all checked here
        (1.0, 5, r"batch item 5: the signature made does not verify"),  # all in the helper
    ],
)
def test_every_signature_is_checked_whichever_process_checks_it(
    monkeypatch: pytest.MonkeyPatch, share: float, flip_at: int, message: str
) -> None:
    monkeypatch.setenv("FLIP_AT", str(flip_at))
    monkeypatch.setattr(signer_mod, "_sign_remote", _sign_remote_flipping)
    with (
        ChainSigner(_key(19), ORIGIN, processes=1, start_method="fork") as signer,
        pytest.raises(SignerError, match=message),
    ):
        signer._share = share
        signer.sign_many(_drafts(0, 6))
