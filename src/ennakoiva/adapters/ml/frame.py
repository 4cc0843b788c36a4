"""The analysis frame: features, treatment and outcome as numbers, from the city or any table.

Two entry points share one encoding:

- :func:`city_frame` turns the engine's job-seeker table (one row per spell) into the frame the
  ladder uses: ordinal CEFR and education ranks, a female flag, the service received, the 6-month
  outcome — keeping only spells whose 6-month outcome is observable (``follow_up_complete``);
- :func:`design_matrix` encodes *any* DataFrame's covariates for the estimators: numbers and
  booleans as they are, known ordinal codes (CEFR, education) as ranks, other text as one-hot.

Why ordinal ranks: Finnish skill and education are ordered, and both the trees and a counsellor
read "A2 or below" more naturally than eight unrelated dummies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = [
    "CEFR", "CITY_COVARIATES", "DIAGNOSE_COVARIATES", "EDUCATION", "SERVICES", "AnalysisData", "analysis_data",
    "binary_column", "city_frame", "design_matrix", "group_mask", "read_table", "service_data",
]

CEFR = ("none", "A1", "A2", "B1", "B2", "C1", "C2", "native")
EDUCATION = ("basic", "upper_secondary", "tertiary_lower", "tertiary_higher")
SERVICES = ("language_course", "vocational_training", "coaching", "wage_subsidy", "recruitment_event")
ORDINALS: dict[str, tuple[str, ...]] = {"finnish_skill": CEFR, "swedish_skill": CEFR, "education_level": EDUCATION}

# What a counsellor knows at registration (and the city's area indicator). Mother tongue and sex
# are deliberately absent: they are reported on (fairness), not decided on.
# The diagnosis rung's readable characteristics (associations with the outcome).
DIAGNOSE_COVARIATES = ("age_band", "female", "foreign_language", "weak_finnish", "education_level",
                       "work_history_years", "long_unemployed_before", "area_unemployment_pct")
CITY_COVARIATES = ("age_at_start", "education_level", "finnish_skill", "swedish_skill", "work_history_years",
                   "months_unemployed_before", "area_unemployment")


def read_table(path: str) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame (``--data FILE``)."""
    if str(path).lower().endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    return pd.read_csv(path)


def city_frame(table: pa.Table | pd.DataFrame, *, complete_only: bool = True) -> pd.DataFrame:
    """The job-seeker frame: one row per spell, ``service`` ('none' if none) and the 6-month outcome."""
    df = table.to_pandas() if isinstance(table, pa.Table) else table.copy()
    if complete_only and "follow_up_complete" in df:
        df = df[df["follow_up_complete"].astype(bool)]
    df = df.reset_index(drop=True)
    df["service"] = df["service"].fillna("none").astype(str)
    df["employed_within_6m"] = df["employed_within_6m"].astype(int)
    df["female"] = (df["sex"].astype(str).str.upper().str[0] == "F").astype(int)
    df["foreign_language"] = (~df["mother_tongue"].isin(["fi", "sv"])).astype(int)
    fin = df["finnish_skill"].map({v: i for i, v in enumerate(CEFR)})
    df["weak_finnish"] = (fin <= CEFR.index("A2")).astype(int)
    df["long_unemployed_before"] = (df["months_unemployed_before"] >= 12).astype(int)
    df["area_unemployment_pct"] = 100.0 * df["area_unemployment"]  # per percentage point reads better
    df["age_band"] = pd.cut(df["age_at_start"], [0, 25, 30, 50, 55, 200], right=False,
                            labels=["under 25", "25-29", "30-49", "50-54", "55+"]).astype(str)
    return df


def binary_column(values: pd.Series, name: str) -> np.ndarray:
    """A 0/1 array from booleans, 0/1 numbers or yes/no-like text; anything else is an error."""
    if values.isna().any():
        raise ValueError(f"column {name!r} has missing values")
    if values.dtype == bool:
        return values.to_numpy().astype(int)
    if pd.api.types.is_numeric_dtype(values):
        uniq = set(np.unique(values.to_numpy()))
        if not uniq <= {0, 1}:
            raise ValueError(f"column {name!r} must be 0/1, found values {sorted(uniq)[:5]}")
        return values.to_numpy().astype(int)
    text = values.astype(str).str.lower()
    truthy, falsy = {"true", "yes", "1", "t", "y"}, {"false", "no", "0", "f", "n"}
    if not set(text.unique()) <= truthy | falsy:
        raise ValueError(f"column {name!r} must be binary (0/1, true/false), found {sorted(text.unique())[:5]}")
    return text.isin(truthy).to_numpy().astype(int)


