"""Rounding and number formats: compute exactly, round once, half up, as the printed forms do.

Kept apart from `score` (which needs pandas) so that light modules and the CLI can format
numbers without importing the scoring stack.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal


def round_half_up(x: float | None, places: int = 2) -> float | None:
    """Round once, half up (not banker's rounding), as the forms print; None stays None."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return float(Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def number_or_none(x: object) -> float | None:
    """A frame cell as a float; None when it is missing (None, NaN) or not a number (text, bool)."""
    if x is None or isinstance(x, (str, bool)):
        return None
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def percent(rate: float | None) -> str:
    """A fraction as a percentage with two decimals, rounded once, half up (0.43825 → "43.83%")."""
    value = number_or_none(rate)
    if value is None:
        return "—"
    return f"{Decimal(repr(value)).scaleb(2).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}%"


def round2(x: float | None) -> float | None:
    """A score or an amount as displayed: two decimals, half up."""
    return round_half_up(x, 2)
