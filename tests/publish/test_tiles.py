"""tlog-tiles export: paths, tile contents per the C2SP definition, partial tiles, and roots and
proofs recomputed from the exported directory alone."""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

import pytest

from electlog import merkle
from electlog.checkpoint import NoteSigner
from electlog.errors import CheckpointError, ReadOnlyStoreError, TilesError, UsageError
from electlog.events import Author
from electlog.keys import SigningKey
from electlog.log import Log
from electlog.publish.tiles import TilesReader, entries_path, export_tiles, tile_path
from electlog.store import MemoryStore, SQLiteStore, Store

ORIGIN = "example.org/tiles-test"
SIGNER = NoteSigner.generate(ORIGIN, rng_seed=b"\x31" * 32)


def _raw_store(n: int, store: Store | None = None) -> tuple[Store, list[bytes]]:
    """A store of ``n`` unsigned entries (tiles do not look inside entries)."""
    store = store or MemoryStore(ORIGIN)
    datas = [b"entry-" + i.to_bytes(4, "big") * (1 + i % 5) for i in range(n)]
    for lo in range(0, n, 5000):
        chunk = datas[lo : lo + 5000]
        leaves = [merkle.leaf_hash(d) for d in chunk]
        with store.transaction() as tx:
            for i, (d, h) in enumerate(zip(chunk, leaves, strict=True)):
                tx.append(d, h, b"\x01" * 32, lo + i + 1)
            tx.put_nodes(x for x in merkle.new_nodes_batch(tx.node, lo, leaves) if x[0])
    return store, datas


