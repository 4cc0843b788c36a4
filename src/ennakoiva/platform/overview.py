"""The city overview: key figures per day, precomputed into a small file and refreshed incrementally.

City staff read a daily dashboard (Helsinki's COVID view: each figure with its change since the day
before). Counting a 650 000-resident city on every page view would cost seconds, so the figures are
computed once per extract date into a JSON file next to the database and served from memory.

Each figure is a snapshot "as of" a date. A refresh computes only the dates the file does not hold
yet — after a daily run that is the new extract date; the earlier snapshots stand, as a published
dashboard's do. Only aggregates over at least :data:`MIN_CELL` people are kept for districts, so the
file holds no personal data.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from ennakoiva.adapters.engine import DuckDBEngine

__all__ = ["FIGURES", "MIN_CELL", "Overview", "figure_dates", "load_overview", "refresh_overview"]

FORMAT_VERSION = 2
MIN_CELL = 10   # districts with fewer residents are shown as suppressed (disclosure control threshold)

_ALIVE = ("p.birth_date <= d.d AND coalesce(p.moved_in_date, DATE '1900-01-01') <= d.d "
          "AND (p.death_date IS NULL OR p.death_date > d.d) AND (p.move_out_date IS NULL OR p.move_out_date > d.d)")

# figure key -> (tables it needs, query over the date list $1 returning (d, value))
FIGURES: dict[str, tuple[tuple[str, ...], str]] = {
    "residents": (("person",), f"SELECT d.d, count(*) FROM person p JOIN dates d ON {_ALIVE} GROUP BY 1"),
    "households": (("person",),
                   f"SELECT d.d, count(DISTINCT p.household_id) FROM person p JOIN dates d ON {_ALIVE} GROUP BY 1"),
    "jobseekers": (("jobseeker_spell",),
                   "SELECT d.d, count(DISTINCT s.person_id) FROM jobseeker_spell s JOIN dates d "
                   "ON s.start_date <= d.d AND (s.end_date IS NULL OR s.end_date > d.d) GROUP BY 1"),
    "ecec_children": (("ecec_placement",),
                      "SELECT d.d, count(DISTINCT e.person_id) FROM ecec_placement e JOIN dates d "
                      "ON e.start_date <= d.d AND (e.end_date IS NULL OR e.end_date >= d.d) GROUP BY 1"),
    "child_welfare_clients": (("child_welfare_client",),
                              "SELECT d.d, count(DISTINCT c.person_id) FROM child_welfare_client c JOIN dates d "
                              "ON c.start_date <= d.d AND (c.end_date IS NULL OR c.end_date > d.d) GROUP BY 1"),
    "health_visits_30d": (("health_visit",),
                          "SELECT d.d, count(*) FROM health_visit v JOIN dates d "
                          "ON v.visit_date > d.d - 30 AND v.visit_date <= d.d GROUP BY 1"),
}


def _month_back(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (clamped to the month's last day)."""
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    m += 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(y, m, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def figure_dates(as_of: date, months: int = 12) -> list[date]:
    """The extract date, the day before, and the same day in each of the previous ``months`` months.

    >>> [d.isoformat() for d in figure_dates(date(2026, 3, 31), months=2)]
    ['2026-01-31', '2026-02-28', '2026-03-30', '2026-03-31']
    """
    days = {as_of, as_of - timedelta(days=1)} | {_month_back(as_of, k) for k in range(1, months + 1)}
    return sorted(days)


@dataclass
class Overview:
    """The precomputed figures: ``figures[key][iso date] = value``; ``districts`` at the extract date."""

    as_of: date | None
    figures: dict[str, dict[str, int]] = field(default_factory=dict)
    districts: dict[str, int | None] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    computed_dates: list[str] = field(default_factory=list)   # dates computed by the last refresh
    seconds: float = 0.0

    def key_figures(self) -> list[dict[str, Any]]:
        """Each figure at the extract date with its change since the day before and since last month."""
        if self.as_of is None:
            return []
        today = self.as_of.isoformat()
        before = (self.as_of - timedelta(days=1)).isoformat()
        month = _month_back(self.as_of, 1).isoformat()
        out = []
        for key, series in self.figures.items():
            value = series.get(today)
            if value is None:
                continue
            out.append({"key": key, "value": value,
                        "change_day": value - series[before] if before in series else None,
                        "change_month": value - series[month] if month in series else None,
                        "trend": [{"date": d, "value": series[d]} for d in sorted(series)]})
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"version": FORMAT_VERSION, "as_of": self.as_of.isoformat() if self.as_of else None,
                "figures": self.figures, "districts": self.districts, "source": self.source}


