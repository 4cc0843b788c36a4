"""Use case: synthesise a city into a fresh database, with its ground truth in a separate file."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pyarrow as pa

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.synth.calibration import load_params
from ennakoiva.adapters.synth.city import DEFAULT_AS_OF, SynthResult, synthesise

__all__ = ["synthesise_city"]


class _TruthSink:
    """Truth tables are not registry tables: they are created from whatever the generators give."""

    def __init__(self, engine: DuckDBEngine) -> None:
        self.engine = engine

    def append(self, table: str, batch: pa.Table) -> None:
        self.engine.append_free(table, batch)


def _fresh(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)


def synthesise_city(db: Path, truth: Path, *, residents: int, seed: int, as_of: date = DEFAULT_AS_OF,
                    progress: Callable[[int], None] | None = None, threads: int | None = None,
                    memory_limit: str | None = None) -> SynthResult:
    """Build the city in ``db`` (replacing it) and its planted truth in ``truth``."""
    if db.resolve() == truth.resolve():
        raise ValueError("the truth file must be a different file from the city database")
    for path in (db, truth):
        path.parent.mkdir(parents=True, exist_ok=True)
        _fresh(path)
    params = load_params()
    with DuckDBEngine(db, threads=threads, memory_limit=memory_limit) as engine, \
            DuckDBEngine(truth, threads=threads) as truth_engine:
        engine.create_tables(replace=True)
        truth_engine.append_free("truth_parameters", pa.table({
            "seed": [seed], "residents": [residents], "as_of": [as_of],
            "parameters_json": [json.dumps(params, sort_keys=True, ensure_ascii=False)],
        }))
        result = synthesise(residents, seed, engine, _TruthSink(truth_engine), as_of=as_of,
                            progress=progress, params=params)
        engine.checkpoint()
        truth_engine.checkpoint()
    return result