def design_matrix(df: pd.DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
    """Covariates as numbers: numeric and bool kept, known ordinals ranked, other text one-hot."""
    missing = [c for c in covariates if c not in df.columns]
    if missing:
        raise KeyError(f"no such column(s): {', '.join(missing)}")
    out: dict[str, np.ndarray] = {}
    for col in covariates:
        s = df[col]
        if s.dtype == bool or pd.api.types.is_numeric_dtype(s):
            vals = s.to_numpy().astype(float)
            if np.isnan(vals).any():
                vals = np.where(np.isnan(vals), np.nanmedian(vals), vals)
                out[f"{col}_missing"] = s.isna().to_numpy().astype(float)
            out[col] = vals
        elif col in ORDINALS and set(s.dropna().unique()) <= set(ORDINALS[col]):
            out[col] = s.map({v: i for i, v in enumerate(ORDINALS[col])}).to_numpy().astype(float)
        else:
            cats = sorted(s.fillna("missing").astype(str).unique())
            if len(cats) > 50:
                raise ValueError(f"column {col!r} has {len(cats)} categories; encode it before analysis")
            for cat in cats[1:]:  # first category is the reference
                out[f"{col}={cat}"] = (s.fillna("missing").astype(str) == cat).to_numpy().astype(float)
    return pd.DataFrame(out, index=df.index)


@dataclass(frozen=True)
class AnalysisData:
    """Encoded covariates, a 0/1 treatment and a numeric outcome, row-aligned."""

    x: pd.DataFrame
    treatment: np.ndarray
    outcome: np.ndarray
    treatment_name: str
    outcome_name: str


def analysis_data(df: pd.DataFrame, treatment: str, outcome: str, covariates: Sequence[str] | None = None
                  ) -> AnalysisData:
    """Any DataFrame + column names -> encoded analysis data (covariates default to all other columns)."""
    for col in (treatment, outcome):
        if col not in df.columns:
            raise KeyError(f"no such column: {col!r}")
    covs = list(covariates) if covariates else [c for c in df.columns if c not in (treatment, outcome)]
    if treatment in covs or outcome in covs:
        raise ValueError("the treatment and the outcome cannot be covariates")
    y = df[outcome]
    if y.isna().any():
        raise ValueError(f"outcome {outcome!r} has missing values")
    y_num = binary_column(y, outcome) if not pd.api.types.is_numeric_dtype(y) else y.to_numpy().astype(float)
    return AnalysisData(design_matrix(df, covs), binary_column(df[treatment], treatment), y_num.astype(float),
                        treatment, outcome)


def service_data(frame: pd.DataFrame, service: str, covariates: Sequence[str] = CITY_COVARIATES,
                 outcome: str = "employed_within_6m", *, rows: pd.Series | None = None) -> AnalysisData:
    """One service against no service: the spells that got ``service`` or nothing (``rows`` narrows).

    Spells with another service are left out, so the comparison is "this service or none" and the
    estimand is averaged over the people who got one of the two.
    """
    known = sorted(set(frame["service"]) - {"none"})
    if service not in known:
        raise ValueError(f"unknown service {service!r}; the data has: {', '.join(known)}")
    keep = frame["service"].isin([service, "none"])
    if rows is not None:
        keep &= rows.to_numpy(dtype=bool)
    sub = frame[keep].reset_index(drop=True)
    sub = sub.assign(_treated=(sub["service"] == service).astype(int))
    data = analysis_data(sub, "_treated", outcome, covariates)
    return AnalysisData(data.x, data.treatment, data.outcome, service, outcome)


def group_mask(df: pd.DataFrame, specs: Sequence[str]) -> pd.Series:
    """Rows matching every spec: ``col=a,b`` (one of the values), ``col<n``, ``col<=n``, ``col>n``, ``col>=n``."""
    mask = pd.Series(True, index=df.index)
    for spec in specs:
        for op in ("<=", ">=", "<", ">", "="):
            if op in spec:
                col, value = (part.strip() for part in spec.split(op, 1))
                break
        else:
            raise ValueError(f"group {spec!r} must look like col=a,b or col<number")
        if col not in df.columns:
            raise KeyError(f"no such column in the group {spec!r}: {col!r}")
        if op == "=":
            mask &= df[col].astype(str).isin([v.strip() for v in value.split(",")])
        else:
            num = float(value)
            s = df[col].astype(float)
            mask &= {"<": s < num, "<=": s <= num, ">": s > num, ">=": s >= num}[op]
    return mask
