"""Numbers as the forms print them: compute exactly, round once, half up; one place for every format.

Money is in 万元 with two decimals, scores (points) with two decimals, weights without trailing
zeros, rates as percentages with two decimals. A missing value (None, NaN, text) prints "—";
a value that cannot be known yet prints 待核实. Light: no pandas, so the CLI can format without the scoring stack.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from decimal import ROUND_HALF_UP, Decimal

MISSING = "—"
#: A figure that exists but cannot be known yet (a formula with no saved result): never printed as 0 or 差.
PENDING = "待核实"


def is_missing(x: object) -> bool:
    """No number here: None, NaN (of any float type) or something that is not a number."""
    return number_or_none(x) is None


def number_or_none(x: object) -> float | None:
    """A value as a float; None when it is missing (None, NaN) or not a number (text, bool)."""
    if x is None or isinstance(x, (str, bool)):
        return None
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def memoised(function: Callable) -> Callable:
    """A pure function that remembers its answers for the values a round repeats (the same labels,
    placeholders, targets and weights): the check stage calls a few such functions 100,000s of times
    on a few thousand distinct values. Bounded; typed (1, 1.0 and True are different values); an
    argument that cannot be a key (no hash) is simply computed.

    The bound is small: the values that recur stay (they are used again and again), and most of the
    rest are one department's own figures, met once. 4,096 answers keep 98 % of the hits of 65,536 at
    1,000 departments; at 10,000 the larger bound filled up: ~200 bytes an answer, ~75 MB over the round's
    memoised functions and shared tables, mostly answers never asked for again."""
    cached = functools.lru_cache(maxsize=1 << 12, typed=True)(function)

    @functools.wraps(function)
    def call(*args, **kwargs):
        try:
            return cached(*args, **kwargs)
        except TypeError:
            return function(*args, **kwargs)
    return call


@memoised
def round_half_up(x: object, places: int = 2) -> float | None:
    """Round once, half up (not banker's rounding), as the forms print; missing stays None."""
    value = number_or_none(x)
    if value is None or math.isinf(value) or abs(value) >= 1e15:
        return value  # a float this large has no cents to round (and Decimal's 28 digits would overflow)
    return float(Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def round2(x: object) -> float | None:
    """A score or an amount as displayed: two decimals, half up."""
    return round_half_up(x, 2)


def cents(x: object) -> float | None:
    """An amount in 万元 to the 元 (six decimals of 万元 keep every cent exact); None for nothing."""
    return round_half_up(x, 6)


def money_sum(values: Iterable) -> float:
    """The exact sum of amounts (fsum, then the float noise dropped below the cent)."""
    return round_half_up(math.fsum(v for v in map(number_or_none, values) if v is not None), 6) or 0.0


def ratio(num: object, den: object) -> float:
    """num ÷ den, NaN when the denominator is not positive (an execution rate with no budget)."""
    n, d = number_or_none(num), number_or_none(den)
    return n / d if n is not None and d is not None and d > 0 else math.nan


def budget_cut(initial: object, adjusted: object) -> float | None:
    """The share of the initial budget cut during the year ((年初 − 全年) ÷ 年初: 45.08 → 2.94 is 0.935);
    None without an initial budget or without a cut."""
    i, a = number_or_none(initial), number_or_none(adjusted)
    return (i - a) / i if i is not None and a is not None and i > 0 and a < i else None


def mean(values: Iterable) -> float:
    """The arithmetic mean of the values that are numbers; NaN when there are none."""
    v = [x for x in map(number_or_none, values) if x is not None]
    return math.fsum(v) / len(v) if v else math.nan


def minimum(values: Iterable) -> float:
    """The least of the values that are numbers (待核实 and blanks left out); NaN when there are none."""
    v = [x for x in map(number_or_none, values) if x is not None]
    return min(v) if v else math.nan


def weighted_mean(scores: Iterable, weights: Iterable) -> float:
    """Σ(score × weight) ÷ Σweight over pairs with a score and a positive weight; NaN when none."""
    pairs = [(s, w) for s, w in zip(map(number_or_none, scores), map(number_or_none, weights), strict=True)
             if s is not None and w is not None and w > 0]
    den = math.fsum(w for _, w in pairs)
    return math.fsum(s * w for s, w in pairs) / den if den > 0 else math.nan


def difference(now: object, before: object) -> float:
    """now − before, NaN when either is missing (a change of rate or score from last year)."""
    a, b = number_or_none(now), number_or_none(before)
    return a - b if a is not None and b is not None else math.nan


def _fixed(x: object, places: int) -> str | None:
    value = round_half_up(x, places)
    return None if value is None else f"{value:.{places}f}"


def money(x: object) -> str:
    """An amount in 万元 as printed: two decimals ("—" when missing)."""
    return _fixed(x, 2) or MISSING


def money_grouped(x: object) -> str:
    """An amount in 万元 with thousands separators, for terminal tables (1,350.00)."""
    value = round2(x)
    return MISSING if value is None else f"{value:,.2f}"


def points(x: object) -> str:
    """A score as printed: two decimals."""
    return _fixed(x, 2) or MISSING


def weight_text(x: object) -> str:
    """A weight (分值) or a short figure without trailing zeros (20, 12.5, 8.62)."""
    text = _fixed(x, 2)
    return MISSING if text is None else text.rstrip("0").rstrip(".")


def provisional(text: str, is_provisional: bool) -> str:
    """A total or grade as printed, marked when it rests on claimed scores nobody has verified yet."""
    return f"{text}（{PENDING}）" if is_provisional else text


def known(text: str, is_known: bool) -> str:
    """`text` (a figure as printed), or PENDING when the figure cannot be known yet."""
    return text if is_known else PENDING


def percent(rate: object) -> str:
    """A fraction as a percentage with two decimals, rounded once, half up (0.43825 → "43.83%")."""
    value = number_or_none(rate)
    if value is None or math.isinf(value):
        return MISSING
    if abs(value) >= 1e13:  # no cents left to round; Decimal's 28 digits would overflow
        return f"{value * 100:.2f}%"
    return f"{Decimal(repr(value)).scaleb(2).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}%"


def share(rate: float) -> str:
    """A threshold as a percentage without trailing zeros (0.9 → 90%, 1.3 → 130%)."""
    return weight_text(rate * 100) + "%"


class Rate(float):
    """A fraction that prints as a percentage ("{rate}" → "43.83%"): a finding keeps the number as data."""

    def __str__(self) -> str:
        return percent(float(self))

    def __format__(self, spec: str) -> str:
        return str(self) if not spec else float.__format__(self, spec)
