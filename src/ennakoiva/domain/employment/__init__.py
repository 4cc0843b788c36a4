"""Employment service 2.0: the job seeker's registration, the suggestions and cluster shown at once, the
counsellor's decision. Pure: validation and view models only; the models live in ``adapters.ml``."""

from ennakoiva.domain.employment.decision import CounsellorDecision, DecisionInput
from ennakoiva.domain.employment.registration import (
    CEFR_LEVELS,
    EDUCATION_LEVELS,
    GOALS,
    HEALTH_LIMITS,
    SERVICES,
    Registration,
    RegistrationError,
    parse_registration,
)
from ennakoiva.domain.employment.views import (
    ClusterView,
    EffectiveMeasure,
    RecommendationResult,
    Suggestion,
)

__all__ = [
    "CEFR_LEVELS",
    "EDUCATION_LEVELS",
    "GOALS",
    "HEALTH_LIMITS",
    "SERVICES",
    "ClusterView",
    "CounsellorDecision",
    "DecisionInput",
    "EffectiveMeasure",
    "RecommendationResult",
    "Registration",
    "RegistrationError",
    "Suggestion",
    "parse_registration",
]
