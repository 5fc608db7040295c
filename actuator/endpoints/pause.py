"""Pause, resume and flip: the circuit breaker, one endpoint per action as in Choria.

Each answers ``GET`` with the state, and ``POST`` (optionally with
``{"reason": "..."}``) with the state after the action::

    {"paused": true, "reason": "schema migration", "since": "2025-05-01T09:30:00.000+00:00",
     "by": "10.0.0.7:51234", "changed": true}

A pause lives in one process: in a worker of ``uvicorn --workers N``,
gunicorn, hypercorn or granian, the answer names that worker and says that the
others keep serving (``"process"`` and ``"message"``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, ClassVar

from actuator.endpoints._body import ReasonBody, parse_body
from actuator.endpoints.base import Endpoint, OperationRequest
from actuator.management.audit import caller
from actuator.management.workers import supervisor

if TYPE_CHECKING:
    from actuator.management.pause import Action, PauseControl


class _PauseAction(Endpoint):
    max_path: ClassVar[int | None] = 0
    action: ClassVar[Action]

    def __init__(self, control: PauseControl) -> None:
        self.control = control

    async def read(self, request: OperationRequest) -> dict[str, Any]:
        return {**self.control.state.to_json(), **_scope()}

    async def write(self, request: OperationRequest) -> dict[str, Any]:
        reason = parse_body(ReasonBody, request.body).reason
        changed, state = self.control.apply(self.action, reason, by=caller(request))
        return {**state.to_json(), "changed": changed, **_scope()}


def _scope() -> dict[str, Any]:
    """What a pause affects, when this process is one worker of several."""
    workers = supervisor()
    if workers is None:
        return {}
    pid = os.getpid()
    return {
        "process": {"pid": pid, **workers.to_json()},
        "message": (
            f"The pause applies to worker process {pid} only: the other workers of its "
            f"supervisor (process {workers.pid}, {workers.server}) keep serving. Pause "
            f"each worker, or run one worker per container."
        ),
    }


class PauseEndpoint(_PauseAction):
    """``POST /pause``: readiness OUT_OF_SERVICE, app requests 503 (see ``pause`` settings)."""

    name: ClassVar[str] = "pause"
    action: ClassVar[Action] = "pause"


class ResumeEndpoint(_PauseAction):
    """``POST /resume``: undo a pause."""

    name: ClassVar[str] = "resume"
    action: ClassVar[Action] = "resume"


class FlipEndpoint(_PauseAction):
    """``POST /flip``: pause if running, resume if paused."""

    name: ClassVar[str] = "flip"
    action: ClassVar[Action] = "flip"
