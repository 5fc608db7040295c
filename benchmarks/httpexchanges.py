"""What recording ``/actuator/httpexchanges`` costs per request, in-process.

The same Starlette app called directly as an ASGI callable (no server, no
network), in interleaved rounds, best round kept: bare; with the actuator
(metrics on, httpexchanges not exposed: nothing recorded); with httpexchanges
exposed (every request recorded), with the default ``include`` and with every
header included (recording cost is the same: headers are formatted only when
read). Prints microseconds per request (wall and process CPU) and the extra
over the actuator without recording.

::

    python benchmarks/httpexchanges.py            # about a minute
    python benchmarks/httpexchanges.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from actuator import Actuator, ActuatorMiddleware  # noqa: E402
from benchmarks._harness import ITEM_SCOPE, machine  # noqa: E402
from benchmarks.metrics_apps import EXPOSED, _starlette  # noqa: E402

ALL_HEADERS = ["time_taken", "principal", "remote_address", "request_headers", "response_headers"]


def app_with(exposure: list[str] | None, include: list[str] | None = None) -> Any:
    app = _starlette()
    if exposure is None:
        return app
    settings: dict[str, Any] = {
        **EXPOSED,
        "exposure": {"include": exposure},
        "health": {"event_loop": {"enabled": False}},
    }
    if include is not None:
        settings["httpexchanges"] = {"include": include}
    app.add_middleware(ActuatorMiddleware, actuator=Actuator(name="bench", settings=settings))
    return app


APPS = {
    "bare": lambda: app_with(None),
    "actuator, httpexchanges off": lambda: app_with(["health", "prometheus"]),
    "actuator, httpexchanges on": lambda: app_with(["health", "prometheus", "httpexchanges"]),
    "actuator, httpexchanges on, all headers": lambda: app_with(
        ["health", "prometheus", "httpexchanges"], ALL_HEADERS
    ),
}


async def per_request(app: Any, requests: int) -> tuple[float, float]:
    """(wall, CPU) microseconds per request."""
    scope = {**ITEM_SCOPE, "headers": [(b"host", b"bench"), (b"accept", b"*/*")]}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(requests):
        await app(dict(scope), receive, send)
    return (
        (time.perf_counter() - wall) / requests * 1e6,
        (time.process_time() - cpu) / requests * 1e6,
    )


async def main(requests: int, rounds: int) -> None:
    apps = {name: make() for name, make in APPS.items()}
    for app in apps.values():
        await per_request(app, 500)  # warm up, and start the actuators
    best: dict[str, tuple[float, float]] = {}
    for _ in range(rounds):
        for name, app in apps.items():
            wall, cpu = await per_request(app, requests)
            old = best.get(name)
            best[name] = (min(old[0], wall), min(old[1], cpu)) if old else (wall, cpu)
    print(machine())
    print(f"\n{requests} requests x {rounds} interleaved rounds, best round\n")
    print("| App | µs/request (wall) | µs/request (CPU) | extra over httpexchanges off (CPU) |")
    print("|---|---|---|---|")
    base = best["actuator, httpexchanges off"][1]
    for name, (wall, cpu) in best.items():
        extra = f"{cpu - base:+.2f} µs" if name.startswith("actuator") else ""
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {extra} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(2_000 if args.quick else 20_000, 3 if args.quick else 7))
