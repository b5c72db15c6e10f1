"""Interoperability with a third-party C2SP tlog-tiles implementation: the Go project's
``golang.org/x/mod/sumdb/tlog`` and ``sumdb/note`` (Debian: ``golang-golang-x-mod-dev``, built
with Debian's ``golang-go``), driven by tests/interop/tlogtiles/main.go.

(a) the Go client reads a log electlog exported as tiles, served over HTTP by a separate
    process on 127.0.0.1: it verifies the checkpoint's signature, recomputes the checkpoint's
    root from the tiles and from the entries, finds every served tile byte for byte equal to
    the one tlog makes, and checks inclusion proofs; a changed tile or entry makes it fail.
    It reads a log that an ``electlog serve`` process serves from its store the same way.
(b) electlog's :class:`~electlog.publish.tiles.TilesReader` reads the tiles, entry bundles and
    signed checkpoint the Go writer made from electlog entries, and gets the same root.

Without the Go toolchain the tests skip, saying how to install it -- except under ``CI=1``,
where .ci/run installs it and they must run.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from electlog import Author, Log, NoteSigner, SigningKey, WitnessSigner
from electlog.checkpoint import NoteVerifier, cosign, verify_checkpoint
from electlog.errors import TilesError
from electlog.events import Entry
from electlog.publish.tiles import TilesReader, export_tiles, tile_path
from electlog.store.memory import MemoryStore
from electlog.store.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "tests" / "interop" / "tlogtiles" / "main.go"
GOPATH = Path("/usr/share/gocode")  # where Debian's golang-*-dev packages put Go sources
TLOG = GOPATH / "src" / "golang.org" / "x" / "mod" / "sumdb" / "tlog"
ORIGIN = "interop.example/tiles"
SIZE = 256 * 256 + 300  # level-2 tiles, and partial tiles at every level
TIMEOUT = 300


def _go_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GO111MODULE="off",  # GOPATH mode: the Debian packages' sources, nothing downloaded
        GOPATH=str(GOPATH),
        GOPROXY="off",
        GOFLAGS="",
        GOTOOLCHAIN="local",
    )
    env.setdefault("GOCACHE", str(tmp / "gocache"))
    return env


@pytest.fixture(scope="module")
def tlogtiles(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """The interop tool, built from tests/interop/tlogtiles against Debian's x/mod."""
    go = shutil.which("go")
    if go is None or not TLOG.is_dir():
        reason = (
            "needs Go and golang.org/x/mod/sumdb/tlog: apt-get install golang-go "
            "golang-golang-x-mod-dev (.ci/run installs them)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the tlog-tiles interop tests: {reason}", pytrace=False)
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("tlogtiles")
    env = _go_env(tmp)
    binary = tmp / "tlogtiles"
    built = subprocess.run(
        [go, "build", "-o", str(binary), SOURCE.name],
        cwd=SOURCE.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    yield binary, env


@pytest.fixture(scope="module")
def log_and_keys() -> tuple[Log, NoteSigner, list[bytes]]:
    store = MemoryStore(origin=ORIGIN)
    log = Log(store)
    desk = Author(SigningKey.generate(), ORIGIN)
    log_key = NoteSigner.generate(ORIGIN)
    witness = WitnessSigner.generate("witness.interop.example")
    entries = [
        desk.sign("interop.event", {"i": i, "pad": "x" * (i % 50)}, time=1_000_000 + i)
        for i in range(SIZE)
    ]
    for start, stop in ((0, 1000), (1000, 256 * 256), (256 * 256, SIZE)):
        log.append_many(entries[start:stop])
        # every checkpoint carries a witness cosignature, which the Go client must ignore
        log.add_checkpoint(cosign(log.checkpoint(log_key), witness, 1_700_000_000 + stop))
    return log, log_key, list(store.entries())


class StaticServer:
    """``python -m http.server`` over a directory, on a free port of 127.0.0.1 (a stand-in for
    ``electlog serve``: tlog-tiles is static files)."""

    def __init__(self, directory: Path) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-u",
                "-m",
                "http.server",
                "0",
                "--bind",
                "127.0.0.1",
                "--directory",
                str(directory),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            match = re.search(r"port (\d+)", line)
            if match:
                self.url = f"http://127.0.0.1:{match.group(1)}"
                return
            if self.proc.poll() is not None:
                break
        self.stop()
        raise AssertionError(f"the static server did not start: {line!r}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # pragma: no cover
                self.proc.kill()
                self.proc.wait(timeout=30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _tile_count(size: int) -> int:
    """Hash tiles of a tree of ``size`` leaves: per level, the full tiles and a partial one."""
    count, width = 0, size
    while width:
        count += -(-width // 256)
        width >>= 8
    return count


def _run(
    binary: Path, env: dict[str, str], *args: str, data: bytes | None = None
) -> dict[str, object]:
    done = subprocess.run(
        [str(binary), *args],
        input=data,
        env=env,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(done.stderr.decode("utf-8", "replace"))
    result = json.loads(done.stdout)
    assert isinstance(result, dict)
    return result


def test_the_go_client_reads_a_served_electlog_log(
    tlogtiles: tuple[Path, dict[str, str]],
    log_and_keys: tuple[Log, NoteSigner, list[bytes]],
    tmp_path: Path,
) -> None:
    binary, env = tlogtiles
    log, log_key, _ = log_and_keys
    info = export_tiles(log, tmp_path / "tiles")
    assert info.size == SIZE
    server = StaticServer(tmp_path / "tiles")
    try:
        got = _run(binary, env, "read", server.url, log_key.vkey)
        assert got == {
            "origin": ORIGIN,
            "size": SIZE,
            "root": base64.b64encode(log.root()).decode(),
            "entries": SIZE,
            "tiles": _tile_count(SIZE),
            "signer": ORIGIN,
        }
        # a wrong key, a changed hash tile, a changed entry: the Go client refuses each
        other = NoteSigner.generate(ORIGIN)
        with pytest.raises(AssertionError, match="checkpoint signature"):
            _run(binary, env, "read", server.url, other.vkey)
        for rel, why in (
            (tile_path(0, SIZE // 256, SIZE % 256), "downloaded inconsistent tile"),
            (tile_path(1, 0), r"tile/1/000 is not the tile tlog\.ReadTileData makes"),
            ("tile/entries/001", "the entries' tree hash is not the checkpoint's root"),
        ):
            path = tmp_path / "tiles" / rel
            original = path.read_bytes()
            path.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
            with pytest.raises(AssertionError, match=why):
                _run(binary, env, "read", server.url, log_key.vkey)
            path.write_bytes(original)
        assert _run(binary, env, "read", server.url, log_key.vkey)["size"] == SIZE
    finally:
        server.stop()


def test_electlog_reads_tiles_the_go_writer_wrote(
    tlogtiles: tuple[Path, dict[str, str]],
    log_and_keys: tuple[Log, NoteSigner, list[bytes]],
    tmp_path: Path,
) -> None:
    binary, env = tlogtiles
    log, _, entries = log_and_keys
    records = b"".join(struct.pack(">H", len(e)) + e for e in entries)
    target = tmp_path / "go-tiles"
    got = _run(binary, env, "write", str(target), ORIGIN, data=records)
    assert got["size"] == SIZE
    with TilesReader(target) as reader:
        assert reader.size() == SIZE and reader.origin == ORIGIN
        # the same root from the Go writer's tiles, from electlog's own tree, and in the note
        assert base64.b64encode(reader.root()).decode() == got["root"]
        assert reader.root() == log.root()
        assert reader.root(1000) == log.root(1000)
        assert isinstance(got["vkey"], str)
        cp = verify_checkpoint(reader.checkpoint_note, NoteVerifier.from_vkey(got["vkey"]))
        assert (cp.size, cp.root) == (SIZE, log.root())
        assert reader.consistency_proof(1000, SIZE) == log.consistency_proof(1000, SIZE)
        assert reader.inclusion_proof(SIZE - 1) == log.inclusion_proof(SIZE - 1)
        reader.verify()  # every tile against the one above it, every entry against its leaf
        assert list(reader.entries(SIZE - 3)) == entries[-3:]
    # electlog notices a tile the Go writer did not write
    tile = target / tile_path(0, 0)
    data = tile.read_bytes()
    tile.write_bytes(data[:32] + bytes([data[32] ^ 1]) + data[33:])
    with TilesReader(target) as reader, pytest.raises(TilesError):
        reader.verify()


def test_the_go_client_reads_what_electlog_serve_serves(
    tlogtiles: tuple[Path, dict[str, str]],
    log_and_keys: tuple[Log, NoteSigner, list[bytes]],
    tmp_path: Path,
) -> None:
    """(a) again, against the log service itself: an ``electlog serve`` process computes the
    tiles from its SQLite store and publishes the checkpoint through an ``electlog witness``
    process; the Go client reads it over HTTP and gets the log's root."""
    from test_log_service import ServeProcess, wait_for
    from test_witness_service import WitnessProcess

    binary, env = tlogtiles
    log, log_key, entries = log_and_keys
    store_path = tmp_path / "served.sqlite"
    with SQLiteStore(store_path, origin=ORIGIN) as store:
        Log(store).append_many(Entry.from_bytes(e) for e in entries)
    witness = WitnessProcess(
        tmp_path / "witness", "witness.serve.example", [(ORIGIN, log_key.vkey)]
    )
    serve = ServeProcess(tmp_path / "serve", store_path, log_key, [witness], 1)
    try:
        witness.start()
        url = serve.start()

        def published() -> bool:
            answer = httpx.get(f"{url}/checkpoint", timeout=10)
            return answer.status_code == 200 and answer.text.splitlines()[1] == str(SIZE)

        wait_for("the served checkpoint to cover the whole log", published)
        got = _run(binary, env, "read", url, log_key.vkey)
        assert got == {
            "origin": ORIGIN,
            "size": SIZE,
            "root": base64.b64encode(log.root()).decode(),
            "entries": SIZE,
            "tiles": _tile_count(SIZE),
            "signer": ORIGIN,
        }
        # the log's key is what the Go client checks: another key's view is refused
        with pytest.raises(AssertionError, match="checkpoint signature"):
            _run(binary, env, "read", url, NoteSigner.generate(ORIGIN).vkey)
    finally:
        serve.stop()
        witness.stop()
