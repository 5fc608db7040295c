"""gunicorn server hooks: forget a worker's live gauges the moment it exits.

In multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``), a worker that exits
leaves its samples in files: its counters must stay (they are the service's
counts), its ``live*`` gauges (requests in flight) must go. gunicorn's arbiter
calls ``child_exit`` after it reaps any worker, a recycled one
(``--max-requests``) or one killed on ``--timeout``. Import it into your
gunicorn configuration::

    # gunicorn.conf.py
    from actuator.servers.gunicorn import child_exit  # noqa: F401

    worker_class = "uvicorn_worker.UvicornWorker"

Without the hook, the next scrape forgets dead workers' gauges anyway
(``actuator.metrics.multiprocess.forget_dead_workers``); the hook does it at
once, before the pid can be reused.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client.multiprocess import mark_process_dead

from actuator.metrics.multiprocess import ENV


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn's ``child_exit`` hook: mark the worker's process dead for prometheus-client."""
    path = os.environ.get(ENV) or os.environ.get(ENV.lower())
    if path:
        mark_process_dead(worker.pid, path)  # type: ignore[no-untyped-call]
