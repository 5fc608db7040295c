"""``/actuator/prometheus``: formats, negotiation, gzip, filtering, and promtool's verdict."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import subprocess
import threading
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import actuator.endpoints.prometheus as endpoint
from actuator import Actuator
from actuator.endpoints.prometheus import choose_content_encoding, render
from tests.metrics.support import client

PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
PROMETHEUS_3_ACCEPT = (
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;"
    "q=0.5,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.4,"
    "application/openmetrics-text;version=0.0.1;q=0.3,text/plain;version=1.0.0;"
    "escaping=allow-utf-8;q=0.2,text/plain;version=0.0.4;q=0.1,*/*;q=0.05"
)
TEXT_0_0_4 = "text/plain; version=0.0.4; charset=utf-8"


pytestmark = pytest.mark.usefixtures("anonymous_scrapes", "no_event_loop_heartbeat")


def exposed() -> Actuator:
    return Actuator(
        name="orders", version="1.4.2", settings={"exposure": {"include": ["health", "prometheus"]}}
    )


async def item(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.path_params["item_id"])


async def scrape(actuator: Actuator, **headers: str) -> tuple[int, dict[str, str], bytes]:
    app = actuator.wrap(Starlette(routes=[Route("/items/{item_id}", item)]))
    async with client(app) as http:
        await http.get("/items/1")
        await http.get("/missing")
        response = await http.get(
            "/actuator/prometheus", headers={"accept-encoding": "identity", **headers}
        )
    return response.status_code, dict(response.headers), response.content


async def test_default_answer_is_the_text_format_0_0_4() -> None:
    status, headers, body = await scrape(exposed())
    assert status == 200
    assert headers["content-type"] == TEXT_0_0_4
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    counts = {
        s.labels["uri"]: s.value
        for s in families["http_server_requests_seconds"].samples
        if s.name.endswith("_count")
    }
    assert counts == {"/items/{item_id}": 1.0, "NOT_FOUND": 1.0}


@pytest.mark.parametrize("accept", ["*/*", "text/plain", "text/html,*/*;q=0.8"])
async def test_curl_and_browsers_get_the_text_format(accept: str) -> None:
    status, headers, _ = await scrape(exposed(), accept=accept)
    assert (status, headers["content-type"]) == (200, TEXT_0_0_4)


@pytest.mark.parametrize(
    "accept", [PROMETHEUS_ACCEPT, PROMETHEUS_3_ACCEPT], ids=["prometheus-2", "prometheus-3"]
)
async def test_prometheus_accept_header_gets_openmetrics_ending_with_eof(accept: str) -> None:
    status, headers, body = await scrape(exposed(), accept=accept)
    assert status == 200
    assert headers["content-type"].startswith(
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    )
    assert body.endswith(b"# EOF\n")
    assert b"# UNIT http_server_requests_seconds seconds" in body


async def test_unacceptable_media_type_is_406() -> None:
    status, _, body = await scrape(exposed(), accept="application/json")
    assert status == 406
    assert b"text/plain" in body


async def test_gzip_when_accepted() -> None:
    status, headers, body = await scrape(exposed(), **{"accept-encoding": "gzip"})
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in headers["vary"]
    # httpx has decompressed the body already; what went over the wire was smaller
    assert b"http_server_requests_seconds_count" in body
    assert int(headers["content-length"]) < len(body) / 3


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        (None, "identity"),
        ("", "identity"),
        ("gzip", "gzip"),
        ("x-gzip", "gzip"),
        ("gzip;q=0", "identity"),
        ("gzip; q=0.0, identity", "identity"),
        ("deflate, gzip;q=0", "identity"),
        ("gzip;q=0.5, identity;q=1", "identity"),
        ("gzip;q=1, identity;q=0.5", "gzip"),
        ("identity;q=0, gzip", "gzip"),
        ("*", "gzip"),
        ("*;q=0, identity", "identity"),
        ("gzip;q=0, identity;q=0", None),
        ("*;q=0", None),
        ("gzip;q=abc", "identity"),
        ("gzip;q=2", "identity"),
        ("br", "identity"),
    ],
)
def test_content_coding_honours_q_values(header: str | None, chosen: str | None) -> None:
    assert choose_content_encoding(header) == chosen


async def test_gzip_refused_with_q_zero_is_not_sent() -> None:
    status, headers, _ = await scrape(exposed(), **{"accept-encoding": "gzip;q=0"})
    assert status == 200
    assert "content-encoding" not in headers
    status, _, body = await scrape(exposed(), **{"accept-encoding": "gzip;q=0, identity;q=0"})
    assert status == 406
    assert b"No acceptable content coding" in body


def test_render_compresses_with_gzip() -> None:
    registry = CollectorRegistry()
    Counter("things", "Things", registry=registry).inc()
    plain = render(registry, generate_latest)
    assert gzip.decompress(render(registry, generate_latest, compress=True)) == plain


async def test_name_filter_accepts_family_and_sample_names() -> None:
    actuator = exposed()
    async with client(actuator) as http:
        await http.get("/somewhere")
        response = await http.get(
            "/actuator/prometheus?name[]=actuator_health_status&name[]=process_open_fds"
            "&name[]=http_server_requests_active"
        )
        only_count = await http.get(
            "/actuator/prometheus", params={"name[]": "http_server_requests_seconds_count"}
        )
    names = {f.name for f in text_string_to_metric_families(response.text)}
    assert names == {"actuator_health_status", "process_open_fds", "http_server_requests_active"}
    assert "_bucket" not in only_count.text


async def test_unknown_query_parameters_are_refused() -> None:
    async with client(exposed()) as http:
        response = await http.get("/actuator/prometheus?names=x")
    assert response.status_code == 400
    assert response.json()["parameter"] == "names"


async def test_head_answers_like_get_without_a_body() -> None:
    async with client(exposed()) as http:
        response = await http.head("/actuator/prometheus")
    assert response.status_code == 200
    assert response.headers["content-type"] == TEXT_0_0_4
    assert response.content == b""


async def test_not_served_unless_exposed() -> None:
    async with client(Actuator()) as http:
        assert (await http.get("/actuator/prometheus")).status_code == 404


@pytest.mark.parametrize("naming", ["micrometer", "otel"])
async def test_exposition_passes_promtool_check_metrics(naming: str) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: apt-get install prometheus (see .ci/run)"
    actuator = Actuator(
        name="orders",
        version="1.4.2",
        settings={"exposure": {"include": ["prometheus"]}, "metrics": {"naming": naming}},
    )
    status, _, body = await scrape(actuator)
    assert status == 200
    result = await asyncio.to_thread(
        subprocess.run,
        [promtool, "check", "metrics"],
        input=body,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert result.stdout.decode().strip() == ""


def held_renders(monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], threading.Event]:
    """Renders that wait for the test's go (so scrapes overlap), and their record."""
    original = endpoint.render
    renders: list[str] = []
    release = threading.Event()

    def held(*args: Any) -> bytes:
        renders.append("render")
        release.wait(timeout=10)
        return original(*args)

    monkeypatch.setattr(endpoint, "render", held)
    return renders, release


