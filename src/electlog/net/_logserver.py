"""The log service over HTTP (``electlog serve``): a Starlette app served by uvicorn.

Routes (the OpenAPI 3.1 document at ``GET /openapi.json`` describes each):

* ``GET /checkpoint``, ``GET /tile/<L>/<N>[.p/<W>]``, ``GET /tile/entries/<N>[.p/<W>]``: C2SP
  tlog-tiles, computed from the store, up to the latest published checkpoint; full tiles are
  ``Cache-Control: public, max-age=31536000, immutable``, partial tiles and the checkpoint
  ``no-cache``.
* ``POST /entries``: ``{"entries": [base64, ...]}`` → ``{"receipts": [{"index", "leaf_hash"}]}``
  or an RFC 9457 problem document (``application/problem+json``).

The app moves bytes between HTTP and :class:`~electlog.net.LogService`; the store work runs in
worker threads. :func:`serve_log` runs it in the foreground with the publishing loop (the
command), :class:`LogServer` in a background thread (tests, documentation).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Final

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import _json
from ..errors import ElectlogError, StorageError, UsageError
from ._logservice import LogService, Problem, Refused, decode_submission
from ._server import _read_capped, listen_and_announce

__all__ = ["MAX_SUBMISSION_BYTES", "OPENAPI", "LogServer", "log_app", "serve_log"]

_log = logging.getLogger("electlog.serve")

MAX_SUBMISSION_BYTES: Final = 8 << 20
"""Default cap on a submission's body (larger: 413)."""

IMMUTABLE: Final = "public, max-age=31536000, immutable"
NO_CACHE: Final = "no-cache"
PROBLEM_JSON: Final = "application/problem+json"

_TILE_TYPE = "application/octet-stream"
_CHECKPOINT_TYPE = "text/plain; charset=utf-8"


def _problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(problem.to_json(), status_code=problem.status, media_type=PROBLEM_JSON)


def _http_problem(status: int, code: str, title: str, detail: str) -> JSONResponse:
    return _problem_response(Problem(status=status, code=code, title=title, detail=detail))


def _schema_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": _schema_ref("Problem")}}


_TILE_NOT_FOUND = {
    "description": "not a canonical tile path, or beyond the published checkpoint",
    "content": _problem_content(),
}

