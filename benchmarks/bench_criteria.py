"""Benchmark the criteria engine: 300 criteria over a synthetic city, all at once.

Usage:  .venv/bin/python benchmarks/bench_criteria.py [--residents 650000] [--seed 1] [--criteria 300]
                                                      [--threads 2] [--keep DIR] [--on 2026-11-01]

1. Synthesises the city (or reuses ``--keep DIR/city.duckdb``).
2. **together**: the library and its variants (``domain/criteria/variants.py``) up to ``--criteria``,
   evaluated together by ``evaluate_criteria`` (sparse feature tables shared by all criteria, each
   criterion over its candidates) — what ``ennakoiva criteria run`` does.
3. **one query per criterion**: the same criteria, one compiled query each (OHDSI-style cohort at a
   time), and the check that both give the same (criterion, person, points) rows. With
   ``--per-criterion-sample K`` only every (n/K)-th criterion is run this way and the time is
   scaled up to all n (reported as extrapolated).
4. **floor**: one plain scan of every column the criteria read (a hash of every value), the least
   any evaluator that reads the data must spend.

``together`` is split into the time spent staging the feature tables and the time evaluating the
criteria over them into matched rows with evidence; the latter is work one query per criterion does
too (the same rows), so ``ratio_bound_if_features_were_free`` is the most any shared-feature
evaluator could gain over that way on this workload.

Wall seconds depend on what else the machine runs: the report gives the load average and each
step's CPU seconds too (CPU seconds / cores is the wall time on an otherwise idle machine when the
step keeps every core busy).

Each step runs in its own child process with DuckDB limited to ``--threads`` threads, so the peak
RSS (getrusage of the child) is that step's own.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.engine import criteria_sql as criteria_sql_module
from ennakoiva.adapters.engine.criteria_sql import criteria_sql, evaluate_criteria
from ennakoiva.domain.criteria import load_criteria
from ennakoiva.domain.criteria.tree import CompiledCriterion, atoms_of
from ennakoiva.domain.criteria.variants import criterion_variants

FLOOR_SQL = (  # hash every value the criteria read (min/max alone could come from column statistics)
    "SELECT sum(hash(person_id, birth_date, sex, death_date, move_out_date, moved_in_date)) FROM person",
    "SELECT sum(hash(person_id, diagnosis_date, icd10_code)) FROM diagnosis",
    "SELECT sum(hash(person_id, atc_code, start_date, end_date)) FROM prescription",
    "SELECT sum(hash(visit_id, visit_type)) FROM health_visit",
    "SELECT sum(hash(person_id, visit_id, measured_on, code, value, unit)) FROM measurement",
)


def _criteria(n: int) -> list[CompiledCriterion]:
    return criterion_variants([c.compiled for c in load_criteria() if c.spec.status == "active"], n)


def _digest(rows: list[tuple[object, ...]]) -> str:
    return hashlib.sha256(repr(sorted(rows)).encode()).hexdigest()[:16]


def _sample(criteria: list[CompiledCriterion], k: int) -> list[CompiledCriterion]:
    step = max(1, len(criteria) // k) if k else 1
    return criteria[::step]


def _timed_parts() -> dict[str, float]:
    """Wall seconds ``evaluate_criteria`` spends staging feature tables and evaluating the criteria over them.

    The second part produces the matched rows with their evidence: one query per criterion has to
    produce the same rows, so it bounds the ratio to that way even if features cost nothing.
    """
    parts = {"feature_seconds": 0.0, "result_seconds": 0.0}

    def timed(fn: Any, key: str) -> Any:
        def wrapper(*args: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args)
            finally:
                parts[key] += time.perf_counter() - t0
        return wrapper

    criteria_sql_module._stage = timed(criteria_sql_module._stage, "feature_seconds")
    criteria_sql_module._evaluate = timed(criteria_sql_module._evaluate, "result_seconds")
    return parts


def child(step: str, db: Path, n: int, threads: int, on: date, sample: int) -> dict[str, object]:
    """One measured step, in this (child) process."""
    criteria = _criteria(n)
    sampled = {c.id for c in _sample(criteria, sample)}
    with DuckDBEngine(db, read_only=True, threads=threads) as engine:
        # timed: the evaluation up to its Arrow result; the comparison rows are built outside the clock
        started, cpu_started = time.perf_counter(), time.process_time()
        results = []
        if step == "floor":
            for q in FLOOR_SQL:
                engine.con.execute(q).fetchall()
        elif step == "together":
            parts = _timed_parts()
            results.append(evaluate_criteria(engine, criteria, on))
        else:
            for c in criteria:
                if c.id in sampled:  # one plain compiled query per criterion
                    results.append(engine.sql(criteria_sql([c], on)))
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    rows: list[tuple[object, ...]] = [
        r for t in results for r in zip(t["criterion_id"].to_pylist(), t["person_id"].to_pylist(),
                                        t["points"].to_pylist(), strict=True)]
    split = {} if step != "together" else {k: round(v, 2) for k, v in parts.items()}
    return {**split, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "rows": len(rows),
            "digest": _digest(rows),
            "sample_digest": _digest([r for r in rows if r[0] in sampled]), "criteria_run": len(
                sampled if step == "per_criterion" else criteria),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def _run_child(step: str, args: argparse.Namespace, db: Path) -> dict[str, object]:
    proc = subprocess.run([sys.executable, __file__, "--child", step, "--db", str(db), "--criteria",
                           str(args.criteria), "--threads", str(args.threads), "--on", args.on,
                           "--per-criterion-sample", str(args.per_criterion_sample)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--residents", type=int, default=650_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--criteria", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2, help="DuckDB threads (the target machine has 2 cores)")
    ap.add_argument("--on", default="2026-11-01", help="evaluation date (the synthetic city's extract date)")
    ap.add_argument("--keep", type=Path, default=None, help="keep (or reuse) the city in this folder")
    ap.add_argument("--skip-per-criterion", action="store_true", help="skip the slow one-query-per-criterion step")
    ap.add_argument("--per-criterion-sample", type=int, default=0,
                    help="run only about this many criteria one at a time and scale the time up (0: all)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--db", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.db, args.criteria, args.threads, date.fromisoformat(args.on),
                               args.per_criterion_sample)))
        return

    work = args.keep or Path(tempfile.mkdtemp(prefix="ennakoiva-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "city.duckdb"
    if not db.exists():
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ennakoiva", "synth", "--residents", str(args.residents), "--seed",
                        str(args.seed), "--db", str(db), "--truth", str(work / "truth.duckdb"), "--json"],
                       capture_output=True, text=True, check=True)
        print(f"synthesised {args.residents:,} residents in {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    con = duckdb.connect(str(db), read_only=True)
    sizes = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
             for t in ("person", "diagnosis", "prescription", "measurement", "health_visit")}
    con.close()

    criteria = _criteria(args.criteria)
    atoms = {a for c in criteria for node in (c.condition, *(b.when for b in c.bonuses)) for a in atoms_of(node)}

    load = os.getloadavg()[0]
    floor = _run_child("floor", args, db)
    together = _run_child("together", args, db)
    report: dict[str, object] = {
        "criteria": len(criteria), "distinct_atoms": len(atoms), "threads": args.threads, "rows_read": sizes,
        "load_average_at_start": round(load, 1), "cores": os.cpu_count(),
        "together": together, "floor": floor,
        "ratio_together_to_floor": round(float(together["seconds"]) / max(float(floor["seconds"]), 1e-9), 1),  # type: ignore[arg-type]
        "ratio_together_to_floor_cpu": round(float(together["cpu_seconds"]) / max(float(floor["cpu_seconds"]), 1e-9),  # type: ignore[arg-type]
                                             1),
        "target_seconds": 15, "meets_target": float(together["seconds"]) <= 15,  # type: ignore[arg-type]
        "load_average_after_together": round(os.getloadavg()[0], 1),
    }
    if not args.skip_per_criterion:
        per = _run_child("per_criterion", args, db)
        scale = len(criteria) / int(per["criteria_run"])  # type: ignore[call-overload]
        per["seconds_for_all"] = round(float(per["seconds"]) * scale, 1)  # type: ignore[arg-type]
        per["extrapolated"] = scale != 1
        report["per_criterion"] = per
        report["ratio_per_criterion_to_together"] = round(
            float(per["seconds_for_all"]) / max(float(together["seconds"]), 1e-9), 1)  # type: ignore[arg-type]
        report["ratio_per_criterion_to_together_cpu"] = round(
            float(per["cpu_seconds"]) * scale / max(float(together["cpu_seconds"]), 1e-9), 1)  # type: ignore[arg-type]
        report["same_result"] = per["sample_digest"] == together["sample_digest"]
        # the matched rows and their evidence cost the same whichever way they are found: even with
        # free features, evaluating all criteria together cannot beat one query per criterion by more
        report["ratio_bound_if_features_were_free"] = round(
            float(per["seconds_for_all"]) / max(float(together["result_seconds"]), 1e-9), 1)  # type: ignore[arg-type]
        report["load_average_at_end"] = round(os.getloadavg()[0], 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
