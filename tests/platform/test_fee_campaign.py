"""The reduced daycare fee as a campaign, through the whole flow on the small city.

The campaign's population read runs under the non-consent purpose ``ecec-fee-information``; the
SMS quotes the maximum fee in force on the campaign date; A sends the link to the e-service (consent is
never given by SMS); once both guardians have consented there, ``follow_up_consents`` runs the fee
check and queues one message with the proposed fee and unit; B explains the documents/maximum-fee route.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from ennakoiva.adapters.channels import InboundSms, RecordingGateway
from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.domain.clock import HELSINKI
from ennakoiva.domain.consent.decision import Actor
from ennakoiva.domain.consent.records import Party
from ennakoiva.platform.campaign_followup import follow_up_consents
from ennakoiva.platform.campaigns import Messaging, open_messaging, run_campaign
from ennakoiva.platform.fee_proposal import FEE_PURPOSE, propose_fee
from ennakoiva.platform.messaging import poll_gateway, receive_inbound
from ennakoiva.platform.operational import Operational, open_operational
from ennakoiva.platform.settings import Settings

ON = date(2026, 7, 1)          # the 1.8.2024 income limits are in force (fees.md §2.1)
MAX_FEE_ON = 311               # fees.md §2.1: the maximum fee from 1.8.2024 to 31.7.2026
ACTOR = Actor(id="campaign-run", role="messaging-service", service="early-childhood-education")


@dataclass
class World:
    ops: Operational
    m: Messaging
    gw: RecordingGateway
    db: Path


@pytest.fixture
def world(small_city: Any, tmp_path: Path) -> Iterator[World]:
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'store.sqlite3'}", audit_key_file=tmp_path / "audit.key",
                        letter_batch_dir=tmp_path / "letters",
                        audit_checkpoint_file=tmp_path / "checkpoints.jsonl")
    gw = RecordingGateway()
    with open_operational(settings) as ops, open_messaging(settings, gateway=gw) as m:
        ops.consents.clock = ops.gate.clock = lambda: datetime(2026, 7, 1, 10, 0, tzinfo=HELSINKI)
        yield World(ops, m, gw, small_city.db)


def _sync(m: Messaging) -> None:
    m.sender.drain()
    poll_gateway(m.outbox, m.gateway, lambda i: not receive_inbound(m.desk, i).duplicate)


_n = iter(range(1, 10_000))


def _reply(w: World, phone: str, text: str) -> str:
    return receive_inbound(w.m.desk, InboundSms("recorder", f"mo-{next(_n)}", phone, text, datetime.now(UTC))).outcome


def _guardians(db: Path, child: int) -> list[int]:
    with DuckDBEngine(db, read_only=True) as engine:
        return sorted(engine.sql("SELECT person_id FROM family_relation WHERE related_person_id = $1 "
                                 "AND relation = 'guardian_of'", [child]).column(0).to_pylist())


def _fee_reads(ops: Operational) -> list[Any]:
    return [e for e in ops.audit.entries() if e.purpose_id == FEE_PURPOSE]


def test_reduced_fee_campaign_consent_then_proposal(world: World) -> None:
    w = world
    run = run_campaign(w.ops, w.m, w.db, "daycare-fee-reduced", ON, ACTOR)
    assert run.created >= 2 and run.queued >= run.created
    [read] = [e for e in w.ops.audit.entries() if e.purpose_id == "ecec-fee-information"]
    assert (read.decision, read.subject_id) == ("permit", None)
    assert _fee_reads(w.ops) == []            # no income is touched by the campaign itself
    _sync(w.m)
    offers = [w.m.offers.read_snapshot(o) for o in w.m.offers.offer_ids()]
    assert all(s.fields["max_fee"] == str(MAX_FEE_ON) for s in offers)
    first_texts = [w.gw.to(r["phone"])[0].text for s in offers for r in s.recipients]
    assert all(f"{MAX_FEE_ON} €/" in t for t in first_texts)

    yes, no = offers[0], offers[1]
    phone_yes, phone_no = yes.recipients[0]["phone"], no.recipients[0]["phone"]
    assert _reply(w, phone_yes, "A") == "accepted"
    link = w.gw.to(phone_yes)[-1].text
    assert "hel.fi/" in link and any(word in link.lower() for word in ("vahva", "stark", "strong"))
    assert _reply(w, phone_no, "b") == "declined"
    declined = w.gw.to(phone_no)[-1].text
    assert f"{MAX_FEE_ON} €/" in declined and "hel.fi/" in declined

    # before consent: nothing is read and nothing is sent
    waiting = follow_up_consents(w.ops, w.m, w.db, ON)
    assert waiting.queued == 0 and waiting.outcomes == {"waiting_for_consent": 1}
    assert _fee_reads(w.ops) == []

    # the guardians consent in the e-service (strong identification), both of them
    parties = tuple(_guardians(w.db, yes.subject_id)[:2])
    strong = lambda pid: Party(person_id=pid, role="guardian", auth_method="suomi.fi-strong")  # noqa: E731
    w.ops.consents.give(FEE_PURPOSE, yes.subject_id, strong(parties[0]), language="fi", required_parties=parties,
                        covered_subjects=parties)
    if len(parties) == 2:
        half = follow_up_consents(w.ops, w.m, w.db, ON)   # one guardian is not enough for this purpose
        assert half.outcomes == {"waiting_for_consent": 1} and _fee_reads(w.ops) == []
        w.ops.consents.give(FEE_PURPOSE, yes.subject_id, strong(parties[1]), language="fi")

    sent_before = len(w.gw.to(phone_yes))
    done = follow_up_consents(w.ops, w.m, w.db, ON)
    _sync(w.m)
    respondent = int(yes.recipients[0]["person_id"])
    with DuckDBEngine(w.db, read_only=True) as engine:
        expected = propose_fee(engine, w.ops, respondent, ON)   # the same check again, to compare with
    assert expected.status == "proposed" and expected.decision is not None and expected.placements
    assert done.outcomes == {"proposal_queued": 1}
    fee = next(c.fee for c in expected.decision.children if c.name == str(yes.subject_id))
    texts = [x.text for x in w.gw.to(phone_yes)[sent_before:]]
    assert len(texts) == 1
    assert f"{fee} €/" in texts[0] and expected.placements[0].name[:36] in texts[0]
    assert {e.purpose_id for e in _fee_reads(w.ops)} == {FEE_PURPOSE}

    # running the follow-up again never tells a family twice
    again = follow_up_consents(w.ops, w.m, w.db, ON)
    _sync(w.m)
    assert again.queued == 0 and len(w.gw.to(phone_yes)) == sent_before + done.queued
