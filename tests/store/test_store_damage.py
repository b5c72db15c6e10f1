"""Damaged and hostile SQLite stores (issue 12): every kind of damage is found by the store's
checks and by ``electlog verify`` (never CLEAN, never a traceback), signed checkpoints survive a
rolled-back write-ahead log, and hostile files are refused quickly."""

from __future__ import annotations

import errno
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audit_support import GenericLog, build_generic, copy_sqlite_store, write_sqlite_store
from electlog import Log
from electlog.audit import audit
from electlog.audit import findings as F
from electlog.cli import main
from electlog.errors import AuditError, DiskFullError, StoreCorruptedError, UsageError
from electlog.publish import bundle as bundle_module
from electlog.publish import export_bundle
from electlog.store import SQLiteStore, open_store
from electlog.store.base import DamageKind
from electlog.store.sqlite import SIDECAR_SUFFIX


@pytest.fixture(scope="module")
def glog() -> GenericLog:
    # 3 authors x 200 rounds = 600 entries, a checkpoint every 10 rounds (20 checkpoints)
    return build_generic(rounds=200)


@pytest.fixture(scope="module")
def pristine(glog: GenericLog, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sqlite_store(tmp_path_factory.mktemp("pristine") / "log.sqlite", glog)


@pytest.fixture
def copy(pristine: Path, tmp_path: Path) -> Path:
    """A closed copy of the pristine store (database file and checkpoint sidecar)."""
    return copy_sqlite_store(pristine, tmp_path / "log.sqlite")


def _sql(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    with conn:
        for sql in statements:
            conn.execute(sql)
    conn.close()


def _flip_column(path: Path, table: str, column: str, where: str, bit: int = 0) -> None:
    conn = sqlite3.connect(path)
    with conn:
        value = bytearray(conn.execute(f"SELECT {column} FROM {table} WHERE {where}").fetchone()[0])
        value[bit // 8] ^= 1 << (bit % 8)
        conn.execute(f"UPDATE {table} SET {column} = ? WHERE {where}", (bytes(value),))
    conn.close()


def _verify(
    path: Path, glog: GenericLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    trust = tmp_path / "trust.json"
    glog.trust.save(trust)
    code = main(["verify", str(path), "--trust", str(trust), "--no-election"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def _first_author(path: Path) -> bytes:
    """The author whose newest entry is oldest (not among the newest 64 entries)."""
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT author FROM heads ORDER BY seq").fetchall()
    conn.close()
    return bytes(rows[0][0])


# --------------------------------------------------------------------------- item 1


@pytest.mark.parametrize(
    ("table", "column", "where", "kind", "index"),
    [
        ("entries", "leaf", "idx = 5", DamageKind.LEAF, 5),  # old: the open check misses it
        ("nodes", "hash", "level = 1 AND idx = 7", DamageKind.NODE, None),
        ("nodes", "hash", "level = 6 AND idx = 1", DamageKind.NODE, None),
        ("heads", "prev", "author = (SELECT MIN(author) FROM heads)", DamageKind.HEAD, None),
    ],
)
def test_flipped_bit_is_a_finding(
    copy: Path,
    glog: GenericLog,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    table: str,
    column: str,
    where: str,
    kind: DamageKind,
    index: int | None,
) -> None:
    _flip_column(copy, table, column, where, bit=77)
    with SQLiteStore(copy, read_only=True) as store:
        found = store.find_damage(full=True)
    assert [(d.kind, d.index) for d in found] == [(kind, index)], found
    for jobs in (1, 2):  # the full check runs inline, or in a worker beside the replay
        report = audit(copy, glog.trust, election=False, jobs=jobs)
        damaged = report.by_code(F.SOURCE_DAMAGED)
        assert [f.evidence["kind"] for f in damaged] == [kind.value], jobs
        assert report.verdict == "findings"
    code, out, _ = _verify(copy, glog, tmp_path, capsys)
    assert code == 1 and "source.damaged" in out


def test_zeroed_last_page_cannot_be_audited(
    copy: Path, glog: GenericLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = bytearray(copy.read_bytes())
    raw[-4096:] = bytes(4096)
    copy.write_bytes(bytes(raw))
    with pytest.raises(StoreCorruptedError):
        SQLiteStore(copy)
    with pytest.raises(AuditError, match="damaged"):
        audit(copy, glog.trust, election=False)
    code, _, err = _verify(copy, glog, tmp_path, capsys)
    assert code == 2 and "damaged" in err


def test_sound_store_is_clean(
    copy: Path, glog: GenericLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with SQLiteStore(copy, read_only=True) as store:
        assert store.find_damage(full=True) == ()
        assert store.problems == ()
    code, out, _ = _verify(copy, glog, tmp_path, capsys)
    assert code == 0, out


# --------------------------------------------------------------------------- item 2


@pytest.mark.parametrize("cut", [1000, 4096, 20_000])
def test_cut_short_store(
    copy: Path, glog: GenericLog, tmp_path: Path, capsys: pytest.CaptureFixture[str], cut: int
) -> None:
    raw = copy.read_bytes()
    copy.write_bytes(raw[:-cut])
    with pytest.raises(StoreCorruptedError):
        open_store(copy)
    with pytest.raises(StoreCorruptedError):
        open_store(copy).close()
    code, _, err = _verify(copy, glog, tmp_path, capsys)
    assert code == 2 and "damaged" in err, err


# --------------------------------------------------------------------------- item 3


def test_flipped_head_seq_is_found_at_open(copy: Path) -> None:
    _sql(copy, "UPDATE heads SET seq = seq + 1 WHERE author = (SELECT MIN(author) FROM heads)")
    with pytest.raises(StoreCorruptedError, match="add up to 601"):
        SQLiteStore(copy)


def test_flipped_head_of_a_recent_author_is_found_at_open(copy: Path) -> None:
    _flip_column(copy, "heads", "prev", "author = (SELECT MIN(author) FROM heads)", bit=3)
    with pytest.raises(StoreCorruptedError, match="not the leaf hash of its newest entry"):
        SQLiteStore(copy)


def test_head_of_an_unknown_author_is_found(copy: Path) -> None:
    _sql(copy, "INSERT INTO heads VALUES (zeroblob(32), 1, zeroblob(32))")
    with pytest.raises(StoreCorruptedError, match="add up"):
        SQLiteStore(copy)
    _sql(copy, "UPDATE heads SET seq = 0 WHERE author = zeroblob(32)")
    with SQLiteStore(copy, read_only=True) as store:
        [damage] = store.find_damage(full=True)
    assert damage.kind is DamageKind.HEAD and "but no entries" in damage.message


# --------------------------------------------------------------------------- item 4


def test_copy_without_its_wal_keeps_every_signed_entry(glog: GenericLog, tmp_path: Path) -> None:
    path = tmp_path / "live.sqlite"
    store = SQLiteStore(path, origin=glog.origin)
    log = Log(store)
    log.append_many(glog.entries[:300])
    log.add_checkpoint(glog.notes[9])  # size 300
    log.append_many(glog.entries[300:330])  # acknowledged, not yet signed
    backup = tmp_path / "backup.sqlite"
    shutil.copy(path, backup)  # the database file only, while the store is open
    shutil.copy(str(path) + SIDECAR_SUFFIX, str(backup) + SIDECAR_SUFFIX)
    store.close()
    with SQLiteStore(backup, read_only=True) as copy:
        assert copy.problems == ()
        assert copy.size() >= 300
        assert copy.latest_checkpoint() is not None
        assert copy.latest_checkpoint().note == glog.notes[9]  # type: ignore[union-attr]


def test_store_shorter_than_its_signed_checkpoint(
    glog: GenericLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "log.sqlite"
    with SQLiteStore(path, origin=glog.origin) as store:
        log = Log(store)
        log.append_many(glog.entries[:300])
        log.add_checkpoint(glog.notes[9])
    older = path.read_bytes()  # the state SQLite would roll back to
    with SQLiteStore(path) as store:
        log = Log(store)
        log.append_many(glog.entries[300:600])
        log.add_checkpoint(glog.notes[19])
    path.write_bytes(older)
    with pytest.raises(StoreCorruptedError, match="holds 300 entries, but its latest signed"):
        SQLiteStore(path)
    with SQLiteStore(path, read_only=True) as store:
        assert [d.kind for d in store.problems] == [DamageKind.ROLLBACK]
    code, out, _ = _verify(path, glog, tmp_path, capsys)
    assert code == 1 and "source.damaged" in out and "signed entries were lost" in out


def test_flipped_bit_in_a_middle_wal_frame(glog: GenericLog, tmp_path: Path) -> None:
    # A reader holding an old snapshot keeps the write-ahead log from being copied into the
    # database file, so the signed checkpoints live only in the WAL when it is damaged.
    path = tmp_path / "log.sqlite"
    store = SQLiteStore(path, origin=glog.origin)
    log = Log(store)
    log.append_many(glog.entries[:30])
    log.add_checkpoint(glog.notes[0])
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM entries").fetchone()
    for k in range(1, 20):
        log.append_many(glog.entries[30 * k : 30 * (k + 1)])
        log.add_checkpoint(glog.notes[k])
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    for suffix in ("", "-wal", SIDECAR_SUFFIX):
        shutil.copy(str(path) + suffix, str(crashed / "log.sqlite") + suffix)
    reader.close()
    store.close()
    wal = crashed / "log.sqlite-wal"
    raw = bytearray(wal.read_bytes())
    frames = (len(raw) - 32) // (24 + 4096)
    assert frames > 10
    raw[32 + (frames // 2) * (24 + 4096) + 24 + 100] ^= 0x10
    wal.write_bytes(bytes(raw))
    with pytest.raises(StoreCorruptedError, match="signed entries were lost"):
        SQLiteStore(crashed / "log.sqlite")


def test_new_store_beside_a_kept_checkpoint_is_refused(copy: Path) -> None:
    copy.unlink()
    with pytest.raises(StoreCorruptedError, match="lost or replaced"):
        SQLiteStore(copy, origin="example.org/audit-generic")


# --------------------------------------------------------------------------- item 7


def test_export_bundle_on_a_full_disk(
    copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = open

    class Full:
        def __init__(self, fh: object) -> None:
            self._fh = fh

        def __enter__(self) -> Full:
            return self

        def __exit__(self, *exc: object) -> None:
            self._fh.close()  # type: ignore[attr-defined]

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name: str) -> object:
            return getattr(self._fh, name)

    def full_open(file: object, mode: str = "r", *args: object, **kw: object) -> object:
        fh = real_open(file, mode, *args, **kw)  # type: ignore[call-overload]
        return Full(fh) if "w" in mode else fh

    monkeypatch.setattr(bundle_module, "open", full_open, raising=False)
    with SQLiteStore(copy, read_only=True) as store, pytest.raises(DiskFullError):
        export_bundle(store, tmp_path / "out.bundle")
    assert not (tmp_path / "out.bundle").exists()
    assert not list(tmp_path.glob(".out.bundle.tmp-*"))


def test_damaged_older_checkpoint_is_not_called_the_latest(copy: Path) -> None:
    _sql(
        copy, "UPDATE checkpoints SET note = 'garbage' WHERE id = (SELECT MIN(id) FROM checkpoints)"
    )
    with SQLiteStore(copy) as store:  # the open check looks at the latest only
        [damage] = store.find_damage(full=True)
    assert damage.kind is DamageKind.CHECKPOINT
    assert "checkpoint 0 (of 20) does not parse" in damage.message
    assert "latest" not in damage.message


def test_read_only_open_of_a_damaged_store_is_for_forensics(copy: Path) -> None:
    _sql(copy, "UPDATE entries SET leaf = zeroblob(32) WHERE idx = 599")
    with pytest.raises(StoreCorruptedError, match="entry 599 does not hash"):
        SQLiteStore(copy)
    with SQLiteStore(copy, read_only=True) as store:
        assert [(d.kind, d.index) for d in store.problems] == [(DamageKind.LEAF, 599)]
        assert store.size() == 600  # everything can still be read
        assert len(store.checkpoints()) == 20


def test_an_open_without_its_check_leaves_the_damage_to_the_full_check(copy: Path) -> None:
    _sql(copy, "UPDATE entries SET leaf = zeroblob(32) WHERE idx = 599")
    with SQLiteStore(copy, read_only=True, check_on_open=False) as store:
        assert store.problems == ()  # nothing looked at yet
        assert [(d.kind, d.index) for d in store.find_damage(full=True)] == [(DamageKind.LEAF, 599)]
        assert [(d.kind, d.index) for d in store.problems] == [(DamageKind.LEAF, 599)]
    with pytest.raises(UsageError, match="check_on_open=False needs read_only=True"):
        SQLiteStore(copy, check_on_open=False)
    with pytest.raises(UsageError, match="check_on_open must be True or False"):
        SQLiteStore(copy, read_only=True, check_on_open=0)  # type: ignore[arg-type]
    with pytest.raises(StoreCorruptedError, match="entry 599 does not hash"):
        SQLiteStore(copy)  # the refused writable open changed nothing


def test_damaged_sqlite_magic_is_not_called_a_bundle(
    copy: Path, glog: GenericLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = bytearray(copy.read_bytes())
    raw[3] ^= 0x01
    copy.write_bytes(bytes(raw))
    with pytest.raises(StoreCorruptedError):
        SQLiteStore(copy, read_only=True)
    with pytest.raises(AuditError, match="damaged SQLite store"):
        audit(copy, glog.trust, election=False)
    code, _, err = _verify(copy, glog, tmp_path, capsys)
    assert code == 2 and "damaged SQLite store" in err and "bundle" not in err


# --------------------------------------------------------------------------- item 8


def _hostile(path: Path, origin: str, replace: dict[str, str]) -> None:
    """An electlog-looking SQLite file whose tables in ``replace`` are views instead."""
    from electlog.store import sqlite as sqlite_module

    conn = sqlite3.connect(path)
    for sql in sqlite_module._SCHEMA:
        name = sql.split()[2]
        conn.execute(replace.get(name, sql))
    conn.execute("INSERT INTO meta VALUES ('origin', ?), ('format', 1)", (origin,))
    conn.execute(f"PRAGMA application_id = {sqlite_module.APPLICATION_ID}")
    conn.commit()
    conn.close()


_RECURSIVE_ENTRIES = (
    "CREATE VIEW entries AS WITH RECURSIVE r(idx, data, leaf) AS "
    "(SELECT 0, x'00', zeroblob(32) UNION ALL SELECT idx + 1, data, leaf FROM r) "
    "SELECT idx, data, leaf FROM r"
)
_HUGE_NOTE = (
    "CREATE VIEW checkpoints AS SELECT 1 AS id, 0 AS size, printf('%.*c', 900000000, 'x') AS note"
)


@pytest.mark.parametrize(
    "replace",
    [{"entries": _RECURSIVE_ENTRIES}, {"checkpoints": _HUGE_NOTE}],
    ids=["recursive-entries-view", "huge-note-view"],
)
def test_hostile_views_are_refused_quickly(
    glog: GenericLog, tmp_path: Path, replace: dict[str, str]
) -> None:
    path = tmp_path / "hostile.sqlite"
    _hostile(path, glog.origin, replace)
    assert path.stat().st_size < 64 * 1024
    started = time.monotonic()
    with pytest.raises(StoreCorruptedError, match="not an electlog store"):
        SQLiteStore(path, read_only=True)
    assert time.monotonic() - started < 5
    trust = tmp_path / "trust.json"
    glog.trust.save(trust)
    run = subprocess.run(
        [sys.executable, "-m", "electlog", "verify", str(path), "--trust", str(trust)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr and "not an electlog store" in run.stderr


def test_extra_trigger_or_index_is_refused(copy: Path) -> None:
    _sql(copy, "CREATE INDEX sneaky ON entries (leaf)")
    with pytest.raises(StoreCorruptedError, match="index 'sneaky'"):
        SQLiteStore(copy, read_only=True)
    _sql(copy, "DROP INDEX sneaky", "CREATE TRIGGER t AFTER INSERT ON entries BEGIN SELECT 1; END")
    with pytest.raises(StoreCorruptedError, match="trigger 't'"):
        SQLiteStore(copy)


def test_oversized_value_is_refused(copy: Path) -> None:
    _sql(
        copy,
        "UPDATE checkpoints SET note = note || printf('%.*c', 2000000, 'x') "
        "WHERE id = (SELECT MAX(id) FROM checkpoints)",
    )
    started = time.monotonic()
    with pytest.raises(StoreCorruptedError):
        SQLiteStore(copy)
    with SQLiteStore(copy, read_only=True) as store:
        assert [d.kind for d in store.problems] == [DamageKind.FILE]
        assert "too big" in store.problems[0].message
    assert time.monotonic() - started < 5
