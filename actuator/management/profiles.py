"""What Spring calls profiles and system properties, for a Python process.

Spring Boot Admin's env view requires ``activeProfiles`` and reads
``defaultProfiles``; its details page reads the process id from
``/env/PID``. A Python service has no profiles of its own, but most name
their deployment environment in a variable: the active profiles are the
comma-separated value of the first of ``APP_PROFILES``, ``APP_ENV``,
``ENVIRONMENT`` and ``ENV`` that is set and not empty (none: no profiles).
The default profile is ``default``, as in Spring.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping

PROFILE_VARIABLES: tuple[str, ...] = ("APP_PROFILES", "APP_ENV", "ENVIRONMENT", "ENV")
DEFAULT_PROFILES: tuple[str, ...] = ("default",)
SYSTEM_PROPERTIES = "systemProperties"


def active_profiles(environ: Mapping[str, str] | None = None) -> list[str]:
    """``["staging"]`` for ``APP_ENV=staging``; ``[]`` when no profile variable is set."""
    environ = os.environ if environ is None else environ
    for variable in PROFILE_VARIABLES:
        value = environ.get(variable, "").strip()
        if value:
            return [p for p in (part.strip() for part in value.split(",")) if p]
    return []


def system_properties() -> dict[str, str]:
    """The process facts Spring keeps as system properties (``PID`` is what SBA reads)."""
    return {
        "PID": str(os.getpid()),
        "python.version": platform.python_version(),
        "python.implementation": platform.python_implementation(),
        "python.executable": sys.executable,
        "os.name": platform.system(),
        "os.arch": platform.machine(),
        "user.dir": os.getcwd(),
    }
