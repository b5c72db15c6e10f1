"""A client of a C2SP tlog-witness (httpx): submit a checkpoint, get back a verified cosignature."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence

import httpx

from .._urls import http_url_problem
from ..checkpoint import Checkpoint, WitnessVerifier
from ..errors import CheckpointError, ElectlogError, NoteError, UsageError, WitnessError
from ..note import _parse_note, open_note
from ._witness import CONTENT_TYPE_SIZE, MAX_PROOF_LINES

__all__ = ["MAX_RESPONSE_BYTES", "WitnessClient"]

MAX_RESPONSE_BYTES = 64 * 1024
"""A witness answer longer than this is refused unread."""

_SIZE_RE = re.compile("(0|[1-9][0-9]{0,18})\n")
_MAX_ATTEMPTS = 3  # first guess, the size a 409 names, and once more if the witness moved on
_SHOWN = re.compile(r"[^\x20-\x7e]")

Prover = Callable[[int, int], Sequence[bytes]]
"""``prove(size1, size2)``: the RFC 6962 consistency proof between two sizes of the log (as
:meth:`electlog.Log.consistency_proof`)."""


def _excerpt(data: bytes) -> str:
    """A short, printable excerpt of a witness's answer for an error message."""
    text = _SHOWN.sub("?", data[:160].decode("utf-8", "replace").strip())
    return text or "(empty body)"


class WitnessClient:
    """One witness, reached over HTTP at ``url`` (its submission prefix; ``/add-checkpoint`` is
    appended) and known by its verifier key (a :class:`~electlog.WitnessVerifier` or its vkey
    string).

    :meth:`add_checkpoint` submits a signed checkpoint with the consistency proof from the size
    the witness holds, following a 409 answer by resending from the size it names, and returns
    the witness's cosignature line after verifying it. The client remembers, per origin, the
    size the witness last cosigned, so the next submission usually needs one round trip.
    Redirects are not followed; answers are capped at :data:`MAX_RESPONSE_BYTES`.

    ``transport`` (an ``httpx.BaseTransport``) is for tests; ``timeout`` is in seconds.
    """

    def __init__(
        self,
        url: str,
        verifier: WitnessVerifier | str,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if isinstance(verifier, str):
            verifier = WitnessVerifier.from_vkey(verifier)
        if not isinstance(verifier, WitnessVerifier):
            raise UsageError("WitnessClient needs the witness's WitnessVerifier key")
        problem = http_url_problem(url)
        if problem is not None:
            raise UsageError(f"witness URL {str(url)[:100]!r} {problem}")
        self._url = url.rstrip("/") + "/add-checkpoint"
        self._verifier = verifier
        self._sizes: dict[str, int] = {}
        self._http = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            transport=transport,
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )

    def __repr__(self) -> str:
        return f"WitnessClient({self._url!r}, {self._verifier.vkey!r})"

    @property
    def verifier(self) -> WitnessVerifier:
        """The witness's public key."""
        return self._verifier

    @property
    def url(self) -> str:
        """The witness's ``add-checkpoint`` URL."""
        return self._url

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> WitnessClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _refuse(self, reason: str, status: int | None = None) -> WitnessError:
        return WitnessError(self._verifier.name, reason, status=status)

    def _post(self, body: bytes) -> tuple[int, str, bytes]:
        try:
            with self._http.stream("POST", self._url, content=body) as resp:
                chunks: list[bytes] = []
                total = 0
                for chunk in resp.iter_bytes():
                    total += len(chunk)
                    if total > MAX_RESPONSE_BYTES:
                        raise self._refuse(
                            f"answer longer than {MAX_RESPONSE_BYTES} bytes", resp.status_code
                        )
                    chunks.append(chunk)
                ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
                return resp.status_code, ctype, b"".join(chunks)
        except httpx.HTTPError as exc:
            raise self._refuse(f"unreachable: {type(exc).__name__}") from None

    def add_checkpoint(self, note: str, prove: Prover, *, old_size: int | None = None) -> str:
        """Submit the signed checkpoint ``note``; return the witness's verified cosignature line
        (``— <name> <base64>\\n``).

        ``prove(size1, size2)`` gives the consistency proof between two sizes of the log (pass
        :meth:`electlog.Log.consistency_proof`). The first request claims ``old_size`` (default:
        the size this client last saw the witness hold, else 0); a 409 naming another size is
        followed by one resent from that size. Raises :class:`~electlog.errors.WitnessError`
        (with the HTTP status) when the witness refuses, cannot be reached, holds a larger tree
        than the checkpoint (a rolled-back log), or answers without a valid cosignature."""
        try:
            text, _ = _parse_note(note)
            cp = Checkpoint.from_text(text)
        except (NoteError, CheckpointError) as exc:
            raise UsageError(f"not a signed checkpoint note: {exc}") from None
        old = self._sizes.get(cp.origin, 0) if old_size is None else old_size
        if isinstance(old, bool) or not isinstance(old, int) or old < 0:
            raise UsageError(f"old_size must be a non-negative int, not {old!r}")
        for _ in range(_MAX_ATTEMPTS):
            if old > cp.size:
                raise self._refuse(
                    f"the witness holds size {old}, larger than this checkpoint's {cp.size}: "
                    "the log looks rolled back",
                    409,
                )
            proof = [] if old in (0, cp.size) else list(prove(old, cp.size))
            if len(proof) > MAX_PROOF_LINES:
                raise UsageError(f"a consistency proof of {len(proof)} hashes is too long")
            body = f"old {old}\n".encode() + b"".join(base64.b64encode(h) + b"\n" for h in proof)
            status, ctype, answer = self._post(body + b"\n" + note.encode("utf-8"))
            if status == 200:
                line = self._verify(text, answer)
                self._sizes[cp.origin] = cp.size
                return line
            if status == 409 and ctype == CONTENT_TYPE_SIZE:
                match = _SIZE_RE.fullmatch(answer.decode("ascii", "replace"))
                if match is None:
                    raise self._refuse("409 with a malformed size body", status)
                held = int(match.group(1))
                self._sizes[cp.origin] = held
                if held == old:
                    raise self._refuse(f"409 naming the size {held} that was sent", status)
                old = held
                continue
            raise self._refuse(_excerpt(answer), status)
        raise self._refuse(f"still answering 409 after {_MAX_ATTEMPTS} attempts", 409)

    def _verify(self, text: str, answer: bytes) -> str:
        """The cosignature line by this witness's key in ``answer``, checked over ``text``."""
        try:
            lines = answer.decode("utf-8")
            opened = open_note(text + "\n" + lines, [self._verifier])
        except (UnicodeDecodeError, ElectlogError) as exc:
            reason = exc.reason if isinstance(exc, UnicodeDecodeError) else str(exc)
            raise self._refuse(f"no valid cosignature in the answer: {reason}", 200) from None
        return opened.sigs[0].to_line()
