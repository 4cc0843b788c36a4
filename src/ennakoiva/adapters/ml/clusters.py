"""Clusters of job seekers a counsellor can understand, described by their typical features, risks and
the measures that worked in them.

Why a shallow tree and not k-means: a cluster must be *readable* ("Finnish A2 or below, under 30")
and must group people whom the same measures help — clusters of risk are not clusters of effect
(analytics reference §7.10). So the segmentation is a multi-output regression tree of depth ≤ 3
over five background features a counsellor knows (age, education, Finnish skill, work history,
months unemployed before), fitted to the recommender's per-person service effects and the
predictor's probability of employment, each standardised. Each leaf is a cluster; its name is the
path of conditions, in fi/sv/en. Mother tongue and sex are not among the features.

Stability across retrains is measured, not assumed: :func:`stability` refits the tree on bootstrap
resamples and compares each refit's assignment of the *whole* sample with the reference fit by the
adjusted Rand index (``STABILITY_THRESHOLD`` is the bar the tests hold it to).

Each cluster is described by

- its **profile**: size, median age, the most common education and Finnish skill, median work
  history and months unemployed before;
- its **typical risks**: the share not employed within six months without a service (one minus the
  predictor's mean probability), the share with twelve or more months of unemployment in the
  last three years and the share with Finnish at A2 or below;
- its **effective measures**: the recommender's per-person effects averaged within the cluster,
  ranked, each with the 95 % interval of that average. The recommender is linear in profile
  features φ, so the cluster's average effect is φ̄ᵀβ and its standard error exactly √(φ̄ᵀΣφ̄)
  (``effect_design``); without it the average of the pointwise bounds is shown (conservative: an
  average of intervals is wider than the interval of the average).

Assigning one registration walks the stored tree arrays in plain Python (microseconds), so the
service does not pay scikit-learn's per-call validation on every registration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.metrics import adjusted_rand_score
from sklearn.tree import DecisionTreeRegressor

__all__ = [
    "CLUSTER_FEATURES",
    "MIN_GAIN",
    "STABILITY_THRESHOLD",
    "ClusterModel",
    "StabilityReport",
    "encode_features",
    "fit_clusters",
    "stability",
]

CEFR = ("none", "A1", "A2", "B1", "B2", "C1", "C2", "native")
EDUCATION = ("basic", "upper_secondary", "tertiary_lower", "tertiary_higher")
CLUSTER_FEATURES = ("age", "education", "finnish", "work_years", "months_before")
# Mean ARI between the reference fit and refits on bootstrap resamples must reach this.
STABILITY_THRESHOLD = 0.8
_Z = float(norm.ppf(0.975))

_EDU_NAMES = {
    "fi": ("perusaste", "toinen aste", "alempi korkea-aste", "ylempi korkea-aste"),
    "sv": ("grundnivå", "andra stadiet", "lägre högskolenivå", "högre högskolenivå"),
    "en": ("basic", "upper secondary", "lower tertiary", "higher tertiary"),
}
_SERVICE_NAMES = {
    "language_course": {"fi": "Kielikoulutus", "sv": "Språkutbildning", "en": "Language course"},
    "vocational_training": {"fi": "Työvoimakoulutus", "sv": "Arbetskraftsutbildning", "en": "Vocational training"},
    "coaching": {"fi": "Työnhakuvalmennus", "sv": "Jobbsökarträning", "en": "Job-search coaching"},
    "wage_subsidy": {"fi": "Palkkatuki", "sv": "Lönesubvention", "en": "Pay subsidy"},
    "recruitment_event": {"fi": "Rekrytointitapahtuma", "sv": "Rekryteringsevenemang", "en": "Recruitment event"},
}


def service_names(service: str) -> dict[str, str]:
    """The service's name in fi/sv/en (the code itself when unknown)."""
    return dict(_SERVICE_NAMES.get(service, {"fi": service, "sv": service, "en": service}))


