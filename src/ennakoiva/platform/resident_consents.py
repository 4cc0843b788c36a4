"""Consents as a logged-in resident gives and withdraws them on "My data".

A resident acts for themselves or, as a guardian, for their child. Who the child's guardians are
comes from the population register's guardianship (the stand-in for a Suomi.fi e-Authorizations
check): a resident may act for a child only when they are a guardian in force, and a consent that
needs both guardians lists them all as required parties. Withdrawal is open to every party of the
record and to the person whose data it covers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.domain.consent.decision import Actor
from ennakoiva.domain.consent.records import ConsentError, Party
from ennakoiva.domain.types import Lang
from ennakoiva.platform.access import AccessGate
from ennakoiva.platform.consents import ConsentService, ConsentView
from ennakoiva.platform.mydata import OWN_DATA_PURPOSE

__all__ = ["ResidentConsents", "consentable_purposes"]

AUTH_METHOD = "ennakoiva-web-session"


def consentable_purposes(consents: ConsentService) -> list[str]:
    """The purposes a resident can give consent for (those whose legal basis is consent)."""
    return sorted(pid for pid, p in consents.purposes.items() if p.needs_consent)


@dataclass
class ResidentConsents:
    """Give and withdraw on behalf of one logged-in resident."""

    consents: ConsentService

    def children_of(self, engine: DuckDBEngine, gate: AccessGate, person_id: int) -> list[int]:
        """The children this resident is a guardian of (relations in force), read as their own data.

        A read of the resident's family relations like any other: decided and logged under
        ``resident-own-data`` (it shows in their list of uses).
        """
        me = Actor(id=str(person_id), role="resident", service="mydata")
        rows = gate.read(engine, me, OWN_DATA_PURPOSE, person_id, ["family_relation"])["family_relation"].to_pylist()
        return sorted({int(r["related_person_id"]) for r in rows if r["person_id"] == person_id
                       and r["relation"] == "guardian_of" and r["valid_to"] is None})

    def _guardians(self, engine: DuckDBEngine, child: int) -> tuple[int, ...]:
        rows = engine.sql("SELECT person_id FROM family_relation WHERE related_person_id = $1 "
                          "AND relation = 'guardian_of' AND valid_to IS NULL ORDER BY 1", [child])
        return tuple(int(v) for v in rows.column(0).to_pylist())

    def give(self, engine: DuckDBEngine, person_id: int, purpose_id: str, subject_id: int | None,
             language: Lang) -> ConsentView:
        """Give consent for oneself or, as a guardian in force, for one's child."""
        purpose = self.consents.purpose(purpose_id)
        if not purpose.needs_consent:
            raise ConsentError("not_consent_based", f"'{purpose.id}' rests on {purpose.legal_basis.value}, "
                                                    "not on consent")
        if subject_id is None or subject_id == person_id:
            party = Party(person_id=person_id, role="self", auth_method=AUTH_METHOD)
            return self.consents.give(purpose.id, person_id, party, language=language)
        guardians = self._guardians(engine, subject_id)
        if person_id not in guardians:
            raise ConsentError("not_a_party", "you can give consent only for yourself or a child in your custody")
        party = Party(person_id=person_id, role="guardian", auth_method=AUTH_METHOD)
        required = guardians if purpose.both_guardians_required else None
        return self.consents.give(purpose.id, subject_id, party, language=language, required_parties=required,
                                  covered_subjects=guardians)

    def withdraw(self, person_id: int, record_id: str) -> ConsentView:
        """Withdraw a record this resident is a party to (or whose data it covers)."""
        try:
            rid = UUID(record_id)
        except ValueError:
            raise ConsentError("unknown_record", "not a consent record id") from None
        record, _ = self.consents.store.get(rid)
        parties = {record.subject_id, *record.required_parties, *record.covered_subjects}
        if person_id not in parties:
            # the same answer as for a record that does not exist: ids of others' records reveal nothing
            raise ConsentError("unknown_record", f"no consent record {rid}")
        role = "self" if person_id == record.subject_id else "guardian"
        return self.consents.withdraw(rid, Party(person_id=person_id, role=role, auth_method=AUTH_METHOD))

    def receipt(self, person_id: int, record_id: str) -> dict[str, Any]:
        """The receipt of a record this resident is a party to."""
        try:
            rid = UUID(record_id)
        except ValueError:
            raise ConsentError("unknown_record", "not a consent record id") from None
        record, _ = self.consents.store.get(rid)
        if person_id not in {record.subject_id, *record.required_parties, *record.covered_subjects}:
            raise ConsentError("unknown_record", f"no consent record {rid}")
        return self.consents.receipt(rid)