def _files(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


def test_paths() -> None:
    assert tile_path(0, 0) == "tile/0/000"
    assert tile_path(4, 1234067) == "tile/4/x001/x234/067"
    assert tile_path(1, 1000) == "tile/1/x001/000"
    assert tile_path(2, 999, 17) == "tile/2/999.p/17"
    assert tile_path(0, 5, 256) == "tile/0/005"
    assert entries_path(1234067, 8) == "tile/entries/x001/x234/067.p/8"
    assert entries_path(1000000) == "tile/entries/x001/x000/000"
    for bad in ((64, 0, 256), (0, -1, 256), (0, 0, 0), (0, 0, 257), (True, 0, 256)):
        with pytest.raises(UsageError):
            tile_path(*bad)  # type: ignore[arg-type]


def test_spec_example_sizes(tmp_path: Path) -> None:
    # "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level 0
    # tile of width 112, one full level 1 tile, one partial level 1 tile of width 17, and one
    # partial level 2 tile of width 1" (c2sp.org/tlog-tiles)
    store, datas = _raw_store(70_000)
    Log(store).checkpoint(SIGNER)
    out = tmp_path / "t"
    info = export_tiles(store, out)
    files = _files(out)
    level0 = {f for f in files if f.startswith("tile/0/")}
    assert len(level0) == 274
    assert "tile/0/273.p/112" in level0 and "tile/0/272" in level0
    assert {f for f in files if f.startswith("tile/1/")} == {"tile/1/000", "tile/1/001.p/17"}
    assert {f for f in files if f.startswith("tile/2/")} == {"tile/2/000.p/1"}
    assert not any(f.startswith("tile/3/") for f in files)
    bundles = {f for f in files if f.startswith("tile/entries/")}
    assert len(bundles) == 274 and "tile/entries/273.p/112" in bundles
    assert (info.size, info.tiles, info.entry_bundles) == (70_000, 277, 274)
    assert (out / "checkpoint").read_text() == store.checkpoints()[-1].note
    # the tile contents follow the spec's definition MTH(D[(n*256+i)*256**l : ...])
    leaves = [merkle.leaf_hash(d) for d in datas]
    tile = (out / "tile/1/001.p/17").read_bytes()
    assert len(tile) == 17 * 32
    for i in range(17):
        lo = (256 + i) * 256
        assert tile[i * 32 : (i + 1) * 32] == merkle.root(leaves[lo : lo + 256])
    top = (out / "tile/2/000.p/1").read_bytes()
    assert top == merkle.root(leaves[:65536])
    assert (out / "tile/0/273.p/112").read_bytes() == b"".join(leaves[273 * 256 :])
    # entry bundles: big-endian uint16 length-prefixed entries
    bundle = (out / "tile/entries/001").read_bytes()
    assert bundle == b"".join(struct.pack(">H", len(d)) + d for d in datas[256:512])
    # and a reader that sees only the directory gets the same tree
    reader = TilesReader(out)
    reader.verify()
    assert reader.root() == Log(store).root()


def test_size_256_is_one_full_tile_and_a_partial_level_1(tmp_path: Path) -> None:
    store, _ = _raw_store(256)
    Log(store).checkpoint(SIGNER)
    export_tiles(store, tmp_path / "t")
    assert _files(tmp_path / "t") == {
        "checkpoint",
        "tile/0/000",
        "tile/1/000.p/1",
        "tile/entries/000",
    }
    TilesReader(tmp_path / "t").verify()


def test_roots_and_proofs_from_the_tiles_alone(tmp_path: Path) -> None:
    store, datas = _raw_store(66_000)
    log = Log(store)
    for size in (1, 100, 256, 300, 65_536):
        log.checkpoint(SIGNER, size=size)
    log.checkpoint(SIGNER)
    out = tmp_path / "t"
    export_tiles(log, out)
    reader = TilesReader(out)
    assert (reader.origin, reader.size()) == (ORIGIN, 66_000)
    assert reader.checkpoint_note == log.checkpoints()[-1].note
    tree_log = Log(store)
    for size in (1, 2, 255, 256, 257, 300, 511, 512, 65_535, 65_536, 65_537, 66_000):
        assert reader.root(size) == tree_log.root(size)
        for index in {0, size // 3, size - 1, min(size - 1, 256), min(size - 1, 65_535)}:
            proof = reader.inclusion_proof(index, size)
            assert proof == tree_log.inclusion_proof(index, size)
            merkle.verify_inclusion(
                merkle.leaf_hash(datas[index]), index, size, proof, reader.root(size)
            )
    for size1, size2 in ((1, 66_000), (255, 257), (256, 65_537), (300, 66_000), (65_536, 66_000)):
        assert reader.consistency_proof(size1, size2) == tree_log.consistency_proof(size1, size2)
    assert list(reader.entries(250, 520)) == datas[250:520]
    assert reader.entry(65_999) == datas[65_999]
    assert list(reader.leaf_hashes(200, 600)) == [merkle.leaf_hash(d) for d in datas[200:600]]
    # the same numbers through the Log API over the reader (a read-only Store)
    assert Log(reader).inclusion_proof(1234, 5000) == tree_log.inclusion_proof(1234, 5000)
    # partial tiles of every published checkpoint size are there
    files = _files(out)
    for rel in (
        "tile/0/000.p/1",
        "tile/0/000.p/100",
        "tile/0/001.p/44",
        "tile/entries/001.p/44",
        "tile/1/000.p/1",
        "tile/2/000.p/1",
        "tile/1/001.p/1",
    ):
        assert rel in files, rel


def test_signed_entries_and_author_heads(tmp_path: Path) -> None:
    log = Log(SQLiteStore(tmp_path / "s.sqlite", origin=ORIGIN))
    authors = [Author(SigningKey.from_seed(bytes([k + 1]) * 32), ORIGIN) for k in range(2)]
    entries = [authors[i % 2].sign("t", {"i": i}, time=i) for i in range(300)]
    log.append_many(entries)
    log.checkpoint(SIGNER)
    export_tiles(log, tmp_path / "t")
    reader = TilesReader(tmp_path / "t")
    assert list(reader.entries()) == [e.data for e in entries]
    for a in authors:
        assert reader.author_head(a.key_id) == log.author_head(a.key_id)
    assert reader.author_head(b"\x00" * 32) is None
    with pytest.raises(ReadOnlyStoreError):
        reader.transaction()
    with pytest.raises(ReadOnlyStoreError):
        reader.add_checkpoint(0, "x")
    assert reader.checkpoints()[0].size == 300
    assert "TilesReader" in repr(reader)
    log.store.close()


def test_incremental_export_and_immutability(tmp_path: Path) -> None:
    store, _ = _raw_store(1000)
    log = Log(store)
    first = log.checkpoint(SIGNER, size=600)
    out = tmp_path / "t"
    export_tiles(store, out, checkpoint_note=first)
    assert TilesReader(out).size() == 600
    second = log.checkpoint(SIGNER)
    info = export_tiles(store, out, checkpoint_note=second)
    assert info.unchanged >= 4  # the full tiles and bundles of the first export
    reader = TilesReader(out)
    reader.verify()
    assert reader.size() == 1000
    # another tree exported into the same directory would change an immutable tile
    changed = MemoryStore(ORIGIN)
    leaves = [merkle.leaf_hash(b"other" + bytes([i])) for i in range(256)]
    with changed.transaction() as tx:
        for i, h in enumerate(leaves):
            tx.append(b"other" + bytes([i]), h, b"\x01" * 32, i + 1)
        tx.put_nodes(x for x in merkle.new_nodes_batch(tx.node, 0, leaves) if x[0])
    Log(changed).checkpoint(SIGNER)
    with pytest.raises(TilesError, match="immutable"):
        export_tiles(changed, out)
    assert TilesReader(out).size() == 1000  # the checkpoint was not replaced


def test_export_argument_checks(tmp_path: Path) -> None:
    store, _ = _raw_store(10)
    with pytest.raises(UsageError, match="no checkpoint"):
        export_tiles(store, tmp_path / "t")
    other = Log("example.org/other")
    note = other.checkpoint(NoteSigner.generate("example.org/other", rng_seed=b"\x02" * 32))
    with pytest.raises(CheckpointError, match="for log"):
        export_tiles(store, tmp_path / "t", checkpoint_note=note)
    liar = Log(ORIGIN)
    liar.append_many([Author(SigningKey.from_seed(b"\x05" * 32), ORIGIN).sign("t", {}, time=0)])
    with pytest.raises(CheckpointError, match="root"):
        export_tiles(store, tmp_path / "t", checkpoint_note=liar.checkpoint(SIGNER))
    big = Log(ORIGIN)
    writer = Author(SigningKey.from_seed(b"\x06" * 32), ORIGIN)
    big.append_many([writer.sign("t", {}, time=i) for i in range(11)])
    with pytest.raises(CheckpointError, match="exceeds"):
        export_tiles(store, tmp_path / "t", checkpoint_note=big.checkpoint(SIGNER))
    with pytest.raises(CheckpointError, match="does not parse"):
        export_tiles(store, tmp_path / "t", checkpoint_note="garbage")
    with pytest.raises(UsageError):
        export_tiles("nope", tmp_path / "t")  # type: ignore[arg-type]
    assert not (tmp_path / "t").exists()


def test_entry_too_long_for_a_bundle(tmp_path: Path) -> None:
    store = MemoryStore(ORIGIN)
    data = b"x" * 65_536
    with store.transaction() as tx:
        tx.append(data, merkle.leaf_hash(data), b"\x01" * 32, 1)
    Log(store).checkpoint(SIGNER)
    with pytest.raises(TilesError, match="at most 65535"):
        export_tiles(store, tmp_path / "t")


def _exported(tmp_path: Path, n: int = 600) -> Path:
    store, _ = _raw_store(n)
    Log(store).checkpoint(SIGNER)
    out = tmp_path / "t"
    export_tiles(store, out)
    return out


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda d: (d / "tile/0/001").unlink(), "missing"),
        (lambda d: (d / "tile/0/001").write_bytes(b"\x00" * 8192), "does not hash"),
        (lambda d: (d / "tile/0/002.p/88").write_bytes(b"\x00" * 32), "expected 2816"),
        (lambda d: (d / "tile/1/000.p/2").write_bytes(b"\x01" * 64), "does not hash|root"),
        (lambda d: (d / "tile/entries/000").write_bytes(b"\x00\x01x"), "holds 1 entries"),
        (lambda d: (d / "tile/entries/001").write_bytes(b"\x00"), "truncated length"),
        (lambda d: (d / "tile/entries/001").write_bytes(b"\x00\x09abc"), "cut short"),
        (
            lambda d: (d / "tile/entries/002.p/88").write_bytes(
                (d / "tile/entries/002.p/88").read_bytes()[:-1] + b"?"
            ),
            "does not match its leaf hash",
        ),
    ],
)
def test_damaged_directory_is_detected(tmp_path: Path, damage: object, match: str) -> None:
    out = _exported(tmp_path)
    assert callable(damage)
    damage(out)
    with pytest.raises(TilesError, match=match):
        TilesReader(out).verify()


