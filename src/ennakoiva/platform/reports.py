"""The first rungs of the analytics ladder as use cases: report, drill-down, map.

Each function takes a *source* — the city's database with a spec from ``catalogue/analytics``
(:class:`CitySource`) or a CSV/Parquet file a city brings, described by column names
(:class:`FileSource`) — and returns numbers that passed disclosure control. Before any row is
read, the population-level read is decided and logged under ``open-data-statistics`` (the purpose
whose users are the city's statisticians): no log, no read. The CLI and the web pages call these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.engine.aggregates import file_columns, file_source, reference_date, run_aggregate
from ennakoiva.adapters.reports.drilldown import Drilldown, build_query, categories_for, protect_groups
from ennakoiva.adapters.reports.maps import MapResult, choropleth_spec
from ennakoiva.adapters.reports.spec import AnalyticsSpec, AreaKind, file_spec, load_specs, safe_id
from ennakoiva.domain.clock import today
from ennakoiva.domain.consent.decision import Actor
from ennakoiva.domain.disclosure import DisclosurePolicy, default_policy, load_policy
from ennakoiva.domain.disclosure.policy import MIN_THRESHOLD
from ennakoiva.domain.types import Lang
from ennakoiva.platform.operational import open_operational
from ennakoiva.platform.settings import Settings

__all__ = [
    "PURPOSE", "STATISTICS_ACTOR", "CitySource", "FileSource", "Source", "analytics_catalogue", "choropleth",
    "drilldown", "policy_for", "report",
]

PURPOSE = "open-data-statistics"
STATISTICS_ACTOR = Actor(id="statistics-run", role="statistician", service="city-statistics")


@dataclass(frozen=True)
class CitySource:
    """The city's resident data layer and the analytics spec to count by."""

    db: Path
    spec: str = "residents"


@dataclass(frozen=True)
class FileSource:
    """A CSV or Parquet file: each row a unit (or ``weight`` units), dimensions are its columns.

    ``measure`` / ``denominator``: a yes/no column or ``COLUMN=VALUE`` / ``COLUMN!=VALUE``.
    ``areas`` maps a column to the kind of area its codes are (for maps and the area floor).
    """

    path: Path
    measure: str | None = None
    denominator: str | None = None
    weight: str | None = None
    areas: Mapping[str, AreaKind] = field(default_factory=dict)
    #: data categories the file holds (the access decision covers them)
    categories: tuple[str, ...] = ("population",)


Source = CitySource | FileSource


def analytics_catalogue(lang: Lang = "en") -> list[dict[str, Any]]:
    """What can be asked of the city: each spec with its dimensions and measures (for pages and --help)."""
    return [{"id": s.id, "name": s.names[lang], "unit": s.unit[lang], "description": s.description,
             "dimensions": [{"id": d.id, "name": d.names[lang], "area": d.area} for d in s.dimensions],
             "measures": [{"id": m.id, "name": m.names[lang], "denominator": m.denominator_names[lang]}
                          for m in s.measures]}
            for s in load_specs().values()]


def policy_for(threshold: int | None = None, policy_file: Path | None = None) -> DisclosurePolicy:
    """The default policy (or a policy file), with the threshold overridden — never below 3."""
    policy = load_policy(policy_file) if policy_file else default_policy()
    if threshold is None:
        return policy
    if threshold < MIN_THRESHOLD:
        raise ValueError(f"the threshold must be greater than or equal to {MIN_THRESHOLD} (Statistics Finland: "
                         f"fewer than 3 units are never disseminated), not {threshold}")
    # model_validate, not model_copy: the policy's own check (threshold ≥ 3) must run.
    return DisclosurePolicy.model_validate({**policy.model_dump(), "threshold": threshold})


def _authorise(settings: Settings, actor: Actor, categories: tuple[str, ...]) -> None:
    with open_operational(settings) as ops:
        decision = ops.gate.decide(actor, PURPOSE, None, categories)
    if not decision.permit:
        raise PermissionError(f"access denied under {PURPOSE}: {decision.reason}")


