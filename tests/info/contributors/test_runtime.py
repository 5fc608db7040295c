from __future__ import annotations

import datetime
import os
import platform
import resource
import socket
import time
from pathlib import Path

import pytest

from actuator import Actuator
from actuator.info.contributors.runtime import (
    ProcessInfoContributor,
    available_cpus,
    cgroup_limits,
    memory_info,
    os_info,
    python_info,
)
from tests.support.asgi import get_once


def test_python_section() -> None:
    assert python_info() == {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
    }


def test_os_section() -> None:
    info = os_info()
    assert info["name"] == platform.system()
    assert info["hostname"] == socket.gethostname()
    assert info["arch"]
    assert info["version"]


def test_process_section_shape() -> None:
    info = ProcessInfoContributor().contribute()
    assert info["pid"] == os.getpid()
    assert info["parentPid"] == os.getppid()
    assert 1 <= info["cpus"] <= (os.cpu_count() or 1)
    assert info["threads"] >= 1
    assert info["memory"]["rss"] > 0
    assert info["memory"]["peakRss"] > 0
    assert info["startTime"].endswith("Z")
    started = datetime.datetime.fromisoformat(info["startTime"].replace("Z", "+00:00"))
    assert started <= datetime.datetime.now(datetime.timezone.utc)
    assert started.timestamp() <= time.time() - info["uptimeSeconds"] + 1


def test_uptime_grows() -> None:
    contributor = ProcessInfoContributor()
    first = contributor.contribute()["uptimeSeconds"]
    time.sleep(0.05)
    second = contributor.contribute()["uptimeSeconds"]
    assert first > 0
    assert second > first


async def test_process_section_through_the_endpoint() -> None:
    actuator = Actuator(settings={"exposure": {"include": ["info"]}})
    body = (await get_once(actuator, "/actuator/info")).json()
    assert body["process"]["pid"] == os.getpid()
    assert body["process"]["startTime"].endswith("Z")
    assert body["python"]["version"] == platform.python_version()
    assert body["os"]["hostname"] == socket.gethostname()


def fake_cgroup(tmp_path: Path, own: str, files: dict[str, str]) -> tuple[Path, Path]:
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text(f"0::{own}\n")
    root = tmp_path / "cgroup"
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content + "\n")
    return proc, root


def test_cgroup_v2_limits_take_the_tightest_along_the_hierarchy(tmp_path: Path) -> None:
    proc, root = fake_cgroup(
        tmp_path,
        "/kubepods/pod1/app",
        {
            "kubepods/pod1/app/cpu.max": "max 100000",
            "kubepods/pod1/cpu.max": "150000 100000",
            "kubepods/cpu.max": "400000 100000",
            "kubepods/pod1/app/memory.max": "536870912",
            "kubepods/memory.max": "max",
        },
    )
    assert cgroup_limits(proc, root) == (1.5, 536870912)


def test_cgroup_v1_limits(tmp_path: Path) -> None:
    proc, root = fake_cgroup(
        tmp_path,
        "/",
        {
            "cpu/cpu.cfs_quota_us": "50000",
            "cpu/cpu.cfs_period_us": "100000",
            "memory/memory.limit_in_bytes": "9223372036854771712",  # v1 for "no limit"
        },
    )
    proc.write_text("4:cpu,cpuacct:/\n")
    assert cgroup_limits(proc, root) == (0.5, None)


def test_no_cgroup_means_no_limits(tmp_path: Path) -> None:
    assert cgroup_limits(tmp_path / "none", tmp_path / "none") == (None, None)


@pytest.mark.parametrize(("limit", "expected"), [(0.5, 1), (1.0, 1), (None, None)])
def test_cpus_are_capped_by_the_container_limit(limit: float | None, expected: int | None) -> None:
    unlimited = available_cpus()
    assert unlimited >= 1
    assert available_cpus(limit) == (unlimited if expected is None else expected)


def test_peak_rss_is_never_below_rss(monkeypatch: pytest.MonkeyPatch) -> None:
    # getrusage's ru_maxrss and the kernel's high-water mark lag behind the resident
    # size now; a stale peak must not be reported below it.
    class Usage:
        ru_maxrss = 1  # KiB: far below any real resident size

    monkeypatch.setattr(resource, "getrusage", lambda who: Usage())
    for _ in range(50):
        memory = memory_info()
        assert memory["peakRss"] >= memory["rss"] > 0
