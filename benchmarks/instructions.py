"""CPU instructions per request, counted by valgrind's callgrind: the steady measure.

Wall-clock throughput on a shared 2-core machine swings by 30% between runs;
an instruction count does not move with the neighbours. Each app is driven
in-process (an ASGI call per request, the loop yielding between requests, as
under a server) once with ``SMALL`` and once with ``LARGE`` requests; the
difference divided by ``LARGE - SMALL`` is the cost of one request, start-up
and imports cancelled out.

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
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks._harness import ROOT

SMALL, LARGE = 200, 1200
_COLLECTED = re.compile(r"Collected : (\d+)")

SCOPE: dict[str, Any] = {
    "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
    "method": "GET", "scheme": "http", "path": "/items/1", "raw_path": b"/items/1",
    "root_path": "", "query_string": b"", "headers": [(b"host", b"bench")],
    "server": ("bench", 80), "client": ("127.0.0.1", 1),
}


async def drive(app: Any, requests: int) -> None:
    """Start ``app``'s lifespan, send ``requests`` GETs, stop it."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    lifespan = asyncio.ensure_future(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, outbox.put))
    await outbox.get()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    for _ in range(requests):
        await app(dict(SCOPE), receive, send)
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
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           # The heartbeat is time-driven: under valgrind's 50x slow-down it would
           # beat 50 times as often per request as it really does.
           "ACTUATOR_HEALTH__EVENT_LOOP__ENABLED": "false"}
    result = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, "-m", "benchmarks.instructions", "--drive", target, str(requests)],
        capture_output=True, text=True, env=env, check=True, cwd=ROOT,
    )
    match = _COLLECTED.search(result.stderr)
    if match is None:
        raise RuntimeError(f"no callgrind total in:\n{result.stderr[-2000:]}")
    return int(match.group(1))


def per_request(targets: Sequence[str]) -> dict[str, float]:
    """Instructions per request for each target, two counts running at a time."""
    jobs = [(target, n) for target in targets for n in (SMALL, LARGE)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        totals = dict(zip(jobs, pool.map(lambda job: count(*job), jobs), strict=True))
    return {t: (totals[t, LARGE] - totals[t, SMALL]) / (LARGE - SMALL) for t in targets}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", help="module:app or module:factory")
    parser.add_argument("--drive", nargs=2, metavar=("TARGET", "REQUESTS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.drive:
        asyncio.run(drive(load_app(args.drive[0]), int(args.drive[1])))
        return
    results = per_request(args.targets)
    base = results[args.targets[0]]
    for target, instructions in results.items():
        print(f"{target}: {instructions:,.0f} instructions/request ({base / instructions:.1%})")


if __name__ == "__main__":
    main()
