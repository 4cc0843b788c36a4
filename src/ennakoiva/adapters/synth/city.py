"""Synthesise a whole city: area by area, sector by sector, written in chunks to a table sink.

Every postal area and sector draws from its own random stream derived from (seed, sector, area),
so the same seed gives the same city whatever the chunk size or machine, and memory stays bounded
by one chunk of areas (5 million residents fit in a few GB).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa

from ennakoiva.adapters.synth.calibration import Calibration, load_calibration, load_params, window_start_for
from ennakoiva.adapters.synth.frame import AreaPeople, CityFrame, SectorContext, day
from ennakoiva.adapters.synth.population import (
    area_language_shares,
    generate_area_population,
    population_tables,
)
from ennakoiva.adapters.synth.readings import generate_readings
from ennakoiva.adapters.synth.sampling import allocate
from ennakoiva.adapters.synth.sectors import SECTORS
from ennakoiva.adapters.synth.services import generate_city
from ennakoiva.domain.ports import TableSink

__all__ = ["DEFAULT_AS_OF", "CityPlan", "SynthResult", "generate_area", "plan_city", "synthesise"]

DEFAULT_AS_OF = date(2026, 11, 1)
_CITY_STREAM, _POPULATION_STREAM, _READINGS_STREAM, _SECTOR_STREAM = 0, 1, 2, 10


@dataclass
class SynthResult:
    """What was written: rows per table, truth rows per truth table, and the time it took."""

    residents: int
    seed: int
    as_of: date
    rows: dict[str, int] = field(default_factory=dict)
    truth_rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def events(self) -> int:
        return sum(self.rows.values())


class _Buffer:
    """Collect per-area tables and flush them to a sink as one append per table."""

    def __init__(self, sink: TableSink, counts: dict[str, int]) -> None:
        self.sink, self.counts = sink, counts
        self.parts: dict[str, list[pa.Table]] = defaultdict(list)

    def add(self, tables: dict[str, pa.Table]) -> None:
        for name, table in tables.items():
            self.parts[name].append(table)

    def flush(self) -> None:
        for name, parts in self.parts.items():
            table = pa.concat_tables(parts)
            self.sink.append(name, table)
            self.counts[name] = self.counts.get(name, 0) + table.num_rows
        self.parts.clear()


@dataclass(frozen=True)
class CityPlan:
    """Everything fixed before the first person: calibration, dates, residents per area, units."""

    seed: int
    params: dict[str, Any]
    cal: Calibration
    window_start: int
    as_of: int
    per_area: np.ndarray
    lang_shares: np.ndarray
    city: CityFrame
    city_tables: dict[str, pa.Table]


def plan_city(residents: int, seed: int, *, as_of: date = DEFAULT_AS_OF,
              params: dict[str, Any] | None = None) -> CityPlan:
    """Allocate residents to postal areas and create the city's service units and buildings."""
    if residents < 100:
        raise ValueError("a city needs at least 100 residents")
    cal, params = load_calibration(), params or load_params()
    window_start, as_of_day = day(window_start_for(as_of, params)), day(as_of)
    per_area = allocate(residents, cal.inhabitants.astype(np.float64))
    lang_shares, _ = area_language_shares(cal, params)
    city, city_tables = generate_city(cal, per_area.astype(np.float64), params,
                                      np.random.default_rng([seed, _CITY_STREAM]))
    return CityPlan(seed, params, cal, window_start, as_of_day, per_area, lang_shares, city, city_tables)


def generate_area(plan: CityPlan, area: int, sectors: tuple[str, ...] | None = None,
                  ) -> tuple[AreaPeople, dict[str, pa.Table], dict[str, pa.Table]]:
    """People, tables and truth of one postal area, running ``sectors`` (default: all, in order).

    A sector's random stream depends on its name, not its position in ``sectors``, so running a
    subset (as the sector tests do) gives the same rows as the whole city.
    """
    names = [name for name, _ in SECTORS]
    wanted = names if sectors is None else list(sectors)
    unknown = set(wanted) - set(names)
    if unknown:
        raise ValueError(f"unknown sectors {sorted(unknown)} (known: {names})")
    seed = plan.seed
    people = generate_area_population(area, int(plan.per_area[area]), plan.cal, plan.params, plan.lang_shares,
                                      plan.window_start, plan.as_of,
                                      np.random.default_rng([seed, _POPULATION_STREAM, area]))
    outputs = population_tables(people, plan.cal, plan.params, plan.window_start, plan.as_of,
                                np.random.default_rng([seed, _POPULATION_STREAM, area, 1]))
    truth: dict[str, pa.Table] = {}
    for i, (name, generate) in enumerate(SECTORS):
        if name not in wanted:
            continue
        ctx = SectorContext(people=people, city=plan.city, params=plan.params, window_start=plan.window_start,
                            as_of=plan.as_of, rng=np.random.default_rng([seed, _SECTOR_STREAM + i, area]),
                            outputs=outputs)
        out = generate(ctx)
        outputs.update(out.tables)
        truth.update(out.truth)
    return people, outputs, truth


def synthesise(residents: int, seed: int, sink: TableSink, truth: TableSink, *,
               as_of: date = DEFAULT_AS_OF, chunk_residents: int = 200_000,
               progress: Callable[[int], None] | None = None, params: dict[str, Any] | None = None,
               ) -> SynthResult:
    """Generate ``residents`` current residents (plus those who left during the window)."""
    started = time.perf_counter()
    plan = plan_city(residents, seed, as_of=as_of, params=params)
    result = SynthResult(residents=residents, seed=seed, as_of=as_of)
    data, facts = _Buffer(sink, result.rows), _Buffer(truth, result.truth_rows)
    data.add(plan.city_tables)
    data.flush()

    pending = 0
    for area in range(plan.cal.n_areas):
        if plan.per_area[area] == 0:
            continue
        _people, outputs, area_truth = generate_area(plan, area)
        data.add(outputs)
        facts.add(area_truth)
        pending += int(plan.per_area[area])
        if pending >= chunk_residents:
            data.flush()
            facts.flush()
            if progress:
                progress(pending)
            pending = 0
    data.flush()
    facts.flush()
    if progress and pending:
        progress(pending)

    for tables, truth_tables in generate_readings(plan.city_tables["building"], plan.window_start, plan.as_of,
                                                  np.random.default_rng([seed, _READINGS_STREAM]), plan.params):
        data.add(tables)
        data.flush()
        facts.add(truth_tables)
    facts.flush()
    result.seconds = time.perf_counter() - started
    return result
