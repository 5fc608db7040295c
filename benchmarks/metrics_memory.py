"""Issue 10 benchmark: the server's memory stays flat over a million instrumented requests.

A real uvicorn (one worker) serves ``benchmarks.metrics_apps.starlette_routes_actuator``:
150 routes behind the actuator's defaults, so the first 100 route templates
get their own series and the other 50 land in ``uri="OVERFLOW"``
(``metrics.max_uri_tags``). wrk cycles through every route with a different
item id per request; the server's RSS is read after each slice of requests.
Flat means: after the first slice (imports done, every series created), RSS
grows by less than a megabyte, however many requests follow.

::

    python -m benchmarks.metrics_memory                  # 1,000,000 requests
    python -m benchmarks.metrics_memory --requests 200000
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._harness import machine, rss_bytes
from benchmarks.metrics_apps import ROUTES
from tests.support.server import UvicornProcess

SCRIPT = """
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/r" .. (counter %% %d) .. "/" .. counter)
end
"""


def run_slice(url: str, script: Path, seconds: int) -> int:
    """Requests wrk completed in one slice of ``seconds``."""
    out = subprocess.run(
        ["wrk", "-t1", "-c32", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"error responses:\n{out}")
    match = re.search(r"(\d+) requests in", out)
    if match is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    return int(match.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--slice", type=int, default=10, help="seconds per wrk run")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    print(f"Memory over {args.requests:,} requests across {ROUTES} routes: {machine()}\n")
    with (
        tempfile.TemporaryDirectory() as tmp,
        UvicornProcess(
            "benchmarks.metrics_apps:starlette_routes_actuator",
            args=["--factory", "--no-access-log", "--workers", "1"],
        ) as server,
    ):
        script = Path(tmp) / "routes.lua"
        script.write_text(SCRIPT % ROUTES)
        assert server.process is not None
        pid = server.process.pid
        print("| requests served | RSS MB |")
        print("|---|---|")
        print(f"| 0 | {rss_bytes(pid) / 2**20:.1f} |", flush=True)
        done = 0
        while done < args.requests:  # each row as it comes: a long run shows its progress
            done += run_slice(server.url, script, args.slice)
            print(f"| {done:,} | {rss_bytes(pid) / 2**20:.1f} |", flush=True)
        scrape = subprocess.run(
            ["curl", "-s", server.url + "/actuator/prometheus"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
    series = len(set(re.findall(r'uri="([^"]*)"', scrape)))
    print(f"\nDistinct uri values in the scrape: {series} (100 routes + OVERFLOW expected)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
