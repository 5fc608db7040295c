from __future__ import annotations

from actuator import Actuator
from tests.support.management import serve
from tests.support.secured import MONITORING, bearer, client, secured_actuator


async def test_ping_is_exposed_by_default_to_callers_with_the_read_role() -> None:
    actuator, _ = secured_actuator(exposure={"include": ["health", "ping"]})
    async with client(actuator) as http:
        anonymous = await http.get("/actuator/ping")
        reader = await http.get("/actuator/ping", headers=bearer(MONITORING))
    await actuator.shutdown()
    assert Actuator().exposed_endpoint("ping") is not None
    assert anonymous.status_code == 401
    assert reader.status_code == 200
    assert reader.json()["pong"] is True


async def test_ping_answers_pong() -> None:
    actuator = Actuator(settings={"security": {"anonymous": ["health", "ping"]}})
    async with serve(actuator) as http:
        pong = await http.get("/actuator/ping")
        head = await http.head("/actuator/ping")
        links = (await http.get("/actuator")).json()["_links"]
    assert pong.status_code == 200
    assert pong.json()["pong"] is True
    assert pong.json()["timestamp"]
    assert head.status_code == 200
    assert head.content == b""
    assert "ping" in links


async def test_ping_is_read_only_and_takes_no_parameters() -> None:
    actuator = Actuator(settings={"security": {"anonymous": ["health", "ping"]}})
    async with serve(actuator) as http:
        posted = await http.post("/actuator/ping")
        deeper = await http.get("/actuator/ping/extra")
        query = await http.get("/actuator/ping?verbose=1")
    assert posted.status_code == 405
    assert deeper.status_code == 404
    assert query.status_code == 400


async def test_ping_can_be_left_out_of_the_exposure() -> None:
    actuator = Actuator(settings={"exposure": {"exclude": ["ping"]}})
    async with serve(actuator) as http:
        answer = await http.get("/actuator/ping")
    assert answer.status_code == 404
