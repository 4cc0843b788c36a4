"""Compile a service's trigger into one SQL query over the city database: the target group.

:func:`find_targets` returns one row per (offer subject, recipient): for a child, each guardian in
force on the run date; for a person-subject service (a care-gap invitation), the person. Each row
carries what the messaging store needs and nothing more: the recipient's phone (E.164, NULL when the
register has none, so the store takes the fallback channel), the language to write in, the
subject's district and postal area (for metrics), the unit the offer is about, and whether two
recipients of the same subject share one phone (the store then sends once).

Language: the recipient's registered service language (``contact_channel.preferred_language``);
without one, the mother tongue — Finnish → fi, Swedish → sv, any other → en (reference §5:
``language.default_from: guardian_language``; English is the third service language).

This is a population-level read of personal data: the caller decides and audits it under the
service's purpose *before* calling (the access gate), as ``ennakoiva criteria run`` does.
"""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa

from ennakoiva.adapters.engine.criteria_sql import criteria_sql
from ennakoiva.adapters.engine.duckdb_engine import DuckDBEngine
from ennakoiva.domain.criteria import load_criteria
from ennakoiva.domain.services.definition import ServiceDefinition
from ennakoiva.domain.services.triggers import Condition, Trigger

__all__ = ["TARGET_COLUMNS", "find_targets", "subjects_sql", "target_sql"]

TARGET_COLUMNS = (
    "subject_id", "subject_birth_date", "recipient_id", "recipient_role", "phone", "language", "language_source",
    "district_code", "postal_code", "unit_id", "unit_name", "shared_phone", "reasons",
)


def _d(day: date) -> str:
    return f"DATE '{day.isoformat()}'"


def _in(values: tuple[str, ...]) -> str:
    # values come from validated Literal types, never from free text
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


def _age_sql(birth: str, on: date) -> str:
    """Completed years on ``on``, as :func:`ennakoiva.domain.clock.age_on` counts them."""
    before_birthday = f"(month({birth}) > {on.month} OR (month({birth}) = {on.month} AND day({birth}) > {on.day}))"
    return f"({on.year} - year({birth}) - CASE WHEN {before_birthday} THEN 1 ELSE 0 END)"


def _placement(types: tuple[str, ...], extra: str) -> str:
    return (f"SELECT 1 FROM ecec_placement e WHERE e.person_id = p.person_id "
            f"AND e.placement_type IN {_in(types)} AND {extra}")


def _condition(cond: Condition, on: date) -> str:
    """One WHERE clause over ``person p`` (and the ``gaps`` CTE for care-gap conditions)."""
    if cond.turns_age is not None:
        return f"year(p.birth_date) = {cond.turns_age.birth_year(on)}"
    if cond.resident is not None:
        return (f"p.municipality_code = '{cond.resident.municipality}' AND p.birth_date <= {_d(on)} "
                f"AND (p.moved_in_date IS NULL OR p.moved_in_date <= {_d(on)}) "
                f"AND (p.move_out_date IS NULL OR p.move_out_date > {_d(on)}) "
                f"AND (p.death_date IS NULL OR p.death_date > {_d(on)})")
    if cond.in_placement is not None:
        ongoing = f"e.start_date <= {_d(on)} AND (e.end_date IS NULL OR e.end_date >= {_d(on)})"
        return f"EXISTS ({_placement(cond.in_placement.types, ongoing)})"
    if cond.no_placement is not None:
        not_ended = f"(e.end_date IS NULL OR e.end_date >= {_d(on)})"
        return f"NOT EXISTS ({_placement(cond.no_placement.types, not_ended)})"
    if cond.placement_started is not None:
        since = on - timedelta(days=cond.placement_started.within_days)
        window = f"e.start_date > {_d(since)} AND e.start_date <= {_d(on)}"
        return f"EXISTS ({_placement(cond.placement_started.types, window)})"
    if cond.care_gap is not None:
        return f"p.person_id IN (SELECT person_id FROM gaps WHERE points >= {cond.care_gap.min_points})"
    if cond.age is not None:
        age = _age_sql("p.birth_date", on)
        return f"{age} BETWEEN {cond.age.min} AND {cond.age.max}"
    raise ValueError(f"no SQL for condition {cond.name}")  # pragma: no cover - the model has exactly one key


def _gaps_cte(trigger: Trigger, on: date) -> str:
    cond = trigger.condition("care_gap")
    if cond is None or cond.care_gap is None:
        return "gaps AS (SELECT NULL::BIGINT AS person_id, 0 AS points, []::VARCHAR[] AS reasons WHERE false)"
    wanted = set(cond.care_gap.criteria)
    chosen = [c.compiled for c in load_criteria() if c.compiled.id in wanted]
    missing = wanted - {c.id for c in chosen}
    if missing:
        raise ValueError(f"trigger names unknown criteria {sorted(missing)}")
    inner = criteria_sql(chosen, on)
    return (f"gaps AS (SELECT person_id, CAST(SUM(points) AS INTEGER) AS points, "
            f"list(criterion_id ORDER BY criterion_id) AS reasons FROM ({inner}) g GROUP BY person_id)")


