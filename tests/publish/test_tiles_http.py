"""Reading a log served as tlog-tiles over HTTP: ``TilesReader.from_url``, ``audit(URL)`` and
``electlog verify URL``, against a real server process on 127.0.0.1 (tests/tiles_server.py),
the same verdicts and findings as the directory, and hostile servers (a redirect to another
host, an oversized file, a stalled or trickling answer) ending in a clear error."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from audit_support import GenericLog, build_election, build_generic
from electlog.audit import audit
from electlog.audit import findings as F
from electlog.errors import AuditError, TilesError, TilesUnavailableError, UsageError
from electlog.publish.tiles import TilesReader, entries_path, export_tiles, tile_path
from tiles_http_support import ROOT, TilesServer, run_cli


@pytest.fixture(scope="module")
def glog() -> GenericLog:
    # 600 entries: two full level-0 tiles and bundles, a partial one, a level-1 tile
    return build_generic(rounds=200, checkpoint_every=100)


@pytest.fixture
def exported(glog: GenericLog, tmp_path: Path) -> Path:
    tiles = tmp_path / "tiles"
    export_tiles(glog.log, tiles)
    return tiles


@pytest.fixture
def served(exported: Path, tmp_path: Path) -> Iterator[TilesServer]:
    server = TilesServer(tmp_path / "server", exported)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _summary(report: Any) -> tuple[str, list[tuple[str, int | None]]]:
    return report.verdict, [(f.code, f.index) for f in report.findings]


def test_reader_over_http_equals_directory(glog: GenericLog, served: TilesServer) -> None:
    local = TilesReader(served.root_file.read_text(encoding="utf-8"))
    with TilesReader.from_url(served.url) as remote:
        assert remote.directory is None
        assert remote.checkpoint_note == local.checkpoint_note
        assert remote.size() == len(glog.log) == 600
        assert remote.root() == glog.log.root()
        assert list(remote.entries(250, 530)) == [glog.log.get_bytes(i) for i in range(250, 530)]
        assert remote.inclusion_proof(7, 600) == glog.log.inclusion_proof(7, 600)
        assert remote.consistency_proof(300, 600) == glog.log.consistency_proof(300, 600)
        remote.verify()
        assert remote.problems() == []
        fetcher = remote.fetcher
        assert fetcher.description == f"tiles at {served.url}"
    assert "checkpoint" in served.requests()


def test_audit_url_same_as_directory(glog: GenericLog, served: TilesServer) -> None:
    from_dir = audit(served.root_file.read_text(encoding="utf-8"), glog.trust, election=False)
    from_url = audit(served.url, glog.trust, election=False)
    assert _summary(from_url) == _summary(from_dir) == ("clean", [])
    assert from_url.source == f"tiles at {served.url}"
    assert from_url.checkpoint == from_dir.checkpoint


def _first_file(directory: Path) -> Path:
    path = directory
    while path.is_dir():
        path = sorted(path.iterdir())[0]
    return path


@pytest.mark.parametrize("target", ["bundle", "tile"])
def test_tampered_served_file_same_finding(
    glog: GenericLog, exported: Path, served: TilesServer, target: str
) -> None:
    if target == "bundle":
        path = exported / entries_path(1)
        offset = 100
    else:
        path = exported / tile_path(0, 0)
        offset = 32 * 9 + 3
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01
    path.write_bytes(bytes(raw))
    from_dir = audit(exported, glog.trust, election=False)
    from_url = audit(served.url, glog.trust, election=False)
    assert F.SOURCE_UNREADABLE in from_dir.codes()
    assert _summary(from_url) == _summary(from_dir)
    local = [f.message for f in from_dir.findings if f.code == F.SOURCE_UNREADABLE]
    remote = [f.message for f in from_url.findings if f.code == F.SOURCE_UNREADABLE]
    rel = path.relative_to(exported).as_posix()
    assert str(path) in local[0] and served.url + rel in remote[0]


def test_cli_verify_url_same_report(tmp_path: Path) -> None:
    el = build_election()
    for note in el.notes:
        el.log.add_checkpoint(note)
    export_tiles(el.log, tmp_path / "tiles")
    el.trust.save(tmp_path / "trust.json")
    trust = str(tmp_path / "trust.json")
    with TilesServer(tmp_path / "server", tmp_path / "tiles") as url:
        remote = run_cli("verify", url, "--trust", trust, "--format", "json")
        text = run_cli("verify", url, "--trust", trust)
    local = run_cli("verify", str(tmp_path / "tiles"), "--trust", trust, "--format", "json")
    assert remote.returncode == local.returncode == 0, remote.stderr
    a, b = json.loads(remote.stdout), json.loads(local.stdout)
    assert a["verdict"] == b["verdict"] == "clean"
    for key in ("findings", "counts", "checkpoint", "tallies"):
        assert a[key] == b[key], key
    assert a["source"] == f"tiles at {url}"
    assert text.returncode == 0 and "CLEAN" in text.stdout.upper()


def test_cli_verify_url_tampered_exit_1(glog: GenericLog, exported: Path, tmp_path: Path) -> None:
    glog.trust.save(tmp_path / "trust.json")
    path = exported / entries_path(0)
    raw = bytearray(path.read_bytes())
    raw[50] ^= 0x01
    path.write_bytes(bytes(raw))
    with TilesServer(tmp_path / "server", exported) as url:
        result = run_cli(
            "verify", url, "--trust", str(tmp_path / "trust.json"), "--no-election",
            "--format", "json",
        )  # fmt: skip
    local = run_cli(
        "verify", str(exported), "--trust", str(tmp_path / "trust.json"), "--no-election",
        "--format", "json",
    )  # fmt: skip
    assert result.returncode == local.returncode == 1
    codes = [(f["code"], f["index"]) for f in json.loads(result.stdout)["findings"]]
    assert codes == [(f["code"], f["index"]) for f in json.loads(local.stdout)["findings"]]
    assert (F.SOURCE_UNREADABLE, None) in codes or any(c == F.SOURCE_UNREADABLE for c, _ in codes)


def test_cli_verify_url_redirect_to_other_host(
    glog: GenericLog, exported: Path, tmp_path: Path
) -> None:
    glog.trust.save(tmp_path / "trust.json")
    with TilesServer(tmp_path / "server", exported, "redirect") as url:
        result = run_cli("verify", url, "--trust", str(tmp_path / "trust.json"))
    assert result.returncode == 2
    assert "redirect to another origin" in result.stderr
    assert f"{url}checkpoint" in result.stderr
    assert "Traceback" not in result.stderr


def test_same_origin_redirects_followed(glog: GenericLog, exported: Path, tmp_path: Path) -> None:
    server = TilesServer(tmp_path / "server", exported, "same-origin-redirect")
    with server as url, TilesReader.from_url(url) as reader:
        assert reader.root() == glog.log.root()
        assert list(reader.entries(590, 600)) == [glog.log.get_bytes(i) for i in range(590, 600)]


def test_redirects_bounded(glog: GenericLog, exported: Path, tmp_path: Path) -> None:
    server = TilesServer(tmp_path / "server", exported, "same-origin-redirect")
    with server as url, pytest.raises(TilesUnavailableError, match="more than 0 redirects"):
        TilesReader.from_url(url, max_redirects=0)


def test_cli_verify_url_oversized_file(glog: GenericLog, exported: Path, tmp_path: Path) -> None:
    glog.trust.save(tmp_path / "trust.json")
    with TilesServer(tmp_path / "server", exported, "oversize") as url:
        result = run_cli("verify", url, "--trust", str(tmp_path / "trust.json"), "--no-election")
        with TilesReader.from_url(url) as reader, pytest.raises(TilesError) as caught:
            reader.entry(0)
    assert result.returncode == 1  # the audit ran: every entry after the refusal is unread
    assert "larger than" in result.stdout
    assert isinstance(caught.value, TilesUnavailableError)
    assert f"{url}tile/" in str(caught.value) and "larger than" in str(caught.value)


def test_stalled_server(glog: GenericLog, exported: Path, tmp_path: Path) -> None:
    server = TilesServer(tmp_path / "server", exported, "stall")
    with server as url, TilesReader.from_url(url, timeout=1.0) as reader:
        started = time.monotonic()
        with pytest.raises(TilesUnavailableError, match="ReadTimeout") as caught:
            reader.root()
        assert time.monotonic() - started < 20
    assert f"{url}tile/" in str(caught.value)


def test_trickling_server(glog: GenericLog, exported: Path, tmp_path: Path) -> None:
    server = TilesServer(tmp_path / "server", exported, "trickle")
    with server as url, TilesReader.from_url(url, timeout=5.0, file_deadline=1.0) as reader:
        started = time.monotonic()
        with pytest.raises(TilesUnavailableError, match="not complete after 1 seconds"):
            reader.root()
        assert time.monotonic() - started < 20


def test_total_bytes_bound(glog: GenericLog, served: TilesServer) -> None:
    reader = TilesReader.from_url(served.url, max_total_bytes=20_000)
    with reader, pytest.raises(TilesUnavailableError, match="bound of 20000 bytes"):
        list(reader.entries())


def test_missing_and_unreachable(glog: GenericLog, exported: Path, tmp_path: Path) -> None:
    with TilesServer(tmp_path / "server", tmp_path / "nothing-here") as url:
        with pytest.raises(TilesUnavailableError, match="HTTP 404") as caught:
            TilesReader.from_url(url)
        assert caught.value.missing
        with pytest.raises(AuditError, match="not a readable tlog-tiles log"):
            audit(url, glog.trust, election=False)
    # the server is gone: nothing listens on its port any more
    with pytest.raises(TilesUnavailableError, match="ConnectError") as gone:
        TilesReader.from_url(url, timeout=2.0)
    assert url in str(gone.value)


@pytest.mark.parametrize(
    "url",
    ["ftp://127.0.0.1/", "file:///etc/", "http://", "http://127.0.0.1/?q=1", "http://u:p@h/"],
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(UsageError):
        TilesReader.from_url(url)


def test_missing_partial_read_from_full_tile(glog: GenericLog, tmp_path: Path) -> None:
    """A log that filled a tile may delete its partial versions (tlog-tiles): a reader of the
    older, smaller tree then takes the prefix of the full tile and bundle."""
    tiles = tmp_path / "tiles"
    export_tiles(glog.log, tiles)  # every stored checkpoint: 300 and 600
    old = glog.notes[0]
    assert TilesReader(tiles, checkpoint_note=old).size() == 300
    for rel in (tile_path(0, 1, 44), entries_path(1, 44)):
        (tiles / rel).unlink()
    reader = TilesReader(tiles, checkpoint_note=old)
    assert reader.root() == glog.log.root(300)
    assert list(reader.entries(256, 300)) == [glog.log.get_bytes(i) for i in range(256, 300)]
    shutil.rmtree(tiles / "tile" / "entries")
    with pytest.raises(TilesUnavailableError, match="missing or unreadable") as caught:
        TilesReader(tiles, checkpoint_note=old).entry(0)
    assert caught.value.missing


def test_core_imports_without_httpx_and_says_so() -> None:
    code = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("starlette", "uvicorn", "httpx", "anyio"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
import electlog, electlog.audit, electlog.publish.tiles
from electlog.errors import UsageError
try:
    electlog.publish.tiles.TilesReader.from_url("http://127.0.0.1:9/")
except UsageError as exc:
    assert "electlog[server]" in str(exc), exc
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert result.stdout.strip() == "ok", result.stderr
