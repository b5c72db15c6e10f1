"""`electlog serve` as a real process on 127.0.0.1 (ephemeral ports), with `electlog witness`
processes: submissions over HTTP, published checkpoints, tiles, refusals, a witness killed
mid-request, a forked log, and concurrent submitters. Every process is started and stopped by its
test; every wait is bounded."""

from __future__ import annotations

import base64
import json
import logging
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_witness_service import WitnessProcess, outputs, spawn_until_ready

from electlog import Author, Log, NoteSigner, SigningKey, WitnessSigner
from electlog.audit import Trust
from electlog.checkpoint import (
    Checkpoint,
    WitnessVerifier,
    cosign,
    sign_note,
    verify_checkpoint_detailed,
)
from electlog.cli import main
from electlog.election.scenario import Scenario
from electlog.errors import WitnessError
from electlog.events import AuthorHead, Entry, chain_break
from electlog.net import LOG_OPENAPI, LogService, Witness, log_app
from electlog.publish import TilesReader
from electlog.publish.tiles import TILE_HEIGHT, TILE_WIDTH, entries_path, tile_path
from electlog.store import open_store

ORIGIN = "district-7.example/served"
WAIT = 60.0  # the longest any loop here waits for the service


class ServeProcess:
    """One ``electlog serve`` child process."""

    def __init__(
        self,
        directory: Path,
        store: Path | str,
        log_key: NoteSigner,
        witnesses: list[WitnessProcess],
        quorum: int,
        *extra: str,
    ) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.store = store
        self.key_file = directory / "log.key"
        self.key_file.write_text(log_key.skey + "\n", encoding="utf-8")
        self.key_file.chmod(0o600)
        self.witnesses = witnesses
        self.quorum = quorum
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.runs = 0

    def start(self) -> str:
        ready = self.directory / "ready"
        ready.unlink(missing_ok=True)
        self.runs += 1
        args = [
            sys.executable,
            "-m",
            "electlog",
            "serve",
            str(self.store),
            "--listen",
            "127.0.0.1:0",
            "--ready-file",
            str(ready),
            "--log-key",
            str(self.key_file),
            "--quorum",
            str(self.quorum),
            "--witness-timeout",
            "2",
            "--retry-max",
            "1",
            "--checkpoint-interval",
            "0.3",
            *self.extra,
        ]
        for w in self.witnesses:
            args += ["--witness", w.url, w.verifier.vkey]
        self.proc, self.url = spawn_until_ready(args, self.directory, self.runs, "serve")
        return self.url

    def output(self) -> str:
        return outputs(self.directory)

    def stop(self) -> int | None:
        """SIGTERM, then wait (SIGKILL after 30 s); the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # pragma: no cover
                self.proc.kill()
                self.proc.wait(timeout=30)
        return self.proc.returncode


@pytest.fixture
def log_key() -> NoteSigner:
    return NoteSigner.generate(ORIGIN)


def start_witnesses(directory: Path, log_key: NoteSigner, n: int = 3) -> list[WitnessProcess]:
    procs = [
        WitnessProcess(directory / f"w{i}", f"witness-{i}.example", [(log_key.name, log_key.vkey)])
        for i in range(n)
    ]
    for p in procs:
        p.start()
    return procs


@pytest.fixture
def witnesses(tmp_path: Path, log_key: NoteSigner) -> Iterator[list[WitnessProcess]]:
    procs: list[WitnessProcess] = []
    try:
        procs.extend(start_witnesses(tmp_path, log_key))
        yield procs
    finally:
        for p in procs:
            p.stop()


def b64(entries: list[Entry]) -> dict[str, list[str]]:
    return {"entries": [base64.b64encode(e.data).decode("ascii") for e in entries]}


def sign(author: Author, n: int, tag: str = "a") -> list[Entry]:
    return [author.sign("test.event", {"tag": tag, "i": i}, time=1_000_000 + i) for i in range(n)]


def wait_for(what: str, check: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def served_size(http: httpx.Client) -> int:
    resp = http.get("/checkpoint")
    if resp.status_code == 404:
        return 0
    assert resp.status_code == 200, resp.text
    return served_size_of(resp.text)


def download_tiles(http: httpx.Client, directory: Path) -> str:
    """Fetch the checkpoint and every tile and bundle of its tree into ``directory``."""
    note = http.get("/checkpoint").text
    size = served_size_of(note)
    paths: list[str] = []
    level = 0
    while size >> (TILE_HEIGHT * level):
        count = size >> (TILE_HEIGHT * level)
        for n in range((count + TILE_WIDTH - 1) // TILE_WIDTH):
            paths.append(tile_path(level, n, min(TILE_WIDTH, count - n * TILE_WIDTH)))
        level += 1
    for n in range((size + TILE_WIDTH - 1) // TILE_WIDTH):
        paths.append(entries_path(n, min(TILE_WIDTH, size - n * TILE_WIDTH)))
    for rel in paths:
        resp = http.get("/" + rel)
        assert resp.status_code == 200, (rel, resp.text)
        full = not rel.split("/")[-2].endswith(".p")
        want = "public, max-age=31536000, immutable" if full else "no-cache"
        assert resp.headers["cache-control"] == want, rel
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(resp.content)
    (directory / "checkpoint").write_text(note, encoding="utf-8")
    return note


def store_log(path: Path) -> Log:
    return Log(open_store(str(path), read_only=True))


def problem(resp: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    doc = resp.json()
    assert doc["status"] == status and doc["code"] == code, doc
    assert doc["type"] == f"urn:electlog:problem:{code}"
    assert isinstance(doc["title"], str) and isinstance(doc["detail"], str)
    return dict(doc)


# --------------------------------------------------------------------------- serving


def test_submit_publish_and_serve_tiles(
    witnesses: list[WitnessProcess], log_key: NoteSigner, tmp_path: Path
) -> None:
    path = tmp_path / "log.sqlite"
    open_store(str(path), origin=ORIGIN).close()
    serve = ServeProcess(
        tmp_path / "serve",
        path,
        log_key,
        witnesses,
        2,
        "--checkpoint-every",
        "200",
        "--checkpoint-interval",
        "0.5",
        "--max-entries",
        "300",
        "--max-request-bytes",
        "200000",
    )
    serve.start()
    try:
        with httpx.Client(base_url=serve.url, timeout=30) as http:
            assert http.get("/checkpoint").status_code == 404
            authors = [Author(SigningKey.generate(), ORIGIN) for _ in range(3)]
            receipts = []
            for k, author in enumerate(authors):
                for _ in range(2):
                    resp = http.post("/entries", json=b64(sign(author, 120, f"a{k}")))
                    assert resp.status_code == 200, resp.text
                    receipts.extend(resp.json()["receipts"])
            assert [r["index"] for r in receipts] == list(range(720))
            wait_for("the checkpoint of size 720", lambda: served_size(http) == 720)
            note = download_tiles(http, tmp_path / "tiles")
            verifiers = [w.verifier for w in witnesses]
            checked = verify_checkpoint_detailed(note, log_key.verifier(), verifiers, 2)
            assert checked.checkpoint.size == 720
            reader = TilesReader(tmp_path / "tiles")
            reader.verify()
            log = store_log(path)
            assert reader.root() == log.root(720) == checked.checkpoint.root
            for r in receipts[::97]:
                assert log.get(r["index"]).leaf_hash.hex() == r["leaf_hash"]

            # beyond the published tree, or not a canonical path: 404; the document is served
            for rel in ("tile/0/003", "tile/entries/003", "tile/0/002.p/209", "tile/0/0001"):
                problem(http.get("/" + rel), 404, "tile.not_found")
            assert http.get("/tile/entries/002.p/100").status_code == 200  # an earlier width
            assert http.get("/openapi.json").json()["openapi"] == "3.1.0"

            # refusals: a problem document each, nothing appended
            author = authors[0]
            good = sign(Author(SigningKey.generate(), ORIGIN), 2, "x")
            forged = bytearray(good[1].data)
            pos = forged.rindex(good[1].signature)
            forged[pos] ^= 1
            body = b64(good)
            body["entries"][1] = base64.b64encode(bytes(forged)).decode()
            doc = problem(http.post("/entries", json=body), 422, "entry.signature_invalid")
            assert doc["entry"] == 1 and doc["field"] == "signature"
            resumed = Author(author.key, ORIGIN)  # seq 1 again: the chain is at 240
            doc = problem(http.post("/entries", json=b64(sign(resumed, 1))), 409, "chain.seq_gap")
            assert doc["entry"] == 0 and doc["field"] == "seq"
            other = Author(SigningKey.generate(), "elsewhere.example/log")
            doc = problem(http.post("/entries", json=b64(sign(other, 1))), 422, "entry.wrong_log")
            assert doc["field"] == "log"
            problem(http.post("/entries", content=b"{"), 415, "request.media_type")
            problem(
                http.post("/entries", content=b"{", headers={"content-type": "application/json"}),
                400,
                "request.malformed",
            )
            doc = problem(http.post("/entries", json={"entries": ["!"]}), 400, "request.malformed")
            assert doc["field"] == "entries[0]"
            problem(
                http.post("/entries", json={"entries": ["AA"] * 301}),
                413,
                "request.too_many_entries",
            )
            big = {"entries": ["A" * 200_000]}
            problem(http.post("/entries", json=big), 413, "request.too_large")
        assert len(store_log(path)) == 720
    finally:
        assert serve.stop() == 0, serve.output()


def test_election_log_rules_over_http(witnesses: list[WitnessProcess], tmp_path: Path) -> None:
    path = tmp_path / "election.sqlite"
    origin = "district-7.example/election-served"
    s = Scenario(0, log=Log(open_store(str(path), origin=origin)))
    s.define()
    s.appoint_committees()
    s.register_voters()
    size = len(s.log)
    s.log.store.close()
    log_key = NoteSigner.generate(origin)
    for w in witnesses:  # the witnesses also follow this log
        w.stop()
        w.logs = [(origin, log_key.vkey)]
        w.start()
    serve = ServeProcess(tmp_path / "serve", path, log_key, witnesses, 2)
    serve.start()
    try:
        assert "election log" in serve.output()
        head = store_log(path).author_head(s.keys.registrar.key_id)
        assert head is not None
        registrar = Author(s.keys.registrar, origin, seq=head.seq, prev=head.prev)

        def signed(event: object) -> Entry:
            return registrar.sign(
                event.TYPE,  # type: ignore[attr-defined]
                event.to_body(),  # type: ignore[attr-defined]
                time=s.at(-29),
                schema=event.SCHEMA,  # type: ignore[attr-defined]
            )

        with httpx.Client(base_url=serve.url, timeout=30) as http:
            fresh = signed(s.registration("c1-v90", "c1", "c1-g1", "c1-h90"))
            duplicate = signed(s.registration("c1-v00", "c1", "c1-g1", "c1-h00"))
            doc = problem(
                http.post("/entries", json=b64([fresh, duplicate])), 422, "voter.duplicate"
            )
            assert doc["entry"] == 1
            registrar.rewind(head)
            assert len(store_log(path)) == size
            junk = registrar.sign("test.event", {"i": 1}, time=s.at(-29))
            doc = problem(http.post("/entries", json=b64([junk])), 422, "event.malformed")
            assert doc["entry"] == 0
            registrar.rewind(head)
            resp = http.post(
                "/entries", json=b64([signed(s.registration("c1-v90", "c1", "c1-g1", "c1-h90"))])
            )
            assert resp.status_code == 200, resp.text
            assert resp.json()["receipts"][0]["index"] == size
            wait_for("the first checkpoint", lambda: served_size(http) == size + 1)
        # an auditor audits the served election log by its URL, and a monitor follows it: the
        # same trust file as for a bundle, with the witnesses that cosigned the served checkpoint
        trust = tmp_path / "trust.json"
        Trust.create(
            origin=origin,
            authority_key=s.keys.authority.public,
            log_key=log_key.verifier(),
            witnesses=[w.verifier for w in witnesses],
            quorum=2,
        ).save(trust)
        report = tmp_path / "report.json"
        args = ["--trust", str(trust), "--in-progress", "--format", "json", "--jobs", "1"]
        assert main(["verify", serve.url, *args, "--output", str(report)]) == 0
        data = json.loads(report.read_text(encoding="utf-8"))
        assert data["verdict"] == "clean_in_progress"
        # only the communities' pending phases: the election has just begun
        assert {f["code"] for f in data["findings"]} == {"election.incomplete"}
        assert data["checkpoint"]["size"] == size + 1
        state = ["--state", str(tmp_path / "monitor"), "--jobs", "1"]
        assert main(["monitor", serve.url, "--trust", str(trust), *state]) == 0
        status = json.loads((tmp_path / "monitor" / "status.json").read_text(encoding="utf-8"))
        assert status["size"] == size + 1, status
    finally:
        assert serve.stop() == 0, serve.output()


def test_sigterm_finishes_the_request_in_progress(
    witnesses: list[WitnessProcess], log_key: NoteSigner, tmp_path: Path
) -> None:
    path = tmp_path / "log.sqlite"
    open_store(str(path), origin=ORIGIN).close()
    serve = ServeProcess(tmp_path / "serve", path, log_key, witnesses, 2)
    serve.start()
    assert serve.proc is not None
    body = json.dumps(b64(sign(Author(SigningKey.generate(), ORIGIN), 200))).encode()
    half_sent = threading.Event()
    go_on = threading.Event()
    answers: list[httpx.Response | BaseException] = []

    def slow_body() -> Iterator[bytes]:
        yield body[: len(body) // 2]
        half_sent.set()
        go_on.wait(timeout=WAIT)
        yield body[len(body) // 2 :]

    def submit() -> None:
        try:
            answers.append(
                httpx.post(
                    serve.url + "/entries",
                    content=slow_body(),
                    headers={"content-type": "application/json"},
                    timeout=WAIT,
                )
            )
        except BaseException as exc:  # reported below
            answers.append(exc)

    thread = threading.Thread(target=submit)
    thread.start()
    try:
        assert half_sent.wait(timeout=WAIT)
        time.sleep(0.2)
        serve.proc.terminate()  # SIGTERM while the request is half read
        time.sleep(0.3)
        assert serve.proc.poll() is None  # still finishing it
    finally:
        go_on.set()
        thread.join(timeout=WAIT)
    answer = answers[0]
    assert isinstance(answer, httpx.Response), answer
    assert answer.status_code == 200, answer.text
    assert serve.proc.wait(timeout=WAIT) == 0, serve.output()
    assert len(store_log(path)) == 200  # acknowledged, hence durable


@pytest.mark.postgres
def test_serve_a_postgres_store(
    witnesses: list[WitnessProcess], log_key: NoteSigner, tmp_path: Path, postgres_dsn: str
) -> None:
    open_store(postgres_dsn, origin=ORIGIN).close()
    serve = ServeProcess(tmp_path / "serve", postgres_dsn, log_key, witnesses, 2)
    serve.start()
    try:
        with httpx.Client(base_url=serve.url, timeout=30) as http:
            entries = sign(Author(SigningKey.generate(), ORIGIN), 300)
            for start in range(0, 300, 100):
                batch = entries[start : start + 100]
                assert http.post("/entries", json=b64(batch)).status_code == 200
            wait_for("checkpoint 300", lambda: served_size(http) == 300)
            note = download_tiles(http, tmp_path / "tiles")
    finally:
        assert serve.stop() == 0, serve.output()
    reader = TilesReader(tmp_path / "tiles")
    reader.verify()
    log = Log(open_store(postgres_dsn))
    try:
        assert (
            reader.root()
            == log.root(300)
            == Checkpoint.from_text(note.split("\n\n")[0] + "\n").root
        )
    finally:
        log.store.close()


# --------------------------------------------------------------------------- failures


def test_witness_sigkilled_mid_request(
    witnesses: list[WitnessProcess], log_key: NoteSigner, tmp_path: Path
) -> None:
    path = tmp_path / "log.sqlite"
    open_store(str(path), origin=ORIGIN).close()
    serve = ServeProcess(
        tmp_path / "serve", path, log_key, witnesses, 2, "--checkpoint-every", "10"
    )
    serve.start()
    w = witnesses[0]
    notes: list[str] = []
    author = Author(SigningKey.generate(), ORIGIN)
    try:
        with httpx.Client(base_url=serve.url, timeout=30) as http:

            def grow_and_publish(n: int) -> None:
                resp = http.post("/entries", json=b64(sign(author, n)))
                assert resp.status_code == 200, resp.text
                size = resp.json()["receipts"][-1]["index"] + 1
                wait_for(f"checkpoint {size}", lambda: served_size(http) >= size)
                notes.append(http.get("/checkpoint").text)

            grow_and_publish(20)
            assert w.proc is not None
            w.proc.send_signal(signal.SIGSTOP)  # it accepts, reads nothing, answers nothing
            resp = http.post("/entries", json=b64(sign(author, 15)))
            assert resp.status_code == 200
            time.sleep(0.5)  # the publication of size 35 is waiting for its answer
            w.kill()  # mid-request: the serve process is waiting for its answer
            wait_for("checkpoint 35 with the quorum", lambda: served_size(http) >= 35)
            notes.append(http.get("/checkpoint").text)
            port = w.url.rsplit(":", 1)[1]
            w.extra = ("--listen", f"127.0.0.1:{port}")  # back on its address, same state
            w.start()
            deadline = time.monotonic() + WAIT
            while f"— {w.verifier.name} " not in notes[-1]:  # its backoff is at most 1 s
                assert time.monotonic() < deadline, "the restarted witness never cosigned"
                time.sleep(0.2)
                grow_and_publish(10)
    finally:
        assert serve.stop() == 0, serve.output()
    assert "did not cosign" in serve.output()
    log = store_log(path)
    verifiers = [x.verifier for x in witnesses]
    for note in notes:
        checked = verify_checkpoint_detailed(note, log_key.verifier(), verifiers, 2)
        assert log.root(checked.checkpoint.size) == checked.checkpoint.root
    for x in witnesses:
        x.stop()
    with Witness(w.signer, w.state, {ORIGIN: [log_key.verifier()]}) as state:
        held = state.latest(ORIGIN)
        assert held is not None
        assert log.root(held[0]) == held[1]  # it never took another root
        assert state.evidence(ORIGIN) == []


def test_forked_log_cannot_publish(
    witnesses: list[WitnessProcess], log_key: NoteSigner, tmp_path: Path
) -> None:
    real = tmp_path / "real" / "log.sqlite"
    real.parent.mkdir()
    open_store(str(real), origin=ORIGIN).close()
    serve = ServeProcess(tmp_path / "serve", real, log_key, witnesses, 2)
    author = Author(SigningKey.generate(), ORIGIN)
    serve.start()
    with httpx.Client(base_url=serve.url, timeout=30) as http:
        assert http.post("/entries", json=b64(sign(author, 300))).status_code == 200
        wait_for("checkpoint 300", lambda: served_size(http) == 300)
    assert serve.stop() == 0
    # the operator keeps a copy of the store at 300 ...
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in real.parent.iterdir():
        shutil.copy2(f, copy / f.name)
    # ... while the real log grows and is published at 400
    serve.start()
    with httpx.Client(base_url=serve.url, timeout=30) as http:
        entries = [author.sign("test.event", {"i": i}, time=2_000_000 + i) for i in range(100)]
        assert http.post("/entries", json=b64(entries)).status_code == 200
        wait_for("checkpoint 400", lambda: served_size(http) == 400)
        real_note = http.get("/checkpoint").text
    assert serve.stop() == 0

    # the copy is served, rolled back, against the same witnesses, and grows another history
    fork = ServeProcess(tmp_path / "fork", copy / "log.sqlite", log_key, witnesses, 1)
    fork.start()
    try:
        with httpx.Client(base_url=fork.url, timeout=30) as http:
            old = http.get("/checkpoint").text
            assert served_size(http) == 300
            forger = Author(SigningKey.generate(), ORIGIN)
            assert http.post("/entries", json=b64(sign(forger, 50, "f"))).status_code == 200
            wait_for("a refusal of the rolled-back size", lambda: "HTTP 409" in fork.output())
            more = [forger.sign("test.event", {"i": i}, time=3_000_000 + i) for i in range(150)]
            assert http.post("/entries", json=b64(more)).status_code == 200
            wait_for("a refusal of the forked proof", lambda: "HTTP 422" in fork.output())
            wait_for(
                "a second 'quorum not met'", lambda: fork.output().count("quorum not met") >= 2
            )
            assert http.get("/checkpoint").text == old  # never advanced
    finally:
        assert fork.stop() == 0, fork.output()
    out = fork.output()
    assert "cosigns again" not in out
    for w in witnesses:  # every witness refused both the rolled-back and the forked tree
        lines = [line for line in out.splitlines() if f"witness {w.verifier.name} " in line]
        assert any("HTTP 409" in line for line in lines), out
        assert any("HTTP 422" in line for line in lines), out
        assert all("did not cosign" in line for line in lines), lines
    assert served_size_of(real_note) == 400
    real_root = store_log(real).root(400)
    for w in witnesses:
        w.stop()
        with Witness(w.signer, w.state, {ORIGIN: [log_key.verifier()]}) as state:
            assert state.latest(ORIGIN) == (400, real_root)  # it never cosigned the fork
            assert [status for status, _, _ in state.evidence(ORIGIN)] and all(
                status in (409, 422) for status, _, _ in state.evidence(ORIGIN)
            )


def served_size_of(note: str) -> int:
    return Checkpoint.from_text(note.split("\n\n", maxsplit=1)[0] + "\n").size


def test_cli_usage_errors(
    tmp_path: Path, log_key: NoteSigner, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "log.sqlite"
    open_store(str(store), origin=ORIGIN).close()
    key = tmp_path / "log.key"
    key.write_text(log_key.skey + "\n", encoding="utf-8")
    key.chmod(0o600)
    vkey = WitnessProcess(tmp_path / "w", "w.example", []).verifier.vkey

    def run(*args: str) -> str:
        base = ["serve", "--listen", "127.0.0.1:0", "--quorum", "1"]
        assert main([*base, *args]) == 2
        return capsys.readouterr().err

    assert "log key" in run(
        str(store), "--log-key", str(tmp_path / "nope"), "--witness", "http://127.0.0.1:9", vkey
    )
    assert "bad verifier key" in run(
        str(store), "--log-key", str(key), "--witness", "http://127.0.0.1:9", "nonsense"
    )
    assert "does not exist" in run(
        str(tmp_path / "missing.sqlite"),
        "--log-key",
        str(key),
        "--witness",
        "http://127.0.0.1:9",
        vkey,
    )
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "serve",
                str(store),
                "--listen",
                "127.0.0.1:0",
                "--log-key",
                str(key),
                "--quorum",
                "0",
                "--witness",
                "http://x",
                vkey,
            ]
        )
    assert exc.value.code == 2
    base = ["serve", str(store), "--listen", "127.0.0.1:0", "--log-key", str(key)]
    assert main([*base, "--quorum", "2", "--witness", "http://127.0.0.1:9", vkey]) == 2
    assert "--quorum 2" in capsys.readouterr().err
    other = NoteSigner.generate("another.example/log")
    key.write_text(other.skey + "\n", encoding="utf-8")
    assert main([*base, "--quorum", "1", "--witness", "http://127.0.0.1:9", vkey]) == 2
    assert "another.example/log" in capsys.readouterr().err


def test_openapi_lists_every_route(log_key: NoteSigner) -> None:
    from openapi_spec_validator import validate
    from starlette.routing import Route

    from electlog import WitnessSigner
    from electlog.net import LogService, WitnessClient

    witness = WitnessClient("http://127.0.0.1:9", WitnessSigner.generate("w.example").verifier())
    service = LogService(open_store(":memory:", origin=ORIGIN), log_key, [witness], 1)
    served = {
        (re.sub(r"{(\w+):\w+}", r"{\1}", route.path), method.lower())
        for route in log_app(service).routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    documented = {(path, method) for path, ops in LOG_OPENAPI["paths"].items() for method in ops}
    assert served == documented
    validate(LOG_OPENAPI)
    witness.close()


# --------------------------------------------------------------------------- load

SUBMITTERS = 20
PER_SUBMITTER = 5_000  # 100,000 entries in all, as issue 13 asks; benchmarks/ measures the rate
BATCH = 100


def test_concurrent_submitters(
    witnesses: list[WitnessProcess], log_key: NoteSigner, tmp_path: Path
) -> None:
    path = tmp_path / "log.sqlite"
    open_store(str(path), origin=ORIGIN).close()
    serve = ServeProcess(tmp_path / "serve", path, log_key, witnesses, 2)
    serve.start()
    acknowledged: dict[bytes, int] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def submitter(k: int) -> None:
        author = Author(SigningKey.generate(), ORIGIN)
        try:
            with httpx.Client(base_url=serve.url, timeout=60) as http:
                for start in range(0, PER_SUBMITTER, BATCH):
                    entries = [
                        author.sign("test.event", {"k": k, "i": i}, time=1_000_000 + i)
                        for i in range(start, start + BATCH)
                    ]
                    resp = http.post("/entries", json=b64(entries))
                    assert resp.status_code == 200, resp.text
                    with lock:
                        for e, r in zip(entries, resp.json()["receipts"], strict=True):
                            assert r["leaf_hash"] == e.leaf_hash.hex()
                            acknowledged[e.leaf_hash] = r["index"]
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=submitter, args=(k,)) for k in range(SUBMITTERS)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert not any(t.is_alive() for t in threads)
        assert not errors, errors[0]
        total = SUBMITTERS * PER_SUBMITTER
        with httpx.Client(base_url=serve.url, timeout=30) as http:
            wait_for(f"checkpoint {total}", lambda: served_size(http) == total)
            note = http.get("/checkpoint").text
    finally:
        assert serve.stop() == 0, serve.output()
    assert len(acknowledged) == total
    assert sorted(acknowledged.values()) == list(range(total))
    log = store_log(path)
    assert len(log) == total
    heads: dict[bytes, AuthorHead] = {}
    seen: set[bytes] = set()
    for index, entry in enumerate(log):
        assert acknowledged[entry.leaf_hash] == index  # each acknowledged entry exactly once
        assert entry.leaf_hash not in seen
        seen.add(entry.leaf_hash)
        st = entry.statement
        assert chain_break(heads.get(st.author), st.seq, st.prev) is None
        heads[st.author] = AuthorHead(st.seq, entry.leaf_hash)
    assert len(heads) == SUBMITTERS
    checked = verify_checkpoint_detailed(
        note, log_key.verifier(), [w.verifier for w in witnesses], 2
    )
    assert checked.checkpoint.root == log.root(total)


def test_listening_socket_is_tcp_so_asyncio_sets_nodelay() -> None:
    """asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP; a listening socket
    made with proto 0 left every answer of the witness and the log service waiting ~40 ms for
    a delayed ACK (benchmarks/ row h2 measures the round trip)."""
    import socket

    from electlog.net._server import _bind

    sock = _bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


# --------------------------------------------------------------------------- in process


class CountingWitness:
    """A Cosigner in this process: records the size of every checkpoint it is asked to cosign,
    cosigns unless ``down``."""

    def __init__(self, name: str) -> None:
        self.signer = WitnessSigner.generate(name)
        self.asked: list[int] = []
        self.down = False

    @property
    def verifier(self) -> WitnessVerifier:
        return self.signer.verifier()

    def add_checkpoint(self, note: str, prove: Callable[[int, int], Sequence[bytes]]) -> str:
        self.asked.append(served_size_of(note))
        if self.down:
            raise WitnessError(self.signer.name, "unreachable: ConnectError")
        return cosign(note, self.signer, 1_700_000_000)[len(note) :]


def in_process_service(
    log_key: NoteSigner, **kwargs: Any
) -> tuple[LogService, list[CountingWitness]]:
    ws = [CountingWitness(f"c{i}.example") for i in range(2)]
    return LogService(open_store(":memory:", origin=ORIGIN), log_key, ws, 2, **kwargs), ws


def test_publishing_every_n_entries_and_only_when_grown(log_key: NoteSigner) -> None:
    service, ws = in_process_service(log_key, checkpoint_every=5, checkpoint_interval=3600)
    author = Author(SigningKey.generate(), ORIGIN)
    entries = [e.data for e in sign(author, 5)]
    service.start()
    try:
        service.submit(entries[:4])
        time.sleep(0.3)
        assert ws[0].asked == [] and service.published_note() is None
        service.submit(entries[4:])
        wait_for("the checkpoint of size 5", lambda: service.published_size == 5, 10)
        time.sleep(0.3)  # nothing new: nothing is published again
        assert ws[0].asked == ws[1].asked == [5]
    finally:
        service.stop()


def test_publishing_after_the_interval(log_key: NoteSigner) -> None:
    service, ws = in_process_service(log_key, checkpoint_every=1000, checkpoint_interval=0.2)
    service.start()
    try:
        service.submit([e.data for e in sign(Author(SigningKey.generate(), ORIGIN), 3)])
        wait_for("the checkpoint of size 3", lambda: service.published_size == 3, 10)
        note = service.published_note()
        assert note is not None
        verify_checkpoint_detailed(note, log_key.verifier(), [w.verifier for w in ws], 2)
    finally:
        service.stop()


def test_quorum_not_met_is_logged_and_retried(
    log_key: NoteSigner, caplog: pytest.LogCaptureFixture
) -> None:
    service, ws = in_process_service(log_key, checkpoint_every=1, retry_initial=0.05, retry_max=0.1)
    ws[1].down = True
    service.start()
    try:
        with caplog.at_level(logging.WARNING, logger="electlog.serve"):
            service.submit([e.data for e in sign(Author(SigningKey.generate(), ORIGIN), 2)])
            wait_for("a retry", lambda: len(ws[0].asked) >= 3, 10)
            assert service.published_note() is None  # the quorum of 2 was never met
            ws[1].down = False
            wait_for("the checkpoint of size 2", lambda: service.published_size == 2, 10)
    finally:
        service.stop()
    text = caplog.text
    assert "quorum not met for size 2" in text
    assert f"witness {ws[1].signer.name} did not cosign" in text and "ConnectError" in text
    assert ws[1].signer.skey not in text and log_key.skey not in text


def test_a_failed_witness_backs_off(log_key: NoteSigner) -> None:
    from electlog.net._logservice import _WatchedWitness

    now = [100.0]
    inner = CountingWitness("b.example")
    inner.down = True
    watched = _WatchedWitness(inner, ORIGIN, 1.0, 4.0, lambda: now[0])
    note = sign_note(Checkpoint(origin=ORIGIN, size=1, root=b"\1" * 32).to_text(), [log_key])

    def ask() -> str:
        return watched.add_checkpoint(note, lambda a, b: [])

    for delay in (1.0, 2.0, 4.0, 4.0):  # doubling from 1 s, at most 4 s
        with pytest.raises(WitnessError, match="ConnectError"):
            ask()  # asked, and down
        asked = len(inner.asked)
        now[0] += delay - 0.01
        with pytest.raises(WitnessError, match="backoff"):
            ask()  # not asked again before its backoff passed
        assert len(inner.asked) == asked
        now[0] += 0.01
    inner.down = False
    assert ask().startswith("— b.example ")
    assert len(inner.asked) == 5
    with pytest.raises(WitnessError, match="ConnectError"):
        inner.down = True
        ask()  # a cosignature reset the backoff: asked at once
    assert len(inner.asked) == 6
