"""``make fleet-demo``: a console with simulated instances and the example app pushing."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from typing import Any

import httpx

from tests.support.server import ROOT, free_port, poll


def test_the_fleet_demo_shows_a_fleet_with_the_example_app_in_it() -> None:
    console_port, app_port = free_port(), free_port()
    demo = subprocess.Popen(
        [
            sys.executable,
            "examples/fleet_demo.py",
            "--console-port",
            str(console_port),
            "--app-port",
            str(app_port),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "ACTUATOR_HEALTH__EVENT_LOOP__ENABLED": "false",
        },
    )
    try:
        assert demo.stdout is not None
        lines = []
        for line in demo.stdout:
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        output = "".join(lines)
        token = re.search(r"ACTUATOR_FLEET_TOKEN=(\S+)", output)
        assert token is not None, output
        headers = {"authorization": f"Bearer {token.group(1)}"}
        url = f"http://127.0.0.1:{console_port}/fleet/api"

        def app_registered() -> dict[str, Any] | None:
            answer = httpx.get(url + "/instances/orders-demo-app", headers=headers, timeout=5)
            return answer.json() if answer.status_code == 200 else None

        app = poll(app_registered, timeout=60, interval=0.3)
        assert app["service"] == "orders"
        counts = httpx.get(url + "/counts", headers=headers, timeout=5).json()
        assert counts["instances"]["total"] == 41
        assert counts["instances"]["statuses"]["DOWN"] >= 2
        groups = httpx.get(url + "/groups", headers=headers, timeout=5).json()
        assert groups["items"][0]["status"] == "DOWN"
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait(10)
        if demo.stdout is not None:
            demo.stdout.close()
