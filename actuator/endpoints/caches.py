"""The caches endpoint: the app's registered caches, their sizes, and clearing them.

A cache is anything with a way to clear it: a ``functools.lru_cache`` or
``functools.cache`` function (``cache_clear()``, sizes from ``cache_info()``),
a ``cachetools`` cache (``clear()``, ``currsize``, ``maxsize``), or any object
with ``clear()`` (its ``len()`` is its size, when it has one)::

    actuator.add_cache("countries", load_countries)          # an lru_cache function
    actuator.add_cache("sessions", TTLCache(1024, ttl=600), manager="auth")

Clearing is a delete operation: it needs the ``full`` role and the endpoint's
``unrestricted`` access level, and is recorded in the audit log.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from actuator.endpoints.base import (
    BadRequest,
    Endpoint,
    EndpointResponse,
    NotFound,
    OperationRequest,
)
from actuator.management.audit import audit, caller

DEFAULT_MANAGER = "app"


@dataclass(frozen=True)
class RegisteredCache:
    name: str
    manager: str
    cache: object

    @property
    def target(self) -> str:
        cls = type(self.cache)
        wrapped = getattr(self.cache, "__wrapped__", None)
        if callable(getattr(self.cache, "cache_clear", None)) and wrapped is not None:
            # An lru_cache wrapper: name the function it caches.
            return f"functools.lru_cache({_qualified(wrapped)})"
        return f"{cls.__module__}.{cls.__qualname__}"

    def clear(self) -> None:
        clear: Callable[[], object] = getattr(self.cache, "cache_clear", None) or self.cache.clear  # type: ignore[attr-defined]
        clear()

    def statistics(self) -> dict[str, Any]:
        """``size``, ``maxSize``, ``hits``, ``misses`` where the cache tells them."""
        cache = self.cache
        stats: dict[str, Any] = {}
        info = getattr(cache, "cache_info", None)
        if callable(info):
            details = info()
            return {
                "size": details.currsize,
                "maxSize": details.maxsize,
                "hits": details.hits,
                "misses": details.misses,
            }
        size = getattr(cache, "currsize", None)
        if isinstance(size, (int, float)) and not isinstance(size, bool):
            stats["size"] = size
        else:
            with contextlib.suppress(TypeError):
                stats["size"] = len(cache)  # type: ignore[arg-type]
        max_size = getattr(cache, "maxsize", None)
        if isinstance(max_size, (int, float)) and not isinstance(max_size, bool):
            stats["maxSize"] = max_size
        for key, attribute in (("hits", "hits"), ("misses", "misses")):
            value = getattr(cache, attribute, None)
            if isinstance(value, int) and not isinstance(value, bool):
                stats[key] = value
        return stats

    def describe(self) -> dict[str, Any]:
        return {"target": self.target, **self.statistics()}


def _qualified(fn: object) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


class CacheRegistry:
    """The caches ``/actuator/caches`` shows, by manager and name."""

    def __init__(self) -> None:
        self._caches: dict[tuple[str, str], RegisteredCache] = {}
        self._lock = threading.Lock()

    def add(self, name: str, cache: object, *, manager: str = DEFAULT_MANAGER) -> None:
        """Register ``cache`` under ``name`` (unique within its ``manager``)."""
        for label, value in (("cache name", name), ("cache manager", manager)):
            if not isinstance(value, str) or not value.strip() or "/" in value:
                raise ValueError(f"{label} must be a non-empty string without '/', got {value!r}")
        if not (
            callable(getattr(cache, "cache_clear", None)) or callable(getattr(cache, "clear", None))
        ):
            raise TypeError(
                f"cache {name!r} has neither cache_clear() (functools) nor clear(); "
                f"got {type(cache).__name__}"
            )
        with self._lock:
            if (manager, name) in self._caches:
                raise ValueError(
                    f"a cache named {name!r} is already registered in manager {manager!r}"
                )
            self._caches[manager, name] = RegisteredCache(name, manager, cache)

    def remove(self, name: str, *, manager: str = DEFAULT_MANAGER) -> None:
        with self._lock:
            if self._caches.pop((manager, name), None) is None:
                raise KeyError(f"no cache named {name!r} in manager {manager!r}")

    def all(self) -> list[RegisteredCache]:
        with self._lock:
            return list(self._caches.values())

    def find(self, name: str, manager: str | None) -> RegisteredCache:
        """The cache called ``name``: ``NotFound``, or ``BadRequest`` when the name is ambiguous."""
        found = [
            c for c in self.all() if c.name == name and (manager is None or c.manager == manager)
        ]
        if not found:
            where = f" in manager {manager!r}" if manager is not None else ""
            raise NotFound(f"No cache named {name!r}{where}")
        if len(found) > 1:
            managers = ", ".join(sorted(c.manager for c in found))
            raise BadRequest(
                f"Several caches are named {name!r} (managers: {managers}); "
                f"add ?cacheManager=<manager>",
                parameter="cacheManager",
            )
        return found[0]


class CachesEndpoint(Endpoint):
    """``GET /caches``, ``GET /caches/{cache}``, ``DELETE /caches``, ``DELETE /caches/{cache}``.

    ::

        {"cacheManagers": {"app": {"caches": {
            "countries": {"target": "functools.lru_cache(shop.geo.load_countries)",
                          "size": 12, "maxSize": 128, "hits": 340, "misses": 12}}}}}

    ``?cacheManager=`` picks the manager when several hold a cache of that name.
    A delete answers 204 and is recorded in the audit log.
    """

    name: ClassVar[str] = "caches"
    selector: ClassVar[str | None] = "cache"
    query_params: ClassVar[frozenset[str]] = frozenset({"cacheManager"})

    def __init__(self, registry: CacheRegistry) -> None:
        self.registry = registry

    async def read(self, request: OperationRequest) -> dict[str, Any]:
        manager = _manager(request)
        if request.path:
            cache = self.registry.find(request.path[0], manager)
            return {"name": cache.name, "cacheManager": cache.manager, **cache.describe()}
        managers: dict[str, dict[str, Any]] = {}
        for cache in self.registry.all():
            if manager is None or cache.manager == manager:
                managers.setdefault(cache.manager, {"caches": {}})["caches"][cache.name] = (
                    cache.describe()
                )
        return {"cacheManagers": managers}

    async def delete(self, request: OperationRequest) -> EndpointResponse:
        manager = _manager(request)
        if request.path:
            caches = [self.registry.find(request.path[0], manager)]
        else:
            caches = [c for c in self.registry.all() if manager is None or c.manager == manager]
        for cache in caches:
            cache.clear()
        audit("caches.clear", caller(request), caches=[f"{c.manager}/{c.name}" for c in caches])
        return EndpointResponse(status=204)


def _manager(request: OperationRequest) -> str | None:
    manager = request.query_value("cacheManager")
    if manager is not None and not manager.strip():
        raise BadRequest(
            "Query parameter 'cacheManager' must not be empty", parameter="cacheManager"
        )
    return manager
