"""Half-up rounding to whole euros, the rule every published fee threshold re-derives with.

Why not ``round()``: Python rounds half to even (``round(0.5) == 0``) and binary floats turn
80.785 into 80.78499…; the law's tables need 80.785 → 81 exactly, so amounts are ``Decimal``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

__all__ = ["round_half_up"]


def round_half_up(amount: Decimal) -> int:
    """Round to whole euros, halves away from zero.

    >>> round_half_up(Decimal("80.785")), round_half_up(Decimal("124.5")), round_half_up(Decimal("29.4"))
    (81, 125, 29)
    """
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))
