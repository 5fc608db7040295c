from __future__ import annotations

import logging

import pytest

from actuator.endpoints.base import OperationRequest
from actuator.management.audit import audit, caller
from actuator.security.credentials import SecurityContext


def test_the_caller_is_the_principal_when_authenticated() -> None:
    request = OperationRequest(operation="write", scope={"client": ("10.0.0.7", 5000)},
                               security=SecurityContext(principal="ops-bot",
                                                        roles=frozenset({"full"})))
    assert caller(request) == "ops-bot"


def test_the_caller_is_the_client_address_when_anonymous() -> None:
    assert caller(OperationRequest(operation="write", scope={"client": ("10.0.0.7", 5000)})) \
        == "10.0.0.7:5000"
    assert caller(OperationRequest(operation="write", scope={"client": ("/run/app.sock", None)})) \
        == "/run/app.sock"
    assert caller(OperationRequest(operation="write")) == "unknown"


def test_audit_records_who_what_and_when(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="actuator.audit"):
        audit("pause", "ops-bot", reason="deploy")
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith("pause by ops-bot at ")
    assert "reason='deploy'" in record.getMessage()
    assert record.audit["action"] == "pause"  # type: ignore[attr-defined]
    assert record.audit["when"].endswith("+00:00")  # type: ignore[attr-defined]
