"""The auditevents endpoint: the audit log's recent records, kept in memory.

``AuditEventStore`` is a logging filter on the ``actuator.audit`` logger
(installed while the actuator runs): every management action the actuator
audits (a log level set, a pause, a cache cleared...) becomes an event in a
bounded ``deque``. Records the app logs there itself count too, with the
record's message as ``data.message``. A filter, not a handler: a handler
would stop Python's last-resort handler from printing audit records where
logging is not configured.
"""

from __future__ import annotations

import collections
import datetime
import logging
from typing import Any, ClassVar

from actuator.endpoints._iso import instant, parse_instant
from actuator.endpoints.base import BadRequest, Endpoint, OperationRequest
from actuator.management.audit import logger as audit_logger


class AuditEventStore(logging.Filter):
    """The last ``capacity`` audit records, as Spring Boot's ``AuditEvent`` values."""

    def __init__(self, capacity: int, logger: logging.Logger = audit_logger) -> None:
        super().__init__()
        self.logger = logger
        self._events: collections.deque[dict[str, Any]] = collections.deque(maxlen=capacity)

    def install(self) -> None:
        self.logger.addFilter(self)  # a no-op when already there

    def uninstall(self) -> None:
        self.logger.removeFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        self._record(record)
        return True

    def _record(self, record: logging.LogRecord) -> None:
        facts = getattr(record, "audit", None)
        if isinstance(facts, dict):
            data = {k: v for k, v in facts.items() if k not in ("action", "who", "when")}
            principal, kind = str(facts.get("who", "unknown")), str(facts.get("action", ""))
        else:
            data = {"message": record.getMessage()}
            principal, kind = "unknown", record.levelname
        # Compared at the microsecond the timestamp shows, so that ``after=<a timestamp
        # seen>`` leaves that event out.
        created = datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc)
        self._events.append(
            {
                "timestamp": instant(record.created),
                "principal": principal,
                "type": kind,
                "data": data,
                "_created": created,
            }
        )

    def events(
        self,
        *,
        after: datetime.datetime | None = None,
        principal: str | None = None,
        kind: str | None = None,
    ) -> list[dict[str, Any]]:
        """Events oldest first, narrowed as Spring Boot's ``AuditEventRepository.find`` does."""
        return [
            {key: value for key, value in event.items() if key != "_created"}
            for event in list(self._events)
            if (after is None or event["_created"] > after)
            and (principal is None or event["principal"] == principal)
            and (kind is None or event["type"] == kind)
        ]


class AuditEventsEndpoint(Endpoint):
    """``GET /auditevents[?after=...&principal=...&type=...]``: recent audit events.

    ::

        {"events": [{"timestamp": "2025-05-01T09:30:11.374512Z", "principal": "sre.alice",
                     "type": "pause", "data": {"reason": "schema migration"}}]}

    ``after`` is an ISO-8601 date-time with an offset (``2025-05-01T09:00Z``);
    only events strictly after it are listed.
    """

    name: ClassVar[str] = "auditevents"
    max_path: ClassVar[int | None] = 0
    query_params: ClassVar[frozenset[str]] = frozenset({"after", "principal", "type"})

    def __init__(self, store: AuditEventStore) -> None:
        self.store = store

    async def read(self, request: OperationRequest) -> dict[str, Any]:
        after_text = request.query_value("after")
        after = None
        if after_text is not None:
            try:
                after = parse_instant(after_text)
            except ValueError:
                raise BadRequest(
                    f"Query parameter 'after' must be an ISO-8601 date-time with an offset "
                    f"(2025-05-01T09:00:00Z), got {after_text!r}",
                    parameter="after",
                ) from None
        principal = request.query_value("principal")
        kind = request.query_value("type")
        for parameter, value in (("principal", principal), ("type", kind)):
            if value is not None and not value.strip():
                raise BadRequest(
                    f"Query parameter {parameter!r} must not be empty", parameter=parameter
                )
        return {"events": self.store.events(after=after, principal=principal, kind=kind)}

    async def startup(self) -> None:
        self.store.install()

    async def shutdown(self) -> None:
        self.store.uninstall()
