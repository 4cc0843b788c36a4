"""Fee scenarios as data (``catalogue/fees/scenarios/*.yaml``): a family in, the fees out.

The shape follows OpenFisca's YAML tests: each scenario names its source, the date (``period``)
and the family, and says what the law gives — each child's fee (youngest first), the total, and
optionally the full-time fee and the income basis — or ``error``, a fragment of the message a
refused calculation must give (e.g. a date whose income limits are not yet captured).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ennakoiva.domain.fees.calculate import FeeCalculationError, FeeDecision, IncomeBasis, calculate_fees
from ennakoiva.domain.fees.family import FeeFamily
from ennakoiva.domain.fees.parameters import FEES_DIR, FeeParameters, MissingFeeParameterError
from ennakoiva.domain.yaml_source import CatalogueError, load_model

__all__ = ["SCENARIOS_DIR", "ExpectedChild", "FeeScenario", "ScenarioFile", "ScenarioResult", "load_scenarios",
           "run_scenario"]

SCENARIOS_DIR = FEES_DIR / "scenarios"


class ExpectedChild(BaseModel):
    """A child's expected fee; the list is in the decision's order, youngest first."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    fee: int = Field(ge=0)


class Expectation(BaseModel):
    """What the law gives for the scenario, or the error a refused calculation names."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    children: list[ExpectedChild] | None = None
    total: int | None = Field(default=None, ge=0)
    full_time_fee: int | None = Field(default=None, ge=0)
    income_basis: IncomeBasis | None = None
    error: str | None = None

    @model_validator(mode="after")
    def _fees_or_error(self) -> Expectation:
        fees = (self.children, self.total, self.full_time_fee, self.income_basis)
        if (self.error is None) == all(f is None for f in fees):
            raise ValueError("expect either 'error' or fees (children, total, full_time_fee, income_basis)")
        return self


class FeeScenario(BaseModel):
    """One worked example or edge case."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    reference: str
    description: str = ""
    period: date
    family: FeeFamily
    expect: Expectation


class ScenarioFile(BaseModel):
    """A file of scenarios for one municipality's parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str
    municipality: str = "helsinki"
    scenarios: list[FeeScenario] = Field(min_length=1)


@dataclass(frozen=True)
class ScenarioResult:
    """Whether a scenario holds; ``problems`` say what differed."""

    scenario: FeeScenario
    decision: FeeDecision | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def load_scenarios(path: Path) -> ScenarioFile:
    """One scenario file; unknown keys and duplicate names are errors naming file and line."""
    loaded = load_model(path, ScenarioFile)
    names = [s.name for s in loaded.scenarios]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise CatalogueError(f"{path}: duplicate scenario names {dupes}")
    return loaded


def run_scenario(scenario: FeeScenario, parameters: FeeParameters) -> ScenarioResult:
    """Calculate the scenario's fees and compare them with what it expects."""
    exp = scenario.expect
    try:
        decision = calculate_fees(scenario.family, scenario.period, parameters)
    except (MissingFeeParameterError, FeeCalculationError) as exc:
        if exp.error is not None and exp.error in str(exc):
            return ScenarioResult(scenario, None)
        return ScenarioResult(scenario, None, [f"calculation failed: {exc}"])
    problems: list[str] = []
    if exp.error is not None:
        problems.append(f"expected an error containing '{exp.error}', got a total of {decision.total} €")
    if exp.children is not None:
        got = [(c.name, c.fee) for c in decision.children]
        want = [(c.name, c.fee) for c in exp.children]
        if got != want:
            problems.append(f"children (youngest first): expected {want}, got {got}")
    if exp.total is not None and exp.total != decision.total:
        problems.append(f"total: expected {exp.total}, got {decision.total}")
    if exp.full_time_fee is not None and exp.full_time_fee != decision.full_time_fee:
        problems.append(f"full_time_fee: expected {exp.full_time_fee}, got {decision.full_time_fee}")
    if exp.income_basis is not None and exp.income_basis != decision.income_basis:
        problems.append(f"income_basis: expected {exp.income_basis}, got {decision.income_basis}")
    if problems:
        problems.append(decision.explain())
    return ScenarioResult(scenario, decision, problems)
