"""Shared benchmark plumbing: servers, a raw HTTP client, wrk, and process memory.

Everything targets 127.0.0.1 only. Results are ratios within one run: the
machines these run on are shared and noisy, so absolute numbers drift.
"""

from __future__ import annotations

import asyncio
import os
import platform
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.server import UvicornProcess

# One GET /items/1 as a server would hand it over; callers pass a copy per request
# (Starlette writes into the scope).
ITEM_SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.3"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/items/1",
    "raw_path": b"/items/1",
    "root_path": "",
    "query_string": b"",
    "headers": [(b"host", b"bench")],
    "server": ("bench", 80),
    "client": ("127.0.0.1", 1),
}

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def serve(
    app: str,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = ("--workers", "1", "--log-level", "warning", "--no-access-log"),
) -> Iterator[UvicornProcess]:
    """A uvicorn subprocess, one worker, on a free loopback port."""
    # uvicorn's "Uvicorn running on" line is logged at info level; keep it.
    args = [a for a in args if a not in ("--log-level", "warning")]
    with UvicornProcess(app, args=args, env=dict(env or {})) as server:
        yield server


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (Linux)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


@dataclass
class Reply:
    status: int
    body: bytes
    seconds: float


class Connection:
    """A keep-alive HTTP/1.1 connection with no client-side overhead worth measuring."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str
    ) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, f"127.0.0.1:{port}")

    def send(self, path: str) -> float:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        return time.perf_counter()

    async def receive(self, started: float) -> Reply:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
        body = await self.reader.readexactly(length)
        return Reply(status, body, time.perf_counter() - started)

    async def get(self, path: str) -> Reply:
        return await self.receive(self.send(path))

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Load:
    """What one wrk run measured: requests per second, and the server's CPU per request."""

    rate: float
    requests: int
    cpu_seconds: float

    @property
    def cpu_per_request(self) -> float:
        return self.cpu_seconds / max(self.requests, 1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (Linux)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pinned(command: Sequence[str], cpu: int | None) -> list[str]:
    """``command`` run on one CPU (``taskset``), when asked and possible."""
    if cpu is None or shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        return list(command)
    return ["taskset", "-c", str(cpu), *command]


def load(
    url: str,
    *,
    seconds: float,
    pid: int | None = None,
    connections: int = 64,
    threads: int = 1,
    cpu: int | None = None,
) -> Load:
    """Run wrk against ``url``; with ``pid``, also the server's CPU time over the run.

    CPU per request is far steadier than requests per second on a shared
    machine (a neighbour's burst slows the clock, not the work), so ratios
    are reported from both.
    """
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    before = cpu_seconds(pid) if pid is not None else 0.0
    out = subprocess.run(
        pinned(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", url], cpu
        ),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    used = cpu_seconds(pid) - before if pid is not None else 0.0
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if match is None or total is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw {errors.group(1)} error responses from {url}")
    return Load(rate=float(match.group(1)), requests=int(total.group(1)), cpu_seconds=used)


def wrk(url: str, *, seconds: float, connections: int = 64, threads: int = 1) -> float:
    """Requests per second that wrk measured against ``url``."""
    return load(url, seconds=seconds, connections=connections, threads=threads).rate


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(
                line.split(":", 1)[1].strip() for line in info if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
