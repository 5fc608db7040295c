"""The fleet dashboard's pages at scale: server time and weight per page at N instances.

    python -m benchmarks.fleet_dashboard                 # SQLite, 100,000 instances
    python -m benchmarks.fleet_dashboard --postgres      # the same on a temporary PostgreSQL
    python -m benchmarks.fleet_dashboard -n 10000 --rounds 20   # a quick look

It starts ``actuator fleet serve`` (a real uvicorn process) on a fresh
database, registers N instances with the simulator of ``benchmarks/fleet.py``
(500 services, 2 environments: 1,000 groups; 50 teams; 3 regions), sends
status updates for ``--duration`` seconds so the fleet has DOWN instances and
history, logs in through ``/fleet/login`` as a browser does, then requests
each page ``--rounds`` times, in interleaved rounds (one of each page per
round), sequentially, beside the JSON API's answer to the same question (the
peer: what the page costs over its data). Reported per page:

- p50/p95/max latency measured by the client (the server's time plus a
  loopback round trip);
- the console's CPU time per request (from /proc), which contention on a
  shared machine distorts least;
- the page's weight: the HTML, and with the stylesheet and script a first
  visit loads (later visits have them cached).

Targets (issue 13): server time per page p95 <= 200 ms, page weight <= 300 KB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from benchmarks.fleet import (
    READ_TOKEN,
    Console,
    cpu_seconds,
    ingest,
    machine,
    register,
)

TARGET_P95_MS = 200.0
TARGET_WEIGHT_KB = 300.0


async def login(client: httpx.AsyncClient) -> None:
    form = await client.get("/fleet/login")
    nonce = re.search(r'name="login" value="([^"]+)"', form.text)
    if nonce is None:
        raise RuntimeError(f"no login form: {form.status_code}")
    answer = await client.post(
        "/fleet/login", data={"login": nonce.group(1), "token": READ_TOKEN, "next": "/fleet/"}
    )
    if answer.status_code != 303 or "fleet_session" not in client.cookies:
        raise RuntimeError(f"login failed: {answer.status_code}")


async def assets_kb(client: httpx.AsyncClient, html: str) -> float:
    """The stylesheet and script a page links to, in KB."""
    size = 0
    for path in re.findall(r'(?:href|src)="(/fleet/static/[^"]+)"', html):
        size += len((await client.get(path)).content)
    return size / 1024


async def measure(
    client: httpx.AsyncClient, pages: dict[str, str], rounds: int, pid: int
) -> dict[str, dict[str, float]]:
    samples: dict[str, list[float]] = {name: [] for name in pages}
    cpu: dict[str, float] = dict.fromkeys(pages, 0.0)
    weight: dict[str, float] = {}
    for _ in range(rounds):
        for name, path in pages.items():  # interleaved: every page sees the same contention
            before = cpu_seconds(pid)
            started = time.perf_counter()
            answer = await client.get(path)
            samples[name].append((time.perf_counter() - started) * 1000)
            cpu[name] += cpu_seconds(pid) - before
            if answer.status_code != 200:
                raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:300]}")
            weight[name] = len(answer.content) / 1024
    report = {}
    for name, values in samples.items():
        values.sort()
        report[name] = {
            "p50": statistics.median(values),
            "p95": values[max(0, int(len(values) * 0.95) - 1)],
            "max": values[-1],
            "cpu_ms": cpu[name] / rounds * 1000,
            "kb": weight[name],
        }
    return report


async def run(args: argparse.Namespace, database: str, workdir: Path) -> dict[str, Any]:
    console = Console(database, workdir)
    pid = console.process.pid
    report: dict[str, Any] = {"database": database.split(":", 1)[0], "instances": args.n}
    try:
        limits = httpx.Limits(max_connections=args.concurrency + 2)
        async with httpx.AsyncClient(base_url=console.url, timeout=120, limits=limits) as client:
            await register(client, args.n, args.batch, args.concurrency)
            statuses = ["UP"] * args.n
            await ingest(
                client,
                args.n,
                args.batch,
                args.duration,
                args.concurrency,
                statuses,
                random.Random(13),
            )
            await login(client)
            overview = await client.get("/fleet/")
            group = re.search(r'href="/fleet/groups/(\w+)"', overview.text)
            if group is None:
                raise RuntimeError("no group on the overview")
            down = statuses.index("DOWN") if "DOWN" in statuses else 0
            gid, iid = group.group(1), f"i{down:06d}"
            pages = {
                "overview": "/fleet/",
                "overview, filtered (team fact, DOWN)": "/fleet/?where=team%3Dteam-07&status=DOWN",
                "overview, filtered (service)": "/fleet/?service=svc-042",
                "overview, page 10 by % UP": "/fleet/?sort=percentUp&page=10",
                "group page": f"/fleet/groups/{gid}",
                "instance page": f"/fleet/instances/{iid}",
                "live stamp (polled)": "/fleet/live",
                # The peers: the JSON API answering the same questions.
                "api: groups": "/fleet/api/groups?limit=50",
                "api: groups where team": "/fleet/api/groups?where=team%3Dteam-07&status=DOWN",
                "api: counts": "/fleet/api/counts",
                "api: group": f"/fleet/api/groups/{gid}",
                "api: instance": f"/fleet/api/instances/{iid}",
            }
            report["pages"] = await measure(client, pages, args.rounds, pid)
            report["assets_kb"] = await assets_kb(client, overview.text)
    finally:
        console.stop()
    return report


def print_report(report: dict[str, Any]) -> None:
    print(f"\n== {report['database']}: {report['instances']:,} instances ==")
    print(f"stylesheet + script (first visit only, then cached): {report['assets_kb']:.1f} KB")
    print(
        f"  {'page':40s} {'p50':>8s} {'p95':>8s} {'max':>8s} {'CPU':>8s} {'HTML':>9s} "
        f"{'1st visit':>10s}"
    )
    for name, f in report["pages"].items():
        total = f["kb"] + (report["assets_kb"] if not name.startswith(("api", "live")) else 0)
        print(
            f"  {name:40s} {f['p50']:6.1f}ms {f['p95']:6.1f}ms {f['max']:6.1f}ms "
            f"{f['cpu_ms']:6.1f}ms {f['kb']:7.1f}KB {total:8.1f}KB"
        )
    pages = {k: v for k, v in report["pages"].items() if not k.startswith(("api", "live"))}
    worst = max(pages.values(), key=lambda f: f["p95"])
    heaviest = max(f["kb"] for f in pages.values()) + report["assets_kb"]
    print(
        f"targets: p95 <= {TARGET_P95_MS:.0f} ms: worst {worst['p95']:.1f} ms "
        f"({'met' if worst['p95'] <= TARGET_P95_MS else 'NOT met'}); weight <= "
        f"{TARGET_WEIGHT_KB:.0f} KB: heaviest {heaviest:.1f} KB "
        f"({'met' if heaviest <= TARGET_WEIGHT_KB else 'NOT met'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=100_000, help="instances (default %(default)s)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of status updates")
    parser.add_argument("--batch", type=int, default=1000, help="updates per request")
    parser.add_argument("--concurrency", type=int, default=4, help="ingest requests in flight")
    parser.add_argument("--rounds", type=int, default=100, help="requests per page figure")
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    parser.add_argument("--json", metavar="FILE", help="write the reports as JSON")
    args = parser.parse_args()
    print(
        f"{machine()}; {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; n={args.n:,}, "
        f"{args.rounds} rounds"
    )
    reports = []
    with tempfile.TemporaryDirectory(prefix="fleet-dashboard-bench-") as tmp:
        workdir = Path(tmp)
        reports.append(asyncio.run(run(args, f"sqlite:///{workdir / 'fleet.db'}", workdir)))
        print_report(reports[-1])
        if args.postgres:
            from tests.support.postgres import PostgresServer

            with PostgresServer() as server:
                url = server.create_database("fleet_dashboard_bench")
                reports.append(asyncio.run(run(args, url, workdir)))
                print_report(reports[-1])
    if args.json:
        Path(args.json).write_text(json.dumps(reports, indent=2))


if __name__ == "__main__":
    main()
