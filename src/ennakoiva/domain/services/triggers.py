"""Declarative triggers: which residents a proactive service is offered to, on a given date.

A trigger is a ``kind`` (what sort of event starts the service) and a list of conditions that must
*all* hold for the offer's subject on the run date. Each condition is a one-key mapping, so a
reviewer reads the YAML as a sentence::

    trigger:
      kind: registry_condition
      subject: child
      all:
        - turns_age: {age: 6, year: next_school_year}   # child turns six in the coming school year
        - resident: {municipality: "091"}              # lives in the city on the run date
        - in_placement: {types: [daycare, family_daycare]}
        - no_placement: {types: [preschool]}           # no pre-school decision yet

The model is engine-neutral; :mod:`ennakoiva.adapters.engine.service_triggers` compiles it to SQL.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ennakoiva.domain.types import LANGS, Lang

__all__ = [
    "AgeRange", "CareGap", "Condition", "PlacementStarted", "PlacementTypes", "Resident", "Trigger", "TurnsAge",
    "school_year_of",
]

PlacementType = Literal["daycare", "family_daycare", "preschool"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TurnsAge(_Strict):
    """The subject reaches ``age`` during a year: the run date's calendar year, or the calendar year of
    the next 1 August on or after the run date (the school year an offer made in autumn is for)."""

    age: int = Field(ge=0, le=120)
    year: Literal["calendar_year", "next_school_year"] = "calendar_year"

    def birth_year(self, on: date) -> int:
        """Birth year of those who turn ``age`` in the chosen year."""
        return (on.year if self.year == "calendar_year" else school_year_of(on)) - self.age


def school_year_of(on: date) -> int:
    """Calendar year of the next 1 August on or after ``on`` (Finnish school years start in August).

    >>> school_year_of(date(2026, 11, 1)), school_year_of(date(2027, 1, 7)), school_year_of(date(2027, 8, 1))
    (2027, 2027, 2027)
    """
    return on.year if (on.month, on.day) <= (8, 1) else on.year + 1


class Resident(_Strict):
    """Lives in the municipality on the run date (moved in by then, not moved out, not dead)."""

    municipality: str = Field(pattern=r"^[0-9]{3}$")


class PlacementTypes(_Strict):
    """ECEC placement types (code system ``placement_type``)."""

    types: tuple[PlacementType, ...] = Field(min_length=1)


class PlacementStarted(_Strict):
    """A life event: a placement of one of ``types`` started within ``within_days`` before the run date."""

    types: tuple[PlacementType, ...] = Field(min_length=1)
    within_days: int = Field(ge=1, le=366)


class CareGap(_Strict):
    """The person matches at least one of the care-gap criteria (``catalogue/criteria``) on the run date."""

    criteria: tuple[str, ...] = Field(min_length=1)
    min_points: int = Field(default=1, ge=1)


class AgeRange(_Strict):
    """Completed years on the run date, inclusive."""

    min: int = Field(default=0, ge=0, le=120)
    max: int = Field(default=120, ge=0, le=120)

    @model_validator(mode="after")
    def _ordered(self) -> AgeRange:
        if self.min > self.max:
            raise ValueError("age min is above max")
        return self


class Condition(_Strict):
    """Exactly one condition per list item."""

    turns_age: TurnsAge | None = None
    resident: Resident | None = None
    in_placement: PlacementTypes | None = None
    no_placement: PlacementTypes | None = None
    placement_started: PlacementStarted | None = None
    care_gap: CareGap | None = None
    age: AgeRange | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Condition:
        given = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"each condition has exactly one key of {list(type(self).model_fields)}, not {given}")
        return self

    @property
    def name(self) -> str:
        return next(n for n in type(self).model_fields if getattr(self, n) is not None)


class Trigger(_Strict):
    """Kind, subject, readable description and the conditions that must all hold."""

    kind: Literal["registry_condition", "life_event", "care_gap"]
    subject: Literal["child", "person"]
    description: dict[Lang, str]
    all: tuple[Condition, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Trigger:
        missing = [lang for lang in LANGS if not self.description.get(lang, "").strip()]
        if missing:
            raise ValueError(f"description: missing text in {missing}")
        names = [c.name for c in self.all]
        if len(set(names)) != len(names):
            raise ValueError(f"a condition is given twice: {names}")
        needed = {"life_event": "placement_started", "care_gap": "care_gap"}.get(self.kind)
        if needed and needed not in names:
            raise ValueError(f"a {self.kind} trigger needs a '{needed}' condition")
        if "resident" not in names:
            raise ValueError("a trigger needs a 'resident' condition: the city serves its own residents")
        return self

    def condition(self, name: str) -> Condition | None:
        """The condition with key ``name``, if the trigger has it."""
        return next((c for c in self.all if c.name == name), None)
