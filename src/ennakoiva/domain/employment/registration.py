"""A job seeker's registration: the background they give, validated strictly with clear errors.

The same JSON is read by ``POST /employment/registrations`` and ``ennakoiva employment register
--json``. Every field is checked (unknown keys are errors, codes come from the registry's code
systems), and :func:`parse_registration` turns pydantic's errors into one list of
``field: message`` lines a customer or a counsellor can act on.

>>> r = parse_registration({"person_id": 1001, "age": 34, "education_level": "basic",
...                         "finnish_skill": "A2", "work_history_years": 2, "months_unemployed_before": 14})
>>> (r.age, r.finnish_skill, r.language, r.health_limits)
(34, 'A2', 'fi', ())
>>> parse_registration({"person_id": 1001, "age": 12})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ennakoiva.domain.employment.registration.RegistrationError: invalid registration: age: must be at least 17; ...
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ennakoiva.domain.types import Lang

__all__ = [
    "CEFR_LEVELS",
    "EDUCATION_LEVELS",
    "GOALS",
    "HEALTH_LIMITS",
    "SERVICES",
    "Registration",
    "RegistrationError",
    "parse_registration",
]

# The registry's code systems (catalogue/code_systems.yaml): cefr, education_level, employment_service_type.
CEFR_LEVELS = ("none", "A1", "A2", "B1", "B2", "C1", "C2", "native")
EDUCATION_LEVELS = ("basic", "upper_secondary", "tertiary_lower", "tertiary_higher")
SERVICES = ("language_course", "vocational_training", "coaching", "wage_subsidy", "recruitment_event")
# Health-related limits the customer *chooses* to state, as codes (no free text: nothing to leak).
HEALTH_LIMITS = ("no_heavy_physical_work", "part_time_only", "no_shift_work", "reduced_mental_load", "other")
GOALS = ("find_work_quickly", "change_field", "get_education", "improve_language", "part_time_work",
         "start_business")

Cefr = Literal["none", "A1", "A2", "B1", "B2", "C1", "C2", "native"]
Education = Literal["basic", "upper_secondary", "tertiary_lower", "tertiary_higher"]
HealthLimit = Literal["no_heavy_physical_work", "part_time_only", "no_shift_work", "reduced_mental_load", "other"]
Goal = Literal["find_work_quickly", "change_field", "get_education", "improve_language", "part_time_work",
               "start_business"]
Sex = Literal["female", "male", "other"]

MIN_AGE, MAX_AGE = 17, 64          # the ages a registered job seeker has in the data the model learns from
MAX_PRIOR_MONTHS = 36              # "months unemployed in the three years before"


class RegistrationError(ValueError):
    """A registration that failed validation; ``errors`` holds one ``(field, message)`` per problem."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("invalid registration: " + "; ".join(f"{f}: {m}" for f, m in errors))


