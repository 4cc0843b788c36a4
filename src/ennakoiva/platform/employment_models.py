"""The lifecycle of Employment service 2.0's model: train, evaluate, promote, list.

Training is a population read of the employment register under ``employment-service-recommendations``
(decided and logged first), then, on the spells whose 6-month outcome is observable:

- the analytics **predictor** (``adapters/ml/predict.py``) of P(employed within 6 months) on
  everyone — its holdout metrics and its **fairness report** by mother tongue, sex and age band
  (bootstrap intervals) go into the model card;
- the same predictor fitted on the spells *without* a service: P(employed within 6 months without a
  service), the baseline each suggestion's effect is added to;
- the analytics **recommender** (``adapters/ml/recommend.py``): per-person effect of each service
  with its interval;
- the **clusters** (``adapters/ml/clusters.py``) over the recommender's effects and the baseline,
  with their stability across retrains (adjusted Rand index on bootstrap resamples);
- the drift reference (per-feature bins of the training inputs) and the postal areas' labour-market
  indicator.

Mother tongue and sex are not model inputs. The rule that could change that is in the card: if the
fairness report shows a group whose calibration error is above ``HARM_CALIBRATION_ERROR`` with its
whole bootstrap interval, the baseline predictor is refitted with the attribute and kept only if it
lowers that group's error; the decision and the numbers are recorded either way.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.engine.jobseeker_frame import jobseeker_frame
from ennakoiva.adapters.ml.clusters import fit_clusters, stability
from ennakoiva.adapters.ml.frame import CITY_COVARIATES, ORDINALS, city_frame
from ennakoiva.adapters.ml.model_registry import ModelRegistry, drift_report, reference_profile
from ennakoiva.adapters.ml.predict import fit_prediction
from ennakoiva.adapters.ml.recommend import SERVICE_WORDS, ServiceEffectModel, fit_service_effects, profile_features
from ennakoiva.domain.consent.decision import Actor
from ennakoiva.domain.employment.registration import SERVICES
from ennakoiva.domain.employment.views import Texts
from ennakoiva.platform.access import AccessDeniedError, AccessGate
from ennakoiva.platform.employment_service import PURPOSE, EmploymentModel, Estimates
from ennakoiva.platform.operational import open_operational
from ennakoiva.platform.settings import Settings

__all__ = ["HARM_CALIBRATION_ERROR", "TRAINING_ACTOR", "AnalyticsEstimator", "TrainSettings", "ensure_promoted_model",
           "evaluate_model",
           "load_training_frame", "train_model"]

TRAINING_ACTOR = Actor(id="svc:employment-model-training", role="counsellor", service="employment-services")
HARM_CALIBRATION_ERROR = 0.05
_Z = float(norm.ppf(0.975))
DRIFT_NUMERIC = ["age_at_start", "work_history_years", "months_unemployed_before"]
DRIFT_CATEGORICAL = ["education_level", "finnish_skill", "swedish_skill"]

# The recommender's profile features in the three languages (its own words are English only).
FEATURE_WORDS: dict[str, Texts] = {
    "finnish_weak": {"fi": "heikko suomen kieli (A2 tai alle)", "sv": "svag finska (A2 eller lägre)",
                     "en": "weak Finnish (A2 or below)"},
    "finnish_b1": {"fi": "suomen kieli B1-tasolla", "sv": "finska på nivå B1", "en": "Finnish at B1"},
    "finnish_b2": {"fi": "suomen kieli B2-tasolla", "sv": "finska på nivå B2", "en": "Finnish at B2"},
    "finnish_c": {"fi": "suomen kieli C1–C2", "sv": "finska C1–C2", "en": "Finnish at C1-C2"},
    "education_basic": {"fi": "vain perusaste", "sv": "endast grundnivå", "en": "basic education only"},
    "education_tertiary": {"fi": "korkeakoulututkinto", "sv": "högskoleexamen", "en": "tertiary degree"},
    "education_tertiary_lower": {"fi": "alempi korkeakoulututkinto", "sv": "lägre högskoleexamen",
                                 "en": "lower tertiary degree"},
    "education_tertiary_higher": {"fi": "ylempi korkeakoulututkinto", "sv": "högre högskoleexamen",
                                  "en": "higher tertiary degree"},
    "age_under_30": {"fi": "alle 30-vuotias", "sv": "under 30 år", "en": "under 30"},
    "age_under_25": {"fi": "alle 25-vuotias", "sv": "under 25 år", "en": "under 25"},
    "age_25_29": {"fi": "25–29-vuotias", "sv": "25–29 år", "en": "aged 25-29"},
    "age_50": {"fi": "vähintään 50-vuotias", "sv": "50 år eller äldre", "en": "aged 50+"},
    "age_50_54": {"fi": "50–54-vuotias", "sv": "50–54 år", "en": "aged 50-54"},
    "age_55": {"fi": "vähintään 55-vuotias", "sv": "55 år eller äldre", "en": "aged 55+"},
    "unemployed_6_11": {"fi": "työttömänä 6–11 kk viim. 3 v", "sv": "arbetslös 6–11 mån de senaste 3 åren",
                        "en": "6-11 months unemployed in the last 3 years"},
    "unemployed_12": {"fi": "pitkäaikaistyötön (12+ kk viim. 3 v)",
                      "sv": "långtidsarbetslös (12+ mån de senaste 3 åren)",
                      "en": "long-term unemployed (12+ months in the last 3 years)"},
    "work_under_2": {"fi": "työkokemusta alle 2 v", "sv": "under 2 års arbetserfarenhet",
                     "en": "under 2 years of work history"},
    "work_10": {"fi": "työkokemusta 10+ v", "sv": "10+ års arbetserfarenhet", "en": "10+ years of work history"},
    "female": {"fi": "nainen", "sv": "kvinna", "en": "woman"},
}
_HELPS_MORE = {"fi": "Auttaa enemmän, koska", "sv": "Hjälper mer eftersom", "en": "Helps more because of"}
_HELPS_LESS = {"fi": "auttaa vähemmän, koska", "sv": "hjälper mindre eftersom", "en": "helps less because of"}
_AVERAGE = {"fi": "Vaikutus on samankaltaisten ihmisten keskimääräinen.",
            "sv": "Effekten är genomsnittet för liknande personer.",
            "en": "About the average effect for people like this."}


@dataclass
class AnalyticsEstimator:
    """frame -> Estimates from the analytics recommender and the no-service predictor (picklable)."""

    services: tuple[str, ...]
    effects_model: ServiceEffectModel
    baseline: Any                      # PredictionModel fitted on spells without a service

    def __call__(self, frame: pd.DataFrame) -> Estimates:
        m = self.effects_model
        missing = [s for s in self.services if s not in m.arms]
        if missing:
            raise ValueError(f"the recommender has no estimate for {', '.join(missing)}")
        # the recommender's ServiceEffectModel.effects, computed from one profile for effects and
        # drivers alike (profile_features is most of the cost on a few rows; a test keeps them equal)
        prof = profile_features(frame, m.profile)
        phi, cov = self._design(prof)
        arms = [m.arms.index(s) for s in self.services]
        point = phi @ np.asarray(m.coef)[arms].T
        se = np.sqrt(np.einsum("ij,kjl,il->ik", phi, cov, phi))
        return Estimates(p0=self.p_without(frame), effect=point, low=point - _Z * se, high=point + _Z * se,
                         drivers=self.drivers(frame, prof))

    def design(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(phi, cov): the effects are ``phi @ beta_k``; cov (services, p, p) of the ``beta_k`` — for exact
        intervals of a group's average effect."""
        return self._design(profile_features(frame, self.effects_model.profile))

    def _design(self, prof: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        m = self.effects_model
        phi = np.column_stack([np.ones(len(prof)), prof[m.features].to_numpy(dtype=float)])
        return phi, np.asarray(m.cov)[[m.arms.index(s) for s in self.services]]

    def p_without(self, frame: pd.DataFrame) -> np.ndarray:
        """The baseline predictor's probabilities; its encoding done in numpy when it is plain.

        The predictor's own ``predict_proba`` encodes through a general pandas design matrix, which
        costs more than the prediction on a handful of rows. When every input is a number or a
        known ordinal code and the encoded columns are the inputs themselves, the same matrix is
        built directly (tested to give identical probabilities).
        """
        base = self.baseline
        plain = list(base.columns) == list(base.features) and all(
            f in ORDINALS or pd.api.types.is_numeric_dtype(frame[f]) for f in base.features)
        if not plain:
            return np.asarray(base.predict_proba(frame), dtype=np.float64)
        cols = []
        for f in base.features:
            if f in ORDINALS:
                ranks = {v: float(i) for i, v in enumerate(ORDINALS[f])}
                cols.append(np.array([ranks[v] for v in frame[f]], dtype=np.float64))
            else:
                cols.append(frame[f].to_numpy(dtype=np.float64))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            return np.asarray(base.model.predict_proba(np.column_stack(cols))[:, 1], dtype=np.float64)

    def drivers(self, frame: pd.DataFrame, profile: pd.DataFrame | None = None) -> list[dict[str, Texts]]:
        """Per row and service: which of the person's features raise or lower the effect, in words."""
        m = self.effects_model
        if profile is None:
            profile = profile_features(frame, m.profile)
        prof = profile[m.features].to_numpy(dtype=float) > 0
        arms = [m.arms.index(s) for s in self.services]
        coef = np.asarray(m.coef)[arms, 1:]                     # (services, features)
        out: list[dict[str, Texts]] = []
        for row in prof:
            active = np.flatnonzero(row)
            per: dict[str, Texts] = {}
            for j, service in enumerate(self.services):
                contrib = coef[j, active]
                order = np.argsort(-contrib, kind="stable")
                ups = tuple(m.features[active[i]] for i in order if contrib[i] >= 0.01)[:3]
                downs = tuple(m.features[active[i]] for i in order[::-1] if contrib[i] <= -0.01)[:2]
                per[service] = _driver_text(ups, downs)
            out.append(per)
        return out


@cache
def _driver_text(ups: tuple[str, ...], downs: tuple[str, ...]) -> Texts:
    texts: Texts = {}
    for lang in ("fi", "sv", "en"):
        parts = []
        if ups:
            parts.append(f"{_HELPS_MORE[lang]}: {', '.join(FEATURE_WORDS[f][lang] for f in ups)}")  # type: ignore[index]
        if downs:
            less = f"{_HELPS_LESS[lang]}: {', '.join(FEATURE_WORDS[f][lang] for f in downs)}"  # type: ignore[index]
            parts.append(less if parts else less[0].upper() + less[1:])
        texts[lang] = ("; ".join(parts) + ".") if parts else _AVERAGE[lang]  # type: ignore[index]
    return texts


@dataclass(frozen=True)
class TrainSettings:
    seed: int = 0
    threads: int = 1
    n_boot: int = 200
    cluster_depth: int = 3
    stability_retrains: int = 10
    profile: str = "standard"
    covariates: tuple[str, ...] = CITY_COVARIATES
    extra: dict[str, Any] = field(default_factory=dict)


def _authorise_population_read(gate: AccessGate) -> None:
    decision = gate.decide(TRAINING_ACTOR, PURPOSE, None, ("population", "employment"))
    if not decision.permit:
        raise AccessDeniedError(decision)


def load_training_frame(engine: DuckDBEngine, gate: AccessGate, *, as_of: date | None = None,
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(spells with an observable 6-month outcome, all spells): decided and logged first."""
    _authorise_population_read(gate)
    table = jobseeker_frame(engine, as_of)
    return city_frame(table), city_frame(table, complete_only=False)


def _gap(row: dict[str, Any]) -> tuple[float, float]:
    """Calibration in the large of one group: mean predicted minus observed, and its standard error."""
    n = max(float(row["n"]), 1.0)
    observed = float(row["observed_rate"])
    return float(row["mean_predicted"]) - observed, float(np.sqrt(max(observed * (1 - observed), 1e-6) / n))


def _harmed_groups(fairness: dict[str, Any]) -> list[dict[str, Any]]:
    """Groups of mother tongue or sex whose chance the model gets wrong beyond the tolerance, surely.

    A group is harmed when |mean predicted − observed| exceeds ``HARM_CALIBRATION_ERROR`` even at
    the near end of its 95 % interval. (Binned calibration error is biased upwards in small groups,
    so it is not used for this rule.)
    """
    harmed = []
    for attribute in ("mother_tongue", "sex"):
        for row in fairness.get(attribute, []):
            gap, se = _gap(row)
            if abs(gap) - 1.96 * se > HARM_CALIBRATION_ERROR:
                harmed.append({"attribute": attribute, "group": row["group"], "gap": round(gap, 4),
                               "se": round(se, 4), "n": int(row["n"])})
    return harmed


def _group_gap(fairness: dict[str, Any], attribute: str, group: str) -> float | None:
    for row in fairness.get(attribute, []):
        if row["group"] == group:
            return abs(_gap(row)[0])
    return None


def train_model(frame: pd.DataFrame, all_spells: pd.DataFrame, registry: ModelRegistry,
                settings: TrainSettings | None = None) -> tuple[str, dict[str, Any]]:
    """Fit every part on ``frame``, store a new (unpromoted) version with its model card."""
    cfg = settings or TrainSettings()
    covs = [c for c in cfg.covariates if c in frame.columns]
    predictor, report = fit_prediction(frame, "employed_within_6m", covs, seed=cfg.seed, threads=cfg.threads,
                                       n_boot=cfg.n_boot)
    untreated = frame[frame["service"] == "none"].reset_index(drop=True)
    baseline, base_report = fit_prediction(untreated, "employed_within_6m", covs, seed=cfg.seed,
                                           threads=cfg.threads, groups=())
    harmed = _harmed_groups(report["fairness"])
    sensitive: dict[str, Any] = {"used": [], "harmed_groups": harmed, "rule": (
        f"mother tongue and sex become inputs only if the model misjudges a group's chance by more than "
        f"{HARM_CALIBRATION_ERROR} (|mean predicted - observed|, beyond its 95 % interval) and adding the "
        "attribute narrows that gap")}
    if harmed:
        attrs = sorted({h["attribute"] for h in harmed})
        trial, trial_report = fit_prediction(frame, "employed_within_6m", [*covs, *attrs], seed=cfg.seed,
                                             threads=cfg.threads, n_boot=10)
        better = all((_group_gap(trial_report["fairness"], h["attribute"], h["group"]) or 0.0) < abs(h["gap"])
                     for h in harmed)
        sensitive["trial"] = {"attributes": attrs, "harmed_groups_fixed": better,
                              "metrics": trial_report["metrics"]}
        if better:
            covs = [*covs, *attrs]
            predictor, report = trial, trial_report | {"fairness": report["fairness"]}
            baseline, base_report = fit_prediction(untreated, "employed_within_6m", covs, seed=cfg.seed,
                                                   threads=cfg.threads, groups=())
            sensitive["used"] = attrs
    effects_model = fit_service_effects(frame, controls=covs, profile=cfg.profile, seed=cfg.seed,
                                        threads=cfg.threads)
    services = tuple(s for s in SERVICES if s in effects_model.arms)
    estimator = AnalyticsEstimator(services, effects_model, baseline)
    est = estimator(frame)
    clusters = fit_clusters(frame, est.effect, est.p0, services, effects_low=est.low, effects_high=est.high,
                            depth=cfg.cluster_depth, seed=cfg.seed, effect_design=estimator.design(frame))
    stable = stability(frame, est.effect, est.p0, services, retrains=cfg.stability_retrains, depth=cfg.cluster_depth,
                       seed=cfg.seed)
    areas = all_spells.groupby("postal_code")["area_unemployment"].first()
    model = EmploymentModel(services=services, covariates=tuple(covs), estimator=estimator, clusters=clusters,
                            area_unemployment={str(k): float(v) for k, v in areas.items()},
                            default_area=float(all_spells["area_unemployment"].mean()),
                            drift_profile=reference_profile(frame, DRIFT_NUMERIC, DRIFT_CATEGORICAL))
    policy = effects_model.policy_report(frame)
    card = {
        "model": "Employment service 2.0: baseline predictor + multi-arm effect model + readable clusters",
        "purpose": PURPOSE,
        "training_window": {"first_spell": str(frame["start_date"].min()), "last_spell": str(frame["start_date"].max()),
                            "n_spells": len(frame), "n_without_service": len(untreated)},
        "features": covs, "not_features": ["mother_tongue", "sex", "health_limits", "goals"],
        "services": list(services), "service_words": {s: SERVICE_WORDS.get(s, s) for s in services},
        "metrics": {"predictor": report["metrics"], "baseline_without_service": base_report["metrics"],
                    "calibration_curve": report["calibration_curve"], "conformal": report["conformal"],
                    "average_effects": effects_model.average, "policy": policy,
                    "cluster_stability": stable.as_dict()},
        "fairness": report["fairness"],
        "sensitive_inputs": sensitive,
        "clusters": [{"id": c["id"], "names": c["names"], "size_share": c["size_share"]} for c in clusters.clusters],
        "limits": [
            "suggests; the counsellor decides and records why",
            "effects assume that the background the register holds explains who got which service "
            "(no hidden confounding); a counsellor who knows more should weigh that",
            "effects are additive in a few profile features (see the recommender); an interaction they cannot "
            "express is averaged",
            "cluster measures average per-person estimates; their intervals are averages of pointwise intervals "
            "(conservative)",
            *predictor.card.get("limits", []),
        ],
        **({"settings": cfg.extra} if cfg.extra else {}),
    }
    version = registry.save(model, card)
    return version, registry.card(version)


def evaluate_model(registry: ModelRegistry, version: str, frame: pd.DataFrame | None = None,
                   recent: pd.DataFrame | None = None) -> dict[str, Any]:
    """A version's card metrics, and on new data: its calibration and the input drift of ``recent``."""
    card = registry.card(version)
    out: dict[str, Any] = {"version": version, "training_window": card.get("training_window"),
                           "holdout": card.get("metrics", {}).get("predictor"),
                           "cluster_stability": card.get("metrics", {}).get("cluster_stability")}
    model: EmploymentModel = registry.load(version)
    if frame is not None and len(frame):
        untreated = frame[frame["service"] == "none"]
        if len(untreated):
            p = model.estimator.baseline.predict_proba(untreated)
            y = untreated["employed_within_6m"].to_numpy(dtype=float)
            out["baseline_on_data"] = {"n": len(untreated), "mean_predicted": float(p.mean()),
                                       "observed_rate": float(y.mean()),
                                       "brier": float(np.mean((p - y) ** 2))}
        out["drift_vs_data"] = drift_report(model.drift_profile, frame)
    if recent is not None and len(recent):
        out["drift_vs_recent_registrations"] = drift_report(model.drift_profile, recent)
    return out


def models_dir(setting: Path) -> ModelRegistry:
    return ModelRegistry(setting)


def ensure_promoted_model(settings: Settings, city: Path, *, seed: int = 0) -> tuple[str, bool]:
    """The promoted version in ``settings.employment_models``; trains and promotes one on ``city`` first
    when there is none (the demo: its first start trains, a restart reuses the model). Returns
    (version, trained now). The training read is decided and logged like ``ennakoiva model train``."""
    registry = ModelRegistry(settings.employment_models)
    promoted = registry.promoted()
    if promoted is not None:
        return promoted, False
    with open_operational(settings) as ops, DuckDBEngine(city, read_only=True) as engine:
        frame, all_spells = load_training_frame(engine, ops.gate)
    version, _card = train_model(frame, all_spells, registry, TrainSettings(seed=seed))
    registry.promote(version)
    return version, True
