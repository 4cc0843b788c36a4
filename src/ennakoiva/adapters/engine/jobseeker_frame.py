"""The job-seeker analysis frame: one row per registered spell, built in one SQL pass over the city.

Why SQL here: only the engine talks to DuckDB, and the frame joins four registry tables (spell,
background, service, person) plus an area-level labour-market indicator that is itself an
aggregate. The ML adapter receives a plain Arrow table and never sees the database.

Definitions (the same the synthetic city and the issue use):

- **employed within 6 months** — the spell ended with ``outcome = 'employed'`` at most 182 days
  after its start;
- **follow-up complete** — the spell's 6-month outcome is observable: ``start + 183`` days fall
  before the extract date and before the person's death or move-out (otherwise a spell that has
  not yet ended, or ended by a departure, would be counted as "not employed");
- **service** — the first main service given during the spell (null = none);
- **area unemployment** — the share of the postal area's residents aged 17–64 on the extract date
  who have an ongoing job-seeking spell: a labour-market indicator derived from the city's own
  tables (the city has no separate unemployment-rate table).

The extract date defaults to the day after the last spell date in the data.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from ennakoiva.adapters.engine.duckdb_engine import DuckDBEngine

__all__ = ["FOLLOW_UP_DAYS", "extract_date", "jobseeker_frame"]

FOLLOW_UP_DAYS = 182

_AS_OF_SQL = """
SELECT greatest(max(start_date), max(end_date) + 1) AS as_of FROM jobseeker_spell
"""

_FRAME_SQL = f"""
WITH params AS (SELECT $1::DATE AS as_of),
svc AS (
    SELECT spell_id, arg_min(service_type, start_date) AS service, min(start_date) AS service_start
    FROM employment_service GROUP BY spell_id
),
present AS (
    SELECT p.person_id, p.postal_code,
           date_diff('day', p.birth_date, params.as_of) / 365.25 AS age_now
    FROM person p, params
    WHERE (p.death_date IS NULL OR p.death_date >= params.as_of)
      AND (p.move_out_date IS NULL OR p.move_out_date >= params.as_of)
      AND (p.moved_in_date IS NULL OR p.moved_in_date < params.as_of)
),
ongoing AS (SELECT DISTINCT person_id FROM jobseeker_spell WHERE end_date IS NULL),
area AS (
    SELECT pr.postal_code,
           avg(CASE WHEN o.person_id IS NULL THEN 0.0 ELSE 1.0 END) AS area_unemployment,
           count(*) AS area_working_age
    FROM present pr LEFT JOIN ongoing o USING (person_id)
    WHERE pr.age_now >= 17 AND pr.age_now < 65
    GROUP BY pr.postal_code
)
SELECT s.spell_id, s.person_id, s.start_date, s.end_date, s.outcome AS spell_outcome,
       date_diff('day', p.birth_date, s.start_date) / 365.25 AS age_at_start,
       p.sex, p.mother_tongue, p.postal_code, p.district_code,
       b.education_level, b.finnish_skill, b.swedish_skill, b.work_history_years,
       b.months_unemployed_before,
       svc.service, svc.service_start,
       coalesce(a.area_unemployment, 0.0) AS area_unemployment,
       (s.outcome = 'employed' AND s.end_date IS NOT NULL
        AND date_diff('day', s.start_date, s.end_date) <= {FOLLOW_UP_DAYS}) AS employed_within_6m,
       (s.start_date + {FOLLOW_UP_DAYS + 1} < least(params.as_of, coalesce(p.death_date, params.as_of),
                                             coalesce(p.move_out_date, params.as_of))) AS follow_up_complete,
       date_diff('day', s.start_date, coalesce(s.end_date, params.as_of)) AS days_observed,
       (s.outcome = 'employed' AND s.end_date IS NOT NULL) AS exit_to_employment
FROM jobseeker_spell s
JOIN jobseeker_background b USING (spell_id)
JOIN person p ON p.person_id = s.person_id
CROSS JOIN params
LEFT JOIN svc USING (spell_id)
LEFT JOIN area a ON a.postal_code = p.postal_code
ORDER BY s.spell_id
"""


def extract_date(engine: DuckDBEngine) -> date:
    """The extract date implied by the data: the day after the last spell date."""
    value = engine.sql(_AS_OF_SQL).column("as_of")[0].as_py()
    if value is None:
        raise ValueError("the database holds no job-seeking spells")
    return value.date() if hasattr(value, "date") and not isinstance(value, date) else value


def jobseeker_frame(engine: DuckDBEngine, as_of: date | None = None) -> pa.Table:
    """Every job-seeking spell with its background, service, outcome and observability flags."""
    names = set(engine.table_names())
    missing = {"jobseeker_spell", "jobseeker_background", "employment_service", "person"} - names
    if missing:
        raise KeyError(f"the database lacks the employment tables: {', '.join(sorted(missing))}")
    return engine.sql(_FRAME_SQL, [as_of or extract_date(engine)])
