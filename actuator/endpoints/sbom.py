"""The sbom endpoint: a CycloneDX bill of materials of the installed Python distributions.

Made from ``importlib.metadata`` the first time it is asked for (in a thread,
off the event loop) and kept: what is installed does not change while the
process runs. Each distribution becomes a ``library`` component with its
name, version, ``pkg:pypi`` package URL and the licenses its metadata
declares (``License-Expression``, else the ``License`` field, else the
``License ::`` classifiers).
"""

from __future__ import annotations

import asyncio
import datetime
import importlib.metadata
import re
import threading
import urllib.parse
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from actuator._http import json_bytes
from actuator.endpoints.base import (
    JSON,
    JSON_TYPES,
    Endpoint,
    EndpointResponse,
    NotFound,
    OperationRequest,
)

CYCLONEDX_JSON = "application/vnd.cyclonedx+json"
APPLICATION = "application"
SPEC_VERSION = "1.5"
_MAX_LICENSE_NAME = 200


def purl(name: str, version: str) -> str:
    """The package URL of a PyPI distribution: ``pkg:pypi/django-rest-framework@3.15.1``."""
    normalized = re.sub(r"[-_.]+", "-", name).lower()
    return f"pkg:pypi/{urllib.parse.quote(normalized)}@{urllib.parse.quote(version, safe='')}"


def licenses(metadata: Any) -> list[dict[str, Any]]:
    """The CycloneDX ``licenses`` of a distribution's metadata (empty when none is declared)."""
    expression = (metadata.get("License-Expression") or "").strip()
    if expression:
        return [{"expression": expression}]
    text = (metadata.get("License") or "").strip()
    if text and text.upper() != "UNKNOWN":
        # Some packages paste the whole license text here: keep its first line as a name.
        return [{"license": {"name": text.splitlines()[0][:_MAX_LICENSE_NAME]}}]
    names = [
        c.split("::")[-1].strip()
        for c in metadata.get_all("Classifier") or ()
        if c.startswith("License ::") and c.count("::") >= 2
    ]
    return [{"license": {"name": name}} for name in dict.fromkeys(names)]


def bill_of_materials(
    distributions: Iterable[importlib.metadata.Distribution],
    application: Mapping[str, Any],
) -> dict[str, Any]:
    """A CycloneDX 1.5 JSON document listing ``distributions``."""
    components: dict[str, dict[str, Any]] = {}
    for dist in distributions:
        metadata: Any = dist.metadata
        name, version = metadata.get("Name"), metadata.get("Version")
        if not name or not version:
            continue  # a broken install (metadata without a name) is not a component
        ref = purl(name, version)
        component: dict[str, Any] = {
            "type": "library",
            "bom-ref": ref,
            "name": name,
            "version": version,
            "purl": ref,
        }
        found = licenses(metadata)
        if found:
            component["licenses"] = found
        components.setdefault(ref, component)  # the first on sys.path wins, as import does
    root: dict[str, Any] = {
        "type": "application",
        "name": str(application.get("name") or "application"),
    }
    if application.get("version"):
        root["version"] = str(application["version"])
    if application.get("description"):
        root["description"] = str(application["description"])
    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": uuid.uuid4().urn,
        "version": 1,
        "metadata": {
            "timestamp": datetime.datetime.now(datetime.timezone.utc)
            .isoformat(timespec="seconds")
            .replace("+00:00", "Z"),
            "tools": {
                "components": [
                    {"type": "library", "name": "asgi-actuator", "version": _own_version()}
                ]
            },
            "component": root,
        },
        "components": sorted(components.values(), key=lambda c: (c["name"].lower(), c["version"])),
    }


def _own_version() -> str:
    try:
        return importlib.metadata.version("asgi-actuator")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        return "unknown"


class SbomEndpoint(Endpoint):
    """``GET /sbom`` answers ``{"ids": ["application"]}``; ``GET /sbom/application`` the BOM.

    ::

        {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
         "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
         "metadata": {"timestamp": "2025-05-01T09:30:11Z", "component": {
             "type": "application", "name": "orders", "version": "1.4.2"}, ...},
         "components": [{"type": "library", "bom-ref": "pkg:pypi/starlette@0.41.3",
                         "name": "starlette", "version": "0.41.3",
                         "purl": "pkg:pypi/starlette@0.41.3",
                         "licenses": [{"expression": "BSD-3-Clause"}]}, ...]}

    The document is answered as ``application/vnd.cyclonedx+json``.

    Parameters:
        application: ``name``, ``version``, ``description`` of the app (the
            BOM's ``metadata.component``), read when the BOM is first made.
    """

    name: ClassVar[str] = "sbom"
    selector: ClassVar[str | None] = "id"
    produces: ClassVar[tuple[str, ...]] = (*JSON_TYPES, CYCLONEDX_JSON)

    def __init__(self, application: Any) -> None:
        self.application = application
        self._document: bytes | None = None
        self._lock = threading.Lock()

    async def read(self, request: OperationRequest) -> Any:
        if not request.path:
            media_type = JSON if request.media_type == CYCLONEDX_JSON else request.media_type
            return EndpointResponse({"ids": [APPLICATION]}, media_type=media_type)
        if request.path[0] != APPLICATION:
            raise NotFound(f"No SBOM with id {request.path[0]!r} (available: {APPLICATION})")
        return EndpointResponse(await self.document(), media_type=CYCLONEDX_JSON)

    async def document(self) -> bytes:
        """The BOM as JSON bytes, made once, in a thread."""
        document = self._document
        if document is None:
            document = await asyncio.to_thread(self._build)
        return document

    def _build(self) -> bytes:
        with self._lock:  # two first requests at once: one builds, the other reuses it
            if self._document is None:
                application = self.application() if callable(self.application) else self.application
                self._document = json_bytes(
                    bill_of_materials(importlib.metadata.distributions(), application)
                )
            return self._document
