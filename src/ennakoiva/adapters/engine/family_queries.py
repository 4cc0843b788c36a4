"""Engine-side queries the daycare-fee proposal needs beyond one person's own rows.

Two kinds, kept apart on purpose:

- ``household_minors`` counts the minors in a child's household (the law's family size needs it,
  L 1503/2016 § 5), and ``household_members_among`` says which of the child's relatives (its
  guardians, their spouses) live in that household — so a separated guardian's income is never
  read when it does not count. Both touch other people's rows, so, like
  ``DuckDBEngine.read_subject``, they refuse to run without the access gate's permitting decision
  for that child and the ``population`` category, and they return a count or a subset of the ids
  given — no birth dates, no other ids.
- ``income_register_months`` and ``daycare_units_with_room`` are aggregates: the months the
  Incomes Register extract covers, and each daycare unit's capacity minus its ongoing
  placements. No person-level value leaves the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ennakoiva.adapters.engine.duckdb_engine import DuckDBEngine
from ennakoiva.domain.consent.decision import Decision

__all__ = ["DaycareUnit", "daycare_units_with_room", "household_members_among", "household_minors",
           "income_register_months"]


@dataclass(frozen=True)
class DaycareUnit:
    """A daycare centre with the places free on a date (capacity − ongoing placements)."""

    unit_id: int
    name: str
    postal_code: str
    district_code: str
    languages: tuple[str, ...]
    capacity: int
    occupied: int

    @property
    def free_places(self) -> int:
        return self.capacity - self.occupied


def _require_permit(child_id: int, decision: Decision) -> None:
    if not isinstance(decision, Decision) or not decision.permit:
        raise PermissionError("reading a child's household needs a permitting access decision")
    if decision.subject_id != child_id:
        raise PermissionError("the access decision was made for another subject")
    if "population" not in decision.categories:
        raise PermissionError("the access decision does not cover population data")


def household_members_among(engine: DuckDBEngine, child_id: int, decision: Decision,
                            candidates: list[int]) -> frozenset[int]:
    """Which of ``candidates`` are registered in the child's household (alive, not moved out)."""
    _require_permit(child_id, decision)
    if not candidates:
        return frozenset()
    rows = engine.sql(
        "SELECT m.person_id FROM person m "
        "WHERE m.household_id = (SELECT household_id FROM person WHERE person_id = $1) "
        "AND list_contains($2, m.person_id) AND m.death_date IS NULL AND m.move_out_date IS NULL",
        [child_id, [int(c) for c in candidates]]).to_pylist()
    return frozenset(int(r["person_id"]) for r in rows)


def household_minors(engine: DuckDBEngine, child_id: int, decision: Decision, on: date) -> int:
    """How many people under 18 on ``on`` live in the child's household (the child included)."""
    _require_permit(child_id, decision)
    adult_from = date(on.year - 18, on.month, 28 if (on.month, on.day) == (2, 29) else on.day)
    rows = engine.sql(
        "SELECT count(*) AS minors FROM person m "
        "WHERE m.household_id = (SELECT household_id FROM person WHERE person_id = $1) "
        "AND m.birth_date > $2 AND m.birth_date <= $3 "
        "AND (m.death_date IS NULL OR m.death_date > $3) AND (m.move_out_date IS NULL OR m.move_out_date > $3)",
        [child_id, adult_from, on]).to_pylist()
    return int(rows[0]["minors"])


def income_register_months(engine: DuckDBEngine) -> tuple[date, date] | None:
    """First and last month the income table holds (an aggregate: no person's data)."""
    row = engine.sql('SELECT min("month") AS first, max("month") AS last FROM income').to_pylist()[0]
    if row["first"] is None:
        return None
    return row["first"], row["last"]


def daycare_units_with_room(engine: DuckDBEngine, on: date, language: str) -> list[DaycareUnit]:
    """Daycare centres serving in ``language`` with at least one free place on ``on``.

    Occupancy counts the placements running on ``on`` (started, not yet ended); only the count per
    unit is computed, never who holds the places.
    """
    rows = engine.sql(
        "SELECT u.unit_id, u.name, u.postal_code, u.district_code, u.languages, u.capacity, "
        "       count(p.placement_id) AS occupied "
        "FROM service_unit u LEFT JOIN ecec_placement p ON p.unit_id = u.unit_id "
        "     AND p.start_date <= $1 AND (p.end_date IS NULL OR p.end_date >= $1) "
        "WHERE u.unit_type = 'daycare' AND list_contains(string_split(u.languages, ','), $2) "
        "GROUP BY ALL HAVING u.capacity > count(p.placement_id) ORDER BY u.unit_id",
        [on, language]).to_pylist()
    return [DaycareUnit(unit_id=int(r["unit_id"]), name=r["name"], postal_code=r["postal_code"],
                        district_code=r["district_code"], languages=tuple(r["languages"].split(",")),
                        capacity=int(r["capacity"]), occupied=int(r["occupied"])) for r in rows]
