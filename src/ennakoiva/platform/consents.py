"""Use cases for consent: give (or join as the second guardian), renew, withdraw, list, receipt.

Server time comes from the one clock; a client never supplies it. A consent that has run out is
closed with an ``expired`` event before a new one is made, so the store's one-active-consent rule
holds without a background job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from ennakoiva.domain.clock import now
from ennakoiva.domain.consent.purposes import Purpose, canonical_purpose_id
from ennakoiva.domain.consent.records import (
    FINAL_STATES,
    ConsentError,
    ConsentEvent,
    ConsentRecord,
    ConsentState,
    ConsentStatus,
    Party,
    new_record,
    next_event,
    status_at,
    validate_subject_id,
)
from ennakoiva.domain.consent.rights import rights_for
from ennakoiva.domain.ports import ConsentStore
from ennakoiva.domain.types import Lang

__all__ = ["ConsentService", "ConsentView"]

_SYSTEM = Party(person_id=1, role="system", auth_method="ennakoiva-expiry", channel="system")


@dataclass(frozen=True)
class ConsentView:
    """A record with its history and its state now."""

    record: ConsentRecord
    events: list[ConsentEvent]
    status: ConsentStatus

    def as_dict(self, purposes: Mapping[str, Purpose]) -> dict[str, Any]:
        """JSON-ready view for the resident, the CLI and the API."""
        purpose = purposes.get(self.record.purpose_id)
        return {
            "record_id": str(self.record.record_id),
            "purpose_id": self.record.purpose_id,
            "purpose": purpose.names if purpose else None,
            "state": self.status.state.value,
            "reason": self.status.reason,
            "waiting_for": list(self.status.waiting_for),
            "valid_until": self.status.valid_until.isoformat() if self.status.valid_until else None,
            "data_categories": list(self.record.data_categories),
            "covered_subjects": list(self.record.covered_subjects),
            "history": [{"seq": e.seq, "state": e.state.value, "at": e.at.isoformat(), "by": e.party.person_id,
                         "role": e.party.role, "auth": e.party.auth_method, "channel": e.party.channel}
                        for e in self.events],
            "alternative_route": purpose.alternative_route if purpose else None,
            "withdrawal_method": self.record.withdrawal_method,
        }


@dataclass
class ConsentService:
    """Consent operations over a store, with the purposes catalogue and the server clock."""

    store: ConsentStore
    purposes: Mapping[str, Purpose]
    clock: Callable[[], datetime] = now

    def purpose(self, purpose_id: str) -> Purpose:
        try:
            pid = canonical_purpose_id(purpose_id)
        except ValueError as exc:
            raise ConsentError("invalid_purpose", str(exc)) from None
        if pid not in self.purposes:
            raise ConsentError("unknown_purpose", f"no purpose '{pid}' (known: {', '.join(sorted(self.purposes))})")
        return self.purposes[pid]

    def give(self, purpose_id: str, subject_id: object, party: Party, *, language: Lang,
             required_parties: tuple[int, ...] | None = None, covered_subjects: tuple[int, ...] = (),
             categories: tuple[str, ...] | None = None) -> ConsentView:
        """Give consent: a new record, or the missing party's ``given`` on a pending one."""
        purpose = self.purpose(purpose_id)
        subject = validate_subject_id(subject_id)
        at = self.clock()
        for record, events in self.store.for_subject(subject, purpose.id):
            status = status_at(record, events, at)
            if status.state in FINAL_STATES and status.reason != "expired":
                continue
            if status.reason == "expired":
                if events[-1].state is not ConsentState.EXPIRED:
                    self.store.append(next_event(record, events, ConsentState.EXPIRED, _SYSTEM, at=at))
                continue
            if party.person_id in status.waiting_for:
                event = next_event(record, events, ConsentState.GIVEN, party, at=at)
                self.store.append(event)
                return self._view(record.record_id)
            raise ConsentError("already_active", f"subject already has a {status.reason} consent for '{purpose.id}' "
                                                 f"(record {record.record_id}); renew or withdraw it instead")
        record, first = new_record(purpose, subject, party, at=at, language=language,
                                   required_parties=required_parties, covered_subjects=covered_subjects,
                                   data_categories=categories)
        self.store.add(record, first)
        return self._view(record.record_id)

    def change(self, record_id: UUID | str, state: ConsentState, party: Party) -> ConsentView:
        """Renew, refuse or withdraw; withdrawing is exactly as easy as giving (one call)."""
        rid = _uuid(record_id)
        record, events = self.store.get(rid)
        self.store.append(next_event(record, events, state, party, at=self.clock()))
        return self._view(rid)

    def withdraw(self, record_id: UUID | str, party: Party) -> ConsentView:
        return self.change(record_id, ConsentState.WITHDRAWN, party)

    def views(self, subject_id: object, purpose_id: str | None = None) -> list[ConsentView]:
        subject = validate_subject_id(subject_id)
        pid = self.purpose(purpose_id).id if purpose_id else None
        at = self.clock()
        return [ConsentView(r, e, status_at(r, e, at)) for r, e in self.store.for_subject(subject, pid)]

    def views_of_person(self, person_id: object) -> list[ConsentView]:
        """Every consent that concerns a person: about them, given by them, or covering their data."""
        person = validate_subject_id(person_id)
        at = self.clock()
        return [ConsentView(r, e, status_at(r, e, at)) for r, e in self.store.for_person(person)]

    def receipt(self, record_id: UUID | str) -> dict[str, Any]:
        """A consent receipt (Kantara v1.1 / ISO/IEC TS 27560 fields) for the resident to keep."""
        view = self._view(_uuid(record_id))
        record = view.record
        purpose = self.purposes.get(record.purpose_id)
        return {
            "version": "KI-CR-v1.1.0", "schemaVersion": record.schema_version, "jurisdiction": record.jurisdiction,
            "consentReceiptID": str(record.record_id), "consentTimestamp": int(record.created_at.timestamp()),
            "collectionMethod": view.events[0].party.channel, "language": record.language,
            "piiPrincipalId": str(record.subject_id), "coveredSubjects": [str(s) for s in record.covered_subjects],
            "piiControllers": [{"piiController": purpose.controller.name if purpose else record.controller_id,
                                "contact": purpose.controller.contact if purpose else None,
                                "id": record.controller_id}],
            "policyUrl": None,
            "notice": {"version": record.notice_version, "sha256": record.notice_sha256},
            "services": [{"service": record.purpose_id, "purposes": [{
                "purpose": purpose.names[record.language] if purpose else record.purpose_id,
                "purposeVersion": record.purpose_version,
                "consentType": "EXPLICIT", "lawfulBasis": record.legal_basis.gdpr_code,
                "piiCategory": list(record.data_categories), "primaryPurpose": True,
                "termination": view.status.valid_until.isoformat() if view.status.valid_until else None,
                "thirdPartyDisclosure": False,
            }]}],
            "state": view.status.state.value,
            "events": view.as_dict(self.purposes)["history"],
            "withdrawalMethod": record.withdrawal_method,
            "rights": [r.id for r in rights_for(record.legal_basis)],
        }

    def _view(self, record_id: UUID) -> ConsentView:
        record, events = self.store.get(record_id)
        return ConsentView(record, events, status_at(record, events, self.clock()))


def _uuid(value: UUID | str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise ConsentError("invalid_record_id", f"not a consent record id: {str(value)[:60]!r}") from None