def encode_features(frame: pd.DataFrame | Mapping[str, Any]) -> np.ndarray:
    """(n, 5) float matrix of :data:`CLUSTER_FEATURES` from registry-coded columns.

    Accepts ``age`` (or ``age_at_start``), ``education_level``, ``finnish_skill``,
    ``work_history_years`` and ``months_unemployed_before``. Age is whole years, as registered.
    """
    df = pd.DataFrame(frame) if not isinstance(frame, pd.DataFrame) else frame
    age_col = "age" if "age" in df.columns else "age_at_start"
    edu = pd.Categorical(df["education_level"], categories=EDUCATION).codes
    fin = pd.Categorical(df["finnish_skill"], categories=CEFR).codes
    if (edu < 0).any() or (fin < 0).any():
        raise ValueError("education_level and finnish_skill must use the registry's codes")
    return np.column_stack([
        np.floor(df[age_col].to_numpy(dtype=np.float64)), edu.astype(np.float64), fin.astype(np.float64),
        df["work_history_years"].to_numpy(dtype=np.float64), df["months_unemployed_before"].to_numpy(np.float64),
    ])


# --------------------------------------------------------------------------- readable conditions

def _num(x: float) -> str:
    return f"{x:g}"


def _describe(feature: int, lo: float, hi: float) -> dict[str, str]:  # noqa: PLR0912 - one branch per wording
    """One path condition ``lo < x <= hi`` in words (bounds may be infinite)."""
    name = CLUSTER_FEATURES[feature]
    if name in ("education", "finnish"):
        a = 0 if lo == -np.inf else int(np.floor(lo)) + 1
        b = (len(EDUCATION) if name == "education" else len(CEFR)) - 1 if hi == np.inf else int(np.floor(hi))
        if name == "finnish":
            lvl = CEFR
            if a == b:
                span = {"fi": lvl[a], "sv": lvl[a], "en": lvl[a]}
            elif a == 0:
                span = {"fi": f"{lvl[b]} tai heikompi", "sv": f"{lvl[b]} eller svagare", "en": f"{lvl[b]} or below"}
            elif b == len(CEFR) - 1:
                span = {"fi": f"{lvl[a]} tai parempi", "sv": f"{lvl[a]} eller bättre", "en": f"{lvl[a]} or above"}
            else:
                span = dict.fromkeys(("fi", "sv", "en"), f"{lvl[a]}–{lvl[b]}")
            for k in span:
                span[k] = span[k].replace("native", {"fi": "äidinkieli", "sv": "modersmål", "en": "native"}[k])
            return {"fi": f"suomen kieli {span['fi']}", "sv": f"finska {span['sv']}", "en": f"Finnish {span['en']}"}
        names = {k: v[a] if a == b else f"{v[a]} – {v[b]}" for k, v in _EDU_NAMES.items()}
        return {"fi": f"koulutus: {names['fi']}", "sv": f"utbildning: {names['sv']}",
                "en": f"education: {names['en']}"}
    # numeric features: thresholds fall between observed values
    lo_v = None if lo == -np.inf else (np.floor(lo) + 1 if name in ("age", "months_before") else round(lo, 1))
    hi_v = None if hi == np.inf else (np.floor(hi) + 1 if name in ("age", "months_before") else round(hi, 1))
    if name == "age":
        if lo_v is None:
            return {"fi": f"alle {_num(hi_v)}-vuotias", "sv": f"under {_num(hi_v)} år", "en": f"under {_num(hi_v)}"}
        if hi_v is None:
            return {"fi": f"vähintään {_num(lo_v)}-vuotias", "sv": f"{_num(lo_v)} år eller äldre",
                    "en": f"{_num(lo_v)} or older"}
        return {"fi": f"{_num(lo_v)}–{_num(hi_v - 1)}-vuotias", "sv": f"{_num(lo_v)}–{_num(hi_v - 1)} år",
                "en": f"aged {_num(lo_v)}–{_num(hi_v - 1)}"}
    if name == "months_before":
        if lo_v is None:
            return {"fi": f"työttömänä alle {_num(hi_v)} kk viim. 3 v", "sv": f"arbetslös under {_num(hi_v)} mån "
                    "de senaste 3 åren", "en": f"unemployed under {_num(hi_v)} months in the last 3 years"}
        if hi_v is None:
            return {"fi": f"työttömänä vähintään {_num(lo_v)} kk viim. 3 v", "sv": f"arbetslös minst {_num(lo_v)} "
                    "mån de senaste 3 åren", "en": f"unemployed {_num(lo_v)}+ months in the last 3 years"}
        return {"fi": f"työttömänä {_num(lo_v)}–{_num(hi_v - 1)} kk viim. 3 v",
                "sv": f"arbetslös {_num(lo_v)}–{_num(hi_v - 1)} mån de senaste 3 åren",
                "en": f"unemployed {_num(lo_v)}–{_num(hi_v - 1)} months in the last 3 years"}
    # work history in years (0.1 steps)
    if lo_v is None:
        return {"fi": f"työkokemusta alle {_num(hi_v)} v", "sv": f"arbetserfarenhet under {_num(hi_v)} år",
                "en": f"under {_num(hi_v)} years of work history"}
    if hi_v is None:
        return {"fi": f"työkokemusta yli {_num(lo_v)} v", "sv": f"arbetserfarenhet över {_num(lo_v)} år",
                "en": f"over {_num(lo_v)} years of work history"}
    return {"fi": f"työkokemusta {_num(lo_v)}–{_num(hi_v)} v", "sv": f"arbetserfarenhet {_num(lo_v)}–{_num(hi_v)} år",
            "en": f"{_num(lo_v)}–{_num(hi_v)} years of work history"}


