from __future__ import annotations

import pytest

from actuator import Health, Status


class ReplicaLag(Exception):
    pass


def test_factories_build_each_status_with_details() -> None:
    assert Health.up(pool_size=10) == Health(Status.UP, {"pool_size": 10})
    assert Health.out_of_service(reason="maintenance").status == Status.OUT_OF_SERVICE
    assert Health.unknown().status == Status.UNKNOWN
    assert Health.init().status == Status.INIT
    assert Health().status == Status.UP
    assert Health(status=Status("DEGRADED"), details={"shards": 3}).details == {"shards": 3}


def test_down_from_a_builtin_exception_names_its_type_and_message() -> None:
    assert Health.down(ValueError("boom")).details == {"error": "ValueError: boom"}


def test_down_from_an_own_exception_names_its_module_and_type() -> None:
    health = Health.down(ReplicaLag("12.5 s behind"), replica="db-2")
    assert health.status == Status.DOWN
    assert health.details == {
        "error": "tests.health.test_result.ReplicaLag: 12.5 s behind",
        "replica": "db-2",
    }


def test_down_from_an_exception_without_message_names_its_type_only() -> None:
    assert Health.down(ConnectionResetError()).details == {"error": "ConnectionResetError"}


def test_down_from_a_message_or_details() -> None:
    assert Health.down("replica lag").details == {"error": "replica lag"}
    assert Health.down(reason="replica lag").details == {"reason": "replica lag"}
    assert Health.down().details == {}


def test_details_are_an_immutable_copy() -> None:
    given = {"pool_size": 10}
    health = Health(Status.UP, given)
    given["pool_size"] = 0
    assert health.details == {"pool_size": 10}
    with pytest.raises(TypeError):
        health.details["pool_size"] = 1  # type: ignore[index]
    with pytest.raises(AttributeError):
        health.status = Status.DOWN  # type: ignore[misc]


def test_with_details_returns_a_new_health() -> None:
    health = Health.up(a=1)
    assert health.with_details(a=2, b=3).details == {"a": 2, "b": 3}
    assert health.details == {"a": 1}


def test_wrong_types_raise_type_error() -> None:
    with pytest.raises(TypeError, match="must be a Status"):
        Health("UP")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a mapping"):
        Health(Status.UP, [("a", 1)])  # type: ignore[arg-type]
