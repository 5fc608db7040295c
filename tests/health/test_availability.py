"""The availability API: liveness, readiness and startup states the app controls."""

from __future__ import annotations

import logging

import pytest

from actuator import Availability, Lifecycle, LivenessState, ReadinessState, Status
from tests.support.asgi import RecordingApp, client_for, light_actuator


async def test_mark_broken_fails_liveness_until_mark_correct() -> None:
    actuator = light_actuator({"health": {"show_details": "always"}})
    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        actuator.availability.mark_broken("worker thread died")
        answer = await client.get("/actuator/health/liveness")
        assert answer.status_code == 503
        assert answer.json()["components"]["livenessState"] == {
            "status": "DOWN",
            "details": {"reason": "worker thread died", "state": "BROKEN"},
        }
        assert (await client.get("/actuator/health/readiness")).status_code == 200
        actuator.availability.mark_correct()
        assert (await client.get("/actuator/health/liveness")).status_code == 200


async def test_refusals_from_independent_sources_do_not_cancel_each_other() -> None:
    actuator = light_actuator({"health": {"show_details": "always"}})
    availability = actuator.availability
    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        availability.refuse_traffic("warming caches")
        availability.refuse_traffic("paused by operator", source="pause")
        answer = await client.get("/actuator/health/readiness")
        assert answer.status_code == 503
        assert answer.json()["components"]["readinessState"] == {
            "status": "OUT_OF_SERVICE",
            "details": {
                "state": "REFUSING_TRAFFIC",
                "reasons": {"app": "warming caches", "pause": "paused by operator"},
            },
        }
        availability.accept_traffic()
        assert availability.refusals == {"pause": "paused by operator"}
        assert (await client.get("/actuator/health/readiness")).status_code == 503
        availability.accept_traffic(source="pause")
        assert (await client.get("/actuator/health/readiness")).status_code == 200
        assert (await client.get("/actuator/health/liveness")).status_code == 200


def test_states_and_lifecycle_transitions() -> None:
    availability = Availability()
    assert availability.lifecycle is Lifecycle.STARTING
    assert availability.readiness is ReadinessState.REFUSING_TRAFFIC
    assert availability.liveness is LivenessState.CORRECT
    availability.mark_started()
    # mypy keeps the narrowing of the assert above across mark_started().
    assert availability.readiness is ReadinessState.ACCEPTING_TRAFFIC  # type: ignore[comparison-overlap]
    availability.refuse_traffic("")
    assert availability.refusals == {"app": "refusing traffic"}
    assert availability.readiness is ReadinessState.REFUSING_TRAFFIC
    availability.accept_traffic()
    availability.begin_shutdown()
    assert availability.lifecycle is Lifecycle.STOPPING
    availability.mark_started()  # too late: shutdown is one-way
    assert availability.lifecycle is Lifecycle.STOPPING
    assert availability.readiness_health().status == Status.OUT_OF_SERVICE
    availability.stopped()
    assert availability.lifecycle is Lifecycle.STOPPED
    availability.mark_broken("")
    assert availability.liveness is LivenessState.BROKEN


def test_refusals_are_read_only() -> None:
    availability = Availability()
    with pytest.raises(TypeError):
        availability.refusals["x"] = "y"  # type: ignore[index]


def test_listeners_hear_every_change_and_a_failing_one_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    availability = Availability()
    seen: list[str] = []
    availability.on_change(lambda a: seen.append(a.readiness.value))

    def broken(a: Availability) -> None:
        raise RuntimeError("listener bug")

    availability.on_change(broken)
    before = availability.changed_at
    with caplog.at_level(logging.ERROR, logger="actuator.availability"):
        availability.mark_started()
        availability.refuse_traffic("maintenance")
        availability.accept_traffic()
        availability.accept_traffic()  # no change, no call
    assert seen == ["ACCEPTING_TRAFFIC", "REFUSING_TRAFFIC", "ACCEPTING_TRAFFIC"]
    assert availability.changed_at >= before
    failures = [r for r in caplog.records if r.getMessage().startswith("Availability listener")]
    assert len(failures) == 3
