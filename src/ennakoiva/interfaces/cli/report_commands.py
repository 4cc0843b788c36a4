"""``ennakoiva report|drilldown|map`` and ``ennakoiva opendata publish``: protected aggregates.

Every number printed or written here passed disclosure control; every read of the city's data is
decided and logged under ``open-data-statistics`` first. ``--data FILE`` (CSV/Parquet, columns
named by the flags) works the same as ``--db`` on the city.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ennakoiva.adapters.reports.drilldown import Drilldown
from ennakoiva.adapters.reports.maps import render
from ennakoiva.adapters.reports.spec import AreaKind
from ennakoiva.domain.consent.decision import Actor
from ennakoiva.domain.disclosure import TOTAL
from ennakoiva.domain.types import LANGS
from ennakoiva.interfaces.cli.errors import clean_errors
from ennakoiva.interfaces.cli.options import JsonOption, StoreOption, settings_for
from ennakoiva.platform.opendata import publish_release
from ennakoiva.platform.reports import CitySource, FileSource, Source, choropleth, drilldown, policy_for, report

__all__ = ["drilldown_command", "map_command", "opendata_app", "report_command"]

console = Console()
opendata_app = typer.Typer(help="Open-data releases of protected aggregate tables.", no_args_is_help=True)

DbOpt = Annotated[Path | None, typer.Option("--db", help="DuckDB file of the city.")]
DataOpt = Annotated[Path | None, typer.Option("--data", help="A CSV or Parquet file instead of --db; one row a unit.")]
SpecOpt = Annotated[str, typer.Option("--spec", help="Analytics spec (catalogue/analytics) for --db.")]
MeasureOpt = Annotated[str | None, typer.Option(
    "--measure", help="Measure id of the spec; with --data a yes/no column or COLUMN=VALUE.")]
DenOpt = Annotated[str | None, typer.Option(
    "--denominator", help="With --data: who counts in the denominator (yes/no column or COLUMN=VALUE).")]
WeightOpt = Annotated[str | None, typer.Option("--weight", help="With --data: a column of counts (aggregated rows).")]
AreaColOpt = Annotated[list[str] | None, typer.Option(
    "--area-column", help="With --data: COLUMN=district or COLUMN=postal_area (repeatable).")]
FilterOpt = Annotated[list[str] | None, typer.Option(
    "--filter", help="Keep units with DIMENSION=VALUE[,VALUE…] (repeatable).")]
OnOpt = Annotated[str | None, typer.Option("--on", help="Reference date YYYY-MM-DD (default: the spec's).")]
ThresholdOpt = Annotated[int | None, typer.Option(
    "--threshold", help="Smallest count shown (policy default 5; never below 3).")]
PolicyOpt = Annotated[Path | None, typer.Option("--policy", help="Disclosure policy YAML (default: the catalogue's).")]
LangOpt = Annotated[str, typer.Option("--lang", help="Language of names: fi, sv or en.")]
ActorOpt = Annotated[str, typer.Option("--actor", help="Who runs it (logged in the audit log).")]
RoleOpt = Annotated[str, typer.Option("--role", help="The actor's role.")]
ServiceOpt = Annotated[str, typer.Option("--service", help="The actor's service.")]


def _source(db: Path | None, data: Path | None, spec: str, measure: str | None, denominator: str | None,
            weight: str | None, area_columns: list[str] | None) -> Source:
    if (db is None) == (data is None):
        raise ValueError("give exactly one of --db (the city) or --data (a CSV/Parquet file)")
    if db is not None:
        if denominator or weight or area_columns:
            raise ValueError("--denominator, --weight and --area-column are for --data; a spec declares them")
        return CitySource(db, spec)
    areas: dict[str, AreaKind] = {}
    for item in area_columns or []:
        col, _, kind = item.partition("=")
        if kind not in ("district", "postal_area"):
            raise ValueError(f"--area-column must be COLUMN=district or COLUMN=postal_area, not {item!r}")
        areas[col] = kind  # type: ignore[assignment]  # checked above
    assert data is not None
    return FileSource(data, measure=measure, denominator=denominator, weight=weight, areas=areas)


def _filters(items: list[str] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items or []:
        dim, sep, values = item.partition("=")
        if not sep or not dim.strip():
            raise ValueError(f"--filter must be DIMENSION=VALUE[,VALUE…], not {item!r}")
        out.setdefault(dim.strip(), []).extend(v.strip() for v in values.split(","))
    return out


def _common(on: str | None, threshold: int | None, policy: Path | None, lang: str, actor: str, role: str,
            service: str, store: str | None) -> dict[str, Any]:
    from datetime import date  # noqa: PLC0415

    if lang not in LANGS:
        raise ValueError(f"--lang must be one of {', '.join(LANGS)}, not {lang!r}")
    try:
        ref = date.fromisoformat(on) if on else None
    except ValueError as exc:
        raise ValueError(f"--on must be a date YYYY-MM-DD, not {on!r} ({exc})") from None
    return {"on": ref, "policy": policy_for(threshold, policy), "lang": lang,
            "actor": Actor(id=actor, role=role, service=service), "settings": settings_for(store)}


def _pct(share: float | None) -> str:
    return "" if share is None else f"{100 * share:.1f} %"


def _num(v: int | None) -> str:
    return ".." if v is None else f"{v:,}"


def _print(dd: Drilldown) -> None:
    table = Table(title=f"{dd.title} — {dd.reference_date}", caption=(
        f"'..' = suppressed (policy {dd.policy_id}, threshold {dd.threshold}); "
        f"{dd.suppressed_cells} of {len(dd.table.cells)} cells suppressed"))
    for d in dd.by:
        table.add_column(d)
    table.add_column(dd.count_name, justify="right")
    table.add_column(dd.denominator_name, justify="right")
    table.add_column("share", justify="right")
    for r in dd.rows:
        style = "bold" if r.margin and all(v == TOTAL for v in r.labels.values()) else None
        table.add_row(*r.labels.values(), _num(r.count), _num(r.denominator), _pct(r.share), style=style)
    console.print(table)


@clean_errors
def report_command(
    db: DbOpt = None, data: DataOpt = None, spec: SpecOpt = "residents",
    measure: Annotated[list[str] | None, typer.Option("--measure", help="Measures to report (default: all).")] = None,
    denominator: DenOpt = None, weight: WeightOpt = None, on: OnOpt = None, threshold: ThresholdOpt = None,
    policy: PolicyOpt = None, lang: LangOpt = "en", actor: ActorOpt = "statistics-run",
    role: RoleOpt = "statistician", service: ServiceOpt = "city-statistics", store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """Rung 1, the headline figures: how many units, and each measure over its denominator."""
    first = measure[0] if measure and data else None
    source = _source(db, data, spec, first, denominator, weight, None)
    results = report(source, None if data else measure, **_common(on, threshold, policy, lang, actor, role,
                                                                  service, store))
    if json_out:
        typer.echo(json.dumps([r.public() for r in results], indent=2, ensure_ascii=False))
        return
    table = Table(title=f"{results[0].title} — {results[0].reference_date}",
                  caption=f"'..' = suppressed (threshold {results[0].threshold})")
    for col in ("figure", "count", "of", "share"):
        table.add_column(col, justify="left" if col in ("figure", "of") else "right")
    for r in results:
        t = r.total()
        table.add_row(r.count_name, _num(t.count), r.denominator_name if r.measure else "", _pct(t.share))
    console.print(table)


@clean_errors
def drilldown_command(
    by: Annotated[str, typer.Option("--by", help="Dimensions, comma separated (e.g. district,sex).")],
    db: DbOpt = None, data: DataOpt = None, spec: SpecOpt = "residents", measure: MeasureOpt = None,
    denominator: DenOpt = None, weight: WeightOpt = None, area_column: AreaColOpt = None,
    filter_: FilterOpt = None, on: OnOpt = None, threshold: ThresholdOpt = None, policy: PolicyOpt = None,
    lang: LangOpt = "en", actor: ActorOpt = "statistics-run", role: RoleOpt = "statistician",
    service: ServiceOpt = "city-statistics", store: StoreOption = None, json_out: JsonOption = False,
) -> None:
    """Rung 2: counts, denominators and shares by any dimensions, after disclosure control."""
    dims = [d.strip() for d in by.split(",") if d.strip()]
    source = _source(db, data, spec, measure, denominator, weight, area_column)
    dd = drilldown(source, dims, measure, filters=_filters(filter_),
                   **_common(on, threshold, policy, lang, actor, role, service, store))
    if json_out:
        typer.echo(json.dumps(dd.public(), indent=2, ensure_ascii=False))
        return
    _print(dd)


@clean_errors
def map_command(
    out: Annotated[Path, typer.Option("--out", help="Map file: .svg, .png or .json (the Vega-Lite spec).")],
    db: DbOpt = None, data: DataOpt = None, spec: SpecOpt = "residents", measure: MeasureOpt = None,
    area: Annotated[str, typer.Option("--area", help="district (peruspiiri) or postal_area.")] = "district",
    denominator: DenOpt = None, weight: WeightOpt = None, area_column: AreaColOpt = None,
    vega_lite: Annotated[Path | None, typer.Option("--vega-lite", help="Also write the Vega-Lite spec here.")] = None,
    filter_: FilterOpt = None, on: OnOpt = None, threshold: ThresholdOpt = None, policy: PolicyOpt = None,
    lang: LangOpt = "en", actor: ActorOpt = "statistics-run", role: RoleOpt = "statistician",
    service: ServiceOpt = "city-statistics", store: StoreOption = None, json_out: JsonOption = False,
) -> None:
    """Rung 3: a choropleth of a measure's share by basic district or postal area (real polygons)."""
    if area not in ("district", "postal_area"):
        raise ValueError(f"--area must be district or postal_area, not {area!r}")
    source = _source(db, data, spec, measure, denominator, weight, area_column)
    result = choropleth(source, measure, area=area, filters=_filters(filter_),  # type: ignore[arg-type]
                        **_common(on, threshold, policy, lang, actor, role, service, store))
    render(result.spec, out)
    if vega_lite:
        render(result.spec, vega_lite if vega_lite.suffix == ".json" else vega_lite.with_suffix(".json"))
    summary = {"out": str(out), "vega_lite": str(vega_lite) if vega_lite else None, "area": result.area,
               "areas": result.status_counts(), "unmapped": result.unmapped, "attribution": result.attribution,
               "drilldown": result.drilldown.public()}
    if json_out:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    counts = ", ".join(f"{n} {k}" for k, n in sorted(result.status_counts().items()))
    console.print(f"{result.drilldown.title} by {area} → {out} ({counts}); {result.attribution}")
    if result.unmapped:
        console.print(f"[yellow]no polygon for {len(result.unmapped)} area codes: {', '.join(result.unmapped[:10])}")


