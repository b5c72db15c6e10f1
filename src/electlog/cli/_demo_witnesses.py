"""The demo's witnesses: ``electlog witness`` child processes on 127.0.0.1.

``electlog demo`` plays every party of an election, but not in one process: its two witnesses
are separate ``python -m electlog witness`` processes, each reading its own key file from the
key set's ``witnesses/`` part and keeping its own state file in its own directory
(``<demo dir>/witnesses/witness-a/``). The build publishes every checkpoint through them with
:meth:`electlog.Log.publish_checkpoint` (quorum: all of them), so the log operator's code never
holds a witness private key. They listen on port 0 and say where in a ready file; they run on the
simulated clock (``--clock-file``, for simulations only), which :meth:`DemoWitnesses.publish`
sets to the checkpoint's simulated time before each publication, so the cosignatures are the
same bytes on every rebuild with the same seed and key set.

:class:`DemoWitnesses` is a context manager: whatever happens inside (an error, Ctrl-C,
SIGTERM), every process it started is stopped on the way out, and waited for.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Final

import electlog

from .._files import write_atomic
from ..checkpoint import WitnessVerifier
from ..errors import StorageError, WitnessError
from ..log import Log
from ..note import NoteSigner
from ..simulate._keys import _letters

if TYPE_CHECKING:
    from ..net import WitnessClient

__all__ = ["CLOCK_NAME", "STATE_FILES", "DemoWitnesses"]

CLOCK_NAME: Final = "clock"
"""The simulated clock file every demo witness reads (``--clock-file``), in the witnesses'
directory."""
STATE_FILES: Final = (
    "witness.sqlite",
    "witness.sqlite-wal",
    "witness.sqlite-shm",
    "witness.sqlite-journal",
    "ready",
    "pid",
    "output.txt",
)
"""What a demo witness leaves in its directory (removed before the next run: fresh state)."""
START_TIMEOUT: Final = 60.0
STOP_TIMEOUT: Final = 15.0
_POLL: Final = 0.02


class DemoWitnesses:
    """Witness processes for one log: ``keys`` pairs each witness's verifier key with the file
    holding its private key (:func:`electlog.simulate.witness_key_files`); ``directory`` gets
    one sub-directory per witness (``witness-a``, ``witness-b``, ... in key order) and the clock
    file.

    ``with DemoWitnesses(...) as w:`` starts them all at once (start-up overlaps the caller's
    work); the first :meth:`publish` waits until each listens. Start-up failure (a port, a bad
    key file) is a :class:`~electlog.errors.WitnessError` naming the witness and quoting the end
    of its output."""

    def __init__(
        self,
        directory: Path,
        origin: str,
        log_vkey: str,
        keys: Sequence[tuple[WitnessVerifier, Path]],
        *,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.directory = directory
        self.origin = origin
        self.log_vkey = log_vkey
        self.keys = list(keys)
        self.start_timeout = start_timeout
        self.clock = directory / CLOCK_NAME
        self.dirs = [directory / f"witness-{_letters(i)}" for i in range(len(self.keys))]
        self.procs: list[subprocess.Popen[bytes]] = []
        self._clients: list[WitnessClient] | None = None
        self._old_sigterm: object = None

    # ------------------------------------------------------------------ lifetime

    def __enter__(self) -> DemoWitnesses:
        self._catch_sigterm()
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _catch_sigterm(self) -> None:
        """While the witnesses run, SIGTERM unwinds like Ctrl-C (so ``finally`` stops them)
        instead of ending the process on the spot; the old handler comes back in :meth:`stop`."""
        if threading.current_thread() is not threading.main_thread():
            return

        def interrupt(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt

        self._old_sigterm = signal.signal(signal.SIGTERM, interrupt)

    def start(self) -> None:
        """Clear each witness's directory of a previous run's state, set the clock and start
        every process (without waiting for them to listen)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            for d in self.dirs:
                d.mkdir(exist_ok=True)
                for name in STATE_FILES:
                    (d / name).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot prepare the witnesses' directory {self.directory}: {exc.strerror}"
            ) from exc
        self.set_clock(0)
        env = dict(os.environ)
        # the children run this very electlog, wherever it was imported from
        here = str(Path(electlog.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join([here, *filter(None, [env.get("PYTHONPATH")])])
        for (_, key_file), d in zip(self.keys, self.dirs, strict=True):
            args = [
                sys.executable,
                "-m",
                "electlog",
                "witness",
                "--key",
                str(key_file),
                "--state",
                str(d / "witness.sqlite"),
                "--listen",
                "127.0.0.1:0",
                "--ready-file",
                str(d / "ready"),
                "--rate-limit",
                "0",
                "--clock-file",
                str(self.clock),
                "--log",
                self.origin,
                self.log_vkey,
            ]
            try:
                with open(d / "output.txt", "wb") as out:
                    proc = subprocess.Popen(
                        args,
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        env=env,
                    )
            except OSError as exc:
                raise WitnessError(d.name, f"cannot start: {exc.strerror or exc}") from None
            self.procs.append(proc)
            write_atomic(d / "pid", f"{proc.pid}\n".encode("ascii"))

    def stop(self) -> None:
        """Close the clients and stop every process this object started (SIGTERM, then SIGKILL
        after :data:`STOP_TIMEOUT` seconds), waiting for each; idempotent."""
        clients, self._clients = self._clients or [], None
        for client in clients:
            client.close()
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._old_sigterm is not None:
            signal.signal(signal.SIGTERM, self._old_sigterm)  # type: ignore[arg-type]
            self._old_sigterm = None

    # ------------------------------------------------------------------ use

    @property
    def urls(self) -> list[str]:
        """Each witness's URL (once :meth:`clients` has waited for them)."""
        return [c.url.removesuffix("/add-checkpoint") for c in self.clients()]

    def clients(self) -> list[WitnessClient]:
        """A :class:`~electlog.net.WitnessClient` per witness, in key order, waiting (at most
        ``start_timeout`` seconds) until each has written its ready file."""
        if self._clients is not None:
            return self._clients
        from ..net import WitnessClient

        deadline = time.monotonic() + self.start_timeout
        clients: list[WitnessClient] = []
        try:
            for (verifier, _), d, proc in zip(self.keys, self.dirs, self.procs, strict=True):
                ready = d / "ready"
                while not ready.exists():
                    if proc.poll() is not None:
                        raise WitnessError(
                            verifier.name,
                            f"the witness process ({d}) exited with status {proc.returncode} "
                            f"before listening: {_tail(d / 'output.txt')}",
                        )
                    if time.monotonic() > deadline:
                        raise WitnessError(
                            verifier.name,
                            f"the witness process ({d}) did not listen within "
                            f"{self.start_timeout:.0f} s: {_tail(d / 'output.txt')}",
                        )
                    time.sleep(_POLL)
                url = ready.read_text(encoding="utf-8").strip()
                clients.append(WitnessClient(url, verifier))
        except BaseException:
            for client in clients:
                client.close()
            raise
        self._clients = clients
        return clients

    def set_clock(self, seconds: int) -> None:
        """Set the witnesses' simulated clock (POSIX seconds), atomically."""
        try:
            write_atomic(self.clock, f"{seconds}\n".encode("ascii"))
        except OSError as exc:
            raise StorageError(f"cannot write {self.clock}: {exc.strerror}") from exc

    def publish(self, log: Log, log_key: NoteSigner, timestamp: int) -> str:
        """Publish a checkpoint of the whole log through every witness, cosigned at
        ``timestamp`` on the simulated clock (an :data:`electlog.simulate.CheckpointPublisher`);
        every witness must cosign."""
        clients = self.clients()
        self.set_clock(timestamp)
        return log.publish_checkpoint(log_key, clients, quorum=len(clients))


def _tail(path: Path, limit: int = 600) -> str:
    """The end of a witness's output, for an error message."""
    try:
        text = path.read_bytes()[-limit:].decode("utf-8", "replace").strip()
    except OSError:
        return "(no output)"
    return " | ".join(line for line in text.splitlines() if line.strip()) or "(no output)"
