"""Outreach lists from a criteria run: who each health station invites first, and counts by district.

A resident with several gaps gets one invitation that names them all, so the list has one row per
person and station, ranked by the most urgent tier, then total points, then person id (the fixed
tie-break of ``domain/criteria/tree.TIE_BREAK``). The station is the resident's usual one: the
health station of their latest visit there, else the station of their home district (the same
rule the proactive-service triggers use). A resident with neither is listed under ``unassigned``,
never dropped.

``extra_actions`` are the further actions the person's criteria offer with their main one (a
criterion's ``action.extra``, e.g. ``home-bp-series``), comma-separated, taken from the compiled
criteria by id; empty when none.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pyarrow as pa

from ennakoiva.adapters.engine.duckdb_engine import DuckDBEngine
from ennakoiva.domain.criteria.tree import CompiledCriterion

__all__ = ["OUTREACH_COLUMNS", "district_counts", "outreach_lists"]

OUTREACH_COLUMNS = ("unit_id", "unit_name", "rank", "person_id", "district_code", "tier", "points", "criteria",
                    "actions", "extra_actions")
_TIER = "CASE tier WHEN 'critical' THEN 2 WHEN 'warning' THEN 1 ELSE 0 END"


def _assigned(on: date) -> str:
    """CTEs ``people`` (matched persons and their district) and ``assigned`` (their usual station)."""
    d = f"DATE '{on.isoformat()}'"
    return (
        "people AS (SELECT p.person_id, p.district_code FROM person p "
        "JOIN (SELECT DISTINCT person_id FROM gaps) g USING (person_id)), "
        "last_station AS (SELECT v.person_id, arg_max(v.unit_id, v.visit_date) AS unit_id FROM health_visit v "
        "JOIN people USING (person_id) JOIN service_unit u ON u.unit_id = v.unit_id "
        f"AND u.unit_type = 'health_station' WHERE v.visit_date <= {d} GROUP BY v.person_id), "
        "district_station AS (SELECT district_code, min(unit_id) AS unit_id FROM service_unit "
        "WHERE unit_type = 'health_station' GROUP BY district_code), "
        "assigned AS (SELECT people.person_id, people.district_code, coalesce(ls.unit_id, ds.unit_id) AS unit_id "
        "FROM people LEFT JOIN last_station ls USING (person_id) LEFT JOIN district_station ds USING (district_code))"
    )


def _extras_table(criteria: Sequence[CompiledCriterion]) -> pa.Table:
    pairs = sorted({(c.id, x) for c in criteria for x in c.extras})
    return pa.table({"criterion_id": pa.array([p[0] for p in pairs], pa.string()),
                     "extra": pa.array([p[1] for p in pairs], pa.string())})


def outreach_lists(engine: DuckDBEngine, gaps: pa.Table, on: date,
                   criteria: Sequence[CompiledCriterion] = ()) -> pa.Table:
    """One row per (station, person): rank within the station, top tier, total points, criteria, actions.

    ``criteria`` (most urgent first) and ``actions`` are space-separated ids, so the list is a plain CSV;
    ``extra_actions`` (from ``criteria``, the compiled criteria of the run) are comma-separated.
    """
    name, extras = "criteria_gaps", "criteria_extras"
    engine.con.register(name, gaps)
    engine.con.register(extras, _extras_table(criteria))
    try:
        return engine.sql(
            f"WITH gaps AS (SELECT * FROM {name}), {_assigned(on)}, "
            f"per_person AS (SELECT a.unit_id, a.district_code, g.person_id, max({_TIER}) AS tier_rank, "
            f"CAST(sum(g.points) AS INTEGER) AS points, "
            f"string_agg(g.criterion_id, ' ' ORDER BY {_TIER} DESC, g.points DESC, g.criterion_id) AS criteria, "
            f"string_agg(DISTINCT g.action, ' ' ORDER BY g.action) AS actions "
            f"FROM gaps g JOIN assigned a USING (person_id) GROUP BY ALL), "
            f"per_person_extra AS (SELECT g.person_id, string_agg(DISTINCT x.extra, ',' ORDER BY x.extra) AS extras "
            f"FROM gaps g JOIN {extras} x USING (criterion_id) GROUP BY g.person_id) "
            f"SELECT p.unit_id, coalesce(u.name, 'unassigned') AS unit_name, "
            f"CAST(row_number() OVER (PARTITION BY p.unit_id "
            f"ORDER BY p.tier_rank DESC, p.points DESC, p.person_id) AS INTEGER) AS rank, p.person_id, "
            f"p.district_code, CASE p.tier_rank WHEN 2 THEN 'critical' WHEN 1 THEN 'warning' ELSE 'info' END AS tier, "
            f"p.points, p.criteria, p.actions, coalesce(e.extras, '') AS extra_actions FROM per_person p "
            f"LEFT JOIN service_unit u USING (unit_id) LEFT JOIN per_person_extra e USING (person_id) "
            f"ORDER BY p.unit_id NULLS LAST, rank")
    finally:
        engine.con.unregister(extras)
        engine.con.unregister(name)


def district_counts(engine: DuckDBEngine, gaps: pa.Table) -> pa.Table:
    """Persons matched per criterion and home district (for the units' own planning, not for publication)."""
    name = "criteria_gaps"
    engine.con.register(name, gaps)
    try:
        return engine.sql(
            f"SELECT g.criterion_id, p.district_code, CAST(count(DISTINCT g.person_id) AS INTEGER) AS persons "
            f"FROM {name} g JOIN person p USING (person_id) GROUP BY ALL ORDER BY g.criterion_id, p.district_code")
    finally:
        engine.con.unregister(name)
