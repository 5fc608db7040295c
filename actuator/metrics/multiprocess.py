"""prometheus-client's multiprocess mode, for ``uvicorn --workers N`` and gunicorn.

Each worker writes its samples to files in ``PROMETHEUS_MULTIPROC_DIR``; a
scrape, whichever worker answers it, merges them all, so one scrape reports
the whole service. The variable must name an empty, writable directory before
the server starts (prometheus-client decides the mode when it is imported).
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import CollectorRegistry, values
from prometheus_client.multiprocess import MultiProcessCollector

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
    MultiProcessCollector(registry, path=str(path))  # type: ignore[no-untyped-call]
    return registry
