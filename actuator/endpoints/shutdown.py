"""The shutdown endpoint: a graceful, jittered stop. Registered only when ``shutdown.enabled``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from actuator.endpoints._body import ReasonBody, parse_body
from actuator.endpoints.base import Endpoint, EndpointResponse, OperationRequest
from actuator.management.audit import caller

if TYPE_CHECKING:
    from actuator.management.shutdown import ShutdownControl


class ShutdownEndpoint(Endpoint):
    """``POST /shutdown`` answers 202 at once with the plan; ``GET /shutdown`` shows it.

    ::

        {"message": "Shutting down, bye...", "delay": 11.374, "drainPeriod": 10.0,
         "jitter": 1.374, "at": "2025-05-01T09:30:11.374+00:00", "by": "10.0.0.7:51234",
         "reason": null}

    Readiness turns OUT_OF_SERVICE at once; after ``delay`` seconds the
    server is asked to stop as SIGTERM would. A second request answers the
    plan already made.
    """

    name: ClassVar[str] = "shutdown"
    max_path: ClassVar[int | None] = 0

    def __init__(self, control: ShutdownControl) -> None:
        self.control = control

    async def read(self, request: OperationRequest) -> dict[str, Any]:
        plan = self.control.plan
        return {"scheduled": plan is not None, **(plan.to_json() if plan else {})}

    async def write(self, request: OperationRequest) -> EndpointResponse:
        reason = parse_body(ReasonBody, request.body).reason
        plan = self.control.request(reason, by=caller(request))
        return EndpointResponse(plan.to_json(), status=202)
