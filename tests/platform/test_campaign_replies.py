"""A pre-school campaign end to end through the platform, with the recording gateway.

Offers are built from a hand-made target group (the shape ``find_targets`` returns), sent, delivered
and answered; each bad-reply case of the reference (§9) is a test here.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from ennakoiva.adapters.channels import DeliveryReport, InboundSms, RecordingGateway
from ennakoiva.domain.services import load_service
from ennakoiva.domain.services.offer_state import OfferState
from ennakoiva.platform.campaign_metrics import campaign_metrics
from ennakoiva.platform.campaigns import Messaging, build_offers, open_messaging, run_timeouts, send_fallbacks
from ennakoiva.platform.messaging import poll_gateway, receive_inbound
from ennakoiva.platform.settings import Settings

ON = date(2027, 1, 7)
MUM, DAD, SOLO, OTHER = "+358401000001", "+358401000002", "+358401000003", "+358409999999"
UNIT = "Päiväkoti Kotikallio"


def _targets() -> pa.Table:
    rows = [  # child 1 has two guardians, child 2 one (Swedish-speaking)
        {"subject_id": 1, "subject_birth_date": date(2021, 3, 12), "recipient_id": 101, "phone": MUM,
         "language": "fi", "district_code": "101", "unit_name": UNIT},
        {"subject_id": 1, "subject_birth_date": date(2021, 3, 12), "recipient_id": 102, "phone": DAD,
         "language": "fi", "district_code": "101", "unit_name": UNIT},
        {"subject_id": 2, "subject_birth_date": date(2021, 5, 2), "recipient_id": 201, "phone": SOLO,
         "language": "sv", "district_code": "202", "unit_name": "Daghemmet Hemberget"},
        {"subject_id": 3, "subject_birth_date": date(2021, 6, 2), "recipient_id": 301, "phone": None,
         "language": "fi", "district_code": "202", "unit_name": UNIT},
    ]
    return pa.Table.from_pylist(rows)


@pytest.fixture(name="store_url", params=["sqlite", "postgresql"])
def store_url_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    return str(request.getfixturevalue("postgresql_schema_url"))


@pytest.fixture(name="m")
def messaging_fixture(store_url: str, tmp_path: Path) -> Iterator[Messaging]:
    settings = Settings(db_url=store_url, letter_batch_dir=tmp_path / "letters")
    with open_messaging(settings, gateway=RecordingGateway()) as messaging:
        definition = load_service("preschool-offer")
        offers, without_phone, incomplete = build_offers(_targets(), definition, ON, datetime.now(UTC))
        assert (len(offers), without_phone, incomplete) == (3, 1, 0)  # child 3 (no phone) by letter
        messaging.offers.create_campaign(definition.id, "1", ON, "test", offers, datetime.now(UTC))
        messaging.sender.drain()
        _sync(messaging)
        yield messaging


@pytest.fixture(name="gw")
def gateway_fixture(m: Messaging) -> RecordingGateway:
    assert isinstance(m.gateway, RecordingGateway)
    return m.gateway


def _sync(m: Messaging) -> None:
    poll_gateway(m.outbox, m.gateway, lambda i: not receive_inbound(m.desk, i).duplicate)
    send_fallbacks(m)


_n = iter(range(1, 10_000))


def _reply(m: Messaging, phone: str, text: str, *, at: datetime | None = None, msg_id: str | None = None,
           ) -> tuple[str, bool]:
    inbound = InboundSms("recorder", msg_id or f"mo-{next(_n)}", phone, text, at or datetime.now(UTC))
    outcome = receive_inbound(m.desk, inbound)
    return outcome.outcome, outcome.duplicate


def _offer(m: Messaging, subject: int) -> str:
    return next(o for o in m.offers.offer_ids() if m.offers.read_snapshot(o).subject_id == subject)


def test_offers_go_to_every_guardian_in_their_language(m: Messaging, gw: RecordingGateway) -> None:
    assert len(gw.sent) == 3
    assert "esiopetuspaikkaa" in gw.to(MUM)[0].text and "Kotikallio" in gw.to(MUM)[0].text
    assert "förskoleplats" in gw.to(SOLO)[0].text
    assert all(s.encoding == "GSM-7" and s.segments <= 2 for s in gw.sent)
    assert {m.offers.read_snapshot(o).state for o in m.offers.offer_ids()} == {OfferState.DELIVERED}


@pytest.mark.parametrize("text", ["A", "a", " A ", "A.", "A!", "Ａ", "a kiitos", "Kyllä"])
def test_tolerant_replies_accept_and_confirm_within_a_second(m: Messaging, gw: RecordingGateway, text: str) -> None:
    assert _reply(m, SOLO, text) == ("accepted", False)
    offer = _offer(m, 2)
    assert m.offers.read_snapshot(offer).state is OfferState.CONFIRMED
    confirmation = gw.to(SOLO)[-1].text
    assert confirmation.startswith("Tack!")
    [reply] = m.outbox.inbound()
    [sent] = [x for x in m.outbox.messages(offer) if x["kind"] == "confirmation_accepted"]
    assert sent["status"] == "sent" and (sent["sent_at"] - reply["received_at"]) < timedelta(seconds=1)
    names = [t["name"] for t in m.offers.transitions(offer)]
    assert names == ["draft", "send", "deliver", "accept", "confirm"]


def test_a_duplicated_reply_changes_nothing(m: Messaging, gw: RecordingGateway) -> None:
    _reply(m, SOLO, "A", msg_id="mo-dup")
    before = (len(gw.sent), m.outbox.messages(), m.offers.transitions(_offer(m, 2)))
    assert _reply(m, SOLO, "A", msg_id="mo-dup") == ("duplicate", True)
    assert (len(gw.sent), m.outbox.messages(), m.offers.transitions(_offer(m, 2))) == before
    assert _reply(m, SOLO, "a")[0] == "duplicate"  # the same answer again, as a new message: no-op
    assert len(gw.sent) == before[0]


def test_a_duplicated_delivery_report_changes_nothing(m: Messaging, gw: RecordingGateway) -> None:
    sent = gw.sent[0]
    offer = _offer(m, 1)
    before = m.offers.transitions(offer)
    report = DeliveryReport("recorder", gw.ids[sent.client_ref], "delivered", datetime.now(UTC), sent.client_ref)
    gw.inject_report(report)
    gw.inject_report(report)
    _sync(m)
    assert m.offers.transitions(offer) == before
    assert len([r for r in m.outbox.delivery_reports() if r["provider_message_id"] == gw.ids[sent.client_ref]]) == 1


def test_c_and_d_resend_the_offer_in_another_language(m: Messaging, gw: RecordingGateway) -> None:
    assert _reply(m, MUM, "C")[0] == "resend"
    assert "förskoleplats" in gw.to(MUM)[-1].text
    snap = m.offers.read_snapshot(_offer(m, 1))
    assert snap.state is OfferState.DELIVERED  # the deadline is not restarted
    assert {r["person_id"]: r["language"] for r in snap.recipients}[101] == "sv"
    assert _reply(m, MUM, "A")[0] == "accepted"
    assert gw.to(MUM)[-1].text.startswith("Tack!")  # confirmed in the language asked for
    assert gw.to(DAD)[-1].text.startswith("Kiitos!")  # the other guardian hears it in theirs


def test_an_unclear_reply_gets_one_clarification(m: Messaging, gw: RecordingGateway) -> None:
    assert _reply(m, SOLO, "A B")[0] == "clarify"
    assert "förstod inte" in gw.to(SOLO)[-1].text
    count = len(gw.sent)
    assert _reply(m, SOLO, "👍")[0] == "unclear_again"
    assert len(gw.sent) == count  # no second clarification: staff are flagged instead
    assert _reply(m, SOLO, "b")[0] == "declined"


def test_a_late_reply_gets_one_informative_message(m: Messaging, gw: RecordingGateway) -> None:
    late = datetime.now(UTC) + timedelta(days=40)
    assert _reply(m, SOLO, "A", at=late)[0] == "late"
    assert "Svarstiden" in gw.to(SOLO)[-1].text
    count = len(gw.sent)
    assert _reply(m, SOLO, "A", at=late)[0] == "late"
    assert len(gw.sent) == count
    assert m.offers.read_snapshot(_offer(m, 2)).state is OfferState.DELIVERED


def test_an_unknown_number_gets_a_reply_with_no_personal_data(m: Messaging, gw: RecordingGateway) -> None:
    assert _reply(m, OTHER, "A")[0] == "unknown_number"
    [text] = [s.text for s in gw.to(OTHER)]
    definition = load_service("preschool-offer")
    assert text == definition.templates["unknown_number"]["fi"]  # the fixed text, nothing filled in
    assert UNIT not in text and "2021" not in text


def test_two_guardians_disagreeing_are_held_for_a_caseworker(m: Messaging, gw: RecordingGateway) -> None:
    assert _reply(m, MUM, "A")[0] == "accepted"
    assert _reply(m, DAD, "B")[0] == "held_for_caseworker"
    offer = _offer(m, 1)
    assert m.offers.read_snapshot(offer).state is OfferState.HELD_FOR_CASEWORKER
    assert "eri tavoin" in gw.to(MUM)[-1].text and "eri tavoin" in gw.to(DAD)[-1].text
    total = campaign_metrics(m.offers, m.offers.campaigns()[0]["campaign_id"])["total"]
    assert total["held"] == 1


def test_reminders_and_expiry_by_the_clock(m: Messaging, gw: RecordingGateway) -> None:
    _reply(m, MUM, "A")
    now = datetime.now(UTC)
    early = run_timeouts(m, now + timedelta(days=1), reminders=True, expiry=True)
    assert (early.reminded, early.expired) == (0, 0)
    week = run_timeouts(m, now + timedelta(days=8), reminders=True, expiry=False)
    assert week.reminded == 2 and week.queued == 2  # only the silent families (one by letter); not twice
    assert run_timeouts(m, now + timedelta(days=8), reminders=True, expiry=False).reminded == 0
    m.sender.drain()
    assert "påminner" in gw.to(SOLO)[-1].text
    done = run_timeouts(m, now + timedelta(days=17), reminders=False, expiry=True)
    assert done.expired == 2
    m.sender.drain()
    assert m.offers.read_snapshot(_offer(m, 2)).state is OfferState.EXPIRED
    assert "svarade inte" in gw.to(SOLO)[-1].text


def test_metrics_count_what_happened(m: Messaging) -> None:
    _reply(m, SOLO, "x?")
    _reply(m, SOLO, "B")
    _reply(m, MUM, "A")
    result = campaign_metrics(m.offers, m.offers.campaigns()[0]["campaign_id"])
    total = result["total"]
    assert (total["offers"], total["sent"], total["fallback"], total["delivered"], total["answered"]) == (3, 2, 1, 3, 2)
    assert (total["accepted"], total["declined"], total["unclear"], total["held"]) == (1, 1, 1, 0)
    assert total["confirmation_seconds"]["n"] == 2 and total["confirmation_seconds"]["p95"] < 1
    assert set(result["by_language"]) == {"fi", "sv"} and set(result["by_district"]) == {"101", "202"}
    assert result["by_language"]["sv"]["declined"] == 1


def test_stop_opts_out_of_sms_but_keeps_the_offer_open(m: Messaging, gw: RecordingGateway) -> None:
    assert _reply(m, SOLO, "STOP")[0] == "opt_out"
    snap = m.offers.read_snapshot(_offer(m, 2))
    assert snap.state is OfferState.DELIVERED and snap.recipients[0]["opted_out_at"] is not None
    count = len(gw.sent)
    run_timeouts(m, datetime.now(UTC) + timedelta(days=8), reminders=True, expiry=False)
    m.sender.drain()
    assert sorted(s.to for s in gw.sent[count:]) == [MUM, DAD]  # reminders; no SMS to the one who said STOP


# -- one phone, several children (twins): asked one child at a time (reference §9) ------------------

TWIN_PHONE, TWIN_OTHER = "+358401000011", "+358401000012"


@pytest.fixture(name="twins")
def twins_fixture(store_url: str, tmp_path: Path) -> Iterator[Messaging]:
    """Twins (same birth date) whose guardians share one phone, and a sibling offer for another phone."""
    born = date(2021, 4, 4)
    rows = [{"subject_id": s, "subject_birth_date": born, "recipient_id": g, "phone": TWIN_PHONE, "language": "fi",
             "district_code": "101", "unit_name": UNIT} for s in (11, 12) for g in (1101, 1102)]
    rows.append({"subject_id": 13, "subject_birth_date": date(2021, 9, 9), "recipient_id": 1301, "phone": TWIN_OTHER,
                 "language": "fi", "district_code": "101", "unit_name": UNIT})
    with open_messaging(Settings(db_url=store_url, letter_batch_dir=tmp_path / "letters"),
                        gateway=RecordingGateway()) as messaging:
        definition = load_service("preschool-offer")
        offers, _, _ = build_offers(pa.Table.from_pylist(rows), definition, ON, datetime.now(UTC))
        assert [len(o.messages) for o in offers] == [1, 0, 1]  # the second twin's offer waits
        messaging.offers.create_campaign(definition.id, "1", ON, "test", offers, datetime.now(UTC))
        messaging.sender.drain()
        _sync(messaging)
        yield messaging


def test_twins_sharing_a_phone_are_asked_one_at_a_time(twins: Messaging) -> None:
    m = twins
    gw = m.gateway
    assert isinstance(gw, RecordingGateway)
    first, second = _offer(m, 11), _offer(m, 12)
    assert len(gw.to(TWIN_PHONE)) == 1  # one question, about one child
    assert m.offers.read_snapshot(second).state is OfferState.DRAFTED
    assert _reply(m, TWIN_PHONE, "A") == ("accepted", False)
    texts = [x.text for x in gw.to(TWIN_PHONE)]
    assert texts[1].startswith("Kiitos") and "Tarjoamme" in texts[2]  # confirmation, then the next child's offer
    _sync(m)
    assert m.offers.read_snapshot(second).state is OfferState.DELIVERED
    assert _reply(m, TWIN_PHONE, "B") == ("declined", False)  # this B is about the second twin only
    assert m.offers.read_snapshot(first).state is OfferState.CONFIRMED
    assert [t["name"] for t in m.offers.transitions(first)][-2:] == ["accept", "confirm"]
    assert [t["name"] for t in m.offers.transitions(second)][-2:] == ["decline", "confirm"]
    assert _reply(m, TWIN_PHONE, "B") == ("duplicate", False)  # the same answer again: nothing changes
    assert len(gw.to(TWIN_PHONE)) == 4


def test_the_next_twin_is_asked_when_the_first_offer_expires_unanswered(twins: Messaging) -> None:
    m = twins
    gw = m.gateway
    assert isinstance(gw, RecordingGateway)
    second = _offer(m, 12)
    run = run_timeouts(m, datetime.now(UTC) + timedelta(days=17), reminders=False, expiry=True)
    assert run.expired == 2 and run.released == 1
    m.sender.drain()
    texts = [x.text for x in gw.to(TWIN_PHONE)]
    assert len(texts) == 3 and "Ette vastanneet" in " ".join(texts[1:]) and "Tarjoamme" in " ".join(texts[1:])
    assert m.offers.read_snapshot(second).state is OfferState.SENT
    again = run_timeouts(m, datetime.now(UTC) + timedelta(days=17), reminders=False, expiry=True)
    assert again.released == 0  # never queued twice


def test_an_undeliverable_sms_goes_by_the_fallback_letter_once(store_url: str, tmp_path: Path) -> None:
    gw = RecordingGateway(report_delivery=False)
    targets = pa.Table.from_pylist([{"subject_id": 7, "subject_birth_date": date(2021, 2, 2), "recipient_id": 701,
                                     "phone": SOLO, "language": "sv", "district_code": "202", "unit_name": UNIT}])
    letters_dir = tmp_path / "letters"
    with open_messaging(Settings(db_url=store_url, letter_batch_dir=letters_dir), gateway=gw) as m:
        definition = load_service("preschool-offer")
        offers, _, _ = build_offers(targets, definition, ON, datetime.now(UTC))
        m.offers.create_campaign(definition.id, "1", ON, "test", offers, datetime.now(UTC))
        m.sender.drain()
        [sms] = m.outbox.messages()
        gw.inject_report(DeliveryReport("recorder", sms["provider_message_id"], "undelivered", datetime.now(UTC)))
        _sync(m)
        _sync(m)  # again: the letter is not queued or printed twice
        offer = _offer(m, 7)
        assert m.offers.read_snapshot(offer).state is OfferState.FALLBACK_SENT
        letters = [x for x in m.outbox.messages() if x["channel"] == "letter"]
        assert [(x["kind"], x["status"], x["phone"]) for x in letters] == [("offer", "sent", "person:701")]
        [batch] = letters_dir.glob("letters-*.jsonl")
        [line] = batch.read_text("utf-8").splitlines()
        assert "förskoleplats" in line and SOLO not in line  # the offer text, addressed by person id only
        total = campaign_metrics(m.offers, m.offers.campaigns()[0]["campaign_id"])["total"]
        assert (total["sent"], total["fallback"]) == (1, 1)
