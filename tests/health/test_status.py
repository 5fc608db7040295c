from __future__ import annotations

import pytest

from actuator import Status


def test_statuses_compare_by_code_not_description() -> None:
    assert Status("UP", "all good") == Status.UP
    assert Status("DOWN") != Status.UP
    assert len({Status("UP", "a"), Status("UP", "b"), Status.UP}) == 1


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("up", "UP"),
        (" Down ", "DOWN"),
        ("out-of-service", "OUT_OF_SERVICE"),
        ("degraded2", "DEGRADED2"),
    ],
)
def test_codes_are_normalised(given: str, code: str) -> None:
    assert Status(given).code == code


@pytest.mark.parametrize("bad", ["", "   ", "1UP", "_UP", "UP!", "UP STREAM", "ÜP"])
def test_invalid_codes_raise_value_error_naming_the_code(bad: str) -> None:
    with pytest.raises(ValueError, match="Status code"):
        Status(bad)


def test_non_string_code_or_description_raises_type_error() -> None:
    with pytest.raises(TypeError, match="Status code must be a string"):
        Status(503)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="description"):
        Status("UP", 1)  # type: ignore[arg-type]


def test_builtin_statuses_have_their_codes() -> None:
    builtins = [Status.UP, Status.DOWN, Status.OUT_OF_SERVICE, Status.INIT, Status.UNKNOWN]
    assert [s.code for s in builtins] == ["UP", "DOWN", "OUT_OF_SERVICE", "INIT", "UNKNOWN"]


def test_a_status_reads_as_its_code_and_keeps_a_description() -> None:
    degraded = Status("DEGRADED").with_description("one replica lagging")
    assert str(degraded) == "DEGRADED"
    assert degraded.description == "one replica lagging"
    assert degraded == Status("DEGRADED")


def test_a_status_is_immutable() -> None:
    with pytest.raises(AttributeError):
        Status.UP.code = "DOWN"  # type: ignore[misc]
