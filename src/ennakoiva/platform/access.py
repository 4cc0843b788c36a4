"""The access gate: decide, log, then read — the only way personal data leaves the data layer.

Every decision (permit or deny) is appended to the audit log before any data is read; if the log
cannot be written, nothing is read. After a consent-based read the consent is checked again: a
withdrawal that committed while the read was in flight discards the result, and that too is logged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

import pyarrow as pa

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.domain.clock import now
from ennakoiva.domain.consent.audit import AuditEntry, AuditRecord, entry_from_decision
from ennakoiva.domain.consent.decision import (
    AccessRequest,
    Actor,
    ConsentHistory,
    Decision,
    decide,
    period_start,
)
from ennakoiva.domain.consent.purposes import Purpose, canonical_purpose_id
from ennakoiva.domain.consent.records import status_at, validate_subject_id
from ennakoiva.domain.ports import AuditLog, ConsentStore
from ennakoiva.domain.registry import Registry, default_registry

__all__ = ["AccessDeniedError", "AccessGate"]


class AccessDeniedError(PermissionError):
    """A read the access decision refused; carries the decision (already audited)."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(f"access denied: {decision.reason}")
        self.decision = decision


@dataclass
class AccessGate:
    """Decide and audit every read of personal data for a purpose."""

    store: ConsentStore
    audit: AuditLog
    purposes: Mapping[str, Purpose]
    clock: Callable[[], datetime] = now
    registry: Registry | None = None

    def decide(self, actor: Actor, purpose_id: str, subject_id: object, categories: tuple[str, ...],
               request_id: str | None = None, *, via_consent_of: object | None = None) -> Decision:
        """Make and log the decision; the audit append must succeed or this raises.

        ``via_consent_of`` names the person whose consent covers ``subject_id`` (e.g. the child whose
        fee consent covers the guardians' incomes); the log records the person whose data it is.
        """
        request = AccessRequest(actor=actor, purpose_id=purpose_id, subject_id=subject_id, categories=categories,
                                at=self.clock(), request_id=request_id or uuid4().hex,
                                consent_subject_id=via_consent_of)
        decision = decide(request, self.purposes, self._histories(request))
        self.audit.append(entry_from_decision(request, decision))
        return decision

    def _histories(self, request: AccessRequest) -> list[ConsentHistory]:
        try:
            subject = validate_subject_id(request.consent_subject_id or request.subject_id)
            purpose = self.purposes.get(canonical_purpose_id(request.purpose_id))
        except ValueError:
            return []
        if purpose is None or not purpose.needs_consent:
            return []
        since = period_start(purpose, request.at)
        uses = self.audit.count_permits(subject, purpose.id, since) if since is not None else 0
        return [ConsentHistory(record=r, events=tuple(e), uses_in_period=uses)
                for r, e in self.store.for_subject(subject, purpose.id)]

    def read(self, engine: DuckDBEngine, actor: Actor, purpose_id: str, subject_id: object,
             tables: list[str], *, via_consent_of: object | None = None) -> dict[str, pa.Table]:
        """Read one subject's rows of ``tables`` under ``purpose_id``, or raise AccessDeniedError."""
        registry = self.registry or default_registry()
        categories = tuple(dict.fromkeys(registry.table(t).category or "" for t in tables))
        decision = self.decide(actor, purpose_id, subject_id, categories, via_consent_of=via_consent_of)
        if not decision.permit:
            raise AccessDeniedError(decision)
        assert decision.subject_id is not None
        data = {t: engine.read_subject(t, decision.subject_id, decision) for t in tables}
        if decision.consent_record_id is not None:
            record, events = self.store.get(UUID(decision.consent_record_id))
            if not status_at(record, events, self.clock()).active:
                discarded = decision.model_copy(update={"permit": False, "reason": "discarded_after_withdrawal"})
                self.audit.append(AuditRecord(
                    at=self.clock(), actor_id=actor.id, role=actor.role, service=actor.service,
                    purpose_id=decision.purpose_id, subject_id=decision.subject_id, categories=decision.categories,
                    decision="deny", reason=discarded.reason, policy_version=decision.policy_version,
                    consent_record_id=decision.consent_record_id))
                raise AccessDeniedError(discarded)
        return data

    def uses_of(self, subject_id: int) -> list[AuditEntry]:
        """Every logged decision about a subject, for the resident's own view."""
        return self.audit.for_subject(subject_id)
