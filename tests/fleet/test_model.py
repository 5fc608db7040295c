from __future__ import annotations

import hashlib

import pytest
from pydantic import ValidationError

from actuator.fleet.model import MAX_BATCH, Grouping, IngestBatch, InstanceUpdate, rank, rollup


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"UP": 5}, "UP"),
        ({"UP": 5, "DOWN": 1}, "DOWN"),
        ({"UP": 5, "DISCONNECTED": 1, "DOWN": 1}, "DOWN"),
        ({"UP": 5, "DISCONNECTED": 1, "UNKNOWN": 1}, "DISCONNECTED"),
        ({"UP": 5, "DEGRADED": 1, "OUT_OF_SERVICE": 1}, "UNKNOWN"),
        ({"UP": 5, "OUT_OF_SERVICE": 1, "INIT": 1}, "OUT_OF_SERVICE"),
        ({"UP": 5, "INIT": 1}, "INIT"),
        ({}, "UNKNOWN"),
    ],
)
def test_rollup_takes_the_most_severe_status(counts: dict[str, int], expected: str) -> None:
    assert rollup(counts) == expected


def test_rollup_with_a_threshold_is_down_only_above_it() -> None:
    assert rollup({"UP": 8, "DOWN": 2}, threshold=20) == "UP"
    assert rollup({"UP": 7, "DOWN": 3}, threshold=20) == "DOWN"
    assert rollup({"UP": 8, "DOWN": 2, "INIT": 1}, threshold=50) == "INIT"


def test_severity_ranks_custom_codes_as_unknown() -> None:
    assert rank("DOWN") > rank("DISCONNECTED") > rank("UNKNOWN") > rank("OUT_OF_SERVICE")
    assert rank("OUT_OF_SERVICE") > rank("INIT") > rank("UP")
    assert rank("DEGRADED") == rank("UNKNOWN")


def test_group_ids_are_stable_and_depend_on_every_key() -> None:
    grouping = Grouping()
    values = grouping.values("orders", {"environment": "prod", "application": "shop", "x": "1"})
    assert values == {"service": "orders", "environment": "prod", "application": "shop"}
    # The documented formula, so ids stay the same across versions and consoles.
    text = '[["service","orders"],["environment","prod"],["application","shop"]]'
    assert grouping.group_id(values) == hashlib.sha256(text.encode()).hexdigest()[:16]
    assert grouping.group_id({**values, "environment": "dev"}) != grouping.group_id(values)
    assert grouping.group_id({**values, "application": None}) != grouping.group_id(values)


def test_per_service_thresholds_override_the_global_one() -> None:
    grouping = Grouping(down_threshold=10, thresholds={"orders": 50})
    assert grouping.threshold("abc", "orders") == 50
    assert grouping.threshold("abc", "billing") == 10


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"keys": ("environment",)}, "must start with 'service'"),
        ({"keys": ("service", "bad key")}, "is not a fact name"),
        ({"down_threshold": 120}, "down_threshold must be a percentage"),
        ({"thresholds": {"orders": -1}}, "thresholds.orders must be a percentage"),
    ],
)
def test_invalid_grouping_names_the_setting(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Grouping(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"type": "register", "id": "a", "status": "UP"}, "needs a service"),
        ({"type": "status", "id": "a"}, "needs a status"),
        ({"type": "status", "id": "a b", "status": "UP"}, "id"),
        ({"type": "status", "id": "a", "status": "up"}, "status"),
        ({"type": "status", "id": "a", "status": "UP", "extra": 1}, "extra"),
        ({"type": "hello", "id": "a"}, "type"),
        (
            {
                "type": "register",
                "id": "a",
                "status": "UP",
                "service": "s",
                "facts": {"bad key": "x"},
            },
            "fact name",
        ),
        (
            {
                "type": "register",
                "id": "a",
                "status": "UP",
                "service": "s",
                "facts": {"k": {"nested": 1}},
            },
            "facts",
        ),
        ({"type": "status", "id": "a" * 201, "status": "UP"}, "id"),
    ],
)
def test_malformed_updates_are_refused_naming_the_field(
    update: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        InstanceUpdate.model_validate(update)


def test_a_batch_is_capped() -> None:
    update = {"type": "status", "id": "a", "status": "UP"}
    with pytest.raises(ValidationError, match="updates"):
        IngestBatch.model_validate({"updates": [update] * (MAX_BATCH + 1)})
