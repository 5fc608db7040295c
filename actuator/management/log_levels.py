"""Log levels at run time, with Spring Boot's level names mapped onto Python logging.

================  ==========================  =========================================
Spring name       Python level                notes
================  ==========================  =========================================
``TRACE``         5                           registered as the level name ``TRACE``
``DEBUG``         ``DEBUG`` (10)
``INFO``          ``INFO`` (20)
``WARN``          ``WARNING`` (30)            ``WARNING`` is accepted too
``ERROR``         ``ERROR`` (40)
``FATAL``         ``CRITICAL`` (50)           ``CRITICAL`` is accepted too
``OFF``           above every level           set on that logger only, never
                                              ``logging.disable()``
================  ==========================  =========================================

Names are case-insensitive, so Choria's four coarse levels ``debug``,
``info``, ``warn`` and ``critical`` work as they are. A Python level between
two names is shown as the next name up (25 shows as ``WARN``: INFO records are
dropped, WARN ones pass).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from actuator.management.audit import APP, audit

TRACE = 5
OFF = sys.maxsize

LEVELS: tuple[str, ...] = ("OFF", "FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE")
"""Spring's level names, most severe first, as the loggers endpoint lists them."""

COARSE_LEVELS: tuple[str, ...] = ("debug", "info", "warn", "critical")

_VALUES: Mapping[str, int] = {
    "TRACE": TRACE,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.CRITICAL,
    "CRITICAL": logging.CRITICAL,
    "OFF": OFF,
}
_ASCENDING: tuple[tuple[int, str], ...] = (
    (TRACE, "TRACE"),
    (logging.DEBUG, "DEBUG"),
    (logging.INFO, "INFO"),
    (logging.WARNING, "WARN"),
    (logging.ERROR, "ERROR"),
    (logging.CRITICAL, "FATAL"),
    (OFF, "OFF"),
)

ROOT = "ROOT"
"""The root logger's name in the endpoint, as in Spring Boot."""

BUILTIN_GROUPS: Mapping[str, tuple[str, ...]] = {
    "web": ("uvicorn", "uvicorn.error", "uvicorn.access", "starlette", "fastapi"),
}

_names_lock = threading.Lock()


class UnknownLevel(ValueError):
    """A level name that is not one of ``LEVELS`` (or an accepted alias)."""

    def __init__(self, level: object) -> None:
        super().__init__(
            f"Unknown log level {level!r}; valid levels: {', '.join(LEVELS)} "
            f"(case-insensitive, so also {', '.join(COARSE_LEVELS)})"
        )


def parse_level(level: str | int) -> int:
    """The Python level for a Spring or coarse level name: ``parse_level("warn") == 30``.

    A Python level number (``logging.DEBUG``) is taken as it is.
    """
    if isinstance(level, int) and not isinstance(level, bool) and level >= 0:
        return level
    if not isinstance(level, str) or level.upper() not in _VALUES:
        raise UnknownLevel(level)
    return _VALUES[level.upper()]


def level_name(level: int) -> str:
    """The Spring name for a Python level, rounding up: ``level_name(25) == "WARN"``."""
    for value, name in _ASCENDING:
        if level <= value:
            return name
    return "OFF"


def _name_levels() -> None:
    # Records at level 5 then print as TRACE rather than "Level 5".
    with _names_lock:
        for value, name in ((TRACE, "TRACE"), (OFF, "OFF")):
            if logging.getLevelName(value) == f"Level {value}":
                logging.addLevelName(value, name)


