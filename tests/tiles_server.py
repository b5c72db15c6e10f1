"""A static tlog-tiles server for the tests: a real process on 127.0.0.1, port 0.

``python tests/tiles_server.py --root-file F --ready-file R [--mode MODE]`` serves the files of
the directory named in ``F`` (read again on every request, so a test switches the served tree by
rewriting ``F``: the log grows, or a fork replaces it) and writes its URL to ``R`` once it
listens. Modes, for the hostile-server tests:

* ``static`` (default): the files as they are (404 when missing);
* ``redirect``: every request is redirected (302) to another host (``--redirect-to``);
* ``same-origin-redirect``: every request is redirected to the same path under ``/moved/``,
  which serves the files;
* ``oversize``: every tile and bundle is answered with 32 MiB of zeros;
* ``stall``: ``tile/`` answers send their headers and a first byte, then nothing for 60 s;
* ``trickle``: ``tile/`` answers send one byte every 0.2 s;
* ``slow``: the files as they are, each ``tile/`` answer after 0.05 s (a round takes a while,
  so a test can kill its client in the middle).

Stopped by SIGTERM or SIGINT (uvicorn's graceful shutdown). Every request path is logged to
``--access-log`` (one a line) when given, so a test can see what a client fetched.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route


def build_app(root_file: Path, mode: str, redirect_to: str, access_log: Path | None) -> Starlette:
    async def serve(request: Request) -> Response:
        rel = request.path_params["path"]
        if access_log is not None:
            with access_log.open("a", encoding="utf-8") as fh:
                fh.write(rel + "\n")
        if mode == "redirect":
            return RedirectResponse(redirect_to.rstrip("/") + "/" + rel, status_code=302)
        if mode == "same-origin-redirect":
            if not rel.startswith("moved/"):
                return RedirectResponse("/moved/" + rel, status_code=302)
            rel = rel[len("moved/") :]
        is_tile = rel.startswith("tile/")
        if mode == "oversize" and is_tile:
            return Response(b"\x00" * (32 << 20), media_type="application/octet-stream")
        if mode in ("stall", "trickle") and is_tile:
            delay = 60.0 if mode == "stall" else 0.2

            async def slow() -> AsyncIterator[bytes]:
                for _ in range(1000):
                    yield b"\x00"
                    await asyncio.sleep(delay)

            return StreamingResponse(slow(), media_type="application/octet-stream")
        if mode == "slow" and is_tile:
            await asyncio.sleep(0.05)
        root = Path(root_file.read_text(encoding="utf-8").strip())
        parts = rel.split("/")
        if not rel or any(p in ("", ".", "..") for p in parts):
            return PlainTextResponse("not found\n", status_code=404)
        path = root.joinpath(*parts)
        if not path.is_file():
            return PlainTextResponse("not found\n", status_code=404)
        return Response(path.read_bytes(), media_type="application/octet-stream")

    return Starlette(routes=[Route("/{path:path}", serve)])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root-file", required=True, type=Path)
    parser.add_argument("--ready-file", required=True, type=Path)
    parser.add_argument(
        "--mode",
        default="static",
        choices=[
            "static",
            "redirect",
            "same-origin-redirect",
            "oversize",
            "stall",
            "trickle",
            "slow",
        ],
    )
    parser.add_argument("--redirect-to", default="http://electlog-elsewhere.invalid/")
    parser.add_argument("--access-log", type=Path)
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    tmp = args.ready_file.with_name(args.ready_file.name + ".tmp")
    tmp.write_text(url, encoding="utf-8")
    os.replace(tmp, args.ready_file)
    app = build_app(args.root_file, args.mode, args.redirect_to, args.access_log)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