def test_bad_checkpoint_file(tmp_path: Path) -> None:
    out = _exported(tmp_path, 10)
    (out / "checkpoint").write_text("not a checkpoint")
    with pytest.raises(TilesError, match="not a checkpoint"):
        TilesReader(out)
    with pytest.raises(TilesError, match="cannot read"):
        TilesReader(tmp_path / "nowhere")


def test_forged_checkpoint_root_is_detected(tmp_path: Path) -> None:
    out = _exported(tmp_path, 10)
    note = (out / "checkpoint").read_text()
    lines = note.split("\n")
    lines[2] = "A" * 43 + "="
    (out / "checkpoint").write_text("\n".join(lines))
    with pytest.raises(TilesError, match="differs from the checkpoint"):
        TilesReader(out).verify()


def test_reader_argument_checks(tmp_path: Path) -> None:
    reader = TilesReader(_exported(tmp_path, 300))
    for call in (
        lambda: reader.node(0, 300),
        lambda: reader.node(-1, 0),
        lambda: reader.entry(300),
        lambda: list(reader.entries(5, 301)),
        lambda: reader.leaf_hashes(0, 301),
        lambda: reader.root(301),
        lambda: reader.inclusion_proof(0, 0),
    ):
        with pytest.raises(UsageError):
            call()
    assert reader.root(0) == hashlib.sha256().digest()


