"""A real uvicorn server in a subprocess, for end-to-end tests.

::

    with UvicornProcess("examples.fastapi_app:app", env={"ACTUATOR_DRAIN_PERIOD": "1"}) as server:
        httpx.get(server.url + "/actuator/health")
        server.signal(signal.SIGTERM)
        assert server.wait(timeout=10) == -signal.SIGTERM

The server binds 127.0.0.1 on a port the OS picks (``--port 0``); the port is
read from uvicorn's startup line, so parallel test runs never collide.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")
_RUNNING = re.compile(r"Uvicorn running on (?:http|https)://[^:\s]+:(\d+)")


def free_port() -> int:
    """A loopback port that was free a moment ago, for programs that cannot take port 0."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop_process(
    process: subprocess.Popen[Any] | None,
    sig: signal.Signals = signal.SIGTERM,
    timeout: float = 10.0,
) -> None:
    """Stop a server the test started: ``sig``, then SIGKILL if it has not exited
    within ``timeout`` seconds. Nothing to do when it has already exited."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def gone(pid: int) -> bool | None:
    """``True`` once no process has ``pid`` (for ``poll``), else ``None``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return None


def poll(check: Callable[[], T | None], *, timeout: float = 10.0, interval: float = 0.02) -> T:
    """Call ``check`` until it returns something other than ``None``; that value.

    Raises ``TimeoutError`` after ``timeout`` seconds, with the last exception
    ``check`` raised (if any) as the cause.
    """
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except Exception as exc:
            last = exc
        else:
            if result is not None:
                return result
        time.sleep(interval)
    raise TimeoutError(f"no result from {check!r} within {timeout}s") from last


class UvicornProcess:
    """``python -m uvicorn <app>`` on a free loopback port, with its output collected."""

    def __init__(
        self,
        app: str,
        *,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] = ROOT,
        startup_timeout: float = 30.0,
        scheme: str = "http",
        command: Sequence[str] | None = None,
        running: re.Pattern[str] = _RUNNING,
        port: int | None = None,
        stop_signal: signal.Signals = signal.SIGINT,
    ) -> None:
        self.app = app
        # What stop() sends first: the signal that stops this server quickly and cleanly.
        self.stop_signal = stop_signal
        # The line that says the server is up: its first group is the port, unless
        # the port is given (a server that cannot be told port 0, or logs no port).
        self.running = running
        # A script that runs uvicorn itself (``python examples/x.py --port N``) instead.
        self.command = None if command is None else list(command)
        self.args = list(args)
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), self.env.get("PYTHONPATH", "")) if p
        )
        self.cwd = cwd
        self.startup_timeout = startup_timeout
        self.scheme = scheme
        self._given_port = port
        self.port: int | None = None
        self.process: subprocess.Popen[str] | None = None
        self._lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        """Everything the server printed so far."""
        self._drain()
        return "".join(self._lines)

    def start(self) -> UvicornProcess:
        command = self.command or [
            sys.executable,
            "-m",
            "uvicorn",
            self.app,
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            *self.args,
        ]
        self.process = subprocess.Popen(
            command,
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            # Its own process group, so stop() can end the workers it forked too.
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + self.startup_timeout
        up = False
        while not up:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise RuntimeError(f"the server did not start in time:\n{self.output}")
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"the server exited during startup:\n{''.join(self._lines)}")
            self._lines.append(line)
            match = self.running.search(line)
            if match:
                up = True
                self.port = self._given_port or int(match.group(1))
        return self

    def _read(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def _drain(self) -> None:
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return
            if line is not None:
                self._lines.append(line)

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Wait for the process to exit; its return code (negative: killed by that signal)."""
        assert self.process is not None
        code = self.process.wait(timeout=timeout)
        if self._reader is not None:
            self._reader.join(timeout=5)
            if self._reader.is_alive():
                # A worker that outlived its server still holds the pipe: closing it now
                # would wait on the reader's lock for ever.
                self._drain()
                return code
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._drain()
        return code

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop the server (``stop_signal``, then SIGKILL after ``timeout`` seconds) and
        any process it left behind; its return code (``None``: never started)."""
        if self.process is None:
            return None
        try:
            if self.process.poll() is not None:
                return self.process.returncode
            self.process.send_signal(self.stop_signal)
            try:
                return self.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                return self.wait(timeout)
        finally:
            self._kill_leftovers()

    def _kill_leftovers(self) -> None:
        """SIGKILL whatever is left of the server's process group (orphaned workers)."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self._reader is not None:
            self._reader.join(timeout=5)

    def __enter__(self) -> UvicornProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
