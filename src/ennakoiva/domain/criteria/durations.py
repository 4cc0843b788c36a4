"""ISO-8601 durations of criterion windows: ``P12M``, ``P5Y``, ``P90D`` (calendar arithmetic).

>>> parse_duration("P1Y6M")
Duration(years=1, months=6, days=0)
>>> parse_duration("12M")
Traceback (most recent call last):
ValueError: '12M' is not an ISO-8601 duration like P12M, P5Y or P90D
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated

from pydantic import BeforeValidator

__all__ = ["Duration", "DurationText", "parse_duration", "window_start"]

_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?$")


@dataclass(frozen=True)
class Duration:
    """A calendar duration; months and years by calendar arithmetic, days as days."""

    years: int = 0
    months: int = 0
    days: int = 0

    def __str__(self) -> str:
        parts = [f"{n}{u}" for n, u in ((self.years, "Y"), (self.months, "M"), (self.days, "D")) if n]
        return "P" + "".join(parts)

    @property
    def total_months(self) -> int:
        return self.years * 12 + self.months


def parse_duration(text: object) -> Duration:
    """Parse a positive ISO-8601 date duration; anything else is a ``ValueError``."""
    m = _DURATION.match(text) if isinstance(text, str) else None
    if m is None or not any(m.groups()):
        raise ValueError(f"{text!r} is not an ISO-8601 duration like P12M, P5Y or P90D")
    years, months, days = (int(g) if g else 0 for g in m.groups())
    if years == months == days == 0:
        raise ValueError(f"{text!r} is a zero-length window")
    return Duration(years, months, days)


DurationText = Annotated[Duration, BeforeValidator(parse_duration)]


def _month_end(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def window_start(on: date, duration: Duration) -> date:
    """``on - duration`` by calendar arithmetic (a day past a shorter month's end is clamped).

    >>> window_start(date(2026, 3, 31), parse_duration("P1M"))
    datetime.date(2026, 2, 28)
    """
    months = on.year * 12 + (on.month - 1) - duration.total_months
    year, month = divmod(months, 12)
    start = date(year, month + 1, min(on.day, _month_end(year, month + 1)))
    return start - timedelta(days=duration.days)
