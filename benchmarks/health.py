"""Issue 2 benchmarks: asgi-actuator's health endpoint beside pyctuator's, in one run.

    .venv/bin/python -m benchmarks.health            # needs: pip install -e '.[bench]', wrk

Prints a markdown table. Each case runs its own uvicorn (one worker) on
loopback; peers run the same scenario with the same server settings.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
from typing import Any

from benchmarks._harness import (
    Connection,
    Load,
    load,
    machine,
    median,
    percentile,
    rss_bytes,
    serve,
    wrk,
)

ACTUATOR = "benchmarks.health_apps:actuator_app"
PYCTUATOR = "benchmarks.health_apps:pyctuator_app"
BARE = "benchmarks.health_apps:bare_app"
PATHS = {ACTUATOR: "/actuator/health", PYCTUATOR: "/pyctuator/health"}
READINESS = {ACTUATOR: "/actuator/health/readiness", PYCTUATOR: "/pyctuator/health"}


async def _latencies(port: int, path: str, count: int, timeout: float) -> list[float]:
    connection = await Connection.open(port)
    try:
        await asyncio.wait_for(connection.get(path), timeout)  # warm up
        seconds = []
        for _ in range(count):
            reply = await asyncio.wait_for(connection.get(path), timeout)
            seconds.append(reply.seconds)
        return seconds
    finally:
        await connection.close()


def health_latency(app: str, count: int) -> dict[str, float]:
    with serve(app, {"BENCH_SCENARIO": "twenty"}) as server:
        seconds = asyncio.run(_latencies(server.port or 0, PATHS[app], count, 30))
    return {"p50": percentile(seconds, 50), "p95": percentile(seconds, 95), "max": max(seconds)}


async def _one(port: int, path: str, timeout: float) -> tuple[float | None, bytes]:
    connection = await Connection.open(port)
    try:
        reply = await asyncio.wait_for(connection.get(path), timeout)
        return reply.seconds, reply.body
    except asyncio.TimeoutError:
        return None, b""
    finally:
        await connection.close()


def hung_indicator(app: str, timeout: float) -> tuple[float | None, bytes]:
    with serve(app, {"BENCH_SCENARIO": "hung"}) as server:
        asyncio.run(_one(server.port or 0, "/items/1", 10))  # the server is up
        return asyncio.run(_one(server.port or 0, PATHS[app], timeout))


async def _burst(port: int, path: str, clients: int, timeout: float) -> list[float | None]:
    connections = await asyncio.gather(*(Connection.open(port) for _ in range(clients)))
    try:
        # Open every connection first so the burst measures the server, not connects.
        await asyncio.gather(*(c.get("/items/0") for c in connections))
        started = [c.send(path) for c in connections]

        async def answer(connection: Connection, at: float) -> float | None:
            try:
                return (await asyncio.wait_for(connection.receive(at), timeout)).seconds
            except asyncio.TimeoutError:
                return None

        pairs = zip(connections, started, strict=True)
        return await asyncio.gather(*(answer(c, t) for c, t in pairs))
    finally:
        await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)


async def _runs(port: int) -> int:
    connection = await Connection.open(port)
    try:
        return int(json.loads((await connection.get("/bench/runs")).body)["count"])
    finally:
        await connection.close()


def single_flight(app: str, clients: int) -> dict[str, Any]:
    with serve(app, {"BENCH_SCENARIO": "singleflight"}) as server:
        port = server.port or 0
        seconds = asyncio.run(_burst(port, READINESS[app], clients, 30))
        runs = asyncio.run(_runs(port))
    answered = [s for s in seconds if s is not None]
    return {
        "runs": runs,
        "answered": len(answered),
        "max": max(answered, default=float("nan")),
        "p50": percentile(answered, 50) if answered else float("nan"),
    }


def passthrough(seconds: float, rounds: int) -> dict[str, tuple[float, float]]:
    """Median requests/s and median server CPU seconds per request, per app."""
    runs: dict[str, list[Load]] = {BARE: [], ACTUATOR: [], PYCTUATOR: []}
    env = {"BENCH_SCENARIO": "passthrough", "ACTUATOR_METRICS__ENABLED": "false"}
    for _ in range(rounds):  # interleave so drift hits every app alike
        for app in runs:
            with serve(app, env) as server:
                load(server.url + "/items/1", seconds=1)  # warm up
                pid = server.process.pid if server.process is not None else None
                runs[app].append(load(server.url + "/items/1", seconds=seconds, pid=pid))
    return {
        app: (median([r.rate for r in values]), median([r.cpu_per_request for r in values]))
        for app, values in runs.items()
    }


def memory(app: str, requests: int) -> tuple[int, int, int]:
    """RSS after a warm-up and after at least ``requests`` more health requests."""
    with serve(app, {"BENCH_SCENARIO": "passthrough"}) as server:
        url = server.url + PATHS[app]
        pid = server.process.pid if server.process is not None else 0
        wrk(url, seconds=2)  # warm up
        before = rss_bytes(pid)
        served = 0
        while served < requests:
            served += load(url, seconds=10).requests
        after = rss_bytes(pid)
    return before, after, served


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args()
    quick = args.quick

    def ms(seconds: float | None) -> str:
        return "no answer" if seconds is None else f"{seconds * 1000:.0f} ms"

    print(f"Machine: {machine()}; {datetime.date.today().isoformat()}\n")
    print(_row("case", "asgi-actuator", "pyctuator", "goal"))
    print(_row("---", "---", "---", "---"))

    ours = health_latency(ACTUATOR, 10 if quick else 100)
    theirs = health_latency(PYCTUATOR, 5 if quick else 20)
    print(
        _row(
            "/health, 20 indicators x 50 ms: p50",
            ms(ours["p50"]),
            ms(theirs["p50"]),
            "p50 <= 70 ms",
        )
    )
    print(_row("/health, 20 indicators x 50 ms: p95", ms(ours["p95"]), ms(theirs["p95"]), ""))

    ours_hung, body = hung_indicator(ACTUATOR, 5)
    theirs_hung, _ = hung_indicator(PYCTUATOR, 5)
    status = json.loads(body)["status"] if body else "-"
    print(
        _row(
            "/health, one indicator never returns (timeout 0.5 s)",
            f"{ms(ours_hung)}, {status}",
            ms(theirs_hung) + (" in 5 s" if theirs_hung is None else ""),
            "<= 600 ms, DOWN",
        )
    )

    clients = 100 if quick else 500
    ours_sf, theirs_sf = single_flight(ACTUATOR, clients), single_flight(PYCTUATOR, clients)
    print(
        _row(
            f"{clients} concurrent readiness requests, 100 ms indicator: runs",
            ours_sf["runs"],
            theirs_sf["runs"],
            "<= 2",
        )
    )
    print(
        _row(
            f"{clients} concurrent readiness requests: slowest answer",
            ms(ours_sf["max"]) + f" ({ours_sf['answered']}/{clients} answered)",
            ms(theirs_sf["max"]) + f" ({theirs_sf['answered']}/{clients} answered)",
            "<= 500 ms, all answered",
        )
    )

    measured = passthrough(2 if quick else 6, 1 if quick else 5)
    bare_rate, bare_cpu = measured[BARE]

    def versus_bare(app: str) -> str:
        rate, cpu = measured[app]
        return f"{rate:.0f}/s: {rate / bare_rate:.1%} (by CPU: {bare_cpu / cpu:.1%})"

    print(
        _row(
            "app requests through the middleware (HTTP metrics off), vs bare app",
            versus_bare(ACTUATOR),
            versus_bare(PYCTUATOR),
            f">= 97% of bare ({bare_rate:.0f}/s)",
        )
    )

    for app, name in ((ACTUATOR, "asgi-actuator"), (PYCTUATOR, "pyctuator")):
        before, after, total = memory(app, 10_000 if quick else 100_000)
        print(
            _row(
                f"RSS over {total:,.0f} /health requests ({name})",
                f"{before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB",
                "",
                "flat",
            )
        )


if __name__ == "__main__":
    main()
