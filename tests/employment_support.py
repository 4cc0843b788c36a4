"""Shared by the Employment service 2.0 tests: one model trained on the small city per session.

The model registry lives under the session's base temporary folder, so the platform, CLI and API
test modules train it once (the first one to ask) and reuse it after that.
"""

from __future__ import annotations

import fcntl
from pathlib import Path

import pytest

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.ml.model_registry import ModelRegistry
from ennakoiva.adapters.stores import sqlite_url
from ennakoiva.platform.employment_models import TrainSettings, load_training_frame, train_model
from ennakoiva.platform.operational import open_operational
from ennakoiva.platform.settings import Settings

# modest: the tests check behaviour, the slow quality test checks the numbers
TEST_TRAINING = TrainSettings(n_boot=30, stability_retrains=4)
REGISTRATION = {"person_id": 1001, "language": "en", "age": 27, "education_level": "basic", "finnish_skill": "A2",
                "swedish_skill": "none", "work_history_years": 2, "months_unemployed_before": 14}


def store_settings(folder: Path, models: Path) -> Settings:
    return Settings(db_url=sqlite_url(folder / "store.sqlite3"), audit_key_file=folder / "audit.key",
                    audit_checkpoint_file=folder / "checkpoints.jsonl", employment_models=models)


def trained_models(tmp_path_factory: pytest.TempPathFactory, city_db: Path) -> Path:
    """A registry folder with one promoted version trained on ``city_db`` (trained once per session)."""
    root = tmp_path_factory.getbasetemp() / "employment-models"
    root.mkdir(exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        registry = ModelRegistry(root / "models")
        if registry.promoted() is None:
            with open_operational(store_settings(root, root / "models")) as ops, \
                    DuckDBEngine(city_db, read_only=True) as engine:
                frame, all_spells = load_training_frame(engine, ops.gate)
            version, _ = train_model(frame, all_spells, registry, TEST_TRAINING)
            registry.promote(version)
    return root / "models"