@opendata_app.command("publish")
@clean_errors
def publish(
    db: Annotated[Path, typer.Option("--db", help="DuckDB file of the city.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the release (CSV + release.json).")],
    previous: Annotated[Path | None, typer.Option(
        "--previous", help="The previous release folder, audited against this one for differencing.")] = None,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Refuse the release on any differencing finding, small changes included.")] = False,
    on: OnOpt = None, threshold: ThresholdOpt = None, policy: PolicyOpt = None,
    actor: ActorOpt = "statistics-run", role: RoleOpt = "statistician", service: ServiceOpt = "city-statistics",
    store: StoreOption = None, json_out: JsonOption = False,
) -> None:
    """Write a release of protected aggregate tables with the policy used and a record of suppressions.

    A release that lets a suppressed cell be recovered (from the tables together or by differencing
    with --previous) is refused; small changes between releases are reported (refused with --strict).
    """
    common = _common(on, threshold, policy, "en", actor, role, service, store)
    release = publish_release(CitySource(db), out, previous=previous, strict=strict, on=common["on"],
                              policy=common["policy"], actor=common["actor"], settings=common["settings"])
    if json_out:
        typer.echo(json.dumps(release, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"Open-data release {release['release_id']} → {out}")
    for col in ("table", "file", "cells", "suppressed"):
        table.add_column(col, justify="right" if col in ("cells", "suppressed") else "left")
    for t in release["tables"]:
        table.add_row(t["name"], t["file"], str(t["cells_total"]), str(t["suppressed"]))
    console.print(table)
    audit = release["audit"]
    console.print(f"audit: {audit['summary']}")

