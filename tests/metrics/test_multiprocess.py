"""Forgetting the live gauges of workers that are gone, on every server and from gunicorn's hook."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from actuator.metrics.multiprocess import forget_dead_workers
from actuator.servers.gunicorn import child_exit


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def test_live_gauges_of_dead_workers_go_and_everything_else_stays(tmp_path: Path) -> None:
    dead, alive = _dead_pid(), os.getpid()
    files = [
        f"gauge_livesum_{dead}.db",
        f"gauge_livesum_{alive}.db",
        f"counter_{dead}.db",
        f"histogram_{dead}.db",
    ]
    for name in files:
        (tmp_path / name).write_bytes(b"")
    assert forget_dead_workers(tmp_path) == [dead]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files[1:])


def test_gunicorns_child_exit_hook_forgets_the_workers_live_gauges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "gauge_livesum_4242.db").write_bytes(b"")
    (tmp_path / "counter_4242.db").write_bytes(b"")
    child_exit(None, SimpleNamespace(pid=4242))
    assert [p.name for p in tmp_path.iterdir()] == ["counter_4242.db"]


def test_gunicorns_hook_does_nothing_outside_multiprocess_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.delenv("prometheus_multiproc_dir", raising=False)
    child_exit(None, SimpleNamespace(pid=4242))  # no directory to touch: no error
