"""The criteria SQL: exact against the synthetic city's planted truth, and right on hand-made cases."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from criteria_support import CRITERIA_DDL

from ennakoiva.adapters.engine.criteria_sql import RESULT_COLUMNS, criteria_sql, evaluate_criteria
from ennakoiva.adapters.engine.duckdb_engine import DuckDBEngine
from ennakoiva.domain.criteria import CRITERIA_DIR, load_criteria, load_criterion
from ennakoiva.domain.criteria.variants import criterion_variants

CRITERIA = [c.compiled for c in load_criteria()]
IDS = sorted(c.id for c in CRITERIA)
# the criteria whose gaps and near misses the synthesiser plants (the truth file names them)
PLANTED = ["af-no-anticoagulant", "bp-high-no-dx", "chd-no-statin", "egfr-low-no-ckd-dx", "hba1c-high-no-dm-dx",
           "htn-no-bp-followup", "htn-uncontrolled", "htn-untreated", "t2d-hba1c-overdue-or-high"]


@pytest.fixture(scope="module")
def city_result(small_city: Any) -> pa.Table:
    with DuckDBEngine(small_city.db, read_only=True) as engine:
        return evaluate_criteria(engine, CRITERIA, small_city.result.as_of)


@pytest.fixture(scope="module")
def truth(small_city: Any) -> tuple[pa.Table, pa.Table]:
    with DuckDBEngine(small_city.truth, read_only=True) as t:
        return t.sql("SELECT * FROM truth_care_gap"), t.sql("SELECT * FROM truth_care_gap_near_miss")


def _persons(table: pa.Table, criterion: str) -> set[int]:
    rows = table.filter(pa.compute.equal(table["criterion_id"], criterion))
    return set(rows["person_id"].to_pylist())


@pytest.mark.parametrize("criterion", PLANTED)
def test_matches_exactly_the_planted_truth(criterion: str, city_result: pa.Table,
                                           truth: tuple[pa.Table, pa.Table]) -> None:
    gaps, near_miss = truth
    expected = _persons(gaps, criterion)
    got = _persons(city_result, criterion)
    assert expected, f"the small city holds no {criterion} gap: the test would prove nothing"
    assert got == expected, (len(got - expected), len(expected - got))
    assert not got & _persons(near_miss, criterion)


def test_every_criterion_of_the_truth_is_in_the_catalogue(truth: tuple[pa.Table, pa.Table]) -> None:
    assert set(truth[0]["criterion_id"].to_pylist()) == set(PLANTED)
    assert set(PLANTED) <= set(IDS)


def test_evidence_carries_the_cms165_reading(city_result: pa.Table, truth: tuple[pa.Table, pa.Table]) -> None:
    gaps = truth[0].filter(pa.compute.equal(truth[0]["criterion_id"], "htn-uncontrolled")).to_pylist()
    expected = {r["person_id"]: (r["latest_sbp"], r["latest_bp_date"].isoformat()) for r in gaps}
    rows = city_result.filter(pa.compute.equal(city_result["criterion_id"], "htn-uncontrolled")).to_pylist()
    for row in rows:
        ev = json.loads(row["evidence"])
        assert (ev["sbp_high.value"], ev["sbp_high.date"]) == expected[row["person_id"]]


def test_result_shape_and_order(city_result: pa.Table) -> None:
    assert tuple(city_result.column_names) == RESULT_COLUMNS
    rows = city_result.to_pylist()
    rank = {"info": 0, "warning": 1, "critical": 2}
    keys = [(r["criterion_id"], -rank[r["tier"]], -r["points"], r["person_id"]) for r in rows]
    assert keys == sorted(keys)
    assert len(set(zip(city_result["criterion_id"].to_pylist(), city_result["person_id"].to_pylist(),
                       strict=True))) == len(rows)


def test_one_query_for_all_criteria() -> None:
    """Each event table is read twice (its distinct codes, then its rows) however many criteria there are."""
    for criteria in (CRITERIA, criterion_variants(CRITERIA, 300)):
        sql = criteria_sql(criteria, date(2026, 11, 1))
        assert sql.count("FROM diagnosis") == 2 and sql.count("FROM prescription") == 2
        assert sql.count("FROM measurement") == 2


def test_staged_evaluation_equals_the_single_statement(small_city: Any, city_result: pa.Table) -> None:
    """``evaluate_criteria`` (features in a temporary table, criteria in batches) = ``criteria_sql``."""
    with DuckDBEngine(small_city.db, read_only=True) as engine:
        single = engine.sql(criteria_sql(CRITERIA, small_city.result.as_of))
        batched = evaluate_criteria(engine, CRITERIA, small_city.result.as_of, batch=4)
        partitioned = evaluate_criteria(engine, CRITERIA, small_city.result.as_of, partitions=3)
        assert engine.sql("SELECT count(*) AS n FROM duckdb_tables() WHERE temporary")["n"][0].as_py() == 0
    assert single.equals(city_result) and batched.equals(city_result) and partitioned.equals(city_result)


# -- hand-made cases --------------------------------------------------------------------------------

ON = date(2026, 11, 1)


def _run(tmp_path: Path, criterion: str, rows: dict[str, list[tuple[object, ...]]]) -> dict[int, dict[str, object]]:
    with DuckDBEngine(tmp_path / "x.duckdb") as e:
        for ddl in CRITERIA_DDL:
            e.con.execute(ddl)
        for table, values in rows.items():
            for v in values:
                e.con.execute(f"INSERT INTO {table} VALUES ({', '.join('?' * len(v))})", list(v))
        crit = load_criterion(CRITERIA_DIR / f"{criterion}.yaml").compiled
        out = evaluate_criteria(e, [crit], ON).to_pylist()
    return {r["person_id"]: json.loads(r["evidence"]) for r in out}


def _adult(pid: int, **kw: object) -> tuple[object, ...]:
    return (pid, kw.get("birth", date(1960, 1, 1)), "F", kw.get("death"), kw.get("move_out"), None)


def test_cms165_lowest_reading_of_latest_day_and_acute_readings_ignored(tmp_path: Path) -> None:
    bp = [
        # 1: latest office day has 150 and 135 -> lowest 135 (< 140), DBP 80: controlled
        (1, 10, date(2026, 5, 1), "8480-6", 150.0, "mm[Hg]"), (1, 10, date(2026, 5, 1), "8480-6", 135.0, "mm[Hg]"),
        (1, 10, date(2026, 5, 1), "8462-4", 80.0, "mm[Hg]"),
        # ... and a later emergency reading of 190 that must not count
        (1, 11, date(2026, 6, 1), "8480-6", 190.0, "mm[Hg]"), (1, 11, date(2026, 6, 1), "8462-4", 110.0, "mm[Hg]"),
        # 2: home reading (no visit) 145/85 is the latest: uncontrolled
        (2, 10, date(2026, 5, 1), "8480-6", 120.0, "mm[Hg]"), (2, 10, date(2026, 5, 1), "8462-4", 70.0, "mm[Hg]"),
        (2, None, date(2026, 7, 1), "8480-6", 145.0, "mm[Hg]"), (2, None, date(2026, 7, 1), "8462-4", 85.0, "mm[Hg]"),
    ]
    hits = _run(tmp_path, "htn-uncontrolled", {
        "person": [_adult(1), _adult(2)],
        "diagnosis": [(1, date(2024, 1, 1), "I10"), (2, date(2024, 1, 1), "I11.9")],
        "prescription": [(p, "C09AA05", date(2026, 1, 1), date(2026, 12, 31)) for p in (1, 2)],
        "health_visit": [(10, "nurse"), (11, "emergency")],
        "measurement": bp,
    })
    assert set(hits) == {2}
    assert hits[2]["sbp_high.value"] == 145.0 and hits[2]["sbp_high.date"] == "2026-07-01"


def test_population_age_death_and_treatment_window(tmp_path: Path) -> None:
    hits = _run(tmp_path, "htn-untreated", {
        "person": [_adult(1), _adult(2, birth=date(1930, 1, 1)), _adult(3, death=date(2026, 10, 1)),
                   _adult(4), _adult(5), _adult(6, birth=date(2008, 11, 2))],
        "diagnosis": [(p, date(2025, 3, 1), "I10") for p in range(1, 7)],
        "prescription": [(4, "C07AB02", date(2025, 1, 1), date(2025, 12, 1)),    # overlaps the 12 months
                         (5, "C07AB02", date(2024, 1, 1), date(2025, 6, 1))],    # ended before them
    })
    assert set(hits) == {1, 5}                    # 2 is 96, 3 died, 4 treated, 6 is 17 the day before
    assert hits[5]["on_treatment.last_end"] == "2025-06-01"


def test_hba1c_percent_is_converted(tmp_path: Path) -> None:
    hits = _run(tmp_path, "t2d-hba1c-overdue-or-high", {
        "person": [_adult(1), _adult(2), _adult(3)],
        "diagnosis": [(p, date(2020, 1, 1), "E11.9") for p in (1, 2, 3)],
        "measurement": [(1, None, date(2026, 6, 1), "4548-4", 7.5, "%"),          # 58.5 mmol/mol: high
                        (2, None, date(2026, 6, 1), "4548-4", 6.5, "%")],         # 47.5 mmol/mol: fine
    })                                                                            # 3: overdue
    assert set(hits) == {1, 3}
    assert hits[1]["hba1c_high.value"] == pytest.approx((7.5 - 2.15) * 10.929)


CUSTOM = """
id: custom
version: 1
names:
  professional: {fi: a, sv: b, en: c}
  resident: {fi: a, sv: b, en: c}
