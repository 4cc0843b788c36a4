"""Rung 5, simulation: the causal effect of a (binary) service on an outcome, with its caveats.

The estimator is DoubleML's interactive regression model (IRM: doubly robust, cross-fitted, with
repeated sample splits) for the average effect (ATE) or the effect on the treated (ATT). Around it
sit the checks that decide whether a number may be shown at all:

- **overlap** — cross-fitted propensities; a unit whose propensity is within ``epsilon`` of 0 or 1
  has no comparable counterpart. For the ATE both tails count; for the ATT only treated units
  without comparable controls do. If more than ``max_lacking_share`` lack support the estimand is
  **refused** (with the reason, and a hint when the ATT would be supported) rather than
  extrapolated;
- **placebo** — the same estimator on a randomly permuted treatment must find nothing;
- **sensitivity** — DoubleML's bounds under hidden confounding of a stated strength and the
  robustness value (how strong a hidden confounder would have to be to explain the effect away);
- **stability** — the spread of the estimate across repeated sample splits;
- the **naive difference** of means, shown beside it so the reader sees what adjustment changed.

All results are plain dicts (JSON-ready) so CLI, API and Employment service 2.0 share them.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from doubleml import DoubleMLData, DoubleMLIRM
from scipy import stats

from ennakoiva.adapters.ml.frame import AnalysisData
from ennakoiva.adapters.ml.learners import classifier, is_binary, regressor

__all__ = ["EffectSettings", "estimate_effect", "naive_difference", "overlap_report"]

_Z = float(stats.norm.ppf(0.975))
_Z99 = float(stats.norm.ppf(0.995))


@dataclass(frozen=True)
class EffectSettings:
    """How hard to work and how strict to be (policy settings, not code)."""

    n_folds: int = 5
    n_rep: int = 3                  # repeated cross-fitting: the estimate is the median over splits
    learner: str = "lgbm"           # lgbm | linear
    epsilon: float = 0.01           # a propensity this close to 0 or 1 means "no comparable people"
    max_lacking_share: float = 0.05  # refuse when more than this share lacks support
    min_group: int = 30             # refuse when fewer treated or controls than this
    placebo: bool = True
    sensitivity_cf: float = 0.03    # benchmark strength of a hidden confounder (cf_y = cf_d)
    seed: int = 0
    threads: int = 1


def naive_difference(treatment: np.ndarray, outcome: np.ndarray) -> dict[str, float]:
    """Difference of mean outcomes, treated minus untreated, with a Welch 95 % interval."""
    y1, y0 = outcome[treatment == 1], outcome[treatment == 0]
    diff = float(y1.mean() - y0.mean())
    se = math.sqrt(y1.var(ddof=1) / max(len(y1), 1) + y0.var(ddof=1) / max(len(y0), 1)) if len(y1) > 1 and len(
        y0) > 1 else float("nan")
    return {"estimate": diff, "ci_low": diff - _Z * se, "ci_high": diff + _Z * se, "se": se}


def overlap_report(propensity: np.ndarray, treatment: np.ndarray, estimand: str, epsilon: float,
                   max_share: float) -> dict[str, Any]:
    """Who lacks comparable people, for the estimand asked; ``pass`` false means refuse.

    A treated unit lacks comparable untreated people when its propensity is above ``1 - epsilon``
    or above every untreated unit's (outside the controls' support); an untreated unit lacks treated
    counterparts when its propensity is below ``epsilon`` or below every treated unit's. The support
    rule matters because regularised learners never predict exactly 0 or 1: a deterministic
    assignment shows up as two barely touching propensity ranges, not as extreme values.
    """
    treated, control = treatment == 1, treatment == 0
    hi_c = float(propensity[control].max()) if control.any() else 0.0
    lo_t = float(propensity[treated].min()) if treated.any() else 1.0
    t_lack = treated & ((propensity > 1 - epsilon) | (propensity > hi_c))
    c_lack = control & ((propensity < epsilon) | (propensity < lo_t))
    treated_lacking = float(t_lack.sum() / max(treated.sum(), 1))
    control_lacking = float(c_lack.sum() / max(control.sum(), 1))
    if estimand == "att":
        share = treated_lacking
        rule = (f"treated people with a propensity above {1 - epsilon:g} or above every untreated person's "
                "(no comparable untreated people)")
    else:
        share = float((t_lack | c_lack).mean())
        rule = (f"people with a propensity outside [{epsilon:g}, {1 - epsilon:g}] or outside the other group's "
                "range (no comparable people in the other group)")
    return {
        "pass": bool(share <= max_share), "share_lacking_support": share, "max_share": max_share,
        "rule": rule, "treated_lacking_support": treated_lacking, "control_lacking_support": control_lacking,
        "propensity_treated": _quantiles(propensity[treated]), "propensity_control": _quantiles(propensity[control]),
    }


def _quantiles(p: np.ndarray) -> dict[str, float]:
    if len(p) == 0:
        return {}
    q = np.quantile(p, [0.0, 0.01, 0.5, 0.99, 1.0])
    return dict(zip(("min", "p01", "median", "p99", "max"), (float(v) for v in q), strict=True))


def _fit_irm(x: pd.DataFrame, t: np.ndarray, y: np.ndarray, estimand: str, s: EffectSettings, n_rep: int,
             seed: int) -> DoubleMLIRM:
    frame = pd.DataFrame(x.to_numpy(dtype=float), columns=[f"x{i}" for i in range(x.shape[1])])
    frame["_t"], frame["_y"] = t, y
    data = DoubleMLData(frame, y_col="_y", d_cols="_t", x_cols=[c for c in frame.columns if c.startswith("x")])
    ml_g = classifier(s.learner, seed=seed, threads=s.threads) if is_binary(y) else regressor(
        s.learner, seed=seed, threads=s.threads)
    ml_m = classifier(s.learner, seed=seed + 1, threads=s.threads)
    np.random.seed(seed)  # DoubleML draws its sample splits from numpy's global generator
    dml = DoubleMLIRM(data, ml_g=ml_g, ml_m=ml_m, n_folds=s.n_folds, n_rep=n_rep,
                      score="ATTE" if estimand == "att" else "ATE")
    with warnings.catch_warnings(record=True) as caught:
        # LightGBM warns about feature names when DoubleML hands it numpy arrays after a fit on them;
        # harmless (the columns are positional by construction).
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        # On small or badly overlapping data DoubleML cannot estimate a variance term of the
        # sensitivity analysis and falls back to a non-orthogonal one: said in the answer (see
        # _sensitivity), not as a stray warning on the terminal.
        warnings.filterwarnings("always", message=".*riesz representer")
        dml.fit(store_predictions=True)
    dml.ennakoiva_sensitivity_fallback = False
    for w in caught:
        if "riesz representer" in str(w.message):
            dml.ennakoiva_sensitivity_fallback = True
        else:       # every other warning goes on as it would have
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return dml


def _summary(dml: DoubleMLIRM) -> dict[str, float]:
    est, se = float(dml.coef[0]), float(dml.se[0])
    ci = dml.confint(level=0.95).to_numpy()[0]
    return {"estimate": est, "se": se, "ci_low": float(ci[0]), "ci_high": float(ci[1]),
            "p_value": float(dml.pval[0])}


def _refusal(base: dict[str, Any], reason: str) -> dict[str, Any]:
    return base | {"estimate": None, "ci_low": None, "ci_high": None, "se": None, "refused": {"reason": reason}}


def estimate_effect(data: AnalysisData, estimand: str = "ate", settings: EffectSettings | None = None
                    ) -> dict[str, Any]:
    """ATE or ATT of ``data.treatment`` on ``data.outcome`` with overlap, placebo and sensitivity."""
    s = settings or EffectSettings()
    estimand = estimand.lower()
    if estimand not in ("ate", "att"):
        raise ValueError(f"estimand must be ate or att, not {estimand!r}")
    t, y, x = data.treatment, data.outcome, data.x
    n1, n0 = int(t.sum()), int(len(t) - t.sum())
    base: dict[str, Any] = {
        "estimand": estimand, "treatment": data.treatment_name, "outcome": data.outcome_name,
        "covariates": list(x.columns), "n": len(t), "n_treated": n1, "n_control": n0,
        "naive_difference": naive_difference(t, y), "method": "DoubleML IRM (doubly robust, cross-fitted)",
        "learner": s.learner, "settings": asdict(s), "label": "causal estimate under no hidden confounding",
        "overlap": None, "placebo": None, "sensitivity": None, "stability": None, "refused": None,
    }
    if min(n1, n0) < s.min_group:
        return _refusal(base, f"too few people to compare: {n1} treated, {n0} untreated "
                              f"(at least {s.min_group} each needed)")
    if x.shape[1] == 0:
        raise ValueError("no covariates: name the confounders with --covariates")
    dml = _fit_irm(x, t, y, estimand, s, s.n_rep, s.seed)
    propensity = np.asarray(dml.predictions["ml_m"])[:, :, 0].mean(axis=1)
    overlap = overlap_report(propensity, t, estimand, s.epsilon, s.max_lacking_share)
    base["overlap"] = overlap
    if not overlap["pass"]:
        hint = ""
        if estimand == "ate" and overlap["treated_lacking_support"] <= s.max_lacking_share:
            hint = "; the effect on the treated (--estimand att) is supported"
        return _refusal(base, f"{overlap['share_lacking_support']:.1%} of the people this estimand averages over "
                              f"have no comparable counterparts ({overlap['rule']}; at most "
                              f"{s.max_lacking_share:.0%} allowed){hint}")
    result = base | _summary(dml)
    reps = np.asarray(dml.all_coef).ravel()
    result["stability"] = {"estimates_by_split": [float(v) for v in reps], "spread_sd": float(reps.std()),
                           "stable": bool(reps.std() < float(dml.se[0]))}
    result["sensitivity"] = _sensitivity(dml, s.sensitivity_cf)
    if s.placebo:
        result["placebo"] = _placebo(x, t, y, estimand, s)
    return result


def _sensitivity(dml: DoubleMLIRM, cf: float) -> dict[str, Any]:
    """Bounds if a hidden confounder explained ``cf`` of the outcome's and the treatment's variation."""
    dml.sensitivity_analysis(cf_y=cf, cf_d=cf, rho=1.0, level=0.95)
    sp = dml.sensitivity_params
    rv, rva = float(np.ravel(sp["rv"])[0]), float(np.ravel(sp["rva"])[0])
    fallback = bool(getattr(dml, "ennakoiva_sensitivity_fallback", False))
    return {"cf_y": cf, "cf_d": cf, "orthogonal": not fallback,
            **({"note": "the bounds use DoubleML's non-orthogonal fallback (a variance term of the Riesz "
                        "representer was not positive on this data): read them as rough"} if fallback else {}),
            "theta_lower": float(np.ravel(sp["theta"]["lower"])[0]),
            "theta_upper": float(np.ravel(sp["theta"]["upper"])[0]),
            "ci_lower": float(np.ravel(sp["ci"]["lower"])[0]), "ci_upper": float(np.ravel(sp["ci"]["upper"])[0]),
            "robustness_value": rv, "robustness_value_ci": rva, "fragile": bool(rva < cf),
            "reading": (f"a hidden confounder explaining {rv:.1%} of both the outcome's and the service's "
                        f"residual variation would remove the effect ({rva:.1%} to make it insignificant)")}


def _placebo(x: pd.DataFrame, t: np.ndarray, y: np.ndarray, estimand: str, s: EffectSettings) -> dict[str, Any]:
    """The same estimator on a permuted treatment: an effect there means the machinery invents one.

    Judged at the 1 % level (|z| < 2.576): a single permutation is itself a random draw, and at
    5 % a sound estimator would be flagged once in twenty runs.
    """
    rng = np.random.default_rng(s.seed + 7919)
    fake = rng.permutation(t)
    out = _summary(_fit_irm(x, fake, y, estimand, s, 1, s.seed + 1))
    out["kind"] = "permuted treatment"
    out["z"] = out["estimate"] / out["se"] if out["se"] > 0 else 0.0
    out["pass"] = bool(abs(out["z"]) < _Z99)
    return out
