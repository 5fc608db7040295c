"""CPU instructions per request, counted by valgrind's callgrind: the steady measure.

Wall-clock throughput on a shared 2-core machine swings by 30% between runs;
an instruction count does not move with the neighbours. Each app is served
once with ``SMALL`` and once with ``LARGE`` requests; the difference divided by
``LARGE - SMALL`` is the cost of one request, start-up and imports cancelled
out. Two ways:

- in-process (default): an ASGI call per request, the loop yielding between
  requests as under a server: the app and the middleware alone;
- ``--server``: a real uvicorn (one worker) under callgrind, loaded over
  loopback by a keep-alive client: everything a request costs the server
  process, so ``bare / instrumented`` is the throughput ratio of a CPU-bound
  server.

    python -m benchmarks.instructions benchmarks.metrics_apps:fastapi_bare \\
        benchmarks.metrics_apps:fastapi_actuator_off

Needs valgrind (``apt-get install valgrind``). Each count takes about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks._harness import ITEM_SCOPE, ROOT, Connection
from tests.support.server import free_port

SMALL, LARGE = 200, 1200
_COLLECTED = re.compile(r"Collected : (\d+)")


async def drive(app: Any, requests: int) -> None:
    """Start ``app``'s lifespan, send ``requests`` GETs, stop it."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    lifespan = asyncio.ensure_future(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, outbox.put)
    )
    await outbox.get()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    for _ in range(requests):
        await app(dict(ITEM_SCOPE), receive, send)
        await asyncio.sleep(0)
    await inbox.put({"type": "lifespan.shutdown"})
    await outbox.get()
    await lifespan


def load_app(target: str) -> Any:
    module, _, name = target.partition(":")
    factory = getattr(importlib.import_module(module), name)
    return factory() if callable(factory) and not hasattr(factory, "router") else factory


def count(target: str, requests: int) -> int:
    """Instructions callgrind counts for a process that serves ``requests`` requests."""
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is needed: apt-get install valgrind")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
        "PYTHONHASHSEED": "0",
        # The heartbeat is time-driven: under valgrind's 50x slow-down it would
        # beat 50 times as often per request as it really does.
        "ACTUATOR_HEALTH__EVENT_LOOP__ENABLED": "false",
    }
    result = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-m",
            "benchmarks.instructions",
            "--drive",
            target,
            str(requests),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=ROOT,
    )
    match = _COLLECTED.search(result.stderr)
    if match is None:
        raise RuntimeError(f"no callgrind total in:\n{result.stderr[-2000:]}")
    return int(match.group(1))


def count_server(target: str, requests: int) -> int:
    """Instructions a uvicorn process under callgrind spends from start to exit when
    it serves ``requests`` keep-alive GETs in between."""
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is needed: apt-get install valgrind")
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
        "PYTHONHASHSEED": "0",
        "ACTUATOR_HEALTH__EVENT_LOOP__ENABLED": "false",
    }
    process = subprocess.Popen(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-m",
            "uvicorn",
            target,
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        asyncio.run(_client(port, requests, startup_timeout=600))
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=600)
    match = _COLLECTED.search(stderr)
    if match is None:
        raise RuntimeError(f"no callgrind total in:\n{stderr[-2000:]}")
    return int(match.group(1))


async def _client(port: int, requests: int, startup_timeout: float) -> None:
    deadline = time.monotonic() + startup_timeout
    while True:
        try:
            connection = await Connection.open(port)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
    try:
        for _ in range(requests):
            reply = await connection.get("/items/1")
            if reply.status != 200:
                raise RuntimeError(f"/items/1 answered {reply.status}")
    finally:
        await connection.close()


def per_request(targets: Sequence[str], *, server: bool = False) -> dict[str, float]:
    """Instructions per request for each target, two counts running at a time."""
    counter = count_server if server else count
    jobs = [(target, n) for target in targets for n in (SMALL, LARGE)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        totals = dict(zip(jobs, pool.map(lambda job: counter(*job), jobs), strict=True))
    return {t: (totals[t, LARGE] - totals[t, SMALL]) / (LARGE - SMALL) for t in targets}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", help="module:app or module:factory")
    parser.add_argument(
        "--server",
        action="store_true",
        help="count a real uvicorn serving over loopback (targets: factories)",
    )
    parser.add_argument("--drive", nargs=2, metavar=("TARGET", "REQUESTS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.drive:
        asyncio.run(drive(load_app(args.drive[0]), int(args.drive[1])))
        return
    results = per_request(args.targets, server=args.server)
    base = results[args.targets[0]]
    for target, instructions in results.items():
        print(f"{target}: {instructions:,.0f} instructions/request ({base / instructions:.1%})")


if __name__ == "__main__":
    main()
