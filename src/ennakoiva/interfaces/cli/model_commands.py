"""``ennakoiva model train|evaluate|promote|list``: the lifecycle of Employment service 2.0's model.

``train`` stores a new version (not promoted) with its model card; ``promote`` switches the
service to a version atomically (a running service keeps answering from the version it holds until
the switch); ``evaluate`` shows a version's holdout metrics and its calibration and input drift on
the city's current data and on recent registrations.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.interfaces.cli.errors import clean_errors
from ennakoiva.interfaces.cli.options import JsonOption, StoreOption, settings_for
from ennakoiva.platform.operational import open_operational

__all__ = ["model_app"]

console = Console()
model_app = typer.Typer(help="Employment service 2.0's model: train, evaluate, promote, list versions.",
                        no_args_is_help=True)

DbOption = Annotated[Path, typer.Option("--db", help="DuckDB file of the city.")]
ModelsOption = Annotated[Path | None, typer.Option("--models", help="Model registry folder "
                                                   "(default: ENNAKOIVA_EMPLOYMENT_MODELS).")]


def _registry(models: Path | None, store: str | None) -> Any:
    from ennakoiva.adapters.ml.model_registry import ModelRegistry  # noqa: PLC0415 - loads scikit-learn

    return ModelRegistry(models or settings_for(store).employment_models)


def _summary(card: dict[str, Any]) -> dict[str, Any]:
    metrics = card.get("metrics", {})
    pred = metrics.get("predictor", {})
    return {"version": card.get("version"), "created_at": card.get("created_at"),
            "training_window": card.get("training_window"), "auc": pred.get("auc"), "brier": pred.get("brier"),
            "calibration_error": pred.get("calibration_error"), "cluster_stability": metrics.get("cluster_stability"),
            "sensitive_inputs": card.get("sensitive_inputs", {}).get("used")}


@model_app.command()
@clean_errors
def train(
    db: DbOption,
    models: ModelsOption = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (fixed seed, same model).")] = 0,
    promote: Annotated[bool, typer.Option("--promote", help="Promote the new version at once.")] = False,
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """Train a new version on the city's job seekers (a logged population read) and store its model card."""
    from ennakoiva.platform.employment_models import (  # noqa: PLC0415 - scikit-learn loads only when training
        TrainSettings,
        load_training_frame,
        train_model,
    )

    registry = _registry(models, store)
    with open_operational(settings_for(store)) as ops, DuckDBEngine(db, read_only=True) as engine:
        frame, all_spells = load_training_frame(engine, ops.gate)
    version, card = train_model(frame, all_spells, registry, TrainSettings(seed=seed))
    if promote:
        registry.promote(version)
    out = _summary(card) | {"promoted": promote}
    if json_out:
        typer.echo(json.dumps(out, indent=2, ensure_ascii=False, default=str))
        return
    console.print(f"model version {version} trained on {card['training_window']['n_spells']:,} spells "
                  f"(AUC {out['auc']:.3f}, Brier {out['brier']:.3f}; cluster ARI "
                  f"{out['cluster_stability']['ari_mean']:.2f}){' and promoted' if promote else ''}")


@model_app.command()
@clean_errors
def evaluate(
    version: Annotated[str | None, typer.Argument(help="Version (default: the promoted one).")] = None,
    db: Annotated[Path | None, typer.Option("--db", help="City database to evaluate on (optional).")] = None,
    models: ModelsOption = None,
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """Holdout metrics, calibration on current data and input drift (current data, recent registrations)."""
    import pandas as pd  # noqa: PLC0415 - the models' libraries load only when evaluating

    from ennakoiva.platform.employment_models import evaluate_model, load_training_frame  # noqa: PLC0415
    from ennakoiva.platform.employment_service import employment_service_for  # noqa: PLC0415

    registry = _registry(models, store)
    chosen = version or registry.promoted() or registry.latest()
    if chosen is None:
        raise ValueError(f"no model versions in {registry.root}; run `ennakoiva model train` first")
    frame = None
    if db is not None:
        with open_operational(settings_for(store)) as ops, DuckDBEngine(db, read_only=True) as engine:
            frame, _ = load_training_frame(engine, ops.gate)
    with employment_service_for(settings_for(store), registry.root) as service:
        rows = service.store.recent_backgrounds()
    recent = pd.DataFrame(rows).rename(columns={"age": "age_at_start"}) if rows else None
    report = evaluate_model(registry, chosen, frame, recent)
    if json_out:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False, default=str))
        return
    console.print(f"[bold]model version {chosen}[/]  holdout AUC {report['holdout']['auc']:.3f}, "
                  f"Brier {report['holdout']['brier']:.3f}")
    for key in ("drift_vs_data", "drift_vs_recent_registrations"):
        if key in report:
            table = Table(title=key.replace("_", " "))
            table.add_column("feature")
            table.add_column("PSI", justify="right")
            table.add_column("verdict")
            for name, f in report[key]["features"].items():
                table.add_row(name, f"{f['psi']:.3f}", f["verdict"])
            console.print(table)


@model_app.command()
@clean_errors
def promote(
    version: Annotated[str, typer.Argument(help="The version to serve.")],
    models: ModelsOption = None,
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """Make the service answer from VERSION (an atomic switch)."""
    registry = _registry(models, store)
    before = registry.promoted()
    registry.promote(version)
    if json_out:
        typer.echo(json.dumps({"promoted": version, "previous": before}))
        return
    console.print(f"promoted model version {version} (was {before or 'none'})")


@model_app.command("list")
@clean_errors
def list_versions(models: ModelsOption = None, store: StoreOption = None, json_out: JsonOption = False) -> None:
    """Every stored version with its training window and headline metrics."""
    registry = _registry(models, store)
    rows = [_summary(v.card) | {"promoted": v.promoted} for v in registry.list()]
    if json_out:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False, default=str))
        return
    table = Table(title=f"Model versions in {registry.root}")
    for col in ("version", "created", "spells", "AUC", "Brier", "cluster ARI", "promoted"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["version"], str(r["created_at"]), f"{r['training_window']['n_spells']:,}", f"{r['auc']:.3f}",
                      f"{r['brier']:.3f}", f"{r['cluster_stability']['ari_mean']:.2f}", "yes" if r["promoted"] else "")
    console.print(table)
