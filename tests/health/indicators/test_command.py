from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from actuator import CommandIndicator


async def test_exit_code_zero_is_up_with_output() -> None:
    health = await CommandIndicator([sys.executable, "-c", "print('pong')"], timeout=30).health()
    assert health.status.code == "UP"
    assert health.details["exitCode"] == 0
    assert health.details["output"] == "pong"
    assert health.details["command"] == os.path.basename(sys.executable)


async def test_an_unexpected_exit_code_is_down() -> None:
    indicator = CommandIndicator([sys.executable, "-c", "import sys; sys.exit(3)"], timeout=30)
    health = await indicator.health()
    assert health.status.code == "DOWN"
    assert health.details["error"] == "exit code 3"


async def test_expected_codes_and_hidden_output() -> None:
    indicator = CommandIndicator(
        [sys.executable, "-c", "print('secret'); raise SystemExit(1)"],
        timeout=30,
        expected=(0, 1),
        show_output=False,
    )
    health = await indicator.health()
    assert health.status.code == "UP"
    assert "output" not in health.details


def survivor(marker: Path) -> list[str]:
    """A command that touches ``marker`` unless it is killed within 0.8 s."""
    return [
        sys.executable,
        "-c",
        f"import time, pathlib; time.sleep(0.8); pathlib.Path({str(marker)!r}).touch()",
    ]


async def test_a_slow_command_is_killed_and_down(tmp_path: Path) -> None:
    marker = tmp_path / "survived"
    health = await CommandIndicator(survivor(marker), timeout=0.3).health()
    assert health.status.code == "DOWN"
    assert "did not finish within 0.3s" in health.details["error"]
    await asyncio.sleep(1.2)
    assert not marker.exists()


async def test_a_missing_program_is_down() -> None:
    health = await CommandIndicator(["/nonexistent/check"]).health()
    assert health.status.code == "DOWN"
    assert "FileNotFoundError" in health.details["error"]


async def test_a_cancelled_check_kills_the_command(tmp_path: Path) -> None:
    marker = tmp_path / "survived"
    task = asyncio.ensure_future(CommandIndicator(survivor(marker), timeout=60).health())
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(1.2)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("command", "kwargs", "message"),
    [
        ("echo hi", {}, "command must be"),
        ([], {}, "command must be"),
        (["true"], {"timeout": 0}, "timeout must be"),
    ],
)
def test_bad_arguments_are_refused(command: object, kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CommandIndicator(command, **kwargs)  # type: ignore[arg-type]
