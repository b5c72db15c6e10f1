"""HTTP services and clients (the optional ``electlog[server]`` extra).

* :class:`Witness`: a C2SP tlog-witness (``add-checkpoint``) over a SQLite state file, without
  HTTP; :func:`serve_witness` serves it with Starlette and uvicorn (the ``electlog witness``
  command), :class:`WitnessServer` in a background thread.
* :class:`WitnessClient`: submits checkpoints to a witness with httpx and verifies the
  cosignature; :meth:`electlog.Log.publish_checkpoint` takes a list of them and a quorum.
* :class:`Monitor`: follows a log served as tlog-tiles (the ``electlog monitor`` command):
  checks every checkpoint against the last one it saw, mirrors and audits the new entries, and
  writes fork evidence (:class:`MonitorAlarm`). The HTTP reader it uses is
  :meth:`electlog.publish.tiles.TilesReader.from_url` (in the store layer, so the auditor can read
  served logs too).
* :class:`LogService`: the log service without HTTP (admits signed entries, computes
  tlog-tiles, publishes checkpoints through witnesses); :func:`serve_log` serves it (the
  ``electlog serve`` command), :class:`LogServer` in a background thread; :func:`log_app` is
  the ASGI app and :data:`LOG_OPENAPI` its OpenAPI 3.1 document.

``import electlog.net`` needs none of the extra's libraries: each name is imported on first use,
so the core (``import electlog``) never pulls in an HTTP stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._client import MAX_RESPONSE_BYTES, WitnessClient
    from ._logserver import MAX_SUBMISSION_BYTES, LogServer, log_app, serve_log
    from ._logserver import OPENAPI as LOG_OPENAPI
    from ._logservice import MAX_ENTRIES_PER_REQUEST, LogService, Problem, Refused
    from ._monitor import EVIDENCE_FORMAT, Monitor, MonitorAlarm, MonitorStatus
    from ._server import RateLimiter, WitnessServer, parse_listen, serve_witness, witness_app
    from ._witness import (
        CONTENT_TYPE_SIZE,
        MAX_PROOF_LINES,
        MAX_REQUEST_BYTES,
        Witness,
        WitnessResponse,
        system_clock,
    )

__all__ = [
    "CONTENT_TYPE_SIZE",
    "EVIDENCE_FORMAT",
    "LOG_OPENAPI",
    "MAX_ENTRIES_PER_REQUEST",
    "MAX_PROOF_LINES",
    "MAX_REQUEST_BYTES",
    "MAX_RESPONSE_BYTES",
    "MAX_SUBMISSION_BYTES",
    "LogServer",
    "LogService",
    "Monitor",
    "MonitorAlarm",
    "MonitorStatus",
    "Problem",
    "RateLimiter",
    "Refused",
    "Witness",
    "WitnessClient",
    "WitnessResponse",
    "WitnessServer",
    "log_app",
    "parse_listen",
    "serve_log",
    "serve_witness",
    "system_clock",
    "witness_app",
]

_WHERE = {
    "CONTENT_TYPE_SIZE": "_witness",
    "MAX_PROOF_LINES": "_witness",
    "MAX_REQUEST_BYTES": "_witness",
    "Witness": "_witness",
    "WitnessResponse": "_witness",
    "system_clock": "_witness",
    "MAX_RESPONSE_BYTES": "_client",
    "LOG_OPENAPI": "_logserver",
    "MAX_SUBMISSION_BYTES": "_logserver",
    "LogServer": "_logserver",
    "log_app": "_logserver",
    "serve_log": "_logserver",
    "MAX_ENTRIES_PER_REQUEST": "_logservice",
    "LogService": "_logservice",
    "Problem": "_logservice",
    "Refused": "_logservice",
    "WitnessClient": "_client",
    "EVIDENCE_FORMAT": "_monitor",
    "Monitor": "_monitor",
    "MonitorAlarm": "_monitor",
    "MonitorStatus": "_monitor",
    "RateLimiter": "_server",
    "WitnessServer": "_server",
    "parse_listen": "_server",
    "serve_witness": "_server",
    "witness_app": "_server",
}

_EXTRA = {
    "_client": "httpx",
    "_monitor": "httpx",
    "_server": "starlette and uvicorn",
    "_logserver": "starlette and uvicorn",
}

_RENAMED = {"LOG_OPENAPI": "OPENAPI"}


def __getattr__(name: str) -> Any:
    module_name = _WHERE.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        module = importlib.import_module(f"{__name__}.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name is not None and not exc.name.startswith("electlog"):
            raise ModuleNotFoundError(
                f"electlog.net.{name} needs {_EXTRA.get(module_name, exc.name)}: "
                "pip install 'electlog[server]'",
                name=exc.name,
            ) from exc
        raise
    value = getattr(module, _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
