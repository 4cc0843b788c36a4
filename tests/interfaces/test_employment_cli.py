"""``ennakoiva employment register|queue|decide`` and ``ennakoiva model train|evaluate|promote|list``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from employment_support import REGISTRATION, trained_models
from ennakoiva.interfaces.cli.main import app
from ennakoiva.platform.operational import open_operational
from ennakoiva.platform.settings import Settings


@pytest.fixture(scope="module")
def trained(small_city: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_models(tmp_path_factory, small_city.db)


@pytest.fixture
def models(tmp_path: Path, trained: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own store and its own copy of the trained registry."""
    monkeypatch.setenv("ENNAKOIVA_DB_URL", f"sqlite:///{tmp_path / 'store.sqlite3'}")
    monkeypatch.setenv("ENNAKOIVA_AUDIT_KEY_FILE", str(tmp_path / "audit.key"))
    monkeypatch.setenv("ENNAKOIVA_AUDIT_CHECKPOINT_FILE", str(tmp_path / "checkpoints.jsonl"))
    target = tmp_path / "models"
    shutil.copytree(trained, target)
    monkeypatch.setenv("ENNAKOIVA_EMPLOYMENT_MODELS", str(target))
    return target


def run(*args: str, stdin: str | None = None) -> Any:
    result = CliRunner().invoke(app, list(args), input=stdin)
    return result


def test_register_from_a_file_and_from_stdin_then_queue_and_decide(models: Path, tmp_path: Path) -> None:
    source = tmp_path / "registration.json"
    source.write_text(json.dumps(REGISTRATION), encoding="utf-8")
    first = run("employment", "register", "--json", str(source))
    assert first.exit_code == 0, first.output
    answer = json.loads(first.output)
    assert len(answer["suggestions"]) == 5 and answer["cluster"]["names"]["sv"]
    second = run("employment", "register", "--json", "-", stdin=json.dumps(REGISTRATION | {"person_id": 1002}))
    assert second.exit_code == 0, second.output
    waiting = run("employment", "queue", "--json")
    assert [w["registration_id"] for w in json.loads(waiting.output)] == [
        answer["registration_id"], json.loads(second.output)["registration_id"]]
    table = run("employment", "queue", "--lang", "sv")
    assert table.exit_code == 0 and "2 registrations waiting" in table.output
    decided = run("employment", "decide", answer["registration_id"], "--service", "language_course",
                  "--reason", "Wants Finnish first", "--counsellor", "counsellor-3", "--json")
    assert decided.exit_code == 0, decided.output
    assert json.loads(decided.output)["counsellor_id"] == "counsellor-3"
    assert len(json.loads(run("employment", "queue", "--json").output)) == 1
    with open_operational(Settings()) as ops:
        purposes = {e.purpose_id for e in ops.audit.for_subject(REGISTRATION["person_id"])}
    assert purposes == {"employment-service-recommendations"}


def test_invalid_registrations_and_decisions_are_clear_errors(models: Path, tmp_path: Path) -> None:
    bad = run("employment", "register", "--json", "-", stdin=json.dumps(REGISTRATION | {"age": 12}))
    assert bad.exit_code == 2 and "age: must be at least 17" in bad.output
    broken = run("employment", "register", "--json", "-", stdin="{not json")
    assert broken.exit_code == 2 and "not valid JSON" in broken.output
    unknown = run("employment", "decide", "nope", "--service", "astrology", "--reason", "x")
    assert unknown.exit_code == 2 and "unknown service" in unknown.output


def test_model_list_promote_and_evaluate(models: Path, small_city: Any) -> None:
    listed = json.loads(run("model", "list", "--json").output)
    assert [(v["version"], v["promoted"]) for v in listed] == [("0001", True)]
    assert listed[0]["cluster_stability"]["ari_mean"] >= 0.8
    missing = run("model", "promote", "0042")
    assert missing.exit_code == 2 and "no model version" in missing.output
    shutil.copytree(models / "versions" / "0001", models / "versions" / "0002")
    promoted = json.loads(run("model", "promote", "0002", "--json").output)
    assert promoted == {"promoted": "0002", "previous": "0001"}
    run("employment", "register", "--json", "-", stdin=json.dumps(REGISTRATION))
    evaluated = run("model", "evaluate", "--db", str(small_city.db), "--json")
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.output)
    assert report["version"] == "0002" and report["holdout"]["auc"] > 0.5
    assert report["drift_vs_data"]["max_psi"] < 0.1               # the data it was trained on
    assert report["drift_vs_recent_registrations"]["n_recent"] == 1


def test_register_without_a_promoted_model_says_what_to_do(models: Path) -> None:
    (models / "promoted").unlink()
    result = run("employment", "register", "--json", "-", stdin=json.dumps(REGISTRATION))
    assert result.exit_code == 2 and "ennakoiva model train" in result.output


@pytest.mark.slow
def test_model_train_stores_a_version_with_its_card(models: Path, small_city: Any) -> None:
    result = run("model", "train", "--db", str(small_city.db), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["version"] == "0002" and out["promoted"] is False and out["sensitive_inputs"] == []
    card = json.loads((models / "versions" / "0002" / "model_card.json").read_text(encoding="utf-8"))
    assert card["training_window"]["n_spells"] > 1000 and card["fairness"]["mother_tongue"]
