"""The year-long hour index the building readings share: local time, calendar, occupancy and weather.

Readings are stored at the start of each UTC hour, but people use buildings by Helsinki local time,
so the local hour, weekday and date of every UTC hour are computed once here (with zoneinfo, so the
DST switches on the last Sundays of March and October are right) and reused for every building.
Occupancy depends only on a building's use and the weather only on the city, so both are computed
once per use / once per city as (uses, hours) and (hours,) arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from ennakoiva.adapters.synth.frame import EPOCH

__all__ = ["HOUR_US", "TZ", "USES", "Hours", "hour_index", "occupancy", "outdoor_weather", "smooth",
           "vapour_pressure_hpa"]

TZ = ZoneInfo("Europe/Helsinki")
HOUR_US = 3_600_000_000
USES = ("daycare", "school", "health_station", "office", "sports", "library", "housing_service")
_WEEKEND = 5  # Saturday, with Monday 0


@dataclass(frozen=True)
class Hours:
    """Every hour of the window [start local midnight, end local midnight), in UTC order."""

    utc_us: np.ndarray        # int64 microseconds since 1970-01-01 UTC, start of the hour
    local_hour: np.ndarray    # int64 0..23, Europe/Helsinki
    day: np.ndarray           # int64 index of the local date within the window (0..n_days-1)
    year_pos: np.ndarray      # float months since local 1 January 00:00 (0..12)
    day_start: np.ndarray     # int64 (n_days + 1,): hour index of each local midnight, then n
    day_month: np.ndarray     # int64 (n_days,): local calendar month 1..12
    weekday: np.ndarray       # int64 (n_days,): Monday 0
    holiday: np.ndarray       # bool (n_days,): Finnish public holiday
    school_break: np.ndarray  # bool (n_days,): Helsinki school holiday

    @property
    def n(self) -> int:
        return len(self.utc_us)

    @property
    def n_days(self) -> int:
        return len(self.day_month)


def _local_midnight_s(day: int) -> int:
    d = EPOCH + timedelta(days=day)
    return int(datetime(d.year, d.month, d.day, tzinfo=TZ).timestamp())


def hour_index(start_day: int, end_day: int, params: dict[str, Any]) -> Hours:
    """UTC hours from local midnight of ``start_day`` to local midnight of ``end_day`` (exclusive)."""
    secs = np.arange(_local_midnight_s(start_day), _local_midnight_s(end_day), 3600, dtype=np.int64)
    # the UTC offset is constant between DST switches: look it up per UTC day and hour by hour
    # only on the (two) days it changes
    offset = np.empty(len(secs), dtype=np.int64)
    for i in range(0, len(secs), 24):
        block = secs[i:i + 24]
        first, last = (_offset_s(int(block[0])), _offset_s(int(block[-1])))
        offset[i:i + len(block)] = first if first == last else [_offset_s(int(s)) for s in block]
    local = secs + offset
    local_day = local // 86_400
    n_days = end_day - start_day
    days = [EPOCH + timedelta(days=start_day + k) for k in range(n_days)]
    holidays = _holidays({d.year for d in days}, params["fixed_holidays"])
    breaks = params["school_breaks"]
    day_start = np.flatnonzero(np.diff(local_day, prepend=local_day[0] - 1))
    year_len = np.array([366.0 if d.year % 4 == 0 and (d.year % 100 or d.year % 400 == 0) else 365.0
                         for d in days])
    doy = np.array([d.timetuple().tm_yday - 1 for d in days], dtype=np.float64)
    day = local_day - start_day
    return Hours(
        utc_us=secs * 1_000_000,
        local_hour=(local % 86_400) // 3600,
        day=day,
        year_pos=(doy[day] + (local % 86_400) / 86_400) / year_len[day] * 12.0,
        day_start=np.append(day_start, len(secs)),
        day_month=np.array([d.month for d in days], dtype=np.int64),
        weekday=np.array([d.weekday() for d in days], dtype=np.int64),
        holiday=np.array([d in holidays for d in days], dtype=bool),
        school_break=np.array([_in_school_break(d, breaks) for d in days], dtype=bool),
    )


def _offset_s(utc_s: int) -> int:
    off = datetime.fromtimestamp(utc_s, UTC).astimezone(TZ).utcoffset()
    return int(off.total_seconds()) if off is not None else 0


def _easter(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm)."""
    a, (b, c) = year % 19, divmod(year, 100)
    d, e = divmod(b, 4)
    g = (b - (b + 8) // 25 + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    wk = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * wk) // 451
    month, day0 = divmod(h + wk - 7 * m + 114, 31)
    return date(year, month, day0 + 1)


def _holidays(years: set[int], fixed: list[str]) -> set[date]:
    """Finnish public holidays on weekdays that matter: fixed dates, Easter, Ascension, Midsummer."""
    out: set[date] = set()
    for y in years:
        out |= {date(y, int(md[:2]), int(md[3:])) for md in fixed}
        easter = _easter(y)
        out |= {easter + timedelta(days=k) for k in (-2, 1, 39)}
        eve = next(date(y, 6, d) for d in range(19, 26) if date(y, 6, d).weekday() == 4)
        out |= {eve, eve + timedelta(days=1)}
    return out


def _in_school_break(d: date, breaks: dict[str, Any]) -> bool:
    md = f"{d.month:02d}-{d.day:02d}"
    s0, s1 = breaks["summer"]
    c0, c1 = breaks["christmas"]
    return (s0 <= md <= s1 or md >= c0 or md <= c1
            or d.isocalendar().week in breaks["iso_weeks"])


def smooth(x: np.ndarray, tau_hours: float) -> np.ndarray:
    """Causal exponential smoothing of a series (time constant ``tau_hours``), started at x[0]."""
    if tau_hours <= 0:
        return x.astype(np.float64)
    k = int(5 * tau_hours) + 1
    kernel = np.exp(-np.arange(k) / tau_hours)
    kernel /= kernel.sum()
    padded = np.concatenate([np.full(k - 1, x[0], dtype=np.float64), x])
    return np.convolve(padded, kernel, mode="valid")


def occupancy(hours: Hours, params: dict[str, Any]) -> np.ndarray:
    """(len(USES), hours) occupancy 0..1 by use from opening hours, holidays and school breaks."""
    out = np.zeros((len(USES), hours.n))
    weekend_day = (hours.weekday >= _WEEKEND) | hours.holiday
    weekend = weekend_day[hours.day]
    july = hours.day_month[hours.day] == 7
    for u, use in enumerate(USES):
        spec = params["uses"][use]
        profile = np.zeros((2, 24))
        for row, key in enumerate(("weekday", "weekend")):
            for start, end, level in spec[key]:
                profile[row, int(start):int(end)] = level
        occ = profile[weekend.astype(np.int64), hours.local_hour]
        if use == "school":      # schools follow the school year
            occ[hours.school_break[hours.day]] = 0.0
        occ[july] *= spec["july"]
        out[u] = occ
    return out


def vapour_pressure_hpa(temp_c: np.ndarray) -> np.ndarray:
    """Saturation vapour pressure over water (Magnus formula, WMO coefficients), hPa."""
    return 6.112 * np.exp(17.62 * temp_c / (243.12 + temp_c))


def outdoor_weather(hours: Hours, params: dict[str, Any],
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outdoor temperature (°C), its season weight (0 mid-January .. 1 mid-July) and vapour (hPa).

    Monthly normals interpolated between mid-months, a daily cycle peaking at 15 local time and an
    autocorrelated weather anomaly (fronts and cold spells lasting days) shared by every building.
    """
    normals = np.asarray(params["outdoor_monthly_c"], dtype=np.float64)
    pos = hours.year_pos - 0.5                       # 0 at mid-January
    base = np.floor(pos)
    frac = pos - base
    i0 = base.astype(np.int64) % 12
    normal = normals[i0] * (1 - frac) + normals[(i0 + 1) % 12] * frac
    season = (1 - np.cos(2 * np.pi * pos / 12)) / 2

    def between(pair: list[float]) -> np.ndarray:
        return pair[0] + (pair[1] - pair[0]) * season

    tau = float(params["weather_memory_hours"])
    k = int(5 * tau) + 1
    kernel = np.exp(-np.arange(k) / tau)
    anomaly = np.convolve(rng.standard_normal(hours.n + k - 1), kernel, mode="valid")
    anomaly /= np.sqrt((kernel ** 2).sum())          # unit variance
    daily = np.cos(2 * np.pi * (hours.local_hour - 15) / 24)
    temp = normal + between(params["daily_amplitude_c"]) * daily + between(params["weather_sd_c"]) * anomaly
    # the air's moisture follows the day's mean temperature, not its hourly swing
    vapour = between(params["outdoor_rh_pct"]) / 100 * vapour_pressure_hpa(smooth(temp, 12.0))
    return temp, season, vapour
