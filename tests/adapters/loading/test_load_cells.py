"""Every cell is checked against the registry: types, NOT NULL, code systems and ranges."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from loading_support import Loaded, Sample, engine_fixture, load_files_fixture, sample_fixture, source_fixture  # noqa: F401 - pytest fixtures

from ennakoiva.adapters.engine import DuckDBEngine

Load = Callable[..., Loaded]


def test_wrong_types_name_line_column_value_and_reason(load_files: Load, sample: Sample,
                                                       engine: DuckDBEngine) -> None:
    people = [sample.person_header,
              sample.person(10),
              sample.person("ten"),
              sample.person(12, household_id="1.5"),
              sample.person(13, birth_date="31.1.1980"),
              sample.person(14, birth_date="2023-02-30"),
              sample.person(15, birth_date="1980-1-5"),
              sample.person("99999999999999999999"),
              sample.person(16, household_id="1.0")]  # a pandas-style integer is still an integer
    loaded = load_files({"household.csv": sample.households_csv(1), "person.csv": "\n".join(people) + "\n"})
    assert loaded.problems("person.csv") == [
        ("3", "person_id", "ten", "not an integer"),
        ("4", "household_id", "1.5", "not a whole number"),
        ("5", "birth_date", "31.1.1980", "not an ISO date YYYY-MM-DD (this looks like d.m.yyyy)"),
        ("6", "birth_date", "2023-02-30", "no such date"),
        ("7", "birth_date", "1980-1-5", "not an ISO date YYYY-MM-DD"),
        ("8", "person_id", "99999999999999999999", "integer out of range for BIGINT"),
    ]
    assert loaded.rejects_of("person.csv")[0]["raw"] == people[2]
    entry = loaded.file("person.csv")
    assert (entry.read, entry.loaded, entry.rejected) == (8, 2, 6)
    rows = engine.sql("SELECT person_id, household_id, birth_date FROM person ORDER BY 1").to_pylist()
    assert rows == [{"person_id": 10, "household_id": 1, "birth_date": date(1980, 1, 31)},
                    {"person_id": 16, "household_id": 1, "birth_date": date(1980, 1, 31)}]


def test_decimal_comma_is_rejected_with_a_clear_reason(load_files: Load, sample: Sample) -> None:
    households = "\n".join([sample.household_header.replace(",", ";"),
                            sample.household(1, sep=";", floor_area_m2="135.0"),
                            sample.household(2, sep=";", floor_area_m2="135,0"),
                            sample.household("3,0", sep=";")]) + "\n"
    loaded = load_files({"household.csv": households})
    assert loaded.problems("household.csv") == [
        ("3", "floor_area_m2", "135,0", "decimal comma: write numbers with a decimal point (e.g. 135.0, not 135,0)"),
        ("4", "household_id", "3,0", "not an integer: decimal comma (write a whole number, e.g. 135)"),
    ]
    assert loaded.file("household.csv").loaded == 1


def test_unknown_codes_use_the_registry_code_systems(load_files: Load, sample: Sample) -> None:
    people = "\n".join([sample.person_header, sample.person(10), sample.person(11, sex="X"),
                        sample.person(12, mother_tongue="FI")]) + "\n"
    diagnoses = ("diagnosis_id,person_id,visit_id,diagnosis_date,icd10_code,is_primary\n"
                 "1,10,,2024-01-02,I10,true\n"
                 "2,10,,2024-01-02,i10,1\n"
                 "3,10,,2024-01-02,E11.9,kyllä\n")
    measurements = ("measurement_id,person_id,visit_id,measured_on,code,value,unit\n"
                    "1,10,,2024-01-02,8480-6,141,mm[Hg]\n"
                    "2,10,,2024-01-02,8480-5,141,mm[Hg]\n"
                    "3,10,,2024-01-02,4548-4,6.1,percent\n")
    loaded = load_files({"household.csv": sample.households_csv(1), "person.csv": people,
                         "diagnosis.csv": diagnoses, "measurement.csv": measurements})
    assert loaded.problems("person.csv") == [
        ("3", "sex", "X", "not a valid sex code: expected one of F, M"),
        ("4", "mother_tongue", "FI", "not a valid language code: expected a code matching ^[a-z]{2}$ "
                                     "(did you mean 'fi'?)"),
    ]
    assert loaded.problems("diagnosis.csv") == [
        ("3", "icd10_code", "i10", r"not a valid icd10 code: expected a code matching "
                                   r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,3})?$ (did you mean 'I10'?)"),
        ("4", "is_primary", "kyllä", "not a boolean: use true/false or 1/0"),
    ]
    assert loaded.problems("measurement.csv")[0] == (
        "3", "code", "8480-5", "not a valid loinc code: the loinc check digit is wrong")
    assert loaded.problems("measurement.csv")[1][:3] == ("4", "unit", "percent")
    assert loaded.file("diagnosis.csv").loaded == 1


def test_missing_values_and_ranges(load_files: Load, sample: Sample) -> None:
    households = "\n".join([sample.household_header, sample.household(1, floor_area_m2=""),
                            sample.household(2, floor_area_m2="2"), sample.household(3, household_type=""),
                            sample.household(4, floor_area_m2="1e9"), sample.household(5, floor_area_m2="nan")])
    loaded = load_files({"household.csv": households + "\n"})
    assert loaded.problems("household.csv") == [
        ("3", "floor_area_m2", "2", "below the minimum 5 m2"),
        ("4", "household_type", "", "missing value: the column is required"),
        ("5", "floor_area_m2", "1e9", "above the maximum 1000 m2"),
        ("6", "floor_area_m2", "nan", "not a finite number"),
    ]
    assert loaded.file("household.csv").loaded == 1  # an empty optional value is NULL, and fine


def test_timestamps_need_an_offset_and_are_stored_in_utc(load_files: Load, engine: DuckDBEngine) -> None:
    buildings = ("building_id,district_code,postal_code,building_use,floor_area_m2,built_year\n"
                 "1,101,00100,school,2500,1965\n")
    readings = ("building_id,reading_at,energy_kwh,temperature_c,co2_ppm,humidity_pct\n"
                "1,2024-01-31T08:00:00+02:00,12.5,21.0,650,35\n"
                "1,2024-01-31T09:00:00,12.5,21.0,650,35\n"
                "1,2024-01-31 25:00Z,12.5,21.0,650,35\n"
                "1,31.1.2024 10:00,12.5,21.0,650,35\n"
                "1,2024-01-31T10:00:00Z,,,,\n")
    loaded = load_files({"building.csv": buildings, "building_reading.csv": readings})
    assert loaded.problems("building_reading.csv") == [
        ("3", "reading_at", "2024-01-31T09:00:00", "timestamp without a UTC offset: add Z or an offset such as +02:00"),
        ("4", "reading_at", "2024-01-31 25:00Z", "no such date or time"),
        ("5", "reading_at", "31.1.2024 10:00",
         "not an ISO 8601 timestamp with offset (e.g. 2024-01-31T08:00:00+02:00)"),
    ]
    stored = engine.sql("SELECT reading_at FROM building_reading ORDER BY 1").column(0).to_pylist()
    assert stored == [datetime(2024, 1, 31, 6, tzinfo=UTC), datetime(2024, 1, 31, 10, tzinfo=UTC)]
