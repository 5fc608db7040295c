from __future__ import annotations

import pytest

from actuator import Actuator
from tests.support.management import make_actuator, serve


async def test_facts_from_the_environment_and_code_show_in_info(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACTUATOR_INFO__FACTS", '{"datacenter": "eu-west-1", "rack": 12}')
    actuator = Actuator()
    actuator.add_facts({"environment": "production"}, team="payments", canary=False)
    actuator.add_facts(rack=14)
    info = await actuator.info()
    assert info["facts"] == {
        "datacenter": "eu-west-1",
        "rack": 14,
        "environment": "production",
        "team": "payments",
        "canary": False,
    }
    assert actuator.facts["team"] == "payments"


async def test_facts_are_served_over_http() -> None:
    actuator = make_actuator(info={"facts": {"team": "payments"}})
    async with serve(actuator) as http:
        body = (await http.get("/actuator/info")).json()
    assert body["facts"] == {"team": "payments"}


async def test_no_facts_no_section() -> None:
    assert "facts" not in await Actuator().info()


@pytest.mark.parametrize("value", [None, [1], {"a": 1}, float("nan")])
def test_facts_must_be_strings_numbers_or_booleans(value: object) -> None:
    actuator = Actuator()
    with pytest.raises(TypeError, match="fact 'owner'"):
        actuator.add_facts(owner=value)
    assert "owner" not in actuator.facts


def test_facts_cannot_be_changed_through_the_view() -> None:
    actuator = Actuator()
    with pytest.raises(TypeError):
        actuator.facts["team"] = "x"  # type: ignore[index]
