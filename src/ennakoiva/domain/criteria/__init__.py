"""Care-gap criteria as data: YAML specs, their validation and the engine-neutral condition tree."""

from ennakoiva.domain.criteria.catalogue import CRITERIA_DIR, LoadedCriterion, load_criteria, load_criterion
from ennakoiva.domain.criteria.compile import CompileError, compile_criterion
from ennakoiva.domain.criteria.durations import Duration, parse_duration
from ennakoiva.domain.criteria.spec import CriterionSpec
from ennakoiva.domain.criteria.tree import CompiledCriterion

__all__ = [
    "CRITERIA_DIR", "CompileError", "CompiledCriterion", "CriterionSpec", "Duration", "LoadedCriterion",
    "compile_criterion", "load_criteria", "load_criterion", "parse_duration",
]