# --------------------------------------------------------------------------- every served file


def _exported_with_history(tmp_path: Path) -> Path:
    """Checkpoints at sizes 300, 600 and 1000, all exported (as a log that published them)."""
    store, _ = _raw_store(1000)
    log = Log(store)
    for size in (300, 600, 1000):
        log.checkpoint(SIGNER, size=size)
    out = tmp_path / "t"
    export_tiles(store, out)
    assert {"tile/0/001.p/44", "tile/entries/001.p/44", "tile/1/000.p/1"} <= _files(out)
    TilesReader(out).verify()
    return out


def _put(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _flip(path: Path, at: int = 5) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda d: _flip(d / "tile/0/001.p/44"), r"001\.p/44 differs from the first 44 hashes"),
        (lambda d: _flip(d / "tile/entries/001.p/44", 40), r"001\.p/44: entry 2\d\d does not"),
        (lambda d: (d / "tile/entries/001.p/44").unlink(), r"entries/001\.p/44 is missing"),
        (lambda d: (d / "tile/0/001.p/44").unlink(), r"tile/0/001\.p/44 is missing"),
        (lambda d: (d / "tile/0/002.p/88").write_bytes(b""), r"002\.p/88 is 0 bytes"),
        (lambda d: _flip(d / "tile/1/000.p/2", 40), r"000\.p/2 differs"),
        (lambda d: _put(d / "tile/entries/000.p/9", b"\x00"), "truncated length"),
    ],
)
def test_every_served_file_is_checked(tmp_path: Path, damage: object, match: str) -> None:
    # an older checkpoint's partial tiles and bundles are served too: a client that trusts the
    # checkpoint of size 300 reads them (issue 12 item 5)
    out = _exported_with_history(tmp_path)
    assert callable(damage)
    damage(out)
    with pytest.raises(TilesError, match=match):
        TilesReader(out).verify()


def test_files_of_a_larger_unpublished_tree_are_allowed(tmp_path: Path) -> None:
    # an export killed after its tiles but before its checkpoint leaves a larger tree's files
    store, _ = _raw_store(1100)
    log = Log(store)
    small = log.checkpoint(SIGNER, size=1000)
    large = log.checkpoint(SIGNER)
    out = tmp_path / "t"
    export_tiles(store, out, checkpoint_note=large)
    (out / "checkpoint").write_text(small)
    TilesReader(out).verify()
    _flip(out / "tile/0/003", 3)  # its first 232 hashes are the small tree's tile 003.p/232
    with pytest.raises(TilesError, match=r"tile/0/003 differs"):
        TilesReader(out).verify()