@dataclass
class _Resolved:
    engine: DuckDBEngine
    spec: AnalyticsSpec
    measure: str | None
    by: list[str]
    on: date
    categories: tuple[str, ...]


def _resolve(source: Source, by: Sequence[str], measure: str | None, on: date | None) -> _Resolved:
    if isinstance(source, CitySource):
        specs = load_specs()
        if source.spec not in specs:
            raise ValueError(f"no analytics spec {source.spec!r}; there are {', '.join(specs)}")
        spec = specs[source.spec]
        engine = DuckDBEngine(source.db, read_only=True)
        try:
            ref = on or (reference_date(engine, spec.reference_date) if spec.reference_date else None) or today()
        except Exception:
            engine.close()
            raise
        return _Resolved(engine, spec, measure, list(by), ref, ())
    engine = DuckDBEngine(":memory:")
    try:
        src = file_source(source.path)
        columns = file_columns(engine, src)
        cond = measure or source.measure
        spec = file_spec(src, columns, by=list(by), measure=cond, denominator=source.denominator,
                         areas=dict(source.areas), weight=source.weight, name=source.path.name)
    except Exception:
        engine.close()
        raise
    return _Resolved(engine, spec, spec.measures[0].id if cond else None, [safe_id(c) for c in by], on or today(),
                     source.categories)


def drilldown(source: Source, by: Sequence[str], measure: str | None = None, *,
              filters: Mapping[str, Sequence[str]] | None = None, on: date | None = None,
              policy: DisclosurePolicy | None = None, actor: Actor = STATISTICS_ACTOR,
              settings: Settings | None = None, lang: Lang = "en") -> Drilldown:
    """Counts (and, with a measure, denominators and shares) by the given dimensions, protected.

    ``filters`` keeps units whose dimension value is among the listed ones (``{"sex": ["F"]}``).
    """
    policy = policy or default_policy()
    r = _resolve(source, by, measure, on)
    with r.engine:
        flt = {(safe_id(k) if isinstance(source, FileSource) else k): list(v) for k, v in (filters or {}).items()}
        query = build_query(r.spec, r.by, r.measure, flt)
        categories = r.categories or categories_for(r.spec, query)
        _authorise(settings or Settings(), actor, categories)
        result = run_aggregate(r.engine, query, r.on)
    return protect_groups(result, r.spec, r.by, r.measure, policy, r.on, lang)


def report(source: Source, measures: Sequence[str] | None = None, **kwargs: Any) -> list[Drilldown]:
    """Rung 1: the headline figures — units in the universe, then each measure over its denominator."""
    if isinstance(source, FileSource):
        return [drilldown(source, [], None, **kwargs)] + ([drilldown(source, [], source.measure, **kwargs)]
                                                          if source.measure else [])
    spec = load_specs().get(source.spec)
    if spec is None:
        raise ValueError(f"no analytics spec {source.spec!r}")
    chosen = list(measures) if measures else [m.id for m in spec.measures]
    return [drilldown(source, [], None, **kwargs)] + [drilldown(source, [], m, **kwargs) for m in chosen]


def choropleth(source: Source, measure: str | None, *, area: AreaKind = "district",
               filters: Mapping[str, Sequence[str]] | None = None, lang: Lang = "en", **kwargs: Any) -> MapResult:
    """Rung 3: a measure's share by basic district or postal area as a Vega-Lite map.

    For a file, ``area`` names the column holding the area codes when ``source.areas`` does not.
    """
    if isinstance(source, FileSource):
        column = next((c for c, kind in source.areas.items() if kind == area), None)
        if column is None:
            raise ValueError(f"say which column holds the {area} codes (--area-column COLUMN)")
        by = [column]
    else:
        spec = load_specs()[source.spec]
        dims = [d for d in spec.dimensions if d.area == area]
        if not dims:
            raise ValueError(f"spec {spec.id} has no {area} dimension")
        by = [dims[0].id]
    dd = drilldown(source, by, measure, filters=filters, lang=lang, **kwargs)
    return choropleth_spec(dd, area, lang=lang)
