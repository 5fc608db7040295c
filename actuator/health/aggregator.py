"""Turning the statuses of several components into one."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from actuator.health.status import Status

logger = logging.getLogger("actuator.health")

DEFAULT_ORDER: tuple[str, ...] = ("DOWN", "OUT_OF_SERVICE", "INIT", "UP", "UNKNOWN")


class StatusAggregator:
    """Picks the most severe status, by an order of codes from most to least severe.

    The default order is ``DOWN > OUT_OF_SERVICE > INIT > UP > UNKNOWN``.
    As in Spring Boot, a status whose code is not in the order takes no part
    (a warning is logged once per code), and an empty set aggregates to
    ``UNKNOWN`` (served as HTTP 200)::

        StatusAggregator(["DOWN", "OUT_OF_SERVICE", "DEGRADED", "INIT", "UP", "UNKNOWN"])

    Parameters:
        order: status codes, most severe first. Defaults to the order above.
    """

    def __init__(self, order: Sequence[str | Status] = DEFAULT_ORDER) -> None:
        codes = [s.code if isinstance(s, Status) else Status(s).code for s in order]
        if not codes:
            raise ValueError("status_order must name at least one status")
        if len(set(codes)) != len(codes):
            raise ValueError(f"status_order repeats a status: {codes}")
        self.order: tuple[str, ...] = tuple(codes)
        self._rank = {code: rank for rank, code in enumerate(codes)}
        self._warned: set[str] = set()

    def aggregate(self, statuses: Iterable[Status]) -> Status:
        best: Status | None = None
        best_rank = len(self._rank)
        for status in statuses:
            rank = self._rank.get(status.code)
            if rank is None:
                self._warn_unordered(status)
                continue
            if rank < best_rank:
                best, best_rank = status, rank
        return Status(best.code) if best is not None else Status.UNKNOWN

    def _warn_unordered(self, status: Status) -> None:
        if status.code not in self._warned:
            self._warned.add(status.code)
            logger.warning(
                "Health status %s is not in the status order %s and is ignored when "
                "aggregating; add it to health.status_order",
                status.code,
                list(self.order),
            )
