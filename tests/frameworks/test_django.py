"""Django: the route-template middleware, what it records, and the patterns /mappings lists."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.frameworks.apps import configure_django

configure_django()

from django.core.asgi import get_asgi_application  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.test import RequestFactory, override_settings  # noqa: E402
from django.urls import include, path, re_path  # noqa: E402
from django.views import View  # noqa: E402

from actuator.frameworks.django import (  # noqa: E402
    RouteTemplateMiddleware,
    absolute,
    check_middleware,
    routes,
)
from tests.metrics.support import client, counts_by  # noqa: E402
from tests.support.management import make_actuator  # noqa: E402


def archive(request: HttpRequest, year: str) -> HttpResponse:
    return HttpResponse(year)


class Orders(View):  # type: ignore[misc]
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("orders")

    def post(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("created", status=201)


urlpatterns = [
    path("", archive, name="home"),
    path("shop/", include([path("orders/", Orders.as_view(), name="orders")])),
    re_path(r"^archive/", include([re_path(r"^(?P<year>[0-9]{4})/$", archive)])),
]


@pytest.mark.parametrize(
    ("route", "template"),
    [
        ("items/<int:pk>/", "/items/<int:pk>/"),
        ("", "/"),
        ("^archive/(?P<year>[0-9]{4})/$", "/archive/(?P<year>[0-9]{4})/"),
    ],
)
def test_a_django_route_becomes_an_absolute_template(route: str, template: str) -> None:
    assert absolute(route) == template


@override_settings(ROOT_URLCONF=__name__)  # type: ignore[untyped-decorator]
def test_routes_flatten_includes_and_list_class_based_view_methods() -> None:
    found = {route.path: route for route in routes()}
    assert set(found) == {"/", "/shop/orders/", "/archive/(?P<year>[0-9]{4})/"}
    assert found["/shop/orders/"].methods == ["GET", "HEAD", "OPTIONS", "POST"]
    assert found["/shop/orders/"].handler is Orders
    assert (found["/"].methods, found["/"].name, found["/"].handler) == (["*"], "home", archive)


@override_settings(ROOT_URLCONF=__name__)  # type: ignore[untyped-decorator]
def test_the_sync_middleware_records_the_resolved_route_in_an_asgi_scope() -> None:
    scope: dict[str, Any] = {}

    def get_response(request: Any) -> HttpResponse:
        from django.urls import resolve

        request.resolver_match = resolve(request.path_info)
        return HttpResponse("ok")

    request = RequestFactory().get("/archive/2024/")
    request.scope = scope
    RouteTemplateMiddleware(get_response)(request)
    assert scope == {"path_template": "/archive/(?P<year>[0-9]{4})/"}
    RouteTemplateMiddleware(get_response)(RequestFactory().get("/"))  # a WSGI request: no scope


@pytest.mark.usefixtures("no_event_loop_heartbeat")
async def test_without_the_middleware_requests_count_as_unknown_and_the_log_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    actuator = make_actuator()
    with override_settings(MIDDLEWARE=[]), caplog.at_level(logging.WARNING, "actuator.metrics"):
        app = actuator.wrap(get_asgi_application())
        async with client(app) as http:
            assert (await http.get("/items/1")).status_code == 200
    assert "MIDDLEWARE lacks 'actuator.frameworks.django.RouteTemplateMiddleware'" in caplog.text
    assert counts_by(actuator) == {"UNKNOWN": 1}
    await actuator.shutdown()


def test_nothing_is_logged_when_the_middleware_is_listed(caplog: pytest.LogCaptureFixture) -> None:
    check_middleware()
    assert caplog.text == ""
