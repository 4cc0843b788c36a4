"""The hypertension criteria on the shipped Synthea sample give the answer its data implies.

criteria.md §6.3: the sample's six hypertensives all have an ongoing antihypertensive, so
``htn-untreated`` finds nobody; one of them (5a595dfb…) is treated but last measured 148/113 on
2023-10-11, so ``htn-uncontrolled`` finds exactly that patient. Dropping a patient's medication
rows makes them an untreated hit.

Synthea records a chronic condition once, at onset (this patient's I10 is from 2005, never
stopped), while the criteria ask for a hypertension diagnosis *recorded within five years*, as a
Finnish primary-care register re-records it at control visits (and the synthetic city does). On
Synthea the diagnosis window is therefore opened to "ever" — the only change; without it the sample
has no recent hypertension diagnosis and every list is empty, which the last test pins down.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.engine.criteria_sql import evaluate_criteria
from ennakoiva.adapters.importers import DEFAULT_SALT, import_synthea, stable_id
from ennakoiva.domain.criteria import CRITERIA_DIR, load_criterion
from ennakoiva.domain.criteria.tree import AllOf, AnyOf, CompiledCriterion, HasDiagnosis, Named, Node, NoneOf

SYNTHEA = Path(__file__).resolve().parents[2] / "fixtures" / "synthea"
EXTRACT = date(2024, 2, 2)  # the latest date in the sample: ongoing medications end here
HYPERTENSIVE = "5a595dfb-9ecf-d4ac-2893-b3e1ced04951"
AS_SHIPPED = [load_criterion(CRITERIA_DIR / f"{c}.yaml").compiled
              for c in ("htn-untreated", "htn-uncontrolled", "htn-no-bp-followup")]


def _diagnosis_ever(node: Node) -> Node:
    if isinstance(node, Named):
        return Named(node.name, _diagnosis_ever(node.node))
    if isinstance(node, AllOf | AnyOf | NoneOf):
        return type(node)(tuple(_diagnosis_ever(c) for c in node.children))
    return replace(node, within=None) if isinstance(node, HasDiagnosis) else node


def _ever(c: CompiledCriterion) -> CompiledCriterion:
    return replace(c, condition=_diagnosis_ever(c.condition),
                   evidence=tuple(Named(e.name, _diagnosis_ever(e.node)) for e in c.evidence))


HTN = [_ever(c) for c in AS_SHIPPED]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBEngine]:
    with DuckDBEngine(":memory:") as db:
        db.create_tables(replace=False)
        report = import_synthea(db, SYNTHEA, rejects_path=tmp_path_factory.mktemp("s") / "rejects.csv")
        assert report is not None
        yield db


def _hits(engine: DuckDBEngine, criteria: list[CompiledCriterion] = HTN) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {c.id: [] for c in criteria}
    for row in evaluate_criteria(engine, criteria, EXTRACT).to_pylist():
        out[row["criterion_id"]].append(row["person_id"])
    return out


def _person(source_id: str) -> int:
    return stable_id(DEFAULT_SALT, "patient", source_id)


def test_the_sample_has_six_treated_hypertensives(sample: DuckDBEngine) -> None:
    n = sample.sql("SELECT count(DISTINCT person_id) AS n FROM diagnosis WHERE icd10_code LIKE 'I10%'")["n"][0]
    assert n.as_py() == 6


def test_nobody_untreated_and_one_uncontrolled(sample: DuckDBEngine) -> None:
    hits = _hits(sample)
    assert hits["htn-untreated"] == []
    assert hits["htn-uncontrolled"] == [_person(HYPERTENSIVE)]
    row = next(r for r in evaluate_criteria(sample, HTN, EXTRACT).to_pylist()
               if r["criterion_id"] == "htn-uncontrolled")
    evidence = json.loads(row["evidence"])
    assert (evidence["sbp_high.value"], evidence["sbp_high.date"]) == (148.0, "2023-10-11")
    assert evidence["dbp_high.value"] == 113.0


def test_dropping_the_medication_makes_an_untreated_hit(tmp_path: Path) -> None:
    with DuckDBEngine(tmp_path / "s.duckdb") as db:
        db.create_tables(replace=False)
        import_synthea(db, SYNTHEA, rejects_path=tmp_path / "rejects.csv")
        db.con.execute("DELETE FROM prescription WHERE person_id = ?", [_person(HYPERTENSIVE)])
        hits = _hits(db)
    assert hits["htn-untreated"] == [_person(HYPERTENSIVE)]
    assert hits["htn-uncontrolled"] == []


def test_as_shipped_the_five_year_diagnosis_window_sees_no_hypertensive(sample: DuckDBEngine) -> None:
    latest = sample.sql("SELECT max(diagnosis_date) AS d FROM diagnosis WHERE icd10_code LIKE 'I10%'")["d"][0]
    assert latest.as_py() < date(2019, 2, 2)
    assert _hits(sample, AS_SHIPPED) == {c.id: [] for c in AS_SHIPPED}
