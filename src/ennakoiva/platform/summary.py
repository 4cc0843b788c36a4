"""The demo's city summary: a handful of facts a Helsinki analyst would check first."""

from __future__ import annotations

from pathlib import Path

from ennakoiva.adapters.engine import DuckDBEngine

__all__ = ["city_summary"]

_FACTS: list[tuple[str, str, str]] = [
    # (label, table it needs, query returning one number); $1 = extract date
    ("Residents on the extract date", "person",
     "SELECT count(*) FROM person WHERE death_date IS NULL AND move_out_date IS NULL"),
    ("Households", "household",
     "SELECT count(DISTINCT household_id) FROM person WHERE death_date IS NULL AND move_out_date IS NULL"),
    ("Foreign-language speakers, %", "person",
     "SELECT round(100 * avg(CASE WHEN mother_tongue NOT IN ('fi','sv') THEN 1 ELSE 0 END), 1) FROM person "
     "WHERE death_date IS NULL AND move_out_date IS NULL"),
    ("Swedish speakers, %", "person",
     "SELECT round(100 * avg(CASE WHEN mother_tongue = 'sv' THEN 1 ELSE 0 END), 1) FROM person "
     "WHERE death_date IS NULL AND move_out_date IS NULL"),
    ("Children turning six next year (pre-school target group)", "person",
     "SELECT count(*) FROM person WHERE death_date IS NULL AND move_out_date IS NULL "
     "AND year(birth_date) = year($1::DATE) + 1 - 6"),
    ("Guardians with a mobile number", "contact_channel",
     "SELECT count(DISTINCT r.person_id) FROM family_relation r JOIN contact_channel c USING (person_id) "
     "WHERE r.relation = 'guardian_of'"),
    ("Job seekers now", "jobseeker_spell",
     "SELECT count(DISTINCT person_id) FROM jobseeker_spell WHERE end_date IS NULL"),
    ("Residents with diagnosed hypertension (I10–I15)", "diagnosis",
     "SELECT count(DISTINCT d.person_id) FROM diagnosis d JOIN person p USING (person_id) "
     "WHERE d.icd10_code BETWEEN 'I10' AND 'I15~' AND p.death_date IS NULL AND p.move_out_date IS NULL"),
    ("Children in early-childhood education now", "ecec_placement",
     "SELECT count(DISTINCT person_id) FROM ecec_placement WHERE end_date IS NULL OR end_date >= $1::DATE"),
    ("Child-welfare clients now", "child_welfare_client",
     "SELECT count(DISTINCT person_id) FROM child_welfare_client WHERE end_date IS NULL"),
    ("Income rows for the last month", "income",
     "SELECT count(*) FROM income WHERE month = (SELECT max(month) FROM income)"),
    ("Building readings (hours × buildings)", "building_reading", "SELECT count(*) FROM building_reading"),
]


def city_summary(db: Path) -> list[tuple[str, str]]:
    """Label and value of each fact whose table holds data (skips sectors not generated)."""
    out: list[tuple[str, str]] = []
    with DuckDBEngine(db, read_only=True) as engine:
        counts = {s.name: s.rows for s in engine.stats()}
        as_of = max((s.last_date for s in engine.stats() if s.name == "person" and s.last_date), default=None)
        for label, table, query in _FACTS:
            if not counts.get(table):
                continue
            params = [as_of] if "$1" in query else []
            value = engine.sql(query, params).column(0)[0].as_py()
            out.append((label, f"{value:,}" if isinstance(value, int) else str(value)))
    return out
