"""Overload: goodput, latency and liveness probes when more arrives than the app can serve.

Two parts, run by hand (``python -m benchmarks.overload``), loopback only,
bounded in time (about five minutes):

1. **Shedding.** ``benchmarks.overload_apps:capacity_app`` has a fixed
   capacity (2 slots of 20 ms awaited work plus 0.5 ms CPU). Its capacity is
   measured closed-loop first; then an open-loop generator (its own process:
   requests leave on schedule whether or not earlier ones were answered, and
   latency counts from the scheduled time, so a late generator cannot hide
   queueing) offers 1x, 2x and 4x that rate, with protection off, fixed and
   adaptive (gradient, AIMD). Each server first sees a light phase (0.25x) that
   gives the unloaded latency. A thread of this process probes
   ``/actuator/health/liveness`` every 50 ms meanwhile.

2. **Probe placement.** wrk holds 512 connections to the Starlette benchmark
   app while liveness is probed on the app's port, on a management port on
   the app's loop, and on a management port on its own thread.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from benchmarks._harness import Connection, cpu_seconds, machine, percentile, serve
from tests.support.server import free_port

PHASE_SECONDS = 8.0
PROBE_INTERVAL = 0.05
PROBE_TIMEOUT = 5.0
MODES = ("off", "fixed", "gradient", "aimd")
LOADS = (1, 2, 4)


# -- the open-loop generator (run in its own process) ---------------------------------------


async def _generate(
    port: int, rate: float, seconds: float, path: str, timeout: float
) -> dict[str, Any]:
    idle: list[Connection] = []
    statuses: dict[str, int] = {}
    served: list[float] = []
    lost = 0

    async def one(due: float) -> None:
        nonlocal lost
        connection: Connection | None = None
        try:
            connection = idle.pop() if idle else await Connection.open(port)
            connection.send(path)
            reply = await asyncio.wait_for(connection.receive(due), timeout)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            lost += 1
            if connection is not None:
                connection.writer.close()
            return
        idle.append(connection)
        statuses[str(reply.status)] = statuses.get(str(reply.status), 0) + 1
        if reply.status == 200:
            served.append(reply.seconds)

    tasks = []
    count = int(rate * seconds)
    start = time.perf_counter() + 0.05
    late = 0.0
    for i in range(count):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            late = max(late, -delay)
            if i % 20 == 0:
                await asyncio.sleep(0)
        tasks.append(asyncio.ensure_future(one(due)))
    await asyncio.gather(*tasks)
    for connection in idle:
        connection.writer.close()
    served.sort()
    return {
        "rate": rate,
        "seconds": seconds,
        "sent": count,
        "statuses": statuses,
        "lost": lost,
        "served": len(served),
        "generator_late_max": late,
        "p50": percentile(served, 50) if served else None,
        "p99": percentile(served, 99) if served else None,
    }


def _generator_main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--path", default="/work")
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    result = asyncio.run(_generate(args.port, args.rate, args.seconds, args.path, args.timeout))
    sys.stdout.write(json.dumps(result) + "\n")


def open_loop(port: int, rate: float, seconds: float) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.overload",
            "generate",
            "--port",
            str(port),
            "--rate",
            str(rate),
            "--seconds",
            str(seconds),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


# -- closed-loop capacity ---------------------------------------------------------------


async def _closed_loop(port: int, connections: int, seconds: float) -> float:
    served = 0
    ends = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal served
        connection = await Connection.open(port)
        while time.perf_counter() < ends:
            reply = await connection.get("/work")
            served += reply.status == 200
        await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return served / (time.perf_counter() - started)


# -- liveness prober (a thread, blocking sockets) -----------------------------------------


@dataclass
class Probes:
    latencies: list[float] = field(default_factory=list)
    lost: int = 0
    failed: int = 0

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        return {
            "probes": len(ordered) + self.lost,
            "lost": self.lost,
            "failed": self.failed,
            "p50": percentile(ordered, 50) if ordered else None,
            "p99": percentile(ordered, 99) if ordered else None,
            "max": ordered[-1] if ordered else None,
        }


@contextmanager
def probing(port: int, path: str = "/actuator/health/liveness") -> Iterator[Probes]:
    probes = Probes()
    stop = threading.Event()

    def run() -> None:
        connection: http.client.HTTPConnection | None = None
        while not stop.is_set():
            started = time.perf_counter()
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(
                        "127.0.0.1", port, timeout=PROBE_TIMEOUT
                    )
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                probes.latencies.append(time.perf_counter() - started)
                probes.failed += response.status != 200
            except OSError:
                probes.lost += 1
                if connection is not None:
                    connection.close()
                connection = None
            stop.wait(max(0.0, PROBE_INTERVAL - (time.perf_counter() - started)))
        if connection is not None:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield probes
    finally:
        stop.set()
        thread.join()


# -- the two parts ----------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def shedding(modes: Sequence[str], seconds: float, app_env: dict[str, str]) -> list[dict[str, Any]]:
    with serve(
        "benchmarks.overload_apps:capacity_app",
        env={**app_env, "OVERLOAD": "off"},
        args=("--factory", "--no-access-log"),
    ) as server:
        asyncio.run(_closed_loop(server.port, 4, 1.0))  # warm up
        capacity = asyncio.run(_closed_loop(server.port, 8, 4.0))  # type: ignore[arg-type]
    print(f"capacity (closed loop, 8 connections): {capacity:.0f} req/s", flush=True)
    rows: list[dict[str, Any]] = []
    for mode in modes:
        with serve(
            "benchmarks.overload_apps:capacity_app",
            env={**app_env, "OVERLOAD": mode},
            args=("--factory", "--no-access-log"),
        ) as server:
            port = server.port
            assert port is not None
            assert server.process is not None
            unloaded = open_loop(port, capacity * 0.25, 4.0)
            for multiple in LOADS:
                time.sleep(1.0)
                cpu_before = cpu_seconds(server.process.pid)
                with probing(port) as probes:
                    result = open_loop(port, capacity * multiple, seconds)
                cpu = cpu_seconds(server.process.pid) - cpu_before
                answered = sum(result["statuses"].values())
                row = {
                    "mode": mode,
                    "load": multiple,
                    "capacity": capacity,
                    "goodput": result["served"] / seconds,
                    "goodput_share": result["served"] / seconds / capacity,
                    "p50": result["p50"],
                    "p99": result["p99"],
                    "unloaded_p99": unloaded["p99"],
                    "refused_share": result["statuses"].get("429", 0) / max(1, result["sent"]),
                    "lost": result["lost"],
                    "answered": answered,
                    "cpu_ms_per_request": cpu * 1000 / max(1, answered),
                    "generator_late_max": result["generator_late_max"],
                    "liveness": probes.summary(),
                }
                rows.append(row)
                live = row["liveness"]
                print(
                    f"{mode:8} {multiple}x  goodput {row['goodput']:6.0f}/s "
                    f"({row['goodput_share']:5.1%})  p50 {_ms(row['p50']):>7} ms  "
                    f"p99 {_ms(row['p99']):>7} ms (unloaded {_ms(row['unloaded_p99'])})  "
                    f"refused {row['refused_share']:5.1%}  lost {row['lost']}  "
                    f"liveness p50 {_ms(live['p50'])} p99 {_ms(live['p99'])} ms "
                    f"lost {live['lost']}/{live['probes']}  "
                    f"cpu {row['cpu_ms_per_request']:.2f} ms/req  "
                    f"generator late {_ms(row['generator_late_max'])} ms",
                    flush=True,
                )
    return rows


def probe_placement(seconds: float, connections: int = 512) -> list[dict[str, Any]]:
    rows = []
    for placement in ("none", "loop", "thread"):
        management_port = free_port()
        env = {"MANAGEMENT": placement, "MANAGEMENT_PORT": str(management_port)}
        with serve(
            "benchmarks.overload_apps:probe_app", env=env, args=("--factory", "--no-access-log")
        ) as server:
            probe_port = server.port if placement == "none" else management_port
            assert probe_port is not None
            time.sleep(0.5)
            with probing(probe_port) as probes:
                out = subprocess.run(
                    [
                        "wrk",
                        "-t1",
                        f"-c{connections}",
                        f"-d{round(seconds)}s",
                        f"http://127.0.0.1:{server.port}/items/1",
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
        rate = float(out.split("Requests/sec:")[1].split()[0])
        row = {"placement": placement, "wrk_rate": rate, "liveness": probes.summary()}
        rows.append(row)
        live = row["liveness"]
        print(
            f"probes on {placement:6}  wrk {rate:6.0f} req/s  liveness p50 {_ms(live['p50'])} "
            f"p99 {_ms(live['p99'])} max {_ms(live['max'])} ms  "
            f"lost {live['lost']}/{live['probes']}",
            flush=True,
        )
    return rows


def main(argv: Sequence[str]) -> None:
    if argv and argv[0] == "generate":
        _generator_main(argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=PHASE_SECONDS)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--part", choices=("all", "shedding", "probes"), default="all")
    parser.add_argument("--slots", type=int, default=2, help="the app's pool size")
    parser.add_argument(
        "--work-ms", type=float, default=20.0, help="awaited milliseconds each request holds a slot"
    )
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args(argv)
    print(
        f"{machine()}; {os.cpu_count()} cores; "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        flush=True,
    )
    results: dict[str, Any] = {}
    if args.part in ("all", "shedding"):
        app_env = {"SLOTS": str(args.slots), "WORK_MS": str(args.work_ms)}
        print(
            f"app: {args.slots} slots of {args.work_ms:g} ms awaited work + 0.5 ms CPU", flush=True
        )
        results["shedding"] = shedding(args.modes.split(","), args.seconds, app_env)
    if args.part in ("all", "probes"):
        results["probes"] = probe_placement(args.seconds)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=2)


if __name__ == "__main__":
    main(sys.argv[1:])
