"""`electlog witness` as real processes on 127.0.0.1 (ephemeral ports), and the clients.

Every witness here is a child process started and stopped by its test (``python -m electlog
witness ... --listen 127.0.0.1:0 --ready-file F``); every wait is bounded.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from electlog import Author, Log, NoteSigner, SigningKey, WitnessSigner
from electlog.checkpoint import (
    Checkpoint,
    WitnessVerifier,
    cosign,
    sign_note,
    verify_checkpoint_detailed,
)
from electlog.errors import QuorumNotMetError, UsageError, WitnessError
from electlog.net import Witness, WitnessClient, WitnessServer
from electlog.store import open_store

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "district-7.example/witnessed"
START_TIMEOUT = 30.0


def outputs(directory: Path) -> str:
    """Everything the child processes started in ``directory`` printed, run by run."""
    return "".join(
        p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(directory.glob("output-*.txt"))
    )


def spawn_until_ready(
    args: list[str], directory: Path, run: int, what: str
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``args`` (an ``electlog`` command given ``--ready-file directory/ready``) with this
    checkout's sources first on the path, its output in ``directory/output-<run>.txt``; wait
    (bounded) for the ready file and return the process and the URL it wrote. A child that
    exits first, or does not get ready in time (it is then SIGKILLed), fails the test."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    ready = directory / "ready"
    out = open(directory / f"output-{run}.txt", "wb")  # noqa: SIM115
    proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    out.close()
    deadline = time.monotonic() + START_TIMEOUT
    while not ready.exists():
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited {proc.returncode}: {outputs(directory)}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait(timeout=30)
            raise AssertionError(f"{what} did not start: {outputs(directory)}")
        time.sleep(0.02)
    return proc, ready.read_text(encoding="utf-8").strip()


class WitnessProcess:
    """One ``electlog witness`` child process."""

    def __init__(
        self,
        directory: Path,
        name: str,
        logs: list[tuple[str, str]],
        *extra: str,
        signer: WitnessSigner | None = None,
    ) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.signer = signer or WitnessSigner.generate(name)
        self.key_file = directory / "witness.key"
        self.key_file.write_text(self.signer.skey + "\n", encoding="utf-8")
        self.key_file.chmod(0o600)
        self.state = directory / "witness.sqlite"
        self.logs = logs
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.runs = 0

    @property
    def verifier(self) -> WitnessVerifier:
        return self.signer.verifier()

    def start(self) -> str:
        ready = self.directory / "ready"
        ready.unlink(missing_ok=True)
        self.runs += 1
        args = [
            sys.executable,
            "-m",
            "electlog",
            "witness",
            "--key",
            str(self.key_file),
            "--state",
            str(self.state),
            "--listen",
            "127.0.0.1:0",
            "--ready-file",
            str(ready),
            "--rate-limit",
            "0",
            *self.extra,
        ]
        for origin, vkey in self.logs:
            args += ["--log", origin, vkey]
        self.proc, self.url = spawn_until_ready(args, self.directory, self.runs, "witness")
        return self.url

    def output(self) -> str:
        return outputs(self.directory)

    def kill(self) -> None:
        """SIGKILL: no chance to clean up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # pragma: no cover
                self.kill()

    def client(self) -> WitnessClient:
        return WitnessClient(self.url, self.verifier)


@pytest.fixture
def log_key() -> NoteSigner:
    return NoteSigner.generate(ORIGIN)


@pytest.fixture
def witnesses(tmp_path: Path, log_key: NoteSigner) -> Iterator[list[WitnessProcess]]:
    procs = [
        WitnessProcess(tmp_path / f"w{i}", f"witness-{i}.example", [(ORIGIN, log_key.vkey)])
        for i in range(3)
    ]
    try:
        for p in procs:
            p.start()
        yield procs
    finally:
        for p in procs:
            p.stop()


def grow(log: Log, author: Author, n: int, tag: str = "a") -> None:
    start = len(log)
    log.append_many(
        author.sign("test.event", {"i": start + i, "tag": tag}, time=1_000_000 + start + i)
        for i in range(n)
    )


def new_log(path: Path | None = None) -> tuple[Log, Author]:
    log = Log(open_store(str(path), origin=ORIGIN)) if path is not None else Log(ORIGIN)
    return log, Author(SigningKey.generate(), ORIGIN)


