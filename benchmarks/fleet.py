"""The fleet console at scale: a simulator of N instances against a real console.

    python -m benchmarks.fleet                       # SQLite, 100,000 instances, 60 s ingest
    python -m benchmarks.fleet --postgres            # the same on a temporary PostgreSQL
    python -m benchmarks.fleet -n 10000 --duration 10   # a quick look

It starts ``actuator fleet serve`` (a real uvicorn process) on a fresh
database, registers N instances through the HTTP batch ingest, then sends
status updates for ``--duration`` seconds (1% of each batch changing status,
the rest heartbeats) and reports:

- instances held and the console's RSS (from /proc) after registration and ingest;
- updates/s acknowledged, and the console's CPU time per update (from /proc);
- zero lost: the counts per status the API answers equal what the simulator
  last sent for every instance, and every instance is there;
- query latency (p50/p95, client-measured over HTTP, sequential) at N instances:
  the first page of groups sorted by status, instances filtered by one fact and
  a status, and whole-fleet counts.

Targets (issue 12): 100k instances under 500 MB RSS; >= 20,000 updates/s for
60 s on SQLite, none lost; query p95 <= 100 ms, counts <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from actuator import hash_token  # noqa: E402

INGEST_TOKEN = "bench-ingest-token-0123456789abcdef"
READ_TOKEN = "bench-read-token-0123456789abcdef"
SERVICES = 500
TEAMS = 50


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def instance(i: int) -> dict[str, Any]:
    return {
        "type": "register",
        "id": f"i{i:06d}",
        "status": "UP",
        "service": f"svc-{i % SERVICES:03d}",
        "version": "1.0" if i % 10 else "1.1",
        "url": f"http://10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}:8080/actuator",
        "facts": {
            "environment": "prod" if (i // SERVICES) % 2 else "staging",
            "application": "shop",
            "team": f"team-{i % TEAMS:02d}",
            "region": ("eu", "us", "ap")[i % 3],
        },
    }


class Console:
    def __init__(
        self, database: str, workdir: Path, extra: str = "", *, wrapper: tuple[str, ...] = ()
    ) -> None:
        config = workdir / "fleet.toml"
        config.write_text(
            f"sweep_interval = 30\nmax_page_size = 500\n[ingest_tokens]\n"
            f'bench = "{hash_token(INGEST_TOKEN)}"\n'
            f'[settings.security]\ntokens = {{ ops = "{hash_token(READ_TOKEN)}" }}\n'
            f'roles.read = ["ops"]\n' + extra
        )
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (workdir / "console.log").open("wb")
        env = {
            **os.environ,
            "ACTUATOR_HEALTH__EVENT_LOOP__ENABLED": "false",
            "PYTHONPATH": str(ROOT),
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                *wrapper,  # e.g. a profiler that runs the module below
                "-m",
                "actuator",
                "fleet",
                "serve",
                "--config",
                str(config),
                "--database",
                database,
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/actuator/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("the console did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            # Said, not hidden: a console must stop on SIGTERM. Killed so the run goes on.
            print(f"the console on port {self.port} did not stop within 30 s of SIGTERM")
            self.process.kill()
            self.process.wait(10)
        finally:
            self.log.close()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def post_all(
    client: httpx.AsyncClient, bodies: list[bytes], concurrency: int
) -> tuple[int, int]:
    """Send every body, ``concurrency`` at a time; (updates accepted, requests failed)."""
    queue = list(reversed(bodies))
    accepted = failed = 0
    headers = {"authorization": f"Bearer {INGEST_TOKEN}", "content-type": "application/json"}

    async def worker() -> None:
        nonlocal accepted, failed
        while queue:
            body = queue.pop()
            answer = await client.post("/fleet/api/ingest", content=body, headers=headers)
            if answer.status_code == 200:
                accepted += answer.json()["accepted"]
            else:
                failed += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return accepted, failed


async def register(client: httpx.AsyncClient, n: int, batch: int, concurrency: int) -> float:
    bodies = [
        json.dumps({"updates": [instance(i) for i in range(start, min(n, start + batch))]}).encode()
        for start in range(0, n, batch)
    ]
    started = time.perf_counter()
    accepted, failed = await post_all(client, bodies, concurrency)
    if accepted != n or failed:
        raise RuntimeError(f"registration: {accepted} of {n} accepted, {failed} requests failed")
    return time.perf_counter() - started


async def ingest(
    client: httpx.AsyncClient,
    n: int,
    batch: int,
    duration: float,
    concurrency: int,
    statuses: list[str],
    rng: random.Random,
) -> dict[str, Any]:
    """Status updates for ``duration`` s: each batch is a slice of the fleet, 1% changing."""
    headers = {"authorization": f"Bearer {INGEST_TOKEN}", "content-type": "application/json"}
    sent = accepted = failed = requests = 0
    cursor = 0
    lock = asyncio.Lock()
    deadline = time.perf_counter() + duration

    def next_body() -> bytes:
        nonlocal cursor
        start, cursor = cursor, (cursor + batch) % n
        ids = [(start + k) % n for k in range(batch)]
        for i in rng.sample(ids, max(1, batch // 100)):
            statuses[i] = "DOWN" if statuses[i] == "UP" else "UP"
        return json.dumps(
            {
                "updates": [
                    {
                        "type": "status",
                        "id": f"i{i:06d}",
                        "status": statuses[i],
                        "components": ["db"] if statuses[i] == "DOWN" else [],
                    }
                    for i in ids
                ]
            }
        ).encode()

    async def worker() -> None:
        nonlocal sent, accepted, failed, requests
        while time.perf_counter() < deadline:
            async with lock:  # bodies are built in order, so the last sent status wins
                body = next_body()
                sent += batch
            answer = await client.post("/fleet/api/ingest", content=body, headers=headers)
            requests += 1
            if answer.status_code == 200:
                accepted += answer.json()["accepted"]
            else:
                failed += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "sent": sent,
        "accepted": accepted,
        "failed_requests": failed,
        "requests": requests,
        "seconds": elapsed,
        "rate": accepted / elapsed,
    }


async def timed(
    client: httpx.AsyncClient, path: str, params: dict[str, Any], rounds: int, pid: int = 0
) -> dict[str, float]:
    headers = {"authorization": f"Bearer {READ_TOKEN}"}
    samples = []
    cpu = cpu_seconds(pid) if pid else 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        answer = await client.get(path, params=params, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:200]}")
    samples.sort()
    # Console CPU per request: what contention on a shared machine distorts least.
    cpu_ms = (cpu_seconds(pid) - cpu) / rounds * 1000 if pid else float("nan")
    return {
        "p50": statistics.median(samples),
        "p95": samples[int(len(samples) * 0.95) - 1],
        "max": samples[-1],
        "cpu_ms": cpu_ms,
    }


async def run(args: argparse.Namespace, database: str, workdir: Path) -> dict[str, Any]:
    console = Console(database, workdir)
    pid = console.process.pid
    report: dict[str, Any] = {"database": database.split(":", 1)[0], "instances": args.n}
    try:
        limits = httpx.Limits(max_connections=args.concurrency + 2)
        async with httpx.AsyncClient(base_url=console.url, timeout=120, limits=limits) as client:
            cpu0 = cpu_seconds(pid)
            report["register_seconds"] = await register(
                client, args.n, args.batch, args.concurrency
            )
            report["rss_after_register_mb"] = rss_mb(pid)
            statuses = ["UP"] * args.n
            cpu1 = cpu_seconds(pid)
            result = await ingest(
                client,
                args.n,
                args.batch,
                args.duration,
                args.concurrency,
                statuses,
                random.Random(12),
            )
            cpu2 = cpu_seconds(pid)
            report["ingest"] = result
            report["register_cpu_us_per_update"] = (cpu1 - cpu0) / args.n * 1e6
            report["ingest_cpu_us_per_update"] = (cpu2 - cpu1) / max(1, result["accepted"]) * 1e6
            report["rss_after_ingest_mb"] = rss_mb(pid)

            counts = (
                await client.get(
                    "/fleet/api/counts", headers={"authorization": f"Bearer {READ_TOKEN}"}
                )
            ).json()
            expected = {s: statuses.count(s) for s in set(statuses)}
            report["counted_back"] = counts["instances"]
            report["lost"] = (
                counts["instances"]["total"] != args.n
                or counts["instances"]["statuses"] != expected
                or result["accepted"] != result["sent"]
            )

            rounds = args.rounds
            groups = await client.get(
                "/fleet/api/groups", headers={"authorization": f"Bearer {READ_TOKEN}"}
            )
            first_group = groups.json()["items"][0]["id"]
            report["queries_ms"] = {
                "groups by status, first page": await timed(
                    client, "/fleet/api/groups", {"sort": "status", "limit": 50}, rounds, pid
                ),
                "instances where team + status": await timed(
                    client,
                    "/fleet/api/instances",
                    {"where": "team=team-07", "status": "DOWN", "limit": 50},
                    rounds,
                    pid,
                ),
                "instances where region, sorted by status": await timed(
                    client,
                    "/fleet/api/instances",
                    {"where": "region=eu", "sort": "status", "order": "desc", "limit": 50},
                    rounds,
                    pid,
                ),
                "one group with its instances": await timed(
                    client, f"/fleet/api/groups/{first_group}", {"limit": 50}, rounds, pid
                ),
                "counts": await timed(client, "/fleet/api/counts", {}, rounds, pid),
            }
    finally:
        console.stop()
    return report


TARGETS_APP = r"""
# The pull benchmark's targets, in a process of their own: a small keep-alive HTTP/1.1
# server answering every /t/<n>/actuator/health and /info at once (cheaper than uvicorn,
# so it is not what saturates), and a tarpit port that accepts connections and never
# answers. It writes the requests it answered to a file each second.
import asyncio, sys

def answer(body):
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
    return head % len(body) + body

HEALTH = answer(b'{"status":"UP"}')
INFO = answer(b'{"app":{"name":"legacy","version":"1.0"}}')
answered = 0

async def serve(reader, writer):
    global answered
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1]
            writer.write(HEALTH if path.endswith(b"/health") else INFO)
            answered += 1
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()

held = []

async def tarpit(reader, writer):
    held.append(writer)              # accepted, read by nobody, never answered
    await asyncio.Event().wait()

async def main():
    healthy, hanging, counter = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    await asyncio.start_server(serve, "127.0.0.1", healthy, backlog=4096)
    await asyncio.start_server(tarpit, "127.0.0.1", hanging, backlog=4096)
    while True:
        await asyncio.sleep(1)
        with open(counter, "w") as out:
            out.write(str(answered))

asyncio.run(main())
"""


async def pull(args: argparse.Namespace, workdir: Path, hanging_share: float) -> dict[str, Any]:
    """``--targets`` targets, ``hanging_share`` of them hanging (they accept the connection
    and never answer), polled every ``--interval`` s by a real console: poll cycle, the
    healthy targets' freshness, the console's CPU and memory."""
    (workdir / "bench_targets.py").write_text(TARGETS_APP)
    healthy_port, hanging_port = _free_port(), _free_port()
    counter = workdir / "answered.txt"
    targets = subprocess.Popen(  # noqa: ASYNC220 (set-up, before anything is timed)
        [sys.executable, "bench_targets.py", str(healthy_port), str(hanging_port), str(counter)],
        cwd=workdir,
    )
    hanging = int(args.targets * hanging_share)
    healthy = args.targets - hanging
    lines = [f"http://127.0.0.1:{hanging_port}/t/{i}/actuator\n" for i in range(hanging)]
    lines += [
        f"http://127.0.0.1:{healthy_port}/t/{i}/actuator\n" for i in range(hanging, args.targets)
    ]
    (workdir / "targets.txt").write_text("".join(lines))
    extra = (
        f"\n[pull]\ninterval = {args.interval}\ntimeout = 2\nconcurrency = 500\n"
        f'resolve_every = 3600\n[[pull.sets]]\nname = "legacy"\n'
        f'file = "{workdir / "targets.txt"}"\n'
    )
    console = Console(f"sqlite:///{workdir / f'pull-{hanging}.db'}", workdir, extra=extra)
    headers = {"authorization": f"Bearer {READ_TOKEN}"}
    report: dict[str, Any] = {
        "targets": args.targets,
        "hanging": hanging,
        "interval": args.interval,
    }

    def answered() -> int:
        try:
            return int(counter.read_text() or 0)
        except (OSError, ValueError):
            return 0

    try:
        async with httpx.AsyncClient(base_url=console.url, timeout=30) as client:
            started = time.monotonic()
            while True:
                counts = (await client.get("/fleet/api/counts", headers=headers)).json()
                if counts["instances"]["total"] >= healthy or time.monotonic() - started > 180:
                    break
                await asyncio.sleep(0.5)
            report["first_cycle_s"] = time.monotonic() - started
            report["registered"] = counts["instances"]["total"]
            await asyncio.sleep(args.interval)  # past the first /info round
            cpu0, t0, polls0 = cpu_seconds(console.process.pid), time.monotonic(), answered()
            ages = []
            while time.monotonic() - t0 < args.interval * 4:
                # The healthy target heard from longest ago: how stale the freshest view is.
                oldest = (
                    await client.get(
                        "/fleet/api/instances",
                        headers=headers,
                        params={"sort": "lastSeen", "limit": 1},
                    )
                ).json()["items"][0]
                seen = datetime.fromisoformat(oldest["lastSeen"].replace("Z", "+00:00"))
                ages.append(time.time() - seen.timestamp())
                await asyncio.sleep(1)
            elapsed = time.monotonic() - t0
            polls = answered() - polls0
            report["polls_per_s"] = polls / elapsed
            # A cycle: every healthy target polled once.
            report["cycle_s"] = healthy / report["polls_per_s"] if polls else float("inf")
            report["oldest_last_seen_s"] = {
                "p50": statistics.median(ages),
                "max": max(ages),
            }
            cpu = cpu_seconds(console.process.pid) - cpu0
            report["console_cpu_share"] = cpu / elapsed
            report["console_cpu_us_per_poll"] = cpu / polls * 1e6 if polls else float("nan")
            report["rss_mb"] = rss_mb(console.process.pid)
            report["on_time"] = max(ages) <= args.interval + 2
    finally:
        console.stop()
        targets.kill()  # the tarpit's connections would hold a graceful shutdown forever
        targets.wait(30)
    return report


def print_pull(figures: dict[str, Any]) -> None:
    ages = figures["oldest_last_seen_s"]
    print(
        f"\n== pull: {figures['targets']:,} targets, {figures['hanging']:,} hanging, every "
        f"{figures['interval']:g} s =="
    )
    print(
        f"first cycle (every healthy target registered) {figures['first_cycle_s']:.1f} s; "
        f"then {figures['polls_per_s']:,.0f} polls/s, a cycle of the healthy targets every "
        f"{figures['cycle_s']:.1f} s; oldest lastSeen of a healthy target p50 "
        f"{ages['p50']:.1f} s, max {ages['max']:.1f} s "
        f"({'on time' if figures['on_time'] else 'LATE'})"
    )
    print(
        f"console CPU {figures['console_cpu_share']:.0%} of a core "
        f"({figures['console_cpu_us_per_poll']:.0f} us per poll); RSS {figures['rss_mb']:.0f} MB"
    )


def print_report(report: dict[str, Any]) -> None:
    ingest = report["ingest"]
    print(f"\n== {report['database']}: {report['instances']:,} instances ==")
    print(
        f"registration: {report['register_seconds']:.1f} s "
        f"({report['instances'] / report['register_seconds']:,.0f}/s, "
        f"{report['register_cpu_us_per_update']:.0f} us CPU per registration)"
    )
    print(
        f"RSS after registration {report['rss_after_register_mb']:.0f} MB, after ingest "
        f"{report['rss_after_ingest_mb']:.0f} MB"
    )
    print(
        f"ingest: {ingest['accepted']:,} updates in {ingest['seconds']:.1f} s = "
        f"{ingest['rate']:,.0f} updates/s ({ingest['requests']} requests, "
        f"{ingest['failed_requests']} failed), "
        f"{report['ingest_cpu_us_per_update']:.1f} us console CPU per update"
    )
    print(f"counted back: {report['counted_back']}  lost: {'YES' if report['lost'] else 'none'}")
    for name, figures in report["queries_ms"].items():
        print(
            f"  {name:45s} p50 {figures['p50']:6.1f} ms  p95 {figures['p95']:6.1f} ms  "
            f"max {figures['max']:6.1f} ms  console CPU {figures['cpu_ms']:5.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=100_000, help="instances (default %(default)s)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of ingest")
    parser.add_argument("--batch", type=int, default=1000, help="updates per request")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    parser.add_argument("--rounds", type=int, default=200, help="requests per query figure")
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    parser.add_argument("--pull", action="store_true", help="also the pull-mode figure")
    parser.add_argument("--targets", type=int, default=5000, help="pull targets (10%% hang)")
    parser.add_argument("--interval", type=float, default=10.0, help="pull interval, seconds")
    parser.add_argument("--skip-ingest", action="store_true", help="only the pull figure")
    parser.add_argument("--json", metavar="FILE", help="write the reports as JSON")
    args = parser.parse_args()
    print(
        f"{machine()}; {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; n={args.n:,}, "
        f"batch={args.batch}, concurrency={args.concurrency}, {args.duration:.0f} s ingest"
    )
    reports = []
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        workdir = Path(tmp)
        if args.pull:
            # Healthy targets alone, then with 10% hanging: the second must not be staler.
            for share in (0.0, 0.1):
                figures = asyncio.run(pull(args, workdir, share))
                reports.append({"pull": figures})
                print_pull(figures)
        if args.skip_ingest:
            args.postgres = False
        else:
            reports.append(asyncio.run(run(args, f"sqlite:///{workdir / 'fleet.db'}", workdir)))
            print_report(reports[-1])
        if args.postgres:
            from tests.support.postgres import PostgresServer

            with PostgresServer() as server:
                url = server.create_database("fleet_bench")
                reports.append(asyncio.run(run(args, url, workdir)))
                print_report(reports[-1])
    if args.json:
        Path(args.json).write_text(json.dumps(reports, indent=2))


if __name__ == "__main__":
    main()
