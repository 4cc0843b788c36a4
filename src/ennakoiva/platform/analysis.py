"""Use cases of the analytics ladder's upper rungs: diagnose, effect, what-if, predict, recommend.

Where the data come from decides what happens first:

- **the city** (``--db``): the read is person-level, so it is decided and audited under the purpose
  ``employment-service-recommendations`` (population and employment data) *before* the engine
  builds the job-seeker frame; a refusal raises and nothing is read;
- **a file** (``--data``): the caller already holds the table; no city read, no decision.

The estimators themselves live in ``ennakoiva.adapters.ml`` and know nothing of either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.engine.jobseeker_frame import jobseeker_frame
from ennakoiva.adapters.ml.diagnose import diagnose
from ennakoiva.adapters.ml.effect import EffectSettings, estimate_effect
from ennakoiva.adapters.ml.frame import (
    CITY_COVARIATES,
    DIAGNOSE_COVARIATES,
    analysis_data,
    city_frame,
    group_mask,
    read_table,
    service_data,
)
from ennakoiva.adapters.ml.predict import fit_prediction
from ennakoiva.adapters.ml.recommend import ServiceEffectModel, fit_service_effects, load_model, save_model
from ennakoiva.adapters.ml.survival import time_to_employment
from ennakoiva.adapters.ml.whatif import what_if
from ennakoiva.domain.consent.decision import Actor
from ennakoiva.platform.operational import open_operational
from ennakoiva.platform.settings import Settings

__all__ = ["PURPOSE", "Source", "city_effect", "load_frame", "run_diagnose", "run_effect", "run_predict",
           "run_recommend", "run_whatif"]

PURPOSE = "employment-service-recommendations"
CATEGORIES = ("population", "employment")
OUTCOME = "employed_within_6m"


@dataclass(frozen=True)
class Source:
    """Where the rows come from: a city database (with who reads it) or a file."""

    db: Path | None = None
    data: Path | None = None
    actor: str = "analytics"
    role: str = "counsellor"
    service: str = "employment-services"
    settings: Settings | None = None
    as_of: date | None = None

    @property
    def is_city(self) -> bool:
        return self.db is not None


def _authorise(src: Source) -> None:
    """Decide and log the population-level read; refuse with the decision's reason."""
    with open_operational(src.settings or Settings()) as ops:
        decision = ops.gate.decide(Actor(id=src.actor, role=src.role, service=src.service), PURPOSE, None,
                                   CATEGORIES)
    if not decision.permit:
        raise PermissionError(f"access denied under {PURPOSE}: {decision.reason}")


def load_frame(src: Source, *, complete_only: bool = True) -> pd.DataFrame:
    """The rows to analyse: the city's job-seeker frame (after the access decision) or the file.

    ``complete_only`` keeps the city's spells whose 6-month outcome is known (what the models learn
    from); recommendations for a person look up their latest spell among all spells.
    """
    if (src.db is None) == (src.data is None):
        raise ValueError("give exactly one of --db (the city) or --data (a CSV/Parquet file)")
    if src.data is not None:
        if not src.data.exists():
            raise FileNotFoundError(f"no such file: {src.data}")
        return read_table(str(src.data))
    assert src.db is not None
    if not src.db.exists():
        raise FileNotFoundError(f"no database at {src.db}")
    _authorise(src)
    with DuckDBEngine(src.db, read_only=True) as engine:
        return city_frame(jobseeker_frame(engine, src.as_of), complete_only=complete_only)


def run_diagnose(src: Source, outcome: str | None = None, covariates: Sequence[str] | None = None,
                 rows: Sequence[str] = ()) -> dict[str, Any]:
    """Associations with the outcome (the city default: employment within 6 months)."""
    df = load_frame(src)
    if rows:
        df = df[group_mask(df, rows)]
    out = outcome or (OUTCOME if src.is_city else None)
    if out is None:
        raise ValueError("--outcome is required with --data")
    covs = list(covariates) if covariates else (list(DIAGNOSE_COVARIATES) if src.is_city else
                                                [c for c in df.columns if c != out])
    return diagnose(df, out, covs)


def city_effect(df: pd.DataFrame, service: str, estimand: str, covariates: Sequence[str] | None,
                settings: EffectSettings | None = None) -> dict[str, Any]:
    """One service against none on the city frame, with the population it averages over named."""
    res = estimate_effect(service_data(df, service, covariates or CITY_COVARIATES), estimand, settings)
    res["population"] = (f"job seekers whose 6-month outcome is known and who got {service} or no service"
                         + (" (the effect on those who got it)" if estimand == "att" else ""))
    return res


