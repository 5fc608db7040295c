"""The fleet store alone (no HTTP, no JSON parsing): where ingest and query time goes.

    python -m benchmarks.fleet_store sqlite:////tmp/fleet.db          # 100,000 instances
    python -m benchmarks.fleet_store postgresql://user@host/db -n 20000
    python -m benchmarks.fleet_store URL --root /path/to/other/checkout  # "before" figures

Registers N instances in batches of 1,000, then applies 100 batches of 1,000
status updates (1% of each changing status, the rest heartbeats) and times
the queries of ``benchmarks/fleet.py`` in-process (p50 and max of 20 rounds).
CPU is this process's (the SQLite engine runs in it; PostgreSQL's server
CPU is not counted). ``--root`` runs another checkout's ``actuator`` package
to compare with, in the same run and on the same database server.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from typing import Any


def _register(i: int) -> dict[str, Any]:
    return {
        "type": "register",
        "id": f"i{i:06d}",
        "status": "UP",
        "service": f"svc-{i % 500:03d}",
        "version": "1.0" if i % 10 else "1.1",
        "url": f"http://10.0.0.1:{i}/actuator",
        "facts": {
            "environment": "prod" if (i // 500) % 2 else "staging",
            "application": "shop",
            "team": f"team-{i % 50:02d}",
            "region": ("eu", "us", "ap")[i % 3],
        },
    }


async def run(url: str, n: int) -> None:
    from actuator.fleet.model import GroupQuery, InstanceQuery, InstanceUpdate
    from actuator.fleet.store import open_store

    store = open_store(url)
    await store.open()
    now = 1e9
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, n, 1000):
        batch = [InstanceUpdate(**_register(i)) for i in range(start, min(n, start + 1000))]
        await store.ingest(batch, now)
    print(
        f"registration: {n / (time.perf_counter() - wall):,.0f}/s, "
        f"{1e6 * (time.process_time() - cpu) / n:.0f} us CPU each"
    )
    rng = random.Random(1)
    statuses = ["UP"] * n
    batches, cursor = [], 0
    for _ in range(100):
        ids = [(cursor + k) % n for k in range(1000)]
        cursor = (cursor + 1000) % n
        for i in rng.sample(ids, 10):
            statuses[i] = "DOWN" if statuses[i] == "UP" else "UP"
        batches.append(
            [
                InstanceUpdate(
                    type="status",
                    id=f"i{i:06d}",
                    status=statuses[i],
                    components=["db"] if statuses[i] == "DOWN" else [],
                )
                for i in ids
            ]
        )
    cpu, wall = time.process_time(), time.perf_counter()
    for k, batch in enumerate(batches):
        await store.ingest(batch, now + 1 + k)
    done = 100 * 1000
    print(
        f"ingest: {done / (time.perf_counter() - wall):,.0f} updates/s, "
        f"{1e6 * (time.process_time() - cpu) / done:.1f} us CPU each"
    )
    queries = {
        "groups by status, first page": lambda: store.groups(GroupQuery(sort="status")),
        "instances where team + status": lambda: store.instances(
            InstanceQuery(facts={"team": "team-07"}, statuses=["DOWN"])
        ),
        "instances where region, by status": lambda: store.instances(
            InstanceQuery(facts={"region": "eu"}, sort="status", descending=True)
        ),
        "counts": store.counts,
    }
    for name, query in queries.items():
        await query()
        samples = []
        for _ in range(20):
            started = time.perf_counter()
            await query()
            samples.append((time.perf_counter() - started) * 1000)
        samples.sort()
        print(f"  {name:40s} p50 {samples[10]:6.1f} ms  max {samples[-1]:6.1f} ms")
    counts = await store.counts()
    expected = {s: statuses.count(s) for s in set(statuses)}
    print(
        f"counted back: {counts['instances']}; lost: {counts['instances']['statuses'] != expected}"
    )
    await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="sqlite:///path or postgresql://... (a fresh database)")
    parser.add_argument("-n", type=int, default=100_000, help="instances (default %(default)s)")
    parser.add_argument("--root", help="a checkout whose actuator package to measure")
    args = parser.parse_args()
    if args.root:
        sys.path.insert(0, args.root)
    asyncio.run(run(args.url, args.n))


if __name__ == "__main__":
    main()
