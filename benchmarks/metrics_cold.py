"""Per-request time in-process with hot caches, and with the caches evicted between requests.

A server interleaves many connections' requests with its own and the kernel's
work, so each request finds little of its data in the CPU caches; a loop of
the same request finds all of it. This shows how much that alone changes the
cost of a request: each app is called as an ASGI callable, once in a tight
loop, once after reading ``--evict-mb`` MiB of other memory before every call
(only the call is timed). Medians, best of 5 interleaved rounds.

    python -m benchmarks.metrics_cold
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import zlib
from typing import Any

from benchmarks import metrics_apps
from benchmarks._harness import ITEM_SCOPE, machine

APPS = ["starlette_bare", "starlette_actuator", "starlette_actuator_off"]


async def timed(app: Any, requests: int, evict: bytes | None) -> float:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    took = []
    for _ in range(requests):
        if evict is not None:
            zlib.crc32(evict)  # reads every byte: other data takes the caches
        scope = dict(ITEM_SCOPE)
        started = time.perf_counter()
        await app(scope, receive, send)
        took.append(time.perf_counter() - started)
    return statistics.median(took) * 1e6


async def measure(evict_mb: int) -> None:
    evict = os.urandom(evict_mb * 2**20)
    apps = {name: getattr(metrics_apps, name)() for name in APPS}
    for app in apps.values():
        await timed(app, 300, None)
    results: dict[tuple[str, bool], list[float]] = {(n, c): [] for n in APPS for c in (False, True)}
    for _ in range(5):
        for name, app in apps.items():
            results[name, False].append(await timed(app, 2_000, None))
            results[name, True].append(await timed(app, 400, evict))
    print("| app | hot µs/request | caches evicted µs/request |\n|---|---|---|")
    for name in APPS:
        print(f"| {name} | {min(results[name, False]):.1f} | {min(results[name, True]):.1f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--evict-mb", type=int, default=4)
    args = parser.parse_args(argv)
    # In-process actuators never see a lifespan: no heartbeat thread to outlive the loop.
    os.environ["ACTUATOR_HEALTH__EVENT_LOOP__ENABLED"] = "false"
    print(f"Hot and cold caches: {machine()}\n")
    asyncio.run(measure(args.evict_mb))
    return 0


if __name__ == "__main__":
    sys.exit(main())
