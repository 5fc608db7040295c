"""A real PostgreSQL server (Debian's ``postgresql`` package) on a free loopback port.

::

    with PostgresServer() as server:
        url = server.create_database("test_1")   # postgresql://postgres@127.0.0.1:PORT/test_1

``initdb`` makes a fresh cluster in a temporary directory (trust authentication
on loopback only) and ``postgres`` serves it with its socket in the same
directory, so it never touches a system cluster. PostgreSQL refuses to run as
root: as root, the cluster belongs to the ``postgres`` user the Debian package
creates (or ``nobody``) and the commands run as that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg

from tests.support.server import free_port, stop_process


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not candidates:
        raise RuntimeError(
            f"PostgreSQL's {name} is not installed: apt-get install postgresql (.ci/run does it)"
        )
    return candidates[-1]


class PostgresServer:
    def __init__(self, startup_timeout: float = 60.0) -> None:
        self.startup_timeout = startup_timeout
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.workdir = Path(tempfile.mkdtemp(prefix="fleet-pg-"))
        self.user: str | None = None
        if os.geteuid() == 0:
            for candidate in ("postgres", "nobody"):
                try:
                    pwd.getpwnam(candidate)
                except KeyError:
                    continue
                self.user = candidate
                break
            if self.user is None:
                raise RuntimeError(
                    "running as root and no 'postgres' or 'nobody' user to run PostgreSQL as"
                )
            entry = pwd.getpwnam(self.user)
            os.chown(self.workdir, entry.pw_uid, entry.pw_gid)
            os.chmod(self.workdir, 0o700)

    def _as_user(self) -> dict[str, Any]:
        if self.user is None:
            return {}
        entry = pwd.getpwnam(self.user)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> PostgresServer:
        data = self.workdir / "data"
        subprocess.run(
            [
                _binary("initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--locale=C.UTF-8",
            ],
            check=True,
            capture_output=True,
            cwd=self.workdir,
            **self._as_user(),
        )
        self.port = free_port()
        self.log = (self.workdir / "postgres.log").open("wb")
        self.process = subprocess.Popen(
            [
                _binary("postgres"),
                "-D",
                str(data),
                "-k",
                str(self.workdir),
                "-p",
                str(self.port),
                "-h",
                "127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=200",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            **self._as_user(),
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited during startup:\n{self.output}")
            try:
                with psycopg.connect(self.url, connect_timeout=2):
                    return self
            except psycopg.OperationalError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"postgres did not start in time:\n{self.output}")

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    @property
    def output(self) -> str:
        path = self.workdir / "postgres.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        stop_process(self.process, signal.SIGINT, timeout=20)  # fast shutdown: closes sessions
        if getattr(self, "log", None) is not None:
            self.log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
