"""Unit conversions a threshold may rely on: ``target = (value - offset) * scale``.

Only conversions with a fixed, analyte-independent meaning are listed; a reading in a unit with
no conversion to the threshold's unit never qualifies (it is not compared as a raw number).
"""

from __future__ import annotations

__all__ = ["CONVERSIONS"]

CONVERSIONS: dict[tuple[str, str], tuple[float, float]] = {
    # HbA1c: DCCT % to IFCC mmol/mol (NGSP/IFCC master equation)
    ("%", "mmol/mol"): (2.15, 10.929),
}