def _source_identity(db: Path) -> dict[str, Any]:
    stat = db.stat()
    return {"path": str(db.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def load_overview(path: Path) -> Overview | None:
    """The overview file, or None when missing or of another format."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if raw.get("version") != FORMAT_VERSION:
        return None
    return Overview(as_of=date.fromisoformat(raw["as_of"]) if raw.get("as_of") else None,
                    figures=raw.get("figures", {}), districts=raw.get("districts", {}),
                    source=raw.get("source", {}))


def _extract_date(engine: DuckDBEngine, present: set[str]) -> date | None:
    parts = []
    if "person" in present:
        parts += ["SELECT max(moved_in_date) d FROM person", "SELECT max(move_out_date) FROM person",
                  "SELECT max(death_date) FROM person"]
    if "health_visit" in present:
        parts.append("SELECT max(visit_date) FROM health_visit")
    if "jobseeker_spell" in present:
        parts.append("SELECT max(start_date) FROM jobseeker_spell")
    if not parts:
        return None
    value = engine.sql(f"SELECT max(d) FROM ({' UNION ALL '.join(parts)})").column(0)[0].as_py()
    return value if isinstance(value, date) else None


def refresh_overview(db: Path, path: Path, *, months: int = 12) -> Overview:
    """Bring the overview file up to date with ``db``, computing only what it lacks; returns it."""
    started = time.perf_counter()
    previous = load_overview(path)
    identity = _source_identity(db)
    if previous is not None and previous.source == identity:
        return previous
    with DuckDBEngine(db, read_only=True) as engine:
        present = set(engine.table_names())
        as_of = _extract_date(engine, present)
        overview = Overview(as_of=as_of, source=identity)
        if as_of is None:
            return overview
        wanted = [d.isoformat() for d in figure_dates(as_of, months)]
        old = previous.figures if previous is not None and previous.as_of is not None else {}
        stale_from = previous.as_of.isoformat() if previous is not None and previous.as_of else None
        for key, (tables, query) in FIGURES.items():
            if not set(tables) <= present:
                continue
            series = {d: v for d, v in old.get(key, {}).items()
                      if d in wanted and (stale_from is None or d < stale_from)}
            missing = [d for d in wanted if d not in series]
            if missing:
                result = engine.sql(f"WITH dates AS (SELECT unnest($1::DATE[]) AS d) {query}", [missing])
                counts = {row[0].isoformat(): int(row[1]) for row in zip(*(c.to_pylist() for c in result.columns),
                                                                          strict=True)}
                series.update({d: counts.get(d, 0) for d in missing})
                overview.computed_dates = sorted(set(overview.computed_dates) | set(missing))
            overview.figures[key] = dict(sorted(series.items()))
        if "person" in present:
            rows = engine.sql(f"WITH dates AS (SELECT $1::DATE AS d) SELECT p.district_code AS district, count(*) AS n "
                              f"FROM person p JOIN dates d ON {_ALIVE} GROUP BY 1 ORDER BY 1", [as_of]).to_pylist()
            overview.districts = {r["district"]: (n if (n := int(r["n"])) >= MIN_CELL else None)
                                  for r in rows}
    overview.seconds = time.perf_counter() - started
    _write_atomically(path, overview.as_dict())
    return overview


def _write_atomically(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)
