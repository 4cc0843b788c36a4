"""Offers, outbox, delivery reports and inbound replies in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from store_support import engine_fixture, store_url_fixture  # noqa: F401 - pytest fixtures

from ennakoiva.adapters.stores.offer_repository import NewMessage, NewOffer, NewRecipient, SqlOfferStore
from ennakoiva.adapters.stores.outbox_repository import ReplyPlan, SentMessage, SqlOutbox
from ennakoiva.domain.services.offer_state import OfferState, Transition

T0 = datetime(2027, 1, 7, 8, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def _offer(subject: int, phones: tuple[str, ...] = ("+358401000001",)) -> NewOffer:
    recipients = [NewRecipient(subject * 10 + i, p, "fi") for i, p in enumerate(phones)]
    offer = NewOffer(subject_id=subject, language="fi", district="101", fields={"child_name": "Aino"},
                     recipients=recipients, messages=[])
    messages = [NewMessage(f"{offer.offer_id}|offer|{r.person_id}|1", "offer", r.phone, "fi", "Tarjous", "GSM-7", 1,
                           offer.offer_id, r.person_id) for r in recipients]
    return NewOffer(subject_id=subject, language="fi", district="101", fields={"child_name": "Aino"},
                    recipients=recipients, messages=messages, offer_id=offer.offer_id)


def _campaign(engine: Engine, offers: list[NewOffer]) -> str:
    result = SqlOfferStore(engine).create_campaign("preschool-offer", "1", date(2027, 1, 7), "tester", offers, T0)
    return result.campaign_id


def test_a_rerun_of_a_campaign_creates_and_queues_nothing_twice(engine: Engine) -> None:
    store = SqlOfferStore(engine)
    first = store.create_campaign("preschool-offer", "1", date(2027, 1, 7), "t", [_offer(1), _offer(2)], T0)
    assert (first.created, first.existing, first.queued) == (2, 0, 2)
    # A re-run builds fresh offer objects (new ids) for the same subjects plus one new subject.
    again = store.create_campaign("preschool-offer", "1", date(2027, 1, 7), "t",
                                  [_offer(1), _offer(2), _offer(3)], T0)
    assert again.campaign_id == first.campaign_id
    assert (again.created, again.existing, again.queued) == (1, 2, 1)
    assert SqlOutbox(engine).counts() == {"queued": 3}
    offer_id = store.offer_ids(first.campaign_id)[0]
    [draft] = store.transitions(offer_id)
    assert (draft["name"], draft["from_state"], draft["to_state"]) == ("draft", None, "drafted")


def test_the_same_idempotency_key_is_queued_once(engine: Engine) -> None:
    outbox = SqlOutbox(engine)
    message = NewMessage("k|x|1|1", "unknown_number", "+358401000009", "fi", "Hei", "GSM-7", 1)
    assert outbox.enqueue([message], T0) == 1
    assert outbox.enqueue([message, message], T0) == 0
    assert outbox.counts() == {"queued": 1}


def test_claim_leases_and_a_lapsed_lease_is_claimed_again(engine: Engine) -> None:
    _campaign(engine, [_offer(1), _offer(2)])
    outbox = SqlOutbox(engine)
    first = outbox.claim(10, LEASE, T0)
    assert len(first) == 2 and {m.attempts for m in first} == {1}
    assert outbox.claim(10, LEASE, T0 + timedelta(seconds=5)) == []  # still leased to the first sender
    again = outbox.claim(10, LEASE, T0 + LEASE)  # the first sender died: its lease ran out
    assert {m.message_id for m in again} == {m.message_id for m in first}
    assert {m.attempts for m in again} == {2}


def test_mark_sent_records_the_provider_id_and_moves_the_offer_once(engine: Engine) -> None:
    campaign = _campaign(engine, [_offer(1, ("+358401000001", "+358401000002"))])
    outbox, offers = SqlOutbox(engine), SqlOfferStore(engine)
    claimed = outbox.claim(10, LEASE, T0)
    sent = [SentMessage(m.message_id, "sim", f"p-{i}", T0) for i, m in enumerate(claimed)]
    assert outbox.mark_sent(sent, {"offer": Transition.SEND}) == 2
    assert outbox.mark_sent(sent, {"offer": Transition.SEND}) == 0  # recording twice changes nothing
    [offer_id] = offers.offer_ids(campaign)
    assert offers.read_snapshot(offer_id).state is OfferState.SENT
    assert [t["name"] for t in offers.transitions(offer_id)] == ["draft", "send"]
    assert outbox.counts() == {"sent": 2}


def test_failures_permanent_and_transient(engine: Engine) -> None:
    _campaign(engine, [_offer(1), _offer(2)])
    outbox = SqlOutbox(engine)
    a, b = outbox.claim(10, LEASE, T0)
    outbox.mark_failed(a.message_id, "not a mobile number", permanent=True)
    outbox.mark_failed(b.message_id, "HTTP 503", permanent=False)
    assert outbox.counts() == {"failed": 1, "queued": 1}


def test_a_duplicated_delivery_report_changes_nothing(engine: Engine) -> None:
    campaign = _campaign(engine, [_offer(1)])
    outbox, offers = SqlOutbox(engine), SqlOfferStore(engine)
    [m] = outbox.claim(10, LEASE, T0)
    outbox.mark_sent([SentMessage(m.message_id, "sim", "p-1", T0)], {"offer": Transition.SEND})
    on = {"offer": {"delivered": Transition.DELIVER}}
    at = T0 + timedelta(seconds=2)
    assert outbox.record_delivery_report("sim", "p-1", "delivered", at, at, on_delivery=on) == "applied"
    [offer_id] = offers.offer_ids(campaign)
    before = (offers.read_snapshot(offer_id), offers.transitions(offer_id), outbox.messages())
    assert outbox.record_delivery_report("sim", "p-1", "delivered", at, at, on_delivery=on) == "duplicate"
    assert (offers.read_snapshot(offer_id), offers.transitions(offer_id), outbox.messages()) == before
    assert before[0].state is OfferState.DELIVERED and before[0].delivered_at == at
    assert len(outbox.delivery_reports()) == 1
    # A late "failed" for a delivered message is kept for audit but moves nothing.
    assert outbox.record_delivery_report("sim", "p-1", "failed", at, at, on_delivery=on) == "applied"
    assert offers.read_snapshot(offer_id).state is OfferState.DELIVERED
    assert outbox.messages()[0]["delivery_status"] == "delivered"


def test_a_report_that_overtakes_the_senders_record_is_matched_by_client_reference(engine: Engine) -> None:
    _campaign(engine, [_offer(1)])
    outbox = SqlOutbox(engine)
    [m] = outbox.claim(10, LEASE, T0)
    assert outbox.record_delivery_report("sim", "p-9", "delivered", T0, T0, client_ref=m.idempotency_key) == "applied"
    assert outbox.messages()[0]["delivery_status"] == "delivered"
    assert outbox.record_delivery_report("sim", "nobody", "delivered", T0, T0) == "unmatched"


def test_an_inbound_reply_acts_once_in_one_transaction(engine: Engine) -> None:
    campaign = _campaign(engine, [_offer(1)])
    outbox, offers = SqlOutbox(engine), SqlOfferStore(engine)
    [m] = outbox.claim(10, LEASE, T0)
    outbox.mark_sent([SentMessage(m.message_id, "sim", "p-1", T0)], {"offer": Transition.SEND})
    [offer_id] = offers.offer_ids(campaign)
    seen: list[int] = []

    def plan(snapshots: list) -> ReplyPlan:  # type: ignore[type-arg]
        seen.append(len(snapshots))
        [snap] = snapshots
        confirm = NewMessage(f"{snap.offer_id}|confirmation_accepted|10|1", "confirmation_accepted", "+358401000001",
                             "fi", "Kiitos", "GSM-7", 1, snap.offer_id, 10)
        return ReplyPlan("accepted", snap.offer_id, "A", [(10, "A")], [Transition.ACCEPT], [confirm], "guardian:10")

    first = outbox.handle_inbound("sim", "mo-1", "+358401000001", "a", T0, T0, plan)
    assert not first.duplicate and first.outcome == "accepted" and len(first.queued) == 1
    again = outbox.handle_inbound("sim", "mo-1", "+358401000001", "a", T0, T0, plan)
    assert again.duplicate and seen == [1]  # the duplicate never reached the decision
    snap = offers.read_snapshot(offer_id)
    assert snap.state is OfferState.ACCEPTED and snap.recipients[0]["answer"] == "A"
    assert outbox.counts() == {"sent": 1, "queued": 1} and len(outbox.inbound()) == 1


def test_a_failing_decision_leaves_no_trace(engine: Engine) -> None:
    _campaign(engine, [_offer(1)])
    outbox = SqlOutbox(engine)

    def plan(_: list) -> ReplyPlan:  # type: ignore[type-arg]
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        outbox.handle_inbound("sim", "mo-1", "+358401000001", "a", T0, T0, plan)
    assert outbox.inbound() == []
    ok = outbox.handle_inbound("sim", "mo-1", "+358401000001", "a", T0, T0, lambda s: ReplyPlan("unclear"))
    assert not ok.duplicate  # nothing half-stored blocked the redelivery


def test_transitions_reports_and_replies_are_append_only(engine: Engine) -> None:
    _campaign(engine, [_offer(1)])
    outbox = SqlOutbox(engine)
    outbox.handle_inbound("sim", "mo-1", "+358401000001", "a", T0, T0, lambda s: ReplyPlan("unclear"))
    for table in ("offer_transition", "inbound_reply"):
        for sql in (f"UPDATE {table} SET offer_id = offer_id", f"DELETE FROM {table}"):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(text(sql))
