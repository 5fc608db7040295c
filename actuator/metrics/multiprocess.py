"""prometheus-client's multiprocess mode, for ``uvicorn --workers N`` and gunicorn.

Each worker writes its samples to files in ``PROMETHEUS_MULTIPROC_DIR``; a
scrape, whichever worker answers it, merges them all, so one scrape reports
the whole service. The variable must name an empty, writable directory before
the server starts (prometheus-client decides the mode when it is imported).

Counters and histograms of a worker that is gone stay in its files, so a
recycled worker (gunicorn ``--max-requests``, a crash) loses no counts. Its
``live*`` gauges (requests in flight) must go with it: gunicorn calls the
``child_exit`` hook in ``actuator.servers.gunicorn`` the moment a worker
exits; on every server, each scrape also forgets the live gauges of workers
whose process no longer exists (``forget_dead_workers``), so a worker killed
in the middle of a request leaves no stale in-flight count.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import CollectorRegistry, values
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir(*, required: bool = False) -> Path | None:
    """The checked multiprocess directory, or ``None`` in single-process mode.

    Raises ``ValueError`` naming the problem when the variable points nowhere
    useful, was set too late, or is missing while ``required``.
    """
    value = os.environ.get(ENV) or os.environ.get(ENV.lower())
    if not value:
        if required:
            raise ValueError(
                f"metrics.multiprocess is on but {ENV} is not set: point it at an "
                f"empty writable directory before the server starts"
            )
        return None
    path = Path(value)
    if not path.is_dir():
        raise ValueError(
            f"{ENV}={value!r} is not a directory: create it (empty) before the server starts"
        )
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"{ENV}={value!r} is not writable by this process")
    if values.ValueClass is values.MutexValue:
        raise ValueError(
            f"{ENV} was set after prometheus_client was imported, so metrics stay "
            f"per process; set it in the environment before the process starts"
        )
    return path


def multiprocess_registry(path: Path) -> CollectorRegistry:
    """A registry that merges the samples every worker wrote to ``path``."""
    # MultiProcessCollector has no describe(); without this flag a restricted
    # registry (?name[]=...) would never ask it for samples.
    registry = CollectorRegistry(support_collectors_without_names=True)
    registry.register(_LiveWorkersCollector(path))
    return registry


def forget_dead_workers(path: Path) -> list[int]:
    """Remove the ``live*`` gauge files of processes that no longer exist; their pids.

    prometheus-client's ``mark_process_dead`` for every worker that is gone,
    for servers that have no hook to call it when a worker exits.
    """
    pids = {file.stem.rpartition("_")[2] for file in path.glob("gauge_live*_*.db")}
    dead = sorted(int(pid) for pid in pids if pid.isdigit() and not _alive(int(pid)))
    for pid in dead:
        mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]
    return dead


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class _LiveWorkersCollector:
    """prometheus-client's ``MultiProcessCollector``, forgetting dead workers' live gauges first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._merged = MultiProcessCollector(None, path=str(path))  # type: ignore[no-untyped-call]

    def collect(self) -> Iterable[Metric]:
        forget_dead_workers(self.path)
        merged: Iterable[Metric] = self._merged.collect()  # type: ignore[no-untyped-call]
        return merged