def post(url: str, body: bytes) -> httpx.Response:
    return httpx.post(url + "/add-checkpoint", content=body, timeout=10)


def request_body(old: int, proof: list[bytes], note: str) -> bytes:
    lines = "".join(base64.b64encode(h).decode() + "\n" for h in proof)
    return f"old {old}\n{lines}\n{note}".encode()


def held_size(url: str, log: Log, key: NoteSigner) -> int:
    """Ask the witness which size it holds: a request from an impossible old size gets a 409
    naming it."""
    note = sign_note(Checkpoint(origin=ORIGIN, size=len(log), root=log.root()).to_text(), [key])
    resp = post(url, request_body(len(log), [], note))
    if resp.status_code == 200:  # it held exactly this checkpoint (old == size == held)
        return len(log)
    assert resp.status_code == 409, resp.text
    assert resp.headers["content-type"] == "text/x.tlog.size"
    return int(resp.text)


# --------------------------------------------------------------------------- publishing


def test_three_witnesses_quorum_two_publish(
    witnesses: list[WitnessProcess], log_key: NoteSigner, tmp_path: Path
) -> None:
    log, author = new_log(tmp_path / "log.sqlite")
    clients = [w.client() for w in witnesses]
    verifiers = [w.verifier for w in witnesses]
    for round_ in range(4):
        grow(log, author, 3 + round_)
        note = log.publish_checkpoint(log_key, clients, 2)
        checked = verify_checkpoint_detailed(note, log_key.verifier(), verifiers, 3)
        assert checked.checkpoint.size == len(log)
        assert {name for name, _ in checked.witnesses} == {v.name for v in verifiers}
        stored = log.latest_checkpoint()
        assert stored is not None and stored.note == note
    # the same checkpoint again is cosigned again (same size, same root)
    note = log.publish_checkpoint(log_key, clients, 3)
    verify_checkpoint_detailed(note, log_key.verifier(), verifiers, 3)
    # one witness down: the quorum of 2 is still met, and the note says who cosigned
    witnesses[2].stop()
    grow(log, author, 5)
    note = log.publish_checkpoint(log_key, clients, 2)
    checked = verify_checkpoint_detailed(note, log_key.verifier(), verifiers, 2)
    assert len(checked.witnesses) == 2
    # two down: quorum 2 cannot be met, nothing is stored, the refusal names the witness
    witnesses[1].stop()
    grow(log, author, 1)
    before = len(log.checkpoints())
    with pytest.raises(QuorumNotMetError) as info:
        log.publish_checkpoint(log_key, clients, 2)
    assert info.value.cosigners == (witnesses[0].verifier.name,)
    assert {name for name, _ in info.value.refusals} == {
        witnesses[1].verifier.name,
        witnesses[2].verifier.name,
    }
    assert "unreachable" in str(info.value)
    assert len(log.checkpoints()) == before
    for c in clients:
        c.close()


def test_client_follows_409_from_a_fresh_client(
    witnesses: list[WitnessProcess], log_key: NoteSigner
) -> None:
    log, author = new_log()
    grow(log, author, 10)
    with witnesses[0].client() as first:
        first.add_checkpoint(log.checkpoint(log_key), log.consistency_proof)
    grow(log, author, 7)
    note = log.checkpoint(log_key)
    # a new client believes the witness holds nothing; the 409 tells it 10 and it resends
    with witnesses[0].client() as fresh:
        line = fresh.add_checkpoint(note, log.consistency_proof)
    assert line.startswith(f"— {witnesses[0].verifier.name} ")
    assert held_size(witnesses[0].url, log, log_key) == 17


# --------------------------------------------------------------------------- status codes


def test_each_status_code(witnesses: list[WitnessProcess], log_key: NoteSigner) -> None:
    url = witnesses[0].url
    log, author = new_log()
    grow(log, author, 8)
    note8 = log.checkpoint(log_key)
    assert post(url, request_body(0, [], note8)).status_code == 200

    # 400: malformed bodies, and an old size beyond the checkpoint
    for body in (
        b"",
        b"garbage",
        b"old 01\n\n" + note8.encode(),
        b"old 8\nnot base64!\n\n" + note8.encode(),
        b"old 8\n\n" + note8.encode()[:-3],
        b"old 8\n\n\xff\xfe",
        request_body(0, [b"\x00" * 32] * 64, note8),
    ):
        resp = post(url, body)
        assert resp.status_code == 400, (body[:40], resp.text)
    assert post(url, request_body(9, [], note8)).status_code == 400

    # 404: a log the witness does not follow
    other_key = NoteSigner.generate("other.example/log")
    other = sign_note(
        Checkpoint(origin="other.example/log", size=1, root=b"\1" * 32).to_text(), [other_key]
    )
    assert post(url, request_body(0, [], other)).status_code == 404

    # 403: right origin, wrong key (an impostor's key of the same name, and no known key)
    impostor = NoteSigner.generate(ORIGIN)
    grow(log, author, 2)
    forged = sign_note(Checkpoint(origin=ORIGIN, size=10, root=log.root()).to_text(), [impostor])
    proof = log.consistency_proof(8, 10)
    assert post(url, request_body(8, proof, forged)).status_code == 403
    text = Checkpoint(origin=ORIGIN, size=10, root=log.root()).to_text()
    real = sign_note(text, [log_key])
    tampered = real.replace(real.splitlines()[-1][-6:], "AAAAA=")
    assert post(url, request_body(8, proof, tampered)).status_code == 403

    # 409 with text/x.tlog.size: the old size is not the witness's latest
    resp = post(url, request_body(5, log.consistency_proof(5, 10), real))
    assert resp.status_code == 409
    assert resp.headers["content-type"] == "text/x.tlog.size"
    assert resp.content == b"8\n"
    assert post(url, request_body(0, [], real)).content == b"8\n"

    # 422: a consistency proof that does not verify
    bad = [bytes(32)] * len(proof)
    assert post(url, request_body(8, bad, real)).status_code == 422
    assert post(url, request_body(8, proof[:-1], real)).status_code == 422

    # 409 (not a size): same size as held, another root
    fork = sign_note(Checkpoint(origin=ORIGIN, size=8, root=b"\7" * 32).to_text(), [log_key])
    resp = post(url, request_body(8, [], fork))
    assert resp.status_code == 409
    assert not resp.headers["content-type"].startswith("text/x.tlog.size")

    # 200: the cosignature line(s), nothing else
    resp = post(url, request_body(8, proof, real))
    assert resp.status_code == 200
    assert resp.text.startswith(f"— {witnesses[0].verifier.name} ")
    assert resp.text.endswith("\n") and resp.text.count("\n") == 1

    # 405 for other methods, 413 for oversized bodies
    assert httpx.get(url + "/add-checkpoint", timeout=10).status_code == 405
    assert post(url, b"old 0\n" + b"A" * 70_000).status_code == 413


def test_rate_limit_and_request_size(tmp_path: Path, log_key: NoteSigner) -> None:
    w = WitnessProcess(
        tmp_path / "w",
        "limited.example",
        [(ORIGIN, log_key.vkey)],
        *("--max-request-bytes", "2000", "--rate-limit", "1", "--burst", "3"),
    )
    w.start()  # the later --rate-limit wins over the helper's --rate-limit 0
    try:
        assert post(w.url, b"x" * 2001).status_code == 413
        codes = [post(w.url, b"garbage").status_code for _ in range(8)]
        assert 429 in codes
        assert codes[0] in (400, 429)
    finally:
        w.stop()


# --------------------------------------------------------------------------- crashes


def test_sigkilled_witness_keeps_its_state(
    witnesses: list[WitnessProcess], log_key: NoteSigner
) -> None:
    w = witnesses[0]
    log, author = new_log()
    cosigned: dict[int, bytes] = {}  # size -> root, for every cosignature received
    stop = threading.Event()
    errors: list[BaseException] = []

    def hammer() -> None:
        client = w.client()
        try:
            while not stop.is_set():
                if client.url != w.url + "/add-checkpoint":  # restarted on another port
                    client.close()
                    client = w.client()
                grow(log, author, 1)
                note = log.checkpoint(log_key)
                try:
                    client.add_checkpoint(note, log.consistency_proof)
                except WitnessError:
                    time.sleep(0.01)  # killed mid-request, or not yet restarted
                    continue
                cosigned[len(log)] = log.root()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            client.close()

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while len(cosigned) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        w.kill()  # mid-stream: requests are in flight all the time
        largest = max(cosigned)
        w.start()
        deadline = time.monotonic() + 30
        while max(cosigned) == largest and time.monotonic() < deadline:
            time.sleep(0.01)
        w.kill()
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not errors
    assert max(cosigned) > largest, "no cosignature after the restart"
    last = max(cosigned)
    w.start()
    # every cosignature it gave is in the state it kept: it holds at least the largest size
    held = held_size(w.url, log, log_key)
    assert held >= last
    # it never cosigns another root for a size it cosigned, nor a fork from it
    for size in sorted(cosigned)[-3:]:
        fork = sign_note(Checkpoint(origin=ORIGIN, size=size, root=b"\5" * 32).to_text(), [log_key])
        assert post(w.url, request_body(held, [], fork)).status_code in (400, 409, 422)
    fork_log, fork_author = new_log()
    grow(fork_log, fork_author, held + 3, tag="fork")
    fork_note = sign_note(
        Checkpoint(origin=ORIGIN, size=len(fork_log), root=fork_log.root()).to_text(), [log_key]
    )
    proof = fork_log.consistency_proof(held, len(fork_log))
    assert post(w.url, request_body(held, proof, fork_note)).status_code == 422


# --------------------------------------------------------------------------- forks


def test_forked_or_rolled_back_log_cannot_reach_its_quorum(
    witnesses: list[WitnessProcess], log_key: NoteSigner, tmp_path: Path
) -> None:
    honest, author = new_log(tmp_path / "honest.sqlite")
    grow(honest, author, 10)
    clients = [w.client() for w in witnesses]
    honest.publish_checkpoint(log_key, clients, 2)

    # a fork: another store with the same origin and log key, other entries
    fork, fork_author = new_log(tmp_path / "fork.sqlite")
    grow(fork, fork_author, 10, tag="fork")
    with pytest.raises(QuorumNotMetError) as info:
        fork.publish_checkpoint(log_key, [w.client() for w in witnesses], 2)
    assert info.value.cosigners == ()
    assert all("HTTP 409" in why for _, why in info.value.refusals), info.value.refusals
    assert fork.checkpoints() == []
    grow(fork, fork_author, 6, tag="fork")
    with pytest.raises(QuorumNotMetError) as info:
        fork.publish_checkpoint(log_key, [w.client() for w in witnesses], 1)
    assert len(info.value.refusals) == 3
    assert all("HTTP 422" in why for _, why in info.value.refusals), info.value.refusals
    assert fork.checkpoints() == []

    # a rollback: a copy of the honest log cut back to 6 entries
    rolled, _ = new_log(tmp_path / "rolled.sqlite")
    rolled.append_many(honest.get_bytes(i) for i in range(6))
    with pytest.raises(QuorumNotMetError) as info:
        rolled.publish_checkpoint(log_key, [w.client() for w in witnesses], 1)
    assert all("rolled back" in why for _, why in info.value.refusals), info.value.refusals
    assert rolled.checkpoints() == []

    # the honest log goes on, and the witnesses kept the fork's signed requests as evidence
    grow(honest, author, 2)
    honest.publish_checkpoint(log_key, clients, 3)
    for w in witnesses:
        w.stop()
        with Witness(w.signer, w.state, {ORIGIN: [log_key.verifier()]}) as local:
            assert local.latest(ORIGIN) == (12, honest.root())
            statuses = [status for status, _, _ in local.evidence(ORIGIN)]
            assert statuses == [409, 422]


def test_concurrent_conflicting_checkpoints_at_most_one_cosigned(tmp_path: Path) -> None:
    keys = [NoteSigner.generate(f"race-{i}.example/log") for i in range(8)]
    w = WitnessProcess(tmp_path / "w", "racer.example", [(k.name, k.vkey) for k in keys])
    w.start()
    try:
        for key in keys:
            notes = [
                sign_note(
                    Checkpoint(origin=key.name, size=5, root=bytes([i]) * 32).to_text(), [key]
                )
                for i in (1, 2)
            ]
            barrier = threading.Barrier(2)
            codes: list[int] = []

            def send(
                note: str, barrier: threading.Barrier = barrier, codes: list[int] = codes
            ) -> None:
                body = request_body(0, [], note)
                barrier.wait(timeout=10)
                codes.append(post(w.url, body).status_code)

            threads = [threading.Thread(target=send, args=(n,)) for n in notes]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=30)
            assert sorted(codes) == [200, 409], codes
    finally:
        w.stop()


