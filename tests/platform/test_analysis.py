"""The ladder's use cases: a city read is decided and audited first; a file read needs no decision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ennakoiva.adapters.ml.effect import EffectSettings
from ennakoiva.platform.analysis import PURPOSE, Source, load_frame, run_effect, run_recommend
from ennakoiva.platform.operational import open_operational
from ennakoiva.platform.settings import Settings

FAST = EffectSettings(n_rep=1, n_folds=3, placebo=False)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(db_url=f"sqlite:///{tmp_path / 'store.sqlite3'}", audit_key_file=tmp_path / "audit.key",
                    audit_checkpoint_file=tmp_path / "checkpoints.jsonl")


def _entries(settings: Settings) -> list[Any]:
    with open_operational(settings) as ops:
        return list(ops.audit.entries())


def test_city_read_is_decided_and_logged(small_city: Any, settings: Settings) -> None:
    res = run_effect(Source(db=small_city.db, settings=settings), service="coaching", estimand="att", settings=FAST)
    assert res["refused"] is None and res["n_treated"] > 0
    entries = _entries(settings)
    assert len(entries) == 1
    assert entries[0].purpose_id == PURPOSE and entries[0].decision == "permit"


def test_city_read_refused_for_a_role_outside_the_purpose(small_city: Any, settings: Settings) -> None:
    with pytest.raises(PermissionError, match=PURPOSE):
        load_frame(Source(db=small_city.db, role="nurse", service="health-services", settings=settings))
    entries = _entries(settings)
    assert len(entries) == 1 and entries[0].decision == "deny"


def test_file_read_needs_no_decision(small_city: Any, settings: Settings, tmp_path: Path) -> None:
    frame = load_frame(Source(db=small_city.db, settings=settings))
    path = tmp_path / "jobseekers.csv"
    frame[["service", "employed_within_6m", "age_at_start", "finnish_skill", "education_level",
           "months_unemployed_before"]].assign(coached=(frame["service"] == "coaching").astype(int)).to_csv(path)
    before = len(_entries(settings))
    res = run_effect(Source(data=path, settings=settings), treatment="coached", outcome="employed_within_6m",
                     covariates=["age_at_start", "finnish_skill", "education_level", "months_unemployed_before"],
                     estimand="att", settings=FAST)
    assert res["n"] == len(frame) and res["estimate"] is not None
    assert len(_entries(settings)) == before


def test_recommend_for_a_person_with_an_ongoing_spell(small_city: Any, settings: Settings, tmp_path: Path) -> None:
    frame = load_frame(Source(db=small_city.db, settings=settings), complete_only=False)
    ongoing = frame[frame["end_date"].isna()].iloc[0]
    model = tmp_path / "model.joblib"
    first = run_recommend(Source(db=small_city.db, settings=settings), model_path=model,
                          person=int(ongoing["person_id"]), top=3)
    assert model.exists() and first["model"]["fitted_now"] and len(first["recommendations"]) == 3
    again = run_recommend(Source(db=small_city.db, settings=settings), model_path=model,
                          person=int(ongoing["person_id"]), top=3)
    assert not again["model"]["fitted_now"] and again["recommendations"] == first["recommendations"]
    assert first["policy"]["one_size_fits_all"]["service"] in first["model"]["arms"]
