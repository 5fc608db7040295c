"""``[notifications]`` is checked when the console starts; every error names its key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from actuator.fleet.app import FleetConsole
from actuator.fleet.config import parse_config

HOOK = {"type": "webhook", "url": "http://127.0.0.1:9/hook"}


def config(**notifications: Any) -> dict[str, Any]:
    return {"notifications": {"channels": {"ops": HOOK}, **notifications}}


@pytest.mark.parametrize(
    ("notifications", "message"),
    [
        (
            {"rules": {"down": {"channels": ["pager"]}}},
            "rules.down.channels: no channel 'pager' (defined: ops)",
        ),
        (
            {"rules": {"down": {"channels": ["ops"], "down_percent": 20}}},
            "notifications.rules.down: Value error, down_percent is for group rules",
        ),
        (
            {"rules": {"down": {"channels": ["ops"], "on": "service"}}},
            "notifications.rules.down.on: Input should be 'instance' or 'group'",
        ),
        (
            {"rules": {"g": {"on": "group", "channels": ["ops"], "down_percent": 120}}},
            "notifications.rules.g.down_percent: Input should be less than 100",
        ),
        (
            {"rules": {"down": {"channels": ["ops"], "flap_changes": 1}}},
            "flap_changes must be 0 (off) or at least 2",
        ),
        ({"rules": {"down": {"channels": ["ops"], "hold": -1}}}, "notifications.rules.down.hold"),
        ({"rules": {"down": {"channels": ["ops"], "colour": 1}}}, "rules.down.colour: Extra"),
        (
            {"channels": {"ops": {**HOOK, "url_env": "HOOK"}}},
            "notifications.channels.ops.webhook: Value error, give exactly one of url and url_env",
        ),
        (
            {"channels": {"ops": {"type": "pager", "url": "http://x"}}},
            "notifications.channels.ops: Input tag 'pager' found using 'type' does not match",
        ),
        (
            {
                "channels": {
                    "m": {
                        "type": "email",
                        "host": "h",
                        "sender": "a@b",
                        "to": ["c@d"],
                        "username": "u",
                    }
                }
            },
            "username and password_env go together",
        ),
        ({"mutes": [{"services": ["orders"]}]}, "notifications.mutes.0.ends: Field required"),
        ({"attempts": 0}, "notifications.attempts: Input should be greater than or equal to 1"),
    ],
)
def test_bad_notification_settings_are_refused_naming_the_key(
    notifications: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=r"fleet\.toml: invalid configuration") as caught:
        parse_config(config(**notifications), "fleet.toml")
    assert message in str(caught.value)


def test_a_secret_missing_from_the_environment_stops_the_console_naming_the_key(
    tmp_path: Path,
) -> None:
    parsed = parse_config(
        {
            "database": f"sqlite:///{tmp_path / 'fleet.db'}",
            "notifications": {
                "channels": {
                    "ops": {"type": "webhook", "url": "http://h/", "headers_env": {"X-Key": "KEY"}}
                }
            },
        }
    )
    with pytest.raises(
        ValueError,
        match=r"notifications.channels.ops.headers_env.X-Key: the "
        r"environment variable KEY is not set",
    ):
        FleetConsole(parsed, environ={})
    FleetConsole(parsed, environ={"KEY": "value"})  # and with it set, it starts
