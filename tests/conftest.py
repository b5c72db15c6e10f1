"""Shared pytest fixtures.

PostgreSQL: ``postgres_dsn`` gives each test a fresh, empty database (dropped afterwards) on
``postgres_server``, which is, in order of preference:

1. the server named by ``ELECTLOG_TEST_POSTGRES_DSN`` (a role that may ``CREATE DATABASE``;
   CI sets ``postgresql://electlog:electlog@127.0.0.1:5432/postgres``);
2. a throwaway server started from the installed PostgreSQL binaries (``initdb``/``pg_ctl``
   found on PATH or under ``/usr/lib/postgresql/*/bin``) in a temporary directory, run as the
   ``postgres`` user via ``runuser`` when the tests run as root (``initdb`` refuses root);
3. otherwise the PostgreSQL tests are skipped with instructions -- except under ``CI=1``,
   where a missing server fails them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

_HOW_TO = (
    "PostgreSQL tests need a server. Install PostgreSQL (e.g. `apt-get install postgresql`, "
    "so that initdb and pg_ctl exist) and they start a throwaway server themselves, or point "
    "them at a running server with "
    "ELECTLOG_TEST_POSTGRES_DSN=postgresql://USER:PASSWORD@HOST:5432/postgres "
    "(a role allowed to CREATE DATABASE)."
)


def _unavailable(reason: str) -> NoReturn:
    message = f"{reason}. {_HOW_TO}"
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the PostgreSQL tests: {message}", pytrace=False)
    pytest.skip(message)


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _can_connect(dsn: str) -> str | None:
    import psycopg

    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip()
    return None


@contextlib.contextmanager
def _throwaway_server() -> Iterator[str]:
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise FileNotFoundError("no initdb/pg_ctl found on PATH or in /usr/lib/postgresql/*/bin")
    base = Path(tempfile.mkdtemp(prefix="electlog-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as `postgres`
        user = pwd.getpwnam("postgres")
        os.chown(base, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, log = base / "data", base / "server.log"
    port = _free_port()
    started = False
    try:
        subprocess.run(
            [*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "electlog", "--no-sync"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        opts = f"-F -p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-l", str(log), "-o", opts, "-w", "start"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        started = True
        yield f"postgresql://electlog@127.0.0.1:{port}/postgres"
    finally:
        if started:
            subprocess.run(
                [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                check=False,
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """DSN of a PostgreSQL server where the tests may create databases."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install 'electlog[postgres]')")
    dsn = os.environ.get("ELECTLOG_TEST_POSTGRES_DSN")
    if dsn:
        problem = _can_connect(dsn)
        if problem is not None:
            pytest.fail(f"ELECTLOG_TEST_POSTGRES_DSN is set but unusable: {problem}")
        yield dsn
        return
    try:
        server = _throwaway_server()
        started = server.__enter__()
    except (OSError, subprocess.SubprocessError, KeyError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        _unavailable(f"could not start a throwaway PostgreSQL server ({exc} {detail[-300:]!r})")
    try:
        yield started
    finally:
        server.__exit__(None, None, None)


def _with_database(dsn: str, name: str) -> str:
    parts = urllib.parse.urlsplit(dsn)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture
def postgres_dsn(postgres_server: str) -> Iterator[str]:
    """A DSN for a fresh, empty database, dropped after the test."""
    import psycopg

    name = f"electlog_test_{secrets.token_hex(6)}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(postgres_server, name)
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
