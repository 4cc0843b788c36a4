"""Rung 5, what-if: "if coverage of service S among group G rose from x % to y %, employment within
6 months would change by Δ (CI)".

The people who would newly get S are, by assumption, drawn at random from those in G who now get
no service. The change in G's employment rate is then ``(y - x) × ATU``, where ATU is the average
effect of S on the currently untreated of G (the per-person effects of the would-be newly treated,
averaged). The ATU is the effect on the treated with the roles of the two groups swapped, so it
comes from the same DoubleML estimator, with the same overlap guard: if untreated people of G have
no comparable treated counterparts, the what-if is **refused** rather than extrapolated.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ennakoiva.adapters.ml.effect import EffectSettings, estimate_effect
from ennakoiva.adapters.ml.frame import AnalysisData

__all__ = ["what_if"]


def what_if(data: AnalysisData, in_group: np.ndarray | pd.Series, coverage_from: float | None, coverage_to: float,
            *, other_treated: np.ndarray | None = None, settings: EffectSettings | None = None) -> dict[str, Any]:
    """Change in the group's mean outcome if treatment coverage rose to ``coverage_to``.

    ``data`` holds the people who could be compared (treated and untreated); ``in_group`` marks
    the group. ``coverage_from`` defaults to the observed share treated in the group;
    ``other_treated`` (optional) counts the group's members outside ``data`` who got another
    service, so coverage is measured over the whole group.
    """
    g = np.asarray(in_group, dtype=bool)
    t = data.treatment[g]
    n_other = int(np.asarray(other_treated, dtype=bool).sum()) if other_treated is not None else 0
    n_group = int(g.sum()) + n_other
    observed = float(t.sum() / max(n_group, 1))
    x = observed if coverage_from is None else float(coverage_from)
    y = float(coverage_to)
    untreated_share = float((t == 0).sum() / max(n_group, 1))
    base: dict[str, Any] = {"treatment": data.treatment_name, "outcome": data.outcome_name, "group_size": n_group,
                            "coverage_observed": observed, "coverage_from": x, "coverage_to": y,
                            "newly_treated": round((y - x) * n_group), "assumption":
                            "the newly treated are drawn at random from the group's untreated people",
                            "delta": None, "ci_low": None, "ci_high": None, "refused": None}
    if not 0.0 <= x <= y <= 1.0:
        raise ValueError("coverage must satisfy 0 <= from <= to <= 1")
    if y - x > untreated_share + 1e-12:
        return base | {"refused": {"reason": f"only {untreated_share:.1%} of the group are untreated; coverage "
                                             f"cannot rise by {y - x:.1%}"}}
    flipped = AnalysisData(data.x[g].reset_index(drop=True), 1 - t, data.outcome[g],
                           f"not {data.treatment_name}", data.outcome_name)
    # ATT of "no service" = E[Y(0) - Y(1) | untreated] = -ATU
    res = estimate_effect(flipped, "att", settings)
    out = base | {"effect_on_untreated": None, "overlap": res["overlap"], "placebo": res["placebo"],
                  "sensitivity": res["sensitivity"], "n_treated": res["n_control"], "n_untreated": res["n_treated"]}
    if res["refused"]:
        return out | {"refused": res["refused"]}
    atu, lo, hi = -res["estimate"], -res["ci_high"], -res["ci_low"]
    step = y - x
    return out | {"effect_on_untreated": {"estimate": atu, "ci_low": lo, "ci_high": hi, "se": res["se"]},
                  "delta": step * atu, "ci_low": step * lo, "ci_high": step * hi,
                  "sentence": (f"if coverage of {data.treatment_name} rose from {x:.0%} to {y:.0%}, "
                               f"{data.outcome_name} would change by {step * atu * 100:+.1f} percentage points "
                               f"(95 % CI {step * lo * 100:+.1f} to {step * hi * 100:+.1f})")}
