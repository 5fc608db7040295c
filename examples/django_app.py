"""A Django project in one file, served through Django's ASGI handler with the actuator in front.

::

    python examples/django_app.py [--host 127.0.0.1] [--port 8000]
    curl http://127.0.0.1:8000/shop/orders/12/
    curl http://127.0.0.1:8000/actuator/prometheus | grep orders  # uri="/shop/orders/<int:pk>/"
    curl http://127.0.0.1:8000/actuator/mappings

In a project of your own, the two lines that matter are the middleware in
``MIDDLEWARE`` (it copies the route Django resolved into the ASGI scope, for
the metrics' ``uri``) and wrapping ``get_asgi_application()`` in asgi.py.
"""

from __future__ import annotations

import argparse

import django
import uvicorn
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from actuator import Actuator

settings.configure(
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    MIDDLEWARE=[
        "actuator.frameworks.django.RouteTemplateMiddleware",  # the route template for metrics
        "django.middleware.common.CommonMiddleware",
    ],
    SECRET_KEY="example only: set your own",
)
django.setup()


async def order(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse({"order": pk, "status": "shipped"})


async def orders(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"orders": [12, 13]})


urlpatterns = [
    path("shop/", include([path("orders/", orders), path("orders/<int:pk>/", order)])),
]

actuator = Actuator(
    name="shop",
    version="1.0.0",
    settings={
        # A demo: every reader may see these; in production grant them to named identities.
        "exposure": {"include": ["health", "info", "prometheus", "mappings"]},
        "security": {"anonymous": ["health", "info", "prometheus", "mappings"]},
    },
)

# In a project: asgi.py does this with its get_asgi_application().
from django.core.asgi import get_asgi_application  # noqa: E402

application = actuator.wrap(get_asgi_application())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    uvicorn.run(application, host=args.host, port=args.port)
