"""The sidecar: ``actuator serve --config actuator.toml``, validated and run for real."""

from __future__ import annotations

import http.server
import re
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from actuator import generate_token, hash_token
from actuator.cli import main
from actuator.servers.sidecar import build_actuator, load_config, parse_config
from tests.support.server import UvicornProcess


class SidecarProcess(UvicornProcess):
    """``python -m actuator serve --config <config>`` on a free port."""

    def __init__(
        self, config: str, *, args: list[str] | tuple[str, ...] = (), **kwargs: Any
    ) -> None:
        command = [
            sys.executable,
            "-m",
            "actuator",
            "serve",
            "--config",
            config,
            "--port",
            "0",
            *args,
        ]
        super().__init__(config, command=command, **kwargs)


class Upstream(http.server.BaseHTTPRequestHandler):
    """The process the sidecar watches: answers /healthz with ``server.status``."""

    def do_GET(self) -> None:
        status = getattr(self.server, "status", 200)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


CONFIG = """
[server]
host = "127.0.0.1"

[settings]
exposure.include = ["health", "info"]
health.show_details = "when_authorized"
health.deadline = 10
security.tokens = {{ monitoring = "{token_hash}" }}
security.roles.read = ["monitoring"]

[info.team]
owner = "payments"

[indicators.web]
type = "http"
url = "http://127.0.0.1:{port}/healthz"
groups = ["readiness"]

[indicators.web-port]
type = "tcp"
host = "127.0.0.1"
port = {port}

[indicators.heartbeat]
type = "file"
path = "{heartbeat}"
max_age = 600

[indicators.script]
type = "command"
command = ["{python}", "-c", "print('all good')"]
timeout = 8

[indicators.disk]
type = "disk"
path = "{folder}"
threshold = 1
"""


def write_config(folder: Path, port: int, token: str) -> Path:
    heartbeat = folder / "heartbeat"
    heartbeat.touch()
    path = folder / "actuator.toml"
    path.write_text(
        CONFIG.format(
            token_hash=hash_token(token),
            port=port,
            heartbeat=heartbeat,
            python=sys.executable,
            folder=folder,
        )
    )
    return path


def test_the_sidecar_watches_a_real_http_server(
    tmp_path: Path, upstream: http.server.ThreadingHTTPServer
) -> None:
    token = generate_token()
    config = write_config(tmp_path, upstream.server_address[1], token)
    auth = {"Authorization": f"Bearer {token}"}
    with SidecarProcess(str(config)) as sidecar:
        health = httpx.get(f"{sidecar.url}/actuator/health", headers=auth, timeout=15)
        anonymous = httpx.get(f"{sidecar.url}/actuator/health", timeout=15)
        info = httpx.get(f"{sidecar.url}/actuator/info", headers=auth, timeout=15)
        ready = httpx.get(f"{sidecar.url}/actuator/health/readiness", timeout=15)
        upstream.status = 500  # type: ignore[attr-defined]
        failing = httpx.get(f"{sidecar.url}/actuator/health/readiness", headers=auth, timeout=15)
        sidecar.signal(signal.SIGTERM)
        code = sidecar.wait(timeout=20)
    components = health.json()["components"]
    assert health.status_code == 200, health.text
    assert {
        name: components[name]["status"]
        for name in ("web", "web-port", "heartbeat", "script", "disk")
    } == dict.fromkeys(("web", "web-port", "heartbeat", "script", "disk"), "UP")
    assert components["script"]["details"]["output"] == "all good"
    assert set(anonymous.json()) == {"status", "groups"}
    assert info.json()["team"] == {"owner": "payments"}
    assert (ready.status_code, ready.json()["status"]) == (200, "UP")
    assert failing.status_code == 503
    assert failing.json()["components"]["web"]["details"]["status"] == 500
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert code == -signal.SIGTERM
    assert "Application shutdown complete" in sidecar.output


def test_serve_has_its_own_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--help"])
    assert exit_info.value.code == 0
    assert "--config" in capsys.readouterr().out


def test_check_accepts_a_valid_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, 8080, generate_token())
    assert main(["serve", "--config", str(config), "--check"]) == 0
    assert capsys.readouterr().out.strip().endswith(": OK")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[indicators.web]\ntype = "http"\n', r"indicators\.web\.url: Field required"),
        ('[indicators.x]\ntype = "smtp"\n', r"indicators\.x: .*'smtp'.*does not match"),
        (
            '[indicators.db]\ntype = "tcp"\nhost = "db"\nport = 70000\n',
            r"indicators\.db\.port: Input should be less than or equal to 65535",
        ),
        ('[indicators.job]\ntype = "command"\ncommand = []\n', r"indicators\.job\.command"),
        (
            '[indicators.web]\ntype = "http"\nurl = "not a url"\n',
            r"indicators\.web: HttpIndicator url .not a url.",
        ),
        (
            '[indicators.web]\ntype = "http"\nurl = "http://x"\ngroups = ["nope"]\n',
            r"indicators\.web: .*unknown group",
        ),
        ("[settings]\nhealth.timeout = -1\n", r"settings\.health\.timeout"),
        ('[settings]\nexposure.inclde = ["info"]\n', r"settings\.exposure\.inclde: Extra inputs"),
        ('[server]\nport = "http"\n', r"server\.port"),
        ('[server]\nclient_certs = "required"\n', r"server: .*needs ssl_certfile"),
        ("[servr]\n", r"servr: Extra inputs are not permitted"),
        ("[server\n", r"invalid TOML"),
    ],
)
def test_bad_configs_are_refused_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    config = tmp_path / "actuator.toml"
    config.write_text(text)
    assert main(["serve", "--config", str(config), "--check"]) == 2
    error = capsys.readouterr().err
    assert str(config) in error
    assert re.search(message, error), error
    assert "Traceback" not in error


def test_a_missing_config_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "cannot read the config file" in capsys.readouterr().err


async def test_info_sections_from_the_file_replace_built_in_ones() -> None:
    actuator = build_actuator(
        parse_config(
            {
                "info": {"app": {"name": "legacy-billing"}},
                "settings": {"info": {"build_file": None}},
            }
        )
    )
    info = await actuator.info()
    assert info["app"] == {"name": "legacy-billing"}
    assert "python" in info


def test_a_config_loads_from_toml(tmp_path: Path) -> None:
    config = write_config(tmp_path, 8080, generate_token())
    loaded = load_config(config)
    assert sorted(loaded.indicators) == ["disk", "heartbeat", "script", "web", "web-port"]
    assert loaded.indicators["web"].groups == ["readiness"]