# --------------------------------------------------------------------------- the model

@dataclass
class ClusterModel:
    """A fitted segmentation: tree arrays, leaf → cluster id, and each cluster's description."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf_cluster: dict[int, int]
    services: tuple[str, ...]
    clusters: list[dict[str, Any]] = field(default_factory=list)

    @property
    def n_clusters(self) -> int:
        return len(self.leaf_cluster)

    def assign_one(self, x: Sequence[float]) -> int:
        """Cluster of one encoded feature row (plain-Python tree walk)."""
        node = 0
        feature, threshold, left, right = self._lists
        while left[node] != -1:
            node = left[node] if x[feature[node]] <= threshold[node] else right[node]
        return self.leaf_cluster[node]

    @property
    def _lists(self) -> tuple[list[int], list[float], list[int], list[int]]:
        cached = self.__dict__.get("_cache")
        if cached is None:
            cached = (self.feature.tolist(), self.threshold.tolist(), self.left.tolist(), self.right.tolist())
            self.__dict__["_cache"] = cached
        return cached  # type: ignore[no-any-return]

    def assign(self, x: np.ndarray) -> np.ndarray:
        """Clusters of an (n, 5) encoded matrix."""
        node = np.zeros(len(x), dtype=np.int64)
        for _ in range(64):
            inner = self.left[node] != -1
            if not inner.any():
                break
            idx = np.flatnonzero(inner)
            n = node[idx]
            go_left = x[idx, self.feature[n]] <= self.threshold[n]
            node[idx] = np.where(go_left, self.left[n], self.right[n])
        return np.array([self.leaf_cluster[int(n)] for n in node], dtype=np.int64)

    def view(self, cluster_id: int) -> dict[str, Any]:
        return self.clusters[cluster_id]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_cache", None)
        return state


# A split must explain at least this share of the (standardised) variance of all targets: splits on
# noise explain almost nothing and would move between retrains.
MIN_GAIN = 0.01


def _tree(x: np.ndarray, target: np.ndarray, depth: int, min_leaf: int, seed: int,
          min_gain: float = MIN_GAIN) -> DecisionTreeRegressor:
    sd = target.std(axis=0)
    scaled = (target - target.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    return DecisionTreeRegressor(max_depth=depth, min_samples_leaf=min_leaf, random_state=seed,
                                 min_impurity_decrease=min_gain * scaled.var(axis=0).mean()).fit(x, scaled)


def _target(effects: np.ndarray, p0: np.ndarray) -> np.ndarray:
    return np.column_stack([effects, p0])


def _model_from_tree(tree: DecisionTreeRegressor, services: Sequence[str]) -> ClusterModel:
    t = tree.tree_
    leaves = [int(i) for i in np.flatnonzero(t.children_left == -1)]
    return ClusterModel(feature=t.feature.astype(np.int64).copy(), threshold=t.threshold.astype(np.float64).copy(),
                        left=t.children_left.astype(np.int64).copy(), right=t.children_right.astype(np.int64).copy(),
                        leaf_cluster={leaf: k for k, leaf in enumerate(leaves)}, services=tuple(services))


def _paths(model: ClusterModel) -> dict[int, dict[int, tuple[float, float]]]:
    """Per leaf: feature → (lo, hi] bounds along its path."""
    out: dict[int, dict[int, tuple[float, float]]] = {}

    def walk(node: int, bounds: dict[int, tuple[float, float]]) -> None:
        if model.left[node] == -1:
            out[node] = bounds
            return
        f, thr = int(model.feature[node]), float(model.threshold[node])
        lo, hi = bounds.get(f, (-np.inf, np.inf))
        walk(int(model.left[node]), {**bounds, f: (lo, min(hi, thr))})
        walk(int(model.right[node]), {**bounds, f: (max(lo, thr), hi)})

    walk(0, {})
    return out


def _mode(values: np.ndarray, labels: Sequence[str]) -> str:
    return labels[int(np.bincount(values.astype(np.int64), minlength=len(labels)).argmax())]


def _describe_cluster(model: ClusterModel, leaf: int, bounds: dict[int, tuple[float, float]], x: np.ndarray,
                      effects: np.ndarray, low: np.ndarray, high: np.ndarray, p0: np.ndarray, n_all: int,
                      design: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
    conds = [_describe(f, *bounds[f]) for f in sorted(bounds)]
    names = {lang: (" · ".join(c[lang] for c in conds) if conds else
                    {"fi": "Kaikki työnhakijat", "sv": "Alla arbetssökande", "en": "All job seekers"}[lang])
             for lang in ("fi", "sv", "en")}
    names = {k: v[0].upper() + v[1:] for k, v in names.items()}
    n = len(x)
    age, work, months = (float(np.median(x[:, i])) for i in (0, 3, 4))
    edu = int(np.bincount(x[:, 1].astype(np.int64), minlength=4).argmax())
    fin = _mode(x[:, 2], CEFR)
    fin_words = {"fi": fin.replace("native", "äidinkieli"), "sv": fin.replace("native", "modersmål"), "en": fin}
    profile = {
        "fi": (f"{n:,} työnhakijaa ({n / n_all:.0%}). Iän mediaani {age:.0f} v; yleisin koulutus "
               f"{_EDU_NAMES['fi'][edu]}; yleisin suomen kielen taito {fin_words['fi']}; työkokemusta "
               f"mediaani {work:.1f} v; työttömänä mediaani {months:.0f} kk viimeisten 3 vuoden aikana.")
        .replace(",", " "),
        "sv": (f"{n:,} arbetssökande ({n / n_all:.0%}). Medianålder {age:.0f} år; vanligaste utbildning "
               f"{_EDU_NAMES['sv'][edu]}; vanligaste finskkunskap {fin_words['sv']}; arbetserfarenhet median "
               f"{work:.1f} år; arbetslös median {months:.0f} mån de senaste 3 åren.").replace(",", " "),
        "en": (f"{n:,} job seekers ({n / n_all:.0%}). Median age {age:.0f}; most common education "
               f"{_EDU_NAMES['en'][edu]}; most common Finnish skill {fin_words['en']}; median work history "
               f"{work:.1f} years; median {months:.0f} months unemployed in the last 3 years."),
    }
    no_job = float(1.0 - p0.mean())
    risks = [
        {"id": "not_employed_6m", "value": round(no_job, 4),
         "names": {"fi": f"{no_job:.0%} ei työllisty 6 kuukaudessa ilman palvelua",
                   "sv": f"{no_job:.0%} får inte arbete inom 6 månader utan tjänst",
                   "en": f"{no_job:.0%} not employed within 6 months without a service"}},
        {"id": "long_unemployment_history", "value": round(float((x[:, 4] >= 12).mean()), 4),
         "names": {"fi": f"{(x[:, 4] >= 12).mean():.0%} ollut työttömänä vähintään 12 kk viim. 3 v",
                   "sv": f"{(x[:, 4] >= 12).mean():.0%} arbetslösa minst 12 mån de senaste 3 åren",
                   "en": f"{(x[:, 4] >= 12).mean():.0%} unemployed 12+ months in the last 3 years"}},
        {"id": "weak_finnish", "value": round(float((x[:, 2] <= 2).mean()), 4),
         "names": {"fi": f"{(x[:, 2] <= 2).mean():.0%} suomen kielen taito A2 tai heikompi",
                   "sv": f"{(x[:, 2] <= 2).mean():.0%} finskkunskap A2 eller svagare",
                   "en": f"{(x[:, 2] <= 2).mean():.0%} with Finnish at A2 or below"}},
    ]
    mean_eff, mean_lo, mean_hi = effects.mean(axis=0), low.mean(axis=0), high.mean(axis=0)
    if design is not None:                       # the exact interval of the cluster's average effect
        phi, cov = design
        phi_bar = phi.mean(axis=0)
        se = np.sqrt(np.einsum("j,kjl,l->k", phi_bar, cov, phi_bar))
        mean_lo, mean_hi = mean_eff - _Z * se, mean_eff + _Z * se
    order = np.argsort(-mean_eff, kind="stable")
    measures = [{"service": model.services[j], "names": service_names(model.services[j]),
                 "effect": round(float(mean_eff[j]), 4), "effect_low": round(float(mean_lo[j]), 4),
                 "effect_high": round(float(mean_hi[j]), 4)} for j in order]
    return {"id": model.leaf_cluster[leaf], "names": names, "profile": profile, "size_share": round(n / n_all, 4),
            "risks": risks, "effective_measures": measures}


def fit_clusters(features: pd.DataFrame | Mapping[str, Any], effects: np.ndarray, p0: np.ndarray,
                 services: Sequence[str], *, effects_low: np.ndarray | None = None,
                 effects_high: np.ndarray | None = None, depth: int = 3, min_leaf_share: float = 0.04,
                 min_gain: float = MIN_GAIN, seed: int = 0,
                 effect_design: tuple[np.ndarray, np.ndarray] | None = None) -> ClusterModel:
    """Fit the segmentation and describe every cluster (see the module docstring).

    ``effects`` (n, services) are the recommender's per-person effects (with optional pointwise
    bounds), ``p0`` the predictor's P(employed within 6 months) without a service.
    ``effect_design = (phi, cov)``: when the effects are linear, ``effects[:, k] = phi @ beta_k``,
    the (n, p) design and the (services, p, p) covariances of the ``beta_k``, for exact intervals
    of each cluster's average effect.
    """
    x = encode_features(features)
    effects = np.asarray(effects, dtype=np.float64)
    p0 = np.asarray(p0, dtype=np.float64)
    if effects.shape != (len(x), len(services)) or p0.shape != (len(x),):
        raise ValueError("effects must be (n, services) and p0 (n,) for the n feature rows")
    min_leaf = max(int(min_leaf_share * len(x)), 20)
    model = _model_from_tree(_tree(x, _target(effects, p0), depth, min_leaf, seed, min_gain), services)
    low = effects if effects_low is None else np.asarray(effects_low, dtype=np.float64)
    high = effects if effects_high is None else np.asarray(effects_high, dtype=np.float64)
    if effect_design is not None:
        n_phi, p = effect_design[0].shape
        if n_phi != len(x) or effect_design[1].shape != (len(services), p, p):
            raise ValueError("effect_design must be phi (n, p) and cov (services, p, p)")
    cluster = model.assign(x)
    paths = _paths(model)
    for leaf, k in sorted(model.leaf_cluster.items(), key=lambda kv: kv[1]):
        m = cluster == k
        design = None if effect_design is None else (effect_design[0][m], effect_design[1])
        model.clusters.append(_describe_cluster(model, leaf, paths[leaf], x[m], effects[m], low[m], high[m], p0[m],
                                                len(x), design))
    return model


@dataclass(frozen=True)
class StabilityReport:
    """Adjusted Rand index between the reference fit and refits on bootstrap resamples."""

    ari: tuple[float, ...]
    threshold: float = STABILITY_THRESHOLD

    @property
    def mean(self) -> float:
        return float(np.mean(self.ari))

    @property
    def minimum(self) -> float:
        return float(np.min(self.ari))

    @property
    def stable(self) -> bool:
        return self.mean >= self.threshold

    def as_dict(self) -> dict[str, Any]:
        return {"ari_mean": round(self.mean, 4), "ari_min": round(self.minimum, 4), "retrains": len(self.ari),
                "threshold": self.threshold, "stable": self.stable}


def stability(features: pd.DataFrame | Mapping[str, Any], effects: np.ndarray, p0: np.ndarray,
              services: Sequence[str], *, retrains: int = 10, depth: int = 3, min_leaf_share: float = 0.04,
              min_gain: float = MIN_GAIN, seed: int = 0) -> StabilityReport:
    """Refit on ``retrains`` bootstrap resamples; ARI of each refit's labels of the full sample vs the reference."""
    x = encode_features(features)
    target = _target(np.asarray(effects, dtype=np.float64), np.asarray(p0, dtype=np.float64))
    min_leaf = max(int(min_leaf_share * len(x)), 20)
    ref = _model_from_tree(_tree(x, target, depth, min_leaf, seed, min_gain), services).assign(x)
    rng = np.random.default_rng(seed)
    scores = []
    for r in range(retrains):
        idx = rng.integers(0, len(x), len(x))
        refit = _model_from_tree(_tree(x[idx], target[idx], depth, min_leaf, seed + r + 1, min_gain), services)
        scores.append(float(adjusted_rand_score(ref, refit.assign(x))))
    return StabilityReport(ari=tuple(scores))
