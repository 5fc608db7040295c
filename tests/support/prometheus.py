"""A real Prometheus server (Debian's ``prometheus`` package) on a free loopback port.

::

    with PrometheusServer(tmp_path, targets=["127.0.0.1:8000"]) as prometheus:
        prometheus.query('up{job="app"}')

It keeps its configuration and data in ``workdir``, so it never touches a
system-wide Prometheus (or the service the Debian package installs).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from tests.support.server import free_port, stop_process

CONFIG = """\
global:
  scrape_interval: {interval}
  scrape_timeout: {interval}
scrape_configs:
  - job_name: app
    metrics_path: {path}
{authorization}    static_configs:
      - targets: [{targets}]
"""


class PrometheusServer:
    def __init__(
        self,
        workdir: Path,
        *,
        targets: Sequence[str],
        path: str = "/actuator/prometheus",
        interval: str = "1s",
        startup_timeout: float = 30.0,
        bearer_token: str | None = None,
    ) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError(
                "prometheus is not installed: apt-get install prometheus (.ci/run does it)"
            )
        self.binary = binary
        self.workdir = workdir
        authorization = (
            ""
            if bearer_token is None
            else f"    authorization:\n      type: Bearer\n      credentials: {bearer_token}\n"
        )
        self.config = CONFIG.format(
            interval=interval,
            path=path,
            authorization=authorization,
            targets=", ".join(f'"{t}"' for t in targets),
        )
        self.startup_timeout = startup_timeout
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PrometheusServer:
        config = self.workdir / "prometheus.yml"
        config.write_text(self.config)
        self.port = free_port()
        self.log = (self.workdir / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [
                self.binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited during startup:\n{self.output}")
            try:
                if httpx.get(self.url + "/-/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"prometheus did not become ready in time:\n{self.output}")

    @property
    def output(self) -> str:
        return (self.workdir / "prometheus.log").read_text(errors="replace")

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant vector of ``promql``: ``[{"metric": {...}, "value": [ts, "1"]}, ...]``."""
        response = httpx.get(self.url + "/api/v1/query", params={"query": promql}, timeout=5)
        response.raise_for_status()
        body = response.json()
        if body["status"] != "success":
            raise RuntimeError(f"query {promql!r} failed: {body}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def stop(self) -> None:
        stop_process(self.process)
        self.log.close()

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
