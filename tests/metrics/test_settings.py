"""The ``metrics`` settings section, from code and from ``ACTUATOR_METRICS__*``."""

from __future__ import annotations

import pytest

from actuator import Actuator, ActuatorSettings
from actuator.settings import load_settings


def test_defaults() -> None:
    metrics = ActuatorSettings().metrics
    assert (metrics.enabled, metrics.naming, metrics.max_uri_tags, metrics.include_actuator) == (
        True,
        "micrometer",
        100,
        False,
    )
    assert metrics.buckets[0] == 0.005
    assert metrics.buckets[-1] == 10.0


def test_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTUATOR_METRICS__NAMING", "otel")
    monkeypatch.setenv("ACTUATOR_METRICS__MAX_URI_TAGS", "20")
    monkeypatch.setenv("ACTUATOR_METRICS__EXCLUDE", "/static/,/favicon.ico")
    monkeypatch.setenv("ACTUATOR_METRICS__BUCKETS", "0.1,0.5,1")
    monkeypatch.setenv("ACTUATOR_METRICS__ENABLED", "false")
    metrics = load_settings(None).metrics
    assert metrics.naming == "otel"
    assert metrics.max_uri_tags == 20
    assert metrics.exclude == ["/static", "/favicon.ico"]
    assert metrics.buckets == [0.1, 0.5, 1.0]
    assert metrics.enabled is False


@pytest.mark.parametrize(
    ("metrics", "named"),
    [
        ({"naming": "prometheus"}, "metrics.naming (ACTUATOR_METRICS__NAMING)"),
        ({"max_uri_tags": 0}, "metrics.max_uri_tags"),
        ({"exclude": ["static"]}, "excluded path 'static' must start with '/'"),
        ({"buckets": []}, "at least one bucket"),
        ({"buckets": [0.5, 0.1]}, "strictly increasing"),
        ({"buckets": [0.1, float("inf")]}, "finite"),
        ({"buckets": "0.1,fast"}, "metrics.buckets"),
        ({"histogram": True}, "metrics.histogram"),
    ],
)
def test_invalid_values_fail_at_construction_naming_the_setting(
    metrics: dict[str, object], named: str
) -> None:
    with pytest.raises(ValueError, match="Invalid actuator settings") as error:
        Actuator(settings={"metrics": metrics})
    assert named in str(error.value)
