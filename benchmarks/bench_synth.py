"""Benchmark `ennakoiva synth`: wall time, peak RSS, rows/s, and the Parquet I/O floor.

Usage:  .venv/bin/python benchmarks/bench_synth.py [--residents 650000] [--seed 1] [--keep DIR]

1. Runs the real CLI in a child process (so peak RSS is the child's own, via getrusage).
2. The I/O floor: the same rows, already in memory as Arrow, written once as Parquet (zstd) —
   the least any generator that writes its output must spend.
3. The naive way: row-at-a-time inserts (executemany) of a 100 000-row sample of the income table,
   extrapolated to all rows — what a generator that emits Python rows would pay just to store them.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--residents", type=int, default=650_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, default=None, help="keep the database in this folder")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="ennakoiva-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    db, truth = work / "city.duckdb", work / "truth.duckdb"

    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "ennakoiva", "synth", "--residents", str(args.residents), "--seed", str(args.seed),
         "--db", str(db), "--truth", str(truth), "--json"], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 / 1024  # Linux: KiB
    summary = json.loads(proc.stdout)
    rows = summary["total_rows"]

    con = duckdb.connect(str(db), read_only=True)
    floor = 0.0
    out = work / "floor"
    out.mkdir(exist_ok=True)
    for name in summary["rows"]:
        table = con.sql(f'SELECT * FROM "{name}"').to_arrow_table()
        t0 = time.perf_counter()
        pq.write_table(table, out / f"{name}.parquet", compression="zstd")
        floor += time.perf_counter() - t0
        del table

    sample = con.sql("SELECT * FROM income LIMIT 100000").fetchall()
    naive_con = duckdb.connect()
    naive_con.execute("CREATE TABLE income (person_id BIGINT, month DATE, income_type VARCHAR, amount_eur DOUBLE)")
    t0 = time.perf_counter()
    naive_con.executemany("INSERT INTO income VALUES (?, ?, ?, ?)", sample)
    naive_per_row = (time.perf_counter() - t0) / max(len(sample), 1)
    con.close()

    report = {
        "residents": args.residents, "rows": rows, "wall_seconds": round(wall, 1),
        "generator_seconds": summary["seconds"], "rows_per_second": round(rows / wall),
        "peak_rss_gb": round(peak_gb, 2), "db_size_mb": round(db.stat().st_size / 1e6, 1),
        "parquet_floor_seconds": round(floor, 1), "ratio_to_parquet_floor": round(wall / max(floor, 1e-9), 2),
        "naive_row_inserts_seconds_extrapolated": round(naive_per_row * rows),
        "rows_by_table": summary["rows"],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
