"""Benchmark drill-downs over a 650 000-resident city: ours, the naive way and the floor.

Usage:  .venv/bin/python benchmarks/bench_drilldown.py [--residents 650000] [--db city.duckdb] [--repeat 5]

Without ``--db`` a city is synthesised into a temporary folder first (``platform.synthesis``).
Each drill-down is timed end to end through ``platform.reports.drilldown``: the access decision
written to a fresh audit log, the one compiled query, disclosure control (primary and exact
secondary suppression) and the published rows; best and median of ``--repeat`` runs.

Beside it:

- **naive**: what an analyst would do without the engine: load the tables the drill-down reads
  (all columns, all rows) into pandas, filter residents, compute age, join the service flag and
  ``groupby``. The load is timed with the computation.
- **floor**: one scan of exactly the columns the query reads (``max`` over each, so DuckDB
  cannot answer from metadata), no grouping, no joins.

Target (issue 6): a drill-down over 650 000 residents ≤ 1 s. Figures are printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.platform.reports import CitySource, drilldown
from ennakoiva.platform.settings import Settings
from ennakoiva.platform.synthesis import synthesise_city

CASES: list[tuple[str, list[str], str | None]] = [
    ("residents by district", ["district"], None),
    ("foreign-language share by district × sex", ["district", "sex"], "foreign_language"),
    ("employment-service users (18–64) by district × age band", ["district", "age_band"], "employment_service_user"),
    ("employment-service users by language group × sex", ["language_group", "sex"], "employment_service_user"),
    ("main activity by postal area", ["postal_area", "activity"], None),
]


def _time(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return {"best_s": round(min(runs), 4), "median_s": round(statistics.median(runs), 4)}


def _naive(db: Path, on: pd.Timestamp) -> None:
    """pandas after loading every row of the tables read: employment-service users by district × age band."""
    with DuckDBEngine(db, read_only=True) as e:
        p = e.read("person").to_pandas()
        es = e.read("employment_service").to_pandas()
    for col in ("birth_date", "moved_in_date", "death_date", "move_out_date"):
        p[col] = pd.to_datetime(p[col])
    r = p[(p.birth_date <= on) & (p.moved_in_date.isna() | (p.moved_in_date <= on))
          & (p.death_date.isna() | (p.death_date > on)) & (p.move_out_date.isna() | (p.move_out_date > on))].copy()
    r["age"] = (on - r.birth_date).dt.days // 365.25
    es["start_date"], es["end_date"] = pd.to_datetime(es.start_date), pd.to_datetime(es.end_date)
    users = set(es[(es.start_date <= on) & (es.end_date > on - pd.DateOffset(months=12))].person_id)
    r["user"] = r.person_id.isin(users)
    r["band"] = pd.cut(r.age, [-1, 6, 17, 29, 44, 64, 74, 200])
    working = r[(r.age >= 18) & (r.age <= 64)]
    working.groupby(["district_code", "band"], observed=True).user.agg(["sum", "count"])


def _floor(db: Path) -> None:
    """One scan of the columns the employment-service drill-down reads."""
    with DuckDBEngine(db, read_only=True) as e:
        e.sql("SELECT max(person_id), max(district_code), max(birth_date), max(moved_in_date), max(death_date), "
              "max(move_out_date) FROM person")
        e.sql("SELECT max(person_id), max(start_date), max(end_date) FROM employment_service")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=650_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", type=Path, help="use this city instead of synthesising one")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        db = args.db
        synth_s = None
        if db is None:
            db = tmp / "city.duckdb"
            t = time.perf_counter()
            synthesise_city(db, tmp / "truth.duckdb", residents=args.residents, seed=args.seed)
            synth_s = round(time.perf_counter() - t, 1)
        settings = Settings(db_url=f"sqlite:///{tmp / 'store.sqlite3'}", audit_key_file=tmp / "audit.key",
                            audit_checkpoint_file=tmp / "checkpoints.jsonl")
        source = CitySource(db)
        first = drilldown(source, [], None, settings=settings)
        residents = first.total().count
        on = pd.Timestamp(first.reference_date)
        cases = []
        for label, by, measure in CASES:
            dd = drilldown(source, by, measure, settings=settings)
            timing = _time(lambda by=by, measure=measure: drilldown(source, by, measure, settings=settings),
                           args.repeat)
            cases.append({"drilldown": label, "by": by, "measure": measure, **timing, "cells": len(dd.table.cells),
                          "suppressed": dd.suppressed_cells})
        naive = _time(lambda: _naive(db, on), max(1, args.repeat // 2))
        floor = _time(lambda: _floor(db), args.repeat)
        ours = next(c for c in cases if c["measure"] == "employment_service_user")
        print(json.dumps({
            "residents": residents, "synthesis_s": synth_s, "cases": cases,
            "naive_pandas_same_as_case_3": naive, "floor_one_scan_case_3": floor,
            "ratio_naive_over_ours": round(naive["best_s"] / ours["best_s"], 1),
            "ratio_ours_over_floor": round(ours["best_s"] / floor["best_s"], 1),
            "target_s": 1.0, "all_within_target": all(c["best_s"] <= 1.0 for c in cases),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "load_average_1m": round(os.getloadavg()[0], 1)},
        }, indent=2))


if __name__ == "__main__":
    main()
