"""Reading a small file an auditor names (a trust file, a ``--since`` checkpoint) safely.

:func:`read_small_file` opens without blocking (a FIFO would otherwise wait for a writer
forever), accepts only a regular file (not ``/dev/zero``, a device, socket or FIFO, even
reached through a symbolic link) and reads at most ``limit`` bytes, refusing a larger file
before allocating for it.
"""

from __future__ import annotations

import contextlib
import os
import stat

__all__ = ["NotASmallFileError", "fsync_dir", "read_regular_fd", "read_small_file", "write_atomic"]


class NotASmallFileError(ValueError):
    """The path names something other than a regular file, or one larger than the limit."""


def read_small_file(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of the regular file ``path`` (at most ``limit``). Raises ``OSError`` when it
    cannot be opened or read, :class:`NotASmallFileError` for a FIFO, device, socket,
    directory or a file larger than ``limit``."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        return read_regular_fd(fd, limit)
    finally:
        os.close(fd)


def read_regular_fd(fd: int, limit: int) -> bytes:
    """The bytes of the open file ``fd`` (not closed), which must be a regular file of at most
    ``limit`` bytes: :class:`NotASmallFileError` otherwise, before reading more than
    ``limit + 1`` bytes (a file that grows while it is read is caught too)."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise NotASmallFileError("is not a regular file (a FIFO, device, socket or directory)")
    if st.st_size > limit:
        raise NotASmallFileError(f"is larger than {limit} bytes ({st.st_size} bytes)")
    chunks: list[bytes] = []
    total = 0
    while total <= limit:
        block = os.read(fd, min(limit + 1 - total, 1 << 20))
        if not block:
            break
        chunks.append(block)
        total += len(block)
    if total > limit:
        raise NotASmallFileError(f"is larger than {limit} bytes")
    return b"".join(chunks)


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make a rename or a new file in ``directory`` durable (best effort: a directory that
    cannot be opened or fsynced, as on some file systems, is passed over)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a directory
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike[str], data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` atomically and durably: written to a temporary name in the
    same directory, fsynced, renamed into place, the directory fsynced. Raises ``OSError``
    (the temporary file removed); a reader sees the old file or the new one, never a part."""
    target = os.fspath(path)
    directory, name = os.path.split(target)
    tmp = os.path.join(directory, f".{name}.tmp-{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(directory or ".")
