"""A real NATS server (Debian's ``nats-server`` package) on a free loopback port.

::

    with NatsServer() as server:               # JetStream on, its store in a temp dir
        server.url                             # nats://127.0.0.1:PORT
        server.stop(); server.start()          # the same port and store again

Options (``token``, ``user``/``password``, TLS files) go on the command line,
so a test can run a server that demands them.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from tests.support.server import free_port, stop_process


def _binary() -> str:
    for candidate in (shutil.which("nats-server"), "/usr/sbin/nats-server", "/usr/bin/nats-server"):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError("nats-server is not installed: apt-get install nats-server")


class NatsServer:
    def __init__(self, *, jetstream: bool = True, args: tuple[str, ...] = ()) -> None:
        self.jetstream = jetstream
        self.args = args
        self.workdir = Path(tempfile.mkdtemp(prefix="fleet-nats-"))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log: BinaryIO | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> NatsServer:
        command = [_binary(), "-a", "127.0.0.1", "-p", str(self.port), *self.args]
        if self.jetstream:
            command += ["-js", "-sd", str(self.workdir / "store")]
        self.log = (self.workdir / "nats.log").open("ab")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited during startup:\n{self.output}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(4).startswith(b"INFO"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nats-server did not start in time:\n{self.output}")

    @property
    def output(self) -> str:
        path = self.workdir / "nats.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None
        if self.log is not None:
            self.log.close()
            self.log = None

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
