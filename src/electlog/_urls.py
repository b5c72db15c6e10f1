"""Strict checks of the HTTP(S) URLs electlog is given (a witness's address in a trust file, a
``WitnessClient``'s URL), without any HTTP library: the core imports this.

An acceptable URL is printable ASCII (an international host name in its ``xn--`` form), at
most :data:`MAX_URL_LENGTH` characters, ``http`` or ``https``, names a host, carries no user
name or password (credentials do not belong in a file that is published), and has a valid port
if any; no query and no fragment (a witness's URL is the prefix its ``/add-checkpoint`` path is
appended to).
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Final

__all__ = ["MAX_URL_LENGTH", "http_url_problem"]

MAX_URL_LENGTH: Final = 2048
_PRINTABLE: Final = re.compile(r"[\x21-\x7e]+")
_HOST: Final = re.compile(
    r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)
_IPV6: Final = re.compile(r"\[[0-9A-Fa-f:.]+\]")


def http_url_problem(url: object) -> str | None:
    """Why ``url`` is not an acceptable ``http``/``https`` URL (see the module), or ``None``."""
    if not isinstance(url, str) or not url:
        return "must be a non-empty string"
    if len(url) > MAX_URL_LENGTH:
        return f"is longer than {MAX_URL_LENGTH} characters"
    if not _PRINTABLE.fullmatch(url):
        return "must be printable ASCII without spaces (an international host in its xn-- form)"
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return "must start with http:// or https://"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "must not carry a user name or password"
    host = parts.netloc.rsplit(":", 1)[0] if port is not None else parts.netloc
    if port is not None and not parts.netloc.endswith(f":{port}"):
        return "has a malformed port"
    if parts.netloc.endswith(":"):
        return "has an empty port"
    if not host or not (_HOST.fullmatch(host) or _IPV6.fullmatch(host)):
        return "must name a host (a DNS name, an IPv4 address or a bracketed IPv6 address)"
    if port == 0:
        return "must not name port 0"
    if parts.query or parts.fragment or "?" in url or "#" in url:
        return "must not have a query or a fragment"
    return None
