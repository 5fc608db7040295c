from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from actuator import Actuator, DiskSpaceIndicator, Status
from tests.support.asgi import get_once


def test_up_with_springs_disk_space_details(tmp_path: Path) -> None:
    health = DiskSpaceIndicator(tmp_path, threshold=0).health()
    usage = shutil.disk_usage(tmp_path)
    assert health.status == Status.UP
    assert set(health.details) == {"total", "free", "threshold", "path", "exists"}
    assert health.details["total"] == usage.total
    assert 0 < health.details["free"] <= usage.total
    assert health.details["threshold"] == 0
    assert health.details["path"] == str(tmp_path)
    assert health.details["exists"] is True


def test_down_when_free_space_is_below_the_threshold(tmp_path: Path) -> None:
    total = shutil.disk_usage(tmp_path).total
    health = DiskSpaceIndicator(tmp_path, threshold=total + 1).health()
    assert health.status == Status.DOWN
    assert health.details["threshold"] == total + 1
    assert health.details["exists"] is True


def test_down_when_the_path_is_missing_with_the_same_keys(tmp_path: Path) -> None:
    missing = tmp_path / "not-mounted"
    health = DiskSpaceIndicator(missing, threshold=0).health()
    assert health.status == Status.DOWN
    assert dict(health.details) == {
        "total": 0,
        "free": 0,
        "threshold": 0,
        "path": str(missing),
        "exists": False,
    }


def test_a_relative_path_is_shown_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert DiskSpaceIndicator().health().details["path"] == str(tmp_path)


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        (0, 0),
        (1234, 1234),
        ("500MB", 500_000_000),
        ("1GiB", 1 << 30),
        ("2048", 2048),
    ],
)
def test_threshold_takes_bytes_or_a_size(threshold: Any, expected: int) -> None:
    assert DiskSpaceIndicator(threshold=threshold).threshold == expected


@pytest.mark.parametrize(
    ("threshold", "error"),
    [
        (-1, ValueError),
        ("ten", ValueError),
        ("-5MB", ValueError),
        (True, TypeError),
        (1.5, TypeError),
        (None, TypeError),
    ],
)
def test_a_bad_threshold_raises_naming_it(threshold: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="DiskSpaceIndicator threshold"):
        DiskSpaceIndicator(threshold=threshold)


def test_a_bad_path_raises_naming_it() -> None:
    with pytest.raises(TypeError, match="DiskSpaceIndicator path"):
        DiskSpaceIndicator("")


async def test_registered_as_disk_space_from_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTUATOR_HEALTH__DISK_SPACE__THRESHOLD", "1KiB")
    monkeypatch.setenv("ACTUATOR_HEALTH__DISK_SPACE__PATH", str(tmp_path / "gone"))
    actuator = Actuator(settings={"health": {"show_details": "always"}})
    response = await get_once(actuator, "/actuator/health/diskSpace")
    assert response.status_code == 503
    assert response.json() == {
        "status": "DOWN",
        "details": {
            "total": 0,
            "free": 0,
            "threshold": 1024,
            "path": str(tmp_path / "gone"),
            "exists": False,
        },
    }


def test_a_bad_threshold_setting_fails_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTUATOR_HEALTH__DISK_SPACE__THRESHOLD", "lots")
    with pytest.raises(ValueError, match="ACTUATOR_HEALTH__DISK_SPACE__THRESHOLD"):
        Actuator()
