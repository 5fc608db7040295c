"""Where the instructions of an instrumented request go: each part alone, counted by callgrind.

Each part runs ``SMALL`` and then ``LARGE`` times in its own process under
callgrind; the difference over ``LARGE - SMALL`` is one run of the part,
start-up and imports cancelled out. The parts are driven without an event
loop (a coroutine stepped by hand), so only their own work is counted.

    python -m benchmarks.metrics_parts            # every part
    python -m benchmarks.metrics_parts observe_ours template
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks._harness import ROOT

SMALL, LARGE = 2_000, 12_000
BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0]
LABELS = ("GET", "/items/{item_id}", "200", "SUCCESS", "none")


def _step(coroutine: Any) -> None:
    try:
        coroutine.send(None)
    except StopIteration:
        return
    raise RuntimeError("the part awaited something that suspends")


async def _ignore(message: Any) -> None:
    return None


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


_START = {"type": "http.response.start", "status": 200, "headers": []}
_BODY = {"type": "http.response.body", "body": b"{}"}


async def _answer(scope: Any, receive: Any, send: Any) -> None:
    """The cheapest possible app: a start and one body message."""
    await send(_START)
    await send(_BODY)


def _scope() -> dict[str, Any]:
    from starlette.routing import Route

    route = Route("/items/{item_id}", _answer)
    return {
        "type": "http",
        "method": "GET",
        "path": "/items/1",
        "root_path": "",
        "route": route,
        "endpoint": _answer,
        "headers": [],
    }


def part(name: str) -> Callable[[], None]:
    """A callable that runs the part once."""
    if name == "nothing":
        return lambda: None
    if name == "observe_prometheus_client":
        from prometheus_client import CollectorRegistry, Histogram

        child = Histogram(
            "h",
            "h",
            ["method", "uri", "status", "outcome", "exception"],
            buckets=BUCKETS,
            registry=CollectorRegistry(),
        ).labels(*LABELS)
        return lambda: child.observe(0.0004)
    if name == "observe_ours":
        from actuator.metrics.histogram import LabelledHistogram

        series = LabelledHistogram(
            "h", "h", ("method", "uri", "status", "outcome", "exception"), buckets=BUCKETS
        ).labels(*LABELS)
        return lambda: series.observe(0.0004)
    if name == "template":
        from actuator.metrics.routes import RouteTemplates

        templates, scope = RouteTemplates(), _scope()
        return lambda: templates.template(scope, "", 200) and None
    if name == "clock_twice":
        from time import perf_counter

        def clock_twice() -> None:
            perf_counter()
            perf_counter()

        return clock_twice
    if name == "app_alone":
        scope = _scope()
        return lambda: _step(_answer(scope, _receive, _ignore))
    if name in (
        "app_timed",
        "app_through_middleware_metrics_on",
        "app_through_middleware_metrics_off",
    ):
        from actuator import Actuator, ActuatorMiddleware
        from actuator.settings import MetricsSettings

        scope = _scope()
        if name == "app_timed":
            from prometheus_client import CollectorRegistry

            from actuator.metrics.http import HttpServerMetrics

            metrics = HttpServerMetrics(CollectorRegistry(), MetricsSettings(), "/actuator")
            return lambda: _step(metrics(scope, _receive, _ignore, _answer))
        actuator = Actuator(
            settings={
                "metrics": {"enabled": name.endswith("on")},
                "health": {"event_loop": {"enabled": False}},
            }
        )
        middleware = ActuatorMiddleware(_answer, actuator=actuator)
        middleware._awaiting_start = False  # as after the lifespan: no start-up check
        return lambda: _step(middleware(scope, _receive, _ignore))
    raise SystemExit(f"unknown part {name!r}")


PARTS = [
    "nothing",
    "clock_twice",
    "observe_prometheus_client",
    "observe_ours",
    "template",
    "app_alone",
    "app_timed",
    "app_through_middleware_metrics_off",
    "app_through_middleware_metrics_on",
]


def count(name: str, runs: int) -> int:
    result = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-m",
            "benchmarks.metrics_parts",
            "--run",
            name,
            str(runs),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT)},
    )
    match = re.search(r"Collected : (\d+)", result.stderr)
    if match is None:
        raise RuntimeError(result.stderr[-2000:])
    return int(match.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("parts", nargs="*", default=PARTS)
    parser.add_argument("--run", nargs=2, metavar=("PART", "TIMES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        once = part(args.run[0])
        for _ in range(int(args.run[1])):
            once()
        return 0
    jobs = [(name, runs) for name in args.parts for runs in (SMALL, LARGE)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        totals = dict(zip(jobs, pool.map(lambda job: count(*job), jobs), strict=True))
    print("| part | instructions per run |\n|---|---|")
    for name in args.parts:
        per_run = (totals[name, LARGE] - totals[name, SMALL]) / (LARGE - SMALL)
        print(f"| {name} | {per_run:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
