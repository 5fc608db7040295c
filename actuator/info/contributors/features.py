"""The ``features`` info section: which management operations this service allows."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actuator.settings import AccessSettings

FEATURES: tuple[tuple[str, str, str], ...] = (
    # (feature, endpoint, operation)
    ("ping", "ping", "read"),
    ("loggers", "loggers", "read"),
    ("setLogLevel", "loggers", "write"),
    ("pause", "pause", "write"),
    ("resume", "resume", "write"),
    ("flip", "flip", "write"),
    ("shutdown", "shutdown", "write"),
    ("env", "env", "read"),
    ("threaddump", "threaddump", "read"),
    ("mappings", "mappings", "read"),
)


class FeaturesContributor:
    """``{"ping": true, "loggers": true, "setLogLevel": false, "pause": false, ...}``.

    ``overload`` says whether the app sheds load with 429 (``overload.enabled``).

    A feature is on when its endpoint is registered and exposed and the
    access settings allow the operation, so a fleet tool can tell which
    services it may pause or stop before trying. (Who may use it is up to
    the access control in front.)
    """

    def __init__(
        self, access: AccessSettings, exposed: Callable[[str], bool], *, overload: bool = False
    ) -> None:
        self.access = access
        self.exposed = exposed
        self.overload = overload

    def contribute(self) -> dict[str, bool]:
        access = self.access
        features = {
            feature: self.exposed(endpoint) and access.allows(endpoint, operation)
            for feature, endpoint, operation in FEATURES
        }
        features["overload"] = self.overload  # load shedding (429) is on
        return features
