"""Exponential back-off with full jitter, for clients of a service that may be down.

The delay before retry ``n`` is uniform in ``[0, min(cap, base * 2**n)]``
("full jitter", from the AWS Architecture Blog's study of back-off): when a
console comes back, thousands of instances that lost it at the same moment do
not all return at the same moment.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays for consecutive failures; ``reset()`` after a success.

    ::

        backoff = Backoff(base=0.5, cap=60)
        await asyncio.sleep(backoff.next())   # 0..0.5, then 0..1, 0..2, ... 0..60

    Parameters:
        base: the first delay's upper bound, seconds (default 0.5).
        cap: the largest upper bound, seconds (default 60).
    """

    base: float = 0.5
    cap: float = 60.0
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def __post_init__(self) -> None:
        if self.base <= 0:
            raise ValueError(f"base must be positive, got {self.base}")
        if self.cap < self.base:
            raise ValueError(f"cap must be at least base, got {self.cap}")

    def next(self) -> float:
        """The delay before the next attempt, counting this failure."""
        bound = min(self.cap, self.base * 2 ** min(self.failures, 60))
        self.failures += 1
        return self.rng.uniform(0, bound)

    def reset(self) -> None:
        self.failures = 0
