"""The declarative trigger model."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from ennakoiva.domain.services.triggers import Trigger, TurnsAge, school_year_of

DESC = {"fi": "kuvaus", "sv": "beskrivning", "en": "description"}
RESIDENT = {"resident": {"municipality": "091"}}


def trigger(kind: str = "registry_condition", *conditions: dict[str, Any]) -> Trigger:
    return Trigger.model_validate({"kind": kind, "subject": "child", "description": DESC,
                                   "all": [RESIDENT, *conditions]})


@pytest.mark.parametrize(("on", "year"), [
    (date(2026, 11, 1), 2027), (date(2027, 1, 7), 2027), (date(2027, 8, 1), 2027), (date(2027, 8, 2), 2028),
])
def test_school_year(on: date, year: int) -> None:
    assert school_year_of(on) == year


def test_turns_age_birth_year() -> None:
    assert TurnsAge(age=6, year="next_school_year").birth_year(date(2026, 11, 1)) == 2021
    assert TurnsAge(age=6).birth_year(date(2026, 11, 1)) == 2020


def test_a_valid_trigger() -> None:
    t = trigger("registry_condition", {"turns_age": {"age": 6}}, {"no_placement": {"types": ["preschool"]}})
    assert [c.name for c in t.all] == ["resident", "turns_age", "no_placement"]
    assert t.condition("no_placement") is not None and t.condition("care_gap") is None


@pytest.mark.parametrize(("kind", "conditions", "message"), [
    ("registry_condition", [{"turns_age": {"age": 6}, "age": {"min": 1}}], "exactly one key"),
    ("registry_condition", [{}], "exactly one key"),
    ("registry_condition", [{"turns_age": {"age": 6}}, {"turns_age": {"age": 7}}], "given twice"),
    ("care_gap", [{"age": {"min": 18}}], "needs a 'care_gap' condition"),
    ("life_event", [{"age": {"min": 18}}], "needs a 'placement_started' condition"),
    ("registry_condition", [{"age": {"min": 20, "max": 10}}], "min is above max"),
    ("registry_condition", [{"in_placement": {"types": ["school"]}}], "Input should be"),
    ("registry_condition", [{"placement_started": {"types": ["daycare"], "within_days": 0}}], "greater than"),
    ("registry_condition", [{"turns_age": {"age": 6, "when": "soon"}}], "Extra inputs"),
])
def test_bad_triggers(kind: str, conditions: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        trigger(kind, *conditions)


def test_resident_condition_is_required() -> None:
    with pytest.raises(ValidationError, match="needs a 'resident' condition"):
        Trigger.model_validate({"kind": "registry_condition", "subject": "child", "description": DESC,
                                "all": [{"turns_age": {"age": 6}}]})
    with pytest.raises(ValidationError, match="String should match pattern"):
        trigger("registry_condition", {"resident": {"municipality": "Helsinki"}})


def test_description_in_three_languages() -> None:
    with pytest.raises(ValidationError, match=r"missing text in \['sv'\]"):
        Trigger.model_validate({"kind": "registry_condition", "subject": "child",
                                "description": {"fi": "x", "en": "y"}, "all": [RESIDENT]})
