"""Fixtures inside a criterion file: residents in, expected match out.

A reviewer reads a criterion together with the cases that pin its meaning (the OpenFisca habit of
tests as YAML scenarios); the fixture runner in the engine adapter evaluates each case with the
same compiled SQL as a whole-city run, so a fixture proves what production does.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["FixtureCase", "FixtureDiagnosis", "FixtureMeasurement", "FixturePerson", "FixturePrescription",
           "FixtureSpec", "birth_for_age"]

VisitKind = Literal["nurse", "doctor", "phone", "emergency", "inpatient", "home"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FixturePerson(_Strict):
    """Calendar age on the fixture date (or an exact birth date), sex, and the ways to leave the city."""

    age: int | None = Field(None, ge=0, le=130)
    born: date | None = None
    sex: Literal["F", "M"] = "F"
    died: date | None = None
    moved_out: date | None = None

    @model_validator(mode="after")
    def _one_birth(self) -> FixturePerson:
        if (self.age is None) == (self.born is None):
            raise ValueError("give exactly one of age and born")
        return self


class FixtureDiagnosis(_Strict):
    code: str
    on: date


class FixturePrescription(_Strict):
    code: str
    start: date
    end: date

    @model_validator(mode="after")
    def _order(self) -> FixturePrescription:
        if self.end < self.start:
            raise ValueError("end is before start")
        return self


class FixtureMeasurement(_Strict):
    code: str
    value: float
    unit: str
    on: date
    visit: VisitKind = "nurse"        # home: a home measurement, no visit


class FixtureCase(_Strict):
    name: str = Field(min_length=1)
    expect: Literal["hit", "no_hit"]
    points: int | None = None         # with expect: hit, the points the match must carry
    person: FixturePerson
    diagnoses: list[FixtureDiagnosis] = []
    prescriptions: list[FixturePrescription] = []
    measurements: list[FixtureMeasurement] = []

    @model_validator(mode="after")
    def _points_need_hit(self) -> FixtureCase:
        if self.points is not None and self.expect != "hit":
            raise ValueError("points can only be expected of a hit")
        return self


class FixtureSpec(_Strict):
    """``tests:`` of a criterion: the evaluation date and the cases (at least one hit and one miss)."""

    on: date
    cases: list[FixtureCase] = Field(min_length=2)

    @model_validator(mode="after")
    def _both_outcomes(self) -> FixtureSpec:
        kinds = {c.expect for c in self.cases}
        if kinds != {"hit", "no_hit"}:
            raise ValueError("fixtures need at least one 'hit' and one 'no_hit' case: one kind proves little")
        names = [c.name for c in self.cases]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate fixture names: {sorted({n for n in names if names.count(n) > 1})}")
        return self


def birth_for_age(age: int, on: date) -> date:
    """A birth date giving calendar age ``age`` on ``on`` (the birthday falls a day after ``on``).

    >>> birth_for_age(60, date(2026, 11, 1))
    datetime.date(1965, 11, 2)
    """
    year = on.year - age - 1
    try:
        return date(year, on.month, on.day + 1)
    except ValueError:  # the last day of a month: born on the first of the next month
        return date(year + (on.month == 12), on.month % 12 + 1, 1)
