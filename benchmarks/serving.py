"""(h) The log service: the served append rate against local ``append_many``, and the witness
round trip. Registered in :data:`benchmarks.cases.BENCHMARKS` as ``serve``.

h1: N submitter threads (each its own author key, batches of 100 entries, bodies encoded before
the clock starts) POST to an ``electlog serve`` process (SQLite store, three ``electlog witness``
processes, quorum 2, publishing as it runs); the baseline appends the same entry bytes with
``Log.append_many`` into a new SQLite store in this process, the same batches in the order the
server committed them, each entry's signature verified as the server does. h2: the median and
95th percentile of one add-checkpoint round trip (``WitnessClient.add_checkpoint``: request,
the witness's proof check and fsynced state update, answer, cosignature check) to an
``electlog witness`` process, the log growing by one entry between checkpoints.
"""

from __future__ import annotations

import base64
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from electlog import Author, Log, NoteSigner, SigningKey, WitnessSigner
from electlog.events import Entry

from ._harness import INFO, Row, fmt_rate, judge, rate

if TYPE_CHECKING:
    from .cases import Context

REPO: Final = Path(__file__).resolve().parent.parent
ORIGIN: Final = "bench.electlog.example/served-2026"
T0: Final = 1_779_000_000_000_000
BATCH: Final = 100
START_TIMEOUT: Final = 60.0


class _Process:
    """An ``electlog`` service child process started with ``--listen 127.0.0.1:0`` and a ready
    file; :meth:`stop` sends SIGTERM and waits."""

    def __init__(self, directory: Path, args: Sequence[str]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        ready = directory / "ready"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO / "src"), env.get("PYTHONPATH", "")) if p
        )
        self._out = directory / "output.txt"
        with open(self._out, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "electlog",
                    *args,
                    "--listen",
                    "127.0.0.1:0",
                    "--ready-file",
                    str(ready),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{args[0]} did not start: {self.output()[-2000:]}")
            time.sleep(0.02)
        self.url = ready.read_text(encoding="utf-8").strip()

    def output(self) -> str:
        return self._out.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=60)


