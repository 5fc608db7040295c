"""The ``python``, ``os`` and ``process`` info sections."""

from __future__ import annotations

import datetime
import getpass
import os
import platform
import socket
import sys
import threading
import time
from typing import Any

_IMPORTED_AT = time.time()


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


def available_cpus() -> int:
    """CPUs this process may run on (its affinity), not the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def process_start_time() -> float:
    """The process start time as a Unix timestamp (Linux: from /proc; else actuator import)."""
    try:
        with open("/proc/self/stat", "rb") as stat_file:
            stat = stat_file.read().rsplit(b")", 1)[1].split()
        with open("/proc/stat", "rb") as boot_file:
            boot_time = next(float(line.split()[1]) for line in boot_file
                             if line.startswith(b"btime"))
        return boot_time + int(stat[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, StopIteration):
        return _IMPORTED_AT


def memory_info() -> dict[str, int]:
    """``rss`` (resident now, Linux only) and ``peakRss`` in bytes (Unix only)."""
    memory: dict[str, int] = {}
    try:
        import resource
    except ImportError:  # Windows
        pass
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        memory["peakRss"] = peak * (1 if sys.platform == "darwin" else 1024)  # KiB but on macOS
    try:
        with open("/proc/self/statm", "rb") as statm:
            memory["rss"] = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        pass
    return memory


def _owner() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a uid with no passwd entry, common in containers
        return None


class ProcessInfoContributor:
    """``pid``, ``parentPid``, ``owner``, ``cpus``, ``threads``, ``startTime``, ``uptimeSeconds``
    and ``memory``."""

    def __init__(self) -> None:
        self.started = process_start_time()

    def contribute(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "pid": os.getpid(),
            "parentPid": os.getppid(),
            "owner": _owner(),
            "cpus": available_cpus(),
            "threads": threading.active_count(),
            "startTime": datetime.datetime.fromtimestamp(self.started, datetime.timezone.utc),
            "uptimeSeconds": round(max(0.0, time.time() - self.started), 3),
            "memory": memory_info(),
        }
        return {key: value for key, value in info.items() if value is not None}
