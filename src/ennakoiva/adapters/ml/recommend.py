"""Rung 7, recommendation: which service would most raise *this* person's chance of employment.

Method (a documented alternative to a causal forest): EconML's multi-arm **LinearDML** — double
machine learning (the R-learner: employment and the service received are both predicted from the
background by cross-fitted LightGBM models, and the residuals of one are regressed on the residuals
of the other) with a final stage linear in **readable profile features** (CEFR level groups,
education, the youth-guarantee and older-job-seeker age bands, the 12-month long-term-unemployment
line, work history). Beside it, EconML's **LinearDRLearner** (doubly robust scores) gives the
cross-fitted value of the whole policy (:func:`_cross_fitted_policy`); ``method="dr"`` makes the
per-person effects its too.

Why DML for the per-person effects: the doubly robust scores divide by the probability of the
service received, so a profile counsellors rarely give a service weighs heavily and its noise
spreads through the linear final stage; the R-learner weighs people by how uncertain their
assignment was instead. On the synthetic city (best service picked / share of the best gain):
20 000 residents DR 64 % / 63 %, DML 63 % / 80 %; 100 000 (two seeds) DR 49–85 % / 83–93 %, DML
61–97 % / 88–99 %; 300 000 (two seeds) DR 93 % / 96–99 %, DML 92–99 % / 98–100 %; 650 000 DR 98.2 % /
99.5 %, DML 98.9 % / 99.8 %. Both are consistent when the effect is linear in the profile.

- a counsellor can read it: every estimate is "average effect for people like this" plus the
  features that raise or lower it, which is what the explanation shows;
- every per-person effect has an honest interval from the final stage's covariance;
- it is fast: after fitting, the model is a few small matrices (:class:`ServiceEffectModel`), so
  one recommendation is microseconds and the pickle is kilobytes — Employment service 2.0 serves
  it at hundreds of requests a second. A CausalForestDML took tens of seconds per fit and 40–110 ms
  per person on two cores (reference §8.1), too slow for the tests and the service.

The limit: effects are additive in the profile features; an interaction the features cannot
express (e.g. a service helping only young *and* weak-Finnish people) is averaged.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from econml.dml import LinearDML
from econml.dr import LinearDRLearner
from scipy import stats

from ennakoiva.adapters.ml.frame import CEFR, CITY_COVARIATES, EDUCATION, design_matrix
from ennakoiva.adapters.ml.learners import classifier

__all__ = ["MIN_PROPENSITY", "PROFILES", "PROFILE_FEATURES", "SERVICE_WORDS", "STANDARD_FEATURES", "ServiceEffectModel",
           "fit_service_effects", "load_model", "profile_features", "save_model"]

_Z = float(stats.norm.ppf(0.975))

SERVICE_WORDS = {"none": "no service", "language_course": "Finnish language course",
                 "vocational_training": "vocational training", "coaching": "job-search coaching",
                 "wage_subsidy": "pay subsidy", "recruitment_event": "recruitment event"}

# (feature name, words for a counsellor, rule over one background row)
PROFILE_FEATURES: tuple[tuple[str, str], ...] = (
    ("finnish_weak", "weak Finnish (A2 or below)"), ("finnish_b1", "Finnish at B1"),
    ("finnish_b2", "Finnish at B2"), ("finnish_c", "Finnish at C1-C2 (not native)"),
    ("education_basic", "basic education only"), ("education_tertiary_lower", "lower tertiary degree"),
    ("education_tertiary_higher", "higher tertiary degree"),
    ("age_under_25", "under 25"), ("age_25_29", "aged 25-29"), ("age_50_54", "aged 50-54"), ("age_55", "aged 55+"),
    ("unemployed_6_11", "6-11 months unemployed in the last 3 years"),
    ("unemployed_12", "12+ months unemployed in the last 3 years (long-term)"),
    ("work_under_2", "under 2 years of work history"), ("work_10", "10+ years of work history"),
    ("female", "woman"),
)
# The standard profile: the policy categories Finnish employment services use — CEFR basic user
# (A2 or below) and B1 against B2 or better, basic / secondary / tertiary education, the youth
# guarantee (under 30) and older job seekers (50+), long-term unemployment (12+ months) and a thin
# work history. Fewer terms give steadier per-person effects than the detailed profile.
STANDARD_FEATURES: tuple[tuple[str, str], ...] = (
    ("finnish_weak", "weak Finnish (A2 or below)"), ("finnish_b1", "Finnish at B1"),
    ("education_basic", "basic education only"), ("education_tertiary", "tertiary degree"),
    ("age_under_30", "under 30"), ("age_50", "aged 50+"),
    ("unemployed_12", "12+ months unemployed in the last 3 years (long-term)"),
    ("work_under_2", "under 2 years of work history"),
)
PROFILES = {"standard": STANDARD_FEATURES, "detailed": PROFILE_FEATURES}
# The doubly robust pseudo-outcomes divide by the propensity of the service received; a profile that
# counsellors almost never give a service (a propensity of 0.2 %) would weigh 500-fold and throw the
# linear final stage far outside [-1, 1] in a small city. Propensities are clipped at 1 % (EconML's
# ``min_propensity``; the same 1 % DoubleML trims at in ``analyze effect``). Measured on the synthetic
# city: at 20 000 residents (5 400 spells) the best service is picked for 64 % instead of 29 % of job
# seekers and no estimate exceeds ±52 pp (was ±287 pp); at 300 000 nothing changes (93.4 %, gain
# 96.3 %). Clipping harder (3-5 %) helps small cities more but biases the effects of services rarely
# given to a group, and the clusters' measures with them.
MIN_PROPENSITY = 0.01


def profile_features(df: pd.DataFrame, profile: str = "detailed") -> pd.DataFrame:
    """The 0/1 profile features the effect model speaks in, from background columns."""
    fin = df["finnish_skill"].map({v: i for i, v in enumerate(CEFR)}).to_numpy()
    edu = df["education_level"].map({v: i for i, v in enumerate(EDUCATION)}).to_numpy()
    if np.isnan(fin.astype(float)).any() or np.isnan(edu.astype(float)).any():
        raise ValueError(f"finnish_skill must be one of {CEFR} and education_level one of {EDUCATION}")
    age = df["age_at_start"].to_numpy(dtype=float)
    months = df["months_unemployed_before"].to_numpy(dtype=float)
    work = df["work_history_years"].to_numpy(dtype=float)
    sex = df["sex"].astype(str).str.upper().str[0] if "sex" in df else pd.Series("M", index=df.index)
    cols = {
        "finnish_weak": fin <= 2, "finnish_b1": fin == 3, "finnish_b2": fin == 4, "finnish_c": (fin == 5) | (fin == 6),
        "education_basic": edu == 0, "education_tertiary_lower": edu == 2, "education_tertiary_higher": edu == 3,
        "age_under_25": age < 25, "age_25_29": (age >= 25) & (age < 30), "age_50_54": (age >= 50) & (age < 55),
        "age_55": age >= 55, "unemployed_6_11": (months >= 6) & (months < 12), "unemployed_12": months >= 12,
        "work_under_2": work < 2, "work_10": work >= 10, "female": (sex == "F").to_numpy(),
        "education_tertiary": edu >= 2, "age_under_30": age < 30, "age_50": age >= 50,
    }
    names = [name for name, _ in PROFILES[profile]]
    return pd.DataFrame({k: np.asarray(cols[k], dtype=float) for k in names}, index=df.index)


_CEFR_RANK = {v: i for i, v in enumerate(CEFR)}
_EDU_RANK = {v: i for i, v in enumerate(EDUCATION)}


def _profile_row(person: Mapping[str, Any]) -> dict[str, float]:
    """:func:`profile_features` for one mapping, without pandas (the serving path)."""
    try:
        fin, edu = _CEFR_RANK[person["finnish_skill"]], _EDU_RANK[person["education_level"]]
        age, months = float(person["age_at_start"]), float(person["months_unemployed_before"])
        work = float(person["work_history_years"])
    except KeyError as exc:
        raise ValueError(f"the background lacks or misstates {exc}: finnish_skill one of {CEFR}, education_level "
                         f"one of {EDUCATION}, age_at_start, months_unemployed_before, work_history_years") from None
    female = str(person.get("sex", "")).upper().startswith("F")
    row = {
        "finnish_weak": fin <= 2, "finnish_b1": fin == 3, "finnish_b2": fin == 4, "finnish_c": fin in (5, 6),
        "education_basic": edu == 0, "education_tertiary_lower": edu == 2, "education_tertiary_higher": edu == 3,
        "age_under_25": age < 25, "age_25_29": 25 <= age < 30, "age_50_54": 50 <= age < 55, "age_55": age >= 55,
        "unemployed_6_11": 6 <= months < 12, "unemployed_12": months >= 12, "work_under_2": work < 2,
        "work_10": work >= 10, "female": female, "education_tertiary": edu >= 2, "age_under_30": age < 30,
        "age_50": age >= 50,
    }
    return {k: float(v) for k, v in row.items()}


@dataclass
class ServiceEffectModel:
    """A fitted per-person effect model: per arm, final-stage coefficients and their covariance."""

    arms: list[str]                          # services compared with "none"
    features: list[str]                      # profile features (the final stage's regressors)
    coef: np.ndarray                         # (arms, 1 + features): intercept first
    cov: np.ndarray                          # (arms, 1 + features, 1 + features)
    average: dict[str, dict[str, float]]     # per arm: average effect over the training people (+ CI)
    n_train: int
    data_window: dict[str, str] = field(default_factory=dict)
    profile: str = "standard"
    # the personalised and the one-size-fits-all policy's gain, cross-fitted on the training people
    # (:func:`_cross_fitted_policy`); empty for models saved before it was kept
    policy_value: dict[str, Any] = field(default_factory=dict)
    method: str = "dr"                       # the learner of coef/cov: "dml" or "dr" (models saved before: dr)
    words: dict[str, str] = field(default_factory=lambda: dict(PROFILE_FEATURES + STANDARD_FEATURES))

    def _phi(self, profile: pd.DataFrame) -> np.ndarray:
        return np.column_stack([np.ones(len(profile)), profile[self.features].to_numpy(dtype=float)])

    def effects(self, people: pd.DataFrame) -> dict[str, np.ndarray]:
        """Per arm: (point, low, high) arrays of the effect on P(employed within 6 months)."""
        phi = self._phi(profile_features(people, self.profile))
        out = {}
        for k, arm in enumerate(self.arms):
            point = phi @ self.coef[k]
            se = np.sqrt(np.einsum("ij,jk,ik->i", phi, self.cov[k], phi))
            out[arm] = np.stack([point, point - _Z * se, point + _Z * se])
        return out

    def best(self, people: pd.DataFrame) -> np.ndarray:
        """The recommended arm per person: highest estimated effect, 'none' if no effect is positive."""
        eff = self.effects(people)
        points = np.column_stack([np.zeros(len(people))] + [eff[a][0] for a in self.arms])
        return np.array(["none", *self.arms], dtype=object)[points.argmax(axis=1)]

    def recommend(self, person: Mapping[str, Any] | pd.DataFrame) -> list[dict[str, Any]]:
        """One person's services ranked by estimated effect, each with interval and reason in words.

        A mapping (one registration) takes a pure-Python path: no DataFrame is built, so one
        answer costs well under a millisecond.
        """
        if isinstance(person, pd.DataFrame):
            phi = self._phi(profile_features(person.iloc[[0]], self.profile))[0]
        else:
            values = _profile_row(person)
            phi = np.array([1.0, *(values[f] for f in self.features)])
        active = [f for i, f in enumerate(self.features) if phi[1 + i] > 0]
        points = self.coef @ phi
        ses = np.sqrt(np.einsum("j,kjl,l->k", phi, self.cov, phi))
        ranked = []
        for k, arm in enumerate(self.arms):
            point, low, high = float(points[k]), float(points[k] - _Z * ses[k]), float(points[k] + _Z * ses[k])
            contrib = {f: float(self.coef[k][1 + self.features.index(f)]) for f in active}
            ranked.append({"service": arm, "name": SERVICE_WORDS.get(arm, arm), "effect": point, "ci_low": low,
                           "ci_high": high, "uncertain": bool(low <= 0.0 <= high), "drivers": contrib,
                           "reason": self._reason(arm, point, low, high, contrib)})
        ranked.sort(key=lambda r: -r["effect"])
        return ranked

    def _reason(self, arm: str, point: float, low: float, high: float, contrib: dict[str, float]) -> str:
        pp = f"{point * 100:+.0f} pp ({low * 100:.0f} to {high * 100:.0f})"
        ups = [self.words.get(f, f) for f, c in sorted(contrib.items(), key=lambda kv: -kv[1]) if c >= 0.01][:3]
        downs = [self.words.get(f, f) for f, c in sorted(contrib.items(), key=lambda kv: kv[1]) if c <= -0.01][:2]
        why = []
        if ups:
            why.append("helps more: " + ", ".join(ups))
        if downs:
            why.append("helps less: " + ", ".join(downs))
        if not why:
            why.append("about the average effect for people like this")
        return f"{SERVICE_WORDS.get(arm, arm)}: {pp} — " + "; ".join(why)

    def policy_report(self, people: pd.DataFrame) -> dict[str, Any]:
        """Who would get what, the estimated gain, and the one-size-fits-all policy beside it."""
        eff = self.effects(people)
        best = self.best(people)
        points = {a: eff[a][0] for a in self.arms}
        personal = np.where(best == "none", 0.0, np.array([points[b][i] if b != "none" else 0.0
                                                           for i, b in enumerate(best)]))
        single = max(self.arms, key=lambda a: self.average[a]["estimate"])
        return {"n": len(people),
                "recommended_share": {a: float((best == a).mean()) for a in ["none", *self.arms]},
                # in-sample: the mean of each person's highest estimate, optimistic (the largest of
                # noisy estimates is biased upwards); "cross_fitted" below is the honest figure
                "personal_policy_gain": float(personal.mean()),
                "one_size_fits_all": {"service": single, "estimated_gain": float(points[single].mean()),
                                      "average_effect": self.average[single]},
                "cross_fitted": getattr(self, "policy_value", {}),
                "average_effects": self.average}


def fit_service_effects(frame: pd.DataFrame, *, service_col: str = "service", outcome: str = "employed_within_6m",
                        controls: Sequence[str] = CITY_COVARIATES, profile: str = "standard", cv: int = 3,
                        seed: int = 0, threads: int = 1, min_propensity: float = MIN_PROPENSITY,
                        method: str = "dml") -> ServiceEffectModel:
    """Fit the multi-arm effect model on job seekers (one row per spell, ``service`` 'none' if none)."""
    if method not in ("dml", "dr"):
        raise ValueError(f"unknown method {method!r}: use dml or dr")
    arms = sorted(set(frame[service_col]) - {"none"})
    if not arms or "none" not in set(frame[service_col]):
        raise ValueError("need people with no service and with at least one service")
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: use {' or '.join(PROFILES)}")
    prof = profile_features(frame, profile)
    w = design_matrix(frame, [c for c in controls if c in frame.columns])
    y = frame[outcome].to_numpy(dtype=int)
    t = frame[service_col].to_numpy(dtype=object)
    est = LinearDRLearner(model_propensity=classifier(seed=seed, threads=threads),
                          model_regression=classifier(seed=seed + 1, threads=threads), discrete_outcome=True,
                          categories=["none", *arms], cv=cv, random_state=seed, min_propensity=min_propensity)
    with warnings.catch_warnings():
        # sklearn's DataConversionWarning about column vectors inside EconML's nuisance fits, and
        # LightGBM's feature-name notice on numpy input: both harmless here.
        warnings.filterwarnings("ignore", message="A column-vector y was passed")
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        est.fit(y, t, X=prof.to_numpy(), W=w.to_numpy(), cache_values=True)
    phi = np.column_stack([np.ones(len(frame)), prof.to_numpy(dtype=float)])
    # EconML keeps the cross-fitted doubly robust scores of every arm (value under "none" first)
    dr = np.asarray(est._cached_values.nuisances[0]).reshape(len(frame), len(arms) + 1)
    scores = dr[:, 1:] - dr[:, [0]]
    if method == "dml":
        coef, cov, refit = _dml_effects(prof.to_numpy(), w.to_numpy(), y, t, arms, cv, seed, threads)
    else:
        finals = est.fitted_models_final
        coef = np.stack([np.r_[m.intercept_.ravel(), m.coef_.ravel()] for m in finals])
        # EconML keeps the final stage's parameter covariance (intercept first) only in _param_var
        cov = np.stack([np.asarray(m._param_var).reshape(len(coef[0]), len(coef[0])) for m in finals])

        def refit(train: np.ndarray) -> np.ndarray:      # the DR learner's final stage: OLS of the scores
            return np.asarray(np.linalg.lstsq(phi[train], scores[train], rcond=None)[0])
    phi_bar = np.r_[1.0, prof.to_numpy().mean(axis=0)]
    average = {}
    for k, arm in enumerate(arms):
        est_k, se_k = float(phi_bar @ coef[k]), float(np.sqrt(phi_bar @ cov[k] @ phi_bar))
        average[arm] = {"estimate": est_k, "ci_low": est_k - _Z * se_k, "ci_high": est_k + _Z * se_k}
    starts = frame.get("start_date")
    window = {} if starts is None else {"first_spell": str(starts.min()), "last_spell": str(starts.max())}
    policy = _cross_fitted_policy(phi, scores, arms, seed, refit)
    return ServiceEffectModel(arms=arms, features=list(prof.columns), coef=coef, cov=cov, average=average,
                              n_train=len(frame), data_window=window, profile=profile, policy_value=policy,
                              method=method)


def _dml_effects(x: np.ndarray, w: np.ndarray, y: np.ndarray, t: np.ndarray, arms: Sequence[str], cv: int,
                 seed: int, threads: int) -> tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """(coef, cov, refit) of EconML's multi-arm LinearDML, in the same layout as the DR learner's.

    Its final stage is one regression over all arms; the parameters come arm by arm, intercept
    first, so each arm's covariance is a diagonal block of the joint one (a test checks the
    intervals equal EconML's own ``effect_interval``). ``refit(train)`` redoes that final stage on
    the cached residuals of the people in ``train`` only: (features, arms) coefficients, for the
    cross-fitted policy value.
    """
    dml = LinearDML(model_y=classifier(seed=seed + 1, threads=threads), model_t=classifier(seed=seed, threads=threads),
                    discrete_outcome=True, discrete_treatment=True, categories=["none", *arms], cv=cv,
                    random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="A column-vector y was passed")
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        dml.fit(y, t, X=x, W=w, cache_values=True)
    p = x.shape[1] + 1
    coef = np.column_stack([np.ravel(dml.intercept_), np.asarray(dml.coef_).reshape(len(arms), p - 1)])
    joint = np.asarray(dml.model_final_._param_var).reshape(len(arms) * p, len(arms) * p)
    cov = np.stack([joint[k * p:(k + 1) * p, k * p:(k + 1) * p] for k in range(len(arms))])
    y_res, t_res = (np.asarray(v) for v in dml._cached_values.nuisances[:2])
    y_res, t_res = y_res.reshape(len(y)), t_res.reshape(len(y), len(arms))
    phi = np.column_stack([np.ones(len(x)), x])
    design = np.concatenate([t_res[:, [k]] * phi for k in range(len(arms))], axis=1)   # arm-major, as above

    def refit(train: np.ndarray) -> np.ndarray:
        beta = np.linalg.lstsq(design[train], y_res[train], rcond=None)[0]
        return np.asarray(beta.reshape(len(arms), p).T)

    return coef, cov, refit


def _interval(scores: np.ndarray) -> dict[str, float]:
    mean, se = float(scores.mean()), float(scores.std(ddof=1) / np.sqrt(max(len(scores), 1)))
    return {"estimate": mean, "ci_low": mean - _Z * se, "ci_high": mean + _Z * se}


def _cross_fitted_policy(phi: np.ndarray, scores: np.ndarray, arms: Sequence[str], seed: int,
                         refit: Callable[[np.ndarray], np.ndarray], folds: int = 5) -> dict[str, Any]:
    """The gain over no service of the personalised policy and of the best single service, out of sample.

    Why: the in-sample gain (the mean of everyone's highest estimate) is biased upwards — the largest
    of several noisy estimates is too large. Here the training people are split into folds; on each,
    the learner's final stage is refitted on the other folds (``refit``: least squares on their
    cached residuals or scores), the policy chooses for the held-out people, and its value
    is the mean of their doubly robust scores for the chosen service (0 for "none") — an unbiased
    estimate with a normal interval (Athey & Wager 2021, policy evaluation with DR scores). The
    one-size-fits-all policy gives everyone the service with the highest mean score on the other
    folds.
    """
    n = len(phi)
    fold = np.random.default_rng(seed).permutation(n) % folds
    personal, single = np.zeros(n), np.zeros(n)
    picked: list[str] = []
    for f in range(folds):
        train, test = fold != f, fold == f
        beta = refit(train)                                                        # (features, arms)
        choice = np.column_stack([np.zeros(int(test.sum())), phi[test] @ beta]).argmax(axis=1)
        held = np.column_stack([np.zeros(int(test.sum())), scores[test]])
        personal[test] = held[np.arange(len(held)), choice]
        means = scores[train].mean(axis=0)
        best = int(means.argmax())
        single[test] = scores[test][:, best] if means[best] > 0 else 0.0
        picked.append(arms[best] if means[best] > 0 else "none")
    return {"method": f"{folds}-fold cross-fitted policy value from doubly robust scores",
            "personal": _interval(personal),
            "one_size_fits_all": {"service": max(set(picked), key=picked.count), **_interval(single)},
            "difference": _interval(personal - single)}


def save_model(model: ServiceEffectModel, path: Path | str) -> Path:
    """Persist with joblib (a few kilobytes)."""
    joblib.dump(model, path)
    return Path(path)


def load_model(path: Path | str) -> ServiceEffectModel:
    """Load a model saved by :func:`save_model` (only load files you wrote: joblib runs pickle)."""
    model = joblib.load(path)
    if not isinstance(model, ServiceEffectModel):
        raise TypeError(f"{path} does not hold a service effect model")
    return model