OPENAPI: Final[dict[str, Any]] = {
    "openapi": "3.1.0",
    "info": {
        "title": "electlog log service",
        "version": "1.0.0",
        "description": (
            "A signed event log: C2SP tlog-tiles read API (https://c2sp.org/tlog-tiles) up to "
            "the latest checkpoint cosigned by a quorum of witnesses, and a write API for "
            "signed entries. See docs/publishing.md."
        ),
    },
    "paths": {
        "/checkpoint": {
            "get": {
                "summary": "The latest published checkpoint (C2SP signed note, cosigned)",
                "operationId": "getCheckpoint",
                "responses": {
                    "200": {
                        "description": "the checkpoint note with the log's signature and the "
                        "witnesses' cosignatures",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    "404": {
                        "description": "nothing published yet",
                        "content": _problem_content(),
                    },
                },
            }
        },
        "/tile/{level}/{index}": {
            "get": {
                "summary": "A Merkle hash tile (tlog-tiles): 32-byte hashes, 256 in a full tile",
                "operationId": "getTile",
                "parameters": [
                    {
                        "name": "level",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^(0|[1-9][0-9]?)$"},
                    },
                    {
                        "name": "index",
                        "in": "path",
                        "required": True,
                        "description": "N in 3-digit groups, all but the last prefixed with x "
                        "(x001/234), optionally followed by .p/W for a partial tile of width W",
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "the tile; full tiles are immutable",
                        "content": {_TILE_TYPE: {"schema": {}}},
                    },
                    "404": _TILE_NOT_FOUND,
                },
            }
        },
        "/tile/entries/{index}": {
            "get": {
                "summary": "An entry bundle (tlog-tiles): u16be(length) || entry, 256 when full",
                "operationId": "getEntryBundle",
                "parameters": [
                    {
                        "name": "index",
                        "in": "path",
                        "required": True,
                        "description": "N as for hash tiles, optionally followed by .p/W",
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "the entry bundle; full bundles are immutable",
                        "content": {_TILE_TYPE: {"schema": {}}},
                    },
                    "404": _TILE_NOT_FOUND,
                },
            }
        },
        "/entries": {
            "post": {
                "summary": "Submit signed entries (all or nothing)",
                "operationId": "addEntries",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _schema_ref("Submission")}},
                },
                "responses": {
                    "200": {
                        "description": "every entry appended, durably; one receipt each",
                        "content": {"application/json": {"schema": _schema_ref("Receipts")}},
                    },
                    "400": {"description": "malformed request", "content": _problem_content()},
                    "409": {
                        "description": "an entry does not continue its author's chain",
                        "content": _problem_content(),
                    },
                    "413": {
                        "description": "body or entry count over the limit",
                        "content": _problem_content(),
                    },
                    "415": {"description": "not application/json", "content": _problem_content()},
                    "422": {
                        "description": "an entry or its event is refused (signature, log, "
                        "election rule); nothing was appended",
                        "content": _problem_content(),
                    },
                    "503": {
                        "description": "the store failed; nothing was acknowledged",
                        "content": _problem_content(),
                    },
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "operationId": "getOpenAPI",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    },
    "components": {
        "schemas": {
            "Submission": {
                "type": "object",
                "required": ["entries"],
                "additionalProperties": False,
                "properties": {
                    "entries": {
                        "type": "array",
                        "description": "signed entries (exact bytes), base64, in order",
                        "items": {"type": "string", "contentEncoding": "base64"},
                    }
                },
            },
            "Receipts": {
                "type": "object",
                "required": ["receipts"],
                "properties": {
                    "receipts": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["index", "leaf_hash"],
                            "properties": {
                                "index": {"type": "integer", "minimum": 0},
                                "leaf_hash": {
                                    "type": "string",
                                    "description": "RFC 6962 leaf hash, lowercase hex",
                                },
                            },
                        },
                    }
                },
            },
            "Problem": {
                "type": "object",
                "description": "RFC 9457 problem details with electlog members",
                "required": ["type", "title", "status", "detail", "code"],
                "properties": {
                    "type": {"type": "string", "format": "uri"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "code": {
                        "type": "string",
                        "description": "electlog error code (audit finding or election rule)",
                    },
                    "entry": {"type": "integer", "description": "0-based position in the request"},
                    "field": {"type": "string", "description": "the field at fault"},
                },
            },
        }
    },
}
"""The OpenAPI 3.1 document served at ``/openapi.json``."""


