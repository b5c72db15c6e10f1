"""Audit sources: bundle files (damaged, truncated, attacker-consistent), tiles directories,
SQLite files; what the auditor reports when the structure itself is unreadable."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit_support import GenericLog, build_generic, flip, write_bundle
from electlog.audit import audit
from electlog.audit import findings as F
from electlog.errors import AuditError
from electlog.publish import BundleReader, export_bundle, export_tiles


@pytest.fixture(scope="module")
def glog() -> GenericLog:
    return build_generic()


def test_exported_bundle_is_clean(glog: GenericLog, tmp_path: Path) -> None:
    path = tmp_path / "log.bundle"
    export_bundle(glog.log, path)
    for jobs in (1, 2):
        report = audit(path, glog.trust, election=False, jobs=jobs)
        assert report.findings == (), report.findings
        assert report.counts.entries == 60 and report.counts.checkpoints == 2
        assert report.source == f"bundle {str(path)!r}"


def test_independent_writer_matches_export(glog: GenericLog, tmp_path: Path) -> None:
    export_bundle(glog.log, tmp_path / "a.bundle")
    written = write_bundle(tmp_path / "b.bundle", glog.origin, glog.entries, glog.notes)
    assert (tmp_path / "a.bundle").read_bytes() == written


def _entry_offsets(path: Path) -> list[tuple[int, int]]:
    with BundleReader(path) as reader:
        return [(offset, len(data)) for _, data, offset in reader]


def test_damaged_entry_record(glog: GenericLog, tmp_path: Path) -> None:
    path = tmp_path / "log.bundle"
    export_bundle(glog.log, path)
    offset, length = _entry_offsets(path)[25]
    raw = bytearray(path.read_bytes())
    raw[offset + 4 + length // 2] ^= 0x40
    path.write_bytes(bytes(raw))
    report = audit(path, glog.trust, election=False)
    unreadable = report.by_code(F.SOURCE_UNREADABLE)
    assert len(unreadable) == 1
    assert unreadable[0].evidence["offset"] == offset
    assert unreadable[0].evidence["last_good_index"] == 24
    assert unreadable[0].index == 25
    assert report.counts.entries == 25  # everything before the damage was checked
    assert not report.by_code(F.LOG_TRUNCATED)  # the copy is unreadable, not proved truncated
    assert report.verdict == "findings"


def test_cut_short_bundle(glog: GenericLog, tmp_path: Path) -> None:
    path = tmp_path / "log.bundle"
    export_bundle(glog.log, path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    report = audit(path, glog.trust, election=False)
    assert F.SOURCE_UNREADABLE in report.codes()
    assert 0 < report.counts.entries < 60


def test_damaged_checkpoint_record(glog: GenericLog, tmp_path: Path) -> None:
    path = tmp_path / "log.bundle"
    raw = bytearray(write_bundle(path, glog.origin, glog.entries, glog.notes))
    raw[-32 - 4 - 10] ^= 0x01  # inside the last note record
    path.write_bytes(bytes(raw))
    report = audit(path, glog.trust, election=False)
    unreadable = report.by_code(F.SOURCE_UNREADABLE)
    assert len(unreadable) == 1 and "checkpoint 1" in unreadable[0].message
    assert report.counts.entries == 60
    assert report.counts.checkpoints == 1  # the first note was intact and checked


def test_wrong_trailer(glog: GenericLog, tmp_path: Path) -> None:
    path = tmp_path / "log.bundle"
    raw = bytearray(write_bundle(path, glog.origin, glog.entries, glog.notes))
    raw[-1] ^= 0x01
    path.write_bytes(bytes(raw))
    report = audit(path, glog.trust, election=False)
    assert report.codes() == {F.SOURCE_UNREADABLE}
    assert "trailer" in report.findings[0].message


def test_attacker_consistent_truncation(glog: GenericLog, tmp_path: Path) -> None:
    # entries removed from the end, CRCs and trailer recomputed, checkpoints kept
    path = tmp_path / "log.bundle"
    write_bundle(path, glog.origin, glog.entries[:45], glog.notes)
    report = audit(path, glog.trust, election=False)
    truncated = report.by_code(F.LOG_TRUNCATED)
    assert [f.evidence["checkpoint_size"] for f in truncated] == [60]
    assert not report.by_code(F.SOURCE_UNREADABLE)


def test_attacker_consistent_forgery(glog: GenericLog, tmp_path: Path) -> None:
    entries = glog.entries
    entries[12] = flip(entries[12], 80)  # in the signature
    path = tmp_path / "log.bundle"
    write_bundle(path, glog.origin, entries, glog.notes)
    report = audit(path, glog.trust, election=False)
    assert [f.index for f in report.by_code(F.ENTRY_SIGNATURE_INVALID)] == [12]
    assert report.by_code(F.CHECKPOINT_ROOT_MISMATCH)


def test_bundle_of_another_origin(glog: GenericLog, tmp_path: Path) -> None:
    path = tmp_path / "log.bundle"
    write_bundle(path, "example.org/someone-else", glog.entries, glog.notes)
    report = audit(path, glog.trust, election=False)
    assert F.SOURCE_ORIGIN_MISMATCH in report.codes()
    assert report.counts.checkpoints == 2  # the notes were read leniently and checked


def test_unreadable_header_cannot_run(glog: GenericLog, tmp_path: Path) -> None:
    path = tmp_path / "log.bundle"
    raw = bytearray(write_bundle(path, glog.origin, glog.entries, glog.notes))
    raw[3] ^= 0x01  # the magic
    path.write_bytes(bytes(raw))
    with pytest.raises(AuditError, match="bad magic"):
        audit(path, glog.trust, election=False)


def test_tiles_directory(glog: GenericLog, tmp_path: Path) -> None:
    tiles = tmp_path / "tiles"
    export_tiles(glog.log, tiles)
    report = audit(tiles, glog.trust, election=False)
    assert report.findings == ()
    assert report.counts.entries == 60 and report.counts.checkpoints == 1
    # tamper with an entry bundle: the reader no longer finds it under its leaf hash
    bundle = next((tiles / "tile" / "entries").rglob("*"))
    while bundle.is_dir():
        bundle = next(bundle.iterdir())
    raw = bytearray(bundle.read_bytes())
    raw[60] ^= 0x01
    bundle.write_bytes(bytes(raw))
    report = audit(tiles, glog.trust, election=False)
    assert F.SOURCE_UNREADABLE in report.codes()


def test_not_a_tiles_directory(glog: GenericLog, tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="tlog-tiles"):
        audit(tmp_path, glog.trust)


@pytest.mark.postgres
def test_postgresql_dsn(glog: GenericLog, postgres_dsn: str) -> None:
    from electlog import Log
    from electlog.store import open_store

    store = open_store(postgres_dsn, origin=glog.origin)
    log = Log(store)
    log.append_many(glog.entries)
    for note in glog.notes:
        log.add_checkpoint(note)
    store.close()
    report = audit(postgres_dsn, glog.trust, election=False, jobs=2)
    assert report.findings == ()
    assert report.counts.entries == 60 and report.source == "PostgreSQL log"


def test_sqlite_store_that_refuses_to_open(glog: GenericLog, tmp_path: Path) -> None:
    # the store's own open-time check fails (newest entry no longer hashes to its leaf): the
    # auditor still reads the tables as they are and reports what is wrong
    import sqlite3

    from electlog import Log
    from electlog.errors import StoreCorruptedError
    from electlog.store import SQLiteStore
    from electlog.store.base import DamageKind

    path = tmp_path / "log.sqlite"
    store = SQLiteStore(path, origin=glog.origin)
    log = Log(store)
    log.append_many(glog.entries)
    for note in glog.notes:
        log.add_checkpoint(note)
    store.close()
    conn = sqlite3.connect(path)
    data = conn.execute("SELECT data FROM entries WHERE idx = 59").fetchone()[0]
    conn.execute("UPDATE entries SET data = ? WHERE idx = 59", (flip(bytes(data), 70),))
    conn.commit()
    conn.close()
    with pytest.raises(StoreCorruptedError, match="entry 59 does not hash"):
        SQLiteStore(path)
    with SQLiteStore(path, read_only=True) as forensic:  # opens for forensics, damage listed
        assert [(d.kind, d.index) for d in forensic.problems] == [(DamageKind.LEAF, 59)]
        assert forensic.size() == 60
    report = audit(path, glog.trust, election=False)
    damaged = report.by_code(F.SOURCE_DAMAGED)
    # the entry no longer hashes to its leaf, and the stored tree no longer commits to it
    assert [(f.index, f.evidence["kind"]) for f in damaged] == [(59, "leaf"), (None, "node")]
    assert [f.index for f in report.by_code(F.ENTRY_SIGNATURE_INVALID)] == [59]
    assert report.by_code(F.CHECKPOINT_ROOT_MISMATCH)
    assert report.counts.entries == 60 and report.counts.checkpoints == 2
