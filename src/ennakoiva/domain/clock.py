"""The one sanctioned clock: everything the city does happens in Europe/Helsinki time."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

__all__ = ["HELSINKI", "age_on", "now", "today"]

HELSINKI = ZoneInfo("Europe/Helsinki")


def now() -> datetime:
    """Current time, aware, in Helsinki."""
    return datetime.now(HELSINKI)


def today() -> date:
    """Today's date in Helsinki (not UTC: a run at 01:30 local time belongs to the new day)."""
    return now().date()


def age_on(birth: date, on: date) -> int:
    """Completed years on a date; a leap-day birthday counts on 1 March in common years.

    >>> age_on(date(2020, 2, 29), date(2026, 2, 28))
    5
    >>> age_on(date(2020, 2, 29), date(2026, 3, 1))
    6
    """
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
