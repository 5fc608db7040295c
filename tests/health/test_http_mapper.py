from __future__ import annotations

import pytest

from actuator import HttpCodeStatusMapper, Status


@pytest.mark.parametrize(
    ("code", "http"),
    [
        ("UP", 200),
        ("UNKNOWN", 200),
        ("DOWN", 503),
        ("OUT_OF_SERVICE", 503),
        ("INIT", 503),
        ("DEGRADED", 200),
    ],
)
def test_default_mapping(code: str, http: int) -> None:
    assert HttpCodeStatusMapper().status_code(Status(code)) == http


def test_overrides_lay_over_the_defaults() -> None:
    mapper = HttpCodeStatusMapper({"out-of-service": 200, "DEGRADED": 429})
    assert mapper.status_code(Status.OUT_OF_SERVICE) == 200
    assert mapper.status_code(Status("DEGRADED")) == 429
    assert mapper.status_code(Status.DOWN) == 503


@pytest.mark.parametrize(
    ("value", "error"), [(99, ValueError), (600, ValueError), ("503", TypeError), (True, TypeError)]
)
def test_bad_http_codes_raise_naming_the_status(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="DOWN"):
        HttpCodeStatusMapper({"DOWN": value})  # type: ignore[dict-item]


def test_a_bad_status_code_in_the_mapping_raises() -> None:
    with pytest.raises(ValueError, match="Status code"):
        HttpCodeStatusMapper({"not ok": 503})
