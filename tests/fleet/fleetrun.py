"""A real fleet for end-to-end tests: ``actuator fleet serve`` and uvicorn instances pushing to it.

::

    with running_console(tmp_path) as console, instances(console, ["orders-1", "orders-2"]) as apps:
        wait_registered(console, 2)
        httpx.get(console.url + "/fleet/api/instances/orders-1/actuator/health", headers=READ)

The console reaches the instances with ``ACTUATOR_TOKEN`` (``[reach] token_env``);
each instance grants that token the full role, unless started with another.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from actuator import hash_token
from tests.fleet.support import INGEST_TOKEN, READ_TOKEN
from tests.support.server import UvicornProcess, free_port, poll

ACTUATOR_TOKEN = "console-to-instances-0123456789abcdef"
"""The console's credential on the instances (held in ``$FLEET_E2E_ACTUATOR_TOKEN``)."""
ADMIN_TOKEN = "admin-token-0123456789abcdefghijkl"
"""A console user with the full role (actions)."""
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}
TOKEN_ENV = "FLEET_E2E_ACTUATOR_TOKEN"

CONSOLE = """\
sweep_interval = 1

[ingest_tokens]
gateway = "{ingest}"

[reach]
timeout = {timeout}
token_env = "{token_env}"

[settings.security]
tokens = {{ ops = "{read}", admin = "{admin}" }}
roles.read = ["ops"]
roles.full = ["admin"]

[settings.health]
show_details = "always"
"""


def serve_console(
    config: Path, database: str, env: Mapping[str, str] | None = None
) -> UvicornProcess:
    """``actuator fleet serve`` as a real process on a free port, with ``config`` and
    ``database``; the event-loop watchdog off (a loaded test machine trips it)."""
    command = [
        sys.executable,
        "-m",
        "actuator",
        "fleet",
        "serve",
        "--config",
        str(config),
        "--database",
        database,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
    ]
    return UvicornProcess(
        "", command=command, env={"ACTUATOR_HEALTH__EVENT_LOOP__ENABLED": "false", **(env or {})}
    )


def console_process(
    tmp_path: Path, database: str | None = None, *, timeout: float = 2.0, extra: str = ""
) -> UvicornProcess:
    path = tmp_path / "fleet.toml"
    path.write_text(
        CONSOLE.format(
            ingest=hash_token(INGEST_TOKEN),
            read=hash_token(READ_TOKEN),
            admin=hash_token(ADMIN_TOKEN),
            timeout=timeout,
            token_env=TOKEN_ENV,
        )
        + extra
    )
    return serve_console(
        path, database or f"sqlite:///{tmp_path / 'fleet.db'}", {TOKEN_ENV: ACTUATOR_TOKEN}
    )


def instance_process(
    console_url: str,
    instance_id: str,
    *,
    service: str = "orders",
    facts: Mapping[str, str] | None = None,
    token: str = ACTUATOR_TOKEN,
    env: Mapping[str, str] | None = None,
) -> UvicornProcess:
    """An app with the actuator on a free port, pushing to ``console_url`` as ``instance_id``."""
    port = free_port()
    variables = {
        "APP_NAME": service,
        "ACTUATOR_FLEET__URL": console_url,
        "ACTUATOR_FLEET__TOKEN": INGEST_TOKEN,
        "ACTUATOR_FLEET__INSTANCE_ID": instance_id,
        "ACTUATOR_FLEET__MANAGEMENT_URL": f"http://127.0.0.1:{port}/actuator",
        "ACTUATOR_FLEET__CHECK_INTERVAL": "0.2",
        "ACTUATOR_FLEET__HEARTBEAT": "2",
        "ACTUATOR_EXPOSURE__INCLUDE": "health,info,ping,loggers,pause,resume,flip,shutdown",
        "ACTUATOR_ACCESS__DEFAULT": "unrestricted",
        "ACTUATOR_SECURITY__TOKENS": json.dumps({"fleet": hash_token(token)}),
        "ACTUATOR_SECURITY__ROLES__FULL": '["fleet"]',
        "ACTUATOR_SECURITY__ANONYMOUS": "health",
        "ACTUATOR_INFO__FACTS": json.dumps({"environment": "prod", **(facts or {})}),
        "ACTUATOR_HEALTH__EVENT_LOOP__ENABLED": "false",
        "ACTUATOR_HEALTH__DISK_SPACE__ENABLED": "false",
        "ACTUATOR_SHUTDOWN__ENABLED": "true",
        "ACTUATOR_SHUTDOWN__DRAIN_PERIOD": "0.2",
        "ACTUATOR_SHUTDOWN__MAX_JITTER": "0.1",
        **(env or {}),
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "tests.fleet.instance_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    return UvicornProcess("", command=command, env=variables)


@contextlib.contextmanager
def started(processes: Sequence[UvicornProcess]) -> Iterator[list[UvicornProcess]]:
    """Start them all at once (each takes a second or so), stop them all at the end."""
    with ThreadPoolExecutor(max_workers=max(1, len(processes))) as pool:
        futures = [pool.submit(p.start) for p in processes]
        try:
            for future in futures:
                future.result()
            yield list(processes)
        finally:
            for process in processes:
                process.stop()


def api(console_url: str, path: str, headers: Mapping[str, str], **params: Any) -> dict[str, Any]:
    answer = httpx.get(
        console_url + "/fleet/api" + path, headers=headers, params=params, timeout=10
    )
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


def wait_statuses(
    console_url: str, expected: Mapping[str, str], headers: Mapping[str, str], timeout: float = 30
) -> None:
    """Until the console shows each instance id with its expected status."""

    def check() -> bool | None:
        page = api(console_url, "/instances", headers, limit=500)
        shown = {item["id"]: item["status"] for item in page["items"]}
        return True if all(shown.get(i) == s for i, s in expected.items()) else None

    poll(check, timeout=timeout, interval=0.1)
