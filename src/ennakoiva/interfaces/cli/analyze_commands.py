"""``ennakoiva analyze diagnose|effect|whatif|predict|recommend``: the ladder's upper rungs.

Each works on the city (``--db``: a person-level read decided and audited under
employment-service-recommendations) or on any CSV/Parquet file (``--data`` with column names).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ennakoiva.interfaces.cli.errors import clean_errors
from ennakoiva.interfaces.cli.options import JsonOption, StoreOption, settings_for

if TYPE_CHECKING:
    from types import ModuleType

    from ennakoiva.adapters.ml.effect import EffectSettings
    from ennakoiva.platform.analysis import Source

__all__ = ["analyze_app"]

console = Console()
analyze_app = typer.Typer(help="Diagnose, estimate effects, simulate, predict and recommend (employment services).",
                          no_args_is_help=True)

DbOpt = Annotated[Path | None, typer.Option("--db", help="DuckDB file of the city.")]
DataOpt = Annotated[Path | None, typer.Option("--data", help="A CSV or Parquet file to analyse instead.")]
OutcomeOpt = Annotated[str | None, typer.Option("--outcome", help="Outcome column (city: employed_within_6m).")]
CovOpt = Annotated[str | None, typer.Option("--covariates", help="Comma-separated covariate columns.")]
ActorOpt = Annotated[str, typer.Option("--actor", help="Who runs it (logged in the audit log).")]
RoleOpt = Annotated[str, typer.Option("--role", help="The actor's role.")]
UnitOpt = Annotated[str, typer.Option("--actor-service", help="The service unit the actor works in.")]
ServiceOpt = Annotated[str | None, typer.Option("--service", help="Employment service (city), e.g. language_course.")]
GroupOpt = Annotated[list[str] | None, typer.Option("--group", help="Rows to keep: col=a,b or col<n (repeatable).")]


def _analysis() -> ModuleType:
    """The analysis platform, imported on first use: it loads scikit-learn, EconML and DoubleML (seconds)."""
    from ennakoiva.platform import analysis  # noqa: PLC0415 - keeps every other command fast to start

    return analysis


def _source(db: Path | None, data: Path | None, actor: str, role: str, unit: str, store: str | None) -> Source:
    return _analysis().Source(db=db, data=data, actor=actor, role=role, service=unit, settings=settings_for(store))


def _cols(text: str | None) -> list[str] | None:
    return [c.strip() for c in text.split(",") if c.strip()] if text else None


def _clean(obj: Any) -> Any:
    """NaN and infinities become null so the JSON is standard."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _emit(result: dict[str, Any], json_out: bool) -> bool:
    if json_out:
        typer.echo(json.dumps(_clean(result), indent=2, default=str))
    return json_out


def _pp(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:+.1f} pp"


@analyze_app.command("diagnose")
@clean_errors
def diagnose_cmd(db: DbOpt = None, data: DataOpt = None, outcome: OutcomeOpt = None, covariates: CovOpt = None,
                 group: GroupOpt = None, actor: ActorOpt = "analytics", role: RoleOpt = "counsellor",
                 actor_service: UnitOpt = "employment-services", store: StoreOption = None,
                 json_out: JsonOption = False) -> None:
    """Which characteristics go with the outcome: odds ratios and marginal effects with 95 % CIs."""
    with console.status("fitting the interpretable model…"):
        res = _analysis().run_diagnose(_source(db, data, actor, role, actor_service, store), outcome, _cols(covariates),
                           group or ())
    if _emit(res, json_out):
        return
    table = Table(title=f"{res['outcome']} (n = {res['n']:,}) — {res['label']}")
    for col in ("characteristic", "effect", "95 % CI", "odds ratio"):
        table.add_column(col)
    for t in res["terms"]:
        if "marginal_effect" in t:
            lo, hi = t["marginal_effect_ci"]
            table.add_row(t["term"], _pp(t["marginal_effect"]), f"{lo * 100:+.1f} to {hi * 100:+.1f}",
                          f"{t['odds_ratio']:.2f}")
        else:
            lo, hi = t["coefficient_ci"]
            table.add_row(t["term"], f"{t['coefficient']:+.3g}", f"{lo:+.3g} to {hi:+.3g}", "")
    console.print(table)


def _settings(n_rep: int, learner: str, placebo: bool, seed: int) -> EffectSettings:
    return _analysis().EffectSettings(n_rep=n_rep, learner=learner, placebo=placebo, seed=seed)


