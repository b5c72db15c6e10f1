"""HTTP services and clients (the optional ``electlog[server]`` extra).

* :class:`Witness`: a C2SP tlog-witness (``add-checkpoint``) over a SQLite state file, without
  HTTP; :func:`serve_witness` serves it with Starlette and uvicorn (the ``electlog witness``
  command), :class:`WitnessServer` in a background thread.
* :class:`WitnessClient`: submits checkpoints to a witness with httpx and verifies the
  cosignature; :meth:`electlog.Log.publish_checkpoint` takes a list of them and a quorum.
* :class:`Monitor`: follows a log served as tlog-tiles (the ``electlog monitor`` command):
  checks every checkpoint against the last one it saw, mirrors and audits the new entries, and
  writes fork evidence (:class:`MonitorAlarm`). The HTTP reader it uses is
  :meth:`electlog.store.tiles.TilesReader.from_url` (in the store layer, so the auditor can read
  served logs too).

``import electlog.net`` needs none of the extra's libraries: each name is imported on first use,
so the core (``import electlog``) never pulls in an HTTP stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._client import MAX_RESPONSE_BYTES, WitnessClient
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
    "MAX_PROOF_LINES",
    "MAX_REQUEST_BYTES",
    "MAX_RESPONSE_BYTES",
    "Monitor",
    "MonitorAlarm",
    "MonitorStatus",
    "RateLimiter",
    "Witness",
    "WitnessClient",
    "WitnessResponse",
    "WitnessServer",
    "parse_listen",
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

_EXTRA = {"_client": "httpx", "_monitor": "httpx", "_server": "starlette and uvicorn"}


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
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
