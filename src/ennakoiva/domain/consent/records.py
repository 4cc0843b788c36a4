"""Consent records and their append-only chain of state changes (ISO/IEC TS 27560, Kantara v1.1).

A record pins the purpose and notice version the resident saw; each state change is an event with
who expressed it, when (server time) and how they were authenticated. Withdrawal, refusal,
expiry and invalidation are final: a new consent is a new record. When several parties must agree
(both guardians), the record is active only when every one of them has given consent, and any one
withdrawal withdraws it for all.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ennakoiva.domain.consent.purposes import LegalBasis, Purpose
from ennakoiva.domain.types import Lang

__all__ = [
    "ACTIVE_STATES", "FINAL_STATES", "GENESIS_HASH", "SCHEMA_VERSION", "ConsentError", "ConsentEvent",
    "ConsentRecord", "ConsentState", "ConsentStatus", "Party", "event_hash", "new_record", "next_event", "status_at",
    "validate_subject_id",
]

SCHEMA_VERSION = "ennakoiva-consent/1"
GENESIS_HASH = "0" * 64
_HETU = re.compile(r"^\d{6}[-+ABCDEFYXWVU]\d{3}[0-9A-Y]$", re.IGNORECASE)


class ConsentError(ValueError):
    """A consent operation the rules forbid; ``code`` is stable for APIs and tests."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ConsentState(StrEnum):
    REQUESTED = "requested"
    GIVEN = "given"
    RENEWED = "renewed"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    INVALIDATED = "invalidated"


ACTIVE_STATES = frozenset({ConsentState.GIVEN, ConsentState.RENEWED})
FINAL_STATES = frozenset({ConsentState.REFUSED, ConsentState.WITHDRAWN, ConsentState.EXPIRED,
                          ConsentState.INVALIDATED})
# state a party is in -> states that party may move to next
_TRANSITIONS: dict[ConsentState | None, frozenset[ConsentState]] = {
    None: frozenset({ConsentState.GIVEN, ConsentState.REFUSED}),
    ConsentState.GIVEN: frozenset({ConsentState.RENEWED, ConsentState.WITHDRAWN}),
    ConsentState.RENEWED: frozenset({ConsentState.RENEWED, ConsentState.WITHDRAWN}),
}


def validate_subject_id(subject: object) -> int:
    """Subjects are pseudonymous integer ids; a personal identity code (HETU) is refused outright.

    >>> validate_subject_id(123456789)
    123456789
    >>> validate_subject_id("010190-123A")
    Traceback (most recent call last):
    ...
    ValueError: a personal identity code is never a subject id; use the pseudonymous person_id
    """
    if isinstance(subject, str) and _HETU.match(subject.strip()):
        raise ValueError("a personal identity code is never a subject id; use the pseudonymous person_id")
    if isinstance(subject, bool) or not isinstance(subject, int | str):
        raise ValueError(f"not a subject id: {subject!r}")
    text = str(subject).strip()
    if not text.isdigit() or len(text) > 18 or int(text) <= 0:
        raise ValueError(f"not a subject id: {subject!r}")
    return int(text)


class Party(BaseModel):
    """Who expressed a state change and how they proved it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    person_id: int = Field(gt=0)
    role: Literal["self", "guardian", "mandate", "caseworker", "system"]
    auth_method: str = Field(min_length=1, max_length=80)   # e.g. suomi.fi-strong, caseworker-session
    channel: Literal["web", "sms", "caseworker", "paper", "system"] = "web"


def _aware(value: datetime | None) -> datetime | None:
    """Times must be aware; they are kept in UTC so hashes survive a round trip through any store."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return value.astimezone(UTC)


