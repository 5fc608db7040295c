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

from tests.support.server import UvicornProcess

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def serve(app: str, env: Mapping[str, str] | None = None,
          args: Sequence[str] = ("--workers", "1", "--log-level", "warning",
                                 "--no-access-log")) -> Iterator[UvicornProcess]:
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

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 host: str) -> None:
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


def wrk(url: str, *, seconds: float, connections: int = 64, threads: int = 2) -> float:
    """Requests per second that wrk measured against ``url``."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", url],
        capture_output=True, text=True, check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if match is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw {errors.group(1)} error responses from {url}")
    return float(match.group(1))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
