"""Typed models of a criterion YAML (``catalogue/criteria/<id>.yaml``); unknown keys are errors.

The models check each value where it stands (so an error names its line); cross-references
(code sets, definitions, systems per event table) are checked by :mod:`compile`, which also
knows where each key sits.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ennakoiva.domain.criteria.durations import DurationText
from ennakoiva.domain.criteria.fixtures import FixtureSpec
from ennakoiva.domain.types import LANGS, Lang

__all__ = [
    "Action", "AnyValueSpec", "Audience", "CodeSetSpec", "ConditionSpec", "CountDaysSpec", "CriterionSpec",
    "DayTestSpec", "EventSpec", "LatestValueSpec", "PopulationSpec", "PrioritySpec", "ThresholdSpec",
]

_CODE_PATTERNS = {
    # prefixes: a chapter letter and two digits at least, optional dot and sub-codes
    "ICD10": re.compile(r"^[A-Z][0-9]{2}(\.?[0-9A-Z]{1,3})?$"),
    # any ATC level: C, C09, C09A, C09AA, C09AA05
    "ATC": re.compile(r"^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$"),
    "LOINC": re.compile(r"^[0-9]{1,7}-[0-9]$"),
}
KNOWN_UNITS = frozenset({"mm[Hg]", "mmol/mol", "%", "mmol/L", "mL/min/1.73m2", "kg/m2"})


def _loinc_check_digit(body: str) -> str:
    """LOINC mod-10 check digit of the part before the hyphen."""
    digits = [int(c) for c in body]
    total = 0
    for i, d in enumerate(reversed(digits)):
        doubled = d * 2 if i % 2 == 0 else d
        total += doubled - 9 if doubled > 9 else doubled
    return str((10 - total % 10) % 10)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)


class Audience(_Strict):
    """A text for professionals and one for residents, each in fi, sv and en."""

    professional: dict[Lang, str]
    resident: dict[Lang, str]

    @field_validator("professional", "resident")
    @classmethod
    def _all_langs(cls, v: dict[Lang, str]) -> dict[Lang, str]:
        missing = [lang for lang in LANGS if not v.get(lang, "").strip()]
        if missing:
            raise ValueError(f"missing text in {missing}")
        return v


class CodeSetSpec(_Strict):
    system: Literal["ICD10", "ATC", "LOINC"]
    include: list[str] = Field(min_length=1)
    exclude: list[str] = []

    @model_validator(mode="after")
    def _codes_well_formed(self) -> CodeSetSpec:
        pattern = _CODE_PATTERNS[self.system]
        for code in [*self.include, *self.exclude]:
            if not pattern.match(code):
                raise ValueError(f"malformed {self.system} code {code!r}")
            if self.system == "LOINC":
                body, check = code.split("-")
                if _loinc_check_digit(body) != check:
                    raise ValueError(f"LOINC code {code!r}: wrong check digit")
        return self


class ThresholdSpec(_Strict):
    lt: float | None = None
    lte: float | None = None
    gt: float | None = None
    gte: float | None = None
    unit: str

    @model_validator(mode="after")
    def _sane(self) -> ThresholdSpec:
        if self.unit not in KNOWN_UNITS:
            raise ValueError(f"unknown unit {self.unit!r} (known: {sorted(KNOWN_UNITS)})")
        if all(v is None for v in (self.lt, self.lte, self.gt, self.gte)):
            raise ValueError("a threshold needs one of lt, lte, gt, gte")
        return self


class _Counted(_Strict):
    """``at_least`` (default 1, or 0 when only ``at_most`` is given; ``at_least: 0`` is no constraint)."""

    at_least: int | None = Field(None, ge=1)
    at_most: int | None = Field(None, ge=0)


class EventSpec(_Counted):
    """``has_diagnosis`` / ``has_prescription``: a code set within a window before the evaluation date."""

    codes: str
    within: DurationText | None = None


class LatestValueSpec(_Strict):
    codes: str
    day_of: str | None = None            # code set whose latest reading picks the day (default: codes)
    within: DurationText | None = None
    same_day: Literal["min", "max"] = "min"
    exclude_visit_types: list[Literal["nurse", "doctor", "phone", "emergency", "inpatient"]] = []
    value: ThresholdSpec
    missing: Literal["hit", "no_hit"] = "no_hit"


class AnyValueSpec(_Counted):
    codes: str
    within: DurationText | None = None
    exclude_visit_types: list[Literal["nurse", "doctor", "phone", "emergency", "inpatient"]] = []
    value: ThresholdSpec | None = None
    min_span: DurationText | None = None   # first to last qualifying reading at least this far apart


class DayTestSpec(_Strict):
    codes: str
    value: ThresholdSpec


class CountDaysSpec(_Counted):
    within: DurationText | None = None
    exclude_visit_types: list[Literal["nurse", "doctor", "phone", "emergency", "inpatient"]] = []
    same_day: Literal["min", "max"] = "min"
    any: list[DayTestSpec] = Field(min_length=1)


class ConditionSpec(_Strict):
    """Exactly one of: a group (``all``/``any``/``none``), a ``use`` of a definition, or an atom."""

    all_: list[ConditionSpec] | None = Field(None, alias="all", min_length=1)
    any_: list[ConditionSpec] | None = Field(None, alias="any", min_length=1)
    none: list[ConditionSpec] | None = Field(None, min_length=1)
    use: str | None = None
    has_diagnosis: EventSpec | None = None
    has_prescription: EventSpec | None = None
    latest_value: LatestValueSpec | None = None
    any_value: AnyValueSpec | None = None
    count_days: CountDaysSpec | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ConditionSpec:
        given = [k for k, v in self.__dict__.items() if v is not None]
        if len(given) != 1:
            raise ValueError(f"a condition needs exactly one key, got {given or 'none'}")
        return self


class PopulationSpec(_Strict):
    """Who is evaluated: alive and resident on the evaluation date, calendar age on it, sex."""

    alive_and_resident: Literal[True] = True
    age_min: int | None = Field(None, ge=0, le=130)
    age_max: int | None = Field(None, ge=0, le=130)
    sex: Literal["any", "female", "male"] = "any"

    @model_validator(mode="after")
    def _order(self) -> PopulationSpec:
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise ValueError("age_min is above age_max")
        return self


class BonusSpec(_Strict):
    when: ConditionSpec
    add: int


class PrioritySpec(_Strict):
    tier: Literal["info", "warning", "critical"]
    points: int = Field(ge=0)
    bonus: list[BonusSpec] = []


class Action(_Strict):
    code: Literal["invite-doctor", "invite-nurse", "invite-diabetes-nurse", "home-bp-series",
                  "invite-exercise-group", "medication-review"]
    unit_type: Literal["health_station", "diabetes_clinic", "home_care"]
    extra: list[str] = []


class CriterionSpec(_Strict):
    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    version: int = Field(ge=1)
    status: Literal["draft", "active", "retired"] = "active"
    names: Audience
    rationale: Audience
    source: str = Field(min_length=1)
    population: PopulationSpec
    codesets: dict[str, CodeSetSpec] = Field(min_length=1)
    define: dict[str, ConditionSpec] = {}
    condition: ConditionSpec
    # the gap is closed (the person drops off the list) when this holds, whatever ``condition`` says:
    # kept apart so a reviewer sees the "done" rule, and the evidence names it when it is what is missing
    gap_closed_when: ConditionSpec | None = None
    priority: PrioritySpec
    action: Action
    tests: FixtureSpec | None = None     # residents in -> expected match; required of active criteria by the tests