class LanguageSkill(BaseModel):
    """Another language the customer knows (ISO 639-1 code and CEFR level)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    language: str = Field(pattern=r"^[a-z]{2}$", description="ISO 639-1 language code, e.g. en, ar.")
    level: Cefr


class Registration(BaseModel):
    """What a customer gives when registering as an unemployed job seeker."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    person_id: int = Field(ge=1, le=2**63 - 1, description="The customer's internal id (from strong authentication).")
    language: Lang = Field("fi", description="Language for the answer: fi, sv or en.")
    age: int = Field(description="Age in whole years.")
    sex: Sex | None = Field(None, description="Optional; never a model input unless the fairness report says so.")
    mother_tongue: str | None = Field(None, pattern=r"^[a-z]{2}$",
                                      description="Optional ISO 639-1 code; never a model input by default.")
    postal_code: str | None = Field(None, pattern=r"^[0-9]{5}$",
                                    description="Home postal area (optional): its labour market is a model input.")
    education_level: Education
    finnish_skill: Cefr
    swedish_skill: Cefr = "none"
    other_languages: tuple[LanguageSkill, ...] = Field((), max_length=10)
    work_history_years: float = Field(description="Years of paid work so far.")
    months_unemployed_before: int = Field(description="Months unemployed during the last three years.")
    health_limits: tuple[HealthLimit, ...] = Field(
        (), max_length=len(HEALTH_LIMITS),
        description="Health-related limits the customer chooses to give (optional).")
    goals: tuple[Goal, ...] = Field((), max_length=len(GOALS))
    desired_occupation: str | None = Field(None, max_length=100)

    @field_validator("age")
    @classmethod
    def _age(cls, value: int) -> int:
        if value < MIN_AGE:
            raise ValueError(f"must be at least {MIN_AGE}")
        if value > MAX_AGE:
            raise ValueError(f"must be at most {MAX_AGE} (the service is for working-age job seekers)")
        return value

    @field_validator("work_history_years")
    @classmethod
    def _work(cls, value: float) -> float:
        if not value >= 0 or value > 60:   # also refuses NaN
            raise ValueError("must be between 0 and 60 years")
        return round(value, 1)

    @field_validator("months_unemployed_before")
    @classmethod
    def _months(cls, value: int) -> int:
        if not 0 <= value <= MAX_PRIOR_MONTHS:
            raise ValueError(f"must be between 0 and {MAX_PRIOR_MONTHS} (months in the last three years)")
        return value

    @field_validator("health_limits", "goals")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("lists a value twice")
        return tuple(sorted(value))

    @model_validator(mode="after")
    def _consistent(self) -> Registration:
        if self.work_history_years > self.age - 14:
            raise ValueError(f"work_history_years: {self.work_history_years} years of work is not possible at age "
                             f"{self.age} (at most {self.age - 14})")
        if self.mother_tongue == "fi" and self.finnish_skill != "native":
            raise ValueError("finnish_skill: must be 'native' when the mother tongue is Finnish")
        if self.mother_tongue == "sv" and self.swedish_skill != "native":
            raise ValueError("swedish_skill: must be 'native' when the mother tongue is Swedish")
        return self

    def model_inputs(self) -> dict[str, Any]:
        """The background the models see: no mother tongue, no sex, no health limits, no goals."""
        return {"age": self.age, "education_level": self.education_level, "finnish_skill": self.finnish_skill,
                "swedish_skill": self.swedish_skill, "work_history_years": self.work_history_years,
                "months_unemployed_before": self.months_unemployed_before}

    def categories(self) -> tuple[str, ...]:
        """The data categories the registration holds (``catalogue/data_categories.yaml``)."""
        return ("population", "employment") + (("health",) if self.health_limits else ())


_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "literal_error": None,     # pydantic's own message lists the allowed values
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
}


_PATTERNS = {"postal_code": "must be a Finnish postal code of five digits, e.g. 00100",
             "mother_tongue": "must be a two-letter ISO 639-1 code such as 'ar'",
             "other_languages": "must be a two-letter ISO 639-1 code such as 'en'"}


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "registration"


def parse_registration(data: Mapping[str, Any] | Any) -> Registration:
    """Validate a registration (a JSON object); raise :class:`RegistrationError` listing every problem."""
    if not isinstance(data, Mapping):
        raise RegistrationError([("registration", "must be a JSON object")])
    try:
        return Registration.model_validate(dict(data), strict=False)
    except ValidationError as exc:
        errors: list[tuple[str, str]] = []
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            message = _MESSAGES.get(err["type"]) or str(err["msg"])
            if err["type"] == "string_pattern_mismatch":
                message = _PATTERNS.get(str(loc[0]), message)
            if err["type"] == "value_error":
                message = str(err["msg"]).removeprefix("Value error, ")
                if not loc and ": " in message:   # model-level rule naming its own field
                    name, message = message.split(": ", 1)
                    loc = (name,)
            errors.append((_field(loc), message))
        raise RegistrationError(errors) from None
