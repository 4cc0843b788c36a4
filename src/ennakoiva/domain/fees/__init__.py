"""ECEC client fees by L 1503/2016: dated parameters as data, a small pure calculator, scenarios."""

from ennakoiva.domain.fees.calculate import (
    ChildFee,
    FeeCalculationError,
    FeeDecision,
    FeeLine,
    IncomeBasis,
    calculate_fees,
)
from ennakoiva.domain.fees.family import FeeChild, FeeFamily, IncomeItem, IncomeStatus
from ennakoiva.domain.fees.parameters import (
    FEES_DIR,
    FeeParameters,
    LawParameters,
    MissingFeeParameterError,
    MunicipalParameters,
    Parameter,
    load_fee_parameters,
)
from ennakoiva.domain.fees.rounding import round_half_up
from ennakoiva.domain.fees.scenarios import FeeScenario, ScenarioResult, load_scenarios, run_scenario

__all__ = [
    "FEES_DIR", "ChildFee", "FeeCalculationError", "FeeChild", "FeeDecision", "FeeFamily", "FeeLine",
    "FeeParameters", "FeeScenario", "IncomeBasis", "IncomeItem", "IncomeStatus", "LawParameters",
    "MissingFeeParameterError", "MunicipalParameters", "Parameter", "ScenarioResult", "calculate_fees",
    "load_fee_parameters", "load_scenarios", "round_half_up", "run_scenario",
]
