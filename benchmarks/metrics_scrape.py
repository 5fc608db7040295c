"""Issue 10 benchmark: what a scrape of ``/actuator/prometheus`` costs, and what it does to
the app's requests served meanwhile.

1. Render time, in-process: an actuator that has recorded ``--series`` sample
   lines of its HTTP histogram (one series per route, 18 lines each), scraped
   through the endpoint (ASGI call: health refresh, the render thread, the
   answer), against prometheus-client's ``generate_latest`` over the same
   registry, in the same run. Text 0.0.4 and OpenMetrics 1.0.
2. The event loop while scraping: a real uvicorn (one worker) whose actuator
   holds about 10,000 sample lines, loaded by ``wrk --latency``; once with a
   scrape every second from another process, once without, rounds
   interleaved. The render runs in a thread: every GIL hand-off from it
   delays the loop, so the p99 of app requests is the figure to watch.

::

    python -m benchmarks.metrics_scrape
    python -m benchmarks.metrics_scrape --series 10000 100000 --skip-load
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from starlette.applications import Starlette
from starlette.routing import Route

from actuator import Actuator
from benchmarks import metrics_apps
from benchmarks._harness import machine
from tests.support.server import UvicornProcess

LINES_PER_SERIES = 18  # 15 buckets, count, sum, created
FORMATS = (
    ("text 0.0.4", "*/*", generate_latest),
    ("OpenMetrics 1.0", "application/openmetrics-text; version=1.0.0", openmetrics_latest),
)


# -- 1. render time -------------------------------------------------------------------


async def render_times(lines: int, repeats: int) -> list[list[str]]:
    routes = lines // LINES_PER_SERIES + 1
    actuator = Actuator(
        settings={
            "exposure": {"include": ["prometheus"]},
            "security": {"anonymous": ["prometheus"]},
            "health": {"event_loop": {"enabled": False}},
            "metrics": {"max_uri_tags": routes + 10},
        }
    )
    app = actuator.wrap(
        Starlette(routes=[Route(f"/r{i}/{{item_id}}", metrics_apps.item) for i in range(routes)])
    )
    registry = actuator.metrics.scrape_registry
    rows = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        for i in range(routes):
            await http.get(f"/r{i}/1")
        for label, accept, reference in FORMATS:
            headers = {"accept": accept, "accept-encoding": "identity"}
            body = (await http.get("/actuator/prometheus", headers=headers)).text
            samples = sum(1 for line in body.splitlines() if line and not line.startswith("#"))
            ours: list[float] = []
            theirs: list[float] = []
            for _ in range(repeats):  # interleaved, so drift hits both alike
                started = time.perf_counter()
                await http.get("/actuator/prometheus", headers=headers)
                ours.append(time.perf_counter() - started)
                started = time.perf_counter()
                reference(registry)
                theirs.append(time.perf_counter() - started)
            mine, reference_ms = statistics.median(ours) * 1e3, statistics.median(theirs) * 1e3
            rows.append(
                [
                    label,
                    f"{samples:,}",
                    f"{mine:.1f}",
                    f"{reference_ms:.1f}",
                    f"{mine / reference_ms:.0%}",
                ]
            )
    return rows


# -- 2. app latency while scraping ----------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk_latency(url: str, seconds: int) -> tuple[float, float, float]:
    """Requests/s, p50 and p99 in ms, from ``wrk --latency``."""
    out = subprocess.run(
        ["wrk", "-t1", "-c32", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def quantile(q: str) -> float:
        match = re.search(rf"^\s+{q}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if match is None:
            raise RuntimeError(f"no {q}% in wrk output:\n{out}")
        return float(match.group(1)) * _UNITS[match.group(2)]

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rate is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    return float(rate.group(1)), quantile("50"), quantile("99")


def scrape_every_second(url: str, stop: threading.Event, took: list[float]) -> None:
    with httpx.Client(timeout=10) as http:
        while not stop.is_set():
            started = time.perf_counter()
            reply = http.get(url, headers={"accept-encoding": "identity"})
            reply.raise_for_status()
            took.append(time.perf_counter() - started)
            stop.wait(max(0.0, 1.0 - (time.perf_counter() - started)))


def latency_under_scrapes(seconds: int, rounds: int) -> list[list[str]]:
    with UvicornProcess(
        "benchmarks.metrics_apps:starlette_series_actuator",
        args=["--factory", "--no-access-log", "--workers", "1"],
    ) as server:
        with httpx.Client(base_url=server.url) as http:
            for i in range(metrics_apps.SERIES_ROUTES):
                http.get(f"/r{i}/1").raise_for_status()
            body = http.get("/actuator/prometheus").text
        samples = sum(1 for line in body.splitlines() if line and not line.startswith("#"))
        results: dict[bool, list[tuple[float, float, float]]] = {False: [], True: []}
        scrapes: list[float] = []
        for round_number in range(rounds):
            for scraping in (False, True) if round_number % 2 == 0 else (True, False):
                stop = threading.Event()
                scraper = threading.Thread(
                    target=scrape_every_second,
                    args=(server.url + "/actuator/prometheus", stop, scrapes),
                )
                if scraping:
                    scraper.start()
                try:
                    results[scraping].append(wrk_latency(server.url + "/r0/1", seconds))
                finally:
                    stop.set()
                    if scraping:
                        scraper.join()
    rows = []
    for scraping, runs in results.items():
        label = f"a scrape of {samples:,} lines every second" if scraping else "no scrape"
        rows.append(
            [
                label,
                f"{statistics.median(r[0] for r in runs):,.0f}",
                f"{statistics.median(r[1] for r in runs):.2f}",
                f"{statistics.median(r[2] for r in runs):.2f}",
            ]
        )
    rows.append(
        [
            f"(scrape answered in, median of {len(scrapes)})",
            "",
            f"{statistics.median(scrapes) * 1e3:.1f}",
            f"{max(scrapes) * 1e3:.1f} (max)",
        ]
    )
    return rows


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--series",
        type=int,
        nargs="+",
        default=[10_000, 100_000],
        help="sample lines of the HTTP histogram to render",
    )
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-load", action="store_true", help="render times only")
    args = parser.parse_args(argv)
    print(f"Scrape benchmark: {machine()}\n")
    rows: list[Any] = []
    for lines in args.series:
        rows += asyncio.run(render_times(lines, args.repeats if lines <= 20_000 else 3))
    print("Render, in-process, median (ours: the whole /actuator/prometheus answer):\n")
    print(
        table(
            [
                "format",
                "sample lines",
                "/actuator/prometheus ms",
                "generate_latest ms",
                "ours / theirs",
            ],
            rows,
        )
        + "\n"
    )
    if not args.skip_load:
        print(
            f"App requests under wrk -c32 while scraping, median of {args.rounds} "
            f"interleaved rounds of {args.duration}s:\n"
        )
        print(
            table(
                ["", "requests/s", "p50 ms", "p99 ms"],
                latency_under_scrapes(args.duration, args.rounds),
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
