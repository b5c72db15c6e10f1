"""The portable bundle: exact layout, streaming reads, damage detection, checked import."""

from __future__ import annotations

import hashlib
import io
import struct
import tracemalloc
import zlib
from pathlib import Path

import pytest

from electlog import codec
from electlog.checkpoint import NoteSigner
from electlog.errors import (
    AppendError,
    BundleError,
    BundleErrorReason,
    SignatureError,
    UsageError,
)
from electlog.events import MAX_ENTRY_SIZE, Author, Entry
from electlog.keys import SigningKey
from electlog.log import Log
from electlog.publish.bundle import (
    BUNDLE_MAGIC,
    MAX_BUNDLE_HEADER_SIZE,
    MAX_BUNDLE_NOTE_SIZE,
    BundleReader,
    export_bundle,
    import_bundle,
)
from electlog.store import MemoryStore, SQLiteStore, StoredCheckpoint

ORIGIN = "example.org/bundle-test"
T0 = 1_767_225_600_000_000
ROOT = Path(__file__).resolve().parents[2]

# The empty bundle of log "example.org/log" (docs/format.md, section 5).
EMPTY_BUNDLE_HEX = (
    "454c4543544c4f472d42554e444c450a"
    "00000031"
    "84ab636865636b706f696e747300a7656e747269657300a66f726967696e"
    "af6578616d706c652e6f72672f6c6f67a17601"
    "34559da9"
    "00000000"
    "00000000"
    "f10b3293592c01a00247393575c58c834e02969b7b1214f607bab53aa2c1c440"
)


def _entries(n: int, authors: int = 3) -> list[Entry]:
    signers = [Author(SigningKey.from_seed(bytes([k + 1]) * 32), ORIGIN) for k in range(authors)]
    return [signers[i % authors].sign("t", {"i": i}, time=T0 + i) for i in range(n)]


SIGNER = NoteSigner.generate(ORIGIN, rng_seed=b"\x21" * 32)


def _log(n: int, checkpoint_sizes: tuple[int, ...] = ()) -> tuple[Log, list[Entry]]:
    log = Log(MemoryStore(ORIGIN))
    entries = _entries(n)
    done = 0
    for size in sorted(set(checkpoint_sizes) | {n}):
        log.append_many(entries[done:size])
        done = size
        if size in checkpoint_sizes:
            log.checkpoint(SIGNER)
    return log, entries


def _record(payload: bytes) -> bytes:
    head = struct.pack(">I", len(payload))
    return head + payload + struct.pack(">I", zlib.crc32(head + payload))


def _handmade(
    origin: str, entries: list[bytes], notes: list[str], count: int | None = None
) -> bytes:
    """A bundle assembled from the byte-exact description in docs/format.md."""
    header = codec.encode(
        {
            "checkpoints": len(notes),
            "entries": len(entries) if count is None else count,
            "origin": origin,
            "v": 1,
        }
    )
    body = BUNDLE_MAGIC + _record(header)
    body += b"".join(_record(e) for e in entries) + b"\x00" * 4
    body += b"".join(_record(n.encode()) for n in notes) + b"\x00" * 4
    return body + hashlib.sha256(body).digest()


def _read_all(source: Path | io.BytesIO) -> tuple[list[tuple[int, bytes, int]], BundleReader]:
    reader = BundleReader(source)
    return list(reader), reader


