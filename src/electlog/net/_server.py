"""The witness over HTTP: a Starlette app served by uvicorn.

The app only moves bytes between HTTP and :class:`~electlog.net.Witness`: it caps the request
body, limits the request rate per client address, runs the witness's SQLite transaction in a
worker thread and copies status, content type and body into the response. :func:`serve_witness`
runs it in the foreground (the ``electlog witness`` command); :class:`WitnessServer` runs it in a
background thread (tests, documentation, simulations).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from .._files import write_atomic
from ..errors import ElectlogError, StorageError, UsageError
from ._witness import MAX_REQUEST_BYTES, Witness

__all__ = ["RateLimiter", "WitnessServer", "parse_listen", "serve_witness", "witness_app"]

_log = logging.getLogger("electlog.witness")

_MAX_CLIENTS = 10_000


class RateLimiter:
    """A token bucket per client address: ``rate`` requests per second on average, bursts of up
    to ``burst``. ``rate`` 0 turns limiting off. Memory is bounded: past 10,000 clients the
    idle ones are forgotten. ``clock`` (monotonic seconds) is injectable for tests."""

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate < 0 or burst < 1:
            raise UsageError("rate must be >= 0 and burst >= 1")
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        """Whether ``client`` may make a request now (takes a token if so)."""
        if self._rate == 0:
            return True
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(client, (self._burst, now))
            tokens = min(self._burst, tokens + (now - last) * self._rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            if len(self._buckets) >= _MAX_CLIENTS and client not in self._buckets:
                full_after = self._burst / self._rate
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}
            self._buckets[client] = (tokens, now)
            return allowed


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The request body, or None when it is longer than ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            return None
        if int(declared) > limit:
            return None
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def witness_app(
    witness: Witness,
    *,
    max_request_bytes: int = MAX_REQUEST_BYTES,
    rate_limit: float = 20.0,
    burst: int = 40,
    on_startup: Callable[[], None] | None = None,
) -> Starlette:
    """The ASGI app: ``POST /add-checkpoint`` (c2sp.org/tlog-witness v1.0.0).

    Bodies over ``max_request_bytes`` get 413, clients over ``rate_limit`` requests per second
    (bursts of ``burst``; 0 = no limit) get 429 with ``Retry-After``. ``on_startup`` runs once
    the server is accepting connections."""
    limiter = RateLimiter(rate_limit, burst)

    async def add_checkpoint(request: Request) -> Response:
        client = request.client.host if request.client is not None else "unknown"
        if not limiter.allow(client):
            return PlainTextResponse(
                "too many requests\n", status_code=429, headers={"Retry-After": "1"}
            )
        body = await _read_capped(request, max_request_bytes)
        if body is None:
            return PlainTextResponse(
                f"request body larger than {max_request_bytes} bytes\n", status_code=413
            )
        try:
            answer = await run_in_threadpool(witness.handle_add_checkpoint, body)
        except StorageError:
            _log.exception("witness state failure")
            return PlainTextResponse("witness state unavailable\n", status_code=503)
        except ElectlogError:
            _log.exception("add-checkpoint failed")
            return PlainTextResponse("internal error\n", status_code=500)
        # the content type goes out exactly as given (Starlette would add a charset to text/*,
        # and tlog-witness names the 409's type as exactly text/x.tlog.size)
        return Response(
            answer.body, status_code=answer.status, headers={"Content-Type": answer.content_type}
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if on_startup is not None:
            on_startup()
        yield

    return Starlette(
        routes=[Route("/add-checkpoint", add_checkpoint, methods=["POST"])],
        lifespan=lifespan,
    )


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) into ``(host, port)``; port 0 picks a free one."""
    host, sep, port_text = listen.rpartition(":")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise UsageError(f"--listen {listen!r}: expected HOST:PORT, e.g. 127.0.0.1:8080")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port_text)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
    # and without it every response (headers, then body) waits 40 ms for a delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _write_ready(path: Path, url: str) -> None:
    try:
        write_atomic(path, (url + "\n").encode("utf-8"))
    except OSError as exc:
        raise StorageError(f"cannot write the ready file {path}: {exc.strerror}") from None


def listen_and_announce(listen: str, ready_file: str | Path | None) -> tuple[socket.socket, str]:
    """A listening socket for ``listen`` (``HOST:PORT``) and its URL (with the actual port),
    written to ``ready_file`` if given. The socket already listens: a client that reads the
    ready file now is queued until the server accepts. A ready file that cannot be written
    closes the socket and raises, before anything is served."""
    host, port = parse_listen(listen)
    sock = _bind(host, port)
    url = _url(sock)
    if ready_file is not None:
        try:
            _write_ready(Path(ready_file), url)
        except StorageError:
            sock.close()
            raise
    return sock, url


def serve_witness(
    witness: Witness,
    listen: str,
    *,
    ready_file: str | Path | None = None,
    max_request_bytes: int = MAX_REQUEST_BYTES,
    rate_limit: float = 20.0,
    burst: int = 40,
    log_level: str = "warning",
) -> None:
    """Serve ``witness`` on ``listen`` (``HOST:PORT``) until SIGINT or SIGTERM.

    With ``ready_file`` it writes the URL (with the actual port when ``listen`` asked for port
    0) to that file, atomically, once the socket listens (connections queue until served); once
    it accepts connections it prints ``electlog witness: listening on URL``."""
    sock, url = listen_and_announce(listen, ready_file)

    def ready() -> None:
        print(f"electlog witness: listening on {url}", flush=True)

    app = witness_app(
        witness,
        max_request_bytes=max_request_bytes,
        rate_limit=rate_limit,
        burst=burst,
        on_startup=ready,
    )
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="on")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()


class WitnessServer:
    """Serve a :class:`Witness` on ``127.0.0.1`` in a background thread (port 0: a free port).

    ``with WitnessServer(witness) as url: ...`` starts it, waits until it accepts connections
    and stops it on exit. Meant for tests, documentation and simulations; a real witness runs
    as its own process (``electlog witness``)."""

    def __init__(
        self,
        witness: Witness,
        listen: str = "127.0.0.1:0",
        *,
        rate_limit: float = 0.0,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        self._sock, self.url = listen_and_announce(listen, None)
        self._started = threading.Event()
        app = witness_app(
            witness,
            rate_limit=rate_limit,
            max_request_bytes=max_request_bytes,
            on_startup=self._started.set,
        )
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self) -> str:
        """Start serving; returns the base URL once the server accepts connections."""
        self._thread.start()
        if not self._started.wait(timeout=30):
            raise ElectlogError("the witness server did not start within 30 s")
        return self.url

    def stop(self) -> None:
        """Stop serving and wait (at most 30 s) for the thread to end."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self._sock.close()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
