"""Memory under a burst of HTTP basic attempts: the app and the sidecar, before and after.

Issue 8 measured it: 20 concurrent anonymous Basic attempts on ``/actuator/health``
(each an scrypt check of 16 MiB) grew the app by about 100 MiB and took the
sidecar (``actuator serve``) to a 144 MiB peak, above the 96Mi limit of the
README's Kubernetes example. This runs the same burst against a source tree
(default: this one) and, with ``--baseline TREE``, against another (an export
of the code before the fix), interleaved, and prints RSS before and after the
burst and the peak (VmHWM) of each process.

::

    git archive <commit> | tar -x -C /tmp/base
    python -m benchmarks.auth_memory --baseline /tmp/base --rounds 3

Loopback only. Two bursts per round: on ``/actuator/health`` (anonymous,
details hidden: no password needs checking) and on ``/actuator/info`` (needs
the read role: every password is checked, at most ``max_password_checks`` at once).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from actuator.security.credentials import hash_password
from tests.support.server import ROOT, UvicornProcess

ATTEMPTS = 20
PASSWORD_HASH = hash_password("correct horse battery staple")  # the default cost: 16 MiB
SETTINGS = {
    "exposure": {"include": ["health", "info"]},
    "security": {"users": {"ops": PASSWORD_HASH}, "roles": {"read": ["ops"]}},
    "info": {"build_file": None},
}
APP = """
from actuator import Actuator

async def plain(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})

app = Actuator(name="bench").wrap(plain)
"""
SIDECAR = """
[server]
host = "127.0.0.1"
port = 0
"""


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of ``pid`` in KiB."""
    found = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    return found


def _launcher(tree: Path, module: str, args: list[str]) -> list[str]:
    # The tree goes first on sys.path, ahead of the ROOT that UvicornProcess adds.
    code = (
        f"import runpy, sys; sys.path.insert(0, {str(tree)!r}); "
        f"sys.argv = [{module!r}, *{args!r}]; runpy.run_module({module!r}, "
        f"run_name='__main__', alter_sys=True)"
    )
    return [sys.executable, "-c", code]


@contextmanager
def app_server(tree: Path, workdir: Path) -> Iterator[UvicornProcess]:
    env = {"ACTUATOR_" + key.upper(): json.dumps(value) for key, value in SETTINGS.items()}
    env["PYTHONPATH"] = str(workdir)
    command = _launcher(tree, "uvicorn", ["authmem_app:app", "--port", "0", "--no-access-log"])
    with UvicornProcess("authmem_app:app", command=command, env=env, cwd=workdir) as server:
        yield server


@contextmanager
def sidecar_server(tree: Path, workdir: Path) -> Iterator[UvicornProcess]:
    env = {"ACTUATOR_" + key.upper(): json.dumps(value) for key, value in SETTINGS.items()}
    command = _launcher(
        tree,
        "actuator",
        ["serve", "--config", str(workdir / "sidecar.toml"), "--port", "0", "--log-level", "info"],
    )
    with UvicornProcess("sidecar", command=command, env=env, cwd=workdir) as server:
        yield server


async def burst(url: str, path: str) -> dict[int, int]:
    """``ATTEMPTS`` concurrent requests with wrong Basic passwords; answers by status."""

    async def attempt(client: httpx.AsyncClient, i: int) -> int:
        raw = base64.b64encode(f"ops:guess-{i}".encode()).decode()
        answer = await client.get(url + path, headers={"Authorization": f"Basic {raw}"})
        return answer.status_code

    limits = httpx.Limits(max_connections=ATTEMPTS)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        codes = await asyncio.gather(*(attempt(client, i) for i in range(ATTEMPTS)))
    counted: dict[int, int] = {}
    for code in codes:
        counted[code] = counted.get(code, 0) + 1
    return dict(sorted(counted.items()))


def measure(server: UvicornProcess) -> dict[str, object]:
    pid = server.process.pid if server.process else 0
    before = memory(pid)
    figures: dict[str, object] = {"rss_before_kib": before["VmRSS"]}
    for path in ("/actuator/health", "/actuator/info"):
        figures[path] = asyncio.run(burst(server.url, path))
        time.sleep(0.5)
        figures[f"rss_after_{path.rsplit('/', 1)[1]}_kib"] = memory(pid)["VmRSS"]
    figures["peak_kib"] = memory(pid)["VmHWM"]
    return figures


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--baseline", type=Path, help="another source tree to compare")
    options.add_argument("--rounds", type=int, default=2)
    args = options.parse_args()
    trees = {"this": ROOT}
    if args.baseline:
        trees["baseline"] = args.baseline.resolve()
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, nproc={os.cpu_count()}, "
        f"{cpu}, Python {platform.python_version()}, {ATTEMPTS} concurrent attempts"
    )
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "authmem_app.py").write_text(textwrap.dedent(APP))
        (workdir / "sidecar.toml").write_text(SIDECAR)
        for round_number in range(args.rounds):
            for name, tree in trees.items():
                for kind, start in (("app", app_server), ("sidecar", sidecar_server)):
                    with start(tree, workdir) as server:
                        figures = measure(server)
                    print(
                        json.dumps(
                            {"round": round_number, "tree": name, "process": kind, **figures}
                        )
                    )


if __name__ == "__main__":
    main()
