from __future__ import annotations

from actuator import Actuator
from tests.support.management import serve


async def test_ping_answers_pong_and_is_exposed_by_default() -> None:
    actuator = Actuator()
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
    actuator = Actuator()
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
