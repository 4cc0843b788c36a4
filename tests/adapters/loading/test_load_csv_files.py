"""CSV files as cities have them: encodings, BOMs, separators, quoting, truncation, odd headers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from loading_support import Loaded, Sample, engine_fixture, load_files_fixture, sample_fixture, source_fixture  # noqa: F401 - pytest fixtures

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.loading import csv_source
from ennakoiva.adapters.loading.encoding import detect_encoding

Load = Callable[..., Loaded]
ROOT = Path(__file__).resolve().parents[3]

UNITS_HEADER = "unit_id,unit_type,name,district_code,postal_code,languages,capacity,building_id"
UNITS = (f"{UNITS_HEADER}\n"
         "1,daycare,Töölön päiväkoti,101,00100,fi,120,\n"
         "2,daycare,Åsa daghem,101,00100,sv,40,\n")


def _names(engine: DuckDBEngine) -> list[str]:
    return engine.sql("SELECT name FROM service_unit ORDER BY unit_id").column(0).to_pylist()


def test_a_latin1_file_is_detected_and_loads_correctly(load_files: Load, engine: DuckDBEngine) -> None:
    loaded = load_files({"service_unit.csv": UNITS.encode("latin-1")})
    assert loaded.file("service_unit.csv").encoding == "cp1252"
    assert _names(engine) == ["Töölön päiväkoti", "Åsa daghem"]


def test_statistics_finlands_paavo_file_is_read_as_windows_1252() -> None:
    paavo = ROOT / "data" / "external" / "helsinki" / "paavo" / "009_12f7_2023_all.csv"
    if not paavo.exists():
        pytest.skip("the Paavo extract is not in this checkout")
    data = paavo.read_bytes()
    assert detect_encoding(data) == "cp1252"
    assert "Etu-Töölö" in data.decode("cp1252")


def test_a_wrong_encoding_rejects_the_file_naming_line_and_byte(load_files: Load, sample: Sample) -> None:
    loaded = load_files({"service_unit.csv": UNITS.encode("latin-1"),
                         "household.csv": sample.households_csv(1)}, encoding="utf-8")
    entry = loaded.file("service_unit.csv")
    assert entry.error == ("service_unit.csv: line 2, byte 12: 0xf6 is not valid utf-8; the file is in another "
                           "encoding (leave the encoding out to detect it, or try cp1252)")
    assert (entry.read, entry.loaded, entry.rejected) == (2, 0, 2)
    assert loaded.rejects_of("service_unit.csv")[0]["line"] == "2"
    assert loaded.file("household.csv").loaded == 1  # the other files still load
    assert not loaded.report.ok


def test_bom_crlf_semicolons_and_column_order(load_files: Load, engine: DuckDBEngine) -> None:
    reordered = ("\ufeffname;unit_id;unit_type;district_code;postal_code;languages;capacity;building_id\r\n"
                 "Kallion päiväkoti;1;daycare;101;00100;fi,en;80;\r\n"
                 "\r\n"
                 "Hakaniemen terveysasema;2;health_station;101;00100;fi;9000;\r\n")
    loaded = load_files({"service_unit.csv": reordered.encode("utf-8")})
    entry = loaded.file("service_unit.csv")
    assert (entry.encoding, entry.delimiter, entry.read, entry.loaded) == ("utf-8-sig", ";", 2, 2)
    assert _names(engine) == ["Kallion päiväkoti", "Hakaniemen terveysasema"]
    assert engine.sql("SELECT languages FROM service_unit WHERE unit_id = 1").column(0).to_pylist() == ["fi,en"]


def test_quoted_values_with_delimiters_quotes_and_line_breaks(load_files: Load, engine: DuckDBEngine) -> None:
    units = (f"{UNITS_HEADER}\n"
             '1,daycare,"Päiväkoti Aurinko, Töölö",101,00100,"fi,sv",120,\n'
             '2,daycare,"Päiväkoti ""Kuu""\nKallio",101,00100,fi,40,\n'
             "3,daycare,Rastas,101,00100,fi,-5,\n")
    loaded = load_files({"service_unit.csv": units})
    assert _names(engine) == ["Päiväkoti Aurinko, Töölö", 'Päiväkoti "Kuu"\nKallio']
    # the record on lines 3-4 spans two lines, so the next one is on line 5
    assert loaded.problems("service_unit.csv") == [("5", "capacity", "-5", "below the minimum 0")]


def test_a_truncated_last_line_is_rejected_not_a_crash(load_files: Load, sample: Sample) -> None:
    whole = sample.people_csv(sample.person(10), sample.person(11))
    cut = whole[:whole.rindex("01,00100")]  # the last line stops in the middle of the district code
    loaded = load_files({"household.csv": sample.households_csv(1), "person.csv": cut})
    assert loaded.problems("person.csv") == [
        ("3", "", "", "expected 11 fields separated by ',', found 6; the file ends in the middle of this line "
                      "(truncated?)")]
    assert loaded.rejects_of("person.csv")[0]["raw"] == "11,1980-01-31,F,fi,091,1"
    assert loaded.file("person.csv").loaded == 1


def test_an_unterminated_quote_rejects_its_line_and_later_lines_still_load(load_files: Load,
                                                                          sample: Sample) -> None:
    people = sample.people_csv(sample.person(10), sample.person(11, sex='"F'), sample.person(12),
                               sample.person(13, birth_date="1980-01-32"), sample.person(14, extra="x") + ",x")
    loaded = load_files({"household.csv": sample.households_csv(1), "person.csv": people})
    assert loaded.problems("person.csv") == [
        ("3", "", "", "unterminated quote: the quoted value that starts on this line is never closed"),
        ("5", "birth_date", "1980-01-32", "no such date"),
        ("6", "", "", "expected 11 fields separated by ',', found 12; a value containing ',' must be in "
                      "double quotes"),
    ]
    assert (loaded.file("person.csv").loaded, loaded.file("person.csv").rejected) == (2, 3)


def test_a_header_only_file_loads_nothing_and_an_empty_file_is_an_error(load_files: Load, sample: Sample) -> None:
    loaded = load_files({"household.csv": sample.household_header, "person.csv": b"\xef\xbb\xbf\r\n"})
    assert (loaded.file("household.csv").read, loaded.file("household.csv").error) == (0, None)
    assert loaded.file("person.csv").error == ("person.csv: the file is empty; expected a header line with "
                                               "the column names")
    assert not loaded.report.ok  # a file rejected as a whole fails the load even with no rows


def test_missing_and_extra_columns_reject_the_whole_file(load_files: Load, sample: Sample) -> None:
    extra = sample.households_csv(1).replace("floor_area_m2", "floor_area_m2,notes", 1).replace(
        "55.5\n", "55.5,corner flat\n")
    renamed = sample.people_csv(sample.person(10)).replace("person_id", "Person ID", 1)
    loaded = load_files({"household.csv": extra, "person.csv": renamed})
    assert loaded.file("household.csv").error == (
        "household.csv: line 1: unexpected column(s) 'notes' — table household has columns household_id, "
        "household_type, postal_code, district_code, floor_area_m2")
    assert loaded.file("person.csv").error.startswith(
        "person.csv: line 1: missing required column(s) person_id; unexpected column(s) 'Person ID' "
        "(did you mean 'person_id'?)")
    assert loaded.rejects_of("person.csv")[0]["column"] == "person_id,Person ID"
    assert (loaded.report.read, loaded.report.rejected) == (2, 2)


def test_an_absent_optional_column_loads_as_null_with_a_warning(load_files: Load, sample: Sample,
                                                                engine: DuckDBEngine) -> None:
    households = "household_id,household_type,postal_code,district_code\n1,couple,00100,101\n"
    loaded = load_files({"household.csv": households})
    assert loaded.file("household.csv").warnings == [
        "column floor_area_m2 is absent; loaded as empty (it is optional)"]
    assert engine.sql("SELECT floor_area_m2 FROM household").column(0).to_pylist() == [None]


def test_quote_all_exports_take_the_vectorised_path_with_exact_lines(
        load_files: Load, engine: DuckDBEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object) -> None:
        raise AssertionError("the csv module path was used")

    monkeypatch.setattr(csv_source, "_split_with_csv_module", refuse)
    units = ('"unit_id","unit_type","name","district_code","postal_code","languages","capacity","building_id"\n'
             '1,"daycare","Päiväkoti ""Aurinko"", Töölö","101","00100","fi,sv",120,""\n'
             "\n"
             '2,"daycare","Rastas","101","00100","fi",40\n'
             '3,"daycare","Kuu","101","00100","fi",40,""\n')
    loaded = load_files({"service_unit.csv": units})
    assert loaded.problems("service_unit.csv") == [
        ("4", "", "", "expected 8 fields separated by ',', found 7")]
    assert loaded.rejects_of("service_unit.csv")[0]["raw"] == '2,"daycare","Rastas","101","00100","fi",40'
    assert _names(engine) == ['Päiväkoti "Aurinko", Töölö', "Kuu"]