class LogLevels:
    """Reads and sets logger levels; what ``/actuator/loggers`` and ``set_log_level`` use.

    ::

        levels = actuator.log_levels
        levels.set("orders.db", "DEBUG")
        levels.add_group("web", ["orders"])     # web: uvicorn, starlette, fastapi, orders
        levels.set("web", "WARN")               # every member of the group
        levels.set("orders.db", None)           # back to how it was

    Clearing a level (``None``) restores the level the logger had before the
    actuator first changed it; for most loggers that is unset, so they inherit
    their parent's again. ``ROOT`` names the root logger. A group name wins
    over a logger of the same name.

    Parameters:
        groups: logger groups to add to the built-in ``web`` group (members are
            added to a group of the same name).
    """

    def __init__(self, groups: Mapping[str, Iterable[str]] | None = None) -> None:
        self._lock = threading.RLock()
        self._groups: dict[str, list[str]] = {k: list(v) for k, v in BUILTIN_GROUPS.items()}
        self._group_levels: dict[str, str] = {}
        self._original: dict[str, int] = {}
        for name, members in (groups or {}).items():
            self.add_group(name, members)

    # -- groups ----------------------------------------------------------------

    def add_group(self, name: str, members: Iterable[str]) -> None:
        """Create the group ``name``, or add ``members`` to it."""
        if not isinstance(name, str) or not name or name == ROOT or "/" in name:
            raise ValueError(
                f"logger group name must be a non-empty name other than ROOT, "
                f"without '/'; got {name!r}"
            )
        if isinstance(members, str):
            raise TypeError("members must be a list of logger names, not a string")
        members = list(members)
        for member in members:
            if not isinstance(member, str) or not member.strip():
                raise ValueError(
                    f"logger group {name!r}: member names must be non-empty strings, got {member!r}"
                )
        with self._lock:
            group = self._groups.setdefault(name, [])
            group.extend(m for m in members if m not in group)

    @property
    def groups(self) -> Mapping[str, list[str]]:
        with self._lock:
            return {name: list(members) for name, members in self._groups.items()}

    # -- reading ---------------------------------------------------------------

    def logger_names(self) -> list[str]:
        """Every logger Python knows of (including parents not yet created), ROOT first."""
        names = sorted(name for name in list(logging.Logger.manager.loggerDict) if name != ROOT)
        return [ROOT, *names]

    def exists(self, name: str) -> bool:
        return name == ROOT or name in logging.Logger.manager.loggerDict

    def describe(self, name: str) -> dict[str, Any]:
        """``{"configuredLevel": ..., "effectiveLevel": ...}`` or, for a group,
        ``{"configuredLevel": ..., "members": [...]}``. ``KeyError`` if unknown."""
        with self._lock:
            if name in self._groups:
                return {
                    "configuredLevel": self._group_levels.get(name),
                    "members": list(self._groups[name]),
                }
        if not self.exists(name):
            raise KeyError(name)
        return self._describe_logger(name)

    def snapshot(self) -> dict[str, Any]:
        """The whole ``/actuator/loggers`` answer, in Spring Boot's shape."""
        loggers = {name: self._describe_logger(name) for name in self.logger_names()}
        with self._lock:
            groups = {
                name: {"configuredLevel": self._group_levels.get(name), "members": list(members)}
                for name, members in sorted(self._groups.items())
            }
        return {"levels": list(LEVELS), "loggers": loggers, "groups": groups}

    @staticmethod
    def _describe_logger(name: str) -> dict[str, Any]:
        logger = _existing_logger(name)
        configured = logger.level if logger is not None else logging.NOTSET
        return {
            "configuredLevel": level_name(configured) if configured else None,
            "effectiveLevel": level_name(_effective_level(name)),
        }

    # -- changing ----------------------------------------------------------------

    def set(
        self, name: str, level: str | int | None, *, create: bool = True, by: str = APP
    ) -> None:
        """Set the level of a logger or of every member of a group; ``None`` clears it.

        Raises ``ValueError`` for an unknown level, and ``KeyError`` for an
        unknown logger when ``create`` is false (the endpoint's case; from code,
        a logger that does not exist yet is created).
        """
        value = None if level is None else parse_level(level)
        shown = None if value is None else level_name(value)
        with self._lock:
            if name in self._groups:
                members = list(self._groups[name])
                if shown is None:
                    self._group_levels.pop(name, None)
                else:
                    self._group_levels[name] = shown
            elif create or self.exists(name):
                members = [name]
            else:
                raise KeyError(name)
            if value is not None:
                _name_levels()
            for member in members:
                self._apply(member, value)
        audit("set log level", by, logger=name, configuredLevel=shown)

    def _apply(self, name: str, value: int | None) -> None:
        logger = logging.getLogger() if name == ROOT else logging.getLogger(name)
        if value is None:
            original = self._original.pop(name, None)
            if original is not None:
                logger.setLevel(original)
            elif name != ROOT:
                logger.setLevel(logging.NOTSET)
            return
        self._original.setdefault(name, logger.level)
        logger.setLevel(value)


def _existing_logger(name: str) -> logging.Logger | None:
    if name == ROOT:
        return logging.getLogger()
    found = logging.Logger.manager.loggerDict.get(name)
    return found if isinstance(found, logging.Logger) else None


def _effective_level(name: str) -> int:
    """The effective level of ``name`` without creating it (a placeholder has no level)."""
    if name == ROOT:
        return logging.getLogger().getEffectiveLevel()
    while name:
        logger = _existing_logger(name)
        if logger is not None:
            return logger.getEffectiveLevel()
        name = name.rpartition(".")[0]
    return logging.getLogger().getEffectiveLevel()
