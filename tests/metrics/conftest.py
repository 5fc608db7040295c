from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _metrics_tests(anonymous_scrapes: None, no_event_loop_heartbeat: None) -> None:
    """Every metrics test reads the endpoints anonymously, with no heartbeat thread."""