rationale:
  professional: {fi: a, sv: b, en: c}
  resident: {fi: a, sv: b, en: c}
source: test
population: {age_min: 18, sex: female}
codesets:
  htn: {system: ICD10, include: [I10, I11], exclude: [I11.0]}
  bb: {system: ATC, include: [C07]}
  sbp: {system: LOINC, include: [8480-6]}
define:
  few_bb: {has_prescription: {codes: bb, at_most: 1}}
condition:
  all:
    - has_diagnosis: {codes: htn}
    - use: few_bb
    - latest_value: {codes: sbp, within: P12M, value: {gte: 140, unit: "mm[Hg]"}, missing: hit}
priority: {tier: info, points: 1}
action: {code: invite-nurse, unit_type: health_station}
"""


def test_exclusions_sex_at_most_and_missing_as_hit(tmp_path: Path) -> None:
    (tmp_path / "custom.yaml").write_text(CUSTOM, encoding="utf-8")
    crit = load_criterion(tmp_path / "custom.yaml").compiled
    with DuckDBEngine(tmp_path / "x.duckdb") as e:
        for ddl in CRITERIA_DDL:
            e.con.execute(ddl)
        men = (9, date(1960, 1, 1), "M", None, None, None)
        e.con.executemany("INSERT INTO person VALUES (?, ?, ?, ?, ?, ?)", [_adult(p) for p in range(1, 6)] + [men])
        e.con.executemany("INSERT INTO diagnosis VALUES (?, ?, ?)", [
            (1, date(2020, 1, 1), "I11.9"), (2, date(2020, 1, 1), "I11.0"), (3, date(2020, 1, 1), "I10"),
            (4, date(2020, 1, 1), "I10"), (5, date(2020, 1, 1), "I10"), (9, date(2020, 1, 1), "I10")])
        e.con.executemany("INSERT INTO prescription VALUES (?, ?, ?, ?)", [
            (3, "C07AB02", date(2020, 1, 1), date(2020, 6, 1)), (3, "C07AB03", date(2021, 1, 1), date(2021, 6, 1))])
        e.con.executemany("INSERT INTO measurement VALUES (?, ?, ?, ?, ?, ?)", [
            (4, None, date(2026, 9, 1), "8480-6", 120.0, "mm[Hg]"),
            (5, None, date(2026, 9, 1), "8480-6", 150.0, "mm[Hg]")])
        got = set(evaluate_criteria(e, [crit], ON)["person_id"].to_pylist())
    # 1: I11.9 and no reading (missing counts); 2: only the excluded I11.0; 3: two beta-blockers;
    # 4: controlled; 5: high; 9: a man
    assert got == {1, 5}


def test_one_person_gets_the_rows_of_the_population_run(small_city: Any, city_result: pa.Table) -> None:
    rows = city_result.to_pylist()
    people = [*sorted({r["person_id"] for r in rows})[::150], 1]   # and an id no one has
    with DuckDBEngine(small_city.db, read_only=True) as engine:
        for pid in people:
            alone = evaluate_criteria(engine, CRITERIA, small_city.result.as_of, person_id=pid).to_pylist()
            assert alone == [r for r in rows if r["person_id"] == pid]
