"""The three gateways: idempotent sends, delivery reports, injected replies, webhook parsing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from ennakoiva.adapters.channels import (
    FamilyBehaviour,
    GatewayError,
    HttpGateway,
    OutgoingSms,
    RecordingGateway,
    SendResult,
    SmsSimulator,
    WebhookError,
)
from ennakoiva.adapters.channels.http_gateway import normalise_status, sign
from ennakoiva.adapters.channels.simulator import Question

MSG = OutgoingSms("offer-1|offer|7|1", "+358401234567", "Tarjous", "GSM-7", 1)


def test_the_recorder_sends_a_client_reference_once() -> None:
    gw = RecordingGateway()
    first, again = gw.send(MSG), gw.send(MSG)
    assert not first.duplicate and again.duplicate and again.provider_message_id == first.provider_message_id
    assert gw.deliveries == {MSG.client_ref: 1} and gw.to(MSG.to) == [MSG]
    gw.fail_next = 1
    with pytest.raises(GatewayError):
        gw.send(OutgoingSms("other", "+358401234568", "x"))
    reports, _ = gw.poll()
    assert [r.client_ref for r in reports] == [MSG.client_ref]
    gw.ack(reports, [])
    assert gw.poll() == ([], [])


def test_the_simulator_dedups_across_processes_and_reports_delivery(tmp_path: Path) -> None:
    sim = SmsSimulator(tmp_path / "sim.sqlite3", FamilyBehaviour(report_delay_seconds=0))
    first = sim.send(MSG)
    other = SmsSimulator(tmp_path / "sim.sqlite3")  # another process opening the same file
    again = other.send(MSG)
    assert again.duplicate and again.provider_message_id == first.provider_message_id
    assert sim.count() == 1 and sim.submissions() == (2, 1)
    reports, inbound = sim.poll()
    assert [(r.provider_message_id, r.status) for r in reports] == [(first.provider_message_id, "delivered")]
    assert inbound == []
    sim.ack(reports, inbound)
    assert sim.poll() == ([], [])
    with pytest.raises(GatewayError) as refused:
        sim.send(OutgoingSms("x", "0401234567", "no country code"))
    assert refused.value.permanent
    sim.close()
    other.close()


def test_injected_replies_and_duplicated_reports(tmp_path: Path) -> None:
    sim = SmsSimulator(tmp_path / "sim.sqlite3", FamilyBehaviour(duplicate_report_rate=1.0, report_delay_seconds=0))
    sim.send(MSG)
    reply = sim.inject_reply("+358401234567", "A")
    reports, inbound = sim.poll()
    assert len(reports) == 2 and reports[0] == reports[1]  # the provider sent its report twice
    assert inbound == [reply]
    sim.close()


def _families(tmp_path: Path, behaviour: FamilyBehaviour, n: int = 400) -> list[str]:
    sim = SmsSimulator(tmp_path / f"sim-{behaviour.seed}-{behaviour.answer_rate}.sqlite3", behaviour)
    questions = []
    for i in range(n):
        sent = sim.send(OutgoingSms(f"o{i}|offer|{i}|1", f"+35840{i:07d}", "Tarjous"))
        questions.append(Question(sent.provider_message_id, f"o{i}", 0, "fi", ("C", "D")))
    released = sim.simulate_replies(questions, until=datetime.now(UTC) + timedelta(days=30))
    assert sim.simulate_replies(questions, until=datetime.now(UTC) + timedelta(days=30)) == 0  # decided once
    _, inbound = sim.poll(10_000, until=datetime.now(UTC) + timedelta(days=30))
    assert len(inbound) == released
    sim.close()
    return [m.text for m in inbound]


def test_simulated_families_follow_the_configured_behaviour(tmp_path: Path) -> None:
    plain = FamilyBehaviour(answer_rate=0.5, accept_rate=0.8, language_switch_rate=0, typo_rate=0, unclear_rate=0,
                            seed=3)
    texts = _families(tmp_path, plain)
    assert 160 <= len(texts) <= 240  # ~50 % of 400 answered
    assert set(texts) <= {"A", "B"} and 0.7 <= texts.count("A") / len(texts) <= 0.9
    messy = FamilyBehaviour(answer_rate=1.0, typo_rate=1.0, unclear_rate=0, language_switch_rate=0, seed=4)
    texts = _families(tmp_path, messy)
    assert len(texts) == 400 and sum(t not in ("A", "B") for t in texts) > 300  # typed differently
    switching = FamilyBehaviour(answer_rate=1.0, language_switch_rate=1.0, seed=5)
    assert set(_families(tmp_path, switching)) <= {"C", "D"}


def test_the_same_seed_gives_the_same_families(tmp_path: Path) -> None:
    a = _families(tmp_path / "a", FamilyBehaviour(seed=9))
    b = _families(tmp_path / "b", FamilyBehaviour(seed=9))
    assert a == b


def test_behaviour_rates_are_checked() -> None:
    with pytest.raises(ValueError, match="answer_rate"):
        FamilyBehaviour(answer_rate=1.5)


def _provider(seen: list[httpx.Request]) -> httpx.MockTransport:
    ids: dict[str, str] = {}

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = json.loads(request.content)
        if body["to"] == "+358000":
            return httpx.Response(400, json={"error": "bad number"})
        if body["to"] == "+358503":
            return httpx.Response(503)
        ref = request.headers["Idempotency-Key"]
        if ref in ids:
            return httpx.Response(409, json={"id": ids[ref]})
        ids[ref] = f"prov-{len(ids) + 1}"
        return httpx.Response(201, json={"id": ids[ref]})

    return httpx.MockTransport(handle)


def test_the_http_gateway_sends_with_the_idempotency_key_and_credentials() -> None:
    seen: list[httpx.Request] = []
    gw = HttpGateway("https://sms.example/v1", token="t0ken", transport=_provider(seen))
    first, again = gw.send(MSG), gw.send(MSG)
    assert first.provider_message_id == again.provider_message_id == "prov-1" and again.duplicate
    assert seen[0].url == "https://sms.example/v1/messages"
    assert seen[0].headers["Authorization"] == "Bearer t0ken"
    assert json.loads(seen[0].content)["client_reference"] == MSG.client_ref
    with pytest.raises(GatewayError) as bad:
        gw.send(OutgoingSms("r2", "+358000", "x"))
    assert bad.value.permanent
    with pytest.raises(GatewayError) as busy:
        gw.send(OutgoingSms("r3", "+358503", "x"))
    assert not busy.value.permanent
    gw.close()


def test_webhooks_are_verified_and_parsed() -> None:
    gw = HttpGateway("https://sms.example", webhook_secret="s3cret", name="acme")
    body = json.dumps({"id": "mo-1", "from": "+358401234567", "text": "A",
                       "timestamp": "2027-01-08T10:00:00Z"}).encode()
    inbound = gw.parse_inbound(body, {"X-Signature": sign("s3cret", body)})
    assert (inbound.provider, inbound.provider_message_id, inbound.text) == ("acme", "mo-1", "A")
    assert inbound.at == datetime(2027, 1, 8, 10, tzinfo=UTC)
    with pytest.raises(WebhookError, match="signature"):
        gw.parse_inbound(body, {"X-Signature": "0" * 64})
    report = json.dumps({"id": "prov-1", "status": "DELIVRD", "client_reference": "k"}).encode()
    parsed = gw.parse_delivery_report(report, {"x-signature": sign("s3cret", report)})
    assert (parsed.status, parsed.client_ref) == ("delivered", "k")
    bad = json.dumps({"status": "delivered"}).encode()
    with pytest.raises(WebhookError, match="needs 'id'"):
        gw.parse_delivery_report(bad, {"X-Signature": sign("s3cret", bad)})


@pytest.mark.parametrize(("raw", "status"), [("DELIVRD", "delivered"), ("undelivered", "undelivered"),
                                             ("EXPIRED", "expired"), ("REJECTD", "rejected"), ("ENROUTE", "sent")])
def test_provider_statuses_are_normalised(raw: str, status: str) -> None:
    assert normalise_status(raw) == status


def test_the_letter_batch_writes_each_letter_once_and_reports_it(tmp_path: Path) -> None:
    from ennakoiva.adapters.channels.letter_batch import LetterBatchGateway  # noqa: PLC0415

    batch = LetterBatchGateway(tmp_path / "letters")
    first = batch.send(OutgoingSms("o1|offer|5|1", "person:5", "Tarjoamme esiopetuspaikkaa"))
    again = LetterBatchGateway(tmp_path / "letters").send(OutgoingSms("o1|offer|5|1", "person:5", "x"))
    assert again == SendResult(first.provider_message_id, duplicate=True)  # a resend after a crash prints nothing
    assert [(x["to"], x["text"]) for x in batch.letters()] == [("person:5", "Tarjoamme esiopetuspaikkaa")]
    reports, inbound = batch.poll()
    assert [(r.provider_message_id, r.status) for r in reports] == [(first.provider_message_id, "delivered")]
    assert inbound == []
    batch.ack(reports, inbound)
    assert batch.poll() == ([], [])
    with pytest.raises(GatewayError):
        batch.send(OutgoingSms("o2|offer|6|1", "+358401234567", "not a letter address"))
