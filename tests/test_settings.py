"""Settings from code and from ACTUATOR_* environment variables."""

from __future__ import annotations

import logging

import pytest

from actuator import Actuator, ActuatorSettings
from actuator.settings import EventLoopSettings, HealthSettings, load_settings


def test_nested_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTUATOR_HEALTH__TIMEOUT", "0.3")
    monkeypatch.setenv("ACTUATOR_HEALTH__SHOW_DETAILS", "always")
    monkeypatch.setenv("ACTUATOR_BASE_PATH", "/manage")
    settings = load_settings(None)
    assert settings.health.timeout == 0.3
    assert settings.health.show_details == "always"
    assert settings.base_path == "/manage"


@pytest.mark.parametrize("value", ["health,info", " health , info ", '["health", "info"]'])
def test_list_settings_take_a_comma_list_or_json(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("ACTUATOR_EXPOSURE__INCLUDE", value)
    assert load_settings(None).exposure.include == ["health", "info"]


def test_mappings_take_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTUATOR_HEALTH__GROUPS", '{"db": {"include": "tag:db,cache"}}')
    monkeypatch.setenv("ACTUATOR_HEALTH__HTTP_MAPPING", '{"out-of-service": 200}')
    monkeypatch.setenv("ACTUATOR_ACCESS__ENDPOINTS", '{"loggers": "unrestricted"}')
    settings = load_settings(None)
    assert settings.health.groups["db"].include == ["tag:db", "cache"]
    assert settings.health.http_mapping == {"OUT_OF_SERVICE": 200}
    assert settings.access.level("loggers") == "unrestricted"
    assert settings.access.level("env") == "read_only"


def test_code_wins_over_the_environment_field_by_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTUATOR_HEALTH__TIMEOUT", "0.3")
    monkeypatch.setenv("ACTUATOR_HEALTH__DEADLINE", "0.7")
    actuator = Actuator(settings={"health": {"timeout": 0.2, "event_loop": {"enabled": False}}})
    assert actuator.settings.health.timeout == 0.2
    assert actuator.settings.health.deadline == 0.7  # what code did not say, the environment does


def test_an_actuator_settings_instance_is_used_as_given() -> None:
    settings = ActuatorSettings(
        base_path="/ops", health=HealthSettings(event_loop=EventLoopSettings(enabled=False))
    )
    assert Actuator(settings=settings).settings is settings


@pytest.mark.parametrize(
    ("variable", "value", "names"),
    [
        ("ACTUATOR_HEALTH__TIMEOUT", "fast", "health.timeout (ACTUATOR_HEALTH__TIMEOUT)"),
        ("ACTUATOR_HEALTH__TIMEOUT", "0", "health.timeout (ACTUATOR_HEALTH__TIMEOUT)"),
        (
            "ACTUATOR_HEALTH__SHOW_DETAILS",
            "sometimes",
            "health.show_details (ACTUATOR_HEALTH__SHOW_DETAILS)",
        ),
        (
            "ACTUATOR_HEALTH__STATUS_ORDER",
            "DOWN,not ok",
            "health.status_order (ACTUATOR_HEALTH__STATUS_ORDER)",
        ),
        (
            "ACTUATOR_HEALTH__HTTP_MAPPING",
            '{"DOWN": 700}',
            "health.http_mapping (ACTUATOR_HEALTH__HTTP_MAPPING)",
        ),
        ("ACTUATOR_HEALTH__MAX_THREADS", "0", "health.max_threads (ACTUATOR_HEALTH__MAX_THREADS)"),
        ("ACTUATOR_MAX_PATH_LENGTH", "10", "max_path_length (ACTUATOR_MAX_PATH_LENGTH)"),
        ("ACTUATOR_ACCESS__DEFAULT", "all", "access.default (ACTUATOR_ACCESS__DEFAULT)"),
        ("ACTUATOR_HEALTH__BOGUS", "1", "health.bogus (ACTUATOR_HEALTH__BOGUS)"),
    ],
)
def test_invalid_values_raise_value_error_naming_the_setting_and_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, names: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match="Invalid actuator settings") as raised:
        Actuator()
    assert names in str(raised.value)


def test_an_unknown_setting_in_code_raises() -> None:
    with pytest.raises(ValueError, match=r"health\.timeut"):
        Actuator(settings={"health": {"timeut": 1}})


def test_an_unknown_top_level_variable_is_warned_about(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ACTUATOR_HEALTH_TIMEOUT", "0.3")  # one underscore: not nested
    with caplog.at_level(logging.WARNING, logger="actuator"):
        load_settings(None)
    assert "Unknown actuator setting in the environment: ACTUATOR_HEALTH_TIMEOUT" in caplog.text


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/manage", "/manage"),
        ("/manage/", "/manage"),
        (" /a/b ", "/a/b"),
        ("/", ""),
        ("/a.b-c~d_e", "/a.b-c~d_e"),
    ],
)
def test_base_path_is_normalised(given: str, expected: str) -> None:
    assert load_settings({"base_path": given}).base_path == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("actuator", "must start with '/'"),
        ("/a b", "unreserved"),
        ("/a?b", "unreserved"),
        ("/a//b", "unreserved"),
        ("/%2e", "unreserved"),
    ],
)
def test_bad_base_paths_raise(given: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        load_settings({"base_path": given})
    assert "base_path (ACTUATOR_BASE_PATH)" in str(raised.value)


def test_settings_must_be_settings_or_a_dict() -> None:
    with pytest.raises(TypeError, match="settings must be ActuatorSettings or a dict"):
        Actuator(settings=["base_path"])  # type: ignore[arg-type]


def test_settings_are_frozen() -> None:
    settings = load_settings(None)
    with pytest.raises(ValueError, match="frozen"):
        settings.base_path = "/x"
