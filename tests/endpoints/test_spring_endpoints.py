"""What the Spring endpoints added for Spring Boot Admin share: exposure, access, discovery."""

from __future__ import annotations

import pytest

from actuator import Actuator
from tests.support.asgi import RecordingApp
from tests.support.management import make_actuator, serve
from tests.support.secured import ALICE, MONITORING, bearer, client, secured_actuator

# The endpoints Spring Boot Admin probes, and a path under each that answers 200.
READS = {
    "startup": "/actuator/startup",
    "httpexchanges": "/actuator/httpexchanges",
    "scheduledtasks": "/actuator/scheduledtasks",
    "sbom": "/actuator/sbom",
    "configprops": "/actuator/configprops",
    "auditevents": "/actuator/auditevents",
    "caches": "/actuator/caches",
}


@pytest.mark.parametrize("name", [*READS, "logfile"])
async def test_the_endpoint_is_not_served_unless_exposed(name: str) -> None:
    actuator = Actuator(settings={"health": {"event_loop": {"enabled": False}}})
    async with serve(actuator) as http:
        answer = await http.get(f"/actuator/{name}")
    assert answer.status_code == 404
    assert answer.json()["message"] == f"No endpoint named {name!r}"


@pytest.mark.parametrize("name", [*READS, "logfile"])
async def test_anonymous_callers_are_refused_and_the_read_role_may_read(name: str) -> None:
    actuator, _ = secured_actuator()
    async with client(actuator.wrap(RecordingApp())) as http:
        anonymous = await http.get(f"/actuator/{name}")
        reader = await http.get(f"/actuator/{name}", headers=bearer(MONITORING))
    await actuator.shutdown()
    assert anonymous.status_code == 401
    if name == "logfile":  # let in, but this process logs to no file
        assert reader.status_code == 404, reader.text
        assert "No log file" in reader.json()["message"]
    else:
        assert reader.status_code == 200, reader.text


async def test_discovery_links_every_exposed_endpoint_with_its_templates() -> None:
    actuator = make_actuator()
    async with serve(actuator) as http:
        links = (await http.get("/actuator")).json()["_links"]
    for name in READS:
        assert links[name]["href"] == f"http://testserver/actuator/{name}"
    assert "logfile" not in links  # no log file in this process: not listed, as in Spring
    assert links["caches-cache"] == {
        "href": "http://testserver/actuator/caches/{cache}",
        "templated": True,
    }
    assert links["sbom-id"]["templated"] is True
    assert links["configprops-prefix"]["templated"] is True


async def test_clearing_caches_needs_unrestricted_access_and_the_full_role() -> None:
    actuator, _ = secured_actuator()
    cache: dict[str, int] = {"a": 1}
    actuator.add_cache("things", cache)
    async with client(actuator.wrap(RecordingApp())) as http:
        read_only = await http.delete("/actuator/caches", headers=bearer(ALICE))
    await actuator.shutdown()
    assert read_only.status_code == 403
    assert "read_only" in read_only.json()["message"]

    actuator, _ = secured_actuator(access={"endpoints": {"caches": "unrestricted"}})
    actuator.add_cache("things", cache)
    async with client(actuator.wrap(RecordingApp())) as http:
        reader = await http.delete("/actuator/caches", headers=bearer(MONITORING))
        assert cache == {"a": 1}
        full = await http.delete("/actuator/caches", headers=bearer(ALICE))
    await actuator.shutdown()
    assert reader.status_code == 403
    assert full.status_code == 204
    assert cache == {}


async def test_draining_the_startup_timeline_is_a_write_operation() -> None:
    actuator, _ = secured_actuator()
    async with client(actuator.wrap(RecordingApp())) as http:
        refused = await http.post("/actuator/startup", headers=bearer(ALICE))
        kept = await http.get("/actuator/startup", headers=bearer(MONITORING))
    await actuator.shutdown()
    assert refused.status_code == 403
    assert kept.json()["timeline"]["events"]