class ConsentRecord(BaseModel):
    """The mostly static part of a consent: whose, for what, under which notice."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    record_id: UUID
    schema_version: str = SCHEMA_VERSION
    subject_id: int = Field(gt=0)
    covered_subjects: tuple[int, ...] = ()
    purpose_id: str
    purpose_version: int
    notice_version: int
    notice_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    language: Lang
    controller_id: str
    legal_basis: LegalBasis
    data_categories: tuple[str, ...] = Field(min_length=1, max_length=50)
    required_parties: tuple[int, ...] = Field(min_length=1, max_length=10)
    withdrawal_method: str = Field(min_length=1)
    jurisdiction: str = "FI"
    created_at: datetime
    valid_until: datetime

    _aware_created = field_validator("created_at", "valid_until")(_aware)

    @model_validator(mode="after")
    def _sane(self) -> ConsentRecord:
        if self.valid_until <= self.created_at:
            raise ValueError("valid_until must be after created_at")
        if len(set(self.required_parties)) != len(self.required_parties):
            raise ValueError("required_parties has duplicates")
        return self

    @property
    def active_key(self) -> str:
        """At most one non-final record may hold this key (the store enforces uniqueness)."""
        return f"{self.subject_id}|{self.purpose_id}"


class ConsentEvent(BaseModel):
    """One append-only state change of one party, chained to the previous event of the record."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    record_id: UUID
    seq: int = Field(ge=1)
    state: ConsentState
    party: Party
    at: datetime
    valid_until: datetime | None = None
    prev_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")

    _aware_at = field_validator("at", "valid_until")(_aware)

    def payload(self) -> dict[str, Any]:
        """The fields the hash covers, in canonical form."""
        return {
            "record_id": str(self.record_id), "seq": self.seq, "state": self.state.value,
            "party": self.party.model_dump(mode="json"), "at": self.at.isoformat(),
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
        }


