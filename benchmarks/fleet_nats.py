"""The fleet console scaled out: the 100k-instance simulator through NATS into the consoles.

    python -m benchmarks.fleet_nats                      # 100,000 instances: pg:1 pg:2 sqlite:1
    python -m benchmarks.fleet_nats -n 20000 --duration 20 --rounds pg:1
    python -m benchmarks.fleet_nats --profile /tmp/prof  # where a console's CPU goes (cProfile)

Each round (``--rounds``: ``pg:1`` one console on PostgreSQL, ``pg:2`` two on
one PostgreSQL, ``sqlite:1`` one on SQLite) starts fresh consoles (real
``actuator fleet serve`` processes sharing one JetStream consumer) on a fresh
database, behind one real ``nats-server -js``. The simulator registers N
instances through NATS (as ``fleet.nats`` instances would), then runs two
phases of ``--duration`` seconds each, 1% of each slice of 1,000 events
changing status and the rest heartbeats:

- **saturating**: events published as fast as the stream acknowledges them,
  pausing while more than ``--backlog`` events wait in it (so the consoles are
  never idle, and the phase does not leave minutes of events to drain);
  updates/s = events the consoles acknowledged (committed in the database)
  during the phase / its duration. A work-queue stream holds exactly the
  events not yet acknowledged, so that is the events published in the window
  minus the growth of the stream;
- **offered** ``--rate`` updates/s (1,000 by default, below what one console
  stores here; 100,000 instances heartbeating every 30 s send 3,333/s): the
  end-to-end delay from publish to queryable, p50 and p99,
  measured by a probe that publishes a status change for one of its own
  instances and polls ``/fleet/api/instances/{id}`` every 5 ms until it shows.

It reports CPU per update (from /proc) of the consoles, PostgreSQL (every
backend), nats-server and the simulator itself, so the first bottleneck
shows; the consoles' RSS; and that nothing is lost (every instance is there)
and how many instances show another status than the last one published for
them (two consoles may apply two events of one instance out of order until the
next heartbeat).

The simulator is cheap so that it is not what saturates: ``--publishers``
processes (one NATS connection each, each owning a share of the instances so
an instance's events stay in order), every subject and payload encoded once
before the clock starts, async JetStream publishes (up to 4,000
unacknowledged per connection). ``--profile DIR`` runs the first console of
each round under cProfile (every thread) and prints where its CPU went;
profiling slows it, so take the figures from a run without it.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import math
import multiprocessing
import os
import pstats
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from benchmarks.fleet import READ_TOKEN, Console, cpu_seconds, instance, machine, rss_mb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from actuator.fleet.nats_client import event_subject  # noqa: E402

PREFIX = "actuator.fleet"
READ = {"authorization": f"Bearer {READ_TOKEN}"}
SLICE = 1000  # events per slice of the fleet; 1% of each slice changes status
PROBES = 100  # the probe's own instances, after the simulated ones


def children_cpu(parent: int) -> float:
    """CPU seconds of ``parent`` and its direct children (PostgreSQL's backends)."""
    total = cpu_seconds(parent)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def status_event(i: int, status: str) -> bytes:
    update = {
        "type": "status",
        "id": f"i{i:06d}",
        "status": status,
        "components": ["db"] if status == "DOWN" else [],
    }
    return json.dumps(update).encode()


# -- the simulator: publisher processes ----------------------------------------


def publisher(pipe: Connection, nats_url: str, n: int, part: int, parts: int, backlog: int) -> None:
    """One publisher process: the instances ``i % parts == part``, on a connection of its own."""
    asyncio.run(_publisher(pipe, nats_url, n, part, parts, backlog))


async def _publisher(
    pipe: Connection, nats_url: str, n: int, part: int, parts: int, backlog: int
) -> None:
    import nats

    mine = list(range(part, n, parts))
    # Encoded once: the clock measures publishing, not building JSON.
    subjects = {i: event_subject(PREFIX, instance(i)["service"], f"i{i:06d}") for i in mine}
    payloads = {i: (status_event(i, "UP"), status_event(i, "DOWN")) for i in mine}
    down = dict.fromkeys(mine, False)
    nc = await nats.connect(nats_url, pending_size=64 * 1024 * 1024)
    try:
        js = nc.jetstream(timeout=60, publish_async_max_pending=4000)
        pipe.send("ready")
        pipe.recv()
        for i in mine:
            await js.publish_async(subjects[i], json.dumps(instance(i)).encode())
        await js.publish_async_completed()
        pipe.send("registered")
        while True:
            command = pipe.recv()
            if command is None:
                break
            duration, rate = command
            rng = random.Random(12 + part)
            share = max(1, SLICE // parts)
            sent = cursor = 0
            cpu0 = time.process_time()
            started = checked = time.perf_counter()
            while time.perf_counter() - started < duration:
                if time.perf_counter() - checked > 0.2:
                    # Saturating, yet with a bounded backlog: the stream stays full
                    # without holding minutes of events to drain after the phase.
                    await below(js, backlog, started + duration)
                    checked = time.perf_counter()
                ids = [mine[(cursor + k) % len(mine)] for k in range(share)]
                cursor = (cursor + share) % len(mine)
                for i in rng.sample(ids, max(1, share // 100)):
                    down[i] = not down[i]
                for i in ids:
                    await js.publish_async(subjects[i], payloads[i][down[i]])
                sent += share
                if rate:  # a steady offered load instead of a saturating one
                    ahead = started + sent / (rate / parts) - time.perf_counter()
                    if ahead > 0:
                        await asyncio.sleep(ahead)
            await js.publish_async_completed()
            pipe.send(
                {
                    "sent": sent,
                    "seconds": time.perf_counter() - started,
                    "cpu": time.process_time() - cpu0,
                    "down": sum(down.values()),
                }
            )
    finally:
        await nc.close()


async def below(js: Any, backlog: int, until: float) -> None:
    """Wait until at most ``backlog`` events wait in the stream (or ``until``, perf_counter)."""
    info = await js.consumer_info("ACTUATOR_FLEET", "fleet-console")
    while info.num_pending > backlog and time.perf_counter() < until:
        await asyncio.sleep(0.05)
        info = await js.consumer_info("ACTUATOR_FLEET", "fleet-console")


class Simulator:
    """``parts`` publisher processes driven through pipes."""

    def __init__(self, nats_url: str, n: int, parts: int, backlog: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes = []
        for part in range(parts):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=publisher, args=(theirs, nats_url, n, part, parts, backlog), daemon=True
            )
            process.start()
            self.pipes.append(ours)
            self.processes.append(process)

    async def ready(self) -> None:
        for pipe in self.pipes:
            if await asyncio.to_thread(pipe.recv) != "ready":
                raise RuntimeError("a publisher failed to start")

    async def registered(self) -> None:
        for pipe in self.pipes:
            pipe.send("register")
        for pipe in self.pipes:
            if await asyncio.to_thread(pipe.recv) != "registered":
                raise RuntimeError("a publisher failed to register its instances")

    async def load(self, duration: float, rate: float) -> dict[str, Any]:
        for pipe in self.pipes:
            pipe.send((duration, rate))
        parts = [await asyncio.to_thread(pipe.recv) for pipe in self.pipes]
        return {
            "sent": sum(p["sent"] for p in parts),
            "seconds": max(p["seconds"] for p in parts),
            "cpu": sum(p["cpu"] for p in parts),
            "down": sum(p["down"] for p in parts),
        }

    def stop(self) -> None:
        for pipe, process in zip(self.pipes, self.processes, strict=True):
            with contextlib.suppress(OSError):
                pipe.send(None)
            process.join(30)
            if process.is_alive():
                process.kill()


# -- the measuring side ------------------------------------------------------------


async def drained(js: Any, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = await js.consumer_info("ACTUATOR_FLEET", "fleet-console")
        if info.num_pending == 0 and info.num_ack_pending == 0:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("the consoles did not drain the stream in time")


async def probe(
    client: httpx.AsyncClient, js: Any, n: int, stop: asyncio.Event, delays: list[float]
) -> None:
    """Publish a change for one of the probe's instances, time until the API shows it."""
    rng = random.Random(7)
    k = 0
    while not stop.is_set():
        k += 1
        i = n + rng.randrange(PROBES)  # never one the publishers send for
        iid = f"i{i:06d}"
        marker = f"probe-{k}"
        update = {"type": "status", "id": iid, "status": "DOWN", "components": [marker]}
        subject = event_subject(PREFIX, instance(i)["service"], iid)
        started = time.perf_counter()
        await js.publish(subject, json.dumps(update).encode(), timeout=60)
        while True:
            answer = await client.get(f"/fleet/api/instances/{iid}", headers=READ)
            if marker in answer.json().get("componentsDown", []):
                break
            if time.perf_counter() - started > 600:
                raise RuntimeError(f"probe {marker} not visible after 600 s")
            await asyncio.sleep(0.005)
        delays.append(time.perf_counter() - started)
        await js.publish(subject, status_event(i, "UP"), timeout=60)  # counted back as UP
        await asyncio.sleep(0.1)


class WaitSampler:
    """What the consoles' PostgreSQL backends are doing, sampled every 50 ms in a thread:
    ``pg_stat_activity``'s wait event of each active one (``CPU`` when it waits on nothing)."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.samples: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.database, autocommit=True) as conn:
            while not self._stop.wait(0.05):
                rows = conn.execute(
                    "SELECT wait_event_type, wait_event FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND state = 'active'"
                ).fetchall()
                for kind, event in rows:
                    self.samples[f"{kind}:{event}" if kind else "CPU"] += 1

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join(10)
        total = sum(self.samples.values()) or 1
        return {k: n / total for k, n in self.samples.most_common(6)}


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered), math.ceil(len(ordered) * share)) - 1]


async def phase(
    simulator: Simulator,
    js: Any,
    client: httpx.AsyncClient,
    args: argparse.Namespace,
    pids: list[int],
    pg_pid: int | None,
    rate: float,
) -> dict[str, Any]:
    stream0 = (await js.stream_info("ACTUATOR_FLEET")).state
    cpu0 = [cpu_seconds(p) for p in pids]
    pg0 = children_cpu(pg_pid) if pg_pid else 0.0
    nats0 = cpu_seconds(args.nats_pid)
    stop = asyncio.Event()
    delays: list[float] = []
    prober = asyncio.create_task(probe(client, js, args.n, stop, delays))
    waits = WaitSampler(args.database) if pg_pid else None
    started = time.perf_counter()
    try:
        sim = await simulator.load(args.duration, rate)
    finally:
        stop.set()
        await prober
        database_waits = waits.stop() if waits else None
    # The window: what the consoles stored while the load ran (a work-queue stream
    # holds exactly the events no console has acknowledged yet), and the CPU it took.
    stream1 = (await js.stream_info("ACTUATOR_FLEET")).state
    window = time.perf_counter() - started
    console_cpu = sum(cpu_seconds(p) - c for p, c in zip(pids, cpu0, strict=True))
    database_cpu = children_cpu(pg_pid) - pg0 if pg_pid else 0.0
    nats_cpu = cpu_seconds(args.nats_pid) - nats0
    stored = (stream1.last_seq - stream0.last_seq) - (stream1.messages - stream0.messages)
    await drained(js)
    return {
        "rate": rate,
        "updates": sim["sent"],
        "stored_in_window": stored,
        "window_seconds": window,
        "backlog_at_end": stream1.messages,
        "drain_seconds": time.perf_counter() - started - window,
        "updates_per_s": stored / window,
        "down": sim["down"],
        "console_cpu_us": console_cpu / stored * 1e6,
        "database_cpu_us": database_cpu / stored * 1e6 if pg_pid else None,
        "nats_cpu_us": nats_cpu / stored * 1e6,
        "simulator_cpu_us": sim["cpu"] / sim["sent"] * 1e6,
        "console_cpu_share": console_cpu / window / len(pids),
        "console_rss_mb": [rss_mb(p) for p in pids],
        "database_waits": database_waits,
        "probes": len(delays),
        "delay_p50_ms": statistics.median(delays) * 1000 if delays else None,
        "delay_p99_ms": percentile(delays, 0.99) * 1000 if delays else None,
    }


async def round_(args: argparse.Namespace, kind: str, consoles: int, pg: Any) -> dict[str, Any]:
    import nats

    workdir = Path(tempfile.mkdtemp(prefix="fleet-nats-bench-"))
    if kind == "pg":
        database = pg.create_database(f"fleet_nats_{consoles}_{int(time.time())}")
        args.database = database
    else:
        database = str(workdir / "fleet.db")
    extra = f'\n[nats]\nurl = "{args.nats_url}"\nbatch = {args.batch}\nbatch_wait = 0.05\n'
    running = []
    report: dict[str, Any] = {"database": kind, "consoles": consoles, "instances": args.n}
    simulator: Simulator | None = None
    nc = await nats.connect(args.nats_url)
    try:
        for k in range(consoles):
            (workdir / str(k)).mkdir()
            wrapper: tuple[str, ...] = ()
            if args.profile and k == 0:
                report["profile"] = str(Path(args.profile) / f"{kind}-{consoles}.pstats")
                wrapper = ("-m", "benchmarks.profiled", report["profile"])
            running.append(Console(database, workdir / str(k), extra=extra, wrapper=wrapper))
        js = nc.jetstream(timeout=60)
        # A fresh stream per round: the previous round's consumer state stays out.
        with contextlib.suppress(Exception):  # created by the consoles on first start
            await js.purge_stream("ACTUATOR_FLEET")
        async with httpx.AsyncClient(base_url=running[0].url, timeout=60) as client:
            simulator = Simulator(args.nats_url, args.n, args.publishers, args.backlog)
            await simulator.ready()
            started = time.perf_counter()
            for i in range(args.n, args.n + PROBES):
                await js.publish(
                    event_subject(PREFIX, instance(i)["service"], f"i{i:06d}"),
                    json.dumps(instance(i)).encode(),
                )
            await simulator.registered()
            await drained(js)
            report["register_per_s"] = args.n / (time.perf_counter() - started)
            pids = [c.process.pid for c in running]
            pg_pid = pg.process.pid if kind == "pg" else None
            report["saturating"] = await phase(simulator, js, client, args, pids, pg_pid, 0)
            report["offered"] = await phase(simulator, js, client, args, pids, pg_pid, args.rate)
            counts = (await client.get("/fleet/api/counts", headers=READ)).json()["instances"]
            down = report["offered"]["down"]
            report["counted_back"] = counts
            report["lost"] = counts["total"] != args.n + PROBES
            # Two consoles may apply two events of one instance out of order; the
            # next heartbeat repairs it (docs/fleet-scale-out.md). Counted, not hidden.
            report["status_mismatch"] = abs(counts["statuses"].get("DOWN", 0) - down)
    finally:
        if simulator is not None:
            simulator.stop()
        await nc.close()
        for console in running:
            console.stop()
    return report


def print_round(r: dict[str, Any]) -> None:
    print(f"\n== {r['consoles']} console(s) on {r['database']}, {r['instances']:,} instances ==")
    print(f"registration: {r['register_per_s']:,.0f}/s")
    for name in ("saturating", "offered"):
        p = r[name]
        offered = f"offered {p['rate']:,.0f}/s" if p["rate"] else "saturating"
        print(
            f"  {offered}: {p['stored_in_window']:,} updates stored in {p['window_seconds']:.1f} s"
            f" = {p['updates_per_s']:,.0f}/s ({p['updates']:,} published; backlog "
            f"{p['backlog_at_end']:,} drained in {p['drain_seconds']:.1f} s; each console busy "
            f"{p['console_cpu_share']:.0%} of a core)"
        )
        database = (
            f"PostgreSQL {p['database_cpu_us']:.1f} us, "
            if p["database_cpu_us"] is not None
            else ""
        )
        print(
            f"    CPU per update: consoles {p['console_cpu_us']:.1f} us, {database}"
            f"nats-server {p['nats_cpu_us']:.1f} us, simulator {p['simulator_cpu_us']:.1f} us"
        )
        if p["probes"]:
            print(
                f"    publish -> queryable over {p['probes']} probes: "
                f"p50 {p['delay_p50_ms']:.0f} ms, p99 {p['delay_p99_ms']:.0f} ms"
            )
        print(f"    console RSS {', '.join(f'{m:.0f} MB' for m in p['console_rss_mb'])}")
        if p["database_waits"]:
            waits = ", ".join(f"{k} {v:.0%}" for k, v in p["database_waits"].items())
            print(f"    PostgreSQL's active backends, sampled: {waits}")
    print(
        f"counted back: {r['counted_back']}  lost: {'YES' if r['lost'] else 'none'}; "
        f"instances whose last two events were applied out of order: {r['status_mismatch']}"
    )
    if "profile" in r and Path(r["profile"]).exists():
        print(f"  where console 1's CPU went ({r['profile']}), by own time:")
        pstats.Stats(r["profile"]).sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=100_000, help="instances (default %(default)s)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of each phase")
    parser.add_argument("--batch", type=int, default=1000, help="events per console batch")
    parser.add_argument(
        "--rounds", nargs="+", default=["pg:1", "pg:2", "sqlite:1"], help="database:consoles"
    )
    parser.add_argument("--rate", type=float, default=1000, help="offered updates/s (phase 2)")
    parser.add_argument("--publishers", type=int, default=2, help="simulator processes")
    parser.add_argument(
        "--backlog", type=int, default=20_000, help="saturating: most events waiting in the stream"
    )
    parser.add_argument("--profile", metavar="DIR", help="profile the first console (cProfile)")
    parser.add_argument("--json", metavar="FILE", help="write the reports as JSON")
    args = parser.parse_args()
    rounds = []
    for spec in args.rounds:
        kind, _, count = spec.partition(":")
        if (
            kind not in ("pg", "sqlite")
            or not count.isdigit()
            or (kind == "sqlite" and count != "1")
        ):
            parser.error(f"--rounds: {spec!r} is not pg:N or sqlite:1")
        rounds.append((kind, int(count)))
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    print(
        f"{machine()}; {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; n={args.n:,}, "
        f"{args.duration:.0f} s per phase, {args.publishers} publisher processes"
    )
    from tests.support.nats import NatsServer
    from tests.support.postgres import PostgresServer

    reports = []
    with PostgresServer() as pg, NatsServer() as server:
        if server.process is None:
            raise RuntimeError("nats-server did not start")
        args.nats_pid = server.process.pid
        args.nats_url = server.url
        for kind, consoles in rounds:
            reports.append(asyncio.run(round_(args, kind, consoles, pg)))
            print_round(reports[-1])
            if args.json:
                Path(args.json).write_text(json.dumps(reports, indent=2))


if __name__ == "__main__":
    main()
