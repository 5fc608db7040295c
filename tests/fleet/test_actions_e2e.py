"""Actions against real instances: uvicorn processes with the actuator, pushing to a real console.

One fleet for the module (a console and four instances; starting processes is
the slow part): a dry run, a staged pause that succeeds and the resume, a
rollout that stops on a refusing and an unreachable instance, the CLI with
its table and journal, and a console killed mid-action whose journal says so
after the restart.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from actuator.cli import main
from tests.fleet.fleetrun import (
    ACTUATOR_TOKEN,
    ADMIN,
    ADMIN_TOKEN,
    api,
    console_process,
    instance_process,
    started,
    wait_statuses,
)
from tests.fleet.support import INGEST, READ, register
from tests.support.server import UvicornProcess, poll

ACTIONS = """
[actions]
poll_interval = 0.1
heartbeat = 0.3
stale_after = 1.5
"""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UvicornProcess]:
    """A console, three instances in ring a, one that refuses the console's token in ring b,
    and a registered instance nobody answers for."""
    tmp_path = tmp_path_factory.mktemp("fleet")
    with console_process(tmp_path, timeout=1.0, extra=ACTIONS) as console:
        instances = [
            instance_process(console.url, f"orders-{n}", facts={"team": "orders", "ring": "a"})
            for n in (1, 2, 3)
        ]
        instances.append(
            instance_process(
                console.url,
                "orders-4",
                facts={"team": "orders", "ring": "b"},
                token="not-the-console-token-0123456789",
            )
        )
        with started(instances):
            wait_statuses(console.url, {f"orders-{n}": "UP" for n in range(1, 5)}, READ)
            gone = register("orders-9", team="orders", ring="b")
            gone["url"] = f"http://127.0.0.1:{closed_port()}/actuator"
            httpx.post(
                console.url + "/fleet/api/ingest", json={"updates": [gone]}, headers=INGEST
            ).raise_for_status()
            yield console
    assert ACTUATOR_TOKEN not in console.output


def act(console: UvicornProcess, **body: Any) -> httpx.Response:
    return httpx.post(console.url + "/fleet/api/actions", json=body, headers=ADMIN, timeout=10)


def finished(console: UvicornProcess, action_id: str, timeout: float = 30) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        found = api(console.url, f"/actions/{action_id}", READ)
        return None if found["state"] == "running" else found

    return poll(check, timeout=timeout, interval=0.1)


def paused(console: UvicornProcess, instance: str) -> bool:
    answer = api(console.url, f"/instances/{instance}/actuator/pause", READ)
    return bool(answer["paused"])


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def cli(console: UvicornProcess, *args: str, token: str = ADMIN_TOKEN) -> Ran:
    """``actuator fleet ...`` run in this process (starting Python a dozen times is slow)."""
    out, err = io.StringIO(), io.StringIO()
    variables = {"ACTUATOR_FLEET_TOKEN": token, "COLUMNS": "200"}
    before = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["fleet", *args, "--url", console.url])
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return Ran(code, out.getvalue(), err.getvalue())


def test_a_dry_run_then_a_staged_pause_that_succeeds_and_the_resume(
    fleet: UvicornProcess,
) -> None:
    preview = act(fleet, action="pause", facts={"ring": "a"}, canary=1, batch=1, dry_run=True)
    assert preview.status_code == 200
    assert [s["instances"] for s in preview.json()["stages"]] == [
        ["orders-1"],
        ["orders-2"],
        ["orders-3"],
    ]
    assert not paused(fleet, "orders-1")

    answer = act(fleet, action="pause", facts={"ring": "a"}, canary=1, batch=1, reason="e2e")
    assert answer.status_code == 202, answer.text
    found = finished(fleet, answer.json()["id"])
    assert found["state"] == "succeeded", found
    assert [s["state"] for s in found["stages"]] == ["succeeded"] * 3
    times = [row["time"] for row in found["results"]["items"]]
    assert times == sorted(times)  # one batch after the other
    assert all(paused(fleet, f"orders-{n}") for n in (1, 2, 3))
    # The instances pushed their new state to the console themselves.
    wait_statuses(fleet.url, {f"orders-{n}": "OUT_OF_SERVICE" for n in (1, 2, 3)}, READ)

    found = finished(fleet, act(fleet, action="resume", facts={"ring": "a"}).json()["id"])
    assert found["state"] == "succeeded", found
    assert {row["detail"] for row in found["results"]["items"]} == {"health UP"}
    assert not any(paused(fleet, f"orders-{n}") for n in (1, 2, 3))


def test_a_rollout_stops_on_a_refusing_and_an_unreachable_instance_and_says_which(
    fleet: UvicornProcess,
) -> None:
    answer = act(fleet, action="pause", service="orders", canary=1, batch=2, max_failures=1)
    found = finished(fleet, answer.json()["id"])
    try:
        assert found["state"] == "stopped"
        assert found["failed"] == ["orders-4", "orders-9"]
        assert found["reason"] == (
            "2 of 5 instances failed, more than the limit of 1: orders-4, orders-9"
        )
        rows = {row["instance"]: row for row in found["results"]["items"]}
        assert "refused the console's credentials (401)" in rows["orders-4"]["detail"]
        assert "'orders-9' is unreachable" in rows["orders-9"]["detail"]
        assert [rows[f"orders-{n}"]["result"] for n in (1, 2, 3)] == ["succeeded"] * 3
    finally:
        finished(fleet, act(fleet, action="resume", facts={"ring": "a"}).json()["id"])


def test_the_cli_acts_with_a_progress_bar_and_a_table_and_shows_the_journal(
    fleet: UvicornProcess,
) -> None:
    dry = cli(fleet, "loglevel", "uvicorn.error", "debug", "--where", "ring=a", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run: loglevel on 3 instances" in dry.stdout
    assert "orders-3" in dry.stdout

    run = cli(fleet, "loglevel", "uvicorn.error", "debug", "--where", "ring=a", "--batch", "50%")
    assert run.returncode == 0, run.stderr
    assert "succeeded (3 succeeded, 0 failed, 0 skipped of 3)" in run.stdout
    assert "uvicorn.error at DEBUG" in run.stdout
    level = api(fleet.url, "/instances/orders-2/actuator/loggers/uvicorn.error", READ)
    assert level["configuredLevel"] == "DEBUG"
    reset = cli(fleet, "loglevel", "uvicorn.error", "--reset", "--where", "ring=a")
    assert reset.returncode == 0, reset.stderr

    # One batch at a time: the first failure is more than the limit of 0, the rest is skipped.
    stopped = cli(fleet, "flip", "--where", "ring=b", "--canary", "0", "--batch", "1")
    assert stopped.returncode == 1
    assert "stopped: 1 of 2 instances failed, more than the limit of 0: orders-4" in stopped.stdout
    assert "skipped" in stopped.stdout

    journal = cli(fleet, "journal", "--limit", "3")
    assert journal.returncode == 0, journal.stderr
    assert journal.stdout.count("admin") == 3
    assert "flip" in journal.stdout
    assert "stopped" in journal.stdout
    latest = api(fleet.url, "/actions", READ, limit=1)["items"][0]
    detail = cli(fleet, "journal", latest["id"])
    assert detail.returncode == 0
    assert "orders-4" in detail.stdout

    for bad, words in (
        (["pause", "--where", "ring"], "--where takes FACT=VALUE"),
        (["pause", "--where", "ring=a", "--batch", "ten"], "--batch takes a count"),
        (["pause", "--where", "ring=nowhere"], "matches no instance"),
        (["pause"], "name at least one of"),
        (["loglevel", "ROOT", "--where", "ring=a"], "a LEVEL or --reset"),
    ):
        refused = cli(fleet, *bad)
        assert refused.returncode == 2, (bad, refused.stdout)
        assert words in refused.stderr
    reader = cli(fleet, "pause", "--where", "ring=a", token="reader-token-0123456789abcdefghij")
    assert reader.returncode == 2
    assert "403" in reader.stderr
    assert not paused(fleet, "orders-1")


def test_an_action_interrupted_by_a_console_restart_is_marked_so(tmp_path: Path) -> None:
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(16)
    database = f"sqlite:///{tmp_path / 'fleet.db'}"
    with hung:
        console = console_process(tmp_path, database, timeout=30.0, extra=ACTIONS).start()
        try:
            target = register("hung-1")
            target["url"] = f"http://127.0.0.1:{hung.getsockname()[1]}/actuator"
            httpx.post(
                console.url + "/fleet/api/ingest", json={"updates": [target]}, headers=INGEST
            ).raise_for_status()
            answer = act(console, action="pause", instances=["hung-1"], batch_deadline=600)
            action_id = answer.json()["id"]
            assert api(console.url, f"/actions/{action_id}", READ)["state"] == "running"
            console.signal(signal.SIGKILL)
            console.wait(timeout=10)
        finally:
            console.stop()
        with console_process(tmp_path, database, extra=ACTIONS) as again:

            def ended() -> dict[str, Any] | None:
                found = api(again.url, f"/actions/{action_id}", READ)
                return None if found["state"] == "running" else found

            found = poll(ended, timeout=20, interval=0.2)
    assert found["state"] == "failed"
    assert found["reason"] == "interrupted: the console running it stopped"
    assert found["results"]["items"][0]["result"] == "interrupted"
    assert found["by"] == "admin"
