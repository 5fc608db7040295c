from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from actuator import FileFreshnessIndicator


def test_a_recently_touched_file_is_up(tmp_path: Path) -> None:
    heartbeat = tmp_path / "heartbeat"
    heartbeat.touch()
    health = FileFreshnessIndicator(heartbeat, max_age=60).health()
    assert health.status.code == "UP"
    assert health.details["exists"] is True
    assert 0 <= health.details["ageSeconds"] < 60


def test_a_stale_file_is_down(tmp_path: Path) -> None:
    heartbeat = tmp_path / "heartbeat"
    heartbeat.touch()
    old = time.time() - 3600
    os.utime(heartbeat, (old, old))
    health = FileFreshnessIndicator(heartbeat, max_age=60).health()
    assert health.status.code == "DOWN"
    assert health.details["ageSeconds"] >= 3599
    assert "not modified for" in health.details["error"]


def test_a_missing_file_is_down(tmp_path: Path) -> None:
    health = FileFreshnessIndicator(tmp_path / "nope", max_age=60).health()
    assert health.status.code == "DOWN"
    assert health.details["exists"] is False


@pytest.mark.parametrize("max_age", [0, -1, True])
def test_max_age_must_be_positive(tmp_path: Path, max_age: float) -> None:
    with pytest.raises(ValueError, match="max_age"):
        FileFreshnessIndicator(tmp_path, max_age=max_age)