# --------------------------------------------------------------------------- hygiene


def test_no_private_key_material_in_output(log_key: NoteSigner, tmp_path: Path) -> None:
    w = WitnessProcess(tmp_path / "verbose", "chatty.example", [(ORIGIN, log_key.vkey)], "-v")
    w.start()
    log, author = new_log()
    grow(log, author, 3)
    with w.client() as client:
        client.add_checkpoint(log.checkpoint(log_key), log.consistency_proof)
    post(w.url, b"garbage")
    w.stop()
    secret = w.signer.skey.split("+", 4)[4]  # the base64 may itself hold a "+"
    out = w.output()
    assert "add-checkpoint" in out and w.signer.vkey in out
    assert secret not in out and "PRIVATE" not in out
    local = Witness(w.signer, w.state, {ORIGIN: [log_key.verifier()]})
    assert secret not in repr(local) and "PRIVATE" not in repr(local)
    local.close()
    # a bad key file is refused without echoing it
    bad = tmp_path / "bad.key"
    bad.write_text(w.signer.skey[:-8] + "AAAAAAA=\n", encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "electlog",
            "witness",
            "--key",
            str(bad),
            "--state",
            str(tmp_path / "s.sqlite"),
            "--listen",
            "127.0.0.1:0",
            "--log",
            ORIGIN,
            log_key.vkey,
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert result.returncode == 2
    assert secret[:-8] not in result.stderr + result.stdout


def test_state_belongs_to_one_witness_key(tmp_path: Path, log_key: NoteSigner) -> None:
    state = tmp_path / "w.sqlite"
    Witness(WitnessSigner.generate("a.example"), state, {ORIGIN: [log_key.verifier()]}).close()
    with pytest.raises(Exception, match="belongs to witness key"):
        Witness(WitnessSigner.generate("b.example"), state, {ORIGIN: [log_key.verifier()]})


def test_injected_clock_and_monotonic_timestamps(tmp_path: Path, log_key: NoteSigner) -> None:
    now = [1_700_000_000]
    signer = WitnessSigner.generate("clocked.example")
    witness = Witness(
        signer, tmp_path / "w.sqlite", {ORIGIN: [log_key.verifier()]}, clock=lambda: now[0]
    )
    log, author = new_log()
    with WitnessServer(witness) as url, WitnessClient(url, signer.verifier()) as client:
        stamps = []
        for step in (0, 100, -50):  # the clock steps back: the timestamp does not
            now[0] += step
            grow(log, author, 2)
            note = log.publish_checkpoint(log_key, [client], 1)
            stamps.append(
                verify_checkpoint_detailed(
                    note, log_key.verifier(), [signer.verifier()], 1
                ).witnesses[0][1]
            )
    witness.close()
    assert stamps == [1_700_000_000, 1_700_000_100, 1_700_000_100]


def test_core_imports_without_the_server_extra() -> None:
    code = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("starlette", "uvicorn", "httpx", "anyio"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
import electlog, electlog.net, electlog.log, electlog.cli
from electlog import Log
assert "starlette" not in sys.modules and "httpx" not in sys.modules
w = electlog.net.Witness  # the witness core needs no HTTP library
try:
    electlog.net.WitnessClient
except ModuleNotFoundError as exc:
    assert "electlog[server]" in str(exc), exc
else:
    raise AssertionError("WitnessClient imported without httpx")
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


# --------------------------------------------------------------------------- in process


def _witness(tmp_path: Path, log_key: NoteSigner) -> Witness:
    return Witness(
        WitnessSigner.generate("local.example"),
        tmp_path / "local.sqlite",
        {ORIGIN: [log_key.verifier()]},
        clock=lambda: 1_700_000_000,
    )


def test_size_zero_checkpoints(tmp_path: Path, log_key: NoteSigner) -> None:
    empty = Log(ORIGIN)
    with _witness(tmp_path, log_key) as witness:
        bad = sign_note(Checkpoint(origin=ORIGIN, size=0, root=b"\1" * 32).to_text(), [log_key])
        assert witness.handle_add_checkpoint(request_body(0, [], bad)).status == 422
        good = empty.checkpoint(log_key)
        assert witness.handle_add_checkpoint(request_body(0, [b"\2" * 32], good)).status == 422
        answer = witness.handle_add_checkpoint(request_body(0, [], good))
        assert answer.status == 200
        assert witness.latest(ORIGIN) == (0, empty.root())
        note = witness.latest_note(ORIGIN)
        assert note is not None
        verify_checkpoint_detailed(note + "".join(good.splitlines(True)[-1:]), log_key.verifier())


class _FakeCosigner:
    def __init__(self, key: WitnessSigner, answer: str | Exception) -> None:
        self._key = key
        self._answer = answer

    @property
    def verifier(self) -> WitnessVerifier:
        return self._key.verifier()

    def add_checkpoint(self, note: str, prove: object) -> str:
        if isinstance(self._answer, Exception):
            raise self._answer
        return self._answer


def test_publish_checkpoint_arguments_and_bad_cosignatures(log_key: NoteSigner) -> None:
    log, author = new_log()
    grow(log, author, 3)
    a, b = WitnessSigner.generate("a.example"), WitnessSigner.generate("b.example")
    # a cosignature by another key, or garbage, does not count
    stolen = _FakeCosigner(a, f"— a.example {base64.b64encode(b'1234' + bytes(72)).decode()}\n")
    failing = _FakeCosigner(b, WitnessError("b.example", "down"))
    with pytest.raises(QuorumNotMetError) as info:
        log.publish_checkpoint(log_key, [stolen, failing], 1)
    reasons = dict(info.value.refusals)
    assert reasons["b.example"] == "down"
    assert "a.example" in reasons
    assert log.checkpoints() == []
    with pytest.raises(UsageError, match="quorum"):
        log.publish_checkpoint(log_key, [stolen], 2)
    with pytest.raises(UsageError, match="listed twice"):
        log.publish_checkpoint(log_key, [stolen, stolen], 1)
    with pytest.raises(UsageError, match="Cosigner"):
        log.publish_checkpoint(log_key, [object()], 1)  # type: ignore[list-item]
    # quorum 0: signed and stored even if nobody cosigns
    note = log.publish_checkpoint(log_key, [failing], 0)
    assert log.latest_checkpoint() is not None and log.latest_checkpoint().note == note


def test_client_refuses_answers_that_do_not_verify(log_key: NoteSigner) -> None:
    log, author = new_log()
    grow(log, author, 4)
    note = log.checkpoint(log_key)
    key = WitnessSigner.generate("mock.example")
    other = WitnessSigner.generate("mock.example")  # same name, another key

    def client(handler: object) -> WitnessClient:
        return WitnessClient(
            "http://127.0.0.1:1", key.verifier(), transport=httpx.MockTransport(handler)
        )

    forged = cosign(note, other, 5).splitlines(True)[-1]
    cases: list[tuple[int, dict[str, str], bytes, str]] = [
        (200, {}, forged.encode(), "no valid cosignature"),
        (200, {}, b"hello\n", "no valid cosignature"),
        (409, {"content-type": "text/x.tlog.size"}, b"007\n", "malformed size"),
        (409, {"content-type": "text/x.tlog.size"}, b"9\n", "rolled back"),
        (500, {}, b"\x00\x01 boom\n" * 100, "HTTP 500"),
        (301, {"location": "http://elsewhere.example/"}, b"", "HTTP 301"),
    ]
    for status, headers, body, expected in cases:

        def handler(
            request: httpx.Request, s: int = status, h: dict[str, str] = headers, b: bytes = body
        ) -> httpx.Response:
            return httpx.Response(s, headers=h, content=b)

        with client(handler) as c, pytest.raises(WitnessError, match=expected) as info:
            c.add_checkpoint(note, log.consistency_proof)
        assert len(str(info.value)) < 400
    # an answer that is too long is not read to the end
    with (
        client(lambda r: httpx.Response(200, content=b"x" * 100_000)) as c,
        pytest.raises(WitnessError, match="longer than"),
    ):
        c.add_checkpoint(note, log.consistency_proof)
    good = cosign(note, key, 5).splitlines(True)[-1]
    with client(lambda r: httpx.Response(200, content=good.encode())) as c:
        assert c.add_checkpoint(note, log.consistency_proof) == good
