"""``actuator fleet serve`` as a real process (uvicorn), and the CLI reading it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx

from actuator import hash_token
from tests.fleet.fleetrun import serve_console
from tests.fleet.support import INGEST, INGEST_TOKEN, READ, READ_TOKEN, register, status
from tests.support.server import UvicornProcess

CONFIG = """\
sweep_interval = 1

[ingest_tokens]
gateway = "{ingest}"

[settings.security]
tokens = {{ ops = "{read}" }}
roles.read = ["ops"]

[settings.health]
show_details = "always"
"""


def fleet_config(tmp_path: Path) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(CONFIG.format(ingest=hash_token(INGEST_TOKEN), read=hash_token(READ_TOKEN)))
    return path


def console(tmp_path: Path, database: str) -> UvicornProcess:
    return serve_console(fleet_config(tmp_path), database)


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "actuator", "fleet", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_serve_ingests_and_the_cli_lists_with_filters(tmp_path: Path, database_url: str) -> None:
    with console(tmp_path, database_url) as server:
        updates = [register(f"orders-{i}", team="orders") for i in range(3)]
        updates += [register("billing-0", service="billing", team="money")]
        updates += [status("orders-1", "DOWN", ["db"])]
        answer = httpx.post(
            server.url + "/fleet/api/ingest", json={"updates": updates}, headers=INGEST, timeout=10
        )
        assert answer.json() == {"accepted": 5, "unknown": [], "changes": 5}
        health = httpx.get(server.url + "/actuator/health", timeout=10).json()
        assert health["components"]["fleetDatabase"]["status"] == "UP"

        env = {
            "ACTUATOR_FLEET_URL": server.url,
            "ACTUATOR_FLEET_TOKEN": READ_TOKEN,
            "COLUMNS": "200",
        }
        table = cli(
            "instances",
            "--where",
            "team=orders",
            "--where",
            "environment=prod",
            "--status",
            "DOWN",
            env=env,
        )
        assert table.returncode == 0, table.stderr
        assert "orders-1" in table.stdout
        assert "DOWN" in table.stdout
        assert "orders-0" not in table.stdout
        assert "1-1 of 1" in table.stdout

        listed = cli("groups", "--json", env=env)
        page = json.loads(listed.stdout)
        assert [(g["name"], g["status"]) for g in page["items"]] == [
            ("orders/prod/shop", "DOWN"),
            ("billing/prod/shop", "UP"),
        ]
        counts = cli("counts", env=env)
        assert "total" in counts.stdout

        refused = cli(
            "groups",
            env={
                "ACTUATOR_FLEET_URL": server.url,
                "ACTUATOR_FLEET_TOKEN": "wrong-token-0123456789abcdef",
            },
        )
        assert refused.returncode == 2
        assert "the console answered 401" in refused.stderr
        assert "wrong-token" not in refused.stderr


def test_the_cli_says_when_the_console_is_unreachable(tmp_path: Path) -> None:
    result = cli("groups", "--url", "http://127.0.0.1:9", "--timeout", "2")
    assert result.returncode == 2
    assert "cannot reach the console at http://127.0.0.1:9" in result.stderr


def test_serve_refuses_a_bad_database_url(tmp_path: Path) -> None:
    result = cli("serve", "--database", "mysql://x/y", "--check")
    assert result.returncode == 2
    assert "database: unsupported URL scheme 'mysql'" in result.stderr


def test_serve_check_names_a_bad_setting(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text('disconnect_after = -1\n[ingest_tokens]\nx = "plain-token"\n')
    result = cli("serve", "--config", str(path), "--check")
    assert result.returncode == 2
    assert "disconnect_after" in result.stderr
    assert "ingest_tokens" in result.stderr


def test_a_killed_console_loses_nothing_it_acknowledged(tmp_path: Path, database_url: str) -> None:
    acknowledged: list[str] = []
    stop = threading.Event()

    def push(url: str) -> None:
        with httpx.Client(timeout=5) as client:
            n = 0
            while not stop.is_set():
                batch = [register(f"i{n + k}", n=n + k) for k in range(50)]
                try:
                    answer = client.post(
                        url + "/fleet/api/ingest", json={"updates": batch}, headers=INGEST
                    )
                except httpx.HTTPError:
                    return  # the console died mid-request: that batch was never acknowledged
                if answer.status_code == 200:
                    acknowledged.extend(u["id"] for u in batch)
                n += 50

    server = console(tmp_path, database_url).start()
    pusher = threading.Thread(target=push, args=(server.url,))
    pusher.start()
    try:
        while len(acknowledged) < 500:
            pusher.join(0.05)
        server.signal(signal.SIGKILL)
        assert server.wait(timeout=10) == -signal.SIGKILL
    finally:
        stop.set()
        pusher.join(10)
        server.stop()

    with console(tmp_path, database_url) as restarted:
        total = httpx.get(restarted.url + "/fleet/api/counts", headers=READ, timeout=10).json()[
            "instances"
        ]["total"]
        assert total >= len(acknowledged) >= 500
        found: set[str] = set()
        offset = 0
        while offset < total:
            page: dict[str, Any] = httpx.get(
                restarted.url + "/fleet/api/instances",
                headers=READ,
                timeout=10,
                params={"limit": 500, "offset": offset},
            ).json()
            found.update(item["id"] for item in page["items"])
            offset += 500
        assert set(acknowledged) <= found
