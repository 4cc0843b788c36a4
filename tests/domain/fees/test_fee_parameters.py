"""Fee parameter and scenario files: unknown keys, gaps and dates without parameters."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ennakoiva.domain.fees import (
    FEES_DIR,
    FeeCalculationError,
    FeeChild,
    FeeFamily,
    IncomeItem,
    MissingFeeParameterError,
    calculate_fees,
    load_fee_parameters,
    load_scenarios,
)
from ennakoiva.domain.yaml_source import CatalogueError


def _copy_catalogue(tmp_path: Path) -> Path:
    target = tmp_path / "fees"
    shutil.copytree(FEES_DIR, target)
    return target


def _family(income: int | None = 6000, size_minors: int = 1) -> FeeFamily:
    incomes = [] if income is None else [IncomeItem(person="p", income_type="wages",
                                                    amount_per_month=Decimal(income))]
    return FeeFamily(adults=2, minor_children=size_minors, incomes=incomes,
                     children=[FeeChild(name="a", birth_date=date(2022, 1, 1), hours_per_day=Decimal(8))])


def test_every_value_has_a_reference_and_a_date() -> None:
    params = load_fee_parameters()
    law = params.law
    for name in ("income_limits", "income_limit_increment", "percentage", "max_fee", "min_fee",
                 "sibling_rate_second", "sibling_rate_further"):
        param = getattr(law, name)
        assert param.values, name
        assert all(entry.reference for entry in param.values.values()), name
    assert law.max_fee.at("max_fee", date(2026, 8, 1)).value == Decimal(335)
    assert law.min_fee.at("min_fee", date(2026, 8, 1)).value == Decimal(32)
    assert law.sibling_rate_second.at("s", date(2021, 7, 31)).value == Decimal("0.50")


def test_excluded_income_codes_are_registry_codes() -> None:
    params = load_fee_parameters()
    excluded = params.municipal.excluded_income.at("excluded_income", date(2025, 1, 1)).value
    codes = {e.income_type for e in excluded if e.income_type}
    assert codes == {"child_benefit", "housing_allowance", "student_grant"}
    assert codes <= params.income_types


def test_unknown_key_in_law_file_names_file_and_line(tmp_path: Path) -> None:
    root = _copy_catalogue(tmp_path)
    law = root / "law.yaml"
    text = law.read_text(encoding="utf-8").replace(
        "    2024-08-01: {value: 311, reference: OKM ilmoitus 1062/2023}",
        "    2024-08-01: {value: 311, reference: OKM ilmoitus 1062/2023, valid_untill: 2026-07-31}")
    law.write_text(text, encoding="utf-8")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "valid_untill" in ln)
    with pytest.raises(CatalogueError, match=rf"law\.yaml:{line}: Extra inputs are not permitted"):
        load_fee_parameters(directory=root)


def test_unknown_key_in_municipal_file_names_file_and_line(tmp_path: Path) -> None:
    root = _copy_catalogue(tmp_path)
    path = root / "municipalities" / "helsinki.yaml"
    text = path.read_text(encoding="utf-8").replace("municipality: helsinki", "municipality: helsinki\nmayor: x")
    path.write_text(text, encoding="utf-8")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith("mayor:"))
    with pytest.raises(CatalogueError, match=rf"helsinki\.yaml:{line}: Extra inputs are not permitted"):
        load_fee_parameters(directory=root)


def test_unknown_income_code_in_exclusions_names_file_and_line(tmp_path: Path) -> None:
    root = _copy_catalogue(tmp_path)
    path = root / "municipalities" / "helsinki.yaml"
    text = path.read_text(encoding="utf-8").replace("income_type: child_benefit", "income_type: child_benfit")
    path.write_text(text, encoding="utf-8")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "child_benfit" in ln)
    with pytest.raises(CatalogueError, match=rf"helsinki\.yaml:{line}: unknown income_type 'child_benfit'"):
        load_fee_parameters(directory=root)


def test_a_gap_needs_a_note(tmp_path: Path) -> None:
    root = _copy_catalogue(tmp_path)
    law = root / "law.yaml"
    text = law.read_text(encoding="utf-8").replace(
        "      note: re-indexed with the income limits; not yet captured\n", "")
    law.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"law\.yaml:\d+: Value error, a value left null"):
        load_fee_parameters(directory=root)


def test_unknown_municipality() -> None:
    with pytest.raises(CatalogueError, match="no fee parameters for municipality 'espoo'"):
        load_fee_parameters("espoo")


def test_unknown_key_in_scenario_file_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "description: x\nscenarios:\n  - name: a\n    reference: r\n    period: 2025-03-01\n"
        "    family:\n      adults: 2\n      minor_children: 1\n"
        "      children: [{name: a, birth_date: 2021-01-01, hours_per_day: 8}]\n      pets: 1\n"
        "    expect: {total: 0}\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"bad\.yaml:10: Extra inputs are not permitted"):
        load_scenarios(path)


def test_duplicate_scenario_names_are_refused(tmp_path: Path) -> None:
    one = ("  - name: a\n    reference: r\n    period: 2025-03-01\n    family:\n      adults: 2\n"
           "      minor_children: 1\n      children: [{name: a, birth_date: 2021-01-01, hours_per_day: 8}]\n"
           "    expect: {total: 0}\n")
    path = tmp_path / "dupes.yaml"
    path.write_text("description: x\nscenarios:\n" + one + one, encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"duplicate scenario names \['a'\]"):
        load_scenarios(path)


def test_scenario_needs_fees_or_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text(
        "description: x\nscenarios:\n  - name: a\n    reference: r\n    period: 2025-03-01\n"
        "    family:\n      adults: 2\n      minor_children: 1\n"
        "      children: [{name: a, birth_date: 2021-01-01, hours_per_day: 8}]\n    expect: {}\n",
        encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"empty\.yaml:10: .*expect either 'error' or fees"):
        load_scenarios(path)


def test_date_without_income_limits_is_refused() -> None:
    params = load_fee_parameters()
    with pytest.raises(MissingFeeParameterError, match=r"'income_limits' for 2026-08-01 is not available.*1028/2025"):
        calculate_fees(_family(), date(2026, 8, 1), params)


def test_date_before_any_parameter_is_refused() -> None:
    with pytest.raises(MissingFeeParameterError, match="no value before 2023-03-01"):
        calculate_fees(_family(), date(2020, 1, 1), load_fee_parameters())


def test_maximum_fee_needs_no_income_limits_after_the_gap() -> None:
    decision = calculate_fees(_family(income=None), date(2026, 8, 1), load_fee_parameters())
    assert decision.total == 335
    assert decision.parameters_valid_from == date(2026, 8, 1)


def test_unknown_income_type_is_refused() -> None:
    family = FeeFamily(adults=1, minor_children=1,
                       children=[FeeChild(name="a", birth_date=date(2022, 1, 1), hours_per_day=Decimal(8))],
                       incomes=[IncomeItem(person="p", income_type="lottery", amount_per_month=Decimal(1))])
    with pytest.raises(FeeCalculationError, match="unknown income_type 'lottery'"):
        calculate_fees(family, date(2025, 1, 1), load_fee_parameters())


def test_known_income_needs_an_amount() -> None:
    with pytest.raises(ValueError, match="needs amount_per_month"):
        IncomeItem(person="p", income_type="wages")
    with pytest.raises(ValueError, match="has none"):
        IncomeItem(person="p", income_type="wages", status="missing", amount_per_month=Decimal(1))


def test_the_decision_explains_each_step_with_a_reference() -> None:
    decision = calculate_fees(_family(), date(2025, 3, 1), load_fee_parameters())
    text = decision.explain()
    assert "income limit: family of 3 = 5245 €" in text
    assert "10.7 % × (6000 € − 5245 €) = 80.785" in text
    assert "OKM ilmoitus 1062/2023" in text
    assert all(ln.reference for ln in decision.lines)
    assert all(ln.reference for c in decision.children for ln in c.lines)
    assert decision.parameters_valid_from == date(2024, 8, 1)


def test_income_limits_must_cover_family_sizes_two_to_six(tmp_path: Path) -> None:
    root = _copy_catalogue(tmp_path)
    law = root / "law.yaml"
    text = law.read_text(encoding="utf-8").replace("5: 6667, 6: 7376}", "5: 6667}")
    law.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"law\.yaml:\d+: .*must give family sizes 2–6"):
        load_fee_parameters(directory=root)


def test_hour_tiers_must_descend_to_zero(tmp_path: Path) -> None:
    root = _copy_catalogue(tmp_path)
    path = root / "municipalities" / "helsinki.yaml"
    text = path.read_text(encoding="utf-8").replace("{over_hours_per_day: 0, rate: 0.60}",
                                                    "{over_hours_per_day: 1, rate: 0.60}")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"helsinki\.yaml:\d+: .*end with over_hours_per_day: 0"):
        load_fee_parameters(directory=root)


def test_children_in_ecec_are_household_minors() -> None:
    child = FeeChild(name="a", birth_date=date(2022, 1, 1), hours_per_day=Decimal(8))
    with pytest.raises(ValueError, match="minor_children"):
        FeeFamily(adults=2, minor_children=1, children=[child, child.model_copy(update={"name": "b"})])
    with pytest.raises(ValueError, match="unique"):
        FeeFamily(adults=2, minor_children=2, children=[child, child])


def test_the_decision_lists_each_parameter_used_with_date_and_reference() -> None:
    decision = calculate_fees(_family(), date(2025, 3, 1), load_fee_parameters())
    used = {p.name: p for p in decision.parameters_used}
    assert set(used) == {"max_fee", "excluded_income", "income_limits", "percentage", "hour_tiers", "min_fee"}
    assert used["income_limits"].value == "2: 4066, 3: 5245, 4: 5956, 5: 6667, 6: 7376"  # fees.md §2.1
    assert (used["income_limits"].valid_from, used["income_limits"].reference) == (date(2024, 8, 1),
                                                                                 "OKM ilmoitus 1062/2023")
    assert used["max_fee"].value == "311"
    assert used["hour_tiers"].value == "> 7 h/day: 100 %; > 5 h/day: 80 %; > 0 h/day: 60 %"  # Helsinki [F12]
    before = calculate_fees(_family(), date(2024, 7, 31), load_fee_parameters())
    assert {p.name: p.value for p in before.parameters_used}["income_limits"].startswith("2: 3874, 3: 4998")


def test_maximum_fee_trace_reads_no_income_limits() -> None:
    decision = calculate_fees(_family(income=None), date(2026, 9, 1), load_fee_parameters())
    names = [p.name for p in decision.parameters_used]
    assert "income_limits" not in names and "max_fee" in names
    assert {p.name: p.reference for p in decision.parameters_used}["max_fee"] == "OKM ilmoitus 1028/2025"


def test_a_gap_names_the_last_date_with_a_value() -> None:
    with pytest.raises(MissingFeeParameterError, match=r"for 2027-02-01 .* the last date with a value is 2026-07-31"):
        calculate_fees(_family(), date(2027, 2, 1), load_fee_parameters())
