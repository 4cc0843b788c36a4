"""Benchmark and validate the analytics ladder's upper rungs against the planted truth.

Usage:  .venv/bin/python benchmarks/bench_analyze.py timing   [--residents 400000] [--keep DIR]
        .venv/bin/python benchmarks/bench_analyze.py coverage [--residents 100000] [--seeds 20] [--first-seed 1]
                                                              [--estimands ate,att] [--workers 1] [--out FILE]
        .venv/bin/python benchmarks/bench_analyze.py recommend [--residents 300000] [--seed 2]

- **timing**: ``ennakoiva analyze effect`` (the CLI, end to end) on a city with at least 100 000 job
  seekers (``--db --service``) and on a 100 000-row file (``--data``: any service vs none); then a
  service-effect model is fitted, saved, loaded and 1 000 single recommendations are timed (from a
  registration record, the serving path, and from a one-row DataFrame). CPU seconds are reported
  beside wall seconds: on a shared machine the wall clock measures the neighbours too.
- **coverage**: for each seed a fresh city, each service's ATE (and ATT) by ``city_effect`` against
  the truth computed over the same people; reports per service the mean error, the share within
  ±0.01, the mean standard error and the 95 % interval coverage, and the naive difference's error;
  beside them the **efficiency bound** (``adapters/synth/employment_bound.py``, from the generator's
  true probabilities and assignment): the smallest standard error any estimator can have on that
  data, and so the largest share of seeds any estimator can bring within ±0.01.
- **recommend**: agreement of the recommended service with the truly best one, the share of the
  best achievable gain, and the one-size-fits-all policy's.

Only this script and the tests read the truth file; the analysis code never does.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from scipy.stats import norm

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.engine.jobseeker_frame import jobseeker_frame
from ennakoiva.adapters.ml.effect import EffectSettings
from ennakoiva.adapters.ml.frame import SERVICES, city_frame
from ennakoiva.adapters.ml.recommend import fit_service_effects, load_model, save_model
from ennakoiva.adapters.synth.employment_bound import efficiency_bounds
from ennakoiva.platform.analysis import city_effect
from ennakoiva.platform.synthesis import synthesise_city

__all__ = ["coverage_run", "recommendation_quality", "truth_effects"]


def _city(residents: int, seed: int, root: Path) -> tuple[Path, Path]:
    db, truth = root / f"city-{residents}-{seed}.duckdb", root / f"truth-{residents}-{seed}.duckdb"
    if not db.exists():
        synthesise_city(db, truth, residents=residents, seed=seed, threads=1)
    return db, truth


def _frame(db: Path) -> pd.DataFrame:
    with DuckDBEngine(db, read_only=True) as engine:
        return city_frame(jobseeker_frame(engine))


def truth_effects(frame: pd.DataFrame, truth: Path) -> pd.DataFrame:
    """Per spell of ``frame``: the true effect of each service (tau_<service>) and p under none."""
    with duckdb.connect(str(truth), read_only=True) as con:
        t = con.sql("SELECT * FROM truth_employment_spell").df().set_index("spell_id").loc[frame["spell_id"]]
    out = pd.DataFrame({"p0": t["p_employed_6m_no_service"].to_numpy()})
    for s in SERVICES:
        out[f"tau_{s}"] = (t[f"p_employed_6m_under_{s}"] - t["p_employed_6m_no_service"]).to_numpy()
    return out


def _truth_rows(frame: pd.DataFrame, truth: Path) -> pd.DataFrame:
    """``truth_employment_spell`` row-aligned with ``frame``."""
    with duckdb.connect(str(truth), read_only=True) as con:
        t = con.sql("SELECT * FROM truth_employment_spell").df()
    return t.set_index("spell_id").loc[frame["spell_id"]].reset_index()


def _one_seed(args: tuple[int, int, list[str], str, int]) -> list[dict[str, Any]]:
    residents, seed, estimands, root, n_rep = args
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        db, truth = _city(residents, seed, Path(tmp))
        frame = _frame(db)
        tau = truth_effects(frame, truth)
        bounds = {(b.service, b.estimand): b.se for b in efficiency_bounds(frame, _truth_rows(frame, truth))}
    rows = []
    for service in SERVICES:
        keep = frame["service"].isin([service, "none"]).to_numpy()
        treated = (frame["service"] == service).to_numpy()[keep]
        effects = tau[f"tau_{service}"].to_numpy()[keep]
        for estimand in estimands:
            true = float(effects.mean() if estimand == "ate" else effects[treated].mean())
            started = time.perf_counter()
            res = city_effect(frame, service, estimand, None, EffectSettings(n_rep=n_rep, placebo=False, seed=seed))
            rows.append({"seed": seed, "service": service, "estimand": estimand, "truth": true,
                         "estimate": res["estimate"], "ci_low": res["ci_low"], "ci_high": res["ci_high"],
                         "se": res["se"], "refused": bool(res["refused"]), "naive": res["naive_difference"]["estimate"],
                         "n": res["n"], "bound_se": bounds[(service, estimand)],
                         "seconds": time.perf_counter() - started})
    return rows


def coverage_run(residents: int, seeds: list[int], estimands: list[str], workers: int = 1, n_rep: int = 3,
                 root: Path | None = None) -> pd.DataFrame:
    """Every (seed, service, estimand) estimate against its truth."""
    root = root or Path(tempfile.gettempdir())
    jobs = [(residents, s, estimands, str(root), n_rep) for s in seeds]
    rows: list[dict[str, Any]] = []
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            for part in pool.map(_one_seed, jobs):
                rows += part
                print(f"  seed {part[0]['seed']} done", file=sys.stderr, flush=True)
    else:
        for job in jobs:
            rows += _one_seed(job)
            print(f"  seed {job[1]} done", file=sys.stderr, flush=True)
    return pd.DataFrame(rows)


def coverage_summary(df: pd.DataFrame) -> pd.DataFrame:
    ok = df[~df["refused"]].copy()
    ok["error"] = ok["estimate"] - ok["truth"]
    ok["covered"] = (ok["ci_low"] <= ok["truth"]) & (ok["truth"] <= ok["ci_high"])
    ok["within_001"] = ok["error"].abs() <= 0.01
    ok["naive_error"] = ok["naive"] - ok["truth"]
    ok["best_within"] = 2 * norm.cdf(0.01 / ok["bound_se"]) - 1   # the most any estimator can reach
    return ok.groupby(["estimand", "service"]).agg(
        seeds=("seed", "nunique"), truth=("truth", "mean"), mean_error=("error", "mean"),
        mean_abs_error=("error", lambda e: e.abs().mean()), within_001=("within_001", "mean"),
        mean_se=("se", "mean"), bound_se=("bound_se", "mean"), best_possible_within_001=("best_within", "mean"),
        coverage=("covered", "mean"), naive_error=("naive_error", "mean"),
        seconds=("seconds", "mean")).reset_index().assign(se_over_bound=lambda d: d["mean_se"] / d["bound_se"])


def recommendation_quality(frame: pd.DataFrame, tau: pd.DataFrame, model: Any) -> dict[str, float]:
    """Agreement with the truly best service, share of the best gain, and the one-size-fits-all policy."""
    arms = ["none", *model.arms]
    true = np.column_stack([np.zeros(len(frame))] + [tau[f"tau_{a}"].to_numpy() for a in model.arms])
    chosen = np.array([arms.index(b) for b in model.best(frame)])
    got = true[np.arange(len(frame)), chosen]
    best = true.max(axis=1)
    single = model.policy_report(frame)["one_size_fits_all"]["service"]
    single_gain = float(true[:, arms.index(single)].mean())
    return {"n": len(frame), "agreement": float(np.mean(got >= best - 1e-9)), "gain": float(got.mean()),
            "best_gain": float(best.mean()), "share_of_best_gain": float(got.mean() / best.mean()),
            "one_size_fits_all": single, "one_size_fits_all_gain": single_gain,
            "best_single_service_gain": float(true[:, 1:].mean(axis=0).max())}


def _child_cpu() -> float:
    """CPU seconds (user + system) used by finished child processes: the figure that does not
    depend on how busy the shared machine is (the effect run is single-threaded)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timing(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(args.keep or tempfile.mkdtemp())
    root.mkdir(parents=True, exist_ok=True)
    db, _ = _city(args.residents, args.seed, root)
    frame = _frame(db)
    exe = Path(sys.executable).with_name("ennakoiva")
    env = os.environ | {"ENNAKOIVA_DB_URL": f"sqlite:///{root / 'store.sqlite3'}",
                        "ENNAKOIVA_AUDIT_KEY_FILE": str(root / "audit.key"),
                        "ENNAKOIVA_AUDIT_CHECKPOINT_FILE": str(root / "checkpoints.jsonl")}
    out: dict[str, Any] = {"residents": args.residents, "job_seekers": len(frame)}
    started, cpu = time.perf_counter(), _child_cpu()
    run = subprocess.run([str(exe), "analyze", "effect", "--db", str(db), "--service", "coaching", "--json"],
                         capture_output=True, text=True, env=env, check=True)
    out["effect_db_seconds"] = time.perf_counter() - started
    out["effect_db_cpu_seconds"] = _child_cpu() - cpu
    out["effect_db_compared"] = json.loads(run.stdout)["n"]
    data = frame.head(100_000).assign(any_service=(frame["service"] != "none").astype(int))
    cols = ["any_service", "employed_within_6m", "age_at_start", "education_level", "finnish_skill",
            "swedish_skill", "work_history_years", "months_unemployed_before", "area_unemployment"]
    path = root / "jobseekers.parquet"
    data[cols].to_parquet(path)
    started, cpu = time.perf_counter(), _child_cpu()
    run = subprocess.run([str(exe), "analyze", "effect", "--data", str(path), "--treatment", "any_service",
                          "--outcome", "employed_within_6m", "--json"], capture_output=True, text=True, env=env,
                         check=True)
    out["effect_file_rows"] = json.loads(run.stdout)["n"]
    out["effect_file_seconds"] = time.perf_counter() - started
    out["effect_file_cpu_seconds"] = _child_cpu() - cpu
    out["load_average_1min"] = os.getloadavg()[0]
    started = time.perf_counter()
    model = fit_service_effects(frame)
    out["recommend_fit_seconds"] = time.perf_counter() - started
    save_model(model, root / "model.joblib")
    out["model_bytes"] = (root / "model.joblib").stat().st_size
    loaded = load_model(root / "model.joblib")
    people = frame.sample(1000, random_state=0)
    for label, rows in (("record", [people.iloc[i].to_dict() for i in range(len(people))]),
                        ("dataframe_row", [people.iloc[[i]] for i in range(len(people))])):
        times = []
        for row in rows:
            t0 = time.perf_counter()
            loaded.recommend(row)
            times.append((time.perf_counter() - t0) * 1000)
        out[f"recommend_{label}_ms_p50"] = float(np.percentile(times, 50))
        out[f"recommend_{label}_ms_p95"] = float(np.percentile(times, 95))
        out[f"recommend_{label}_ms_max"] = float(np.max(times))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["timing", "coverage", "recommend"])
    ap.add_argument("--residents", type=int, default=None)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--estimands", default="ate,att")
    ap.add_argument("--n-rep", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--keep", default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.mode == "timing":
        args.residents = args.residents or 400_000
        print(json.dumps(_timing(args), indent=2))
    elif args.mode == "coverage":
        raw = coverage_run(args.residents or 100_000, list(range(args.first_seed, args.first_seed + args.seeds)),
                           args.estimands.split(","), args.workers, args.n_rep)
        if args.out:
            raw.to_csv(args.out, index=False)
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(coverage_summary(raw).round(4).to_string(index=False))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            db, truth = _city(args.residents or 300_000, args.seed, Path(tmp))
            frame = _frame(db)
            tau = truth_effects(frame, truth)
        model = fit_service_effects(frame)
        print(json.dumps(recommendation_quality(frame, tau, model), indent=2))


if __name__ == "__main__":
    main()
