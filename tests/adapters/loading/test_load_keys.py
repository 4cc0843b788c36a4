"""Keys across rows: references to other tables, duplicate primary keys, idempotent re-runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from loading_support import (  # noqa: F401 - pytest fixtures
    Loaded,
    Sample,
    engine_fixture,
    load_files_fixture,
    load_into,
    sample_fixture,
    source_fixture,
)

from ennakoiva.adapters.engine import DuckDBEngine

Load = Callable[..., Loaded]

DIAGNOSES = ("diagnosis_id,person_id,visit_id,diagnosis_date,icd10_code,is_primary\n"
             "1,10,,2024-01-02,I10,true\n"
             "2,77,,2024-01-02,E11.9,false\n")
FK_HOUSEHOLD = ("no household with this household_id (references household.household_id; not in the "
                "database nor among the good rows of this load)")


def test_references_must_exist_in_this_load_or_the_database(load_files: Load, sample: Sample) -> None:
    people = sample.people_csv(sample.person(10, household_id=1), sample.person(11, household_id=9),
                               sample.person(12, household_id=2))
    households = "\n".join([sample.household_header, sample.household(1),
                            sample.household(2, household_type="big")]) + "\n"
    loaded = load_files({"diagnosis.csv": DIAGNOSES, "person.csv": people, "household.csv": households})
    assert [f.table for f in loaded.report.files] == ["household", "person", "diagnosis"]  # load order
    assert loaded.problems("person.csv") == [("3", "household_id", "9", FK_HOUSEHOLD),
                                             # household 2 was itself rejected, so it is no key either
                                             ("4", "household_id", "2", FK_HOUSEHOLD)]
    assert loaded.problems("diagnosis.csv") == [
        ("3", "person_id", "77", "no person with this person_id (references person.person_id; not in the "
                                 "database nor among the good rows of this load)")]


def test_a_later_load_may_refer_to_rows_already_in_the_database(engine: DuckDBEngine, sample: Sample,
                                                                 tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    load_into(engine, first, {"household.csv": sample.households_csv(1, 2)})
    loaded = load_into(engine, second, {"person.csv": sample.people_csv(sample.person(10, household_id=2))})
    assert (loaded.report.loaded, loaded.report.rejected) == (1, 0)


def test_a_reference_and_a_bad_cell_in_one_row_are_both_reported(load_files: Load, sample: Sample) -> None:
    loaded = load_files({"household.csv": sample.households_csv(1),
                         "person.csv": sample.people_csv(sample.person(10, household_id=5, sex="x"))})
    assert [(r["line"], r["column"]) for r in loaded.rejects] == [("2", "sex"), ("2", "household_id")]
    assert loaded.file("person.csv").rejected == 1


def test_duplicate_keys_name_the_line_they_repeat(load_files: Load, sample: Sample, engine: DuckDBEngine) -> None:
    people = sample.people_csv(sample.person(10), sample.person(11, sex="X"), sample.person(11),
                               sample.person(10, sex="M"), sample.person(10, sex="M"))
    income = ("person_id,month,income_type,amount_eur\n"
              "10,2024-01-01,wages,3100.50\n"
              "10,2024-01-01,pension,800\n"
              "10,2024-01-01,wages,3100.50\n")
    loaded = load_files({"household.csv": sample.households_csv(1), "person.csv": people, "income.csv": income})
    duplicate = "duplicate primary key (person_id): the same key as line 2"
    assert loaded.problems("person.csv") == [
        ("3", "sex", "X", "not a valid sex code: expected one of F, M"),
        ("5", "person_id", "10", duplicate),
        ("6", "person_id", "10", duplicate),
    ]
    # line 4 repeats line 3's key, but line 3 was rejected, so line 4 is the one that loads
    assert engine.sql("SELECT person_id, sex FROM person ORDER BY 1").to_pylist() == [
        {"person_id": 10, "sex": "F"}, {"person_id": 11, "sex": "F"}]
    assert loaded.problems("income.csv") == [
        ("4", "person_id,month,income_type", "10|2024-01-01|wages",
         "duplicate primary key (person_id, month, income_type): the same key as line 2")]


def test_loading_the_same_files_twice_gives_the_same_database(engine: DuckDBEngine, source: Path,
                                                              sample: Sample) -> None:
    files: dict[str, str | bytes] = {
        "household.csv": sample.households_csv(1, 2),
        "person.csv": sample.people_csv(sample.person(10), sample.person(11, household_id=2),
                                        sample.person(12, sex="X")),
        "income.csv": "person_id,month,income_type,amount_eur\n10,2024-01-01,wages,3100.5\n"}
    first = load_into(engine, source, files)
    before = engine.stats()
    second = load_into(engine, source, {})
    assert engine.stats() == before
    assert [(f.read, f.loaded, f.rejected) for f in second.report.files] == \
        [(f.read, f.loaded, f.rejected) for f in first.report.files]
    assert [f.replaced for f in first.report.files] == [0, 0, 0]
    assert [f.replaced for f in second.report.files] == [2, 2, 1]  # every good row replaced itself
    assert second.rejects == first.rejects  # the rejects file describes the latest run only
