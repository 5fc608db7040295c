from __future__ import annotations

import logging

import pytest

from actuator import Status, StatusAggregator

UP, DOWN, OOS, INIT, UNKNOWN = (
    Status.UP,
    Status.DOWN,
    Status.OUT_OF_SERVICE,
    Status.INIT,
    Status.UNKNOWN,
)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([UP, DOWN, OOS, INIT, UNKNOWN], DOWN),
        ([UP, OOS, INIT, UNKNOWN], OOS),
        ([UP, INIT, UNKNOWN], INIT),
        ([UNKNOWN, UP], UP),
        ([UNKNOWN], UNKNOWN),
    ],
)
def test_default_order_takes_the_most_severe(statuses: list[Status], expected: Status) -> None:
    assert StatusAggregator().aggregate(statuses) == expected


def test_an_empty_set_aggregates_to_unknown() -> None:
    assert StatusAggregator().aggregate([]) == UNKNOWN


def test_the_aggregate_drops_component_descriptions() -> None:
    result = StatusAggregator().aggregate([Status("DOWN", "db unreachable"), UP])
    assert result == DOWN
    assert result.description == ""


def test_aggregate_status_when_using_custom_order_with_a_custom_status() -> None:
    degraded = Status("DEGRADED")
    aggregator = StatusAggregator(["DOWN", "DEGRADED", "UP"])
    assert aggregator.aggregate([UP, degraded]) == degraded
    assert aggregator.aggregate([degraded, DOWN]) == DOWN
    assert StatusAggregator([DOWN, degraded, UP]).order == ("DOWN", "DEGRADED", "UP")


def test_a_status_outside_the_order_is_ignored_and_warned_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    aggregator = StatusAggregator()
    with caplog.at_level(logging.WARNING, logger="actuator.health"):
        assert aggregator.aggregate([UP, Status("DEGRADED")]) == UP
        assert aggregator.aggregate([Status("DEGRADED")]) == UNKNOWN
    warnings = [r for r in caplog.records if "DEGRADED" in r.getMessage()]
    assert len(warnings) == 1
    assert "status_order" in warnings[0].getMessage()


@pytest.mark.parametrize(
    ("order", "message"),
    [([], "at least one"), (["UP", "DOWN", "up"], "repeats"), (["UP", "not ok"], "Status code")],
)
def test_invalid_orders_raise_value_error(order: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StatusAggregator(order)
