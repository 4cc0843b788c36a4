"""Request and response bodies of the API, with the examples the OpenAPI document shows."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ConsentGiveRequest", "DecisionRequest", "DecisionResponse", "LoginRequest", "Me", "SessionResponse",
           "WithdrawRequest"]


class LoginRequest(BaseModel):
    """A demo user's credentials (embedded default authentication only)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"username": "nurse",
                                                                              "password": "the demo password"}]})
    username: str = Field(min_length=1, max_length=60)
    password: str = Field(min_length=1, max_length=200)


class SessionResponse(BaseModel):
    """A session token to send as ``Authorization: Bearer …`` (also set as a cookie for the pages)."""

    token: str
    token_type: Literal["bearer"] = "bearer"
    role: str
    expires_in: int
    csrf_token: str


class Me(BaseModel):
    """The caller as the service sees them."""

    user_id: str = Field(examples=["nurse"])
    role: str = Field(examples=["nurse"])
    display_name: str = Field(examples=["Hanna Hoitaja"])
    person_id: int | None = Field(default=None, examples=[None])
    purposes: list[str] = Field(examples=[["care-gap-identification"]])


class ConsentGiveRequest(BaseModel):
    """Give consent for a purpose: for yourself, or as a guardian for your child (``subject_id``)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"purpose_id": "daycare-fee-income-check", "subject_id": 10028309050, "language": "fi"}]})
    purpose_id: str = Field(min_length=1, max_length=80)
    subject_id: int | None = Field(default=None, gt=0, description="The child you act for; omit for yourself.")
    language: Literal["fi", "sv", "en"] = "fi"


class WithdrawRequest(BaseModel):
    """Withdrawal needs no reason; the body is optional and only states the channel."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"channel": "web"}]})
    channel: Literal["web"] = "web"


class DecisionRequest(BaseModel):
    """Would this read be permitted? The decision is made and logged exactly as for a real read."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"purpose_id": "care-gap-identification", "subject_id": 5162556114245, "categories": ["health"]}]})
    purpose_id: str = Field(min_length=1, max_length=80)
    subject_id: int = Field(gt=0)
    categories: list[str] = Field(min_length=1, max_length=16)
    via_consent_of: int | None = Field(default=None, gt=0)


class DecisionResponse(BaseModel):
    """The logged decision: permit or deny with a stable reason code."""

    permit: bool
    reason: str = Field(examples=["lawful_basis:public_task"])
    purpose_id: str
    categories: list[str]
    legal_basis: str | None = None
    consent_record_id: str | None = None
    policy_version: str

    @classmethod
    def of(cls, decision: Any) -> DecisionResponse:
        return cls(permit=decision.permit, reason=decision.reason, purpose_id=decision.purpose_id,
                   categories=list(decision.categories), legal_basis=decision.legal_basis,
                   consent_record_id=decision.consent_record_id, policy_version=decision.policy_version)
