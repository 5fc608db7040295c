from __future__ import annotations

import pytest

from actuator import Actuator


def test_management_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTUATOR_PAUSE__PATHS", "/api,/v2/")
    monkeypatch.setenv("ACTUATOR_PAUSE__RETRY_AFTER", "5")
    monkeypatch.setenv("ACTUATOR_SHUTDOWN__ENABLED", "true")
    monkeypatch.setenv("ACTUATOR_SHUTDOWN__MAX_JITTER", "10")
    monkeypatch.setenv("ACTUATOR_ENV__SHOW_VALUES", "always")
    monkeypatch.setenv("ACTUATOR_ENV__MASK_KEYS", "session,cookie")
    monkeypatch.setenv("ACTUATOR_LOGGERS__GROUPS", '{"db": ["sqlalchemy", "asyncpg"]}')
    settings = Actuator().settings
    assert settings.pause.paths == ["/api", "/v2"]
    assert settings.pause.retry_after == 5
    assert settings.shutdown.enabled is True
    assert settings.shutdown.max_jitter == 10
    assert settings.env.show_values == "always"
    assert settings.env.mask_keys == ["session", "cookie"]
    assert settings.loggers.groups == {"db": ["sqlalchemy", "asyncpg"]}


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"shutdown": {"max_jitter": -1}}, "shutdown.max_jitter"),
        ({"shutdown": {"drain_period": "soon"}}, "shutdown.drain_period"),
        ({"pause": {"retry_after": -5}}, "pause.retry_after"),
        ({"env": {"show_values": "sometimes"}}, "env.show_values"),
        ({"pause": {"gate": "on"}}, "pause.gate"),
    ],
)
def test_invalid_management_settings_fail_naming_the_setting(
    settings: dict[str, object], named: str
) -> None:
    with pytest.raises(ValueError, match=named.replace(".", r"\.")):
        Actuator(settings=settings)


def test_shutdown_endpoint_is_registered_only_when_enabled() -> None:
    assert "shutdown" not in Actuator().endpoints
    assert "shutdown" in Actuator(settings={"shutdown": {"enabled": True}}).endpoints


def test_python_api_works_without_any_endpoint_exposed() -> None:
    actuator = Actuator(settings={"exposure": {"include": []}})
    actuator.pause("maintenance")
    actuator.add_logger_group("db", ["sqlalchemy"])
    assert actuator.paused
    assert actuator.log_levels.groups["db"] == ["sqlalchemy"]
