"""Which supervisor started this process, and what stopping one worker does there."""

from __future__ import annotations

import os
import sys

import pytest

from actuator.management import workers
from actuator.management.workers import Supervisor, supervisor


def test_a_process_started_by_no_server_has_no_supervisor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SERVER_SOFTWARE", raising=False)
    assert supervisor() is None


def test_a_gunicorn_worker_is_recognised_by_the_arbiters_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SERVER_SOFTWARE", "gunicorn/27.0.1")
    monkeypatch.setitem(sys.modules, "gunicorn.workers.base", workers)
    found = supervisor()
    assert found == Supervisor(os.getppid(), "gunicorn")
    assert found.replaces_workers


@pytest.mark.parametrize(
    ("server", "alone"),
    [("uvicorn", True), ("gunicorn", True), ("hypercorn", False), ("granian", False)],
)
def test_only_uvicorn_and_gunicorn_replace_a_worker_that_stops_alone(
    server: workers.Server, alone: bool
) -> None:
    found = Supervisor(1, server)
    assert found.replaces_workers is alone
    assert (found.why_not_alone is None) is alone
    assert found.to_json() == {"supervisor": 1, "server": server}
