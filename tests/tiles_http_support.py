"""A static tlog-tiles server process (tests/tiles_server.py) for the HTTP reader and monitor
tests: started on 127.0.0.1 port 0 by the test, stopped by it, every wait bounded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = Path(__file__).resolve().parent / "tiles_server.py"
START_TIMEOUT = 30.0


def child_env() -> dict[str, str]:
    """The environment of a child process that runs this worktree's electlog."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    return env


class TilesServer:
    """One ``tests/tiles_server.py`` process serving the directory named in ``root_file``."""

    def __init__(self, work: Path, served: Path, mode: str = "static", *extra: str) -> None:
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        self.root_file = work / "root"
        self.access_log = work / "access.log"
        self.serve(served)
        self.mode = mode
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def serve(self, directory: Path) -> None:
        """Serve ``directory`` from the next request on (the same URL)."""
        tmp = self.root_file.with_name("root.tmp")
        tmp.write_text(str(directory), encoding="utf-8")
        os.replace(tmp, self.root_file)

    def requests(self) -> list[str]:
        """Every path requested so far (and forget them)."""
        if not self.access_log.exists():
            return []
        lines = self.access_log.read_text(encoding="utf-8").splitlines()
        self.access_log.unlink()
        return lines

    def start(self) -> str:
        ready = self.work / "ready"
        ready.unlink(missing_ok=True)
        args = [
            sys.executable,
            str(SERVER),
            "--root-file",
            str(self.root_file),
            "--ready-file",
            str(ready),
            "--mode",
            self.mode,
            "--access-log",
            str(self.access_log),
            *self.extra,
        ]
        out = open(self.work / "server-output.txt", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=child_env())
        out.close()
        deadline = time.monotonic() + START_TIMEOUT
        while not ready.exists():
            if self.proc.poll() is not None:
                raise AssertionError(f"tiles server exited {self.proc.returncode}: {self.output()}")
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"tiles server did not start: {self.output()}")
            time.sleep(0.02)
        self.url = ready.read_text(encoding="utf-8").strip()
        return self.url

    def output(self) -> str:
        path = self.work / "server-output.txt"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a stalled answer keeps uvicorn's graceful shutdown
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_cli(*args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
    """``python -m electlog ARGS`` as a child process (bounded)."""
    return subprocess.run(
        [sys.executable, "-m", "electlog", *args],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=timeout,
        check=False,
    )
