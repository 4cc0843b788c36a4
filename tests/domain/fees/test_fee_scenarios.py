"""Every scenario file in catalogue/fees/scenarios runs, one test per scenario."""

from __future__ import annotations

import pytest

from ennakoiva.domain.fees import FeeParameters, FeeScenario, load_fee_parameters, load_scenarios, run_scenario
from ennakoiva.domain.fees.scenarios import SCENARIOS_DIR

FILES = sorted(SCENARIOS_DIR.glob("*.yaml"))


def _cases() -> list[tuple[str, FeeScenario]]:
    out: list[tuple[str, FeeScenario]] = []
    for path in FILES:
        loaded = load_scenarios(path)
        out.extend((loaded.municipality, s) for s in loaded.scenarios)
    return out


CASES = _cases()


@pytest.fixture(scope="module")
def parameters() -> dict[str, FeeParameters]:
    return {m: load_fee_parameters(m) for m in {m for m, _ in CASES}}


def test_scenario_files_exist() -> None:
    assert {p.name for p in FILES} >= {"worked-examples.yaml", "edge-cases.yaml", "published-thresholds.yaml"}


def test_every_worked_example_of_fees_md_is_a_scenario() -> None:
    refs = {s.reference.split(" ")[2] for m, s in CASES if s.reference.startswith("fees.md §5 #")}
    assert refs >= {"#1", "#2", "#3", "#4a", "#4b", "#4c", "#5", "#6", "#7"}


@pytest.mark.parametrize(("municipality", "scenario"), CASES, ids=[s.name for _, s in CASES])
def test_scenario(municipality: str, scenario: FeeScenario, parameters: dict[str, FeeParameters]) -> None:
    result = run_scenario(scenario, parameters[municipality])
    assert result.ok, "\n".join(result.problems)


def test_a_wrong_expectation_is_reported(parameters: dict[str, FeeParameters]) -> None:
    scenario = next(s for _, s in CASES if s.reference == "fees.md §5 #1")
    wrong = scenario.model_copy(update={"expect": scenario.expect.model_copy(update={"total": 80})})
    result = run_scenario(wrong, parameters["helsinki"])
    assert not result.ok
    assert "total: expected 80, got 81" in result.problems[0]


def test_an_unexpected_refusal_is_reported(parameters: dict[str, FeeParameters]) -> None:
    scenario = next(s for _, s in CASES if s.reference.startswith("fees.md §5 #7"))
    wrong = scenario.model_copy(update={"expect": scenario.expect.model_copy(update={"error": "something else"})})
    result = run_scenario(wrong, parameters["helsinki"])
    assert not result.ok
    assert "income_limits" in result.problems[0]