def test_export_replaces_a_file_that_is_not_a_tile(tmp_path: Path) -> None:
    # after a power cut a renamed tile can be zero-length (the rename reached the disk, the
    # data did not); a re-export must repair it, not refuse with "already exists"
    store, _ = _raw_store(600)
    Log(store).checkpoint(SIGNER)
    out = tmp_path / "t"
    export_tiles(store, out)
    (out / "tile/0/001").write_bytes(b"")
    (out / "tile/entries/002.p/88").write_bytes(b"\x00")
    with pytest.raises(TilesError):
        TilesReader(out).verify()
    info = export_tiles(store, out)
    assert info.unchanged > 0
    TilesReader(out).verify()
    # a file of a tile's shape with other contents is still another log's tile
    _flip(out / "tile/0/001")
    with pytest.raises(TilesError, match="already exists with other contents"):
        export_tiles(store, out)


def test_export_removes_leftovers_of_killed_exports(tmp_path: Path) -> None:
    import subprocess
    import sys

    store, _ = _raw_store(300)
    Log(store).checkpoint(SIGNER)
    out = tmp_path / "t"
    export_tiles(store, out)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(dead.stdout)
    leftovers = [out / f".checkpoint.tmp-{pid}", out / f"tile/0/.001.p/44.tmp-{pid}"]
    (out / "tile/0/001.p").mkdir(exist_ok=True)
    leftovers[1] = out / f"tile/0/001.p/.44.tmp-{pid}"
    for p in leftovers:
        p.write_bytes(b"x" * 1000)
    alive = out / f"tile/.000.tmp-{os.getppid()}"  # a running process's file is left alone
    alive.write_bytes(b"y")
    export_tiles(store, out)
    assert not any(p.exists() for p in leftovers)
    assert alive.exists()
    TilesReader(out).verify()


def test_export_fsyncs_every_file_and_directory_before_the_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import electlog.publish.tiles as tiles_module

    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        events.append(("replace", str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(tiles_module.os, "fsync", fsync)
    monkeypatch.setattr(tiles_module.os, "replace", replace)
    store, _ = _raw_store(300)
    Log(store).checkpoint(SIGNER)
    out = (tmp_path / "t").resolve()
    export_tiles(store, out)
    cp = events.index(("replace", str(out / "checkpoint")))
    before = events[:cp]
    for rel in _files(out) - {"checkpoint"}:
        path = out / rel
        tmp = str(path.with_name(f".{path.name}.tmp-{os.getpid()}"))
        # the data reached the disk under the temporary name, then it was renamed
        assert before.index(("fsync", tmp)) < before.index(("replace", str(path)))
        # and the directory holding the new name reached the disk before the checkpoint
        for d in [path.parent, *path.parent.parents]:
            assert ("fsync", str(d)) in before or out not in [d, *d.parents], (rel, d)
    assert ("fsync", str(out)) in events[cp:]  # the checkpoint's rename too


@pytest.mark.parametrize("target", ["checkpoint", "tile/0/001", "tile/entries/001"])
def test_symlinks_fifos_and_devices_are_refused(tmp_path: Path, target: str) -> None:
    out = _exported(tmp_path)
    path = out / target
    path.unlink()
    path.symlink_to("/dev/zero")
    with pytest.raises(TilesError, match="symbolic link"):
        TilesReader(out).verify()
    path.unlink()
    outside = tmp_path / "outside"
    outside.write_bytes(b"")
    path.symlink_to(outside)
    with pytest.raises(TilesError, match="symbolic link"):
        TilesReader(out).verify()
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(TilesError, match="not a regular file"):
        TilesReader(out).verify()


def test_a_symlinked_subdirectory_is_refused(tmp_path: Path) -> None:
    out = _exported(tmp_path)
    real = tmp_path / "elsewhere"
    (out / "tile/entries").rename(real)
    (out / "tile/entries").symlink_to(real)
    with pytest.raises(TilesError, match="'entries' is not a directory"):
        TilesReader(out).verify()


def test_oversized_files_are_refused_without_reading_them(tmp_path: Path) -> None:
    out = _exported(tmp_path)
    with open(out / "checkpoint", "ab") as fh:
        fh.truncate(5 << 30)  # a sparse 5 GB checkpoint
    with pytest.raises(TilesError, match="larger than 1048576 bytes"):
        TilesReader(out)
    out = _exported(tmp_path / "b")
    with open(out / "tile/entries/001", "ab") as fh:
        fh.truncate(5 << 30)
    with pytest.raises(TilesError, match=r"entries/001 is larger than \d+ bytes \(5368709120"):
        TilesReader(out).verify()
