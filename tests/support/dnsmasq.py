"""A real DNS server (Debian's dnsmasq) on a free loopback port, with the records a test gives.

::

    with Dnsmasq(srv=[("_actuator._tcp.fleet.test", "localhost", 8081)],
                 hosts=[("orders.fleet.test", "127.0.0.1", "::1")]) as dns:
        PullConfig(nameservers=[dns.nameserver], ...)

``scripts/system-deps.sh`` installs it (``dnsmasq-base``). It answers only for the
records given (no upstream servers, no /etc/hosts) and runs in the foreground, so the
test owns it and stops it.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import dns.nameserver
import dns.resolver

from tests.support.server import free_port

_PROBE = "dnsmasq-probe.test"


def dnsmasq_binary() -> str:
    found = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    if not Path(found).exists():
        raise RuntimeError("dnsmasq is not installed: run scripts/system-deps.sh")
    return found


class Dnsmasq:
    def __init__(
        self,
        *,
        srv: Sequence[tuple[str, str, int]] = (),
        hosts: Sequence[tuple[str, ...]] = (),
    ) -> None:
        self.srv = list(srv)
        self.hosts = list(hosts)
        self.port = 0
        self.process: subprocess.Popen[str] | None = None

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> Dnsmasq:
        self.port = free_port()
        command = [
            dnsmasq_binary(),
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            f"--port={self.port}",
            "--pid-file=",
            "--log-facility=-",
        ]
        command += [f"--srv-host={name},{target},{port}" for name, target, port in self.srv]
        command += [f"--host-record={','.join(record)}" for record in self.hosts]
        command.append(f"--host-record={_PROBE},127.0.0.1")  # what start-up waits for
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver("127.0.0.1", port=self.port)]
        resolver.lifetime = 0.5
        deadline = time.monotonic() + 10
        while True:
            if self.process.poll() is not None:
                output = self.process.stdout.read() if self.process.stdout else ""
                raise RuntimeError(f"dnsmasq exited at start:\n{output}")
            try:
                resolver.resolve(_PROBE, "A")
            except Exception:
                if time.monotonic() > deadline:
                    self.__exit__(None, None, None)
                    raise RuntimeError("dnsmasq did not answer within 10 s") from None
                time.sleep(0.05)
            else:
                return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None
