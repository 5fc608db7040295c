from __future__ import annotations

import pytest

# compat records the compat-marked tests' outcomes and checks docs/servers-and-frameworks.md
# against them; pytester runs that plugin on small suites of its own (tests/test_compat_table.py).
pytest_plugins = ["pytester", "tests.support.compat"]


@pytest.fixture
def anonymous_scrapes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let anonymous callers read the metrics endpoints: for tests about what they
    answer, not who may call them (that is tests/security/test_security.py's business).
    Settings given in code still win over this environment."""
    monkeypatch.setenv("ACTUATOR_SECURITY__ANONYMOUS", "health,ping,prometheus,metrics")


@pytest.fixture
def no_event_loop_heartbeat(monkeypatch: pytest.MonkeyPatch) -> None:
    """Actuators served without a lifespan start on the first request and are never
    shut down in such tests; their heartbeat watchdog would outlive the loop."""
    monkeypatch.setenv("ACTUATOR_HEALTH__EVENT_LOOP__ENABLED", "false")
