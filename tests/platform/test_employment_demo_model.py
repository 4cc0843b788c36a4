"""The demo's employment service answers at once: a model is trained and promoted on first start only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ennakoiva.adapters.ml.model_registry import ModelRegistry
from ennakoiva.platform.employment_models import ensure_promoted_model
from ennakoiva.platform.operational import open_operational
from ennakoiva.platform.settings import Settings


def test_first_start_trains_and_promotes_a_restart_reuses_it(small_city: Any, tmp_path: Path) -> None:
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'store.sqlite3'}", audit_key_file=tmp_path / "audit.key",
                        audit_checkpoint_file=tmp_path / "checkpoints.jsonl", employment_models=tmp_path / "models")
    version, trained = ensure_promoted_model(settings, small_city.db)
    assert trained and ModelRegistry(tmp_path / "models").promoted() == version
    assert ensure_promoted_model(settings, small_city.db) == (version, False)
    with open_operational(settings) as ops:   # the training read was decided and logged, once
        reads = [e for e in ops.audit.entries() if e.purpose_id == "employment-service-recommendations"]
    assert len(reads) == 1 and reads[0].decision == "permit"
