"""The issue's quality targets at city scale, against the planted truth (slow: fresh large cities).

- recommendations: the truly best service for ≥ 80 % of job seekers, ≥ 90 % of the best achievable
  gain, better than the one-size-fits-all policy (a 300 000-resident city, ~80 000 spells);
- prediction: AUC ≥ 0.97 × the true probabilities' AUC, calibration error ≤ 0.02 (same city);
- simulation: every planted average effect (ATE and ATT of each service against none) recovered
  over 20 seeds of a 100 000-resident city: 95 % intervals cover the truth in ≥ 85 % of seeds, the
  mean error across seeds within ±0.01, and the naive difference biased on the same data;
- precision: on one 100 000-resident city every estimate's standard error is close to the
  semiparametric efficiency bound (the least *any* estimator can have on that data, computed from the
  generator's true probabilities: ``adapters/synth/employment_bound.py``) and its error within three
  bound standard errors. A single city's estimate cannot always be within ±0.01: the bound there is
  0.009–0.017, so no estimator is within ±0.01 in more than 45–72 % of such cities (the ±0.01 holds
  for the mean over seeds above, and per city once the bound is below ~0.004, i.e. several hundred
  thousand job seekers) — benchmarks/bench_analyze.py coverage reports both.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.engine.jobseeker_frame import jobseeker_frame
from ennakoiva.adapters.ml.effect import EffectSettings
from ennakoiva.adapters.ml.frame import CITY_COVARIATES, SERVICES, city_frame
from ennakoiva.adapters.ml.predict import fit_prediction
from ennakoiva.adapters.ml.recommend import fit_service_effects
from ennakoiva.adapters.synth.employment_bound import efficiency_bounds
from ennakoiva.platform.analysis import city_effect
from ennakoiva.platform.synthesis import synthesise_city

pytestmark = pytest.mark.slow


def _city(root: Path, residents: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The analysis frame and, row-aligned, the true effects (read here, in the test, never by the code).

    ``tau.attrs["bounds"]`` holds the efficiency bound of every (service, estimand) on this data.
    """
    db, truth = root / f"city{seed}.duckdb", root / f"truth{seed}.duckdb"
    synthesise_city(db, truth, residents=residents, seed=seed, threads=2)
    with DuckDBEngine(db, read_only=True) as engine:
        frame = city_frame(jobseeker_frame(engine))
    with duckdb.connect(str(truth), read_only=True) as con:
        t = con.sql("SELECT * FROM truth_employment_spell").df().set_index("spell_id").loc[frame["spell_id"]]
    tau = pd.DataFrame({f"tau_{s}": (t[f"p_employed_6m_under_{s}"] - t["p_employed_6m_no_service"]).to_numpy()
                        for s in SERVICES})
    p_real = t["p_employed_6m_no_service"].to_numpy().copy()
    for s in SERVICES:
        got = (t["received_service"] == s).to_numpy()
        p_real[got] = t[f"p_employed_6m_under_{s}"].to_numpy()[got]
    tau["p_real"] = p_real
    tau.attrs["bounds"] = {(b.service, b.estimand): b for b in efficiency_bounds(frame, t.reset_index())}
    for d in (db, truth):
        d.unlink()
    return frame, tau


@pytest.fixture(scope="module")
def big_city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    yield _city(tmp_path_factory.mktemp("big"), 300_000, 2)


