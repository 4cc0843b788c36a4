"""The overview's precomputed figures: right, reused, and refreshed only where they are stale."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from ennakoiva.platform.overview import MIN_CELL, figure_dates, load_overview, refresh_overview


def test_figures_match_a_direct_count(small_city, city_con, tmp_path: Path) -> None:
    overview = refresh_overview(small_city.db, tmp_path / "o.json")
    assert overview.as_of is not None
    day = overview.as_of.isoformat()
    expected = city_con.execute(
        "SELECT count(*) FROM person WHERE birth_date <= $1 AND coalesce(moved_in_date, DATE '1900-01-01') <= $1 "
        "AND (death_date IS NULL OR death_date > $1) AND (move_out_date IS NULL OR move_out_date > $1)",
        [overview.as_of]).fetchone()[0]
    assert overview.figures["residents"][day] == expected
    jobseekers = city_con.execute("SELECT count(DISTINCT person_id) FROM jobseeker_spell WHERE start_date <= $1 "
                                  "AND (end_date IS NULL OR end_date > $1)", [overview.as_of]).fetchone()[0]
    assert overview.figures["jobseekers"][day] == jobseekers
    assert set(overview.figures["residents"]) == {d.isoformat() for d in figure_dates(overview.as_of)}
    shown = [v for v in overview.districts.values() if v is not None]
    assert shown and min(shown) >= MIN_CELL and sum(shown) <= expected


def test_second_refresh_reuses_the_file(small_city, tmp_path: Path) -> None:
    path = tmp_path / "o.json"
    first = refresh_overview(small_city.db, path)
    assert first.computed_dates
    second = refresh_overview(small_city.db, path)
    assert second.computed_dates == [] and second.figures == first.figures


def test_refresh_after_a_new_run_computes_only_the_new_days(small_city, tmp_path: Path) -> None:
    path = tmp_path / "o.json"
    full = refresh_overview(small_city.db, path)
    assert full.as_of is not None
    # pretend the file was written a day earlier, by a run on another version of the database
    raw = json.loads(path.read_text())
    yesterday = full.as_of - timedelta(days=1)
    raw["as_of"] = yesterday.isoformat()
    raw["source"] = {"path": "older", "size": 0, "mtime_ns": 0}
    for series in raw["figures"].values():
        series.pop(full.as_of.isoformat())
        series["2020-01-01"] = 1       # a snapshot no longer wanted is dropped
    path.write_text(json.dumps(raw))
    again = refresh_overview(small_city.db, path)
    assert again.computed_dates == [yesterday.isoformat(), full.as_of.isoformat()]
    assert again.figures == full.figures
    assert load_overview(path) is not None


def test_figure_dates_clamp_month_ends() -> None:
    assert figure_dates(date(2026, 5, 31), months=1) == [date(2026, 4, 30), date(2026, 5, 30), date(2026, 5, 31)]
