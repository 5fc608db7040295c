"""Whether this process is one of several workers, and what its supervisor does when one stops.

Management state (pause, log levels, a requested shutdown) lives in one
process. Under ``uvicorn --workers N``, ``gunicorn -w N``, ``hypercorn
--workers N`` or granian, a request reaches one worker, and what happens when
that worker stops depends on the server (read in each server's code):

- uvicorn's supervisor and gunicorn's arbiter start a new worker for one that
  exits, so the service keeps running;
- hypercorn's workers listen to one shared stop event, set by the parent on
  SIGTERM, and install no signal handler of their own: a worker cannot stop
  gracefully alone;
- granian's main process stops every worker and exits 1 when a worker exits
  by itself (unless ``--respawn-failed-workers``).

``supervisor()`` tells which case this process is in.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from dataclasses import dataclass
from typing import Any, Literal

Server = Literal["uvicorn", "gunicorn", "hypercorn", "granian", "multiprocessing"]

# A module only that server's worker processes import, checked in this order
# (uvicorn is imported everywhere: the management server runs on it).
_WORKER_MODULES: tuple[tuple[str, Server], ...] = (
    ("granian.server.mp", "granian"),
    ("hypercorn.asyncio.run", "hypercorn"),
    ("hypercorn.trio.run", "hypercorn"),
    ("uvicorn._subprocess", "uvicorn"),
)

_WHY_NOT_ALONE: dict[Server, str] = {
    "hypercorn": "hypercorn's workers stop together, on one stop event their parent sets",
    "granian": "granian stops every worker (exit status 1) when one exits by itself",
}


@dataclass(frozen=True)
class Supervisor:
    """The process that started this worker, and which server it is."""

    pid: int
    server: Server

    @property
    def replaces_workers(self) -> bool:
        """Whether one worker can stop gracefully while the others keep serving."""
        return self.server not in _WHY_NOT_ALONE

    @property
    def why_not_alone(self) -> str | None:
        """Why stopping one worker stops the whole server (``None``: it does not)."""
        return _WHY_NOT_ALONE.get(self.server)

    def to_json(self) -> dict[str, Any]:
        return {"supervisor": self.pid, "server": self.server}


def supervisor() -> Supervisor | None:
    """This worker's supervisor, or ``None`` when this process is the whole server."""
    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid is not None:
        for module, server in _WORKER_MODULES:
            if module in sys.modules:
                return Supervisor(parent.pid, server)
        return Supervisor(parent.pid, "multiprocessing")
    # gunicorn forks its workers itself; its arbiter sets SERVER_SOFTWARE for them.
    if os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn/") and (
        "gunicorn.workers.base" in sys.modules
    ):
        return Supervisor(os.getppid(), "gunicorn")
    return None
