from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_event_loop_heartbeat(monkeypatch: pytest.MonkeyPatch) -> None:
    # Actuators served without a lifespan start on the first request and are
    # never shut down here; their heartbeat watchdog would outlive the loop.
    monkeypatch.setenv("ACTUATOR_HEALTH__EVENT_LOOP__ENABLED", "false")


@pytest.fixture(autouse=True)
def _anonymous_scrapes(monkeypatch: pytest.MonkeyPatch) -> None:
    # These tests are about what the metrics say, not who may read them
    # (tests/test_security.py); settings given in code still win.
    monkeypatch.setenv("ACTUATOR_SECURITY__ANONYMOUS", "health,ping,prometheus,metrics")
