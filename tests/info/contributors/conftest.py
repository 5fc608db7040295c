from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _anonymous_info(monkeypatch: pytest.MonkeyPatch) -> None:
    # These tests read /actuator/info without credentials; who may call what is
    # tests/security/test_security.py's business.
    monkeypatch.setenv("ACTUATOR_SECURITY__ANONYMOUS", "health,info")