def test_layout_is_exactly_as_documented(tmp_path: Path) -> None:
    log, entries = _log(40, checkpoint_sizes=(0, 17, 40))
    info = export_bundle(log, tmp_path / "b.bundle")
    data = (tmp_path / "b.bundle").read_bytes()
    notes = [cp.note for cp in log.checkpoints()]
    assert data == _handmade(ORIGIN, [e.data for e in entries], notes)
    assert info.size_bytes == len(data)
    assert info.sha256 == hashlib.sha256(data[:-32]).digest() == data[-32:]
    assert (info.origin, info.entries, info.checkpoints) == (ORIGIN, 40, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["b.bundle"]  # no temporary file left


def test_empty_bundle_vector(tmp_path: Path) -> None:
    info = export_bundle(MemoryStore("example.org/log"), tmp_path / "e.bundle")
    data = (tmp_path / "e.bundle").read_bytes()
    assert data.hex() == EMPTY_BUNDLE_HEX
    assert info.entries == 0 and info.checkpoints == 0
    doc = (ROOT / "docs" / "format.md").read_text(encoding="utf-8")
    flat = "".join(doc.split())
    assert EMPTY_BUNDLE_HEX in flat, "docs/format.md must show the empty-bundle vector"


def test_reader_yields_entries_offsets_and_checkpoints(tmp_path: Path) -> None:
    log, entries = _log(300, checkpoint_sizes=(1, 256, 300))
    path = tmp_path / "b.bundle"
    export_bundle(log.store, path)
    data = path.read_bytes()
    with BundleReader(path) as reader:
        assert (reader.origin, reader.format_version) == (ORIGIN, 1)
        assert (reader.entry_count, reader.checkpoint_count) == (300, 3)
        got = list(reader)
        assert [i for i, _, _ in got] == list(range(300))
        assert reader.entries_offset == got[0][2]  # the first entry record starts there
        assert [d for _, d, _ in got] == [e.data for e in entries]
        for _, d, offset in got:
            assert data[offset : offset + 4] == struct.pack(">I", len(d))
            assert data[offset + 4 : offset + 4 + len(d)] == d
        assert reader.checkpoints == log.checkpoints()
        assert reader.sha256 == data[-32:]
        assert list(reader) == got  # a second pass starts again at entry 0
    assert "BundleReader" in repr(reader)


def test_checkpoints_without_iterating_and_from_a_stream(tmp_path: Path) -> None:
    log, _ = _log(10, checkpoint_sizes=(5, 10))
    path = tmp_path / "b.bundle"
    export_bundle(log, path)
    reader = BundleReader(path)
    assert [cp.size for cp in reader.checkpoints] == [5, 10]
    reader.close()
    stream = io.BytesIO(path.read_bytes())
    got, reader = _read_all(stream)
    assert len(got) == 10 and reader.checkpoints == log.checkpoints()
    reader.verify()


def test_up_to_checkpoint(tmp_path: Path) -> None:
    log, entries = _log(30, checkpoint_sizes=(10, 20, 30))
    cps = log.checkpoints()
    for chosen in (cps[1], cps[1].note):
        export_bundle(log, tmp_path / "b.bundle", up_to_checkpoint=chosen)
        got, reader = _read_all(tmp_path / "b.bundle")
        assert [d for _, d, _ in got] == [e.data for e in entries[:20]]
        assert reader.checkpoints == cps[:2]
    with pytest.raises(UsageError, match="not one of"):
        export_bundle(log, tmp_path / "x.bundle", up_to_checkpoint="no such note")
    with pytest.raises(UsageError):
        export_bundle(log, tmp_path / "x.bundle", up_to_checkpoint=3)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        export_bundle("not a store", tmp_path / "x.bundle")  # type: ignore[arg-type]


def test_up_to_checkpoint_skips_a_later_larger_but_keeps_earlier_smaller(tmp_path: Path) -> None:
    log, _ = _log(12, checkpoint_sizes=(12,))
    small = log.checkpoint(SIGNER, size=4)
    export_bundle(log, tmp_path / "b.bundle", up_to_checkpoint=small)
    _, reader = _read_all(tmp_path / "b.bundle")
    assert reader.entry_count == 4
    assert reader.checkpoints == [StoredCheckpoint(4, small)]


def test_every_truncation_is_detected_and_the_prefix_survives(tmp_path: Path) -> None:
    log, entries = _log(6, checkpoint_sizes=(3, 6))
    path = tmp_path / "b.bundle"
    export_bundle(log, path)
    data = path.read_bytes()
    for cut in range(len(data)):
        stream = io.BytesIO(data[:cut])
        yielded: list[bytes] = []
        with pytest.raises(BundleError) as info:
            reader = BundleReader(stream)
            for _, d, _ in reader:
                yielded.append(d)
        err = info.value
        assert yielded == [e.data for e in entries[: len(yielded)]]
        assert err.last_good_index == len(yielded) - 1
        assert err.offset is not None and err.offset <= cut
        if yielded:
            assert f"entries 0 to {len(yielded) - 1} were read intact" in str(err)
        else:
            assert "no entry was read" in str(err) and "-1" not in str(err)


def test_every_flipped_byte_is_detected(tmp_path: Path) -> None:
    log, entries = _log(5, checkpoint_sizes=(5,))
    path = tmp_path / "b.bundle"
    export_bundle(log, path)
    data = path.read_bytes()
    for pos in range(len(data)):
        damaged = bytearray(data)
        damaged[pos] ^= 0x40
        yielded: list[bytes] = []
        with pytest.raises(BundleError) as info:
            reader = BundleReader(io.BytesIO(bytes(damaged)))
            for _, d, _ in reader:
                yielded.append(d)
            reader.verify()
        assert yielded == [e.data for e in entries[: len(yielded)]], pos
        assert info.value.last_good_index == len(yielded) - 1


def test_damage_reports_offset_and_last_good_index(tmp_path: Path) -> None:
    log, _ = _log(10)
    path = tmp_path / "b.bundle"
    export_bundle(log, path)
    reader = BundleReader(path)
    offsets = [off for _, _, off in reader]
    reader.close()
    data = bytearray(path.read_bytes())
    data[offsets[7] + 10] ^= 1  # inside entry 7
    reader = BundleReader(io.BytesIO(bytes(data)))
    seen = []
    with pytest.raises(BundleError, match="entry 7 fails its CRC-32") as info:
        for index, _, _ in reader:
            seen.append(index)
    assert seen == list(range(7))
    assert (info.value.offset, info.value.last_good_index) == (offsets[7], 6)
    assert f"byte offset {offsets[7]}" in str(info.value)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda b: b"NOT-A-BUNDLE...." + b[16:], "bad magic"),
        (lambda b: b"", "truncated in the magic"),
        (lambda b: b + b"x", "bytes follow"),
        (lambda b: b[:-32] + bytes(32), "trailer does not match"),
    ],
)
def test_file_level_damage(tmp_path: Path, mutate: object, match: str) -> None:
    log, _ = _log(3)
    path = tmp_path / "b.bundle"
    export_bundle(log, path)
    assert callable(mutate)
    path.write_bytes(mutate(path.read_bytes()))
    with pytest.raises(BundleError, match=match):
        BundleReader(path).verify()


