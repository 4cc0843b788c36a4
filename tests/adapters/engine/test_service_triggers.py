"""Trigger → SQL → target group: hand-built scenarios per service, and the small synthetic city."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.engine.criteria_sql import evaluate_criteria
from ennakoiva.adapters.engine.service_triggers import TARGET_COLUMNS, find_targets, target_sql
from ennakoiva.domain.clock import age_on
from ennakoiva.domain.criteria import load_criteria
from ennakoiva.domain.services import load_service, load_services
from ennakoiva.domain.services.scenarios import ServiceScenario, load_scenarios

ON = date(2026, 11, 1)


# -- the catalogue's scenarios: a hand-written city per service ---------------------------------------------
def build_city(sc: ServiceScenario) -> DuckDBEngine:
    """An in-memory database holding exactly the scenario's people, relations, placements and health rows."""
    engine = DuckDBEngine(":memory:")
    engine.create_tables(replace=True)
    rows: dict[str, list[dict[str, Any]]] = {
        "household": [{"household_id": 1, "household_type": "couple_with_children", "postal_code": "00100",
                       "district_code": "101", "floor_area_m2": None}],
        "service_unit": [{"unit_id": u.id, "unit_type": u.type, "name": u.name, "district_code": u.district,
                          "postal_code": "00100", "languages": u.languages, "capacity": 100, "building_id": None}
                         for u in sc.units],
        "person": [{"person_id": p.id, "birth_date": p.born, "sex": "F", "mother_tongue": p.tongue,
                    "municipality_code": p.municipality, "district_code": p.district, "postal_code": p.postal,
                    "household_id": 1, "moved_in_date": p.moved_in, "death_date": p.died,
                    "move_out_date": p.moved_out} for p in sc.people],
        "family_relation": [{"person_id": g.guardian, "related_person_id": g.child, "relation": "guardian_of",
                             "valid_from": g.since or sc.person(g.child).born, "valid_to": g.until}
                            for g in sc.guardians],
        "contact_channel": [{"person_id": p.id, "channel": "sms", "address": p.phone,
                             "preferred_language": p.language, "valid_from": max(p.born, date(2015, 1, 1))}
                            for p in sc.people if p.phone],
        "ecec_placement": [{"placement_id": i, "person_id": x.child, "unit_id": x.unit, "placement_type": x.type,
                            "start_date": x.start, "end_date": x.end, "hours_per_week": x.hours_per_week}
                           for i, x in enumerate(sc.placements, 1)],
        "health_visit": [{"visit_id": i, "person_id": v.person, "unit_id": v.unit, "visit_date": v.on,
                          "visit_type": v.type} for i, v in enumerate(sc.visits, 1)],
        "diagnosis": [{"diagnosis_id": i, "person_id": d.person, "visit_id": None, "diagnosis_date": d.on,
                       "icd10_code": d.code, "is_primary": True} for i, d in enumerate(sc.diagnoses, 1)],
        "prescription": [{"prescription_id": i, "person_id": r.person, "atc_code": r.code, "start_date": r.start,
                          "end_date": r.end} for i, r in enumerate(sc.prescriptions, 1)],
    }
    for table, data in rows.items():
        if data:
            engine.append(table, pa.Table.from_pylist(data))
    return engine


SCENARIOS = load_scenarios()


@pytest.mark.parametrize(("path", "scenario"), SCENARIOS, ids=[p.stem for p, _ in SCENARIOS])
def test_catalogue_scenario(path: Path, scenario: ServiceScenario) -> None:
    engine = build_city(scenario)
    try:
        rows = find_targets(engine, load_service(scenario.service), scenario.on).to_pylist()
    finally:
        engine.close()
    got = {(r["subject_id"], r["recipient_id"]): r for r in rows}
    assert sorted(got) == sorted((e.subject, e.recipient) for e in scenario.expect), path
    for e in scenario.expect:
        row = got[(e.subject, e.recipient)]
        if e.language is not None:
            assert row["language"] == e.language, (path, e)
        if e.phone is not None:
            assert row["phone"] == e.phone, (path, e)
        if e.no_phone:
            assert row["phone"] is None, (path, e)
        if e.unit is not None:
            assert row["unit_name"] == e.unit, (path, e)


def test_every_service_has_a_scenario() -> None:
    assert {s.id for s in load_services()} <= {sc.service for _, sc in SCENARIOS}


@pytest.fixture
def preschool_city() -> Iterator[DuckDBEngine]:
    engine = build_city(next(sc for _, sc in SCENARIOS if sc.service == "preschool-offer"))
    yield engine
    engine.close()


def test_preschool_details(preschool_city: DuckDBEngine) -> None:
    rows = find_targets(preschool_city, load_service("preschool-offer"), ON).to_pylist()
    shared = {r["recipient_id"]: r["shared_phone"] for r in rows}
    assert shared == {101: False, 102: False, 103: False, 111: True, 112: True}
    sources = {r["recipient_id"]: r["language_source"] for r in rows}
    assert sources[103] == "mother_tongue" and sources[101] == "contact_channel"
    by_subject = {r["subject_id"]: r for r in rows}
    assert (by_subject[6]["district_code"], by_subject[6]["postal_code"]) == ("202", "00350")
    assert by_subject[1]["subject_birth_date"] == date(2021, 3, 1)
    assert all(r["recipient_role"] == "guardian" and r["reasons"] == [] for r in rows)


def test_preschool_in_january_of_the_year_and_after_august(preschool_city: DuckDBEngine) -> None:
    service = load_service("preschool-offer")
    assert {r["subject_id"] for r in find_targets(preschool_city, service, date(2027, 1, 7)).to_pylist()} == {1, 6, 7}
    # from 2 August on, the offer is for the next school year's six-year-olds (born 2022): none here
    assert find_targets(preschool_city, service, date(2027, 8, 2)).num_rows == 0


