from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_event_loop_heartbeat(monkeypatch: pytest.MonkeyPatch) -> None:
    # Actuators served without a lifespan start on the first request and are
    # never shut down here; their heartbeat watchdog would outlive the loop.
    monkeypatch.setenv("ACTUATOR_HEALTH__EVENT_LOOP__ENABLED", "false")