def subjects_sql(trigger: Trigger, on: date) -> str:
    """``gaps`` and ``subjects`` CTEs (without the leading WITH): who the offer is about."""
    where = " AND ".join(f"({_condition(c, on)})" for c in trigger.all)
    return (f"{_gaps_cte(trigger, on)},\n"
            f"subjects AS (SELECT p.person_id AS subject_id, p.birth_date AS subject_birth_date, "
            f"p.district_code, p.postal_code FROM person p WHERE {where})")


def _unit_sql(definition: ServiceDefinition, on: date) -> str:
    """``units``: the unit each offer is about — the ongoing ECEC unit, or the usual health station."""
    if definition.trigger.subject == "child":
        return (f"units AS (SELECT e.person_id AS subject_id, arg_max(e.unit_id, e.start_date) AS unit_id "
                f"FROM ecec_placement e JOIN subjects s ON s.subject_id = e.person_id "
                f"WHERE e.start_date <= {_d(on)} AND (e.end_date IS NULL OR e.end_date >= {_d(on)}) "
                f"GROUP BY e.person_id)")
    return (f"last_station AS (SELECT v.person_id AS subject_id, arg_max(v.unit_id, v.visit_date) AS unit_id "
            f"FROM health_visit v JOIN subjects s ON s.subject_id = v.person_id "
            f"JOIN service_unit u ON u.unit_id = v.unit_id AND u.unit_type = 'health_station' "
            f"WHERE v.visit_date <= {_d(on)} GROUP BY v.person_id),\n"
            f"district_station AS (SELECT district_code, min(unit_id) AS unit_id FROM service_unit "
            f"WHERE unit_type = 'health_station' GROUP BY district_code),\n"
            f"units AS (SELECT s.subject_id, coalesce(l.unit_id, d.unit_id) AS unit_id FROM subjects s "
            f"LEFT JOIN last_station l USING (subject_id) LEFT JOIN district_station d USING (district_code))")


def _recipients_sql(definition: ServiceDefinition, on: date) -> str:
    if definition.recipients.who == "self":
        return "recipients AS (SELECT subject_id, subject_id AS recipient_id, 'self' AS recipient_role FROM subjects)"
    return (f"recipients AS (SELECT s.subject_id, r.person_id AS recipient_id, 'guardian' AS recipient_role "
            f"FROM subjects s JOIN family_relation r ON r.related_person_id = s.subject_id "
            f"AND r.relation = 'guardian_of' AND r.valid_from <= {_d(on)} "
            f"AND (r.valid_to IS NULL OR r.valid_to >= {_d(on)}) "
            f"JOIN person g ON g.person_id = r.person_id AND (g.death_date IS NULL OR g.death_date > {_d(on)}))")


def target_sql(definition: ServiceDefinition, on: date) -> str:
    """The whole target-group query for ``definition`` on ``on`` (dates and codes are validated literals)."""
    return f"""WITH {subjects_sql(definition.trigger, on)},
{_unit_sql(definition, on)},
{_recipients_sql(definition, on)},
rows AS (
  SELECT s.subject_id, s.subject_birth_date, rc.recipient_id, rc.recipient_role,
         c.address AS phone,
         coalesce(c.preferred_language, CASE g.mother_tongue WHEN 'fi' THEN 'fi' WHEN 'sv' THEN 'sv' ELSE 'en' END)
           AS language,
         CASE WHEN c.preferred_language IS NOT NULL THEN 'contact_channel' ELSE 'mother_tongue' END
           AS language_source,
         s.district_code, s.postal_code, u.unit_id, su.name AS unit_name,
         coalesce(gp.reasons, []::VARCHAR[]) AS reasons
  FROM subjects s
  JOIN recipients rc ON rc.subject_id = s.subject_id
  JOIN person g ON g.person_id = rc.recipient_id
  LEFT JOIN contact_channel c ON c.person_id = rc.recipient_id AND c.channel = 'sms'
       AND c.valid_from <= {_d(on)}
  LEFT JOIN units u ON u.subject_id = s.subject_id
  LEFT JOIN service_unit su ON su.unit_id = u.unit_id
  LEFT JOIN gaps gp ON gp.person_id = s.subject_id
)
SELECT subject_id, subject_birth_date, recipient_id, recipient_role, phone, language, language_source,
       district_code, postal_code, unit_id, unit_name,
       phone IS NOT NULL AND count(*) OVER (PARTITION BY subject_id, phone) > 1 AS shared_phone,
       reasons
FROM rows
ORDER BY subject_id, recipient_id"""


def find_targets(engine: DuckDBEngine, definition: ServiceDefinition, on: date) -> pa.Table:
    """The target group of ``definition`` on ``on``: one row per (subject, recipient), columns ``TARGET_COLUMNS``."""
    return engine.sql(target_sql(definition, on)).select(list(TARGET_COLUMNS))
