"""Criterion fixtures as data, evidence sentences and the benchmark's criterion variants."""

from __future__ import annotations

from pathlib import Path

import pytest

from ennakoiva.domain.criteria import CRITERIA_DIR, load_criteria, load_criterion
from ennakoiva.domain.criteria.durations import Duration
from ennakoiva.domain.criteria.evidence import evidence_lines
from ennakoiva.domain.criteria.tree import LatestValue, atoms_of
from ennakoiva.domain.criteria.variants import criterion_variants
from ennakoiva.domain.yaml_source import CatalogueError

BASE = (CRITERIA_DIR / "htn-untreated.yaml").read_text(encoding="utf-8")


def _error(tmp_path: Path, old: str, new: str) -> str:
    assert old in BASE, old
    text = BASE.replace(old, new, 1)
    path = tmp_path / "htn-untreated.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError) as exc:
        load_criterion(path)
    return str(exc.value)


def _line(needle: str) -> int:
    return next(i for i, line in enumerate(BASE.splitlines(), 1) if needle in line)


def test_a_fixture_with_an_unknown_key_names_its_line(tmp_path: Path) -> None:
    message = _error(tmp_path, "      person: {age: 86}", "      person: {age: 86, weight: 80}")
    assert f"htn-untreated.yaml:{_line('person: {age: 86}')}" in message and "weight" in message


def test_fixtures_need_both_outcomes(tmp_path: Path) -> None:
    text = BASE.replace("expect: no_hit", "expect: hit")
    path = tmp_path / "htn-untreated.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError, match="at least one 'hit' and one 'no_hit'"):
        load_criterion(path)


def test_a_fixture_with_age_and_birth_date_is_refused(tmp_path: Path) -> None:
    message = _error(tmp_path, "      person: {age: 86}", "      person: {age: 86, born: 1940-01-01}")
    assert "exactly one of age and born" in message


def test_points_only_for_a_hit(tmp_path: Path) -> None:
    message = _error(tmp_path, "    - name: over 85\n      expect: no_hit",
                     "    - name: over 85\n      expect: no_hit\n      points: 3")
    assert "points can only be expected of a hit" in message


def test_evidence_sentences_name_codes_windows_and_values() -> None:
    c = load_criterion(CRITERIA_DIR / "htn-untreated.yaml").compiled
    lines = evidence_lines(c, {"htn.count": 2, "htn.last_date": "2024-01-02", "on_treatment.count": 0,
                               "on_treatment.last_end": None, "sbp_160.value": 168.0, "sbp_160.date": "2026-03-02",
                               "diabetes.count": 0, "diabetes.last_date": None})
    assert lines == [
        "htn: 2 I10, I11, I12, I13, I14, I15 diagnoses in the last 5 years, latest on 2024-01-02",
        "on_treatment: no C02, C03, C07, C08, C09 prescription in the last 12 months",
        "sbp_160: latest 8480-6 168 mm[Hg] on 2026-03-02 (lowest of that day)",
        "diabetes: no E11 diagnosis ever",
    ]


def test_variants_are_distinct_deterministic_and_start_with_the_library() -> None:
    library = [c.compiled for c in load_criteria()]
    variants = criterion_variants(library, 300)
    assert len(variants) == 300 and len({v.id for v in variants}) == 300
    assert variants[: len(library)] == library
    assert criterion_variants(library, 300) == variants
    conditions = [v.condition for v in variants]
    assert len(set(conditions)) == 300, "no variant repeats another's condition"
    first = variants[len(library)]  # a variant of the first library criterion, windows halved
    base = library[0]
    windows = {a.within for a in atoms_of(first.condition)} - {None}
    assert windows and windows != {a.within for a in atoms_of(base.condition)} - {None}


def test_a_variant_scales_windows_and_thresholds_but_keeps_units() -> None:
    library = [load_criterion(CRITERIA_DIR / "htn-uncontrolled.yaml").compiled]
    base, v = criterion_variants(library, 2)
    latest = [a for a in atoms_of(v.condition) if isinstance(a, LatestValue)]
    orig = [a for a in atoms_of(base.condition) if isinstance(a, LatestValue)]
    assert [a.threshold.unit for a in latest] == [a.threshold.unit for a in orig]
    assert [a.threshold.ops[0][1] for a in latest] == [round(a.threshold.ops[0][1] * 0.95, 2) for a in orig]
    assert [a.within for a in latest] == [Duration(months=12)] * len(latest)  # P24M x 0.5
    assert criterion_variants(library, 3)[2].condition != v.condition


def test_too_many_variants_is_an_error() -> None:
    with pytest.raises(ValueError, match="variants per criterion"):
        criterion_variants([load_criterion(CRITERIA_DIR / "htn-untreated.yaml").compiled], 100)