def test_header_rules(tmp_path: Path) -> None:
    def header_bundle(header: bytes) -> io.BytesIO:
        return io.BytesIO(BUNDLE_MAGIC + _record(header) + b"\x00" * 8 + bytes(32))

    cases = [
        (codec.encode({"checkpoints": 0, "entries": 0, "origin": ORIGIN, "v": 2}), "version"),
        (codec.encode({"entries": 0, "origin": ORIGIN, "v": 1}), "must be a map"),
        (codec.encode({"checkpoints": 0, "entries": -1, "origin": ORIGIN, "v": 1}), "count"),
        (codec.encode({"checkpoints": 0, "entries": 0, "origin": "", "v": 1}), "origin"),
        (codec.encode([1, 2]), "must be a map"),
        (b"\x81\xa1v\xcc\x01", "not canonical"),  # 1 written as a uint8
        (
            codec.encode({"checkpoints": 2**21, "entries": 0, "origin": ORIGIN, "v": 1}),
            "exceed the limit",
        ),
    ]
    for header, match in cases:
        with pytest.raises(BundleError, match=match) as info:
            BundleReader(header_bundle(header))
        assert info.value.last_good_index == -1
    too_big = struct.pack(">I", MAX_BUNDLE_HEADER_SIZE + 1)
    with pytest.raises(BundleError, match="more than the limit") as info:
        BundleReader(io.BytesIO(BUNDLE_MAGIC + too_big))
    assert info.value.offset == 16
    with pytest.raises(BundleError, match="empty"):
        BundleReader(io.BytesIO(BUNDLE_MAGIC + b"\x00" * 4))
    with pytest.raises(BundleError, match="cannot open"):
        BundleReader(tmp_path / "missing.bundle")


def test_record_limits_and_counts(tmp_path: Path) -> None:
    entries = _entries(3)
    datas = [e.data for e in entries]
    note = Log(ORIGIN).checkpoint(NoteSigner.generate(ORIGIN, rng_seed=b"\x01" * 32))
    R = BundleErrorReason
    cases = [
        (_handmade(ORIGIN, datas, [], count=4), "end of entries after 3", R.DAMAGED),
        (_handmade(ORIGIN, datas, [], count=2), "more entries than the 2", R.DAMAGED),
        (
            _handmade(ORIGIN, datas, ["not a checkpoint\n\n— x AAAA\n"]),
            "does not parse",
            R.CHECKPOINT_UNPARSABLE,
        ),
        (
            _handmade(ORIGIN, [], [note.replace(ORIGIN, "example.org/x")]),
            "for log",
            R.CHECKPOINT_WRONG_ORIGIN,
        ),
        (
            _handmade("example.org/other", [], [note.replace(ORIGIN, "example.org/other")]),
            None,
            None,
        ),
    ]
    for data, match, reason in cases:
        reader = BundleReader(io.BytesIO(data))
        if match is None:
            reader.verify()
            continue
        with pytest.raises(BundleError, match=match) as info:
            reader.verify()
        assert info.value.reason is reason
        assert info.value.reason.is_checkpoint_content == (reason is not R.DAMAGED)
    # a checkpoint beyond the bundled entries
    log, _ = _log(5, checkpoint_sizes=(5,))
    with pytest.raises(BundleError, match="commits to 5 entries") as info:
        BundleReader(io.BytesIO(_handmade(ORIGIN, datas, [log.checkpoints()[0].note]))).verify()
    assert info.value.reason is R.CHECKPOINT_BEYOND_ENTRIES
    # an entry longer than MAX_ENTRY_SIZE
    head = BUNDLE_MAGIC + _record(
        codec.encode({"checkpoints": 0, "entries": 1, "origin": ORIGIN, "v": 1})
    )
    huge = head + struct.pack(">I", MAX_ENTRY_SIZE + 1) + b"x" * 100
    with pytest.raises(BundleError, match=f"more than {MAX_ENTRY_SIZE}") as info:
        list(BundleReader(io.BytesIO(huge)))
    assert info.value.offset == len(head)
    # a note longer than the note limit
    head = BUNDLE_MAGIC + _record(
        codec.encode({"checkpoints": 1, "entries": 0, "origin": ORIGIN, "v": 1})
    )
    big_note = head + b"\x00" * 4 + struct.pack(">I", MAX_BUNDLE_NOTE_SIZE + 1)
    with pytest.raises(BundleError, match="more than the limit"):
        BundleReader(io.BytesIO(big_note)).verify()