async def _submit(service: LogService, request: Request, max_bytes: int) -> Response:
    """``POST /entries``: the JSON submission checked, admitted all or nothing, answered with
    the receipts or a problem document."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        return _http_problem(
            415,
            "request.media_type",
            "Unsupported media type",
            "send the entries as application/json",
        )
    body = await _read_capped(request, max_bytes)
    if body is None:
        return _http_problem(
            413,
            "request.too_large",
            "Request too large",
            f"the body is larger than {max_bytes} bytes",
        )
    try:
        try:
            parsed = _json.loads(body)
        except (ValueError, TypeError, RecursionError):
            return _http_problem(
                400, "request.malformed", "Malformed submission", "the body is not JSON"
            )
        items = decode_submission(parsed, service.max_entries)
        receipts = await run_in_threadpool(service.submit, items)
    except Refused as exc:
        return _problem_response(exc.problem)
    except StorageError as exc:
        _log.error("origin %s: the store failed: %s", service.origin, exc)
        return _http_problem(
            503,
            "store.unavailable",
            "Store unavailable",
            f"{type(exc).__name__}: {exc}",
        )
    except ElectlogError as exc:
        _log.exception("origin %s: submission failed", service.origin)
        return _http_problem(
            500, "internal", "Internal error", f"{type(exc).__name__}; nothing acknowledged"
        )
    return JSONResponse(
        {"receipts": [{"index": r.index, "leaf_hash": r.leaf_hash.hex()} for r in receipts]}
    )


def log_app(
    service: LogService,
    *,
    max_request_bytes: int = MAX_SUBMISSION_BYTES,
    on_startup: Callable[[], None] | None = None,
) -> Starlette:
    """The ASGI app of ``service`` (routes in the module docstring). ``on_startup`` runs once
    the server accepts connections."""

    async def checkpoint(request: Request) -> Response:
        note = service.published_note()
        if note is None:
            return _http_problem(404, "checkpoint.none", "No checkpoint", "nothing published yet")
        return Response(
            note.encode("utf-8"),
            media_type=_CHECKPOINT_TYPE,
            headers={"Cache-Control": NO_CACHE},
        )

    async def tile(request: Request) -> Response:
        rel = request.url.path.lstrip("/")
        try:
            found = await run_in_threadpool(service.tile, rel)
        except StorageError as exc:
            _log.error("reading %s failed: %s", rel, exc)
            return _http_problem(503, "store.unavailable", "Store unavailable", "try again")
        if found is None:
            return _http_problem(
                404,
                "tile.not_found",
                "No such tile",
                f"/{rel} is not a tile of the published tree of size {service.published_size}",
            )
        data, full = found
        return Response(
            data,
            media_type=_TILE_TYPE,
            headers={"Cache-Control": IMMUTABLE if full else NO_CACHE},
        )

    async def entries(request: Request) -> Response:
        return await _submit(service, request, max_request_bytes)

    async def openapi(request: Request) -> Response:
        return JSONResponse(OPENAPI)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
        return _http_problem(status, f"http.{status}", str(detail), str(detail))

    async def internal_error(request: Request, exc: Exception) -> Response:
        _log.error("origin %s: %s on %s", service.origin, type(exc).__name__, request.url.path)
        return _http_problem(500, "internal", "Internal error", "the request failed")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if on_startup is not None:
            on_startup()
        yield

    return Starlette(
        routes=[
            Route("/checkpoint", checkpoint, methods=["GET"]),
            Route("/tile/entries/{index:path}", tile, methods=["GET"]),
            Route("/tile/{level}/{index:path}", tile, methods=["GET"]),
            Route("/entries", entries, methods=["POST"]),
            Route("/openapi.json", openapi, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error, Exception: internal_error},
        lifespan=lifespan,
    )


def serve_log(
    service: LogService,
    listen: str,
    *,
    ready_file: str | Path | None = None,
    max_request_bytes: int = MAX_SUBMISSION_BYTES,
    log_level: str = "warning",
) -> None:
    """Serve ``service`` on ``listen`` (``HOST:PORT``) and run its publishing loop until SIGINT
    or SIGTERM; then finish the requests in progress and the publication in progress, and
    return.

    With ``ready_file`` it writes the URL (with the actual port) there, atomically, once the
    socket listens; once it accepts connections it prints ``electlog serve: listening on URL``."""
    sock, url = listen_and_announce(listen, ready_file)

    def ready() -> None:
        print(f"electlog serve: listening on {url}", flush=True)

    app = log_app(service, max_request_bytes=max_request_bytes, on_startup=ready)
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="on")
    stopped: list[int] = []
    previous = _quiet_stop_signals(stopped)
    service.start()
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        service.stop()
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stopped:
        _log.info("origin %s: stopped by signal %d", service.origin, stopped[0])


def _quiet_stop_signals(stopped: list[int]) -> dict[int, Any]:
    """Handlers for SIGTERM and SIGINT that only record the signal. uvicorn handles both (it
    stops accepting, finishes the requests in progress) and then raises the signal again for
    the handler it found; with these, that ends :func:`serve_log` normally, so the publishing
    loop is stopped and the store closed instead of the process dying on the signal."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous: dict[int, Any] = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, lambda signum, frame: stopped.append(signum))
    return previous


class LogServer:
    """Serve a :class:`LogService` on ``127.0.0.1`` in a background thread (port 0: a free
    port), with its publishing loop.

    ``with LogServer(service) as url: ...`` starts both, waits until the server accepts
    connections, and stops both on exit. For tests, documentation and examples; a real log
    service runs as its own process (``electlog serve``)."""

    def __init__(
        self,
        service: LogService,
        listen: str = "127.0.0.1:0",
        *,
        max_request_bytes: int = MAX_SUBMISSION_BYTES,
    ) -> None:
        if not isinstance(service, LogService):
            raise UsageError("LogServer needs a LogService")
        self._service = service
        self._sock, self.url = listen_and_announce(listen, None)
        self._started = threading.Event()
        app = log_app(service, max_request_bytes=max_request_bytes, on_startup=self._started.set)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self) -> str:
        """Start serving and publishing; returns the base URL once the server accepts
        connections."""
        self._service.start()
        self._thread.start()
        if not self._started.wait(timeout=30):
            self._service.stop()
            raise ElectlogError("the log server did not start within 30 s")
        return self.url

    def stop(self) -> None:
        """Stop serving (at most 30 s for requests in progress) and the publishing loop."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self._service.stop()
        self._sock.close()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
