"""``opendata publish``: a release of protected aggregate tables, audited before it is written.

The release is a fixed set of tables over the residents spec (below). The postal-area and district
tables describe the same people on nested areas, so they are protected together
(``protect_nested``): no suppressed cell may be solved from the two tables jointly. With a previous
release the tables are audited for differencing (``audit_release``). A release that lets any
suppressed cell be recovered is refused and nothing is written; small changes between releases
and slivers between nested areas — which deterministic suppression cannot hide (analytics.md T5,
T6) — are reported, and refused with ``strict``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.engine.aggregates import reference_date, run_aggregate
from ennakoiva.adapters.reports.drilldown import NUMERATOR, REST, build_query, build_table, categories_for
from ennakoiva.adapters.reports.maps import load_areas
from ennakoiva.adapters.reports.opendata import read_release, table_csv, table_record, write_release
from ennakoiva.adapters.reports.spec import load_specs
from ennakoiva.domain.clock import today
from ennakoiva.domain.consent.decision import Actor
from ennakoiva.domain.consent.purposes import default_purposes
from ennakoiva.domain.disclosure import (
    TOTAL,
    DisclosurePolicy,
    LeakKind,
    ProtectedTable,
    audit_release,
    default_policy,
    protect,
    protect_nested,
)
from ennakoiva.platform.reports import PURPOSE, STATISTICS_ACTOR, CitySource, _authorise
from ennakoiva.platform.settings import Settings

__all__ = ["RELEASE_TABLES", "ReleaseTable", "publish_release"]


@dataclass(frozen=True)
class ReleaseTable:
    name: str
    by: tuple[str, ...]
    measure: str | None = None


RELEASE_TABLES: tuple[ReleaseTable, ...] = (
    ReleaseTable("residents_by_district_language_group", ("district", "language_group")),
    ReleaseTable("residents_by_postal_area_language_group", ("postal_area", "language_group")),
    ReleaseTable("residents_by_age_band_sex", ("age_band", "sex")),
    ReleaseTable("employment_service_users_by_district", ("district",), "employment_service_user"),
)
#: (fine, coarse): the same people on nested areas, protected together
NESTED = ("residents_by_postal_area_language_group", "residents_by_district_language_group")


class ReleaseRefusedError(ValueError):
    """The release would disclose a suppressed cell (or, with strict, any differencing finding)."""


def _groups(engine: DuckDBEngine, on: date, spec_id: str, fine_rows: Sequence[str],
            coarse_rows: Sequence[str]) -> dict[str, list[str]]:
    spec = load_specs()[spec_id]
    pairs = run_aggregate(engine, build_query(spec, ["district", "postal_area"], None), on)
    member: dict[str, set[str]] = {}
    for district, postal in zip(pairs.column("g0").to_pylist(), pairs.column("g1").to_pylist(), strict=True):
        member.setdefault(postal, set()).add(district)
    split = sorted(p for p, ds in member.items() if len(ds) > 1)
    if split:
        raise ReleaseRefusedError(f"postal areas {', '.join(split[:5])} lie in several districts; the two area tables "
                             "are not nested and cannot be released together")
    groups: dict[str, list[str]] = {d: [] for d in coarse_rows}
    for postal in fine_rows:
        groups[next(iter(member[postal]))].append(postal)
    return groups


def publish_release(source: CitySource, out: Path, *, previous: Path | None = None, strict: bool = False,
                    on: date | None = None, policy: DisclosurePolicy | None = None,
                    actor: Actor = STATISTICS_ACTOR, settings: Settings | None = None) -> dict[str, Any]:
    """Build, protect, audit and write the release; returns its record plus the audit findings."""
    policy = policy or default_policy()
    spec = load_specs()[source.spec]
    prev_record, prev_tables = read_release(previous) if previous else ({}, {})
    with DuckDBEngine(source.db, read_only=True) as engine:
        ref = on or (reference_date(engine, spec.reference_date) if spec.reference_date else None) or today()
        queries = {t.name: build_query(spec, list(t.by), t.measure) for t in RELEASE_TABLES}
        cats = tuple(dict.fromkeys(c for q in queries.values() for c in categories_for(spec, q)))
        _authorise(settings or Settings(), actor, cats)
        built = {t.name: build_table(run_aggregate(engine, queries[t.name], ref), spec, list(t.by), t.measure, policy,
                                     name=t.name) for t in RELEASE_TABLES}
        fine, coarse = (built[n] for n in NESTED)
        groups = _groups(engine, ref, spec.id, fine.table.rows, coarse.table.rows)
    fine_p, coarse_p, overlap = protect_nested(fine.table, coarse.table, groups, policy)
    protected: dict[str, ProtectedTable] = {NESTED[0]: fine_p, NESTED[1]: coarse_p}
    for t in RELEASE_TABLES:
        if t.name not in protected:
            protected[t.name] = protect(built[t.name].table, policy, force=built[t.name].force)
    findings: list[dict[str, Any]] = [{"check": "nested areas", **leak.model_dump(mode="json")}
                                      for leak in overlap.leaks]
    compared: list[str] = []
    for name, cur in protected.items():
        prev = prev_tables.get(name)
        if prev is None:
            continue
        if (prev.rows, prev.cols) != (cur.rows, cur.cols):
            findings.append({"check": "previous release", "kind": "not_comparable", "table": name,
                             "detail": "rows or columns changed since the previous release"})
            continue
        compared.append(name)
        findings += [{"check": "previous release", **leak.model_dump(mode="json")}
                     for leak in audit_release(prev, cur, policy).leaks]
    kinds = Counter(f["kind"] for f in findings)
    if kinds.get(LeakKind.RECOVERED.value):
        raise ReleaseRefusedError(f"release refused: {kinds[LeakKind.RECOVERED.value]} suppressed cells could be "
                             "recovered; nothing was written")
    if strict and any(k != "not_comparable" for k in kinds):
        raise ReleaseRefusedError(f"release refused (--strict): {dict(kinds)}; nothing was written")
    files: dict[str, str] = {}
    records = []
    for t in RELEASE_TABLES:
        p, b = protected[t.name], built[t.name]
        file = f"{t.name}.csv"
        share_of = (NUMERATOR, TOTAL) if t.measure else None
        m = spec.measure(t.measure) if t.measure else None
        names = {NUMERATOR: m.id, REST: f"not_{m.id}", TOTAL: "denominator"} if m else None
        files[file] = table_csv(p, b.table.row_dimension, share_of, names)
        title = (f"{m.names['en']} / {m.denominator_names['en']} by {', '.join(t.by)}" if m
                 else f"{spec.names['en']} by {', '.join(t.by)}")
        records.append(table_record(p, name=t.name, file=file, title=title, row_dimension=b.table.row_dimension,
                                    col_dimension=b.table.col_dimension))
    controller = default_purposes()[PURPOSE].controller
    summary = (f"{sum(r['suppressed'] for r in records)} of {sum(r['cells_total'] for r in records)} cells suppressed; "
               f"nested areas: {len(overlap.leaks)} findings; previous release: "
               f"{prev_record.get('release_id', 'none')} ({len(compared)} tables compared); findings by kind: "
               f"{dict(kinds) or 'none'}")
    record: dict[str, Any] = {
        "title": "Residents of the city: protected aggregate tables",
        "publisher": controller.name, "reference_date": ref.isoformat(), "spec": {"id": spec.id,
                                                                                 "version": spec.version},
        "attribution": [f"{controller.name}, CC BY 4.0", load_areas("district")["attribution"]],
        "marker": "'..' = suppressed to protect privacy",
        "policy": policy.model_dump(mode="json"),
        "tables": records,
        "audit": {"previous_release": prev_record.get("release_id"), "compared_tables": compared,
                  "findings_by_kind": dict(kinds), "summary": summary},
    }
    release_id = write_release(out, files, record)
    return {**record, "release_id": release_id, "findings": findings}
