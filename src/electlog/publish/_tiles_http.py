"""Fetching a tlog-tiles log over HTTP (httpx, the ``server`` extra), for :class:`TilesReader`.

Only bytes move here; every check of what they say is the reader's (electlog.publish.tiles), the
same for a directory and a served log. This module sits in the publish layer, not in
``electlog.net``, because the auditor (``electlog.audit``, below ``net``) reads served logs too;
it is imported only when a URL is opened, so ``import electlog`` never needs httpx.

Hardening: ``http``/``https`` URLs only; connect and read timeouts, and a deadline per file (a
server trickling a byte at a time cannot hold a reader forever); each file capped at the size the
reader asks for (the same caps as a directory), checked against ``Content-Length`` before reading
and while reading; a bound on the total bytes a reader fetches; no content encoding (bytes as
sent, no decompression bomb); redirects followed only to the same scheme, host and port, a
bounded number of times. Every failure is a :class:`~electlog.errors.TilesUnavailableError`
naming the URL; no httpx exception escapes.
"""

from __future__ import annotations

import time
from typing import Final

import httpx

from .._urls import http_url_problem
from ..errors import TilesUnavailableError, UsageError
from .tiles import TilesFetcher

__all__ = ["HttpFetcher"]

_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    port = url.port
    if port is None:
        port = 443 if url.scheme == "https" else 80
    return url.scheme, url.host, port


class HttpFetcher(TilesFetcher):
    """The files of a log served at ``url`` (see the module docstring for the limits).

    :attr:`fetched` lists every path fetched (in order), :attr:`bytes_fetched` their total
    size: a monitor uses them to show that it read only what was new."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        file_deadline: float = 120.0,
        max_total_bytes: int = 1 << 33,
        max_redirects: int = 3,
        transport: object | None = None,
    ) -> None:
        problem = http_url_problem(url)  # the rules of witness URLs in trust files, too
        if problem is not None:
            raise UsageError(f"tiles URL {url!r} {problem}")
        for name, value in (("timeout", timeout), ("file_deadline", file_deadline)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise UsageError(f"{name} must be a positive number of seconds, not {value!r}")
        for name, count in (("max_total_bytes", max_total_bytes), ("max_redirects", max_redirects)):
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise UsageError(f"{name} must be a non-negative integer, not {count!r}")
        if transport is not None and not isinstance(transport, httpx.BaseTransport):
            raise UsageError("transport must be an httpx.BaseTransport")
        self._base = url if url.endswith("/") else url + "/"
        try:
            self._origin = _origin(httpx.URL(self._base))
        except (httpx.InvalidURL, ValueError) as exc:
            raise UsageError(f"tiles URL {url!r} is not a valid URL: {exc}") from None
        self._deadline = float(file_deadline)
        self._max_total = max_total_bytes
        self._max_redirects = max_redirects
        self.fetched: list[str] = []
        self.bytes_fetched = 0
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            transport=transport,
            headers={"Accept-Encoding": "identity", "User-Agent": "electlog-tiles-reader"},
        )

    @property
    def url(self) -> str:
        """The log's base URL (ending in ``/``)."""
        return self._base

    @property
    def description(self) -> str:
        return f"tiles at {self._base}"

    def where(self, rel: str) -> str:
        return self._base + rel

    def close(self) -> None:
        self._http.close()

    def fetch(self, rel: str, limit: int) -> bytes:
        url = self.where(rel)
        target = httpx.URL(url)
        for _ in range(self._max_redirects + 1):
            try:
                status, location, data = self._get(target, url, limit)
            except httpx.HTTPError as exc:
                raise TilesUnavailableError(
                    f"cannot fetch {url}: {type(exc).__name__}: {exc}"
                ) from None
            except (httpx.StreamError, httpx.InvalidURL) as exc:
                raise TilesUnavailableError(f"cannot fetch {url}: {exc}") from None
            if status in _REDIRECTS:
                target = self._redirect(url, target, location)
                continue
            self.fetched.append(rel)
            return data
        raise TilesUnavailableError(
            f"cannot fetch {url}: more than {self._max_redirects} redirects"
        )

    def _redirect(self, url: str, current: httpx.URL, location: str | None) -> httpx.URL:
        if not location:
            raise TilesUnavailableError(f"cannot fetch {url}: a redirect without a Location")
        try:
            nxt = current.join(location)
            same = _origin(nxt) == self._origin
        except (httpx.InvalidURL, ValueError) as exc:
            raise TilesUnavailableError(f"cannot fetch {url}: bad redirect: {exc}") from None
        if not same:
            shown = str(nxt)[:200]
            raise TilesUnavailableError(
                f"cannot fetch {url}: refused a redirect to another origin ({shown}); only "
                "redirects within the same scheme, host and port are followed"
            )
        return nxt

    def _get(self, target: httpx.URL, url: str, limit: int) -> tuple[int, str | None, bytes]:
        started = time.monotonic()
        with self._http.stream("GET", target) as resp:
            status = resp.status_code
            if status in _REDIRECTS:
                return status, resp.headers.get("location"), b""
            if status == 404:
                raise TilesUnavailableError(f"{url} is missing (HTTP 404)", missing=True)
            if status != 200:
                raise TilesUnavailableError(f"cannot fetch {url}: HTTP {status}")
            declared = resp.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise TilesUnavailableError(
                    f"{url} is larger than {limit} bytes (Content-Length {declared})"
                )
            chunks: list[bytes] = []
            total = 0
            for chunk in resp.iter_raw():
                total += len(chunk)
                if total > limit:
                    raise TilesUnavailableError(f"{url} is larger than {limit} bytes")
                if self.bytes_fetched + total > self._max_total:
                    raise TilesUnavailableError(
                        f"cannot fetch {url}: this reader's bound of {self._max_total} bytes "
                        "fetched in all is reached"
                    )
                if time.monotonic() - started > self._deadline:
                    raise TilesUnavailableError(
                        f"cannot fetch {url}: not complete after {self._deadline:g} seconds"
                    )
                chunks.append(chunk)
            self.bytes_fetched += total
            return status, None, b"".join(chunks)
