"""Checking the constructor arguments of built-in indicators, with errors naming them."""

from __future__ import annotations

import math


def seconds(owner: str, name: str, value: object) -> float:
    """``value`` as a positive, finite number of seconds, or ``TypeError``/``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{owner} {name} must be a number of seconds, got {value!r}")
    if not value > 0 or math.isinf(value):  # NaN fails "> 0"
        raise ValueError(f"{owner} {name} must be a finite number > 0, got {value!r}")
    return float(value)
