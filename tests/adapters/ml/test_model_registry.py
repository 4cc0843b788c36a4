"""The model registry: versions on disk, an atomic promoted pointer, reload on promotion, drift by PSI."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ennakoiva.adapters.ml.model_registry import (
    PSI_MAJOR,
    ModelRegistry,
    PromotedModel,
    drift_report,
    reference_profile,
)


def test_versions_are_numbered_listed_and_loaded(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path)
    assert reg.list() == [] and reg.promoted() is None
    v1 = reg.save({"w": 1}, {"features": ["age"], "metrics": {"auc": 0.7}})
    v2 = reg.save({"w": 2}, {"features": ["age"]})
    assert (v1, v2) == ("0001", "0002")
    assert reg.load(v1) == {"w": 1} and reg.card(v1)["metrics"] == {"auc": 0.7}
    assert reg.card(v1)["version"] == "0001" and "created_at" in reg.card(v1)
    reg.promote(v1)
    assert [(v.version, v.promoted) for v in reg.list()] == [("0001", True), ("0002", False)]
    assert reg.latest() == "0002"
    reg.update_card(v2, evaluation={"auc": 0.71})
    assert reg.card(v2)["evaluation"] == {"auc": 0.71}
    with pytest.raises(ValueError, match="no model version"):
        reg.promote("0009")
    assert not list(tmp_path.glob("versions/.tmp-*")) and not list(tmp_path.glob(".promoted-*"))


def test_the_service_keeps_its_version_until_a_promotion_and_then_switches(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path)
    held = PromotedModel(reg)
    with pytest.raises(LookupError, match="no promoted model"):
        held.get()
    reg.promote(reg.save("first", {}))
    assert held.get()[:2] == ("0001", "first")
    v2 = reg.save("second", {})           # a retrain: stored, not yet serving
    assert held.get()[:2] == ("0001", "first")
    reg.promote(v2)
    assert held.get()[:2] == ("0002", "second")


def test_readers_never_see_a_missing_or_partial_pointer_during_promotions(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path)
    versions = [reg.save(i, {}) for i in range(3)]
    reg.promote(versions[0])
    seen: list[str | None] = []
    stop = threading.Event()

    def promote_loop() -> None:
        i = 0
        while not stop.is_set():
            reg.promote(versions[i % 3])
            i += 1

    writer = threading.Thread(target=promote_loop)
    writer.start()
    try:
        for _ in range(3000):
            seen.append(reg.promoted())
    finally:
        stop.set()
        writer.join()
    assert set(seen) <= set(versions)


def test_psi_is_zero_for_the_same_inputs_and_flags_a_shift() -> None:
    rng = np.random.default_rng(1)
    train = pd.DataFrame({"age": rng.integers(18, 64, 5000), "finnish_skill": rng.choice(["A2", "B1", "native"], 5000)})
    profile = reference_profile(train, ["age"], ["finnish_skill"])
    same = drift_report(profile, train)
    assert same["max_psi"] < 1e-6 and not same["drift"]
    shifted = train.assign(age=train["age"] + 15, finnish_skill="A2")
    report = drift_report(profile, shifted)
    assert report["drift"] and report["features"]["age"]["psi"] > PSI_MAJOR
    assert report["features"]["finnish_skill"]["verdict"] == "major"
    unseen = drift_report(profile, train.assign(finnish_skill="C2"))
    assert unseen["features"]["finnish_skill"]["verdict"] == "major"   # a category never seen in training