def test_recommendations_pick_the_best_service(big_city: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    frame, tau = big_city
    model = fit_service_effects(frame)
    arms = ["none", *model.arms]
    true = np.column_stack([np.zeros(len(frame))] + [tau[f"tau_{a}"].to_numpy() for a in model.arms])
    chosen = np.array([arms.index(b) for b in model.best(frame)])
    got, best = true[np.arange(len(frame)), chosen], true.max(axis=1)
    agreement, share = float(np.mean(got >= best - 1e-9)), float(got.mean() / best.mean())
    single = model.policy_report(frame)["one_size_fits_all"]["service"]
    assert agreement >= 0.80, agreement
    assert share >= 0.90, share
    assert got.mean() > true[:, arms.index(single)].mean()


def test_prediction_discriminates_and_is_calibrated(big_city: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    frame, tau = big_city
    _, report = fit_prediction(frame, "employed_within_6m", [*CITY_COVARIATES, "service"], n_boot=50)
    holdout = np.random.default_rng(0).permutation(len(frame))[int(0.8 * len(frame)):]
    true_auc = roc_auc_score(frame["employed_within_6m"].to_numpy()[holdout], tau["p_real"].to_numpy()[holdout])
    assert report["metrics"]["auc"] >= 0.97 * true_auc, (report["metrics"]["auc"], true_auc)
    assert report["metrics"]["calibration_error"] <= 0.02


@pytest.mark.heavy  # 20 cities of 100 000 residents: ~30 min on 2 cores, run by `make test-heavy`
def test_planted_average_effects_over_twenty_seeds(tmp_path: Path) -> None:
    rows = []
    for seed in range(1, 21):
        frame, tau = _city(tmp_path, 100_000, seed)
        for service in SERVICES:
            keep = frame["service"].isin([service, "none"]).to_numpy()
            treated = (frame["service"] == service).to_numpy()[keep]
            effects = tau[f"tau_{service}"].to_numpy()[keep]
            for estimand in ("ate", "att"):
                truth = float(effects.mean() if estimand == "ate" else effects[treated].mean())
                res = city_effect(frame, service, estimand, None, EffectSettings(n_rep=1, placebo=False, seed=seed))
                assert res["refused"] is None, res["refused"]
                rows.append({"service": service, "estimand": estimand, "truth": truth, "est": res["estimate"],
                             "covered": res["ci_low"] <= truth <= res["ci_high"],
                             "naive": res["naive_difference"]["estimate"]})
    df = pd.DataFrame(rows)
    df = df.assign(err=df["est"] - df["truth"], naive_err=df["naive"] - df["truth"])
    by = df.groupby(["service", "estimand"])
    assert (by["covered"].mean() >= 0.85).all(), by["covered"].mean()
    assert (by["err"].mean().abs() <= 0.01).all(), by["err"].mean()
    # the naive difference is biased on the same data: its systematic error (mean over seeds) is
    # several times the adjusted estimate's, and large for the services assigned on outcome risk
    naive_bias, bias = by["naive_err"].mean().abs(), by["err"].mean().abs()
    assert naive_bias.mean() > 3 * bias.mean(), (naive_bias, bias)
    assert naive_bias.max() > 0.03


def test_every_effect_is_as_precise_as_the_data_allows(tmp_path: Path) -> None:
    """Standard error within 40 % of the efficiency bound, error within three bound SEs, naive outside."""
    frame, tau = _city(tmp_path, 100_000, 7)
    bounds = tau.attrs["bounds"]
    rows = []
    for service in SERVICES:
        keep = frame["service"].isin([service, "none"]).to_numpy()
        treated = (frame["service"] == service).to_numpy()[keep]
        effects = tau[f"tau_{service}"].to_numpy()[keep]
        for estimand in ("ate", "att"):
            truth = float(effects.mean() if estimand == "ate" else effects[treated].mean())
            res = city_effect(frame, service, estimand, None, EffectSettings(n_rep=1, placebo=False, seed=7))
            bound = bounds[(service, estimand)]
            rows.append((service, estimand, res["se"] / bound.se, (res["estimate"] - truth) / bound.se))
    ratios = np.array([r[2] for r in rows])
    z = np.array([r[3] for r in rows])
    # efficient: the estimator's own SE is near the bound (not below it by much: it is a bound)
    assert (ratios <= 1.4).all() and (ratios >= 0.8).all(), rows
    # and honest: its errors are the size the bound says (10 estimates, 3-sigma each)
    assert (np.abs(z) <= 3).all(), rows
    assert float(np.sqrt(np.mean(z**2))) <= 1.6, rows
