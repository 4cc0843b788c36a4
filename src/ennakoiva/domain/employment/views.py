"""What the customer and the counsellor see right after a registration: ranked suggestions, the
probability of employment, the cluster with its risks and the measures that worked in it.

Every effect is in percentage points of the probability of being employed within six months, with a
95 % interval; every text a person reads is given in fi, sv and en.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ennakoiva.domain.types import Lang

__all__ = ["ClusterRisk", "ClusterView", "EffectiveMeasure", "RecommendationResult", "Suggestion", "Texts"]

Texts = dict[Lang, str]


class Suggestion(BaseModel):
    """One service suggestion: the estimated effect on P(employed within 6 months) with its interval."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rank: int = Field(ge=1)
    service: str
    names: Texts
    effect: float = Field(description="Estimated effect, in probability (0.12 = +12 percentage points).")
    effect_low: float
    effect_high: float
    p_with: float = Field(ge=0, le=1, description="Estimated P(employed within 6 months) with this service.")
    capped: bool = Field(default=False, description=(
        "The model's estimate fell outside what is possible for this person's probability (a profile rare in "
        "the training data) and was capped to [-p_without, 1 - p_without]: very uncertain."))
    reasons: Texts = Field(description="Why, in plain language.")

    @property
    def clearly_positive(self) -> bool:
        """The whole interval is above zero."""
        return self.effect_low > 0


class EffectiveMeasure(BaseModel):
    """A measure with a large estimated average effect among the people of a cluster."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str
    names: Texts
    effect: float
    effect_low: float
    effect_high: float


class ClusterRisk(BaseModel):
    """One typical risk of a cluster: a share of its people, with words."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    value: float = Field(ge=0, le=1)
    names: Texts


class ClusterView(BaseModel):
    """A segment of job seekers a counsellor can understand."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    names: Texts
    profile: Texts
    size_share: float = Field(ge=0, le=1, description="Share of the training job seekers in the cluster.")
    risks: tuple[ClusterRisk, ...]
    effective_measures: tuple[EffectiveMeasure, ...]


class RecommendationResult(BaseModel):
    """The answer to a registration, as stored and as shown."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    registration_id: str
    person_id: int
    created_at: datetime
    language: Lang
    model_version: str
    suggestions: tuple[Suggestion, ...]
    p_without: float = Field(ge=0, le=1, description="P(employed within 6 months) without any service.")
    p_with_top: float = Field(ge=0, le=1, description="P(employed within 6 months) with the top suggestion.")
    cluster: ClusterView
    categories_used: tuple[str, ...]
    notes: tuple[str, ...] = ()
    decided_by: str = Field("counsellor", description="The model suggests; the counsellor decides.")

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
