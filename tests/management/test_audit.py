from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from actuator.endpoints.base import OperationRequest
from actuator.management.audit import JsonAuditFormatter, audit, caller
from actuator.security.credentials import SecurityContext
from tests.support.secured import client, secured_actuator


def test_the_caller_is_the_principal_when_authenticated() -> None:
    request = OperationRequest(
        operation="write",
        scope={"client": ("10.0.0.7", 5000)},
        security=SecurityContext(principal="ops-bot", roles=frozenset({"full"})),
    )
    assert caller(request) == "ops-bot"


def test_the_caller_is_the_client_address_when_anonymous() -> None:
    assert (
        caller(OperationRequest(operation="write", scope={"client": ("10.0.0.7", 5000)}))
        == "10.0.0.7:5000"
    )
    assert (
        caller(OperationRequest(operation="write", scope={"client": ("/run/app.sock", None)}))
        == "/run/app.sock"
    )
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


FORGED = "/actuator/health/x%0Apause%20by%20operator%20at%202026-11-30T10:00:00Z%0D%1B[2K"


async def test_a_path_with_encoded_newlines_cannot_forge_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    actuator, _ = secured_actuator()
    with caplog.at_level(logging.INFO, logger="actuator"):
        async with client(actuator) as http:
            answer = await http.get(FORGED, headers={"Authorization": "Bearer " + "x" * 43})
    await actuator.shutdown()
    assert answer.status_code == 401
    (failed,) = [m for m in caplog.messages if "Authentication failed" in m]
    assert not {"\n", "\r", "\x1b"} & set(failed)
    assert "/actuator/health/x\\x0apause by operator at 2026-11-30T10:00:00Z\\x0d\\x1b[2K" in failed


async def test_identity_path_and_reason_are_escaped_in_audit_and_access_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    actuator, _ = secured_actuator(access={"endpoints": {"switch": "unrestricted"}})

    def hook(request: Any) -> SecurityContext | None:
        return SecurityContext("mallory\nshutdown by sre.alice", frozenset({"full"}))

    actuator.add_authenticator(hook)
    with caplog.at_level(logging.INFO, logger="actuator"):
        async with client(actuator) as http:
            answer = await http.post("/actuator/switch/x%0Ay")
        audit("pause", "mallory\nresume by sre.alice", reason="deploy\nresume by sre.alice")
    await actuator.shutdown()
    assert answer.status_code == 200
    lines = caplog.messages
    assert all("\n" not in line for line in lines)
    assert any("mallory\\x0ashutdown by sre.alice" in line for line in lines)
    assert any("reason='deploy\\nresume by sre.alice'" in line for line in lines)


def test_json_audit_format_is_one_escaped_line_per_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="actuator.audit"):
        audit("pause", "ops-bot", reason="deploy\nforged line", token="s3cret")
    (record,) = caplog.records
    line = JsonAuditFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["action"] == "pause"
    assert data["who"] == "ops-bot"
    assert data["reason"] == "deploy\nforged line"
    assert data["token"] == "******"
    assert data["level"] == "WARNING"
    assert data["logger"] == "actuator.audit"
    plain = logging.LogRecord("actuator.http", logging.ERROR, __file__, 1, "boom\n%s", ("x",), None)
    assert json.loads(JsonAuditFormatter().format(plain))["message"] == "boom\nx"