def run_effect(src: Source, *, treatment: str | None = None, outcome: str | None = None,
               covariates: Sequence[str] | None = None, service: str | None = None, estimand: str = "ate",
               settings: EffectSettings | None = None) -> dict[str, Any]:
    """ATE/ATT of a service (city) or of any 0/1 column (file), with overlap, placebo, sensitivity."""
    df = load_frame(src)
    if src.is_city:
        if not service:
            raise ValueError("--service is required with --db (e.g. language_course)")
        return city_effect(df, service, estimand, covariates, settings)
    if not treatment or not outcome:
        raise ValueError("--treatment and --outcome are required with --data")
    return estimate_effect(analysis_data(df, treatment, outcome, covariates), estimand, settings)


def run_whatif(src: Source, *, coverage_to: float, coverage_from: float | None = None, group: Sequence[str] = (),
               service: str | None = None, treatment: str | None = None, outcome: str | None = None,
               covariates: Sequence[str] | None = None, settings: EffectSettings | None = None) -> dict[str, Any]:
    """Change in the group's outcome if coverage of the service rose to ``coverage_to``."""
    df = load_frame(src)
    in_group = group_mask(df, group) if group else pd.Series(True, index=df.index)
    if src.is_city:
        if not service:
            raise ValueError("--service is required with --db")
        comparable = df["service"].isin([service, "none"])
        data = service_data(df, service, covariates or CITY_COVARIATES)
        other = (in_group & ~comparable).to_numpy()
        res = what_if(data, in_group[comparable].to_numpy(), coverage_from, coverage_to, other_treated=other,
                      settings=settings)
    else:
        if not treatment or not outcome:
            raise ValueError("--treatment and --outcome are required with --data")
        res = what_if(analysis_data(df, treatment, outcome, covariates), in_group.to_numpy(), coverage_from,
                      coverage_to, settings=settings)
    res["group"] = list(group) or ["everyone"]
    return res


def run_predict(src: Source, *, outcome: str | None = None, features: Sequence[str] | None = None,
                seed: int = 0, n_boot: int = 200, survival: bool = False) -> dict[str, Any]:
    """Fit and judge the calibrated employment model; returns the report (model card included).

    ``survival`` adds the time-to-employment view (city only): a Cox model over every spell,
    unfinished ones censored rather than counted as "not employed".
    """
    df = load_frame(src, complete_only=not (survival and src.is_city))
    out = outcome or (OUTCOME if src.is_city else None)
    if out is None:
        raise ValueError("--outcome is required with --data")
    feats = list(features) if features else ([*CITY_COVARIATES, "service"] if src.is_city else
                                             [c for c in df.columns if c != out])
    everyone = df
    if "follow_up_complete" in df:
        df = df[df["follow_up_complete"].astype(bool)].reset_index(drop=True)
    _, report = fit_prediction(df, out, feats, seed=seed, n_boot=n_boot)
    if survival and src.is_city:
        surv = time_to_employment(everyone, feats)
        p = surv.pop("p_employed_by_horizon")
        report["time_to_employment"] = surv | {"mean_p_employed_by_horizon": float(p.mean())}
    return report


def run_recommend(src: Source, *, model_path: Path | None = None, person: int | None = None,
                  spell: int | None = None, top: int = 5, seed: int = 0, profile: str = "standard"
                  ) -> dict[str, Any]:
    """Fit (or load) the service-effect model; recommend for one job seeker or report the policy."""
    model: ServiceEffectModel
    everyone = load_frame(src, complete_only=False)
    df = everyone[everyone["follow_up_complete"].astype(bool)].reset_index(drop=True) \
        if "follow_up_complete" in everyone else everyone
    if model_path is not None and model_path.exists():
        model = load_model(model_path)
        fitted = False
    else:
        model = fit_service_effects(df, seed=seed, profile=profile)
        fitted = True
        if model_path is not None:
            save_model(model, model_path)
    out: dict[str, Any] = {"model": {"arms": model.arms, "profile": model.profile, "n_train": model.n_train,
                                     "data_window": model.data_window, "fitted_now": fitted,
                                     "saved_to": str(model_path) if model_path else None},
                           "policy": model.policy_report(df)}
    if person is not None or spell is not None:
        key, value = ("spell_id", spell) if spell is not None else ("person_id", person)
        rows = everyone[everyone[key] == value]
        if rows.empty:
            raise KeyError(f"no job-seeking spell for {key} {value}")
        latest = rows.sort_values("start_date").iloc[[-1]] if "start_date" in rows else rows.iloc[[-1]]
        out["recommendations"] = model.recommend(latest)[:top]
        out["spell_id"] = int(latest["spell_id"].iloc[0]) if "spell_id" in latest else None
    out["population_effects"] = {a: dict(v) for a, v in model.average.items()}
    out["note"] = ("estimated effects on the probability of employment within 6 months, in probability points; "
                   "the counsellor decides, the model suggests")
    return _jsonable(out)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj
