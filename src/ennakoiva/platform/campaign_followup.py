"""The consented step of a campaign: once the family has consented, run it and tell them the result.

A service with a ``consent_purpose`` (the reduced daycare fee) asks by SMS whether the family wants
the step that needs consent; A answers with a link to the e-service where the consent is given with
strong identification — never by SMS. When that consent is active (both guardians where the purpose
requires it), :func:`follow_up_consents` runs the step once per offer — the fee engine's consented
income check (:func:`ennakoiva.platform.fee_proposal.propose_fee`, every read decided and audited
there; the purpose allows only a few checks a year) — and queues one ``proposal`` message with the
proposed fee and daycare unit to each guardian who answered A.

It is a clock-driven step like reminders (``ennakoiva campaign follow-up``): run it as often as you
like; the message's idempotency key (offer|proposal|guardian|1) makes sure each family hears it once.
An offer whose consent is not yet active waits; one the fee engine cannot propose for (parameters not
in force on the date, no free place) is counted and left for a fee officer, and nothing is sent.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.stores.offer_repository import NewMessage, OfferSnapshot
from ennakoiva.adapters.stores.outbox_repository import ReplyPlan
from ennakoiva.domain.fees import MissingFeeParameterError
from ennakoiva.domain.services.definition import Action, MessageKind, ServiceDefinition
from ennakoiva.platform.campaigns import Messaging, letter_message
from ennakoiva.platform.fee_proposal import FEE_PURPOSE, FeeProposal, propose_fee
from ennakoiva.platform.messaging import message_key, render_offer_message
from ennakoiva.platform.operational import Operational

__all__ = ["FollowUpRun", "follow_up_consents"]

_ACCEPTED = ["accepted", "confirmed", "decided"]
_UNIT_CHARS = 36


@dataclass(frozen=True)
class FollowUpRun:
    """What one follow-up pass did; ``outcomes`` counts the offers by what happened to them."""

    examined: int
    queued: int
    outcomes: dict[str, int] = field(default_factory=dict)


def follow_up_consents(ops: Operational, messaging: Messaging, city_db: Path, on: date) -> FollowUpRun:
    """For every accepted offer of a consent-step service: consent active → propose, queue the result."""
    outcomes: Counter[str] = Counter()
    examined = queued = 0
    with DuckDBEngine(city_db, read_only=True) as engine:
        for definition in messaging.definitions.values():
            if definition.consent_purpose is None:
                continue
            if definition.consent_purpose != FEE_PURPOSE:
                raise ValueError(f"{definition.id}: no consented step is implemented for purpose "
                                 f"'{definition.consent_purpose}'")
            accept = definition.code_for(Action.ACCEPT)
            for campaign in messaging.offers.campaigns():
                if campaign["service_id"] != definition.id:
                    continue
                for offer_id in messaging.offers.offer_ids(campaign["campaign_id"], states=_ACCEPTED):
                    examined += 1
                    snap = messaging.offers.read_snapshot(offer_id)
                    accepting = [r for r in snap.recipients if r["answer"] == accept]
                    if not accepting:
                        continue
                    outcome = _one(ops, messaging, engine, definition, snap, accepting, on)
                    outcomes[outcome] += 1
                    queued += outcome == "proposal_queued"
    return FollowUpRun(examined, queued, dict(sorted(outcomes.items())))


def _one(ops: Operational, messaging: Messaging, engine: DuckDBEngine, definition: ServiceDefinition,
         snap: OfferSnapshot, accepting: list[dict[str, Any]], on: date) -> str:
    """One offer: one consented check (the purpose limits checks a year), told to every guardian who said A."""
    if any(snap.count(MessageKind.PROPOSAL.value, int(r["person_id"])) for r in accepting):
        return "already_told"
    purpose = definition.consent_purpose or FEE_PURPOSE
    if not any(v.status.active for v in ops.consents.views(snap.subject_id, purpose)):
        return "waiting_for_consent"  # nothing is read until the consent is active
    try:
        proposal = propose_fee(engine, ops, int(accepting[0]["person_id"]), on)
    except MissingFeeParameterError:
        return "parameters_not_in_force"
    fields = _proposal_fields(proposal, snap.subject_id)
    if fields is None:
        return f"not_proposed_{proposal.status}" if proposal.status != "proposed" else "no_free_place"
    values = {**snap.fields, **fields}
    messages = [_message(definition, snap, r, values) for r in accepting]

    def plan(current: OfferSnapshot) -> ReplyPlan:
        if any(current.count(MessageKind.PROPOSAL.value, int(r["person_id"])) for r in accepting):
            return ReplyPlan("already_told")
        return ReplyPlan("proposal_queued", snap.offer_id, messages=messages, actor="fee-engine")

    done = messaging.outbox.act_on_offer(snap.offer_id, messaging.sender.clock(), plan)
    return done.outcome if done.queued or done.outcome != "proposal_queued" else "already_told"


def _message(definition: ServiceDefinition, snap: OfferSnapshot, recipient: dict[str, Any],
             values: dict[str, Any]) -> NewMessage:
    guardian = int(recipient["person_id"])
    lang: Any = recipient["language"]
    if recipient["opted_out_at"] is not None or not recipient["phone"]:  # STOP or no phone: by letter
        return letter_message(definition, snap.offer_id, guardian, lang, values, MessageKind.PROPOSAL)
    rendered = render_offer_message(definition, MessageKind.PROPOSAL, lang, values)
    return NewMessage(message_key(snap.offer_id, MessageKind.PROPOSAL.value, guardian, 1),
                      MessageKind.PROPOSAL.value, recipient["phone"], recipient["language"], rendered.text,
                      rendered.encoding, rendered.segments, snap.offer_id, guardian)


def _proposal_fields(proposal: FeeProposal, child: int) -> dict[str, str] | None:
    """The proposed fee of this child and the proposed unit, or None when there is nothing to propose."""
    decision = proposal.decision
    if proposal.status != "proposed" or decision is None or not proposal.placements:
        return None
    fee = next((c.fee for c in decision.children if c.name == str(child)), decision.total)
    return {"proposed_fee": str(fee), "unit_name": proposal.placements[0].name[:_UNIT_CHARS]}
