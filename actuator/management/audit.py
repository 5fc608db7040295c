"""The audit trail of management operations: who changed what, and when.

Every state change made through the actuator (a log level set, a pause, a
shutdown) is logged on the ``actuator.audit`` logger at WARNING, so that it
shows even where logging is not configured. Each record carries the same
facts as attributes (``record.audit``) for structured log handlers::

    logging.getLogger("actuator.audit").addHandler(my_json_handler)
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from actuator.endpoints.base import OperationRequest

logger = logging.getLogger("actuator.audit")

APP = "app"
"""The caller recorded for changes made from Python code."""


def caller(request: OperationRequest) -> str:
    """Who sent ``request``: the authenticated principal, else the client address."""
    principal = request.security.principal
    if principal:
        return principal
    client = request.scope.get("client")
    if client:
        host, port = client[0], client[1]
        return f"{host}:{port}" if port is not None else str(host)
    return "unknown"


def audit(action: str, who: str, **details: Any) -> None:
    """Log one management action: ``audit("pause", "10.0.0.7:51234", reason="deploy")``."""
    when = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
    shown = ", ".join(f"{key}={value!r}" for key, value in details.items())
    logger.warning("%s by %s at %s%s", action, who, when, f" ({shown})" if shown else "",
                   extra={"audit": {"action": action, "who": who, "when": when, **details}})
