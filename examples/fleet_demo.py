"""A fleet console with a few instances in it, within a minute. ``make fleet-demo`` runs it.

::

    python examples/fleet_demo.py            # console on :8090, the orders app on :8000

It starts ``actuator fleet serve`` on a fresh SQLite file, registers 40
simulated instances of four services (two environments, two versions of one
of them mid-rollout, a few DOWN or paused, one that falls silent and turns
DISCONNECTED after a minute), and starts the example orders app
(``examples/fastapi_app.py``) pushing its own status to the console. It
prints the commands to look at the fleet and keeps the simulated instances
heartbeating until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from actuator import generate_token, hash_token

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {"orders": "shop", "billing": "shop", "search": "catalog", "gateway": "edge"}


def simulated() -> list[dict[str, Any]]:
    rng = random.Random(7)
    updates = []
    for n in range(40):
        service = list(SERVICES)[n % 4]
        environment = "prod" if n < 28 else "staging"
        version = "2.3.0" if service != "orders" else ("2.4.0" if n % 3 else "2.3.1")
        status = "UP"
        components: list[str] = []
        if n in (5, 21):
            status, components = "DOWN", ["db"]
        elif n == 14:
            status, components = "OUT_OF_SERVICE", ["readinessState"]
        updates.append(
            {
                "type": "register",
                "id": f"{service}-{environment}-{n:02d}",
                "status": status,
                "components": components,
                "service": service,
                "version": version,
                "url": f"http://10.0.{n // 10}.{rng.randrange(2, 250)}:8080/actuator",
                "facts": {
                    "environment": environment,
                    "application": SERVICES[service],
                    "team": service,
                    "region": ("eu-west", "us-east")[n % 2],
                },
            }
        )
    return updates


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up within {timeout}s")


def main() -> None:
    parser = argparse.ArgumentParser(description="The fleet console demo.")
    parser.add_argument("--console-port", type=int, default=8090)
    parser.add_argument("--app-port", type=int, default=8000)
    args = parser.parse_args()

    ingest_token, read_token = generate_token(), generate_token()
    workdir = Path(tempfile.mkdtemp(prefix="fleet-demo-"))
    config = workdir / "fleet.toml"
    config.write_text(
        "disconnect_after = 60\nsweep_interval = 5\n"
        f'[ingest_tokens]\ndemo = "{hash_token(ingest_token)}"\n'
        f'[settings.security]\ntokens = {{ operator = "{hash_token(read_token)}" }}\n'
        f'roles.read = ["operator"]\n[settings.health]\nshow_details = "always"\n'
    )
    console_url = f"http://127.0.0.1:{args.console_port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "actuator",
                "fleet",
                "serve",
                "--config",
                str(config),
                "--database",
                f"sqlite:///{workdir / 'fleet.db'}",
                "--port",
                str(args.console_port),
                "--log-level",
                "warning",
            ],
            env=env,
        )
    ]
    try:
        wait_ready(console_url + "/actuator/health")
        headers = {"authorization": f"Bearer {ingest_token}"}
        fleet = simulated()
        httpx.post(
            console_url + "/fleet/api/ingest", json={"updates": fleet}, headers=headers, timeout=10
        ).raise_for_status()
        app_env = {
            **env,
            "ACTUATOR_FLEET__URL": console_url,
            "ACTUATOR_FLEET__TOKEN": ingest_token,
            "ACTUATOR_FLEET__INSTANCE_ID": "orders-demo-app",
            "ACTUATOR_FLEET__MANAGEMENT_URL": f"http://127.0.0.1:{args.app_port}/actuator",
        }
        children.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(ROOT / "examples" / "fastapi_app.py"),
                    "--port",
                    str(args.app_port),
                ],
                env=app_env,
                stdout=subprocess.DEVNULL,
            )
        )
        print(
            f"\nFleet console on {console_url}: {len(fleet)} simulated instances and the "
            f"orders app (http://127.0.0.1:{args.app_port}) pushing to it.\n"
        )
        print("Look at it:")
        print(f"  export ACTUATOR_FLEET_URL={console_url} ACTUATOR_FLEET_TOKEN={read_token}")
        print("  actuator fleet counts")
        print("  actuator fleet groups")
        print("  actuator fleet instances --where team=orders --status DOWN,OUT_OF_SERVICE")
        print("  actuator fleet instances --service orders --sort status --desc")
        print(
            f"  curl -H 'authorization: Bearer {read_token}' "
            f"{console_url}/fleet/api/instances/orders-demo-app"
        )
        print(
            "\nOne simulated instance (gateway-prod-03) falls silent: DISCONNECTED within a "
            "minute. Ctrl-C stops everything.\n",
            flush=True,
        )
        alive = [u["id"] for u in fleet if u["id"] != "gateway-prod-03"]
        status = {u["id"]: (u["status"], u["components"]) for u in fleet}
        while True:
            time.sleep(15)
            beats = [
                {"type": "status", "id": i, "status": status[i][0], "components": status[i][1]}
                for i in alive
            ]
            try:
                httpx.post(
                    console_url + "/fleet/api/ingest",
                    json={"updates": beats},
                    headers=headers,
                    timeout=10,
                )
            except httpx.HTTPError as exc:
                print(f"heartbeat failed: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        for child in reversed(children):
            child.send_signal(signal.SIGINT)
        for child in children:
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    main()
