"""The audit trail of management operations: who changed what, and when.

Every state change made through the actuator (a log level set, a pause, a
shutdown) is logged on the ``actuator.audit`` logger at WARNING, so that it
shows even where logging is not configured. Each record carries the same
facts as attributes (``record.audit``) for structured log handlers.

Every value in the text is escaped (control characters as ``\\x0a``...) and
sanitized, so a reason or a request path holding a newline cannot write a
line that reads like a record of its own. For one JSON object per line, use
``JsonAuditFormatter``::

    handler = logging.StreamHandler()
    handler.setFormatter(JsonAuditFormatter())
    for name in ("actuator.audit", "actuator.access"):
        logging.getLogger(name).addHandler(handler)
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Mapping
from typing import Any

from actuator.endpoints.base import OperationRequest
from actuator.sanitizer import loggable, sanitize, sanitize_text

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
    details = sanitize(details)
    # repr() escapes control characters in strings; loggable() does it for the rest.
    shown = ", ".join(f"{loggable(key)}={value!r}" for key, value in details.items())
    logger.warning(
        "%s by %s at %s%s",
        loggable(action),
        loggable(who),
        when,
        f" ({shown})" if shown else "",
        extra={"audit": {"action": action, "who": who, "when": when, **details}},
    )


class JsonAuditFormatter(logging.Formatter):
    """Formats each record as one line of JSON: the audit facts when it has them.

    An audit record becomes ``{"time": ..., "level": "WARNING", "logger":
    "actuator.audit", "action": "pause", "who": "sre.alice", "when": ...,
    "reason": "deploy"}``; any other record ``{"time", "level", "logger",
    "message"}``. JSON escapes every control character, so no value can break
    the line; an exception's traceback is added, sanitized, as ``exception``.
    """

    def format(self, record: logging.LogRecord) -> str:
        created = datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc)
        data: dict[str, Any] = {
            "time": created.isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        facts = getattr(record, "audit", None)
        if isinstance(facts, Mapping):
            data.update(sanitize(facts))
        else:
            data["message"] = sanitize_text(record.getMessage())
        if record.exc_info:
            data["exception"] = sanitize_text(self.formatException(record.exc_info))
        return json.dumps(data, default=str, ensure_ascii=True)
