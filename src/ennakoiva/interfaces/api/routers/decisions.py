"""Access decisions on request: would this read be permitted? (made and logged like a real read)."""

from __future__ import annotations

from fastapi import APIRouter

from ennakoiva.interfaces.api.deps import PlatformDep, Reader
from ennakoiva.interfaces.api.problems import PROBLEM_RESPONSES
from ennakoiva.interfaces.api.schemas import DecisionRequest, DecisionResponse

__all__ = ["router"]

router = APIRouter(tags=["decisions"], responses=PROBLEM_RESPONSES)


@router.post("/api/decisions", summary="Decide (and log) one intended read", response_model=DecisionResponse)
def decide(body: DecisionRequest, user: Reader, platform: PlatformDep) -> DecisionResponse:
    """Answers 200 for permit and deny alike: the decision is the resource. A service checks here
    before it reads through its own channel; the decision is already in the audit log."""
    decision = platform.operational.gate.decide(user.actor(body.purpose_id), body.purpose_id, body.subject_id,
                                                tuple(body.categories), via_consent_of=body.via_consent_of)
    return DecisionResponse.of(decision)