def test_care_gap_rows_carry_the_matched_criteria() -> None:
    engine = build_city(next(sc for _, sc in SCENARIOS if sc.service == "care-gap-invitation"))
    try:
        rows = find_targets(engine, load_service("care-gap-invitation"), ON).to_pylist()
    finally:
        engine.close()
    assert {r["subject_id"]: r["reasons"] for r in rows} == {1: ["htn-untreated"], 5: ["htn-untreated"]}
    assert all(r["recipient_role"] == "self" for r in rows)


def test_query_has_only_validated_literals() -> None:
    sql = target_sql(load_service("preschool-offer"), ON)
    assert "year(p.birth_date) = 2021" in sql
    assert "DATE '2026-11-01'" in sql


# -- the small synthetic city -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def city(small_city: Any) -> Iterator[DuckDBEngine]:
    engine = DuckDBEngine(small_city.db, read_only=True)
    yield engine
    engine.close()


def _residents(engine: DuckDBEngine) -> int:
    return int(engine.sql(f"SELECT count(*) AS n FROM person WHERE municipality_code = '091' "
                          f"AND (death_date IS NULL OR death_date > DATE '{ON}') "
                          f"AND (move_out_date IS NULL OR move_out_date > DATE '{ON}')")["n"][0].as_py())


def test_preschool_target_group_in_the_small_city(city: DuckDBEngine) -> None:
    targets = find_targets(city, load_service("preschool-offer"), ON)
    assert targets.column_names == list(TARGET_COLUMNS)
    rows = targets.to_pylist()
    children = {r["subject_id"] for r in rows}
    ratio = _residents(city) / len(children)
    assert 95 <= ratio <= 130, ratio                     # about one resident in 110 (Helsinki: ~6 000 / 650 000)
    assert all(r["subject_birth_date"].year == 2021 for r in rows)
    # independently: guardians in force of those children, from the raw tables
    rel = city.sql("SELECT person_id, related_person_id FROM family_relation WHERE relation = 'guardian_of' "
                   "AND valid_to IS NULL").to_pylist()
    alive = {r["person_id"] for r in city.sql("SELECT person_id FROM person WHERE death_date IS NULL").to_pylist()}
    expected = {(r["related_person_id"], r["person_id"]) for r in rel
                if r["related_person_id"] in children and r["person_id"] in alive}
    assert {(r["subject_id"], r["recipient_id"]) for r in rows} == expected
    # most children have two guardians; phones are E.164; languages follow the register
    assert len(rows) / len(children) > 1.5
    assert all(r["phone"] is None or (r["phone"].startswith("+358") and r["phone"][1:].isdigit()) for r in rows)
    pref = {r["person_id"]: r["preferred_language"]
            for r in city.sql("SELECT person_id, preferred_language FROM contact_channel").to_pylist()}
    assert all(r["language"] == pref[r["recipient_id"]] for r in rows if r["language_source"] == "contact_channel")
    assert {r["language"] for r in rows} <= {"fi", "sv", "en"}
    assert all(r["unit_name"] and r["unit_name"].startswith(("Päiväkoti", "Daghemmet")) for r in rows)


def test_no_preschool_child_has_a_preschool_placement(city: DuckDBEngine) -> None:
    targets = find_targets(city, load_service("preschool-offer"), ON)
    ids = ", ".join(str(i) for i in set(targets.column("subject_id").to_pylist()))
    clash = city.sql(f"SELECT count(*) AS n FROM ecec_placement WHERE placement_type = 'preschool' "
                     f"AND person_id IN ({ids})")
    assert clash["n"][0].as_py() == 0


def test_care_gap_invitation_in_the_small_city(city: DuckDBEngine) -> None:
    service = load_service("care-gap-invitation")
    rows = find_targets(city, service, ON).to_pylist()
    assert rows and all(r["recipient_role"] == "self" and r["recipient_id"] == r["subject_id"] for r in rows)
    wanted = set(service.trigger.all[0].care_gap.criteria)  # type: ignore[union-attr]
    gaps = evaluate_criteria(city, [c.compiled for c in load_criteria() if c.compiled.id in wanted], ON).to_pylist()
    people = {r["person_id"]: r for r in city.sql("SELECT * FROM person").to_pylist()}

    def eligible(pid: int) -> bool:
        p = people[pid]
        return (p["municipality_code"] == "091" and p["death_date"] is None and p["move_out_date"] is None
                and 18 <= age_on(p["birth_date"], ON) <= 85)

    expected: dict[int, list[str]] = {}
    for g in gaps:
        if eligible(g["person_id"]):
            expected.setdefault(g["person_id"], []).append(g["criterion_id"])
    assert {r["subject_id"]: r["reasons"] for r in rows} == {k: sorted(v) for k, v in expected.items()}
    assert all(r["unit_name"] and "terveysasema" in r["unit_name"] for r in rows)


def test_daycare_fee_in_the_small_city(city: DuckDBEngine) -> None:
    rows = find_targets(city, load_service("daycare-fee-reduced"), ON).to_pylist()
    started = city.sql("SELECT DISTINCT person_id FROM ecec_placement WHERE placement_type <> 'preschool' "
                       "AND start_date > DATE '2026-09-02' AND start_date <= DATE '2026-11-01' "
                       "AND (end_date IS NULL OR end_date >= DATE '2026-11-01')").to_pylist()
    assert {r["subject_id"] for r in rows} == {r["person_id"] for r in started}