def event_hash(prev_hash: str, payload: dict[str, Any]) -> str:
    """sha256 over the previous hash and the canonical JSON of the payload."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def _make_event(record_id: UUID, seq: int, state: ConsentState, party: Party, at: datetime,
                valid_until: datetime | None, prev_hash: str) -> ConsentEvent:
    at = at.astimezone(UTC)
    valid_until = valid_until.astimezone(UTC) if valid_until else None
    draft = {"record_id": str(record_id), "seq": seq, "state": state.value, "party": party.model_dump(mode="json"),
             "at": at.isoformat(), "valid_until": valid_until.isoformat() if valid_until else None}
    return ConsentEvent(record_id=record_id, seq=seq, state=state, party=party, at=at, valid_until=valid_until,
                        prev_hash=prev_hash, hash=event_hash(prev_hash, draft))


def new_record(purpose: Purpose, subject_id: int, party: Party, *, at: datetime, language: Lang,
               required_parties: tuple[int, ...] | None = None, covered_subjects: tuple[int, ...] = (),
               data_categories: tuple[str, ...] | None = None, record_id: UUID | None = None,
               ) -> tuple[ConsentRecord, ConsentEvent]:
    """A new consent record and its first event (``given`` by ``party``), at server time ``at``."""
    if not purpose.needs_consent:
        raise ConsentError("not_consent_based",
                           f"purpose '{purpose.id}' rests on {purpose.legal_basis.value}, not on consent")
    subject_id = validate_subject_id(subject_id)
    if purpose.both_guardians_required and party.role == "guardian" and not required_parties:
        # who the guardians are comes from the population register: the caller must list them all
        raise ConsentError("guardians_missing", f"purpose '{purpose.id}' needs the consent of every guardian; "
                                                "list them in required_parties")
    parties = required_parties or (party.person_id,)
    if party.person_id not in parties:
        raise ConsentError("not_a_party", "only a required party can give this consent")
    categories = data_categories or purpose.data_categories
    extra = sorted(set(categories) - set(purpose.data_categories))
    if extra:
        raise ConsentError("category_not_in_purpose", f"categories {extra} are not part of purpose '{purpose.id}'")
    assert purpose.consent_validity_days is not None and purpose.withdrawal_method is not None
    valid_until = at + timedelta(days=purpose.consent_validity_days)
    record = ConsentRecord(
        record_id=record_id or uuid4(), subject_id=subject_id, covered_subjects=covered_subjects,
        purpose_id=purpose.id, purpose_version=purpose.version, notice_version=purpose.notice.version,
        notice_sha256=purpose.notice.sha256, language=language, controller_id=purpose.controller.id,
        legal_basis=purpose.legal_basis, data_categories=tuple(categories), required_parties=parties,
        withdrawal_method=purpose.withdrawal_method[language], created_at=at, valid_until=valid_until,
    )
    first = _make_event(record.record_id, 1, ConsentState.GIVEN, party, at, valid_until, GENESIS_HASH)
    return record, first


class ConsentStatus(BaseModel):
    """The state of a record at a moment, as the access decision needs it."""

    model_config = ConfigDict(frozen=True)

    state: ConsentState
    reason: str                      # stable code: active, pending_parties, withdrawn, expired, …
    valid_until: datetime | None
    last_seq: int
    waiting_for: tuple[int, ...] = ()

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


def _party_states(events: list[ConsentEvent]) -> dict[int, ConsentState]:
    states: dict[int, ConsentState] = {}
    for e in events:
        states[e.party.person_id] = e.state
    return states


def status_at(record: ConsentRecord, events: list[ConsentEvent], at: datetime) -> ConsentStatus:
    """Effective state at ``at``: final events win, then expiry, then whether all parties agree."""
    seen = sorted((e for e in events if e.at <= at), key=lambda e: e.seq)
    last_seq = seen[-1].seq if seen else 0
    for e in seen:
        if e.state in FINAL_STATES:
            return ConsentStatus(state=e.state, reason=e.state.value, valid_until=None, last_seq=last_seq)
    valid_until = max((e.valid_until for e in seen if e.valid_until is not None), default=record.valid_until)
    if at >= valid_until:
        return ConsentStatus(state=ConsentState.EXPIRED, reason="expired", valid_until=valid_until,
                             last_seq=last_seq)
    parties = _party_states(seen)
    waiting = tuple(p for p in record.required_parties if parties.get(p) not in ACTIVE_STATES)
    if waiting:
        return ConsentStatus(state=ConsentState.REQUESTED, reason="pending_parties", valid_until=valid_until,
                             last_seq=last_seq, waiting_for=waiting)
    latest = ConsentState.RENEWED if any(e.state is ConsentState.RENEWED for e in seen) else ConsentState.GIVEN
    return ConsentStatus(state=latest, reason="active", valid_until=valid_until, last_seq=last_seq)


def next_event(record: ConsentRecord, events: list[ConsentEvent], state: ConsentState, party: Party, *,
               at: datetime, validity: timedelta | None = None) -> ConsentEvent:
    """The event that moves ``party`` to ``state`` — or ConsentError when the rules forbid it.

    Any required party (or a caseworker or the system, for withdrawal, expiry and invalidation)
    may end the record; only required parties may give or renew. Server time ``at`` must not
    precede the last event.
    """
    ordered = sorted(events, key=lambda e: e.seq)
    if not ordered:
        raise ConsentError("no_events", "a record always has its first event")
    last = ordered[-1]
    if at < last.at:
        raise ConsentError("time_goes_back", "an event cannot precede the previous one")
    current = status_at(record, ordered, at)
    # a consent that ran out has no event yet; recording its expiry is the one move still allowed
    recording_expiry = (state is ConsentState.EXPIRED and current.reason == "expired"
                        and not any(e.state in FINAL_STATES for e in ordered))
    if current.state in FINAL_STATES and not recording_expiry:
        raise ConsentError("final", f"consent is {current.state.value}; a new consent needs a new record")
    ending = state in (ConsentState.WITHDRAWN, ConsentState.EXPIRED, ConsentState.INVALIDATED)
    is_party = party.person_id in record.required_parties
    if ending:
        if not is_party and party.role not in ("caseworker", "system"):
            raise ConsentError("not_a_party", "only a party, a caseworker or the system can end this consent")
        return _make_event(record.record_id, last.seq + 1, state, party, at, None, last.hash)
    if not is_party:
        raise ConsentError("not_a_party", "only a required party can give or renew this consent")
    mine = _party_states(ordered).get(party.person_id)
    allowed = _TRANSITIONS.get(mine, frozenset())
    if state not in allowed:
        shown = mine.value if mine else "nothing"
        raise ConsentError("invalid_transition", f"cannot go from {shown} to {state.value}")
    valid_until = None
    if state is ConsentState.RENEWED:
        valid_until = at + (validity or (record.valid_until - record.created_at))
    elif state is ConsentState.GIVEN:
        valid_until = record.valid_until
    return _make_event(record.record_id, last.seq + 1, state, party, at, valid_until, last.hash)
