"""The registration: strict validation with clear errors; what the models may see."""

from __future__ import annotations

from typing import Any

import pytest

from ennakoiva.domain.employment import DecisionInput, RegistrationError, parse_registration

GOOD: dict[str, Any] = {"person_id": 1001, "language": "sv", "age": 29, "sex": "female", "mother_tongue": "ar",
                        "postal_code": "00940", "education_level": "upper_secondary", "finnish_skill": "A2",
                        "swedish_skill": "none", "other_languages": [{"language": "en", "level": "B2"}],
                        "work_history_years": 3.25, "months_unemployed_before": 14,
                        "health_limits": ["part_time_only"], "goals": ["improve_language", "find_work_quickly"],
                        "desired_occupation": "kokki"}


def test_a_full_registration_is_accepted_and_normalised() -> None:
    r = parse_registration(GOOD)
    assert r.work_history_years == 3.2          # one decimal, as in the register
    assert r.goals == ("find_work_quickly", "improve_language")
    assert r.categories() == ("population", "employment", "health")


def test_model_inputs_leave_out_mother_tongue_sex_health_and_goals() -> None:
    inputs = parse_registration(GOOD).model_inputs()
    assert set(inputs) == {"age", "education_level", "finnish_skill", "swedish_skill", "work_history_years",
                           "months_unemployed_before"}
    assert parse_registration(GOOD | {"mother_tongue": "so", "sex": "male"}).model_inputs() == inputs


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"age": 16}, "age", "at least 17"),
    ({"age": 70}, "age", "at most 64"),
    ({"age": "thirty"}, "age", "whole number"),
    ({"education_level": "phd"}, "education_level", "basic"),
    ({"finnish_skill": "B3"}, "finnish_skill", "native"),
    ({"work_history_years": -1}, "work_history_years", "between 0 and 60"),
    ({"work_history_years": 20}, "work_history_years", "not possible at age 29"),
    ({"months_unemployed_before": 40}, "months_unemployed_before", "between 0 and 36"),
    ({"mother_tongue": "arabic"}, "mother_tongue", "two-letter ISO 639-1"),
    ({"postal_code": "0094"}, "postal_code", "five digits"),
    ({"health_limits": ["part_time_only", "part_time_only"]}, "health_limits", "twice"),
    ({"health_limits": ["back pain"]}, "health_limits.0", "no_heavy_physical_work"),
    ({"language": "de"}, "language", "'fi'"),
    ({"shoe_size": 44}, "shoe_size", "not a known field"),
    ({"mother_tongue": "fi", "finnish_skill": "B2"}, "finnish_skill", "native"),
])
def test_each_problem_is_named_with_its_field(change: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(RegistrationError) as err:
        parse_registration(GOOD | change)
    fields = dict(err.value.errors)
    assert field in fields, err.value.errors
    assert words in fields[field]


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(RegistrationError) as err:
        parse_registration({"person_id": 0, "age": 10})
    names = [f for f, _ in err.value.errors]
    assert {"person_id", "age", "education_level", "finnish_skill", "work_history_years",
            "months_unemployed_before"} <= set(names)


def test_not_an_object_is_refused() -> None:
    with pytest.raises(RegistrationError, match="JSON object"):
        parse_registration([1, 2])


def test_decision_needs_a_known_service_and_a_reason() -> None:
    assert DecisionInput(service="none", reason="Found a job himself").service == "none"
    with pytest.raises(ValueError, match="unknown service"):
        DecisionInput(service="astrology", reason="x")
    with pytest.raises(ValueError, match="at least 1 character"):
        DecisionInput(service="coaching", reason="   ")
