"""``ennakoiva campaign``: run over the small city, simulated replies, status, metrics, clock-driven steps."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ennakoiva.adapters.channels import SmsSimulator
from ennakoiva.interfaces.cli.campaign_commands import campaign_app
from ennakoiva.platform.operational import open_operational


@pytest.fixture(autouse=True)
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ENNAKOIVA_DB_URL", f"sqlite:///{tmp_path / 'store.sqlite3'}")
    monkeypatch.setenv("ENNAKOIVA_AUDIT_KEY_FILE", str(tmp_path / "audit.key"))
    monkeypatch.setenv("ENNAKOIVA_AUDIT_CHECKPOINT_FILE", str(tmp_path / "checkpoints.jsonl"))
    monkeypatch.setenv("ENNAKOIVA_SMS_SIMULATOR_FILE", str(tmp_path / "sim.sqlite3"))
    monkeypatch.setenv("ENNAKOIVA_LETTER_BATCH_DIR", str(tmp_path / "letters"))
    return tmp_path


def _json(args: list[str]) -> dict[str, Any]:
    result = CliRunner().invoke(campaign_app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_the_preschool_campaign_end_to_end(small_city: Any, store: Path) -> None:
    on = small_city.result.as_of.isoformat()
    run = _json(["run", "preschool-offer", "--db", str(small_city.db), "--on", on])
    assert run["created"] > 50 and run["queued"] >= run["created"]
    assert run["send"]["sent"] + run["send"]["letters"] == run["queued"] and run["send"]["duplicates"] == 0
    assert run["without_phone"] <= run["send"]["letters"]  # no guardian's phone: a letter to each guardian
    letters = sorted((store / "letters").glob("letters-*.jsonl"))
    assert sum(len(p.read_text("utf-8").splitlines()) for p in letters) == run["send"]["letters"]
    again = _json(["run", "preschool-offer", "--db", str(small_city.db), "--on", on])
    assert (again["created"], again["existing"], again["queued"]) == (0, run["created"], 0)
    sim = SmsSimulator(store / "sim.sqlite3")
    assert sim.count() == run["queued"] - run["send"]["letters"]  # the re-run sent nothing twice
    sim.close()
    with open_operational() as ops:  # the population read was decided and logged, once per run
        reads = [e for e in ops.audit.entries() if e.purpose_id == "preschool-offer"]
    assert [(e.decision, e.subject_id, e.role) for e in reads] == [("permit", None, "messaging-service")] * 2

    replies = _json(["simulate-replies", "--answer-rate", "0.9", "--accept-rate", "0.8", "--seed", "3"])
    assert replies["replies"] > 0 and replies["duplicate_replies"] == 0
    metrics = _json(["metrics", "--service", "preschool-offer"])["campaigns"][0]["total"]
    assert metrics["offers"] == run["created"] and metrics["fallback"] == run["without_phone"]
    # a phone with several children (siblings) is asked one child at a time: the next offer waits for an answer
    by_sms = run["created"] - run["without_phone"]
    assert by_sms * 0.95 <= metrics["sent"] <= by_sms
    assert 0.75 <= metrics["answer_rate"] <= 1.0
    assert metrics["accepted"] + metrics["declined"] + metrics["held"] <= metrics["answered"]
    assert metrics["confirmation_seconds"]["p95"] < 1.0
    status = _json(["status"])
    assert status["campaigns"][0]["offers"] == run["created"]
    assert set(status["outbox"]) == {"sent"}


def test_a_service_whose_purpose_refuses_the_role_reads_nothing(small_city: Any) -> None:
    result = CliRunner().invoke(campaign_app, ["run", "preschool-offer", "--db", str(small_city.db),
                                               "--role", "nurse", "--no-send"])
    assert result.exit_code == 2 and "access denied" in result.output
    with open_operational() as ops:
        [entry] = [e for e in ops.audit.entries() if e.purpose_id == "preschool-offer"]
    assert entry.decision == "deny"
    assert _json(["status"])["campaigns"] == []


def test_send_with_nothing_queued_and_a_bad_date() -> None:
    assert _json(["send"])["sent"] == 0
    result = CliRunner().invoke(campaign_app, ["run", "preschool-offer", "--db", "x.duckdb", "--on", "2027-02-30"])
    assert result.exit_code == 2 and "--on must be a date" in result.output


def test_the_webhooks_answer_once_and_refuse_bad_signatures(tmp_path: Path) -> None:
    """The router on a bare app: an inbound reply is confirmed before the response; a retry is a no-op."""
    from datetime import UTC, date, datetime  # noqa: PLC0415

    import pyarrow as pa  # noqa: PLC0415
    from fastapi import FastAPI  # noqa: PLC0415

    with warnings.catch_warnings():  # Starlette asks for httpx2 at import; plain httpx works the same here
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient  # noqa: PLC0415

    from ennakoiva.adapters.channels.http_gateway import sign  # noqa: PLC0415
    from ennakoiva.domain.services import load_service  # noqa: PLC0415
    from ennakoiva.interfaces.api.routers import sms_webhooks  # noqa: PLC0415
    from ennakoiva.platform.campaigns import build_offers, open_messaging  # noqa: PLC0415
    from ennakoiva.platform.settings import Settings  # noqa: PLC0415

    settings = Settings(sms_webhook_secret="s3cret")  # type: ignore[arg-type]  # pydantic coerces to SecretStr
    phone = "+358401000001"
    targets = pa.Table.from_pylist([{"subject_id": 1, "subject_birth_date": date(2021, 3, 12), "recipient_id": 11,
                                     "phone": phone, "language": "fi", "district_code": "101",
                                     "unit_name": "Päiväkoti Kotikallio"}])
    with open_messaging(settings) as m:
        offers, _, _ = build_offers(targets, load_service("preschool-offer"), date(2027, 1, 7), datetime.now(UTC))
        m.offers.create_campaign("preschool-offer", "1", date(2027, 1, 7), "t", offers, datetime.now(UTC))
        m.sender.drain()
    app = FastAPI()
    app.state.settings = settings
    app.include_router(sms_webhooks.router)
    body = json.dumps({"id": "mo-1", "from": phone, "text": "a"}).encode()
    with TestClient(app) as client:
        post = lambda b, sig: client.post("/api/webhooks/sms/inbound", content=b,  # noqa: E731
                                          headers={"X-Signature": sig, "Content-Type": "application/json"})
        first = post(body, sign("s3cret", body))
        assert first.status_code == 200 and first.json() == {"duplicate": False, "outcome": "accepted", "sent": 1}
        assert post(body, sign("s3cret", body)).json()["duplicate"] is True
        assert post(body, "0" * 64).status_code == 400
        report = json.dumps({"id": "sim-1", "status": "DELIVRD"}).encode()
        dlr = client.post("/api/webhooks/sms/delivery", content=report, headers={"X-Signature": sign("s3cret", report)})
        assert dlr.json() == {"result": "applied"}
        again = client.post("/api/webhooks/sms/delivery", content=report,
                            headers={"X-Signature": sign("s3cret", report)})
        assert again.json() == {"result": "duplicate"}
        app.state.sms_messaging.close()
    sim = SmsSimulator(tmp_path / "sim.sqlite3")
    texts = [text for _, to, text in sim.messages() if to == phone]
    sim.close()
    assert len(texts) == 2 and texts[1].startswith("Kiitos!")  # the offer, then one confirmation


def test_the_care_gap_invitation_end_to_end(small_city: Any, store: Path) -> None:
    """A third service is one YAML plus templates: invitations from the care-gap criteria, run and answered."""
    on = small_city.result.as_of.isoformat()
    result = CliRunner().invoke(campaign_app, ["run", "care-gap-invitation", "--db", str(small_city.db), "--on", on,
                                               "--role", "care-gap-analyst", "--in-service", "health-services",
                                               "--json"])
    assert result.exit_code == 0, result.output
    run = json.loads(result.output)
    assert run["created"] > 0 and run["send"]["sent"] + run["send"]["letters"] == run["queued"]
    with open_operational() as ops:
        [read] = [e for e in ops.audit.entries() if e.purpose_id == "care-gap-identification"]
    assert (read.decision, read.subject_id) == ("permit", None)
    _json(["simulate-replies", "--answer-rate", "1.0", "--accept-rate", "1.0", "--unclear-rate", "0",
           "--typo-rate", "0", "--language-switch-rate", "0", "--seed", "2"])
    metrics = _json(["metrics", "--service", "care-gap-invitation"])["campaigns"][0]["total"]
    assert metrics["offers"] == run["created"] and metrics["answered"] == metrics["sent"]
    assert metrics["accepted"] == metrics["answered"] and metrics["declined"] == 0
    sim = SmsSimulator(store / "sim.sqlite3")
    texts = [text for _, _, text in sim.messages()]
    sim.close()
    assert any("terveysasema" in t.lower() for t in texts)  # the invitation names the patient's health station