def test_streaming_reader_memory_does_not_grow_with_entries(tmp_path: Path) -> None:
    store = MemoryStore(ORIGIN)
    blob = b"e" * 300
    with store.transaction() as tx:
        for i in range(20000):
            tx.append(blob + i.to_bytes(4, "big"), hashlib.sha256(bytes(i)).digest(), b"a", i)
        # no Merkle nodes: the bundle carries no tree, the reader never looks at it
        tx.put_nodes([])
    path = tmp_path / "big.bundle"
    export_bundle(store, path)
    assert path.stat().st_size > 6_000_000
    reader = BundleReader(path)
    tracemalloc.start()
    count = 0
    for _, data, _ in reader:
        count += len(data) > 0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    reader.close()
    assert count == 20000
    assert peak < 1_000_000, f"reader peak memory {peak} bytes"


def test_import_into_sqlite_runs_every_check(tmp_path: Path) -> None:
    log, entries = _log(120, checkpoint_sizes=(50, 120))
    path = tmp_path / "b.bundle"
    export_bundle(log, path)
    store = SQLiteStore(tmp_path / "s.sqlite", origin=ORIGIN)
    result = import_bundle(path, store, batch_size=33)
    assert (result.entries, result.appended, result.checkpoints_added) == (120, 120, 2)
    assert list(store.entries()) == [e.data for e in entries]
    assert store.checkpoints() == log.checkpoints()
    assert Log(store).root() == log.root()
    again = import_bundle(path, Log(store))
    assert (again.appended, again.checkpoints_added) == (0, 0)
    store.close()
    # resume: a store holding a prefix receives the rest
    partial = Log(MemoryStore(ORIGIN))
    partial.append_many(entries[:70])
    assert import_bundle(BundleReader(path), partial).appended == 50
    assert partial.root() == log.root()


def test_import_refuses_forgeries_and_divergence(tmp_path: Path) -> None:
    entries = _entries(10)
    forged = codec.decode(entries[6].data)
    assert isinstance(forged, dict)
    forged["sig"] = bytes(64)
    datas = [e.data for e in entries]
    bad = tmp_path / "forged.bundle"
    bad.write_bytes(_handmade(ORIGIN, [*datas[:6], codec.encode(forged), *datas[7:]], []))
    store = MemoryStore(ORIGIN)
    with pytest.raises(SignatureError):
        import_bundle(bad, store, batch_size=4)
    assert store.size() == 4  # the first batch went in; the batch with the forgery did not
    # a checkpoint whose root does not match the bundled entries
    lying = Log(ORIGIN)
    lying.append_many(_entries(3, authors=1))
    note = lying.checkpoint(SIGNER)
    bad.write_bytes(_handmade(ORIGIN, datas[:3], [note]))
    with pytest.raises(AppendError, match="does not commit"):
        import_bundle(bad, MemoryStore(ORIGIN))
    # divergence and another log
    good = tmp_path / "good.bundle"
    good.write_bytes(_handmade(ORIGIN, datas, []))
    diverging = Log(MemoryStore(ORIGIN))
    diverging.append_many(_entries(2, authors=1))
    with pytest.raises(UsageError, match="differs"):
        import_bundle(good, diverging)
    with pytest.raises(UsageError, match="bundle is for log"):
        import_bundle(good, MemoryStore("example.org/other"))
    with pytest.raises(UsageError):
        import_bundle(good, MemoryStore(ORIGIN), batch_size=0)


def test_import_keeps_intact_entries_before_damage(tmp_path: Path) -> None:
    log, entries = _log(50)
    path = tmp_path / "b.bundle"
    export_bundle(log, path)
    data = path.read_bytes()
    reader = BundleReader(path)
    offsets = [off for _, _, off in reader]
    reader.close()
    path.write_bytes(data[: offsets[37] + 5])  # cut inside entry 37
    store = MemoryStore(ORIGIN)
    with pytest.raises(BundleError) as info:
        import_bundle(path, store, batch_size=10)
    assert info.value.last_good_index == 36
    assert list(store.entries()) == [e.data for e in entries[:37]]
