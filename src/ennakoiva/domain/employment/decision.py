"""The counsellor's decision on a registration: the service chosen and why (feedback for the next model).

>>> d = DecisionInput(service="coaching", reason="Wants to start quickly; course full until spring.")
>>> d.service, d.followed_suggestion("coaching")
('coaching', True)
>>> try:
...     DecisionInput(service="astrology", reason="x")
... except ValueError as exc:
...     print(exc.errors()[0]["msg"].split(";")[0])
Value error, unknown service 'astrology'
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ennakoiva.domain.employment.registration import SERVICES

__all__ = ["CHOICES", "CounsellorDecision", "DecisionInput"]

CHOICES = ("none", *SERVICES)


class DecisionInput(BaseModel):
    """What the counsellor submits: a service (or ``none``) and a reason in their own words."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    service: str
    reason: str = Field(min_length=1, max_length=1000)

    @field_validator("service")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in CHOICES:
            raise ValueError(f"unknown service {value!r}; choose one of {', '.join(CHOICES)}")
        return value

    def followed_suggestion(self, top_service: str | None) -> bool:
        return self.service == top_service


class CounsellorDecision(BaseModel):
    """A recorded decision (append-only; the latest one for a registration is in force)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decision_id: str
    registration_id: str
    counsellor_id: str
    service: str
    reason: str
    top_suggestion: str | None
    followed_suggestion: bool
    decided_at: datetime
