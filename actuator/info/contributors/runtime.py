"""The ``python``, ``os`` and ``process`` info sections."""

from __future__ import annotations

import datetime
import getpass
import math
import os
import platform
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

_IMPORTED_AT = time.time()
_CGROUP_ROOT = Path("/sys/fs/cgroup")
_PROC_CGROUP = Path("/proc/self/cgroup")
_UNLIMITED_V1 = 1 << 60  # cgroup v1 writes a huge page-aligned number for "no limit"


def python_info() -> dict[str, Any]:
    """``{"version": "3.12.4", "implementation": "CPython"}``."""
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
    }


def os_info() -> dict[str, Any]:
    """``{"name": "Linux", "version": "6.1.0", "arch": "x86_64", "hostname": "orders-7d9f"}``."""
    return {
        "name": platform.system(),
        "version": platform.release(),
        "arch": platform.machine(),
        "hostname": socket.gethostname(),
    }


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _cgroup_dirs(proc_cgroup: Path, root: Path) -> list[Path]:
    """The process's cgroup v2 directory and its ancestors up to the mount, innermost first."""
    for line in (_read(proc_cgroup) or "").splitlines():
        if line.startswith("0::"):
            own = root / line[3:].strip().lstrip("/")
            return [d for d in (own, *own.parents) if d == root or root in d.parents]
    return []


def cgroup_limits(
    proc_cgroup: Path = _PROC_CGROUP, root: Path = _CGROUP_ROOT
) -> tuple[float | None, int | None]:
    """``(cpus, memory bytes)`` the container's cgroup allows, ``None`` where unlimited.

    cgroup v2 (``cpu.max``, ``memory.max``, the tightest along the hierarchy),
    else cgroup v1 (``cpu.cfs_quota_us``, ``memory.limit_in_bytes``).
    """
    cpus: list[float] = []
    memory: list[int] = []
    for directory in _cgroup_dirs(proc_cgroup, root):
        quota, _, period = (_read(directory / "cpu.max") or "").partition(" ")
        if quota.isdigit() and period.isdigit() and int(period) > 0:
            cpus.append(int(quota) / int(period))
        limit = _read(directory / "memory.max") or ""
        if limit.isdigit():
            memory.append(int(limit))
    if not cpus:
        quota = _read(root / "cpu" / "cpu.cfs_quota_us") or ""
        period = _read(root / "cpu" / "cpu.cfs_period_us") or ""
        if quota.isdigit() and period.isdigit() and int(period) > 0:
            cpus.append(int(quota) / int(period))
    if not memory:
        limit = _read(root / "memory" / "memory.limit_in_bytes") or ""
        if limit.isdigit() and int(limit) < _UNLIMITED_V1:
            memory.append(int(limit))
    return min(cpus, default=None), min(memory, default=None)


def available_cpus(cpu_limit: float | None = None) -> int:
    """CPUs this process may use: its affinity, capped by a container CPU limit (rounded up),
    as the JVM's ``availableProcessors`` counts them. At least 1."""
    if hasattr(os, "sched_getaffinity"):
        count = len(os.sched_getaffinity(0))
    else:
        count = os.cpu_count() or 1
    if cpu_limit is not None:
        count = min(count, math.ceil(cpu_limit))
    return max(count, 1)


def process_start_time() -> float:
    """The process start time as a Unix timestamp (Linux: from /proc; else actuator import)."""
    try:
        with open("/proc/self/stat", "rb") as stat_file:
            # Fields after the ")" that ends the command name; starttime is field 22.
            stat = stat_file.read().rsplit(b")", 1)[1].split()
        with open("/proc/stat", "rb") as boot_file:
            boot_time = next(
                float(line.split()[1]) for line in boot_file if line.startswith(b"btime")
            )
        return boot_time + int(stat[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, StopIteration):
        return _IMPORTED_AT


def memory_info(limit: int | None = None) -> dict[str, int]:
    """``rss`` (resident now, Linux only), ``peakRss`` (Unix only) and the container's
    ``limit``, in bytes.

    ``peakRss`` is never below ``rss``: both come from one read of
    ``/proc/self/status`` (``VmRSS``, ``VmHWM``), and the kernel updates the
    high-water mark lazily, so the peak is the largest of the figures seen.
    """
    memory: dict[str, int] = {}
    peaks: list[int] = []
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                key, _, value = line.partition(b":")
                if key in (b"VmRSS", b"VmHWM"):
                    figure = int(value.split()[0]) * 1024  # always kB
                    if key == b"VmRSS":
                        memory["rss"] = figure
                    peaks.append(figure)
    except (OSError, IndexError, ValueError):
        pass
    try:
        import resource
    except ImportError:  # Windows
        pass
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peaks.append(peak * (1 if sys.platform == "darwin" else 1024))  # KiB but on macOS
    if peaks:
        memory["peakRss"] = max(peaks)
    if limit is not None:
        memory["limit"] = limit
    return memory


def _owner() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a uid with no passwd entry, common in containers
        return None


class ProcessInfoContributor:
    """``pid``, ``parentPid``, ``owner``, ``cpus``, ``threads``, ``startTime``,
    ``uptimeSeconds`` and ``memory`` (``rss``, ``peakRss``, ``limit``).

    ``cpus`` and ``memory.limit`` honour the container's cgroup limits, read on
    each call (Kubernetes can resize a pod in place).
    """

    def __init__(self) -> None:
        self.started = process_start_time()

    def contribute(self) -> dict[str, Any]:
        cpu_limit, memory_limit = cgroup_limits()
        info: dict[str, Any] = {
            "pid": os.getpid(),
            "parentPid": os.getppid(),
            "owner": _owner(),
            "cpus": available_cpus(cpu_limit),
            "threads": threading.active_count(),
            "startTime": datetime.datetime.fromtimestamp(self.started, datetime.timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "uptimeSeconds": round(max(0.0, time.time() - self.started), 3),
            "memory": memory_info(memory_limit),
        }
        return {key: value for key, value in info.items() if value is not None}