NRepOpt = Annotated[int, typer.Option("--n-rep", min=1, help="Repeated cross-fitting splits.")]
LearnerOpt = Annotated[str, typer.Option("--learner", help="Nuisance learner: lgbm or linear.")]
PlaceboOpt = Annotated[bool, typer.Option("--placebo/--no-placebo", help="Run the permuted-treatment check.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (same seed, same numbers).")]


@analyze_app.command("effect")
@clean_errors
def effect_cmd(db: DbOpt = None, data: DataOpt = None, service: ServiceOpt = None,
               treatment: Annotated[str | None, typer.Option("--treatment", help="0/1 treatment column.")] = None,
               outcome: OutcomeOpt = None, covariates: CovOpt = None,
               estimand: Annotated[str, typer.Option("--estimand", help="ate or att.")] = "ate",
               n_rep: NRepOpt = 3, learner: LearnerOpt = "lgbm", placebo: PlaceboOpt = True, seed: SeedOpt = 0,
               actor: ActorOpt = "analytics", role: RoleOpt = "counsellor",
               actor_service: UnitOpt = "employment-services", store: StoreOption = None,
               json_out: JsonOption = False) -> None:
    """Causal effect (ATE/ATT) with overlap guard, placebo, sensitivity; refuses without overlap."""
    with console.status("estimating (DoubleML, cross-fitted)…"):
        res = _analysis().run_effect(_source(db, data, actor, role, actor_service, store), treatment=treatment,
                                     outcome=outcome,
                         covariates=_cols(covariates), service=service, estimand=estimand,
                         settings=_settings(n_rep, learner, placebo, seed))
    if _emit(res, json_out):
        return
    if res["refused"]:
        console.print(f"[bold yellow]refused:[/] {res['refused']['reason']}")
        return
    naive = res["naive_difference"]
    console.print(f"{res['estimand'].upper()} of {res['treatment']} on {res['outcome']}: "
                  f"[bold]{_pp(res['estimate'])}[/] (95 % CI {_pp(res['ci_low'])} to {_pp(res['ci_high'])}); "
                  f"naive difference {_pp(naive['estimate'])}; {res['n_treated']:,} treated, "
                  f"{res['n_control']:,} untreated")
    console.print(f"overlap: {'pass' if res['overlap']['pass'] else 'fail'} "
                  f"({res['overlap']['share_lacking_support']:.1%} lacking support)")
    if res["placebo"]:
        console.print(f"placebo (permuted treatment): {_pp(res['placebo']['estimate'])} "
                      f"({'pass' if res['placebo']['pass'] else 'FAIL'})")
    console.print(f"sensitivity: {res['sensitivity']['reading']}"
                  + (" — [bold yellow]fragile[/]" if res["sensitivity"]["fragile"] else ""))
    if res["sensitivity"].get("note"):
        console.print(f"  ({res['sensitivity']['note']})")


@analyze_app.command("whatif")
@clean_errors
def whatif_cmd(to: Annotated[float, typer.Option("--to", help="Target coverage, 0-1 (e.g. 0.5).")],
               db: DbOpt = None, data: DataOpt = None, service: ServiceOpt = None,
               treatment: Annotated[str | None, typer.Option("--treatment", help="0/1 treatment column.")] = None,
               outcome: OutcomeOpt = None, covariates: CovOpt = None, group: GroupOpt = None,
               from_: Annotated[float | None, typer.Option("--from", help="Current coverage (default: observed).")
                                ] = None,
               n_rep: NRepOpt = 3, learner: LearnerOpt = "lgbm", seed: SeedOpt = 0,
               actor: ActorOpt = "analytics", role: RoleOpt = "counsellor",
               actor_service: UnitOpt = "employment-services", store: StoreOption = None,
               json_out: JsonOption = False) -> None:
    """If coverage of a service in a group rose from x to y, how would the outcome change (with CI)?"""
    with console.status("estimating the effect on the untreated…"):
        res = _analysis().run_whatif(_source(db, data, actor, role, actor_service, store), coverage_to=to,
                         coverage_from=from_, group=group or (), service=service, treatment=treatment,
                         outcome=outcome, covariates=_cols(covariates),
                         settings=_settings(n_rep, learner, True, seed))
    if _emit(res, json_out):
        return
    if res["refused"]:
        console.print(f"[bold yellow]refused:[/] {res['refused']['reason']}")
        return
    console.print(res["sentence"] + f" — group {', '.join(res['group'])}, {res['group_size']:,} people, "
                                    f"about {res['newly_treated']:,} newly treated")


