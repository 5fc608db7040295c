"""Health statuses: a code such as ``UP`` with an optional description."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

_CODE = re.compile(r"[A-Z][A-Z0-9_]*\Z")


@dataclass(frozen=True)
class Status:
    """The status of a component or of the whole system.

    Statuses compare by ``code`` alone; the description is informative. The
    built-in statuses are ``Status.UP``, ``Status.DOWN``, ``Status.OUT_OF_SERVICE``,
    ``Status.INIT`` and ``Status.UNKNOWN``. Define your own and place it in the
    status order (``ActuatorSettings.health.status_order``)::

        DEGRADED = Status("DEGRADED")

    Parameters:
        code: upper-case letters, digits and underscores (lower case is
            upper-cased, ``-`` becomes ``_``).
        description: a human readable explanation, shown next to the status.
    """

    code: str
    description: str = field(default="", compare=False)

    UP: ClassVar[Status]
    DOWN: ClassVar[Status]
    OUT_OF_SERVICE: ClassVar[Status]
    INIT: ClassVar[Status]
    UNKNOWN: ClassVar[Status]

    def __post_init__(self) -> None:
        if not isinstance(self.code, str):
            raise TypeError(f"Status code must be a string, got {type(self.code).__name__}")
        code = self.code.strip().upper().replace("-", "_")
        if not _CODE.match(code):
            raise ValueError(
                f"Status code must be letters, digits and underscores, starting with a letter; "
                f"got {self.code!r}"
            )
        object.__setattr__(self, "code", code)
        if not isinstance(self.description, str):
            raise TypeError("Status description must be a string")

    def with_description(self, description: str) -> Status:
        """The same status with another description."""
        return Status(self.code, description)

    def __str__(self) -> str:
        return self.code


Status.UP = Status("UP")
Status.DOWN = Status("DOWN")
Status.OUT_OF_SERVICE = Status("OUT_OF_SERVICE")
Status.INIT = Status("INIT")
Status.UNKNOWN = Status("UNKNOWN")
