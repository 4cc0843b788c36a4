"""The one access decision every read of personal data for a purpose goes through.

``decide`` is pure: given the request, the purposes catalogue and the subject's consent records as
they stand, it permits or denies with a stable reason code. It fails closed — anything missing or
malformed is a denial — and it never looks at data values, only ids, roles and categories.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ennakoiva.domain.consent.purposes import AccessMode, Purpose, canonical_purpose_id
from ennakoiva.domain.consent.records import ConsentEvent, ConsentRecord, status_at, validate_subject_id

__all__ = ["POLICY_VERSION", "AccessRequest", "Actor", "ConsentHistory", "Decision", "decide", "period_start"]

POLICY_VERSION = "access-policy/1"


class Actor(BaseModel):
    """Who asks: a person or a service account, with the role and service they act in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9._@:-]+$")
    role: str = Field(min_length=1, max_length=60)
    service: str = Field(min_length=1, max_length=80)


class AccessRequest(BaseModel):
    """One intended read: for which purpose, about whom, which categories, when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    actor: Actor
    purpose_id: str
    subject_id: object
    categories: tuple[str, ...]
    at: datetime
    request_id: str = Field(default="", max_length=120)
    # whose consent authorises the read when the data is another covered person's (a guardian's
    # income under the consent recorded for the child's daycare fee); None = the subject's own
    consent_subject_id: object | None = None


class ConsentHistory(BaseModel):
    """A subject's consent record with its events and how many permitted uses it already served."""

    model_config = ConfigDict(frozen=True)

    record: ConsentRecord
    events: tuple[ConsentEvent, ...]
    uses_in_period: int = 0


class Decision(BaseModel):
    """Permit or deny, why, and what the permit rests on (for the audit log)."""

    model_config = ConfigDict(frozen=True)

    permit: bool
    reason: str
    purpose_id: str
    subject_id: int | None
    categories: tuple[str, ...]
    legal_basis: str | None = None
    consent_record_id: str | None = None
    consent_seq: int | None = None
    policy_version: str = POLICY_VERSION

    @property
    def outcome(self) -> Literal["permit", "deny"]:
        return "permit" if self.permit else "deny"


def _deny(reason: str, purpose_id: str, subject: int | None, categories: tuple[str, ...]) -> Decision:
    return Decision(permit=False, reason=reason, purpose_id=purpose_id, subject_id=subject, categories=categories)


def decide(request: AccessRequest, purposes: Mapping[str, Purpose], consents: Sequence[ConsentHistory],
           ) -> Decision:
    """Permit or deny one request (see the module docstring for the rules).

    Consent-based purposes need, at ``request.at``, an active record of this subject for this
    purpose whose notice version is the current one, whose categories cover the request and whose
    periodic-use limit is not reached. Every purpose needs the actor's service and role among the
    purpose's data users; an actor in the ``resident`` role reads only their own data.
    """
    categories = tuple(dict.fromkeys(request.categories))
    try:
        purpose_id = canonical_purpose_id(request.purpose_id)
    except ValueError:
        return _deny("invalid_purpose", str(request.purpose_id)[:80], None, categories)
    population = request.subject_id is None   # a whole-population read (criteria, statistics)
    try:
        subject = None if population else validate_subject_id(request.subject_id)
    except ValueError:
        return _deny("invalid_subject", purpose_id, None, categories)
    if request.at.tzinfo is None:
        return _deny("invalid_time", purpose_id, subject, categories)
    purpose = purposes.get(purpose_id)
    if purpose is None:
        return _deny("unknown_purpose", purpose_id, subject, categories)
    if not categories:
        return _deny("no_categories", purpose_id, subject, categories)
    if not set(categories) <= set(purpose.data_categories):
        return _deny("category_not_in_purpose", purpose_id, subject, categories)
    if request.actor.role == "resident" and (subject is None or request.actor.id != str(subject)):
        # a resident acts only for themselves (guardians act through consent, not through this role)
        return _deny("not_own_data", purpose_id, subject, categories)
    if not purpose.allows(request.actor.service, request.actor.role):
        served = {u.service for u in purpose.data_users}
        reason = "role_not_permitted" if request.actor.service in served else "service_not_permitted"
        return _deny(reason, purpose_id, subject, categories)
    if not purpose.needs_consent:
        return Decision(permit=True, reason=f"lawful_basis:{purpose.legal_basis.value}", purpose_id=purpose_id,
                        subject_id=subject, categories=categories, legal_basis=purpose.legal_basis.value)
    if subject is None:
        # consent is given person by person: it never opens the whole population
        return _deny("population_read_needs_statutory_basis", purpose_id, None, categories)
    return _decide_by_consent(request, purpose, subject, categories, consents)


def _decide_by_consent(request: AccessRequest, purpose: Purpose, subject: int, categories: tuple[str, ...],
                       consents: Sequence[ConsentHistory]) -> Decision:
    holder = subject
    if request.consent_subject_id is not None:
        try:
            holder = validate_subject_id(request.consent_subject_id)
        except ValueError:
            return _deny("invalid_subject", purpose.id, subject, categories)
    mine = [c for c in consents if c.record.subject_id == holder and c.record.purpose_id == purpose.id]
    if not mine:
        return _deny("no_consent", purpose.id, subject, categories)
    # the most recent record decides; older ones are final by construction
    latest = max(mine, key=lambda c: c.record.created_at)
    status = status_at(latest.record, list(latest.events), request.at)
    if not status.active:
        reason = {"withdrawn": "consent_withdrawn", "expired": "consent_expired", "refused": "consent_refused",
                  "invalidated": "consent_invalidated", "pending_parties": "consent_pending_parties"}
        return _deny(reason.get(status.reason, "consent_not_active"), purpose.id, subject, categories)
    if subject != holder and subject not in latest.record.covered_subjects:
        return _deny("not_covered_by_consent", purpose.id, subject, categories)
    if latest.record.notice_version != purpose.notice.version or latest.record.notice_sha256 != purpose.notice.sha256:
        return _deny("notice_changed", purpose.id, subject, categories)
    if not set(categories) <= set(latest.record.data_categories):
        return _deny("category_not_consented", purpose.id, subject, categories)
    if purpose.access_mode is AccessMode.PERIODIC and purpose.max_uses_per_period is not None \
            and latest.uses_in_period >= purpose.max_uses_per_period:
        return _deny("use_limit_reached", purpose.id, subject, categories)
    return Decision(permit=True, reason="consent_active", purpose_id=purpose.id, subject_id=subject,
                    categories=categories, legal_basis=purpose.legal_basis.value,
                    consent_record_id=str(latest.record.record_id), consent_seq=status.last_seq)


def period_start(purpose: Purpose, at: datetime) -> datetime | None:
    """Start of the window in which periodic uses are counted (None when uses are not limited)."""
    return at - timedelta(days=purpose.period_days) if purpose.period_days else None