@analyze_app.command("predict")
@clean_errors
def predict_cmd(db: DbOpt = None, data: DataOpt = None, outcome: OutcomeOpt = None,
                features: Annotated[str | None, typer.Option("--features", help="Comma-separated features.")] = None,
                n_boot: Annotated[int, typer.Option("--n-boot", min=10, help="Bootstrap draws per group.")] = 200,
                survival: Annotated[bool, typer.Option("--survival", help="Add time to employment (Cox, city).")
                                    ] = False,
                seed: SeedOpt = 0, actor: ActorOpt = "analytics", role: RoleOpt = "counsellor",
                actor_service: UnitOpt = "employment-services", store: StoreOption = None,
                json_out: JsonOption = False) -> None:
    """Calibrated P(employed within 6 months): holdout AUC/Brier, calibration, fairness, conformal sets."""
    with console.status("fitting, calibrating and judging on the holdout…"):
        res = _analysis().run_predict(_source(db, data, actor, role, actor_service, store), outcome=outcome,
                          features=_cols(features), seed=seed, n_boot=n_boot, survival=survival)
    if _emit(res, json_out):
        return
    m, c = res["metrics"], res["conformal"]
    console.print(f"holdout AUC {m['auc']:.3f}, Brier {m['brier']:.4f}, calibration error "
                  f"{m['calibration_error']:.4f} (n = {m['n_holdout']:,}); conformal {c['confidence']:.0%} sets "
                  f"cover {c['coverage']:.1%}, {c['share_both_labels']:.0%} say 'cannot tell'")
    for col, rows in res["fairness"].items():
        table = Table(title=f"fairness by {col}")
        for name in ("group", "n", "AUC (95 % CI)", "calibration error", "observed", "predicted"):
            table.add_column(name)
        for r in rows:
            lo, hi = r["ci"]["auc"]
            table.add_row(r["group"], f"{int(r['n']):,}", f"{r['auc']:.3f} ({lo:.3f}-{hi:.3f})",
                          f"{r['calibration_error']:.3f}", f"{r['observed_rate']:.3f}", f"{r['mean_predicted']:.3f}")
        console.print(table)


@analyze_app.command("recommend")
@clean_errors
def recommend_cmd(db: DbOpt = None, data: DataOpt = None,
                  model: Annotated[Path | None, typer.Option("--model", help="Model file: loaded if present, "
                                                                               "else fitted and saved there.")] = None,
                  person: Annotated[int | None, typer.Option("--person", help="Job seeker's person id.")] = None,
                  spell: Annotated[int | None, typer.Option("--spell", help="Spell id (instead of --person).")
                                   ] = None,
                  top: Annotated[int, typer.Option("--top", min=1, help="How many services to list.")] = 5,
                  profile: Annotated[str, typer.Option("--profile", help="Effect features: standard or detailed.")
                                     ] = "standard",
                  seed: SeedOpt = 0, actor: ActorOpt = "analytics", role: RoleOpt = "counsellor",
                  actor_service: UnitOpt = "employment-services", store: StoreOption = None,
                  json_out: JsonOption = False) -> None:
    """Services ranked by estimated effect for one job seeker (or the policy over everyone)."""
    with console.status("estimating per-person service effects…"):
        res = _analysis().run_recommend(_source(db, data, actor, role, actor_service, store), model_path=model,
                                        person=person,
                            spell=spell, top=top, seed=seed, profile=profile)
    if _emit(res, json_out):
        return
    for r in res.get("recommendations", []):
        console.print(("  " if r["uncertain"] else "• ") + r["reason"])
    pol = res["policy"]
    honest = pol.get("cross_fitted") or {}
    if honest:
        per, one = honest["personal"], honest["one_size_fits_all"]
        console.print(f"personalised policy: gain {_pp(per['estimate'])} ({_pp(per['ci_low'])} to "
                      f"{_pp(per['ci_high'])}); one size fits all ({one['service']}): {_pp(one['estimate'])} "
                      f"({_pp(one['ci_low'])} to {_pp(one['ci_high'])}) — out of sample, cross-fitted")
    else:   # a model saved before the cross-fitted value was kept
        one = pol["one_size_fits_all"]
        console.print(f"personalised policy: estimated gain {_pp(pol['personal_policy_gain'])} (in sample); one "
                      f"size fits all ({one['service']}): {_pp(one['estimated_gain'])}")
