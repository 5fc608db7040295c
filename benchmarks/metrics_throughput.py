"""Issue 3 benchmark: what HTTP server metrics cost, side by side with the usual alternatives.

Two measurements, printed as markdown tables:

1. Throughput: each app under uvicorn (one worker) on loopback, loaded by
   ``wrk`` (Debian: ``apt-get install wrk``); bare Starlette vs starlette-exporter
   vs the actuator, bare FastAPI vs prometheus-fastapi-instrumentator vs the
   actuator. Rounds are interleaved so drift on the machine hits every app alike;
   the best round counts. Goal: the actuator keeps >= 90% of the bare app.
2. Per-request overhead in microseconds, in-process (no network, no server):
   the app called directly as an ASGI callable, minus the same bare app.

Scrapes are measured by ``benchmarks/metrics_scrape.py``, memory by
``benchmarks/metrics_memory.py``.

::

    pip install -e '.[dev,bench]'
    python benchmarks/metrics_throughput.py             # full run: use a quiet machine
    python benchmarks/metrics_throughput.py --quick     # smoke run, a few seconds per case
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import importlib.util
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import metrics_apps  # noqa: E402
from benchmarks._harness import ITEM_SCOPE, Load, load, pinned  # noqa: E402
from tests.support.server import UvicornProcess  # noqa: E402

PAIRS = [
    ("starlette_bare", ["starlette_exporter", "starlette_actuator", "starlette_actuator_off"]),
    ("fastapi_bare", ["fastapi_instrumentator", "fastapi_actuator", "fastapi_actuator_off"]),
]
LABELS = {
    "starlette_bare": "Starlette, bare",
    "starlette_exporter": "Starlette + starlette-exporter",
    "starlette_actuator": "Starlette + actuator (metrics on)",
    "starlette_actuator_off": "Starlette + actuator (metrics off)",
    "fastapi_bare": "FastAPI, bare",
    "fastapi_instrumentator": "FastAPI + prometheus-fastapi-instrumentator",
    "fastapi_actuator": "FastAPI + actuator (metrics on)",
    "fastapi_actuator_off": "FastAPI + actuator (metrics off)",
}


# -- 1. throughput under wrk ----------------------------------------------------------


def throughput(
    names: list[str], seconds: float, rounds: int, connections: int
) -> dict[str, tuple[float, float]]:
    """Best requests/s and best server CPU seconds per request, per app.

    Each server runs pinned to CPU 0 and wrk to CPU 1 (on a machine with two
    or more), as in issue 10: the server's work is what is measured, not its
    fight with the load generator for a core.
    """
    servers = {
        name: UvicornProcess(
            f"benchmarks.metrics_apps:{name}",
            command=pinned(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    f"benchmarks.metrics_apps:{name}",
                    "--factory",
                    "--no-access-log",
                    "--workers",
                    "1",
                    "--loop",
                    "uvloop",
                    "--http",
                    "httptools",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                ],
                0,
            ),
            startup_timeout=120,
        )
        for name in names
    }
    try:
        for server in servers.values():
            server.start()
        for server in servers.values():  # warm up
            load(server.url + "/items/1", seconds=1, connections=connections, cpu=1)
        results: dict[str, list[Load]] = {name: [] for name in names}
        for round_number in range(rounds):
            order = names if round_number % 2 == 0 else list(reversed(names))
            for name in order:
                server = servers[name]
                pid = server.process.pid if server.process is not None else None
                results[name].append(
                    load(
                        server.url + "/items/1",
                        seconds=seconds,
                        connections=connections,
                        pid=pid,
                        cpu=1,
                    )
                )
        return {
            name: (max(r.rate for r in runs), min(r.cpu_per_request for r in runs))
            for name, runs in results.items()
        }
    finally:
        for server in servers.values():
            server.stop()


# -- 2. in-process overhead -----------------------------------------------------------


async def per_request_us(app: Any, requests: int) -> float:
    scope = dict(ITEM_SCOPE)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    started = time.perf_counter()
    for _ in range(requests):
        await app(dict(scope), receive, send)
    return (time.perf_counter() - started) / requests * 1e6


async def overhead(names: list[str], requests: int, rounds: int) -> dict[str, float]:
    apps = {name: getattr(metrics_apps, name)() for name in names}
    for app in apps.values():
        await per_request_us(app, 500)  # warm up, and start the actuators
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, app in apps.items():
            took = await per_request_us(app, requests)
            best[name] = min(best.get(name, took), took)
    return best


# -- report ---------------------------------------------------------------------------


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def environment() -> str:
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}"
        for name in ("starlette", "fastapi", "prometheus-client")
    )
    return (
        f"Python {platform.python_version()}, uvicorn {importlib.metadata.version('uvicorn')} "
        f"({loop}, {http}), {versions}, {platform.machine()}, {os.cpu_count()} CPUs"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 s per case, 1 round")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per app")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--skip-wrk", action="store_true", help="in-process measurements only")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.rounds = 2.0, 1
    requests = 2_000 if args.quick else 20_000
    names = [name for bare, others in PAIRS for name in (bare, *others)]

    print(f"Metrics benchmark: {environment()}\n")
    if not args.skip_wrk:
        if shutil.which("wrk") is None:
            print("wrk is not installed (apt-get install wrk); use --skip-wrk", file=sys.stderr)
            return 2
        measured = throughput(names, args.duration, args.rounds, args.connections)
        rows = []
        for bare, others in PAIRS:
            rate, cpu = measured[bare]
            rows.append([LABELS[bare], f"{rate:,.0f}", "100%", f"{cpu * 1e6:.0f}", "100%"])
            for name in others:
                other_rate, other_cpu = measured[name]
                rows.append(
                    [
                        LABELS[name],
                        f"{other_rate:,.0f}",
                        f"{other_rate / rate:.0%}",
                        f"{other_cpu * 1e6:.0f}",
                        f"{cpu / other_cpu:.0%}",
                    ]
                )
        print(
            f"Throughput, uvicorn 1 worker, wrk -t1 -c{args.connections} "
            f"-d{args.duration:g}s, server on CPU 0 and wrk on CPU 1, "
            f"best of {args.rounds} interleaved rounds:\n"
        )
        print(
            table(
                ["app", "requests/s", "of bare", "server CPU µs/request", "of bare (by CPU)"], rows
            )
            + "\n"
        )

    # In-process actuators start without a lifespan and are never shut down: no
    # heartbeat watchdog thread to outlive its event loop.
    os.environ["ACTUATOR_HEALTH__EVENT_LOOP__ENABLED"] = "false"
    took = asyncio.run(overhead(names, requests, rounds=7))
    rows = []
    for bare, others in PAIRS:
        rows.append([LABELS[bare], f"{took[bare]:.1f}", "-"])
        rows += [
            [LABELS[name], f"{took[name]:.1f}", f"{took[name] - took[bare]:+.1f}"]
            for name in others
        ]
    print(f"Per request in-process (ASGI call, no server), best of 7 x {requests:,} requests:\n")
    print(table(["app", "µs/request", "overhead µs"], rows) + "\n")

    return 0


if __name__ == "__main__":
    sys.exit(main())
