"""Employment service 2.0's quality against the planted truth, per cluster, at a chosen city size.

    .venv/bin/python benchmarks/bench_employment_quality.py [--residents 300000] [--seed 11] [--keep DIR]

Trains the model exactly as ``ennakoiva model train`` does (``platform/employment_models.train_model``)
on the city's job seekers, then, against the truth file (read only here and in the tests):

- the share of job seekers whose top suggestion is the truly best service and the share of the
  best achievable gain it reaches (targets 0.80 and 0.90);
- per cluster: the Spearman correlation between the cluster's "effective measures" and the planted
  effects averaged over the cluster's job seekers (target 0.8), and why a low one is low: the
  smallest gap between two services' *true* effects in the cluster, the standard error of the
  cluster's average effects, and the correlation an unbiased estimate of exactly that precision
  reaches on average (Monte Carlo) — where the truth separates services by less than the
  estimate's noise, no estimator orders them reliably;
- the clusters' stability (adjusted Rand index between retrains).

The figures depend on the city's size (the number of job seekers the effects are learnt from): at
300 000 residents ~80 000 spells, at Helsinki's 650 000 ~175 000.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
from scipy.stats import spearmanr

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.engine.jobseeker_frame import jobseeker_frame
from ennakoiva.adapters.ml.clusters import encode_features
from ennakoiva.adapters.ml.frame import city_frame
from ennakoiva.adapters.ml.model_registry import ModelRegistry
from ennakoiva.platform.employment_models import TrainSettings, train_model
from ennakoiva.platform.synthesis import synthesise_city


def _expected_rho(true_mean: np.ndarray, se: np.ndarray, rng: np.random.Generator, draws: int = 4000) -> float:
    """The mean Spearman correlation with the truth of an unbiased estimate with these standard errors
    (independent across services): what estimates exactly as precise as ours reach on average."""
    sims = true_mean + rng.normal(size=(draws, len(true_mean))) * se
    return round(float(np.mean([spearmanr(s, true_mean).statistic for s in sims])), 3)


def quality(residents: int, seed: int, root: Path) -> dict[str, Any]:
    db, truth = root / "city.duckdb", root / "truth.duckdb"
    if not db.exists():
        synthesise_city(db, truth, residents=residents, seed=seed, threads=2)
    with DuckDBEngine(db, read_only=True) as engine:
        table = jobseeker_frame(engine)
    frame, all_spells = city_frame(table), city_frame(table, complete_only=False)
    registry = ModelRegistry(root / "models")
    started = time.perf_counter()
    version, card = train_model(frame, all_spells, registry, TrainSettings(n_boot=30, stability_retrains=5))
    train_seconds = time.perf_counter() - started
    model = registry.load(version)
    with duckdb.connect(str(truth), read_only=True) as con:
        t = con.sql("SELECT * FROM truth_employment_spell").df().set_index("spell_id").loc[frame["spell_id"]]
    services = list(model.services)
    true_eff = np.column_stack([t[f"p_employed_6m_under_{s}"].to_numpy() - t["p_employed_6m_no_service"].to_numpy()
                                for s in services])
    est = model.estimator(frame)
    arms = np.column_stack([np.zeros(len(frame)), est.effect])       # "none" first: suggested only if nothing helps
    truth_arms = np.column_stack([np.zeros(len(frame)), true_eff])
    got = truth_arms[np.arange(len(frame)), arms.argmax(axis=1)]
    best = truth_arms.max(axis=1)
    labels = model.clusters.assign(encode_features(frame))
    rng = np.random.default_rng(seed)
    clusters = []
    for k, c in enumerate(model.clusters.clusters):
        m = labels == k
        estimated = {x["service"]: x["effect"] for x in c["effective_measures"]}
        true_mean = true_eff[m].mean(axis=0)
        gaps = np.diff(np.sort(true_mean))
        # the SE of the cluster's average effect (exact for the linear recommender), per service
        se = np.array([next((x["effect_high"] - x["effect_low"]) / (2 * 1.959964)
                            for x in c["effective_measures"] if x["service"] == s) for s in services])
        clusters.append({"id": k, "name": c["names"]["en"], "n": int(m.sum()),
                         "rank_correlation": round(float(spearmanr([estimated[s] for s in services], true_mean)
                                                         .statistic), 3),
                         "estimated": {s: round(estimated[s], 3) for s in services},
                         "true": {s: round(float(v), 3) for s, v in zip(services, true_mean, strict=True)},
                         "smallest_true_gap": round(float(gaps.min()), 4),
                         "se_of_average": {s: round(float(v), 4) for s, v in zip(services, se, strict=True)},
                         "expected_rank_correlation_at_this_precision": _expected_rho(true_mean, se, rng)})
    rhos = [c["rank_correlation"] for c in clusters]
    top_right = [max(c["estimated"], key=c["estimated"].get) == max(c["true"], key=c["true"].get) for c in clusters]
    return {"residents": residents, "seed": seed, "spells": len(frame), "train_seconds": round(train_seconds, 1),
            "agreement": round(float(np.isclose(got, best).mean()), 4),
            "share_of_best_gain": round(float(got.sum() / best.sum()), 4),
            "cluster_rank_correlations": rhos, "clusters_at_least_0_8": f"{sum(r >= 0.8 for r in rhos)}/{len(rhos)}",
            "mean_rank_correlation": round(float(np.mean(rhos)), 3),
            "expected_rank_correlations_at_this_precision": [c["expected_rank_correlation_at_this_precision"]
                                                             for c in clusters],
            "clusters_whose_top_measure_is_truly_best": f"{sum(top_right)}/{len(top_right)}",
            "cluster_stability": card["metrics"]["cluster_stability"], "clusters": clusters}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--residents", type=int, default=300_000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--keep", type=Path, default=None, help="reuse or keep the city in this folder")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp())
    root.mkdir(parents=True, exist_ok=True)
    print(json.dumps(quality(args.residents, args.seed, root), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