def _secret(path: Path, text: str) -> Path:
    path.write_text(text + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def _witness(directory: Path, name: str, log_key: NoteSigner) -> tuple[_Process, WitnessSigner]:
    signer = WitnessSigner.generate(name)
    directory.mkdir(parents=True, exist_ok=True)
    key = _secret(directory / "witness.key", signer.skey)
    args = ["witness", "--key", str(key), "--state", str(directory / "state.sqlite")]
    args += ["--log", log_key.name, log_key.vkey, "--rate-limit", "0"]
    return _Process(directory, args), signer


def _sign_batches(submitters: int, per: int) -> list[list[list[Entry]]]:
    """Per submitter (own key), its entries in batches of :data:`BATCH`."""
    out: list[list[list[Entry]]] = []
    for k in range(submitters):
        author = Author(SigningKey.from_seed(bytes([k + 1]) * 32), ORIGIN)
        entries: list[Entry] = [
            author.sign("ballot.recorded", {"k": k, "serial": i}, time=T0 + i) for i in range(per)
        ]
        out.append([entries[i : i + BATCH] for i in range(0, per, BATCH)])
    return out


def _served(
    workdir: Path, batches: list[list[list[Entry]]]
) -> tuple[float, list[tuple[int, bytes]], int]:
    """POST every batch to an ``electlog serve`` process; returns the seconds, the receipts
    (index, leaf hash) and the number of checkpoints published during the run."""
    from electlog.store import open_store

    log_key = NoteSigner.generate(ORIGIN)
    workdir.mkdir(parents=True, exist_ok=True)
    store = workdir / "served.sqlite"
    open_store(str(store), origin=ORIGIN).close()
    witnesses = [_witness(workdir / f"w{i}", f"w{i}.bench.example", log_key) for i in range(3)]
    serve: _Process | None = None
    try:
        args = ["serve", str(store), "--log-key", str(_secret(workdir / "log.key", log_key.skey))]
        args += ["--quorum", "2"]
        for proc, signer in witnesses:
            args += ["--witness", proc.url, signer.verifier().vkey]
        serve = _Process(workdir / "serve", args)
        url = serve.url
        bodies = [
            [
                json.dumps({"entries": [base64.b64encode(e.data).decode() for e in batch]})
                for batch in mine
            ]
            for mine in batches
        ]
        receipts: list[tuple[int, bytes]] = []
        errors: list[str] = []
        lock = threading.Lock()
        start = threading.Barrier(len(bodies) + 1)

        def submit(mine: list[str]) -> None:
            import httpx

            got: list[tuple[int, bytes]] = []
            with httpx.Client(base_url=url, timeout=120) as http:
                start.wait()
                for body in mine:
                    resp = http.post(
                        "/entries", content=body, headers={"content-type": "application/json"}
                    )
                    if resp.status_code != 200:
                        errors.append(resp.text[:300])
                        return
                    got.extend(
                        (r["index"], bytes.fromhex(r["leaf_hash"])) for r in resp.json()["receipts"]
                    )
            with lock:
                receipts.extend(got)

        threads = [threading.Thread(target=submit, args=(mine,)) for mine in bodies]
        for t in threads:
            t.start()
        gc.collect()
        start.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        if errors:
            raise RuntimeError(f"a submission was refused: {errors[0]}")
        published = serve.output().count("published checkpoint")
        return elapsed, receipts, published
    finally:
        if serve is not None:
            serve.stop()
        for proc, _ in witnesses:
            proc.stop()


def _local(workdir: Path, ordered: list[list[bytes]]) -> float:
    """``Log.append_many`` of the same entry bytes, same batches, into a new SQLite store."""
    from electlog.store.sqlite import SQLiteStore

    path = workdir / "local.sqlite"
    path.unlink(missing_ok=True)
    store = SQLiteStore(path, origin=ORIGIN)
    try:
        log = Log(store)
        gc.collect()
        t0 = time.perf_counter()
        for batch in ordered:
            log.append_many(batch)
        return time.perf_counter() - t0
    finally:
        store.close()


def _round_trips(workdir: Path, count: int) -> list[float]:
    """Seconds of ``count`` add-checkpoint round trips to an ``electlog witness`` process."""
    from electlog.net import WitnessClient

    log_key = NoteSigner.generate(ORIGIN)
    proc, signer = _witness(workdir / "rtt", "rtt.bench.example", log_key)
    log = Log(ORIGIN)
    author = Author(SigningKey.from_seed(b"\x07" * 32), ORIGIN)
    times: list[float] = []
    try:
        with WitnessClient(proc.url, signer.verifier()) as client:
            for i in range(count + 5):
                log.append(author.sign("test.event", {"i": i}, time=T0 + i))
                note = log.checkpoint(log_key)
                t0 = time.perf_counter()
                client.add_checkpoint(note, log.consistency_proof)
                if i >= 5:  # the first few open the connection and warm the witness up
                    times.append(time.perf_counter() - t0)
    finally:
        proc.stop()
    return times


def bench_serve(ctx: Context) -> list[Row]:
    """(h1) served append rate vs local append_many; (h2) witness round-trip latency."""
    submitters, per = (4, 200) if ctx.quick else (20, 5_000)
    total = submitters * per
    workdir = ctx.workdir / "serve"
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    ctx.say(f"serve: signing {submitters} × {per:,} entries")
    batches = _sign_batches(submitters, per)
    by_leaf = {e.leaf_hash: e.data for mine in batches for batch in mine for e in batch}
    best_served = best_local = float("inf")
    published = 0
    for rep in range(ctx.repeat):
        run_dir = workdir / f"run{rep}"
        ctx.say(f"serve: {total:,} entries from {submitters} submitters over HTTP")
        served, receipts, published = _served(run_dir, batches)
        if len(receipts) != total or len({i for i, _ in receipts}) != total:
            raise RuntimeError(f"{len(receipts)} receipts for {total} entries")
        receipts.sort()
        order = [by_leaf[leaf] for _, leaf in receipts]
        ordered = [order[i : i + BATCH] for i in range(0, total, BATCH)]
        ctx.say("serve: the same batches with local append_many")
        local = _local(run_dir, ordered)
        best_served = min(best_served, served)
        best_local = min(best_local, local)
        shutil.rmtree(run_dir, ignore_errors=True)
    ratio = best_local / best_served
    count = 30 if ctx.quick else 300
    ctx.say(f"serve: {count} witness round trips")
    trips = sorted(_round_trips(workdir, count))
    median = statistics.median(trips) * 1e3
    p95 = trips[min(len(trips) - 1, round(0.95 * (len(trips) - 1)))] * 1e3
    us = 1e6 / total
    return [
        Row(
            key="h1",
            bench="serve",
            what=f"served append: {submitters} concurrent submitters POST batches of {BATCH} "
            "signed entries to `electlog serve` (SQLite, 3 witnesses, quorum 2)",
            measured=fmt_rate(rate(total, best_served), "entry"),
            baseline=fmt_rate(rate(total, best_local), "entry") + " (local append_many)",
            ratio=ratio,
            target="≥ 0.5×",
            status=judge(ratio, at_least=0.5),
            note=(
                f"{total:,} entries, {submitters} author keys; per entry {best_served * us:.1f} µs "
                f"served (HTTP, JSON and base64, signature check, chain check, one SQLite commit "
                f"per request) vs {best_local * us:.1f} µs for append_many of the same bytes in "
                f"the same batches (signature verified, one commit per batch) in this process; "
                "the service checks the signatures of waiting requests while another request's "
                "commit waits for its fsync, the baseline does one after the other. "
                f"The submitters are threads of this process, their bodies encoded before the "
                f"clock starts; the server published {published} checkpoints through its "
                "witnesses during the last run. Every receipt is checked (each index once)."
            ),
        ),
        Row(
            key="h2",
            bench="serve",
            what="witness round trip: one add-checkpoint to an `electlog witness` process",
            measured=f"median {median:.2f} ms, p95 {p95:.2f} ms",
            baseline="—",
            ratio=None,
            target="—",
            status=INFO,
            note=(
                f"{len(trips)} round trips after 5 warm-up ones, the log growing by one entry "
                "between checkpoints (a one-hash-or-more consistency proof each time): HTTP on "
                "loopback, the witness's note and proof checks, its fsynced SQLite "
                "compare-and-swap, the cosignature check by the client."
            ),
        ),
    ]
