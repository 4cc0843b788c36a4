"""The tamper-evident audit log: every access decision chained by hash, checkpoints signed.

An entry holds ids and categories, never data values. Each entry's hash covers the previous hash,
so editing, deleting or reordering any entry breaks the chain from that point; a signed checkpoint
kept outside the database fixes the head, so truncating the tail and recomputing the chain is
caught too. ``verify_chain`` names the first bad entry.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ennakoiva.domain.consent.decision import AccessRequest, Decision

__all__ = [
    "GENESIS", "AuditEntry", "AuditRecord", "Checkpoint", "VerifyReport", "chain_hash", "entry_from_decision",
    "sign_checkpoint", "verify_chain",
]

GENESIS = "0" * 64


class AuditRecord(BaseModel):
    """What is logged about one decision, before the log gives it a place in the chain."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: datetime
    actor_id: str
    role: str
    service: str
    purpose_id: str
    subject_id: int | None
    categories: tuple[str, ...]
    decision: Literal["permit", "deny"]
    reason: str
    policy_version: str
    consent_record_id: str | None = None
    request_id: str = ""

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        """Aware and in UTC, so the hash is the same after any store's round trip."""
        if value.tzinfo is None:
            raise ValueError("times must be timezone-aware")
        return value.astimezone(UTC)

    def payload(self) -> dict[str, Any]:
        """Canonical form the hash covers — built by hand: verification walks millions of these.

        Equal to ``model_dump(mode="json")`` of the record fields (UTC times end in ``Z``).
        """
        return {
            "at": self.at.isoformat().replace("+00:00", "Z"), "actor_id": self.actor_id, "role": self.role,
            "service": self.service, "purpose_id": self.purpose_id, "subject_id": self.subject_id,
            "categories": list(self.categories), "decision": self.decision, "reason": self.reason,
            "policy_version": self.policy_version, "consent_record_id": self.consent_record_id,
            "request_id": self.request_id,
        }


class AuditEntry(AuditRecord):
    """An audit record with its place in the chain."""

    seq: int = Field(ge=1)
    prev_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")

    def record(self) -> AuditRecord:
        return AuditRecord.model_validate(self.model_dump(exclude={"seq", "prev_hash", "hash"}))


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, seq: int, record: AuditRecord) -> str:
    """sha256 over previous hash, sequence number and the record's canonical JSON."""
    body = _CANONICAL.encode(record.payload())
    return hashlib.sha256(f"{prev_hash}\n{seq}\n{body}".encode()).hexdigest()


def entry_from_decision(request: AccessRequest, decision: Decision) -> AuditRecord:
    """The audit record of a decision: ids, role, purpose, categories, outcome — no data values."""
    return AuditRecord(
        at=request.at, actor_id=request.actor.id, role=request.actor.role, service=request.actor.service,
        purpose_id=decision.purpose_id, subject_id=decision.subject_id, categories=decision.categories,
        decision=decision.outcome, reason=decision.reason, policy_version=decision.policy_version,
        consent_record_id=decision.consent_record_id, request_id=request.request_id,
    )


class Checkpoint(BaseModel):
    """A signed statement that the chain had ``entry_hash`` at ``seq`` (kept outside the database)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int = Field(ge=0)
    entry_hash: str
    at: datetime
    signature: str


def sign_checkpoint(seq: int, entry_hash: str, at: datetime, key: bytes) -> Checkpoint:
    """HMAC-SHA256 over seq, hash and time with the audit key (held apart from the database)."""
    message = f"{seq}\n{entry_hash}\n{at.isoformat()}".encode()
    return Checkpoint(seq=seq, entry_hash=entry_hash, at=at,
                      signature=hmac.new(key, message, hashlib.sha256).hexdigest())


def _checkpoint_ok(cp: Checkpoint, key: bytes) -> bool:
    expected = sign_checkpoint(cp.seq, cp.entry_hash, cp.at, key).signature
    return hmac.compare_digest(expected, cp.signature)


class VerifyReport(BaseModel):
    """Outcome of a verification: ok, or the first bad sequence number and what is wrong."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str | None = None
    last_hash: str = GENESIS


def verify_chain(entries: Iterable[AuditEntry], checkpoints: Iterable[Checkpoint] = (), key: bytes | None = None,
                 *, start_seq: int = 1, start_hash: str = GENESIS, final: bool = True) -> VerifyReport:
    """Walk the chain in seq order; check numbering, links, hashes, then the signed checkpoints.

    A long log can be verified in ranges (in parallel): a range starts at ``start_seq`` from the
    stored hash of the entry before it, and only the ``final`` range checks for truncation. Every
    stored hash inside every range is recomputed, so the ranges together prove the whole chain.
    """
    by_seq = {cp.seq: cp for cp in checkpoints}
    if key is not None:
        for cp in by_seq.values():
            if not _checkpoint_ok(cp, key):
                return VerifyReport(ok=False, entries=0, first_bad_seq=cp.seq, problem="checkpoint signature invalid")
    prev_hash, expected_seq, count = start_hash, start_seq, 0
    for entry in entries:
        if entry.seq != expected_seq:
            problem = "entry missing or reordered" if entry.seq > expected_seq else "duplicate or reordered entry"
            return VerifyReport(ok=False, entries=count, first_bad_seq=expected_seq,
                                problem=f"{problem} (found seq {entry.seq})", last_hash=prev_hash)
        if entry.prev_hash != prev_hash:
            return VerifyReport(ok=False, entries=count, first_bad_seq=entry.seq,
                                problem="link to the previous entry broken", last_hash=prev_hash)
        if chain_hash(prev_hash, entry.seq, entry) != entry.hash:
            return VerifyReport(ok=False, entries=count, first_bad_seq=entry.seq,
                                problem="entry content does not match its hash", last_hash=prev_hash)
        pinned = by_seq.get(entry.seq)
        if pinned is not None and pinned.entry_hash != entry.hash:
            return VerifyReport(ok=False, entries=count, first_bad_seq=entry.seq,
                                problem="entry differs from the signed checkpoint", last_hash=prev_hash)
        prev_hash, expected_seq, count = entry.hash, expected_seq + 1, count + 1
    beyond = [s for s in by_seq if s >= expected_seq]
    if final and beyond:
        return VerifyReport(ok=False, entries=count, first_bad_seq=expected_seq,
                            problem=f"log truncated: a signed checkpoint covers seq {max(beyond)}", last_hash=prev_hash)
    return VerifyReport(ok=True, entries=count, last_hash=prev_hash)
