"""``ennakoiva analyze …``: JSON contracts, refusal on no overlap, the city path through the access gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ennakoiva.interfaces.cli.main import app

REQUIRED = {"estimate", "ci_low", "ci_high", "estimand", "n_treated", "n_control", "overlap", "placebo",
            "sensitivity", "refused"}


@pytest.fixture(autouse=True)
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ENNAKOIVA_DB_URL", f"sqlite:///{tmp_path / 'store.sqlite3'}")
    monkeypatch.setenv("ENNAKOIVA_AUDIT_KEY_FILE", str(tmp_path / "audit.key"))
    monkeypatch.setenv("ENNAKOIVA_AUDIT_CHECKPOINT_FILE", str(tmp_path / "checkpoints.jsonl"))
    return tmp_path


def _file(tmp_path: Path, overlap: bool) -> Path:
    rng = np.random.default_rng(4)
    n = 3000
    x, z = rng.normal(size=n), rng.choice(["a", "b", "c"], n)
    t = (rng.random(n) < 1 / (1 + np.exp(-x))) if overlap else (x > 0)
    y = rng.random(n) < 0.3 + 0.1 * t + 0.1 * (x > 0)
    path = tmp_path / ("ok.csv" if overlap else "no_overlap.parquet")
    df = pd.DataFrame({"x": x, "z": z, "treated": t.astype(int), "employed": y.astype(int)})
    df.to_csv(path, index=False) if overlap else df.to_parquet(path)
    return path


def _json(args: list[str]) -> dict[str, Any]:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_effect_on_a_file(tmp_path: Path) -> None:
    out = _json(["analyze", "effect", "--data", str(_file(tmp_path, True)), "--treatment", "treated", "--outcome",
                 "employed", "--covariates", "x,z", "--estimand", "att", "--n-rep", "1", "--json"])
    assert set(out) >= REQUIRED and out["refused"] is None
    assert out["ci_low"] <= 0.1 <= out["ci_high"]
    assert out["overlap"]["pass"] and "share_lacking_support" in out["overlap"]
    assert out["placebo"]["pass"] and out["sensitivity"]["robustness_value"] > 0


def test_effect_refuses_without_overlap(tmp_path: Path) -> None:
    out = _json(["analyze", "effect", "--data", str(_file(tmp_path, False)), "--treatment", "treated", "--outcome",
                 "employed", "--n-rep", "1", "--json"])
    assert set(out) >= REQUIRED
    assert out["estimate"] is None and out["refused"]["reason"] and not out["overlap"]["pass"]


def test_whatif_and_diagnose_on_a_file(tmp_path: Path) -> None:
    path = str(_file(tmp_path, True))
    out = _json(["analyze", "whatif", "--data", path, "--treatment", "treated", "--outcome", "employed",
                 "--covariates", "x,z", "--group", "z=a,b", "--to", "0.7", "--n-rep", "1", "--json"])
    assert out["refused"] is None and out["ci_low"] <= out["delta"] <= out["ci_high"]
    diag = _json(["analyze", "diagnose", "--data", path, "--outcome", "employed", "--covariates", "x,z", "--json"])
    assert "not cause" in diag["label"] and {t["term"] for t in diag["terms"]} == {"x", "z=b", "z=c"}


def test_effect_on_the_city_and_errors(small_city: Any) -> None:
    out = _json(["analyze", "effect", "--db", str(small_city.db), "--service", "wage_subsidy", "--estimand", "att",
                 "--n-rep", "1", "--no-placebo", "--json"])
    assert set(out) >= REQUIRED and out["treatment"] == "wage_subsidy" and out["n_treated"] > 0
    result = CliRunner().invoke(app, ["analyze", "effect", "--db", str(small_city.db), "--json"])
    assert result.exit_code == 2 and "--service is required" in result.output


def test_predict_and_recommend_on_the_city(small_city: Any, tmp_path: Path) -> None:
    pred = _json(["analyze", "predict", "--db", str(small_city.db), "--n-boot", "20", "--survival", "--json"])
    assert 0.5 < pred["metrics"]["auc"] < 1 and pred["model_card"]["features"]
    assert pred["time_to_employment"]["terms"] and 0 < pred["time_to_employment"]["censored_share"] < 1
    model = tmp_path / "m.joblib"
    from ennakoiva.adapters.ml.recommend import fit_service_effects, save_model  # noqa: PLC0415 - test set-up only
    from ennakoiva.platform.analysis import Source, load_frame  # noqa: PLC0415 - test set-up only
    frame = load_frame(Source(db=small_city.db))
    save_model(fit_service_effects(frame.head(4000), cv=2), model)  # a quick model: the CLI only loads it
    rec = _json(["analyze", "recommend", "--db", str(small_city.db), "--model", str(model),
                 "--spell", str(int(frame["spell_id"].iloc[0])), "--json"])
    assert not rec["model"]["fitted_now"] and len(rec["recommendations"]) == 5
    assert rec["policy"]["one_size_fits_all"]["service"] in rec["model"]["arms"]
