"""``actuator._http.negotiate``: one pure function from an Accept header to a media type."""

from __future__ import annotations

import pytest

from actuator._http import negotiate
from actuator.endpoints.base import ACTUATOR_V2_JSON as V2
from actuator.endpoints.base import ACTUATOR_V3_JSON as V3
from actuator.endpoints.base import JSON, JSON_TYPES

TEXT = "text/plain"


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        # Spring Boot Admin's server and UI: equal weights, v3 listed first.
        (f"{V3}, {V2}, application/vnd.spring-boot.actuator.v1+json, {JSON}", V3),
        # Equal q: the client's order decides between types it names.
        (f"{JSON}, {V3}", JSON),
        (f"{V2}, {V3}", V2),
        # Higher q wins whatever the order.
        (f"{JSON};q=0.5, {V2};q=0.6, {V3};q=0.4", V2),
        # A named type beats one reached through a wildcard at the same q.
        (f"*/*, {JSON}", JSON),
        (f"application/*, {V2}", V2),
        # Through a wildcard alone: the default (plain JSON), then v3, v2.
        ("*/*", JSON),
        ("application/*", JSON),
        (f"*/*;q=0.9, {V3};q=0", JSON),
        (f"*/*;q=0.9, {V3};q=0, {V2};q=0", JSON),
        # The most specific range sets the quality (RFC 9110).
        (f"application/*;q=0.1, {JSON};q=0.8", JSON),
        ("text/html, */*;q=0.8", JSON),
        (" , ", JSON),
    ],
)
def test_q_values_then_the_clients_order_then_v3_v2_json(accept: str, chosen: str) -> None:
    assert negotiate(accept, JSON_TYPES, default=JSON) == chosen


@pytest.mark.parametrize("accept", [None, ""])
def test_no_accept_header_gets_the_default(accept: str | None) -> None:
    assert negotiate(accept, JSON_TYPES, default=JSON) == JSON
    assert negotiate(accept, JSON_TYPES) == V3


@pytest.mark.parametrize("accept", ["text/html", f"{JSON};q=0, {V3};q=0, {V2};q=0", "image/*"])
def test_nothing_acceptable_is_none(accept: str) -> None:
    assert negotiate(accept, JSON_TYPES, default=JSON) is None


@pytest.mark.parametrize("q", ["abc", "2", "-1", "nan"])
def test_a_malformed_q_value_refuses_that_range(q: str) -> None:
    assert negotiate(f"{V3};q={q}, {JSON};q=0.1", JSON_TYPES) == JSON


def test_non_json_offers_keep_their_order() -> None:
    assert negotiate("*/*", (*JSON_TYPES, TEXT)) == V3
    assert negotiate("text/*", (*JSON_TYPES, TEXT)) == TEXT
    assert negotiate(f"{TEXT}, {JSON}", (*JSON_TYPES, TEXT)) == TEXT
