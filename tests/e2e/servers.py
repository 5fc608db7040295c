"""The four servers of the compatibility matrix, started for real on a free port.

::

    with serve("granian", "tests.e2e.apps:app", workers=2) as server:
        wait_for_workers(server, 2)
        httpx.get(server.url + "/hello")

Each server prints a line per worker once that worker's lifespan startup is
done; ``serve`` returns after the first, ``wait_for_workers`` waits for all.
"""

from __future__ import annotations

import re
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.server import UvicornProcess, free_port, poll


@dataclass(frozen=True)
class Server:
    name: str
    started: re.Pattern[str]
    """The line each worker prints once its app has started."""
    stop_signal: signal.Signals = signal.SIGINT
    """What stops it quickly and cleanly at the end of a test."""

    def command(self, app: str, port: int, workers: int, args: Sequence[str]) -> list[str]:
        python = [sys.executable, "-m"]
        if self.name == "uvicorn":
            more = ["--workers", str(workers)] if workers > 1 else []
            host = ["--host", "127.0.0.1", "--port", str(port)]
            return [*python, "uvicorn", app, *host, *more, *args]
        if self.name == "gunicorn":
            return [
                *python,
                "gunicorn",
                app,
                "--worker-class",
                "uvicorn_worker.UvicornWorker",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--graceful-timeout",
                "20",
                # gunicorn 25.1+ opens a control socket at one fixed path per user
                # (~/.gunicorn/gunicorn.ctl): parallel tests would take it from each other.
                "--no-control-socket",
                *args,
            ]
        if self.name == "hypercorn":
            return [
                *python,
                "hypercorn",
                app,
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                *args,
            ]
        return [
            *python,
            "granian",
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            *args,
            app,
        ]


SERVERS = {
    "uvicorn": Server("uvicorn", re.compile(r"Application startup complete")),
    # SIGINT is gunicorn's quick stop, but it sends its uvicorn workers SIGQUIT, which
    # uvicorn-worker only notes: the arbiter then waits --graceful-timeout and kills them.
    "gunicorn": Server(
        "gunicorn", re.compile(r"Application startup complete"), stop_signal=signal.SIGTERM
    ),
    "hypercorn": Server("hypercorn", re.compile(r"Running on http://")),
    "granian": Server("granian", re.compile(r"Started worker-\d+")),
}


def serve(
    name: str,
    app: str,
    *,
    workers: int = 1,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    startup_timeout: float = 60.0,
) -> UvicornProcess:
    """``name`` serving ``app`` on a free loopback port (started by ``with``)."""
    server = SERVERS[name]
    port = free_port()
    return UvicornProcess(
        app,
        command=server.command(app, port, workers, args),
        env=env,
        running=server.started,
        port=port,
        startup_timeout=startup_timeout,
        stop_signal=server.stop_signal,
    )


def wait_for_workers(server: UvicornProcess, workers: int, timeout: float = 60.0) -> None:
    """Return once ``workers`` workers have printed their started line."""
    pattern = server.running
    poll(lambda: len(pattern.findall(server.output)) >= workers or None, timeout=timeout)


def compat(
    feature: str, results: dict[str, str] | None = None, servers: tuple[str, ...] = tuple(SERVERS)
) -> list[Any]:
    """One parameter per server, each marked as proving ``feature`` there."""
    results = results or {}
    return [
        pytest.param(
            name,
            marks=pytest.mark.compat("server", name, feature, result=results.get(name, "yes")),
            id=name,
        )
        for name in servers
    ]
