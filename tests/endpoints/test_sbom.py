from __future__ import annotations

import asyncio
import email.message
import importlib.metadata
import json
from typing import Any

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

from actuator.endpoints.sbom import CYCLONEDX_JSON, SbomEndpoint, licenses, purl
from tests.support.management import make_actuator, serve


async def test_ids_then_the_cyclonedx_document_of_the_installed_distributions() -> None:
    actuator = make_actuator()
    async with serve(actuator) as http:
        ids = await http.get("/actuator/sbom")
        answer = await http.get("/actuator/sbom/application")
    assert ids.json() == {"ids": ["application"]}
    assert ids.headers["content-type"] == "application/json"  # */*
    assert answer.status_code == 200
    assert answer.headers["content-type"] == CYCLONEDX_JSON
    errors = JsonStrictValidator(SchemaVersion.V1_5).validate_str(answer.text)
    assert errors is None, errors
    bom = answer.json()
    assert bom["metadata"]["component"] == {
        "type": "application",
        "name": "orders",
        "version": "1.0.0",
    }
    components = {c["name"].lower(): c for c in bom["components"]}
    starlette = components["starlette"]
    version = importlib.metadata.version("starlette")
    assert starlette["version"] == version
    assert starlette["purl"] == f"pkg:pypi/starlette@{version}"
    assert PackageURL.from_string(starlette["purl"]).name == "starlette"
    assert starlette["licenses"]
    installed = {d.metadata["Name"].lower() for d in importlib.metadata.distributions()}
    assert set(components) == installed


async def test_the_document_is_made_once_and_kept() -> None:
    endpoint = SbomEndpoint({"name": "orders"})
    first, second = await asyncio.gather(endpoint.document(), endpoint.document())
    assert first is second
    assert await endpoint.document() is first
    assert json.loads(first)["serialNumber"].startswith("urn:uuid:")


async def test_an_unknown_id_is_404_naming_the_available_ones() -> None:
    actuator = make_actuator()
    async with serve(actuator) as http:
        answer = await http.get("/actuator/sbom/native")
        deeper = await http.get("/actuator/sbom/application/x")
    assert answer.status_code == 404
    assert "available: application" in answer.json()["message"]
    assert deeper.status_code == 404


async def test_a_client_asking_for_cyclonedx_only_gets_it() -> None:
    actuator = make_actuator()
    async with serve(actuator) as http:
        answer = await http.get("/actuator/sbom/application", headers={"Accept": CYCLONEDX_JSON})
        ids = await http.get("/actuator/sbom", headers={"Accept": CYCLONEDX_JSON})
    assert answer.status_code == 200
    assert answer.json()["bomFormat"] == "CycloneDX"
    assert ids.json() == {"ids": ["application"]}


def test_package_urls_use_the_normalized_name_and_escape_the_version() -> None:
    assert purl("Django_REST.framework", "3.15.1") == "pkg:pypi/django-rest-framework@3.15.1"
    assert purl("torch", "2.3.0+cpu") == "pkg:pypi/torch@2.3.0%2Bcpu"
    assert PackageURL.from_string(purl("torch", "2.3.0+cpu")).version == "2.3.0+cpu"


def _metadata(**fields: Any) -> email.message.Message:
    message = email.message.Message()
    for key, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            message[key.replace("_", "-")] = item
    return message


def test_licenses_come_from_the_expression_the_license_field_or_the_classifiers() -> None:
    assert licenses(_metadata(License_Expression="MIT OR Apache-2.0", License="ignored")) == [
        {"expression": "MIT OR Apache-2.0"}
    ]
    assert licenses(_metadata(License="BSD 3-Clause License\n\nCopyright (c) ...")) == [
        {"license": {"name": "BSD 3-Clause License"}}
    ]
    assert licenses(
        _metadata(
            License="UNKNOWN",
            Classifier=["License :: OSI Approved :: MIT License", "Programming Language :: Python"],
        )
    ) == [{"license": {"name": "MIT License"}}]
    assert licenses(_metadata(Name="x")) == []
