from __future__ import annotations

import asyncio
import itertools
import logging
import random

import pytest

from actuator import Actuator
from tests.support.management import ANYONE, BAD_BODIES, CLIENT, make_actuator, serve


async def test_get_tells_whether_the_service_is_paused_on_every_action() -> None:
    actuator = make_actuator()
    async with serve(actuator) as http:
        answers = [await http.get(f"/actuator/{action}") for action in ("pause", "resume", "flip")]
    for answer in answers:
        assert answer.status_code == 200
        assert answer.json() == {"paused": False, "reason": None, "since": None, "by": None}


async def test_pause_refuses_traffic_and_app_requests_while_the_actuator_answers() -> None:
    actuator = make_actuator()
    async with serve(actuator) as http:
        paused = await http.post("/actuator/pause", json={"reason": "schema migration"})
        readiness = await http.get("/actuator/health/readiness")
        liveness = await http.get("/actuator/health/liveness")
        app = await http.get("/hello")
        head = await http.head("/hello")
        info = await http.get("/actuator/info")
        state = (await http.get("/actuator/pause")).json()
    assert paused.status_code == 200
    assert paused.json()["paused"] is True
    assert paused.json()["changed"] is True
    assert readiness.status_code == 503
    assert readiness.json()["status"] == "OUT_OF_SERVICE"
    assert liveness.status_code == 200
    assert app.status_code == 503
    assert app.headers["retry-after"] == "30"
    assert app.json()["message"] == "Service paused: schema migration"
    assert head.status_code == 503
    assert head.content == b""
    assert info.status_code == 200
    assert state["paused"] is True
    assert state["reason"] == "schema migration"
    assert state["by"] == f"{CLIENT[0]}:{CLIENT[1]}"
    assert state["since"]
    assert actuator.paused


async def test_resume_restores_readiness_and_app_requests() -> None:
    actuator = make_actuator()
    async with serve(actuator) as http:
        await http.post("/actuator/pause")
        resumed = await http.post("/actuator/resume")
        again = await http.post("/actuator/resume")
        readiness = await http.get("/actuator/health/readiness")
        app = await http.get("/hello")
    assert resumed.json()["paused"] is False
    assert resumed.json()["changed"] is True
    assert again.json()["changed"] is False
    assert readiness.status_code == 200
    assert app.text == "hello"


async def test_flip_toggles() -> None:
    actuator = make_actuator()
    async with serve(actuator) as http:
        first = (await http.post("/actuator/flip")).json()
        second = (await http.post("/actuator/flip", json={"reason": "done"})).json()
    assert (first["paused"], second["paused"]) == (True, False)
    assert not actuator.paused


async def test_resuming_does_not_undo_a_drain() -> None:
    actuator = make_actuator()
    async with serve(actuator) as http:
        actuator.availability.refuse_traffic("draining after SIGTERM", source="drain")
        await http.post("/actuator/pause")
        await http.post("/actuator/resume")
        readiness = await http.get("/actuator/health/readiness")
    assert readiness.status_code == 503


async def test_app_requests_can_keep_flowing_while_paused() -> None:
    actuator = make_actuator(pause={"reject_requests": False})
    async with serve(actuator) as http:
        await http.post("/actuator/pause")
        readiness = await http.get("/actuator/health/readiness")
        app = await http.get("/hello")
    assert readiness.status_code == 503
    assert app.status_code == 200


async def test_only_listed_paths_are_refused_while_paused() -> None:
    actuator = make_actuator(pause={"paths": "/api", "retry_after": 0})
    async with serve(actuator) as http:
        await http.post("/actuator/pause")
        listed = await http.get("/api/orders")
        other = await http.get("/hello")
    assert listed.status_code == 503
    assert "retry-after" not in listed.headers
    assert other.status_code == 200


@pytest.mark.parametrize(
    ("body", "content_type", "status", "named"),
    [
        (b'{"reason": 5}', "application/json", 400, "reason"),
        (b'{"why": "deploy"}', "application/json", 400, "why"),
        (b'{"reason": "' + b"x" * 2000 + b'"}', "application/json", 400, "reason"),
        *BAD_BODIES,
    ],
)
@pytest.mark.parametrize("action", ["pause", "flip"])
async def test_rejected_requests_do_not_pause(
    action: str,
    body: bytes,
    content_type: str,
    status: int,
    named: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    actuator = make_actuator()
    with caplog.at_level(logging.WARNING, logger="actuator.audit"):
        async with serve(actuator) as http:
            answer = await http.post(
                f"/actuator/{action}", content=body, headers={"content-type": content_type}
            )
            readiness = await http.get("/actuator/health/readiness")
    assert answer.status_code == status
    assert named in answer.json()["message"]
    assert not actuator.paused
    assert readiness.status_code == 200
    assert not [r for r in caplog.records if r.name == "actuator.audit"]


async def test_pausing_is_forbidden_unless_access_allows_it() -> None:
    actuator = Actuator(settings={"security": ANYONE, "exposure": {"include": ["pause", "flip"]}})
    async with serve(actuator) as http:
        state = await http.get("/actuator/pause")
        paused = await http.post("/actuator/pause")
        flipped = await http.post("/actuator/flip")
    assert state.status_code == 200
    assert paused.status_code == flipped.status_code == 403
    assert not actuator.paused


async def test_many_concurrent_pause_resume_and_flip_leave_a_consistent_state(
    caplog: pytest.LogCaptureFixture,
) -> None:
    actuator = make_actuator()
    calls: list[str] = []

    @actuator.on_pause
    async def paused() -> None:
        calls.append("pause")
        await asyncio.sleep(0)  # let other requests run in between

    @actuator.on_resume
    def resumed() -> None:
        calls.append("resume")

    rng = random.Random(4)
    actions = [rng.choice(["pause", "resume", "flip", "state"]) for _ in range(300)]
    with caplog.at_level(logging.WARNING, logger="actuator.audit"):
        async with serve(actuator) as http:

            async def act(action: str) -> dict[str, object]:
                if action == "state":
                    app = await http.get("/hello")
                    return {"app": app.status_code}
                answer = await http.post(f"/actuator/{action}", json={"reason": action})
                assert answer.status_code == 200
                body: dict[str, object] = answer.json()
                return body

            answers = await asyncio.gather(*(act(a) for a in actions))
            await actuator.pause_control.settled()
            final = (await http.get("/actuator/pause")).json()
            readiness = await http.get("/actuator/health/readiness")
            app = await http.get("/hello")

    transitions = [a for a in answers if a.get("changed")]
    audited = [
        r.audit["action"]  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "actuator.audit"
    ]
    # Every change was a real transition, audited once, and transitions alternate.
    assert audited == ["pause" if t["paused"] else "resume" for t in transitions]
    assert all(a != b for a, b in itertools.pairwise(audited))
    # Callbacks ran once per transition, in order, ending with the final state.
    assert calls == audited
    # State, readiness, the gate and the answers agree.
    assert final["paused"] is actuator.paused
    assert ("pause" in actuator.availability.refusals) is actuator.paused
    assert readiness.status_code == (503 if actuator.paused else 200)
    assert app.status_code == (503 if actuator.paused else 200)
    if transitions:
        assert transitions[-1]["paused"] is actuator.paused
    assert len(transitions) > 10
