"""Limits and secrets.

Limits: every size limit (entry size, nesting, item counts, field lengths, list lengths, ballot
marks, signature lines, tree size, trust file size) accepts a value at the limit and rejects one
past it with its own specific error that names the limit and the offending value.

Secrets: private keys never appear in a repr, str, error message, CLI output or audit report,
and key files are created with mode 0600 whatever the umask.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from electlog import codec
from electlog.audit.trust import Trust, load_trust
from electlog.checkpoint import (
    MAX_NOTE_SIGNATURES,
    MAX_TREE_SIZE,
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    WitnessSigner,
    WitnessVerifier,
    cosign,
    open_note,
    sign_note,
)
from electlog.cli import main as cli_main
from electlog.election.events import (
    MAX_ID,
    MAX_LIST,
    MAX_TEXT,
    BallotRecorded,
    CommitteeMemberAppointed,
    UnitOpened,
)
from electlog.errors import (
    BundleError,
    CheckpointError,
    ElectlogError,
    EntryError,
    KeyFormatError,
    LengthLimitError,
    NestingTooDeepError,
    NoteError,
    StorageError,
    TrustFileError,
    UsageError,
)
from electlog.events import MAX_ENTRY_SIZE, Author, Entry, Statement
from electlog.keys import SigningKey, VerifyKey
from electlog.log import Log
from electlog.publish.bundle import (
    BUNDLE_MAGIC,
    MAX_BUNDLE_CHECKPOINTS,
    MAX_BUNDLE_HEADER_SIZE,
    MAX_BUNDLE_NOTE_SIZE,
    BundleReader,
)

ORIGIN = "example.org/limits"
T0 = 1_790_000_000_000_000


def rejects(fn: Callable[[], object], cls: type[ElectlogError], *needles: str) -> str:
    """``fn`` raises exactly ``cls`` (or a subclass) whose message contains every needle."""
    with pytest.raises(cls) as info:
        fn()
    message = str(info.value)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


# --------------------------------------------------------------------------- codec limits


def test_nesting_limit_at_and_past() -> None:
    at = b"\x91" * 31 + b"\x90"  # 32 nested arrays
    assert codec.decode(at) is not None
    past = b"\x91" * 32 + b"\x90"
    rejects(lambda: codec.decode(past), NestingTooDeepError, "max_depth 32", "offset 32")
    rejects(lambda: codec.decode(at, max_depth=5), NestingTooDeepError, "max_depth 5")
    rejects(lambda: codec.encode([[[]]], max_depth=2), codec.EncodeError, "max_depth 2")


def test_item_count_limit_at_and_past() -> None:
    three = b"\x93\x01\x02\x03"
    assert codec.decode(three, max_items=3) == [1, 2, 3]
    rejects(lambda: codec.decode(three, max_items=2), LengthLimitError, "3 items", "max_items 2")
    amap = codec.encode({"a": 1, "b": 2})
    rejects(lambda: codec.decode(amap, max_items=1), LengthLimitError, "2 items", "max_items 1")


def test_declared_length_beyond_input_is_its_own_error() -> None:
    # an array32 declaring 2**32-1 items in a 5-byte input: refused before any allocation
    rejects(
        lambda: codec.decode(b"\xdd\xff\xff\xff\xff"),
        LengthLimitError,
        "4294967295 items",
    )
    rejects(lambda: codec.decode(b"\xc6\x7f\xff\xff\xff"), LengthLimitError, "2147483647 byte")


def test_input_size_limit_at_and_past() -> None:
    data = codec.encode(b"x" * 90)
    assert codec.decode(data, max_size=len(data)) == b"x" * 90
    rejects(
        lambda: codec.decode(data, max_size=len(data) - 1),
        LengthLimitError,
        f"input is {len(data)} bytes",
        f"max_size {len(data) - 1}",
    )


# --------------------------------------------------------------------------- entries


def _entry_of_size(target: int) -> bytes:
    """Entry bytes of exactly ``target`` bytes (padding a bin field), built without the
    size check so a too-large one can be fed to the decoder."""
    key = SigningKey.from_seed(bytes([3]) * 32)
    pad = 0
    for _ in range(4):
        statement = Statement(
            log=ORIGIN,
            type="pad",
            schema=1,
            author=key.key_id,
            seq=1,
            prev=bytes(32),
            time=T0,
            body={"pad": b"p" * pad},
        )
        stmt = statement.to_bytes()
        sig = key.sign(b"electlog/v1/event\x00" + stmt)
        data = codec.encode({"key": key.public.raw, "sig": sig, "stmt": stmt})
        pad += target - len(data)
    assert len(data) == target
    return data


def test_entry_size_limit_at_and_past() -> None:
    at = _entry_of_size(MAX_ENTRY_SIZE)
    assert Entry.from_bytes(at).data == at
    past = _entry_of_size(MAX_ENTRY_SIZE + 1)
    rejects(
        lambda: Entry.from_bytes(past),
        EntryError,
        f"{MAX_ENTRY_SIZE + 1} bytes",
        f"more than {MAX_ENTRY_SIZE}",
    )
    author = Author(SigningKey.from_seed(bytes([3]) * 32), ORIGIN)
    rejects(
        lambda: author.sign("pad", {"pad": b"p" * MAX_ENTRY_SIZE}, time=T0),
        EntryError,
        f"more than {MAX_ENTRY_SIZE}",
    )
    assert author.seq == 0  # a refused signature does not advance the chain


def test_statement_field_lengths() -> None:
    key = SigningKey.from_seed(bytes([4]) * 32)
    author = Author(key, ORIGIN)
    author.sign("t" * 64, {}, time=T0)
    rejects(lambda: author.sign("t" * 65, {}, time=T0), EntryError, "'type'", "64 bytes")
    rejects(lambda: Author(key, "o" * 256), ElectlogError, "'log'", "255 bytes")


# --------------------------------------------------------------------------- event schemas


def test_event_id_and_text_lengths() -> None:
    ok = CommitteeMemberAppointed.from_body(
        {"community": "c" * MAX_ID, "member": "v1", "appointed_by": "x" * MAX_TEXT}
    )
    assert ok.community == "c" * MAX_ID
    rejects(
        lambda: CommitteeMemberAppointed.from_body(
            {"community": "c" * (MAX_ID + 1), "member": "v1", "appointed_by": "x"}
        ),
        EntryError,
        "committee.member_appointed.community",
        f"at most {MAX_ID}",
    )
    rejects(
        lambda: CommitteeMemberAppointed.from_body(
            {"community": "c", "member": "v1", "appointed_by": "x" * (MAX_TEXT + 1)}
        ),
        EntryError,
        "appointed_by",
        f"at most {MAX_TEXT}",
    )


def test_event_list_length() -> None:
    body = {"unit": "u1", "community": "c1", "round": 1, "kind": "main", "observers": []}
    UnitOpened.from_body({**body, "observers": ["o"] * MAX_LIST})
    rejects(
        lambda: UnitOpened.from_body({**body, "observers": ["o"] * (MAX_LIST + 1)}),
        EntryError,
        "unit.opened.observers",
        str(MAX_LIST),
    )


def test_ballot_marks_limits() -> None:
    def ballot(posts: int, marks: int) -> dict[str, object]:
        col = sorted(f"v{i:04d}" for i in range(marks))
        return {
            "box": "b1",
            "serial": bytes(16),
            "marks": {f"p{i}": {"against": [], "for": col, "write_ins": []} for i in range(posts)},
        }

    BallotRecorded.from_body(ballot(64, 256))
    rejects(lambda: BallotRecorded.from_body(ballot(65, 0)), EntryError, "at most 64 posts")
    rejects(lambda: BallotRecorded.from_body(ballot(1, 257)), EntryError, "more than 256 marks")


# --------------------------------------------------------------------------- notes, checkpoints


def _root_line() -> str:
    return base64.b64encode(bytes(32)).decode()


def test_signature_line_limit() -> None:
    signer = NoteSigner(ORIGIN, bytes([5]) * 32)
    note = sign_note(f"{ORIGIN}\n1\n{_root_line()}\n", [signer])
    text, _, line = note.partition("\n\n")
    at = text + "\n\n" + line * MAX_NOTE_SIGNATURES
    assert open_note(at, [signer.verifier()]).text == text + "\n"
    past = text + "\n\n" + line * (MAX_NOTE_SIGNATURES + 1)
    rejects(
        lambda: open_note(past, [signer.verifier()]),
        NoteError,
        f"{MAX_NOTE_SIGNATURES + 1} signature lines",
        f"more than {MAX_NOTE_SIGNATURES}",
    )
    rejects(
        lambda: sign_note(text + "\n", [signer] * (MAX_NOTE_SIGNATURES + 1)),
        UsageError,
        f"at most {MAX_NOTE_SIGNATURES}",
    )
    full = text + "\n\n" + line * MAX_NOTE_SIGNATURES
    witness = WitnessSigner("w1", bytes([6]) * 32)
    rejects(lambda: cosign(full, witness, 1), NoteError, "cannot add another")


def test_tree_size_limit() -> None:
    at = f"{ORIGIN}\n{MAX_TREE_SIZE}\n{_root_line()}\n"
    assert Checkpoint.from_text(at).size == MAX_TREE_SIZE
    past = f"{ORIGIN}\n{MAX_TREE_SIZE + 1}\n{_root_line()}\n"
    rejects(lambda: Checkpoint.from_text(past), CheckpointError, "exceeds 2**63-1")
    huge = f"{ORIGIN}\n{'9' * 100_000}\n{_root_line()}\n"
    rejects(lambda: Checkpoint.from_text(huge), CheckpointError, "exceeds 2**63-1")


def test_trust_file_size_limit(tmp_path: Path) -> None:
    signer = NoteSigner(ORIGIN, bytes([5]) * 32)
    trust = Trust.create(
        origin=ORIGIN,
        authority_key=SigningKey.from_seed(bytes(32)).public,
        log_key=signer.verifier(),
    )
    text = trust.to_json()
    path = tmp_path / "trust.json"
    path.write_text(text + " " * ((1 << 20) - len(text.encode())), encoding="utf-8")
    assert load_trust(path) == trust
    path.write_text(text + " " * ((1 << 20) - len(text.encode()) + 1), encoding="utf-8")
    rejects(lambda: load_trust(path), TrustFileError, "larger than 1048576 bytes")


# --------------------------------------------------------------------------- secrets


def _secret_strings(seed: bytes, *extra: str) -> list[str]:
    """Forms in which a seed could leak: hex, base64 of the seed and of alg||seed, the PEM
    body and the C2SP private-key prefix."""
    forms = [
        seed.hex(),
        seed.hex().upper(),
        base64.b64encode(seed).decode(),
        base64.b64encode(b"\x01" + seed).decode(),
        base64.b64encode(b"\x04" + seed).decode(),
        repr(seed)[2:-1],
    ]
    pem = SigningKey.from_seed(seed).to_pem().decode()
    forms.extend(line for line in pem.splitlines() if line and not line.startswith("-----"))
    forms.extend(extra)
    return forms


# a C2SP private key string: the prefix followed by a key name (naming the bare prefix in an
# error message, as "it must start with 'PRIVATE+KEY+'", leaks nothing)
_SKEY = re.compile(r"PRIVATE\+KEY\+[^'\"\s+]+\+")


def assert_no_secret(text: str, seed: bytes) -> None:
    for form in _secret_strings(seed):
        assert form not in text, f"secret material {form[:12]}… leaked in {text[:200]!r}"
    assert not _SKEY.search(text), f"a private key string leaked in {text[:200]!r}"


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


SEED = bytes(range(100, 132))


def test_reprs_never_show_private_keys() -> None:
    key = SigningKey.from_seed(SEED)
    note = NoteSigner(ORIGIN, SEED)
    witness = WitnessSigner("w1", SEED)
    author = Author(key, ORIGIN)
    texts = [repr(key), str(key), repr(note), str(note), repr(witness), str(witness)]
    texts += [repr(author), str(author), f"{key}", f"{note!r}", repr([key, note, witness])]
    entry = author.sign("demo.event", {"n": 1}, time=T0)
    texts.append(repr(entry))
    for text in texts:
        assert_no_secret(text, SEED)
    assert key.key_id.hex()[:16] in repr(key)  # the repr does identify the key


def failing_operations(tmp_path: Path) -> Iterator[Callable[[], object]]:
    """Operations that fail with key material close at hand."""
    key = SigningKey.from_seed(SEED)
    note = NoteSigner(ORIGIN, SEED)
    witness = WitnessSigner("w1", SEED)
    pem = key.to_pem()
    skey = note.skey
    wkey = witness.skey
    other = SigningKey.from_seed(bytes(32))
    statement = Statement(
        log=ORIGIN,
        type="x",
        schema=1,
        author=other.key_id,
        seq=1,
        prev=bytes(32),
        time=T0,
        body={},
    )
    yield lambda: Entry.create(statement, key)  # author is not the key
    yield lambda: SigningKey.from_pem(pem[:-30])  # truncated PEM
    yield lambda: SigningKey.from_pem(pem.replace(b"M", b"N", 1))
    yield lambda: SigningKey.from_pem(skey.encode())
    yield lambda: VerifyKey.from_text(pem.decode())
    yield lambda: VerifyKey.from_text(skey)
    yield lambda: NoteVerifier.from_vkey(skey)  # a secret key given where a public one goes
    yield lambda: WitnessVerifier.from_vkey(wkey)
    yield lambda: NoteSigner.from_skey(skey[:-2])
    yield lambda: NoteSigner.from_skey(skey.replace("+", "-", 3))
    yield lambda: NoteSigner.from_skey(skey[:-4] + "AAA=")  # key id no longer matches
    yield lambda: NoteSigner.from_skey(wkey)  # witness key as a note key
    yield lambda: WitnessSigner.from_skey(skey[:-1])
    yield lambda: Log(ORIGIN).checkpoint(NoteSigner("other.example", SEED))
    yield lambda: Trust.create(origin=ORIGIN, authority_key=skey, log_key=note.verifier())
    yield lambda: Trust.create(origin=ORIGIN, authority_key=key.public, log_key=skey)
    yield lambda: Trust.create(
        origin=ORIGIN, authority_key=key.public, log_key=note.verifier(), witnesses=[wkey]
    )
    path = tmp_path / "bad.pem"
    path.write_bytes(pem[: len(pem) // 2])
    yield lambda: SigningKey.load(path)
    existing = tmp_path / "exists.pem"
    existing.write_bytes(b"")
    yield lambda: key.save(existing)
    yield lambda: key.save(tmp_path / "no-such-dir" / "k.pem")


def test_errors_never_show_private_keys(tmp_path: Path) -> None:
    count = 0
    for op in failing_operations(tmp_path):
        with pytest.raises(ElectlogError) as info:
            op()
        exc = info.value
        texts = [str(exc), repr(exc), *(str(a) for a in exc.args)]
        cause = exc.__cause__ or exc.__context__
        while cause is not None:  # chained causes are printed in tracebacks too
            texts.append(str(cause))
            cause = cause.__cause__ or cause.__context__
        for text in texts:
            assert_no_secret(text, SEED)
        count += 1
    assert count >= 20


def test_cli_never_prints_private_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for kind, name in (("author", None), ("log", ORIGIN), ("witness", "w1")):
        out = tmp_path / f"{kind}.key"
        argv = ["keygen", kind, "--out", str(out)] + (["--name", name] if name else [])
        assert cli_main(argv) == 0
        printed = capsys.readouterr()
        secret = out.read_text(encoding="utf-8")
        if kind == "author":
            seed = SigningKey.from_pem(secret.encode()).seed()
        else:
            signer = (NoteSigner if kind == "log" else WitnessSigner).from_skey(secret.strip())
            seed = base64.b64decode(secret.strip().split("+", 4)[4])[1:]
            assert signer.vkey in printed.out
        assert "PRIVATE" not in printed.out + printed.err
        assert_no_secret(printed.out + printed.err, seed)
        # a second keygen to the same file refuses, without echoing the existing key
        assert cli_main(argv) == 2
        again = capsys.readouterr()
        assert "refusing to overwrite" in again.err
        assert_no_secret(again.out + again.err, seed)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_files_are_0600_whatever_the_umask(tmp_path: Path) -> None:
    with umask(0):
        key = SigningKey.from_seed(SEED)
        key.save(tmp_path / "author.pem")
        assert _mode(tmp_path / "author.pem") == 0o600
        assert SigningKey.load(tmp_path / "author.pem").seed() == SEED
        for kind, name in (("author", None), ("log", ORIGIN), ("witness", "w1")):
            out = tmp_path / f"cli-{kind}.key"
            argv = ["keygen", kind, "--out", str(out)] + (["--name", name] if name else [])
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                assert cli_main(argv) == 0
            assert _mode(out) == 0o600, (kind, oct(_mode(out)))


def test_save_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    SigningKey.from_seed(SEED).save(path)
    before = path.read_bytes()
    with pytest.raises(StorageError, match="refusing to overwrite"):
        SigningKey.from_seed(bytes(32)).save(path)
    assert path.read_bytes() == before


def test_key_format_errors_are_key_format_errors() -> None:
    with pytest.raises(KeyFormatError):
        SigningKey.from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(KeyFormatError):
        NoteSigner.from_skey("PRIVATE+KEY+x+00000000+AQ==")


# --------------------------------------------------------------------------- memory amplification


def _traced_peak(fn: Callable[[], object]) -> int:
    """Peak Python allocation (tracemalloc) while ``fn`` runs; its ElectlogError is ignored."""
    import tracemalloc

    own = not tracemalloc.is_tracing()
    if own:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        fn()
    except ElectlogError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1] - base
        if own:
            tracemalloc.stop()
    return peak


def _empty_arrays(size: int) -> bytes:
    """The worst input for memory: arrays of empty arrays (one 56-byte list per input byte)."""
    inner = min(size - 8, 65535)
    chunks = max((size - 3) // (3 + inner), 1)
    head = bytes([0x90 + chunks]) if chunks < 16 else b"\xdc" + chunks.to_bytes(2, "big")
    return head + (b"\xdc" + inner.to_bytes(2, "big") + b"\x90" * inner) * chunks


def test_entry_decoding_memory_is_bounded_at_the_entry_size_limit() -> None:
    """A 64 KiB entry, the largest accepted, whose statement body is 60,000 empty arrays:
    decoding it allocates less than 50 bytes per input byte (plus 2 MiB)."""
    key = SigningKey.from_seed(bytes([8]) * 32)
    body = codec.encode({"x": [[]] * 60_000})
    statement = Statement(
        log=ORIGIN,
        type="pad",
        schema=1,
        author=key.key_id,
        seq=1,
        prev=bytes(32),
        time=T0,
        body={"x": [[]] * 60_000},
    )
    entry = Entry.create(statement, key)
    assert len(entry.data) <= MAX_ENTRY_SIZE and len(body) > 60_000
    for data in (entry.data, entry.data[:-1] + b"\xc1"):
        peak = _traced_peak(lambda d=data: Entry.from_bytes(d))  # type: ignore[misc]
        assert peak < 50 * len(data) + (2 << 20), peak


def test_codec_memory_bound_at_the_default_max_size() -> None:
    data = _empty_arrays((1 << 20) - 64)
    assert len(data) <= codec.DEFAULT_MAX_SIZE
    peak = _traced_peak(lambda: rejects(lambda: codec.decode(data), LengthLimitError, "in total"))
    assert peak < 50 << 20, f"{peak / 1e6:.1f} MB for a {len(data)}-byte input"
    # the same shape within the total budget still decodes
    small = _empty_arrays(codec.MAX_TOTAL_ITEMS // 2)
    assert codec.decode(small) is not None


# --------------------------------------------------------------------------- bundle header


def _record(payload: bytes) -> bytes:
    import zlib

    head = len(payload).to_bytes(4, "big")
    return head + payload + zlib.crc32(payload, zlib.crc32(head)).to_bytes(4, "big")


def _bundle_with_header(header: bytes, rest: bytes = b"\x00" * 8) -> bytes:
    import hashlib

    body = BUNDLE_MAGIC + _record(header) + rest
    return body + hashlib.sha256(body).digest()


def _open_bundle(data: bytes) -> None:
    with BundleReader(io.BytesIO(data)) as reader:
        reader.verify()


def test_bundle_header_limits_each_have_their_own_error() -> None:
    good = {"checkpoints": 0, "entries": 0, "origin": ORIGIN, "v": 1}
    _open_bundle(_bundle_with_header(codec.encode(good)))  # the valid empty bundle
    cases = [
        ({**good, "v": 2}, "unsupported bundle format version 2"),
        ({**good, "origin": ""}, "header field 'origin' must be a non-empty string"),
        ({**good, "entries": -1}, "header field 'entries' must be a count"),
        ({**good, "checkpoints": True}, "header field 'checkpoints' must be a count"),
        ({**good, "checkpoints": MAX_BUNDLE_CHECKPOINTS + 1}, "checkpoints exceed the limit"),
        ({**good, "extra": 1}, "header must be a map of"),
    ]
    for header, message in cases:
        data = _bundle_with_header(codec.encode(header))
        rejects(lambda d=data: _open_bundle(d), BundleError, message)  # type: ignore[misc]
    at_limit = codec.encode({**good, "origin": "o" * (MAX_BUNDLE_HEADER_SIZE - 60)})
    assert len(at_limit) <= MAX_BUNDLE_HEADER_SIZE
    rejects(
        lambda: _open_bundle(_bundle_with_header(codec.encode({**good, "origin": "o" * 5000}))),
        BundleError,
        f"more than the limit {MAX_BUNDLE_HEADER_SIZE}",
    )
    rejects(
        lambda: _open_bundle(_bundle_with_header(b"\xc1")),
        BundleError,
        "header is not canonical msgpack",
    )


def test_bundle_record_limits() -> None:
    header = codec.encode({"checkpoints": 1, "entries": 1, "origin": ORIGIN, "v": 1})
    big_entry = (MAX_ENTRY_SIZE + 1).to_bytes(4, "big") + b"\x00" * 16
    rejects(
        lambda: _open_bundle(_bundle_with_header(header, big_entry)),
        BundleError,
        f"entry 0 declares {MAX_ENTRY_SIZE + 1} bytes, more than {MAX_ENTRY_SIZE}",
    )
    entry = Author(SigningKey.from_seed(bytes([9]) * 32), ORIGIN).sign("t", {}, time=T0).data
    big_note = (MAX_BUNDLE_NOTE_SIZE + 1).to_bytes(4, "big") + b"\x00" * 16
    rejects(
        lambda: _open_bundle(_bundle_with_header(header, _record(entry) + b"\x00" * 4 + big_note)),
        BundleError,
        f"more than the limit {MAX_BUNDLE_NOTE_SIZE}",
    )
