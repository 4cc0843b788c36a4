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

from ennakoiva.adapters.synth.calibration import load_calibration, load_params
from ennakoiva.adapters.synth.frame import SectorContext, day
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

__all__ = ["DEFAULT_AS_OF", "SynthResult", "synthesise"]

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


def synthesise(residents: int, seed: int, sink: TableSink, truth: TableSink, *,
               as_of: date = DEFAULT_AS_OF, chunk_residents: int = 200_000,
               progress: Callable[[int], None] | None = None, params: dict[str, Any] | None = None,
               ) -> SynthResult:
    """Generate ``residents`` current residents (plus those who left during the window)."""
    if residents < 100:
        raise ValueError("a city needs at least 100 residents")
    started = time.perf_counter()
    cal, params = load_calibration(), params or load_params()
    window_start, as_of_day = day(date.fromisoformat(params["dynamics"]["window_start"])), day(as_of)
    if window_start >= as_of_day:
        raise ValueError(f"as-of date {as_of} must be after the window start {params['dynamics']['window_start']}")
    per_area = allocate(residents, cal.inhabitants.astype(np.float64))
    lang_shares, _ = area_language_shares(cal, params)
    city, city_tables = generate_city(cal, per_area.astype(np.float64), params,
                                      np.random.default_rng([seed, _CITY_STREAM]))
    result = SynthResult(residents=residents, seed=seed, as_of=as_of)
    data, facts = _Buffer(sink, result.rows), _Buffer(truth, result.truth_rows)
    data.add(city_tables)
    data.flush()

    pending = 0
    for area in range(cal.n_areas):
        if per_area[area] == 0:
            continue
        people = generate_area_population(area, int(per_area[area]), cal, params, lang_shares, window_start,
                                          as_of_day, np.random.default_rng([seed, _POPULATION_STREAM, area]))
        outputs = population_tables(people, cal, params, window_start, as_of_day,
                                    np.random.default_rng([seed, _POPULATION_STREAM, area, 1]))
        for i, (_name, generate) in enumerate(SECTORS):
            ctx = SectorContext(people=people, city=city, params=params, window_start=window_start,
                                as_of=as_of_day, rng=np.random.default_rng([seed, _SECTOR_STREAM + i, area]),
                                outputs=outputs)
            out = generate(ctx)
            outputs.update(out.tables)
            facts.add(out.truth)
        data.add(outputs)
        pending += int(per_area[area])
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

    for tables, truth_tables in generate_readings(city_tables["building"], window_start, as_of_day,
                                                  np.random.default_rng([seed, _READINGS_STREAM]), params):
        data.add(tables)
        data.flush()
        facts.add(truth_tables)
    facts.flush()
    result.seconds = time.perf_counter() - started
    return result
