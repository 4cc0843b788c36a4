"""Readable clusters: recovered from planted effect groups, stable across retrains, described in three languages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ennakoiva.adapters.ml.clusters import STABILITY_THRESHOLD, encode_features, fit_clusters, stability

SERVICES = ("language_course", "coaching")
CEFR = ("none", "A1", "A2", "B1", "B2", "C1", "C2", "native")
EDU = ("basic", "upper_secondary", "tertiary_lower", "tertiary_higher")


@pytest.fixture(scope="module")
def people() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    n = 4000
    frame = pd.DataFrame({
        "age": rng.integers(18, 64, n), "education_level": rng.choice(EDU, n),
        "finnish_skill": rng.choice(CEFR, n, p=[0.05, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.45]),
        "work_history_years": rng.uniform(0, 10, n).round(1), "months_unemployed_before": rng.integers(0, 37, n)})
    fin = frame["finnish_skill"].map(CEFR.index).to_numpy()
    # planted: language course helps weak Finnish (A2 or below), coaching helps the under-30s
    effects = np.column_stack([np.where(fin <= 2, 0.2, 0.02), np.where(frame["age"] < 30, 0.1, 0.0)])
    effects = effects + rng.normal(0, 0.01, effects.shape)
    p0 = 0.5 - 0.05 * (fin <= 2) + rng.normal(0, 0.01, n)
    return frame, effects, p0


def test_clusters_follow_the_planted_groups_and_read_as_words(people: tuple[pd.DataFrame, np.ndarray, np.ndarray]
                                                              ) -> None:
    frame, effects, p0 = people
    model = fit_clusters(frame, effects, p0, SERVICES, depth=2)
    x = encode_features(frame)
    labels = model.assign(x)
    weak, young = x[:, 2] <= 2, x[:, 0] < 30
    # every cluster is pure in the two planted conditions
    for k in range(model.n_clusters):
        m = labels == k
        assert weak[m].all() or (~weak[m]).all()
        assert young[m].all() or (~young[m]).all()
    names = " / ".join(c["names"]["en"] for c in model.clusters)
    assert "Finnish A2 or below" in names and "under 30" in names.lower()
    for c in model.clusters:
        assert set(c["names"]) == set(c["profile"]) == {"fi", "sv", "en"}
        effects_listed = [m["effect"] for m in c["effective_measures"]]
        assert effects_listed == sorted(effects_listed, reverse=True)
    weak_cluster = model.clusters[int(labels[np.flatnonzero(weak & ~young)[0]])]
    assert weak_cluster["effective_measures"][0]["service"] == "language_course"
    assert {r["id"] for r in weak_cluster["risks"]} == {"not_employed_6m", "long_unemployment_history",
                                                        "weak_finnish"}
    assert pytest.approx(sum(c["size_share"] for c in model.clusters), abs=1e-3) == 1.0


def test_one_registration_is_assigned_like_the_batch(people: tuple[pd.DataFrame, np.ndarray, np.ndarray]) -> None:
    frame, effects, p0 = people
    model = fit_clusters(frame, effects, p0, SERVICES)
    x = encode_features(frame)
    batch = model.assign(x)
    assert all(model.assign_one(x[i].tolist()) == batch[i] for i in range(0, len(x), 37))


def test_stability_is_high_for_real_structure_and_low_for_noise(
        people: tuple[pd.DataFrame, np.ndarray, np.ndarray]) -> None:
    frame, effects, p0 = people
    real = stability(frame, effects, p0, SERVICES, retrains=4)
    assert real.stable and real.mean >= STABILITY_THRESHOLD, real.as_dict()
    rng = np.random.default_rng(0)
    noise_effects, noise_p0 = rng.normal(0, 1, effects.shape), rng.normal(0, 1, len(p0))
    # the known-bad configuration: splits however little they explain -> segments of noise, unstable
    bad = stability(frame, noise_effects, noise_p0, SERVICES, retrains=4, min_gain=0.0)
    assert not bad.stable, bad.as_dict()
    # the default refuses splits that explain nothing: noise gives one cluster, not a fake segmentation
    assert fit_clusters(frame, noise_effects, noise_p0, SERVICES).n_clusters == 1


def test_bad_inputs_are_refused(people: tuple[pd.DataFrame, np.ndarray, np.ndarray]) -> None:
    frame, effects, p0 = people
    with pytest.raises(ValueError, match="effects must be"):
        fit_clusters(frame, effects[:, :1], p0, SERVICES)
    with pytest.raises(ValueError, match="registry's codes"):
        encode_features(frame.assign(finnish_skill="fluent"))


def test_a_linear_models_cluster_interval_is_the_exact_interval_of_the_average(
        people: tuple[pd.DataFrame, np.ndarray, np.ndarray]) -> None:
    """With the design given, each measure's interval is mean ± 1.96·√(φ̄ᵀΣφ̄), narrower than the
    average of pointwise intervals, and centred on the same average effect."""
    frame, effects, p0 = people
    rng = np.random.default_rng(1)
    phi = np.column_stack([np.ones(len(frame)), rng.integers(0, 2, (len(frame), 2))]).astype(float)
    cov = np.stack([np.diag([1e-4, 4e-4, 4e-4])] * len(SERVICES))
    se_point = np.sqrt(np.einsum("ij,kjl,il->ik", phi, cov, phi))
    low, high = effects - 1.96 * se_point, effects + 1.96 * se_point
    exact = fit_clusters(frame, effects, p0, SERVICES, effects_low=low, effects_high=high, effect_design=(phi, cov))
    loose = fit_clusters(frame, effects, p0, SERVICES, effects_low=low, effects_high=high)
    labels = exact.assign(encode_features(frame))
    for k, (a, b) in enumerate(zip(exact.clusters, loose.clusters, strict=True)):
        phi_bar = phi[labels == k].mean(axis=0)
        for ma, mb in zip(a["effective_measures"], b["effective_measures"], strict=True):
            j = SERVICES.index(ma["service"])
            se = float(np.sqrt(phi_bar @ cov[j] @ phi_bar))
            assert ma["effect"] == mb["effect"]
            assert abs((ma["effect_high"] - ma["effect_low"]) / 2 - 1.959964 * se) < 1e-3
            assert ma["effect_high"] - ma["effect_low"] < mb["effect_high"] - mb["effect_low"]
    with pytest.raises(ValueError, match="effect_design"):
        fit_clusters(frame, effects, p0, SERVICES, effect_design=(phi[:10], cov))