async def test_concurrent_scrapes_share_one_render(monkeypatch: pytest.MonkeyPatch) -> None:
    renders, release = held_renders(monkeypatch)
    app = exposed().wrap(Starlette(routes=[Route("/items/{item_id}", item)]))
    async with client(app) as http:
        await http.get("/items/1")
        scrapes = [asyncio.ensure_future(http.get("/actuator/prometheus")) for _ in range(3)]
        await asyncio.sleep(0.2)
        release.set()
        answers = await asyncio.gather(*scrapes)
        later = await http.get("/actuator/prometheus")

    assert renders == ["render", "render"]  # one for the three together, one for the later
    assert {answer.content for answer in answers} == {answers[0].content}
    assert b'uri="/items/{item_id}"' in answers[0].content
    assert later.status_code == 200


async def test_concurrent_scrapes_in_different_formats_render_each_their_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    renders, release = held_renders(monkeypatch)
    app = exposed().wrap(Starlette(routes=[Route("/items/{item_id}", item)]))
    async with client(app) as http:
        text = asyncio.ensure_future(http.get("/actuator/prometheus"))
        openmetrics = asyncio.ensure_future(
            http.get("/actuator/prometheus", headers={"accept": "application/openmetrics-text"})
        )
        await asyncio.sleep(0.2)
        release.set()
        answers = await asyncio.gather(text, openmetrics)

    assert len(renders) == 2
    assert answers[0].headers["content-type"] == TEXT_0_0_4
    assert not answers[0].content.endswith(b"# EOF\n")
    assert answers[1].content.endswith(b"# EOF\n")
